//! Webhook intake: check the secret, store the update durably in the
//! tenant's inbox, acknowledge, and hand it to the worker.
//!
//! Each tenant has one writer task that commits the updates waiting for it
//! in one transaction (group commit), so a burst costs one fsync, not one
//! per update, while every caller still hears back only after its update
//! is on disk.


use anyhow::Context as _;
use chrono::Utc;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, DbErr, EntityTrait};
use serde_json::Value;
use subtle::ConstantTimeEq;
use tokio::sync::{mpsc, oneshot};

use crate::db::TenantDb;
use crate::domain::TenantId;
use crate::entities::inbox;
use crate::{Runtime, WorkItem};

/// Telegram's updates are a few kilobytes; anything far larger is not one.
pub const MAX_UPDATE_BYTES: usize = 1024 * 1024;
/// Most updates one writer commits together.
const MAX_BATCH: usize = 256;

/// The update kinds the runtime acts on; every other kind is stored and
/// acknowledged but not processed. Also the `allowed_updates` of `setWebhook`.
pub const HANDLED_KINDS: &[&str] = &["message"];

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

pub(crate) struct IntakeJob {
    row: inbox::ActiveModel,
    chat_id: Option<i64>,
    pending: bool,
    reply: oneshot::Sender<Result<Intake, String>>,
}

/// An update classified from its raw body.
struct Classified {
    update_id: Option<i64>,
    chat_id: Option<i64>,
    kind: String,
    error: Option<String>,
}

fn classify(body: &[u8]) -> Classified {
    let value: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => {
            return Classified { update_id: None, chat_id: None, kind: "malformed".into(), error: Some(format!("not JSON: {e}")) };
        }
    };
    let Some(update_id) = value.get("update_id").and_then(Value::as_i64) else {
        return Classified { update_id: None, chat_id: None, kind: "malformed".into(), error: Some("no integer update_id".into()) };
    };
    let kind = value
        .as_object()
        .and_then(|o| o.keys().find(|k| *k != "update_id").cloned())
        .unwrap_or_else(|| "empty".into());
    // Parsed from the bytes: teloxide's `UpdateKind` does not deserialize
    // from a `Value`, and it turns a message it cannot read into
    // `UpdateKind::Error` instead of failing.
    match serde_json::from_slice::<teloxide::types::Update>(body) {
        Ok(update) if matches!(update.kind, teloxide::types::UpdateKind::Error(_)) => Classified {
            update_id: Some(update_id),
            chat_id: None,
            kind,
            error: Some("not a valid Telegram update".into()),
        },
        Ok(update) => {
            let chat_id = update.chat().map(|c| c.id.0);
            let error = (!HANDLED_KINDS.contains(&kind.as_str())).then(|| format!("update kind {kind:?} is not handled"));
            Classified { update_id: Some(update_id), chat_id, kind, error }
        }
        Err(e) => Classified { update_id: Some(update_id), chat_id: None, kind, error: Some(format!("not a valid Telegram update: {e}")) },
    }
}

impl Runtime {
    /// Takes one webhook delivery for the tenant behind `route`.
    pub async fn intake(&self, route: &str, secret: Option<&str>, body: &[u8]) -> Result<Intake, IntakeError> {
        let tenant = self.tenants.by_route(route).ok_or(IntakeError::UnknownRoute)?;
        let expected = tenant.info.webhook_secret.as_bytes();
        let ok = secret.is_some_and(|s| bool::from(s.as_bytes().ct_eq(expected)));
        if !ok {
            return Err(IntakeError::BadSecret);
        }
        if body.len() > MAX_UPDATE_BYTES {
            return Err(IntakeError::TooLarge);
        }
        let c = classify(body);
        let pending = c.error.is_none();
        let now = Utc::now();
        let row = inbox::ActiveModel {
            update_id: Set(c.update_id),
            chat_id: Set(c.chat_id),
            kind: Set(c.kind.chars().take(32).collect()),
            payload: Set(String::from_utf8_lossy(body).into_owned()),
            status: Set(if pending { inbox::PENDING } else { inbox::IGNORED }.to_owned()),
            error: Set(c.error),
            received_at: Set(now),
            ..Default::default()
        };
        let (reply, answer) = oneshot::channel();
        tenant
            .intake
            .send(IntakeJob { row, chat_id: c.chat_id, pending, reply })
            .await
            .map_err(|_| IntakeError::Unavailable(anyhow::anyhow!("the tenant's writer has stopped")))?;
        match answer.await {
            Ok(Ok(outcome)) => Ok(outcome),
            Ok(Err(e)) => Err(IntakeError::Unavailable(anyhow::anyhow!(e))),
            Err(_) => Err(IntakeError::Unavailable(anyhow::anyhow!("the tenant's writer stopped mid-write"))),
        }
    }
}

/// Starts the writer that stores one tenant's updates.
pub(crate) fn spawn_writer(runtime: Runtime, tenant: TenantId, db: TenantDb) -> mpsc::Sender<IntakeJob> {
    let (tx, mut rx) = mpsc::channel::<IntakeJob>(4 * MAX_BATCH);
    tokio::spawn(async move {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
            let jobs: Vec<IntakeJob> = std::mem::take(&mut batch);
            match write_batch(&db, &jobs).await {
                Ok(outcomes) => {
                    for (job, (outcome, inbox_id)) in jobs.into_iter().zip(outcomes) {
                        if let (Intake::Stored, Some(id)) = (outcome, inbox_id) {
                            runtime.dispatch(WorkItem { tenant: tenant.clone(), chat: job.chat_id.unwrap_or(0), inbox_id: id });
                        }
                        let _ = job.reply.send(Ok(outcome));
                    }
                }
                Err(e) => {
                    tracing::error!(tenant = %tenant, error = %format!("{e:#}"), "failed to store webhook updates");
                    let msg = format!("{e:#}");
                    for job in jobs {
                        let _ = job.reply.send(Err(msg.clone()));
                    }
                }
            }
        }
    });
    tx
}

async fn write_batch(db: &TenantDb, jobs: &[IntakeJob]) -> anyhow::Result<Vec<(Intake, Option<i64>)>> {
    let txn = db.begin().await.context("failed to begin inbox transaction")?;
    let mut out = Vec::with_capacity(jobs.len());
    for job in jobs {
        let res = inbox::Entity::insert(job.row.clone())
            .on_conflict(OnConflict::column(inbox::Column::UpdateId).do_nothing().to_owned())
            .exec(&txn)
            .await;
        out.push(match res {
            Ok(r) if job.pending => (Intake::Stored, Some(r.last_insert_id)),
            Ok(_) => (Intake::Recorded, None),
            Err(DbErr::RecordNotInserted) => (Intake::Duplicate, None),
            Err(e) => return Err(e).context("failed to insert into the inbox"),
        });
    }
    txn.commit().await.context("failed to commit the inbox")?;
    Ok(out)
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
}

