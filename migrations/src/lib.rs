//! Schema migrations, written with sea-orm-migration.
//!
//! Owns two independent migration sets: [`ControlPlaneMigrator`] for the
//! platform's own tables (tenants and their bots) and [`TenantMigrator`] for
//! the tables inside every tenant's schema (PostgreSQL) or database file
//! (SQLite). Each set records what it applied in its own `seaql_migrations`
//! table, so a tenant's schema carries its own version. This crate knows
//! nothing about connections or tenants: callers hand it a connection whose
//! default schema is the one to migrate.

pub use sea_orm_migration::{MigrationTrait, MigratorTrait};

mod control;
mod tenant;

pub use control::ControlPlaneMigrator;
pub use tenant::TenantMigrator;

/// The name of the newest tenant migration: what a fully migrated tenant
/// schema reports as its version.
pub fn latest_tenant_version() -> String {
    TenantMigrator::migrations()
        .last()
        .map(|m| m.name().to_owned())
        .unwrap_or_default()
}
