//! What `/metrics` shows of the runtime: counters of what it did, and
//! latency histograms (`prometheus-client`) of each stage: a webhook's
//! intake, an update's processing, a plugin call, a Bot API call, and the
//! platform's HTTP routes (observed by the platform, kept here so one
//! registry holds them all).
//!
//! Counters stay plain atomics rendered by the platform under the names the
//! contract already documents; the histograms are encoded by
//! `prometheus-client` in the Prometheus text format.

use std::future::Future;
use std::sync::atomic::AtomicU64;
use std::time::Instant;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Counters, and the stages' latency histograms.
pub struct Metrics {
    pub updates_processed: AtomicU64,
    pub updates_failed: AtomicU64,
    /// Failed tries that will be retried (storage errors, panics are not).
    pub updates_retried: AtomicU64,
    pub updates_panicked: AtomicU64,
    /// Customer messages kept for later because they would open a ticket
    /// over the plan's monthly limit.
    pub updates_over_limit: AtomicU64,
    /// Rows the retention job removed.
    pub rows_pruned: AtomicU64,
    pub tickets_opened: AtomicU64,
    pub messages_sent: AtomicU64,
    pub messages_failed: AtomicU64,
    pub plugin_failures: AtomicU64,
    /// Service-level passes over every desk with targets, and alerts sent.
    pub sla_passes: AtomicU64,
    pub sla_alerts: AtomicU64,
    /// Sends paced in this process because the shared limits (Redis) did
    /// not answer.
    pub sends_rate_limited_locally: AtomicU64,
    latency: Latency,
    registry: Registry,
}

/// The histograms, by stage.
#[derive(Clone)]
struct Latency {
    http: Family<HttpLabels, Histogram, fn() -> Histogram>,
    intake: Histogram,
    processing: Family<OutcomeLabels, Histogram, fn() -> Histogram>,
    plugin_calls: Family<HookLabels, Histogram, fn() -> Histogram>,
    telegram: Family<MethodLabels, Histogram, fn() -> Histogram>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    method: String,
    route: String,
    status: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HookLabels {
    hook: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MethodLabels {
    method: &'static str,
}

/// 0.5 ms to about 33 s, doubling: a cached page to a Bot API call that
/// hits its timeout.
fn buckets() -> Histogram {
    Histogram::new(exponential_buckets(0.0005, 2.0, 17))
}

impl Default for Metrics {
    fn default() -> Self {
        let latency = Latency {
            http: Family::new_with_constructor(buckets),
            intake: buckets(),
            processing: Family::new_with_constructor(buckets),
            plugin_calls: Family::new_with_constructor(buckets),
            telegram: Family::new_with_constructor(buckets),
        };
        let mut registry = Registry::with_prefix("tikethet");
        registry.register(
            "http_request_duration_seconds",
            "Time to answer an HTTP request, by method, route (ids and slugs left out) and status class",
            latency.http.clone(),
        );
        registry.register(
            "intake_duration_seconds",
            "Time from a Telegram webhook's arrival to its update stored and acknowledged",
            latency.intake.clone(),
        );
        registry.register(
            "processing_duration_seconds",
            "Time to handle one stored update (its transaction and plugin calls), by outcome",
            latency.processing.clone(),
        );
        registry.register("plugin_call_duration_seconds", "Time of one plugin call, by hook, waiting for the plugin pool included", latency.plugin_calls.clone());
        registry.register("telegram_call_duration_seconds", "Time of one Bot API call, by method", latency.telegram.clone());
        Metrics {
            updates_processed: AtomicU64::new(0),
            updates_failed: AtomicU64::new(0),
            updates_retried: AtomicU64::new(0),
            updates_panicked: AtomicU64::new(0),
            updates_over_limit: AtomicU64::new(0),
            rows_pruned: AtomicU64::new(0),
            tickets_opened: AtomicU64::new(0),
            messages_sent: AtomicU64::new(0),
            messages_failed: AtomicU64::new(0),
            plugin_failures: AtomicU64::new(0),
            sla_passes: AtomicU64::new(0),
            sla_alerts: AtomicU64::new(0),
            sends_rate_limited_locally: AtomicU64::new(0),
            latency,
            registry,
        }
    }
}

impl Metrics {
    /// One HTTP request answered. `route` must come from a bounded set
    /// (the platform's route patterns), never a raw path.
    pub fn observe_http(&self, method: &str, route: &str, status: u16, seconds: f64) {
        const CLASSES: [&str; 6] = ["0xx", "1xx", "2xx", "3xx", "4xx", "5xx"];
        let status = CLASSES.get(usize::from(status / 100)).copied().unwrap_or("5xx");
        let labels = HttpLabels { method: method.to_owned(), route: route.to_owned(), status };
        self.latency.http.get_or_create(&labels).observe(seconds);
    }

    pub(crate) fn observe_intake(&self, started: Instant) {
        self.latency.intake.observe(started.elapsed().as_secs_f64());
    }

    /// `outcome`: "done", "retry", "failed" or "left" (its chat taken over).
    pub(crate) fn observe_processing(&self, outcome: &'static str, started: Instant) {
        self.latency.processing.get_or_create(&OutcomeLabels { outcome }).observe(started.elapsed().as_secs_f64());
    }

    pub(crate) fn observe_plugin_call(&self, hook: &'static str, started: Instant) {
        self.latency.plugin_calls.get_or_create(&HookLabels { hook }).observe(started.elapsed().as_secs_f64());
    }

    /// Times a Bot API call.
    pub(crate) async fn telegram_call<T>(&self, method: &'static str, call: impl Future<Output = T>) -> T {
        let started = Instant::now();
        let out = call.await;
        self.latency.telegram.get_or_create(&MethodLabels { method }).observe(started.elapsed().as_secs_f64());
        out
    }

    /// The histograms in the Prometheus text format (without OpenMetrics'
    /// closing `# EOF`, so the platform can append its own lines).
    pub fn encode_histograms(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry).expect("writing to a String cannot fail");
        match out.strip_suffix("# EOF\n") {
            Some(body) => body.to_owned(),
            None => out,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn histograms_are_encoded_with_their_labels_and_buckets() {
        let m = Metrics::default();
        assert_eq!(m.telegram_call("sendMessage", async { 7 }).await, 7);
        m.observe_http("GET", "/t/{slug}/api/v1/tickets", 200, 0.003);
        m.observe_http("GET", "/t/{slug}/api/v1/tickets", 201, 0.004);
        m.observe_processing("done", Instant::now());
        let text = m.encode_histograms();
        assert!(text.contains("# TYPE tikethet_http_request_duration_seconds histogram"), "{text}");
        assert!(
            text.contains(r#"tikethet_http_request_duration_seconds_count{method="GET",route="/t/{slug}/api/v1/tickets",status="2xx"} 2"#),
            "{text}"
        );
        let bucket = |le: &str| {
            text.lines()
                .find(|l| l.starts_with("tikethet_http_request_duration_seconds_bucket{") && l.contains(&format!("le=\"{le}\"")))
                .and_then(|l| l.rsplit(' ').next())
                .map(str::to_owned)
        };
        assert_eq!(bucket("0.002").as_deref(), Some("0"), "{text}");
        assert_eq!(bucket("0.004").as_deref(), Some("2"), "3 ms and 4 ms are both within 4 ms: {text}");
        assert_eq!(bucket("+Inf").as_deref(), Some("2"), "{text}");
        assert!(text.contains(r#"tikethet_processing_duration_seconds_count{outcome="done"} 1"#), "{text}");
        assert!(text.contains("# TYPE tikethet_telegram_call_duration_seconds histogram"), "{text}");
        assert!(text.contains(r#"tikethet_telegram_call_duration_seconds_count{method="sendMessage"} 1"#), "{text}");
        assert!(text.contains("# HELP tikethet_intake_duration_seconds Time from a Telegram webhook's arrival to its update stored and acknowledged.\n"), "{text}");
        assert!(!text.contains("# EOF"), "{text}");
    }
}
