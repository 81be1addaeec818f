//! cliquet for Python, through PyO3.
//!
//! A thin layer: each method converts its arguments, makes one call into
//! the core crate and converts the result. Bytes in and out are `bytes`,
//! identity keys their 32 bytes; errors are `CliquetError` subclasses named
//! after SPEC §8 (`error.rs`); randomness is the OS's, through getrandom.
//! The classes holding secrets wipe them when Python frees them (the core
//! types zeroize on drop); secrets leave only sealed, or unsealed through
//! `to_bytes` when the caller asks.

mod error;
mod group;
mod keys;
mod record;
mod users;

use cliquet::rand_core::UnwrapErr;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

/// The RNG of every call that draws: the operating system's.
fn rng() -> UnwrapErr<getrandom::SysRng> {
    UnwrapErr(getrandom::SysRng)
}

/// Bytes out.
fn bytes<'py>(py: Python<'py>, b: &[u8]) -> Bound<'py, PyBytes> {
    PyBytes::new(py, b)
}

/// The `cliquet` Python module.
#[pymodule]
#[pyo3(name = "_cliquet")]
fn cliquet_module(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<keys::SessionConfig>()?;
    m.add_class::<keys::Account>()?;
    m.add_class::<keys::PreKeyBundle>()?;
    m.add_class::<keys::VerifiedBundle>()?;
    m.add_class::<keys::SafetyNumber>()?;
    m.add_class::<record::Decrypted>()?;
    m.add_class::<record::Incoming>()?;
    m.add_class::<record::SessionRecord>()?;
    m.add_class::<group::GroupSession>()?;
    m.add_class::<users::UserKeyPair>()?;
    m.add_class::<users::ListedDevice>()?;
    m.add_class::<users::VerifiedDeviceList>()?;
    m.add_class::<users::DeviceListBuilder>()?;
    m.add_class::<users::ListChange>()?;
    m.add_class::<users::DeviceMessage>()?;
    m.add_class::<users::DeviceFailure>()?;
    m.add_class::<users::Fanout>()?;
    m.add_class::<users::PersonRecord>()?;
    m.add_function(wrap_pyfunction!(users::encode_with_list_version, m)?)?;
    m.add_function(wrap_pyfunction!(users::split_list_version, m)?)?;
    error::register(m)
}
