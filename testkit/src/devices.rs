//! [`Devices`]: two devices, each with its account and its
//! [`SessionRecord`] of the other, and one seeded RNG: the session-record
//! scenarios (`tests/records.rs`) and any test that needs a record with
//! several sessions.

use cliquet::{
    Account, AnyMessage, DecryptionFailure, Error, IgnoredNotice, NoticeOutcome, SessionConfig,
    SessionId, SessionRecord,
};
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;

/// One device as it talks to the other: its account and its record of the peer.
#[derive(Debug)]
pub struct Device {
    /// The device's account.
    pub account: Account,
    /// Its record of the sessions with the peer.
    pub record: SessionRecord,
}

impl Device {
    /// A fresh account and an empty record.
    pub fn new(rng: &mut ChaCha20Rng) -> Self {
        Self {
            account: Account::new(rng),
            record: SessionRecord::new(),
        }
    }

    /// The id of the current session, if any.
    pub fn current(&self) -> Option<SessionId> {
        self.record.current().map(|s| s.session_id())
    }

    /// Stored bytes of account and record, to prove a failure changed nothing.
    pub fn state(&self) -> (Vec<u8>, Vec<u8>) {
        (
            self.account.to_stored().to_vec(),
            self.record.to_stored().to_vec(),
        )
    }

    /// Decrypts; on failure checks that nothing changed.
    pub fn receive(
        &mut self,
        message: &AnyMessage,
        config: SessionConfig,
    ) -> Result<Vec<u8>, Error> {
        let before = self.state();
        let result = self
            .record
            .decrypt(&mut self.account, message, config)
            .map(|d| d.plaintext);
        if result.is_err() {
            assert_eq!(self.state(), before, "a failed decrypt changed state");
        }
        result
    }
}

/// Alice's and Bob's devices and one seeded RNG. Methods take `from_alice`
/// to say which side acts.
#[derive(Debug)]
pub struct Devices {
    /// The one RNG of both devices.
    pub rng: ChaCha20Rng,
    /// Alice's device.
    pub alice: Device,
    /// Bob's device.
    pub bob: Device,
    /// The configuration of every session.
    pub config: SessionConfig,
}

impl Devices {
    /// Both sides start a session from each other's bundle and each sends
    /// `count` prekey messages; returns (Alice's, Bob's) and their session
    /// ids.
    pub fn simultaneous(
        &mut self,
        count: usize,
    ) -> (Vec<AnyMessage>, Vec<AnyMessage>, SessionId, SessionId) {
        let a_id = self.start(true);
        let b_id = self.start(false);
        let from_alice = (0..count).map(|_| self.send(true, b"from alice")).collect();
        let from_bob = (0..count).map(|_| self.send(false, b"from bob")).collect();
        (from_alice, from_bob, a_id, b_id)
    }

    /// Two fresh devices with the default configuration.
    pub fn new(seed: u8) -> Self {
        Self::with_config(seed, SessionConfig::default())
    }

    /// Two fresh devices whose sessions use `config`.
    pub fn with_config(seed: u8, config: SessionConfig) -> Self {
        let mut rng = ChaCha20Rng::from_seed([seed; 32]);
        let alice = Device::new(&mut rng);
        let bob = Device::new(&mut rng);
        Self {
            rng,
            alice,
            bob,
            config,
        }
    }

    /// (sender, receiver).
    pub fn devices(&mut self, from_alice: bool) -> (&mut Device, &mut Device) {
        if from_alice {
            (&mut self.alice, &mut self.bob)
        } else {
            (&mut self.bob, &mut self.alice)
        }
    }

    /// `from` starts a new session from the other's bundle (with a fresh
    /// one-time prekey).
    pub fn start(&mut self, from_alice: bool) -> SessionId {
        let config = self.config;
        let rng = &mut self.rng;
        let (from, to) = if from_alice {
            (&mut self.alice, &mut self.bob)
        } else {
            (&mut self.bob, &mut self.alice)
        };
        let (id, _) = to.account.generate_one_time_prekeys(1, rng)[0];
        let bundle = to
            .account
            .bundle(Some(id))
            .expect("bundle")
            .verify()
            .expect("verifies");
        from.record
            .start_new(from.account.identity(), &bundle, config, rng)
            .expect("start_new")
    }

    /// `from` encrypts `text`, starting a session first if it needs one.
    pub fn send(&mut self, from_alice: bool, text: &[u8]) -> AnyMessage {
        let needs = self.devices(from_alice).0.record.needs_new_session();
        if needs {
            self.start(from_alice);
        }
        let rng = &mut self.rng;
        let from = if from_alice {
            &mut self.alice
        } else {
            &mut self.bob
        };
        from.record.encrypt(text, rng).expect("a session")
    }

    /// The other device decrypts a message from `from_alice`'s side.
    pub fn deliver(&mut self, from_alice: bool, message: &AnyMessage) -> Result<Vec<u8>, Error> {
        let config = self.config;
        self.devices(from_alice).1.receive(message, config)
    }

    /// The notice the receiver of a message from `from_alice`'s side sends
    /// back after `error`, signed for the sender.
    pub fn notice(
        &self,
        from_alice: bool,
        message: &AnyMessage,
        error: &Error,
    ) -> Option<DecryptionFailure> {
        let (sender, receiver) = if from_alice {
            (&self.alice, &self.bob)
        } else {
            (&self.bob, &self.alice)
        };
        receiver.record.decryption_failure(
            message,
            error,
            receiver.account.identity(),
            sender.account.identity_key(),
        )
    }

    /// `to_alice`'s side (the sender of the failed message) handles a notice.
    pub fn on_notice(&mut self, to_alice: bool, notice: &DecryptionFailure) -> NoticeOutcome {
        let device = if to_alice {
            &mut self.alice
        } else {
            &mut self.bob
        };
        let own = *device.account.identity_key();
        device.record.on_decryption_failure(notice, &own)
    }

    /// After `first` asked `to_alice`'s side for a resend (SPEC §13), one
    /// more message of that session fails at the peer, and its notice
    /// abandons the session.
    pub fn second_notice_abandons(&mut self, to_alice: bool, first: &DecryptionFailure) {
        assert_eq!(
            self.on_notice(to_alice, first),
            NoticeOutcome::ResendRequested
        );
        let again = self.send(to_alice, b"sent again");
        let error = self
            .deliver(to_alice, &again)
            .expect_err("still unreadable");
        let second = self.notice(to_alice, &again, &error).expect("a notice");
        assert_eq!(
            self.on_notice(to_alice, first),
            NoticeOutcome::Ignored(IgnoredNotice::Repeated)
        );
        assert_eq!(self.on_notice(to_alice, &second), NoticeOutcome::Abandoned);
    }

    /// Both devices have a current session, and it is the same one.
    pub fn same_session(&self) -> bool {
        self.alice.current().is_some() && self.alice.current() == self.bob.current()
    }

    /// One message each way, each decrypted; then both use the same session.
    pub fn round_trip(&mut self) {
        let m = self.send(true, b"ping");
        assert_eq!(self.deliver(true, &m).expect("ping"), b"ping");
        let m = self.send(false, b"pong");
        assert_eq!(self.deliver(false, &m).expect("pong"), b"pong");
        assert!(self.same_session(), "not converged after a round trip");
        assert!(
            self.alice
                .record
                .current()
                .expect("current")
                .is_acknowledged()
        );
        assert!(
            self.bob
                .record
                .current()
                .expect("current")
                .is_acknowledged()
        );
    }
}
