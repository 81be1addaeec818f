//! Accounts, bundles, configuration and safety numbers.

use crate::error::{array, identity_key, py};
use crate::{bytes, rng};
use cliquet::SignedKemPreKey;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

/// Limits and modes of sessions (SPEC defaults).
#[pyclass(module = "cliquet", frozen)]
#[derive(Clone, Copy, Debug, Default)]
pub struct SessionConfig(pub(crate) cliquet::SessionConfig);

/// The config given, or the default.
pub(crate) fn config(c: Option<PyRef<'_, SessionConfig>>) -> cliquet::SessionConfig {
    c.map(|c| c.0).unwrap_or_default()
}

#[pymethods]
impl SessionConfig {
    #[new]
    #[pyo3(signature = (max_skip=None, max_skipped_keys=None))]
    fn new(max_skip: Option<u32>, max_skipped_keys: Option<u32>) -> PyResult<Self> {
        let default = cliquet::SessionConfig::default();
        let max_skip = max_skip.unwrap_or(default.max_skip());
        let max_skipped = max_skipped_keys.unwrap_or(default.max_skipped_keys());
        py(cliquet::SessionConfig::new(max_skip, max_skipped)).map(Self)
    }
    fn with_header_encryption(&self, on: bool) -> Self {
        Self(self.0.with_header_encryption(on))
    }
    fn with_required_mode(&self, on: bool) -> Self {
        Self(self.0.with_required_mode(on))
    }
    fn with_classic_x3dh(&self, allow: bool) -> Self {
        Self(self.0.with_classic_x3dh(allow))
    }
    #[getter]
    fn max_skip(&self) -> u32 {
        self.0.max_skip()
    }
    #[getter]
    fn max_skipped_keys(&self) -> u32 {
        self.0.max_skipped_keys()
    }
    #[getter]
    fn header_encryption(&self) -> bool {
        self.0.header_encryption()
    }
}

/// One device: identity key, signed, one-time and KEM prekeys.
#[pyclass(module = "cliquet")]
#[derive(Debug)]
pub struct Account(pub(crate) cliquet::Account);

#[pymethods]
impl Account {
    #[new]
    fn new() -> Self {
        Self(cliquet::Account::new(&mut rng()))
    }
    #[getter]
    fn identity_key<'py>(&self, p: Python<'py>) -> Bound<'py, PyBytes> {
        bytes(p, self.0.identity_key().as_bytes())
    }
    #[pyo3(signature = (one_time_prekey=None, one_time_kem_prekey=None))]
    fn bundle<'py>(
        &self,
        p: Python<'py>,
        one_time_prekey: Option<u32>,
        one_time_kem_prekey: Option<&[u8]>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let mut bundle = py(self.0.bundle(one_time_prekey))?;
        if let Some(kem) = one_time_kem_prekey {
            bundle = bundle.with_kem_prekey(py(SignedKemPreKey::decode(kem))?);
        }
        Ok(bytes(p, &bundle.encode()))
    }
    #[pyo3(signature = (one_time_prekey=None))]
    fn classic_bundle<'py>(
        &self,
        p: Python<'py>,
        one_time_prekey: Option<u32>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        Ok(bytes(
            p,
            &py(self.0.classic_bundle(one_time_prekey))?.encode(),
        ))
    }
    fn generate_one_time_prekeys(&mut self, count: usize) -> Vec<u32> {
        let keys = self.0.generate_one_time_prekeys(count, &mut rng());
        keys.into_iter().map(|(id, _)| id).collect()
    }
    fn unpublished_one_time_prekeys(&self) -> Vec<u32> {
        let keys = self.0.unpublished_one_time_prekeys();
        keys.into_iter().map(|(id, _)| id).collect()
    }
    fn mark_one_time_prekeys_published(&mut self) {
        self.0.mark_one_time_prekeys_published();
    }
    fn remove_one_time_prekey(&mut self, id: u32) -> bool {
        self.0.remove_one_time_prekey(id)
    }
    #[getter]
    fn one_time_prekey_count(&self) -> usize {
        self.0.one_time_prekey_count()
    }
    fn rotate_signed_prekey(&mut self) -> u32 {
        self.0.rotate_signed_prekey(&mut rng())
    }
    fn forget_previous_signed_prekey(&mut self) {
        self.0.forget_previous_signed_prekey();
    }
    #[getter]
    fn signed_prekey_id(&self) -> u32 {
        self.0.signed_prekey_id()
    }
    fn rotate_kem_prekey(&mut self) -> u32 {
        self.0.rotate_kem_prekey(&mut rng())
    }
    fn forget_previous_kem_prekey(&mut self) {
        self.0.forget_previous_kem_prekey();
    }
    fn generate_one_time_kem_prekeys<'py>(
        &mut self,
        p: Python<'py>,
        count: usize,
    ) -> Vec<Bound<'py, PyBytes>> {
        let keys = self.0.generate_one_time_kem_prekeys(count, &mut rng());
        keys.iter().map(|k| bytes(p, &k.encode())).collect()
    }
    fn mark_one_time_kem_prekeys_published(&mut self) {
        self.0.mark_one_time_kem_prekeys_published();
    }
    #[getter]
    fn one_time_kem_prekey_count(&self) -> usize {
        self.0.one_time_kem_prekey_count()
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
        py(cliquet::Account::open(
            sealed,
            &array(storage_key)?,
            context,
        ))
        .map(Self)
    }
    /// The UNSEALED stored form: secret keys as plain bytes. Prefer seal().
    fn to_bytes<'py>(&self, p: Python<'py>) -> Bound<'py, PyBytes> {
        bytes(p, &self.0.to_stored())
    }
    #[staticmethod]
    fn from_bytes(stored: &[u8]) -> PyResult<Self> {
        py(cliquet::Account::from_stored(stored)).map(Self)
    }
    /// The link signature (64 bytes) this device makes to be listed as
    /// `device_id` under the user key `user_key` (SPEC §14).
    fn link_signature<'py>(
        &self,
        p: Python<'py>,
        user_key: &[u8],
        device_id: u32,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let user_key = identity_key(user_key)?;
        Ok(bytes(p, &self.0.link_signature(&user_key, device_id)))
    }
}

/// A published bundle, decoded but not verified.
#[pyclass(module = "cliquet", frozen)]
#[derive(Debug)]
pub struct PreKeyBundle(cliquet::PreKeyBundle);

#[pymethods]
impl PreKeyBundle {
    #[staticmethod]
    fn decode(wire: &[u8]) -> PyResult<Self> {
        py(cliquet::PreKeyBundle::decode(wire)).map(Self)
    }
    fn verify(&self) -> PyResult<VerifiedBundle> {
        py(self.0.verify()).map(VerifiedBundle)
    }
    #[getter]
    fn is_post_quantum(&self) -> bool {
        self.0.is_post_quantum()
    }
    #[getter]
    fn signed_prekey_id(&self) -> u32 {
        self.0.signed_prekey_id()
    }
    #[getter]
    fn one_time_prekey_id(&self) -> Option<u32> {
        self.0.one_time_prekey().map(|(id, _)| id)
    }
    fn to_bytes<'py>(&self, p: Python<'py>) -> Bound<'py, PyBytes> {
        bytes(p, &self.0.encode())
    }
}

/// A bundle whose signatures were checked.
#[pyclass(module = "cliquet", frozen)]
#[derive(Debug)]
pub struct VerifiedBundle(pub(crate) cliquet::VerifiedBundle);

#[pymethods]
impl VerifiedBundle {
    #[getter]
    fn identity_key<'py>(&self, p: Python<'py>) -> Bound<'py, PyBytes> {
        bytes(p, self.0.identity_key().as_bytes())
    }
    #[getter]
    fn is_post_quantum(&self) -> bool {
        self.0.is_post_quantum()
    }
}

/// The number two users compare (SPEC §9).
#[pyclass(module = "cliquet", frozen)]
#[derive(Debug)]
pub struct SafetyNumber(pub(crate) cliquet::SafetyNumber);

#[pymethods]
impl SafetyNumber {
    #[new]
    fn new(own_key: &[u8], own_id: &[u8], peer_key: &[u8], peer_id: &[u8]) -> PyResult<Self> {
        let (own, peer) = (identity_key(own_key)?, identity_key(peer_key)?);
        py(cliquet::SafetyNumber::new(&own, own_id, &peer, peer_id)).map(Self)
    }
    /// The safety number of two people with several devices, from their
    /// user keys (SPEC §14): one comparison covers all their devices.
    #[staticmethod]
    fn for_user_keys(
        own_user_key: &[u8],
        own_id: &[u8],
        peer_user_key: &[u8],
        peer_id: &[u8],
    ) -> PyResult<Self> {
        let (own, peer) = (identity_key(own_user_key)?, identity_key(peer_user_key)?);
        py(cliquet::SafetyNumber::for_user_keys(
            &own, own_id, &peer, peer_id,
        ))
        .map(Self)
    }
    #[getter]
    fn digits(&self) -> &str {
        self.0.digits()
    }
    fn __str__(&self) -> String {
        self.0.to_string()
    }
    fn scannable<'py>(&self, p: Python<'py>) -> Bound<'py, PyBytes> {
        bytes(p, &self.0.scannable())
    }
    fn verify_scanned(&self, scanned: &[u8]) -> PyResult<()> {
        py(self.0.verify_scanned(scanned))
    }
}
