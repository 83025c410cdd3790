//! Every limit a plugin runs under, with its number. The README of this
//! crate repeats them; keep the two in step.

use std::time::Duration;

/// Largest component accepted at upload.
pub const MAX_COMPONENT_BYTES: usize = 4 * 1024 * 1024;
/// Fuel per call: roughly one unit per WebAssembly instruction. An endless
/// loop burns it in a few milliseconds.
pub const FUEL_PER_CALL: u64 = 20_000_000;
/// How often the epoch ticker advances.
pub const EPOCH_TICK: Duration = Duration::from_millis(5);
/// CPU-time deadline per call, in epoch ticks (10 × 5 ms = 50 ms of the
/// calling thread's CPU time): it stops a call that burns little fuel, e.g.
/// one looping on host calls. It counts CPU time, not wall-clock time, so a
/// busy machine that preempts the thread does not fail a well-behaved
/// plugin; it is checked at every tick.
pub const DEADLINE_TICKS: u64 = 10;
/// Wall-clock backstop per call, as a multiple of the CPU-time deadline
/// (20 × 50 ms = 1 s): it stops a call that stalls without using CPU.
pub const WALL_CLOCK_FACTOR: u32 = 20;
/// Linear memory one instance may grow to.
pub const MAX_MEMORY_BYTES: usize = 16 * 1024 * 1024;
/// Size of an event handed to a plugin (its text fields together).
pub const MAX_INPUT_BYTES: usize = 16 * 1024;
/// Actions one `on-message` call may return.
pub const MAX_ACTIONS: usize = 16;
/// Characters of a reply or note.
pub const MAX_TEXT_CHARS: usize = 4096;
/// Buttons under one reply, and characters of a button's text.
pub const MAX_BUTTONS: usize = 8;
pub const MAX_BUTTON_TEXT_CHARS: usize = 64;
/// Bytes of a button's callback data (Telegram's own limit).
pub const MAX_BUTTON_DATA_BYTES: usize = 64;
/// Characters of a tag, category, assignee.
pub const MAX_LABEL_CHARS: usize = 64;
/// A customer attribute's value (contract 1.3.0's `set-attribute`), as the
/// desk keeps them.
pub const MAX_ATTRIBUTE_CHARS: usize = 500;
/// Tags one routing may add.
pub const MAX_TAGS: usize = 16;
/// Log lines kept per call, and characters per line.
pub const MAX_LOG_LINES: usize = 32;
pub const MAX_LOG_LINE_CHARS: usize = 1024;
/// The key-value store of one plugin of one tenant.
pub const MAX_KV_KEYS: usize = 256;
pub const MAX_KV_KEY_BYTES: usize = 128;
pub const MAX_KV_VALUE_BYTES: usize = 4096;
/// Instances the pooling allocator keeps room for (calls at once).
pub const POOL_INSTANCES: u32 = 1000;
/// Consecutive failures after which a plugin is switched off.
pub const MAX_CONSECUTIVE_FAILURES: u32 = 5;
/// Bytes a guest may hand the host in one host call or one hook's result
/// (wasmtime's host-call fuel, counted per call). The largest legal transfer,
/// a result of 16 replies of 4,096 characters with 8 buttons each, is under
/// 400 KiB; past this cap the call traps instead of making the host copy
/// whatever the guest claims. wasmtime's own default is 128 MiB.
pub const HOSTCALL_FUEL: usize = 1024 * 1024;
/// Time a component may take to compile at upload; a component that takes
/// longer is refused (`invalid`). Compiling a plugin takes tens of ms.
pub const COMPILE_BUDGET: Duration = Duration::from_secs(10);
/// Compiler threads that may run at once, counting those still running past
/// their budget: cranelift cannot be stopped mid-compile, so a thread whose
/// answer came too late runs on to its end. Past this cap an upload is
/// refused at once (try again shortly) instead of starting another thread,
/// so repeated slow uploads cannot pile threads up on the shared process.
pub const MAX_COMPILE_THREADS: usize = 2;
/// Compiled code of prepared plugins kept in memory (each entry counted by
/// its code image), least recently used evicted first.
pub const MAX_CACHE_BYTES: usize = 256 * 1024 * 1024;
/// Precompiled components (`*.cwasm`) kept on disk, least recently used
/// (by file modification time, renewed on each use) evicted first whenever
/// a new entry is written.
pub const MAX_DISK_CACHE_BYTES: u64 = 1024 * 1024 * 1024;
/// Plugins one tenant may install. The runtime enforces it at upload; with
/// the per-call limits above it bounds what one event can cost a desk.
pub const MAX_PLUGINS_PER_TENANT: usize = 16;
