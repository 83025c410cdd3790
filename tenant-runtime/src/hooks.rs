//! Tenant plugins in the conversation: `on-message` before the default
//! handling, `on-ticket-created` after a ticket opens. A failing plugin never
//! breaks the conversation: the event goes on without it, the failure is
//! recorded with its input, and after
//! [`MAX_CONSECUTIVE_FAILURES`](tikethet_plugins::limits::MAX_CONSECUTIVE_FAILURES)
//! in a row the plugin is switched off and the tenant's admins are told.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

use chrono::Utc;
use sea_orm::sea_query::{Expr, ExprTrait as _, OnConflict};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use tikethet_plugins::limits::MAX_CONSECUTIVE_FAILURES;
use tikethet_plugins::{Action, CallContext, Failure, Loaded, MessageEvent, Routing, TicketEvent};

use crate::Runtime;
use crate::domain::Role;
use crate::entities::{outbox, plugin_failures, plugins, usage_counters, users};
use crate::error::{Result, RuntimeError};
use crate::tenant::Tenant;
use crate::tickets;

/// An enabled plugin as the worker needs it (without its bytes).
struct Enabled {
    id: i64,
    name: String,
    hash: String,
    config: String,
    kv: String,
}

/// What the `on-message` plugins asked for.
#[derive(Default)]
pub(crate) struct MessagePlan {
    pub actions: Vec<Action>,
    /// A plugin said `stop`: no default handling.
    pub stopped: bool,
}

impl Runtime {
    async fn enabled_plugins(&self, txn: &DatabaseTransaction) -> Result<Vec<Enabled>> {
        let rows: Vec<(i64, String, String, String, String)> = plugins::Entity::find()
            .select_only()
            .columns([plugins::Column::Id, plugins::Column::Name, plugins::Column::Hash, plugins::Column::Config, plugins::Column::Kv])
            .filter(plugins::Column::Enabled.eq(true))
            .order_by_asc(plugins::Column::Position)
            .order_by_asc(plugins::Column::Id)
            .into_tuple()
            .all(txn)
            .await?;
        Ok(rows.into_iter().map(|(id, name, hash, config, kv)| Enabled { id, name, hash, config, kv }).collect())
    }

    async fn loaded(&self, txn: &DatabaseTransaction, p: &Enabled) -> Result<std::result::Result<Loaded, Failure>> {
        if let Some(l) = self.plugins.cached(&p.hash) {
            return Ok(Ok(l));
        }
        let row = plugins::Entity::find_by_id(p.id).one(txn).await?.ok_or(RuntimeError::NotFound("plugin"))?;
        Ok(self.plugins.load(&row.component))
    }

    /// Runs the `on-message` hooks in the tenant's order.
    pub(crate) async fn plugins_on_message(
        &self,
        tenant: &Tenant,
        txn: &DatabaseTransaction,
        event: &MessageEvent,
        queued: &mut Vec<outbox::Model>,
    ) -> Result<MessagePlan> {
        let mut plan = MessagePlan::default();
        let enabled = self.enabled_plugins(txn).await?;
        for p in &enabled {
            let input = serde_json::to_string(&tikethet_plugins::HookEvent::OnMessage(event.clone())).unwrap_or_default();
            let result = match self.loaded(txn, p).await? {
                Ok(l) => self.plugins.on_message(&l, self.call_context(p), event),
                Err(f) => Err(f),
            };
            match result {
                Ok(out) => {
                    record_success(txn, p, &out.kv).await?;
                    let stop = out.output.iter().any(|a| matches!(a, Action::Stop));
                    plan.actions.extend(out.output.into_iter().filter(|a| !matches!(a, Action::Stop)));
                    if stop {
                        plan.stopped = true;
                        break;
                    }
                }
                Err(f) => self.record_failure(tenant, txn, p, "on-message", &f, input, queued).await?,
            }
        }
        meter(txn, enabled.len() as i64).await?;
        Ok(plan)
    }

    /// Runs the `on-ticket-created` hooks; returns each plugin's routing in order.
    pub(crate) async fn plugins_on_ticket_created(
        &self,
        tenant: &Tenant,
        txn: &DatabaseTransaction,
        event: &TicketEvent,
        queued: &mut Vec<outbox::Model>,
    ) -> Result<Vec<Routing>> {
        let mut out_routing = Vec::new();
        let enabled = self.enabled_plugins(txn).await?;
        for p in &enabled {
            let input = serde_json::to_string(&tikethet_plugins::HookEvent::OnTicketCreated(event.clone())).unwrap_or_default();
            let result = match self.loaded(txn, p).await? {
                Ok(l) => self.plugins.on_ticket_created(&l, self.call_context(p), event),
                Err(f) => Err(f),
            };
            match result {
                Ok(out) => {
                    record_success(txn, p, &out.kv).await?;
                    out_routing.push(out.output);
                }
                Err(f) => self.record_failure(tenant, txn, p, "on-ticket-created", &f, input, queued).await?,
            }
        }
        meter(txn, enabled.len() as i64).await?;
        Ok(out_routing)
    }

    fn call_context(&self, p: &Enabled) -> CallContext {
        CallContext {
            config: p.config.clone(),
            kv: serde_json::from_str::<BTreeMap<String, String>>(&p.kv).unwrap_or_default(),
            now_ms: u64::try_from(Utc::now().timestamp_millis()).unwrap_or(0),
        }
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
        queued: &mut Vec<outbox::Model>,
    ) -> Result<()> {
        self.metrics.plugin_failures.fetch_add(1, Ordering::Relaxed);
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
        let mut am: plugins::ActiveModel = row.into();
        am.consecutive_failures = Set(failures);
        if failures >= MAX_CONSECUTIVE_FAILURES as i32 {
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
                queued.push(tickets::enqueue(txn, a.telegram_id, text.chars().take(4000).collect(), None).await?);
            }
        }
        am.updated_at = Set(Utc::now());
        am.update(txn).await?;
        Ok(())
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

/// Counts plugin calls per tenant per day, for billing.
async fn meter(txn: &DatabaseTransaction, calls: i64) -> Result<()> {
    if calls == 0 {
        return Ok(());
    }
    let day = Utc::now().format("%Y-%m-%d").to_string();
    usage_counters::Entity::insert(usage_counters::ActiveModel {
        day: Set(day),
        metric: Set(usage_counters::PLUGIN_INVOCATIONS.to_owned()),
        count: Set(calls),
    })
    .on_conflict(
        OnConflict::columns([usage_counters::Column::Day, usage_counters::Column::Metric])
            .value(usage_counters::Column::Count, Expr::col((usage_counters::Entity, usage_counters::Column::Count)).add(calls))
            .to_owned(),
    )
    .exec(txn)
    .await?;
    Ok(())
}
