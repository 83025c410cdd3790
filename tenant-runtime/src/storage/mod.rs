//! Storage handles: the control-plane connection and one handle per tenant.
//!
//! SQLite (the embedded default) keeps the control plane in one file and
//! each tenant in a file of its own under `tenants/`, opened only while in
//! use and kept in a bounded set ([`sqlite_handles`]). PostgreSQL keeps the
//! control plane in one schema and each tenant in a schema of its own; one
//! shared pool serves all of them, and every tenant transaction first points
//! `search_path` at that tenant's schema (PostgreSQL re-plans cached
//! statements when `search_path` changes, so prepared statements stay safe).
//! Its pooled connections are recycled after a while, because each server
//! backend caches the catalog entries of every table it touches for life:
//! a connection that has served every tenant would otherwise hold all of
//! their tables.

mod control;
mod fresh;
mod spares;
mod versions;
pub mod sqlite_handles;
pub mod entities;
pub mod files;
pub mod tenant;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use anyhow::Context as _;
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr,
    Statement, TransactionTrait,
};
use tikethet_migrations::{ControlPlaneMigrator, MigratorTrait, TenantMigrator};

use crate::domain::TenantSlug;
pub use control::ControlDb;
use sqlite_handles::{HandleStats, SqliteHandles, SqliteLease};

/// Where the platform keeps its data, parsed from `TIKETHET_DATABASE_URL`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageUrl {
    /// `sqlite://path/to/control.db`: tenants live in `path/to/tenants/`.
    Sqlite { control_file: PathBuf },
    /// `postgres://…`: the control plane lives in `schema`, tenants in
    /// `{schema}_{slug}`.
    Postgres { url: String, schema: String },
}

impl StorageUrl {
    /// Parses the database URL; `schema` names the control-plane schema on
    /// PostgreSQL (ignored on SQLite).
    pub fn parse(url: &str, schema: &str) -> anyhow::Result<Self> {
        if let Some(rest) = url.strip_prefix("sqlite:") {
            let path = rest.trim_start_matches("//");
            let path = path.split('?').next().unwrap_or_default();
            anyhow::ensure!(!path.is_empty(), "TIKETHET_DATABASE_URL: sqlite URL has no file path (e.g. sqlite://data/tikethet.db)");
            Ok(StorageUrl::Sqlite { control_file: PathBuf::from(path) })
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            anyhow::ensure!(
                !schema.is_empty()
                    && schema.len() <= 20
                    && schema.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
                    && schema.as_bytes()[0].is_ascii_lowercase(),
                "TIKETHET_DATABASE_SCHEMA must be 1 to 20 lowercase letters, digits or underscores, starting with a letter (got {schema:?})"
            );
            Ok(StorageUrl::Postgres { url: url.to_owned(), schema: schema.to_owned() })
        } else {
            anyhow::bail!("TIKETHET_DATABASE_URL must start with sqlite:// or postgres:// (got {:?})", redact_url(url))
        }
    }
}

/// A URL with any password replaced, for error messages and logs.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_owned(),
    }
}

/// The platform's storage: the control plane plus access to every tenant's.
#[derive(Clone)]
pub struct Storage {
    inner: Arc<StorageInner>,
}

enum Backend {
    Sqlite { handles: Arc<SqliteHandles> },
    Postgres { schema: String },
}

/// How many tenant databases may be open at once on SQLite
/// (`TIKETHET_SQLITE_OPEN_MAX`), and how long a pooled PostgreSQL
/// connection lives (`TIKETHET_PG_CONNECTION_LIFETIME_SECS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StorageLimits {
    pub sqlite_open_max: usize,
    pub pg_connection_lifetime: Duration,
    /// Spare tenant schemas a serving node keeps ready (PostgreSQL).
    pub pg_spare_schemas: usize,
}

pub use spares::DEFAULT_PG_SPARE_SCHEMAS;

impl Default for StorageLimits {
    fn default() -> Self {
        StorageLimits {
            sqlite_open_max: DEFAULT_SQLITE_OPEN_MAX,
            pg_connection_lifetime: Duration::from_secs(300),
            pg_spare_schemas: DEFAULT_PG_SPARE_SCHEMAS,
        }
    }
}

/// Enough for the tenants active within a few minutes on a busy node, and
/// within the common `ulimit -n 1024` with room to spare,
/// at about 4 file descriptors and well under 1 MiB each.
pub const DEFAULT_SQLITE_OPEN_MAX: usize = 128;
/// File descriptors kept for everything but tenant databases: the control
/// plane, sockets (clients, PostgreSQL, Redis, Telegram), uploads, logs.
const FD_RESERVE: u64 = 256;
/// Per open tenant database: the file, its WAL, its shared-memory index,
/// and one spare for a journal or temporary file.
const FDS_PER_DATABASE: u64 = 4;

/// Raises the soft `RLIMIT_NOFILE` to the hard one where allowed and works
/// out how many tenant databases fit in it: `(limit, open_max)`.
pub fn fd_budget(wanted: usize) -> (u64, usize) {
    let limit = rlimit::increase_nofile_limit(u64::MAX).unwrap_or(1024);
    let fits = limit.saturating_sub(FD_RESERVE) / FDS_PER_DATABASE;
    (limit, wanted.min(fits.max(1) as usize))
}

struct StorageInner {
    /// The pool every connection comes from; it carries no session state
    /// (no `search_path`), so it works through PgBouncer in transaction mode.
    pool: DatabaseConnection,
    control: ControlDb,
    backend: Backend,
    spares: spares::Spares,
}

const PG_POOL_SIZE: u32 = 24;

#[derive(Clone, Copy)]
enum SqliteRole {
    Control,
    Tenant,
}

fn sqlite_options(file: &Path, role: SqliteRole) -> ConnectOptions {
    let file = file.to_path_buf();
    let mut opts = ConnectOptions::new(format!("sqlite://{}", file.display()));
    opts.max_connections(1)
        .min_connections(0)
        .sqlx_logging(false)
        .acquire_timeout(Duration::from_secs(30))
        .map_sqlx_sqlite_opts(move |o| {
            // WAL lets readers run beside the writer; FULL makes a commit
            // survive a power cut, which is what "acknowledged" promises.
            let o = o
                .filename(&file)
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Full)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true);
            match role {
                SqliteRole::Control => o,
                // Many small databases: a small page cache (512 KiB at
                // most, allocated only as pages are read) and fewer cached
                // statements per connection.
                SqliteRole::Tenant => o.pragma("cache_size", "-512").statement_cache_capacity(32),
            }
        });
    opts
}

impl Storage {
    /// Connects, creating the SQLite folders or the PostgreSQL control
    /// schema when missing, and migrates the control plane.
    pub async fn open(url: &StorageUrl, limits: StorageLimits) -> anyhow::Result<Storage> {
        let (pool, backend) = match url {
            StorageUrl::Sqlite { control_file } => {
                let dir = control_file.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
                let tenants_dir = dir.join("tenants");
                std::fs::create_dir_all(&tenants_dir)
                    .with_context(|| format!("failed to create the data folder {}", tenants_dir.display()))?;
                let pool = Database::connect(sqlite_options(control_file, SqliteRole::Control))
                    .await
                    .with_context(|| format!("failed to open the control-plane database {}", control_file.display()))?;
                (pool, Backend::Sqlite { handles: Arc::new(SqliteHandles::new(tenants_dir, limits.sqlite_open_max)) })
            }
            StorageUrl::Postgres { url, schema } => {
                let mut opts = ConnectOptions::new(url.clone());
                opts.max_connections(PG_POOL_SIZE)
                    .min_connections(0)
                    .sqlx_logging(false)
                    .connect_timeout(Duration::from_secs(5))
                    .acquire_timeout(Duration::from_secs(30))
                    .max_lifetime(limits.pg_connection_lifetime);
                let pool = Database::connect(opts)
                    .await
                    .with_context(|| format!("failed to connect to PostgreSQL at {}", redact_url(url)))?;
                create_schema(&pool, schema).await?;
                (pool, Backend::Postgres { schema: schema.clone() })
            }
        };
        let control = ControlDb::new(
            pool.clone(),
            match &backend {
                Backend::Postgres { schema } => Some(schema),
                Backend::Sqlite { .. } => None,
            },
        );
        match &backend {
            Backend::Sqlite { .. } => ControlPlaneMigrator::up(&pool, None).await,
            // In one transaction in the control schema; the lock keeps two
            // starting nodes from migrating at once (the second waits, then
            // finds nothing to do).
            Backend::Postgres { schema } => {
                let txn = control.begin().await?;
                txn.execute_raw(Statement::from_sql_and_values(
                    DbBackend::Postgres,
                    "SELECT pg_advisory_xact_lock(hashtext($1))",
                    [schema.clone().into()],
                ))
                .await?;
                let done = ControlPlaneMigrator::up(&txn, None).await;
                match done {
                    Ok(()) => txn.commit().await,
                    Err(e) => Err(e),
                }
            }
        }
        .context("failed to migrate the control plane")?;
        Ok(Storage { inner: Arc::new(StorageInner { pool, control, backend, spares: spares::Spares::new(limits.pg_spare_schemas) }) })
    }

    /// The control plane's connection.
    pub fn control(&self) -> &ControlDb {
        &self.inner.control
    }

    /// The open tenant databases on SQLite (none on PostgreSQL).
    pub fn sqlite_handles(&self) -> Option<HandleStats> {
        match &self.inner.backend {
            Backend::Sqlite { handles } => Some(handles.stats()),
            Backend::Postgres { .. } => None,
        }
    }

    /// Closes tenant databases nobody used for `idle_for` (SQLite).
    pub async fn close_idle(&self, idle_for: Duration) -> usize {
        match &self.inner.backend {
            Backend::Sqlite { handles } => handles.close_idle(idle_for).await,
            Backend::Postgres { .. } => 0,
        }
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self.inner.backend, Backend::Postgres { .. })
    }

    /// The storage name a new tenant with this slug gets: its schema on
    /// PostgreSQL, its file name on SQLite.
    pub fn storage_name_for(&self, slug: &TenantSlug) -> String {
        match &self.inner.backend {
            Backend::Sqlite { .. } => format!("{slug}.db"),
            Backend::Postgres { schema, .. } => format!("{schema}_{}", slug.as_str().replace('-', "_")),
        }
    }

    /// A handle on one tenant's storage; nothing is opened until it is used.
    pub fn tenant(&self, storage_name: &str) -> TenantDb {
        match &self.inner.backend {
            Backend::Sqlite { handles } => TenantDb {
                kind: Kind::Sqlite { handles: handles.clone(), name: Arc::from(storage_name) },
                used: Arc::default(),
            },
            Backend::Postgres { .. } => TenantDb {
                kind: Kind::Postgres { pool: self.inner.pool.clone(), schema: Arc::from(storage_name) },
                used: Arc::default(),
            },
        }
    }

    /// Creates (when missing) and migrates a tenant's schema or file.
    /// Returns the version now applied.
    pub async fn migrate_tenant(&self, storage_name: &str) -> anyhow::Result<String> {
        // All pending migrations in one transaction (DDL is transactional on
        // both backends): a migration interrupted half-way leaves the schema
        // as it was, and the next run starts it again.
        let txn = match &self.inner.backend {
            // IMMEDIATE: take the write lock first (waiting for a busy file
            // like any writer); a read-first transaction that must then
            // write fails at once when another process holds the lock.
            Backend::Sqlite { handles } => {
                let opts = sea_orm::TransactionOptions {
                    sqlite_transaction_mode: Some(sea_orm::SqliteTransactionMode::Immediate),
                    ..Default::default()
                };
                handles.lease(storage_name).await?.begin_with_options(opts).await?
            }
            Backend::Postgres { .. } => {
                create_schema(&self.inner.pool, storage_name).await?;
                let txn = self.inner.pool.begin().await?;
                // Migrations create unqualified tables. The lock keeps two
                // migrators (a `tikethet migrate` beside a starting server)
                // from racing on one schema: the second waits, then finds
                // nothing to do.
                txn.execute_raw(Statement::from_sql_and_values(
                    DbBackend::Postgres,
                    "SELECT set_config('search_path', $1, true), pg_advisory_xact_lock(hashtext($1))",
                    [storage_name.into()],
                ))
                .await?;
                txn
            }
        };
        TenantMigrator::up(&txn, None).await.context("failed to run tenant migrations")?;
        txn.commit().await.context("failed to commit tenant migrations")?;
        Ok(tikethet_migrations::latest_tenant_version())
    }

    /// Whether a tenant's schema or file exists (a new tenant must not
    /// inherit one left over).
    pub async fn tenant_storage_exists(&self, storage_name: &str) -> anyhow::Result<bool> {
        match &self.inner.backend {
            Backend::Sqlite { handles } => Ok(handles.dir().join(storage_name).exists()),
            Backend::Postgres { .. } => {
                let row = self
                    .inner
                    .pool
                    .query_one_raw(Statement::from_sql_and_values(
                        DbBackend::Postgres,
                        "SELECT 1 AS found FROM pg_namespace WHERE nspname = $1",
                        [storage_name.into()],
                    ))
                    .await
                    .context("failed to look for a tenant schema")?;
                Ok(row.is_some())
            }
        }
    }

    /// Removes a tenant's schema or file with everything in it.
    pub async fn drop_tenant(&self, storage_name: &str) -> anyhow::Result<()> {
        match &self.inner.backend {
            Backend::Sqlite { handles } => {
                handles.forget(storage_name).await;
                for suffix in ["", "-wal", "-shm"] {
                    let path = handles.dir().join(format!("{storage_name}{suffix}"));
                    match std::fs::remove_file(&path) {
                        Ok(()) => {}
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                        Err(e) => return Err(e).with_context(|| format!("failed to remove {}", path.display())),
                    }
                }
                Ok(())
            }
            Backend::Postgres { .. } => {
                let sql = format!("DROP SCHEMA IF EXISTS {} CASCADE", quote_ident(storage_name)?);
                self.inner.pool.execute_unprepared(&sql).await.context("failed to drop tenant schema")?;
                Ok(())
            }
        }
    }

    /// Drops the control-plane schema and every schema under its prefix.
    /// For tests and benchmarks that own a throwaway schema.
    pub async fn drop_everything_postgres(&self) -> anyhow::Result<()> {
        if let Backend::Postgres { schema, .. } = &self.inner.backend {
            let rows = self
                .inner
                .pool
                .query_all_raw(Statement::from_sql_and_values(
                    DbBackend::Postgres,
                    "SELECT nspname FROM pg_namespace WHERE nspname = $1 OR nspname LIKE $2",
                    [schema.clone().into(), format!("{schema}\\_%").into()],
                ))
                .await?;
            for row in rows {
                let name: String = row.try_get("", "nspname")?;
                let sql = format!("DROP SCHEMA IF EXISTS {} CASCADE", quote_ident(&name)?);
                self.inner.pool.execute_unprepared(&sql).await?;
            }
        }
        Ok(())
    }

    pub async fn close(&self) {
        if let Backend::Sqlite { handles } = &self.inner.backend {
            handles.close_all().await;
        }
        self.inner.control.close().await;
    }
}

/// Points `txn`'s `search_path` at `schema` until it ends (never the
/// session's: pooled connections, PgBouncer's included, carry no state).
pub(crate) async fn point_at(txn: &DatabaseTransaction, schema: &str) -> Result<(), DbErr> {
    txn.execute_raw(Statement::from_sql_and_values(DbBackend::Postgres, "SELECT set_config('search_path', $1, true)", [schema.into()])).await?;
    Ok(())
}

/// Schema names come from validated slugs, but DDL cannot take them as
/// parameters: refuse anything that is not a plain identifier.
fn quote_ident(name: &str) -> anyhow::Result<String> {
    anyhow::ensure!(
        !name.is_empty() && name.len() <= 63 && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
        "refusing unsafe schema name {name:?}"
    );
    Ok(format!("\"{name}\""))
}

async fn create_schema(conn: &DatabaseConnection, name: &str) -> anyhow::Result<()> {
    let sql = format!("CREATE SCHEMA IF NOT EXISTS {}", quote_ident(name)?);
    match conn.execute_unprepared(&sql).await {
        Ok(_) => Ok(()),
        // Two processes creating the same schema at once: the loser sees a
        // unique violation on pg_namespace, which means it exists now.
        Err(e) if e.to_string().contains("pg_namespace_nspname_index") => Ok(()),
        Err(e) => Err(e).with_context(|| format!("failed to create schema {name}")),
    }
}

/// One tenant's storage. All tenant data access goes through [`TenantDb::begin`],
/// or [`TenantDb::find_one`] for a single read.
#[derive(Clone)]
pub struct TenantDb {
    kind: Kind,
    /// When it was last used, in seconds of [`clock`]: the sweep looks only
    /// at tenants used lately (and those their lanes noted).
    used: Arc<AtomicU64>,
}

#[derive(Clone)]
enum Kind {
    Sqlite { handles: Arc<SqliteHandles>, name: Arc<str> },
    Postgres { pool: DatabaseConnection, schema: Arc<str> },
}

/// Seconds since the process started (never 0, so 0 can mean "never").
fn clock() -> u64 {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    START.get_or_init(std::time::Instant::now).elapsed().as_secs() + 1
}

/// The connection intake writes through: a lease of the tenant's database
/// on SQLite, the shared pool on PostgreSQL.
pub(crate) enum WriterConn<'a> {
    Sqlite(SqliteLease),
    Postgres(&'a DatabaseConnection),
}

impl std::ops::Deref for WriterConn<'_> {
    type Target = DatabaseConnection;
    fn deref(&self) -> &DatabaseConnection {
        match self {
            WriterConn::Sqlite(l) => l,
            WriterConn::Postgres(c) => c,
        }
    }
}

/// A connection for statements outside a transaction, and how to name the
/// tenant's tables on it (see [`TenantDb::direct`]).
pub(crate) struct Direct<'a> {
    conn: WriterConn<'a>,
    /// PostgreSQL: the schema every table is qualified with.
    schema: Option<&'a str>,
}

impl Direct<'_> {
    /// `select` with its table qualified with the tenant's schema (on
    /// PostgreSQL; as it is on SQLite). Its column references name the
    /// table only, which still resolves to the qualified one.
    pub(crate) fn qualify<E: sea_orm::EntityTrait>(&self, mut select: sea_orm::Select<E>) -> sea_orm::Select<E> {
        use sea_orm::QueryTrait as _;
        if let Some(schema) = self.schema {
            select.query().from_clear().from((sea_orm::sea_query::Alias::new(schema), E::default()));
        }
        select
    }

    /// An insert with its table qualified as [`Direct::qualify`] does.
    pub(crate) fn qualify_insert<A: sea_orm::ActiveModelTrait>(&self, mut insert: sea_orm::Insert<A>) -> sea_orm::Insert<A> {
        use sea_orm::QueryTrait as _;
        if let Some(schema) = self.schema {
            insert.query().into_table((sea_orm::sea_query::Alias::new(schema), A::Entity::default()));
        }
        insert
    }

    /// An entity's table, qualified as [`Direct::qualify`] does, for subqueries.
    pub(crate) fn table<E: sea_orm::EntityTrait>(&self) -> sea_orm::sea_query::TableRef {
        use sea_orm::sea_query::IntoTableRef as _;
        match self.schema {
            Some(schema) => (sea_orm::sea_query::Alias::new(schema), E::default()).into_table_ref(),
            None => E::default().into_table_ref(),
        }
    }
}

impl std::ops::Deref for Direct<'_> {
    type Target = DatabaseConnection;
    fn deref(&self) -> &DatabaseConnection {
        &self.conn
    }
}

fn unavailable(e: anyhow::Error) -> DbErr {
    DbErr::Conn(sea_orm::RuntimeErr::Internal(format!("{e:#}")))
}

impl TenantDb {
    fn touch(&self) {
        self.used.store(clock(), std::sync::atomic::Ordering::Relaxed);
    }

    /// Whether this tenant's storage was used within `window`.
    pub fn used_within(&self, window: Duration) -> bool {
        let at = self.used.load(std::sync::atomic::Ordering::Relaxed);
        at != 0 && clock().saturating_sub(at) <= window.as_secs()
    }

    /// Starts a transaction scoped to this tenant's schema.
    pub async fn begin(&self) -> Result<DatabaseTransaction, DbErr> {
        self.touch();
        self.begin_unnoticed().await
    }

    /// [`TenantDb::begin`] that does not count as use: for the sweep, which
    /// would otherwise keep every tenant it reads looking busy.
    pub(crate) async fn begin_unnoticed(&self) -> Result<DatabaseTransaction, DbErr> {
        match &self.kind {
            // The transaction holds its connection, which keeps the
            // database open after the lease is dropped.
            Kind::Sqlite { handles, name } => handles.lease(name).await.map_err(unavailable)?.begin().await,
            Kind::Postgres { pool, schema } => {
                let txn = pool.begin().await?;
                point_at(&txn, schema).await?;
                Ok(txn)
            }
        }
    }

    /// Runs one read outside a transaction: on PostgreSQL its table is
    /// qualified with the tenant's schema instead of a transaction setting
    /// `search_path`, which would take three more round trips (`BEGIN`,
    /// `set_config`, `COMMIT`). For single-table reads on the hot path:
    /// every API request resolves its caller this way.
    pub async fn find_one<E: sea_orm::EntityTrait>(&self, select: sea_orm::Select<E>) -> Result<Option<E::Model>, DbErr> {
        let direct = self.direct().await?;
        direct.qualify(select).one(&*direct).await
    }

    /// Statements outside a transaction, each its own, for requests on the
    /// hot path that need no transaction: on PostgreSQL each statement's
    /// tables are qualified with the tenant's schema ([`Direct::qualify`],
    /// [`Direct::table`]) instead of a transaction pointing `search_path` at
    /// it, which costs three more round trips (`BEGIN`, `set_config`,
    /// `COMMIT`). PostgreSQL's default isolation gives each statement of a
    /// transaction its own snapshot anyway, so reads see what they would
    /// have seen inside one.
    pub(crate) async fn direct(&self) -> Result<Direct<'_>, DbErr> {
        self.touch();
        match &self.kind {
            Kind::Sqlite { handles, name } => Ok(Direct { conn: WriterConn::Sqlite(handles.lease(name).await.map_err(unavailable)?), schema: None }),
            Kind::Postgres { pool, schema } => Ok(Direct { conn: WriterConn::Postgres(pool), schema: Some(schema) }),
        }
    }

    /// The connection intake writes through.
    pub(crate) async fn writer(&self) -> Result<WriterConn<'_>, DbErr> {
        self.touch();
        match &self.kind {
            Kind::Sqlite { handles, name } => Ok(WriterConn::Sqlite(handles.lease(name).await.map_err(unavailable)?)),
            Kind::Postgres { pool, .. } => Ok(WriterConn::Postgres(pool)),
        }
    }

    /// What intake writes are grouped by: on SQLite the tenant's file, on
    /// PostgreSQL the schema its tables must be qualified with (intake
    /// commits many tenants at once and does not set `search_path`).
    pub(crate) fn writer_schema(&self) -> Option<&str> {
        match &self.kind {
            Kind::Sqlite { .. } => None,
            Kind::Postgres { schema, .. } => Some(schema),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(
            StorageUrl::parse("sqlite://data/tikethet.db", "x").unwrap(),
            StorageUrl::Sqlite { control_file: "data/tikethet.db".into() }
        );
        assert!(StorageUrl::parse("mysql://x", "x").is_err());
        assert!(StorageUrl::parse("postgres://u:p@h/db", "Bad-Schema").is_err());
        let err = StorageUrl::parse("mysql://u:secret@h/db", "x").unwrap_err().to_string();
        assert!(!err.contains("secret"), "{err}");
        assert!(quote_ident("a\"b").is_err());
    }
}
