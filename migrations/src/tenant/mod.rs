use sea_orm_migration::prelude::*;

mod m0001_conversations;
mod m0002_plugins;
mod m0003_hardening;
mod m0004_desk;
mod m0005_bot_steps;
mod m0006_attachments;
mod m0007_usage;
mod m0008_console;
mod m0009_sla_csat;
mod m0010_topics_broadcasts;
mod m0011_plugin_schedule;
mod m0012_audit;
mod m0013_usage_reporting_at;
mod m0014_chat_claims;
mod m0015_claim_wanted;
mod m0016_usage_shards;
mod m0017_ticket_counts;
mod m0018_tag_index;
mod m0019_teams;
mod m0020_macros;
mod m0021_customers;
mod m0022_kinds_and_threads;
mod m0023_api_keys;

/// Migrations of one tenant's schema.
pub struct TenantMigrator;

impl MigratorTrait for TenantMigrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![Box::new(m0001_conversations::Migration), Box::new(m0002_plugins::Migration), Box::new(m0003_hardening::Migration), Box::new(m0004_desk::Migration), Box::new(m0005_bot_steps::Migration), Box::new(m0006_attachments::Migration), Box::new(m0007_usage::Migration), Box::new(m0008_console::Migration), Box::new(m0009_sla_csat::Migration), Box::new(m0010_topics_broadcasts::Migration), Box::new(m0011_plugin_schedule::Migration), Box::new(m0012_audit::Migration), Box::new(m0013_usage_reporting_at::Migration), Box::new(m0014_chat_claims::Migration), Box::new(m0015_claim_wanted::Migration), Box::new(m0016_usage_shards::Migration), Box::new(m0017_ticket_counts::Migration), Box::new(m0018_tag_index::Migration), Box::new(m0019_teams::Migration), Box::new(m0020_macros::Migration), Box::new(m0021_customers::Migration), Box::new(m0022_kinds_and_threads::Migration), Box::new(m0023_api_keys::Migration)]
    }
}

/// Creates an index unless it exists.
async fn index<T: IntoIden>(manager: &SchemaManager<'_>, name: &str, table: T, cols: Vec<DynIden>) -> Result<(), DbErr> {
    let mut idx = Index::create();
    idx.if_not_exists().name(name).table(table);
    for c in cols {
        idx.col(c);
    }
    manager.create_index(idx.to_owned()).await
}
