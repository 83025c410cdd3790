use sea_orm_migration::prelude::*;

mod m0001_tenants;

/// Migrations of the control plane (the platform's own schema).
pub struct ControlPlaneMigrator;

impl MigratorTrait for ControlPlaneMigrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![Box::new(m0001_tenants::Migration)]
    }
}
