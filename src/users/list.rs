//! Device lists ([SPEC §14](crate::spec), kind byte `0x1B`): the wire encoding, its
//! decoder, the checks in SPEC's order, and the signing side.

use alloc::vec::Vec;
use core::fmt;

use crate::codec::{ArrayBuf, Reader, Writer, kind};
use crate::error::{DecodeError, Error};
use crate::keys::{Hex, IdentityKey, IdentityKeyPair, Verifier};

use super::key::UserKeyPair;

/// Prefix of the list signature.
const LABEL_DEVICE_LIST: &[u8] = b"cliquet/v1/device-list";
/// Prefix of a link signature.
const LABEL_DEVICE_LINK: &[u8] = b"cliquet/v1/device-link";
/// `0x1B || UK_pub || u64be(version) || u8(n)`.
const HEADER_LEN: usize = 1 + 32 + 8 + 1;
/// `u32be(device_id) || IK_pub || link_sig`.
const ENTRY_LEN: usize = 4 + 32 + 64;
/// `list_sig`.
const SIGNATURE_LEN: usize = 64;

/// Length of the message a link signature signs.
const LINK_MESSAGE_LEN: usize = 22 + 32 + 4;

/// The message a link signature signs:
/// `"cliquet/v1/device-link" || UK_pub || u32be(device_id)`.
fn link_message(user_key: &IdentityKey, device_id: u32) -> [u8; LINK_MESSAGE_LEN] {
    let mut w = ArrayBuf::<LINK_MESSAGE_LEN>::new();
    w.put(LABEL_DEVICE_LINK);
    w.put(user_key.as_bytes());
    w.put_u32_be(device_id);
    w.into_array()
}

impl IdentityKeyPair {
    /// This device's agreement to be listed as device `device_id` of the
    /// person whose user key is `user_key` ([SPEC §14](crate::spec)):
    /// `Sign(IK_device, "cliquet/v1/device-link" || UK_pub || u32be(device_id))`.
    ///
    /// A list cannot claim a device without it, nor move the device to
    /// another user key or id. [`Account::link_signature`](crate::Account::link_signature)
    /// is the same for an account's identity.
    ///
    /// ```
    /// use cliquet::{IdentityKeyPair, UserKeyPair};
    /// let device = IdentityKeyPair::from_secret_bytes(&[1; 32]);
    /// let user = UserKeyPair::from_secret_bytes(&[2; 32]);
    /// let sig = device.link_signature(user.public_key(), 7);
    /// assert_eq!(sig, device.link_signature(user.public_key(), 7)); // deterministic
    /// assert_ne!(sig, device.link_signature(user.public_key(), 8));
    /// ```
    pub fn link_signature(&self, user_key: &IdentityKey, device_id: u32) -> [u8; 64] {
        self.sign(&link_message(user_key, device_id))
    }
}

impl crate::Account {
    /// This account's link signature for being device `device_id` of the
    /// person with user key `user_key` ([SPEC §14](crate::spec)), made with its identity
    /// key: see [`IdentityKeyPair::link_signature`] and the linking flow
    /// in [`PersonRecord`](crate::PersonRecord)'s documentation.
    ///
    /// ```
    /// use cliquet::{Account, DeviceListBuilder, UserKeyPair};
    /// # use rand_chacha::rand_core::SeedableRng;
    /// # let mut rng = rand_chacha::ChaCha20Rng::from_seed([2; 32]);
    /// // The new device, told its id (3) and the person's user key (scanned):
    /// let laptop = Account::new(&mut rng);
    /// let user = UserKeyPair::generate(&mut rng); // held by another device
    /// let link = laptop.link_signature(user.public_key(), 3);
    /// // It shows its identity key and `link` to the holder of the user key.
    /// let list = DeviceListBuilder::new(1).device(3, *laptop.identity_key(), link).sign(&user)?;
    /// assert_eq!(list.device_key(3), Some(laptop.identity_key()));
    /// # Ok::<(), cliquet::Error>(())
    /// ```
    pub fn link_signature(&self, user_key: &IdentityKey, device_id: u32) -> [u8; 64] {
        self.identity().link_signature(user_key, device_id)
    }
}

/// One device of a device list: its id (the person's application chooses
/// it), its identity key (the *device key*) and its link signature.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct DeviceEntry {
    device_id: u32,
    identity_key: IdentityKey,
    link_signature: [u8; 64],
}

impl DeviceEntry {
    /// An entry: the device's id, its identity key, and the link signature
    /// it made for this id and the list's user key
    /// ([`Account::link_signature`](crate::Account::link_signature)).
    pub const fn new(device_id: u32, identity_key: IdentityKey, link_signature: [u8; 64]) -> Self {
        Self {
            device_id,
            identity_key,
            link_signature,
        }
    }

    /// The device id.
    pub const fn device_id(&self) -> u32 {
        self.device_id
    }

    /// The device's identity key.
    pub const fn identity_key(&self) -> &IdentityKey {
        &self.identity_key
    }

    /// The device's link signature.
    pub const fn link_signature(&self) -> &[u8; 64] {
        &self.link_signature
    }
}

impl fmt::Debug for DeviceEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceEntry")
            .field("device_id", &self.device_id)
            .field("identity_key", &self.identity_key)
            .finish_non_exhaustive()
    }
}

/// A device list as received ([SPEC §14](crate::spec)), well formed but not yet checked:
/// call [`verify`](Self::verify) to get a [`VerifiedDeviceList`], the only
/// kind a [`PersonRecord`](crate::PersonRecord) accepts.
///
/// ```text
/// 0x1B || UK_pub (32) || u64be(version) || u8(n)
///      || n × ( u32be(device_id) || IK_pub (32) || link_sig (64) )
///      || list_sig (64)
/// list_sig = Sign(UK, "cliquet/v1/device-list" || every byte before list_sig)
/// link_sig = Sign(IK_device, "cliquet/v1/device-link" || UK_pub || u32be(device_id))
/// ```
///
/// `106 + 100·n` bytes, 1 ≤ n ≤ 32, device ids strictly increasing.
///
/// ```
/// use cliquet::{DecodeError, DeviceList, Error};
/// assert_eq!(DeviceList::decode(&[0x14]), Err(Error::Malformed(DecodeError::BadKind)));
/// let mut empty = vec![0x1B; 106];
/// empty[41] = 0; // n = 0
/// assert_eq!(DeviceList::decode(&empty), Err(Error::Malformed(DecodeError::BadCount)));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct DeviceList {
    bytes: Vec<u8>,
}

impl DeviceList {
    /// The most devices a list names.
    pub const MAX_DEVICES: usize = 32;

    /// Parses a device list: [SPEC §14](crate::spec)'s checks up to the order of the
    /// device ids (kind, length, count, order); keys and signatures are
    /// checked by [`verify`](Self::verify), which runs the rest in SPEC's
    /// order.
    ///
    /// # Errors
    /// [`Error::Malformed`]: [`BadKind`](DecodeError::BadKind) for another
    /// kind byte, [`Truncated`](DecodeError::Truncated) for fewer than 42
    /// bytes, [`BadCount`](DecodeError::BadCount) for no device or more than
    /// 32, `Truncated` or [`Trailing`](DecodeError::Trailing) for another
    /// length than `106 + 100·n`, [`BadOrder`](DecodeError::BadOrder) for
    /// device ids not strictly increasing.
    pub fn decode(bytes: &[u8]) -> Result<Self, Error> {
        let mut r = Reader::new(bytes);
        r.kind(kind::DEVICE_LIST)?;
        if bytes.len() < HEADER_LEN {
            return Err(DecodeError::Truncated.into());
        }
        r.take(32 + 8)?;
        let n = usize::from(r.u8()?);
        if n == 0 || n > Self::MAX_DEVICES {
            return Err(DecodeError::BadCount.into());
        }
        let want = HEADER_LEN + n * ENTRY_LEN + SIGNATURE_LEN;
        if bytes.len() < want {
            return Err(DecodeError::Truncated.into());
        }
        if bytes.len() > want {
            return Err(DecodeError::Trailing.into());
        }
        let mut last = None;
        for _ in 0..n {
            let id = r.u32_be()?;
            if last.is_some_and(|last| id <= last) {
                return Err(DecodeError::BadOrder.into());
            }
            last = Some(id);
            r.take(32 + 64)?;
        }
        r.take(SIGNATURE_LEN)?;
        r.finish()?;
        Ok(Self {
            bytes: bytes.to_vec(),
        })
    }

    /// The encoding, as received.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The version the list claims (not verified).
    pub fn version(&self) -> u64 {
        self.fields().map_or(0, |f| f.version)
    }

    /// The fields of a decoded list (its length was checked by `decode`).
    fn fields(&self) -> Result<Fields<'_>, DecodeError> {
        let mut r = Reader::new(&self.bytes);
        r.kind(kind::DEVICE_LIST)?;
        let user_key = r.array::<32>()?;
        let version = u64::from_be_bytes(r.array()?);
        let n = usize::from(r.u8()?);
        let mut entries = Vec::with_capacity(n.min(Self::MAX_DEVICES));
        for _ in 0..n {
            entries.push((r.u32_be()?, r.array::<32>()?, r.array::<64>()?));
        }
        let signed_len = self.bytes.len().saturating_sub(SIGNATURE_LEN);
        let signed = self.bytes.get(..signed_len).ok_or(DecodeError::Truncated)?;
        let signature = r.array::<64>()?;
        r.finish()?;
        Ok(Fields {
            user_key,
            version,
            entries,
            signed,
            signature,
        })
    }

    /// The rest of [SPEC §14](crate::spec)'s checks, in its order: the user key and every
    /// device key valid identity keys ([SPEC §1](crate::spec)), no device key twice nor
    /// equal to the user key; then the list signature; then each link
    /// signature in list order (strict Ed25519, as for bundles).
    ///
    /// # Errors
    /// [`Error::InvalidKey`] for an invalid, repeated or user-key device
    /// key (or an invalid user key); [`Error::BadSignature`] for a list or
    /// link signature that does not verify.
    pub fn verify(&self) -> Result<VerifiedDeviceList, Error> {
        let fields = self.fields()?;
        let user = Verifier::from_bytes(&fields.user_key)?;
        let mut devices = Vec::with_capacity(fields.entries.len());
        for (device_id, key, link_signature) in &fields.entries {
            let verifier = Verifier::from_bytes(key)?;
            let repeated = devices
                .iter()
                .any(|(_, v): &(DeviceEntry, Verifier)| v.key().as_bytes() == key);
            if repeated || key == &fields.user_key {
                return Err(Error::InvalidKey);
            }
            let entry = DeviceEntry::new(*device_id, *verifier.key(), *link_signature);
            devices.push((entry, verifier));
        }
        let mut signed = Vec::with_capacity(LABEL_DEVICE_LIST.len() + fields.signed.len());
        signed.put(LABEL_DEVICE_LIST);
        signed.put(fields.signed);
        user.verify(&signed, &fields.signature)?;
        for (entry, verifier) in &devices {
            let message = link_message(user.key(), entry.device_id);
            verifier.verify(&message, &entry.link_signature)?;
        }
        Ok(VerifiedDeviceList {
            bytes: self.bytes.clone(),
            user_key: *user.key(),
            version: fields.version,
            devices: devices.into_iter().map(|(entry, _)| entry).collect(),
        })
    }
}

impl fmt::Debug for DeviceList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let user_key = self.bytes.get(1..33).unwrap_or_default();
        f.debug_struct("DeviceList")
            .field("user_key", &Hex(user_key))
            .field("version", &self.version())
            .field("len", &self.bytes.len())
            .finish_non_exhaustive()
    }
}

/// The fields of a decoded list.
struct Fields<'a> {
    user_key: [u8; 32],
    version: u64,
    entries: Vec<(u32, [u8; 32], [u8; 64])>,
    signed: &'a [u8],
    signature: [u8; 64],
}

/// A device list whose keys and signatures passed every check of [SPEC §14](crate::spec)
/// ([`DeviceList::verify`], or made by [`DeviceListBuilder::sign`]): a
/// proof type, the only kind of list a
/// [`PersonRecord`](crate::PersonRecord) accepts.
#[derive(Clone, PartialEq, Eq)]
pub struct VerifiedDeviceList {
    bytes: Vec<u8>,
    user_key: IdentityKey,
    version: u64,
    devices: Vec<DeviceEntry>,
}

impl VerifiedDeviceList {
    /// Decodes and verifies in one step: [`DeviceList::decode`] then
    /// [`DeviceList::verify`].
    ///
    /// # Errors
    /// The errors of both, in [SPEC §14](crate::spec)'s order.
    pub fn decode(bytes: &[u8]) -> Result<Self, Error> {
        DeviceList::decode(bytes)?.verify()
    }

    /// A list loaded from a person record's stored state: decoded and
    /// its keys checked, its signatures not checked again (they were when
    /// the list was accepted).
    pub(crate) fn from_stored(bytes: &[u8]) -> Result<Self, Error> {
        let decoded = DeviceList::decode(bytes)?;
        let fields = decoded.fields()?;
        let user_key = IdentityKey::from_bytes(&fields.user_key)?;
        let mut devices: Vec<DeviceEntry> = Vec::with_capacity(fields.entries.len());
        for (device_id, key, link_signature) in &fields.entries {
            let identity_key = IdentityKey::from_bytes(key)?;
            if identity_key == user_key || devices.iter().any(|d| d.identity_key == identity_key) {
                return Err(Error::InvalidKey);
            }
            devices.push(DeviceEntry::new(*device_id, identity_key, *link_signature));
        }
        Ok(Self {
            bytes: bytes.to_vec(),
            user_key,
            version: fields.version,
            devices,
        })
    }

    /// The user key that signed the list.
    pub const fn user_key(&self) -> &IdentityKey {
        &self.user_key
    }

    /// The list's version.
    pub const fn version(&self) -> u64 {
        self.version
    }

    /// The listed devices, by ascending id.
    pub fn devices(&self) -> &[DeviceEntry] {
        &self.devices
    }

    /// The identity key the list names for `device_id`, if it lists it.
    pub fn device_key(&self, device_id: u32) -> Option<&IdentityKey> {
        self.devices
            .binary_search_by_key(&device_id, DeviceEntry::device_id)
            .ok()
            .and_then(|i| self.devices.get(i))
            .map(DeviceEntry::identity_key)
    }

    /// The encoding (what the directory publishes).
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The encoding, copied.
    pub fn encode(&self) -> Vec<u8> {
        self.bytes.clone()
    }
}

impl fmt::Debug for VerifiedDeviceList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifiedDeviceList")
            .field("user_key", &self.user_key)
            .field("version", &self.version)
            .field("devices", &self.devices)
            .finish()
    }
}

/// Builds and signs a device list with the person's [`UserKeyPair`]
/// ([SPEC §14](crate::spec)). Entries may be added in any order; the list holds them by
/// ascending device id.
///
/// ```
/// use cliquet::{Account, DeviceListBuilder, UserKeyPair};
/// # use rand_chacha::rand_core::SeedableRng;
/// # let mut rng = rand_chacha::ChaCha20Rng::from_seed([3; 32]);
/// let user = UserKeyPair::generate(&mut rng);
/// let phone = Account::new(&mut rng);
/// let laptop = Account::new(&mut rng);
/// let list = DeviceListBuilder::new(1)
///     .device(1, *phone.identity_key(), phone.link_signature(user.public_key(), 1))
///     .device(2, *laptop.identity_key(), laptop.link_signature(user.public_key(), 2))
///     .sign(&user)?;
/// assert_eq!(list.as_bytes().len(), 106 + 2 * 100);
/// // The laptop is lost: the next version drops it.
/// let next = DeviceListBuilder::next(&list).remove(2).sign(&user)?;
/// assert_eq!((next.version(), next.devices().len()), (2, 1));
/// # Ok::<(), cliquet::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct DeviceListBuilder {
    version: u64,
    devices: Vec<DeviceEntry>,
}

impl DeviceListBuilder {
    /// An empty list of version `version`.
    pub const fn new(version: u64) -> Self {
        Self {
            version,
            devices: Vec::new(),
        }
    }

    /// The devices of `list`, as the next version (`version + 1`,
    /// saturating).
    pub fn next(list: &VerifiedDeviceList) -> Self {
        Self {
            version: list.version.saturating_add(1),
            devices: list.devices.clone(),
        }
    }

    /// Sets the version.
    #[must_use]
    pub const fn version(mut self, version: u64) -> Self {
        self.version = version;
        self
    }

    /// Adds a device (or replaces the entry with the same id: a reinstall).
    #[must_use]
    pub fn device(
        self,
        device_id: u32,
        identity_key: IdentityKey,
        link_signature: [u8; 64],
    ) -> Self {
        self.entry(DeviceEntry::new(device_id, identity_key, link_signature))
    }

    /// Adds an entry (or replaces the entry with the same id).
    #[must_use]
    pub fn entry(mut self, entry: DeviceEntry) -> Self {
        match self
            .devices
            .binary_search_by_key(&entry.device_id, DeviceEntry::device_id)
        {
            Ok(i) => {
                if let Some(slot) = self.devices.get_mut(i) {
                    *slot = entry;
                }
            }
            Err(i) => self.devices.insert(i, entry),
        }
        self
    }

    /// Removes the device with this id, if present.
    #[must_use]
    pub fn remove(mut self, device_id: u32) -> Self {
        self.devices.retain(|d| d.device_id != device_id);
        self
    }

    /// Signs the list with `user_key` and checks it as a receiver would
    /// ([`DeviceList::verify`]), so that a list that others would refuse is
    /// never published.
    ///
    /// # Errors
    /// [`Error::Malformed`] with [`BadCount`](DecodeError::BadCount) for no
    /// device or more than 32; [`Error::InvalidKey`] for a device key
    /// listed twice or equal to the user key; [`Error::BadSignature`] for a
    /// link signature that is not the device's for this user key and id.
    pub fn sign(&self, user_key: &UserKeyPair) -> Result<VerifiedDeviceList, Error> {
        let n = u8::try_from(self.devices.len())
            .ok()
            .filter(|n| (1..=32).contains(n))
            .ok_or(DecodeError::BadCount)?;
        let mut bytes =
            Vec::with_capacity(HEADER_LEN + self.devices.len() * ENTRY_LEN + SIGNATURE_LEN);
        bytes.put_u8(kind::DEVICE_LIST);
        bytes.put(user_key.public_key().as_bytes());
        bytes.put(&self.version.to_be_bytes());
        bytes.put_u8(n);
        for d in &self.devices {
            bytes.put_u32_be(d.device_id);
            bytes.put(d.identity_key.as_bytes());
            bytes.put(&d.link_signature);
        }
        let mut signed = Vec::with_capacity(LABEL_DEVICE_LIST.len() + bytes.len());
        signed.put(LABEL_DEVICE_LIST);
        signed.put(&bytes);
        let signature = user_key.sign(&signed);
        bytes.put(&signature);
        DeviceList::decode(&bytes)?.verify()
    }
}
