//! The time a usage report in flight was stamped with (`reporting_at`, Unix
//! seconds), written with `reporting` before the report is sent. A report
//! retried after a crash must be the same request to the letter: Stripe
//! compares a reused `Idempotency-Key`'s parameters, and one stamped anew
//! at the retry would be refused as a different request, every time.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum UsageCounters {
    Table,
    ReportingAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.alter_table(Table::alter().table(UsageCounters::Table).add_column(big_integer_null(UsageCounters::ReportingAt)).to_owned()).await
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        Err(DbErr::Migration("m0013_usage_reporting_at cannot be undone".into()))
    }
}
