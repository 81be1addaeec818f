//! Golden files (`tests/golden/`): stored states of each format version
//! that every later version must keep loading (SPEC §7).
//!
//! A file is named for the format version of the writer that made it,
//! `<name>_v<version>.<ext>`. `CLIQUET_BLESS=1 cargo test --test
//! storage` writes today's writer's files ([`bless`]): only files of
//! the version that writer writes, and only files that do not exist yet.
//! A file once written is never overwritten, so after a format change
//! blessing adds the new version's files and leaves the old ones to be
//! loaded.

use std::path::{Path, PathBuf};

/// The storage key of every sealed golden file.
pub const STORAGE_KEY: [u8; 32] = [0x42; 32];

/// The files one writer produces, all of one format version.
#[derive(Debug)]
pub struct Set {
    /// The format version: byte 1 of every stored state in the set.
    pub version: u8,
    /// `(name, extension, bytes)`: written as `<name>_v<version>.<ext>`.
    pub files: Vec<(&'static str, &'static str, Vec<u8>)>,
}

impl Set {
    /// An empty set for the writer whose stored state is `stored` (any of
    /// them: `kind || version || ...`).
    pub fn of(stored: &[u8]) -> Self {
        Self {
            version: *stored.get(1).expect("kind and version"),
            files: Vec::new(),
        }
    }

    /// Adds a stored state (plain or sealed), which must be of the set's
    /// version.
    pub fn state(&mut self, name: &'static str, ext: &'static str, bytes: Vec<u8>) {
        assert_eq!(
            bytes.get(1),
            Some(&self.version),
            "{name}.{ext}: one set holds one format version"
        );
        self.files.push((name, ext, bytes));
    }

    /// Adds a file that goes with the states, such as a message to decrypt.
    pub fn other(&mut self, name: &'static str, ext: &'static str, bytes: Vec<u8>) {
        self.files.push((name, ext, bytes));
    }

    /// `(file name, bytes)` of every file.
    pub fn named(&self) -> Vec<(String, &[u8])> {
        self.files
            .iter()
            .map(|(name, ext, bytes)| (file_name(name, self.version, ext), &bytes[..]))
            .collect()
    }
}

/// `<name>_v<version>.<ext>`.
pub fn file_name(name: &str, version: u8, ext: &str) -> String {
    format!("{name}_v{version}.{ext}")
}

/// The committed golden files' directory.
pub fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/golden")
}

/// A committed golden file's bytes.
pub fn read(name: &str) -> Vec<u8> {
    std::fs::read(dir().join(name)).unwrap_or_else(|e| panic!("golden file {name}: {e}"))
}

/// With `CLIQUET_BLESS` set, writes the files of `set` that are missing
/// from `tests/golden/`.
pub fn bless(set: &Set) {
    if std::env::var_os("CLIQUET_BLESS").is_some() {
        for name in write_missing(&dir(), set) {
            eprintln!("blessed {name}");
        }
    }
}

/// Writes each file of `set` that does not exist in `dir` yet (never
/// overwriting one); returns the names written.
pub fn write_missing(dir: &Path, set: &Set) -> Vec<String> {
    let mut written = Vec::new();
    for (name, bytes) in set.named() {
        let path = dir.join(&name);
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(mut file) => {
                std::io::Write::write_all(&mut file, bytes)
                    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                written.push(name);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => panic!("{}: {e}", path.display()),
        }
    }
    written
}

/// Checks that today's writer still writes, byte for byte, the committed
/// files of its own version: a change of the stored bytes needs a new
/// version (and new files), never a rewrite of old ones.
pub fn assert_writer_unchanged(set: &Set) {
    for (name, bytes) in set.named() {
        assert!(
            read(&name) == bytes,
            "{name}: the writer's output changed; a new format needs a new version"
        );
    }
}
