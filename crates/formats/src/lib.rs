//! Interchange formats of the goods declaration (docs/DOMAIN.md §8, docs/FORMATS.md): one
//! canonical model, Jinguan's JSON form ([`domain::declaration::DeclarationForm`]), and each
//! format an adapter that reads into it (so that one validation pass reports every problem)
//! and prints from it.
//!
//! - [`decmessage`]: the single-window XML `DecMessage` (UTF-8, or GBK/GB2312 as the XML prolog
//!   declares), read and printed; JSON paths as XML paths for answers.
//! - [`receipt`]: customs receipts as single-window `DEC_RESULT`, one per status change.
//! - [`edifact`]: UN/EDIFACT syntax (service string advice, release character, segment counts
//!   and control references), read and printed.
//! - [`cusdec`]: D.96B CUSDEC in and out, CUSRES out.
//! - [`cuscar`]: D.96B CUSCAR in (a manifest filing for the cargo API) and out.
//! - [`wcodm`]: the WCO Data Model 3.6 declaration in and out (the CDS profile's schemas), a
//!   WCO `Response` out.
//! - [`iso3166`]: alpha-3 ↔ alpha-2 country codes for the profiles that take alpha-2.
//!
//! Pure: bytes in, a form or problems out; no IO, no clock.

// Panics in library code only with a stated reason: `.expect("why this cannot fail")` or an
// error, never a bare `.unwrap()` (tests may unwrap).
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

pub mod cuscar;
pub mod cusdec;
pub mod decmessage;
pub mod edifact;
pub mod iso3166;
pub mod receipt;
pub mod wcodm;
