//! Errors as JS `Error`s named by SPEC §8, and the argument checks.

use cliquet::{DecodeError, Error, IdentityKey};
use js_sys::{Reflect, Uint8Array};
use wasm_bindgen::JsValue;
use zeroize::Zeroizing;

/// The JS error for a core error: an `Error` whose `name` and `code` are
/// [`Error::name`] (`"unknown_chain"`, `"identity_changed"`, ...), with
/// `detail` ([`Error::detail`], or `undefined`), the message of its
/// `Display`, and for `identity_changed` the new key as `identityKey`.
pub fn to_js(e: Error) -> JsValue {
    let error = js_sys::Error::new(&e.to_string());
    error.set_name(e.name());
    let value = JsValue::from(error);
    let detail = e.detail().map_or(JsValue::UNDEFINED, JsValue::from);
    // Setting a property on a fresh Error object cannot fail.
    let _ = Reflect::set(&value, &"code".into(), &e.name().into());
    let _ = Reflect::set(&value, &"detail".into(), &detail);
    if let Error::IdentityChanged(key) = e {
        let key = Uint8Array::from(key.as_bytes().as_slice());
        let _ = Reflect::set(&value, &"identityKey".into(), &key);
    }
    value
}

/// The result type of every fallible binding.
pub type Result<T> = core::result::Result<T, JsValue>;

/// Maps a core result to a JS one.
pub fn js<T>(r: core::result::Result<T, Error>) -> Result<T> {
    r.map_err(to_js)
}

/// A fixed-length argument (a storage key, a group id): a wrong length is
/// `malformed` (`truncated` or `trailing`), like a wire field.
pub fn array<const N: usize>(bytes: &[u8]) -> Result<[u8; N]> {
    bytes.try_into().map_err(|_| {
        to_js(Error::Malformed(if bytes.len() < N {
            DecodeError::Truncated
        } else {
            DecodeError::Trailing
        }))
    })
}

/// A 32-byte storage key from JS, copied straight into a heap buffer
/// that is wiped on drop (a `&[u8]` argument would go through a wasm heap
/// copy that wasm-bindgen frees without wiping, and a `[u8; 32]` value
/// leaves copies on the stack as it moves; a box moves as a pointer).
pub fn sealing_key(key: &Uint8Array) -> Result<Box<Zeroizing<[u8; 32]>>> {
    match key.length() {
        32 => {
            let mut out = Box::new(Zeroizing::new([0u8; 32]));
            key.copy_to(&mut out[..]);
            Ok(out)
        }
        n if n < 32 => Err(to_js(Error::Malformed(DecodeError::Truncated))),
        _ => Err(to_js(Error::Malformed(DecodeError::Trailing))),
    }
}

/// Secret bytes from JS (unsealed stored state, a distribution), copied
/// into a buffer that is wiped on drop.
pub fn secret_in(bytes: &Uint8Array) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(vec![0u8; bytes.length() as usize]);
    bytes.copy_to(&mut out[..]);
    out
}

/// Secret bytes to JS, copied from Rust's (wiped) buffer straight into a
/// new JS array: returning a `Vec<u8>` would leave an unwiped copy in the
/// wasm heap.
pub fn secret_out(bytes: &[u8]) -> Uint8Array {
    Uint8Array::from(bytes)
}

/// An identity key from its 32 bytes (`invalid_key` if not a valid key).
pub fn identity_key(bytes: &[u8]) -> Result<IdentityKey> {
    js(IdentityKey::from_bytes(&array(bytes)?))
}

/// The stored-state methods every stateful type shares, in an impl block of
/// their own: `seal` / `open` under a 32-byte storage key (taken from JS
/// through a wiped buffer), and the unsealed `toBytes` / `fromBytes`.
macro_rules! stored_state {
    ($ty:ident, $what:literal) => {
        #[wasm_bindgen::prelude::wasm_bindgen]
        impl $ty {
            #[doc = concat!("The ", $what, " sealed under a 32-byte storage key, bound to `context` (say the row's name).")]
            pub fn seal(
                &self,
                #[wasm_bindgen(js_name = storageKey)] storage_key: &js_sys::Uint8Array,
                context: &[u8],
            ) -> $crate::error::Result<Vec<u8>> {
                let key = $crate::error::sealing_key(storage_key)?;
                $crate::error::js(self.0.seal(&key, context, &mut $crate::rng()))
            }

            #[doc = concat!("Opens a sealed ", $what, " (`state` / `sealed` for a wrong key or context).")]
            pub fn open(
                sealed: &[u8],
                #[wasm_bindgen(js_name = storageKey)] storage_key: &js_sys::Uint8Array,
                context: &[u8],
            ) -> $crate::error::Result<$ty> {
                let key = $crate::error::sealing_key(storage_key)?;
                $crate::error::js(cliquet::$ty::open(sealed, &key, context)).map(Self)
            }

            #[doc = concat!("The UNSEALED stored form of the ", $what, ": its secrets in plain bytes, which JS cannot wipe. Prefer `seal`.")]
            #[wasm_bindgen(js_name = toBytes)]
            pub fn to_bytes(&self) -> js_sys::Uint8Array {
                $crate::error::secret_out(&self.0.to_stored())
            }

            #[doc = concat!("Loads what `toBytes` wrote (a ", $what, ").")]
            #[wasm_bindgen(js_name = fromBytes)]
            pub fn from_bytes(bytes: &js_sys::Uint8Array) -> $crate::error::Result<$ty> {
                $crate::error::js(cliquet::$ty::from_stored(&$crate::error::secret_in(bytes)))
                    .map(Self)
            }
        }
    };
}
pub(crate) use stored_state;
