use sea_orm_migration::prelude::*;

mod m0001_conversations;
mod m0002_plugins;

/// Migrations of one tenant's schema.
pub struct TenantMigrator;

impl MigratorTrait for TenantMigrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![Box::new(m0001_conversations::Migration), Box::new(m0002_plugins::Migration)]
    }
}
