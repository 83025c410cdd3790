//! The inbox update a lane is working, between its transactions: whether
//! it is still this process's (its chat's claim) and still pending, checked
//! before anything of the work commits; and, for the end-to-end tests of
//! several nodes, the holds that stop a unit of work at a known point.
//! Used by the worker's handlers ([`crate::worker::process`]) and by the
//! plugin call protocol ([`crate::worker::hooks`]).

use std::time::Duration;

use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter};

use crate::error::RuntimeError;
use crate::outbound::effects::Effects;
use crate::storage::entities::inbox;
use crate::worker::claims;

/// Renews the chat's claim in `txn`, failing it if another process took
/// the chat over (then nothing of `txn` may commit).
pub(crate) async fn claimed(txn: &DatabaseTransaction) -> Result<(), RuntimeError> {
    claims::check(txn).await?.map_err(|lost| RuntimeError::Internal(lost.into()))
}

/// The update `id`, if still pending, to be changed in `txn` under this
/// process's claim of its chat.
async fn if_pending(txn: &DatabaseTransaction, id: i64) -> Result<sea_orm::UpdateMany<inbox::Entity>, RuntimeError> {
    claimed(txn).await?;
    Ok(inbox::Entity::update_many().filter(inbox::Column::Id.eq(id)).filter(inbox::Column::Status.eq(inbox::PENDING)))
}

/// Whether the row is still pending, locking it for this transaction (a
/// row finished meanwhile must not get its effects twice).
pub(crate) async fn still_pending(txn: &DatabaseTransaction, id: i64) -> Result<bool, RuntimeError> {
    let n = if_pending(txn, id).await?.col_expr(inbox::Column::Status, Expr::value(inbox::PENDING)).exec(txn).await?.rows_affected;
    Ok(n == 1)
}

/// Marks a pending row finished in this transaction; false when it was not
/// pending any more (then nothing must be committed).
pub(crate) async fn finish(txn: &DatabaseTransaction, id: i64, status: &str) -> Result<bool, RuntimeError> {
    let n = if_pending(txn, id)
        .await?
        .col_expr(inbox::Column::Status, Expr::value(status))
        .col_expr(inbox::Column::ProcessedAt, Expr::value(Utc::now()))
        .col_expr(inbox::Column::Stage, Expr::value(Option::<String>::None))
        .col_expr(inbox::Column::NextAttemptAt, Expr::value(Option::<chrono::DateTime<Utc>>::None))
        .exec(txn)
        .await?
        .rows_affected;
    Ok(n == 1)
}

/// Commits `txn` with the update marked `status`, and hands back its
/// effects to deliver; if the update was finished elsewhere meanwhile,
/// nothing is committed and there is nothing to deliver.
pub(crate) async fn commit_finished(txn: DatabaseTransaction, id: i64, status: &str, kicks: Effects) -> Result<Effects, RuntimeError> {
    if !finish(&txn, id, status).await? {
        return Ok(Effects::default());
    }
    txn.commit().await?;
    Ok(kicks)
}

/// How long a unit of work waits at each test hold (see [`test_hold`]).
pub(crate) const HOLD_DURING_PLUGINS: Duration = Duration::from_secs(3);
pub(crate) const HOLD_BEFORE_ROUTING: Duration = Duration::from_secs(8);

/// Lets the end-to-end tests of several nodes stop a unit of work between
/// its transactions at a known point, where only the claim's fence keeps a
/// process that lost its chat from committing: a message whose text holds
/// `tikethet-test-hold` waits `wait` there (before its `on-message`
/// plugins run, and after its new ticket is stored, before routing).
/// Never compiled into release builds, like `tikethet-test-panic`.
pub(crate) async fn test_hold(row: &inbox::Model, wait: Duration) {
    if cfg!(debug_assertions) && row.payload.contains("tikethet-test-hold") {
        tokio::time::sleep(wait).await;
    }
}

/// What a press on one of the bot's own buttons did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pressed {
    /// Done: its buttons are taken off the message.
    Done,
    /// Not done yet, and may be pressed again (a broadcast while another
    /// is under way): the buttons stay.
    Again,
    /// Nothing to do any more (a rating for a reopened ticket, a draft
    /// already sent): the customer is told, and the buttons go.
    Stale,
}
