//! Exceptions named after SPEC §8: a base `CliquetError` with `.name` (the
//! SPEC name) and `.detail` (the nested detail, or `None`), one subclass
//! per name.

use cliquet::{DecodeError, Error, IdentityKey};
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

pyo3::create_exception!(
    cliquet,
    CliquetError,
    PyException,
    "Any cliquet error: `.name` is the SPEC §8 name, `.detail` its detail or None."
);

/// Declares one subclass per SPEC name, the mapping from a core error,
/// and the registration in the module: one table.
macro_rules! errors {
    ($($class:ident = $name:literal),* $(,)?) => {
        $(pyo3::create_exception!(cliquet, $class, CliquetError, concat!("SPEC §8 `", $name, "`."));)*

        fn new_error(e: &Error) -> PyErr {
            let message = e.to_string();
            match e.name() {
                $($name => PyErr::new::<$class, _>(message),)*
                _ => PyErr::new::<CliquetError, _>(message),
            }
        }

        /// Adds the exception classes to the module, each with its `name`.
        pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
            let py = m.py();
            let base = py.get_type::<CliquetError>();
            base.setattr("name", py.None())?;
            base.setattr("detail", py.None())?;
            m.add("CliquetError", base)?;
            $(
                let class = py.get_type::<$class>();
                class.setattr("name", $name)?;
                m.add(stringify!($class), class)?;
            )*
            Ok(())
        }
    };
}

errors! {
    MalformedError = "malformed",
    AuthenticationError = "authentication",
    DuplicateError = "duplicate",
    TooManySkippedError = "too_many_skipped",
    UnknownPrekeyError = "unknown_prekey",
    BadSignatureError = "bad_signature",
    InvalidKeyError = "invalid_key",
    ChainExhaustedError = "chain_exhausted",
    InvalidConfigError = "invalid_config",
    PrekeyIdInUseError = "prekey_id_in_use",
    TooLargeError = "too_large",
    NoSessionError = "no_session",
    StateError = "state",
    IdentityChangedError = "identity_changed",
    MismatchError = "mismatch",
    InvalidIdentifierError = "invalid_identifier",
    ModeRefusedError = "mode_refused",
    UnknownChainError = "unknown_chain",
    PostQuantumRequiredError = "post_quantum_required",
    SigningKeyInUseError = "signing_key_in_use",
    StaleDeviceListError = "stale_device_list",
    UnknownDeviceError = "unknown_device",
    ReplayMemoryFullError = "replay_memory_full",
}

/// The Python exception for a core error, with `.detail` (and for
/// `identity_changed`, `.identity_key`) on the instance.
pub fn to_py(e: Error) -> PyErr {
    let err = new_error(&e);
    Python::attach(|py| {
        let value = err.value(py);
        // Attributes on a fresh exception instance: cannot fail.
        let _ = value.setattr("detail", e.detail());
        if let Error::IdentityChanged(key) = e {
            let _ = value.setattr("identity_key", PyBytes::new(py, key.as_bytes()));
        }
    });
    err
}

/// Maps a core result to a Python one.
pub fn py<T>(r: Result<T, Error>) -> PyResult<T> {
    r.map_err(to_py)
}

/// A fixed-length argument: a wrong length is `malformed`, like a wire field.
pub fn array<const N: usize>(bytes: &[u8]) -> PyResult<[u8; N]> {
    bytes.try_into().map_err(|_| {
        to_py(Error::Malformed(if bytes.len() < N {
            DecodeError::Truncated
        } else {
            DecodeError::Trailing
        }))
    })
}

/// An identity key from its 32 bytes.
pub fn identity_key(bytes: &[u8]) -> PyResult<IdentityKey> {
    py(IdentityKey::from_bytes(&array(bytes)?))
}
