//! Reproducible random sampling by credit class (docs/DOMAIN.md §5). The draw for a declaration is
//! a number in `0..1_000_000` (parts per million) computed from SHA-256 of the published seed and
//! the declaration number, so that anyone holding both can repeat it:
//!
//! ```text
//! digest = SHA-256(utf8(seed) ‖ "|" ‖ ascii(declaration number, 18 characters))
//! x      = first 8 bytes of digest as an unsigned big-endian integer
//! draw   = (x × 1,000,000) >> 64          // uniform in 0..1,000,000
//! red    if draw < red_ppm
//! yellow if red_ppm ≤ draw < red_ppm + yellow_ppm
//! ```

use clearance::{CreditClass, Lane};
use domain::codes::DeclarationNo;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub const PPM: u32 = 1_000_000;

/// The draw for a declaration, in parts per million.
pub fn draw_ppm(seed: &str, declaration_no: &DeclarationNo) -> u32 {
    let mut h = Sha256::new();
    h.update(seed.as_bytes());
    h.update(b"|");
    h.update(declaration_no.to_string().as_bytes());
    let digest = h.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    let x = u64::from_be_bytes(first);
    ((u128::from(x) * u128::from(PPM)) >> 64) as u32
}

/// Intervention rates of one credit class, in parts per million of declarations.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClassRates {
    /// Physical inspection.
    pub red_ppm: u32,
    /// Document review.
    pub yellow_ppm: u32,
}

impl ClassRates {
    /// The base intervention rate: red and yellow together.
    pub fn intervention_ppm(&self) -> u32 {
        self.red_ppm.saturating_add(self.yellow_ppm)
    }

    /// The lane a draw gives, if any.
    pub fn lane_for(&self, draw: u32) -> Option<Lane> {
        if draw < self.red_ppm {
            Some(Lane::Red)
        } else if draw < self.intervention_ppm() {
            Some(Lane::Yellow)
        } else {
            None
        }
    }
}

/// The sampling configuration: the published seed and the rates per class. Officers change the
/// rates; a new seed is published (e.g. each quarter) and recorded with every decision.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SamplingPolicy {
    pub seed: String,
    pub advanced_certified: ClassRates,
    pub general_certified: ClassRates,
    pub general: ClassRates,
    pub discredited: ClassRates,
}

impl Default for SamplingPolicy {
    /// Rates in the spirit of docs/DOMAIN.md §5 (AEO well under 1 %, discredited most of the time).
    fn default() -> Self {
        SamplingPolicy {
            seed: "jinguan-sampling-2025".to_owned(),
            advanced_certified: ClassRates {
                red_ppm: 2_000,
                yellow_ppm: 3_000,
            },
            general_certified: ClassRates {
                red_ppm: 10_000,
                yellow_ppm: 20_000,
            },
            general: ClassRates {
                red_ppm: 30_000,
                yellow_ppm: 50_000,
            },
            discredited: ClassRates {
                red_ppm: 800_000,
                yellow_ppm: 100_000,
            },
        }
    }
}

/// Why a policy cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("{class}: red and yellow rates add up to {total} ppm, more than 1,000,000")]
    RatesOverOne { class: &'static str, total: u64 },
    #[error("the sampling seed is empty or longer than 200 bytes")]
    Seed,
}

impl SamplingPolicy {
    pub fn rates(&self, class: CreditClass) -> ClassRates {
        match class {
            CreditClass::AdvancedCertified => self.advanced_certified,
            CreditClass::GeneralCertified => self.general_certified,
            CreditClass::General => self.general,
            CreditClass::Discredited => self.discredited,
        }
    }

    pub fn check(&self) -> Result<(), PolicyError> {
        if self.seed.is_empty() || self.seed.len() > 200 {
            return Err(PolicyError::Seed);
        }
        for (class, r) in [
            ("advanced_certified", self.advanced_certified),
            ("general_certified", self.general_certified),
            ("general", self.general),
            ("discredited", self.discredited),
        ] {
            let total = u64::from(r.red_ppm) + u64::from(r.yellow_ppm);
            if total > u64::from(PPM) {
                return Err(PolicyError::RatesOverOne { class, total });
            }
        }
        Ok(())
    }
}

/// What sampling did for one declaration, as recorded in the explanation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SamplingOutcome {
    pub seed: String,
    pub credit_class: CreditClass,
    pub draw_ppm: u32,
    pub red_ppm: u32,
    pub yellow_ppm: u32,
    /// `Some` when the declaration was sampled.
    pub lane: Option<Lane>,
}

pub(crate) fn sample(
    policy: &SamplingPolicy,
    class: CreditClass,
    no: &DeclarationNo,
) -> SamplingOutcome {
    let rates = policy.rates(class);
    let draw = draw_ppm(&policy.seed, no);
    SamplingOutcome {
        seed: policy.seed.clone(),
        credit_class: class,
        draw_ppm: draw,
        red_ppm: rates.red_ppm,
        yellow_ppm: rates.yellow_ppm,
        lane: rates.lane_for(draw),
    }
}
