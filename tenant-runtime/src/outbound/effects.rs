//! The effects of a unit of work: what it leaves to do once its
//! transaction has committed (chats with messages to send, live events to
//! raise). Everything that changes a desk fills one, in the transaction
//! that decides it, and hands it here after the commit, so a rollback
//! sends and announces nothing.

use crate::domain::TenantId;
use crate::live;
use crate::Runtime;

/// What an update's processing leaves to do once it has committed: the
/// chats that got messages to send, and the live events it raised.
#[derive(Default)]
pub(crate) struct Effects {
    pub chats: Vec<i64>,
    pub events: Vec<live::Event>,
}

impl Effects {
    pub fn push(&mut self, chat: i64) {
        self.chats.push(chat);
    }
}

impl Runtime {
    /// Sends what was queued and raises the events, after the commit.
    pub(crate) async fn after_commit(&self, tenant: &TenantId, effects: Effects) {
        for chat in effects.chats {
            self.deliver(tenant, chat);
        }
        self.inner.live.publish_all(tenant, effects.events).await;
    }
}
