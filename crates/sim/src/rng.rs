//! The simulator's random numbers: SplitMix64 (Steele, Lea and Flood 2014), a 64-bit state
//! advanced by a Weyl constant and mixed by two multiply-xorshift rounds. It is small, passes
//! BigCrush, and — what matters here — is defined by integer arithmetic only, so a seed gives
//! the same day on every machine and every build.
//!
//! Every declaration draws from its own stream, `Rng::stream(seed, label, index)`, so that the
//! day can be generated in any order and on any number of threads and still be the same day;
//! adding a draw to one declaration changes no other.

/// SplitMix64's increment (the golden ratio in 64 bits).
const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// SplitMix64's output function; also used to derive stream seeds.
pub fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// FNV-1a over bytes: a stable 64-bit digest for labels and for the determinism fingerprints.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xCBF2_9CE4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01B3);
    }
    h
}

#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(mix(seed ^ GAMMA))
    }

    /// The independent stream `index` of purpose `label` under `seed`.
    pub fn stream(seed: u64, label: &str, index: u64) -> Rng {
        Rng::new(mix(seed ^ fnv1a(label.as_bytes())) ^ mix(index.wrapping_add(GAMMA)))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(GAMMA);
        mix(self.0)
    }

    /// Uniform in `0..n` (`n > 0`), by the multiply-shift method (bias below 2^-32 for the
    /// ranges used here).
    pub fn below(&mut self, n: u64) -> u64 {
        debug_assert!(n > 0);
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        debug_assert!(lo <= hi);
        lo + self.below(hi - lo + 1)
    }

    /// True with probability `ppm` / 1,000,000.
    pub fn chance_ppm(&mut self, ppm: u32) -> bool {
        self.below(1_000_000) < u64::from(ppm)
    }

    pub fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len() as u64) as usize]
    }

    /// An index drawn with the given integer weights (not all zero).
    pub fn weighted(&mut self, weights: &[u32]) -> usize {
        let total: u64 = weights.iter().map(|w| u64::from(*w)).sum();
        let mut x = self.below(total);
        for (i, w) in weights.iter().enumerate() {
            let w = u64::from(*w);
            if x < w {
                return i;
            }
            x -= w;
        }
        weights.len() - 1
    }

    /// A bell-shaped factor in per mille around 1000: the sum of four uniforms in
    /// `-spread..=spread` (an Irwin–Hall approximation of a normal with standard deviation
    /// about `spread × 0.58`), integers only.
    pub fn bell_permille(&mut self, spread: u64) -> i64 {
        let mut s = 0i64;
        for _ in 0..4 {
            s += self.range(0, 2 * spread) as i64 - spread as i64;
        }
        1000 + s / 2
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_reproducible_and_distinct() {
        let a: Vec<u64> = (0..4)
            .map(|_| Rng::stream(7, "decl", 3).next_u64())
            .collect();
        assert!(a.windows(2).all(|w| w[0] == w[1]));
        assert_ne!(
            Rng::stream(7, "decl", 3).next_u64(),
            Rng::stream(7, "decl", 4).next_u64()
        );
        assert_ne!(
            Rng::stream(7, "decl", 3).next_u64(),
            Rng::stream(8, "decl", 3).next_u64()
        );
    }

    #[test]
    fn below_stays_in_range_and_weighted_respects_zero_weights() {
        let mut r = Rng::new(1);
        for n in 1..50 {
            assert!(r.below(n) < n);
        }
        for _ in 0..1000 {
            assert_ne!(r.weighted(&[3, 0, 5]), 1);
        }
    }
}
