//! Creating a new tenant's storage fast.
//!
//! Running the tenant migrations the usual way costs a new connection, a
//! transaction (and an fsync) per migration and a round trip per statement:
//! about 140 ms per tenant. Instead:
//! - SQLite: the migrations run once per version into a template file, and a
//!   new tenant's database is a copy of it (one small file written and
//!   synced);
//! - PostgreSQL: they run on a pooled connection in one transaction whose
//!   commit does not wait for its own flush. That is safe because the
//!   tenant's control-plane row is committed after it, synchronously, and
//!   PostgreSQL's log is sequential: that later flush makes the schema
//!   durable too, and without that row the schema is only a leftover that a
//!   new tenant is refused over, never data.
//!
//! On PostgreSQL a spare schema made ahead of time is renamed instead when
//! one is ready (see [`super::spares`]).
//!
//! The migrations stay the only description of the schema.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use sea_orm::{ConnectionTrait as _, Database, DbBackend, Statement, TransactionTrait as _};
use tikethet_migrations::{MigratorTrait as _, TenantMigrator};
use tokio::sync::Mutex;

use super::{Backend, Storage, quote_ident};

/// One template build at a time (several tenants provisioned at once).
static TEMPLATE: Mutex<()> = Mutex::const_new(());

/// The template of the newest version beside the tenants' files, built when
/// missing. Named by version, so a new build makes its own.
async fn template(dir: &Path) -> anyhow::Result<PathBuf> {
    let path = dir.join(format!(".template-{}.db", tikethet_migrations::latest_tenant_version()));
    if path.exists() {
        return Ok(path);
    }
    let _one = TEMPLATE.lock().await;
    if path.exists() {
        return Ok(path);
    }
    let building = dir.join(format!(".template-{}.db.building", std::process::id()));
    std::fs::remove_file(&building).ok();
    let mut opts = sea_orm::ConnectOptions::new(format!("sqlite://{}?mode=rwc", building.display()));
    opts.max_connections(1).sqlx_logging(false);
    let conn = Database::connect(opts).await.context("failed to create the tenant template")?;
    // A rollback journal keeps the template in one file, ready to copy.
    conn.execute_unprepared("PRAGMA journal_mode = DELETE").await?;
    let txn = conn.begin().await?;
    TenantMigrator::up(&txn, None).await.context("failed to migrate the tenant template")?;
    txn.commit().await?;
    conn.close().await?;
    std::fs::File::open(&building)?.sync_all()?;
    std::fs::rename(&building, &path).context("failed to put the tenant template in place")?;
    Ok(path)
}

impl Storage {
    /// Creates a new tenant's schema or file at the newest version; a
    /// failure leaves no half-made schema behind. Returns the version.
    pub async fn create_tenant_storage(&self, storage_name: &str) -> anyhow::Result<String> {
        match &self.inner.backend {
            Backend::Sqlite { handles } => {
                let template = template(handles.dir()).await?;
                let target = handles.dir().join(storage_name);
                let partial = handles.dir().join(format!(".{storage_name}.partial"));
                std::fs::copy(&template, &partial).with_context(|| format!("failed to create {}", target.display()))?;
                std::fs::File::open(&partial)?.sync_all()?;
                std::fs::rename(&partial, &target).with_context(|| format!("failed to create {}", target.display()))?;
            }
            Backend::Postgres { .. } => {
                // A spare that cannot be taken (PostgreSQL busy, say) is no
                // reason to refuse the tenant: make the schema instead.
                let taken = match self.take_spare(storage_name).await {
                    Ok(t) => t,
                    Err(e) => {
                        tracing::warn!(error = %format!("{e:#}"), "could not take a spare schema; making one");
                        false
                    }
                };
                if !taken {
                    self.create_fresh_schema(storage_name).await?;
                }
            }
        }
        Ok(tikethet_migrations::latest_tenant_version())
    }

    /// A new PostgreSQL schema at the newest version, made in one
    /// transaction (see the module's doc).
    pub(super) async fn create_fresh_schema(&self, name: &str) -> anyhow::Result<()> {
        let txn = self.inner.pool.begin().await?;
        let quoted = quote_ident(name)?;
        txn.execute_unprepared(&format!("CREATE SCHEMA {quoted}")).await.context("failed to create the tenant's schema")?;
        txn.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT set_config('search_path', $1, true), set_config('synchronous_commit', 'off', true)",
            [name.into()],
        ))
        .await?;
        TenantMigrator::up(&txn, None).await.context("failed to create the tenant's tables")?;
        txn.commit().await.context("failed to commit the tenant's tables")?;
        Ok(())
    }
}
