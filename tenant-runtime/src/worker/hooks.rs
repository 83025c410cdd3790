//! Tenant plugins in the conversation: `on-message` before the default
//! handling, `on-ticket-created` after a ticket opens, `on-button` when an
//! inline button is pressed; and `on-schedule` when a plugin's schedule
//! comes due (run from [`crate::worker::schedule`] the same way).
//!
//! Calls happen in three steps so that no plugin runs inside a database
//! transaction or on the async workers: the enabled plugins are read
//! ([`Runtime::enabled_plugins`]), the calls run on the plugin pool with the
//! tenant's share ([`Runtime::run_plugins`]) holding no connection, and the
//! results are recorded ([`Runtime::record_runs`]) in the transaction that
//! also marks the update done, so a crash never applies them twice.
//!
//! A failing plugin never breaks the conversation: the event goes on
//! without it, the failure is recorded with its input, and after
//! [`MAX_CONSECUTIVE_FAILURES`](tikethet_plugins::limits::MAX_CONSECUTIVE_FAILURES)
//! in a row the plugin is switched off and the tenant's admins are told.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

use chrono::Utc;
use sea_orm::sea_query::{Expr, ExprTrait as _};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use tikethet_plugins::limits::MAX_CONSECUTIVE_FAILURES;
use tikethet_plugins::{Action, CallContext, Failure, HookEvent, HookOutput, Loaded, Outcome, Routing, TicketAction};

use crate::Runtime;
use crate::domain::Role;
use crate::storage::entities::{plugin_failures, plugins, users};
use crate::error::Result;
use crate::storage::tenant::Tenant;
use crate::desk::tickets;

/// How an enabled plugin reaches the pool: prepared already, or as bytes
/// to compile there.
#[derive(Clone)]
enum Prepared {
    Ready(Loaded),
    Bytes(std::sync::Arc<Vec<u8>>),
}

/// An enabled plugin, read before the calls.
#[derive(Clone)]
pub(crate) struct Enabled {
    pub id: i64,
    pub name: String,
    config: String,
    kv: String,
    prepared: Prepared,
}

/// One plugin's call and what came of it.
pub(crate) struct Run {
    plugin: Enabled,
    hook: &'static str,
    /// The event, replayable with `tikethet plugin run --event`.
    input: String,
    pub result: std::result::Result<Outcome<HookOutput>, Failure>,
}

impl Runtime {
    /// The tenant's enabled plugins in order, each prepared or with its
    /// bytes (read only for plugins not prepared in memory).
    pub(crate) async fn enabled_plugins(&self, txn: &DatabaseTransaction) -> Result<Vec<Enabled>> {
        let rows: Vec<(i64, String, String, String, String)> = plugins::Entity::find()
            .select_only()
            .columns([plugins::Column::Id, plugins::Column::Name, plugins::Column::Hash, plugins::Column::Config, plugins::Column::Kv])
            .filter(plugins::Column::Enabled.eq(true))
            .order_by_asc(plugins::Column::Position)
            .order_by_asc(plugins::Column::Id)
            .into_tuple()
            .all(txn)
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for (id, name, hash, config, kv) in rows {
            let prepared = match self.inner.work.plugins.host.cached(&hash) {
                Some(l) => Prepared::Ready(l),
                None => {
                    let bytes: Option<Vec<u8>> = plugins::Entity::find_by_id(id)
                        .select_only()
                        .column(plugins::Column::Component)
                        .into_tuple()
                        .one(txn)
                        .await?;
                    let Some(bytes) = bytes else { continue };
                    Prepared::Bytes(std::sync::Arc::new(bytes))
                }
            };
            out.push(Enabled { id, name, config, kv, prepared });
        }
        Ok(out)
    }

    /// Runs one hook of each plugin in order on the plugin pool, with no
    /// transaction open. With `stop_on_stop`, a plugin answering `stop`
    /// ends the round (`on-message`, `on-button`).
    pub(crate) async fn run_plugins(&self, tenant: &Tenant, plugins: Vec<Enabled>, event: HookEvent) -> Vec<Run> {
        let hook = match &event {
            HookEvent::OnMessage(_) => "on-message",
            HookEvent::OnTicketCreated(_) => "on-ticket-created",
            HookEvent::OnButton(_) => "on-button",
            HookEvent::OnSchedule(_) => "on-schedule",
        };
        let input = serde_json::to_string(&event).unwrap_or_default();
        let event = std::sync::Arc::new(event);
        let mut runs = Vec::with_capacity(plugins.len());
        for p in plugins {
            let ctx = CallContext {
                config: p.config.clone(),
                kv: serde_json::from_str::<BTreeMap<String, String>>(&p.kv).unwrap_or_default(),
                now_ms: u64::try_from(Utc::now().timestamp_millis()).unwrap_or(0),
            };
            let prepared = p.prepared.clone();
            let ev = event.clone();
            let result = self
                .on_plugin_pool(hook, &tenant.info.id, move |host| {
                    let loaded = match prepared {
                        Prepared::Ready(l) => l,
                        Prepared::Bytes(b) => host.load_within(&b, tikethet_plugins::limits::COMPILE_BUDGET)?,
                    };
                    host.run(&loaded, ctx, &ev)
                })
                .await
                .and_then(|r| r);
            let stop = matches!(&result, Ok(Outcome { output: HookOutput::Actions(a), .. }) if a.iter().any(|a| matches!(a, Action::Stop)));
            runs.push(Run { plugin: p, hook, input: input.clone(), result });
            if stop {
                break;
            }
        }
        runs
    }

    /// Records what the calls did: each success's key-value store and
    /// counters, each failure with its input (switching a plugin off after
    /// too many in a row), and the day's usage. `kicks` collects chats that
    /// got a message.
    pub(crate) async fn record_runs(&self, tenant: &Tenant, txn: &DatabaseTransaction, runs: &[Run], kicks: &mut crate::outbound::effects::Effects) -> Result<()> {
        for r in runs {
            match &r.result {
                Ok(out) => record_success(txn, &r.plugin, &out.kv).await?,
                Err(f) => self.record_failure(tenant, txn, &r.plugin, r.hook, f, r.input.clone(), kicks).await?,
            }
        }
        crate::desk::usage::count(txn, crate::desk::usage::PLUGIN_INVOCATIONS, runs.len() as i64).await
    }

    #[allow(clippy::too_many_arguments)]
    async fn record_failure(
        &self,
        tenant: &Tenant,
        txn: &DatabaseTransaction,
        p: &Enabled,
        hook: &str,
        f: &Failure,
        input: String,
        kicks: &mut crate::outbound::effects::Effects,
    ) -> Result<()> {
        self.inner.metrics.plugin_failures.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(tenant = %tenant.info.id, plugin = %p.name, hook, kind = f.kind.as_str(), error = %f.message, "plugin failed");
        plugin_failures::ActiveModel {
            plugin_id: Set(p.id),
            hook: Set(hook.to_owned()),
            kind: Set(f.kind.as_str().to_owned()),
            message: Set(f.message.chars().take(2000).collect()),
            input: Set(input),
            created_at: Set(Utc::now()),
            ..Default::default()
        }
        .insert(txn)
        .await?;
        let Some(row) = plugins::Entity::find_by_id(p.id).one(txn).await? else { return Ok(()) };
        let failures = row.consecutive_failures + 1;
        let was_enabled = row.enabled;
        let mut am: plugins::ActiveModel = row.into();
        am.consecutive_failures = Set(failures);
        if was_enabled && failures >= MAX_CONSECUTIVE_FAILURES as i32 {
            let reason = format!("switched off after {failures} failures in a row; the last: {} ({})", f.message, f.kind.as_str());
            am.enabled = Set(false);
            am.disabled_reason = Set(Some(reason.chars().take(2000).collect()));
            tracing::warn!(tenant = %tenant.info.id, plugin = %p.name, "plugin switched off");
            let admins = users::Entity::find()
                .filter(users::Column::Role.is_in([Role::Admin.as_str(), Role::Owner.as_str()]))
                .filter(users::Column::Blocked.eq(false))
                .all(txn)
                .await?;
            let text = format!("⚠️ Plugin «{}» was switched off after {failures} failures in a row. Last error ({}): {}", p.name, f.kind.as_str(), f.message);
            for a in admins {
                kicks.push(tickets::enqueue(txn, a.telegram_id, text.clone(), None).await?.chat_id);
            }
        }
        am.updated_at = Set(Utc::now());
        am.update(txn).await?;
        Ok(())
    }
}

/// The actions of `on-message` and `on-button` runs in order, and whether a
/// plugin said `stop` (which is not itself returned).
pub(crate) fn actions_of(runs: &[Run]) -> (Vec<Action>, bool) {
    let mut actions = Vec::new();
    let mut stopped = false;
    for r in runs {
        if let Ok(Outcome { output: HookOutput::Actions(out), .. }) = &r.result {
            stopped |= out.iter().any(|a| matches!(a, Action::Stop));
            actions.extend(out.iter().filter(|a| !matches!(a, Action::Stop)).cloned());
        }
    }
    (actions, stopped)
}

/// The ticket actions of `on-schedule` runs, in order (`stop` means
/// nothing there and is dropped).
pub(crate) fn ticket_actions_of(runs: &[Run]) -> Vec<TicketAction> {
    runs.iter()
        .filter_map(|r| match &r.result {
            Ok(Outcome { output: HookOutput::TicketActions(out), .. }) => Some(out.iter().filter(|a| !matches!(a.action, Action::Stop)).cloned()),
            _ => None,
        })
        .flatten()
        .collect()
}

/// The routings of `on-ticket-created` runs, in order (later ones win).
pub(crate) fn routings_of(runs: &[Run]) -> Vec<Routing> {
    runs.iter()
        .filter_map(|r| match &r.result {
            Ok(Outcome { output: HookOutput::Routing(x), .. }) => Some(x.clone()),
            _ => None,
        })
        .collect()
}

async fn record_success(txn: &DatabaseTransaction, p: &Enabled, kv: &BTreeMap<String, String>) -> Result<()> {
    let kv = serde_json::to_string(kv).unwrap_or_else(|_| "{}".into());
    plugins::Entity::update_many()
        .col_expr(plugins::Column::ConsecutiveFailures, Expr::value(0))
        .col_expr(plugins::Column::Invocations, Expr::col(plugins::Column::Invocations).add(1))
        .col_expr(plugins::Column::Kv, Expr::value(kv))
        .filter(plugins::Column::Id.eq(p.id))
        .exec(txn)
        .await?;
    Ok(())
}

/// The plugin host and the pool its calls run on: a blocking-thread pool
/// with a per-tenant share, and each tenant's plugin time left (see
/// [`crate::PLUGIN_TIME_PER_SECOND`]).
pub(crate) struct PluginPool {
    pub(crate) host: tikethet_plugins::PluginHost,
    pub(crate) slots: crate::worker::lanes::Shares<crate::domain::TenantId>,
    pub(crate) time: std::sync::Mutex<std::collections::HashMap<crate::domain::TenantId, (f64, std::time::Instant)>>,
}
