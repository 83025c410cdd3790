//! The platform: the control plane and the `tikethet` binary.
//!
//! Owns configuration, secrets at rest, the control plane (tenants and their
//! bots), the HTTP surface (operator API, tenant API, webhooks, OpenAPI) and
//! the command line. It assembles the other crates into one process; the
//! domain work itself lives in `tikethet-runtime`.

pub mod cli;
pub mod config;
pub mod control;
pub mod demo;
pub mod http;
pub mod secrets;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use poem::listener::{Acceptor, Listener, TcpListener};
use tikethet_runtime::storage::{Storage, StorageUrl};
use tikethet_runtime::outbound::limiter::Limiter;
use tikethet_runtime::{Runtime, RuntimeConfig};

use crate::config::Settings;
use crate::control::ControlPlane;
use crate::secrets::Vault;

/// How often a node re-reads the control plane for tenants changed elsewhere
/// (by the CLI or another node).
pub const SYNC_INTERVAL: Duration = Duration::from_secs(3);

/// The application state, built once and shared by every handler.
#[derive(Clone)]
pub struct AppState {
    pub settings: Arc<Settings>,
    pub storage: Storage,
    pub runtime: Runtime,
    pub control: Arc<ControlPlane>,
    /// The operator dashboard's pages, parsed once.
    pub pages: Arc<tikethet_billing::dashboard::Pages>,
    /// The staff console's pages, parsed once.
    pub console_pages: Arc<tikethet_admin_console::Pages>,
    /// Who has which ticket open in the console.
    pub presence: Arc<tikethet_runtime::live::presence::Presence>,
    /// Set only under `tikethet demo`: the `/demo` routes answer 404 without it.
    pub demo: Arc<std::sync::OnceLock<Arc<demo::Demo>>>,
    /// Live sockets waiting to sign in, by client address and in all.
    pub sockets: Arc<http::live::Pending>,
    /// Bytes read from request bodies (for `/metrics`).
    pub body_bytes: Arc<std::sync::atomic::AtomicU64>,
}

impl AppState {
    /// Opens storage (migrating the control plane), connects Redis when
    /// configured, and builds the runtime. Serves no tenant yet.
    pub async fn open(settings: Settings) -> anyhow::Result<AppState> {
        let url = StorageUrl::parse(&settings.database_url, &settings.database_schema)?;
        let mut limits = settings.storage_limits;
        if matches!(url, StorageUrl::Sqlite { .. }) {
            let (nofile, fits) = tikethet_runtime::storage::fd_budget(limits.sqlite_open_max);
            if fits < limits.sqlite_open_max {
                tracing::warn!(
                    wanted = limits.sqlite_open_max,
                    open_files_limit = nofile,
                    "TIKETHET_SQLITE_OPEN_MAX does not fit the open-files limit (ulimit -n); keeping fewer tenant databases open"
                );
            }
            limits.sqlite_open_max = fits;
            tracing::info!(open_files_limit = nofile, tenant_databases_open_at_once = fits, "tenant databases are opened on demand");
        }
        let storage = Storage::open(&url, limits).await?;
        let limiter = match &settings.redis_url {
            Some(u) => Limiter::redis(u, &settings.redis_prefix).await?,
            None => Limiter::local(),
        };
        // Who has a ticket open: shared through Redis when configured.
        let presence = Arc::new(match limiter.redis_connection() {
            Some((conn, prefix)) => tikethet_runtime::live::presence::Presence::redis(conn, &prefix),
            None => tikethet_runtime::live::presence::Presence::default(),
        });
        let live = match (&settings.redis_url, limiter.redis_connection()) {
            (Some(url), Some((conn, prefix))) => tikethet_runtime::live::Hub::redis(url, conn, &prefix)?,
            _ => tikethet_runtime::live::Hub::local(),
        };
        // Chats given up on one node wake the lanes waiting for them on others.
        let wakeups = match (&settings.redis_url, limiter.redis_connection()) {
            (Some(url), Some((conn, prefix))) => tikethet_runtime::live::wakeups::Wakeups::redis(url, conn, &prefix)?,
            _ => tikethet_runtime::live::wakeups::Wakeups::none(),
        };
        let plugins = tikethet_plugins::PluginHost::new(Some(settings.data_dir.join("plugin-cache")))?;
        let files = match &settings.files_url {
            Some(url) => tikethet_runtime::storage::files::Files::from_url(url)?,
            None => tikethet_runtime::storage::files::Files::local(&settings.data_dir.join("files"))?,
        };
        let runtime = Runtime::new(RuntimeConfig {
            storage: storage.clone(),
            telegram_api_url: settings.telegram_api_url.clone(),
            public_url: settings.public_url.clone(),
            jwt_secret: settings.jwt_secret.expose().clone(),
            limiter,
            plugins,
            retention: settings.retention,
            throttle: settings.throttle,
            live,
            wakeups,
            files,
            sla_check_every: settings.sla_check_every,
            claim_lease: settings.claim_lease,
            mini_app_over_http: settings.mini_app_over_http,
            node_name: format!("{}:{}", tikethet_runtime::hostname(), settings.listen.rsplit(':').next().unwrap_or("0")),
        });
        let control = Arc::new(ControlPlane::new(
            storage.clone(),
            runtime.clone(),
            Vault::new(settings.master_key.expose()),
            settings.public_url.clone(),
            settings.plans.clone(),
            match &settings.stripe_secret_key {
                Some(k) => Some(tikethet_billing::stripe::client::StripeApi::new(k.expose(), settings.stripe_api_url.as_deref())?),
                None => None,
            },
            control::domains::DnsCheck::new(&settings.dns_servers),
        ));
        Ok(AppState {
            settings: Arc::new(settings),
            storage,
            runtime,
            control,
            pages: Arc::new(tikethet_billing::dashboard::Pages::new()),
            console_pages: Arc::new(tikethet_admin_console::Pages::new()),
            presence,
            demo: Arc::default(),
            sockets: http::live::Pending::new(http::live::PENDING_PER_ADDRESS, http::live::PENDING_TOTAL),
            body_bytes: Arc::default(),
        })
    }

    /// Serves every tenant and requeues what a previous run left unfinished.
    ///
    /// Serving starts at once; what a previous run left is read in the
    /// background, a few tenants at a time, so a node with ten thousand
    /// tenants is healthy in seconds. Order per chat holds meanwhile: a lane
    /// always takes its chat's oldest row.
    pub async fn start_serving(&self) -> anyhow::Result<()> {
        let fresh = self.control.sync().await?;
        let tenants: Vec<_> = fresh
            .into_iter()
            .filter_map(|id| self.runtime.tenants().get(&tikethet_runtime::domain::TenantId::from_stored(id)))
            .collect();
        let runtime = self.runtime.clone();
        tokio::spawn(async move { runtime.recover_all(tenants).await });
        Ok(())
    }
}

/// A built server: listening, not yet serving.
pub struct Application {
    state: AppState,
    acceptor: poem::listener::TcpAcceptor,
    port: u16,
}

impl Application {
    /// Builds the state, starts serving tenants and binds the listener
    /// (`127.0.0.1:0` in tests picks a free port).
    pub async fn build(mut settings: Settings) -> anyhow::Result<Application> {
        let listen = settings.listen.clone();
        let acceptor = TcpListener::bind(listen.clone())
            .into_acceptor()
            .await
            .with_context(|| format!("failed to listen on {listen}"))?;
        let port = acceptor
            .local_addr()
            .first()
            .and_then(|a| a.as_socket_addr().map(|s| s.port()))
            .context("listener has no address")?;
        // On port 0 (tests, throwaway runs) a loopback public URL can only
        // be right once the port is known.
        if listen.ends_with(":0") && matches!(settings.public_url.host_str(), Some("127.0.0.1" | "localhost")) {
            settings.public_url.set_port(Some(port)).ok();
        }
        if let Some(host) = listen.strip_suffix(":0") {
            // The node's name in its claims on chats is its real address.
            settings.listen = format!("{host}:{port}");
        }
        let state = AppState::open(settings).await?;
        state.start_serving().await?;
        Ok(Application { state, acceptor, port })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` resolves, with the control-plane sync beside it.
    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        let state = self.state.clone();
        let sync = tokio::spawn(async move {
            let mut tick = tokio::time::interval(SYNC_INTERVAL);
            tick.tick().await;
            loop {
                tick.tick().await;
                match state.control.sync().await {
                    Ok(fresh) => {
                        for id in fresh {
                            let id = tikethet_runtime::domain::TenantId::from_stored(id);
                            if let Some(t) = state.runtime.tenants().get(&id) {
                                let _ = state.runtime.recover(&t).await;
                            }
                        }
                    }
                    Err(e) => tracing::warn!(error = %format!("{e:#}"), "control-plane sync failed"),
                }
            }
        });
        let maintenance = self.state.runtime.spawn_maintenance();
        let reporting = self.state.control.clone().spawn_usage_reports(self.state.settings.usage_report_every);
        let spares = tokio::spawn(self.state.storage.clone().keep_spares());
        let domain_checks = self.state.control.clone().spawn_domain_checks(self.state.settings.domain_check_every);
        let app = http::app(self.state.clone());
        let result = poem::Server::new_with_acceptor(self.acceptor)
            .run_with_graceful_shutdown(app, shutdown, Some(Duration::from_secs(10)))
            .await;
        sync.abort();
        maintenance.abort();
        spares.abort();
        domain_checks.abort();
        if let Some(r) = reporting {
            r.abort();
        }
        result.context("HTTP server failed")
    }
}
