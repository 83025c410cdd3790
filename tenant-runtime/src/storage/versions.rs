//! Which tenant schemas are already at the newest version, found without a
//! round trip per tenant on PostgreSQL (one statement per 500 schemas).

use std::collections::HashSet;

use futures::StreamExt as _;
use sea_orm::{ConnectionTrait as _, DbBackend, Statement};
use tikethet_migrations::{MigratorTrait as _, TenantMigrator};

use super::{Backend, Storage, quote_ident};

const SCHEMAS_PER_STATEMENT: usize = 500;

/// Up to date: every migration this build has is recorded, and nothing else
/// (a version this build does not know means a newer build migrated it).
fn condition(known: &[String]) -> String {
    let list = known.iter().map(|v| format!("'{v}'")).collect::<Vec<_>>().join(", ");
    format!("count(*) FILTER (WHERE version IN ({list})) = {} AND count(*) FILTER (WHERE version NOT IN ({list})) = 0", known.len())
}

impl Storage {
    /// The storage names among `names` whose schema needs no migration.
    /// Anything unreadable (a missing table, a broken file) counts as not up
    /// to date, for the migration to report.
    pub async fn up_to_date(&self, names: &[String]) -> HashSet<String> {
        let known: Vec<String> = TenantMigrator::migrations().iter().map(|m| m.name().to_owned()).collect();
        let cond = condition(&known);
        let mut out = HashSet::new();
        match &self.inner.backend {
            Backend::Postgres { .. } => {
                for chunk in names.chunks(SCHEMAS_PER_STATEMENT) {
                    match self.up_to_date_pg(chunk, &cond).await {
                        Ok(found) => out.extend(found),
                        // One schema without the table fails the statement:
                        // ask each of this chunk on its own.
                        Err(_) => {
                            for name in chunk {
                                if let Ok(found) = self.up_to_date_pg(std::slice::from_ref(name), &cond).await {
                                    out.extend(found);
                                }
                            }
                        }
                    }
                }
            }
            Backend::Sqlite { handles } => {
                let sql = format!("SELECT {cond} AS ok FROM seaql_migrations");
                let found: Vec<Option<String>> = futures::stream::iter(names)
                    .map(|name| {
                        let sql = sql.clone();
                        async move {
                            // Only files that exist: a lease would create one.
                            if !handles.dir().join(name).exists() {
                                return None;
                            }
                            let conn = handles.lease(name).await.ok()?;
                            let row = conn.query_one_raw(Statement::from_string(DbBackend::Sqlite, sql)).await.ok()??;
                            row.try_get::<bool>("", "ok").ok()?.then(|| name.clone())
                        }
                    })
                    .buffer_unordered(8)
                    .collect()
                    .await;
                out.extend(found.into_iter().flatten());
            }
        }
        out
    }

    async fn up_to_date_pg(&self, names: &[String], cond: &str) -> anyhow::Result<Vec<String>> {
        let mut parts = Vec::with_capacity(names.len());
        for name in names {
            parts.push(format!("SELECT '{name}' AS name, {cond} AS ok FROM {}.seaql_migrations", quote_ident(name)?));
        }
        let rows = self.inner.pool.query_all_raw(Statement::from_string(DbBackend::Postgres, parts.join(" UNION ALL "))).await?;
        let mut out = Vec::new();
        for row in rows {
            if row.try_get::<bool>("", "ok")? {
                out.push(row.try_get::<String>("", "name")?);
            }
        }
        Ok(out)
    }
}
