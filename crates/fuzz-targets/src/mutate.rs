//! Deterministic mutations, for the replay test on the stable toolchain: a fixed number of
//! variants of each seed and corpus file (bit flips, byte changes, insertions, deletions,
//! truncation, duplication, splices of another input, interesting integers), the same on every
//! run, so a failure is reproducible from its seed and index alone.

/// A small deterministic pseudo-random generator (SplitMix64).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            return 0;
        }
        (self.next_u64() % n as u64) as usize
    }

    fn byte(&mut self) -> u8 {
        self.next_u64().to_le_bytes()[0]
    }
}

/// Values that tend to sit on boundaries (lengths, varints, sequence numbers).
const INTERESTING: [&[u8]; 8] = [
    &[0x00],
    &[0xff],
    &[0x7f],
    &[0x80],
    &[0xff, 0xff, 0xff, 0xff],
    &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
    &[0x00, 0x00, 0x00, 0x00],
    &[0x80, 0x80, 0x80, 0x80, 0x10],
];

/// `input` changed by one to four random edits; `other` may be spliced in.
pub fn mutate(rng: &mut Rng, input: &[u8], other: &[u8]) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..=rng.below(4) {
        let at = rng.below(out.len() + 1);
        match rng.below(8) {
            0 if !out.is_empty() => {
                let i = rng.below(out.len());
                out[i] ^= 1 << rng.below(8);
            }
            1 if !out.is_empty() => {
                let i = rng.below(out.len());
                out[i] = rng.byte();
            }
            2 => out.insert(at, rng.byte()),
            3 if !out.is_empty() => {
                let len = 1 + rng.below(out.len().min(16));
                let from = rng.below(out.len() - len + 1);
                out.drain(from..from + len);
            }
            4 => out.truncate(at),
            5 if !out.is_empty() => {
                let from = rng.below(out.len());
                let len = 1 + rng.below((out.len() - from).min(32));
                let copy = out[from..from + len].to_vec();
                out.splice(at..at, copy);
            }
            6 if !other.is_empty() => {
                let from = rng.below(other.len());
                let len = 1 + rng.below((other.len() - from).min(64));
                out.splice(at..at, other[from..from + len].iter().copied());
            }
            _ => {
                let value = INTERESTING[rng.below(INTERESTING.len())];
                let end = (at + value.len()).min(out.len());
                out.splice(at..end, value.iter().copied());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mutations_are_deterministic_and_change_the_input() {
        let input = b"the quick brown fox".to_vec();
        let run = || {
            let mut rng = Rng::new(7);
            (0..50)
                .map(|_| mutate(&mut rng, &input, b"other"))
                .collect::<Vec<_>>()
        };
        let first = run();
        assert_eq!(first, run());
        assert!(first.iter().filter(|m| **m != input).count() > 40);
    }
}
