//! Searching declarations for the lists of the web interface (issue 20): free text, the
//! filters of [`ListFilter`], a sort column, and pages by number with the total count
//! ([`crate::Store::search`]).
//!
//! The free text is matched, each whitespace-separated term as a substring (ASCII case
//! ignored), against a search text every backend keeps with the declaration in the same
//! transaction as its writes: the pre-entry and declaration numbers, the declarant's USCC,
//! the trader's, owner's and agent's names and USCCs, the contract number and the bill of
//! lading. SQLite keeps it in a narrow side table maintained by triggers, PostgreSQL as a
//! stored generated column; neither has a text index, so a search reads every row the other
//! filters leave (an index-backed filter such as the declarant, the office or the status
//! narrows it first).
//!
//! Two filters read the body itself, for the dashboard's drill-down: a goods line's commodity
//! code by prefix ([`SearchRequest::commodity`]) and the trading country
//! ([`SearchRequest::country`]); they too read every row the other filters leave.

use crate::{ListFilter, StoreError, PAGE_MAX};

/// The columns a search may be sorted by; ties are broken by the declaration's id in the
/// same direction, and an absent value (no declaration number yet, no lane) sorts last in
/// both directions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum SortKey {
    #[default]
    SubmittedAt,
    PreEntryNo,
    DeclarationNo,
    Declarant,
    DeclarationOffice,
    Direction,
    Status,
    Lane,
}

impl SortKey {
    pub const ALL: [SortKey; 8] = [
        SortKey::SubmittedAt,
        SortKey::PreEntryNo,
        SortKey::DeclarationNo,
        SortKey::Declarant,
        SortKey::DeclarationOffice,
        SortKey::Direction,
        SortKey::Status,
        SortKey::Lane,
    ];

    /// The name clients give (`sort=declarant`, `sort=-submitted_at`).
    pub fn as_str(self) -> &'static str {
        match self {
            SortKey::SubmittedAt => "submitted_at",
            SortKey::PreEntryNo => "pre_entry_no",
            SortKey::DeclarationNo => "declaration_no",
            SortKey::Declarant => "declarant",
            SortKey::DeclarationOffice => "declaration_office",
            SortKey::Direction => "direction",
            SortKey::Status => "status",
            SortKey::Lane => "lane",
        }
    }

    pub fn parse(s: &str) -> Option<SortKey> {
        SortKey::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// At most this many characters of free text.
pub const TEXT_MAX: usize = 100;
/// At most this many terms in the free text.
pub const TERMS_MAX: usize = 5;
/// Pages reach at most this far into a result (offset + limit).
pub const OFFSET_MAX: u64 = 100_000;

/// One search: what to match, in which order, which page.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SearchRequest {
    pub filter: ListFilter,
    /// Free text; blank: no text condition.
    pub text: Option<String>,
    /// A goods line's commodity code begins with these digits (2 to 10): the dashboard's
    /// drill-down from a commodity.
    pub commodity: Option<String>,
    /// The trading country is this code (the dashboard's drill-down from a partner).
    pub country: Option<String>,
    pub sort: SortKey,
    pub descending: bool,
    /// Rows skipped (page number − 1) × limit.
    pub offset: u64,
    /// 1..=[`PAGE_MAX`].
    pub limit: u32,
}

/// One page of a search and the number of rows matching in all.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Counted<T> {
    pub items: Vec<T>,
    pub total: u64,
}

impl SearchRequest {
    /// The request's bounds, checked the same way by every backend.
    pub fn check(&self) -> Result<(), StoreError> {
        if self.limit == 0 || self.limit > PAGE_MAX {
            return Err(StoreError::Invalid(format!(
                "page limit must be 1 to {PAGE_MAX}"
            )));
        }
        if self.offset + u64::from(self.limit) > OFFSET_MAX {
            return Err(StoreError::Invalid(format!(
                "a search reaches at most {OFFSET_MAX} rows in"
            )));
        }
        if let Some(c) = &self.commodity {
            if !(2..=10).contains(&c.len()) || !c.bytes().all(|b| b.is_ascii_digit()) {
                return Err(StoreError::Invalid(format!(
                    "a commodity code prefix is 2 to 10 digits, not {c:?}"
                )));
            }
        }
        if let Some(c) = &self.country {
            if !(2..=3).contains(&c.len()) || !c.bytes().all(|b| b.is_ascii_uppercase()) {
                return Err(StoreError::Invalid(format!(
                    "a country code is 2 or 3 capital letters, not {c:?}"
                )));
            }
        }
        if let Some(t) = &self.text {
            if t.chars().count() > TEXT_MAX {
                return Err(StoreError::Invalid(format!(
                    "search text longer than {TEXT_MAX} characters"
                )));
            }
            if t.split_whitespace().count() > TERMS_MAX {
                return Err(StoreError::Invalid(format!(
                    "more than {TERMS_MAX} search terms"
                )));
            }
        }
        Ok(())
    }

    /// The LIKE patterns of the free text (`ESCAPE '\'`), one per term, ASCII lower case:
    /// `%term%` with `%`, `_` and `\` in the term escaped.
    pub fn like_patterns(&self) -> Vec<String> {
        let Some(t) = &self.text else {
            return Vec::new();
        };
        t.split_whitespace()
            .map(|term| {
                let mut p = String::from("%");
                for c in term.chars() {
                    if matches!(c, '%' | '_' | '\\') {
                        p.push('\\');
                    }
                    p.push(c.to_ascii_lowercase());
                }
                p.push('%');
                p
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_escape_wildcards_and_fold_ascii_case() {
        let r = SearchRequest {
            text: Some("  CT-0001 北京  50%_a\\ ".into()),
            limit: 10,
            ..Default::default()
        };
        assert_eq!(
            r.like_patterns(),
            vec!["%ct-0001%", "%北京%", "%50\\%\\_a\\\\%"]
        );
        assert!(SearchRequest {
            limit: 10,
            ..Default::default()
        }
        .like_patterns()
        .is_empty());
    }

    #[test]
    fn bounds_are_checked() {
        let ok = SearchRequest {
            limit: 20,
            ..Default::default()
        };
        assert!(ok.check().is_ok());
        for bad in [
            SearchRequest {
                limit: 0,
                ..ok.clone()
            },
            SearchRequest {
                limit: PAGE_MAX + 1,
                ..ok.clone()
            },
            SearchRequest {
                offset: OFFSET_MAX,
                ..ok.clone()
            },
            SearchRequest {
                text: Some("x".repeat(TEXT_MAX + 1)),
                ..ok.clone()
            },
            SearchRequest {
                text: Some("a b c d e f".into()),
                ..ok.clone()
            },
        ] {
            assert!(bad.check().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn sort_keys_round_trip() {
        for k in SortKey::ALL {
            assert_eq!(SortKey::parse(k.as_str()), Some(k));
        }
        assert_eq!(SortKey::parse("body"), None);
    }
}
