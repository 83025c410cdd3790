//! End-to-end tests of the whole system, and what they need: the Telegram
//! stand-in (as strict as Telegram), the Stripe stand-in, Telegram update fixtures, and helpers
//! that spawn the real server. The test binary is `tests/e2e/main.rs`; the
//! benchmarks are the `bench-intake` and `bench-plugins` binaries; plugin
//! crates of the tests' own are in `plugins/`.

pub mod bench_report;
pub mod dns;
pub mod browser;
pub mod fake_stripe;
pub mod fixtures;
pub mod helpers;
pub mod nodes;
pub mod pg_recorder;
pub mod pgbouncer;
pub mod tcp_cut;

/// The Telegram stand-in, a crate of its own (`tests/telegram-standin`)
/// because `tikethet demo` serves it too.
pub use tikethet_telegram_standin as fake_telegram;
