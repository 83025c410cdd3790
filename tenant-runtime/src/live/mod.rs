//! Live events of a desk (a new message, a ticket changed, someone typing)
//! for the sockets of the people allowed to see them.
//!
//! An event is raised after the change it describes has committed. Without
//! Redis it goes to this process's sockets; with Redis it is published on
//! one channel that every node subscribes to, and each node hands it to its
//! own sockets, so a reply posted through one node reaches a socket held by
//! another. Live events are a courtesy, not a record: when Redis is away
//! they pause (clients resynchronise when they reconnect), and nothing the
//! desk stores depends on them.

pub mod presence;
mod pubsub;
pub mod wakeups;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

use crate::domain::TenantId;
use crate::storage::entities::{messages, tickets};
use crate::desk::context::{Scope, Viewer};

/// Events a socket can fall behind by before it is told to resynchronise.
const BACKLOG: usize = 256;

/// Sockets one user may hold open on one node (tabs, devices).
pub const MAX_SOCKETS_PER_USER: usize = 5;

/// Who may see a ticket's events.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct Audience {
    pub ticket_id: i64,
    pub customer_id: i64,
    pub assignee_id: Option<i64>,
}

impl From<&tickets::Model> for Audience {
    fn from(t: &tickets::Model) -> Self {
        Audience { ticket_id: t.id, customer_id: t.customer_id, assignee_id: t.assignee_id }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Event {
    TicketCreated { ticket: tickets::Model },
    TicketUpdated { ticket: tickets::Model },
    MessageCreated { audience: Audience, message: messages::Model },
    MessageUpdated { audience: Audience, message: messages::Model },
    Typing { audience: Audience, user_id: i64, role: String },
    /// A staff member has the ticket open in the console (again, now and
    /// then, while they do), is typing a reply in it, or left it. Only
    /// staff hear it.
    Presence { audience: Audience, user_id: i64, name: String, typing: bool, leaving: bool },
    /// What a user may do changed (role, block, sign-out), or, with no
    /// user, the whole desk's: each socket it concerns checks its token
    /// again and closes if it no longer holds. Never shown to a client.
    AccessChanged { user_id: Option<i64> },
}

impl Event {
    fn audience(&self) -> Option<Audience> {
        match self {
            Event::TicketCreated { ticket } | Event::TicketUpdated { ticket } => Some(Audience::from(ticket)),
            Event::MessageCreated { audience, .. } | Event::MessageUpdated { audience, .. } | Event::Typing { audience, .. } | Event::Presence { audience, .. } => Some(*audience),
            Event::AccessChanged { .. } => None,
        }
    }

    /// Whether this is a change of access that the socket of `user_id`
    /// must check its token against.
    pub fn concerns_access_of(&self, user_id: i64) -> bool {
        matches!(self, Event::AccessChanged { user_id: u } if u.is_none_or(|u| u == user_id))
    }

    /// Whether `viewer` may see this event: the tickets their role lets
    /// them see, never an internal note unless they are staff, never their
    /// own typing.
    pub fn visible_to(&self, viewer: &Viewer) -> bool {
        let Some(a) = self.audience() else { return false };
        let sees_ticket = match viewer.scope() {
            Scope::Own => a.customer_id == viewer.user_id.get(),
            Scope::Assigned => a.assignee_id == Some(viewer.user_id.get()),
            Scope::All => true,
        };
        sees_ticket
            && match self {
                Event::MessageCreated { message, .. } | Event::MessageUpdated { message, .. } => !message.internal || viewer.role.is_staff(),
                Event::Typing { user_id, .. } => *user_id != viewer.user_id.get(),
                Event::Presence { user_id, .. } => viewer.role.is_staff() && *user_id != viewer.user_id.get(),
                _ => true,
            }
    }
}

#[derive(Serialize, Deserialize)]
struct Envelope {
    tenant: String,
    event: Event,
}

/// A socket's place in the hub: events arrive on `events`; dropping it
/// frees the user's slot.
pub struct Subscription {
    pub events: broadcast::Receiver<Arc<Event>>,
    _slot: Slot,
}

struct Slot {
    hub: Arc<Mutex<Local>>,
    key: (TenantId, i64),
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut local = self.hub.lock().expect("poisoned");
        if let Some(n) = local.sockets.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                local.sockets.remove(&self.key);
            }
        }
        let tenant = &self.key.0;
        if local.channels.get(tenant).is_some_and(|c| c.receiver_count() == 0) {
            local.channels.remove(tenant);
        }
    }
}

#[derive(Default)]
struct Local {
    channels: HashMap<TenantId, broadcast::Sender<Arc<Event>>>,
    sockets: HashMap<(TenantId, i64), usize>,
}

/// The node's live-event hub.
#[derive(Clone)]
pub struct Hub {
    local: Arc<Mutex<Local>>,
    redis: Option<(redis::aio::ConnectionManager, String)>,
}

#[derive(Debug, thiserror::Error)]
#[error("this account already has {MAX_SOCKETS_PER_USER} live connections open; close one first")]
pub struct TooManySockets;

impl Hub {
    pub fn local() -> Hub {
        Hub { local: Arc::default(), redis: None }
    }

    /// A hub that publishes through Redis and hands what every node
    /// published to this node's sockets (the subscription runs until the
    /// process ends, reconnecting when Redis comes back).
    pub fn redis(url: &str, conn: redis::aio::ConnectionManager, prefix: &str) -> anyhow::Result<Hub> {
        use anyhow::Context as _;
        let client = redis::Client::open(url).context("TIKETHET_REDIS_URL is not a valid Redis URL")?;
        let channel = format!("{prefix}live");
        let hub = Hub { local: Arc::default(), redis: Some((conn, channel.clone())) };
        let local = hub.local.clone();
        crate::live::pubsub::listen(client, channel, "live events", move |payload| match serde_json::from_str::<Envelope>(&payload) {
            Ok(env) => deliver(&local, &TenantId::from_stored(env.tenant), env.event),
            // Another version of the server may publish kinds this one
            // does not know; skip them.
            Err(e) => tracing::debug!(error = %e, "live event not understood"),
        });
        Ok(hub)
    }

    /// A socket of `viewer` joins its tenant's events.
    pub fn join(&self, tenant: &TenantId, viewer: &Viewer) -> Result<Subscription, TooManySockets> {
        let mut local = self.local.lock().expect("poisoned");
        let key = (tenant.clone(), viewer.user_id.get());
        let n = local.sockets.entry(key.clone()).or_insert(0);
        if *n >= MAX_SOCKETS_PER_USER {
            return Err(TooManySockets);
        }
        *n += 1;
        let events = local.channels.entry(tenant.clone()).or_insert_with(|| broadcast::channel(BACKLOG).0).subscribe();
        Ok(Subscription { events, _slot: Slot { hub: self.local.clone(), key } })
    }

    /// Raises an event (after its change committed). Failures are logged,
    /// never returned: the change itself has happened.
    pub async fn publish(&self, tenant: &TenantId, event: Event) {
        match &self.redis {
            None => deliver(&self.local, tenant, event),
            Some((conn, channel)) => {
                let payload = match serde_json::to_string(&Envelope { tenant: tenant.as_str().to_owned(), event }) {
                    Ok(p) => p,
                    Err(e) => return tracing::error!(error = %e, "live event does not serialise"),
                };
                if let Err(e) = crate::live::pubsub::publish(conn, channel, payload).await {
                    tracing::warn!(error = %e, "live event not published (Redis)");
                }
            }
        }
    }

    /// Raises several events in order.
    pub async fn publish_all(&self, tenant: &TenantId, events: Vec<Event>) {
        for e in events {
            self.publish(tenant, e).await;
        }
    }
}

fn deliver(local: &Mutex<Local>, tenant: &TenantId, event: Event) {
    let local = local.lock().expect("poisoned");
    if let Some(tx) = local.channels.get(tenant) {
        // No receiver left is not an error: nobody is watching.
        tx.send(Arc::new(event)).ok();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Role, UserId};

    fn ticket(customer: i64, assignee: Option<i64>) -> tickets::Model {
        let now = chrono::Utc::now();
        tickets::Model {
            forum_topic_id: None,
            id: 7,
            customer_id: customer,
            title: "t".into(),
            description: "d".into(),
            status: crate::domain::TicketStatus::Open,
            priority: crate::domain::Priority::Normal,
            category_id: None,
            team_id: None,
            assignee_id: assignee,
            created_at: now,
            updated_at: now,
            first_response_at: None,
            resolved_at: None,
            closed_at: None,
        }
    }

    fn message(internal: bool) -> messages::Model {
        messages::Model {
            id: 1,
            ticket_id: 7,
            author_id: Some(9),
            author_role: "owner".into(),
            text: "x".into(),
            internal,
            telegram_message_id: None,
            created_at: chrono::Utc::now(),
            edited_at: None,
            deleted_at: None,
            attachments: None,
            kind: "text".into(),
            details: None,
            revisions: None,
        }
    }

    fn viewer(id: i64, role: Role) -> Viewer {
        Viewer { user_id: UserId::new(id), telegram_id: id, role }
    }

    #[test]
    fn each_role_sees_the_events_of_the_tickets_it_may_see() {
        let t = ticket(1, Some(2));
        let note = Event::MessageCreated { audience: (&t).into(), message: message(true) };
        let reply = Event::MessageCreated { audience: (&t).into(), message: message(false) };
        let changed = Event::TicketUpdated { ticket: t.clone() };
        let (customer, other, helper, other_helper, moderator) =
            (viewer(1, Role::User), viewer(3, Role::User), viewer(2, Role::Helper), viewer(4, Role::Helper), viewer(5, Role::Moderator));
        assert!(reply.visible_to(&customer) && changed.visible_to(&customer));
        assert!(!note.visible_to(&customer), "internal notes are for staff");
        assert!(!reply.visible_to(&other) && !changed.visible_to(&other));
        assert!(note.visible_to(&helper) && !note.visible_to(&other_helper), "helpers see their assigned tickets only");
        assert!(note.visible_to(&moderator) && changed.visible_to(&moderator));
        let typing = Event::Typing { audience: (&t).into(), user_id: 1, role: "user".into() };
        assert!(!typing.visible_to(&customer), "nobody is shown their own typing");
        assert!(typing.visible_to(&moderator));
    }

    #[test]
    fn a_change_of_access_is_shown_to_nobody_and_concerns_its_user_or_everyone() {
        let mine = Event::AccessChanged { user_id: Some(1) };
        let desk = Event::AccessChanged { user_id: None };
        assert!(!mine.visible_to(&viewer(1, Role::Owner)) && !desk.visible_to(&viewer(5, Role::Moderator)));
        assert!(mine.concerns_access_of(1) && !mine.concerns_access_of(2));
        assert!(desk.concerns_access_of(1) && desk.concerns_access_of(2));
        assert!(!Event::TicketUpdated { ticket: ticket(1, None) }.concerns_access_of(1));
    }

    #[test]
    fn events_survive_the_trip_through_redis() {
        let sent = message(false);
        let e = Envelope { tenant: "tnt_x".into(), event: Event::MessageCreated { audience: (&ticket(1, None)).into(), message: sent.clone() } };
        let back: Envelope = serde_json::from_str(&serde_json::to_string(&e).unwrap()).unwrap();
        assert_eq!(back.tenant, "tnt_x");
        assert!(matches!(back.event, Event::MessageCreated { message, audience } if message == sent && audience.customer_id == 1));
    }

    #[tokio::test]
    async fn a_users_sockets_are_capped_and_freed_on_drop() {
        let hub = Hub::local();
        let tenant = TenantId::from_stored("tnt_a".into());
        let v = viewer(1, Role::User);
        let mut subs: Vec<_> = (0..MAX_SOCKETS_PER_USER).map(|_| hub.join(&tenant, &v).unwrap()).collect();
        assert!(hub.join(&tenant, &v).is_err());
        assert!(hub.join(&tenant, &viewer(2, Role::User)).is_ok(), "another user has their own allowance");
        subs.pop();
        let mut sub = hub.join(&tenant, &v).expect("a dropped socket frees its slot");
        hub.publish(&tenant, Event::TicketUpdated { ticket: ticket(1, None) }).await;
        assert!(matches!(&*sub.events.recv().await.unwrap(), Event::TicketUpdated { ticket } if ticket.id == 7));
    }
}
