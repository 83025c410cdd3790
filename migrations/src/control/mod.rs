use sea_orm_migration::prelude::*;

mod m0001_tenants;
mod m0002_unique_bot;
mod m0003_branding;
mod m0004_custom_domain;
mod m0005_bot_texts;
mod m0006_held_updates;
mod m0007_limit_overrides;
mod m0008_billing;
mod m0009_operator;
mod m0010_sla;
mod m0011_node_heartbeats;
mod m0012_signup;
mod m0013_domains;
mod m0014_reopen_days;
mod m0015_default_language;

/// Migrations of the control plane (the platform's own schema).
pub struct ControlPlaneMigrator;

impl MigratorTrait for ControlPlaneMigrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![Box::new(m0001_tenants::Migration), Box::new(m0002_unique_bot::Migration), Box::new(m0003_branding::Migration), Box::new(m0004_custom_domain::Migration), Box::new(m0005_bot_texts::Migration), Box::new(m0006_held_updates::Migration), Box::new(m0007_limit_overrides::Migration), Box::new(m0008_billing::Migration), Box::new(m0009_operator::Migration), Box::new(m0010_sla::Migration), Box::new(m0011_node_heartbeats::Migration), Box::new(m0012_signup::Migration), Box::new(m0013_domains::Migration), Box::new(m0014_reopen_days::Migration), Box::new(m0015_default_language::Migration)]
    }
}
