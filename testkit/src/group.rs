//! The group of the group tests: its id and its members' identity keys,
//! which the property test (`tests/properties/group.rs`) and the group
//! golden files (`tests/storage.rs`) share.

use cliquet::{IdentityKey, IdentityKeyPair};

/// The group id.
pub const GROUP: [u8; 16] = *b"group-under-test";

/// Member `i`'s identity key (from a fixed seed: the golden files hold it).
pub fn identity(i: usize) -> IdentityKey {
    let seed = [u8::try_from(i).expect("small") + 1; 32];
    *IdentityKeyPair::from_secret_bytes(&seed).public_key()
}
