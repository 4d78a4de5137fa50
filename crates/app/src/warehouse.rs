//! The statistics warehouse as the HQ dashboard asks it: the [`Warehouse`] trait is the seam.
//! The warehouse itself (DataFusion over Parquet, crates/stats) is heavy and lives outside the
//! service and the server; `cli` fills this trait with it when `serve --warehouse DIR` is
//! given. `StatsService::warehouse_breakdown` and `warehouse_bulletin` authorise the
//! statistician and narrow the question to their scope before it reaches the trait.

use serde::Serialize;

/// A dimension a breakdown groups or filters by (the `items` columns of docs/STATISTICS.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Dimension {
    Month,
    Flow,
    Chapter,
    Hs4,
    Hs6,
    Hs8,
    Partner,
    TradeMode,
    TransportMode,
    District,
    Region,
    EnterpriseType,
}

impl Dimension {
    pub const ALL: [Dimension; 12] = [
        Dimension::Month,
        Dimension::Flow,
        Dimension::Chapter,
        Dimension::Hs4,
        Dimension::Hs6,
        Dimension::Hs8,
        Dimension::Partner,
        Dimension::TradeMode,
        Dimension::TransportMode,
        Dimension::District,
        Dimension::Region,
        Dimension::EnterpriseType,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Dimension::Month => "month",
            Dimension::Flow => "flow",
            Dimension::Chapter => "chapter",
            Dimension::Hs4 => "hs4",
            Dimension::Hs6 => "hs6",
            Dimension::Hs8 => "hs8",
            Dimension::Partner => "partner",
            Dimension::TradeMode => "trade_mode",
            Dimension::TransportMode => "transport_mode",
            Dimension::District => "district",
            Dimension::Region => "region",
            Dimension::EnterpriseType => "enterprise_type",
        }
    }

    pub fn parse(s: &str) -> Option<Dimension> {
        Dimension::ALL.into_iter().find(|d| d.as_str() == s)
    }
}

/// What one breakdown asks: trade of the months `from..=to` (`YYYY-MM`) grouped by `by`,
/// restricted by `filters` (a drill-down: dimension = code), within `offices` (the accepting
/// offices of the principal's scope; `None`: all), at most `limit` groups, largest first (by
/// month in order for [`Dimension::Month`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Breakdown {
    pub by: Dimension,
    pub from: String,
    pub to: String,
    pub filters: Vec<(Dimension, String)>,
    pub offices: Option<Vec<String>>,
    pub limit: u32,
}

/// Groups at most in one breakdown.
pub const BREAKDOWN_LIMIT_MAX: u32 = 1_000;

/// One group: its code, names, and trade in CNY (fen) and USD (cents), exports and imports.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct BreakdownRow {
    pub code: String,
    pub name_zh: String,
    pub name_en: String,
    pub items: i64,
    pub export_cny_fen: i64,
    pub import_cny_fen: i64,
    pub export_usd_cents: i64,
    pub import_usd_cents: i64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct BreakdownAnswer {
    pub by: &'static str,
    pub from: String,
    pub to: String,
    pub rows: Vec<BreakdownRow>,
    /// More groups than `limit` existed.
    pub truncated: bool,
}

/// The bulletin's file formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BulletinFormat {
    Csv,
    Xlsx,
}

/// What the warehouse says went wrong: the caller's input (a bad month or code: 4xx with both
/// languages) or the warehouse itself.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WarehouseError {
    #[error("{field}: {message_en}")]
    Invalid {
        field: String,
        code: String,
        message_zh: String,
        message_en: String,
    },
    #[error("warehouse failed: {0}")]
    Failed(String),
}

/// The warehouse's answers for the dashboard.
pub trait Warehouse: Send + Sync {
    fn breakdown(&self, q: &Breakdown) -> Result<BreakdownAnswer, WarehouseError>;
    fn bulletin(&self, month: &str, format: BulletinFormat) -> Result<Vec<u8>, WarehouseError>;
}
