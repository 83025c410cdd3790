//! Whether another process waits for a claimed chat (`chat_claims.wanted`).
//! A process that finds a chat held sets it; the holder, giving the chat
//! up, sees it and wakes the waiters at once (through Redis) instead of
//! leaving them to their next look. Chats nobody waits for cost no message.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ChatClaims {
    Table,
    Wanted,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.alter_table(Table::alter().table(ChatClaims::Table).add_column(boolean(ChatClaims::Wanted).default(false)).to_owned()).await
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        Err(DbErr::Migration("m0015_claim_wanted cannot be undone".into()))
    }
}
