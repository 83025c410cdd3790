//! The host against real components built from `examples/` and
//! `testdata/` with the wasm toolchain.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use tikethet_plugins::build::build_bundled;
use tikethet_plugins::limits::*;
use tikethet_plugins::{Action, CallContext, FailureKind, HostOptions, Loaded, MessageEvent, PluginHost, Priority, TicketEvent};

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
    ] {
        let started = Instant::now();
        let f = hostile(&host, &p, mode).expect_err(mode);
        assert_eq!(f.kind, kind, "{mode}: {f}");
        assert!(!f.message.is_empty() && !f.message.contains('\n'), "{mode}: {:?}", f.message);
        assert!(started.elapsed() < Duration::from_secs(2), "{mode} took {:?}", started.elapsed());
    }
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
fn the_wall_clock_deadline_stops_what_fuel_would_not() {
    let host = PluginHost::with_options(None, HostOptions { fuel_per_call: u64::MAX / 2, ..HostOptions::default() }).unwrap();
    let p = load(&host, "hostile");
    let started = Instant::now();
    let f = hostile(&host, &p, "loop").unwrap_err();
    assert_eq!(f.kind, FailureKind::Timeout, "{f}");
    let budget = EPOCH_TICK * DEADLINE_TICKS as u32;
    assert!(started.elapsed() >= budget - EPOCH_TICK && started.elapsed() < budget * 20, "{:?}", started.elapsed());
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
    assert_eq!(p.version, "1.0.0");
}
