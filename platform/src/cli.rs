//! The command line of the `tikethet` binary.

use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use crate::config::{Settings, Sources};
use crate::control::{MigrateEvent, NewTenant, parse_name};
use crate::{AppState, Application};
use tikethet_runtime::TenantStatus;
use tikethet_runtime::domain::{BotToken, TelegramUserId, TenantSlug};
use tikethet_themes::Theme;

/// Tenants migrated at once by `tikethet migrate`: enough to overlap round
/// trips, few enough to leave the database's connections to a running server.
const MIGRATE_CONCURRENCY: usize = 8;

/// TiketHet: a white-label helpdesk platform for Telegram.
///
/// Configuration comes from TIKETHET_* environment variables or a
/// tikethet.toml in the current folder (see the README); with none, it runs
/// on SQLite under ./data.
#[derive(Parser)]
#[command(name = "tikethet", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the control plane, tenant runtime, Mini App, admin console and billing in one process.
    Serve,
    /// Migrate the control plane, then every tenant schema (idempotent).
    Migrate,
    /// Manage tenants from the shell (the operator API's operations).
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// Work with WASM plugins.
    #[command(subcommand)]
    Plugin(PluginCommand),
    /// The whole product on SQLite with a built-in Telegram stand-in and two
    /// demo desks; prints links that sign you in. Refused in production.
    Demo {
        /// Folder for the demo's data (new or empty); a fresh temporary one by default.
        dir: Option<std::path::PathBuf>,
    },
}

#[derive(Subcommand)]
enum TenantCommand {
    /// Provision a tenant: checks the bot token with Telegram and registers its webhook.
    Create {
        /// URL name: 3-40 lowercase letters, digits and hyphens.
        #[arg(long)]
        slug: String,
        /// Display name of the desk.
        #[arg(long)]
        name: String,
        /// Bot token from @BotFather (or set TIKETHET_BOT_TOKEN to keep it out of shell history).
        #[arg(long, env = "TIKETHET_BOT_TOKEN", hide_env_values = true)]
        bot_token: String,
        /// Telegram user id of the tenant's owner.
        #[arg(long)]
        owner_telegram_id: i64,
        /// A plan of the catalogue (free, starter, pro, business as shipped); its first by default.
        #[arg(long)]
        plan: Option<String>,
        /// default or midnight.
        #[arg(long, default_value = "default")]
        theme: String,
    },
    /// List tenants.
    List,
    /// Suspend a tenant: customers get a polite notice, nothing is processed.
    Suspend { slug: String },
    /// Resume a suspended tenant.
    Resume { slug: String },
    /// Delete a tenant and all of its data (asks to confirm unless --yes).
    Delete {
        slug: String,
        /// Skip the confirmation prompt.
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Subcommand)]
enum PluginCommand {
    /// Build a plugin crate into a component (needs the wasm toolchain; see plugins/README.md).
    Build {
        /// The plugin crate's folder.
        path: std::path::PathBuf,
        /// Where the component goes.
        #[arg(long, default_value = "target/plugins")]
        out: std::path::PathBuf,
        /// The guest build's own target folder (kept apart from the host's).
        #[arg(long, default_value = "target/wasm-guest")]
        target_dir: std::path::PathBuf,
    },
    /// Run one plugin hook locally and report its actions and resource use.
    Run {
        /// The plugin component.
        file: std::path::PathBuf,
        /// The event, as JSON.
        #[arg(long)]
        event: std::path::PathBuf,
        /// The plugin's configuration, as JSON.
        #[arg(long)]
        config: Option<std::path::PathBuf>,
    },
}

fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("TIKETHET_LOG").unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,sea_orm=warn"));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
}

fn settings() -> anyhow::Result<Settings> {
    let s = Settings::load(&Sources::from_process()?)?;
    for w in s.warnings() {
        tracing::warn!("{w}");
    }
    Ok(s)
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("signal handler");
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
    tracing::info!("shutting down");
}

fn print_tenant(r: &crate::control::TenantRecord) {
    println!(
        "{:<24} {:<10} {:<9} @{:<24} {}  {}",
        r.slug,
        r.status,
        r.plan,
        r.bot_username,
        r.id,
        r.schema_version.as_deref().unwrap_or("-")
    );
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve => {
            let app = Application::build(settings()?).await?;
            tracing::info!(port = app.port(), public_url = %app.state().settings.public_url, "serving");
            app.run_until(shutdown_signal()).await?;
            tracing::info!("stopped");
            Ok(ExitCode::SUCCESS)
        }
        Command::Demo { dir } => {
            crate::demo::run(dir, shutdown_signal()).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Migrate => {
            let state = AppState::open(settings()?).await?;
            println!("control plane: migrated");
            // A bar on a terminal (rate and time left); plain lines
            // otherwise, so logs and scripts see each tenant.
            let bar = indicatif::ProgressBar::hidden();
            let tty = std::io::IsTerminal::is_terminal(&std::io::stderr());
            let line = |bar: &indicatif::ProgressBar, text: String| if tty { bar.println(text) } else { println!("{text}") };
            let mut to_migrate = 0;
            let report = state
                .control
                .migrate_all(MIGRATE_CONCURRENCY, |event| match event {
                    MigrateEvent::Plan { total, up_to_date, to_migrate: n } => {
                        to_migrate = n;
                        println!("{total} tenant(s): {up_to_date} up to date, {n} to migrate");
                        if tty && n > 0 {
                            bar.set_length(n as u64);
                            bar.set_style(
                                indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} tenants  {per_sec}  ETA {eta}  {msg}")
                                    .expect("the template is valid"),
                            );
                            bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
                        }
                    }
                    MigrateEvent::Tenant { done, slug, result } => {
                        bar.set_position(done as u64);
                        bar.set_message(slug.to_owned());
                        match result {
                            Ok(v) => line(&bar, format!("[{done}/{to_migrate}] {slug}: ok ({v})")),
                            Err(e) => line(&bar, format!("[{done}/{to_migrate}] {slug}: FAILED: {e:#}")),
                        }
                    }
                })
                .await?;
            bar.finish_and_clear();
            println!(
                "{} tenant(s) migrated, {} failed, {} up to date",
                report.migrated,
                report.failed.len(),
                report.up_to_date
            );
            Ok(if report.failed.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
        Command::Tenant(cmd) => {
            let state = AppState::open(settings()?).await?;
            let control = &state.control;
            match cmd {
                TenantCommand::Create { slug, name, bot_token, owner_telegram_id, plan, theme } => {
                    let new = NewTenant {
                        slug: TenantSlug::parse(&slug)?,
                        name: parse_name(&name)?,
                        bot_token: BotToken::parse(&bot_token)?,
                        owner_telegram_id: TelegramUserId::parse(owner_telegram_id)?,
                        plan,
                        theme: Theme::parse(&theme)?,
                    };
                    let r = control.create(new).await?;
                    println!("created {} (@{}), webhook {}", r.slug, r.bot_username, r.webhook_url);
                }
                TenantCommand::List => {
                    for r in control.list().await? {
                        print_tenant(&r);
                    }
                }
                TenantCommand::Suspend { slug } => print_tenant(&control.set_status(&slug, TenantStatus::Suspended).await?),
                TenantCommand::Resume { slug } => print_tenant(&control.set_status(&slug, TenantStatus::Active).await?),
                TenantCommand::Delete { slug, yes } => {
                    let confirm = if yes {
                        slug.clone()
                    } else {
                        eprint!("This deletes tenant {slug:?} and all of its data. Type the slug to confirm: ");
                        let mut line = String::new();
                        std::io::stdin().read_line(&mut line).context("failed to read the confirmation")?;
                        line.trim().to_owned()
                    };
                    control.delete(&slug, Some(&confirm)).await?;
                    println!("deleted {slug}");
                }
            }
            state.storage.close().await;
            Ok(ExitCode::SUCCESS)
        }
        Command::Plugin(PluginCommand::Build { path, out, target_dir }) => {
            let built = tikethet_plugins::build::build_plugin(&path, &target_dir, &out)?;
            let size = std::fs::metadata(&built).map(|m| m.len()).unwrap_or(0);
            println!("built {} ({size} bytes)", built.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Plugin(PluginCommand::Run { file, event, config }) => plugin_run(&file, &event, config.as_deref()),
    }
}

/// `tikethet plugin run`: one hook, its actions, and what it used.
fn plugin_run(file: &std::path::Path, event: &std::path::Path, config: Option<&std::path::Path>) -> anyhow::Result<ExitCode> {
    use tikethet_plugins::{CallContext, HookEvent, PluginHost, limits};
    let bytes = std::fs::read(file).with_context(|| format!("failed to read {}", file.display()))?;
    let event_text = std::fs::read_to_string(event).with_context(|| format!("failed to read {}", event.display()))?;
    let event: HookEvent = serde_json::from_str(&event_text).with_context(|| {
        format!("{} is not an event: expected {{\"hook\": \"on-message\" | \"on-ticket-created\" | \"on-button\", …fields}}", event.display())
    })?;
    let config = match config {
        Some(p) => {
            let text = std::fs::read_to_string(p).with_context(|| format!("failed to read {}", p.display()))?;
            serde_json::from_str::<serde_json::Value>(&text).with_context(|| format!("{} is not JSON", p.display()))?;
            text
        }
        None => "{}".to_owned(),
    };
    let host = PluginHost::new(None)?;
    let plugin = match host.load(&bytes) {
        Ok(p) => p,
        Err(f) => {
            eprintln!("refused: {} ({})", f.message, f.kind.as_str());
            return Ok(ExitCode::FAILURE);
        }
    };
    println!("contract {}", plugin.version);
    if matches!(event, HookEvent::OnButton(_)) && !plugin.handles_buttons() {
        println!("contract {} has no on-button: the plugin is not called and answers nothing", plugin.version);
    }
    let now_ms = chrono::Utc::now().timestamp_millis() as u64;
    let result = host.run(&plugin, CallContext { config, kv: Default::default(), now_ms }, &event);
    let report = |usage: &tikethet_plugins::Usage| {
        println!(
            "fuel {} of {} | peak memory {} of {} bytes | time {:.3} ms of {} ms",
            usage.fuel,
            limits::FUEL_PER_CALL,
            usage.peak_memory_bytes,
            limits::MAX_MEMORY_BYTES,
            usage.elapsed.as_secs_f64() * 1000.0,
            limits::EPOCH_TICK.as_millis() as u64 * limits::DEADLINE_TICKS
        );
    };
    match result {
        Ok(out) => {
            println!("{}", serde_json::to_string_pretty(&out.output)?);
            for l in &out.logs {
                println!("log {}: {}", l.level, l.message);
            }
            if !out.kv.is_empty() {
                println!("kv {}", serde_json::to_string(&out.kv)?);
            }
            report(&out.usage);
            Ok(ExitCode::SUCCESS)
        }
        Err(f) => {
            for l in &f.logs {
                println!("log {}: {}", l.level, l.message);
            }
            if let Some(u) = &f.usage {
                report(u);
            }
            eprintln!("plugin failed: {} ({})", f.message, f.kind.as_str());
            Ok(ExitCode::FAILURE)
        }
    }
}

/// Parses the command line and runs it: the whole `tikethet` binary.
pub fn main() -> ExitCode {
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: failed to start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    init_tracing();
    match rt.block_on(run(Cli::parse())) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
