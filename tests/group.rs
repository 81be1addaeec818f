//! Group scenarios (SPEC §10 and its additions in the project's SPEC.md):
//! removing a departed member, senders bound to their chains, and a bounded
//! memory of dropped chains.

use cliquet::{
    Error, GroupSession, IdentityKey, IdentityKeyPair, SenderKeyDistribution, SessionConfig,
};
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;

const GROUP: [u8; 16] = *b"group-hardening!";

fn identity(i: u8) -> IdentityKey {
    *IdentityKeyPair::from_secret_bytes(&[i + 1; 32]).public_key()
}

fn rng(seed: u8) -> ChaCha20Rng {
    ChaCha20Rng::from_seed([seed; 32])
}

/// Whether `haystack` contains `needle`.
fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The `CK` a distribution carries (SPEC §10: bytes 25..57).
fn chain_key_of(d: &SenderKeyDistribution) -> Vec<u8> {
    d.encode()[25..57].to_vec()
}

// --- Item 4: removing a departed member -----------------------------------

#[test]
fn s10_a_removed_sender_s_messages_fail_and_its_chains_leave_the_stored_state() {
    let mut rng = rng(1);
    let (alice, carol) = (identity(0), identity(2));
    let mut bob = GroupSession::new(GROUP, SessionConfig::default());
    let mut alice_group = GroupSession::new(GROUP, SessionConfig::default());
    let mut carol_group = GroupSession::new(GROUP, SessionConfig::default());
    let mut alice_keys = Vec::new();
    // Six chains from Alice (one dropped), one from Carol.
    for _ in 0..6 {
        let d = alice_group.rotate(&mut rng).expect("rotate");
        alice_keys.push(chain_key_of(&d));
        bob.receive_distribution(&alice, &d).expect("receive");
    }
    let d = carol_group.rotate(&mut rng).expect("rotate");
    bob.receive_distribution(&carol, &d).expect("receive");
    let skipped = alice_group.encrypt(b"skipped", &mut rng).expect("encrypt");
    let read = alice_group.encrypt(b"read", &mut rng).expect("encrypt");
    bob.decrypt(&alice, &read).expect("decrypt");
    assert_eq!(bob.skipped_keys(), 1);
    let before = bob.to_stored();
    assert!(contains(&before, &alice_keys[4]));
    assert!(contains(&before, alice.as_bytes()));

    assert!(bob.remove_sender(&alice));

    assert_eq!(bob.chains_from(&alice), 0);
    assert_eq!(bob.skipped_keys(), 0);
    assert_eq!(bob.decrypt(&alice, &skipped), Err(Error::UnknownChain));
    let after = bob.to_stored();
    for key in &alice_keys {
        assert!(!contains(&after, key), "a chain key of the removed sender");
    }
    assert!(!contains(&after, alice.as_bytes()), "the removed sender");
    // Her whole entry is gone (SPEC.md §11 sizes): 37 bytes for the sender,
    // 4 for its highest dropped chain id, 76 for each of five chains, 36 for
    // the skipped key.
    assert_eq!(before.len() - after.len(), 37 + 4 + 5 * 76 + 36);
    // The other sender is untouched, and the state reloads.
    assert_eq!(bob.chains_from(&carol), 1);
    let reloaded = GroupSession::from_stored(&after).expect("loads");
    assert_eq!(reloaded.to_stored(), after);
    // Removing again finds nothing.
    assert!(!bob.remove_sender(&alice));
    assert_eq!(bob.to_stored(), after);
}

// --- Item 5: a sender's chain is not another's -----------------------------

/// Mallory, a member, re-sends Alice's distribution as her own.
#[test]
fn s10_a_distribution_whose_signing_key_is_held_for_another_sender_is_refused() {
    let mut rng = rng(2);
    let (alice, bob_id, mallory) = (identity(0), identity(1), identity(3));
    let mut alice_group = GroupSession::new(GROUP, SessionConfig::default());
    let mut bob = GroupSession::new(GROUP, SessionConfig::default());
    let d = alice_group.rotate(&mut rng).expect("rotate");
    bob.receive_distribution(&alice, &d).expect("from Alice");
    let stored = bob.to_stored();

    let copy = SenderKeyDistribution::decode(&d.encode()[..]).expect("decodes");
    let refused = bob.receive_distribution(&mallory, &copy);
    assert!(refused.is_err(), "filed under Mallory too");
    assert_eq!(refused, Err(Error::SigningKeyInUse));
    assert_eq!(bob.to_stored(), stored, "a refusal changes nothing");

    // So a message of Alice's decrypts once, under Alice only.
    let message = alice_group
        .encrypt(b"from Alice", &mut rng)
        .expect("encrypt");
    assert_eq!(bob.decrypt(&mallory, &message), Err(Error::UnknownChain));
    assert_eq!(
        bob.decrypt(&alice, &message).expect("decrypts"),
        b"from Alice"
    );
    // The same holds at a later iteration of the chain.
    let later = alice_group.distribution().expect("a chain");
    assert_eq!(
        bob.receive_distribution(&mallory, &later),
        Err(Error::SigningKeyInUse)
    );

    // Bob's own chain, handed back to him under another name, too.
    let own = bob.rotate(&mut rng).expect("rotate");
    assert_eq!(
        bob.receive_distribution(&mallory, &own),
        Err(Error::SigningKeyInUse)
    );
    // Once Alice is removed, her key is no longer held.
    assert!(bob.remove_sender(&alice));
    bob.receive_distribution(&mallory, &later)
        .expect("nobody else holds it now");
    // Another member's own chains are unaffected.
    let mut other = GroupSession::new(GROUP, SessionConfig::default());
    let d = other.rotate(&mut rng).expect("rotate");
    bob.receive_distribution(&bob_id, &d).expect("a new key");
}

// --- Item 7: the memory of dropped chains is bounded -----------------------

/// Bob receives `n` chains from Alice (ids 1 to `n`).
fn bob_after_rotations(n: usize, rng: &mut ChaCha20Rng) -> (GroupSession, GroupSession) {
    let mut alice_group = GroupSession::new(GROUP, SessionConfig::default());
    let mut bob = GroupSession::new(GROUP, SessionConfig::default());
    for _ in 0..n {
        let d = alice_group.rotate(rng).expect("rotate");
        bob.receive_distribution(&identity(0), &d).expect("receive");
    }
    (alice_group, bob)
}

#[test]
fn s7_the_stored_group_state_does_not_grow_with_dropped_chains() {
    let mut rng = rng(3);
    let (mut alice_group, mut bob) = bob_after_rotations(6, &mut rng);
    let one_dropped = bob.to_stored().len();
    for _ in 0..100 {
        let d = alice_group.rotate(&mut rng).expect("rotate");
        bob.receive_distribution(&identity(0), &d).expect("receive");
    }
    assert_eq!(bob.chains_from(&identity(0)), 5);
    // 100 more chains dropped: not one more stored byte.
    assert_eq!(bob.to_stored().len(), one_dropped);
}

#[test]
fn s10_a_chain_id_at_or_below_the_highest_dropped_one_is_refused() {
    let mut rng = rng(4);
    let alice = identity(0);
    // Chains 2 to 7 (chain 1 is never given to Bob): 2 is dropped.
    let mut alice_group = GroupSession::new(GROUP, SessionConfig::default());
    let first = alice_group.rotate(&mut rng).expect("chain 1");
    let mut bob = GroupSession::new(GROUP, SessionConfig::default());
    for _ in 0..6 {
        let d = alice_group.rotate(&mut rng).expect("rotate");
        bob.receive_distribution(&alice, &d).expect("receive");
    }
    let stored = bob.to_stored();
    assert_eq!(
        bob.receive_distribution(&alice, &first),
        Err(Error::Duplicate),
        "an id below the highest dropped one"
    );
    assert_eq!(bob.to_stored(), stored);
}

#[test]
fn s10_a_member_that_lost_its_state_rotates_above_every_id_it_used() {
    let mut rng = rng(5);
    let alice = identity(0);
    let (alice_group, mut bob) = bob_after_rotations(7, &mut rng);
    let (last_used, _) = alice_group.sender_chain().expect("a chain");
    assert_eq!(last_used, 7);

    // Alice reinstalls: a fresh state would start at chain 1 again, which
    // Bob refuses (he dropped chains 1 and 2).
    let mut restored = GroupSession::new(GROUP, SessionConfig::default());
    let naive = GroupSession::new(GROUP, SessionConfig::default())
        .rotate(&mut rng)
        .expect("rotate");
    assert_eq!(
        bob.receive_distribution(&alice, &naive),
        Err(Error::Duplicate)
    );
    let d = restored
        .rotate_above(last_used, &mut rng)
        .expect("rotate above");
    assert_eq!(d.chain_id(), 8);
    bob.receive_distribution(&alice, &d)
        .expect("a new chain id");
    let message = restored.encrypt(b"back", &mut rng).expect("encrypt");
    assert_eq!(bob.decrypt(&alice, &message).expect("decrypts"), b"back");

    // A floor below the current id changes nothing: ids only go up.
    assert_eq!(
        restored
            .rotate_above(3, &mut rng)
            .expect("rotate")
            .chain_id(),
        9
    );
    // No id above 2^32 - 1: refused before drawing.
    let mut top = GroupSession::new(GROUP, SessionConfig::default());
    assert_eq!(
        top.rotate_above(u32::MAX, &mut rng).err(),
        Some(Error::ChainExhausted)
    );
    assert_eq!(top.sender_chain(), None);
    assert_eq!(
        top.rotate_above(u32::MAX - 1, &mut rng)
            .expect("the last id")
            .chain_id(),
        u32::MAX
    );
}

/// A version-3 state listed every dropped chain id (SPEC.md §11): it loads
/// with the highest one.
#[test]
fn s7_a_version_3_group_state_with_several_dropped_ids_loads_with_the_highest() {
    let mut rng = rng(6);
    let alice = identity(0);
    let (_, bob) = bob_after_rotations(8, &mut rng);
    let v4 = bob.to_stored().to_vec();
    // 31 fixed bytes (no own chain), then IK (32), flag 1 and id 3.
    let id_at = 31 + 32;
    assert_eq!(v4[1], 4);
    assert_eq!(&v4[id_at..id_at + 5], &[1, 0, 0, 0, 3]);
    let version_3 = |ids: &[u32]| {
        let mut v3 = v4[..id_at].to_vec();
        v3[1] = 3;
        v3.extend_from_slice(&u32::try_from(ids.len()).expect("few").to_be_bytes());
        for id in ids {
            v3.extend_from_slice(&id.to_be_bytes());
        }
        v3.extend_from_slice(&v4[id_at + 5..]);
        v3
    };
    let loaded = GroupSession::from_stored(&version_3(&[1, 2, 3])).expect("loads");
    assert_eq!(loaded.to_stored().as_slice(), v4, "written as version 4");
    // A gap in the list (chain 2 never dropped) is closed: ids only go up.
    let mut loaded = GroupSession::from_stored(&version_3(&[1, 3])).expect("loads");
    let mut other = GroupSession::new(GROUP, SessionConfig::default());
    other.rotate(&mut rng).expect("1");
    let two = other.rotate(&mut rng).expect("2");
    assert_eq!(
        loaded.receive_distribution(&alice, &two),
        Err(Error::Duplicate)
    );
    // Still refused as before: a held id listed as dropped, unsorted ids.
    for ids in [&[1, 4][..], &[3, 1]] {
        assert_eq!(
            GroupSession::from_stored(&version_3(ids)).err(),
            Some(Error::State(cliquet::StateError::Inconsistent)),
            "{ids:?}"
        );
    }
}
