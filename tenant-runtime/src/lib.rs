//! The tenant runtime: everything that happens inside one tenant's desk.
//!
//! Owns webhook intake (secret check, durable inbox, dedupe), routing of
//! updates to their tenant, the conversation worker (tickets out of
//! messages, the bot's answers), outbound delivery through each tenant's
//! bot within Telegram's limits, sign-in (initData, JWT) and the ticket
//! operations the tenant API exposes. It wraps teloxide and the tenant side
//! of sea-orm. It does not know HTTP (the platform maps [`RuntimeError`] to
//! statuses) nor the control plane (the platform hands it [`TenantInfo`]s).

pub mod api;
pub mod auth;
pub mod bot;
pub mod claims;
pub mod broadcast;
pub mod console;
mod csat;
mod conversation;
pub mod db;
pub mod desk;
pub mod domain;
pub mod entities;
mod error;
pub mod files;
pub mod forum;
pub mod heartbeat;
pub mod held;
mod hooks;
mod notify;
pub mod maintenance;
pub mod intake;
pub mod limiter;
pub mod live;
pub mod presence;
mod pubsub;
pub mod queue;
pub mod schedule;
mod sender;
mod sla_watch;
mod telegram;
pub mod tenant;
pub mod throttle;
pub mod tickets;
pub mod usage;
pub mod wakeups;

use std::ops::Deref;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};

use anyhow::Context as _;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use teloxide::Bot;

pub use error::{Result, RuntimeError, is_unique_violation};
pub use tenant::{Quotas, Registry, Tenant, TenantInfo, TenantStatus};

use crate::db::Storage;
use crate::domain::{BotToken, TenantId};
use crate::entities::{inbox, outbox};
use crate::limiter::Limiter;
use crate::queue::{Lanes, Shares, Step};

/// Chats whose updates are processed at once, over all tenants. A worker
/// holds a database connection only inside its short transactions (plugins
/// run between them), so this stays below the PostgreSQL pool's size.
pub const WORKER_CONCURRENCY: usize = 16;
/// Of those, at most this many for one tenant.
pub const WORKER_PER_TENANT: usize = 4;
/// Chats sent to at once (each still throttled by the limiter), and per tenant.
pub const SENDER_CONCURRENCY: usize = 64;
pub const SENDER_PER_TENANT: usize = 8;
/// Plugin calls at once (on blocking threads, never the async workers), and
/// per tenant: a tenant whose plugins run to their deadline keeps to its share.
pub const PLUGIN_CONCURRENCY: usize = 4;
pub const PLUGIN_PER_TENANT: usize = 1;
/// Plugin time one tenant may use, on average, per second of wall clock
/// (a quarter of a core), with up to [`PLUGIN_TIME_BURST`] saved up: a
/// tenant whose plugins keep running to their deadline waits for its own
/// budget instead of keeping a core busy that other tenants need.
pub const PLUGIN_TIME_PER_SECOND: std::time::Duration = std::time::Duration::from_millis(250);
pub const PLUGIN_TIME_BURST: std::time::Duration = std::time::Duration::from_secs(1);
/// Chats with work held in memory at once; past it, chats wait in the
/// database for the sweep.
pub const MAX_OPEN_LANES: usize = 100_000;
/// How often the sweep looks for rows left pending with no lane open.
pub const SWEEP_INTERVAL: std::time::Duration = std::time::Duration::from_secs(5);

/// Counters exported on `/metrics`.
#[derive(Default)]
pub struct Metrics {
    pub updates_processed: AtomicU64,
    pub updates_failed: AtomicU64,
    /// Failed tries that will be retried (storage errors, panics are not).
    pub updates_retried: AtomicU64,
    pub updates_panicked: AtomicU64,
    /// Customer messages kept for later because they would open a ticket
    /// over the plan's monthly limit.
    pub updates_over_limit: AtomicU64,
    /// Rows the retention job removed.
    pub rows_pruned: AtomicU64,
    pub tickets_opened: AtomicU64,
    pub messages_sent: AtomicU64,
    pub messages_failed: AtomicU64,
    pub plugin_failures: AtomicU64,
    /// Service-level passes over every desk with targets, and alerts sent.
    pub sla_passes: AtomicU64,
    pub sla_alerts: AtomicU64,
    /// Sends paced in this process because the shared limits (Redis) did
    /// not answer.
    pub sends_rate_limited_locally: AtomicU64,
}

/// What the runtime is built from.
pub struct RuntimeConfig {
    pub storage: Storage,
    /// Base URL of the Bot API (`TIKETHET_TELEGRAM_API_URL`).
    pub telegram_api_url: url::Url,
    /// Where the desks are served (`TIKETHET_PUBLIC_URL`): the Mini App
    /// buttons point there.
    pub public_url: url::Url,
    pub jwt_secret: Vec<u8>,
    pub limiter: Limiter,
    pub plugins: tikethet_plugins::PluginHost,
    pub retention: Retention,
    /// Request limits of the tenant API; `None` turns them off.
    pub throttle: Option<throttle::Policy>,
    /// Live events: this process's, or every node's through Redis.
    pub live: live::Hub,
    /// Wake-ups between nodes for chats given up (through Redis, or none).
    pub wakeups: wakeups::Wakeups,
    /// Where attachments' bytes are kept.
    pub files: files::Files,
    /// How often desks' open tickets are checked against their service levels.
    pub sla_check_every: std::time::Duration,
    /// How long a claim on a chat's work lasts unless renewed (`claims`).
    pub claim_lease: std::time::Duration,
    /// This node's address, `host:port`: unique among live processes, so a
    /// process started on it knows the claims left under it are its dead
    /// predecessor's.
    pub node_name: String,
    /// Offer Mini App buttons on a plain-HTTP public URL (`tikethet demo`).
    pub mini_app_over_http: bool,
}

/// How long finished rows are kept before the retention job prunes them.
#[derive(Debug, Clone, Copy)]
pub struct Retention {
    /// Processed, ignored and failed webhook updates.
    pub inbox: chrono::Duration,
    /// Sent and failed bot messages.
    pub outbox: chrono::Duration,
    /// Refresh tokens past their expiry or revocation.
    pub sessions: chrono::Duration,
    /// Recorded plugin failures.
    pub plugin_failures: chrono::Duration,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            inbox: chrono::Duration::days(7),
            outbox: chrono::Duration::days(30),
            sessions: chrono::Duration::days(7),
            plugin_failures: chrono::Duration::days(30),
        }
    }
}

/// The shared runtime; cheap to clone.
#[derive(Clone)]
pub struct Runtime {
    inner: Arc<Inner>,
}

pub struct Inner {
    pub storage: Storage,
    pub tenants: Registry,
    pub renderer: tikethet_themes::Renderer,
    pub tokens: auth::Tokens,
    /// Access tokens revoked before expiry.
    pub denylist: auth::Denylist,
    pub metrics: Metrics,
    pub plugins: tikethet_plugins::PluginHost,
    pub live: live::Hub,
    pub files: files::Files,
    pub(crate) telegram_api_url: url::Url,
    pub(crate) public_url: url::Url,
    pub(crate) http: reqwest::Client,
    limiter: Limiter,
    /// Counts of request limits when Redis fails (see [`throttle`]).
    local_throttle: Limiter,
    /// Whether the shared rate limits failed on the last try (for logging
    /// the outage once, and its end).
    limits_degraded: std::sync::atomic::AtomicBool,
    throttle_policy: Option<throttle::Policy>,
    retention: Retention,
    sla_check_every: std::time::Duration,
    /// This process's name on the chats it claims, `{node_name}#{random}`:
    /// unique per start, so a restarted process does not inherit the claims
    /// of the one before (it clears them; see `maintenance`).
    pub node_id: String,
    node_name: String,
    claim_lease: std::time::Duration,
    /// Nodes whose heartbeat stopped: their claims are taken at once.
    pub(crate) dead_nodes: heartbeat::DeadNodes,
    pub(crate) wakeups: wakeups::Wakeups,
    pub(crate) mini_app_over_http: bool,
    /// A lane per chat with updates to process (`None`: updates with no chat).
    worker: Lanes<TenantId, Option<i64>>,
    /// A lane per chat with messages to send.
    sender: Lanes<TenantId, i64>,
    /// Plugin calls: a blocking-thread pool with a per-tenant share.
    plugin_slots: Shares<TenantId>,
    /// Plugin time each tenant has left (see [`PLUGIN_TIME_PER_SECOND`]).
    plugin_time: std::sync::Mutex<std::collections::HashMap<TenantId, (f64, std::time::Instant)>>,
    /// Send slots a chat reserved under the rate limits, until it uses them.
    slots: std::sync::Mutex<sender::Slots>,
    /// Sends started per bot over the last second (see the sender).
    send_window: std::sync::Mutex<sender::SendWindow>,
    /// 429s met per message (see the sender).
    rate_limited: std::sync::Mutex<sender::RateLimitedCounts>,
    /// Tenants that had work since the last prune: only they can have new
    /// finished rows, so idle tenants' storage is never opened to prune.
    worked: std::sync::Mutex<std::collections::HashSet<TenantId>>,
    /// Tenants whose webhooks are held while their storage is migrated.
    pub(crate) held: held::HeldTenants,
    /// The latest of each desk's own bot texts that gave way to the
    /// built-in one at send time, and why (shown to the desk's admins).
    text_fallbacks: std::sync::Mutex<std::collections::HashMap<TenantId, bot::TextFallbacks>>,
    /// When each desk's plugin schedules next need a look.
    pub(crate) schedules: schedule::Schedules,
    /// PostgreSQL's shared intake writers (empty on SQLite).
    pg_writers: Vec<tokio::sync::mpsc::Sender<intake::IntakeJob>>,
    self_ref: Weak<Inner>,
}

impl Deref for Runtime {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.inner
    }
}

/// The machine's name, for telling nodes apart in claims and logs.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '.').take(32).collect::<String>())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "node".to_owned())
}

pub(crate) fn upgrade(weak: &Weak<Inner>) -> Option<Runtime> {
    weak.upgrade().map(|inner| Runtime { inner })
}

impl Runtime {
    pub fn new(cfg: RuntimeConfig) -> Runtime {
        let inner = Arc::new_cyclic(|weak: &Weak<Inner>| {
            let w = weak.clone();
            let worker = Lanes::new(Shares::new(WORKER_CONCURRENCY, WORKER_PER_TENANT), MAX_OPEN_LANES, move |tenant: TenantId, chat| {
                let rt = upgrade(&w);
                Box::pin(async move {
                    match rt {
                        Some(rt) => rt.process_next(tenant, chat).await,
                        None => Step::Park,
                    }
                })
            });
            let w = weak.clone();
            let sender = Lanes::new(Shares::new(SENDER_CONCURRENCY, SENDER_PER_TENANT), MAX_OPEN_LANES, move |tenant: TenantId, chat| {
                let rt = upgrade(&w);
                Box::pin(async move {
                    match rt {
                        Some(rt) => rt.send_next(tenant, chat).await,
                        None => Step::Park,
                    }
                })
            });
            let pg_writers = if cfg.storage.is_postgres() {
                (0..intake::PG_WRITERS).map(|_| intake::spawn_writer(weak.clone())).collect()
            } else {
                Vec::new()
            };
            Inner {
                pg_writers,
                held: held::HeldTenants::default(),
                schedules: schedule::Schedules::default(),
                plugins: cfg.plugins,
                self_ref: weak.clone(),
                storage: cfg.storage,
                tenants: Registry::default(),
                renderer: tikethet_themes::Renderer::new(),
                tokens: auth::Tokens::new(&cfg.jwt_secret),
                denylist: match cfg.limiter.redis_connection() {
                    Some((conn, prefix)) => auth::Denylist::Redis { conn, prefix },
                    None => auth::Denylist::local(),
                },
                metrics: Metrics::default(),
                telegram_api_url: cfg.telegram_api_url,
                public_url: cfg.public_url,
                http: teloxide::net::default_reqwest_settings().build().expect("the default HTTP client builds"),
                limiter: cfg.limiter,
                local_throttle: Limiter::local(),
                limits_degraded: std::sync::atomic::AtomicBool::new(false),
                live: cfg.live,
                files: cfg.files,
                throttle_policy: cfg.throttle,
                retention: cfg.retention,
                sla_check_every: cfg.sla_check_every,
                node_id: format!("{}#{:08x}", cfg.node_name, rand::random::<u32>()),
                node_name: cfg.node_name,
                claim_lease: cfg.claim_lease,
                dead_nodes: heartbeat::DeadNodes::default(),
                wakeups: cfg.wakeups,
                mini_app_over_http: cfg.mini_app_over_http,
                worker,
                sender,
                plugin_slots: Shares::new(PLUGIN_CONCURRENCY, PLUGIN_PER_TENANT),
                rate_limited: std::sync::Mutex::new(sender::RateLimitedCounts::default()),
                slots: std::sync::Mutex::new(sender::Slots::default()),
                send_window: std::sync::Mutex::new(sender::SendWindow::after_start(std::time::Instant::now())),
                plugin_time: std::sync::Mutex::new(std::collections::HashMap::new()),
                text_fallbacks: std::sync::Mutex::new(std::collections::HashMap::new()),
                worked: std::sync::Mutex::new(std::collections::HashSet::new()),
            }
        });
        // A chat given up on another node: wake this node's lane for it,
        // if one waits.
        let weak = Arc::downgrade(&inner);
        inner.wakeups.on_wake(move |w| {
            let Some(rt) = upgrade(&weak) else { return };
            if w.lane == claims::SENDS {
                rt.sender.wake(w.tenant, w.chat);
            } else {
                rt.worker.wake(w.tenant, (w.chat != 0).then_some(w.chat));
            }
        });
        Runtime { inner }
    }

    /// Whether Mini App buttons are offered on a plain-HTTP public URL
    /// (`tikethet demo` only; Telegram refuses them).
    pub fn mini_app_over_http(&self) -> bool {
        self.mini_app_over_http
    }

    /// A Bot API client for a token, pointed at the configured API URL and
    /// sharing this runtime's connection pool.
    pub fn bot(&self, token: &BotToken) -> Bot {
        Bot::with_client(token.expose(), self.http.clone()).set_api_url(self.telegram_api_url.clone())
    }

    /// Starts (or refreshes) serving a tenant.
    pub async fn install(&self, info: TenantInfo) -> anyhow::Result<Arc<Tenant>> {
        let db = self.storage.tenant(&info.storage_name);
        let intake = if self.pg_writers.is_empty() {
            std::sync::OnceLock::new()
        } else {
            let shard = info.id.as_str().bytes().fold(0usize, |h, b| h.wrapping_mul(31).wrapping_add(b as usize));
            std::sync::OnceLock::from(self.pg_writers[shard % self.pg_writers.len()].clone())
        };
        let before = self.tenants.get(&info.id).map(|t| t.info.quotas);
        let tenant = Arc::new(Tenant { bot: self.bot(&info.bot_token), db, intake, info });
        let tenant = self.tenants.insert(tenant);
        if before.is_some_and(|q| q != tenant.info.quotas) {
            // New limits (a plan bought, an override): messages kept over
            // the old ones may go ahead now.
            let (weak, t) = (self.self_ref.clone(), tenant.clone());
            tokio::spawn(async move {
                let Some(rt) = upgrade(&weak) else { return };
                if let Err(e) = rt.recover(&t).await {
                    tracing::warn!(tenant = %t.info.id, error = %format!("{e:#}"), "could not retry messages kept over a limit; the next start will");
                }
            });
        }
        Ok(tenant)
    }

    /// Stops serving a tenant.
    pub fn uninstall(&self, id: &TenantId) -> Option<Arc<Tenant>> {
        self.held.remove_tenant(id);
        self.tenants.remove(id)
    }

    /// Says a chat has updates to process.
    pub(crate) fn dispatch(&self, tenant: &TenantId, chat: Option<i64>) {
        self.note_worked(tenant);
        self.worker.kick(tenant.clone(), chat);
    }

    pub(crate) fn note_worked(&self, tenant: &TenantId) {
        let mut worked = self.worked.lock().expect("poisoned");
        if !worked.contains(tenant) {
            worked.insert(tenant.clone());
        }
    }

    /// The tenants that had work since the last call.
    pub(crate) fn take_worked(&self) -> Vec<TenantId> {
        self.worked.lock().expect("poisoned").drain().collect()
    }

    /// Opens a lane for every chat with pending updates or messages: what a
    /// previous run acknowledged but did not finish, and what a lane gave up
    /// on for a while (storage down, too many lanes). Lanes already open are
    /// only told to look again, so this is safe at any time. Returns the
    /// pending rows found.
    pub async fn recover(&self, tenant: &Tenant) -> anyhow::Result<(usize, usize)> {
        self.read_queues(tenant, false).await
    }

    /// As [`Runtime::recover`], after a node died: the lanes this opens
    /// (chats no lane here had work for, mostly the dead node's) have their
    /// first unit put first.
    pub(crate) async fn recover_taken_over(&self, tenant: &Tenant) -> anyhow::Result<(usize, usize)> {
        self.read_queues(tenant, true).await
    }

    async fn read_queues(&self, tenant: &Tenant, taken_over: bool) -> anyhow::Result<(usize, usize)> {
        let txn = tenant.db.begin_unnoticed().await?;
        // Messages kept over a plan's limit are tried again: the limit may
        // have lifted (a new month, a new plan). Those still over it go
        // back to waiting, without telling the customer again.
        let released = inbox::Entity::update_many()
            .col_expr(inbox::Column::Status, sea_orm::sea_query::Expr::value(inbox::PENDING))
            .filter(inbox::Column::Status.eq(inbox::OVER_LIMIT))
            .exec(&txn)
            .await
            .context("failed to release messages kept over a limit")?
            .rows_affected;
        if released > 0 {
            tracing::info!(tenant = %tenant.info.id, released, "messages kept over the plan's limit are tried again");
        }
        // Broadcast copies whose send was under way when a process died:
        // Telegram may have delivered them, so they are never sent again.
        let interrupted = outbox::Entity::update_many()
            .col_expr(outbox::Column::Status, sea_orm::sea_query::Expr::value(outbox::UNCONFIRMED))
            .col_expr(outbox::Column::LastError, sea_orm::sea_query::Expr::value("interrupted during the send (the process stopped); not sent again"))
            .filter(outbox::Column::Status.eq(outbox::SENDING))
            .filter(outbox::Column::NextAttemptAt.lt(chrono::Utc::now()))
            .exec(&txn)
            .await
            .context("failed to settle interrupted broadcast copies")?
            .rows_affected;
        if interrupted > 0 {
            tracing::warn!(tenant = %tenant.info.id, interrupted, "broadcast copies interrupted during their send are left unconfirmed, not sent twice");
        }
        let updates: Vec<Option<i64>> = inbox::Entity::find()
            .select_only()
            .column(inbox::Column::ChatId)
            .filter(inbox::Column::Status.eq(inbox::PENDING))
            .order_by_asc(inbox::Column::Id)
            .into_tuple()
            .all(&txn)
            .await
            .context("failed to read pending updates")?;
        let messages: Vec<i64> = outbox::Entity::find()
            .select_only()
            .column(outbox::Column::ChatId)
            .filter(outbox::Column::Status.eq(outbox::PENDING))
            .order_by_asc(outbox::Column::Id)
            .into_tuple()
            .all(&txn)
            .await
            .context("failed to read pending messages")?;
        txn.commit().await?;
        let (nu, nm) = (updates.len(), messages.len());
        if !updates.is_empty() || !messages.is_empty() {
            self.note_worked(&tenant.info.id);
        }
        let mut seen = std::collections::HashSet::<Option<i64>>::new();
        for chat in updates {
            if seen.insert(chat) {
                let id = tenant.info.id.clone();
                if taken_over { self.worker.kick_first(id, chat) } else { self.worker.kick(id, chat) };
            }
        }
        let mut seen = std::collections::HashSet::new();
        for chat in messages {
            if seen.insert(chat) {
                let id = tenant.info.id.clone();
                if taken_over { self.sender.kick_first(id, chat) } else { self.sender.kick(id, chat) };
            }
        }
        Ok((nu, nm))
    }

    /// Chats with work open in memory: (updates, messages).
    pub fn backlog(&self) -> (usize, usize) {
        (self.worker.open(), self.sender.open())
    }

    /// Kicks refused because too many chats had work at once (they wait in
    /// the database for the sweep).
    pub fn lanes_refused(&self) -> u64 {
        self.worker.refused() + self.sender.refused()
    }

    /// Runs a plugin call on the plugin pool (blocking threads, never the
    /// async workers) within the tenant's share.
    pub(crate) async fn on_plugin_pool<T: Send + 'static>(
        &self,
        tenant: &TenantId,
        f: impl FnOnce(&tikethet_plugins::PluginHost) -> T + Send + 'static,
    ) -> Result<T, tikethet_plugins::Failure> {
        // Over its time budget, a tenant waits here, holding no plugin permit.
        let owed = self.plugin_time_owed(tenant, None);
        if !owed.is_zero() {
            tokio::time::sleep(owed).await;
        }
        let _permit = self.plugin_slots.acquire(tenant).await;
        let host = self.plugins.clone();
        let started = std::time::Instant::now();
        let out = tokio::task::spawn_blocking(move || f(&host)).await.map_err(|e| {
            tikethet_plugins::Failure::new(tikethet_plugins::FailureKind::Trap, format!("the plugin host panicked: {e}"))
        });
        self.plugin_time_owed(tenant, Some(started.elapsed()));
        out
    }

    /// The tenant's plugin-time bucket: refills at [`PLUGIN_TIME_PER_SECOND`]
    /// up to [`PLUGIN_TIME_BURST`], and `spent` is taken from it. Returns how
    /// long the tenant must wait before its next call.
    fn plugin_time_owed(&self, tenant: &TenantId, spent: Option<std::time::Duration>) -> std::time::Duration {
        let rate = PLUGIN_TIME_PER_SECOND.as_secs_f64();
        let cap = PLUGIN_TIME_BURST.as_secs_f64();
        let now = std::time::Instant::now();
        let mut m = self.plugin_time.lock().expect("poisoned");
        if m.len() > 100_000 {
            m.retain(|_, (left, at)| *left < cap || now.duration_since(*at).as_secs() < 60);
        }
        let (left, at) = m.entry(tenant.clone()).or_insert((cap, now));
        *left = (*left + now.duration_since(*at).as_secs_f64() * rate).min(cap);
        *at = now;
        if let Some(s) = spent {
            *left -= s.as_secs_f64();
        }
        if *left >= 0.0 { std::time::Duration::ZERO } else { std::time::Duration::from_secs_f64(-*left / rate) }
    }

    /// Whether the shared store of rate limits (Redis) answers.
    pub async fn limiter_ping(&self) -> anyhow::Result<()> {
        self.limiter.ping().await
    }

    pub fn counter(c: &AtomicU64) -> u64 {
        c.load(Ordering::Relaxed)
    }
}
