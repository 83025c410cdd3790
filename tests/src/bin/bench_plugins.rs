//! Benchmark of the plugin host with the real example plugins
//! (`keyword-reply`, `out-of-hours`, `router`), configured as a desk would:
//!
//! 1. per-call latency of each, one thread, a fresh store per call;
//! 2. the memory of `--tenants` tenants each with a plugin of its own: the
//!    three examples in turn, each copy made distinct by a custom section
//!    naming the tenant (so its hash, and its compiled code, are its own, as
//!    two tenants' uploads would be), compiled and called once;
//! 3. concurrent calls: N threads calling at once, p50/p99 and throughput.
//!
//! `cargo run --release -p tikethet-tests --bin bench-plugins`

use std::collections::HashSet;
use std::time::{Duration, Instant};

use clap::Parser;
use tikethet_plugins::build::build_bundled;
use tikethet_plugins::{CallContext, Loaded, MessageEvent, PluginHost, Priority, TicketEvent};

#[derive(Parser)]
struct Args {
    /// Calls per measurement.
    #[arg(long, default_value_t = 20_000)]
    calls: usize,
    #[arg(long, default_value_t = 1_000)]
    tenants: usize,
    /// Thread counts for the concurrent runs, comma-separated.
    #[arg(long, default_value = "1,2,4,8")]
    threads: String,
}

fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

/// The same component with a custom section (id 0, allowed anywhere in a
/// component) that makes its bytes, and so its hash and compiled code, its own.
fn distinct(component: &[u8], n: usize) -> Vec<u8> {
    fn leb(mut v: usize, out: &mut Vec<u8>) {
        loop {
            let b = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                out.push(b);
                break;
            }
            out.push(b | 0x80);
        }
    }
    let name = b"tenant";
    let payload = n.to_le_bytes();
    let mut body = Vec::new();
    leb(name.len(), &mut body);
    body.extend_from_slice(name);
    body.extend_from_slice(&payload);
    let mut out = component.to_vec();
    out.push(0);
    leb(body.len(), &mut out);
    out.extend_from_slice(&body);
    out
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)].as_secs_f64() * 1e6
}

/// One example plugin as a desk runs it: its config and the call it gets.
struct Example {
    name: &'static str,
    config: &'static str,
}

const EXAMPLES: &[Example] = &[
    Example { name: "keyword-reply", config: r#"{"rules": [{"keywords": ["order", "where"], "answer": "Orders ship in 2 days."}, {"keywords": ["refund"], "answer": "Refunds take 5 days."}]}"# },
    // Closed every day at every hour: it answers, and writes its key-value store.
    Example { name: "out-of-hours", config: r#"{"open": "00:00", "close": "00:00", "weekdays": [], "message": "We are closed; back at 9:00."}"# },
    Example { name: "router", config: r#"{"routes": [{"keywords": ["order"], "category": "shipping", "priority": "high"}], "agents": ["alice", "bob"]}"# },
];

fn message() -> MessageEvent {
    MessageEvent {
        ticket_id: Some(1),
        customer_telegram_id: 42,
        customer_name: "Ann".into(),
        customer_username: Some("ann".into()),
        language_code: Some("en".into()),
        text: "Where is my order?".into(),
        sent_at: 1_700_000_000_000,
    }
}

fn ticket() -> TicketEvent {
    TicketEvent {
        ticket_id: 1,
        title: "Where is my order?".into(),
        description: "Ordered last week".into(),
        priority: Priority::Normal,
        customer_telegram_id: 42,
        customer_name: "Ann".into(),
    }
}

/// Calls the hook the example acts on; fails on any plugin failure.
fn call(host: &PluginHost, plugin: &Loaded, ex: &Example) -> anyhow::Result<()> {
    let ctx = CallContext { config: ex.config.into(), kv: Default::default(), now_ms: 1_700_000_000_000 };
    if ex.name == "router" {
        let out = host.on_ticket_created(plugin, ctx, &ticket()).map_err(|f| anyhow::anyhow!("{}: {f}", ex.name))?;
        anyhow::ensure!(out.output.category.as_deref() == Some("shipping"), "router did not route: {:?}", out.output);
    } else {
        let out = host.on_message(plugin, ctx, &message()).map_err(|f| anyhow::anyhow!("{}: {f}", ex.name))?;
        anyhow::ensure!(out.output.len() == 1, "{} did not answer: {:?}", ex.name, out.output);
    }
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let host = PluginHost::new(None)?;
    println!("pooling allocator: {}", host.pooling);
    let mut components = Vec::new();
    for ex in EXAMPLES {
        let bytes = std::fs::read(build_bundled(ex.name)?)?;
        let plugin = host.load(&bytes).map_err(|f| anyhow::anyhow!("{f}"))?;
        components.push((ex, bytes, plugin));
    }

    // 1. One thread, each example.
    for (ex, bytes, plugin) in &components {
        for _ in 0..1_000 {
            call(&host, plugin, ex)?;
        }
        let mut lat = Vec::with_capacity(args.calls);
        for _ in 0..args.calls {
            let t = Instant::now();
            call(&host, plugin, ex)?;
            lat.push(t.elapsed());
        }
        lat.sort();
        println!(
            "{} ({} KiB), one thread, {} calls: p50 {:.1} µs, p99 {:.1} µs, max {:.1} µs",
            ex.name,
            bytes.len() / 1024,
            args.calls,
            pct(&lat, 0.50),
            pct(&lat, 0.99),
            lat.last().unwrap().as_secs_f64() * 1e6
        );
    }

    // 2. Memory of many tenants, each with a distinct copy of an example.
    let before = rss_bytes();
    let started = Instant::now();
    let mut loaded = Vec::with_capacity(args.tenants);
    let mut hashes = HashSet::new();
    for n in 0..args.tenants {
        let (ex, bytes, _) = &components[n % components.len()];
        let plugin = host.load(&distinct(bytes, n)).map_err(|f| anyhow::anyhow!("{f}"))?;
        hashes.insert(plugin.hash.clone());
        loaded.push((*ex, plugin));
    }
    let compiled = started.elapsed();
    anyhow::ensure!(hashes.len() == args.tenants, "only {} distinct components of {}", hashes.len(), args.tenants);
    for (ex, p) in &loaded {
        call(&host, p, ex)?;
    }
    let after = rss_bytes();
    println!(
        "{} tenants, each with its own copy of one of the 3 examples ({} distinct hashes): compiled and ready in {:.1} s; RSS +{:.1} MiB ({:.0} KiB per tenant), {:.1} MiB in all",
        args.tenants,
        hashes.len(),
        compiled.as_secs_f64(),
        (after.saturating_sub(before)) as f64 / 1048576.0,
        (after.saturating_sub(before)) as f64 / 1024.0 / args.tenants.max(1) as f64,
        after as f64 / 1048576.0
    );

    // 3. Concurrent calls: every thread calls its tenants' plugins at once.
    for threads in args.threads.split(',').map(|t| t.trim().parse::<usize>()) {
        let threads = threads?.max(1);
        let per_thread = (args.calls / threads).max(1);
        let barrier = std::sync::Barrier::new(threads);
        let t0 = Instant::now();
        let results: Vec<anyhow::Result<Vec<Duration>>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads)
                .map(|i| {
                    let (host, loaded, barrier) = (&host, &loaded, &barrier);
                    s.spawn(move || {
                        let mut lat = Vec::with_capacity(per_thread);
                        barrier.wait();
                        for k in 0..per_thread {
                            let (ex, p) = &loaded[(i * 7919 + k) % loaded.len()];
                            let t = Instant::now();
                            call(host, p, ex)?;
                            lat.push(t.elapsed());
                        }
                        Ok(lat)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().expect("a bench thread panicked")).collect()
        });
        let wall = t0.elapsed();
        let mut lat = Vec::new();
        for r in results {
            lat.extend(r?);
        }
        lat.sort();
        println!(
            "{threads} thread(s) calling at once, {} calls over {} tenants' plugins: {:.0} calls/s; p50 {:.1} µs, p99 {:.1} µs, max {:.1} µs",
            lat.len(),
            loaded.len(),
            lat.len() as f64 / wall.as_secs_f64(),
            pct(&lat, 0.50),
            pct(&lat, 0.99),
            lat.last().unwrap().as_secs_f64() * 1e6
        );
    }
    Ok(())
}
