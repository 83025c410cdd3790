//! End-to-end tests: the real server on port 0, real SQLite files and
//! PostgreSQL schemas, real Redis where configured, and the Telegram
//! stand-in. Every scenario runs on both databases.

mod plugins;
mod process;
mod spine;
