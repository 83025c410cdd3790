//! The host against real components built from `examples/` and
//! `testdata/` with the wasm toolchain.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tikethet_plugins::build::build_bundled;
use tikethet_plugins::limits::*;
use tikethet_plugins::{
    Action, Button, ButtonEvent, CallContext, FailureKind, HookEvent, HookOutput, HostOptions, Loaded, MessageEvent, PluginHost, Priority,
    DeskTicket, ScheduleEvent, TicketAction, TicketEvent, TicketStatus, frozen_keyword_reply_1_0_0, frozen_keyword_reply_1_1_0,
    frozen_nudge_1_2_0,
};

fn component(name: &str) -> Vec<u8> {
    let path = build_bundled(name).unwrap_or_else(|e| panic!("building plugin {name}: {e:#}"));
    std::fs::read(path).unwrap()
}

fn load(host: &PluginHost, name: &str) -> Loaded {
    host.load(&component(name)).unwrap_or_else(|f| panic!("{name} refused: {f}"))
}

fn msg(text: &str) -> MessageEvent {
    MessageEvent {
        ticket_id: None,
        customer_telegram_id: 42,
        customer_name: "Ann".into(),
        customer_username: Some("ann".into()),
        language_code: Some("en".into()),
        text: text.into(),
        sent_at: 1_700_000_000_000,
    }
}

fn ctx(config: &str) -> CallContext {
    CallContext { config: config.into(), kv: BTreeMap::new(), now_ms: 1_700_000_000_000 }
}

const KEYWORDS: &str = r#"{"rules": [{"keywords": ["refund", "money back"], "answer": "Refunds take 5 days."}, {"keywords": ["hours"], "answer": "We work 9 to 6."}]}"#;

#[test]
fn keyword_reply_answers_configured_keywords_only() {
    let host = PluginHost::new(None).unwrap();
    let p = load(&host, "keyword-reply");
    let out = host.on_message(&p, ctx(KEYWORDS), &msg("I want my MONEY BACK")).unwrap();
    assert_eq!(out.output, vec![Action::Reply { text: "Refunds take 5 days.".into(), buttons: vec![] }]);
    assert!(out.usage.fuel > 0 && out.usage.fuel < FUEL_PER_CALL);
    assert!(out.usage.peak_memory_bytes > 0 && out.usage.peak_memory_bytes <= MAX_MEMORY_BYTES);
    assert!(host.on_message(&p, ctx(KEYWORDS), &msg("hello")).unwrap().output.is_empty());
    // A broken config is the plugin's problem: it answers nothing, nothing fails.
    assert!(host.on_message(&p, ctx("not json"), &msg("refund")).unwrap().output.is_empty());
}

#[test]
fn out_of_hours_uses_the_time_and_tells_each_customer_once_a_day() {
    let host = PluginHost::new(None).unwrap();
    let p = load(&host, "out-of-hours");
    let cfg = r#"{"utc_offset_minutes": 0, "open": "09:00", "close": "18:00", "weekdays": [1,2,3,4,5], "message": "Closed; back at 9."}"#;
    // 2023-11-18 was a Saturday; 2023-11-20 a Monday.
    let saturday_noon = 1_700_308_800_000u64;
    let monday_ten = 1_700_474_400_000u64;
    let monday_night = 1_700_517_600_000u64; // 22:00
    let mut c = ctx(cfg);
    c.now_ms = saturday_noon;
    let out = host.on_message(&p, c.clone(), &msg("anyone?")).unwrap();
    assert_eq!(out.output, vec![Action::Reply { text: "Closed; back at 9.".into(), buttons: vec![] }]);
    // Told once: the second message the same day gets nothing.
    let mut again = c.clone();
    again.kv = out.kv.clone();
    assert!(host.on_message(&p, again, &msg("hello??")).unwrap().output.is_empty());
    let mut open = ctx(cfg);
    open.now_ms = monday_ten;
    assert!(host.on_message(&p, open, &msg("hi")).unwrap().output.is_empty());
    let mut night = ctx(cfg);
    night.now_ms = monday_night;
    night.kv = out.kv;
    assert_eq!(host.on_message(&p, night, &msg("hi")).unwrap().output.len(), 1);
}

#[test]
fn router_sets_category_and_priority_and_assigns_round_robin() {
    let host = PluginHost::new(None).unwrap();
    let p = load(&host, "router");
    let cfg = r#"{"routes": [{"keywords": ["invoice", "refund"], "category": "billing", "priority": "high"}], "agents": ["alice", "bob"]}"#;
    let t = |title: &str| TicketEvent {
        ticket_id: 1,
        title: title.into(),
        description: "details".into(),
        priority: Priority::Normal,
        customer_telegram_id: 42,
        customer_name: "Ann".into(),
    };
    let mut c = ctx(cfg);
    let mut assignees = Vec::new();
    for title in ["Invoice missing", "App crashes", "Refund?"] {
        let out = host.on_ticket_created(&p, c.clone(), &t(title)).unwrap();
        assignees.push(out.output.assignee.clone().unwrap());
        c.kv = out.kv;
        if title != "App crashes" {
            assert_eq!(out.output.category.as_deref(), Some("billing"));
            assert_eq!(out.output.priority, Some(Priority::High));
            assert_eq!(out.output.tags, vec!["billing".to_owned()]);
        } else {
            assert_eq!((out.output.category, out.output.priority), (None, None));
        }
    }
    assert_eq!(assignees, ["alice", "bob", "alice"]);
    // Built with SDK 1.1.0 but without an `on_button`: the default answers
    // nothing, and the call still ran.
    assert!(p.handles_buttons());
    let out = host.on_button(&p, ctx(cfg), &button("anything")).unwrap();
    assert!(out.output.is_empty());
    assert!(out.usage.fuel > 0);
}

fn hostile(host: &PluginHost, p: &Loaded, mode: &str) -> Result<Vec<Action>, tikethet_plugins::Failure> {
    host.on_message(p, ctx(&format!(r#"{{"mode": "{mode}"}}"#)), &msg("hi")).map(|o| o.output)
}

#[test]
fn hostile_plugins_end_in_classified_failures() {
    let host = PluginHost::new(None).unwrap();
    let p = load(&host, "hostile");
    for (mode, kind) in [
        ("loop", FailureKind::OutOfFuel),
        ("memory", FailureKind::OutOfMemory),
        ("trap", FailureKind::Trap),
        ("flood", FailureKind::BadOutput),
        ("huge-reply", FailureKind::BadOutput),
        ("huge-log", FailureKind::Trap),
    ] {
        let started = Instant::now();
        let f = hostile(&host, &p, mode).expect_err(mode);
        assert_eq!(f.kind, kind, "{mode}: {f}");
        assert!(!f.message.is_empty() && !f.message.contains('\n'), "{mode}: {:?}", f.message);
        assert!(started.elapsed() < Duration::from_secs(2), "{mode} took {:?}", started.elapsed());
    }
    // Host-call fuel stops a guest handing the host megabytes in one call.
    let f = hostile(&host, &p, "huge-log").unwrap_err();
    assert!(f.message.contains("too much data"), "{}", f.message);
    // The store is capped, and the plugin is told so.
    let out = host.on_message(&p, ctx(r#"{"mode": "kv-flood"}"#), &msg("hi")).unwrap();
    assert_eq!(out.kv.len(), MAX_KV_KEYS);
    assert_eq!(out.output, vec![Action::Reply { text: format!("refused {}", 1000 - MAX_KV_KEYS), buttons: vec![] }]);
    // The same instance pre and engine still work afterwards.
    assert_eq!(hostile(&host, &p, "ok").unwrap().len(), 1);
    // An event past the input cap is refused before the plugin runs.
    let f = host.on_message(&p, ctx("{}"), &msg(&"x".repeat(MAX_INPUT_BYTES + 1))).unwrap_err();
    assert_eq!(f.kind, FailureKind::InputTooLarge);
}

#[test]
fn the_cpu_time_deadline_stops_what_fuel_would_not() {
    let host = PluginHost::with_options(None, HostOptions { fuel_per_call: u64::MAX / 2, ..HostOptions::default() }).unwrap();
    let p = load(&host, "hostile");
    let started = Instant::now();
    let f = hostile(&host, &p, "loop").unwrap_err();
    assert_eq!(f.kind, FailureKind::Timeout, "{f}");
    let budget = EPOCH_TICK * DEADLINE_TICKS as u32;
    assert!(started.elapsed() >= budget - EPOCH_TICK && started.elapsed() < budget * 20, "{:?}", started.elapsed());
}

#[test]
fn a_plugin_spinning_on_host_calls_runs_into_the_deadline_with_production_fuel() {
    // Host calls cost little fuel: with the default limits this loop is
    // stopped by the CPU-time deadline, which is what the fairness benchmark's
    // heavy tenant relies on.
    let host = PluginHost::new(None).unwrap();
    let p = load(&host, "hostile");
    let started = Instant::now();
    let f = hostile(&host, &p, "spin").unwrap_err();
    assert_eq!(f.kind, FailureKind::Timeout, "{f}");
    let budget = EPOCH_TICK * DEADLINE_TICKS as u32;
    assert!(started.elapsed() >= budget - EPOCH_TICK, "{:?}", started.elapsed());
}

#[test]
fn a_preempted_call_within_its_cpu_time_is_not_timed_out() {
    // A call that needs well under its 50 ms of CPU, on a machine so busy
    // that the call takes longer than 50 ms of wall clock: a wall-clock
    // deadline would fail it; the CPU-time deadline must not.
    let host = PluginHost::new(None).unwrap();
    let p = load(&host, "hostile");
    let work = |n: u64| host.on_message(&p, ctx(r#"{"mode": "work"}"#), &msg(&n.to_string()));
    // Size the work to 12-25 ms of this thread's CPU time (the call runs on
    // it), whatever else the machine is doing.
    let cpu = || {
        let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
        // SAFETY: a valid, writable timespec.
        #[allow(unsafe_code)]
        let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
        assert_eq!(rc, 0);
        Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
    };
    let mut n = 1_000;
    loop {
        let before = cpu();
        work(n).unwrap_or_else(|f| panic!("{n} host calls: {f}"));
        if cpu() - before >= Duration::from_millis(12) {
            break;
        }
        n *= 2;
    }
    let stop = Arc::new(AtomicBool::new(false));
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let hogs: Vec<_> = (0..cores * 8)
        .map(|_| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut x = 1u64;
                while !stop.load(Ordering::Relaxed) {
                    x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
                }
            })
        })
        .collect();
    let budget = EPOCH_TICK * DEADLINE_TICKS as u32;
    let mut slowest = Duration::ZERO;
    let mut calls = 0;
    // Until a call was preempted past the deadline's length (the case under test).
    while slowest < budget && calls < 200 {
        let started = Instant::now();
        let result = work(n);
        slowest = slowest.max(started.elapsed());
        calls += 1;
        if let Err(f) = result {
            stop.store(true, Ordering::Relaxed);
            panic!("call {calls} ({n} host calls) failed after {:?} of wall clock: {f}", started.elapsed());
        }
    }
    stop.store(true, Ordering::Relaxed);
    hogs.into_iter().for_each(|h| h.join().unwrap());
    assert!(slowest >= budget, "no call was slowed past {budget:?} in {calls} calls (slowest {slowest:?}); the load did not preempt");
}

#[test]
fn other_tenants_keep_answering_while_a_plugin_misbehaves() {
    let host = PluginHost::with_options(None, HostOptions { fuel_per_call: u64::MAX / 2, ..HostOptions::default() }).unwrap();
    let bad = load(&host, "hostile");
    let good = load(&host, "keyword-reply");
    let h2 = host.clone();
    let spinner = std::thread::spawn(move || (0..5).map(|_| hostile(&h2, &bad, "loop").unwrap_err().kind).collect::<Vec<_>>());
    let mut answered = 0;
    while !spinner.is_finished() {
        let out = host.on_message(&good, ctx(KEYWORDS), &msg("refund")).unwrap();
        assert_eq!(out.output.len(), 1);
        answered += 1;
    }
    assert!(spinner.join().unwrap().iter().all(|k| *k == FailureKind::Timeout));
    assert!(answered > 10, "only {answered} answers while the bad plugin spun");
}

#[test]
fn components_outside_the_world_are_refused_at_load() {
    let host = PluginHost::new(None).unwrap();
    let evil = wat_component(r#"(component (import "evil:net/socket@1.0.0" (instance (export "connect" (func)))))"#);
    let f = host.load(&evil).unwrap_err();
    assert_eq!(f.kind, FailureKind::Invalid);
    assert!(f.message.contains("evil:net/socket"), "{}", f.message);
    // A component that imports nothing and exports nothing is not a plugin.
    let empty = wat_component("(component)");
    assert_eq!(host.load(&empty).unwrap_err().kind, FailureKind::Invalid);
    assert_eq!(host.load(b"\0asm garbage").unwrap_err().kind, FailureKind::Invalid);
    let big = vec![0u8; MAX_COMPONENT_BYTES + 1];
    assert!(host.load(&big).unwrap_err().message.contains("limit"));
}

fn wat_component(text: &str) -> Vec<u8> {
    wat::parse_str(text).expect("valid component text")
}

#[test]
fn precompiled_components_are_cached_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = component("keyword-reply");
    let a = PluginHost::new(Some(dir.path().to_path_buf())).unwrap();
    let loaded = a.load(&bytes).unwrap();
    let files: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    assert_eq!(files.len(), 1);
    assert!(files[0].starts_with(&loaded.hash) && files[0].ends_with(".cwasm"), "{files:?}");
    // A new host (a restart) loads from the cache and behaves the same.
    let b = PluginHost::new(Some(dir.path().to_path_buf())).unwrap();
    let p = b.load(&bytes).unwrap();
    assert_eq!(b.on_message(&p, ctx(KEYWORDS), &msg("refund")).unwrap().output.len(), 1);
    assert_eq!(p.version, "1.1.0");
}

fn button(data: &str) -> ButtonEvent {
    ButtonEvent {
        ticket_id: Some(7),
        customer_telegram_id: 42,
        customer_name: "Ann".into(),
        customer_username: Some("ann".into()),
        language_code: Some("en".into()),
        data: data.into(),
        message_text: Some("Refunds take 5 days.".into()),
    }
}

const WITH_BUTTONS: &str = r#"{"rules": [{"keywords": ["refund"], "answer": "Refunds take 5 days.",
    "buttons": [{"text": "How do I ask?", "data": "refund-how"}]}],
  "button_answers": [{"data": "refund-how", "answer": "Reply with your order number."}]}"#;

#[test]
fn components_of_contracts_1_0_0_and_1_1_0_run_side_by_side() {
    let host = PluginHost::new(None).unwrap();
    let old = host.load(frozen_keyword_reply_1_0_0()).unwrap();
    let new = load(&host, "keyword-reply");
    assert_eq!((old.version, new.version), ("1.0.0", "1.1.0"));
    assert!(!old.handles_buttons() && new.handles_buttons());

    // Both answer messages, each through its own contract's bindings.
    let refund = Action::Reply { text: "Refunds take 5 days.".into(), buttons: vec![] };
    assert_eq!(host.on_message(&old, ctx(KEYWORDS), &msg("refund please")).unwrap().output, vec![refund.clone()]);
    assert_eq!(host.on_message(&new, ctx(KEYWORDS), &msg("refund please")).unwrap().output, vec![refund]);
    let with_button = host.on_message(&new, ctx(WITH_BUTTONS), &msg("refund")).unwrap().output;
    let offered = Button { text: "How do I ask?".into(), data: "refund-how".into() };
    assert_eq!(with_button, vec![Action::Reply { text: "Refunds take 5 days.".into(), buttons: vec![offered] }]);

    // A pressed button reaches the 1.1.0 plugin, which answers it.
    let out = host.on_button(&new, ctx(WITH_BUTTONS), &button("refund-how")).unwrap();
    assert_eq!(out.output, vec![Action::Reply { text: "Reply with your order number.".into(), buttons: vec![] }]);
    assert!(out.usage.fuel > 0);
    assert!(host.on_button(&new, ctx(WITH_BUTTONS), &button("unknown")).unwrap().output.is_empty());
    // `run` (what `tikethet plugin run` calls) takes the same event.
    let event: HookEvent = serde_json::from_str(
        r#"{"hook": "on-button", "customer_telegram_id": 42, "customer_name": "Ann", "data": "refund-how"}"#,
    )
    .unwrap();
    match host.run(&new, ctx(WITH_BUTTONS), &event).unwrap().output {
        HookOutput::Actions(a) => assert_eq!(a.len(), 1),
        other => panic!("expected actions, got {other:?}"),
    }

    // The 1.0.0 plugin has no such hook: not called, nothing used, its
    // store handed back untouched.
    let mut c = ctx(WITH_BUTTONS);
    c.kv.insert("seen".into(), "1".into());
    let out = host.on_button(&old, c.clone(), &button("refund-how")).unwrap();
    assert!(out.output.is_empty() && out.logs.is_empty());
    assert_eq!(out.kv, c.kv);
    assert_eq!((out.usage.fuel, out.usage.peak_memory_bytes, out.usage.elapsed), (0, 0, Duration::ZERO));

    // Callback data is at most 64 bytes (Telegram's limit, the contract's promise).
    let f = host.on_button(&new, ctx(WITH_BUTTONS), &button(&"d".repeat(MAX_BUTTON_DATA_BYTES + 1))).unwrap_err();
    assert_eq!(f.kind, FailureKind::InputTooLarge);
}

/// The frozen 1.0.0 component with some of its import names rewritten (the
/// same length, so the binary stays well-formed).
fn renamed_imports(pairs: &[(&str, &str)]) -> Vec<u8> {
    renamed(frozen_keyword_reply_1_0_0(), pairs)
}

/// A component with some of its import names rewritten.
fn renamed(component: &[u8], pairs: &[(&str, &str)]) -> Vec<u8> {
    let mut bytes = component.to_vec();
    for (from, to) in pairs {
        assert_eq!(from.len(), to.len());
        let mut hits = 0;
        let mut i = 0;
        while let Some(at) = bytes[i..].windows(from.len()).position(|w| w == from.as_bytes()) {
            bytes[i + at..i + at + to.len()].copy_from_slice(to.as_bytes());
            i += at + to.len();
            hits += 1;
        }
        assert!(hits > 0, "{from} not found");
    }
    bytes
}

#[test]
fn a_component_whose_imports_and_exports_disagree_on_the_version_is_refused() {
    let host = PluginHost::new(None).unwrap();
    // Imports 1.1.0 but exports only the 1.0.0 world (no on-button).
    let bytes = renamed_imports(&[
        ("tikethet:plugin/host@1.0.0", "tikethet:plugin/host@1.1.0"),
        ("tikethet:plugin/types@1.0.0", "tikethet:plugin/types@1.1.0"),
    ]);
    let f = host.load(&bytes).unwrap_err();
    assert_eq!(f.kind, FailureKind::Invalid);
    assert!(f.message.contains("contract 1.1.0") && f.message.contains("on-button"), "{}", f.message);
    // One interface of each version: a component targets one.
    let mixed = renamed_imports(&[("tikethet:plugin/host@1.0.0", "tikethet:plugin/host@1.1.0")]);
    let f = host.load(&mixed).unwrap_err();
    assert_eq!(f.kind, FailureKind::Invalid);
    assert!(f.message.contains("both contract"), "{}", f.message);
}

fn cache_files(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    names.sort();
    names
}

#[test]
fn a_refused_component_never_reaches_the_disk_cache() {
    let dir = tempfile::tempdir().unwrap();
    let host = PluginHost::new(Some(dir.path().to_path_buf())).unwrap();
    // It compiles; it is refused only by the import check.
    let evil = wat_component(r#"(component (import "evil:net/socket@1.0.0" (instance (export "connect" (func)))))"#);
    assert_eq!(host.load(&evil).unwrap_err().kind, FailureKind::Invalid);
    assert!(cache_files(dir.path()).is_empty());
    let p = host.load(frozen_keyword_reply_1_0_0()).unwrap();
    assert_eq!(cache_files(dir.path()).len(), 1);
    assert!(cache_files(dir.path())[0].starts_with(&p.hash));
}

#[test]
fn the_memory_cache_is_bounded_by_bytes() {
    let new = component("keyword-reply");
    let roomy = PluginHost::new(None).unwrap();
    let a = roomy.load(frozen_keyword_reply_1_0_0()).unwrap();
    let b = roomy.load(&new).unwrap();
    assert!(roomy.cached(&a.hash).is_some() && roomy.cached(&b.hash).is_some());
    // Room for less than one entry: the newest stays, the older goes.
    let tight = PluginHost::with_options(None, HostOptions { cache_bytes: 1, ..HostOptions::default() }).unwrap();
    tight.load(frozen_keyword_reply_1_0_0()).unwrap();
    tight.load(&new).unwrap();
    assert!(tight.cached(&a.hash).is_none());
    assert!(tight.cached(&b.hash).is_some());
}

fn set_age(path: &std::path::Path, age: Duration) {
    let f = std::fs::File::options().write(true).open(path).unwrap();
    f.set_modified(std::time::SystemTime::now() - age).unwrap();
}

fn modified(path: &std::path::Path) -> std::time::SystemTime {
    std::fs::metadata(path).unwrap().modified().unwrap()
}

#[test]
fn the_disk_cache_evicts_the_least_recently_used_entries_and_stale_temporary_files() {
    let (a, b, c) = (frozen_keyword_reply_1_0_0().to_vec(), component("hostile"), component("trivial"));
    // The size of each entry, measured in a folder of its own.
    let scratch = tempfile::tempdir().unwrap();
    let measure = PluginHost::new(Some(scratch.path().to_path_buf())).unwrap();
    let size = |bytes: &[u8]| {
        let hash = measure.load(bytes).unwrap().hash;
        let name = cache_files(scratch.path()).into_iter().find(|n| n.starts_with(&hash)).unwrap();
        std::fs::metadata(scratch.path().join(name)).unwrap().len()
    };
    let (size_a, size_c) = (size(&a), size(&c));

    let dir = tempfile::tempdir().unwrap();
    let path_of = |hash: &str| dir.path().join(cache_files(dir.path()).into_iter().find(|n| n.starts_with(hash)).unwrap());
    let first = PluginHost::new(Some(dir.path().to_path_buf())).unwrap();
    let (hash_a, hash_b) = (first.load(&a).unwrap().hash, first.load(&b).unwrap().hash);
    set_age(&path_of(&hash_a), Duration::from_secs(7200));
    set_age(&path_of(&hash_b), Duration::from_secs(3600));
    // A restart that uses A marks it as used: B is now the oldest used.
    let second = PluginHost::new(Some(dir.path().to_path_buf())).unwrap();
    second.load(&a).unwrap();
    assert!(modified(&path_of(&hash_a)) > modified(&path_of(&hash_b)));
    // Leftovers of a crashed writer go; a file another writer is writing stays.
    let stale = dir.path().join("dead.cwasm.1.1.tmp");
    let fresh = dir.path().join("busy.cwasm.2.2.tmp");
    std::fs::write(&stale, b"x").unwrap();
    std::fs::write(&fresh, b"x").unwrap();
    set_age(&stale, Duration::from_secs(3600));
    // Room for A and C but not for all three: writing C evicts B.
    let third = PluginHost::with_options(
        Some(dir.path().to_path_buf()),
        HostOptions { disk_cache_bytes: size_a + size_c, ..HostOptions::default() },
    )
    .unwrap();
    let hash_c = third.load(&c).unwrap().hash;
    let left = cache_files(dir.path());
    assert_eq!(left.len(), 3, "{left:?}");
    assert!(left.iter().any(|n| n.starts_with(&hash_a)) && left.iter().any(|n| n.starts_with(&hash_c)), "{left:?}");
    assert!(!left.iter().any(|n| n.starts_with(&hash_b)), "{left:?}");
    assert!(left.contains(&"busy.cwasm.2.2.tmp".to_owned()), "{left:?}");
}

#[test]
fn a_component_that_misses_the_compile_budget_is_refused_and_not_cached() {
    let dir = tempfile::tempdir().unwrap();
    let host = PluginHost::new(Some(dir.path().to_path_buf())).unwrap();
    let bytes = frozen_keyword_reply_1_0_0();
    // Compiling takes milliseconds; a microsecond is always too short.
    let f = host.load_within(bytes, Duration::from_micros(1)).unwrap_err();
    assert_eq!(f.kind, FailureKind::Invalid);
    assert_eq!(f.message, "did not compile within 0.000001 s");
    // The compiler thread caches nothing, even once it finishes.
    assert!(cache_files(dir.path()).is_empty());
    let p = host.load_within(bytes, COMPILE_BUDGET).unwrap();
    assert_eq!(p.version, "1.0.0");
    assert_eq!(cache_files(dir.path()).len(), 1);
}

const HOUR_MS: u64 = 3_600_000;
const NOW_MS: u64 = 1_700_000_000_000;

fn waiting(id: i64, hours: u64, language: Option<&str>) -> DeskTicket {
    DeskTicket {
        ticket_id: id,
        title: format!("Ticket {id}"),
        status: TicketStatus::WaitingResponse,
        priority: Priority::Normal,
        category: None,
        team: None,
        assignee: Some("ann_agent".into()),
        tags: vec![],
        customer_telegram_id: 1000 + id,
        customer_name: "Ann".into(),
        customer_username: None,
        language_code: language.map(str::to_owned),
        opened_at: NOW_MS - (hours + 1) * HOUR_MS,
        last_message_at: NOW_MS - hours * HOUR_MS,
        breached_at: None,
    }
}

fn schedule(tickets: Vec<DeskTicket>) -> ScheduleEvent {
    let total = tickets.len() as u32;
    ScheduleEvent {
        scheduled_at: NOW_MS,
        now: NOW_MS,
        schedule: "0 * * * *".into(),
        waiting_at_least: 0,
        waiting: tickets,
        waiting_total: total,
        unassigned: vec![],
        unassigned_total: 0,
        waiting_for_staff: vec![],
        waiting_for_staff_total: 0,
        breached: vec![],
        breached_total: 0,
    }
}

fn replies(out: &[TicketAction]) -> Vec<(i64, String)> {
    out.iter()
        .map(|a| match &a.action {
            Action::Reply { text, buttons } if buttons.is_empty() => (a.ticket_id, text.clone()),
            other => panic!("expected a plain reply, got {other:?}"),
        })
        .collect()
}

const NUDGE: &str = r#"{"after_hours": 24, "text": "Hi {name}, is “{title}” (#{number}) sorted?", "texts": {"de": "Hallo {name}, ist #{number} erledigt?"}}"#;

#[test]
fn nudge_reminds_each_ticket_waiting_past_the_threshold_once_per_wait() {
    let host = PluginHost::new(None).unwrap();
    let p = load(&host, "nudge");
    assert_eq!(p.version, "1.2.0");
    assert!(p.handles_schedule() && p.handles_buttons());
    let event = schedule(vec![waiting(3, 1, None), waiting(2, 25, None), waiting(1, 30, Some("de-AT"))]);
    let first = host.on_schedule(&p, ctx(NUDGE), &event).unwrap();
    assert_eq!(
        replies(&first.output),
        vec![(2, "Hi Ann, is “Ticket 2” (#2) sorted?".to_owned()), (1, "Hallo Ann, ist #1 erledigt?".to_owned())],
        "only the tickets past 24 hours, each in its customer's language"
    );
    assert!(first.usage.fuel > 0 && first.usage.fuel < FUEL_PER_CALL);

    // The next run, with the store the desk saved: nothing more.
    let mut c = ctx(NUDGE);
    c.kv = first.kv.clone();
    let again = host.on_schedule(&p, c.clone(), &event).unwrap();
    assert!(again.output.is_empty(), "{:?}", again.output);

    // Ticket 3 crosses the threshold later; ticket 2's customer answered and
    // the desk answered again (a new wait); ticket 1 stopped waiting.
    let later = schedule(vec![waiting(3, 24, None), waiting(2, 26, None)]);
    let mut moved = later.clone();
    moved.waiting[1].last_message_at += 1;
    let out = host.on_schedule(&p, c, &moved).unwrap();
    assert_eq!(replies(&out.output).iter().map(|r| r.0).collect::<Vec<_>>(), vec![3, 2]);
    let remembered: serde_json::Value = serde_json::from_str(&out.kv["nudged"]).unwrap();
    assert_eq!(remembered.as_object().unwrap().keys().collect::<Vec<_>>(), ["2", "3"], "ticket 1's wait is forgotten: {remembered}");

    // No more than a call may return; the rest at the next run.
    let many = schedule((1..=40).map(|i| waiting(i, 48, None)).collect());
    let out = host.on_schedule(&p, ctx(NUDGE), &many).unwrap();
    assert_eq!(out.output.len(), MAX_ACTIONS);
    let mut c = ctx(NUDGE);
    c.kv = out.kv;
    assert_eq!(host.on_schedule(&p, c, &many).unwrap().output.len(), MAX_ACTIONS);
    // A broken config sends nothing and says why.
    let out = host.on_schedule(&p, ctx(r#"{"after_hours": "soon"}"#), &event).unwrap();
    assert!(out.output.is_empty() && out.logs.iter().any(|l| l.level == "error"), "{:?}", out.logs);
}

const AUTO_CLOSE: &str = r##"{"after_days": 5, "text": "No answer on “{title}” (#{number}) for {days} days, {name}: closing it.", "texts": {"de": "#{number} wird geschlossen."}}"##;

fn actions_of(out: &[TicketAction]) -> Vec<(i64, Action)> {
    out.iter().map(|a| (a.ticket_id, a.action.clone())).collect()
}

fn days_waiting(id: i64, days: u64) -> DeskTicket {
    waiting(id, days * 24, None)
}

/// An event of contract 1.3.0: tickets in each list.
fn desk(waiting_for_customer: Vec<DeskTicket>, unassigned: Vec<DeskTicket>, breached: Vec<DeskTicket>) -> ScheduleEvent {
    ScheduleEvent {
        unassigned_total: unassigned.len() as u32,
        unassigned,
        breached_total: breached.len() as u32,
        breached,
        ..schedule(waiting_for_customer)
    }
}

#[test]
fn auto_close_tells_the_customer_then_closes_each_ticket_waiting_past_its_days_once() {
    let host = PluginHost::new(None).unwrap();
    let p = load(&host, "auto-close");
    assert_eq!(p.version, "1.3.0");
    assert!(p.handles_schedule() && p.handles_buttons());
    // Ticket 1 waited 6 days, ticket 2 two; ticket 3 is only unassigned.
    let event = desk(vec![days_waiting(2, 2), days_waiting(1, 6)], vec![waiting(3, 200, None)], vec![]);
    let first = host.on_schedule(&p, ctx(AUTO_CLOSE), &event).unwrap();
    assert_eq!(
        actions_of(&first.output),
        vec![
            (1, Action::Reply { text: "No answer on “Ticket 1” (#1) for 5 days, Ann: closing it.".into(), buttons: vec![] }),
            (1, Action::SetStatus { status: TicketStatus::Closed }),
        ],
        "told first, then closed; only the ticket past 5 days"
    );
    assert!(first.logs.iter().any(|l| l.level == "info" && l.message.starts_with("closing #1")), "{:?}", first.logs);
    // Had the desk not closed it, the next run would not tell the customer again.
    let mut c = ctx(AUTO_CLOSE);
    c.kv = first.kv.clone();
    assert!(host.on_schedule(&p, c, &event).unwrap().output.is_empty());
    // `resolved` instead, and the customer's language.
    let cfg = r##"{"after_days": 0.5, "status": "resolved", "texts": {"de": "#{number} wird geschlossen."}}"##;
    let out = host.on_schedule(&p, ctx(cfg), &desk(vec![waiting(4, 13, Some("de-CH"))], vec![], vec![])).unwrap();
    assert_eq!(
        actions_of(&out.output),
        vec![(4, Action::Reply { text: "#4 wird geschlossen.".into(), buttons: vec![] }), (4, Action::SetStatus { status: TicketStatus::Resolved })]
    );
    // At most 8 a run (two actions each), the longest waits first.
    let many = desk((1..=12).map(|i| days_waiting(i, 5 + i as u64)).collect(), vec![], vec![]);
    let out = host.on_schedule(&p, ctx(AUTO_CLOSE), &many).unwrap();
    assert_eq!(out.output.len(), MAX_ACTIONS);
    let closed: Vec<i64> = out.output.iter().filter(|a| matches!(a.action, Action::SetStatus { .. })).map(|a| a.ticket_id).collect();
    assert_eq!(closed, vec![12, 11, 10, 9, 8, 7, 6, 5]);
    // A bad config does nothing and says why.
    for bad in [r#"{"status": "deleted"}"#, r#"{"after_days": -1}"#, "not json"] {
        let out = host.on_schedule(&p, ctx(bad), &event).unwrap();
        assert!(out.output.is_empty() && out.logs.iter().any(|l| l.level == "error"), "{bad}: {:?}", out.logs);
    }
}

#[test]
fn escalate_tags_gives_to_a_team_and_reminds_once_for_unassigned_and_breached_tickets() {
    let host = PluginHost::new(None).unwrap();
    let p = load(&host, "escalate");
    assert_eq!(p.version, "1.3.0");
    let unassigned = |id: i64, hours: u64| DeskTicket { assignee: None, status: TicketStatus::Open, opened_at: NOW_MS - hours * HOUR_MS, ..waiting(id, hours, None) };
    let breached = DeskTicket { breached_at: Some(NOW_MS - 90 * 60 * 1000), status: TicketStatus::InProgress, ..waiting(7, 5, None) };
    let done = DeskTicket { tags: vec!["Escalated".into()], ..unassigned(9, 10) };
    let event = desk(vec![], vec![unassigned(5, 3), unassigned(6, 1), done], vec![breached]);
    let out = host.on_schedule(&p, ctx(r#"{"unassigned_hours": 2, "team": "Tier 2"}"#), &event).unwrap();
    assert_eq!(
        actions_of(&out.output),
        vec![
            (7, Action::Tag { tag: "sla-breached".into() }),
            (7, Action::SetPriority { priority: Priority::High }),
            (7, Action::Remind { text: "past its service-level target for 1.5 h; raised to high priority".into() }),
            (5, Action::Tag { tag: "escalated".into() }),
            (5, Action::Assign { to: "Tier 2".into() }),
            (5, Action::Remind { text: "unassigned for 3.0 h; given to Tier 2".into() }),
        ],
        "ticket 6 is too young, ticket 9 was escalated before"
    );
    let serialized = serde_json::to_value(&out.output[2]).unwrap();
    assert_eq!(serialized, serde_json::json!({"ticket_id": 7, "action": "remind", "text": "past its service-level target for 1.5 h; raised to high priority"}));
}

#[test]
fn a_1_3_0_event_past_the_input_cap_is_refused_but_a_1_2_0_plugin_is_charged_only_for_what_it_sees() {
    let host = PluginHost::new(None).unwrap();
    let v120 = host.load(frozen_nudge_1_2_0()).unwrap();
    let v130 = load(&host, "auto-close");
    let crowd: Vec<DeskTicket> = (0..400).map(|i| DeskTicket { title: "x".repeat(40), ..waiting(100 + i, 1, None) }).collect();
    let event = desk(vec![waiting(1, 30, None)], crowd, vec![]);
    assert!(event.input_bytes() > MAX_INPUT_BYTES);
    assert_eq!(host.on_schedule(&v130, ctx(AUTO_CLOSE), &event).unwrap_err().kind, FailureKind::InputTooLarge);
    let out = host.on_schedule(&v120, ctx(NUDGE), &event).unwrap();
    assert_eq!(replies(&out.output).iter().map(|r| r.0).collect::<Vec<_>>(), vec![1], "it sees only the waiting ticket");
}

#[test]
fn components_of_contracts_1_0_0_to_1_3_0_run_side_by_side() {
    let host = PluginHost::new(None).unwrap();
    let v100 = host.load(frozen_keyword_reply_1_0_0()).unwrap();
    let v110 = host.load(frozen_keyword_reply_1_1_0()).unwrap();
    let v120 = host.load(frozen_nudge_1_2_0()).unwrap();
    let v130 = load(&host, "auto-close");
    assert_eq!((v100.version, v110.version, v120.version, v130.version), ("1.0.0", "1.1.0", "1.2.0", "1.3.0"));
    assert_eq!((v100.handles_schedule(), v110.handles_schedule(), v120.handles_schedule(), v130.handles_schedule()), (false, false, true, true));
    // The nudge example built today still targets 1.2.0 (its SDK feature).
    assert_eq!(load(&host, "nudge").version, "1.2.0");
    // The frozen 1.2.0 nudge and the 1.3.0 auto-close, on one desk's event:
    // each sees the tickets waiting for their customer.
    let both = desk(vec![days_waiting(1, 6)], vec![waiting(2, 200, None)], vec![]);
    assert_eq!(replies(&host.on_schedule(&v120, ctx(NUDGE), &both).unwrap().output), vec![(1, "Hi Ann, is “Ticket 1” (#1) sorted?".to_owned())]);
    assert_eq!(host.on_schedule(&v130, ctx(AUTO_CLOSE), &both).unwrap().output.len(), 2);
    // And the older hooks of each.
    assert!(host.on_message(&v130, ctx(AUTO_CLOSE), &msg("hi")).unwrap().output.is_empty());
    assert!(host.on_button(&v120, ctx(NUDGE), &button("x")).unwrap().output.is_empty());

    // The frozen 1.1.0 component still answers messages and buttons as built.
    let refund = Action::Reply { text: "Refunds take 5 days.".into(), buttons: vec![] };
    assert_eq!(host.on_message(&v110, ctx(KEYWORDS), &msg("refund please")).unwrap().output, vec![refund.clone()]);
    assert_eq!(host.on_message(&v100, ctx(KEYWORDS), &msg("refund please")).unwrap().output, vec![refund]);
    let out = host.on_button(&v110, ctx(WITH_BUTTONS), &button("refund-how")).unwrap();
    assert_eq!(out.output, vec![Action::Reply { text: "Reply with your order number.".into(), buttons: vec![] }]);

    // Older contracts have no on-schedule: not called, nothing used, the
    // store handed back untouched.
    let event = schedule(vec![waiting(1, 30, None)]);
    for old in [&v100, &v110] {
        let mut c = ctx(KEYWORDS);
        c.kv.insert("seen".into(), "1".into());
        let out = host.on_schedule(old, c.clone(), &event).unwrap();
        assert!(out.output.is_empty() && out.logs.is_empty());
        assert_eq!(out.kv, c.kv);
        assert_eq!((out.usage.fuel, out.usage.peak_memory_bytes, out.usage.elapsed), (0, 0, Duration::ZERO));
    }
    // A 1.2.0 plugin built from the SDK's defaults answers the older hooks.
    assert!(host.on_message(&v120, ctx(NUDGE), &msg("hi")).unwrap().output.is_empty());
    assert!(host.on_button(&v120, ctx(NUDGE), &button("x")).unwrap().output.is_empty());

    // `run` (what `tikethet plugin run` calls) takes the event as a desk records it.
    let input = serde_json::to_string(&HookEvent::OnSchedule(event.clone())).unwrap();
    assert!(input.contains(r#""hook":"on-schedule""#), "{input}");
    let replayed: HookEvent = serde_json::from_str(&input).unwrap();
    match host.run(&v120, ctx(NUDGE), &replayed).unwrap().output {
        HookOutput::TicketActions(a) => {
            assert_eq!(a.len(), 1);
            assert_eq!(serde_json::to_value(&a[0]).unwrap()["action"], "reply");
        }
        other => panic!("expected ticket actions, got {other:?}"),
    }
}

fn hostile_schedule(host: &PluginHost, p: &Loaded, mode: &str, event: &ScheduleEvent) -> Result<Vec<TicketAction>, tikethet_plugins::Failure> {
    host.on_schedule(p, ctx(&format!(r#"{{"mode": "{mode}"}}"#)), event).map(|o| o.output)
}

#[test]
fn on_schedule_runs_under_the_same_limits() {
    let host = PluginHost::new(None).unwrap();
    let p = load(&host, "hostile");
    assert_eq!(p.version, "1.2.0");
    let event = schedule(vec![waiting(7, 30, None), waiting(8, 2, None)]);
    assert_eq!(
        replies(&hostile_schedule(&host, &p, "ok", &event).unwrap()),
        vec![(7, "scheduled: Ticket 7".to_owned()), (8, "scheduled: Ticket 8".to_owned())]
    );
    for (mode, kind) in [
        ("loop", FailureKind::OutOfFuel),
        ("memory", FailureKind::OutOfMemory),
        ("trap", FailureKind::Trap),
        ("flood", FailureKind::BadOutput),
        ("huge-reply", FailureKind::BadOutput),
    ] {
        let started = Instant::now();
        let f = hostile_schedule(&host, &p, mode, &event).expect_err(mode);
        assert_eq!(f.kind, kind, "{mode}: {f}");
        assert!(started.elapsed() < Duration::from_secs(2), "{mode} took {:?}", started.elapsed());
    }
    let out = host.on_schedule(&p, ctx(r#"{"mode": "kv-flood"}"#), &event).unwrap();
    assert_eq!(out.kv.len(), MAX_KV_KEYS);
    // The event is refused before the plugin runs past the input cap: by
    // its text, or by the number of tickets however short their text.
    let mut long = event.clone();
    long.waiting[0].title = "x".repeat(MAX_INPUT_BYTES);
    assert_eq!(hostile_schedule(&host, &p, "ok", &long).unwrap_err().kind, FailureKind::InputTooLarge);
    let many = schedule((0..1000).map(|i| DeskTicket { title: String::new(), customer_name: String::new(), language_code: None, assignee: None, ..waiting(i, 30, None) }).collect());
    assert!(many.input_bytes() > MAX_INPUT_BYTES);
    assert_eq!(hostile_schedule(&host, &p, "ok", &many).unwrap_err().kind, FailureKind::InputTooLarge);
    // And the CPU-time deadline stops what fuel would not.
    let patient = PluginHost::with_options(None, HostOptions { fuel_per_call: u64::MAX / 2, ..HostOptions::default() }).unwrap();
    let p = load(&patient, "hostile");
    assert_eq!(hostile_schedule(&patient, &p, "loop", &event).unwrap_err().kind, FailureKind::Timeout);
}

#[test]
fn a_component_importing_1_2_0_without_on_schedule_is_refused() {
    let host = PluginHost::new(None).unwrap();
    // Imports 1.2.0 but exports only the 1.1.0 world (no on-schedule).
    let bytes = renamed(
        frozen_keyword_reply_1_1_0(),
        &[("tikethet:plugin/host@1.1.0", "tikethet:plugin/host@1.2.0"), ("tikethet:plugin/types@1.1.0", "tikethet:plugin/types@1.2.0")],
    );
    let f = host.load(&bytes).unwrap_err();
    assert_eq!(f.kind, FailureKind::Invalid);
    assert!(f.message.contains("contract 1.2.0") && f.message.contains("on-schedule"), "{}", f.message);
}
