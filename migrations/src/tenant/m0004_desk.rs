//! The complete desk: edited and deleted messages, the indexes behind the
//! ticket list's filters and keyset pages, and full-text search over titles
//! and messages (PostgreSQL's `tsvector` with the `simple` configuration,
//! which neither stems nor drops words, so Russian and English search
//! alike; SQLite's FTS5 kept in step by triggers).

use sea_orm_migration::sea_orm::{ConnectionTrait, DatabaseBackend};
use sea_orm_migration::{prelude::*, schema::*};

use super::index;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Messages {
    Table,
    EditedAt,
    DeletedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Tickets {
    Table,
    Id,
    Status,
    UpdatedAt,
    CreatedAt,
    CustomerId,
    AssigneeId,
    CategoryId,
}

/// FTS5 tables without their own copy of the text (`content=''`): the
/// rowid is the ticket's or the message's id.
const SQLITE_FTS: &[&str] = &[
    "CREATE VIRTUAL TABLE IF NOT EXISTS tickets_fts USING fts5(title, content='', tokenize='unicode61')",
    "CREATE VIRTUAL TABLE IF NOT EXISTS messages_fts USING fts5(text, content='', tokenize='unicode61')",
    "INSERT INTO tickets_fts(rowid, title) SELECT id, title FROM tickets",
    "INSERT INTO messages_fts(rowid, text) SELECT id, text FROM messages WHERE internal = 0",
    "CREATE TRIGGER IF NOT EXISTS tickets_fts_insert AFTER INSERT ON tickets BEGIN \
       INSERT INTO tickets_fts(rowid, title) VALUES (new.id, new.title); END",
    "CREATE TRIGGER IF NOT EXISTS tickets_fts_update AFTER UPDATE OF title ON tickets BEGIN \
       INSERT INTO tickets_fts(tickets_fts, rowid, title) VALUES ('delete', old.id, old.title); \
       INSERT INTO tickets_fts(rowid, title) VALUES (new.id, new.title); END",
    "CREATE TRIGGER IF NOT EXISTS tickets_fts_delete AFTER DELETE ON tickets BEGIN \
       INSERT INTO tickets_fts(tickets_fts, rowid, title) VALUES ('delete', old.id, old.title); END",
    // Internal notes are searchable by staff, but the index serves everyone:
    // only public messages go in, so a customer's search never matches a
    // note's words. Deleted messages leave the index.
    "CREATE TRIGGER IF NOT EXISTS messages_fts_insert AFTER INSERT ON messages WHEN new.internal = 0 BEGIN \
       INSERT INTO messages_fts(rowid, text) VALUES (new.id, new.text); END",
    "CREATE TRIGGER IF NOT EXISTS messages_fts_update AFTER UPDATE OF text, deleted_at ON messages WHEN old.internal = 0 BEGIN \
       INSERT INTO messages_fts(messages_fts, rowid, text) VALUES ('delete', old.id, old.text); \
       INSERT INTO messages_fts(rowid, text) SELECT new.id, new.text WHERE new.deleted_at IS NULL; END",
    "CREATE TRIGGER IF NOT EXISTS messages_fts_delete AFTER DELETE ON messages WHEN old.internal = 0 BEGIN \
       INSERT INTO messages_fts(messages_fts, rowid, text) VALUES ('delete', old.id, old.text); END",
];

const POSTGRES_FTS: &[&str] = &[
    "CREATE INDEX IF NOT EXISTS idx_tickets_title_fts ON tickets USING gin (to_tsvector('simple', title))",
    "CREATE INDEX IF NOT EXISTS idx_messages_text_fts ON messages USING gin (to_tsvector('simple', text)) WHERE internal = false AND deleted_at IS NULL",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let add = |table: DynIden, col: ColumnDef| Table::alter().table(table).add_column(col).to_owned();
        manager.alter_table(add(Messages::Table.into_iden(), timestamp_with_time_zone_null(Messages::EditedAt))).await?;
        manager.alter_table(add(Messages::Table.into_iden(), timestamp_with_time_zone_null(Messages::DeletedAt))).await?;
        // The list's default order and its keyset pages, and the filters.
        let cols = |c: &[Tickets]| c.iter().map(|c| c.into_iden()).collect::<Vec<DynIden>>();
        index(manager, "idx_tickets_updated", Tickets::Table, cols(&[Tickets::UpdatedAt, Tickets::Id])).await?;
        index(manager, "idx_tickets_created", Tickets::Table, cols(&[Tickets::CreatedAt, Tickets::Id])).await?;
        index(manager, "idx_tickets_status", Tickets::Table, cols(&[Tickets::Status, Tickets::UpdatedAt])).await?;
        index(manager, "idx_tickets_customer", Tickets::Table, cols(&[Tickets::CustomerId, Tickets::UpdatedAt])).await?;
        index(manager, "idx_tickets_assignee", Tickets::Table, cols(&[Tickets::AssigneeId, Tickets::UpdatedAt])).await?;
        index(manager, "idx_tickets_category", Tickets::Table, cols(&[Tickets::CategoryId])).await?;
        let db = manager.get_connection();
        let statements = match db.get_database_backend() {
            DatabaseBackend::Sqlite => SQLITE_FTS,
            _ => POSTGRES_FTS,
        };
        for s in statements {
            db.execute_unprepared(s).await?;
        }
        Ok(())
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        Err(DbErr::Migration("m0004_desk cannot be undone".into()))
    }
}
