//! Sender-key groups (SPEC §10).

use crate::error::{array, identity_key, py};
use crate::keys::{SessionConfig, config};
use crate::{bytes, rng};
use cliquet::{GroupMessage, SenderKeyDistribution};
use pyo3::prelude::*;
use pyo3::types::PyBytes;

/// One group: this member's sender chain and the others'.
#[pyclass(module = "cliquet")]
#[derive(Debug)]
pub struct GroupSession(cliquet::GroupSession);

#[pymethods]
impl GroupSession {
    #[new]
    #[pyo3(signature = (group_id, config=None))]
    fn new(group_id: &[u8], config: Option<PyRef<'_, SessionConfig>>) -> PyResult<Self> {
        Ok(Self(cliquet::GroupSession::new(
            array(group_id)?,
            self::config(config),
        )))
    }
    #[getter]
    fn group_id<'py>(&self, p: Python<'py>) -> Bound<'py, PyBytes> {
        bytes(p, self.0.group_id())
    }
    /// A new own chain; its distribution (a secret: send it inside the
    /// pairwise sessions).
    fn rotate<'py>(&mut self, p: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        Ok(bytes(p, &*py(self.0.rotate(&mut rng()))?.encode()))
    }
    fn rotate_above<'py>(&mut self, p: Python<'py>, floor: u32) -> PyResult<Bound<'py, PyBytes>> {
        Ok(bytes(
            p,
            &*py(self.0.rotate_above(floor, &mut rng()))?.encode(),
        ))
    }
    fn distribution<'py>(&self, p: Python<'py>) -> Option<Bound<'py, PyBytes>> {
        self.0.distribution().map(|d| bytes(p, &*d.encode()))
    }
    fn encrypt<'py>(&mut self, p: Python<'py>, plaintext: &[u8]) -> PyResult<Bound<'py, PyBytes>> {
        Ok(bytes(
            p,
            py(self.0.encrypt(plaintext, &mut rng()))?.as_bytes(),
        ))
    }
    fn receive_distribution(&mut self, sender: &[u8], distribution: &[u8]) -> PyResult<()> {
        let distribution = py(SenderKeyDistribution::decode(distribution))?;
        py(self
            .0
            .receive_distribution(&identity_key(sender)?, &distribution))
    }
    fn decrypt<'py>(
        &mut self,
        p: Python<'py>,
        sender: &[u8],
        message: &[u8],
    ) -> PyResult<Bound<'py, PyBytes>> {
        let message = py(GroupMessage::decode(message))?;
        Ok(bytes(
            p,
            &py(self.0.decrypt(&identity_key(sender)?, &message))?,
        ))
    }
    fn remove_sender(&mut self, sender: &[u8]) -> PyResult<bool> {
        Ok(self.0.remove_sender(&identity_key(sender)?))
    }
    fn chains_from(&self, sender: &[u8]) -> PyResult<usize> {
        Ok(self.0.chains_from(&identity_key(sender)?))
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
        py(cliquet::GroupSession::open(
            sealed,
            &array(storage_key)?,
            context,
        ))
        .map(Self)
    }
    /// The UNSEALED stored form. Prefer seal().
    fn to_bytes<'py>(&self, p: Python<'py>) -> Bound<'py, PyBytes> {
        bytes(p, &self.0.to_stored())
    }
    #[staticmethod]
    fn from_bytes(stored: &[u8]) -> PyResult<Self> {
        py(cliquet::GroupSession::from_stored(stored)).map(Self)
    }
}
