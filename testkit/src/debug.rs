//! The check that a `Debug` output shows no secret (STYLE habit 5).
//!
//! A secret counts as shown if any 8 bytes in a row of it appear in the
//! output in any form `Debug` could print bytes in: lowercase or uppercase
//! hex, Rust's decimal `[a, b, c]` (plain or `{:#?}`), or as text. Public
//! values the output may show (identity keys, public keys, session ids) are
//! removed from the output first, so a secret is searched for only where
//! nothing public explains the match.

use std::collections::HashMap;

/// How many bytes in a row count as a leak.
pub const WINDOW: usize = 8;

/// Every 8-byte window of some secrets, indexed for the search.
#[derive(Debug)]
pub struct Secrets {
    /// Window → (which secret, at which offset).
    windows: HashMap<[u8; WINDOW], (usize, usize)>,
    /// Windows that are text, searched for as text.
    text: Vec<(String, usize, usize)>,
}

impl Secrets {
    /// Indexes every 8-byte window of `secrets` that looks like key
    /// material or text.
    pub fn new(secrets: &[&[u8]]) -> Self {
        let mut windows = HashMap::new();
        let mut text = Vec::new();
        for (s, secret) in secrets.iter().enumerate() {
            for (at, window) in secret.windows(WINDOW).enumerate() {
                // Counters, lengths and flags of a stored state are not
                // secret: only windows that look like key material (or text)
                // are searched for.
                let mut distinct = window.to_vec();
                distinct.sort_unstable();
                distinct.dedup();
                if distinct.len() < 4 {
                    continue;
                }
                let window: [u8; WINDOW] = window.try_into().unwrap_or_default();
                windows.entry(window).or_insert((s, at));
                if let Ok(t) = std::str::from_utf8(&window) {
                    text.push((t.to_owned(), s, at));
                }
            }
        }
        Self { windows, text }
    }

    /// How many windows are searched for.
    pub fn len(&self) -> usize {
        self.windows.len()
    }

    /// Whether no window is searched for.
    pub fn is_empty(&self) -> bool {
        self.windows.is_empty()
    }

    /// The first leak in `debug` once `public` values are removed from it:
    /// a description, or `None`.
    pub fn leak(&self, debug: &str, public: &[&[u8]]) -> Option<String> {
        let mut shown = debug.to_owned();
        for value in public {
            shown = shown
                .replace(&hex::encode(value), "<public>")
                .replace(&hex::encode_upper(value), "<public>")
                .replace(&decimal(value), "<public>");
        }
        let found = |&(s, at): &(usize, usize)| {
            format!("bytes {at}..{} of secret {s} shown in {debug}", at + WINDOW)
        };
        let compact: Vec<u8> = shown.bytes().filter(|c| !c.is_ascii_whitespace()).collect();
        // Hex, either case.
        for run in compact.windows(2 * WINDOW) {
            if let Some(bytes) = hex::decode(run)
                .ok()
                .and_then(|b| <[u8; WINDOW]>::try_from(b).ok())
                && let Some(hit) = self.windows.get(&bytes)
            {
                return Some(found(hit));
            }
        }
        // Decimal: every run of comma-separated numbers up to 255.
        let mut numbers: Vec<u8> = Vec::new();
        for token in compact.split(|c| !c.is_ascii_digit() && *c != b',') {
            for part in token.split(|c| *c == b',') {
                match std::str::from_utf8(part)
                    .ok()
                    .and_then(|p| p.parse::<u8>().ok())
                {
                    Some(n) => numbers.push(n),
                    None => {
                        if let Some(hit) = self.in_numbers(&numbers) {
                            return Some(found(hit));
                        }
                        numbers.clear();
                    }
                }
            }
            if let Some(hit) = self.in_numbers(&numbers) {
                return Some(found(hit));
            }
            numbers.clear();
        }
        // Text.
        self.text
            .iter()
            .find(|(t, _, _)| shown.contains(t.as_str()))
            .map(|(_, s, at)| found(&(*s, *at)))
    }

    fn in_numbers(&self, numbers: &[u8]) -> Option<&(usize, usize)> {
        numbers.windows(WINDOW).find_map(|w| {
            let w: [u8; WINDOW] = w.try_into().ok()?;
            self.windows.get(&w)
        })
    }
}

/// Asserts that `debug` (of `what`) shows none of `secrets`.
pub fn assert_no_secret(what: &str, debug: &str, secrets: &Secrets, public: &[&[u8]]) {
    assert!(!secrets.is_empty(), "{what}: no secret to look for");
    if let Some(leak) = secrets.leak(debug, public) {
        panic!("{what}: {leak}");
    }
}

/// `bytes` as Rust's `Debug` writes a byte slice, without the brackets.
fn decimal(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(u8::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}
