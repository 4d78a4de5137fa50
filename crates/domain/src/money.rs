//! Money: integer fen for amounts that are paid, exact decimals for rates and intermediate values.
//!
//! The one rounding rule of Jinguan: compute in exact decimals, round each tax amount to the fen
//! half up (away from zero for the rare negative adjustment), and use the rounded amount in any
//! later base. `Fen::round_yuan` is the only place that rounds yuan to fen.

use std::fmt;
use std::iter::Sum;
use std::ops::{Add, AddAssign, Sub, SubAssign};

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

    /// From whole yuan, for constants (`Fen::yuan(50)` is the de minimis threshold). Panics
    /// (at compile time in a `const`) beyond ±92 233 720 368 547 758 yuan.
    pub const fn yuan(yuan: i64) -> Fen {
        match yuan.checked_mul(100) {
            Some(fen) => Fen(fen),
            None => panic!("Fen::yuan: the amount does not fit in i64 fen"),
        }
    }

    /// `self + rhs`, or `None` when the sum leaves the range of `i64` fen. Sums of amounts that
    /// come from users (declared values, payments) use this and report the overflow.
    pub const fn checked_add(self, rhs: Fen) -> Option<Fen> {
        match self.0.checked_add(rhs.0) {
            Some(fen) => Some(Fen(fen)),
            None => None,
        }
    }

    /// `self - rhs`, or `None` when the difference leaves the range of `i64` fen.
    pub const fn checked_sub(self, rhs: Fen) -> Option<Fen> {
        match self.0.checked_sub(rhs.0) {
            Some(fen) => Some(Fen(fen)),
            None => None,
        }
    }

    /// `self × factor`, or `None` when the product leaves the range of `i64` fen.
    pub const fn checked_mul(self, factor: i64) -> Option<Fen> {
        match self.0.checked_mul(factor) {
            Some(fen) => Some(Fen(fen)),
            None => None,
        }
    }

    /// The sum of `amounts`, or `None` as soon as a partial sum leaves the range of `i64` fen.
    pub fn checked_sum<I: IntoIterator<Item = Fen>>(amounts: I) -> Option<Fen> {
        amounts
            .into_iter()
            .try_fold(Fen::ZERO, |sum, fen| sum.checked_add(fen))
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

// The operators panic on overflow in every build profile (release included), never wrap: a
// wrapped amount of money is a silent wrong answer. They are for amounts the code itself bounds
// (sums of already-checked totals, constants); sums over user input use `checked_add` or
// `checked_sum` and turn `None` into a problem the user sees.
const OVERFLOW: &str = "a sum of fen left the range of i64 (about ±9.2e16 yuan): \
    amounts from users must be summed with Fen::checked_add or Fen::checked_sum";

impl Add for Fen {
    type Output = Fen;
    fn add(self, rhs: Fen) -> Fen {
        self.checked_add(rhs).expect(OVERFLOW)
    }
}
impl AddAssign for Fen {
    fn add_assign(&mut self, rhs: Fen) {
        *self = *self + rhs;
    }
}
impl Sub for Fen {
    type Output = Fen;
    fn sub(self, rhs: Fen) -> Fen {
        self.checked_sub(rhs).expect(OVERFLOW)
    }
}
impl SubAssign for Fen {
    fn sub_assign(&mut self, rhs: Fen) {
        *self = *self - rhs;
    }
}
impl Sum for Fen {
    fn sum<I: Iterator<Item = Fen>>(iter: I) -> Fen {
        Fen::checked_sum(iter).expect(OVERFLOW)
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
    fn checked_arithmetic_at_the_limits_of_i64() {
        let max = Fen(i64::MAX);
        let min = Fen(i64::MIN);
        assert_eq!(max.checked_add(Fen(1)), None);
        assert_eq!(max.checked_add(Fen(0)), Some(max));
        assert_eq!(max.checked_add(Fen(-1)), Some(Fen(i64::MAX - 1)));
        assert_eq!(min.checked_sub(Fen(1)), None);
        assert_eq!(min.checked_add(Fen(-1)), None);
        assert_eq!(Fen(0).checked_sub(min), None);
        assert_eq!(Fen(-1).checked_sub(min), Some(max));
        assert_eq!(max.checked_mul(2), None);
        assert_eq!(min.checked_mul(-1), None);
        assert_eq!(max.checked_mul(1), Some(max));
        assert_eq!(
            Fen(i64::MAX / 100).checked_mul(100),
            Some(Fen(i64::MAX / 100 * 100))
        );
        assert_eq!(Fen::checked_sum([max, Fen(-5), Fen(5)]), Some(max));
        assert_eq!(Fen::checked_sum([max, Fen(5), Fen(-5)]), None);
        assert_eq!(Fen::checked_sum([]), Some(Fen::ZERO));
        assert_eq!(
            Fen::yuan(92_233_720_368_547_758),
            Fen(9_223_372_036_854_775_800)
        );
    }

    #[test]
    #[should_panic(expected = "left the range of i64")]
    fn add_panics_on_overflow_instead_of_wrapping() {
        let _ = Fen(i64::MAX) + Fen(1);
    }

    #[test]
    #[should_panic(expected = "left the range of i64")]
    fn sub_panics_on_overflow_instead_of_wrapping() {
        let _ = Fen(i64::MIN) - Fen(1);
    }

    #[test]
    #[should_panic(expected = "left the range of i64")]
    fn add_assign_panics_on_overflow_instead_of_wrapping() {
        let mut x = Fen(i64::MAX);
        x += Fen(1);
    }

    #[test]
    #[should_panic(expected = "left the range of i64")]
    fn sum_panics_on_overflow_instead_of_wrapping() {
        let _: Fen = [Fen(i64::MAX), Fen(1)].into_iter().sum();
    }

    #[test]
    #[should_panic(expected = "does not fit")]
    fn yuan_panics_beyond_the_range() {
        let _ = Fen::yuan(i64::MAX);
    }

    #[test]
    fn displays_as_yuan() {
        assert_eq!(Fen(3_351_284).to_string(), "33512.84");
        assert_eq!(Fen(5).to_string(), "0.05");
        assert_eq!(Fen(-105).to_string(), "-1.05");
        assert_eq!(Fen(3_351_284).to_yuan(), dec!(33512.84));
    }
}
