//! The customs domain of Jinguan, with no IO and no clock.
//!
//! - [`codes`]: identifiers and code values as newtypes that can only be built by parsing
//!   (`Uscc`, `DeclarationNo`, `HsCode`, `OfficeCode`, ...).
//! - [`money`]: amounts in fen (`Fen`) and the one rounding rule.
//! - [`declaration`]: the goods declaration, its JSON wire form and the typed form.
//! - [`form_of`]: the JSON form of a typed declaration (to amend a stored one by path).
//! - [`form_path`]: field paths of the JSON form (`items[0].unit_price`), derived from the form;
//!   reading, writing and comparing forms by path (amendments and versions).
//! - [`reference`]: what validation needs to know of code tables and the tariff (`Reference`),
//!   implemented by the `refdata` crate.
//! - [`validate`]: the gate from the wire form to the typed form, reporting every problem at once.
//! - [`problem`]: one problem: field path, stable code, message in Chinese and English.
//! - [`time`]: the China day (UTC+8), the one definition of the customs calendar's zone.
//! - [`rng`]: the one seeded pseudo-random generator of the workspace (simulator, tests, benches).

// Panics in library code only with a stated reason: `.expect("why this cannot fail")` or an
// error, never a bare `.unwrap()` (tests may unwrap).
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

pub mod codes;
pub mod declaration;
pub mod divisions;
pub mod form_of;
pub mod form_path;
pub mod money;
pub mod problem;
pub mod reference;
pub mod rng;
mod strict;
pub mod time;
pub mod validate;

pub use problem::{Problem, Problems};
