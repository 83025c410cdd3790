//! Customer satisfaction: when staff resolve a ticket its customer is
//! asked to rate it with five buttons under the bot's message; a press
//! records the rating (a later press changes it) and invites a comment,
//! which the customer's next message becomes if it comes within 15 minutes
//! (`/skip` declines). Ratings
//! feed the desk's analytics.

use chrono::Utc;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter};
use tikethet_themes::BotText;

use crate::worker::update::Pressed;
use crate::Runtime;
use crate::worker::bot::{CSAT_PREFIX, SupportStep, set_step};
use crate::outbound::effects::Effects;
use crate::domain::TicketStatus;
use crate::storage::entities::{ticket_ratings, tickets as ticket_rows, users};
use crate::error::RuntimeError;
use crate::storage::tenant::Tenant;
use crate::desk::tickets::{self, Button};

/// Longest comment kept, in characters.
pub const MAX_COMMENT_CHARS: usize = 2000;
/// The customer's next message is the rating's comment within this long
/// of the rating; later it is a message like any other.
pub const COMMENT_WINDOW: chrono::Duration = chrono::Duration::minutes(15);

/// The five rating buttons of a ticket, in one row.
pub(crate) fn buttons(ticket: i64) -> Vec<Button> {
    vec![Button::Row { row: (1..=5).map(|n| Button::Callback { text: format!("{n} ⭐"), data: format!("{CSAT_PREFIX}{ticket}:{n}") }).collect() }]
}

/// `tt:csat:<ticket>:<rating>` read, the rating from 1 to 5.
pub(crate) fn parse(data: &str) -> Option<(i64, i16)> {
    let (ticket, rating) = data.strip_prefix(CSAT_PREFIX)?.split_once(':')?;
    let rating: i16 = rating.parse().ok().filter(|r| (1..=5).contains(r))?;
    Some((ticket.parse().ok()?, rating))
}

impl Runtime {
    /// Asks the customer of a just resolved ticket to rate it (once: not
    /// when it is rated already).
    pub(crate) async fn ask_rating(&self, tenant: &Tenant, txn: &DatabaseTransaction, ticket: &ticket_rows::Model, customer: &users::Model, kicks: &mut Effects) -> Result<(), RuntimeError> {
        if ticket_ratings::Entity::find_by_id(ticket.id).one(txn).await?.is_some() {
            return Ok(());
        }
        let text = self.text(tenant, customer.language_code.as_deref(), BotText::CsatAsk, serde_json::json!({ "number": ticket.id, "title": ticket.title }))?;
        kicks.push(tickets::enqueue_about(txn, customer.telegram_id, text, ticket.id, &buttons(ticket.id)).await?.chat_id);
        Ok(())
    }

    /// A rating button pressed: recorded when the ticket is the presser's
    /// and resolved (or closed); anything else is ignored.
    pub(crate) async fn rating_pressed(&self, tenant: &Tenant, txn: &DatabaseTransaction, user: &users::Model, chat: i64, data: &str, kicks: &mut Effects) -> Result<Pressed, RuntimeError> {
        let Some((ticket, rating)) = parse(data) else { return Ok(Pressed::Stale) };
        let Some(t) = ticket_rows::Entity::find_by_id(ticket).one(txn).await? else { return Ok(Pressed::Stale) };
        let done = [TicketStatus::Resolved.as_str(), TicketStatus::Closed.as_str()].contains(&t.status.as_str());
        // Someone else's ticket, or one reopened since it was asked about.
        if t.customer_id != user.id || !done {
            return Ok(Pressed::Stale);
        }
        ticket_ratings::Entity::insert(ticket_ratings::ActiveModel { ticket_id: Set(t.id), customer_id: Set(user.id), rating: Set(rating), comment: Set(None), rated_at: Set(Utc::now()) })
            .on_conflict(OnConflict::column(ticket_ratings::Column::TicketId).update_columns([ticket_ratings::Column::Rating, ticket_ratings::Column::RatedAt]).to_owned())
            .exec_without_returning(txn)
            .await?;
        set_step(txn, user, Some(SupportStep::CsatComment(t.id, Utc::now().timestamp()))).await?;
        let text = self.text(tenant, user.language_code.as_deref(), BotText::CsatThanks, serde_json::json!({ "number": t.id, "rating": rating }))?;
        kicks.push(tickets::enqueue(txn, chat, text, None).await?.chat_id);
        Ok(Pressed::Done)
    }

    /// The message after a rating: its comment.
    pub(crate) async fn rating_comment(&self, tenant: &Tenant, txn: &DatabaseTransaction, user: &users::Model, chat: i64, ticket: i64, text: &str, kicks: &mut Effects) -> Result<(), RuntimeError> {
        let comment: String = text.chars().take(MAX_COMMENT_CHARS).collect();
        ticket_ratings::Entity::update_many()
            .col_expr(ticket_ratings::Column::Comment, sea_orm::sea_query::Expr::value(comment))
            .filter(ticket_ratings::Column::TicketId.eq(ticket))
            .filter(ticket_ratings::Column::CustomerId.eq(user.id))
            .exec(txn)
            .await?;
        set_step(txn, user, None).await?;
        let reply = self.text(tenant, user.language_code.as_deref(), BotText::CsatCommentThanks, ())?;
        kicks.push(tickets::enqueue(txn, chat, reply, None).await?.chat_id);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rating_buttons_carry_their_ticket_and_score() {
        assert_eq!(parse("tt:csat:42:5"), Some((42, 5)));
        assert_eq!(parse("tt:csat:42:0"), None);
        assert_eq!(parse("tt:csat:42:6"), None);
        assert_eq!(parse("tt:csat:x:3"), None);
        assert_eq!(parse("tt:support:3"), None);
        let Button::Row { row } = &buttons(42)[0] else { panic!("a row") };
        assert_eq!(row.len(), 5);
        assert!(row.iter().all(|b| matches!(b, Button::Callback { data, .. } if parse(data).is_some_and(|(t, _)| t == 42))));
    }
}
