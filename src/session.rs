//! `Session`: initiate, encrypt, decrypt (SPEC §3–§6).

use alloc::vec::Vec;
use core::fmt;

use rand_core::CryptoRng;

use crate::bundle::VerifiedBundle;
use crate::keys::{Hex, IdentityKey, IdentityKeyPair, KeyPair, PublicKey};
use crate::message::{
    AnyMessage, EncryptedHeaderMessage, Message, PreKeyMessage, PreKeyPrefix, RatchetMessage,
};
use crate::ratchet::{Incoming, Ratchet};
use crate::{Error, SessionConfig, x3dh};

/// Label of the session id hash.
const LABEL_SESSION_ID: &[u8] = b"cliquet/v1/session-id";

/// A stable identifier of a session, the same on both sides:
/// SHA-256 of a label and the initiator's base key `EK_A`.
///
/// A responder finds the session of an incoming [`PreKeyMessage`] by
/// comparing [`PreKeyMessage::session_id`] with [`Session::session_id`].
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId(pub(crate) [u8; 32]);

impl SessionId {
    pub(crate) fn from_base_key(base_key: &PublicKey) -> Self {
        Self(crate::crypto::sha256(&[
            LABEL_SESSION_ID,
            base_key.as_bytes(),
        ]))
    }

    /// An id from its 32 bytes (as carried by a decryption-failure notice).
    pub(crate) const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The 32 bytes of the id.
    pub const fn to_bytes(&self) -> [u8; 32] {
        self.0
    }
}

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionId({:?})", Hex(&self.0))
    }
}

/// What the X3DH handshake named: the fields a prekey message carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Handshake {
    pub(crate) base_key: PublicKey,
    pub(crate) signed_prekey_id: u32,
    pub(crate) one_time_prekey_id: Option<u32>,
}

/// Which side of the handshake this session is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
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
/// assert!(matches!(alice_session.encrypt(b"ok", &mut rng)?, AnyMessage::Message(_)));
/// assert_eq!(alice_session.session_id(), bob_session.session_id());
/// # Ok::<(), cliquet::Error>(())
/// ```
pub struct Session {
    pub(crate) ratchet: Ratchet,
    /// `AD = IK_A_pub || IK_B_pub`.
    pub(crate) associated_data: [u8; 64],
    pub(crate) peer_identity: IdentityKey,
    pub(crate) role: Role,
    pub(crate) handshake: Handshake,
}

impl Session {
    /// Starts a session with the owner of `bundle` (SPEC §3, §4): draws
    /// `EK_A`, then the first ratchet key. `config` sets the limits and
    /// whether headers are encrypted (§6).
    ///
    /// # Errors
    /// [`Error::InvalidKey`] if a Diffie-Hellman output is all zeros (a
    /// small-order signed or one-time prekey).
    pub fn initiate(
        identity: &IdentityKeyPair,
        bundle: &VerifiedBundle,
        config: SessionConfig,
        rng: &mut (impl CryptoRng + ?Sized),
    ) -> Result<Self, Error> {
        let dh1 = x3dh::dh1_initiator(identity, bundle)?;
        let ephemeral = KeyPair::generate(rng);
        let shared = x3dh::initiator(identity, &dh1, bundle, &ephemeral)?;
        let associated_data = shared.associated_data;
        let (signed_prekey_id, signed_prekey) = bundle.signed_prekey();
        let ratchet = Ratchet::initiator(shared, signed_prekey, config, rng)?;
        Ok(Self {
            ratchet,
            associated_data,
            peer_identity: *bundle.identity_key(),
            role: Role::Initiator {
                acknowledged: false,
            },
            handshake: Handshake {
                base_key: *ephemeral.public(),
                signed_prekey_id,
                one_time_prekey_id: bundle.one_time_prekey().map(|(id, _)| id),
            },
        })
    }

    /// The responder's session before its first decrypt.
    pub(crate) fn respond(
        shared: x3dh::SharedSecrets,
        signed_prekey: &KeyPair,
        peer_identity: IdentityKey,
        handshake: Handshake,
        config: SessionConfig,
    ) -> Self {
        let associated_data = shared.associated_data;
        Self {
            ratchet: Ratchet::responder(shared, signed_prekey, config),
            associated_data,
            peer_identity,
            role: Role::Responder,
            handshake,
        }
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
        let header =
            self.ratchet
                .encrypt_into(&self.associated_data, plaintext, rng, &[], &mut bytes)?;
        let message = if self.has_header_encryption() {
            RatchetMessage::EncryptedHeader(EncryptedHeaderMessage::from_bytes_unchecked(bytes))
        } else {
            RatchetMessage::Plain(Message::from_parts(
                bytes,
                header.ratchet_key,
                header.previous_chain_length,
                header.index,
            ))
        };
        Ok(match self.role {
            Role::Initiator {
                acknowledged: false,
            } => AnyMessage::PreKey(PreKeyMessage::new(
                self.local_identity_bytes(),
                self.handshake.base_key,
                self.handshake.signed_prekey_id,
                self.handshake.one_time_prekey_id,
                message,
            )),
            _ => message.into(),
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
        let prefix = match self.role {
            Role::Initiator {
                acknowledged: false,
            } => Some(PreKeyPrefix::new(
                &self.local_identity_bytes(),
                &self.handshake.base_key,
                self.handshake.signed_prekey_id,
                self.handshake.one_time_prekey_id,
            )),
            _ => None,
        };
        let prefix = prefix.as_ref().map_or(&[][..], PreKeyPrefix::as_bytes);
        self.ratchet
            .encrypt_into(&self.associated_data, plaintext, rng, prefix, out)?;
        Ok(())
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
        let incoming = match message {
            AnyMessage::Message(m) => Incoming::Plain(m),
            AnyMessage::EncryptedHeader(m) => Incoming::EncryptedHeader(m),
            AnyMessage::PreKey(m) => {
                if let Err(e) = self.check_prekey_message(m) {
                    out.clear();
                    return Err(e);
                }
                m.message().into()
            }
        };
        self.ratchet.decrypt(&self.associated_data, incoming, out)?;
        if let Role::Initiator { acknowledged } = &mut self.role {
            *acknowledged = true;
        }
        Ok(())
    }

    /// SPEC §5: a prekey message routed here must name this session's base
    /// key, the peer's identity and the same prekeys.
    fn check_prekey_message(&self, m: &PreKeyMessage) -> Result<(), Error> {
        let same = self.role == Role::Responder
            && *m.base_key() == self.handshake.base_key
            && m.identity_key_bytes() == self.peer_identity.as_bytes()
            && m.signed_prekey_id() == self.handshake.signed_prekey_id
            && m.one_time_prekey_id() == self.handshake.one_time_prekey_id;
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
        SessionId::from_base_key(&self.handshake.base_key)
    }

    /// Whether the peer has shown it holds this session: always for the
    /// responder; for the initiator, once a reply decrypted (from then on
    /// it sends plain messages instead of prekey messages).
    pub const fn is_acknowledged(&self) -> bool {
        !matches!(
            self.role,
            Role::Initiator {
                acknowledged: false
            }
        )
    }

    /// Whether this session started the handshake.
    pub const fn is_initiator(&self) -> bool {
        matches!(self.role, Role::Initiator { .. })
    }

    /// The session's limits and mode.
    pub const fn config(&self) -> &SessionConfig {
        &self.ratchet.config
    }

    /// Whether headers are encrypted (SPEC §6).
    pub const fn has_header_encryption(&self) -> bool {
        self.ratchet.header_keys.is_some()
    }

    /// How many skipped message keys the session holds.
    pub fn skipped_keys(&self) -> usize {
        self.ratchet.skipped.len()
    }

    fn local_identity_bytes(&self) -> [u8; 32] {
        let half = match self.role {
            Role::Initiator { .. } => self.associated_data.first_chunk::<32>(),
            Role::Responder => self.associated_data.last_chunk::<32>(),
        };
        half.copied().unwrap_or_default()
    }
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("session_id", &self.session_id())
            .field("peer_identity", &self.peer_identity)
            .field("initiator", &self.is_initiator())
            .field("acknowledged", &self.is_acknowledged())
            .field("header_encryption", &self.has_header_encryption())
            .field("skipped_keys", &self.skipped_keys())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use rand_chacha::ChaCha20Rng;
    use rand_chacha::rand_core::SeedableRng;
    use zeroize::ZeroizeOnDrop;

    use super::*;
    use crate::ratchet::{ChainKey, HEADER_TRIALS, HeaderKey, MessageKey, RootKey};
    use crate::{Account, AnyMessage};

    /// Alice's session and Bob's, after one message each way.
    fn pair(header_encryption: bool, rng: &mut ChaCha20Rng) -> (Session, Session) {
        let alice = Account::new(rng);
        let mut bob = Account::new(rng);
        let config = SessionConfig::default().with_header_encryption(header_encryption);
        let bundle = bob.bundle(None).unwrap().verify().unwrap();
        let mut a = Session::initiate(alice.identity(), &bundle, config, rng).unwrap();
        let AnyMessage::PreKey(first) = a.encrypt(b"1", rng).unwrap() else {
            panic!("not a prekey message")
        };
        let mut b = bob.accept(&first, config).unwrap().session;
        let reply = b.encrypt(b"2", rng).unwrap();
        assert_eq!(a.decrypt(&reply).unwrap(), b"2");
        (a, b)
    }

    #[test]
    fn s4_sending_counter_never_wraps() {
        let mut rng = ChaCha20Rng::from_seed([1; 32]);
        let (mut a, mut b) = pair(false, &mut rng);
        let step = a
            .encrypt(b"activates the deferred sending chain", &mut rng)
            .unwrap();
        b.decrypt(&step).unwrap();
        a.ratchet.sending.as_mut().unwrap().index = u32::MAX - 1;
        let last = a.encrypt(b"last", &mut rng).unwrap();
        let AnyMessage::Message(m) = &last else {
            panic!("plain message expected")
        };
        assert_eq!(m.index(), u32::MAX - 1);
        let before = a.to_bytes();
        assert_eq!(
            a.encrypt(b"one too many", &mut rng).err(),
            Some(Error::ChainExhausted)
        );
        assert_eq!(a.to_bytes(), before, "a refused encrypt changes nothing");
        // The receiver refuses to step its counter past 2^32 - 1 as well.
        let chain = b.ratchet.receiving.as_mut().unwrap();
        chain.index = u32::MAX - 1;
        let before = b.to_bytes();
        let mut forged = m.as_bytes().to_vec();
        forged[37..41].copy_from_slice(&u32::MAX.to_be_bytes());
        let forged = AnyMessage::decode(&forged).unwrap();
        assert_eq!(b.decrypt(&forged).err(), Some(Error::ChainExhausted));
        assert_eq!(b.to_bytes(), before);
    }

    #[test]
    fn s6_one_trial_decryption_per_distinct_header_key() {
        let mut rng = ChaCha20Rng::from_seed([2; 32]);
        let (mut a, mut b) = pair(true, &mut rng);
        // Five round trips in which one of Alice's messages is held back:
        // Bob ends up with skipped keys in five old chains.
        let mut held = Vec::new();
        for i in 0..5u8 {
            held.push(a.encrypt(&[i], &mut rng).unwrap());
            let sent = a.encrypt(b"x", &mut rng).unwrap();
            b.decrypt(&sent).unwrap();
            let reply = b.encrypt(b"y", &mut rng).unwrap();
            a.decrypt(&reply).unwrap();
        }
        let chains = b.ratchet.skipped.chains().count();
        assert_eq!((chains, b.skipped_keys()), (5, 5));
        // A message no key opens: one trial per distinct header key, that is
        // one per stored chain (the newest one's is HKr) and NHKr.
        let mut junk = a.encrypt(b"z", &mut rng).unwrap().to_bytes();
        junk[5] ^= 1;
        let junk = AnyMessage::decode(&junk).unwrap();
        HEADER_TRIALS.with(|n| n.set(0));
        assert_eq!(b.decrypt(&junk).err(), Some(Error::Authentication));
        assert_eq!(HEADER_TRIALS.with(core::cell::Cell::get), chains + 1);
        // A held-back message of the oldest chain opens at the first trial.
        HEADER_TRIALS.with(|n| n.set(0));
        assert_eq!(b.decrypt(&held[0]).unwrap(), [0]);
        assert_eq!(HEADER_TRIALS.with(core::cell::Cell::get), 1);
    }

    #[test]
    fn s7_secrets_are_zeroize_on_drop() {
        fn zeroized_on_drop<T: ZeroizeOnDrop>() {}
        zeroized_on_drop::<RootKey>();
        zeroized_on_drop::<ChainKey>();
        zeroized_on_drop::<MessageKey>();
        zeroized_on_drop::<HeaderKey>();
        zeroized_on_drop::<x25519_dalek::StaticSecret>();
        zeroized_on_drop::<ed25519_dalek::SigningKey>();
    }

    #[test]
    fn s7_debug_shows_no_secret() {
        let mut rng = ChaCha20Rng::from_seed([3; 32]);
        for header_encryption in [false, true] {
            let (a, b) = pair(header_encryption, &mut rng);
            for s in [&a, &b] {
                let shown = format!("{s:?}");
                let r = &s.ratchet;
                let mut secrets = vec![
                    r.root_key.as_bytes().to_vec(),
                    r.own.secret_bytes().to_vec(),
                ];
                secrets.extend(r.sending.iter().map(|c| c.chain_key.as_bytes().to_vec()));
                secrets.extend(r.receiving.iter().map(|c| c.chain_key.as_bytes().to_vec()));
                if let Some(k) = &r.header_keys {
                    secrets.push(k.next_sending.as_bytes().to_vec());
                    secrets.push(k.next_receiving.as_bytes().to_vec());
                }
                for secret in secrets {
                    let hex: alloc::string::String =
                        secret.iter().map(|b| format!("{b:02x}")).collect();
                    assert!(!shown.contains(&hex[..16]), "{shown}");
                    assert!(
                        !shown.contains(&format!("{:?}", &secret[..4])[1..10]),
                        "{shown}"
                    );
                }
                assert!(shown.contains("Session {"), "{shown}");
            }
        }
        let account = Account::new(&mut rng);
        let shown = format!("{account:?}");
        let seed: alloc::string::String = account
            .identity
            .seed()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert!(!shown.contains(&seed[..16]), "{shown}");
    }
}
