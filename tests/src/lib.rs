//! End-to-end tests of the whole system, and what they need: the Telegram
//! stand-in, Telegram update fixtures, and helpers that spawn the real
//! server. The test binary is `tests/e2e.rs`; the intake benchmark is the
//! `bench-intake` binary.

pub mod fake_telegram;
pub mod fixtures;
pub mod helpers;
