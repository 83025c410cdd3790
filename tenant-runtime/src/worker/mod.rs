//! The worker: stored updates turned into tickets and answers, one chat at
//! a time. [`lanes`] runs each chat's work in order and fairly across
//! tenants; [`claims`] and [`heartbeat`] make one process at a time work a
//! chat across a cluster, and hand a dead node's chats over in seconds.
//! [`process`] handles one update (messages of every [`incoming`] kind,
//! button presses, the staff group's [`forum`] topics) and commits its effects with its "done" mark
//! once [`update`] finds it still its own;
//! what the bot says by itself is in [`bot`] and [`csat`], tenant plugins
//! are called through [`hooks`] and [`schedule`], and [`broadcast`],
//! [`sla_watch`] and [`maintenance`] run beside the lanes.
//! What a unit of work leaves to send goes to [`crate::outbound`].

pub mod bot;
pub mod broadcast;
pub mod claims;
pub(crate) mod csat;
pub mod forum;
pub mod heartbeat;
pub(crate) mod hooks;
pub mod incoming;
pub mod lanes;
pub mod maintenance;
pub(crate) mod process;
pub mod schedule;
pub(crate) mod sla_watch;
pub(crate) mod update;

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::Duration;

use crate::domain::TenantId;

/// The worker's state: its lanes, this node's place in the cluster, the
/// plugins it calls, and what the jobs beside the lanes keep.
pub(crate) struct Worker {
    /// A lane per chat with updates to process (`None`: updates with no chat).
    pub(crate) lanes: lanes::Lanes<TenantId, Option<i64>>,
    /// This process's name on the chats it claims, `{node_name}#{random}`:
    /// unique per start, so a restarted process does not inherit the claims
    /// of the one before (it clears them; see `maintenance`).
    pub(crate) node_id: String,
    pub(crate) node_name: String,
    /// How long a claim lasts unless renewed.
    pub(crate) claim_lease: Duration,
    /// Nodes whose heartbeat stopped: their claims are taken at once.
    pub(crate) dead_nodes: heartbeat::DeadNodes,
    /// Wake-ups between nodes for chats given up.
    pub(crate) wakeups: crate::live::wakeups::Wakeups,
    pub(crate) retention: crate::Retention,
    pub(crate) sla_check_every: Duration,
    /// When each desk's plugin schedules next need a look.
    pub(crate) schedules: schedule::Schedules,
    /// The latest of each desk's own bot texts that gave way to the
    /// built-in one at send time, and why (shown to the desk's admins).
    pub(crate) text_fallbacks: Mutex<HashMap<TenantId, bot::TextFallbacks>>,
    /// Tenants that had work since the last prune: only they can have new
    /// finished rows, so idle tenants' storage is never opened to prune.
    pub(crate) worked: Mutex<HashSet<TenantId>>,
    /// The plugin host and the pool its calls run on.
    pub(crate) plugins: hooks::PluginPool,
}
