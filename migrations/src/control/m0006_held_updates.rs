//! Webhook updates of a tenant whose own storage is being migrated: held in
//! the control plane (which is always ready), moved to the tenant's inbox in
//! arrival order once its schema is at the newest version.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum HeldUpdates {
    Table,
    Id,
    TenantId,
    Body,
    ReceivedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(HeldUpdates::Table)
                    .if_not_exists()
                    .col(big_pk_auto(HeldUpdates::Id))
                    .col(string_len(HeldUpdates::TenantId, 40))
                    .col(text(HeldUpdates::Body))
                    .col(timestamp_with_time_zone(HeldUpdates::ReceivedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("held_updates_by_tenant")
                    .table(HeldUpdates::Table)
                    .col(HeldUpdates::TenantId)
                    .col(HeldUpdates::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(HeldUpdates::Table).to_owned()).await
    }
}
