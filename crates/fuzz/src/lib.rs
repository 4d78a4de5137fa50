//! A small mutation fuzzer on stable Rust, for the parsers of outside input (docs/SECURITY.md,
//! "Fuzzing").
//!
//! Each target is a function from bytes to `Ok(())` (accepted, or refused with a proper
//! error: the target checks the error's shape) or `Err(why)` (an improper error: empty, without
//! a message in both languages, …). [`run`] first feeds the target every file of its corpus
//! (`crates/fuzz/corpus/<target>/`: real documents, and every input that once failed, kept as a
//! regression case), then inputs mutated from them for a time budget: bit flips, bytes set to
//! edge values, insertions and deletions, ranges duplicated, pieces spliced from other corpus
//! files, and the target's dictionary of tokens (JSON or XML syntax, field names, numbers at
//! the limits, deep nesting, long runs). A panic or an improper error fails the run, printing
//! the seed and writing the input to `target/fuzz-failures/` so that it can be added to the
//! corpus.
//!
//! It is **not coverage-guided** (cargo-fuzz/libFuzzer needs a nightly compiler): mutations are
//! chosen at random, not kept for reaching new code. It finds shallow panics (slicing, unwraps,
//! overflow, recursion) quickly; deep ones only as far as the corpus and dictionary lead it.
//!
//! Environment: `JINGUAN_FUZZ_SECONDS` (budget per target, default 2), `JINGUAN_FUZZ_SEED`
//! (default: from the clock, printed, so that a failure can be replayed).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// xorshift64*: small, seeded, reproducible.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number below `n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }
}

const EDGE_BYTES: [u8; 14] = [
    0x00, 0x01, 0x7f, 0x80, 0xff, b'"', b'\\', b'<', b'>', b'&', b',', b'\n', b'\r', 0xe4,
];

/// One mutation of `input`, in place.
pub fn mutate(rng: &mut Rng, input: &mut Vec<u8>, corpus: &[Vec<u8>], dict: &[&[u8]]) {
    let len = input.len();
    match rng.below(10) {
        0 if len > 0 => {
            let i = rng.below(len);
            input[i] ^= 1 << rng.below(8);
        }
        1 if len > 0 => {
            let i = rng.below(len);
            input[i] = EDGE_BYTES[rng.below(EDGE_BYTES.len())];
        }
        2 if len > 0 => {
            // Delete a range.
            let a = rng.below(len);
            let b = (a + 1 + rng.below(16.min(len - a))).min(len);
            input.drain(a..b);
        }
        3 if len > 0 => {
            // Duplicate a range somewhere else.
            let a = rng.below(len);
            let b = (a + 1 + rng.below(64.min(len - a))).min(len);
            let piece = input[a..b].to_vec();
            let at = rng.below(len + 1);
            input.splice(at..at, piece);
        }
        4 if !corpus.is_empty() => {
            // Splice: our head, another file's tail.
            let other = &corpus[rng.below(corpus.len())];
            if !other.is_empty() {
                let cut = rng.below(len + 1);
                let from = rng.below(other.len());
                input.truncate(cut);
                input.extend_from_slice(&other[from..]);
            }
        }
        5 | 6 if !dict.is_empty() => {
            let token = dict[rng.below(dict.len())];
            let at = rng.below(len + 1);
            input.splice(at..at, token.iter().copied());
        }
        7 if len > 0 => {
            // Replace a range with a dictionary token.
            if !dict.is_empty() {
                let a = rng.below(len);
                let b = (a + 1 + rng.below(8.min(len - a))).min(len);
                let token = dict[rng.below(dict.len())];
                input.splice(a..b, token.iter().copied());
            }
        }
        8 if len > 0 => {
            // A long run of one byte or token: nesting, long fields.
            let at = rng.below(len + 1);
            let long = rng.below(4) == 0;
            let n = 1 + rng.below(if long { 20_000 } else { 300 });
            let unit: Vec<u8> = if !dict.is_empty() && rng.below(2) == 0 {
                dict[rng.below(dict.len())].to_vec()
            } else {
                vec![input[rng.below(len)]]
            };
            let run: Vec<u8> = unit.iter().copied().cycle().take(unit.len() * n).collect();
            input.splice(at..at, run);
        }
        _ if len > 0 => {
            // Truncate.
            input.truncate(rng.below(len + 1));
        }
        _ => input.extend_from_slice(dict.first().copied().unwrap_or(b"x")),
    }
}

/// The corpus of a target: every file of `crates/fuzz/corpus/<target>/`, in name order.
pub fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("corpus {}: {e}", dir.display()))
        .map(|e| e.expect("corpus entry").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let bytes = std::fs::read(&p).expect("corpus file");
            (p, bytes)
        })
        .collect()
}

fn budget() -> Duration {
    let secs = std::env::var("JINGUAN_FUZZ_SECONDS")
        .ok()
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(2.0);
    Duration::from_secs_f64(secs.max(0.0))
}

fn seed() -> u64 {
    std::env::var("JINGUAN_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        })
}

/// What a run did.
#[derive(Debug)]
pub struct Report {
    pub executions: u64,
    pub accepted: u64,
    pub seed: u64,
}

fn describe(input: &[u8]) -> String {
    let shown = &input[..input.len().min(600)];
    format!(
        "{} bytes: {:?}{}",
        input.len(),
        String::from_utf8_lossy(shown),
        if input.len() > shown.len() { "…" } else { "" }
    )
}

fn fail(target: &str, seed: u64, input: &[u8], why: &str) -> ! {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../target/fuzz-failures")
        .join(target);
    let _ = std::fs::create_dir_all(&dir);
    let file = dir.join(format!("seed-{seed}-{}", input.len()));
    let _ = std::fs::write(&file, input);
    panic!(
        "fuzz target {target}: {why}\n  seed {seed} (JINGUAN_FUZZ_SEED={seed} replays)\n  input written to {}\n  input {}",
        file.display(),
        describe(input)
    );
}

/// Run `target` over its corpus, then over mutations of it for the budget. `target` returns
/// `Ok(true)` for an accepted input, `Ok(false)` for one refused with a proper error, and
/// `Err(why)` for an improper error.
/// `extra` seeds are made by the harness (signed envelopes) besides the corpus files.
pub fn run(
    name: &str,
    extra: Vec<Vec<u8>>,
    dict: &[&[u8]],
    max_len: usize,
    target: impl Fn(&[u8]) -> Result<bool, String>,
) -> Report {
    let seed = seed();
    let mut files = corpus(name);
    assert!(!files.is_empty(), "fuzz target {name}: empty corpus");
    files.extend(extra.into_iter().map(|b| (PathBuf::new(), b)));
    let inputs: Vec<Vec<u8>> = files.iter().map(|(_, b)| b.clone()).collect();
    let mut report = Report {
        executions: 0,
        accepted: 0,
        seed,
    };
    let exec = |input: &[u8], report: &mut Report| {
        report.executions += 1;
        match catch_unwind(AssertUnwindSafe(|| target(input))) {
            Ok(Ok(accepted)) => report.accepted += u64::from(accepted),
            Ok(Err(why)) => fail(name, seed, input, &format!("improper error: {why}")),
            Err(panic) => {
                let msg = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                    .unwrap_or_default();
                fail(name, seed, input, &format!("panicked: {msg}"))
            }
        }
    };
    for (_, bytes) in &files {
        exec(bytes, &mut report);
    }
    let mut rng = Rng::new(seed);
    let started = Instant::now();
    let budget = budget();
    while started.elapsed() < budget {
        let mut input = inputs[rng.below(inputs.len())].clone();
        for _ in 0..1 + rng.below(8) {
            mutate(&mut rng, &mut input, &inputs, dict);
        }
        input.truncate(max_len);
        exec(&input, &mut report);
    }
    eprintln!(
        "fuzz {name}: {} executions ({} accepted) in {:.1} s, seed {seed}",
        report.executions,
        report.accepted,
        started.elapsed().as_secs_f64()
    );
    report
}

/// A message pair that is there in both languages.
pub fn bilingual(zh: &str, en: &str, context: &str) -> Result<(), String> {
    if zh.trim().is_empty() || en.trim().is_empty() {
        return Err(format!(
            "{context}: a message is empty (zh {zh:?}, en {en:?})"
        ));
    }
    Ok(())
}
