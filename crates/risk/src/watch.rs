//! Watch lists for anti-smuggling (docs/DOMAIN.md §5): enterprises, overseas parties, vessels and
//! bills of lading under watch, each entry with the lane it forces and whether it holds
//! (suspends) the declaration.

use std::collections::HashMap;

use chrono::NaiveDate;
use clearance::Lane;
use domain::codes::{OfficeCode, Uscc};
use domain::declaration::Declaration;
use serde::{Deserialize, Serialize};

use crate::facts::overseas_party;

pub const ENTRIES_MAX: usize = 1_000_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WatchKind {
    /// A domestic enterprise by USCC: matches the trader, the owner unit or the agent.
    Enterprise,
    /// An overseas party by AEO code or by name (ASCII case ignored).
    OverseasParty,
    Vessel,
    Bill,
}

impl WatchKind {
    pub fn as_str(self) -> &'static str {
        match self {
            WatchKind::Enterprise => "enterprise",
            WatchKind::OverseasParty => "overseas_party",
            WatchKind::Vessel => "vessel",
            WatchKind::Bill => "bill",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatchEntry {
    pub kind: WatchKind,
    pub value: String,
    pub lane: Lane,
    /// Hold the declaration for anti-smuggling.
    pub suspend: bool,
    /// Case or reason code, shown to officers.
    pub case: String,
    /// The office that listed it (for the record; watch lists apply nationwide).
    pub office: OfficeCode,
    /// Last day in force (inclusive); `None`: until removed.
    pub until: Option<NaiveDate>,
}

/// An entry that matched, and which field it matched.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatchHit {
    pub entry: WatchEntry,
    /// `trader`, `owner_unit`, `agent`, `overseas_party`, `overseas_party_name`, `vessel`,
    /// `bill_no`.
    pub matched_field: String,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WatchError {
    #[error("entry {index}: {kind} value is empty")]
    Empty { index: usize, kind: &'static str },
    #[error("entry {index}: \"{value}\" is not a valid unified social credit code")]
    Uscc { index: usize, value: String },
    #[error("more than {ENTRIES_MAX} entries")]
    TooMany,
}

/// The lists, indexed for lookup by (kind, normalised value).
#[derive(Clone, Debug, Default)]
pub struct WatchLists {
    entries: Vec<WatchEntry>,
    index: HashMap<(WatchKind, String), Vec<usize>>,
}

fn norm(s: &str) -> String {
    s.trim().to_ascii_uppercase()
}

impl WatchLists {
    pub fn new(entries: Vec<WatchEntry>) -> Result<WatchLists, WatchError> {
        if entries.len() > ENTRIES_MAX {
            return Err(WatchError::TooMany);
        }
        let mut index: HashMap<(WatchKind, String), Vec<usize>> = HashMap::new();
        for (i, e) in entries.iter().enumerate() {
            let v = norm(&e.value);
            if v.is_empty() {
                return Err(WatchError::Empty {
                    index: i,
                    kind: e.kind.as_str(),
                });
            }
            if e.kind == WatchKind::Enterprise && Uscc::parse(&v).is_err() {
                return Err(WatchError::Uscc {
                    index: i,
                    value: e.value.clone(),
                });
            }
            index.entry((e.kind, v)).or_default().push(i);
        }
        Ok(WatchLists { entries, index })
    }

    pub fn entries(&self) -> &[WatchEntry] {
        &self.entries
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Entries in force on `today` that the declaration meets.
    /// The entries in force on `today` for one value of one kind (postal items and baggage
    /// are screened this way: they are not declarations).
    pub fn lookup(&self, kind: WatchKind, value: &str, today: NaiveDate) -> Vec<&WatchEntry> {
        self.index
            .get(&(kind, norm(value)))
            .map(|list| {
                list.iter()
                    .map(|&i| &self.entries[i])
                    .filter(|e| e.until.is_none_or(|u| today <= u))
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn check(&self, d: &Declaration, today: NaiveDate) -> Vec<WatchHit> {
        if self.entries.is_empty() {
            return Vec::new();
        }
        let mut hits = Vec::new();
        let mut probe = |kind: WatchKind, field: &str, value: Option<&str>| {
            let Some(v) = value else { return };
            if let Some(list) = self.index.get(&(kind, norm(v))) {
                for &i in list {
                    let e = &self.entries[i];
                    if e.until.is_none_or(|u| today <= u) {
                        hits.push(WatchHit {
                            entry: e.clone(),
                            matched_field: field.to_owned(),
                        });
                    }
                }
            }
        };
        probe(
            WatchKind::Enterprise,
            "trader",
            Some(d.trader.uscc.as_str()),
        );
        probe(
            WatchKind::Enterprise,
            "owner_unit",
            d.owner.as_ref().map(|p| p.uscc.as_str()),
        );
        probe(
            WatchKind::Enterprise,
            "agent",
            d.agent.as_ref().map(|p| p.uscc.as_str()),
        );
        probe(
            WatchKind::OverseasParty,
            "overseas_party",
            overseas_party(d),
        );
        if d.overseas_party
            .code
            .as_deref()
            .is_some_and(|c| !c.trim().is_empty())
        {
            probe(
                WatchKind::OverseasParty,
                "overseas_party_name",
                Some(&d.overseas_party.name),
            );
        }
        probe(WatchKind::Vessel, "vessel", d.vessel.as_deref());
        probe(WatchKind::Bill, "bill_no", d.bill_no.as_deref());
        hits
    }
}
