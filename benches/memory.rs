//! The memory report: the size of a session in memory (inline and heap,
//! idle and with skipped keys) and stored, printed to stderr. The heap of a
//! loaded session is measured in a fresh child process of this binary
//! (`CLIQUET_HEAP_PROBE`), as the resident-set growth per loaded copy.
//!
//! `cargo bench --bench memory` (Linux: reads `/proc/self/statm`)

mod common;

use core::hint::black_box;

use cliquet::{Account, Session};
use common::Pair;

/// Resident set size in bytes, from `/proc/self/statm` (Linux), if readable.
fn resident_bytes() -> Option<i64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: i64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

/// The receiver of a session with `chains` chains of `per_chain` skipped
/// keys each (`chains == 0`: an idle session after one message each way).
fn probe_session(header_encryption: bool, chains: usize, per_chain: usize) -> Session {
    let mut pair = Pair::new(header_encryption, 60);
    if chains == 0 {
        let m = pair.a_to_b(b"x");
        pair.b.decrypt(&m).expect("decrypt");
    }
    for _ in 0..chains {
        pair.new_chain_skipping(per_chain, b"x");
    }
    pair.b
}

/// Child-process side of the heap measurement: loads `count` copies of a
/// session into a vector and prints the resident-set growth per copy minus
/// the copy's inline size (the vector's pages become resident as it fills):
/// its heap. A fresh process keeps freed memory of other work from being
/// reused and hiding the growth.
fn heap_probe(spec: &str) -> Option<i64> {
    let mut fields = spec.split(',').map(str::parse::<usize>);
    let (he, chains, per_chain, count) = (
        fields.next()?.ok()? == 1,
        fields.next()?.ok()?,
        fields.next()?.ok()?,
        fields.next()?.ok()?,
    );
    let stored = probe_session(he, chains, per_chain).to_stored();
    let mut sessions: Vec<Session> = Vec::with_capacity(count);
    let before = resident_bytes()?;
    for _ in 0..count {
        sessions.push(Session::from_stored(&stored).expect("loads"));
    }
    let after = resident_bytes()?;
    black_box(&sessions);
    let inline = i64::try_from(core::mem::size_of::<Session>()).ok()?;
    Some((after - before) / i64::try_from(count).ok()? - inline)
}

fn heap_in_child(spec: &str) -> Option<i64> {
    let exe = std::env::current_exe().ok()?;
    let out = std::process::Command::new(exe)
        .env("CLIQUET_HEAP_PROBE", spec)
        .output()
        .ok()?;
    String::from_utf8(out.stdout).ok()?.trim().parse().ok()
}

fn memory_report() {
    let mut rows = Vec::new();
    rows.push(format!(
        "size_of::<Session>() = {} B, size_of::<Account>() = {} B",
        core::mem::size_of::<Session>(),
        core::mem::size_of::<Account>()
    ));
    for header_encryption in [false, true] {
        let he = u8::from(header_encryption);
        let idle = probe_session(header_encryption, 0, 0).to_stored();
        let with_1000 = probe_session(header_encryption, 1, 1000).to_stored();
        let with_2000 = probe_session(header_encryption, 4, 500).to_stored();
        let per_key = (with_1000.len() - idle.len()) as f64 / 1000.0;
        rows.push(format!(
            "header encryption {header_encryption}: stored idle session {} B; 1000 skipped \
             keys in 1 chain {} B ({per_key:.1} B per key); 2000 in 4 chains {} B",
            idle.len(),
            with_1000.len(),
            with_2000.len(),
        ));
        for (label, spec) in [
            ("idle", format!("{he},0,0,20000")),
            ("100 skipped keys", format!("{he},1,100,1000")),
            ("1000 skipped keys", format!("{he},1,1000,200")),
            ("2000 skipped keys in 4 chains", format!("{he},4,500,200")),
        ] {
            if let Some(heap) = heap_in_child(&spec) {
                rows.push(format!(
                    "header encryption {header_encryption}: heap of a loaded session, {label}: \
                     ~{heap} B (resident-set growth per copy, fresh process)"
                ));
            }
        }
    }
    eprintln!("cliquet memory report:");
    for row in rows {
        eprintln!("  {row}");
    }
}

fn main() {
    if let Ok(spec) = std::env::var("CLIQUET_HEAP_PROBE") {
        match heap_probe(&spec) {
            Some(bytes) => println!("{bytes}"),
            None => println!("unavailable"),
        }
        return;
    }
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    memory_report();
}
