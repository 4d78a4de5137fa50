//! Risk screening of postal parcels and passengers' baggage with the risk engine's watch list.
//!
//! Parcels and baggage are not declarations, so the rule engine does not see them; what the
//! anti-smuggling officers list still applies: a parcel or baggage reference listed as a `bill`,
//! and baggage arriving by a flight or voyage listed as a `vessel`, are held with the case named
//! for officers. Lists apply nationwide, like for declarations.

use cargo_control::{HoldReason, PostalItem, PostalKind, PostalRiskScreen, Screening};
use chrono::NaiveDate;
use risk::{WatchKind, WatchLists};

/// Holds what the watch list names; clears the rest.
pub struct WatchListScreen<'a> {
    pub watch: &'a WatchLists,
    pub today: NaiveDate,
}

impl PostalRiskScreen for WatchListScreen<'_> {
    fn screen(&self, item: &PostalItem<'_>) -> Screening {
        let mut reasons = Vec::new();
        for e in self
            .watch
            .lookup(WatchKind::Bill, item.reference, self.today)
        {
            reasons.push(HoldReason {
                code: "watch_list_reference".into(),
                message_zh: format!("单号 {} 在布控名单上（{}）", item.reference, e.case),
                message_en: format!(
                    "reference {} is on the watch list ({})",
                    item.reference, e.case
                ),
            });
        }
        if item.kind == PostalKind::Baggage {
            for e in self
                .watch
                .lookup(WatchKind::Vessel, item.origin, self.today)
            {
                reasons.push(HoldReason {
                    code: "watch_list_transport".into(),
                    message_zh: format!("旅客所乘 {} 在布控名单上（{}）", item.origin, e.case),
                    message_en: format!(
                        "arrived by {}, which is on the watch list ({})",
                        item.origin, e.case
                    ),
                });
            }
        }
        if reasons.is_empty() {
            Screening::Clear
        } else {
            Screening::Hold { reasons }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clearance::Lane;
    use domain::codes::OfficeCode;
    use domain::money::Fen;
    use risk::WatchEntry;

    fn lists() -> WatchLists {
        let entry = |kind, value: &str, until| WatchEntry {
            kind,
            value: value.into(),
            lane: Lane::Red,
            suspend: true,
            case: "JS-2025-7".into(),
            office: OfficeCode::parse("2200").unwrap(),
            until,
        };
        WatchLists::new(vec![
            entry(WatchKind::Bill, "EMS123456789CN", None),
            entry(
                WatchKind::Vessel,
                "MU5101",
                NaiveDate::from_ymd_opt(2025, 6, 30),
            ),
        ])
        .unwrap()
    }

    fn item<'a>(kind: PostalKind, reference: &'a str, origin: &'a str) -> PostalItem<'a> {
        PostalItem {
            kind,
            reference,
            office: OfficeCode::parse("2233").unwrap(),
            origin,
            articles: &[],
            value_fen: Fen::yuan(100),
        }
    }

    #[test]
    fn listed_references_and_flights_are_held_others_clear() {
        let watch = lists();
        let screen = WatchListScreen {
            watch: &watch,
            today: NaiveDate::from_ymd_opt(2025, 6, 1).unwrap(),
        };
        let held = screen.screen(&item(PostalKind::Parcel, "ems123456789cn", "USA"));
        let Screening::Hold { reasons } = held else {
            panic!("listed parcel must be held")
        };
        assert_eq!(reasons[0].code, "watch_list_reference");
        assert!(reasons[0].message_en.contains("JS-2025-7"));
        assert_eq!(
            screen.screen(&item(PostalKind::Parcel, "EMS000000000CN", "USA")),
            Screening::Clear
        );
        // A listed flight holds baggage, not parcels that merely name the same text.
        let Screening::Hold { reasons } =
            screen.screen(&item(PostalKind::Baggage, "B-1", "MU5101"))
        else {
            panic!("baggage from a listed flight must be held")
        };
        assert_eq!(reasons[0].code, "watch_list_transport");
        assert_eq!(
            screen.screen(&item(PostalKind::Parcel, "P-1", "MU5101")),
            Screening::Clear
        );
    }

    #[test]
    fn expired_entries_no_longer_hold() {
        let watch = lists();
        let screen = WatchListScreen {
            watch: &watch,
            today: NaiveDate::from_ymd_opt(2025, 7, 1).unwrap(),
        };
        assert_eq!(
            screen.screen(&item(PostalKind::Baggage, "B-1", "MU5101")),
            Screening::Clear
        );
    }
}
