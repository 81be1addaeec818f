//! Issue 20 ("Hardening, second round"), the group items: removing a
//! departed member (item 4), senders bound to their chains (item 5), and
//! a bounded memory of dropped chains (item 7). Each test failed before
//! its fix.
#![allow(
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::std_instead_of_core,
    clippy::std_instead_of_alloc,
    reason = "tests: a failed expectation is a failed test"
)]

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
    d.to_bytes()[25..57].to_vec()
}

// --- Item 4: removing a departed member -----------------------------------

#[test]
fn a_removed_sender_s_messages_fail_and_its_chains_leave_the_stored_state() {
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
    let before = bob.to_bytes();
    assert!(contains(&before, &alice_keys[4]));
    assert!(contains(&before, alice.as_bytes()));

    assert!(bob.remove_sender(&alice));

    assert_eq!(bob.chains_from(&alice), 0);
    assert_eq!(bob.skipped_keys(), 0);
    assert_eq!(bob.decrypt(&alice, &skipped), Err(Error::UnknownChain));
    let after = bob.to_bytes();
    for key in &alice_keys {
        assert!(!contains(&after, key), "a chain key of the removed sender");
    }
    assert!(!contains(&after, alice.as_bytes()), "the removed sender");
    // Her whole entry is gone (SPEC.md §11 sizes): 40 bytes for the sender,
    // 4 for its dropped chain id, 76 for each of five chains, 36 for the
    // skipped key.
    assert_eq!(before.len() - after.len(), 40 + 4 + 5 * 76 + 36);
    // The other sender is untouched, and the state reloads.
    assert_eq!(bob.chains_from(&carol), 1);
    let reloaded = GroupSession::from_bytes(&after).expect("loads");
    assert_eq!(reloaded.to_bytes(), after);
    // Removing again finds nothing.
    assert!(!bob.remove_sender(&alice));
    assert_eq!(bob.to_bytes(), after);
}

// --- Item 5: a sender's chain is not another's -----------------------------

/// Mallory, a member, re-sends Alice's distribution as her own.
#[test]
fn a_distribution_whose_signing_key_is_held_for_another_sender_is_refused() {
    let mut rng = rng(2);
    let (alice, bob_id, mallory) = (identity(0), identity(1), identity(3));
    let mut alice_group = GroupSession::new(GROUP, SessionConfig::default());
    let mut bob = GroupSession::new(GROUP, SessionConfig::default());
    let d = alice_group.rotate(&mut rng).expect("rotate");
    bob.receive_distribution(&alice, &d).expect("from Alice");
    let stored = bob.to_bytes();

    let copy = SenderKeyDistribution::decode(&d.to_bytes()[..]).expect("decodes");
    let refused = bob.receive_distribution(&mallory, &copy);
    assert!(refused.is_err(), "filed under Mallory too");
    assert_eq!(refused, Err(Error::SigningKeyInUse));
    assert_eq!(bob.to_bytes(), stored, "a refusal changes nothing");

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
