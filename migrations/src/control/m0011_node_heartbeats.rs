//! Node heartbeats: one row per `tikethet serve` process on PostgreSQL,
//! renewed every second, so the other nodes can tell a dead node from a
//! slow one within seconds and take over the chats it claimed without
//! waiting out each claim's lease (see `tikethet_runtime::worker::heartbeat`).
//!
//! `node_id` is the holder name the process puts on its chat claims
//! (`host:port#random`); `seen_at` is the database's clock at the last
//! renewal, so nodes' clocks never enter the comparison. Unused on SQLite,
//! where one process serves a data folder.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum NodeHeartbeats {
    Table,
    NodeId,
    SeenAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(NodeHeartbeats::Table)
                    .if_not_exists()
                    .col(string_len(NodeHeartbeats::NodeId, 64).primary_key())
                    .col(timestamp_with_time_zone(NodeHeartbeats::SeenAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(NodeHeartbeats::Table).if_exists().to_owned()).await
    }
}
