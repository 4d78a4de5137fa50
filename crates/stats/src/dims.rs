//! The dimension tables registered beside `items` (names in both languages for every code a
//! row carries), from the reference data and the two statistics files compiled in:
//! `data/hs_sections.csv` (the HS sections and their chapters) and `data/stats_partner_groups.csv`
//! (region groups of partners). Continents come from the legacy statistics country code's first
//! digit (1 Asia … 7 unknown).

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Int32Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{Field, Schema};
use domain::reference::OfficeLevel;
use refdata::{RefData, Table};

use crate::error::StatsError;
use crate::warehouse::State;

const HS_SECTIONS: &str = include_str!("../../../data/hs_sections.csv");
const PARTNER_GROUPS: &str = include_str!("../../../data/stats_partner_groups.csv");

/// An HS section and its chapters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Section {
    pub section: i32,
    pub roman: String,
    pub chapter_from: u32,
    pub chapter_to: u32,
    pub name_zh: String,
    pub name_en: String,
}

/// A group of partner countries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartnerGroup {
    pub group: String,
    pub name_zh: String,
    pub name_en: String,
    pub members: Vec<String>,
}

#[derive(serde::Deserialize)]
struct SectionRow {
    section: i32,
    roman: String,
    chapter_from: u32,
    chapter_to: u32,
    name_zh: String,
    name_en: String,
}

#[derive(serde::Deserialize)]
struct GroupRow {
    group: String,
    name_zh: String,
    name_en: String,
    members: String,
}

/// The HS sections (the shipped file; its test keeps it whole).
pub fn sections() -> Vec<Section> {
    csv::Reader::from_reader(HS_SECTIONS.as_bytes())
        .deserialize::<SectionRow>()
        .map(|r| {
            let r = r.expect("data/hs_sections.csv is well formed (tested)");
            Section {
                section: r.section,
                roman: r.roman,
                chapter_from: r.chapter_from,
                chapter_to: r.chapter_to,
                name_zh: r.name_zh,
                name_en: r.name_en,
            }
        })
        .collect()
}

/// The section of a 2-digit chapter.
pub fn section_of(chapter: &str, sections: &[Section]) -> Option<i32> {
    let c: u32 = chapter.parse().ok()?;
    sections
        .iter()
        .find(|s| s.chapter_from <= c && c <= s.chapter_to)
        .map(|s| s.section)
}

/// Continents by the legacy statistics code's first digit.
pub const CONTINENTS: [(&str, &str, &str); 7] = [
    ("1", "亚洲", "Asia"),
    ("2", "非洲", "Africa"),
    ("3", "欧洲", "Europe"),
    ("4", "拉丁美洲", "Latin America"),
    ("5", "北美洲", "North America"),
    ("6", "大洋洲", "Oceania"),
    ("7", "国别不详", "Unknown"),
];

/// The continent digit of a legacy statistics country code (`7` unknown for any other).
pub fn continent_of(legacy_code: &str) -> &'static str {
    match legacy_code.get(..1) {
        Some("1") => "1",
        Some("2") => "2",
        Some("3") => "3",
        Some("4") => "4",
        Some("5") => "5",
        Some("6") => "6",
        _ => "7",
    }
}

/// The partner groups: the shipped file's, then one per continent (`CONTINENT-n`).
pub fn partner_groups(refdata: &RefData) -> Vec<PartnerGroup> {
    let mut out: Vec<PartnerGroup> = csv::Reader::from_reader(PARTNER_GROUPS.as_bytes())
        .deserialize::<GroupRow>()
        .map(|r| {
            let r = r.expect("data/stats_partner_groups.csv is well formed (tested)");
            PartnerGroup {
                group: r.group,
                name_zh: r.name_zh,
                name_en: r.name_en,
                members: r.members.split_whitespace().map(str::to_owned).collect(),
            }
        })
        .collect();
    for (digit, zh, en) in CONTINENTS {
        out.push(PartnerGroup {
            group: format!("CONTINENT-{digit}"),
            name_zh: zh.to_owned(),
            name_en: en.to_owned(),
            members: refdata
                .countries()
                .iter()
                .filter(|c| continent_of(&c.legacy_code) == digit)
                .map(|c| c.alpha3.as_str().to_owned())
                .collect(),
        });
    }
    out
}

/// Enterprise types, by the customs enterprise code's 6th character (`0`: no customs code).
pub const ENTERPRISE_TYPES: [(&str, &str, &str); 10] = [
    ("1", "国有企业", "State-owned enterprise"),
    (
        "2",
        "中外合作企业",
        "Sino-foreign contractual joint venture",
    ),
    ("3", "中外合资企业", "Sino-foreign equity joint venture"),
    ("4", "外商独资企业", "Wholly foreign-owned enterprise"),
    ("5", "集体企业", "Collective enterprise"),
    ("6", "私营企业", "Private enterprise"),
    ("7", "个体工商户", "Individual business"),
    ("8", "报关企业", "Customs broker"),
    ("9", "其他", "Other"),
    ("0", "未注明", "Not stated"),
];

/// Names of a code in one dimension: (zh, en).
pub type Names = BTreeMap<String, (String, String)>;

/// Code → names, for the bulletin's dimensions.
pub struct Lookups {
    pub countries: Names,
    pub stats_trade_modes: Names,
    pub districts: Names,
    pub regions: Names,
    pub enterprise_types: Names,
    pub sections: Vec<Section>,
    pub groups: Vec<PartnerGroup>,
}

impl Lookups {
    pub fn new(refdata: &RefData) -> Lookups {
        let simple = |t: Table| -> Names {
            refdata
                .simple_entries(t)
                .map(|e| (e.code.clone(), (e.name_zh.clone(), e.name_en.clone())))
                .collect()
        };
        Lookups {
            countries: refdata
                .countries()
                .iter()
                .map(|c| {
                    (
                        c.alpha3.as_str().to_owned(),
                        (c.name_zh.clone(), c.name_en.clone()),
                    )
                })
                .collect(),
            stats_trade_modes: simple(Table::StatsTradeModes),
            districts: refdata
                .offices()
                .filter(|o| o.level == OfficeLevel::Direct)
                .map(|o| {
                    (
                        o.code.as_str().to_owned(),
                        (o.name_zh.clone(), o.name_en.clone()),
                    )
                })
                .collect(),
            regions: simple(Table::Provinces),
            enterprise_types: ENTERPRISE_TYPES
                .iter()
                .map(|(c, zh, en)| (c.to_string(), (zh.to_string(), en.to_string())))
                .collect(),
            sections: sections(),
            groups: partner_groups(refdata),
        }
    }
}

fn strings(v: Vec<String>) -> ArrayRef {
    Arc::new(StringArray::from(v))
}

fn batch(cols: Vec<(&str, ArrayRef)>) -> Result<RecordBatch, StatsError> {
    let schema = Schema::new(
        cols.iter()
            .map(|(n, a)| Field::new(*n, a.data_type().clone(), true))
            .collect::<Vec<_>>(),
    );
    Ok(RecordBatch::try_new(
        Arc::new(schema),
        cols.into_iter().map(|(_, a)| a).collect(),
    )?)
}

fn names_table(names: &Names) -> Result<RecordBatch, StatsError> {
    batch(vec![
        ("code", strings(names.keys().cloned().collect())),
        (
            "name_zh",
            strings(names.values().map(|v| v.0.clone()).collect()),
        ),
        (
            "name_en",
            strings(names.values().map(|v| v.1.clone()).collect()),
        ),
    ])
}

/// Every dimension table of `warehouse::TABLES` but `items`.
pub fn tables(
    refdata: &RefData,
    state: &State,
) -> Result<Vec<(&'static str, RecordBatch)>, StatsError> {
    let l = Lookups::new(refdata);
    let mut out = Vec::new();
    // revisions
    let (mut y, mut m, mut rev, mut run) = (vec![], vec![], vec![], vec![]);
    for (month, runs) in &state.months {
        let (yy, mm) = crate::bulletin::parse_month(month)?;
        for (i, r) in runs.iter().enumerate() {
            y.push(yy);
            m.push(mm as i32);
            rev.push(i as i32 + 1);
            run.push(*r);
        }
    }
    out.push((
        "revisions",
        batch(vec![
            ("year", Arc::new(Int32Array::from(y)) as ArrayRef),
            ("month", Arc::new(Int32Array::from(m))),
            ("revision", Arc::new(Int32Array::from(rev))),
            (
                "run",
                Arc::new(datafusion::arrow::array::Int64Array::from(run)),
            ),
        ])?,
    ));
    // hs_sections: one row per chapter
    let (mut sec, mut roman, mut chap, mut zh, mut en) = (vec![], vec![], vec![], vec![], vec![]);
    for s in &l.sections {
        for c in s.chapter_from..=s.chapter_to {
            sec.push(s.section);
            roman.push(s.roman.clone());
            chap.push(format!("{c:02}"));
            zh.push(s.name_zh.clone());
            en.push(s.name_en.clone());
        }
    }
    out.push((
        "hs_sections",
        batch(vec![
            ("section", Arc::new(Int32Array::from(sec)) as ArrayRef),
            ("roman", strings(roman)),
            ("chapter", strings(chap)),
            ("name_zh", strings(zh)),
            ("name_en", strings(en)),
        ])?,
    ));
    // countries
    let cs = refdata.countries();
    out.push((
        "countries",
        batch(vec![
            (
                "code",
                strings(cs.iter().map(|c| c.alpha3.as_str().to_owned()).collect()),
            ),
            (
                "legacy_code",
                strings(cs.iter().map(|c| c.legacy_code.clone()).collect()),
            ),
            (
                "name_zh",
                strings(cs.iter().map(|c| c.name_zh.clone()).collect()),
            ),
            (
                "name_en",
                strings(cs.iter().map(|c| c.name_en.clone()).collect()),
            ),
            (
                "continent",
                strings(
                    cs.iter()
                        .map(|c| continent_of(&c.legacy_code).to_owned())
                        .collect(),
                ),
            ),
        ])?,
    ));
    // partner_groups: one row per member
    let (mut g, mut gz, mut ge, mut member) = (vec![], vec![], vec![], vec![]);
    for grp in &l.groups {
        for mbr in &grp.members {
            g.push(grp.group.clone());
            gz.push(grp.name_zh.clone());
            ge.push(grp.name_en.clone());
            member.push(mbr.clone());
        }
    }
    out.push((
        "partner_groups",
        batch(vec![
            ("group_code", strings(g)),
            ("name_zh", strings(gz)),
            ("name_en", strings(ge)),
            ("country", strings(member)),
        ])?,
    ));
    out.push(("stats_trade_modes", names_table(&l.stats_trade_modes)?));
    let transport: Names = refdata
        .simple_entries(Table::TransportModes)
        .map(|e| (e.code.clone(), (e.name_zh.clone(), e.name_en.clone())))
        .collect();
    out.push(("transport_modes", names_table(&transport)?));
    out.push(("districts", names_table(&l.districts)?));
    let dims = crate::rows::Dimensions::new(refdata);
    let offices: Vec<_> = refdata.offices().collect();
    out.push((
        "offices",
        batch(vec![
            (
                "code",
                strings(offices.iter().map(|o| o.code.as_str().to_owned()).collect()),
            ),
            (
                "name_zh",
                strings(offices.iter().map(|o| o.name_zh.clone()).collect()),
            ),
            (
                "name_en",
                strings(offices.iter().map(|o| o.name_en.clone()).collect()),
            ),
            (
                "district",
                strings(offices.iter().map(|o| dims.district(o.code)).collect()),
            ),
        ])?,
    ));
    out.push(("regions", names_table(&l.regions)?));
    out.push(("enterprise_types", names_table(&l.enterprise_types)?));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_sections_cover_every_chapter_once() {
        let s = sections();
        assert_eq!(s.len(), 22);
        for c in 1..=99 {
            let n = s
                .iter()
                .filter(|x| x.chapter_from <= c && c <= x.chapter_to)
                .count();
            assert_eq!(n, 1, "chapter {c}");
        }
        assert_eq!(section_of("85", &s), Some(16));
        assert_eq!(section_of("27", &s), Some(5));
        assert_eq!(section_of("x", &s), None);
    }

    #[test]
    fn every_group_member_is_a_country_of_the_table() {
        let r = RefData::embedded().unwrap();
        let groups = partner_groups(&r);
        for g in &groups {
            assert!(!g.members.is_empty(), "{}", g.group);
            for m in &g.members {
                assert!(r.country_entry(m).is_some(), "{} names {m}", g.group);
            }
        }
        let asean = groups.iter().find(|g| g.group == "ASEAN").unwrap();
        assert_eq!(asean.members.len(), 10);
        let eu = groups.iter().find(|g| g.group == "EU").unwrap();
        assert_eq!(eu.members.len(), 27);
        // Every country is on exactly one continent.
        let continents: usize = groups
            .iter()
            .filter(|g| g.group.starts_with("CONTINENT-"))
            .map(|g| g.members.len())
            .sum();
        assert_eq!(continents, r.countries().len());
    }
}
