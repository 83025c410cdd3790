//! sea-orm entities of a tenant's schema (see `migrations/src/tenant`).

pub mod attachments;
pub mod audit_log;
pub mod broadcasts;
pub mod inbox;
pub mod macros;
pub mod messages;
pub mod outbox;
pub mod canned_responses;
pub mod categories;
pub mod console_links;
pub mod console_sessions;
pub mod plugin_failures;
pub mod plugin_schedules;
pub mod plugins;
pub mod ticket_counts;
pub mod ticket_tags;
pub mod usage_counters;
pub mod saved_views;
pub mod sessions;
pub mod sla_alerts;
pub mod team_members;
pub mod teams;
pub mod staff_forum;
pub mod ticket_ratings;
pub mod tickets;
pub mod users;
