//! Optional `serde` support (feature `serde`): the public value types
//! serialize as their wire encoding (a byte string) and deserialize through
//! their decoder, so a deserialized value is always a valid one.

use alloc::vec::Vec;
use core::fmt;

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use crate::{
    AnyMessage, EncryptedHeaderMessage, Error, IdentityKey, Message, PreKeyBundle, PreKeyMessage,
    PublicKey, SessionId,
};

/// Accepts a byte string, or a sequence of bytes (formats such as JSON).
struct BytesVisitor;

impl<'de> Visitor<'de> for BytesVisitor {
    type Value = Vec<u8>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a byte string")
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Vec<u8>, E> {
        Ok(v.to_vec())
    }

    fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<Vec<u8>, E> {
        Ok(v)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<u8>, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(b) = seq.next_element()? {
            out.push(b);
        }
        Ok(out)
    }
}

fn bytes<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
    d.deserialize_bytes(BytesVisitor)
}

fn array<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
    let v = bytes(d)?;
    v.as_slice()
        .try_into()
        .map_err(|_| de::Error::invalid_length(v.len(), &"32 bytes"))
}

fn decoded<T, E: de::Error>(r: Result<T, Error>) -> Result<T, E> {
    r.map_err(de::Error::custom)
}

macro_rules! via_bytes {
    ($ty:ty, |$v:ident| $encode:expr, |$b:ident| $decode:expr) => {
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let $v = self;
                s.serialize_bytes(&$encode)
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let $b = d;
                $decode
            }
        }
    };
}

via_bytes!(PublicKey, |v| v.to_bytes(), |d| array(d)
    .map(PublicKey::from_bytes));
via_bytes!(IdentityKey, |v| v.to_bytes(), |d| decoded(
    IdentityKey::from_bytes(&array(d)?)
));
via_bytes!(SessionId, |v| v.to_bytes(), |d| array(d)
    .map(SessionId::from_bytes));
via_bytes!(PreKeyBundle, |v| v.encode(), |d| decoded(
    PreKeyBundle::decode(&bytes(d)?)
));
via_bytes!(Message, |v| v.as_bytes(), |d| decoded(Message::decode(
    &bytes(d)?
)));
via_bytes!(EncryptedHeaderMessage, |v| v.as_bytes(), |d| {
    decoded(EncryptedHeaderMessage::decode(&bytes(d)?))
});
via_bytes!(PreKeyMessage, |v| v.as_bytes(), |d| decoded(
    PreKeyMessage::decode(&bytes(d)?)
));
via_bytes!(AnyMessage, |v| v.as_bytes(), |d| decoded(
    AnyMessage::decode(&bytes(d)?)
));
