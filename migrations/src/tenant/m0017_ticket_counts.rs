//! Tickets per status, kept by the database on every write of a ticket
//! (`ticket_counts`), so that the queue's counters cost a few rows read
//! instead of a scan of every ticket of the desk. Triggers keep it, so no
//! path that writes tickets (the API, the bot, plugins, merges, a future
//! one) can forget to. Spread over shards by ticket number, like the usage
//! counters: one row per status would make every new ticket of a desk
//! wait for the commit of the one before.
//!
//! On PostgreSQL the triggers are deferred to the commit: a counter row
//! is then locked only while the transaction commits, not from the
//! ticket's insert on (a ticket is opened early in a transaction that does
//! a dozen more things, and 50 such transactions at once queued on 16
//! rows: 4.7 ms a ticket insert instead of 0.1). SQLite has one writer at a
//! time and counts as it goes.
//!
//! On PostgreSQL the trigger names its schema from the table that fired it
//! (`TG_TABLE_SCHEMA`), not from `search_path`: writes may come through
//! schema-qualified statements with no `search_path` set, and a spare
//! schema is renamed when a tenant takes it.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

const POSTGRES: &[&str] = &[
    "CREATE TABLE ticket_counts (status varchar(32) NOT NULL, shard smallint NOT NULL, n bigint NOT NULL, PRIMARY KEY (status, shard))",
    "CREATE FUNCTION ticket_counts_track() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        EXECUTE format('INSERT INTO %I.ticket_counts AS c (status, shard, n) VALUES ($1, $2, -1) ON CONFLICT (status, shard) DO UPDATE SET n = c.n - 1', TG_TABLE_SCHEMA)
            USING OLD.status::text, (OLD.id % 16)::smallint;
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN
        EXECUTE format('INSERT INTO %I.ticket_counts AS c (status, shard, n) VALUES ($1, $2, 1) ON CONFLICT (status, shard) DO UPDATE SET n = c.n + 1', TG_TABLE_SCHEMA)
            USING NEW.status::text, (NEW.id % 16)::smallint;
    END IF;
    RETURN NULL;
END
$$",
    "CREATE CONSTRAINT TRIGGER ticket_counts_insert_delete AFTER INSERT OR DELETE ON tickets \
        DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ticket_counts_track()",
    "CREATE CONSTRAINT TRIGGER ticket_counts_status AFTER UPDATE OF status ON tickets \
        DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION ticket_counts_track()",
    "INSERT INTO ticket_counts (status, shard, n) SELECT status::text, (id % 16)::smallint, COUNT(*) FROM tickets GROUP BY 1, 2",
];

/// SQLite has one writer at a time: one row per status.
const SQLITE: &[&str] = &[
    "CREATE TABLE ticket_counts (status varchar(32) NOT NULL, shard smallint NOT NULL, n bigint NOT NULL, PRIMARY KEY (status, shard))",
    "CREATE TRIGGER ticket_counts_insert AFTER INSERT ON tickets BEGIN
        INSERT INTO ticket_counts (status, shard, n) VALUES (NEW.status, 0, 1) ON CONFLICT (status, shard) DO UPDATE SET n = n + 1;
    END",
    "CREATE TRIGGER ticket_counts_delete AFTER DELETE ON tickets BEGIN
        INSERT INTO ticket_counts (status, shard, n) VALUES (OLD.status, 0, -1) ON CONFLICT (status, shard) DO UPDATE SET n = n - 1;
    END",
    "CREATE TRIGGER ticket_counts_status AFTER UPDATE OF status ON tickets WHEN OLD.status IS NOT NEW.status BEGIN
        INSERT INTO ticket_counts (status, shard, n) VALUES (OLD.status, 0, -1) ON CONFLICT (status, shard) DO UPDATE SET n = n - 1;
        INSERT INTO ticket_counts (status, shard, n) VALUES (NEW.status, 0, 1) ON CONFLICT (status, shard) DO UPDATE SET n = n + 1;
    END",
    "INSERT INTO ticket_counts (status, shard, n) SELECT status, 0, COUNT(*) FROM tickets GROUP BY status",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let statements = match db.get_database_backend() {
            DatabaseBackend::Sqlite => SQLITE,
            _ => POSTGRES,
        };
        for s in statements {
            db.execute_unprepared(s).await?;
        }
        Ok(())
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        Err(DbErr::Migration("m0017_ticket_counts cannot be undone".into()))
    }
}
