//! Usage reporting: each day's count per meter (`usage_counters`, counted
//! in the same transaction as the work) learns how much of it Stripe has
//! been told (`reported`), and what is being told right now (`reporting`,
//! written before the report is sent, so a report retried after a crash
//! carries the same identifier and value). Customer messages over a plan's
//! limit wait in the inbox as `over_limit`, which needs no new column.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum UsageCounters {
    Table,
    Reported,
    Reporting,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(Table::alter().table(UsageCounters::Table).add_column(big_integer(UsageCounters::Reported).default(0)).to_owned())
            .await?;
        manager
            .alter_table(Table::alter().table(UsageCounters::Table).add_column(big_integer(UsageCounters::Reporting).default(0)).to_owned())
            .await
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        Err(DbErr::Migration("m0007_usage cannot be undone".into()))
    }
}
