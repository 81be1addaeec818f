//! What one device keeps about one peer device, and what arrives.

use crate::error::{Result, identity_key, js, sealing_key, to_js};
use crate::keys::{Account, SessionConfig, VerifiedBundle};
use crate::rng;
use cliquet::{AnyMessage, DecodeError, DecryptionFailure, Error, NoticeOutcome};
use wasm_bindgen::prelude::*;

use crate::error::stored_state;

/// The result of `SessionRecord.decrypt`.
#[wasm_bindgen(getter_with_clone)]
#[derive(Debug)]
pub struct Decrypted {
    /// The plaintext.
    pub plaintext: Vec<u8>,
    /// A prekey message changed the account (a one-time prekey used up):
    /// store the account with the record.
    #[wasm_bindgen(js_name = accountChanged)]
    pub account_changed: bool,
}

/// What arrived, by kind byte: `kind` is `"message"` (to
/// `SessionRecord.decrypt`), `"notice"` (to
/// `SessionRecord.onDecryptionFailure`) or `"group"` (to
/// `GroupSession.decrypt`).
#[wasm_bindgen]
#[derive(Debug)]
pub struct Incoming(cliquet::Incoming);

#[wasm_bindgen]
impl Incoming {
    /// Decodes anything that arrives (`malformed` if it is nothing known).
    pub fn decode(bytes: &[u8]) -> Result<Incoming> {
        js(cliquet::Incoming::decode(bytes)).map(Self)
    }
    #[wasm_bindgen(getter)]
    pub fn kind(&self) -> String {
        match &self.0 {
            cliquet::Incoming::Message(_) => "message",
            cliquet::Incoming::Notice(_) => "notice",
            cliquet::Incoming::Group(_) => "group",
            _ => "unknown",
        }
        .into()
    }
    /// Whether it is a prekey message (the first messages of a session,
    /// which need the account).
    #[wasm_bindgen(getter, js_name = isPreKey)]
    pub fn is_prekey(&self) -> bool {
        matches!(&self.0, cliquet::Incoming::Message(AnyMessage::PreKey(_)))
    }
    /// The kind byte.
    #[wasm_bindgen(getter, js_name = kindByte)]
    pub fn kind_byte(&self) -> u8 {
        self.0.kind()
    }
}

/// Everything one device keeps about one peer device: sessions, the
/// pinned identity key. Holds secrets: `free()` it, store it with `seal`.
#[wasm_bindgen]
#[derive(Debug, Default)]
pub struct SessionRecord(cliquet::SessionRecord);

#[wasm_bindgen]
impl SessionRecord {
    #[wasm_bindgen(constructor)]
    pub fn new() -> SessionRecord {
        Self(cliquet::SessionRecord::new())
    }
    /// Starts a session from a verified bundle; returns its 32-byte id.
    /// `identity_changed` (and nothing sent until decided) if the bundle's
    /// identity key is not the pinned one.
    #[wasm_bindgen(js_name = startNew)]
    pub fn start_new(
        &mut self,
        account: &Account,
        bundle: &VerifiedBundle,
        config: &SessionConfig,
    ) -> Result<Vec<u8>> {
        let id = self
            .0
            .start_new(account.0.identity(), &bundle.0, config.0, &mut rng());
        js(id).map(|id| id.to_bytes().to_vec())
    }
    /// Encrypts with the current session (`no_session`, `identity_changed`).
    pub fn encrypt(&mut self, plaintext: &[u8]) -> Result<Vec<u8>> {
        js(self.0.encrypt(plaintext, &mut rng())).map(AnyMessage::into_bytes)
    }
    /// Decrypts any message from the peer device; a prekey message may
    /// change `account` (see `Decrypted.accountChanged`).
    pub fn decrypt(
        &mut self,
        account: &mut Account,
        message: &[u8],
        config: &SessionConfig,
    ) -> Result<Decrypted> {
        let message = js(AnyMessage::decode(message))?;
        let d = js(self.0.decrypt(&mut account.0, &message, config.0))?;
        Ok(Decrypted {
            plaintext: d.plaintext,
            account_changed: d.account_changed,
        })
    }
    /// Decrypts a message that is not a prekey message, without the
    /// account (`malformed` / `bad_kind` for a prekey message).
    #[wasm_bindgen(js_name = decryptRatchet)]
    pub fn decrypt_ratchet(&mut self, message: &[u8]) -> Result<Vec<u8>> {
        match js(AnyMessage::decode(message))? {
            AnyMessage::Ratchet(m) => js(self.0.decrypt_ratchet(&m)),
            _ => Err(to_js(Error::Malformed(DecodeError::BadKind))),
        }
    }
    /// The notice to send back after `decrypt` failed on `message` with the
    /// error named `errorName` (the error's `code`), signed by `account`
    /// for the peer identity key `peer`; `undefined` if none is due.
    #[wasm_bindgen(js_name = decryptionFailure)]
    pub fn decryption_failure(
        &self,
        message: &[u8],
        #[wasm_bindgen(js_name = errorName)] error_name: &str,
        account: &Account,
        peer: &[u8],
    ) -> Result<Option<Vec<u8>>> {
        let error = match error_name {
            "authentication" => Error::Authentication,
            "unknown_prekey" => Error::UnknownPreKey,
            "invalid_key" => Error::InvalidKey,
            "duplicate" => Error::Duplicate,
            // No other error ever calls for a notice.
            _ => return Ok(None),
        };
        let message = js(AnyMessage::decode(message))?;
        let peer = identity_key(peer)?;
        let notice = self
            .0
            .decryption_failure(&message, &error, account.0.identity(), &peer);
        Ok(notice.map(|n| n.encode()))
    }
    /// Handles a decryption-failure notice from the peer; returns
    /// `"abandoned"` (start a new session), `"resend_requested"`, or
    /// `"ignored:<reason>"` (`no_session`, `not_signed_by_peer`,
    /// `not_current`, `repeated`).
    #[wasm_bindgen(js_name = onDecryptionFailure)]
    pub fn on_decryption_failure(&mut self, notice: &[u8], account: &Account) -> Result<String> {
        let notice = js(DecryptionFailure::decode(notice))?;
        Ok(
            match self
                .0
                .on_decryption_failure(&notice, account.0.identity_key())
            {
                NoticeOutcome::Abandoned => "abandoned".into(),
                NoticeOutcome::ResendRequested => "resend_requested".into(),
                NoticeOutcome::Ignored(why) => format!("ignored:{}", ignored_name(why)),
                _ => "unknown".into(),
            },
        )
    }
    /// Whether a new session must be started (`startNew`) before sending.
    #[wasm_bindgen(getter, js_name = needsNewSession)]
    pub fn needs_new_session(&self) -> bool {
        self.0.needs_new_session()
    }
    /// The pinned identity key of the peer, if any.
    #[wasm_bindgen(getter, js_name = peerIdentityKey)]
    pub fn peer_identity_key(&self) -> Option<Vec<u8>> {
        self.0.peer_identity_key().map(|k| k.to_bytes().to_vec())
    }
    /// A new identity key seen for the peer, waiting for the user's
    /// decision (`acceptIdentity` or `refuseIdentityChange`).
    #[wasm_bindgen(getter, js_name = changedIdentity)]
    pub fn changed_identity(&self) -> Option<Vec<u8>> {
        self.0.changed_identity().map(|k| k.to_bytes().to_vec())
    }
    #[wasm_bindgen(getter, js_name = isVerified)]
    pub fn is_verified(&self) -> bool {
        self.0.is_verified()
    }
    /// Marks the pinned key verified (`identity_changed` if it is another key).
    #[wasm_bindgen(js_name = markVerified)]
    pub fn mark_verified(&mut self, identity: &[u8]) -> Result<()> {
        js(self.0.mark_verified(&identity_key(identity)?))
    }
    /// Pins a new identity key (after the user's decision).
    #[wasm_bindgen(js_name = acceptIdentity)]
    pub fn accept_identity(&mut self, identity: &[u8]) -> Result<()> {
        self.0.accept_identity(&identity_key(identity)?);
        Ok(())
    }
    #[wasm_bindgen(js_name = refuseIdentityChange)]
    pub fn refuse_identity_change(&mut self) {
        self.0.refuse_identity_change();
    }
    /// Opens a sealed record, refusing one pinned to another peer
    /// (`state` / `other_peer`).
    #[wasm_bindgen(js_name = openForPeer)]
    pub fn open_for_peer(
        sealed: &[u8],
        #[wasm_bindgen(js_name = storageKey)] storage_key: &js_sys::Uint8Array,
        context: &[u8],
        peer: &[u8],
    ) -> Result<SessionRecord> {
        let (key, peer) = (sealing_key(storage_key)?, identity_key(peer)?);
        js(cliquet::SessionRecord::open_for_peer(
            sealed, &key, context, &peer,
        ))
        .map(Self)
    }
}

stored_state!(SessionRecord, "record");

/// The stable name of why a notice changed nothing.
pub(crate) fn ignored_name(why: cliquet::IgnoredNotice) -> &'static str {
    use cliquet::IgnoredNotice::*;
    match why {
        NoSession => "no_session",
        NotSignedByPeer => "not_signed_by_peer",
        NotCurrent => "not_current",
        Repeated => "repeated",
        _ => "other",
    }
}
