//! People with several devices ([SPEC §14](crate::spec)).
//!
//! Each device keeps its own [`Account`](crate::Account) and identity key,
//! its *device key*. A person holds one more key pair, the
//! [`UserKeyPair`], whose only use is to sign the list of the person's
//! devices ([`DeviceListBuilder`], kind `0x1B`), which the application's
//! directory publishes next to the devices' bundles. Peers keep a
//! [`PersonRecord`] per person: it pins the user key, accepts only verified
//! lists ([`VerifiedDeviceList`]) that are newer than the last, and keeps
//! one [`SessionRecord`](crate::SessionRecord) per listed device.
//!
//! - `key`: the user key and its stored form;
//! - `list`: link signatures, the device list's wire form, its checks and
//!   its signing;
//! - `record`: the person record and its rules;
//! - `storage`: the person record's stored form.
//!
//! People compare the safety numbers of their **user keys**
//! ([`SafetyNumber::for_user_keys`](crate::SafetyNumber::for_user_keys)), not of
//! device keys: one comparison covers every device, now and later, since
//! only the holder of the user key can list a device.
//!
//! See [`PersonRecord`] for the flow of linking a device and removing a
//! lost one.
//!
//! # Groups
//! A group member is a device: each device of a person keeps its own
//! [`GroupSession`](crate::GroupSession) and sender chain, named by its
//! device key, and distributes it to every device of every member (the
//! person's own other devices included) over the pairwise sessions of
//! their person records.

mod key;
mod list;
mod record;
mod storage;

use alloc::vec::Vec;

pub use key::UserKeyPair;
pub use list::{DeviceEntry, DeviceList, DeviceListBuilder, VerifiedDeviceList};
pub use record::{DeviceFailure, DeviceMessage, Fanout, ListChange, PersonRecord};

use crate::SafetyNumber;
use crate::codec::{Reader, Writer};
use crate::error::Error;
use crate::keys::IdentityKey;

impl SafetyNumber {
    /// The safety number of two people with several devices ([SPEC §14](crate::spec)):
    /// [SPEC §9](crate::spec) with each person's user key (`UK_pub`) in place of an
    /// identity key, so that one comparison covers all their devices.
    /// Show this one, not the device keys', when the peer has a
    /// [`PersonRecord`]; then [`PersonRecord::mark_verified`].
    ///
    /// ```
    /// use cliquet::{SafetyNumber, UserKeyPair};
    /// let alice = UserKeyPair::from_secret_bytes(&[1; 32]);
    /// let bob = UserKeyPair::from_secret_bytes(&[2; 32]);
    /// let on_alice = SafetyNumber::for_user_keys(alice.public_key(), b"alice", bob.public_key(), b"bob")?;
    /// let on_bob = SafetyNumber::for_user_keys(bob.public_key(), b"bob", alice.public_key(), b"alice")?;
    /// assert_eq!(on_alice.digits(), on_bob.digits());
    /// # Ok::<(), cliquet::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidIdentifier`] for an identifier that is empty or
    /// longer than 255 bytes.
    pub fn for_user_keys(
        own_user_key: &IdentityKey,
        own_id: &[u8],
        peer_user_key: &IdentityKey,
        peer_id: &[u8],
    ) -> Result<Self, Error> {
        Self::new(own_user_key, own_id, peer_user_key, peer_id)
    }
}

/// Prefixes an application plaintext with the version of the sender's own
/// device list: `u64be(version) || plaintext`.
///
/// [SPEC §14](crate::spec) leaves the plaintext to the application: this is one way to
/// carry the convention that a person's devices tell their peers the
/// version of their current list, so that a peer served an old list (a
/// directory withholding the one that removed a stolen device) stops
/// sending. The receiver splits it with [`split_list_version`] and calls
/// [`PersonRecord::report_list_version`]; the version is then as
/// authentic as the message.
///
/// ```
/// use cliquet::{encode_with_list_version, split_list_version, PersonRecord};
/// let sent = encode_with_list_version(7, b"hello");
/// let (version, plaintext) = split_list_version(&sent)?;
/// assert_eq!((version, plaintext), (7, &b"hello"[..]));
/// let mut sender = PersonRecord::new();
/// sender.report_list_version(version); // after decrypting `sent` from them
/// assert!(sender.needs_newer_list());
/// # Ok::<(), cliquet::Error>(())
/// ```
pub fn encode_with_list_version(version: u64, plaintext: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + plaintext.len());
    out.put(&version.to_be_bytes());
    out.put(plaintext);
    out
}

/// Splits what [`encode_with_list_version`] made into the list version
/// and the application's plaintext.
///
/// # Errors
/// [`Error::Malformed`] ([`Truncated`](crate::DecodeError::Truncated)) for
/// fewer than 8 bytes.
pub fn split_list_version(bytes: &[u8]) -> Result<(u64, &[u8]), Error> {
    let mut r = Reader::new(bytes);
    let version = u64::from_be_bytes(r.array()?);
    Ok((version, r.rest()))
}
