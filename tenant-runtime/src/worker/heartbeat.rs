//! The node heartbeat: how the nodes of a cluster tell a dead node from a
//! slow one within seconds, so a dead node's chats are taken over long
//! before their claims' leases lapse.
//!
//! Every process on PostgreSQL renews its row of the control plane's
//! `node_heartbeats` every [`BEAT`], stamped with the database's clock,
//! and reads which other nodes' rows are older than [`DEAD_AFTER`]. Those
//! are dead: their claims on chats may be taken at once ([`crate::worker::claims::take`]
//! is given their names), with the fence moving on as for a lapsed lease,
//! so whatever a node judged dead still does after all (a process paused,
//! not killed) cannot commit. When a node is first seen dead, this node
//! wakes its lanes waiting for chats held elsewhere and reads its tenants'
//! queues, so the dead node's chats are worked again at once.
//!
//! Only the heartbeat decides death. A node that renews its row keeps its
//! claims for their whole lease however slow its work is; the lease still
//! covers a node whose heartbeat the others cannot read, and nodes that
//! never wrote a row (an older version in a rolling upgrade) are never
//! judged dead. SQLite needs none of this: one process serves a data folder.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait as _, Statement};

use crate::Runtime;

/// How often a node renews its row ("every second or two").
pub const BEAT: Duration = Duration::from_secs(1);
/// How often a node reads which others stopped renewing theirs.
pub const LOOK: Duration = Duration::from_millis(250);
/// A node whose row is older than this is dead: more than two missed
/// beats, so a node that is busy (a slow transaction, a loaded machine) is
/// not judged dead for one late renewal, and a dead node's chats move on
/// within 1.5 to 2.75 s of its death (this, less the time since its last
/// beat, plus at most one look), leaving time to work them within five.
pub const DEAD_AFTER: Duration = Duration::from_millis(2500);
/// Rows not renewed for this long are removed: longer than any claim's
/// lease (600 s at most), so no claim can still name their node.
const FORGET_AFTER_SECS: i64 = 3600;

/// The nodes last seen dead, shared by the heartbeat and the lanes.
#[derive(Clone, Default)]
pub struct DeadNodes {
    inner: Arc<RwLock<Arc<[String]>>>,
}

impl DeadNodes {
    /// The node ids whose claims may be taken now.
    pub fn now(&self) -> Arc<[String]> {
        self.inner.read().expect("poisoned").clone()
    }

    /// Replaces the set; returns the ids that were not in it before.
    fn set(&self, dead: Vec<String>) -> Vec<String> {
        let mut cur = self.inner.write().expect("poisoned");
        let new: Vec<String> = dead.iter().filter(|d| !cur.contains(d)).cloned().collect();
        *cur = Arc::from(dead);
        new
    }
}

impl Runtime {
    /// Starts this node's heartbeat (PostgreSQL only); it stops with the
    /// runtime or when the handle is aborted.
    pub fn spawn_heartbeat(&self) -> Option<tokio::task::JoinHandle<()>> {
        if !self.inner.storage.is_postgres() {
            return None;
        }
        let weak = self.inner.self_ref.clone();
        Some(tokio::spawn(async move {
            let mut look = tokio::time::interval(LOOK);
            look.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut last_beat: Option<Instant> = None;
            let mut failing = false;
            // Nodes already dead at this node's start are left to the
            // start's own reading of every queue (`recover_all`): their
            // chats are taken as their lanes look, without a second read.
            let mut started = false;
            loop {
                look.tick().await;
                let Some(rt) = crate::upgrade(&weak) else { return };
                let beat = last_beat.is_none_or(|at| at.elapsed() >= BEAT);
                match rt.beat_and_look(beat).await {
                    Ok(dead) => {
                        if beat {
                            last_beat = Some(Instant::now());
                        }
                        if std::mem::take(&mut failing) {
                            tracing::info!("the node heartbeat is renewed again");
                        }
                        let newly = rt.inner.work.dead_nodes.set(dead);
                        if !std::mem::replace(&mut started, true) {
                            continue;
                        }
                        if !newly.is_empty() {
                            tracing::warn!(nodes = ?newly, "nodes stopped renewing their heartbeat; their chats are taken over");
                            rt.take_over_from_the_dead().await;
                        }
                    }
                    Err(e) => {
                        if !std::mem::replace(&mut failing, true) {
                            tracing::warn!(error = %e, "could not renew the node heartbeat; other nodes may take this node's chats over (its late work is fenced off)");
                        }
                    }
                }
            }
        }))
    }

    /// Renews this node's row (when `beat`) and reads the dead nodes, in
    /// one control-plane transaction.
    async fn beat_and_look(&self, beat: bool) -> Result<Vec<String>, sea_orm::DbErr> {
        let db = self.inner.storage.control();
        let txn = db.begin().await?;
        let pg = sea_orm::DatabaseBackend::Postgres;
        if beat {
            txn.execute_raw(Statement::from_sql_and_values(
                pg,
                "INSERT INTO node_heartbeats (node_id, seen_at) VALUES ($1, now()) ON CONFLICT (node_id) DO UPDATE SET seen_at = now()",
                [self.inner.work.node_id.clone().into()],
            ))
            .await?;
            // Now and then (a beat in a hundred), forget nodes long gone.
            if rand::random::<u8>() < 3 {
                txn.execute_raw(Statement::from_sql_and_values(
                    pg,
                    "DELETE FROM node_heartbeats WHERE seen_at < now() - make_interval(secs => $1)",
                    [(FORGET_AFTER_SECS as f64).into()],
                ))
                .await?;
            }
        }
        let rows = txn
            .query_all_raw(Statement::from_sql_and_values(
                pg,
                "SELECT node_id FROM node_heartbeats WHERE seen_at < now() - make_interval(secs => $1) AND node_id <> $2 ORDER BY node_id",
                [DEAD_AFTER.as_secs_f64().into(), self.inner.work.node_id.clone().into()],
            ))
            .await?;
        txn.commit().await?;
        rows.iter().map(|r| r.try_get_by_index::<String>(0)).collect()
    }

    /// A node was just judged dead: lanes here waiting for chats it held
    /// look again now (taking them over), and every tenant's queues are
    /// read, so chats nobody here had a lane for (updates the dead node
    /// acknowledged and claimed) are opened too. Tenants used lately come
    /// first; the units of chats taken over run before this node's own
    /// backlog ([`crate::worker::lanes`]).
    async fn take_over_from_the_dead(&self) {
        self.inner.work.lanes.wake_all_held_first();
        self.inner.out.lanes.wake_all_held_first();
        let mut all = self.inner.tenants.all();
        all.sort_by_key(|t| !t.db.used_within(Duration::from_secs(60)));
        let rt = self.clone();
        tokio::spawn(async move {
            use futures::StreamExt as _;
            futures::stream::iter(all)
                .for_each_concurrent(8, |t| {
                    let rt = rt.clone();
                    async move {
                        if let Err(e) = rt.recover_taken_over(&t).await {
                            tracing::debug!(tenant = %t.info.id, error = %format!("{e:#}"), "could not read a tenant's queues after a node died; the sweep tries again");
                            rt.inner.work.lanes.note_unswept(t.info.id.clone());
                        }
                    }
                })
                .await;
        });
    }
}
