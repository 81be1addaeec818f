//! `Session`: initiate, encrypt, decrypt ([SPEC §3](crate::spec)–§6), and its stored form
//! ([SPEC §7](crate::spec)).

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::fmt;

use rand_core::CryptoRng;

mod storage;

use crate::config::SessionConfig;
use crate::crypto::kdf::{AD_LEN, SharedSecrets};
use crate::crypto::kem::Ciphertext;
use crate::error::Error;
use crate::keys::{IdentityKey, IdentityKeyPair, KeyPair, PublicKey};
use crate::pairwise::bundle::VerifiedBundle;
use crate::pairwise::handshake;
pub(crate) use crate::pairwise::ratchet::Fit;
use crate::pairwise::ratchet::Ratchet;
use crate::pairwise::wire::ENC_HEADER_LEN;
use crate::pairwise::wire::{
    AnyMessage, Handshake, PreKeyMessage, RatchetMessage, SessionId, Shape,
};

/// Which side of the handshake this session is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    /// Sent the prekey message; `acknowledged` once a reply decrypted.
    Initiator { acknowledged: bool },
    /// Received it.
    Responder,
}

/// An end-to-end encrypted session with one peer device: X3DH, then the
/// Double Ratchet.
///
/// The initiator builds it from the peer's verified bundle with
/// [`Session::initiate`]; the responder gets it from
/// [`Account::accept`](crate::Account::accept). Both then
/// [`encrypt`](Self::encrypt) and [`decrypt`](Self::decrypt). A failed
/// decrypt leaves the session exactly as it was.
///
/// ```
/// use cliquet::{Account, AnyMessage, Session, SessionConfig};
/// # use rand_chacha::rand_core::SeedableRng;
/// # let mut rng = rand_chacha::ChaCha20Rng::from_seed([2; 32]);
/// let alice = Account::new(&mut rng);
/// let mut bob = Account::new(&mut rng);
///
/// // Bob publishes a bundle; Alice verifies it and starts a session.
/// let bundle = bob.bundle(None)?.verify()?;
/// let mut alice_session = Session::initiate(alice.identity(), &bundle, SessionConfig::default(), &mut rng)?;
///
/// // Her first message is a prekey message; Bob accepts it.
/// let AnyMessage::PreKey(first) = alice_session.encrypt(b"hi Bob", &mut rng)? else { unreachable!() };
/// let accepted = bob.accept(&first, SessionConfig::default())?;
/// assert_eq!(accepted.plaintext, b"hi Bob");
/// let mut bob_session = accepted.session;
///
/// // Once Alice decrypts a reply, she sends plain messages.
/// let reply = bob_session.encrypt(b"hi Alice", &mut rng)?;
/// assert_eq!(alice_session.decrypt(&reply)?, b"hi Alice");
/// assert!(alice_session.is_acknowledged());
/// assert!(matches!(alice_session.encrypt(b"ok", &mut rng)?, AnyMessage::Ratchet(_)));
/// assert_eq!(alice_session.session_id(), bob_session.session_id());
/// # Ok::<(), cliquet::Error>(())
/// ```
pub struct Session {
    ratchet: Ratchet,
    /// `AD = IK_A_pub || IK_B_pub`.
    associated_data: [u8; AD_LEN],
    peer_identity: IdentityKey,
    role: Role,
    handshake: Handshake,
    /// PQXDH's `CT`, which the initiator's prekey messages repeat until a
    /// reply arrives (then dropped).
    kem_ciphertext: Option<Box<Ciphertext>>,
}

/// A session created by a prekey message, and that message's plaintext.
pub(crate) struct Responded {
    pub(crate) session: Session,
    pub(crate) plaintext: Vec<u8>,
}

impl Session {
    /// Starts a session with the owner of `bundle`: PQXDH from a
    /// post-quantum bundle ([SPEC §3b](crate::spec)), classic X3DH (§3) from a classic one
    /// if `config` allows it, then the Double Ratchet (§4). Draws `EK_A`,
    /// then (PQXDH) the 32-byte `m` of the ML-KEM encapsulation, then the
    /// first ratchet key. `config` sets the limits, whether headers are
    /// encrypted (§6) and whether classic bundles are accepted.
    ///
    /// # Errors
    /// [`Error::PostQuantumRequired`] for a classic bundle unless
    /// [`SessionConfig::with_classic_x3dh`] allows it (nothing drawn);
    /// [`Error::InvalidKey`] if a Diffie-Hellman output is all zeros (a
    /// small-order signed or one-time prekey).
    pub fn initiate(
        identity: &IdentityKeyPair,
        bundle: &VerifiedBundle,
        config: SessionConfig,
        rng: &mut (impl CryptoRng + ?Sized),
    ) -> Result<Self, Error> {
        if !bundle.is_post_quantum() && !config.allows_classic_x3dh() {
            return Err(Error::PostQuantumRequired);
        }
        let dh1 = handshake::dh1_initiator(identity, bundle)?;
        let ephemeral = KeyPair::generate(rng);
        let encapsulated = handshake::encapsulate(bundle, rng);
        let shared = handshake::initiator(
            identity,
            &dh1,
            bundle,
            &ephemeral,
            encapsulated.as_ref().map(|(_, ss)| &**ss),
        )?;
        let (signed_prekey_id, signed_prekey) = bundle.signed_prekey();
        // The responder's policy is not part of a session.
        let config = config.with_required_mode(false);
        let ratchet = Ratchet::initiator(&shared, signed_prekey, config, rng)?;
        Ok(Self {
            ratchet,
            associated_data: shared.associated_data,
            peer_identity: *bundle.identity_key(),
            role: Role::Initiator {
                acknowledged: false,
            },
            handshake: Handshake {
                base_key: *ephemeral.public(),
                signed_prekey_id,
                kem_prekey_id: bundle.kem_prekey().map(|(id, _)| id),
                one_time_prekey_id: bundle.one_time_prekey().map(|(id, _)| id),
            },
            kem_ciphertext: encapsulated.map(|(ct, _)| ct),
        })
    }

    /// The responder's session, created by the prekey message `message`
    /// whose X3DH gave `shared`: it exists only if that message decrypts.
    /// The session's mode (header encryption) follows the inner message.
    pub(crate) fn respond(
        shared: &SharedSecrets,
        signed_prekey: &KeyPair,
        peer_identity: IdentityKey,
        message: &PreKeyMessage,
        config: SessionConfig,
    ) -> Result<Responded, Error> {
        let inner = message.message();
        let config = config
            .with_header_encryption(inner.has_encrypted_header())
            .with_required_mode(false);
        let mut plaintext = Vec::new();
        let ratchet = Ratchet::responder(shared, signed_prekey, config, inner, &mut plaintext)?;
        let session = Self {
            ratchet,
            associated_data: shared.associated_data,
            peer_identity,
            role: Role::Responder,
            handshake: *message.handshake(),
            kem_ciphertext: None,
        };
        Ok(Responded { session, plaintext })
    }

    /// Encrypts `plaintext`. Until the initiator has decrypted a reply, the
    /// result is a [`PreKeyMessage`]; afterwards a `Message` (or an
    /// `EncryptedHeaderMessage` with header encryption).
    ///
    /// Draws the deferred ratchet key (after a DH step), a 16-byte salt, and
    /// with header encryption a 12-byte header nonce.
    ///
    /// # Errors
    /// [`Error::ChainExhausted`] after 2^32 − 1 messages in one chain;
    /// [`Error::TooLarge`] for a plaintext over 64 GiB. The session is
    /// unchanged.
    pub fn encrypt(
        &mut self,
        plaintext: &[u8],
        rng: &mut (impl CryptoRng + ?Sized),
    ) -> Result<AnyMessage, Error> {
        let mut bytes = Vec::new();
        let (start, shape) = self.encrypt_framed(plaintext, rng, &mut bytes)?;
        let message = RatchetMessage::from_shape(bytes, start, shape);
        Ok(if self.sends_prekey_messages() {
            AnyMessage::PreKey(PreKeyMessage::from_encoded(
                self.local_identity_bytes(),
                self.handshake,
                message,
            ))
        } else {
            AnyMessage::Ratchet(message)
        })
    }

    /// Like [`encrypt`](Self::encrypt), but writes the message's wire
    /// encoding into `out`, resized to fit: reusing one buffer for many
    /// messages saves an allocation and a copy of the plaintext, which
    /// matters for large payloads.
    ///
    /// ```
    /// # use cliquet::{Account, AnyMessage, Session, SessionConfig};
    /// # use rand_chacha::rand_core::SeedableRng;
    /// # let mut rng = rand_chacha::ChaCha20Rng::from_seed([5; 32]);
    /// # let alice = Account::new(&mut rng);
    /// # let mut bob = Account::new(&mut rng);
    /// # let bundle = bob.bundle(None)?.verify()?;
    /// # let mut session = Session::initiate(alice.identity(), &bundle, SessionConfig::default(), &mut rng)?;
    /// let (mut wire, mut plaintext) = (Vec::new(), Vec::new());
    /// session.encrypt_into(b"a large payload", &mut rng, &mut wire)?;
    /// let AnyMessage::PreKey(first) = AnyMessage::decode(&wire)? else { unreachable!() };
    /// let mut bob_session = bob.accept(&first, SessionConfig::default())?.session;
    /// bob_session.encrypt_into(b"reply", &mut rng, &mut wire)?;
    /// session.decrypt_into(&AnyMessage::decode(&wire)?, &mut plaintext)?;
    /// assert_eq!(plaintext, b"reply");
    /// # Ok::<(), cliquet::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`encrypt`](Self::encrypt); `out` is then unchanged.
    pub fn encrypt_into(
        &mut self,
        plaintext: &[u8],
        rng: &mut (impl CryptoRng + ?Sized),
        out: &mut Vec<u8>,
    ) -> Result<(), Error> {
        self.encrypt_framed(plaintext, rng, out)?;
        Ok(())
    }

    /// Encrypts into `out`, behind the prekey message's prefix while one is
    /// due; returns where the ratchet message starts and its shape.
    fn encrypt_framed(
        &mut self,
        plaintext: &[u8],
        rng: &mut (impl CryptoRng + ?Sized),
        out: &mut Vec<u8>,
    ) -> Result<(usize, Shape), Error> {
        let prefix = self.sends_prekey_messages().then(|| {
            PreKeyMessage::prefix(
                &self.local_identity_bytes(),
                &self.handshake,
                self.kem_ciphertext.as_deref(),
            )
        });
        let prefix = prefix.as_ref().map_or(&[][..], |p| p.as_slice());
        let shape =
            self.ratchet
                .encrypt_into(&self.associated_data, plaintext, rng, prefix, out)?;
        Ok((prefix.len(), shape))
    }

    /// Decrypts any message of this session: a `Message`, an
    /// `EncryptedHeaderMessage`, or a [`PreKeyMessage`] whose base key is this
    /// session's (the responder gets several while the initiator waits for a
    /// reply). A prekey message is an envelope around a ratchet message:
    /// the session takes that message once, alone or enveloped, whichever
    /// arrives first. Draws no randomness.
    ///
    /// # Errors
    /// [`Error::Authentication`] (tampered, wrong mode, a prekey message of
    /// another session or whose fields differ from this session's),
    /// [`Error::Duplicate`], [`Error::TooManySkipped`], [`Error::InvalidKey`].
    /// On any error the session is exactly as it was.
    pub fn decrypt(&mut self, message: &AnyMessage) -> Result<Vec<u8>, Error> {
        let mut plaintext = Vec::new();
        self.decrypt_into(message, &mut plaintext)?;
        Ok(plaintext)
    }

    /// Like [`decrypt`](Self::decrypt), but writes the plaintext into `out`,
    /// resized to fit: reusing one buffer for many messages saves an
    /// allocation per message. On error `out` is left empty.
    ///
    /// # Errors
    /// As [`decrypt`](Self::decrypt).
    pub fn decrypt_into(&mut self, message: &AnyMessage, out: &mut Vec<u8>) -> Result<(), Error> {
        let envelope = match message {
            AnyMessage::PreKey(m) => Some(m),
            AnyMessage::Ratchet(_) => None,
        };
        self.decrypt_checked(envelope, message.ratchet_message(), out)
    }

    /// Decrypts `message`, which arrived in `envelope` if that is `Some`.
    fn decrypt_checked(
        &mut self,
        envelope: Option<&PreKeyMessage>,
        message: &RatchetMessage,
        out: &mut Vec<u8>,
    ) -> Result<(), Error> {
        if let Some(m) = envelope
            && let Err(e) = self.check_prekey_message(m)
        {
            out.clear();
            return Err(e);
        }
        self.ratchet.decrypt(&self.associated_data, message, out)?;
        if let Role::Initiator { acknowledged } = &mut self.role {
            *acknowledged = true;
            self.kem_ciphertext = None;
        }
        Ok(())
    }

    /// [SPEC §5](crate::spec): a prekey message routed here must name this session's base
    /// key, the peer's identity and the same prekeys (the KEM prekey
    /// included: a 0x12 message for a PQXDH session, or a 0x17 one for an
    /// X3DH session, is refused). `CT` is not compared.
    fn check_prekey_message(&self, m: &PreKeyMessage) -> Result<(), Error> {
        let same = self.role == Role::Responder
            && *m.handshake() == self.handshake
            && m.identity_key_bytes() == self.peer_identity.as_bytes();
        if same {
            Ok(())
        } else {
            Err(Error::Authentication)
        }
    }

    /// The peer's identity key.
    pub const fn peer_identity_key(&self) -> &IdentityKey {
        &self.peer_identity
    }

    /// The session's id, the same on both sides.
    pub fn session_id(&self) -> SessionId {
        self.handshake.session_id()
    }

    /// Whether the peer has shown it holds this session: always for the
    /// responder; for the initiator, once a reply decrypted (from then on
    /// it sends plain messages instead of prekey messages).
    pub const fn is_acknowledged(&self) -> bool {
        !self.sends_prekey_messages()
    }

    /// Whether the session was created by PQXDH ([SPEC §3b](crate::spec)) rather than
    /// classic X3DH.
    pub const fn is_post_quantum(&self) -> bool {
        self.handshake.kem_prekey_id.is_some()
    }

    /// Whether this session started the handshake.
    pub const fn is_initiator(&self) -> bool {
        matches!(self.role, Role::Initiator { .. })
    }

    /// The session's limits and mode.
    pub const fn config(&self) -> &SessionConfig {
        self.ratchet.config()
    }

    /// Whether headers are encrypted ([SPEC §6](crate::spec)).
    pub const fn has_header_encryption(&self) -> bool {
        self.ratchet.has_header_encryption()
    }

    /// How many skipped message keys the session holds.
    pub fn skipped_keys(&self) -> usize {
        self.ratchet.skipped_keys()
    }

    /// An initiated session the peer has not answered yet: it sends prekey
    /// messages.
    const fn sends_prekey_messages(&self) -> bool {
        matches!(
            self.role,
            Role::Initiator {
                acknowledged: false
            }
        )
    }

    fn local_identity_bytes(&self) -> [u8; 32] {
        let half = match self.role {
            Role::Initiator { .. } => self.associated_data.first_chunk::<32>(),
            Role::Responder => self.associated_data.last_chunk::<32>(),
        };
        half.copied().unwrap_or_default()
    }

    // What a record asks of its sessions to route messages and notices.

    /// `EK_A`, the base key that names this session.
    pub(crate) const fn base_key(&self) -> &PublicKey {
        &self.handshake.base_key
    }

    /// How `message` may belong to this session, from cheap comparisons.
    pub(crate) fn fit(&self, message: &RatchetMessage) -> Fit {
        self.ratchet.fit(message)
    }

    /// How many header decryptions an encrypted header that none of its
    /// keys opens costs this session.
    pub(crate) fn header_trials(&self) -> usize {
        self.ratchet.header_trials()
    }

    /// Decrypts a Double Ratchet message (not a prekey message).
    pub(crate) fn decrypt_ratchet(&mut self, message: &RatchetMessage) -> Result<Vec<u8>, Error> {
        let mut plaintext = Vec::new();
        self.decrypt_checked(None, message, &mut plaintext)?;
        Ok(plaintext)
    }

    /// Whether `message` is on a chain this session receives on.
    pub(crate) fn receives_on(&self, message: &RatchetMessage) -> bool {
        self.ratchet.receives_on(&self.associated_data, message)
    }

    /// Whether our last messages carry the ratchet key `key`.
    pub(crate) fn sends_with(&self, key: &PublicKey) -> bool {
        self.ratchet.sends_with(key)
    }

    /// Whether `enc_header` is the encrypted header of a message we sent on
    /// our current header key.
    pub(crate) fn sent_header(&self, enc_header: &[u8; ENC_HEADER_LEN]) -> bool {
        self.ratchet.sent_header(&self.associated_data, enc_header)
    }

    /// Evicts the oldest skipped keys until at most `max` remain.
    pub(crate) fn evict_skipped_to(&mut self, max: usize) {
        self.ratchet.evict_skipped_to(max);
    }

    /// The ratchet, for its unit tests.
    #[cfg(test)]
    pub(crate) const fn ratchet_mut(&mut self) -> &mut Ratchet {
        &mut self.ratchet
    }
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("session_id", &self.session_id())
            .field("peer_identity", &self.peer_identity)
            .field("initiator", &self.is_initiator())
            .field("post_quantum", &self.is_post_quantum())
            .field("acknowledged", &self.is_acknowledged())
            .field("header_encryption", &self.has_header_encryption())
            .field("skipped_keys", &self.skipped_keys())
            .finish_non_exhaustive()
    }
}
