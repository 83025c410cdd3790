//! Storage handles: the control-plane connection and one handle per tenant.
//!
//! SQLite (the embedded default) keeps the control plane in one file and
//! each tenant in a file of its own under `tenants/`. PostgreSQL keeps the
//! control plane in one schema and each tenant in a schema of its own; one
//! shared pool serves all of them, and every tenant transaction first points
//! `search_path` at that tenant's schema (PostgreSQL re-plans cached
//! statements when `search_path` changes, so prepared statements stay safe).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr,
    Statement, TransactionTrait,
};
use tikethet_migrations::{ControlPlaneMigrator, MigratorTrait, TenantMigrator};

use crate::domain::TenantSlug;

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
    Sqlite { tenants_dir: PathBuf, open: Mutex<HashMap<String, DatabaseConnection>> },
    Postgres { url: String, schema: String },
}

struct StorageInner {
    control: DatabaseConnection,
    backend: Backend,
}

const PG_POOL_SIZE: u32 = 24;

fn sqlite_options(file: &Path) -> ConnectOptions {
    let file = file.to_path_buf();
    let mut opts = ConnectOptions::new(format!("sqlite://{}", file.display()));
    opts.max_connections(1)
        .min_connections(0)
        .sqlx_logging(false)
        .acquire_timeout(Duration::from_secs(30))
        .map_sqlx_sqlite_opts(move |o| {
            // WAL lets readers run beside the writer; FULL makes a commit
            // survive a power cut, which is what "acknowledged" promises.
            o.filename(&file)
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Full)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true)
        });
    opts
}

impl Storage {
    /// Connects, creating the SQLite folders or the PostgreSQL control
    /// schema when missing, and migrates the control plane.
    pub async fn open(url: &StorageUrl) -> anyhow::Result<Storage> {
        let (control, backend) = match url {
            StorageUrl::Sqlite { control_file } => {
                let dir = control_file.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
                let tenants_dir = dir.join("tenants");
                std::fs::create_dir_all(&tenants_dir)
                    .with_context(|| format!("failed to create the data folder {}", tenants_dir.display()))?;
                let control = Database::connect(sqlite_options(control_file))
                    .await
                    .with_context(|| format!("failed to open the control-plane database {}", control_file.display()))?;
                (control, Backend::Sqlite { tenants_dir, open: Mutex::new(HashMap::new()) })
            }
            StorageUrl::Postgres { url, schema } => {
                let mut opts = ConnectOptions::new(url.clone());
                opts.max_connections(PG_POOL_SIZE)
                    .min_connections(0)
                    .sqlx_logging(false)
                    .connect_timeout(Duration::from_secs(5))
                    .acquire_timeout(Duration::from_secs(30))
                    .set_schema_search_path(schema.clone());
                let control = Database::connect(opts)
                    .await
                    .with_context(|| format!("failed to connect to PostgreSQL at {}", redact_url(url)))?;
                create_schema(&control, schema).await?;
                (control, Backend::Postgres { url: url.clone(), schema: schema.clone() })
            }
        };
        ControlPlaneMigrator::up(&control, None)
            .await
            .context("failed to migrate the control plane")?;
        Ok(Storage { inner: Arc::new(StorageInner { control, backend }) })
    }

    /// The control plane's connection.
    pub fn control(&self) -> &DatabaseConnection {
        &self.inner.control
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

    /// A handle on one tenant's storage (opened lazily on SQLite).
    pub async fn tenant(&self, storage_name: &str) -> anyhow::Result<TenantDb> {
        match &self.inner.backend {
            Backend::Sqlite { tenants_dir, open } => {
                if let Some(conn) = open.lock().expect("poisoned").get(storage_name) {
                    return Ok(TenantDb::Sqlite(conn.clone()));
                }
                let path = tenants_dir.join(storage_name);
                let conn = Database::connect(sqlite_options(&path))
                    .await
                    .with_context(|| format!("failed to open tenant database {}", path.display()))?;
                let conn = open.lock().expect("poisoned").entry(storage_name.to_owned()).or_insert(conn).clone();
                Ok(TenantDb::Sqlite(conn))
            }
            Backend::Postgres { schema: _, .. } => Ok(TenantDb::Postgres {
                pool: self.inner.control.clone(),
                schema: Arc::from(storage_name),
            }),
        }
    }

    /// Creates (when missing) and migrates a tenant's schema or file.
    /// Returns the version now applied.
    pub async fn migrate_tenant(&self, storage_name: &str) -> anyhow::Result<String> {
        match &self.inner.backend {
            Backend::Sqlite { .. } => {
                let TenantDb::Sqlite(conn) = self.tenant(storage_name).await? else { unreachable!() };
                TenantMigrator::up(&conn, None).await.context("failed to run tenant migrations")?;
            }
            Backend::Postgres { url, .. } => {
                create_schema(&self.inner.control, storage_name).await?;
                // Migrations create unqualified tables, so they run on a
                // connection of their own whose default schema is the tenant's.
                let mut opts = ConnectOptions::new(url.clone());
                opts.max_connections(1)
                    .sqlx_logging(false)
                    .connect_timeout(Duration::from_secs(5))
                    .set_schema_search_path(storage_name.to_owned());
                let conn = Database::connect(opts).await.context("failed to connect for tenant migration")?;
                let result = TenantMigrator::up(&conn, None).await;
                conn.close().await.ok();
                result.context("failed to run tenant migrations")?;
            }
        }
        Ok(tikethet_migrations::latest_tenant_version())
    }

    /// Whether a tenant's schema or file exists (a new tenant must not
    /// inherit one left over).
    pub async fn tenant_storage_exists(&self, storage_name: &str) -> anyhow::Result<bool> {
        match &self.inner.backend {
            Backend::Sqlite { tenants_dir, .. } => Ok(tenants_dir.join(storage_name).exists()),
            Backend::Postgres { .. } => {
                let row = self
                    .inner
                    .control
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
            Backend::Sqlite { tenants_dir, open } => {
                let conn = open.lock().expect("poisoned").remove(storage_name);
                if let Some(conn) = conn {
                    conn.close().await.ok();
                }
                for suffix in ["", "-wal", "-shm"] {
                    let path = tenants_dir.join(format!("{storage_name}{suffix}"));
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
                self.inner.control.execute_unprepared(&sql).await.context("failed to drop tenant schema")?;
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
                .control
                .query_all_raw(Statement::from_sql_and_values(
                    DbBackend::Postgres,
                    "SELECT nspname FROM pg_namespace WHERE nspname = $1 OR nspname LIKE $2",
                    [schema.clone().into(), format!("{schema}\\_%").into()],
                ))
                .await?;
            for row in rows {
                let name: String = row.try_get("", "nspname")?;
                let sql = format!("DROP SCHEMA IF EXISTS {} CASCADE", quote_ident(&name)?);
                self.inner.control.execute_unprepared(&sql).await?;
            }
        }
        Ok(())
    }

    pub async fn close(&self) {
        if let Backend::Sqlite { open, .. } = &self.inner.backend {
            let conns: Vec<_> = open.lock().expect("poisoned").drain().map(|(_, c)| c).collect();
            for c in conns {
                c.close().await.ok();
            }
        }
        self.inner.control.clone().close().await.ok();
    }
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
pub enum TenantDb {
    Sqlite(DatabaseConnection),
    Postgres { pool: DatabaseConnection, schema: Arc<str> },
}

impl TenantDb {
    /// Starts a transaction scoped to this tenant's schema.
    pub async fn begin(&self) -> Result<DatabaseTransaction, DbErr> {
        match self {
            TenantDb::Sqlite(conn) => conn.begin().await,
            TenantDb::Postgres { pool, schema } => {
                let txn = pool.begin().await?;
                txn.execute_raw(Statement::from_sql_and_values(
                    DbBackend::Postgres,
                    "SELECT set_config('search_path', $1, true)",
                    [schema.to_string().into()],
                ))
                .await?;
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
        use sea_orm::QueryTrait as _;
        match self {
            TenantDb::Sqlite(conn) => select.one(conn).await,
            TenantDb::Postgres { pool, schema } => {
                let mut q = select.into_query();
                q.from_clear().from((sea_orm::sea_query::Alias::new(schema.as_ref()), E::default()));
                let stmt = DbBackend::Postgres.build(&q);
                E::find().from_raw_sql(stmt).one(pool).await
            }
        }
    }

    /// The connection intake writes through and, on PostgreSQL, the schema
    /// its tables must be qualified with (intake commits many tenants at once
    /// and does not set `search_path`).
    pub(crate) fn writer_parts(&self) -> (&DatabaseConnection, Option<&str>) {
        match self {
            TenantDb::Sqlite(conn) => (conn, None),
            TenantDb::Postgres { pool, schema } => (pool, Some(schema)),
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
