//! People with several devices (SPEC §14): user keys, device lists, the
//! person record.

use crate::error::{array, identity_key, py, to_py};
use crate::keys::{Account, SessionConfig, config};
use crate::record::Decrypted;
use crate::{bytes, rng};
use cliquet::{AnyMessage, PreKeyBundle};
use pyo3::exceptions::PyBaseException;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

/// A person's user key: signs the list of the person's devices.
#[pyclass(module = "cliquet", frozen)]
#[derive(Debug)]
pub struct UserKeyPair(cliquet::UserKeyPair);

#[pymethods]
impl UserKeyPair {
    #[staticmethod]
    fn generate() -> Self {
        Self(cliquet::UserKeyPair::generate(&mut rng()))
    }
    #[getter]
    fn public_key<'py>(&self, p: Python<'py>) -> Bound<'py, PyBytes> {
        bytes(p, self.0.public_key().as_bytes())
    }
    fn seal<'py>(
        &self,
        p: Python<'py>,
        storage_key: &[u8],
        context: &[u8],
    ) -> PyResult<Bound<'py, PyBytes>> {
        let sealed = py(self.0.seal(&array(storage_key)?, context, &mut rng()))?;
        Ok(bytes(p, &sealed))
    }
    #[staticmethod]
    fn open(sealed: &[u8], storage_key: &[u8], context: &[u8]) -> PyResult<Self> {
        let key = array(storage_key)?;
        py(cliquet::UserKeyPair::open(sealed, &key, context)).map(Self)
    }
    /// The UNSEALED stored form (the seed in plain bytes). Prefer seal().
    fn to_bytes<'py>(&self, p: Python<'py>) -> Bound<'py, PyBytes> {
        bytes(p, &self.0.to_stored())
    }
    #[staticmethod]
    fn from_bytes(stored: &[u8]) -> PyResult<Self> {
        py(cliquet::UserKeyPair::from_stored(stored)).map(Self)
    }
}

/// One listed device.
#[pyclass(module = "cliquet", frozen, get_all)]
#[derive(Debug)]
pub struct ListedDevice {
    device_id: u32,
    identity_key: Py<PyBytes>,
}

fn listed(p: Python<'_>, device_id: u32, key: &cliquet::IdentityKey) -> ListedDevice {
    ListedDevice {
        device_id,
        identity_key: bytes(p, key.as_bytes()).unbind(),
    }
}

/// A device list whose signatures were checked.
#[pyclass(module = "cliquet", frozen)]
#[derive(Debug)]
pub struct VerifiedDeviceList(cliquet::VerifiedDeviceList);

#[pymethods]
impl VerifiedDeviceList {
    /// Decodes and verifies a published list.
    #[staticmethod]
    fn decode(wire: &[u8]) -> PyResult<Self> {
        py(cliquet::VerifiedDeviceList::decode(wire)).map(Self)
    }
    fn encode<'py>(&self, p: Python<'py>) -> Bound<'py, PyBytes> {
        bytes(p, self.0.as_bytes())
    }
    #[getter]
    fn user_key<'py>(&self, p: Python<'py>) -> Bound<'py, PyBytes> {
        bytes(p, self.0.user_key().as_bytes())
    }
    #[getter]
    fn version(&self) -> u64 {
        self.0.version()
    }
    #[getter]
    fn devices(&self, p: Python<'_>) -> Vec<ListedDevice> {
        let devices = self.0.devices().iter();
        devices
            .map(|d| listed(p, d.device_id(), d.identity_key()))
            .collect()
    }
}

/// Builds a device list and signs it with the user key; `device` and
/// `remove` return the builder, so calls chain.
#[pyclass(module = "cliquet")]
#[derive(Debug)]
pub struct DeviceListBuilder(cliquet::DeviceListBuilder);

#[pymethods]
impl DeviceListBuilder {
    #[new]
    fn new(version: u64) -> Self {
        Self(cliquet::DeviceListBuilder::new(version))
    }
    /// The devices of `list`, as its next version.
    #[staticmethod]
    fn next(list: PyRef<'_, VerifiedDeviceList>) -> Self {
        Self(cliquet::DeviceListBuilder::next(&list.0))
    }
    fn device<'py>(
        mut slf: PyRefMut<'py, Self>,
        device_id: u32,
        identity_key: &[u8],
        link_signature: &[u8],
    ) -> PyResult<PyRefMut<'py, Self>> {
        let (key, link) = (self::identity_key(identity_key)?, array(link_signature)?);
        slf.0 = slf.0.clone().device(device_id, key, link);
        Ok(slf)
    }
    fn remove(mut slf: PyRefMut<'_, Self>, device_id: u32) -> PyRefMut<'_, Self> {
        slf.0 = slf.0.clone().remove(device_id);
        slf
    }
    fn sign(&self, user_key: PyRef<'_, UserKeyPair>) -> PyResult<VerifiedDeviceList> {
        py(self.0.sign(&user_key.0)).map(VerifiedDeviceList)
    }
}

/// What `PersonRecord.accept_list` did: `kind` is "accepted" or
/// "unchanged" (then the lists are empty).
#[pyclass(module = "cliquet", frozen, get_all)]
#[derive(Debug)]
pub struct ListChange {
    kind: &'static str,
    added: Vec<u32>,
    removed: Vec<u32>,
    changed: Vec<u32>,
}

/// One message of `PersonRecord.encrypt`.
#[pyclass(module = "cliquet", frozen, get_all)]
#[derive(Debug)]
pub struct DeviceMessage {
    device_id: u32,
    bytes: Py<PyBytes>,
}

/// A device `PersonRecord.encrypt` could not encrypt for; `error` is the
/// CliquetError.
#[pyclass(module = "cliquet", frozen, get_all)]
#[derive(Debug)]
pub struct DeviceFailure {
    device_id: u32,
    error: Py<PyBaseException>,
}

/// The result of `PersonRecord.encrypt`.
#[pyclass(module = "cliquet", frozen, get_all)]
#[derive(Debug)]
pub struct Fanout {
    messages: Vec<Py<DeviceMessage>>,
    failed: Vec<Py<DeviceFailure>>,
}

/// Everything one device keeps about one person.
#[pyclass(module = "cliquet")]
#[derive(Debug, Default)]
pub struct PersonRecord(cliquet::PersonRecord);

#[pymethods]
impl PersonRecord {
    #[new]
    fn new() -> Self {
        Self::default()
    }
    #[staticmethod]
    fn own(device_id: u32) -> Self {
        Self(cliquet::PersonRecord::own(device_id))
    }
    fn accept_list(&mut self, list: PyRef<'_, VerifiedDeviceList>) -> PyResult<ListChange> {
        Ok(match py(self.0.accept_list(&list.0))? {
            cliquet::ListChange::Accepted {
                added,
                removed,
                changed,
            } => ListChange {
                kind: "accepted",
                added,
                removed,
                changed,
            },
            cliquet::ListChange::Unchanged => ListChange {
                kind: "unchanged",
                added: vec![],
                removed: vec![],
                changed: vec![],
            },
        })
    }
    fn accept_user_key(&mut self, user_key: &[u8]) -> PyResult<()> {
        self.0.accept_user_key(&identity_key(user_key)?);
        Ok(())
    }
    fn mark_verified(&mut self, user_key: &[u8]) -> PyResult<()> {
        py(self.0.mark_verified(&identity_key(user_key)?))
    }
    #[getter]
    fn is_verified(&self) -> bool {
        self.0.is_verified()
    }
    #[getter]
    fn user_key<'py>(&self, p: Python<'py>) -> Option<Bound<'py, PyBytes>> {
        self.0.user_key().map(|k| bytes(p, k.as_bytes()))
    }
    #[getter]
    fn list_version(&self) -> Option<u64> {
        self.0.list_version()
    }
    #[getter]
    fn devices(&self, p: Python<'_>) -> Vec<ListedDevice> {
        self.0
            .devices()
            .map(|(id, key)| listed(p, id, key))
            .collect()
    }
    fn devices_needing_bundle(&self) -> Vec<u32> {
        self.0.devices_needing_bundle()
    }
    #[pyo3(signature = (device_id, account, bundle, config=None))]
    fn start_session<'py>(
        &mut self,
        p: Python<'py>,
        device_id: u32,
        account: PyRef<'_, Account>,
        bundle: &[u8],
        config: Option<PyRef<'_, SessionConfig>>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let bundle = py(PreKeyBundle::decode(bundle).and_then(|b| b.verify()))?;
        let (identity, config) = (account.0.identity(), self::config(config));
        let id = self
            .0
            .start_session(device_id, identity, &bundle, config, &mut rng());
        Ok(bytes(p, &py(id)?.to_bytes()))
    }
    fn encrypt(&mut self, p: Python<'_>, plaintext: &[u8]) -> PyResult<Fanout> {
        let fanout = py(self.0.encrypt(plaintext, &mut rng()))?;
        let mut messages = Vec::with_capacity(fanout.messages.len());
        for m in fanout.messages {
            let bytes = bytes(p, m.message.as_bytes()).unbind();
            let device_id = m.device_id;
            messages.push(Py::new(p, DeviceMessage { device_id, bytes })?);
        }
        let mut failed = Vec::with_capacity(fanout.failed.len());
        for f in fanout.failed {
            let error = to_py(f.error).into_value(p);
            let device_id = f.device_id;
            failed.push(Py::new(p, DeviceFailure { device_id, error })?);
        }
        Ok(Fanout { messages, failed })
    }
    #[pyo3(signature = (account, device_id, message, config=None))]
    fn decrypt(
        &mut self,
        p: Python<'_>,
        mut account: PyRefMut<'_, Account>,
        device_id: u32,
        message: &[u8],
        config: Option<PyRef<'_, SessionConfig>>,
    ) -> PyResult<Decrypted> {
        let message = py(AnyMessage::decode(message))?;
        let config = self::config(config);
        let d = py(self.0.decrypt(&mut account.0, device_id, &message, config))?;
        Ok(Decrypted {
            plaintext: bytes(p, &d.plaintext).unbind(),
            account_changed: d.account_changed,
        })
    }
    fn report_list_version(&mut self, version: u64) {
        self.0.report_list_version(version);
    }
    #[getter]
    fn needs_newer_list(&self) -> bool {
        self.0.needs_newer_list()
    }
    fn seal<'py>(
        &self,
        p: Python<'py>,
        storage_key: &[u8],
        context: &[u8],
    ) -> PyResult<Bound<'py, PyBytes>> {
        let sealed = py(self.0.seal(&array(storage_key)?, context, &mut rng()))?;
        Ok(bytes(p, &sealed))
    }
    #[staticmethod]
    fn open(sealed: &[u8], storage_key: &[u8], context: &[u8]) -> PyResult<Self> {
        let key = array(storage_key)?;
        py(cliquet::PersonRecord::open(sealed, &key, context)).map(Self)
    }
    /// The UNSEALED stored form. Prefer seal().
    fn to_bytes<'py>(&self, p: Python<'py>) -> Bound<'py, PyBytes> {
        bytes(p, &self.0.to_stored())
    }
    #[staticmethod]
    fn from_bytes(stored: &[u8]) -> PyResult<Self> {
        py(cliquet::PersonRecord::from_stored(stored)).map(Self)
    }
}

/// `u64be(version) || plaintext`: the sender's own list version, carried
/// inside the encrypted message.
#[pyfunction]
pub fn encode_with_list_version<'py>(
    p: Python<'py>,
    version: u64,
    plaintext: &[u8],
) -> Bound<'py, PyBytes> {
    bytes(p, &cliquet::encode_with_list_version(version, plaintext))
}

/// `(version, plaintext)` from what `encode_with_list_version` made.
#[pyfunction]
pub fn split_list_version<'py>(
    p: Python<'py>,
    wire: &[u8],
) -> PyResult<(u64, Bound<'py, PyBytes>)> {
    let (version, plaintext) = py(cliquet::split_list_version(wire))?;
    Ok((version, bytes(p, plaintext)))
}
