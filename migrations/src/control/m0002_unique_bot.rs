//! One bot serves one tenant: a unique index, so two concurrent
//! provisionings of the same bot cannot both succeed.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tenants {
    Table,
    BotId,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create().if_not_exists().name("uniq_tenants_bot_id").table(Tenants::Table).col(Tenants::BotId).unique().to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_index(Index::drop().name("uniq_tenants_bot_id").table(Tenants::Table).to_owned()).await
    }
}
