//! Why a command or a match was refused: a stable code for machines and a message in Chinese
//! and English, serialized as `{code, message_zh, message_en}` like `clearance::Refusal`.

use domain::codes::{DeclarationNo, Direction, OfficeCode};
use domain::money::Fen;
use rust_decimal::Decimal;
use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};
use thiserror::Error;

use crate::codes::{BillNo, ManifestId, TransitNo};

#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum Refusal {
    // --- who may act -------------------------------------------------------------------------
    #[error("a {} may not {}", domain::problem::user_kind_en(.actor), domain::problem::action_words(.action).1)]
    ActorNotPermitted {
        actor: &'static str,
        action: &'static str,
    },
    #[error("only the carrier that filed the manifest may {}", domain::problem::action_words(.action).1)]
    NotOwnManifest { action: &'static str },
    #[error(
        "an officer of office {actor_office} may not act on the work of office {target_office}"
    )]
    WrongOffice {
        actor_office: OfficeCode,
        target_office: OfficeCode,
    },
    #[error("cannot {} while it is {status}", domain::problem::action_words(.action).1)]
    NotAllowedInStatus {
        status: &'static str,
        status_zh: &'static str,
        action: &'static str,
    },
    #[error("{} does not apply to an {direction} manifest", domain::problem::action_words(.action).1)]
    WrongDirection {
        action: &'static str,
        direction: Direction,
    },

    // --- manifests ----------------------------------------------------------------------------
    #[error("manifest {manifest_id} is unknown")]
    UnknownManifest { manifest_id: ManifestId },
    #[error("manifest {manifest_id} already exists")]
    ManifestExists { manifest_id: ManifestId },
    #[error("a manifest may be filed as pre-load or original only; amendments, arrival and tally reports have their own commands")]
    NotAFilingKind,
    #[error("bill {bill_no} is listed twice")]
    DuplicateBill { bill_no: BillNo },
    #[error("bill {bill_no} is already on manifest {manifest_id}")]
    BillOnOtherManifest {
        bill_no: BillNo,
        manifest_id: ManifestId,
    },
    #[error("house bill {bill_no} names master bill {master}, which is not on the manifest")]
    UnknownMasterBill { bill_no: BillNo, master: BillNo },
    #[error("bill {bill_no} has no goods lines")]
    EmptyBill { bill_no: BillNo },
    #[error("bill {bill_no} cannot be removed or reduced below the {written_off} packages already declared")]
    AmendmentBelowDeclared { bill_no: BillNo, written_off: u64 },
    #[error("the tally report names bill {bill_no}, which is not on the manifest")]
    TallyUnknownBill { bill_no: BillNo },

    // --- matching and write-off ---------------------------------------------------------------
    #[error("bill {bill_no} is on no manifest")]
    BillUnknown { bill_no: BillNo },
    #[error("the manifest of bill {bill_no} ({manifest_id}) has no arrival report yet")]
    ManifestNotArrived {
        bill_no: BillNo,
        manifest_id: ManifestId,
    },
    #[error("the goods of bill {bill_no} have already left (departure confirmed)")]
    ManifestDeparted { bill_no: BillNo },
    #[error("bill {bill_no} is on an {manifest} manifest but the declaration is an {declaration} declaration")]
    DirectionMismatch {
        bill_no: BillNo,
        manifest: Direction,
        declaration: Direction,
    },
    #[error("bill {bill_no} is a master bill with house bills: declare the house bills")]
    MasterHasHouseBills { bill_no: BillNo },
    #[error("packages differ on bill {bill_no}: declared {declared}, manifest {expected}")]
    PackagesDiffer {
        bill_no: BillNo,
        declared: u64,
        expected: u64,
    },
    #[error("gross weight of bill {bill_no} beyond tolerance: declared {declared_kg} kg, expected {expected_kg} kg, allowed difference {allowed_kg} kg")]
    WeightBeyondTolerance {
        bill_no: BillNo,
        declared_kg: Decimal,
        expected_kg: Decimal,
        allowed_kg: Decimal,
    },
    #[error("bill {bill_no} is already written off")]
    AlreadyWrittenOff { bill_no: BillNo },
    #[error("declaration {declaration_no} has already been matched to bill {bill_no}")]
    DuplicateDeclaration {
        bill_no: BillNo,
        declaration_no: DeclarationNo,
    },
    #[error("declaration {declaration_no} is not matched to bill {bill_no}")]
    DeclarationNotMatched {
        bill_no: BillNo,
        declaration_no: DeclarationNo,
    },
    #[error("the declaration does not agree with its bill: {}", join_en(.reasons))]
    Mismatch { reasons: Vec<Refusal> },
    #[error("bill number {found:?} is not valid: {why}")]
    InvalidBillNo { found: String, why: String },

    // --- transit ------------------------------------------------------------------------------
    #[error("the office of destination must differ from the office of entry ({office})")]
    SameOffice { office: OfficeCode },
    #[error("the time limit must be between 1 and {max_hours} hours")]
    TimeLimitOutOfRange { max_hours: i64 },
    #[error("seal {seal} is listed twice")]
    DuplicateSeal { seal: String },
    #[error("the guarantee of {amount_fen} is short of the estimated duties and taxes of {estimate_fen} on goods worth {goods_value_fen}")]
    GuaranteeShort {
        amount_fen: Fen,
        estimate_fen: Fen,
        goods_value_fen: Fen,
    },
    #[error("bill {bill_no} arrived at office {manifest_office}, not at the office of entry {entry_office} of the transit")]
    TransitBillOtherOffice {
        bill_no: BillNo,
        manifest_office: OfficeCode,
        entry_office: OfficeCode,
    },
    #[error("bill {bill_no} is not among the bills carried by transit {transit_no}")]
    BillNotInTransit {
        bill_no: BillNo,
        transit_no: TransitNo,
    },
    #[error("bill {bill_no} is already declared ({packages} packages) at the office of entry")]
    BillAlreadyDeclared { bill_no: BillNo, packages: u64 },
    #[error("the goods of bill {bill_no} are under transit {transit_no} ({status}): they are declared at its office of destination once arrived")]
    BillInTransit {
        bill_no: BillNo,
        transit_no: TransitNo,
        status: &'static str,
        status_zh: &'static str,
    },
    #[error("the declaration was filed at office {declaration_office}, not at the office of destination {destination_office}")]
    DeclarationAtOtherOffice {
        declaration_office: OfficeCode,
        destination_office: OfficeCode,
    },

    // --- postal -------------------------------------------------------------------------------
    #[error("the postal tax could not be computed: {message}")]
    PostalTax { message: String },

    // --- shapes -------------------------------------------------------------------------------
    #[error("{field} must not be empty")]
    Missing { field: &'static str },
    #[error("{field} is longer than {max} characters")]
    TooLong { field: &'static str, max: usize },
    #[error("{field} has more than {max} entries")]
    TooMany { field: &'static str, max: usize },
    #[error("{field} must not be negative")]
    Negative { field: &'static str },
    #[error("{field} must be between 0 and {max}")]
    OutOfRange { field: &'static str, max: Decimal },
}

fn join_en(reasons: &[Refusal]) -> String {
    reasons
        .iter()
        .map(Refusal::message_en)
        .collect::<Vec<_>>()
        .join("; ")
}

impl Refusal {
    /// Every reason: the inner ones of a [`Refusal::Mismatch`], else the refusal itself.
    pub fn reasons(&self) -> Vec<&Refusal> {
        match self {
            Refusal::Mismatch { reasons } => reasons.iter().collect(),
            other => vec![other],
        }
    }

    /// The stable codes of [`Refusal::reasons`].
    pub fn reason_codes(&self) -> Vec<&'static str> {
        self.reasons().into_iter().map(Refusal::code).collect()
    }

    /// Stable, snake_case.
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::ActorNotPermitted { .. } => "actor_not_permitted",
            Refusal::NotOwnManifest { .. } => "not_own_manifest",
            Refusal::WrongOffice { .. } => "wrong_office",
            Refusal::NotAllowedInStatus { .. } => "not_allowed_in_status",
            Refusal::WrongDirection { .. } => "wrong_direction",
            Refusal::UnknownManifest { .. } => "unknown_manifest",
            Refusal::ManifestExists { .. } => "manifest_exists",
            Refusal::NotAFilingKind => "not_a_filing_kind",
            Refusal::DuplicateBill { .. } => "duplicate_bill",
            Refusal::BillOnOtherManifest { .. } => "bill_on_other_manifest",
            Refusal::UnknownMasterBill { .. } => "unknown_master_bill",
            Refusal::EmptyBill { .. } => "empty_bill",
            Refusal::AmendmentBelowDeclared { .. } => "amendment_below_declared",
            Refusal::TallyUnknownBill { .. } => "tally_unknown_bill",
            Refusal::BillUnknown { .. } => "bill_unknown",
            Refusal::ManifestNotArrived { .. } => "manifest_not_arrived",
            Refusal::ManifestDeparted { .. } => "manifest_departed",
            Refusal::DirectionMismatch { .. } => "direction_mismatch",
            Refusal::MasterHasHouseBills { .. } => "master_has_house_bills",
            Refusal::PackagesDiffer { .. } => "packages_differ",
            Refusal::WeightBeyondTolerance { .. } => "weight_beyond_tolerance",
            Refusal::AlreadyWrittenOff { .. } => "already_written_off",
            Refusal::DuplicateDeclaration { .. } => "duplicate_declaration",
            Refusal::DeclarationNotMatched { .. } => "declaration_not_matched",
            Refusal::Mismatch { .. } => "mismatch",
            Refusal::InvalidBillNo { .. } => "invalid_bill_no",
            Refusal::SameOffice { .. } => "same_office",
            Refusal::TimeLimitOutOfRange { .. } => "time_limit_out_of_range",
            Refusal::GuaranteeShort { .. } => "guarantee_short_of_estimate",
            Refusal::DuplicateSeal { .. } => "duplicate_seal",
            Refusal::TransitBillOtherOffice { .. } => "transit_bill_other_office",
            Refusal::BillNotInTransit { .. } => "bill_not_in_transit",
            Refusal::BillInTransit { .. } => "bill_in_transit",
            Refusal::BillAlreadyDeclared { .. } => "bill_already_declared",
            Refusal::DeclarationAtOtherOffice { .. } => "declaration_at_other_office",
            Refusal::PostalTax { .. } => "postal_tax",
            Refusal::Missing { .. } => "missing",
            Refusal::TooLong { .. } => "too_long",
            Refusal::TooMany { .. } => "too_many",
            Refusal::Negative { .. } => "negative",
            Refusal::OutOfRange { .. } => "out_of_range",
        }
    }

    pub fn message_en(&self) -> String {
        self.to_string()
    }

    pub fn message_zh(&self) -> String {
        match self {
            Refusal::ActorNotPermitted { actor, action } => format!(
                "{}无权{}",
                domain::problem::user_kind_zh(actor),
                domain::problem::action_words(action).0
            ),
            Refusal::NotOwnManifest { action } => {
                format!(
                    "只有申报该舱单的承运人可以{}",
                    domain::problem::action_words(action).0
                )
            }
            Refusal::WrongOffice {
                actor_office,
                target_office,
            } => format!("关区{actor_office}的关员无权处理关区{target_office}的业务"),
            Refusal::NotAllowedInStatus {
                status_zh, action, ..
            } => format!(
                "当前状态为“{status_zh}”，不能{}",
                domain::problem::action_words(action).0
            ),
            Refusal::WrongDirection { action, direction } => {
                format!(
                    "{}不适用于{}舱单",
                    domain::problem::action_words(action).0,
                    direction.name_zh()
                )
            }
            Refusal::UnknownManifest { manifest_id } => format!("舱单{manifest_id}不存在"),
            Refusal::ManifestExists { manifest_id } => format!("舱单{manifest_id}已存在"),
            Refusal::NotAFilingKind => {
                "舱单只能以预配舱单或原始舱单申报；变更、运抵报告和理货报告另有指令".to_owned()
            }
            Refusal::DuplicateBill { bill_no } => format!("提运单{bill_no}重复"),
            Refusal::BillOnOtherManifest {
                bill_no,
                manifest_id,
            } => format!("提运单{bill_no}已在舱单{manifest_id}上"),
            Refusal::UnknownMasterBill { bill_no, master } => {
                format!("分提运单{bill_no}所属总提运单{master}不在本舱单上")
            }
            Refusal::EmptyBill { bill_no } => format!("提运单{bill_no}没有货物明细"),
            Refusal::AmendmentBelowDeclared {
                bill_no,
                written_off,
            } => format!("提运单{bill_no}已申报{written_off}件，不能删除或减至其下"),
            Refusal::TallyUnknownBill { bill_no } => {
                format!("理货报告中的提运单{bill_no}不在舱单上")
            }
            Refusal::BillUnknown { bill_no } => format!("提运单{bill_no}不在任何舱单上"),
            Refusal::ManifestNotArrived {
                bill_no,
                manifest_id,
            } => format!("提运单{bill_no}所在舱单{manifest_id}尚无运抵报告"),
            Refusal::ManifestDeparted { bill_no } => {
                format!("提运单{bill_no}的货物已离境（已确认离境）")
            }
            Refusal::DirectionMismatch {
                bill_no,
                manifest,
                declaration,
            } => format!(
                "提运单{bill_no}在{}舱单上，而报关单为{}报关单",
                manifest.name_zh(),
                declaration.name_zh()
            ),
            Refusal::MasterHasHouseBills { bill_no } => {
                format!("总提运单{bill_no}下有分提运单，请按分提运单申报")
            }
            Refusal::PackagesDiffer {
                bill_no,
                declared,
                expected,
            } => format!("提运单{bill_no}件数不符：申报{declared}件，舱单{expected}件"),
            Refusal::WeightBeyondTolerance {
                bill_no,
                declared_kg,
                expected_kg,
                allowed_kg,
            } => format!(
                "提运单{bill_no}毛重超出允许误差：申报{declared_kg}千克，应为{expected_kg}千克，允许相差{allowed_kg}千克"
            ),
            Refusal::AlreadyWrittenOff { bill_no } => format!("提运单{bill_no}已核销"),
            Refusal::DuplicateDeclaration {
                bill_no,
                declaration_no,
            } => format!("报关单{declaration_no}已与提运单{bill_no}对碰"),
            Refusal::DeclarationNotMatched {
                bill_no,
                declaration_no,
            } => format!("报关单{declaration_no}未与提运单{bill_no}对碰"),
            Refusal::Mismatch { reasons } => format!(
                "报关单与提运单不符：{}",
                reasons
                    .iter()
                    .map(Refusal::message_zh)
                    .collect::<Vec<_>>()
                    .join("；")
            ),
            Refusal::InvalidBillNo { found, why } => {
                format!("提运单号{found:?}不合法：{why}")
            }
            Refusal::SameOffice { office } => format!("指运地海关不能与进境地海关（{office}）相同"),
            Refusal::TimeLimitOutOfRange { max_hours } => {
                format!("转关时限须在1至{max_hours}小时之间")
            }
            Refusal::DuplicateSeal { seal } => format!("关锁号{seal}重复"),
            Refusal::GuaranteeShort {
                amount_fen,
                estimate_fen,
                goods_value_fen,
            } => format!(
                "担保金额{amount_fen}不足：货值{goods_value_fen}的估算税款为{estimate_fen}"
            ),
            Refusal::TransitBillOtherOffice {
                bill_no,
                manifest_office,
                entry_office,
            } => format!(
                "提运单{bill_no}运抵关区{manifest_office}，不是转关的进境地海关{entry_office}"
            ),
            Refusal::BillNotInTransit {
                bill_no,
                transit_no,
            } => format!("提运单{bill_no}不在转关单{transit_no}所载提运单之列"),
            Refusal::BillAlreadyDeclared { bill_no, packages } => {
                format!("提运单{bill_no}已在进境地海关申报（{packages}件）")
            }
            Refusal::BillInTransit {
                bill_no,
                transit_no,
                status_zh,
                ..
            } => format!(
                "提运单{bill_no}的货物在转关单{transit_no}项下（{status_zh}），须在抵达后向指运地海关申报"
            ),
            Refusal::DeclarationAtOtherOffice {
                declaration_office,
                destination_office,
            } => format!(
                "报关单申报地海关为{declaration_office}，不是指运地海关{destination_office}"
            ),
            Refusal::PostalTax { message } => format!("行邮税无法计算：{message}"),
            Refusal::Missing { field } => format!("{field}不能为空"),
            Refusal::TooLong { field, max } => format!("{field}超过{max}个字符"),
            Refusal::TooMany { field, max } => format!("{field}超过{max}项"),
            Refusal::Negative { field } => format!("{field}不能为负数"),
            Refusal::OutOfRange { field, max } => format!("{field}须在0至{max}之间"),
        }
    }
}

impl Serialize for Refusal {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("Refusal", 3)?;
        st.serialize_field("code", self.code())?;
        st.serialize_field("message_zh", &self.message_zh())?;
        st.serialize_field("message_en", &self.message_en())?;
        st.end()
    }
}

/// Checks shared by the modules.
pub(crate) fn text(field: &'static str, value: &str, max: usize) -> Result<(), Refusal> {
    if value.trim().is_empty() {
        return Err(Refusal::Missing { field });
    }
    if value.chars().count() > max {
        return Err(Refusal::TooLong { field, max });
    }
    Ok(())
}

pub(crate) fn at_most<T>(field: &'static str, items: &[T], max: usize) -> Result<(), Refusal> {
    if items.len() > max {
        return Err(Refusal::TooMany { field, max });
    }
    Ok(())
}
