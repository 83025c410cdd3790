//! The wasmtime host: one engine per process, components validated and
//! precompiled once (cached in memory and on disk, both bounded), a fresh
//! store per call with fuel, host-call fuel, an epoch deadline and a memory
//! cap. One module per supported contract version holds its bindings and
//! converts its types into the latest version's (as Zed's extension host
//! does); everything past the call is shared.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use sha2::{Digest, Sha256};
use wasmtime::component::types::ComponentItem;
use wasmtime::component::{Component, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, ResourceLimiter, Store, Trap};

use crate::limits::*;
use crate::model::*;

mod cache;
mod v1_0_0;
mod v1_1_0;
mod v1_2_0;
mod v1_3_0;

/// Prepared plugins kept in memory at most, whatever their size.
const MAX_CACHED_PLUGINS: usize = 4096;

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

/// The contract versions this host runs, oldest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Version {
    V1_0_0,
    V1_1_0,
    V1_2_0,
    V1_3_0,
}

impl Version {
    const ALL: [Version; 4] = [Version::V1_0_0, Version::V1_1_0, Version::V1_2_0, Version::V1_3_0];

    fn as_str(self) -> &'static str {
        match self {
            Version::V1_0_0 => v1_0_0::VERSION,
            Version::V1_1_0 => v1_1_0::VERSION,
            Version::V1_2_0 => v1_2_0::VERSION,
            Version::V1_3_0 => v1_3_0::VERSION,
        }
    }

    fn imports(self) -> &'static [&'static str] {
        match self {
            Version::V1_0_0 => v1_0_0::IMPORTS,
            Version::V1_1_0 => v1_1_0::IMPORTS,
            Version::V1_2_0 => v1_2_0::IMPORTS,
            Version::V1_3_0 => v1_3_0::IMPORTS,
        }
    }

    fn exports(self) -> &'static [&'static str] {
        match self {
            Version::V1_0_0 => v1_0_0::EXPORTS,
            Version::V1_1_0 => v1_1_0::EXPORTS,
            Version::V1_2_0 => v1_2_0::EXPORTS,
            Version::V1_3_0 => v1_3_0::EXPORTS,
        }
    }
}

/// A component ready to instantiate, by the contract version it targets.
#[derive(Clone)]
enum Pre {
    V1_0_0(v1_0_0::PluginPre<CallState>),
    V1_1_0(v1_1_0::PluginPre<CallState>),
    V1_2_0(v1_2_0::PluginPre<CallState>),
    V1_3_0(v1_3_0::PluginPre<CallState>),
}

/// A validated, precompiled plugin, ready to instantiate.
#[derive(Clone)]
pub struct Loaded {
    pre: Pre,
    /// SHA-256 of the component's bytes.
    pub hash: String,
    /// The contract version the component was built against: `"1.0.0"`,
    /// `"1.1.0"`, `"1.2.0"` or `"1.3.0"`, detected from its imports and
    /// exports at load.
    pub version: &'static str,
}

impl Loaded {
    /// Whether the plugin has an `on-button` hook (contract 1.1.0 and
    /// later); [`PluginHost::on_button`] answers nothing for the others.
    pub fn handles_buttons(&self) -> bool {
        match self.pre {
            Pre::V1_0_0(_) => false,
            Pre::V1_1_0(_) | Pre::V1_2_0(_) | Pre::V1_3_0(_) => true,
        }
    }

    /// Whether the plugin has an `on-schedule` hook (contract 1.2.0 and
    /// later); [`PluginHost::on_schedule`] answers nothing for the others.
    pub fn handles_schedule(&self) -> bool {
        match self.pre {
            Pre::V1_0_0(_) | Pre::V1_1_0(_) => false,
            Pre::V1_2_0(_) | Pre::V1_3_0(_) => true,
        }
    }
}

impl std::fmt::Debug for Loaded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Loaded").field("hash", &self.hash).field("version", &self.version).finish()
    }
}

/// Per-call limits and cache sizes a host enforces; [`HostOptions::default`]
/// is production's (the constants of [`crate::limits`]).
#[derive(Debug, Clone, Copy)]
pub struct HostOptions {
    pub fuel_per_call: u64,
    pub deadline_ticks: u64,
    /// Bytes of compiled code the in-memory cache of prepared plugins holds.
    pub cache_bytes: usize,
    /// Bytes of `*.cwasm` files the on-disk cache holds.
    pub disk_cache_bytes: u64,
}

impl Default for HostOptions {
    fn default() -> Self {
        HostOptions {
            fuel_per_call: FUEL_PER_CALL,
            deadline_ticks: DEADLINE_TICKS,
            cache_bytes: MAX_CACHE_BYTES,
            disk_cache_bytes: MAX_DISK_CACHE_BYTES,
        }
    }
}

/// The process-wide plugin host.
#[derive(Clone)]
pub struct PluginHost {
    engine: Engine,
    options: HostOptions,
    /// One linker per contract version: each offers only its own version's
    /// host interface, so a component is linked exactly against the version
    /// it was detected to target.
    linker_v1_0_0: Arc<Linker<CallState>>,
    linker_v1_1_0: Arc<Linker<CallState>>,
    linker_v1_2_0: Arc<Linker<CallState>>,
    linker_v1_3_0: Arc<Linker<CallState>>,
    cache_dir: Option<PathBuf>,
    loaded: Arc<Mutex<cache::MemoryCache>>,
    pub pooling: bool,
    /// Compiler threads running now, late ones included.
    compiling: Arc<std::sync::atomic::AtomicUsize>,
}

/// One of [`MAX_COMPILE_THREADS`](crate::limits::MAX_COMPILE_THREADS),
/// held by a compiler thread until it ends (on time or not).
struct CompileSlot(Arc<std::sync::atomic::AtomicUsize>);

impl CompileSlot {
    fn take(running: &Arc<std::sync::atomic::AtomicUsize>, max: usize) -> Option<CompileSlot> {
        use std::sync::atomic::Ordering::SeqCst;
        running.fetch_update(SeqCst, SeqCst, |n| (n < max).then_some(n + 1)).ok().map(|_| CompileSlot(running.clone()))
    }
}

impl Drop for CompileSlot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// A component compiled and validated on the compiler thread, not yet
/// cached: the caller caches it only if it came back within the budget.
struct Prepared {
    loaded: Loaded,
    component: Component,
    /// The on-disk entry it was read from, or `None` when freshly compiled.
    from_disk: Option<PathBuf>,
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

/// CPU time the calling thread has used (`CLOCK_THREAD_CPUTIME_ID`).
fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec; the call only writes it.
    #[allow(unsafe_code)]
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        // Never on Linux; fall back to no CPU time, leaving the wall clock.
        return Duration::ZERO;
    }
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

fn invalid(message: String) -> Failure {
    Failure::new(FailureKind::Invalid, message)
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
        let mut linker_v1_0_0 = Linker::new(&engine);
        v1_0_0::add_to_linker(&mut linker_v1_0_0).map_err(|e| anyhow::anyhow!("failed to link the 1.0.0 host interface: {e}"))?;
        let mut linker_v1_1_0 = Linker::new(&engine);
        v1_1_0::add_to_linker(&mut linker_v1_1_0).map_err(|e| anyhow::anyhow!("failed to link the 1.1.0 host interface: {e}"))?;
        let mut linker_v1_2_0 = Linker::new(&engine);
        v1_2_0::add_to_linker(&mut linker_v1_2_0).map_err(|e| anyhow::anyhow!("failed to link the 1.2.0 host interface: {e}"))?;
        let mut linker_v1_3_0 = Linker::new(&engine);
        v1_3_0::add_to_linker(&mut linker_v1_3_0).map_err(|e| anyhow::anyhow!("failed to link the 1.3.0 host interface: {e}"))?;
        if let Some(dir) = &cache_dir {
            std::fs::create_dir_all(dir).with_context(|| format!("failed to create {}", dir.display()))?;
        }
        Ok(PluginHost {
            engine,
            options,
            linker_v1_0_0: Arc::new(linker_v1_0_0),
            linker_v1_1_0: Arc::new(linker_v1_1_0),
            linker_v1_2_0: Arc::new(linker_v1_2_0),
            linker_v1_3_0: Arc::new(linker_v1_3_0),
            cache_dir,
            loaded: Arc::new(Mutex::new(cache::MemoryCache::new(options.cache_bytes, MAX_CACHED_PLUGINS))),
            pooling,
            compiling: Arc::new(std::sync::atomic::AtomicUsize::new(0)),
        })
    }

    fn compat(&self) -> String {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.engine.precompile_compatibility_hash().hash(&mut h);
        format!("{:016x}", h.finish())
    }

    /// Validates a component (size, contract version, imports, exports) and
    /// prepares it within [`COMPILE_BUDGET`]; cheap when the same bytes were
    /// loaded before.
    pub fn load(&self, bytes: &[u8]) -> Result<Loaded, Failure> {
        self.load_within(bytes, COMPILE_BUDGET)
    }

    /// [`load`](Self::load) with its own compile budget. Compiling runs on a
    /// thread of its own; past the budget the answer is `invalid` ("did not
    /// compile within N s") and the thread's late result is dropped, never
    /// cached, so a component that compiles too slowly stays refused.
    pub fn load_within(&self, bytes: &[u8], budget: Duration) -> Result<Loaded, Failure> {
        if bytes.len() > MAX_COMPONENT_BYTES {
            return Err(invalid(format!("component is {} bytes; the limit is {MAX_COMPONENT_BYTES}", bytes.len())));
        }
        let hash = hex::encode(Sha256::digest(bytes));
        if let Some(l) = self.cached(&hash) {
            return Ok(l);
        }
        // A channel of one: the thread never blocks on sending, whether or
        // not anyone still waits.
        let slot = CompileSlot::take(&self.compiling, crate::limits::MAX_COMPILE_THREADS).ok_or_else(|| {
            invalid(format!(
                "the plugin compiler is busy ({} components are still compiling, some past their budget); try again in a minute",
                crate::limits::MAX_COMPILE_THREADS
            ))
        })?;
        let (tx, rx) = mpsc::sync_channel(1);
        let (host, owned, h) = (self.clone(), bytes.to_vec(), hash.clone());
        std::thread::Builder::new()
            .name("plugin-compile".into())
            .spawn(move || {
                // Held until compiling ends, however late; given back
                // before the answer, so whoever reads it finds the slot free.
                let prepared = host.prepare(&owned, h);
                drop(slot);
                let _ = tx.send(prepared);
            })
            .map_err(|e| invalid(format!("could not start compiling: {e}")))?;
        let prepared = match rx.recv_timeout(budget) {
            Ok(result) => result?,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                return Err(invalid(format!("did not compile within {} s", budget.as_secs_f64())));
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => return Err(invalid("compiling it crashed".into())),
        };
        Ok(self.remember(prepared))
    }

    /// A plugin loaded before, by the SHA-256 of its bytes.
    pub fn cached(&self, hash: &str) -> Option<Loaded> {
        self.loaded.lock().expect("poisoned").get(hash)
    }

    /// Compiles (or reads from disk) and validates; caches nothing.
    fn prepare(&self, bytes: &[u8], hash: String) -> Result<Prepared, Failure> {
        let path = self.cache_dir.as_deref().map(|dir| cache::entry_path(dir, &hash, &self.compat()));
        let mut from_disk = None;
        let mut component = None;
        if let Some(path) = path.as_deref().filter(|p| p.exists()) {
            // SAFETY: the file was written by `Component::serialize` of an
            // engine with the same compatibility hash, into our own cache.
            #[allow(unsafe_code)]
            let read = unsafe { Component::deserialize_file(&self.engine, path) };
            match read {
                Ok(c) => {
                    component = Some(c);
                    from_disk = Some(path.to_path_buf());
                }
                Err(e) => tracing::warn!(path = %path.display(), error = %e, "ignoring a damaged plugin cache entry"),
            }
        }
        let component = match component {
            Some(c) => c,
            None => Component::new(&self.engine, bytes).map_err(|e| invalid(format!("not a valid component: {e}")))?,
        };
        match self.validate(&component) {
            Ok(pre) => {
                let version = match pre {
                    Pre::V1_0_0(_) => Version::V1_0_0,
                    Pre::V1_1_0(_) => Version::V1_1_0,
                    Pre::V1_2_0(_) => Version::V1_2_0,
                    Pre::V1_3_0(_) => Version::V1_3_0,
                };
                Ok(Prepared { loaded: Loaded { pre, hash, version: version.as_str() }, component, from_disk })
            }
            Err(message) => {
                // Written before validation came first; never serve it again.
                if let Some(path) = &from_disk {
                    let _ = std::fs::remove_file(path);
                }
                Err(invalid(message))
            }
        }
    }

    /// Detects the contract version from the imports (or, for a component
    /// that imports nothing, from the exports), refuses anything outside
    /// that version's world, and links it.
    fn validate(&self, component: &Component) -> Result<Pre, String> {
        let ty = component.component_type();
        let mut version: Option<Version> = None;
        for (name, item) in ty.imports(&self.engine) {
            let Some(v) = Version::ALL.into_iter().find(|v| v.imports().contains(&name)) else {
                return Err(format!("imports {name:?}, which is outside the tikethet:plugin world"));
            };
            if !matches!(item.ty, ComponentItem::ComponentInstance(_)) {
                return Err(format!("import {name:?} is not an interface"));
            }
            match version {
                Some(seen) if seen != v => {
                    return Err(format!("imports both contract {} and {}; a component targets one version", seen.as_str(), v.as_str()));
                }
                _ => version = Some(v),
            }
        }
        let exports: Vec<&str> = ty.exports(&self.engine).map(|(name, _)| name).collect();
        // Without imports, 1.3.0 and 1.2.0 export the same names: only
        // their types (`schedule-event`) tell them apart, at linking.
        let by_imports = version.is_some();
        let version = version.unwrap_or(if exports.contains(&"on-schedule") {
            Version::V1_3_0
        } else if exports.contains(&"on-button") {
            Version::V1_1_0
        } else {
            Version::V1_0_0
        });
        let missing: Vec<&str> = version.exports().iter().copied().filter(|e| !exports.contains(e)).collect();
        if !missing.is_empty() {
            return Err(format!(
                "targets contract {v} (by its imports) but does not export {}, which {v} requires",
                missing.join(", "),
                v = version.as_str()
            ));
        }
        let mismatch = |e: wasmtime::Error| format!("does not match contract {}: {e:#}", version.as_str());
        if version == Version::V1_3_0
            && !by_imports
            && let Ok(pre) = v1_2_0::prepare(&self.linker_v1_2_0, component)
        {
            return Ok(Pre::V1_2_0(pre));
        }
        Ok(match version {
            Version::V1_0_0 => Pre::V1_0_0(v1_0_0::prepare(&self.linker_v1_0_0, component).map_err(mismatch)?),
            Version::V1_1_0 => Pre::V1_1_0(v1_1_0::prepare(&self.linker_v1_1_0, component).map_err(mismatch)?),
            Version::V1_2_0 => Pre::V1_2_0(v1_2_0::prepare(&self.linker_v1_2_0, component).map_err(mismatch)?),
            Version::V1_3_0 => Pre::V1_3_0(v1_3_0::prepare(&self.linker_v1_3_0, component).map_err(mismatch)?),
        })
    }

    /// Caches a component that validated in time: in memory, and on disk
    /// when freshly compiled (a disk entry read back is marked as used).
    fn remember(&self, prepared: Prepared) -> Loaded {
        let Prepared { loaded, component, from_disk } = prepared;
        let range = component.image_range();
        let size = (range.end as usize).saturating_sub(range.start as usize);
        self.loaded.lock().expect("poisoned").put(loaded.clone(), size);
        match (&self.cache_dir, from_disk) {
            (_, Some(path)) => cache::touch(&path),
            (Some(dir), None) => match component.serialize() {
                Ok(bin) => cache::write(&cache::entry_path(dir, &loaded.hash, &self.compat()), &bin, self.options.disk_cache_bytes),
                Err(e) => tracing::warn!(error = %e, "could not serialize a compiled plugin"),
            },
            (None, None) => {}
        }
        loaded
    }

    fn store(&self, ctx: CallContext) -> Store<CallState> {
        let mut store = Store::new(
            &self.engine,
            CallState { config: ctx.config, kv: ctx.kv, now_ms: ctx.now_ms, logs: Vec::new(), limiter: MemoryCap::default() },
        );
        store.limiter(|s| &mut s.limiter);
        store.set_fuel(self.options.fuel_per_call).expect("fuel is enabled");
        store.set_hostcall_fuel(HOSTCALL_FUEL);
        // The deadline is the call's CPU time, checked at every epoch tick,
        // with a wall-clock backstop: a loaded machine that preempts this
        // thread must not fail a plugin that used little CPU.
        let cpu_limit = EPOCH_TICK * self.options.deadline_ticks as u32;
        let wall_limit = cpu_limit * WALL_CLOCK_FACTOR;
        let (cpu_start, wall_start) = (thread_cpu_time(), Instant::now());
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(move |_| {
            // Called on the thread running the call, so its clock is the call's.
            let past = thread_cpu_time().saturating_sub(cpu_start) >= cpu_limit || wall_start.elapsed() >= wall_limit;
            Ok(if past { wasmtime::UpdateDeadline::Interrupt } else { wasmtime::UpdateDeadline::Continue(1) })
        });
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
                    (FailureKind::Timeout, _) => format!("ran past its {} ms of CPU time", EPOCH_TICK.as_millis() as u64 * self.options.deadline_ticks),
                    (FailureKind::OutOfFuel, _) => format!("used all {} fuel", self.options.fuel_per_call),
                    (_, Some(t)) => t.to_string(),
                    _ => e.root_cause().to_string(),
                };
                Err(Failure { kind, message, usage: Some(usage), logs: state.logs })
            }
        }
    }

    /// Runs one call and converts its output into the model, a conversion
    /// error being the plugin's `bad_output`.
    fn call<W, T>(
        &self,
        ctx: CallContext,
        call: impl FnOnce(&mut Store<CallState>) -> wasmtime::Result<W>,
        convert: impl FnOnce(W) -> Result<T, String>,
    ) -> Result<Outcome<T>, Failure> {
        let started = Instant::now();
        let mut store = self.store(ctx);
        let result = call(&mut store);
        let out = self.finish(store, started, result)?;
        match convert(out.output) {
            Ok(output) => Ok(Outcome { output, kv: out.kv, logs: out.logs, usage: out.usage }),
            Err(message) => Err(Failure { kind: FailureKind::BadOutput, message, usage: Some(out.usage), logs: out.logs }),
        }
    }

    /// Runs `on-message`.
    pub fn on_message(&self, plugin: &Loaded, ctx: CallContext, event: &MessageEvent) -> Result<Outcome<Vec<Action>>, Failure> {
        check_input(event.text.len() + event.customer_name.len() + event.customer_username.as_ref().map_or(0, String::len))?;
        self.call(
            ctx,
            |store| match &plugin.pre {
                Pre::V1_0_0(pre) => v1_0_0::on_message(pre, store, event),
                Pre::V1_1_0(pre) => v1_1_0::on_message(pre, store, event),
                Pre::V1_2_0(pre) => v1_2_0::on_message(pre, store, event),
                Pre::V1_3_0(pre) => v1_3_0::on_message(pre, store, event),
            },
            v1_3_0::actions,
        )
    }

    /// Runs `on-ticket-created`.
    pub fn on_ticket_created(&self, plugin: &Loaded, ctx: CallContext, event: &TicketEvent) -> Result<Outcome<Routing>, Failure> {
        check_input(event.title.len() + event.description.len() + event.customer_name.len())?;
        self.call(
            ctx,
            |store| match &plugin.pre {
                Pre::V1_0_0(pre) => v1_0_0::on_ticket_created(pre, store, event),
                Pre::V1_1_0(pre) => v1_1_0::on_ticket_created(pre, store, event),
                Pre::V1_2_0(pre) => v1_2_0::on_ticket_created(pre, store, event),
                Pre::V1_3_0(pre) => v1_3_0::on_ticket_created(pre, store, event),
            },
            v1_3_0::routing,
        )
    }

    /// Runs `on-button` (contract 1.1.0 and later). A plugin of an older contract has
    /// no such hook: it is not instantiated, and the answer is no actions,
    /// the key-value store unchanged and nothing used.
    pub fn on_button(&self, plugin: &Loaded, ctx: CallContext, event: &ButtonEvent) -> Result<Outcome<Vec<Action>>, Failure> {
        /// The versions that have the hook.
        enum Has<'a> {
            V1_1_0(&'a v1_1_0::PluginPre<CallState>),
            V1_2_0(&'a v1_2_0::PluginPre<CallState>),
            V1_3_0(&'a v1_3_0::PluginPre<CallState>),
        }
        let pre = match &plugin.pre {
            Pre::V1_0_0(_) => return Ok(not_called(ctx)),
            Pre::V1_1_0(pre) => Has::V1_1_0(pre),
            Pre::V1_2_0(pre) => Has::V1_2_0(pre),
            Pre::V1_3_0(pre) => Has::V1_3_0(pre),
        };
        // Telegram's own limit on callback data; the contract promises it.
        if event.data.len() > MAX_BUTTON_DATA_BYTES {
            let message = format!("button data is {} bytes; the limit is {MAX_BUTTON_DATA_BYTES}", event.data.len());
            return Err(Failure::new(FailureKind::InputTooLarge, message));
        }
        check_input(
            event.data.len()
                + event.customer_name.len()
                + event.customer_username.as_ref().map_or(0, String::len)
                + event.message_text.as_ref().map_or(0, String::len),
        )?;
        self.call(
            ctx,
            |store| match pre {
                Has::V1_1_0(pre) => v1_1_0::on_button(pre, store, event),
                Has::V1_2_0(pre) => v1_2_0::on_button(pre, store, event),
                Has::V1_3_0(pre) => v1_3_0::on_button(pre, store, event),
            },
            v1_3_0::actions,
        )
    }

    /// Runs `on-schedule` (contract 1.2.0 and later). A plugin of an older contract
    /// has no such hook: it is not instantiated, and the answer is no
    /// actions, the key-value store unchanged and nothing used. The event
    /// is refused past the input cap, counting
    /// [`DESK_TICKET_BYTES`] per listed ticket besides its text. A 1.2.0
    /// plugin sees only the tickets waiting for their customer (and is
    /// charged only for those).
    pub fn on_schedule(&self, plugin: &Loaded, ctx: CallContext, event: &ScheduleEvent) -> Result<Outcome<Vec<TicketAction>>, Failure> {
        match &plugin.pre {
            Pre::V1_0_0(_) | Pre::V1_1_0(_) => Ok(not_called(ctx)),
            Pre::V1_2_0(pre) => {
                let seen = ScheduleEvent { unassigned: Vec::new(), waiting_for_staff: Vec::new(), breached: Vec::new(), ..event.clone() };
                check_input(seen.input_bytes())?;
                self.call(ctx, |store| v1_2_0::on_schedule(pre, store, &seen), v1_3_0::ticket_actions)
            }
            Pre::V1_3_0(pre) => {
                check_input(event.input_bytes())?;
                self.call(ctx, |store| v1_3_0::on_schedule(pre, store, event), v1_3_0::ticket_actions)
            }
        }
    }

    /// Runs whichever hook `event` is for.
    pub fn run(&self, plugin: &Loaded, ctx: CallContext, event: &HookEvent) -> Result<Outcome<HookOutput>, Failure> {
        fn map<T>(o: Outcome<T>, f: impl FnOnce(T) -> HookOutput) -> Outcome<HookOutput> {
            Outcome { output: f(o.output), kv: o.kv, logs: o.logs, usage: o.usage }
        }
        match event {
            HookEvent::OnMessage(e) => self.on_message(plugin, ctx, e).map(|o| map(o, HookOutput::Actions)),
            HookEvent::OnTicketCreated(e) => self.on_ticket_created(plugin, ctx, e).map(|o| map(o, HookOutput::Routing)),
            HookEvent::OnButton(e) => self.on_button(plugin, ctx, e).map(|o| map(o, HookOutput::Actions)),
            HookEvent::OnSchedule(e) => self.on_schedule(plugin, ctx, e).map(|o| map(o, HookOutput::TicketActions)),
        }
    }
}

/// The answer for a hook the plugin's contract does not have: the plugin
/// is not called, nothing is used, its store is handed back untouched.
fn not_called<T: Default>(ctx: CallContext) -> Outcome<T> {
    let usage = Usage { fuel: 0, peak_memory_bytes: 0, elapsed: Duration::ZERO };
    Outcome { output: T::default(), kv: ctx.kv, logs: Vec::new(), usage }
}

/// Refuses an event past the input cap before the plugin runs.
fn check_input(size: usize) -> Result<(), Failure> {
    if size > MAX_INPUT_BYTES {
        return Err(Failure::new(FailureKind::InputTooLarge, format!("event is {size} bytes; the limit is {MAX_INPUT_BYTES}")));
    }
    Ok(())
}

#[cfg(test)]
mod compile_slots {
    use super::*;

    #[test]
    fn compiler_threads_are_capped_until_the_late_ones_end() {
        let running = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let a = CompileSlot::take(&running, 2).expect("first");
        let b = CompileSlot::take(&running, 2).expect("second");
        assert!(CompileSlot::take(&running, 2).is_none(), "a third waits for one to end");
        drop(a);
        let c = CompileSlot::take(&running, 2).expect("a slot came back");
        drop((b, c));
        assert_eq!(running.load(std::sync::atomic::Ordering::SeqCst), 0);
    }

    #[test]
    fn an_upload_past_the_cap_is_refused_at_once_without_a_thread() {
        let host = PluginHost::new(None).unwrap();
        host.compiling.store(crate::limits::MAX_COMPILE_THREADS, std::sync::atomic::Ordering::SeqCst);
        let f = host.load_within(b"\0asm\x0d\0\x01\0", Duration::from_secs(10)).unwrap_err();
        assert!(f.message.starts_with("the plugin compiler is busy"), "{}", f.message);
        host.compiling.store(0, std::sync::atomic::Ordering::SeqCst);
        let f = host.load_within(b"\0asm\x0d\0\x01\0", Duration::from_secs(10)).unwrap_err();
        assert!(!f.message.starts_with("the plugin compiler is busy"), "{}", f.message);
        assert_eq!(host.compiling.load(std::sync::atomic::Ordering::SeqCst), 0, "the thread gave its slot back");
    }
}
