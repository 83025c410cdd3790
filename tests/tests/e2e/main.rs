//! End-to-end tests: the real server on port 0, real SQLite files and
//! PostgreSQL schemas, real Redis where configured, and the Telegram
//! stand-in. Every scenario runs on both databases.

/// Runs each named scenario `async fn name(Backend)` as two tests, one on
/// SQLite and one on PostgreSQL.
macro_rules! on_both {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name(super::Backend::Sqlite).await } )+
        }
        mod postgres {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name(super::Backend::Postgres).await } )+
        }
    };
}

mod attachments;
mod audit;
mod billing;
mod broadcast;
mod bot_commands;
mod browser;
mod buttons;
mod citus;
mod cluster;
mod console;
mod customers;
mod demo;
mod desk;
mod domains;
mod edits;
mod doors;
mod forum;
mod fuzz;
mod hardening;
mod inbox_kill;
mod keys;
mod kinds;
mod limits;
mod live;
mod logs;
mod macros;
mod merge;
mod metrics;
mod miniapp;
mod notifications;
mod operator;
mod plans;
mod plugins;
mod process;
mod promises;
mod rebinding;
mod scale;
mod schedule;
mod signup;
mod sla;
mod tags;
mod threads;
mod teams;
mod spine;
mod strict_telegram;
mod tls;
