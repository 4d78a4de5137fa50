//! The tariff file: one row per commodity code and validity period.
//!
//! Columns: `commodity_code` (10 digits), `description_zh`, `description_en`, `first_unit`,
//! `second_unit` (may be empty), `mfn`, `general`, `agreements`, `provisional`, `vat_rate`,
//! `consumption_tax`, `export_duty`, `licence`, `valid_from`, `valid_to` (may be empty).
//!
//! Rates use the text forms of [`DutyRate`] and [`ConsumptionTaxRate`] (`10%`, `3.5/095`,
//! `10%+3.5/095`, `T>=350:56%+3/143|36%+3/143`). `vat_rate` and `export_duty` are ad valorem
//! (`13%`). `agreements` is empty or `;`-separated entries `AGREEMENT:ORIGIN ORIGIN ...=RATE`,
//! for example `ASEAN:SGP MYS THA=0%;RCEP:JPN=5%`: the agreement's short name (capitals,
//! digits and `-`, at most 16), a colon, the alpha-3 origins separated by spaces, `=`, a duty
//! rate. One origin appears at most once per agreement. `licence` is empty or the document
//! codes the line needs, one character each (`1` import licence, `4` export licence, `7`
//! automatic import licence ...).

use std::collections::{BTreeMap, HashSet};
use std::str::FromStr;

use domain::codes::{CountryCode, HsCode, UnitCode};
use domain::reference::{AgreementRate, ConsumptionTaxRate, DutyRate, TariffLine};
use rust_decimal::Decimal;

use crate::csvfile::CsvFile;
use crate::parse::{parse_date, Problems};
use crate::RefData;

/// Parses an `agreements` field (see the module docs). Does not check that origins are in the
/// countries table; the caller does.
pub fn parse_agreements(text: &str) -> Result<Vec<AgreementRate>, String> {
    let mut out: Vec<AgreementRate> = Vec::new();
    let mut pairs = HashSet::new();
    for entry in text.split(';').map(str::trim).filter(|e| !e.is_empty()) {
        let (name, rest) = entry
            .split_once(':')
            .ok_or_else(|| format!("{entry:?}: an entry is AGREEMENT:ORIGIN ...=RATE"))?;
        let name = name.trim();
        if name.is_empty()
            || name.len() > 16
            || !name
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(format!(
                "{name:?}: an agreement name is 1-16 capitals, digits or '-'"
            ));
        }
        let (origins, rate) = rest
            .split_once('=')
            .ok_or_else(|| format!("{entry:?}: an entry is AGREEMENT:ORIGIN ...=RATE"))?;
        let rate = DutyRate::from_str(rate).map_err(|e| format!("{entry:?}: {e}"))?;
        let mut codes = Vec::new();
        for o in origins.split_whitespace() {
            let c = CountryCode::parse(o).map_err(|e| format!("{entry:?}: origin {o:?}: {e}"))?;
            if !pairs.insert((name.to_string(), c)) {
                return Err(format!("{entry:?}: {name} lists origin {c} twice"));
            }
            codes.push(c);
        }
        if codes.is_empty() {
            return Err(format!("{entry:?}: no origin before '='"));
        }
        out.push(AgreementRate {
            agreement: name.to_string(),
            origins: codes,
            rate,
        });
    }
    Ok(out)
}

/// Writes agreements back in the file syntax (the inverse of [`parse_agreements`]).
pub fn format_agreements(agreements: &[AgreementRate]) -> String {
    agreements
        .iter()
        .map(|a| {
            let origins: Vec<&str> = a.origins.iter().map(|c| c.as_str()).collect();
            format!("{}:{}={}", a.agreement, origins.join(" "), a.rate)
        })
        .collect::<Vec<_>>()
        .join(";")
}

fn ad_valorem(s: &str) -> Result<Decimal, String> {
    match DutyRate::from_str(s) {
        Ok(DutyRate::AdValorem(r)) if r <= Decimal::ONE => Ok(r),
        Ok(DutyRate::AdValorem(_)) => Err("must not exceed 100%".into()),
        Ok(_) => Err("must be a percentage such as 13%".into()),
        Err(e) => Err(e.to_string()),
    }
}

fn licence(s: &str) -> Result<String, &'static str> {
    if s.len() <= 8 && s.bytes().all(|b| b.is_ascii_alphanumeric()) {
        Ok(s.to_string())
    } else {
        Err("document codes are letters or digits, one character each, at most 8")
    }
}

fn rate_units(rate: &DutyRate) -> Option<UnitCode> {
    rate.specific().map(|s| s.unit)
}

fn tax_units(rate: &ConsumptionTaxRate) -> Vec<UnitCode> {
    match rate {
        ConsumptionTaxRate::Flat(r) => rate_units(r).into_iter().collect(),
        ConsumptionTaxRate::Tiered {
            at_or_above, below, ..
        } => rate_units(at_or_above)
            .into_iter()
            .chain(rate_units(below))
            .collect(),
    }
}

pub(crate) fn parse(
    data: &RefData,
    file: &CsvFile,
    p: &mut Problems,
) -> BTreeMap<HsCode, Vec<TariffLine>> {
    let mut out: BTreeMap<HsCode, Vec<(u64, TariffLine)>> = BTreeMap::new();
    for r in file.records() {
        let line = r.line;
        let code = p.field(&r, "commodity_code", HsCode::parse);
        let description_zh = p.name(&r, "description_zh", true);
        let description_en = p.name(&r, "description_en", false);
        let unit_in_table = |s: &str| {
            let u = UnitCode::parse(s).map_err(|e| e.to_string())?;
            if data.units.contains_key(&u) {
                Ok(u)
            } else {
                Err("not in the units table".to_string())
            }
        };
        let first_unit = p.field(&r, "first_unit", unit_in_table);
        let second_unit = p.optional(&r, "second_unit", unit_in_table);
        let mfn = p.field(&r, "mfn", DutyRate::from_str);
        let general = p.field(&r, "general", DutyRate::from_str);
        let agreements = p.optional(&r, "agreements", parse_agreements);
        let provisional = p.optional(&r, "provisional", DutyRate::from_str);
        let vat_rate = p.field(&r, "vat_rate", ad_valorem);
        let consumption_tax = p.optional(&r, "consumption_tax", ConsumptionTaxRate::from_str);
        let export_duty = p.optional(&r, "export_duty", ad_valorem);
        let licence = p.optional(&r, "licence", licence);
        let valid_from = p.field(&r, "valid_from", parse_date);
        let valid_to = p.optional(&r, "valid_to", parse_date);

        // Specific rates must be in a legal unit of the line, or the quantity to tax is unknown.
        if let (Some(first), Some(second)) = (first_unit, second_unit) {
            if second == Some(first) {
                p.add(line, "second_unit", "same as first_unit");
            }
            let legal = |u: UnitCode| u == first || second == Some(u);
            let mut check = |column: &str, units: Vec<UnitCode>| {
                for u in units {
                    if !legal(u) {
                        p.add(
                            line,
                            column,
                            format!(
                                "specific rate in unit {u}, which is not a legal unit of the line"
                            ),
                        );
                    }
                }
            };
            for (column, rate) in [("mfn", &mfn), ("general", &general)] {
                check(
                    column,
                    rate.as_ref().and_then(rate_units).into_iter().collect(),
                );
            }
            if let Some(Some(rate)) = &provisional {
                check("provisional", rate_units(rate).into_iter().collect());
            }
            if let Some(Some(rate)) = &consumption_tax {
                check("consumption_tax", tax_units(rate));
            }
            if let Some(Some(list)) = &agreements {
                check(
                    "agreements",
                    list.iter().filter_map(|a| rate_units(&a.rate)).collect(),
                );
            }
        }
        if let Some(Some(list)) = &agreements {
            for a in list {
                for o in &a.origins {
                    if !data.country_by_alpha.contains_key(o) {
                        p.add(
                            line,
                            "agreements",
                            format!("origin {o} is not in the countries table"),
                        );
                    }
                }
            }
        }
        if let (Some(from), Some(Some(to))) = (valid_from, valid_to) {
            if to < from {
                p.add(line, "valid_to", "before valid_from");
            }
        }
        let (
            Some(commodity_code),
            Some(first_unit),
            Some(second_unit),
            Some(mfn),
            Some(general),
            Some(agreements),
            Some(provisional),
            Some(vat_rate),
            Some(consumption_tax),
            Some(export_duty),
            Some(licence),
            Some(valid_from),
            Some(valid_to),
        ) = (
            code,
            first_unit,
            second_unit,
            mfn,
            general,
            agreements,
            provisional,
            vat_rate,
            consumption_tax,
            export_duty,
            licence,
            valid_from,
            valid_to,
        )
        else {
            continue;
        };
        out.entry(commodity_code).or_default().push((
            line,
            TariffLine {
                commodity_code,
                description_zh,
                description_en,
                first_unit,
                second_unit,
                mfn,
                general,
                agreements: agreements.unwrap_or_default(),
                provisional,
                vat_rate,
                consumption_tax,
                export_duty,
                licence,
                valid_from,
                valid_to,
            },
        ));
    }
    // Versions of one code must not overlap, so that one date finds at most one line.
    let mut tariff = BTreeMap::new();
    for (code, mut versions) in out {
        versions.sort_by_key(|(_, l)| l.valid_from);
        for pair in versions.windows(2) {
            let (line_a, earlier) = &pair[0];
            let (line_b, later) = &pair[1];
            if earlier.valid_to.is_none_or(|to| to >= later.valid_from) {
                // Report the row that comes later in the file, naming the one it collides with.
                let (line, other) = if line_a > line_b {
                    (*line_a, *line_b)
                } else {
                    (*line_b, *line_a)
                };
                p.add(
                    line,
                    "valid_from",
                    format!("{code}: validity overlaps the version on line {other}"),
                );
            }
        }
        tariff.insert(code, versions.into_iter().map(|(_, l)| l).collect());
    }
    tariff
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agreements_round_trip() {
        let text = "ASEAN:SGP MYS THA=0%;RCEP:JPN KOR=5%;CN-CH:CHE=2%+1.5/035";
        let parsed = parse_agreements(text).unwrap();
        assert_eq!(parsed.len(), 3);
        assert_eq!(parsed[0].origins.len(), 3);
        assert_eq!(format_agreements(&parsed), text);
        assert!(parse_agreements("").unwrap().is_empty());
    }

    #[test]
    fn bad_agreements_are_refused() {
        for text in [
            "ASEAN SGP=0%",
            "ASEAN:SGP",
            "asean:SGP=0%",
            "ASEAN:=0%",
            "ASEAN:SG=0%",
            "ASEAN:SGP=0",
            "ASEAN:SGP SGP=0%",
            "ASEAN:SGP=0%;ASEAN:SGP=1%",
            "A-VERY-LONG-AGREEMENT-NAME:SGP=0%",
        ] {
            assert!(parse_agreements(text).is_err(), "{text}");
        }
    }
}
