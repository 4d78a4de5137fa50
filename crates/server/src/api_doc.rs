//! What makes `/api/openapi.json` a document a generator can trust (docs/FORMATS.md "The API
//! document"), on top of the `#[utoipa::path]` of every handler:
//!
//! - [`finish`]: one pass over the merged document that adds the two security schemes (the
//!   bearer token and the web UI's `jinguan_session` cookie) and marks every operation but the
//!   public ones ([`PUBLIC`]) as needing one of them; points every 4xx and 5xx answer that
//!   names no body at the one error shape ([`Error`]); tags each operation by its area
//!   ([`area`]).
//! - The schemas of bodies whose Rust types live in pure crates (`domain`, `cargo-control`,
//!   `tax`, `app`), which do not depend on utoipa: written here as twins, checked against the
//!   real types by the tests below (every key of a full body is known to both sides).
//!
//! Nothing here runs on a request but `finish`, once per `GET /api/openapi.json`.

use utoipa::openapi::path::Operation;
use utoipa::openapi::security::SecurityRequirement;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, RefOr, ResponseBuilder};
use utoipa::{OpenApi as _, ToSchema};

/// The name of the bearer scheme in `components.securitySchemes`.
pub(crate) const BEARER: &str = "bearer";
/// The name of the session cookie scheme in `components.securitySchemes`.
pub(crate) const COOKIE: &str = "session_cookie";

/// The operations anyone may call, as `(method, path)`: no token is asked for.
pub(crate) const PUBLIC: &[(&str, &str)] = &[
    ("get", "/api/health"),
    ("get", "/health"),
    ("get", "/ready"),
    ("get", "/api/openapi.json"),
    ("post", "/api/session"),
    ("post", "/api/password"),
    ("post", "/api/registrations/sign-up"),
    ("get", "/api/codes/{table}"),
];

/// Operations a token is optional for: they answer without one (`GET /api/session` says who
/// is signed in, `{"user": null}` for nobody).
pub(crate) const OPTIONAL: &[(&str, &str)] = &[("get", "/api/session")];

/// The area an operation is tagged with, by its path: the first segment after `/api/`, with
/// the segments of one area put together. A new route gets its own area without a change here.
pub(crate) fn area(path: &str) -> String {
    let Some(rest) = path.strip_prefix("/api/") else {
        return "service".into();
    };
    let first = rest.split('/').next().unwrap_or_default();
    match first {
        "health" | "openapi.json" => "service",
        "session" | "password" | "users" | "sign-in-locks" => "accounts",
        "manifests" | "transits" | "postal" | "exits" => "cargo",
        "aeo" | "credit" | "credit-history" => "aeo",
        "authorities" | "cases" => "parties",
        "registrations" | "enterprise" => "registration",
        "notices" | "bank" => "payments",
        "codes" => "reference",
        other => other,
    }
    .into()
}

/// What each area is, for the document's `tags`.
const AREAS: &[(&str, &str)] = &[
    ("service", "Health, readiness and this document."),
    (
        "accounts",
        "Sign-in, sessions, passwords and user administration.",
    ),
    (
        "audit",
        "The audit chain: its signed head, verification and inclusion proofs.",
    ),
    (
        "declarations",
        "Filing declarations, listing them, and every step of their lifecycle.",
    ),
    (
        "cargo",
        "Manifests, transits, postal parcels and baggage, exits.",
    ),
    ("risk", "Risk rules, watch list, sampling, credit classes."),
    (
        "eport",
        "E-Port: licences, the registry, refund claims, foreign exchange.",
    ),
    (
        "exchange",
        "The signed feed of messages to the partner agencies.",
    ),
    ("guarantees", "Bank guarantees and their reservations."),
    ("parties", "Powers of attorney and anti-smuggling cases."),
    ("aeo", "AEO certification and credit standing."),
    ("registration", "Customs registration and enterprise users."),
    ("payments", "Payment notices and the banks' confirmations."),
    ("notifications", "The signed-in user's notifications."),
    ("reference", "Code tables (public reference data)."),
    ("stats", "Dashboard and warehouse statistics."),
];

/// The document's parts as they are merged, with the names two parts gave different schemas
/// (the merged document keeps one: a generator would get the other operation's body wrong).
pub(crate) struct Parts {
    doc: OpenApi,
    collisions: Vec<String>,
}

impl Parts {
    pub(crate) fn new(doc: OpenApi) -> Parts {
        let mut parts = Parts {
            doc,
            collisions: Vec::new(),
        };
        parts.merge(Schemas::openapi());
        parts
    }

    pub(crate) fn merge(&mut self, part: OpenApi) {
        if let (Some(have), Some(new)) = (&self.doc.components, &part.components) {
            for (name, schema) in &new.schemas {
                if have.schemas.get(name).is_some_and(|s| s != schema) {
                    self.collisions.push(name.clone());
                }
            }
        }
        self.doc.merge(part);
    }

    /// Schema names two parts define differently (none, tested).
    #[cfg(test)]
    pub(crate) fn collisions(&self) -> &[String] {
        &self.collisions
    }

    /// The document: security, error bodies and tags added ([`finish`]).
    pub(crate) fn finish(mut self) -> OpenApi {
        for name in &self.collisions {
            tracing::warn!(schema = %name, "two parts of the OpenAPI document define this schema differently");
        }
        finish(&mut self.doc);
        self.doc
    }
}

/// Security, error bodies and tags: see the module's documentation.
fn finish(doc: &mut OpenApi) {
    let components = doc.components.get_or_insert_with(Default::default);
    components.security_schemes.insert(
        BEARER.into(),
        RefOr::T(SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .description(Some(
                    "The `token` of `POST /api/session`, as `Authorization: Bearer <token>`.",
                ))
                .build(),
        )),
    );
    components.security_schemes.insert(
        COOKIE.into(),
        RefOr::T(SecurityScheme::ApiKey(ApiKey::Cookie(
            ApiKeyValue::with_description(
                crate::SESSION_COOKIE,
                "The same token in the cookie `POST /api/session` sets, for the web interface \
             (HttpOnly, SameSite=Strict, Path=/api).",
            ),
        ))),
    );
    let error_ref = RefOr::Ref(Ref::from_schema_name(Error::name()));
    let mut used = std::collections::BTreeSet::new();
    for (path, item) in doc.paths.paths.iter_mut() {
        let ops = [
            ("get", item.get.as_mut()),
            ("put", item.put.as_mut()),
            ("post", item.post.as_mut()),
            ("delete", item.delete.as_mut()),
            ("patch", item.patch.as_mut()),
        ];
        for (method, op) in ops {
            let Some(op) = op else { continue };
            let tag = area(path);
            used.insert(tag.clone());
            op.tags = Some(vec![tag]);
            secure(method, path, op);
            for (status, response) in op.responses.responses.iter_mut() {
                let RefOr::T(response) = response else {
                    continue;
                };
                let error = status.starts_with('4') || status.starts_with('5');
                if error && response.content.is_empty() {
                    response.content.insert(
                        "application/json".into(),
                        RefOr::T(
                            ContentBuilder::new()
                                .schema(Some(error_ref.clone()))
                                .build(),
                        ),
                    );
                }
            }
        }
    }
    let mut tags: Vec<utoipa::openapi::tag::Tag> = AREAS
        .iter()
        .filter(|(name, _)| used.contains(*name))
        .map(|(name, what)| {
            utoipa::openapi::tag::TagBuilder::new()
                .name(*name)
                .description(Some(*what))
                .build()
        })
        .collect();
    for name in &used {
        if !AREAS.iter().any(|(n, _)| n == name) {
            tags.push(utoipa::openapi::tag::TagBuilder::new().name(name).build());
        }
    }
    doc.tags = Some(tags);
}

/// The security of one operation: none for a public one; the bearer token or the cookie
/// otherwise (either, or nothing, for an optional one), with the 401 every such call may get.
fn secure(method: &str, path: &str, op: &mut Operation) {
    let key = (method, path);
    if PUBLIC.contains(&key) {
        op.security = None;
        return;
    }
    let mut security = vec![
        SecurityRequirement::new(BEARER, Vec::<String>::new()),
        SecurityRequirement::new(COOKIE, Vec::<String>::new()),
    ];
    if OPTIONAL.contains(&key) {
        security.push(SecurityRequirement::default());
    } else if !op.responses.responses.contains_key("401") {
        op.responses.responses.insert(
            "401".into(),
            RefOr::T(
                ResponseBuilder::new()
                    .description("`unauthenticated`: no token, or one expired, revoked or unknown")
                    .build(),
            ),
        );
    }
    op.security = Some(security);
}

// ---------------------------------------------------------------------------------------------
// Schemas

/// The schemas below, as a document to merge.
#[derive(utoipa::OpenApi)]
#[openapi(components(schemas(
    Error,
    DeclarationForm,
    Filing,
    DeclarationPage,
    DeclarationDetail,
    SessionToken,
    Voyage,
    Bill,
    TallyLine,
    TransitDeclaration,
    ParcelList,
    BaggageDeclaration,
    PriceCheckPolicy
)))]
struct Schemas;

/// Every 4xx and 5xx answer but `/ready`'s: `{error:{code,message_zh,message_en,problems}}`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct Error {
    pub error: ErrorDetail,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct ErrorDetail {
    /// A stable code (`invalid`, `not_found`, `store_unavailable`, …).
    pub code: String,
    pub message_zh: String,
    pub message_en: String,
    /// Every problem of the input at once (empty when the error is not about fields).
    pub problems: Vec<FieldProblem>,
    /// A filing rejected by automatic review is recorded under this number.
    #[schema(required = false, nullable = false)]
    pub pre_entry_no: Option<String>,
}

/// One problem of the input.
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct FieldProblem {
    /// The field's path, as the input names it (`items[0].hs_code`, `headers.client-seq-no`,
    /// `query`; empty for the whole body).
    pub field: String,
    pub code: String,
    pub message_zh: String,
    pub message_en: String,
}

/// A number as a JSON number or as a string holding one (`"350.00"`, read exactly).
pub(crate) struct NumberText;

impl utoipa::PartialSchema for NumberText {
    fn schema() -> RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Type};
        OneOfBuilder::new()
            .item(ObjectBuilder::new().schema_type(Type::String))
            .item(ObjectBuilder::new().schema_type(Type::Number))
            .description(Some(
                "A number as a JSON number or as a string holding one (`\"350.00\"`, read exactly).",
            ))
            .into()
    }
}

impl ToSchema for NumberText {}

/// A decimal number as a string (`"1200.50"`).
pub(crate) struct DecimalText;

impl utoipa::PartialSchema for DecimalText {
    fn schema() -> RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(r"^-?[0-9]+(\.[0-9]+)?$"))
            .description(Some("A decimal number as a string (`\"1200.50\"`)."))
            .into()
    }
}

impl ToSchema for DecimalText {}

// The declaration's JSON form (`domain::declaration::DeclarationForm`; docs/declaration-json.md).
// Every field may be absent: validation reports every missing one at once. A field the form does
// not know is refused at any depth (`unknown_field`), hence `deny_unknown_fields` on each.

/// A domestic party: consignee/consignor, consuming/producing unit or declaring agent.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub(crate) struct PartyForm {
    name: Option<String>,
    /// Unified social credit code (18 characters).
    uscc: Option<String>,
    /// Customs enterprise code (10 characters).
    customs_code: Option<String>,
}

/// The overseas consignor or consignee.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub(crate) struct OverseasPartyForm {
    /// AEO partner code such as `SG123456789012`, if any.
    code: Option<String>,
    /// `NO` when there is no overseas party.
    name: Option<String>,
    address: Option<String>,
}

/// Freight, insurance or other charges: mark `1` rate (percent), `2` per unit (freight only),
/// `3` total amount in `currency`.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub(crate) struct ChargeForm {
    #[schema(example = "3")]
    mark: Option<String>,
    value: Option<NumberText>,
    currency: Option<String>,
}

/// An attached document's kind and number.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub(crate) struct DocumentForm {
    /// Document kind 随附单证代码 (`1` import licence ...).
    code: Option<String>,
    number: Option<String>,
}

/// The proof of origin an agreement or special preferential rate needs.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub(crate) struct OriginProofForm {
    /// The agreement code as the tariff names it (`RCEP`, `ASEAN`, ...).
    agreement: Option<String>,
    /// `certificate` or `declaration`.
    kind: Option<String>,
    number: Option<String>,
    direct_transport: Option<bool>,
}

/// The buyer of a cross-border e-commerce retail import (9610, 1210).
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub(crate) struct BuyerForm {
    /// `resident_id` (居民身份证) or `passport`.
    id_type: Option<String>,
    id_no: Option<String>,
    name: Option<String>,
}

/// One goods line.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub(crate) struct ItemForm {
    item_no: Option<NumberText>,
    record_item: Option<String>,
    /// The 10-digit commodity code.
    commodity_code: Option<String>,
    name: Option<String>,
    /// Declaration elements joined by `|`.
    specification: Option<String>,
    declared_quantity: Option<NumberText>,
    declared_unit: Option<String>,
    first_quantity: Option<NumberText>,
    first_unit: Option<String>,
    second_quantity: Option<NumberText>,
    second_unit: Option<String>,
    unit_price: Option<NumberText>,
    total_price: Option<NumberText>,
    currency: Option<String>,
    origin_country: Option<String>,
    destination_country: Option<String>,
    /// Domestic destination (import) or source (export), 5 digits.
    district: Option<String>,
    duty_treatment: Option<String>,
    /// Manufacturer, when a trade remedy names producers.
    producer: Option<String>,
    #[schema(nullable = false)]
    origin_proof: Option<OriginProofForm>,
    /// The tariff-quota certificate (关税配额证明) number, for the in-quota rate.
    #[schema(nullable = false)]
    quota_certificate_no: Option<String>,
}

/// A declaration in Jinguan's JSON form (docs/declaration-json.md): what
/// `POST /api/declarations` files, `POST /api/declarations/check` checks, and the `form` of
/// `GET /api/declarations/{id}` gives back. Unknown fields are refused (422, each named).
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub(crate) struct DeclarationForm {
    /// `import` or `export`.
    direction: Option<String>,
    declaration_office: Option<String>,
    entry_exit_office: Option<String>,
    record_no: Option<String>,
    contract_no: Option<String>,
    /// Date of import or export, `YYYY-MM-DD` (or `YYYYMMDD`).
    ie_date: Option<String>,
    declaration_date: Option<String>,
    /// Domestic consignee (import) or consignor (export).
    trader: Option<PartyForm>,
    overseas_party: Option<OverseasPartyForm>,
    /// Consuming/using unit (import) or producing/selling unit (export).
    owner: Option<PartyForm>,
    agent: Option<PartyForm>,
    transport_mode: Option<String>,
    vessel: Option<String>,
    voyage_no: Option<String>,
    bill_no: Option<String>,
    goods_place: Option<String>,
    trade_mode: Option<String>,
    levy_nature: Option<String>,
    licence_no: Option<String>,
    /// Import: port of loading abroad.
    loading_port: Option<String>,
    /// Export: port of destination abroad.
    destination_port: Option<String>,
    trading_country: Option<String>,
    /// Country of dispatch (import) or arrival (export).
    dispatch_country: Option<String>,
    domestic_port: Option<String>,
    package_type: Option<String>,
    packages: Option<NumberText>,
    gross_weight_kg: Option<NumberText>,
    net_weight_kg: Option<NumberText>,
    transaction_terms: Option<String>,
    freight: Option<ChargeForm>,
    insurance: Option<ChargeForm>,
    other_charges: Option<ChargeForm>,
    #[schema(required = false)]
    documents: Vec<DocumentForm>,
    marks: Option<String>,
    remarks: Option<String>,
    /// `0` paper, `L` paper with list, `D` paperless with list, `M` paperless.
    entry_type: Option<String>,
    /// Cross-border e-commerce retail imports (9610, 1210): the buyer (订购人).
    #[schema(nullable = false)]
    buyer: Option<BuyerForm>,
    #[schema(required = false)]
    items: Vec<ItemForm>,
}

/// A filing's answer (`app::filing::Filing`): 201 when filed, 200 for a retry with the same
/// `Client-Seq-No` (the first answer again, `replayed: true`).
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct Filing {
    /// The declaration's id in the paths (`/api/declarations/{id}`).
    id: i64,
    /// The 18-character pre-entry number.
    pre_entry_no: String,
    /// The 18-digit declaration number, once accepted.
    declaration_no: Option<String>,
    /// The status (`accepted`, `document_review`, `inspection`, …).
    status: String,
    /// `green`, `blue`, `yellow` or `red`, once accepted.
    lane: Option<String>,
    version: i64,
    replayed: bool,
}

/// One declaration of a list (`store::DeclarationSummary`).
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct DeclarationSummary {
    id: i64,
    pre_entry_no: String,
    declaration_no: Option<String>,
    /// The declarant's USCC.
    declarant: String,
    /// `import` or `export`.
    direction: String,
    declaration_office: String,
    status: String,
    lane: Option<String>,
    #[schema(format = DateTime)]
    submitted_at: String,
    version: i64,
}

/// A page of `GET /api/declarations`: by number (`total`, `page`, `pages`, `limit`) when `q`,
/// `sort` or `page` is given, otherwise by cursor (`next_cursor`, `null` on the last page).
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct DeclarationPage {
    items: Vec<DeclarationSummary>,
    #[schema(required = false)]
    next_cursor: Option<String>,
    #[schema(required = false, nullable = false)]
    total: Option<i64>,
    #[schema(required = false, nullable = false)]
    page: Option<i64>,
    #[schema(required = false, nullable = false)]
    pages: Option<i64>,
    #[schema(required = false, nullable = false)]
    limit: Option<i64>,
}

/// One declaration with everything known about it (`app::steps::DeclarationDetail`).
/// `declaration` is the typed form as stored (read-only: its charges are `{kind, …}`, its
/// numbers decimals); `form` is the same declaration in the filing form, which
/// `POST /api/declarations` accepts as it is (with a new `Client-Seq-No`).
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct DeclarationDetail {
    id: i64,
    version: i64,
    #[schema(format = DateTime)]
    updated_at: String,
    /// The state: `status`, `lane`, numbers and dates (not described further here).
    #[schema(value_type = Object)]
    state: serde_json::Value,
    /// The typed declaration as stored (the body as filed for one rejected by automatic
    /// review); not re-fileable as it is: use `form`.
    #[schema(value_type = Object)]
    declaration: serde_json::Value,
    /// The declaration in the filing form: file it again as it is.
    form: DeclarationForm,
    #[schema(value_type = Vec<Object>)]
    events: Vec<serde_json::Value>,
    #[schema(value_type = Vec<Object>)]
    notices: Vec<serde_json::Value>,
    #[schema(value_type = Vec<Object>)]
    notice_views: Vec<serde_json::Value>,
    /// The tax breakdown, every step shown; `null` when not assessed.
    #[schema(value_type = Option<Object>)]
    tax: Option<serde_json::Value>,
    #[schema(value_type = Option<Object>)]
    mutual_recognition: Option<serde_json::Value>,
}

/// A session (`POST /api/session`): send `token` as `Authorization: Bearer <token>` (the
/// answer also sets it as the `jinguan_session` cookie).
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct SessionToken {
    token: String,
    #[schema(format = DateTime)]
    expires_at: String,
    /// Who: kind, login, office, USCC, duties (not described further here).
    #[schema(value_type = Object)]
    principal: serde_json::Value,
}

// Transport and cargo (`cargo_control`; docs/CARGO.md).

/// The vessel, aircraft, truck or train 运输工具, by `mode`.
#[derive(ToSchema)]
#[serde(tag = "mode", rename_all = "snake_case")]
#[allow(dead_code)]
pub(crate) enum MeansOfTransport {
    /// A vessel by its IMO number (`IMO` and 7 digits).
    Vessel {
        imo: String,
        name: String,
    },
    Flight {
        flight_no: String,
    },
    Truck {
        plate: String,
    },
    Train {
        train_no: String,
    },
}

/// One trip of a means of transport, inbound or outbound, at an office of entry or exit.
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct Voyage {
    means: MeansOfTransport,
    voyage_no: String,
    /// `import` or `export`.
    direction: String,
    /// The office of entry (imports) or exit (exports) 进出境关别.
    office: String,
}

/// A master bill (`{"kind": "master"}`) or a house bill under a master
/// (`{"kind": "house", "master": "…"}`).
#[derive(ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[allow(dead_code)]
pub(crate) enum BillKind {
    Master,
    House { master: String },
}

/// One goods line of a bill.
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct GoodsLine {
    packages: u32,
    /// Package type code (`CT` cartons, `PK` packages, …).
    package_type: String,
    gross_weight_kg: DecimalText,
    description: String,
    #[schema(required = false)]
    containers: Vec<String>,
}

/// A bill of lading or waybill 提运单 on a manifest.
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct Bill {
    bill_no: String,
    kind: BillKind,
    lines: Vec<GoodsLine>,
}

/// What the tally counted for one bill.
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct TallyLine {
    bill_no: String,
    packages: u64,
    gross_weight_kg: DecimalText,
}

/// The guarantee securing a transit's duties.
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct TransitGuarantee {
    guarantee_no: String,
    /// Reserved on the guarantee ledger at declaration, in fen.
    amount_fen: i64,
    /// The customs value of the goods carried (CIF, in fen); required with a guarantee.
    #[schema(required = false)]
    goods_value_fen: Option<i64>,
}

/// The transit declaration 转关申报单.
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct TransitDeclaration {
    transit_no: String,
    /// The declarant's USCC.
    declarant: String,
    entry_office: String,
    destination_office: String,
    vehicle: MeansOfTransport,
    seals: Vec<String>,
    /// Waypoints from the office of entry to the office of destination.
    route: Vec<String>,
    time_limit_hours: i64,
    guarantee: Option<TransitGuarantee>,
    /// The bills of the goods carried (from the entry manifest).
    bills: Vec<String>,
}

/// One article of a parcel or of a passenger's baggage.
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct PostalArticle {
    description: String,
    /// Tax category 1, 2 or 3.
    category: u8,
    /// The dutiable value in yuan.
    dutiable_value_yuan: DecimalText,
    quantity: DecimalText,
}

/// One parcel of a parcel list.
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct Parcel {
    parcel_no: String,
    /// Country of dispatch (ISO alpha-3).
    dispatch_country: String,
    /// The addressee's id as the operator gives it (hashed: no names in clear).
    addressee_id: String,
    articles: Vec<PostalArticle>,
}

/// A parcel list 邮件清单 from a postal operator.
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct ParcelList {
    list_no: String,
    /// The operator's USCC.
    operator: String,
    office: String,
    parcels: Vec<Parcel>,
}

/// A passenger's baggage declaration 旅客行李申报.
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct BaggageDeclaration {
    declaration_ref: String,
    passenger_id: String,
    /// Flight, voyage or train the passenger arrived by.
    arrived_by: String,
    office: String,
    articles: Vec<PostalArticle>,
}

/// The price-check thresholds of the risk policy (`risk::PriceCheckPolicy`; docs/RISK.md).
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub(crate) struct PriceCheckPolicy {
    min_observations: u32,
    max_ratio: DecimalText,
    min_robust_z: DecimalText,
    /// `yellow` or `red`.
    lane: String,
    /// The inspection kind a hit orders (`document`, `physical`, …).
    inspection: String,
}

#[cfg(test)]
mod tests {
    //! The twins above against the real types: a full body (every field given) read by the
    //! real type and written back keeps every key (the real type has no field the body lacks,
    //! and drops none of it), and its keys are exactly the schema's properties, at every depth.

    use std::collections::BTreeMap;

    use serde_json::{json, Value};

    #[test]
    fn no_two_parts_of_the_document_name_different_schemas_alike() {
        assert_eq!(crate::document().collisions(), &[] as &[String]);
    }

    /// The document's schemas, `$ref`s resolved by name.
    fn schemas() -> BTreeMap<String, Value> {
        let doc = crate::document().finish();
        let v = serde_json::to_value(&doc).unwrap();
        v["components"]["schemas"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// The object schema `s` stands for: through `$ref`, and the non-null arm of a `oneOf`.
    fn resolve<'a>(all: &'a BTreeMap<String, Value>, s: &'a Value) -> &'a Value {
        if let Some(r) = s["$ref"].as_str() {
            let name = r.rsplit('/').next().unwrap();
            return resolve(
                all,
                all.get(name).unwrap_or_else(|| panic!("no schema {name}")),
            );
        }
        if let Some(arms) = s["oneOf"].as_array() {
            let objects: Vec<&Value> = arms.iter().filter(|a| a["type"] != "null").collect();
            if objects.len() == 1 {
                return resolve(all, objects[0]);
            }
        }
        s
    }

    /// `value`'s keys are `schema`'s properties, at every depth (`at` names where).
    fn same_keys(all: &BTreeMap<String, Value>, schema: &Value, value: &Value, at: &str) {
        let schema = resolve(all, schema);
        match value {
            Value::Object(map) => {
                let Some(props) = schema["properties"].as_object() else {
                    // A tagged union: the arm whose tag (a property of one value) matches.
                    let arms = schema["oneOf"].as_array().unwrap_or_else(|| {
                        panic!("{at}: an object where the schema has none: {schema}")
                    });
                    let arm = arms
                        .iter()
                        .map(|a| resolve(all, a))
                        .find(|a| {
                            a["properties"].as_object().is_some_and(|props| {
                                props.iter().all(|(k, p)| match p["enum"].as_array() {
                                    Some(values) => map.get(k).is_some_and(|v| values.contains(v)),
                                    None => true,
                                })
                            })
                        })
                        .unwrap_or_else(|| panic!("{at}: no arm of {schema} for {value}"));
                    return same_keys(all, arm, value, at);
                };
                let mut want: Vec<&String> = props.keys().collect();
                let mut got: Vec<&String> = map.keys().collect();
                want.sort();
                got.sort();
                assert_eq!(got, want, "{at}: the body's keys against the schema's");
                for (k, v) in map {
                    same_keys(all, &props[k], v, &format!("{at}.{k}"));
                }
            }
            Value::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    same_keys(all, &schema["items"], v, &format!("{at}[{i}]"));
                }
            }
            _ => {}
        }
    }

    /// A full body: the real type reads it and writes it back with the same keys, which are
    /// the schema's.
    fn check<T: serde::de::DeserializeOwned + serde::Serialize>(schema: &str, body: Value) {
        let all = schemas();
        let real: T = serde_json::from_value(body.clone())
            .unwrap_or_else(|e| panic!("{schema}: the real type refuses the body: {e}"));
        let back = serde_json::to_value(&real).unwrap();
        same_keys(
            &all,
            &json!({"$ref": format!("#/components/schemas/{schema}")}),
            &body,
            schema,
        );
        same_keys(
            &all,
            &json!({"$ref": format!("#/components/schemas/{schema}")}),
            &back,
            schema,
        );
    }

    fn laptops() -> Value {
        let mut v: Value =
            serde_json::from_str(include_str!("../../../examples/import-laptops.json")).unwrap();
        // Every field, the optional ones too.
        v["record_no"] = json!("B12345678901");
        v["owner"]["customs_code"] = json!("3122960123");
        v["agent"] = json!({"name": "上海报关行", "uscc": "91310000132149237G", "customs_code": "3122960001"});
        v["licence_no"] = json!("25-AA-000001");
        v["destination_port"] = json!("CNSHA");
        v["insurance"] = json!({"mark": "1", "value": "0.3", "currency": null});
        v["other_charges"] = json!({"mark": "3", "value": "100", "currency": "USD"});
        v["documents"] = json!([{"code": "Y", "number": "RCEP-1"}]);
        v["marks"] = json!("N/M");
        v["remarks"] = json!("");
        v["buyer"] = json!({"id_type": "passport", "id_no": "E12345678", "name": "王"});
        let item = &mut v["items"][0];
        item["record_item"] = json!("1");
        item["producer"] = json!("Example");
        item["origin_proof"] = json!({"agreement": "RCEP", "kind": "certificate", "number": "C1", "direct_transport": true});
        item["quota_certificate_no"] = json!("Q1");
        v
    }

    #[test]
    fn the_declaration_form_schema_is_the_forms() {
        check::<domain::declaration::DeclarationForm>("DeclarationForm", laptops());
        // The parser the filing runs knows every field too (no unknown_field problem).
        domain::validate::parse_form(laptops().to_string().as_bytes()).unwrap();
    }

    fn means() -> [Value; 4] {
        [
            json!({"mode": "vessel", "imo": "IMO9321483", "name": "COSCO SHIPPING"}),
            json!({"mode": "flight", "flight_no": "CA986"}),
            json!({"mode": "truck", "plate": "沪A12345"}),
            json!({"mode": "train", "train_no": "X8001"}),
        ]
    }

    #[test]
    fn the_cargo_schemas_are_the_cargo_types() {
        for m in means() {
            let voyage = json!({"means": m, "voyage_no": "20250308", "direction": "import", "office": "2233"});
            check::<cargo_control::Voyage>("Voyage", voyage);
        }
        for kind in [
            json!({"kind": "master"}),
            json!({"kind": "house", "master": "MB-1"}),
        ] {
            let bill = json!({"bill_no": "HB-1", "kind": kind, "lines": [{"packages": 3, "package_type": "CT",
                "gross_weight_kg": "120.5", "description": "laptops", "containers": ["CSQU3054383"]}]});
            check::<cargo_control::Bill>("Bill", bill);
        }
        check::<cargo_control::TallyLine>(
            "TallyLine",
            json!({"bill_no": "HB-1", "packages": 3, "gross_weight_kg": "120.5"}),
        );
        for m in means() {
            let transit = json!({"transit_no": "T1", "declarant": "91310115MA1K4Q7B4Y", "entry_office": "2233",
                "destination_office": "2300", "vehicle": m, "seals": ["S1"], "route": ["Pudong"],
                "time_limit_hours": 24, "bills": ["HB-1"],
                "guarantee": {"guarantee_no": "G1", "amount_fen": 100, "goods_value_fen": 400}});
            check::<cargo_control::TransitDeclaration>("TransitDeclaration", transit);
        }
        let article = json!({"description": "shoes", "category": 2, "dutiable_value_yuan": "300", "quantity": "1"});
        check::<cargo_control::ParcelList>(
            "ParcelList",
            json!({"list_no": "L1", "operator": "91310115MA1K4Q7B4Y", "office": "2233",
                "parcels": [{"parcel_no": "P1", "dispatch_country": "USA", "addressee_id": "h1", "articles": [article.clone()]}]}),
        );
        check::<cargo_control::BaggageDeclaration>(
            "BaggageDeclaration",
            json!({"declaration_ref": "B1", "passenger_id": "h2", "arrived_by": "CA986", "office": "2233",
                "articles": [article]}),
        );
        check::<app::risk_desk::PriceCheckPolicy>(
            "PriceCheckPolicy",
            json!({"min_observations": 10, "max_ratio": "0.5", "min_robust_z": "3.5", "lane": "yellow",
                "inspection": "document"}),
        );
    }
}
