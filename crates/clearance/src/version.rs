//! Versions of a declaration (issue 14 item 1): the filing is version 1; an amendment approved
//! after acceptance, or an officer's correction from a review or an inspection finding, makes
//! the next version. Pure: the caller keeps every version and gives the time.
//!
//! - [`check_amendment`]: at the request, the changes name real fields of the JSON form
//!   ([`domain::form_path`]) and none of the fields that may not change ([`FROZEN_FIELDS`]);
//!   every problem at once, in Chinese and English.
//! - [`next_version`]: applies the changes to the current version's form, refuses a change that
//!   changes nothing, keeps an officer's correction to the fields of its kind
//!   ([`CorrectionKind`]), and validates the result **in full like a filing** (every problem at
//!   once); answers the new [`DeclarationVersion`] (with its [`FieldDifference`]s for display)
//!   and the typed declaration to re-assess.
//!
//! Here, in the lifecycle crate, because a version is a step of the declaration's life (who,
//! when, why); the path schema itself is the form's and lives beside it in `domain`.

use chrono::{DateTime, NaiveDate, Utc};
use domain::money::Fen;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use domain::declaration::{Declaration, DeclarationForm};
use domain::form_path::{self, FieldDifference};
use domain::problem::{Problem, Problems};
use domain::reference::Reference;
use domain::validate::validate;

use crate::model::{Actor, FieldChange, PaymentNotice, TaxKind};

/// Fields no amendment or correction may change, as path patterns, with their names: the
/// direction and the office of declaration (both are part of the 18-digit declaration number,
/// which is not a field of the form and cannot change either), the domestic consignee/consignor
/// and the declaring agent (who declared), and the item numbers (lines are changed, never
/// renumbered). A policy of Jinguan (docs/TAX.md, "Declaration versions").
pub const FROZEN_FIELDS: &[(&str, &str, &str)] = &[
    ("direction", "进出口标志", "direction"),
    ("declaration_office", "申报地海关", "office of declaration"),
    (
        "trader.uscc",
        "境内收发货人统一社会信用代码",
        "domestic consignee/consignor's USCC",
    ),
    (
        "trader.customs_code",
        "境内收发货人海关编码",
        "domestic consignee/consignor's customs code",
    ),
    (
        "agent.uscc",
        "申报单位统一社会信用代码",
        "declaring agent's USCC",
    ),
    (
        "agent.customs_code",
        "申报单位海关编码",
        "declaring agent's customs code",
    ),
    ("items[*].item_no", "项号", "item number"),
];

/// The fields whose change makes risk look at a declaration again by default (issue 14: "risk
/// is re-evaluated where the policy says so"): what the rules select on — commodity, origin,
/// price, quantities, weights, trade mode, parties abroad, route. A policy; the caller may
/// pass its own list to [`touches`].
pub const RISK_RELEVANT_FIELDS: &[&str] = &[
    "items[*].commodity_code",
    "items[*].origin_country",
    "items[*].unit_price",
    "items[*].total_price",
    "items[*].declared_quantity",
    "items[*].first_quantity",
    "items[*].second_quantity",
    "gross_weight_kg",
    "net_weight_kg",
    "trade_mode",
    "overseas_party.code",
    "overseas_party.name",
    "vessel",
    "transport_mode",
    "dispatch_country",
    "trading_country",
];

/// Whether a version's differences touch any of `patterns` (`items[*].unit_price` style).
pub fn touches(changes: &[FieldDifference], patterns: &[&str]) -> bool {
    changes.iter().any(|c| {
        let mut pattern = String::with_capacity(c.path.len());
        let mut in_index = false;
        for ch in c.path.chars() {
            match ch {
                '[' => {
                    in_index = true;
                    pattern.push_str("[*]");
                }
                ']' => in_index = false,
                _ if in_index => {}
                _ => pattern.push(ch),
            }
        }
        patterns.contains(&pattern.as_str())
    })
}

/// What an officer's correction is about; each kind may change only its own fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CorrectionKind {
    /// 完税价格: price, charges, transaction terms.
    CustomsValue,
    /// 商品归类: commodity code and the legal units and quantities it brings.
    Classification,
    /// 原产地.
    Origin,
    /// 数量: quantities, weights, packages (and the total price they multiply).
    Quantity,
}

impl CorrectionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CorrectionKind::CustomsValue => "customs_value",
            CorrectionKind::Classification => "classification",
            CorrectionKind::Origin => "origin",
            CorrectionKind::Quantity => "quantity",
        }
    }

    pub fn name_zh(self) -> &'static str {
        match self {
            CorrectionKind::CustomsValue => "完税价格",
            CorrectionKind::Classification => "商品归类",
            CorrectionKind::Origin => "原产地",
            CorrectionKind::Quantity => "数量",
        }
    }

    /// The path patterns this kind may change.
    pub fn fields(self) -> &'static [&'static str] {
        match self {
            CorrectionKind::CustomsValue => &[
                "items[*].unit_price",
                "items[*].total_price",
                "items[*].currency",
                "transaction_terms",
                "freight.mark",
                "freight.value",
                "freight.currency",
                "insurance.mark",
                "insurance.value",
                "insurance.currency",
                "other_charges.mark",
                "other_charges.value",
                "other_charges.currency",
            ],
            CorrectionKind::Classification => &[
                "items[*].commodity_code",
                "items[*].first_unit",
                "items[*].first_quantity",
                "items[*].second_unit",
                "items[*].second_quantity",
            ],
            CorrectionKind::Origin => &["items[*].origin_country"],
            CorrectionKind::Quantity => &[
                "items[*].declared_quantity",
                "items[*].first_quantity",
                "items[*].second_quantity",
                "items[*].total_price",
                "gross_weight_kg",
                "net_weight_kg",
                "packages",
            ],
        }
    }
}

/// Where a version came from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "source", rename_all = "snake_case")]
pub enum VersionSource {
    Filing,
    /// An amendment the filer requested and an officer approved.
    Amendment {
        requested_by: Actor,
        approved_by: Actor,
        reason: String,
    },
    /// An officer's correction from a review or an inspection finding.
    OfficerCorrection {
        officer: Actor,
        kind: CorrectionKind,
        reason: String,
    },
}

/// One version of a declaration's form. Versions are never changed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DeclarationVersion {
    /// 1 for the filing.
    pub version: u32,
    pub form: DeclarationForm,
    pub source: VersionSource,
    pub at: DateTime<Utc>,
    /// What changed from the previous version (empty for the filing).
    pub changes: Vec<FieldDifference>,
}

impl DeclarationVersion {
    /// The filing as version 1.
    pub fn filing(form: DeclarationForm, at: DateTime<Utc>) -> DeclarationVersion {
        DeclarationVersion {
            version: 1,
            form,
            source: VersionSource::Filing,
            at,
            changes: Vec::new(),
        }
    }
}

fn frozen(pattern: &str) -> Option<&'static (&'static str, &'static str, &'static str)> {
    FROZEN_FIELDS.iter().find(|(p, _, _)| *p == pattern)
}

/// Check an amendment request against `form`: every path real, none frozen, at least one
/// change. Every problem at once.
pub fn check_amendment(form: &DeclarationForm, changes: &[FieldChange]) -> Result<(), Problems> {
    let mut problems = Problems::default();
    if changes.is_empty() {
        problems.push(Problem::new(
            "",
            "no_change",
            "修改申请未列出任何字段",
            "the amendment names no field",
        ));
    }
    for c in changes {
        match form_path::parse_path(&c.field, form) {
            Err(p) => problems.push(p),
            Ok(path) => {
                if let Some((_, zh, en)) = frozen(&path.pattern()) {
                    problems.push(Problem::new(
                        c.field.clone(),
                        "field_not_amendable",
                        format!("{zh}（{}）不允许修改", c.field),
                        format!("the {en} (`{}`) may not be changed", c.field),
                    ));
                }
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

fn correction_scope(
    kind: CorrectionKind,
    form: &DeclarationForm,
    changes: &[FieldChange],
) -> Problems {
    let mut problems = Problems::default();
    for c in changes {
        if let Ok(path) = form_path::parse_path(&c.field, form) {
            if !kind.fields().contains(&path.pattern().as_str()) {
                problems.push(Problem::new(
                    c.field.clone(),
                    "outside_correction_kind",
                    format!("{}更正不能修改“{}”", kind.name_zh(), c.field),
                    format!(
                        "a {} correction may not change `{}`",
                        kind.as_str(),
                        c.field
                    ),
                ));
            }
        }
    }
    problems
}

/// The next version of `current` with `changes` (values as text, as the amendment request
/// carries them; an empty text clears the field), or every problem at once.
pub fn next_version(
    current: &DeclarationVersion,
    changes: &[FieldChange],
    source: VersionSource,
    at: DateTime<Utc>,
    reference: &dyn Reference,
) -> Result<(DeclarationVersion, Declaration), Problems> {
    let mut problems = match check_amendment(&current.form, changes) {
        Ok(()) => Problems::default(),
        Err(p) => p,
    };
    match &source {
        VersionSource::Filing => problems.push(Problem::new(
            "",
            "not_a_new_version",
            "申报不是新版本的来源",
            "a filing is not the source of a new version",
        )),
        VersionSource::Amendment {
            approved_by,
            reason,
            ..
        } => {
            if !matches!(approved_by, Actor::Officer { .. }) {
                problems.push(Problem::new(
                    "",
                    "approval_by_officer",
                    "修改须经海关关员批准",
                    "an amendment must be approved by a customs officer",
                ));
            }
            if reason.trim().is_empty() {
                problems.push(reason_missing());
            }
        }
        VersionSource::OfficerCorrection {
            officer,
            kind,
            reason,
        } => {
            if !matches!(officer, Actor::Officer { .. }) {
                problems.push(Problem::new(
                    "",
                    "correction_by_officer",
                    "只有海关关员可以更正报关单",
                    "only a customs officer may correct a declaration",
                ));
            }
            if reason.trim().is_empty() {
                problems.push(reason_missing());
            }
            problems.extend(correction_scope(*kind, &current.form, changes));
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let values: Vec<(String, Value)> = changes
        .iter()
        .map(|c| {
            let v = if c.value.is_empty() {
                Value::Null
            } else {
                Value::String(c.value.clone())
            };
            (c.field.clone(), v)
        })
        .collect();
    let form = form_path::apply(&current.form, &values)?;
    let differences = form_path::diff(&current.form, &form);
    if differences.is_empty() {
        return Err(Problems::from_vec(vec![Problem::new(
            "",
            "no_change",
            "修改后的报关单与当前版本相同",
            "the changes leave the declaration as it is",
        )]));
    }
    let declaration = validate(&form, reference)?;
    let version = current
        .version
        .checked_add(1)
        .expect("fewer than 4 billion versions");
    Ok((
        DeclarationVersion {
            version,
            form,
            source,
            at,
            changes: differences,
        },
        declaration,
    ))
}

fn reason_missing() -> Problem {
    Problem::new(
        "reason",
        "reason_required",
        "须说明理由",
        "a reason is required",
    )
}

impl CorrectionKind {
    pub fn parse(s: &str) -> Option<CorrectionKind> {
        [
            CorrectionKind::CustomsValue,
            CorrectionKind::Classification,
            CorrectionKind::Origin,
            CorrectionKind::Quantity,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

// ---------------------------------------------------------------------------------------------
// The recorded version and its re-assessment (the `Versioned` event)

/// A new version as recorded: who, when (the event's time), why (the source), what changed, the
/// typed declaration it makes current, what risk said of it, and its re-assessment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionRecord {
    /// 2 for the first amendment or correction.
    pub version: u32,
    pub source: VersionSource,
    pub changes: Vec<FieldDifference>,
    /// The typed declaration of this version (JSON); the store makes it the current body.
    pub declaration: Value,
    /// Whether the changes touch a field of [`RISK_RELEVANT_FIELDS`].
    #[serde(default)]
    pub risk_relevant: bool,
    /// Officers only: risk's re-evaluation of this version (lane and reasons), when relevant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub risk: Option<Value>,
    /// `None` while no notice was issued: the later assessment uses this version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reassessment: Option<Reassessment>,
}

/// What one re-assessment decided, per tax kind, and what it issues.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reassessment {
    /// The China day of the decision.
    pub decided_on: NaiveDate,
    pub lines: Vec<CollectionLine>,
    /// New notices (same table as ordinary notices).
    pub notices: Vec<CollectedNotice>,
    /// Unpaid notices this re-assessment replaces (their amount is in the new notices).
    pub superseded: Vec<String>,
    pub refunds: Vec<RefundRecord>,
    /// Refunds of earlier versions still open or requested that this re-assessment replaces
    /// (they are never approved; what remains to refund is in `refunds`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub superseded_refunds: Vec<String>,
}

/// How one tax kind came out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    NoChange,
    /// Not collected yet (nothing paid, goods not released): the unpaid notice is replaced by
    /// one of the new amount; no period applies.
    Reissued,
    /// 补征.
    Supplementary,
    /// 追征 (with a surcharge notice of its own).
    Recovery,
    /// Paid in excess: a refund record.
    Refund,
    /// The period ran out: nothing is levied or refunded.
    TimeBarred,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CollectionLine {
    pub tax: TaxKind,
    pub paid_fen: Fen,
    /// Refunds of the kind already approved (they reduce what was paid).
    #[serde(default)]
    pub refunded_fen: Fen,
    pub unpaid_fen: Fen,
    pub due_fen: Fen,
    pub outcome: Outcome,
    /// The amount levied, refunded or time-barred (zero for no change).
    pub amount_fen: Fen,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_day: Option<NaiveDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basis: Option<Basis>,
}

/// The legal basis of a decision, as the dated policy table gives it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Basis {
    pub rule: String,
    pub basis_zh: String,
    pub basis_en: String,
    pub source: String,
    pub verified: bool,
}

/// A notice a re-assessment issues, with why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CollectedNotice {
    pub notice: PaymentNotice,
    pub outcome: Outcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basis: Option<Basis>,
    /// For a recovery surcharge: the days counted and the daily rate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub surcharge_days: Option<i64>,
    /// A replacement carrying over what superseded unpaid notices owed keeps their issue time
    /// (so their due date and late surcharge run on); otherwise issued at the version's time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issued_at: Option<DateTime<Utc>>,
}

/// Who found the excess (decides period and interest).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefundOrigin {
    /// Customs found it (an officer's correction): refunded without request, period or interest.
    CustomsFound,
    /// The taxpayer's own amendment: refunded on request within the period, with interest.
    Taxpayer,
}

/// A refund re-assessment found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundRecord {
    /// `<declaration no>-<tax>-R<version>`.
    pub refund_no: String,
    pub tax: TaxKind,
    pub amount_fen: Fen,
    /// The day the tax was paid: the period and the interest run from it.
    pub paid_on: NaiveDate,
    pub origin: RefundOrigin,
    /// The last day of the request period (taxpayer refunds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_day: Option<NaiveDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basis: Option<Basis>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefundStatus {
    /// Found; waits for the enterprise's request (taxpayer) or a tax officer (customs-found).
    Open,
    Requested,
    Approved,
    Refused,
    /// Replaced by a later version's re-assessment before it was decided.
    Superseded,
}

impl RefundStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RefundStatus::Open => "open",
            RefundStatus::Requested => "requested",
            RefundStatus::Approved => "approved",
            RefundStatus::Refused => "refused",
            RefundStatus::Superseded => "superseded",
        }
    }
}

/// A refund and where it stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundState {
    pub record: RefundRecord,
    pub status: RefundStatus,
    pub found_at: DateTime<Utc>,
    #[serde(default)]
    pub requested_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub decided_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub decided_by: Option<Actor>,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub interest_days: i64,
    #[serde(default)]
    pub interest_fen: Fen,
}
