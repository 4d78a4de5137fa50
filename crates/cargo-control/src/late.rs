//! Where the 14-day declaration period of the late declaration fee 滞报金 starts (docs/CARGO.md
//! "Late declarations"), after 《海关征收进口货物滞报金办法》: goods declared at the office of
//! entry count from the arrival of the means of transport there (its arrival report); goods under
//! transit 转关运输 declared at the inland office of destination 指运地 count from the day they
//! arrived at the destination (运抵指运地之日). While such goods are on their way the period has not
//! started: they are not late at all.
//!
//! Pure: the transit of a bill and its arrival are arguments ([`TransitLeg`], built from a
//! [`TransitState`] by the caller's index of transits).

use chrono::{DateTime, NaiveDate, Utc};
use domain::codes::OfficeCode;
use serde::Serialize;
use tax::fees::Fee;

use crate::codes::{ManifestId, TransitNo};
use crate::ledger::china_date;
use crate::transit::{TransitState, TransitStatus};

/// The transit a bill is carried by, as far as the declaration period is concerned.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TransitLeg {
    pub transit_no: TransitNo,
    pub destination_office: OfficeCode,
    pub status: TransitStatus,
    /// When the office of destination recorded the arrival (with the seal check); `None` while
    /// the goods are declared for transit or on their way.
    pub arrived_at: Option<DateTime<Utc>>,
}

impl TransitLeg {
    /// The leg of a transit that carries goods: declared, departed, arrived (seals intact or
    /// not) or cleared. `None` for a transit not declared or cancelled (cancelled before
    /// departure: the goods stayed at the office of entry and count from its arrival).
    pub fn of(state: &TransitState) -> Option<TransitLeg> {
        let decl = state.declaration.as_ref()?;
        match state.status {
            TransitStatus::New | TransitStatus::Cancelled => None,
            TransitStatus::Declared
            | TransitStatus::Departed
            | TransitStatus::Arrived
            | TransitStatus::SealBroken
            | TransitStatus::Cleared => Some(TransitLeg {
                transit_no: decl.transit_no,
                destination_office: decl.destination_office,
                status: state.status,
                arrived_at: state.arrived_at,
            }),
        }
    }
}

/// What a bill's 14 days count from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "from", rename_all = "snake_case")]
pub enum PeriodStart {
    /// Declared at the office of entry: the means of transport's arrival report there.
    EntryArrival {
        manifest_id: ManifestId,
        office: OfficeCode,
        date: NaiveDate,
    },
    /// Goods under transit, declared at the office of destination: their arrival there.
    DestinationArrival {
        transit_no: TransitNo,
        destination_office: OfficeCode,
        date: NaiveDate,
    },
    /// Goods under transit not yet arrived at the office of destination: not started.
    InTransit {
        transit_no: TransitNo,
        destination_office: OfficeCode,
    },
}

impl PeriodStart {
    /// The start for a bill on manifest `manifest_id` that arrived at `office` on
    /// `entry_arrival` (UTC+8 date), carried by `transit` if any.
    pub fn of(
        manifest_id: ManifestId,
        office: OfficeCode,
        entry_arrival: NaiveDate,
        transit: Option<&TransitLeg>,
    ) -> PeriodStart {
        match transit {
            None => PeriodStart::EntryArrival {
                manifest_id,
                office,
                date: entry_arrival,
            },
            Some(t) => match t.arrived_at {
                Some(at) => PeriodStart::DestinationArrival {
                    transit_no: t.transit_no,
                    destination_office: t.destination_office,
                    date: china_date(at),
                },
                None => PeriodStart::InTransit {
                    transit_no: t.transit_no,
                    destination_office: t.destination_office,
                },
            },
        }
    }

    /// The day the period counts from; `None` while the goods are in transit.
    pub fn date(&self) -> Option<NaiveDate> {
        match self {
            PeriodStart::EntryArrival { date, .. }
            | PeriodStart::DestinationArrival { date, .. } => Some(*date),
            PeriodStart::InTransit { .. } => None,
        }
    }

    /// Which arrival the period counts from, in Chinese.
    pub fn explain_zh(&self) -> String {
        match self {
            PeriodStart::EntryArrival {
                manifest_id,
                office,
                date,
            } => format!(
                "申报期限自运输工具申报进境之日（{date}，进境地海关{office}，舱单{manifest_id}运抵报告）起算"
            ),
            PeriodStart::DestinationArrival {
                transit_no,
                destination_office,
                date,
            } => format!(
                "转关运输货物在指运地申报，申报期限自货物运抵指运地之日（{date}，指运地海关{destination_office}，转关单{transit_no}）起算，不自运输工具进境之日起算（《海关征收进口货物滞报金办法》）"
            ),
            PeriodStart::InTransit {
                transit_no,
                destination_office,
            } => format!(
                "货物在转关单{transit_no}项下运往指运地海关{destination_office}途中，尚未运抵，申报期限未起算（《海关征收进口货物滞报金办法》）"
            ),
        }
    }

    /// Which arrival the period counts from, in English.
    pub fn explain_en(&self) -> String {
        match self {
            PeriodStart::EntryArrival {
                manifest_id,
                office,
                date,
            } => format!(
                "the declaration period counts from the arrival of the means of transport at the office of entry {office} on {date} (arrival report of manifest {manifest_id})"
            ),
            PeriodStart::DestinationArrival {
                transit_no,
                destination_office,
                date,
            } => format!(
                "goods under transit declared at the office of destination: the declaration period counts from their arrival at the office of destination {destination_office} on {date} (transit {transit_no}), not from the arrival at the office of entry"
            ),
            PeriodStart::InTransit {
                transit_no,
                destination_office,
            } => format!(
                "the goods are on their way to the office of destination {destination_office} under transit {transit_no}: the declaration period has not started"
            ),
        }
    }
}

/// The late declaration fee of a declaration, with what its days count from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LateFee {
    #[serde(flatten)]
    pub fee: Fee,
    pub counted_from: PeriodStart,
    pub explanation_zh: String,
    pub explanation_en: String,
}

impl LateFee {
    pub(crate) fn new(fee: Fee, counted_from: PeriodStart) -> LateFee {
        let shifted_zh = if fee.deadline_shifted {
            "（第14日逢休息日或法定节假日，顺延至其后第一个工作日）"
        } else {
            ""
        };
        let shifted_en = if fee.deadline_shifted {
            " (day 14 fell on a weekend or holiday: moved to the next working day)"
        } else {
            ""
        };
        let explanation_zh = format!(
            "{}；申报期限至{}{}；滞报{}天，应缴滞报金{}元（{}）",
            counted_from.explain_zh(),
            fee.deadline,
            shifted_zh,
            fee.days,
            fee.payable_fen,
            fee.formula
        );
        let explanation_en = format!(
            "{}; last day to declare {}{}; {} days late, fee payable CNY {} ({})",
            counted_from.explain_en(),
            fee.deadline,
            shifted_en,
            fee.days,
            fee.payable_fen,
            fee.formula
        );
        LateFee {
            fee,
            counted_from,
            explanation_zh,
            explanation_en,
        }
    }
}
