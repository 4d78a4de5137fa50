//! The HTTP endpoints of transport and cargo control (docs/CARGO.md "Endpoints"): manifests,
//! late bills, transits and their alerts, parcel lists and baggage. Authentication here;
//! authorization in the service (`app::access::authorize_cargo`), like every other endpoint.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use cargo_control::{
    BaggageDeclaration, Bill, ManifestId, ManifestKind, ParcelList, SealNo, TallyLine,
    TransitDeclaration, TransitNo, Voyage,
};
use chrono::{DateTime, Utc};
use domain::codes::DeclarationNo;
use serde::Deserialize;
use utoipa::{OpenApi, ToSchema};

use crate::{blocking, body_bytes, formats_api, json_ok, parse_json, principal, ApiError, Svc};

pub(crate) fn routes() -> Router<Svc> {
    Router::new()
        .route("/api/manifests", post(file_manifest).get(list_manifests))
        .route("/api/manifests/late-bills", get(late_bills))
        .route("/api/manifests/{id}", get(get_manifest))
        .route("/api/manifests/{id}/amendment", post(amend))
        .route("/api/manifests/{id}/arrival", post(arrival))
        .route("/api/manifests/{id}/tally", post(tally))
        .route("/api/manifests/{id}/departure", post(departure))
        .route("/api/transits", post(declare_transit).get(list_transits))
        .route("/api/transits/alerts", get(transit_alerts))
        .route("/api/transits/{no}", get(get_transit))
        .route("/api/transits/{no}/departure", post(transit_departure))
        .route("/api/transits/{no}/arrival", post(transit_arrival))
        .route("/api/transits/{no}/seal-resolution", post(seal_resolution))
        .route("/api/transits/{no}/clearance", post(transit_clearance))
        .route(
            "/api/transits/{no}/cancellation",
            post(transit_cancellation),
        )
        .route("/api/postal/parcel-lists", post(parcel_list))
        .route("/api/postal/baggage", post(baggage))
        .route("/api/postal/outcomes", get(postal_outcomes))
        .route("/api/exits/unproven", get(unproven_exits))
}

fn manifest_id(s: &str) -> Result<ManifestId, ApiError> {
    ManifestId::parse(s).map_err(|e| {
        crate::invalid(
            "id",
            "manifest_id",
            format!("舱单编号有误：{}", e.message_zh()),
            e.to_string(),
        )
    })
}

fn transit_no(s: &str) -> Result<TransitNo, ApiError> {
    TransitNo::parse(s).map_err(|e| {
        crate::invalid(
            "no",
            "transit_no",
            format!("转关单号有误：{}", e.message_zh()),
            e.to_string(),
        )
    })
}

/// A carrier's filing of a pre-load or original manifest.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ManifestBody {
    #[schema(value_type = String)]
    manifest_id: ManifestId,
    #[schema(value_type = String, example = "original")]
    kind: ManifestKind,
    #[schema(value_type = crate::api_doc::Voyage)]
    voyage: Voyage,
    #[schema(value_type = Vec<crate::api_doc::Bill>)]
    bills: Vec<Bill>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct AmendBody {
    reason: String,
    #[schema(value_type = Vec<crate::api_doc::Bill>)]
    bills: Vec<Bill>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct MovementBody {
    /// When the means of transport arrived or left (RFC 3339).
    #[schema(value_type = String, format = DateTime)]
    at: DateTime<Utc>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct TallyBody {
    #[schema(value_type = Vec<crate::api_doc::TallyLine>)]
    lines: Vec<TallyLine>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SealCheckBody {
    #[schema(value_type = Vec<String>)]
    seals_intact: Vec<SealNo>,
    #[serde(default)]
    #[schema(value_type = Vec<String>)]
    seals_damaged: Vec<SealNo>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ResolutionBody {
    reason: String,
}

/// The normal declaration, filed at the office of destination, that cleared the goods.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ClearanceBody {
    /// 18-digit declaration number.
    #[schema(value_type = String, example = "230020250000000001")]
    declaration_no: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListParams {
    limit: Option<u32>,
    held: Option<bool>,
}

/// `GET /api/transits`: a page in transit number order.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct TransitListParams {
    /// The number of the last transit of the page before (absent: from the first).
    after: Option<String>,
    /// Transits per page, 1..=10000 (default 100).
    limit: Option<u32>,
}

/// `GET /api/exits/unproven`: closed exports whose exit no departed manifest proves.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct UnprovenParams {
    /// Only declarations of this office of declaration (within the caller's scope).
    office: Option<String>,
    /// `next_cursor` of the page before (absent: from the newest).
    cursor: Option<String>,
    /// Unproven exits per page, 1..=500 (default 100).
    limit: Option<u32>,
}

async fn call<T: serde::Serialize + Send + 'static>(
    svc: &Svc,
    headers: &HeaderMap,
    status: StatusCode,
    f: impl FnOnce(&app::Clearance, &app::Principal) -> Result<T, app::AppError> + Send + 'static,
) -> Result<Response, ApiError> {
    let (p, _) = principal(svc, headers).await?;
    let s = svc.clone();
    let out = blocking(move || f(&s, &p)).await?;
    Ok(json_ok(status, &out))
}

/// File a manifest (carrier).
#[utoipa::path(post, path = "/api/manifests",
    request_body(description = "a manifest: the JSON body, or a UN/EDIFACT D.96B CUSCAR interchange (application/EDIFACT; docs/FORMATS.md \"CUSCAR\")",
        content((ManifestBody = "application/json"), ("application/EDIFACT"))),
    responses((status = 201, description = "filed (carrier); JSON, or with `Accept: application/EDIFACT` a CUSRES (accepted, or rejected with every error in the message's terms)"), (status = 403, description = "not a carrier"),
        (status = 409, description = "exists"), (status = 422, description = "refused with reasons")))]
async fn file_manifest(
    State(svc): State<Svc>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let bytes = body_bytes(body)?;
    if formats_api::is_edifact(&headers) {
        return file_cuscar(svc, headers, bytes).await;
    }
    let b: ManifestBody = parse_json(&headers, &bytes)?;
    call(&svc, &headers, StatusCode::CREATED, move |s, p| {
        s.cargo()
            .file_manifest(p, b.manifest_id, b.kind, b.voyage, b.bills)
    })
    .await
}

/// A manifest filed as a UN/EDIFACT D.96B CUSCAR (docs/FORMATS.md "CUSCAR"): read by
/// `formats::cuscar` into the JSON body above, then filed the same way. Answered in JSON, or
/// with `Accept: application/EDIFACT` a CUSRES (accepted, or rejected with every error in the
/// message's terms).
async fn file_cuscar(svc: Svc, headers: HeaderMap, bytes: Bytes) -> Result<Response, ApiError> {
    let (p, _) = principal(&svc, &headers).await?;
    let edi = formats_api::wants_edifact(&headers);
    let refuse = |e: ApiError,
                  svc: &Svc,
                  filed: Option<&formats_api::Envelope>,
                  reference: Option<&str>|
     -> Result<Response, ApiError> {
        if edi {
            Ok(formats_api::cusres_error(e, svc, filed, reference))
        } else {
            Err(e)
        }
    };
    let read = blocking(move || Ok(formats::cuscar::parse(&bytes))).await?;
    let filing = match read {
        Ok(f) => f,
        Err(problems) => {
            let e = ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_edifact",
                "无法读取该 CUSCAR 舱单，问题如下",
                "the CUSCAR manifest could not be read; see the problems",
            )
            .with_problems(problems.iter().map(app::FieldProblem::from).collect());
            return refuse(e, &svc, None, None);
        }
    };
    let filed: formats_api::Envelope = (
        filing.sender.clone(),
        filing.recipient.clone(),
        filing.control_reference.clone(),
        filing.message_reference.clone(),
    );
    let reference = filing.manifest.manifest_id.clone();
    let b: ManifestBody = match serde_path_to_error::deserialize(filing.manifest.to_json()) {
        Ok(b) => b,
        Err(err) => {
            let json_path = err.path().to_string();
            let place = formats::cuscar::edifact_path(&json_path).unwrap_or(json_path);
            let text = err.into_inner().to_string();
            let e = crate::invalid(
                place,
                "invalid",
                format!("舱单字段有误：{text}"),
                format!("invalid manifest field: {text}"),
            );
            return refuse(e, &svc, Some(&filed), reference.as_deref());
        }
    };
    let s = svc.clone();
    let out = blocking(move || {
        s.cargo()
            .file_manifest(&p, b.manifest_id, b.kind, b.voyage, b.bills)
    })
    .await;
    match out {
        Ok(_) if edi => Ok(formats_api::cusres_accepted(
            &svc,
            StatusCode::CREATED,
            reference,
            Some(&filed),
        )),
        Ok(v) => Ok(json_ok(StatusCode::CREATED, &v)),
        Err(mut e) => {
            for problem in e.problems.iter_mut() {
                if let Some(place) = formats::cuscar::edifact_path(&problem.field) {
                    problem.field = place;
                }
            }
            refuse(e, &svc, Some(&filed), reference.as_deref())
        }
    }
}

/// List the manifests the caller may see.
#[utoipa::path(get, path = "/api/manifests", params(("limit" = Option<u32>, Query, description = "at most this many")),
    responses((status = 200, description = "manifests the caller may see")))]
async fn list_manifests(
    State(svc): State<Svc>,
    headers: HeaderMap,
    Query(q): Query<ListParams>,
) -> Result<Response, ApiError> {
    let limit = q.limit.unwrap_or(100).clamp(1, 1000) as usize;
    call(&svc, &headers, StatusCode::OK, move |s, p| {
        s.cargo().manifests(p, limit)
    })
    .await
}

/// One manifest with its versions and balance.
#[utoipa::path(get, path = "/api/manifests/{id}", params(("id" = String, Path, description = "manifest id")),
    responses((status = 200, description = "the manifest with every version and its balance (undeclared, over-declared, short, over-landed)"),
        (status = 404, description = "not found or not visible")))]
async fn get_manifest(
    State(svc): State<Svc>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = manifest_id(&id)?;
    call(&svc, &headers, StatusCode::OK, move |s, p| {
        s.cargo().manifest(p, &id)
    })
    .await
}

/// Amend a manifest: a new version (carrier).
#[utoipa::path(post, path = "/api/manifests/{id}/amendment", request_body = AmendBody, params(("id" = String, Path, description = "manifest id")),
    responses((status = 200, description = "a new version (carrier)"), (status = 404, description = "not found or not visible")))]
async fn amend(
    State(svc): State<Svc>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let id = manifest_id(&id)?;
    let b: AmendBody = parse_json(&headers, &body_bytes(body)?)?;
    call(&svc, &headers, StatusCode::OK, move |s, p| {
        s.cargo().amend_manifest(p, id, b.reason, b.bills)
    })
    .await
}

/// Report the arrival of a manifest's means of transport.
#[utoipa::path(post, path = "/api/manifests/{id}/arrival", request_body = MovementBody, params(("id" = String, Path, description = "manifest id")),
    responses((status = 200, description = "arrival reported (carrier, officer of the office)")))]
async fn arrival(
    State(svc): State<Svc>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let id = manifest_id(&id)?;
    let b: MovementBody = parse_json(&headers, &body_bytes(body)?)?;
    call(&svc, &headers, StatusCode::OK, move |s, p| {
        s.cargo().report_arrival(p, id, b.at)
    })
    .await
}

/// Report the tally of a manifest.
#[utoipa::path(post, path = "/api/manifests/{id}/tally", request_body = TallyBody, params(("id" = String, Path, description = "manifest id")),
    responses((status = 200, description = "tally reported (officer of the office)")))]
async fn tally(
    State(svc): State<Svc>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let id = manifest_id(&id)?;
    let b: TallyBody = parse_json(&headers, &body_bytes(body)?)?;
    call(&svc, &headers, StatusCode::OK, move |s, p| {
        s.cargo().report_tally(p, id, b.lines)
    })
    .await
}

/// Confirm the departure of an export manifest.
#[utoipa::path(post, path = "/api/manifests/{id}/departure", request_body = MovementBody, params(("id" = String, Path, description = "manifest id")),
    responses((status = 200, description = "departure confirmed; the released export declarations on it are closed (`closed`)")))]
async fn departure(
    State(svc): State<Svc>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let id = manifest_id(&id)?;
    let b: MovementBody = parse_json(&headers, &body_bytes(body)?)?;
    call(&svc, &headers, StatusCode::OK, move |s, p| {
        s.cargo().confirm_manifest_departure(p, id, b.at)
    })
    .await
}

/// Import bills undeclared past 14 days.
#[utoipa::path(get, path = "/api/manifests/late-bills",
    responses((status = 200, description = "import bills undeclared past the 14 days in the officer's scope (the office of entry, or for goods under transit the office of destination); a bill carried by a transit counts from its arrival at the office of destination and is not listed while on its way; `counted_from` and `explanation_zh`/`explanation_en` say which arrival")))]
async fn late_bills(State(svc): State<Svc>, headers: HeaderMap) -> Result<Response, ApiError> {
    call(&svc, &headers, StatusCode::OK, move |s, p| {
        s.cargo().late_bills(p)
    })
    .await
}

/// Closed exports whose exit no departed manifest proves.
#[utoipa::path(get, path = "/api/exits/unproven", params(UnprovenParams),
    responses((status = 200, description = "closed exports whose recorded exit confirmation no departed export manifest listing the bill proves (closed before exits were bound to manifests), newest first, each with the reason in Chinese and English: `{items, scanned, next_cursor}`; officers see their offices, HQ and the tax agency every office"),
        (status = 403, description = "not an officer, HQ or the tax agency, or an office outside the caller's scope"),
        (status = 422, description = "bad query")))]
async fn unproven_exits(
    State(svc): State<Svc>,
    headers: HeaderMap,
    query: Result<Query<UnprovenParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = query.map_err(|e| {
        crate::invalid(
            "query",
            "bad_query",
            format!("查询参数有误：{e}"),
            format!("bad query: {e}"),
        )
    })?;
    let office = q
        .office
        .as_deref()
        .map(|o| {
            domain::codes::OfficeCode::parse(o).map_err(|e| {
                crate::invalid(
                    "office",
                    "office_code",
                    format!("关区代码有误：{o}"),
                    e.to_string(),
                )
            })
        })
        .transpose()?;
    let page = store::PageRequest {
        after: q.cursor.as_deref().map(store::Cursor::parse),
        limit: q.limit.unwrap_or(app::cargo_desk::UNPROVEN_PAGE_DEFAULT),
    };
    call(&svc, &headers, StatusCode::OK, move |s, p| {
        s.cargo().unproven_exits(p, office, page)
    })
    .await
}

/// Declare a transit under customs control (carrier).
#[utoipa::path(post, path = "/api/transits", request_body = crate::api_doc::TransitDeclaration,
    responses((status = 201, description = "transit declared (carrier)")))]
async fn declare_transit(
    State(svc): State<Svc>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let d: TransitDeclaration = parse_json(&headers, &body_bytes(body)?)?;
    call(&svc, &headers, StatusCode::CREATED, move |s, p| {
        s.cargo().declare_transit(p, d)
    })
    .await
}

/// One transit.
#[utoipa::path(get, path = "/api/transits/{no}", params(("no" = String, Path, description = "transit number")),
    responses((status = 200, description = "the transit"), (status = 404, description = "not found or not visible")))]
async fn get_transit(
    State(svc): State<Svc>,
    headers: HeaderMap,
    Path(no): Path<String>,
) -> Result<Response, ApiError> {
    let no = transit_no(&no)?;
    call(&svc, &headers, StatusCode::OK, move |s, p| {
        s.cargo().transit(p, &no)
    })
    .await
}

/// Confirm a transit's departure.
#[utoipa::path(post, path = "/api/transits/{no}/departure", params(("no" = String, Path, description = "transit number")),
    responses((status = 200, description = "departure confirmed (officer of the office of entry); the deadline starts")))]
async fn transit_departure(
    State(svc): State<Svc>,
    headers: HeaderMap,
    Path(no): Path<String>,
) -> Result<Response, ApiError> {
    let no = transit_no(&no)?;
    call(&svc, &headers, StatusCode::OK, move |s, p| {
        s.cargo().confirm_transit_departure(p, &no)
    })
    .await
}

/// Record a transit's arrival with its seal check.
#[utoipa::path(post, path = "/api/transits/{no}/arrival", request_body = SealCheckBody, params(("no" = String, Path, description = "transit number")),
    responses((status = 200, description = "arrival with seal check (officer of the office of destination)")))]
async fn transit_arrival(
    State(svc): State<Svc>,
    headers: HeaderMap,
    Path(no): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let no = transit_no(&no)?;
    let b: SealCheckBody = parse_json(&headers, &body_bytes(body)?)?;
    call(&svc, &headers, StatusCode::OK, move |s, p| {
        s.cargo()
            .confirm_transit_arrival(p, &no, b.seals_intact, b.seals_damaged)
    })
    .await
}

/// Lift a transit's seal alert.
#[utoipa::path(post, path = "/api/transits/{no}/seal-resolution", request_body = ResolutionBody, params(("no" = String, Path, description = "transit number")),
    responses((status = 200, description = "seal alert lifted after examination (officer of the office of destination)")))]
async fn seal_resolution(
    State(svc): State<Svc>,
    headers: HeaderMap,
    Path(no): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let no = transit_no(&no)?;
    let b: ResolutionBody = parse_json(&headers, &body_bytes(body)?)?;
    call(&svc, &headers, StatusCode::OK, move |s, p| {
        s.cargo().resolve_seal_alert(p, &no, b.reason)
    })
    .await
}

/// Clear a transit by its import declaration.
#[utoipa::path(post, path = "/api/transits/{no}/clearance", request_body = ClearanceBody, params(("no" = String, Path, description = "transit number")),
    responses((status = 200, description = "cleared by the named import declaration, filed at the office of destination for a bill the transit carries (officer of the office of destination)"),
        (status = 404, description = "not found or not visible"), (status = 409, description = "not arrived, seal alert open, or already cleared"),
        (status = 422, description = "the declaration is unknown, not valid, or does not fit the transit")))]
async fn transit_clearance(
    State(svc): State<Svc>,
    headers: HeaderMap,
    Path(no): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let no = transit_no(&no)?;
    let b: ClearanceBody = parse_json(&headers, &body_bytes(body)?)?;
    let declaration_no = DeclarationNo::parse(&b.declaration_no).map_err(|e| {
        crate::invalid(
            "declaration_no",
            "declaration_no",
            format!("报关单号有误：{}", e.message_zh()),
            e.to_string(),
        )
    })?;
    call(&svc, &headers, StatusCode::OK, move |s, p| {
        s.cargo().clear_transit(p, &no, declaration_no)
    })
    .await
}

/// Cancel a transit before departure.
#[utoipa::path(post, path = "/api/transits/{no}/cancellation", request_body = ResolutionBody, params(("no" = String, Path, description = "transit number")),
    responses((status = 200, description = "cancelled before departure (its declarant, or an officer of the office of entry)"),
        (status = 409, description = "already departed")))]
async fn transit_cancellation(
    State(svc): State<Svc>,
    headers: HeaderMap,
    Path(no): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let no = transit_no(&no)?;
    let b: ResolutionBody = parse_json(&headers, &body_bytes(body)?)?;
    call(&svc, &headers, StatusCode::OK, move |s, p| {
        s.cargo().cancel_transit(p, &no, b.reason)
    })
    .await
}

/// List the transits the caller may see.
#[utoipa::path(get, path = "/api/transits", params(TransitListParams),
    responses((status = 200, description = "transits the caller may see (a carrier its own, an officer those of its scope, entry or destination), in transit number order; the next page is asked with `after` = the last `transit_no` of this one"),
        (status = 422, description = "bad query (`after` not a transit number, an unknown parameter)")))]
async fn list_transits(
    State(svc): State<Svc>,
    headers: HeaderMap,
    query: Result<Query<TransitListParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = query.map_err(|e| {
        crate::invalid(
            "query",
            "bad_query",
            format!("查询参数有误：{e}"),
            format!("bad query: {e}"),
        )
    })?;
    let after = q
        .after
        .as_deref()
        .map(|a| {
            TransitNo::parse(a).map_err(|e| {
                crate::invalid(
                    "after",
                    "transit_no",
                    format!("转关单号有误：{}", e.message_zh()),
                    e.to_string(),
                )
            })
        })
        .transpose()?;
    let limit = q.limit.unwrap_or(100);
    call(&svc, &headers, StatusCode::OK, move |s, p| {
        s.cargo().transits(p, after, limit)
    })
    .await
}

/// Overdue and broken-seal transits.
#[utoipa::path(get, path = "/api/transits/alerts",
    responses((status = 200, description = "overdue and broken-seal transits whose office of destination is in scope")))]
async fn transit_alerts(State(svc): State<Svc>, headers: HeaderMap) -> Result<Response, ApiError> {
    call(&svc, &headers, StatusCode::OK, move |s, p| {
        s.cargo().transit_alerts(p)
    })
    .await
}

/// File a postal operator's parcel list.
#[utoipa::path(post, path = "/api/postal/parcel-lists", request_body = crate::api_doc::ParcelList,
    responses((status = 201, description = "each parcel taxed (personal articles, ¥50 rule), screened, released or held (postal operator)")))]
async fn parcel_list(
    State(svc): State<Svc>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let l: ParcelList = parse_json(&headers, &body_bytes(body)?)?;
    call(&svc, &headers, StatusCode::CREATED, move |s, p| {
        s.cargo().file_parcel_list(p, l)
    })
    .await
}

/// File a passenger's baggage declaration.
#[utoipa::path(post, path = "/api/postal/baggage", request_body = crate::api_doc::BaggageDeclaration,
    responses((status = 201, description = "baggage declaration taxed and decided (officer of the office)")))]
async fn baggage(
    State(svc): State<Svc>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let d: BaggageDeclaration = parse_json(&headers, &body_bytes(body)?)?;
    call(&svc, &headers, StatusCode::CREATED, move |s, p| {
        s.cargo().file_baggage(p, d)
    })
    .await
}

/// List postal and baggage outcomes.
#[utoipa::path(get, path = "/api/postal/outcomes", params(("held" = Option<bool>, Query, description = "held items only"), ("limit" = Option<u32>, Query, description = "at most this many")),
    responses((status = 200, description = "postal outcomes the caller may see, newest first")))]
async fn postal_outcomes(
    State(svc): State<Svc>,
    headers: HeaderMap,
    Query(q): Query<ListParams>,
) -> Result<Response, ApiError> {
    let limit = q.limit.unwrap_or(100);
    let held = q.held.unwrap_or(false);
    call(&svc, &headers, StatusCode::OK, move |s, p| {
        s.cargo().postal_outcomes(p, held, limit)
    })
    .await
}

/// The cargo part of the OpenAPI document, merged into [`crate::ApiDoc`]'s at `/api/openapi.json`.
#[derive(OpenApi)]
#[openapi(
    paths(
        file_manifest,
        list_manifests,
        get_manifest,
        amend,
        arrival,
        tally,
        departure,
        late_bills,
        declare_transit,
        get_transit,
        transit_departure,
        transit_arrival,
        seal_resolution,
        transit_clearance,
        transit_cancellation,
        list_transits,
        transit_alerts,
        parcel_list,
        baggage,
        postal_outcomes,
        unproven_exits
    ),
    components(schemas(
        ManifestBody,
        AmendBody,
        MovementBody,
        TallyBody,
        SealCheckBody,
        ResolutionBody,
        ClearanceBody
    ))
)]
pub(crate) struct CargoApiDoc;
