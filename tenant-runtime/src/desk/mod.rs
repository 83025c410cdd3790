//! The desk as its people use it through the API: the ticket list, changes
//! to tickets and messages, categories, people and roles, statistics. Each
//! function works inside one tenant's transaction for one viewer; the
//! [`context::TenantContext`] methods in [`service`] and [`operations`]
//! open the transaction and call these. [`tickets`] is the store of
//! tickets, messages and people that the worker shares; [`usage`] counts
//! work against the plan in the same transactions.

pub mod analytics;
pub mod audit;
pub mod canned;
pub mod categories;
pub mod changes;
pub mod context;
pub mod customers;
pub mod keys;
pub mod list;
pub mod macros;
pub mod merge;
pub mod operations;
pub mod people;
pub mod sla;
pub mod stats;
pub mod service;
pub mod tags;
pub mod teams;
pub mod tickets;
pub mod usage;
pub mod views;
