//! The wasmtime host: one engine per process, components validated and
//! precompiled once (cached on disk by content and engine), a fresh store per
//! call with fuel, an epoch deadline and a memory cap.

use std::collections::BTreeMap;
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::Context as _;
use sha2::{Digest, Sha256};
use wasmtime::component::types::ComponentItem;
use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, ResourceLimiter, Store, Trap};

use crate::limits::*;
use crate::model::*;

mod v1 {
    wasmtime::component::bindgen!({
        world: "plugin",
        path: "wit/v1",
    });
}

/// The interfaces a v1 component may import; anything else is refused.
const V1_IMPORTS: &[&str] = &["tikethet:plugin/host@1.0.0", "tikethet:plugin/types@1.0.0"];

/// The state of one call: what the plugin may read and what it wrote.
struct CallState {
    config: String,
    kv: BTreeMap<String, String>,
    now_ms: u64,
    logs: Vec<LogLine>,
    limiter: MemoryCap,
}

/// Caps linear memory and remembers the peak, and whether a growth was
/// refused (to tell "out of memory" from other traps).
#[derive(Default)]
struct MemoryCap {
    peak: usize,
    refused: bool,
}

impl ResourceLimiter for MemoryCap {
    fn memory_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        if desired > MAX_MEMORY_BYTES {
            self.refused = true;
            return Ok(false);
        }
        self.peak = self.peak.max(desired);
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }
}

impl v1::tikethet::plugin::types::Host for CallState {}

impl v1::tikethet::plugin::host::Host for CallState {
    fn config(&mut self) -> String {
        self.config.clone()
    }

    fn log(&mut self, level: v1::tikethet::plugin::types::LogLevel, message: String) {
        use v1::tikethet::plugin::types::LogLevel;
        if self.logs.len() >= MAX_LOG_LINES {
            return;
        }
        let level = match level {
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warn => "warn",
            LogLevel::Error => "error",
        };
        self.logs.push(LogLine { level: level.into(), message: message.chars().take(MAX_LOG_LINE_CHARS).collect() });
    }

    fn kv_get(&mut self, key: String) -> Option<String> {
        self.kv.get(&key).cloned()
    }

    fn kv_set(&mut self, key: String, value: String) -> Result<(), String> {
        if key.is_empty() || key.len() > MAX_KV_KEY_BYTES {
            return Err(format!("keys must be 1 to {MAX_KV_KEY_BYTES} bytes"));
        }
        if value.len() > MAX_KV_VALUE_BYTES {
            return Err(format!("values must be at most {MAX_KV_VALUE_BYTES} bytes"));
        }
        if !self.kv.contains_key(&key) && self.kv.len() >= MAX_KV_KEYS {
            return Err(format!("the store is full ({MAX_KV_KEYS} keys)"));
        }
        self.kv.insert(key, value);
        Ok(())
    }

    fn kv_delete(&mut self, key: String) {
        self.kv.remove(&key);
    }

    fn now_ms(&mut self) -> u64 {
        self.now_ms
    }
}

/// A validated, precompiled plugin, ready to instantiate.
#[derive(Clone)]
pub struct Loaded {
    pre: v1::PluginPre<CallState>,
    /// SHA-256 of the component's bytes.
    pub hash: String,
    /// The contract version the component was built against.
    pub version: &'static str,
}

/// Per-call limits a host enforces; [`HostOptions::default`] is production's.
#[derive(Debug, Clone, Copy)]
pub struct HostOptions {
    pub fuel_per_call: u64,
    pub deadline_ticks: u64,
}

impl Default for HostOptions {
    fn default() -> Self {
        HostOptions { fuel_per_call: FUEL_PER_CALL, deadline_ticks: DEADLINE_TICKS }
    }
}

impl std::fmt::Debug for Loaded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Loaded").field("hash", &self.hash).field("version", &self.version).finish()
    }
}

/// The process-wide plugin host.
#[derive(Clone)]
pub struct PluginHost {
    engine: Engine,
    options: HostOptions,
    linker: Arc<Linker<CallState>>,
    cache_dir: Option<PathBuf>,
    loaded: Arc<Mutex<lru::LruCache<String, Loaded>>>,
    pub pooling: bool,
}

fn config(pooling: bool) -> Config {
    let mut c = Config::new();
    c.wasm_component_model(true).consume_fuel(true).epoch_interruption(true);
    // Small reservations keep a thousand instances' address space modest;
    // bounds checks are explicit instead of guard-page based.
    c.memory_reservation(MAX_MEMORY_BYTES as u64).memory_guard_size(64 * 1024).memory_reservation_for_growth(0);
    if pooling {
        let mut p = PoolingAllocationConfig::default();
        p.total_component_instances(POOL_INSTANCES)
            .total_core_instances(POOL_INSTANCES * 2)
            .total_memories(POOL_INSTANCES * 2)
            .total_tables(POOL_INSTANCES * 2)
            .max_memories_per_component(2)
            .max_memory_size(MAX_MEMORY_BYTES);
        c.allocation_strategy(InstanceAllocationStrategy::Pooling(p));
    }
    c
}

impl PluginHost {
    /// Builds the engine (pooling allocator, or on-demand allocation when
    /// the pool cannot be mapped) and starts the epoch ticker. `cache_dir`
    /// keeps precompiled components across restarts.
    pub fn new(cache_dir: Option<PathBuf>) -> anyhow::Result<PluginHost> {
        Self::with_options(cache_dir, HostOptions::default())
    }

    pub fn with_options(cache_dir: Option<PathBuf>, options: HostOptions) -> anyhow::Result<PluginHost> {
        let (engine, pooling) = match Engine::new(&config(true)) {
            Ok(e) => (e, true),
            Err(e) => {
                tracing::warn!(error = %e, "pooling allocator unavailable; allocating plugin instances on demand");
                (Engine::new(&config(false)).map_err(|e| anyhow::anyhow!("failed to build the plugin engine: {e}"))?, false)
            }
        };
        let ticker = engine.weak();
        std::thread::Builder::new()
            .name("plugin-epoch".into())
            .spawn(move || {
                while let Some(engine) = ticker.upgrade() {
                    engine.increment_epoch();
                    drop(engine);
                    std::thread::sleep(EPOCH_TICK);
                }
            })
            .context("failed to start the epoch ticker")?;
        let mut linker = Linker::new(&engine);
        v1::Plugin::add_to_linker::<CallState, HasSelf<CallState>>(&mut linker, |s| s)
            .map_err(|e| anyhow::anyhow!("failed to link the host interface: {e}"))?;
        if let Some(dir) = &cache_dir {
            std::fs::create_dir_all(dir).with_context(|| format!("failed to create {}", dir.display()))?;
        }
        Ok(PluginHost {
            engine,
            options,
            linker: Arc::new(linker),
            cache_dir,
            loaded: Arc::new(Mutex::new(lru::LruCache::new(NonZeroUsize::new(4096).unwrap()))),
            pooling,
        })
    }

    fn compat(&self) -> String {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.engine.precompile_compatibility_hash().hash(&mut h);
        format!("{:016x}", h.finish())
    }

    /// Validates a component (size, contract version, imports) and prepares
    /// it; cheap when the same bytes were loaded before.
    pub fn load(&self, bytes: &[u8]) -> Result<Loaded, Failure> {
        let invalid = |m: String| Failure::new(FailureKind::Invalid, m);
        if bytes.len() > MAX_COMPONENT_BYTES {
            return Err(invalid(format!("component is {} bytes; the limit is {MAX_COMPONENT_BYTES}", bytes.len())));
        }
        let hash = hex::encode(Sha256::digest(bytes));
        if let Some(l) = self.loaded.lock().expect("poisoned").get(&hash) {
            return Ok(l.clone());
        }
        let component = self.compile(bytes, &hash).map_err(|e| invalid(format!("{e:#}")))?;
        let ty = component.component_type();
        for (name, item) in ty.imports(&self.engine) {
            if !V1_IMPORTS.contains(&name) {
                return Err(invalid(format!("imports {name:?}, which is outside the tikethet:plugin world")));
            }
            if !matches!(item.ty, ComponentItem::ComponentInstance(_)) {
                return Err(invalid(format!("import {name:?} is not an interface")));
            }
        }
        let pre = self.linker.instantiate_pre(&component).map_err(|e| invalid(format!("does not match the contract: {e:#}")))?;
        let pre = v1::PluginPre::new(pre).map_err(|e| invalid(format!("does not export the plugin world: {e:#}")))?;
        let loaded = Loaded { pre, hash: hash.clone(), version: "1.0.0" };
        self.loaded.lock().expect("poisoned").put(hash, loaded.clone());
        Ok(loaded)
    }

    /// A plugin loaded before, by the SHA-256 of its bytes.
    pub fn cached(&self, hash: &str) -> Option<Loaded> {
        self.loaded.lock().expect("poisoned").get(hash).cloned()
    }

    fn compile(&self, bytes: &[u8], hash: &str) -> anyhow::Result<Component> {
        let Some(dir) = &self.cache_dir else {
            return Component::new(&self.engine, bytes).map_err(|e| anyhow::anyhow!("not a valid component: {e}"));
        };
        let path = dir.join(format!("{hash}-{}.cwasm", self.compat()));
        if path.exists() {
            // SAFETY: the file was written by `Component::serialize` of an
            // engine with the same compatibility hash, into our own cache.
            match unsafe { Component::deserialize_file(&self.engine, &path) } {
                Ok(c) => return Ok(c),
                Err(e) => tracing::warn!(path = %path.display(), error = %e, "ignoring a damaged plugin cache entry"),
            }
        }
        let component = Component::new(&self.engine, bytes).map_err(|e| anyhow::anyhow!("not a valid component: {e}"))?;
        if let Ok(bin) = component.serialize() {
            let tmp = path.with_extension(format!("{}.tmp", std::process::id()));
            if std::fs::write(&tmp, bin).and_then(|_| std::fs::rename(&tmp, &path)).is_err() {
                tracing::warn!(path = %path.display(), "could not write the plugin cache");
            }
        }
        Ok(component)
    }

    fn store(&self, ctx: CallContext) -> Store<CallState> {
        let mut store = Store::new(
            &self.engine,
            CallState { config: ctx.config, kv: ctx.kv, now_ms: ctx.now_ms, logs: Vec::new(), limiter: MemoryCap::default() },
        );
        store.limiter(|s| &mut s.limiter);
        store.set_fuel(self.options.fuel_per_call).expect("fuel is enabled");
        store.set_epoch_deadline(self.options.deadline_ticks);
        store.epoch_deadline_trap();
        store
    }

    fn finish<T>(&self, store: Store<CallState>, started: Instant, result: wasmtime::Result<T>) -> Result<Outcome<T>, Failure> {
        let fuel = self.options.fuel_per_call - store.get_fuel().unwrap_or(0);
        let usage = Usage { fuel, peak_memory_bytes: store.data().limiter.peak, elapsed: started.elapsed() };
        let state = store.into_data();
        match result {
            Ok(output) => Ok(Outcome { output, kv: state.kv, logs: state.logs, usage }),
            Err(e) => {
                let trap = e.downcast_ref::<Trap>().copied();
                let kind = match trap {
                    Some(Trap::OutOfFuel) => FailureKind::OutOfFuel,
                    Some(Trap::Interrupt) => FailureKind::Timeout,
                    _ if state.limiter.refused => FailureKind::OutOfMemory,
                    _ => FailureKind::Trap,
                };
                // The trap itself says what happened; the wasm backtrace of a
                // guest without names helps nobody.
                let message = match (kind, trap) {
                    (FailureKind::OutOfMemory, _) => format!("tried to grow memory past {MAX_MEMORY_BYTES} bytes"),
                    (FailureKind::Timeout, _) => format!("ran past the {} ms deadline", EPOCH_TICK.as_millis() as u64 * self.options.deadline_ticks),
                    (FailureKind::OutOfFuel, _) => format!("used all {} fuel", self.options.fuel_per_call),
                    (_, Some(t)) => t.to_string(),
                    _ => e.root_cause().to_string(),
                };
                Err(Failure { kind, message, usage: Some(usage), logs: state.logs })
            }
        }
    }

    /// Runs `on-message`.
    pub fn on_message(&self, plugin: &Loaded, ctx: CallContext, event: &MessageEvent) -> Result<Outcome<Vec<Action>>, Failure> {
        let size = event.text.len() + event.customer_name.len() + event.customer_username.as_ref().map_or(0, String::len);
        if size > MAX_INPUT_BYTES {
            return Err(Failure::new(FailureKind::InputTooLarge, format!("event is {size} bytes; the limit is {MAX_INPUT_BYTES}")));
        }
        let started = Instant::now();
        let mut store = self.store(ctx);
        let ev = v1_convert::message_event(event);
        let result = plugin.pre.instantiate(&mut store).and_then(|p| p.call_on_message(&mut store, &ev));
        let out = self.finish(store, started, result)?;
        let actions = v1_convert::actions(out.output).map_err(|m| Failure {
            kind: FailureKind::BadOutput,
            message: m,
            usage: Some(out.usage),
            logs: out.logs.clone(),
        })?;
        Ok(Outcome { output: actions, kv: out.kv, logs: out.logs, usage: out.usage })
    }

    /// Runs `on-ticket-created`.
    pub fn on_ticket_created(&self, plugin: &Loaded, ctx: CallContext, event: &TicketEvent) -> Result<Outcome<Routing>, Failure> {
        let size = event.title.len() + event.description.len() + event.customer_name.len();
        if size > MAX_INPUT_BYTES {
            return Err(Failure::new(FailureKind::InputTooLarge, format!("event is {size} bytes; the limit is {MAX_INPUT_BYTES}")));
        }
        let started = Instant::now();
        let mut store = self.store(ctx);
        let ev = v1_convert::ticket_event(event);
        let result = plugin.pre.instantiate(&mut store).and_then(|p| p.call_on_ticket_created(&mut store, &ev));
        let out = self.finish(store, started, result)?;
        let routing = v1_convert::routing(out.output).map_err(|m| Failure {
            kind: FailureKind::BadOutput,
            message: m,
            usage: Some(out.usage),
            logs: out.logs.clone(),
        })?;
        Ok(Outcome { output: routing, kv: out.kv, logs: out.logs, usage: out.usage })
    }

    /// Runs whichever hook `event` is for.
    pub fn run(&self, plugin: &Loaded, ctx: CallContext, event: &HookEvent) -> Result<Outcome<HookOutput>, Failure> {
        match event {
            HookEvent::OnMessage(e) => self.on_message(plugin, ctx, e).map(|o| Outcome {
                output: HookOutput::Actions(o.output),
                kv: o.kv,
                logs: o.logs,
                usage: o.usage,
            }),
            HookEvent::OnTicketCreated(e) => self.on_ticket_created(plugin, ctx, e).map(|o| Outcome {
                output: HookOutput::Routing(o.output),
                kv: o.kv,
                logs: o.logs,
                usage: o.usage,
            }),
        }
    }
}

/// Conversions between contract v1 and the host's model, with the output
/// caps checked on the way in.
mod v1_convert {
    use super::v1::tikethet::plugin::types as w;
    use crate::limits::*;
    use crate::model::*;

    fn prio_in(p: Priority) -> w::Priority {
        match p {
            Priority::Low => w::Priority::Low,
            Priority::Normal => w::Priority::Normal,
            Priority::High => w::Priority::High,
            Priority::Critical => w::Priority::Critical,
        }
    }

    fn prio_out(p: w::Priority) -> Priority {
        match p {
            w::Priority::Low => Priority::Low,
            w::Priority::Normal => Priority::Normal,
            w::Priority::High => Priority::High,
            w::Priority::Critical => Priority::Critical,
        }
    }

    pub fn message_event(e: &MessageEvent) -> w::MessageEvent {
        w::MessageEvent {
            ticket_id: e.ticket_id,
            customer_telegram_id: e.customer_telegram_id,
            customer_name: e.customer_name.clone(),
            customer_username: e.customer_username.clone(),
            language_code: e.language_code.clone(),
            text: e.text.clone(),
            sent_at: e.sent_at,
        }
    }

    pub fn ticket_event(e: &TicketEvent) -> w::TicketEvent {
        w::TicketEvent {
            ticket_id: e.ticket_id,
            title: e.title.clone(),
            description: e.description.clone(),
            priority: prio_in(e.priority),
            customer_telegram_id: e.customer_telegram_id,
            customer_name: e.customer_name.clone(),
        }
    }

    fn text(what: &str, s: String, max: usize) -> Result<String, String> {
        let n = s.chars().count();
        if n == 0 || n > max {
            return Err(format!("{what} must be 1 to {max} characters, got {n}"));
        }
        Ok(s)
    }

    pub fn actions(out: Vec<w::Action>) -> Result<Vec<Action>, String> {
        if out.len() > MAX_ACTIONS {
            return Err(format!("returned {} actions; the limit is {MAX_ACTIONS}", out.len()));
        }
        out.into_iter()
            .map(|a| {
                Ok(match a {
                    w::Action::Reply(r) => {
                        if r.buttons.len() > MAX_BUTTONS {
                            return Err(format!("a reply has {} buttons; the limit is {MAX_BUTTONS}", r.buttons.len()));
                        }
                        let buttons = r
                            .buttons
                            .into_iter()
                            .map(|b| {
                                if b.data.len() > MAX_BUTTON_DATA_BYTES {
                                    return Err(format!("button data is {} bytes; the limit is {MAX_BUTTON_DATA_BYTES}", b.data.len()));
                                }
                                Ok(Button { text: text("a button's text", b.text, MAX_BUTTON_TEXT_CHARS)?, data: b.data })
                            })
                            .collect::<Result<_, String>>()?;
                        Action::Reply { text: text("a reply", r.text, MAX_TEXT_CHARS)?, buttons }
                    }
                    w::Action::Tag(t) => Action::Tag { tag: text("a tag", t, MAX_LABEL_CHARS)? },
                    w::Action::SetPriority(p) => Action::SetPriority { priority: prio_out(p) },
                    w::Action::SetCategory(c) => Action::SetCategory { category: text("a category", c, MAX_LABEL_CHARS)? },
                    w::Action::Assign(a) => Action::Assign { to: text("an assignee", a, MAX_LABEL_CHARS)? },
                    w::Action::Note(n) => Action::Note { text: text("a note", n, MAX_TEXT_CHARS)? },
                    w::Action::Stop => Action::Stop,
                })
            })
            .collect()
    }

    pub fn routing(r: w::Routing) -> Result<Routing, String> {
        if r.tags.len() > MAX_TAGS {
            return Err(format!("returned {} tags; the limit is {MAX_TAGS}", r.tags.len()));
        }
        Ok(Routing {
            category: r.category.map(|c| text("a category", c, MAX_LABEL_CHARS)).transpose()?,
            priority: r.priority.map(prio_out),
            assignee: r.assignee.map(|a| text("an assignee", a, MAX_LABEL_CHARS)).transpose()?,
            tags: r.tags.into_iter().map(|t| text("a tag", t, MAX_LABEL_CHARS)).collect::<Result<_, _>>()?,
        })
    }
}
