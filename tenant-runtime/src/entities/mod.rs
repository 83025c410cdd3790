//! sea-orm entities of a tenant's schema (see `migrations/src/tenant`).

pub mod inbox;
pub mod messages;
pub mod outbox;
pub mod sessions;
pub mod tickets;
pub mod users;
