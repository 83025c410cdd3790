//! Benchmark of the plugin host: per-call latency of a trivial plugin with a
//! fresh store per call, and the memory of 1,000 tenants each with a plugin
//! of its own (distinct components, each compiled and kept ready).
//!
//! `cargo run --release -p tikethet-tests --bin bench-plugins`

use std::time::{Duration, Instant};

use clap::Parser;
use tikethet_plugins::build::build_bundled;
use tikethet_plugins::{CallContext, MessageEvent, PluginHost};

#[derive(Parser)]
struct Args {
    #[arg(long, default_value_t = 20_000)]
    calls: usize,
    #[arg(long, default_value_t = 1_000)]
    tenants: usize,
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

/// The same component with a custom section that makes its bytes (and so
/// its hash and compiled code) its own.
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

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let bytes = std::fs::read(build_bundled("trivial")?)?;
    let host = PluginHost::new(None)?;
    println!("pooling allocator: {}", host.pooling);
    let plugin = host.load(&bytes).map_err(|f| anyhow::anyhow!("{f}"))?;
    let event = MessageEvent {
        ticket_id: Some(1),
        customer_telegram_id: 42,
        customer_name: "Ann".into(),
        customer_username: Some("ann".into()),
        language_code: Some("en".into()),
        text: "Where is my order?".into(),
        sent_at: 1_700_000_000_000,
    };
    let ctx = CallContext { config: "{}".into(), kv: Default::default(), now_ms: 1_700_000_000_000 };
    for _ in 0..1_000 {
        host.on_message(&plugin, ctx.clone(), &event).map_err(|f| anyhow::anyhow!("{f}"))?;
    }
    let mut lat = Vec::with_capacity(args.calls);
    for _ in 0..args.calls {
        let c = ctx.clone();
        let t = Instant::now();
        let out = host.on_message(&plugin, c, &event);
        lat.push(t.elapsed());
        out.map_err(|f| anyhow::anyhow!("{f}"))?;
    }
    lat.sort();
    println!(
        "trivial plugin, fresh store per call, {} calls: p50 {:.1} µs, p99 {:.1} µs, max {:.1} µs",
        args.calls,
        pct(&lat, 0.50),
        pct(&lat, 0.99),
        lat.last().unwrap().as_secs_f64() * 1e6
    );

    let before = rss_bytes();
    let started = Instant::now();
    let mut loaded = Vec::with_capacity(args.tenants);
    for n in 0..args.tenants {
        loaded.push(host.load(&distinct(&bytes, n)).map_err(|f| anyhow::anyhow!("{f}"))?);
    }
    let compiled = started.elapsed();
    for p in &loaded {
        host.on_message(p, ctx.clone(), &event).map_err(|f| anyhow::anyhow!("{f}"))?;
    }
    let after = rss_bytes();
    println!(
        "{} tenants with a distinct plugin each: compiled and ready in {:.1} s; RSS +{:.1} MiB ({:.0} KiB per tenant), {:.1} MiB in all",
        args.tenants,
        compiled.as_secs_f64(),
        (after.saturating_sub(before)) as f64 / 1048576.0,
        (after.saturating_sub(before)) as f64 / 1024.0 / args.tenants as f64,
        after as f64 / 1048576.0
    );
    Ok(())
}
