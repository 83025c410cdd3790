//! The tenant runtime: everything that happens inside one tenant's desk.
//!
//! Owns webhook intake (secret check, durable inbox, dedupe), routing of
//! updates to their tenant, the conversation worker (tickets out of
//! messages, the bot's answers), outbound delivery through each tenant's
//! bot within Telegram's limits, sign-in (initData, JWT) and the ticket
//! operations the tenant API exposes. It wraps teloxide and the tenant side
//! of sea-orm. It does not know HTTP (the platform maps [`RuntimeError`] to
//! statuses) nor the control plane (the platform hands it [`TenantInfo`]s).

pub mod auth;
pub mod desk;
pub mod domain;
mod error;
pub mod inbound;
pub mod live;
pub mod metrics;
pub mod outbound;
pub mod storage;
pub mod worker;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};

use anyhow::Context as _;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use teloxide::Bot;

pub use error::{Result, RuntimeError, is_unique_violation};
pub use metrics::Metrics;
pub use storage::tenant::{Quotas, Registry, Tenant, TenantInfo, TenantStatus};

use crate::storage::Storage;
use crate::domain::{BotToken, TenantId};
use crate::storage::entities::{inbox, outbox};
use crate::outbound::limiter::Limiter;
use crate::worker::lanes::{Lanes, Shares, Step};

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
    pub throttle: Option<auth::throttle::Policy>,
    /// Live events: this process's, or every node's through Redis.
    pub live: live::Hub,
    /// Wake-ups between nodes for chats given up (through Redis, or none).
    pub wakeups: live::wakeups::Wakeups,
    /// Where attachments' bytes are kept.
    pub files: storage::files::Files,
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
    pub(crate) inner: Arc<Inner>,
}

/// What the runtime is made of: one part per stage, each owning its own
/// state (see each folder's `mod.rs`). The platform reaches it through
/// [`Runtime`]'s methods, never through these fields.
pub(crate) struct Inner {
    /// The control plane's connection and every tenant's storage.
    pub(crate) storage: Storage,
    /// The tenants this process serves, by id, route and slug.
    pub(crate) tenants: Registry,
    /// Where attachments' bytes are kept.
    pub(crate) files: storage::files::Files,
    /// Themes and bot texts (`tikethet-themes`).
    pub(crate) renderer: tikethet_themes::Renderer,
    /// Counters and latency histograms for `/metrics`.
    pub(crate) metrics: Metrics,
    /// Rate limits shared by sign-ins, API writes and sends: every node's
    /// through Redis, or this process's.
    pub(crate) limiter: Limiter,
    /// Sign-in: tokens, the denylist, request limits.
    pub(crate) auth: auth::Auth,
    /// Webhook intake's writers and held tenants.
    pub(crate) inbound: inbound::Inbound,
    /// The lanes of updates, this node's place in the cluster, plugins.
    pub(crate) work: worker::Worker,
    /// The lanes of messages, the send limits, the Bot API client.
    pub(crate) out: outbound::Outbound,
    /// Live events for the desks' sockets.
    pub(crate) live: live::Hub,
    self_ref: Weak<Inner>,
}

/// The surface the platform reaches the runtime through, besides the
/// operations themselves (`Runtime`'s methods in each stage).
impl Runtime {
    /// The control plane's connection and every tenant's storage.
    pub fn storage(&self) -> &Storage {
        &self.inner.storage
    }

    /// The tenants this process serves.
    pub fn tenants(&self) -> &Registry {
        &self.inner.tenants
    }

    /// Where attachments' bytes are kept.
    pub fn files(&self) -> &storage::files::Files {
        &self.inner.files
    }

    /// Themes and bot texts.
    pub fn renderer(&self) -> &tikethet_themes::Renderer {
        &self.inner.renderer
    }

    /// Counters and latency histograms for `/metrics`.
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// Live events for the desks' sockets.
    pub fn live(&self) -> &live::Hub {
        &self.inner.live
    }

    /// Access tokens revoked before expiry (the operator's dashboard
    /// revokes its sessions' tokens here too).
    pub fn denylist(&self) -> &auth::Denylist {
        &self.inner.auth.denylist
    }

    /// This process's name on the chats it claims.
    pub fn node_id(&self) -> &str {
        &self.inner.work.node_id
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
                (0..inbound::intake::PG_WRITERS).map(|_| inbound::intake::spawn_writer(weak.clone())).collect()
            } else {
                Vec::new()
            };
            Inner {
                self_ref: weak.clone(),
                storage: cfg.storage,
                tenants: Registry::default(),
                files: cfg.files,
                renderer: tikethet_themes::Renderer::new(),
                metrics: Metrics::default(),
                auth: auth::Auth {
                    tokens: auth::Tokens::new(&cfg.jwt_secret),
                    denylist: match cfg.limiter.redis_connection() {
                        Some((conn, prefix)) => auth::Denylist::Redis { conn, prefix },
                        None => auth::Denylist::local(),
                    },
                    throttle_policy: cfg.throttle,
                    local_throttle: Limiter::local(),
                },
                limiter: cfg.limiter,
                inbound: inbound::Inbound { held: inbound::held::HeldTenants::default(), pg_writers },
                work: worker::Worker {
                    lanes: worker,
                    node_id: format!("{}#{:08x}", cfg.node_name, rand::random::<u32>()),
                    node_name: cfg.node_name,
                    claim_lease: cfg.claim_lease,
                    dead_nodes: worker::heartbeat::DeadNodes::default(),
                    wakeups: cfg.wakeups,
                    retention: cfg.retention,
                    sla_check_every: cfg.sla_check_every,
                    schedules: worker::schedule::Schedules::default(),
                    text_fallbacks: std::sync::Mutex::new(std::collections::HashMap::new()),
                    worked: std::sync::Mutex::new(std::collections::HashSet::new()),
                    plugins: worker::hooks::PluginPool {
                        host: cfg.plugins,
                        slots: Shares::new(PLUGIN_CONCURRENCY, PLUGIN_PER_TENANT),
                        time: std::sync::Mutex::new(std::collections::HashMap::new()),
                    },
                },
                out: outbound::Outbound {
                    lanes: sender,
                    limits_degraded: std::sync::atomic::AtomicBool::new(false),
                    slots: std::sync::Mutex::new(outbound::sender::Slots::default()),
                    send_window: std::sync::Mutex::new(outbound::sender::SendWindow::after_start(std::time::Instant::now())),
                    rate_limited: std::sync::Mutex::new(outbound::sender::RateLimitedCounts::default()),
                    http: teloxide::net::default_reqwest_settings().build().expect("the default HTTP client builds"),
                    telegram_api_url: cfg.telegram_api_url,
                    public_url: cfg.public_url,
                    mini_app_over_http: cfg.mini_app_over_http,
                },
                live: cfg.live,
            }
        });
        // A chat given up on another node: wake this node's lane for it,
        // if one waits.
        let weak = Arc::downgrade(&inner);
        inner.work.wakeups.on_wake(move |w| {
            let Some(rt) = upgrade(&weak) else { return };
            if w.lane == worker::claims::SENDS {
                rt.inner.out.lanes.wake(w.tenant, w.chat);
            } else {
                rt.inner.work.lanes.wake(w.tenant, (w.chat != 0).then_some(w.chat));
            }
        });
        Runtime { inner }
    }

    /// Whether Mini App buttons are offered on a plain-HTTP public URL
    /// (`tikethet demo` only; Telegram refuses them).
    pub fn mini_app_over_http(&self) -> bool {
        self.inner.out.mini_app_over_http
    }

    /// A Bot API client for a token, pointed at the configured API URL and
    /// sharing this runtime's connection pool.
    pub fn bot(&self, token: &BotToken) -> Bot {
        Bot::with_client(token.expose(), self.inner.out.http.clone()).set_api_url(self.inner.out.telegram_api_url.clone())
    }

    /// Starts (or refreshes) serving a tenant.
    pub async fn install(&self, info: TenantInfo) -> anyhow::Result<Arc<Tenant>> {
        let db = self.inner.storage.tenant(&info.storage_name);
        let intake = if self.inner.inbound.pg_writers.is_empty() {
            std::sync::OnceLock::new()
        } else {
            let shard = info.id.as_str().bytes().fold(0usize, |h, b| h.wrapping_mul(31).wrapping_add(b as usize));
            std::sync::OnceLock::from(self.inner.inbound.pg_writers[shard % self.inner.inbound.pg_writers.len()].clone())
        };
        let before = self.inner.tenants.get(&info.id).map(|t| t.info.quotas);
        let tenant = Arc::new(Tenant { bot: self.bot(&info.bot_token), db, intake, info });
        let tenant = self.inner.tenants.insert(tenant);
        if before.is_some_and(|q| q != tenant.info.quotas) {
            // New limits (a plan bought, an override): messages kept over
            // the old ones may go ahead now.
            let (weak, t) = (self.inner.self_ref.clone(), tenant.clone());
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
        self.inner.inbound.held.remove_tenant(id);
        self.inner.tenants.remove(id)
    }

    /// Says a chat has updates to process.
    pub(crate) fn dispatch(&self, tenant: &TenantId, chat: Option<i64>) {
        self.note_worked(tenant);
        self.inner.work.lanes.kick(tenant.clone(), chat);
    }

    pub(crate) fn note_worked(&self, tenant: &TenantId) {
        let mut worked = self.inner.work.worked.lock().expect("poisoned");
        if !worked.contains(tenant) {
            worked.insert(tenant.clone());
        }
    }

    /// The tenants that had work since the last call.
    pub(crate) fn take_worked(&self) -> Vec<TenantId> {
        self.inner.work.worked.lock().expect("poisoned").drain().collect()
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
                if taken_over { self.inner.work.lanes.kick_first(id, chat) } else { self.inner.work.lanes.kick(id, chat) };
            }
        }
        let mut seen = std::collections::HashSet::new();
        for chat in messages {
            if seen.insert(chat) {
                let id = tenant.info.id.clone();
                if taken_over { self.inner.out.lanes.kick_first(id, chat) } else { self.inner.out.lanes.kick(id, chat) };
            }
        }
        Ok((nu, nm))
    }

    /// Chats with work open in memory: (updates, messages).
    pub fn backlog(&self) -> (usize, usize) {
        (self.inner.work.lanes.open(), self.inner.out.lanes.open())
    }

    /// Kicks refused because too many chats had work at once (they wait in
    /// the database for the sweep).
    pub fn lanes_refused(&self) -> u64 {
        self.inner.work.lanes.refused() + self.inner.out.lanes.refused()
    }

    /// Runs a plugin call on the plugin pool (blocking threads, never the
    /// async workers) within the tenant's share.
    pub(crate) async fn on_plugin_pool<T: Send + 'static>(
        &self,
        hook: &'static str,
        tenant: &TenantId,
        f: impl FnOnce(&tikethet_plugins::PluginHost) -> T + Send + 'static,
    ) -> Result<T, tikethet_plugins::Failure> {
        let called = std::time::Instant::now();
        // Over its time budget, a tenant waits here, holding no plugin permit.
        let owed = self.plugin_time_owed(tenant, None);
        if !owed.is_zero() {
            tokio::time::sleep(owed).await;
        }
        let _permit = self.inner.work.plugins.slots.acquire(tenant).await;
        let host = self.inner.work.plugins.host.clone();
        let started = std::time::Instant::now();
        let out = tokio::task::spawn_blocking(move || f(&host)).await.map_err(|e| {
            tikethet_plugins::Failure::new(tikethet_plugins::FailureKind::Trap, format!("the plugin host panicked: {e}"))
        });
        self.plugin_time_owed(tenant, Some(started.elapsed()));
        self.inner.metrics.observe_plugin_call(hook, called);
        out
    }

    /// The tenant's plugin-time bucket: refills at [`PLUGIN_TIME_PER_SECOND`]
    /// up to [`PLUGIN_TIME_BURST`], and `spent` is taken from it. Returns how
    /// long the tenant must wait before its next call.
    fn plugin_time_owed(&self, tenant: &TenantId, spent: Option<std::time::Duration>) -> std::time::Duration {
        let rate = PLUGIN_TIME_PER_SECOND.as_secs_f64();
        let cap = PLUGIN_TIME_BURST.as_secs_f64();
        let now = std::time::Instant::now();
        let mut m = self.inner.work.plugins.time.lock().expect("poisoned");
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
        self.inner.limiter.ping().await
    }

    pub fn counter(c: &AtomicU64) -> u64 {
        c.load(Ordering::Relaxed)
    }
}
