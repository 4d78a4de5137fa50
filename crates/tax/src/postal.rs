//! Personal postal articles and baggage 行邮税: one rate per category on the dutiable value, the
//! tax of a parcel (or a passenger's declaration) at or below ¥50 not collected.
//!
//! Categories (from 2019-04-09): 1 — 13 % (books, food, medicines, computers ...), 2 — 20 %
//! (textiles, electrical appliances, bicycles ...), 3 — 50 % (tobacco, alcohol, jewellery,
//! cosmetics ...). The rates are [`TaxPolicy::postal_rates`].

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use domain::codes::Direction;

use crate::assessment::{Assessment, ItemAssessment, ItemTax, MeasureApplied, Regime, TaxKind};
use crate::engine::{check_invariants, mul, notices, round, step, sum_fen};
use crate::error::TaxError;
use crate::policy::TaxPolicy;

/// One article of a parcel or of a passenger's baggage.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostalArticle {
    pub description: String,
    /// Tax category 1, 2 or 3.
    pub category: u8,
    /// The dutiable value in yuan (the value customs set for the article, or the price paid).
    pub dutiable_value_yuan: Decimal,
    pub quantity: Decimal,
}

/// The postal articles tax of one parcel or one passenger's declaration.
pub fn assess_postal(
    articles: &[PostalArticle],
    date: NaiveDate,
    policy: &TaxPolicy,
) -> Result<Assessment, TaxError> {
    let mut items = Vec::with_capacity(articles.len());
    for (index, article) in articles.iter().enumerate() {
        let rate =
            *policy
                .postal_rates
                .get(&article.category)
                .ok_or(TaxError::UnknownPostalCategory {
                    index,
                    category: article.category,
                })?;
        if article.dutiable_value_yuan.is_sign_negative() || article.quantity.is_sign_negative() {
            return Err(TaxError::Negative {
                what: "postal article value or quantity",
                value: article.dutiable_value_yuan.to_string(),
            });
        }
        let value = mul(
            article.dutiable_value_yuan,
            article.quantity,
            "postal value",
        )?;
        let value_fen = round(value, "postal value")?;
        let exact = value_fen.to_yuan() * rate;
        let tax = round(exact, "postal tax")?;
        let item_no = u16::try_from(index + 1).unwrap_or(u16::MAX);
        items.push(ItemAssessment {
            item_no,
            commodity_code: None,
            name: article.description.clone(),
            origin: None,
            duty_treatment: None,
            customs_value_fen: value_fen,
            measures: vec![MeasureApplied {
                kind: TaxKind::PostalArticlesTax,
                measure: format!("postal_category_{}", article.category),
                rate: format!("{}%", (rate * Decimal::ONE_HUNDRED).normalize()),
                reason: format!(
                    "postal articles category {} / 行邮税第{}类",
                    article.category, article.category
                ),
            }],
            steps: vec![
                step(
                    "postal.value",
                    "完税价格",
                    "dutiable value × quantity",
                    format!(
                        "{} × {} = {}",
                        article.dutiable_value_yuan.normalize(),
                        article.quantity.normalize(),
                        value.normalize()
                    ),
                    value,
                    Some(value_fen),
                ),
                step(
                    "postal.tax",
                    "行邮税",
                    "postal articles tax: value × category rate",
                    format!("{value_fen} × {} = {}", rate.normalize(), exact.normalize()),
                    exact,
                    Some(tax),
                ),
            ],
            taxes: vec![ItemTax {
                kind: TaxKind::PostalArticlesTax,
                statutory_fen: tax,
                payable_fen: tax,
            }],
        });
    }
    let notices = notices(&items, policy.postal_de_minimis_fen, true)?;
    let customs_value_total_fen = sum_fen(
        items.iter().map(|i| i.customs_value_fen),
        "total customs value",
    )?;
    let total_payable_fen = sum_fen(notices.iter().map(|n| n.payable_fen), "total payable")?;
    let assessment = Assessment {
        direction: Direction::Import,
        regime: Regime::PostalArticles,
        declaration_date: date,
        tax_date: date,
        transaction_terms: None,
        exchange_rates: Vec::new(),
        header_steps: Vec::new(),
        customs_value_total_fen,
        total_payable_fen,
        items,
        notices,
        notes: Vec::new(),
    };
    check_invariants(&assessment);
    Ok(assessment)
}
