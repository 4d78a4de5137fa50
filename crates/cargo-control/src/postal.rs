//! Postal parcels and passengers' baggage (docs/DOMAIN.md §6, §4 personal articles): parcel lists
//! filed by postal operators and baggage declarations filed by passengers, each parcel or
//! declaration taxed with `tax::assess_postal` (13 / 20 / 50 %, tax ≤ ¥50 not collected),
//! screened through the [`PostalRiskScreen`] seam, then released or held.
//!
//! Pure: the date is an argument; the risk engine (crates/risk) implements the trait.

use chrono::NaiveDate;
use domain::codes::{OfficeCode, Uscc};
use domain::money::Fen;
use serde::{Deserialize, Serialize};
use tax::{Assessment, PostalArticle, TaxPolicy};

use crate::model::{ARTICLES_MAX, PARCELS_MAX, TEXT_MAX};
use crate::refusal::{at_most, text, Refusal};

/// One parcel of a parcel list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Parcel {
    pub parcel_no: String,
    /// Country of dispatch, as text (ISO alpha-3 expected; the risk screen reads it).
    pub dispatch_country: String,
    /// The addressee's id as the operator gives it (hashed: no names in clear).
    pub addressee_id: String,
    pub articles: Vec<PostalArticle>,
}

/// A parcel list 邮件清单 from a postal operator.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParcelList {
    pub list_no: String,
    pub operator: Uscc,
    pub office: OfficeCode,
    pub parcels: Vec<Parcel>,
}

/// A passenger's baggage declaration 旅客行李申报.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BaggageDeclaration {
    pub declaration_ref: String,
    pub passenger_id: String,
    /// Flight, voyage or train the passenger arrived by.
    pub arrived_by: String,
    pub office: OfficeCode,
    pub articles: Vec<PostalArticle>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PostalKind {
    Parcel,
    Baggage,
}

/// What the risk screen sees of one parcel or declaration.
#[derive(Clone, Copy, Debug)]
pub struct PostalItem<'a> {
    pub kind: PostalKind,
    /// Parcel number or baggage declaration reference.
    pub reference: &'a str,
    pub office: OfficeCode,
    /// Country of dispatch (parcels) or the trip arrived by (baggage).
    pub origin: &'a str,
    pub articles: &'a [PostalArticle],
    pub value_fen: Fen,
}

/// Why an item is held: a stable code and messages in both languages.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HoldReason {
    pub code: String,
    pub message_zh: String,
    pub message_en: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "screening", rename_all = "snake_case")]
pub enum Screening {
    Clear,
    Hold { reasons: Vec<HoldReason> },
}

/// The seam the risk engine fills: screen one parcel or baggage declaration.
pub trait PostalRiskScreen {
    fn screen(&self, item: &PostalItem<'_>) -> Screening;
}

/// No screening: every item is clear. The placeholder until crates/risk implements the trait.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoScreening;

impl PostalRiskScreen for NoScreening {
    fn screen(&self, _item: &PostalItem<'_>) -> Screening {
        Screening::Clear
    }
}

/// Postal rules that docs/DOMAIN.md leaves open (docs/CARGO.md).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostalPolicy {
    /// A parcel of several articles worth more than this is held (return it or declare it as
    /// goods); a single indivisible article may exceed it. ¥1,000 by default.
    pub parcel_value_limit_fen: Fen,
}

impl Default for PostalPolicy {
    fn default() -> Self {
        PostalPolicy {
            parcel_value_limit_fen: Fen::yuan(1_000),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum PostalOutcome {
    /// May be delivered; the payable tax (possibly 0) is collected on delivery or at the counter.
    Released,
    Held {
        reasons: Vec<HoldReason>,
    },
}

/// The decision on one parcel or baggage declaration.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PostalDecision {
    pub kind: PostalKind,
    pub reference: String,
    pub value_fen: Fen,
    /// The tax computed before the ¥50 rule.
    pub tax_fen: Fen,
    /// What is collected: 0 when the tax is ¥50 or less.
    pub payable_fen: Fen,
    pub assessment: Assessment,
    pub outcome: PostalOutcome,
}

/// Tax, screen and decide one parcel.
pub fn clear_parcel(
    parcel: &Parcel,
    office: OfficeCode,
    date: NaiveDate,
    tax_policy: &TaxPolicy,
    policy: &PostalPolicy,
    screen: &dyn PostalRiskScreen,
) -> Result<PostalDecision, Refusal> {
    text("parcel_no", &parcel.parcel_no, 64)?;
    text("addressee_id", &parcel.addressee_id, 128)?;
    clear(
        PostalKind::Parcel,
        &parcel.parcel_no,
        office,
        &parcel.dispatch_country,
        &parcel.articles,
        date,
        tax_policy,
        Some(policy.parcel_value_limit_fen),
        screen,
    )
}

/// Every parcel of a list, each decided separately (one parcel held does not hold the others).
pub fn clear_parcel_list(
    list: &ParcelList,
    date: NaiveDate,
    tax_policy: &TaxPolicy,
    policy: &PostalPolicy,
    screen: &dyn PostalRiskScreen,
) -> Result<Vec<PostalDecision>, Refusal> {
    text("list_no", &list.list_no, 64)?;
    if list.parcels.is_empty() {
        return Err(Refusal::Missing { field: "parcels" });
    }
    at_most("parcels", &list.parcels, PARCELS_MAX)?;
    list.parcels
        .iter()
        .map(|p| clear_parcel(p, list.office, date, tax_policy, policy, screen))
        .collect()
}

/// Tax, screen and decide one passenger's baggage declaration. Documented choice: no duty-free
/// allowance is applied here (docs/CARGO.md); the caller lists only the dutiable articles.
pub fn clear_baggage(
    declaration: &BaggageDeclaration,
    date: NaiveDate,
    tax_policy: &TaxPolicy,
    screen: &dyn PostalRiskScreen,
) -> Result<PostalDecision, Refusal> {
    text("declaration_ref", &declaration.declaration_ref, 64)?;
    text("passenger_id", &declaration.passenger_id, 128)?;
    text("arrived_by", &declaration.arrived_by, 32)?;
    clear(
        PostalKind::Baggage,
        &declaration.declaration_ref,
        declaration.office,
        &declaration.arrived_by,
        &declaration.articles,
        date,
        tax_policy,
        None,
        screen,
    )
}

// The shared step; the public functions keep short signatures.
#[allow(clippy::too_many_arguments)]
fn clear(
    kind: PostalKind,
    reference: &str,
    office: OfficeCode,
    origin: &str,
    articles: &[PostalArticle],
    date: NaiveDate,
    tax_policy: &TaxPolicy,
    value_limit_fen: Option<Fen>,
    screen: &dyn PostalRiskScreen,
) -> Result<PostalDecision, Refusal> {
    if articles.is_empty() {
        return Err(Refusal::Missing { field: "articles" });
    }
    at_most("articles", articles, ARTICLES_MAX)?;
    for a in articles {
        text("description", &a.description, TEXT_MAX)?;
    }
    let assessment =
        tax::assess_postal(articles, date, tax_policy).map_err(|e| Refusal::PostalTax {
            message: e.to_string(),
        })?;
    let tax_fen: Fen = assessment
        .items
        .iter()
        .flat_map(|i| i.taxes.iter())
        .map(|t| t.statutory_fen)
        .sum();
    let value_fen = assessment.customs_value_total_fen;
    let mut reasons = Vec::new();
    if let Some(limit) = value_limit_fen {
        let pieces: rust_decimal::Decimal = articles.iter().map(|a| a.quantity).sum();
        if value_fen > limit && pieces > rust_decimal::Decimal::ONE {
            reasons.push(HoldReason {
                code: "over_value_limit".to_owned(),
                message_zh: format!("邮包价值{value_fen}元超过限值{limit}元，应退运或按货物报关"),
                message_en: format!(
                    "parcel value {value_fen} exceeds the limit of {limit}: return it or declare it as goods"
                ),
            });
        }
    }
    let item = PostalItem {
        kind,
        reference,
        office,
        origin,
        articles,
        value_fen,
    };
    match screen.screen(&item) {
        Screening::Clear => {}
        Screening::Hold { reasons: r } => reasons.extend(r),
    }
    Ok(PostalDecision {
        kind,
        reference: reference.to_owned(),
        value_fen,
        tax_fen,
        payable_fen: assessment.total_payable_fen,
        assessment,
        outcome: if reasons.is_empty() {
            PostalOutcome::Released
        } else {
            PostalOutcome::Held { reasons }
        },
    })
}
