//! Claims on a chat's work, so that any node may take any chat's updates
//! and messages while each chat is worked by one node at a time.
//!
//! `chat_claims`: one row per (lane, chat) being worked. `lane` is
//! `update` (the conversation) or `send` (the sender); `chat_id` is the
//! chat, or 0 for updates that have none. `holder` names the process that
//! holds it, `lease_until` when it lapses if not renewed, and `fence` grows
//! by one whenever the claim changes hands: a holder commits its work only
//! while the row still carries its fence, so a process whose lease lapsed
//! (paused, partitioned) cannot commit over the one that took the chat
//! over. The row is removed when its chat has nothing left to do.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ChatClaims {
    Table,
    Lane,
    ChatId,
    Holder,
    Fence,
    LeaseUntil,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ChatClaims::Table)
                    .if_not_exists()
                    .col(string_len(ChatClaims::Lane, 8))
                    .col(big_integer(ChatClaims::ChatId))
                    .col(string_len(ChatClaims::Holder, 64))
                    .col(big_integer(ChatClaims::Fence))
                    .col(timestamp_with_time_zone(ChatClaims::LeaseUntil))
                    .primary_key(Index::create().col(ChatClaims::Lane).col(ChatClaims::ChatId))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(ChatClaims::Table).if_exists().to_owned()).await
    }
}
