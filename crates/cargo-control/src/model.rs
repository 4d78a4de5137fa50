//! The vocabulary shared by manifests, transit and postal clearance: [`Actor`],
//! [`MeansOfTransport`], [`Voyage`], [`ManifestKind`], [`Bill`] and [`GoodsLine`], the
//! [`MatchPolicy`] with its weight tolerance, and the access rule [`office_covers`].

use domain::codes::{Direction, OfficeCode, Uscc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::codes::{BillNo, ContainerNo, FlightNo, ImoNumber, TrainNo, TruckPlate, VoyageNo};

/// Bounds on what one command may carry (house style: a limit on everything).
pub const BILLS_MAX: usize = 20_000;
pub const LINES_PER_BILL_MAX: usize = 999;
pub const CONTAINERS_PER_LINE_MAX: usize = 200;
pub const SEALS_MAX: usize = 50;
pub const ROUTE_MAX: usize = 50;
pub const ARTICLES_MAX: usize = 200;
pub const PARCELS_MAX: usize = 10_000;
pub const TEXT_MAX: usize = 512;

/// Who asks. Authentication is the caller's job; this crate checks that this kind of actor may do
/// this step, and that a carrier acts only on its own manifests.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Actor {
    /// The carrier (shipping line, airline, road or rail operator) or its agent, by USCC.
    Carrier { uscc: Uscc },
    /// The operator of a customs-supervised place (terminal, warehouse), which files arrival reports.
    Terminal { uscc: Uscc },
    /// A tally agency 理货公司, which files tally reports.
    TallyAgency { uscc: Uscc },
    /// A postal operator, which files parcel lists.
    PostalOperator { uscc: Uscc },
    /// A passenger filing a baggage declaration; the id is the caller's (hashed) passenger id,
    /// never a document number in clear.
    Passenger { id: String },
    /// A customs officer of an office.
    Officer { login: String, office: OfficeCode },
    /// An automatic component (`clearance`, `release`, `risk`).
    System { component: String },
}

impl Actor {
    /// A short stable label for logs and audit.
    pub fn label(&self) -> String {
        match self {
            Actor::Carrier { uscc } => format!("carrier:{uscc}"),
            Actor::Terminal { uscc } => format!("terminal:{uscc}"),
            Actor::TallyAgency { uscc } => format!("tally_agency:{uscc}"),
            Actor::PostalOperator { uscc } => format!("postal_operator:{uscc}"),
            Actor::Passenger { id } => format!("passenger:{id}"),
            Actor::Officer { login, office } => format!("officer:{office}:{login}"),
            Actor::System { component } => format!("system:{component}"),
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Actor::Carrier { .. } => "carrier",
            Actor::Terminal { .. } => "terminal",
            Actor::TallyAgency { .. } => "tally_agency",
            Actor::PostalOperator { .. } => "postal_operator",
            Actor::Passenger { .. } => "passenger",
            Actor::Officer { .. } => "officer",
            Actor::System { .. } => "system",
        }
    }
}

/// Whether an officer of `officer_office` may see or act on the work of `target`: the same office
/// or one below it. Uses [`OfficeCode::digit_parent`]; the office table is the authority and the
/// caller may filter with it first (a few first-level codes break the digit pattern).
pub fn office_covers(officer_office: OfficeCode, target: OfficeCode) -> bool {
    let mut cur = Some(target);
    while let Some(o) = cur {
        if o == officer_office {
            return true;
        }
        cur = o.digit_parent();
    }
    false
}

/// The vessel, aircraft, truck or train 运输工具.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum MeansOfTransport {
    Vessel { imo: ImoNumber, name: String },
    Flight { flight_no: FlightNo },
    Truck { plate: TruckPlate },
    Train { train_no: TrainNo },
}

impl MeansOfTransport {
    pub fn mode(&self) -> &'static str {
        match self {
            MeansOfTransport::Vessel { .. } => "vessel",
            MeansOfTransport::Flight { .. } => "flight",
            MeansOfTransport::Truck { .. } => "truck",
            MeansOfTransport::Train { .. } => "train",
        }
    }
}

/// One trip of a means of transport, inbound or outbound, at an office of entry or exit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Voyage {
    pub means: MeansOfTransport,
    pub voyage_no: VoyageNo,
    pub direction: Direction,
    /// The office of entry (imports) or exit (exports) 进出境关别.
    pub office: OfficeCode,
}

/// The kind of manifest filing (docs/DOMAIN.md §6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ManifestKind {
    /// 预配舱单: before loading.
    PreLoad,
    /// 原始舱单: the manifest as loaded.
    Original,
    /// 运抵报告: the goods are at the supervised place.
    ArrivalReport,
    /// 理货报告: what the tally counted.
    TallyReport,
}

impl ManifestKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ManifestKind::PreLoad => "pre_load",
            ManifestKind::Original => "original",
            ManifestKind::ArrivalReport => "arrival_report",
            ManifestKind::TallyReport => "tally_report",
        }
    }

    pub fn name_zh(self) -> &'static str {
        match self {
            ManifestKind::PreLoad => "预配舱单",
            ManifestKind::Original => "原始舱单",
            ManifestKind::ArrivalReport => "运抵报告",
            ManifestKind::TallyReport => "理货报告",
        }
    }
}

/// A master bill (the carrier's) or a house bill (a forwarder's, under a master).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum BillKind {
    Master,
    House { master: BillNo },
}

/// One goods line of a bill.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GoodsLine {
    pub packages: u32,
    /// Package type code (`CT` cartons, `PK` packages, …), as text.
    pub package_type: CompactText,
    pub gross_weight_kg: Decimal,
    pub description: CompactText,
    #[serde(default)]
    pub containers: Vec<ContainerNo>,
}

/// The longest text kept inline by [`CompactText`], in bytes.
pub const COMPACT_TEXT_INLINE: usize = 22;

/// Text that needs no heap block of its own when short: up to [`COMPACT_TEXT_INLINE`] bytes
/// (package type codes, many goods descriptions) are stored in the value, longer text as a
/// boxed `str`. 24 bytes either way, like a `String`, but without the `String`'s separate
/// block (at least 32 bytes with the allocator's header) for short text; the ledger keeps
/// every goods line of every manifest version in memory (docs/CARGO.md "Performance").
/// Reads as `&str` (`Deref`), serializes as a JSON string, built with `.into()` from `&str` or
/// `String`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct CompactText(TextRepr);

/// Canonical: text of at most [`COMPACT_TEXT_INLINE`] bytes is always inline with the unused
/// bytes zero, longer text always boxed, so the derived equality is the equality of the text.
#[derive(Clone, PartialEq, Eq, Hash)]
enum TextRepr {
    Inline {
        len: u8,
        bytes: [u8; COMPACT_TEXT_INLINE],
    },
    Boxed(Box<str>),
}

const _: () = assert!(std::mem::size_of::<CompactText>() == 24);

impl CompactText {
    pub fn as_str(&self) -> &str {
        match &self.0 {
            TextRepr::Inline { len, bytes } => std::str::from_utf8(&bytes[..usize::from(*len)])
                .expect("inline text was copied whole from a str"),
            TextRepr::Boxed(s) => s,
        }
    }

    /// Whether the text is kept inline (no heap block).
    pub fn is_inline(&self) -> bool {
        matches!(self.0, TextRepr::Inline { .. })
    }
}

impl From<&str> for CompactText {
    fn from(s: &str) -> CompactText {
        if s.len() <= COMPACT_TEXT_INLINE {
            let mut bytes = [0u8; COMPACT_TEXT_INLINE];
            bytes[..s.len()].copy_from_slice(s.as_bytes());
            CompactText(TextRepr::Inline {
                len: s.len() as u8,
                bytes,
            })
        } else {
            CompactText(TextRepr::Boxed(s.into()))
        }
    }
}

impl From<String> for CompactText {
    fn from(s: String) -> CompactText {
        if s.len() <= COMPACT_TEXT_INLINE {
            CompactText::from(s.as_str())
        } else {
            CompactText(TextRepr::Boxed(s.into_boxed_str()))
        }
    }
}

impl std::ops::Deref for CompactText {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for CompactText {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq<str> for CompactText {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for CompactText {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl std::fmt::Debug for CompactText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.as_str(), f)
    }
}

impl std::fmt::Display for CompactText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for CompactText {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for CompactText {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<CompactText, D::Error> {
        String::deserialize(deserializer).map(CompactText::from)
    }
}

/// A bill of lading or waybill 提运单 on a manifest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bill {
    pub bill_no: BillNo,
    pub kind: BillKind,
    pub lines: Vec<GoodsLine>,
}

impl Bill {
    pub fn packages(&self) -> u64 {
        self.lines.iter().map(|l| u64::from(l.packages)).sum()
    }

    pub fn gross_weight_kg(&self) -> Decimal {
        self.lines.iter().map(|l| l.gross_weight_kg).sum()
    }

    pub fn containers(&self) -> impl Iterator<Item = &ContainerNo> {
        self.lines.iter().flat_map(|l| l.containers.iter())
    }
}

/// How closely a declaration must agree with its bill (docs/DOMAIN.md §6: "packages and weight
/// agreeing"; the tolerance is a documented policy, docs/CARGO.md).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatchPolicy {
    /// Weight may differ by this fraction of the expected weight (0.03 = 3 %) …
    pub weight_tolerance_ratio: Decimal,
    /// … or by this many kilograms, whichever allows more.
    pub weight_tolerance_kg: Decimal,
    /// Whether a declaration may cover part of a bill's packages (分批申报). When false the
    /// declared packages must equal what remains of the bill.
    pub allow_partial: bool,
}

impl Default for MatchPolicy {
    fn default() -> Self {
        MatchPolicy {
            weight_tolerance_ratio: Decimal::new(3, 2),
            weight_tolerance_kg: Decimal::from(5),
            allow_partial: false,
        }
    }
}

/// The largest weight tolerance ratio a configuration may set (50 %).
pub const WEIGHT_TOLERANCE_RATIO_MAX: Decimal = Decimal::from_parts(5, 0, 0, false, 1);
/// The largest weight tolerance floor a configuration may set, in kilograms.
pub const WEIGHT_TOLERANCE_KG_MAX: Decimal = Decimal::from_parts(1_000, 0, 0, false, 0);

impl MatchPolicy {
    /// A policy from configuration (`jinguan serve` flags or a settings file), checked: the
    /// ratio from 0 to 0.5, the floor from 0 to 1,000 kg.
    pub fn new(
        weight_tolerance_ratio: Decimal,
        weight_tolerance_kg: Decimal,
        allow_partial: bool,
    ) -> Result<MatchPolicy, crate::Refusal> {
        if weight_tolerance_ratio.is_sign_negative()
            || weight_tolerance_ratio > WEIGHT_TOLERANCE_RATIO_MAX
        {
            return Err(crate::Refusal::OutOfRange {
                field: "weight_tolerance_ratio",
                max: WEIGHT_TOLERANCE_RATIO_MAX,
            });
        }
        if weight_tolerance_kg.is_sign_negative() || weight_tolerance_kg > WEIGHT_TOLERANCE_KG_MAX {
            return Err(crate::Refusal::OutOfRange {
                field: "weight_tolerance_kg",
                max: WEIGHT_TOLERANCE_KG_MAX,
            });
        }
        Ok(MatchPolicy {
            weight_tolerance_ratio,
            weight_tolerance_kg,
            allow_partial,
        })
    }

    /// The largest difference allowed against `expected_kg`.
    pub fn allowed_difference_kg(&self, expected_kg: Decimal) -> Decimal {
        let by_ratio = expected_kg.abs() * self.weight_tolerance_ratio;
        by_ratio.max(self.weight_tolerance_kg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_text_is_inline_up_to_its_limit_and_reads_back_whole() {
        let short = CompactText::from("CT");
        assert!(short.is_inline());
        assert_eq!(short, "CT");
        let limit = "x".repeat(COMPACT_TEXT_INLINE);
        assert!(CompactText::from(limit.as_str()).is_inline());
        let long = "笔记本电脑 laptops and tablets".to_string();
        assert!(long.len() > COMPACT_TEXT_INLINE);
        let boxed = CompactText::from(long.clone());
        assert!(!boxed.is_inline());
        assert_eq!(boxed.as_str(), long);
        // Seven Chinese characters (21 bytes) stay inline; eight (24 bytes) do not.
        assert!(CompactText::from("笔记本电脑配件").is_inline());
        assert!(!CompactText::from("笔记本电脑配件包").is_inline());
        assert_eq!(CompactText::from("").as_str(), "");
    }

    #[test]
    fn compact_text_equality_and_json_are_those_of_the_text() {
        for s in [
            "",
            "CT",
            "general cargo",
            "笔记本电脑 laptops and tablets, 12 units",
        ] {
            let a = CompactText::from(s);
            let b = CompactText::from(s.to_string());
            assert_eq!(a, b);
            assert_eq!(format!("{a}"), s);
            assert_eq!(format!("{a:?}"), format!("{s:?}"));
            let json = serde_json::to_string(&a).unwrap();
            assert_eq!(json, serde_json::to_string(s).unwrap());
            assert_eq!(serde_json::from_str::<CompactText>(&json).unwrap(), a);
        }
        assert_ne!(CompactText::from("CT"), CompactText::from("PK"));
        assert_ne!(CompactText::from("C"), CompactText::from("C\0"));
    }

    #[test]
    fn goods_lines_serialize_as_before() {
        let line = GoodsLine {
            packages: 3,
            package_type: "CT".into(),
            gross_weight_kg: Decimal::new(125, 1),
            description: "general cargo".into(),
            containers: Vec::new(),
        };
        let json = serde_json::to_value(&line).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"packages": 3, "package_type": "CT", "gross_weight_kg": "12.5",
                "description": "general cargo", "containers": []})
        );
        assert_eq!(serde_json::from_value::<GoodsLine>(json).unwrap(), line);
    }
}
