//! The hand-written RNGs of the tests, each for one job: a seeded RNG that
//! records the length of every draw ([`Recording`]), the known-answer
//! vectors' scripted RNG ([`Scripted`]), and an all-zero one for calls that
//! must fail whether or not they draw ([`Zero`]).

use std::collections::VecDeque;
use std::convert::Infallible;

use cliquet::rand_core::{Rng, TryCryptoRng, TryRng};
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;

/// A seeded ChaCha20 RNG that records the length of every draw; anything
/// but `fill_bytes` panics (SPEC §1 and §5 draw only whole secrets, salts
/// and nonces).
#[derive(Debug)]
pub struct Recording {
    inner: ChaCha20Rng,
    draws: Vec<usize>,
}

impl Recording {
    /// Seeded with 32 bytes of `seed`.
    pub fn new(seed: u8) -> Self {
        Self {
            inner: ChaCha20Rng::from_seed([seed; 32]),
            draws: Vec::new(),
        }
    }

    /// The lengths drawn since the last call.
    pub fn take(&mut self) -> Vec<usize> {
        std::mem::take(&mut self.draws)
    }
}

impl TryRng for Recording {
    type Error = Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        panic!("only fill_bytes draws are allowed")
    }
    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        panic!("only fill_bytes draws are allowed")
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        self.draws.push(dst.len());
        self.inner.fill_bytes(dst);
        Ok(())
    }
}

impl TryCryptoRng for Recording {}

/// Yields scripted entries in order; every draw must ask for exactly the
/// next entry's length (the vectors' RNG, `tests/vectors/README.md`).
#[derive(Debug)]
pub struct Scripted {
    queue: VecDeque<Vec<u8>>,
    who: String,
}

impl Scripted {
    /// `who` names the party in failure messages.
    pub fn new(entries: impl IntoIterator<Item = Vec<u8>>, who: impl Into<String>) -> Self {
        Self {
            queue: entries.into_iter().collect(),
            who: who.into(),
        }
    }

    /// Entries not drawn yet.
    pub fn left(&self) -> usize {
        self.queue.len()
    }
}

impl TryRng for Scripted {
    type Error = Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        panic!("{}: next_u32 is not a draw the spec allows", self.who)
    }
    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        panic!("{}: next_u64 is not a draw the spec allows", self.who)
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        let next = self
            .queue
            .pop_front()
            .unwrap_or_else(|| panic!("{}: RNG queue exhausted", self.who));
        assert_eq!(
            dst.len(),
            next.len(),
            "{}: draw of {} bytes, script has {}",
            self.who,
            dst.len(),
            next.len()
        );
        dst.copy_from_slice(&next);
        Ok(())
    }
}

impl TryCryptoRng for Scripted {}

/// All zeros: for calls expected to fail, where whether they draw first is
/// not specified.
#[derive(Debug)]
pub struct Zero;

impl TryRng for Zero {
    type Error = Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        Ok(0)
    }
    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        Ok(0)
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        dst.fill(0);
        Ok(())
    }
}

impl TryCryptoRng for Zero {}
