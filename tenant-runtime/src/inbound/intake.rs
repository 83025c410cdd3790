//! Webhook intake: check the secret, store the update durably in the
//! tenant's inbox, acknowledge, and hand it to the worker.
//!
//! Writer tasks commit the updates waiting for them in one transaction
//! (group commit), so a burst costs one fsync, not one per update, while
//! every caller still hears back only after its update is on disk. SQLite
//! has a writer per tenant (a file each); PostgreSQL has a few writers shared
//! by all tenants, inserting into schema-qualified tables.


use std::collections::HashMap;
use std::sync::Weak;

use anyhow::Context as _;
use chrono::Utc;
use sea_orm::sea_query::{Alias, OnConflict, Query};
use sea_orm::{ConnectionTrait, TransactionTrait};
use serde_json::Value;
use subtle::ConstantTimeEq;
use tokio::sync::{mpsc, oneshot};

use crate::storage::TenantDb;
use crate::domain::TenantId;
use crate::storage::entities::inbox;
use crate::Runtime;

/// Telegram's updates are a few kilobytes; anything far larger is not one.
pub const MAX_UPDATE_BYTES: usize = 1024 * 1024;
/// Most updates one writer commits together.
const MAX_BATCH: usize = 256;

/// The update kinds the runtime acts on; every other kind is stored and
/// acknowledged but not processed. Also the `allowed_updates` of `setWebhook`.
pub const HANDLED_KINDS: &[&str] = &["message", "edited_message", "callback_query"];

/// What became of a delivered update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Intake {
    /// New, stored, queued for processing.
    Stored,
    /// This `update_id` was stored before; nothing more is done.
    Duplicate,
    /// Stored for the record only: not an update, or a kind not handled.
    Recorded,
}

/// Why an update was refused or could not be stored.
#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    /// 404: no tenant has this route.
    #[error("unknown webhook route")]
    UnknownRoute,
    /// 401: the secret header is missing or wrong.
    #[error("missing or wrong X-Telegram-Bot-Api-Secret-Token")]
    BadSecret,
    /// 413: the body is larger than any update.
    #[error("update larger than {MAX_UPDATE_BYTES} bytes")]
    TooLarge,
    /// 503: could not be stored; Telegram will deliver it again.
    #[error("update could not be stored: {0:#}")]
    Unavailable(anyhow::Error),
}

/// Updates one PostgreSQL writer commits together may belong to any tenant:
/// they share the database, so one commit covers them all.
pub const PG_WRITERS: usize = 4;

pub(crate) struct IntakeJob {
    tenant: TenantId,
    db: TenantDb,
    row: InboxRow,
    reply: oneshot::Sender<Result<Intake, String>>,
}

struct InboxRow {
    update_id: Option<i64>,
    chat_id: Option<i64>,
    kind: String,
    payload: String,
    pending: bool,
    error: Option<String>,
}

/// An update classified from its raw body.
struct Classified {
    update_id: Option<i64>,
    chat_id: Option<i64>,
    kind: String,
    error: Option<String>,
}

fn malformed(error: String) -> Classified {
    Classified { update_id: None, chat_id: None, kind: "malformed".into(), error: Some(error) }
}

fn classify(body: &[u8]) -> Classified {
    use teloxide::types::{Update, UpdateKind};
    // The common case parses once. teloxide turns an update it cannot read
    // into `UpdateKind::Error` rather than failing, so those (and bodies that
    // are not updates at all) take the slower path below for a precise reason.
    if let Ok(update) = serde_json::from_slice::<Update>(body) {
        match &update.kind {
            UpdateKind::Message(_) => {
                return Classified { update_id: Some(update.id.0 as i64), chat_id: update.chat().map(|c| c.id.0), kind: "message".into(), error: None };
            }
            // A button press is ordered with the chat it was pressed in (the
            // presser's id: a desk talks to customers in private chats).
            UpdateKind::CallbackQuery(q) => {
                return Classified { update_id: Some(update.id.0 as i64), chat_id: Some(q.from.id.0 as i64), kind: "callback_query".into(), error: None };
            }
            _ => {}
        }
    }
    let value: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => return malformed(format!("not JSON: {e}")),
    };
    let Some(update_id) = value.get("update_id").and_then(Value::as_i64) else {
        return malformed("no integer update_id".into());
    };
    let kind = value
        .as_object()
        .and_then(|o| o.keys().find(|k| *k != "update_id").cloned())
        .unwrap_or_else(|| "empty".into());
    match serde_json::from_slice::<Update>(body) {
        Ok(update) if !matches!(update.kind, UpdateKind::Error(_)) => {
            let error = (!HANDLED_KINDS.contains(&kind.as_str())).then(|| format!("update kind {kind:?} is not handled"));
            Classified { update_id: Some(update_id), chat_id: update.chat().map(|c| c.id.0), kind, error }
        }
        _ => Classified { update_id: Some(update_id), chat_id: None, kind, error: Some("not a valid Telegram update".into()) },
    }
}

impl Runtime {
    /// The tenant a webhook delivery is for, once its route and secret
    /// (compared in constant time) check out; before the body is read.
    pub fn webhook_tenant(&self, route: &str, secret: Option<&str>) -> Result<std::sync::Arc<crate::Tenant>, IntakeError> {
        let tenant = self.inner.tenants.by_route(route).ok_or(IntakeError::UnknownRoute)?;
        let expected = tenant.info.webhook_secret.as_bytes();
        let ok = secret.is_some_and(|s| bool::from(s.as_bytes().ct_eq(expected)));
        if !ok {
            return Err(IntakeError::BadSecret);
        }
        Ok(tenant)
    }

    /// Stores one delivery for a tenant whose secret was checked.
    pub async fn intake_for(&self, tenant: &crate::Tenant, body: &[u8]) -> Result<Intake, IntakeError> {
        if body.len() > MAX_UPDATE_BYTES {
            return Err(IntakeError::TooLarge);
        }
        let c = classify(body);
        let row = InboxRow {
            update_id: c.update_id,
            chat_id: c.chat_id,
            kind: c.kind.chars().take(32).collect(),
            // Text columns cannot hold NUL (PostgreSQL refuses it); a body
            // that has one is not JSON anyway and is kept for the record.
            payload: String::from_utf8_lossy(body).replace('\0', "\u{FFFD}"),
            pending: c.error.is_none(),
            error: c.error,
        };
        let (reply, answer) = oneshot::channel();
        let job = IntakeJob { tenant: tenant.info.id.clone(), db: tenant.db.clone(), row, reply };
        tenant
            .intake
            .get_or_init(|| spawn_writer(self.inner.self_ref.clone()))
            .send(job)
            .await
            .map_err(|_| IntakeError::Unavailable(anyhow::anyhow!("the intake writer has stopped")))?;
        match answer.await {
            Ok(Ok(outcome)) => Ok(outcome),
            Ok(Err(e)) => Err(IntakeError::Unavailable(anyhow::anyhow!(e))),
            Err(_) => Err(IntakeError::Unavailable(anyhow::anyhow!("the intake writer stopped mid-write"))),
        }
    }
}

/// Starts a writer that stores updates: one per tenant on SQLite (a file
/// each), a few shared by all tenants on PostgreSQL.
pub(crate) fn spawn_writer(runtime: Weak<crate::Inner>) -> mpsc::Sender<IntakeJob> {
    let (tx, mut rx) = mpsc::channel::<IntakeJob>(4 * MAX_BATCH);
    tokio::spawn(async move {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
            let jobs: Vec<IntakeJob> = std::mem::take(&mut batch);
            let outcomes = write_isolated(&jobs).await;
            let runtime = crate::upgrade(&runtime);
            for (job, outcome) in jobs.into_iter().zip(outcomes) {
                if let (Ok((Intake::Stored, Some(_))), Some(rt)) = (&outcome, runtime.as_ref()) {
                    rt.dispatch(&job.tenant, job.row.chat_id);
                }
                // The caller may have gone (the client hung up); the row is stored anyway.
                let _ = job.reply.send(outcome.map(|(o, _)| o));
            }
        }
    });
    tx
}

type Stored = Result<(Intake, Option<i64>), String>;

/// Stores a batch together; when that fails and the batch spans several
/// tenants, each tenant's updates are stored on their own, so one tenant's
/// broken storage never refuses another tenant's updates.
async fn write_isolated(jobs: &[IntakeJob]) -> Vec<Stored> {
    let all: Vec<&IntakeJob> = jobs.iter().collect();
    let first = match write_batch(&all).await {
        Ok(v) => return v.into_iter().map(Ok).collect(),
        Err(e) => format!("{e:#}"),
    };
    let mut schemas: Vec<Option<&str>> = jobs.iter().map(|j| j.db.writer_schema()).collect();
    schemas.dedup();
    if schemas.len() <= 1 {
        tracing::error!(error = %first, "failed to store webhook updates");
        return jobs.iter().map(|_| Err(first.clone())).collect();
    }
    let mut out: Vec<Option<Stored>> = jobs.iter().map(|_| None).collect();
    let mut done = std::collections::HashSet::new();
    for job in jobs {
        let schema = job.db.writer_schema();
        if !done.insert(schema) {
            continue;
        }
        let idx: Vec<usize> = (0..jobs.len()).filter(|&i| jobs[i].db.writer_schema() == schema).collect();
        let group: Vec<&IntakeJob> = idx.iter().map(|&i| &jobs[i]).collect();
        match write_batch(&group).await {
            Ok(v) => {
                for (i, r) in idx.iter().zip(v) {
                    out[*i] = Some(Ok(r));
                }
            }
            Err(e) => {
                let msg = format!("{e:#}");
                tracing::error!(tenant = %job.tenant, error = %msg, "failed to store webhook updates");
                for i in idx {
                    out[i] = Some(Err(msg.clone()));
                }
            }
        }
    }
    out.into_iter().map(|o| o.unwrap_or_else(|| Err("not written".into()))).collect()
}

/// Stores a batch in one transaction: one multi-row insert per tenant,
/// duplicates skipped by the unique `update_id`.
async fn write_batch(jobs: &[&IntakeJob]) -> anyhow::Result<Vec<(Intake, Option<i64>)>> {
    let Some(first) = jobs.first() else { return Ok(vec![]) };
    let conn = first.db.writer().await.context("failed to open the tenant's storage")?;
    let txn = conn.begin().await.context("failed to begin inbox transaction")?;
    let now = Utc::now();
    let mut inserted: HashMap<(Option<&str>, i64), i64> = HashMap::new();
    let mut groups: Vec<(Option<&str>, Vec<&IntakeJob>)> = Vec::new();
    for job in jobs {
        let schema = job.db.writer_schema();
        match groups.iter_mut().find(|(s, _)| *s == schema) {
            Some((_, g)) => g.push(job),
            None => groups.push((schema, vec![job])),
        }
    }
    for (schema, group) in &groups {
        let mut stmt = Query::insert();
        match schema {
            Some(s) => stmt.into_table((Alias::new(*s), Alias::new("inbox"))),
            None => stmt.into_table(Alias::new("inbox")),
        };
        stmt.columns([
            inbox::Column::UpdateId,
            inbox::Column::ChatId,
            inbox::Column::Kind,
            inbox::Column::Payload,
            inbox::Column::Status,
            inbox::Column::Error,
            inbox::Column::ReceivedAt,
        ]);
        for job in group {
            let r = &job.row;
            stmt.values_panic([
                r.update_id.into(),
                r.chat_id.into(),
                r.kind.clone().into(),
                r.payload.clone().into(),
                if r.pending { inbox::PENDING } else { inbox::IGNORED }.into(),
                r.error.clone().into(),
                now.into(),
            ]);
        }
        stmt.on_conflict(OnConflict::column(inbox::Column::UpdateId).do_nothing().to_owned());
        stmt.returning(Query::returning().columns([inbox::Column::Id, inbox::Column::UpdateId]));
        let rows = txn.query_all(&stmt).await.context("failed to insert into the inbox")?;
        for row in rows {
            let id: i64 = row.try_get("", "id")?;
            let update_id: Option<i64> = row.try_get("", "update_id")?;
            if let Some(u) = update_id {
                inserted.insert((*schema, u), id);
            }
        }
    }
    txn.commit().await.context("failed to commit the inbox")?;
    Ok(jobs
        .iter()
        .map(|job| match job.row.update_id {
            // Of several copies in one batch, the first one is the new one.
            Some(u) => match inserted.remove(&(job.db.writer_schema(), u)) {
                Some(id) if job.row.pending => (Intake::Stored, Some(id)),
                Some(_) => (Intake::Recorded, None),
                None => (Intake::Duplicate, None),
            },
            None => (Intake::Recorded, None),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification() {
        let c = classify(b"{not json");
        assert_eq!((c.update_id, c.kind.as_str()), (None, "malformed"));
        let c = classify(br#"{"message":{}}"#);
        assert_eq!((c.update_id, c.kind.as_str()), (None, "malformed"));
        let c = classify(br#"{"update_id":5,"poll":{"id":"1"}}"#);
        assert_eq!((c.update_id, c.kind.as_str()), (Some(5), "poll"));
        assert!(c.error.is_some());
        let msg = br#"{"update_id":7,"message":{"message_id":1,"date":1700000000,"chat":{"id":42,"type":"private","first_name":"Ann"},"from":{"id":42,"is_bot":false,"first_name":"Ann"},"text":"hi"}}"#;
        let c = classify(msg);
        assert_eq!((c.update_id, c.chat_id, c.kind.as_str(), c.error), (Some(7), Some(42), "message", None));
    }

    #[test]
    fn a_valid_update_of_a_kind_not_handled_says_so() {
        let edited = br#"{"update_id":8,"edited_message":{"message_id":1,"date":1700000000,"edit_date":1700000001,"chat":{"id":42,"type":"private","first_name":"Ann"},"from":{"id":42,"is_bot":false,"first_name":"Ann"},"text":"hi!"}}"#;
        let c = classify(edited);
        assert_eq!((c.update_id, c.chat_id, c.kind.as_str(), c.error.as_deref()), (Some(8), Some(42), "edited_message", None), "a customer's edit is handled");
        let post = br#"{"update_id":8,"channel_post":{"message_id":1,"date":1700000000,"chat":{"id":-1001234,"type":"channel","title":"News"},"text":"hi"}}"#;
        let c = classify(post);
        assert_eq!((c.update_id, c.kind.as_str()), (Some(8), "channel_post"));
        assert_eq!(c.error.as_deref(), Some("update kind \"channel_post\" is not handled"));
        // A message Telegram would never send is not a valid update.
        let c = classify(br#"{"update_id":9,"message":{"weird":true}}"#);
        assert_eq!((c.kind.as_str(), c.error.as_deref()), ("message", Some("not a valid Telegram update")));
    }

    #[test]
    fn a_button_press_is_ordered_with_the_presser_even_without_a_message() {
        // A press under an inline-mode message carries no `message`: its
        // chat is the presser's private chat.
        let press = br#"{"update_id":10,"callback_query":{"id":"77","from":{"id":42,"is_bot":false,"first_name":"Ann"},"inline_message_id":"AAA","chat_instance":"1","data":"tt:1"}}"#;
        let c = classify(press);
        assert_eq!((c.update_id, c.chat_id, c.kind.as_str(), c.error), (Some(10), Some(42), "callback_query", None));
    }

    /// A writer ends once every sender is gone (a SQLite tenant reloaded or
    /// removed drops its writer's sender); it must not linger, let alone
    /// spin, on a closed channel.
    #[tokio::test]
    async fn a_writer_ends_when_its_channel_closes() {
        let metrics = tokio::runtime::Handle::current().metrics();
        let before = metrics.num_alive_tasks();
        let tx = spawn_writer(std::sync::Weak::new());
        assert_eq!(metrics.num_alive_tasks(), before + 1);
        drop(tx);
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
        while metrics.num_alive_tasks() > before {
            assert!(tokio::time::Instant::now() < deadline, "the writer is still running after its channel closed");
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }

    /// On PostgreSQL one writer's batch may span tenants. When it fails as a
    /// whole because one tenant's storage is broken, each tenant's updates
    /// are stored on their own: the healthy tenants' are stored (in order),
    /// only the broken tenant's are refused, with the cause. An update kind
    /// that is not handled is recorded, not queued.
    #[tokio::test]
    async fn a_mixed_batch_that_fails_is_stored_tenant_by_tenant() {
        use sea_orm::ConnectionTrait as _;
        let url = std::env::var("TIKETHET_TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
        let schema = format!("tt_unit_{:08x}", rand::random::<u32>());
        let storage = crate::storage::Storage::open(&crate::storage::StorageUrl::parse(&url, &schema).unwrap(), Default::default())
            .await
            .unwrap_or_else(|e| panic!("this test needs PostgreSQL at {url}: {e:#}"));
        for t in ["a", "b", "c"] {
            storage.create_tenant_storage(&format!("{schema}_{t}")).await.unwrap();
        }
        // Tenant b's inbox is gone: any batch that writes to it fails.
        storage.control().execute_unprepared(&format!("DROP TABLE \"{schema}_b\".inbox CASCADE")).await.unwrap();
        let job = |t: &str, update: i64, pending: bool| {
            let (reply, _) = oneshot::channel();
            let kind = if pending { "message" } else { "edited_message" };
            let row = InboxRow { update_id: Some(update), chat_id: Some(7), kind: kind.into(), payload: "{}".into(), pending, error: None };
            IntakeJob { tenant: TenantId::from_stored(t.to_owned()), db: storage.tenant(&format!("{schema}_{t}")), row, reply }
        };
        let jobs = vec![job("a", 1, true), job("b", 2, true), job("c", 5, true), job("a", 3, true), job("a", 1, true), job("c", 6, false)];
        let out = write_isolated(&jobs).await;
        let ok: Vec<Option<Intake>> = out.iter().map(|o| o.as_ref().ok().map(|(i, _)| *i)).collect();
        assert_eq!(
            ok,
            [Some(Intake::Stored), None, Some(Intake::Stored), Some(Intake::Stored), Some(Intake::Duplicate), Some(Intake::Recorded)],
            "{out:?}"
        );
        assert!(out[1].as_ref().unwrap_err().contains("inbox"), "{out:?}");
        let a_ids: Vec<i64> = [0, 3].iter().filter_map(|&i| out[i].as_ref().ok().and_then(|(_, id)| *id)).collect();
        assert!(a_ids.len() == 2 && a_ids[0] < a_ids[1], "stored in arrival order: {out:?}");
        assert!(out[5].as_ref().is_ok_and(|(_, id)| id.is_none()), "a recorded update is not queued: {out:?}");
        for (t, want) in [("a", vec![1, 3]), ("c", vec![5, 6])] {
            let rows = storage
                .control()
                .query_all_raw(sea_orm::Statement::from_string(sea_orm::DbBackend::Postgres, format!("SELECT update_id FROM \"{schema}_{t}\".inbox ORDER BY id")))
                .await
                .unwrap();
            let stored: Vec<i64> = rows.iter().map(|r| r.try_get("", "update_id").unwrap()).collect();
            assert_eq!(stored, want, "tenant {t}");
        }
        storage.drop_everything_postgres().await.unwrap();
        storage.close().await;
    }
}
