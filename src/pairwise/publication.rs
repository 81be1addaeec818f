//! What a device uploads to its directory, and what the directory hands
//! out ([SPEC §2c](crate::spec)): [`Publication`] (kind byte 0x1C) and [`Directory`].
//!
//! A one-time prekey or a one-time KEM prekey must reach at most one
//! initiator. An account cannot know which bundle a directory hands to
//! whom, so it does not build bundles with one-time keys for a directory
//! at all: it publishes its keys, and the directory takes each one-time key
//! once.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use core::fmt;

use crate::codec::{Codec, Reader, Writer, kind};
use crate::error::{DecodeError, Error};
use crate::keys::{KemPreKeyKind, PublicKey, Verifier};
use crate::pairwise::bundle::{PreKeyBundle, SignedKemPreKey};

/// What an account asks its directory to publish now ([SPEC §2c](crate::spec)):
/// its signed part (identity key, signed prekey, signature), its current
/// last-resort KEM prekey, and one-time prekeys and one-time KEM prekeys
/// to hand out once each. Made by
/// [`Account::publication`](crate::Account::publication) (the keys not
/// published yet) or [`Account::full_publication`](crate::Account::full_publication)
/// (every key held); a [`Directory`] takes it.
///
/// ```text
/// 0x1C || signed part: a 0x14 bundle without a one-time prekey (134)
///      || flag [|| last-resort KEM prekey: u32be(kpk_id) || 0x00 || KPK_pub (1568) || kpk_signature (64)]
///      || u32be(n) || n × (u32be(opk_id) || OPK_pub (32))
///      || u32be(k) || k × (u32be(kpk_id) || 0x01 || KPK_pub (1568) || kpk_signature (64))
/// ```
///
/// ```
/// use cliquet::{Account, Directory, Publication};
/// # use rand_chacha::rand_core::SeedableRng;
/// # let mut rng = rand_chacha::ChaCha20Rng::from_seed([1; 32]);
/// let mut bob = Account::new(&mut rng);
/// bob.generate_one_time_prekeys(2, &mut rng);
/// bob.generate_one_time_kem_prekeys(1, &mut rng);
/// // Bob uploads these bytes; the next publication holds only new keys.
/// let upload = bob.publication().encode();
/// assert!(bob.publication().one_time_prekeys().is_empty());
///
/// // The directory checks the signatures, then hands each one-time key out once.
/// let mut directory = Directory::new();
/// directory.upload(&Publication::decode(&upload)?)?;
/// let first = directory.take_bundle().expect("uploaded");
/// let second = directory.take_bundle().expect("uploaded");
/// assert_ne!(first.one_time_prekey(), second.one_time_prekey());
/// assert_eq!(first.kem_prekey().map(|k| k.id()), Some(2)); // one-time
/// assert_eq!(second.kem_prekey().map(|k| k.id()), Some(1)); // last resort
/// assert!(first.verify().is_ok() && second.verify().is_ok());
/// # Ok::<(), cliquet::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Publication {
    signed: PreKeyBundle,
    last_resort: Option<SignedKemPreKey>,
    one_time_prekeys: Vec<(u32, PublicKey)>,
    one_time_kem_prekeys: Vec<SignedKemPreKey>,
}

impl Publication {
    pub(crate) fn new(
        signed: PreKeyBundle,
        last_resort: Option<SignedKemPreKey>,
        one_time_prekeys: Vec<(u32, PublicKey)>,
        one_time_kem_prekeys: Vec<SignedKemPreKey>,
    ) -> Self {
        Self {
            signed: signed.without_one_time_prekey().without_kem_prekey(),
            last_resort,
            one_time_prekeys,
            one_time_kem_prekeys,
        }
    }

    /// Parses a publication. It checks structure only; a [`Directory`]
    /// checks the signatures when it takes it.
    ///
    /// # Errors
    /// [`Error::Malformed`]: another kind byte, a signed part that is not a
    /// classic bundle without a one-time prekey, a `kpk_kind` other than
    /// 0x00 for the last-resort key or 0x01 for a one-time one (`bad_flag`),
    /// a count the rest cannot hold, truncated or trailing bytes.
    pub fn decode(bytes: &[u8]) -> Result<Self, Error> {
        Self::decode_exact(bytes)
    }

    /// The wire format.
    pub fn encode(&self) -> Vec<u8> {
        let len = 1
            + PreKeyBundle::LEN_WITHOUT_ONE_TIME_PREKEY
            + 1
            + self
                .last_resort
                .as_ref()
                .map_or(0, |_| SignedKemPreKey::LEN)
            + 4
            + 36 * self.one_time_prekeys.len()
            + 4
            + SignedKemPreKey::LEN * self.one_time_kem_prekeys.len();
        let mut out = Vec::with_capacity(len);
        self.write(&mut out);
        out
    }

    /// The signed part: a classic bundle without a one-time prekey.
    pub const fn signed_part(&self) -> &PreKeyBundle {
        &self.signed
    }

    /// The current last-resort KEM prekey, if the account has one.
    pub const fn last_resort_kem_prekey(&self) -> Option<&SignedKemPreKey> {
        self.last_resort.as_ref()
    }

    /// The one-time prekeys to hand out, by id.
    pub fn one_time_prekeys(&self) -> &[(u32, PublicKey)] {
        &self.one_time_prekeys
    }

    /// The one-time KEM prekeys to hand out, by id.
    pub fn one_time_kem_prekeys(&self) -> &[SignedKemPreKey] {
        &self.one_time_kem_prekeys
    }
}

impl Codec for Publication {
    fn read(r: &mut Reader<'_>) -> Result<Self, Error> {
        r.kind(kind::PUBLICATION)?;
        let signed = PreKeyBundle::read(r)?;
        if signed.is_post_quantum() {
            return Err(DecodeError::BadKind.into());
        }
        if signed.one_time_prekey().is_some() {
            return Err(DecodeError::BadFlag.into());
        }
        let last_resort = if r.flag()? {
            Some(read_kem(r, KemPreKeyKind::LastResort)?)
        } else {
            None
        };
        let n = count(r, 36)?;
        let mut one_time_prekeys = Vec::with_capacity(n);
        for _ in 0..n {
            one_time_prekeys.push((r.u32_be()?, PublicKey::from_bytes(r.array()?)));
        }
        let k = count(r, SignedKemPreKey::LEN)?;
        let mut one_time_kem_prekeys = Vec::with_capacity(k);
        for _ in 0..k {
            one_time_kem_prekeys.push(read_kem(r, KemPreKeyKind::OneTime)?);
        }
        Ok(Self {
            signed,
            last_resort,
            one_time_prekeys,
            one_time_kem_prekeys,
        })
    }

    fn write(&self, w: &mut impl Writer) {
        w.put_u8(kind::PUBLICATION);
        self.signed.write(w);
        w.put_flag(self.last_resort.is_some());
        if let Some(key) = &self.last_resort {
            key.write(w);
        }
        w.put_len(self.one_time_prekeys.len());
        for (id, key) in &self.one_time_prekeys {
            w.put_u32_be(*id);
            w.put(key.as_bytes());
        }
        w.put_len(self.one_time_kem_prekeys.len());
        for key in &self.one_time_kem_prekeys {
            key.write(w);
        }
    }
}

/// A signed KEM prekey of `kind` (another kind is `bad_flag`).
fn read_kem(r: &mut Reader<'_>, kind: KemPreKeyKind) -> Result<SignedKemPreKey, Error> {
    let key = SignedKemPreKey::read(r)?;
    if key.kind() != kind {
        return Err(DecodeError::BadFlag.into());
    }
    Ok(key)
}

/// A count of items of `item_len` bytes that the rest can hold.
fn count(r: &mut Reader<'_>, item_len: usize) -> Result<usize, Error> {
    let n = usize::try_from(r.u32_be()?).map_err(|_| DecodeError::Truncated)?;
    if n.checked_mul(item_len)
        .is_none_or(|len| len > r.remaining())
    {
        return Err(DecodeError::Truncated.into());
    }
    Ok(n)
}

impl fmt::Debug for Publication {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Publication")
            .field("signed_part", &self.signed)
            .field(
                "last_resort_kem_prekey_id",
                &self.last_resort.as_ref().map(SignedKemPreKey::id),
            )
            .field("one_time_prekeys", &self.one_time_prekeys.len())
            .field("one_time_kem_prekeys", &self.one_time_kem_prekeys.len())
            .finish()
    }
}

/// A directory's copy of one device's prekeys ([SPEC §2c](crate::spec)): what a server
/// keeps per device to hand out bundles. It takes [`Publication`]s after
/// checking their signatures, and [`take_bundle`](Self::take_bundle) hands
/// out each one-time prekey and each one-time KEM prekey at most once,
/// lowest id first, falling back to the last-resort KEM prekey.
///
/// Keys of an id at or below the highest one it ever took (of that kind)
/// are ignored, so uploading the same publication twice, or every key
/// again ([`Account::full_publication`](crate::Account::full_publication)),
/// never hands a key out twice. A publication of another identity key
/// replaces everything (the device was reinstalled). The directory keeps
/// what it is given: a server bounds the size of what it accepts.
///
/// ```
/// use cliquet::{Account, Directory};
/// # use rand_chacha::rand_core::SeedableRng;
/// # let mut rng = rand_chacha::ChaCha20Rng::from_seed([2; 32]);
/// let mut bob = Account::new(&mut rng);
/// bob.generate_one_time_prekeys(1, &mut rng);
/// let mut directory = Directory::new();
/// assert!(directory.take_bundle().is_none());
/// directory.upload(&bob.publication())?;
/// directory.upload(&bob.full_publication())?; // the same key again: ignored
/// assert_eq!(directory.one_time_prekey_count(), 1);
/// assert!(directory.take_bundle().unwrap().one_time_prekey().is_some());
/// assert!(directory.take_bundle().unwrap().one_time_prekey().is_none());
/// # Ok::<(), cliquet::Error>(())
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Directory {
    signed: Option<PreKeyBundle>,
    last_resort: Option<SignedKemPreKey>,
    one_time_prekeys: BTreeMap<u32, PublicKey>,
    one_time_kem_prekeys: BTreeMap<u32, SignedKemPreKey>,
    highest_one_time_prekey: Option<u32>,
    highest_one_time_kem_prekey: Option<u32>,
}

impl Directory {
    /// An empty directory entry: no bundle until the first upload.
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes a publication: checks the identity key, the signed prekey's
    /// signature and every KEM prekey's signature and key (as
    /// [`PreKeyBundle::verify`] does), then replaces the signed part and
    /// the last-resort KEM prekey and adds the one-time keys above the
    /// highest id taken so far. All or nothing.
    ///
    /// # Errors
    /// [`Error::InvalidKey`] or [`Error::BadSignature`], and nothing changes.
    pub fn upload(&mut self, publication: &Publication) -> Result<(), Error> {
        let signed = &publication.signed;
        let with_last_resort = match &publication.last_resort {
            Some(key) => signed.clone().with_kem_prekey(key.clone()),
            None => signed.clone(),
        };
        with_last_resort.verify()?;
        let verifier = Verifier::from_bytes(signed.identity_key_bytes())?;
        for key in &publication.one_time_kem_prekeys {
            key.verify(&verifier)?;
        }
        let same_device = self
            .signed
            .as_ref()
            .is_some_and(|held| held.identity_key_bytes() == signed.identity_key_bytes());
        if !same_device {
            *self = Self::new();
        }
        self.signed = Some(signed.clone());
        self.last_resort.clone_from(&publication.last_resort);
        for (id, key) in &publication.one_time_prekeys {
            if self.highest_one_time_prekey.is_none_or(|h| *id > h) {
                self.one_time_prekeys.insert(*id, *key);
            }
        }
        for key in &publication.one_time_kem_prekeys {
            if self
                .highest_one_time_kem_prekey
                .is_none_or(|h| key.id() > h)
            {
                self.one_time_kem_prekeys.insert(key.id(), key.clone());
            }
        }
        let highest = |held: Option<u32>, new: Option<u32>| held.max(new);
        self.highest_one_time_prekey = highest(
            self.highest_one_time_prekey,
            publication.one_time_prekeys.iter().map(|(id, _)| *id).max(),
        );
        self.highest_one_time_kem_prekey = highest(
            self.highest_one_time_kem_prekey,
            publication
                .one_time_kem_prekeys
                .iter()
                .map(SignedKemPreKey::id)
                .max(),
        );
        Ok(())
    }

    /// The next bundle to hand out: the signed part with the lowest
    /// one-time prekey left (none once they are gone) and the lowest
    /// one-time KEM prekey left, else the last-resort KEM prekey (a classic
    /// bundle if the device published no KEM prekey). Each one-time key
    /// it returns is removed. `None` before the first upload.
    pub fn take_bundle(&mut self) -> Option<PreKeyBundle> {
        let mut bundle = self.signed.clone()?;
        if let Some((id, key)) = self.one_time_prekeys.pop_first() {
            bundle = bundle.with_one_time_prekey(id, key);
        }
        let kem = match self.one_time_kem_prekeys.pop_first() {
            Some((_, key)) => Some(key),
            None => self.last_resort.clone(),
        };
        if let Some(kem) = kem {
            bundle = bundle.with_kem_prekey(kem);
        }
        Some(bundle)
    }

    /// How many one-time prekeys are left to hand out (ask the device for
    /// more when it runs low).
    pub fn one_time_prekey_count(&self) -> usize {
        self.one_time_prekeys.len()
    }

    /// How many one-time KEM prekeys are left to hand out.
    pub fn one_time_kem_prekey_count(&self) -> usize {
        self.one_time_kem_prekeys.len()
    }
}

impl fmt::Debug for Directory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Directory")
            .field(
                "signed_prekey_id",
                &self.signed.as_ref().map(PreKeyBundle::signed_prekey_id),
            )
            .field(
                "last_resort_kem_prekey_id",
                &self.last_resort.as_ref().map(SignedKemPreKey::id),
            )
            .field("one_time_prekeys", &self.one_time_prekeys.len())
            .field("one_time_kem_prekeys", &self.one_time_kem_prekeys.len())
            .finish_non_exhaustive()
    }
}
