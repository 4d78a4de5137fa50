//! Why a command was refused: a stable code for machines and a message in Chinese and English.

use domain::codes::Direction;
use domain::money::Fen;
use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};
use thiserror::Error;

use crate::model::{RequestKind, Status};

/// A refused command. Every command that does not fit the state gets one of these; none is
/// silently ignored. `code()` is stable and safe to match on; the messages are for people.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum Refusal {
    #[error("cannot {} while the declaration is {status}", domain::problem::action_words(.action).1)]
    NotAllowedInStatus {
        status: Status,
        action: &'static str,
    },
    #[error("a {} may not {}", domain::problem::user_kind_en(.actor), domain::problem::action_words(.action).1)]
    ActorNotPermitted {
        actor: &'static str,
        action: &'static str,
    },
    #[error("only the declarant may {}", domain::problem::action_words(.action).1)]
    NotDeclarant { action: &'static str },
    #[error("an officer of office {actor_office} may not act on a declaration of office {declaration_office}")]
    WrongOffice {
        actor_office: String,
        declaration_office: String,
    },
    #[error("a {} request is waiting for an officer's decision", request_name(*.kind))]
    RequestPending { kind: RequestKind },
    #[error("there is no request waiting for a decision")]
    NoRequestPending,
    #[error("{outstanding_fen} yuan is still to be paid", outstanding_fen = outstanding_fen)]
    PaymentOutstanding { outstanding_fen: Fen },
    #[error("payment notice {notice_no} does not belong to this declaration")]
    UnknownNotice { notice_no: String },
    #[error("payment notice {notice_no} is already paid")]
    NoticeAlreadyPaid { notice_no: String },
    #[error("the number's {what} should be {expected}, found {found}")]
    NumberMismatch {
        what: &'static str,
        expected: String,
        found: String,
    },
    #[error("{field} must not be empty")]
    Missing { field: &'static str },
    #[error("{field} is longer than {max} characters")]
    TooLong { field: &'static str, max: usize },
    #[error("{field} has more than {max} entries")]
    TooMany { field: &'static str, max: usize },
    #[error("payment notices are invalid: {why}")]
    InvalidNotices { why: &'static str },
    #[error("payment notice {notice_no} was replaced by a re-assessment and cannot be paid")]
    NoticeSuperseded { notice_no: String },
    #[error("refund {refund_no} does not belong to this declaration")]
    UnknownRefund { refund_no: String },
    #[error("refund {refund_no} is {status}: {action} is not possible")]
    RefundNotOpen {
        refund_no: String,
        status: &'static str,
        action: &'static str,
    },
    #[error("the version record is invalid: {why}")]
    InvalidVersion { why: &'static str },
    #[error("{action} does not apply to an {direction} declaration")]
    WrongDirection {
        action: &'static str,
        direction: Direction,
    },
}

fn request_name(kind: RequestKind) -> &'static str {
    match kind {
        RequestKind::Amendment => "amendment",
        RequestKind::Cancellation => "cancellation",
    }
}

fn request_name_zh(kind: RequestKind) -> &'static str {
    match kind {
        RequestKind::Amendment => "修改",
        RequestKind::Cancellation => "撤销",
    }
}

impl Refusal {
    /// Stable, snake_case.
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::NotAllowedInStatus { .. } => "not_allowed_in_status",
            Refusal::ActorNotPermitted { .. } => "actor_not_permitted",
            Refusal::NotDeclarant { .. } => "not_declarant",
            Refusal::WrongOffice { .. } => "wrong_office",
            Refusal::RequestPending { .. } => "request_pending",
            Refusal::NoRequestPending => "no_request_pending",
            Refusal::PaymentOutstanding { .. } => "payment_outstanding",
            Refusal::UnknownNotice { .. } => "unknown_notice",
            Refusal::NoticeAlreadyPaid { .. } => "notice_already_paid",
            Refusal::NumberMismatch { .. } => "number_mismatch",
            Refusal::Missing { .. } => "missing",
            Refusal::TooLong { .. } => "too_long",
            Refusal::TooMany { .. } => "too_many",
            Refusal::InvalidNotices { .. } => "invalid_notices",
            Refusal::WrongDirection { .. } => "wrong_direction",
            Refusal::NoticeSuperseded { .. } => "notice_superseded",
            Refusal::UnknownRefund { .. } => "unknown_refund",
            Refusal::RefundNotOpen { .. } => "refund_not_open",
            Refusal::InvalidVersion { .. } => "invalid_version",
        }
    }

    pub fn message_en(&self) -> String {
        self.to_string()
    }

    pub fn message_zh(&self) -> String {
        match self {
            Refusal::NotAllowedInStatus { status, action } => {
                format!(
                    "报关单当前状态为“{}”，不能{}",
                    status.name_zh(),
                    domain::problem::action_words(action).0
                )
            }
            Refusal::ActorNotPermitted { actor, action } => {
                format!(
                    "{}无权{}",
                    domain::problem::user_kind_zh(actor),
                    domain::problem::action_words(action).0
                )
            }
            Refusal::NotDeclarant { action } => format!(
                "只有申报企业本身可以{}",
                domain::problem::action_words(action).0
            ),
            Refusal::WrongOffice {
                actor_office,
                declaration_office,
            } => {
                format!("关区{actor_office}的关员无权处理关区{declaration_office}的报关单")
            }
            Refusal::RequestPending { kind } => {
                format!("已有{}申请待关员审批", request_name_zh(*kind))
            }
            Refusal::NoRequestPending => "没有待审批的申请".to_owned(),
            Refusal::PaymentOutstanding { outstanding_fen } => {
                format!("尚有{outstanding_fen}元税费未缴纳")
            }
            Refusal::UnknownNotice { notice_no } => format!("缴款书{notice_no}不属于本报关单"),
            Refusal::NoticeAlreadyPaid { notice_no } => format!("缴款书{notice_no}已缴款"),
            Refusal::NumberMismatch {
                what,
                expected,
                found,
            } => {
                let what_zh = match *what {
                    "office" => "关区",
                    "direction" => "进出口标志",
                    "year" => "年份",
                    other => other,
                };
                format!("编号的{what_zh}应为{expected}，实际为{found}")
            }
            Refusal::Missing { field } => format!("{field}不能为空"),
            Refusal::TooLong { field, max } => format!("{field}超过{max}个字符"),
            Refusal::TooMany { field, max } => format!("{field}超过{max}项"),
            Refusal::InvalidNotices { why } => format!("缴款书不合法：{why}"),
            Refusal::WrongDirection { action, direction } => {
                format!("{action}不适用于{}报关单", direction.name_zh())
            }
            Refusal::NoticeSuperseded { notice_no } => {
                format!("缴款书{notice_no}已被重新计税后的缴款书取代，不能缴款")
            }
            Refusal::UnknownRefund { refund_no } => format!("退税记录{refund_no}不属于本报关单"),
            Refusal::RefundNotOpen {
                refund_no,
                status,
                action,
            } => {
                let zh = match *status {
                    "open" => "待申请",
                    "requested" => "已申请",
                    "approved" => "已批准",
                    "refused" => "已拒绝",
                    "superseded" => "已被新版本取代",
                    other => other,
                };
                format!("退税记录{refund_no}状态为“{zh}”，不能执行{action}")
            }
            Refusal::InvalidVersion { why } => format!("新版本记录不合法：{why}"),
        }
    }
}

/// Serialized as `{code, message_zh, message_en}`, the shape the API will send.
impl Serialize for Refusal {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("Refusal", 3)?;
        st.serialize_field("code", self.code())?;
        st.serialize_field("message_zh", &self.message_zh())?;
        st.serialize_field("message_en", &self.message_en())?;
        st.end()
    }
}
