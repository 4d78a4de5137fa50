//! Money: integer fen for amounts that are paid, exact decimals for rates and intermediate values.
//!
//! The one rounding rule of Jinguan: compute in exact decimals, round each tax amount to the fen
//! half up (away from zero for the rare negative adjustment), and use the rounded amount in any
//! later base. `Fen::round_yuan` is the only place that rounds yuan to fen.

use std::fmt;
use std::iter::Sum;
use std::ops::{Add, AddAssign, Sub};

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

/// An amount of Chinese yuan in fen (0.01 yuan).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Fen(pub i64);

impl Fen {
    pub const ZERO: Fen = Fen(0);

    /// Round an exact yuan amount to the fen, half up. Returns `None` beyond ±9.2e16 yuan.
    pub fn round_yuan(yuan: Decimal) -> Option<Fen> {
        let fen = yuan
            .checked_mul(Decimal::ONE_HUNDRED)?
            .round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero);
        i64::try_from(fen).ok().map(Fen)
    }

    /// From whole yuan, for constants (`Fen::yuan(50)` is the de minimis threshold).
    pub const fn yuan(yuan: i64) -> Fen {
        Fen(yuan * 100)
    }

    /// The exact amount in yuan.
    pub fn to_yuan(self) -> Decimal {
        Decimal::new(self.0, 2)
    }

    pub fn is_zero(self) -> bool {
        self.0 == 0
    }
}

impl fmt::Display for Fen {
    /// `1234.56`; negative amounts keep their sign.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        write!(f, "{sign}{}.{:02}", abs / 100, abs % 100)
    }
}

impl Add for Fen {
    type Output = Fen;
    fn add(self, rhs: Fen) -> Fen {
        Fen(self.0 + rhs.0)
    }
}
impl AddAssign for Fen {
    fn add_assign(&mut self, rhs: Fen) {
        self.0 += rhs.0;
    }
}
impl Sub for Fen {
    type Output = Fen;
    fn sub(self, rhs: Fen) -> Fen {
        Fen(self.0 - rhs.0)
    }
}
impl Sum for Fen {
    fn sum<I: Iterator<Item = Fen>>(iter: I) -> Fen {
        iter.fold(Fen::ZERO, Add::add)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn rounds_half_up_to_the_fen() {
        assert_eq!(Fen::round_yuan(dec!(38823.5294)), Some(Fen(3_882_353)));
        assert_eq!(Fen::round_yuan(dec!(0.005)), Some(Fen(1)));
        assert_eq!(Fen::round_yuan(dec!(0.0049999)), Some(Fen(0)));
        assert_eq!(Fen::round_yuan(dec!(-0.005)), Some(Fen(-1)));
    }

    #[test]
    fn out_of_range_is_none_not_a_panic() {
        assert_eq!(Fen::round_yuan(Decimal::MAX), None);
        assert_eq!(Fen::round_yuan(Decimal::MIN), None);
        assert_eq!(Fen::round_yuan(dec!(92233720368547758.08)), None);
        assert_eq!(
            Fen::round_yuan(dec!(92233720368547758.07)),
            Some(Fen(i64::MAX))
        );
    }

    #[test]
    fn displays_as_yuan() {
        assert_eq!(Fen(3_351_284).to_string(), "33512.84");
        assert_eq!(Fen(5).to_string(), "0.05");
        assert_eq!(Fen(-105).to_string(), "-1.05");
        assert_eq!(Fen(3_351_284).to_yuan(), dec!(33512.84));
    }
}
