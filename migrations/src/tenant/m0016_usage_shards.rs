//! A day's count of a meter is spread over several rows (`shard`), because
//! one row per day and meter is updated by every ticket and message of the
//! desk: each transaction that counts holds that row's lock until it
//! commits, so on PostgreSQL all of a desk's writes queued behind one
//! another's commits. Counting adds to one shard picked per transaction;
//! readers sum the shards. Rows from before are shard 0.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

const POSTGRES: &[&str] = &[
    "ALTER TABLE usage_counters ADD COLUMN shard smallint NOT NULL DEFAULT 0",
    "ALTER TABLE usage_counters DROP CONSTRAINT usage_counters_pkey",
    "ALTER TABLE usage_counters ADD PRIMARY KEY (day, metric, shard)",
];

/// SQLite cannot change a primary key in place: the table is copied.
const SQLITE: &[&str] = &[
    "CREATE TABLE usage_counters_new (\
        day varchar(10) NOT NULL, metric varchar(64) NOT NULL, shard smallint NOT NULL DEFAULT 0, \
        count bigint NOT NULL, reported bigint NOT NULL DEFAULT 0, reporting bigint NOT NULL DEFAULT 0, \
        reporting_at bigint NULL, PRIMARY KEY (day, metric, shard))",
    "INSERT INTO usage_counters_new (day, metric, shard, count, reported, reporting, reporting_at) \
        SELECT day, metric, 0, count, reported, reporting, reporting_at FROM usage_counters",
    "DROP TABLE usage_counters",
    "ALTER TABLE usage_counters_new RENAME TO usage_counters",
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
        Err(DbErr::Migration("m0016_usage_shards cannot be undone".into()))
    }
}
