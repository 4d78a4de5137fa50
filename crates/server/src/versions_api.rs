//! The HTTP endpoints of declaration versions, corrections and refunds (issue 14): the steps
//! `correction` (officers with the reviewer duty), `refund-request` (the enterprise),
//! `refund-approval` and `refund-refusal` (officers with the tax duty), through the one step
//! handler; and `GET /api/declarations/{id}/versions`, every version with its differences and
//! re-assessment (the enterprise its own, officers within their offices; 404 otherwise).

use app::Step;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use clearance::version::CorrectionKind;
use clearance::FieldChange;
use serde::Deserialize;
use utoipa::{OpenApi, ToSchema};

use crate::{
    blocking, invalid, json_ok, parse_id, parse_json, principal, ApiError, ChangeBody, Svc,
};

/// The step names of this module.
pub(crate) const STEPS: &[&str] = &[
    "correction",
    "refund-request",
    "refund-approval",
    "refund-refusal",
];

/// An officer's correction from a review or inspection finding.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CorrectionBody {
    /// `customs_value`, `classification`, `origin` or `quantity`: each may change only its own
    /// fields.
    pub kind: String,
    pub reason: String,
    pub changes: Vec<ChangeBody>,
    /// The finding is the taxpayer's breach (e.g. undervaluation): a shortfall is recovered
    /// (追征, with its surcharge) rather than levied (补征).
    #[serde(default)]
    pub taxpayer_breach: bool,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefundBody {
    /// `<declaration no>-<tax>-R<version>`, as the declaration's `state.refunds` lists it.
    pub refund_no: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefundDecisionBody {
    pub refund_no: String,
    pub reason: String,
}

pub(crate) fn parse_step(name: &str, headers: &HeaderMap, bytes: &[u8]) -> Result<Step, ApiError> {
    Ok(match name {
        "correction" => {
            let b: CorrectionBody = parse_json(headers, bytes)?;
            let kind = CorrectionKind::parse(&b.kind).ok_or_else(|| {
                invalid(
                    "kind",
                    "correction_kind",
                    format!(
                        "更正类别“{}”应为 customs_value（完税价格）、classification（商品归类）、origin（原产地）或 quantity（数量）",
                        b.kind
                    ),
                    format!(
                        "correction kind {:?} must be customs_value, classification, origin or quantity",
                        b.kind
                    ),
                )
            })?;
            Step::Correct {
                kind,
                reason: b.reason,
                changes: b
                    .changes
                    .into_iter()
                    .map(|c| FieldChange {
                        field: c.field,
                        value: c.value,
                    })
                    .collect(),
                taxpayer_breach: b.taxpayer_breach,
            }
        }
        "refund-request" => Step::RequestRefund {
            refund_no: parse_json::<RefundBody>(headers, bytes)?.refund_no,
        },
        "refund-approval" | "refund-refusal" => {
            let b: RefundDecisionBody = parse_json(headers, bytes)?;
            Step::DecideRefund {
                refund_no: b.refund_no,
                approve: name == "refund-approval",
                reason: b.reason,
            }
        }
        _ => return Err(ApiError::not_found()),
    })
}

/// Every version of a declaration.
#[utoipa::path(get, path = "/api/declarations/{id}/versions",
    params(("id" = i64, Path, description = "declaration id, pre-entry or declaration number")),
    responses((status = 200, description = "every version, oldest first: the filing, then each amendment or correction with who, when, why, its differences and its re-assessment"),
        (status = 404, description = "not found or not visible")))]
pub(crate) async fn versions(
    State(svc): State<Svc>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let (p, _) = principal(&svc, &headers).await?;
    let key = parse_id(&id)?;
    let list = blocking(move || svc.steps().versions(&p, key)).await?;
    Ok(json_ok(StatusCode::OK, &list))
}

macro_rules! docs {
    ($($fn:ident, $path:literal, $body:ty, $summary:literal, $what:literal;)*) => {
        $(
            #[doc = $summary]
            #[utoipa::path(post, path = $path, operation_id = stringify!($fn), request_body = $body,
                params(("id" = i64, Path, description = "declaration id")),
                responses((status = 200, description = $what), (status = 403, description = "not allowed"),
                    (status = 404, description = "not found or not visible"), (status = 409, description = "not allowed in the current status, or out of time"),
                    (status = 422, description = "invalid: every problem listed")))]
            #[allow(dead_code)]
            fn $fn() {}
        )*
    };
}

docs! {
    record_correction, "/api/declarations/{id}/correction", CorrectionBody, "Correct a declaration: a new version (officer).", "a new version with the officer and the reason, re-assessed (reviewer)";
    request_refund, "/api/declarations/{id}/refund-request", RefundBody, "Request a refund of duties paid.", "refund requested within its period (enterprise)";
    approve_refund, "/api/declarations/{id}/refund-approval", RefundDecisionBody, "Approve a refund.", "refund approved with its interest; duty_refunded.v1 to the tax agency (tax officer)";
    refuse_refund, "/api/declarations/{id}/refund-refusal", RefundDecisionBody, "Refuse a refund.", "refund refused with the reason (tax officer)";
}

#[derive(OpenApi)]
#[openapi(
    paths(
        versions,
        record_correction,
        request_refund,
        approve_refund,
        refuse_refund
    ),
    components(schemas(CorrectionBody, RefundBody, RefundDecisionBody))
)]
pub(crate) struct VersionsApiDoc;
