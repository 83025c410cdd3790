//! Claims on a chat's work, so that every node may take any chat's updates
//! and messages while each chat is worked by one process at a time, in
//! order, across the cluster.
//!
//! The design follows graphile-worker's serial job queues (a queue row
//! locked by one worker, with `locked_at`/`locked_by`, taken over when the
//! lock is stale) rather than row locks held through the work: a chat's
//! work spans several transactions (its plugins run with none open), and a
//! lock held by an open transaction would pin a pooled connection, which
//! PgBouncer in transaction mode cannot allow. So a claim is a row of the
//! tenant's `chat_claims`, taken in a statement:
//!
//! - a process takes a chat when nobody holds it or the holder's lease has
//!   lapsed, and renews its own; taking it over from another process adds
//!   one to its `fence`;
//! - every transaction that finishes (or retries, or fails) an update
//!   first renews the claim *with the fence it was taken with*; if the row
//!   moved on, the transaction is rolled back and nothing of it lands, so a
//!   process paused past its lease cannot commit over the one that took
//!   over ([`ClaimLost`]);
//! - the claim is removed in the same transaction that finds the chat has
//!   nothing left, so another node's lane takes the chat at once; a lane
//!   that found the chat held marked it `wanted`, and is woken through
//!   Redis when it is given up ([`crate::live::wakeups`]).
//!
//! The statements are the same on SQLite (one node, where a claim is never
//! contested but the code path is the same) and PostgreSQL, and touch only
//! the tenant's own schema.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DatabaseBackend, DatabaseTransaction, DbErr, Statement, Value};

/// The conversation's lane: updates of a chat in `update_id` order.
pub const UPDATES: &str = "update";
/// The sender's lane: a chat's outgoing messages in order.
pub const SENDS: &str = "send";

/// Stands for "no chat" (updates that have none; Telegram chat ids are
/// never 0).
pub fn chat_key(chat: Option<i64>) -> i64 {
    chat.unwrap_or(0)
}

/// How often a lane looks again at a chat another process holds.
pub const POLL: Duration = Duration::from_millis(200);

/// A claim this process holds.
#[derive(Debug, Clone)]
pub struct Claim {
    pub lane: &'static str,
    pub chat: i64,
    pub holder: String,
    pub fence: i64,
    pub lease: Duration,
}

/// The outcome of trying to take a chat.
#[derive(Debug)]
pub enum Taken {
    Mine(Claim),
    /// Another process holds it; its lease lapses in this long at most.
    Held(Duration),
}

/// The claim was taken over by another process: nothing of this
/// transaction may commit.
#[derive(Debug, thiserror::Error)]
#[error("the chat's claim passed to another process (fence {fence}); this work is left to it")]
pub struct ClaimLost {
    pub fence: i64,
}

fn stmt(txn: &DatabaseTransaction, sqlite: &str, values: Vec<Value>) -> Statement {
    let backend = txn.get_database_backend();
    let sql = match backend {
        DatabaseBackend::Postgres => numbered(sqlite),
        _ => sqlite.to_owned(),
    };
    Statement::from_sql_and_values(backend, sql, values)
}

/// `?` placeholders as PostgreSQL's `$1, $2, …`.
fn numbered(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut n = 0;
    for c in sql.chars() {
        if c == '?' {
            n += 1;
            out.push('$');
            out.push_str(&n.to_string());
        } else {
            out.push(c);
        }
    }
    out
}

fn lease_end(now: DateTime<Utc>, lease: Duration) -> DateTime<Utc> {
    now + chrono::Duration::from_std(lease).unwrap_or_else(|_| chrono::Duration::seconds(30))
}

/// Takes (or renews) the claim on a chat's lane in `txn`. It holds once
/// `txn` commits. A claim of another holder is taken when its lease lapsed
/// or its holder is one of `dead` (nodes whose heartbeat stopped; see
/// [`crate::worker::heartbeat`]).
pub async fn take(txn: &DatabaseTransaction, lane: &'static str, chat: i64, holder: &str, lease: Duration, dead: &[String]) -> Result<Taken, DbErr> {
    let now = Utc::now();
    let mut values: Vec<Value> = vec![lane.into(), chat.into(), holder.into(), lease_end(now, lease).into(), now.into()];
    // One placeholder per dead node (a handful at most).
    let of_the_dead = if dead.is_empty() {
        String::new()
    } else {
        values.extend(dead.iter().map(|d| Value::from(d.as_str())));
        format!(" OR chat_claims.holder IN ({})", vec!["?"; dead.len()].join(", "))
    };
    let row = txn
        .query_one_raw(stmt(
            txn,
            &format!(
                "INSERT INTO chat_claims (lane, chat_id, holder, fence, lease_until) VALUES (?, ?, ?, 1, ?) \
                 ON CONFLICT (lane, chat_id) DO UPDATE SET \
                   fence = CASE WHEN chat_claims.holder = excluded.holder THEN chat_claims.fence ELSE chat_claims.fence + 1 END, \
                   holder = excluded.holder, lease_until = excluded.lease_until \
                 WHERE chat_claims.holder = excluded.holder OR chat_claims.lease_until < ?{of_the_dead} \
                 RETURNING fence"
            ),
            values,
        ))
        .await?;
    if let Some(row) = row {
        let fence: i64 = row.try_get_by_index(0)?;
        return Ok(Taken::Mine(Claim { lane, chat, holder: holder.to_owned(), fence, lease }));
    }
    // Held: say that someone waits, so the holder wakes us when it gives
    // the chat up (`txn` must commit for the mark to count).
    let until = txn
        .query_one_raw(stmt(
            txn,
            "UPDATE chat_claims SET wanted = TRUE WHERE lane = ? AND chat_id = ? RETURNING lease_until",
            vec![lane.into(), chat.into()],
        ))
        .await?
        .map(|r| r.try_get_by_index::<DateTime<Utc>>(0))
        .transpose()?;
    let left = until.and_then(|u| (u - now).to_std().ok()).unwrap_or_default();
    Ok(Taken::Held(left))
}

/// Renews `claim` in `txn` if it is still this process's with the same
/// fence; [`ClaimLost`] otherwise (then `txn` must not commit).
pub async fn keep(txn: &DatabaseTransaction, claim: &Claim) -> Result<Result<(), ClaimLost>, DbErr> {
    let n = txn
        .execute_raw(stmt(
            txn,
            "UPDATE chat_claims SET lease_until = ? WHERE lane = ? AND chat_id = ? AND holder = ? AND fence = ?",
            vec![lease_end(Utc::now(), claim.lease).into(), claim.lane.into(), claim.chat.into(), claim.holder.as_str().into(), claim.fence.into()],
        ))
        .await?
        .rows_affected();
    Ok(if n == 1 { Ok(()) } else { Err(ClaimLost { fence: claim.fence }) })
}

/// Gives the chat up in `txn` (if this process holds it). Returns whether
/// another process waits for it (then wake it once `txn` commits; see
/// [`crate::live::wakeups`]).
pub async fn release(txn: &DatabaseTransaction, lane: &'static str, chat: i64, holder: &str) -> Result<bool, DbErr> {
    let row = txn
        .query_one_raw(stmt(
            txn,
            "DELETE FROM chat_claims WHERE lane = ? AND chat_id = ? AND holder = ? RETURNING wanted",
            vec![lane.into(), chat.into(), holder.into()],
        ))
        .await?;
    Ok(match row {
        Some(r) => r.try_get_by_index::<bool>(0)?,
        None => false,
    })
}

/// Drops the claims of earlier processes on `node_name` (`{node_name}#…`,
/// other than `node_id`, this process).
pub async fn clear_predecessors(txn: &DatabaseTransaction, node_name: &str, node_id: &str) -> Result<u64, DbErr> {
    let pattern = format!("{}#%", node_name.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"));
    Ok(txn
        .execute_raw(stmt(txn, "DELETE FROM chat_claims WHERE holder LIKE ? ESCAPE '\\' AND holder <> ?", vec![pattern.into(), node_id.into()]))
        .await?
        .rows_affected())
}

/// Drops every claim (SQLite at start: one process serves a data folder,
/// so the claims a killed process left name nobody who could still act).
pub async fn clear_all(txn: &DatabaseTransaction) -> Result<u64, DbErr> {
    Ok(txn.execute_raw(stmt(txn, "DELETE FROM chat_claims", vec![])).await?.rows_affected())
}

tokio::task_local! {
    /// The claim under which the current lane's unit of work runs; every
    /// transaction that finishes an update checks it ([`check`]).
    static CURRENT: Claim;
}

/// Runs `f` under `claim`.
pub async fn under<F: std::future::Future>(claim: Claim, f: F) -> F::Output {
    CURRENT.scope(claim, f).await
}

/// In a unit of work run [`under`] a claim: renews it in `txn`, or says it
/// was lost. Outside one (tests, tools) there is nothing to check.
pub async fn check(txn: &DatabaseTransaction) -> Result<Result<(), ClaimLost>, DbErr> {
    match CURRENT.try_with(Claim::clone) {
        Ok(claim) => keep(txn, &claim).await,
        Err(_) => Ok(Ok(())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use sea_orm::TransactionTrait as _;
    use tikethet_migrations::MigratorTrait as _;

    #[tokio::test]
    async fn a_process_that_found_the_chat_held_is_told_when_it_is_given_up() {
        let db = sea_orm::Database::connect("sqlite::memory:").await.unwrap();
        tikethet_migrations::TenantMigrator::up(&db, None).await.unwrap();
        let lease = Duration::from_secs(30);
        let txn = db.begin().await.unwrap();
        assert!(matches!(take(&txn, UPDATES, 7, "a#1", lease, &[]).await.unwrap(), Taken::Mine(Claim { fence: 1, .. })));
        txn.commit().await.unwrap();
        // Nobody waited: giving it up wakes nobody.
        let txn = db.begin().await.unwrap();
        assert!(!release(&txn, UPDATES, 7, "a#1").await.unwrap());
        assert!(matches!(take(&txn, UPDATES, 7, "a#1", lease, &[]).await.unwrap(), Taken::Mine(_)));
        txn.commit().await.unwrap();
        let txn = db.begin().await.unwrap();
        let Taken::Held(left) = take(&txn, UPDATES, 7, "b#2", lease, &[]).await.unwrap() else { panic!("b must find the chat held") };
        assert!(left > Duration::from_secs(25) && left <= lease, "{left:?}");
        txn.commit().await.unwrap();
        let txn = db.begin().await.unwrap();
        assert!(!release(&txn, SENDS, 7, "a#1").await.unwrap(), "another lane's claim is another row");
        assert!(!release(&txn, UPDATES, 7, "b#2").await.unwrap(), "only the holder gives a chat up");
        assert!(release(&txn, UPDATES, 7, "a#1").await.unwrap(), "b waits: the holder must wake it");
        assert!(matches!(take(&txn, UPDATES, 7, "b#2", lease, &[]).await.unwrap(), Taken::Mine(Claim { fence: 1, .. })));
        assert!(!release(&txn, UPDATES, 7, "b#2").await.unwrap(), "a fresh claim starts with nobody waiting");
        txn.commit().await.unwrap();
    }

    #[tokio::test]
    async fn a_dead_nodes_claim_is_taken_at_once_and_fences_it_off_while_a_live_holders_is_kept() {
        let db = sea_orm::Database::connect("sqlite::memory:").await.unwrap();
        tikethet_migrations::TenantMigrator::up(&db, None).await.unwrap();
        let lease = Duration::from_secs(30);
        let txn = db.begin().await.unwrap();
        let Taken::Mine(a) = take(&txn, UPDATES, 7, "a#1", lease, &[]).await.unwrap() else { panic!("a takes the free chat") };
        txn.commit().await.unwrap();
        // Another node is dead, not a: a's claim stays a's for its lease.
        let txn = db.begin().await.unwrap();
        assert!(matches!(take(&txn, UPDATES, 7, "b#2", lease, &["c#3".to_owned()]).await.unwrap(), Taken::Held(_)));
        txn.commit().await.unwrap();
        // a is dead: b takes the chat with its lease far from lapsed, and
        // the fence moves on, so a's late work cannot commit.
        let txn = db.begin().await.unwrap();
        let dead = ["c#3".to_owned(), "a#1".to_owned()];
        assert!(matches!(take(&txn, UPDATES, 7, "b#2", lease, &dead).await.unwrap(), Taken::Mine(Claim { fence: 2, .. })));
        assert!(keep(&txn, &a).await.unwrap().is_err(), "a's renewal fails once b holds the chat");
        txn.commit().await.unwrap();
    }

    #[test]
    fn placeholders_are_numbered_for_postgres() {
        assert_eq!(numbered("a = ? AND b = ? OR c < ?"), "a = $1 AND b = $2 OR c < $3");
    }
}
