//! Tenant plugins in the conversation: `on-message` before the default
//! handling, `on-ticket-created` after a ticket opens, `on-button` when an
//! inline button is pressed; and `on-schedule` when a plugin's schedule
//! comes due (run from [`crate::worker::schedule`] the same way).
//!
//! Every hook goes through one protocol, [`Runtime::call_plugins`], so that
//! no plugin runs inside a database transaction or on the async workers:
//! the enabled plugins are read ([`Runtime::enabled_plugins`]) in the
//! caller's reads, which are committed; the calls run on the plugin pool
//! with the tenant's share ([`Runtime::run_plugins`]) holding no
//! connection; a new transaction checks that the update being worked is
//! still this process's and still pending; the results are recorded
//! ([`Runtime::record_runs`]) in it. The caller applies the output
//! ([`queue_replies`], [`Runtime::apply_to_ticket`], [`Runtime::apply_ticket_actions`]) in
//! that same transaction, which also marks the update done, so a crash
//! never applies them twice.
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
use crate::desk::tickets;
use crate::domain::{Priority, Role, TicketId, TicketStatus};
use crate::error::Result;
use crate::live;
use crate::outbound::effects::Effects;
use crate::storage::entities::{inbox, plugin_failures, plugins, users};
use crate::storage::tenant::Tenant;

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
    /// The plugin call protocol, the same for every hook. `reads` (where
    /// the caller read `plugins` and what the event says) is committed, the
    /// plugins run with no transaction open, and a new transaction begins.
    /// When the calls were made for an inbox `update`, it must still be
    /// pending under this process's claim of its chat (a node that took
    /// the chat over may have finished it meanwhile): if not, `None`, and
    /// nothing of the calls may be applied. Otherwise the runs are recorded
    /// in the new transaction, which is returned with them for the caller
    /// to apply their output and commit. No event (or no plugin) makes no
    /// call, with the same transactions.
    pub(crate) async fn call_plugins(
        &self,
        tenant: &Tenant,
        reads: DatabaseTransaction,
        plugins: Vec<Enabled>,
        event: Option<HookEvent>,
        update: Option<&inbox::Model>,
        kicks: &mut Effects,
    ) -> Result<Option<(DatabaseTransaction, Vec<Run>)>> {
        reads.commit().await?;
        let runs = match event {
            Some(event) if !plugins.is_empty() => {
                if let (Some(row), HookEvent::OnMessage(_)) = (update, &event) {
                    crate::worker::update::test_hold(row, crate::worker::update::HOLD_DURING_PLUGINS).await;
                }
                self.run_plugins(tenant, plugins, event).await
            }
            _ => Vec::new(),
        };
        let txn = tenant.db.begin().await?;
        if let Some(row) = update
            && !crate::worker::update::still_pending(&txn, row.id).await?
        {
            return Ok(None);
        }
        self.record_runs(tenant, &txn, &runs, kicks).await?;
        Ok(Some((txn, runs)))
    }

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
    async fn run_plugins(&self, tenant: &Tenant, plugins: Vec<Enabled>, event: HookEvent) -> Vec<Run> {
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
    async fn record_runs(&self, tenant: &Tenant, txn: &DatabaseTransaction, runs: &[Run], kicks: &mut Effects) -> Result<()> {
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
        kicks: &mut Effects,
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

/// Queues the plugins' replies (with their buttons) for the chat, in
/// their order.
pub(crate) async fn queue_replies(txn: &DatabaseTransaction, chat: i64, actions: &[Action], kicks: &mut Effects) -> Result<()> {
    for a in actions {
        if let Action::Reply { text, buttons } = a {
            let buttons: Vec<tickets::Button> = buttons.iter().map(|b| tickets::Button::Callback { text: b.text.clone(), data: b.data.clone() }).collect();
            kicks.push(tickets::enqueue_with_buttons(txn, chat, text.clone(), None, &buttons).await?.chat_id);
        }
    }
    Ok(())
}

impl Runtime {
    /// Applies the plugins' ticket actions to one ticket (replies are queued
    /// by [`queue_replies`]); a ticket changed by them is announced once.
    pub(crate) async fn apply_to_ticket(&self, tenant: &Tenant, txn: &DatabaseTransaction, id: TicketId, actions: &[Action], kicks: &mut Effects) -> Result<()> {
        let mut changed = false;
        for a in actions {
            changed |= self.apply_action(tenant, txn, id, a, kicks).await?;
        }
        if changed && let Some(ticket) = tickets::tickets_by_id(txn, id.get()).await? {
            kicks.events.push(live::Event::TicketUpdated { ticket });
        }
        Ok(())
    }

    /// Applies `on-schedule` output: each action on the ticket it names (a
    /// reply goes to that ticket's customer, unless blocked); a ticket the
    /// desk does not have drops its action. Each changed ticket is
    /// announced once.
    pub(crate) async fn apply_ticket_actions(&self, tenant: &Tenant, txn: &DatabaseTransaction, actions: &[TicketAction], kicks: &mut Effects) -> Result<()> {
        let mut changed = std::collections::BTreeSet::new();
        for a in actions {
            let Some(ticket) = crate::storage::entities::tickets::Entity::find_by_id(a.ticket_id).one(txn).await? else {
                tracing::info!(ticket = a.ticket_id, "a scheduled plugin named a ticket the desk does not have; its action is dropped");
                continue;
            };
            if matches!(a.action, Action::Reply { .. }) {
                if let Some(customer) = users::Entity::find_by_id(ticket.customer_id).one(txn).await?.filter(|u| !u.blocked) {
                    queue_replies(txn, customer.telegram_id, std::slice::from_ref(&a.action), kicks).await?;
                }
            } else if self.apply_action(tenant, txn, TicketId::new(ticket.id), &a.action, kicks).await? {
                changed.insert(ticket.id);
            }
        }
        for id in changed {
            if let Some(ticket) = tickets::tickets_by_id(txn, id).await? {
                kicks.events.push(live::Event::TicketUpdated { ticket });
            }
        }
        Ok(())
    }

    /// Applies one ticket action; whether it is one that changes the ticket
    /// (replies, reminders and `stop` are not).
    async fn apply_action(&self, tenant: &Tenant, txn: &DatabaseTransaction, id: TicketId, a: &Action, kicks: &mut Effects) -> Result<bool> {
        match a {
            Action::Reply { .. } | Action::Stop => return Ok(false),
            Action::Tag { tag } => tickets::add_tag(txn, id, tag).await?,
            Action::SetPriority { priority } => tickets::set_priority(txn, id, domain_priority(*priority)).await?,
            Action::SetCategory { category } => tickets::set_category(txn, id, category).await?,
            Action::Assign { to } => {
                tickets::assign_by_username(txn, id, to).await?;
            }
            Action::Note { text } => tickets::add_note(txn, id, text).await?,
            Action::SetStatus { status } => return self.status_by_plugin(tenant, txn, id, domain_status(*status), kicks).await,
            Action::Remind { text } => {
                if let Some(ticket) = tickets::tickets_by_id(txn, id.get()).await? {
                    self.notify_reminder(tenant, txn, &ticket, text, kicks).await?;
                }
                return Ok(false);
            }
            Action::SetAttribute { name, value } => {
                set_attribute(txn, id, name, value).await?;
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// A plugin's `set-status`, by staff's rules: a status the ticket cannot
    /// move to is dropped. The change is audited (with no one as its
    /// author) and the customer told, as when staff make it.
    async fn status_by_plugin(&self, tenant: &Tenant, txn: &DatabaseTransaction, id: TicketId, to: TicketStatus, kicks: &mut Effects) -> Result<bool> {
        let Some(before) = crate::storage::entities::tickets::Entity::find_by_id(id.get()).one(txn).await? else { return Ok(false) };
        let from = before.status;
        if from == to {
            return Ok(false);
        }
        if !crate::desk::changes::transition_allowed(from, to) {
            tracing::info!(ticket = id.get(), %from, %to, "a plugin asked for a status the ticket cannot move to; dropped");
            return Ok(false);
        }
        let mut am: crate::storage::entities::tickets::ActiveModel = before.clone().into();
        let now = Utc::now();
        crate::desk::changes::set_status(&mut am, from, to, now);
        am.updated_at = Set(now);
        let after = am.update(txn).await?;
        crate::desk::operations::record_ticket_changes(txn, None, &before, &after).await?;
        self.notify_status(tenant, txn, &after, None, kicks).await?;
        Ok(true)
    }
}

/// A domain priority as the plugin contract names it.
pub(crate) fn plugin_priority(p: Priority) -> tikethet_plugins::Priority {
    match p {
        Priority::Low => tikethet_plugins::Priority::Low,
        Priority::Normal => tikethet_plugins::Priority::Normal,
        Priority::High => tikethet_plugins::Priority::High,
        Priority::Critical => tikethet_plugins::Priority::Critical,
    }
}

/// A plugin's `set-attribute` on the ticket's customer: an empty value
/// removes it; one that would break the desk's rules for attributes (50 at
/// most) is dropped. Audited with no person as its author.
async fn set_attribute(txn: &DatabaseTransaction, id: TicketId, name: &str, value: &str) -> Result<()> {
    use crate::desk::customers::Attributes;
    let Some(ticket) = tickets::tickets_by_id(txn, id.get()).await? else { return Ok(()) };
    let Some(customer) = users::Entity::find_by_id(ticket.customer_id).one(txn).await? else { return Ok(()) };
    let before = Attributes::of(&customer);
    let mut map = before.map().clone();
    if value.is_empty() {
        map.remove(name);
    } else {
        map.insert(name.to_owned(), value.to_owned());
    }
    let after = match Attributes::parse(map) {
        Ok(a) => a,
        Err(e) => {
            tracing::info!(ticket = id.get(), error = %e, "a plugin's attribute breaks the desk's rules; dropped");
            return Ok(());
        }
    };
    if after != before {
        crate::desk::customers::replace_attributes(txn, None, Some(id.get()), customer, &after).await?;
    }
    Ok(())
}

/// A plugin's status as the desk's.
fn domain_status(s: tikethet_plugins::TicketStatus) -> TicketStatus {
    match s {
        tikethet_plugins::TicketStatus::Open => TicketStatus::Open,
        tikethet_plugins::TicketStatus::InProgress => TicketStatus::InProgress,
        tikethet_plugins::TicketStatus::WaitingResponse => TicketStatus::WaitingResponse,
        tikethet_plugins::TicketStatus::Resolved => TicketStatus::Resolved,
        tikethet_plugins::TicketStatus::Closed => TicketStatus::Closed,
    }
}

/// A desk's status as the plugin contract names it.
pub(crate) fn plugin_status(s: TicketStatus) -> tikethet_plugins::TicketStatus {
    match s {
        TicketStatus::Open => tikethet_plugins::TicketStatus::Open,
        TicketStatus::InProgress => tikethet_plugins::TicketStatus::InProgress,
        TicketStatus::WaitingResponse => tikethet_plugins::TicketStatus::WaitingResponse,
        TicketStatus::Resolved => tikethet_plugins::TicketStatus::Resolved,
        TicketStatus::Closed => tikethet_plugins::TicketStatus::Closed,
    }
}

/// A plugin's priority as the desk's.
pub(crate) fn domain_priority(p: tikethet_plugins::Priority) -> Priority {
    match p {
        tikethet_plugins::Priority::Low => Priority::Low,
        tikethet_plugins::Priority::Normal => Priority::Normal,
        tikethet_plugins::Priority::High => Priority::High,
        tikethet_plugins::Priority::Critical => Priority::Critical,
    }
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
