//! The `serde` feature: value types round-trip as their wire bytes, and
//! deserializing runs the decoders' checks.
use cliquet::{
    AnyMessage, DecodeError, Error, IdentityKey, PreKeyBundle, PublicKey, SessionConfig, SessionId,
};

fn round_trip<T: serde::Serialize + serde::de::DeserializeOwned>(value: &T) -> T {
    serde_json::from_str(&serde_json::to_string(value).expect("serialize")).expect("deserialize")
}

#[test]
fn value_types_round_trip_as_wire_bytes() {
    let mut p =
        cliquet_testkit::established(SessionConfig::default().with_header_encryption(true), 31);
    let bundle = p.bob.bundle(None).expect("bundle");
    assert_eq!(round_trip(&bundle), bundle);
    let m = p.a_to_b(b"hello");
    assert_eq!(round_trip(&m), m);
    assert_eq!(
        serde_json::to_value(&m)
            .expect("json")
            .as_array()
            .map(Vec::len),
        Some(m.encode().len())
    );
    let key = *p.bob.identity_key();
    assert_eq!(round_trip(&key), key);
    let id: SessionId = p.a.session_id();
    assert_eq!(round_trip(&id), id);
    let pk = PublicKey::from_bytes([3; 32]);
    assert_eq!(round_trip(&pk), pk);
}

#[test]
fn deserializing_checks_what_the_decoders_check() {
    // Each refusal carries the decoder's own error, not just any error.
    fn refused<T: serde::de::DeserializeOwned + core::fmt::Debug>(json: &str, why: &str) {
        let e = serde_json::from_str::<T>(json).expect_err(json);
        assert!(e.to_string().contains(why), "{json}: {e}");
    }
    let mut identity_point = vec![0u8; 32];
    identity_point[0] = 1;
    let json = serde_json::to_string(&identity_point).expect("json");
    refused::<IdentityKey>(&json, &Error::InvalidKey.to_string());
    refused::<PublicKey>("[1, 2, 3]", "invalid length 3");
    let truncated = Error::Malformed(DecodeError::Truncated).to_string();
    refused::<AnyMessage>("[17, 0]", &truncated);
    refused::<PreKeyBundle>("[20]", &truncated);
}
