//! Spare tenant schemas on PostgreSQL, made ahead of time.
//!
//! Creating a schema's 59 relations takes 50 to 150 ms (more as the catalog
//! grows), far over what provisioning a tenant should cost. So a serving
//! node keeps a few empty schemas at the newest version, named
//! `{control}__spare_{version tag}_{random}`, and provisioning renames one
//! to the tenant's name (`ALTER SCHEMA … RENAME`, a catalog update of one
//! row; everything inside refers to its schema by OID). The keeper makes a
//! new spare after each one taken, and drops spares of other versions. With
//! none left (a burst of provisionings), a tenant's schema is made the slow
//! way, so provisioning never waits on the keeper.
//!
//! Slugs cannot hold `--`, so a tenant's schema name never contains `__`
//! right after the control schema's name: a spare is never a tenant.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::Context as _;
use rand::Rng as _;
use sea_orm::{ConnectionTrait as _, DbBackend, Statement, TransactionTrait as _};
use tokio::sync::Notify;

use super::{Backend, Storage, quote_ident};

/// Spares kept by default (`TIKETHET_PG_SPARE_SCHEMAS`): a few tenants
/// signing up together each get one; about 0.5 MB each.
pub const DEFAULT_PG_SPARE_SCHEMAS: usize = 8;
/// How often the keeper looks even when nothing was taken on this node
/// (another node may have taken spares).
const LOOK_EVERY: Duration = Duration::from_secs(60);

/// The keeper's target and what it last saw.
pub(super) struct Spares {
    target: usize,
    wake: Notify,
    ready: AtomicUsize,
}

impl Spares {
    pub(super) fn new(target: usize) -> Self {
        Spares { target, wake: Notify::new(), ready: AtomicUsize::new(0) }
    }
}

/// A short, stable tag of the newest tenant version (FNV-1a), so a spare's
/// name says which build made it.
fn version_tag() -> String {
    let v = tikethet_migrations::latest_tenant_version();
    let hash = v.bytes().fold(0x811c_9dc5_u32, |h, b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193));
    format!("{hash:08x}")
}

fn prefix(control: &str) -> String {
    format!("{control}__spare_")
}

/// A `LIKE` pattern matching literally (`_` is a wildcard there).
fn like_literal(s: &str) -> String {
    s.replace('\\', "\\\\").replace('_', "\\_").replace('%', "\\%")
}

impl Storage {
    fn spare_setup(&self) -> Option<(&str, &Spares)> {
        match &self.inner.backend {
            Backend::Postgres { schema } if self.inner.spares.target > 0 => Some((schema.as_str(), &self.inner.spares)),
            _ => None,
        }
    }

    /// Spares of the newest version ready now, as the keeper last counted.
    pub fn spare_schemas_ready(&self) -> Option<usize> {
        self.spare_setup().map(|(_, s)| s.ready.load(Ordering::Relaxed))
    }

    /// Renames a spare of the newest version to `target`, if there is one.
    pub(super) async fn take_spare(&self, target: &str) -> anyhow::Result<bool> {
        let Some((control, spares)) = self.spare_setup() else { return Ok(false) };
        let target_q = quote_ident(target)?;
        let pattern = format!("{}%", like_literal(&format!("{}{}_", prefix(control), version_tag())));
        let txn = self.inner.pool.begin().await?;
        let candidates = txn
            .query_all_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT nspname::text AS name FROM pg_namespace WHERE nspname LIKE $1 ORDER BY nspname LIMIT 16",
                [pattern.into()],
            ))
            .await?;
        for row in candidates {
            let name: String = row.try_get("", "name")?;
            // Provisionings at once each take a different spare: the lock
            // is held to commit. Whether the spare still exists is asked in
            // a statement after the lock is taken (a statement sees what was
            // committed when it started), so a spare renamed by a
            // transaction that committed meanwhile is seen to be gone.
            if !try_lock(&txn, &name).await? {
                continue;
            }
            let exists = txn
                .query_one_raw(Statement::from_sql_and_values(DbBackend::Postgres, "SELECT 1 AS found FROM pg_namespace WHERE nspname = $1", [name.clone().into()]))
                .await?
                .is_some();
            if !exists {
                continue;
            }
            txn.execute_unprepared(&format!("ALTER SCHEMA {} RENAME TO {target_q}", quote_ident(&name)?)).await.context("failed to rename a spare schema")?;
            txn.commit().await.context("failed to commit taking a spare schema")?;
            spares.ready.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| Some(n.saturating_sub(1))).ok();
            spares.wake.notify_one();
            return Ok(true);
        }
        txn.rollback().await.ok();
        spares.wake.notify_one();
        Ok(false)
    }

    /// Keeps the spares topped up until the process ends (PostgreSQL with
    /// spares configured; returns at once otherwise). Runs on serving nodes.
    pub async fn keep_spares(self) {
        let Some((_, spares)) = self.spare_setup() else { return };
        loop {
            match self.top_up_spares().await {
                Ok(n) => spares.ready.store(n, Ordering::Relaxed),
                Err(e) => tracing::warn!(error = %format!("{e:#}"), "could not make spare tenant schemas; provisioning makes schemas itself meanwhile"),
            }
            let _ = tokio::time::timeout(LOOK_EVERY, spares.wake.notified()).await;
        }
    }

    /// Drops spares of other versions and makes new ones up to the target;
    /// returns how many are ready.
    async fn top_up_spares(&self) -> anyhow::Result<usize> {
        let Some((control, spares)) = self.spare_setup() else { return Ok(0) };
        let rows = self
            .inner
            .pool
            .query_all_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT nspname::text AS name FROM pg_namespace WHERE nspname LIKE $1",
                [format!("{}%", like_literal(&prefix(control))).into()],
            ))
            .await?;
        let current = format!("{}{}_", prefix(control), version_tag());
        let mut ready = 0;
        for row in rows {
            let name: String = row.try_get("", "name")?;
            if name.starts_with(&current) {
                ready += 1;
            } else {
                // Made by another build: drop it, unless a provisioning
                // (of that build) is taking it right now.
                self.drop_spare(&name).await?;
            }
        }
        while ready < spares.target {
            let name = format!("{current}{:08x}", rand::rng().random::<u32>());
            self.create_fresh_schema(&name).await.with_context(|| format!("failed to make spare schema {name}"))?;
            ready += 1;
            spares.ready.store(ready, Ordering::Relaxed);
        }
        Ok(ready)
    }

    async fn drop_spare(&self, name: &str) -> anyhow::Result<()> {
        let txn = self.inner.pool.begin().await?;
        if try_lock(&txn, name).await? {
            txn.execute_unprepared(&format!("DROP SCHEMA IF EXISTS {} CASCADE", quote_ident(name)?)).await?;
        }
        txn.commit().await?;
        Ok(())
    }
}

/// Takes the transaction-scoped lock on a spare's name, if nobody holds it.
async fn try_lock(txn: &sea_orm::DatabaseTransaction, name: &str) -> anyhow::Result<bool> {
    Ok(txn
        .query_one_raw(Statement::from_sql_and_values(DbBackend::Postgres, "SELECT pg_try_advisory_xact_lock(hashtext($1)) AS ok", [name.into()]))
        .await?
        .map(|r| r.try_get::<bool>("", "ok"))
        .transpose()?
        .unwrap_or(false))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns_match_literally() {
        assert_eq!(like_literal("tt_a__spare_"), "tt\\_a\\_\\_spare\\_");
        assert_eq!(like_literal("50%"), "50\\%");
    }

    #[test]
    fn the_version_tag_is_stable_and_short() {
        assert_eq!(version_tag(), version_tag());
        assert_eq!(version_tag().len(), 8);
    }
}
