//! Background upkeep beside the lanes: the sweep that reopens lanes for
//! rows left pending (after a storage outage, a refused kick, a restart),
//! and the retention job that prunes finished rows and unwanted files.

use std::sync::atomic::Ordering;
use std::time::Duration;

use chrono::Utc;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};

use crate::Runtime;
use crate::storage::entities::{attachments, inbox, messages, outbox, plugin_failures, sessions};
use crate::storage::tenant::Tenant;

/// How often finished rows are pruned.
pub const PRUNE_INTERVAL: Duration = Duration::from_secs(3600);
/// A tenant database unused this long is closed (SQLite); the next request
/// opens it again.
pub const IDLE_DATABASE: Duration = Duration::from_secs(120);
/// The sweep reads the queues of tenants used this recently.
const RECENTLY_USED: Duration = Duration::from_secs(60);
/// Tenants whose queues are read at once when recovering at start.
const RECOVERY_CONCURRENCY: usize = 8;

/// Aborts a task when dropped (with the task that owns it).
struct AbortOnDrop(Option<tokio::task::JoinHandle<()>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        if let Some(t) = &self.0 {
            t.abort();
        }
    }
}

impl Runtime {
    /// Starts the sweep and the retention job, and the node heartbeat
    /// ([`crate::worker::heartbeat`]); they stop with the runtime.
    pub fn spawn_maintenance(&self) -> tokio::task::JoinHandle<()> {
        let weak = self.inner.self_ref.clone();
        // The heartbeat runs on its own task, so a long sweep never delays
        // a renewal; it stops with this one.
        let heartbeat = AbortOnDrop(self.spawn_heartbeat());
        tokio::spawn(async move {
            let _heartbeat = heartbeat;
            let mut sweep = tokio::time::interval(crate::SWEEP_INTERVAL);
            sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut prune = tokio::time::interval(PRUNE_INTERVAL);
            prune.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let every = match crate::upgrade(&weak) {
                Some(rt) => rt.inner.work.sla_check_every,
                None => return,
            };
            let mut sla = tokio::time::interval(every);
            sla.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            // Plugin schedules: once a minute, or as often as the SLA watch.
            let mut schedules = tokio::time::interval(every.min(crate::worker::schedule::SCHEDULE_CHECK));
            schedules.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            sweep.tick().await;
            let mut month = crate::desk::usage::month_of(Utc::now());
            loop {
                tokio::select! {
                    _ = sweep.tick() => {
                        let Some(rt) = crate::upgrade(&weak) else { return };
                        rt.sweep().await;
                    }
                    _ = sla.tick() => {
                        let Some(rt) = crate::upgrade(&weak) else { return };
                        // Only desks that set targets cost a query.
                        for t in rt.inner.tenants.all().into_iter().filter(|t| t.info.sla.is_some() && t.info.status == crate::TenantStatus::Active) {
                            match rt.check_sla(&t, Utc::now()).await {
                                Ok(n) => {
                                    rt.inner.metrics.sla_alerts.fetch_add(n as u64, Ordering::Relaxed);
                                }
                                Err(e) => tracing::warn!(tenant = %t.info.id, error = %format!("{e:#}"), "checking service levels failed; the next pass retries"),
                            }
                        }
                        rt.inner.metrics.sla_passes.fetch_add(1, Ordering::Relaxed);
                    }
                    _ = schedules.tick() => {
                        let Some(rt) = crate::upgrade(&weak) else { return };
                        rt.tick_schedules();
                    }
                    _ = prune.tick() => {
                        let Some(rt) = crate::upgrade(&weak) else { return };
                        let now = crate::desk::usage::month_of(Utc::now());
                        if now != month {
                            // A new month: monthly limits start again, so
                            // messages kept over them go ahead.
                            month = now;
                            let all = rt.inner.tenants.all();
                            let rt = rt.clone();
                            tokio::spawn(async move { rt.recover_all(all).await });
                        }
                        for id in rt.take_worked() {
                            let Some(t) = rt.inner.tenants.get(&id) else { continue };
                            if let Err(e) = rt.prune(&t).await {
                                tracing::warn!(tenant = %t.info.id, error = %format!("{e:#}"), "pruning finished rows failed");
                            }
                        }
                    }
                }
            }
        })
    }

    /// Reopens a lane for every chat with pending rows in the tenants used
    /// lately and those whose lanes were refused or gave up; a tenant whose
    /// storage still fails is tried again at the next one. Also closes
    /// tenant databases left idle (SQLite).
    pub async fn sweep(&self) {
        let mut noted = self.inner.work.lanes.take_unswept();
        noted.extend(self.inner.out.lanes.take_unswept());
        // Rows written with no lane kicked (by a command, a handler that
        // failed to kick) are in tenants used lately.
        noted.extend(self.inner.tenants.all().into_iter().filter(|t| t.db.used_within(RECENTLY_USED)).map(|t| t.info.id.clone()));
        noted.sort_unstable_by(|a, b| a.as_str().cmp(b.as_str()));
        noted.dedup();
        for id in noted {
            let Some(t) = self.inner.tenants.get(&id) else { continue };
            if let Err(e) = self.recover(&t).await {
                tracing::debug!(tenant = %t.info.id, error = %format!("{e:#}"), "sweep could not read a tenant's queues");
                self.inner.work.lanes.note_unswept(id);
                continue;
            }
            if let Err(e) = self.finish_broadcasts(&t).await {
                tracing::warn!(tenant = %t.info.id, error = %format!("{e:#}"), "could not end a finished broadcast; the next sweep tries again");
            }
        }
        self.inner.storage.close_idle(IDLE_DATABASE).await;
    }

    /// Clears the claims a killed predecessor left: on SQLite all of them
    /// (one process serves a data folder), on PostgreSQL those of an
    /// earlier process on this node's own address (which this process now
    /// holds, so that one is gone). Waiting out their leases would only
    /// delay their chats; other nodes' claims are left to lapse.
    async fn forget_claims(&self, t: &Tenant) -> anyhow::Result<()> {
        let txn = t.db.begin_unnoticed().await?;
        let n = if self.inner.storage.is_postgres() {
            crate::worker::claims::clear_predecessors(&txn, &self.inner.work.node_name, &self.inner.work.node_id).await?
        } else {
            crate::worker::claims::clear_all(&txn).await?
        };
        txn.commit().await?;
        if n > 0 {
            tracing::info!(tenant = %t.info.id, claims = n, "the last run's claims on chats are cleared");
        }
        Ok(())
    }

    /// Reads every tenant's queues (at start: what a previous run left),
    /// a few tenants at a time, in the background of serving.
    pub async fn recover_all(&self, tenants: Vec<std::sync::Arc<Tenant>>) {
        use futures::StreamExt as _;
        let started = std::time::Instant::now();
        let n = tenants.len();
        futures::stream::iter(tenants)
            .for_each_concurrent(RECOVERY_CONCURRENCY, |t| async move {
                if let Err(e) = self.forget_claims(&t).await {
                    tracing::warn!(tenant = %t.info.id, error = %format!("{e:#}"), "could not clear the last run's claims; its chats wait for their leases");
                }
                match self.recover(&t).await {
                    Ok((0, 0)) => {}
                    Ok((u, m)) => tracing::info!(tenant = %t.info.id, updates = u, messages = m, "resuming unfinished work"),
                    Err(e) => {
                        tracing::error!(tenant = %t.info.id, error = %format!("{e:#}"), "could not resume unfinished work; the sweep tries again");
                        self.inner.work.lanes.note_unswept(t.info.id.clone());
                    }
                }
            })
            .await;
        if n > 0 {
            tracing::info!(tenants = n, ms = started.elapsed().as_millis() as u64, "read every tenant's unfinished work");
        }
    }

    /// The state of a tenant's queues: what waits, what was given up on
    /// (with the latest reasons), for the operator.
    pub async fn queue_stats(&self, tenant: &Tenant) -> anyhow::Result<QueueStats> {
        use sea_orm::{PaginatorTrait as _, QueryOrder as _};
        let txn = tenant.db.begin().await?;
        let count_in = |s: &'static str| inbox::Entity::find().filter(inbox::Column::Status.eq(s)).count(&txn);
        let inbox_pending = count_in(inbox::PENDING).await?;
        let inbox_failed = count_in(inbox::FAILED).await?;
        let inbox_retrying = inbox::Entity::find()
            .filter(inbox::Column::Status.eq(inbox::PENDING))
            .filter(inbox::Column::Attempts.gt(0))
            .count(&txn)
            .await?;
        let count_out = |s: &'static str| outbox::Entity::find().filter(outbox::Column::Status.eq(s)).count(&txn);
        let outbox_pending = count_out(outbox::PENDING).await?;
        let outbox_failed = count_out(outbox::FAILED).await?;
        let recent_failures = inbox::Entity::find()
            .filter(inbox::Column::Status.eq(inbox::FAILED))
            .order_by_desc(inbox::Column::Id)
            .limit(20)
            .all(&txn)
            .await?
            .into_iter()
            .map(|r| FailedUpdate { inbox_id: r.id, update_id: r.update_id, kind: r.kind, attempts: r.attempts, error: r.error.unwrap_or_default() })
            .collect();
        txn.commit().await?;
        Ok(QueueStats { inbox_pending, inbox_retrying, inbox_failed, outbox_pending, outbox_failed, recent_failures })
    }

    /// Removes finished rows older than the retention periods. Pending rows
    /// are never touched.
    pub async fn prune(&self, tenant: &Tenant) -> anyhow::Result<u64> {
        let now = Utc::now();
        let r = self.inner.work.retention;
        let txn = tenant.db.begin().await?;
        let mut n = inbox::Entity::delete_many()
            .filter(inbox::Column::Status.is_not_in([inbox::PENDING, inbox::OVER_LIMIT]))
            .filter(inbox::Column::ReceivedAt.lt(now - r.inbox))
            .exec(&txn)
            .await?
            .rows_affected;
        n += outbox::Entity::delete_many()
            .filter(outbox::Column::Status.ne(outbox::PENDING))
            .filter(outbox::Column::CreatedAt.lt(now - r.outbox))
            .exec(&txn)
            .await?
            .rows_affected;
        // By expiry only: a revoked token is kept until then, so that its
        // replay is still recognised and revokes its family.
        n += sessions::Entity::delete_many()
            .filter(sessions::Column::ExpiresAt.lt(now - r.sessions))
            .exec(&txn)
            .await?
            .rows_affected;
        n += plugin_failures::Entity::delete_many()
            .filter(plugin_failures::Column::CreatedAt.lt(now - r.plugin_failures))
            .exec(&txn)
            .await?
            .rows_affected;
        txn.commit().await?;
        n += self.prune_files(tenant, now).await?;
        self.inner.metrics.rows_pruned.fetch_add(n, Ordering::Relaxed);
        if n > 0 {
            tracing::info!(tenant = %tenant.info.id, rows = n, "pruned finished rows");
        }
        Ok(n)
    }
}

impl Runtime {
    /// Removes files nobody will see again: uploads never sent within
    /// [`UNSENT_UPLOAD_TTL`], and the files of deleted messages. The bytes
    /// go first; a row whose bytes could not be removed stays for next time.
    async fn prune_files(&self, tenant: &Tenant, now: chrono::DateTime<Utc>) -> anyhow::Result<u64> {
        use sea_orm::sea_query::Query;
        let deleted_messages = Query::select()
            .column(messages::Column::Id)
            .from(messages::Entity)
            .and_where(messages::Column::DeletedAt.is_not_null())
            .to_owned();
        let txn = tenant.db.begin().await?;
        let gone = attachments::Entity::find()
            .filter(
                sea_orm::Condition::any()
                    .add(sea_orm::Condition::all().add(attachments::Column::MessageId.is_null()).add(attachments::Column::CreatedAt.lt(now - UNSENT_UPLOAD_TTL)))
                    .add(attachments::Column::MessageId.in_subquery(deleted_messages)),
            )
            .limit(500)
            .all(&txn)
            .await?;
        txn.commit().await?;
        let mut removed = Vec::new();
        for a in gone {
            if let Some(key) = &a.object_key {
                if let Err(e) = self.inner.files.delete(key).await {
                    tracing::warn!(tenant = %tenant.info.id, attachment = a.id, error = %format!("{e:#}"), "could not remove a file's bytes");
                    continue;
                }
            }
            removed.push(a.id);
        }
        if removed.is_empty() {
            return Ok(0);
        }
        let txn = tenant.db.begin().await?;
        let n = attachments::Entity::delete_many().filter(attachments::Column::Id.is_in(removed)).exec(&txn).await?.rows_affected;
        txn.commit().await?;
        Ok(n)
    }
}

/// How long an upload may wait to be sent with a ticket or message.
pub const UNSENT_UPLOAD_TTL: chrono::Duration = chrono::Duration::days(1);

/// A tenant's queues at a glance.
#[derive(Debug, Clone)]
pub struct QueueStats {
    pub inbox_pending: u64,
    /// Pending updates that failed at least once and wait for a retry.
    pub inbox_retrying: u64,
    /// Updates given up on (dead letters).
    pub inbox_failed: u64,
    pub outbox_pending: u64,
    pub outbox_failed: u64,
    pub recent_failures: Vec<FailedUpdate>,
}

#[derive(Debug, Clone)]
pub struct FailedUpdate {
    pub inbox_id: i64,
    pub update_id: Option<i64>,
    pub kind: String,
    pub attempts: i32,
    pub error: String,
}
