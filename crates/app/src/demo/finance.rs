//! The demo's tax and foreign-exchange ledgers (docs/EPORT.md), with the E-Port ledgers on:
//! refund claims filed by `ent-sz` for its first closed exports (through the real use case,
//! so they are matched and verified), and receipts and payments recorded by the demo bank
//! (`bank-boc`) so that the foreign-exchange report has an enterprise in each class: `ent-sh`
//! paid nearly all its imports (A), `ent-sz` received three quarters of its exports (B),
//! `ent-sh2` paid well under half (C).

use std::collections::HashMap;

use domain::codes::{CurrencyCode, DeclarationNo};
use eport::forex::FundsKind;
use eport::refund::ClaimRequest;
use rust_decimal::Decimal;
use store::{DeclarationKey, ListFilter, PageRequest};

use crate::access::Principal;
use crate::error::AppError;
use crate::finance::{BankRecordRequest, PeriodQuery};
use crate::service::Clearance;

/// How many closed exports of `ent-sz` get a claim.
pub const DEMO_CLAIMS: usize = 2;

/// Share of each demo enterprise's goods the bank records as funds, in percent.
const FUNDS_PERCENT: [(usize, i64); 4] = [(0, 97), (1, 75), (2, 100), (3, 40)];

/// File the demo claims and record the demo bank records; does nothing when the ledgers are
/// off. Runs after the demo declarations (it needs closed exports and released goods).
pub fn load(svc: &Clearance, who: &HashMap<&str, Principal>) -> Result<(), AppError> {
    if !svc.eport || svc.store().finance_store().is_none() {
        return Ok(());
    }
    let sz = &who["ent-sz"];
    let closed = svc.store().list(
        &ListFilter {
            status: Some(clearance::Status::Closed),
            declarant: Some(
                domain::codes::Uscc::parse(super::ENTERPRISES[1].0).expect("demo USCCs are valid"),
            ),
            ..ListFilter::default()
        },
        &PageRequest {
            after: None,
            limit: 20,
        },
    )?;
    let mut claimed = 0;
    for s in closed.items {
        if claimed == DEMO_CLAIMS {
            break;
        }
        let Some(d) = svc.store().load(DeclarationKey::Id(s.id))? else {
            continue;
        };
        let Some(record) = svc.finance().export_record(&d) else {
            continue;
        };
        let Some(item) = record.items.first() else {
            continue;
        };
        let Some(fen) = item.fob_value_fen else {
            continue;
        };
        let req = ClaimRequest {
            declaration_no: record.declaration_no,
            item_no: item.item_no,
            hs_code: item.hs_code,
            quantity: item.quantity,
            fob_value_fen: fen,
        };
        match svc.finance().file_refund_claim(sz, req) {
            Ok(_) => claimed += 1,
            Err(AppError::Conflict { .. }) => {}
            Err(e) => return Err(e),
        }
    }

    // Funds as a share of each enterprise's goods, as the agency's report values them.
    let report = svc
        .finance()
        .forex_report(&who["safe"], PeriodQuery::default())?;
    let bank = &who["bank-boc"];
    let cny = CurrencyCode::parse("CNY").expect("CNY");
    let today = report.to;
    let mut n = 0;
    for (index, percent) in FUNDS_PERCENT {
        let uscc =
            domain::codes::Uscc::parse(super::ENTERPRISES[index].0).expect("demo USCCs are valid");
        let Some(line) = report.enterprises.iter().find(|l| l.matched.uscc == uscc) else {
            continue;
        };
        let f = line.matched.figures;
        for (kind, goods_fen) in [
            (FundsKind::Receipt, f.export_goods_fen),
            (FundsKind::Payment, f.import_goods_fen),
        ] {
            let fen = goods_fen.saturating_mul(percent) / 100;
            if fen <= 0 {
                continue;
            }
            // Two records each: the first 60 %, the rest later.
            let first = fen * 6 / 10;
            for (part, days_ago) in [(first, 20), (fen - first, 2)] {
                n += 1;
                let req = BankRecordRequest {
                    kind,
                    uscc,
                    amount: Decimal::new(part, 2),
                    currency: cny,
                    value_date: today - chrono::Duration::days(days_ago),
                    bank_ref: format!("BOC-DEMO-{n:04}"),
                    declaration_no: None::<DeclarationNo>,
                };
                match svc.finance().record_bank_record(bank, req) {
                    Ok(_) | Err(AppError::Conflict { .. }) => {}
                    Err(e) => return Err(e),
                }
            }
        }
    }
    Ok(())
}
