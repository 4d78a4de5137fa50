//! Interchange formats of the goods declaration (docs/DOMAIN.md §8), read into Jinguan's JSON form
//! ([`domain::declaration::DeclarationForm`]) so that one validation pass reports every problem.
//!
//! - [`decmessage`]: the single-window XML `DecMessage` (UTF-8, or GBK/GB2312 as the XML prolog
//!   declares). The mapping is documented in `docs/declaration-xml.md`.
//!
//! Pure: bytes in, a form or problems out; no IO, no clock.

// Panics in library code only with a stated reason: `.expect("why this cannot fail")` or an
// error, never a bare `.unwrap()` (tests may unwrap).
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

pub mod decmessage;
