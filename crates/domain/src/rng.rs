//! The one seeded pseudo-random generator of the workspace: the simulator's days, the property
//! and damage tests, and the benchmarks' inputs all draw from it, so a seed means one thing
//! everywhere. It lives here, in the crate every other crate already depends on, because it is
//! pure integer arithmetic with no dependency; it is not for keys or anything secret.
//!
//! SplitMix64 (Steele, Lea and Flood 2014), a 64-bit state
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

    /// A byte (the high byte of the next draw).
    pub fn byte(&mut self) -> u8 {
        (self.next_u64() >> 56) as u8
    }

    /// The numbers `0..n` in a random order (Fisher–Yates).
    pub fn permutation(&mut self, n: usize) -> Vec<usize> {
        let mut v: Vec<usize> = (0..n).collect();
        for i in (1..n).rev() {
            let j = self.below(i as u64 + 1) as usize;
            v.swap(i, j);
        }
        v
    }

    /// One element, uniformly. Panics on an empty slice (a caller's bug: there is nothing to
    /// draw).
    pub fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        assert!(!xs.is_empty(), "Rng::pick from an empty slice");
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

/// Snippets a damaging edit inserts: huge and odd numbers, JSON and rule-file punctuation,
/// escapes, non-ASCII text.
const SNIPPETS: &[&[u8]] = &[
    b"99999999999999999999999999999999999999",
    b"-9223372036854775809",
    b"1e999",
    b"-0",
    b"0.0000000000000000000000000000001",
    b"NaN",
    b"null",
    b"true",
    b"\"\"",
    b"[",
    b"]",
    b"{",
    b"}",
    b",",
    b":",
    b"\"",
    b"\\u0000",
    b"\\ud800",
    b"\n",
    b"#",
    b"=",
    b" and ",
    b" or not ",
    b"(",
    b")",
    "\u{feff}".as_bytes(),
    "报关单".as_bytes(),
    b"\xff\xfe",
];

impl Rng {
    /// One structured damaging edit of a valid input, for never-panic tests of parsers: delete,
    /// duplicate or swap a span or a line, replace a byte, insert a snippet, turn a number huge,
    /// or nest deeply. Inputs stay near the valid ones, so they reach deeper than random bytes.
    pub fn damage(&mut self, bytes: &mut Vec<u8>) {
        let len = bytes.len() as u64;
        let at = |r: &mut Rng| {
            if len == 0 {
                0
            } else {
                r.below(len + 1) as usize
            }
        };
        match self.below(9) {
            0 => {
                let start = at(self);
                let end = (start + self.range(1, 16) as usize).min(bytes.len());
                bytes.drain(start..end);
            }
            1 => {
                let start = at(self);
                let end = (start + self.range(1, 64) as usize).min(bytes.len());
                let span = bytes[start..end].to_vec();
                let to = at(self).min(bytes.len());
                bytes.splice(to..to, span);
            }
            2 => {
                if !bytes.is_empty() {
                    let i = self.below(len) as usize;
                    bytes[i] = *self.pick(b"{}[]\",:\\0-.e# \n=()");
                }
            }
            3 => {
                let snippet = *self.pick(SNIPPETS);
                let to = at(self).min(bytes.len());
                bytes.splice(to..to, snippet.iter().copied());
            }
            4 => {
                // The digits of the n-th number become huge.
                let starts: Vec<usize> = (0..bytes.len())
                    .filter(|&i| {
                        bytes[i].is_ascii_digit() && (i == 0 || !bytes[i - 1].is_ascii_digit())
                    })
                    .collect();
                if !starts.is_empty() {
                    let start = *self.pick(&starts);
                    let end = (start..bytes.len())
                        .find(|&i| !bytes[i].is_ascii_digit())
                        .unwrap_or(bytes.len());
                    let huge = *self.pick(&SNIPPETS[..5]);
                    bytes.splice(start..end, huge.iter().copied());
                }
            }
            5 => {
                let depth = self.range(100, 3000) as usize;
                let (open, close): (&[u8], &[u8]) = if self.below(2) == 0 {
                    (b"[", b"]")
                } else {
                    (b"{\"a\":", b"}")
                };
                let to = at(self).min(bytes.len());
                let mut nest = open.repeat(depth);
                nest.extend(close.repeat(depth));
                bytes.splice(to..to, nest);
            }
            6 | 7 => {
                // Delete, duplicate or move one line.
                let lines: Vec<usize> = std::iter::once(0)
                    .chain(
                        (0..bytes.len())
                            .filter(|&i| bytes[i] == b'\n')
                            .map(|i| i + 1),
                    )
                    .filter(|&i| i < bytes.len())
                    .collect();
                if !lines.is_empty() {
                    let start = *self.pick(&lines);
                    let end = (start..bytes.len())
                        .find(|&i| bytes[i] == b'\n')
                        .map_or(bytes.len(), |i| i + 1);
                    let line: Vec<u8> = bytes[start..end].to_vec();
                    match self.below(3) {
                        0 => {
                            bytes.drain(start..end);
                        }
                        1 => {
                            bytes.splice(start..start, line);
                        }
                        _ => {
                            bytes.drain(start..end);
                            let to = at(self).min(bytes.len());
                            bytes.splice(to..to, line);
                        }
                    }
                }
            }
            _ => {
                let keep = at(self).min(bytes.len());
                bytes.truncate(keep);
            }
        }
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
    fn damage_is_reproducible_and_changes_the_input() {
        let text = br#"{"a": [1, 2, 3], "b": "x"}
line two = 42
"#;
        let run = |seed| {
            let mut r = Rng::new(seed);
            let mut bytes = text.to_vec();
            for _ in 0..5 {
                r.damage(&mut bytes);
            }
            bytes
        };
        assert_eq!(run(1), run(1));
        assert!((0..20).any(|seed| run(seed) != text.to_vec()));
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
