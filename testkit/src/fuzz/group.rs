//! The checks of the group targets (SPEC §10): the two decoders, and group
//! decryption into a fixed group state built through the public API.

use std::sync::OnceLock;

use cliquet::{
    DecodeError, Error, GroupMessage, GroupSession, IdentityKey, IdentityKeyPair,
    SenderKeyDistribution, SessionConfig,
};

use crate::fuzz::fixtures;

/// SPEC §10: a distribution that decodes is exactly 89 bytes, re-encodes to
/// them, and its fields are the bytes; an 89-byte input with the right kind
/// byte fails only for its key or iteration (`InvalidKey`).
pub fn decode_distribution(data: &[u8]) -> bool {
    let decoded = SenderKeyDistribution::decode(data);
    let Ok(d) = decoded else {
        let e = decoded.err();
        let expected = match (data.first(), data.len()) {
            (None, _) => Error::Malformed(DecodeError::Truncated),
            (Some(k), _) if *k != 0x19 => Error::Malformed(DecodeError::BadKind),
            (_, n) if n < SenderKeyDistribution::LEN => Error::Malformed(DecodeError::Truncated),
            (_, n) if n > SenderKeyDistribution::LEN => Error::Malformed(DecodeError::Trailing),
            _ => Error::InvalidKey,
        };
        assert_eq!(
            e,
            Some(expected),
            "distribution rejected for the wrong reason"
        );
        return false;
    };
    assert_eq!(&d.encode()[..], data, "distribution re-encodes differently");
    assert_eq!(data.get(1..17), Some(&d.group_id()[..]));
    assert_eq!(data.get(17..21), Some(&d.chain_id().to_be_bytes()[..]));
    assert_eq!(data.get(21..25), Some(&d.iteration().to_be_bytes()[..]));
    assert_eq!(data.get(57..89), Some(&d.signing_key_bytes()[..]));
    assert_ne!(d.iteration(), u32::MAX, "iteration 2^32 - 1 accepted");
    assert!(
        IdentityKey::from_bytes(d.signing_key_bytes()).is_ok(),
        "an invalid signing key accepted"
    );
    true
}

/// SPEC §10: a group message that decodes re-encodes to the same bytes, is
/// at least 121 bytes, and its fields are the header's bytes; what fails,
/// fails for the reason its length and kind byte give.
pub fn decode_group_message(data: &[u8]) -> bool {
    let decoded = GroupMessage::decode(data);
    let Ok(m) = decoded else {
        let expected = match (data.first(), data.len()) {
            (None, _) => DecodeError::Truncated,
            (Some(k), _) if *k != 0x1a => DecodeError::BadKind,
            (_, n) if n < GroupMessage::HEADER_LEN => DecodeError::Truncated,
            _ => DecodeError::ShortCiphertext,
        };
        assert_eq!(
            decoded,
            Err(Error::Malformed(expected)),
            "rejected for the wrong reason"
        );
        assert!(data.len() < GroupMessage::MIN_LEN || data.first() != Some(&0x1a));
        return false;
    };
    assert_eq!(m.as_bytes(), data, "group message re-encodes differently");
    assert!(
        data.len() >= GroupMessage::MIN_LEN,
        "short group message accepted"
    );
    assert_eq!(data.get(1..17), Some(&m.group_id()[..]));
    assert_eq!(data.get(17..21), Some(&m.chain_id().to_be_bytes()[..]));
    assert_eq!(data.get(21..25), Some(&m.iteration().to_be_bytes()[..]));
    assert_eq!(m.clone().into_bytes(), data);
    true
}

/// SPEC §10 "all or nothing": the first byte names the sender (of the
/// fixture's three: two hold chains in the state, the third none), the rest
/// is a group message decrypted into the fixture's state. It fails and
/// leaves the stored state byte-for-byte unchanged, unless it is one of the
/// fixture's held-back messages named with its real sender: that decrypts
/// to its plaintext, once.
pub fn group_decrypt(data: &[u8]) -> bool {
    let fixture = group_fixture();
    let Some((who, bytes)) = data.split_first() else {
        return false;
    };
    let sender = usize::from(*who) % fixture.senders.len();
    let Ok(message) = GroupMessage::decode(bytes) else {
        return false;
    };
    let mut state = GroupSession::from_stored(&fixture.state).expect("the fixture loads");
    match state.decrypt(&fixture.senders[sender], &message) {
        Err(_) => assert_eq!(
            state.to_stored().as_slice(),
            fixture.state.as_slice(),
            "a failed group decrypt changed the state"
        ),
        Ok(plaintext) => {
            let genuine = fixture
                .messages
                .iter()
                .find(|g| g.bytes == bytes)
                .expect("only a genuine message decrypts");
            assert!(genuine.pending, "a delivered message decrypted again");
            assert_eq!(genuine.sender, sender, "decrypted as another sender's");
            assert_eq!(genuine.plaintext, plaintext, "wrong plaintext");
            let after = state.to_stored();
            assert_eq!(
                state.decrypt(&fixture.senders[sender], &message),
                Err(Error::Duplicate),
                "decrypted twice"
            );
            assert_eq!(state.to_stored(), after, "a failed decrypt changed state");
        }
    }
    true
}

/// A message of the group fixture.
#[derive(Debug)]
pub struct GroupGenuine {
    /// Its encoding.
    pub bytes: Vec<u8>,
    /// Index of its sender in [`GroupFixture::senders`].
    pub sender: usize,
    /// Its plaintext.
    pub plaintext: Vec<u8>,
    /// Whether the state still holds its key (held back); else it was
    /// delivered before the state was stored.
    pub pending: bool,
}

/// A receiver's stored group state and the messages sent to it.
#[derive(Debug)]
pub struct GroupFixture {
    /// The receiver's `GroupSession::to_bytes`.
    pub state: Vec<u8>,
    /// The senders' identity keys: the first two hold chains in the state.
    pub senders: [IdentityKey; 3],
    /// Every message sent, delivered or held back.
    pub messages: Vec<GroupGenuine>,
}

/// The group limits of the fixture: small, so that a mutated iteration
/// reaches `TooManySkipped` and a success reaches eviction quickly.
pub fn group_config() -> SessionConfig {
    SessionConfig::new(16, 24).unwrap_or_default()
}

/// The fixture, built once: Carol holds one chain of Alice's and two of
/// Bob's (he rotated), with held-back messages on each.
pub fn group_fixture() -> &'static GroupFixture {
    static FIXTURE: OnceLock<GroupFixture> = OnceLock::new();
    FIXTURE.get_or_init(build_group_fixture)
}

fn build_group_fixture() -> GroupFixture {
    let group_id = *b"fuzzed group id.";
    let senders = [1u8, 2, 3].map(|s| *IdentityKeyPair::from_secret_bytes(&[s; 32]).public_key());
    let mut rng = fixtures::rng(40);
    let mut carol = GroupSession::new(group_id, group_config());
    let mut messages = Vec::new();
    // (sender, rotations, messages sent, indexes delivered)
    let plan: [(usize, usize, usize, &[usize]); 2] = [(0, 1, 6, &[1, 4]), (1, 2, 4, &[3])];
    for (sender, rotations, sent, delivered) in plan {
        let mut own = GroupSession::new(group_id, SessionConfig::default());
        for round in 0..rotations {
            let d = own.rotate(&mut rng).expect("rotate");
            carol
                .receive_distribution(&senders[sender], &d)
                .expect("receive");
            for i in 0..sent {
                let plaintext = format!("{sender}/{round}/{i}").into_bytes();
                let m = own.encrypt(&plaintext, &mut rng).expect("encrypt");
                let pending = !delivered.contains(&i);
                if !pending {
                    let got = carol.decrypt(&senders[sender], &m).expect("decrypt");
                    assert_eq!(got, plaintext);
                }
                messages.push(GroupGenuine {
                    bytes: m.into_bytes(),
                    sender,
                    plaintext,
                    pending,
                });
            }
        }
    }
    GroupFixture {
        state: carol.to_stored().to_vec(),
        senders,
        messages,
    }
}
