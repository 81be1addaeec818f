//! What one device keeps about one peer device, and what arrives.

use crate::error::{array, identity_key, py, to_py};
use crate::keys::{Account, SessionConfig, VerifiedBundle, config};
use crate::{bytes, rng};
use cliquet::{AnyMessage, DecodeError, DecryptionFailure, Error, IgnoredNotice, NoticeOutcome};
use pyo3::prelude::*;
use pyo3::types::PyBytes;

/// The result of `SessionRecord.decrypt`.
#[pyclass(module = "cliquet", frozen, get_all)]
#[derive(Debug)]
pub struct Decrypted {
    /// The plaintext.
    pub(crate) plaintext: Py<PyBytes>,
    /// A prekey message changed the account: store it with the record.
    pub(crate) account_changed: bool,
}

/// What arrived: `kind` is "message", "notice" or "group".
#[pyclass(module = "cliquet", frozen)]
#[derive(Debug)]
pub struct Incoming(cliquet::Incoming);

#[pymethods]
impl Incoming {
    #[staticmethod]
    fn decode(wire: &[u8]) -> PyResult<Self> {
        py(cliquet::Incoming::decode(wire)).map(Self)
    }
    #[getter]
    fn kind(&self) -> &'static str {
        match &self.0 {
            cliquet::Incoming::Message(_) => "message",
            cliquet::Incoming::Notice(_) => "notice",
            cliquet::Incoming::Group(_) => "group",
            _ => "unknown",
        }
    }
    #[getter]
    fn is_prekey(&self) -> bool {
        matches!(&self.0, cliquet::Incoming::Message(AnyMessage::PreKey(_)))
    }
    #[getter]
    fn kind_byte(&self) -> u8 {
        self.0.kind()
    }
}

/// Everything one device keeps about one peer device.
#[pyclass(module = "cliquet")]
#[derive(Debug, Default)]
pub struct SessionRecord(cliquet::SessionRecord);

#[pymethods]
impl SessionRecord {
    #[new]
    fn new() -> Self {
        Self::default()
    }
    #[pyo3(signature = (account, bundle, config=None))]
    fn start_new<'py>(
        &mut self,
        p: Python<'py>,
        account: PyRef<'_, Account>,
        bundle: PyRef<'_, VerifiedBundle>,
        config: Option<PyRef<'_, SessionConfig>>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let (identity, config) = (account.0.identity(), self::config(config));
        let id = py(self.0.start_new(identity, &bundle.0, config, &mut rng()))?;
        Ok(bytes(p, &id.to_bytes()))
    }
    fn encrypt<'py>(&mut self, p: Python<'py>, plaintext: &[u8]) -> PyResult<Bound<'py, PyBytes>> {
        Ok(bytes(
            p,
            py(self.0.encrypt(plaintext, &mut rng()))?.as_bytes(),
        ))
    }
    #[pyo3(signature = (account, message, config=None))]
    fn decrypt(
        &mut self,
        p: Python<'_>,
        mut account: PyRefMut<'_, Account>,
        message: &[u8],
        config: Option<PyRef<'_, SessionConfig>>,
    ) -> PyResult<Decrypted> {
        let message = py(AnyMessage::decode(message))?;
        let d = py(self
            .0
            .decrypt(&mut account.0, &message, self::config(config)))?;
        Ok(Decrypted {
            plaintext: bytes(p, &d.plaintext).unbind(),
            account_changed: d.account_changed,
        })
    }
    fn decrypt_ratchet<'py>(
        &mut self,
        p: Python<'py>,
        message: &[u8],
    ) -> PyResult<Bound<'py, PyBytes>> {
        match py(AnyMessage::decode(message))? {
            AnyMessage::Ratchet(m) => Ok(bytes(p, &py(self.0.decrypt_ratchet(&m))?)),
            _ => Err(to_py(Error::Malformed(DecodeError::BadKind))),
        }
    }
    /// The notice due after decrypt() failed on `message` with `error` (a
    /// CliquetError or its name), or None.
    fn decryption_failure<'py>(
        &self,
        p: Python<'py>,
        message: &[u8],
        error: &Bound<'py, PyAny>,
        account: PyRef<'_, Account>,
        peer: &[u8],
    ) -> PyResult<Option<Bound<'py, PyBytes>>> {
        let name: String = match error.getattr("name") {
            Ok(n) if !n.is_none() => n.extract()?,
            _ => error.extract()?,
        };
        let error = match name.as_str() {
            "authentication" => Error::Authentication,
            "unknown_prekey" => Error::UnknownPreKey,
            "invalid_key" => Error::InvalidKey,
            "duplicate" => Error::Duplicate,
            _ => return Ok(None),
        };
        let message = py(AnyMessage::decode(message))?;
        let peer = identity_key(peer)?;
        let notice = self
            .0
            .decryption_failure(&message, &error, account.0.identity(), &peer);
        Ok(notice.map(|n| bytes(p, &n.encode())))
    }
    /// "abandoned", "resend_requested" or "ignored:<reason>".
    fn on_decryption_failure(
        &mut self,
        notice: &[u8],
        account: PyRef<'_, Account>,
    ) -> PyResult<String> {
        let notice = py(DecryptionFailure::decode(notice))?;
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
    #[getter]
    fn needs_new_session(&self) -> bool {
        self.0.needs_new_session()
    }
    #[getter]
    fn peer_identity_key<'py>(&self, p: Python<'py>) -> Option<Bound<'py, PyBytes>> {
        self.0.peer_identity_key().map(|k| bytes(p, k.as_bytes()))
    }
    #[getter]
    fn changed_identity<'py>(&self, p: Python<'py>) -> Option<Bound<'py, PyBytes>> {
        self.0.changed_identity().map(|k| bytes(p, k.as_bytes()))
    }
    #[getter]
    fn is_verified(&self) -> bool {
        self.0.is_verified()
    }
    fn mark_verified(&mut self, identity: &[u8]) -> PyResult<()> {
        py(self.0.mark_verified(&identity_key(identity)?))
    }
    fn accept_identity(&mut self, identity: &[u8]) -> PyResult<()> {
        self.0.accept_identity(&identity_key(identity)?);
        Ok(())
    }
    fn refuse_identity_change(&mut self) {
        self.0.refuse_identity_change();
    }
    fn seal<'py>(
        &self,
        p: Python<'py>,
        storage_key: &[u8],
        context: &[u8],
    ) -> PyResult<Bound<'py, PyBytes>> {
        Ok(bytes(
            p,
            &py(self.0.seal(&array(storage_key)?, context, &mut rng()))?,
        ))
    }
    #[staticmethod]
    fn open(sealed: &[u8], storage_key: &[u8], context: &[u8]) -> PyResult<Self> {
        py(cliquet::SessionRecord::open(
            sealed,
            &array(storage_key)?,
            context,
        ))
        .map(Self)
    }
    #[staticmethod]
    fn open_for_peer(
        sealed: &[u8],
        storage_key: &[u8],
        context: &[u8],
        peer: &[u8],
    ) -> PyResult<Self> {
        let (key, peer) = (array(storage_key)?, identity_key(peer)?);
        py(cliquet::SessionRecord::open_for_peer(
            sealed, &key, context, &peer,
        ))
        .map(Self)
    }
    /// The UNSEALED stored form. Prefer seal().
    fn to_bytes<'py>(&self, p: Python<'py>) -> Bound<'py, PyBytes> {
        bytes(p, &self.0.to_stored())
    }
    #[staticmethod]
    fn from_bytes(stored: &[u8]) -> PyResult<Self> {
        py(cliquet::SessionRecord::from_stored(stored)).map(Self)
    }
}

/// The stable name of why a notice changed nothing.
fn ignored_name(why: IgnoredNotice) -> &'static str {
    match why {
        IgnoredNotice::NoSession => "no_session",
        IgnoredNotice::NotSignedByPeer => "not_signed_by_peer",
        IgnoredNotice::NotCurrent => "not_current",
        IgnoredNotice::Repeated => "repeated",
        _ => "other",
    }
}
