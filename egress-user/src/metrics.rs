//! Prometheus metrics, served on `--metrics-addr` at `/metrics`.
//!
//! Labels are bounded: tool names come from the policy, categories, detectors, actions and
//! reasons from fixed lists, libraries are file names of attached TLS libraries; never a
//! pid, a path or a value from a request. Counters the kernel side keeps (ring-buffer drops,
//! truncated captures, refused connects) are read from its per-CPU map just before each
//! scrape, so a scrape always sees them current.
use std::{collections::HashMap, net::SocketAddr, path::PathBuf, sync::Mutex, time::Duration};

use anyhow::Context as _;
use bytes::Bytes;
use http_body_util::Full;
use hyper::{Method, Request, Response, StatusCode, body::Incoming, service::service_fn};
use hyper_util::rt::TokioIo;
use prometheus::{
    Encoder as _, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder,
};
use tokio::{
    net::TcpListener,
    sync::{mpsc, oneshot},
};

use crate::{api::ApiCall, audit::AuditRecord};

pub const DEFAULT_ADDR: &str = "127.0.0.1:9464";

/// The tool label of a request that matched no tool (tool names cannot contain parentheses).
const NO_TOOL: &str = "(none)";

/// Latency buckets from 10 µs to 10 s: holds are sub-millisecond, reviews take minutes and
/// land in +Inf.
const LATENCY_BUCKETS: [f64; 13] =
    [0.000_01, 0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.1, 1.0, 10.0];

pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    findings: IntCounterVec,
    inspection_seconds: Histogram,
    hold_seconds: Histogram,
    bytes_inspected: IntCounterVec,
    kernel_events_lost: IntCounterVec,
    capture_gaps: IntCounter,
    truncated_captures: IntCounter,
    held_processes: IntGauge,
    review_queue_depth: IntGauge,
    review_decisions: IntCounterVec,
    review_notifications_failed: IntCounter,
    policy_reloads: IntCounterVec,
    attached_uprobes: IntGaugeVec,
    connects_refused: IntCounterVec,
    sends_dropped: IntCounter,
    fail_mode_writes: IntCounterVec,
    audit_records: IntCounter,
    audit_write_failures: IntCounter,
    /// Last value seen of each kernel counter, to turn totals into increments.
    kernel_seen: Mutex<HashMap<&'static str, u64>>,
}

/// The gauges the daemon's loop knows, given to [`Metrics::refresh`] before each scrape.
pub struct Snapshot<'a> {
    pub kernel_counters: &'a [(&'static str, u64)],
    pub held_processes: usize,
    pub review_queue_depth: usize,
    /// Files with uprobes attached, and how many each.
    pub uprobes: &'a [(PathBuf, usize)],
}

impl Metrics {
    pub fn new() -> anyhow::Result<Self> {
        let registry = Registry::new();
        let counter = |name: &str, help: &str| -> anyhow::Result<IntCounter> {
            let metric = IntCounter::new(name, help)?;
            registry.register(Box::new(metric.clone()))?;
            Ok(metric)
        };
        let counter_vec = |name: &str, help: &str, labels: &[&str]| -> anyhow::Result<IntCounterVec> {
            let metric = IntCounterVec::new(Opts::new(name, help), labels)?;
            registry.register(Box::new(metric.clone()))?;
            Ok(metric)
        };
        let gauge = |name: &str, help: &str| -> anyhow::Result<IntGauge> {
            let metric = IntGauge::new(name, help)?;
            registry.register(Box::new(metric.clone()))?;
            Ok(metric)
        };
        let histogram = |name: &str, help: &str| -> anyhow::Result<Histogram> {
            let metric = Histogram::with_opts(HistogramOpts::new(name, help).buckets(LATENCY_BUCKETS.to_vec()))?;
            registry.register(Box::new(metric.clone()))?;
            Ok(metric)
        };
        let attached_uprobes = IntGaugeVec::new(
            Opts::new("egress_attached_uprobes", "uprobes attached, by TLS library file name"),
            &["library"],
        )?;
        registry.register(Box::new(attached_uprobes.clone()))?;
        Ok(Self {
            requests: counter_vec(
                "egress_requests_inspected_total",
                "requests decided, by tool and the action the policy gave",
                &["tool", "action"],
            )?,
            findings: counter_vec(
                "egress_findings_total",
                "sensitive-content findings in requests, by category and detector",
                &["category", "detector"],
            )?,
            inspection_seconds: histogram(
                "egress_inspection_duration_seconds",
                "time to parse, scan and decide one write",
            )?,
            hold_seconds: histogram(
                "egress_hold_duration_seconds",
                "time an agent thread was held, from its SSL_write to its resumption",
            )?,
            bytes_inspected: counter_vec(
                "egress_bytes_inspected_total",
                "plaintext bytes inspected, by direction (request: SSL_write, response: SSL_read)",
                &["direction"],
            )?,
            kernel_events_lost: counter_vec(
                "egress_kernel_events_lost_total",
                "events the kernel side could not deliver or act on, by reason; any is inspection lost",
                &["reason"],
            )?,
            capture_gaps: counter(
                "egress_capture_gaps_total",
                "monitor-mode writes whose chunks arrived incomplete (recorded truncated)",
            )?,
            truncated_captures: counter(
                "egress_truncated_captures_total",
                "monitor-mode writes longer than capture_max_bytes (recorded truncated)",
            )?,
            held_processes: gauge("egress_held_processes", "agent threads held by egress now")?,
            review_queue_depth: gauge("egress_review_queue_depth", "requests waiting for a reviewer now")?,
            review_decisions: counter_vec(
                "egress_review_decisions_total",
                "reviews ended, by decision (approved, denied, expired, abandoned)",
                &["decision"],
            )?,
            review_notifications_failed: counter(
                "egress_review_notifications_failed_total",
                "review webhook notifications that could not be delivered",
            )?,
            policy_reloads: counter_vec("egress_policy_reloads_total", "policy reloads, by result", &["result"])?,
            attached_uprobes,
            connects_refused: counter_vec(
                "egress_connects_refused_total",
                "connect() calls refused (in monitor mode: reported), by reason",
                &["reason"],
            )?,
            sends_dropped: counter("egress_sends_dropped_total", "TLS sends dropped in the kernel (blocked writes)")?,
            fail_mode_writes: counter_vec(
                "egress_fail_mode_writes_total",
                "TLS writes while no daemon was alive, by what the fail mode did (passed, dropped)",
                &["outcome"],
            )?,
            audit_records: counter("egress_audit_records_total", "audit records written")?,
            audit_write_failures: counter(
                "egress_audit_write_failures_total",
                "audit records that could not be written (their requests were blocked)",
            )?,
            kernel_seen: Mutex::new(HashMap::new()),
            registry,
        })
    }

    /// Counts one decided request: its tool and action, and its findings.
    pub fn count_request(&self, record: &AuditRecord) {
        let tool = record.tool.as_deref().unwrap_or(NO_TOOL);
        self.requests.with_label_values(&[tool, record.action]).inc();
        for finding in &record.findings {
            self.findings.with_label_values(&[finding.category, finding.detector]).inc();
        }
    }

    pub fn count_audit_write(&self, written: bool) {
        if written { self.audit_records.inc() } else { self.audit_write_failures.inc() }
    }

    pub fn observe_inspection(&self, elapsed: Duration) {
        self.inspection_seconds.observe(elapsed.as_secs_f64());
    }

    pub fn observe_hold(&self, nanoseconds: u64) {
        self.hold_seconds.observe(nanoseconds as f64 / 1e9);
    }

    pub fn count_bytes(&self, response: bool, bytes: usize) {
        self.bytes_inspected.with_label_values(&[if response { "response" } else { "request" }]).inc_by(bytes as u64);
    }

    pub fn count_capture_gap(&self) {
        self.capture_gaps.inc();
    }

    /// `outcome` of a review: approved, denied, timed_out (counted as `expired`), abandoned.
    pub fn count_review_decision(&self, outcome: &str) {
        let decision = if outcome == "timed_out" { "expired" } else { outcome };
        self.review_decisions.with_label_values(&[decision]).inc();
    }

    pub fn count_review_notification_failed(&self) {
        self.review_notifications_failed.inc();
    }

    pub fn count_reload(&self, ok: bool) {
        self.policy_reloads.with_label_values(&[if ok { "ok" } else { "failed" }]).inc();
    }

    /// Brings the gauges and the kernel's counters up to date.
    pub fn refresh(&self, snapshot: &Snapshot<'_>) {
        self.held_processes.set(snapshot.held_processes as i64);
        self.review_queue_depth.set(snapshot.review_queue_depth as i64);
        self.attached_uprobes.reset();
        for (file, count) in snapshot.uprobes {
            let library = file.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default();
            self.attached_uprobes.with_label_values(&[&library]).add(*count as i64);
        }
        let mut seen = self.kernel_seen.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        for &(name, total) in snapshot.kernel_counters {
            let last = seen.insert(name, total).unwrap_or(0);
            let increment = total.saturating_sub(last);
            match name {
                "ringbuf_drops" => self.kernel_events_lost.with_label_values(&["ringbuf_full"]).inc_by(increment),
                "hold_signal_failed" => self.kernel_events_lost.with_label_values(&["hold_failed"]).inc_by(increment),
                "sockhash_full" => self.kernel_events_lost.with_label_values(&["socket_map_full"]).inc_by(increment),
                "read_user_failed" => self.kernel_events_lost.with_label_values(&["read_failed"]).inc_by(increment),
                "confine_failed" => self.kernel_events_lost.with_label_values(&["confine_failed"]).inc_by(increment),
                "capture_truncated" => self.truncated_captures.inc_by(increment),
                "connects_refused" => self.connects_refused.with_label_values(&["deny_destinations"]).inc_by(increment),
                "connects_confined" => self.connects_refused.with_label_values(&["code_exec"]).inc_by(increment),
                "sends_dropped" => self.sends_dropped.inc_by(increment),
                "uninspected_fail_open" => self.fail_mode_writes.with_label_values(&["passed"]).inc_by(increment),
                "denied_fail_closed" => self.fail_mode_writes.with_label_values(&["dropped"]).inc_by(increment),
                other => tracing::debug!("kernel counter {other} has no metric"),
            }
        }
    }

    /// The text exposition format.
    pub fn encode(&self) -> String {
        let mut buffer = Vec::new();
        if let Err(error) = TextEncoder::new().encode(&self.registry.gather(), &mut buffer) {
            tracing::error!("encoding metrics: {error}");
        }
        String::from_utf8_lossy(&buffer).into_owned()
    }
}

/// Binds the endpoint at start-up, so that a port in use stops the daemon with a clear error
/// before it attaches anything.
pub fn bind(addr: SocketAddr) -> anyhow::Result<std::net::TcpListener> {
    let listener = std::net::TcpListener::bind(addr)
        .with_context(|| format!("binding the metrics endpoint on {addr} (--metrics-addr)"))?;
    listener.set_nonblocking(true).context("making the metrics socket non-blocking")?;
    Ok(listener)
}

/// Serves `GET /metrics` until the listener fails. Each scrape first asks the daemon's loop
/// to refresh the gauges (through `calls`), then encodes.
pub async fn serve(listener: TcpListener, metrics: std::sync::Arc<Metrics>, calls: mpsc::Sender<ApiCall>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else { continue };
        let (metrics, calls) = (metrics.clone(), calls.clone());
        tokio::spawn(async move {
            let service = service_fn(move |request| scrape(request, metrics.clone(), calls.clone()));
            if let Err(error) =
                hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await
            {
                tracing::debug!("metrics connection: {error}");
            }
        });
    }
}

async fn scrape(
    request: Request<Incoming>,
    metrics: std::sync::Arc<Metrics>,
    calls: mpsc::Sender<ApiCall>,
) -> Result<Response<Full<Bytes>>, std::convert::Infallible> {
    if request.method() != Method::GET || request.uri().path() != "/metrics" {
        let mut response = Response::new(Full::new(Bytes::from_static(b"not found: try GET /metrics\n")));
        *response.status_mut() = StatusCode::NOT_FOUND;
        return Ok(response);
    }
    let (reply, refreshed) = oneshot::channel();
    // A daemon that is stopping cannot refresh: serve what was last counted.
    if calls.send(ApiCall::RefreshMetrics { reply }).await.is_ok() {
        let _ = refreshed.await;
    }
    let mut response = Response::new(Full::new(Bytes::from(metrics.encode())));
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::AuditFinding;

    fn value_of(text: &str, series: &str) -> Option<f64> {
        text.lines().find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
    }

    #[test]
    fn kernel_totals_become_increments_and_gauges_follow_the_snapshot() {
        let metrics = Metrics::new().expect("registers");
        let uprobes =
            [(PathBuf::from("/usr/lib/x86_64-linux-gnu/libssl.so.3"), 7), (PathBuf::from("/usr/bin/node"), 5)];
        let first = [("ringbuf_drops", 2), ("connects_confined", 1), ("capture_truncated", 0)];
        let snapshot =
            Snapshot { kernel_counters: &first, held_processes: 3, review_queue_depth: 1, uprobes: &uprobes };
        metrics.refresh(&snapshot);
        let second = [("ringbuf_drops", 5), ("connects_confined", 1), ("capture_truncated", 4)];
        metrics.refresh(&Snapshot { kernel_counters: &second, held_processes: 0, ..snapshot });
        let text = metrics.encode();
        assert_eq!(value_of(&text, r#"egress_kernel_events_lost_total{reason="ringbuf_full"}"#), Some(5.0), "{text}");
        assert_eq!(value_of(&text, r#"egress_connects_refused_total{reason="code_exec"}"#), Some(1.0));
        assert_eq!(value_of(&text, "egress_truncated_captures_total"), Some(4.0));
        assert_eq!(value_of(&text, "egress_held_processes"), Some(0.0));
        assert_eq!(value_of(&text, "egress_review_queue_depth"), Some(1.0));
        assert_eq!(value_of(&text, r#"egress_attached_uprobes{library="libssl.so.3"}"#), Some(7.0));
        assert!(!text.contains("/usr/lib"), "no paths in labels");
    }

    #[test]
    fn a_request_counts_its_tool_action_and_findings() {
        let metrics = Metrics::new().expect("registers");
        let finding = AuditFinding {
            category: "pii",
            detector: "email",
            json_path: Some("$.text".into()),
            part: None,
            action: "redact",
            rule: "tools[0].on_findings.pii".into(),
            start: 0,
            end: 5,
            confidence: 0.9,
            label: None,
            value_hash: "x".into(),
        };
        let policy = crate::policy::Policy::builtin_default();
        let writer = crate::inspector::Writer {
            pid: 1,
            comm: "curl".into(),
            cgroup: "/a".into(),
            tls_library: String::new(),
            peer: None,
            confined_to: None,
        };
        let mut record = crate::inspector::base_record(&policy, &writer, String::new());
        let unmatched = AuditRecord { action: "alert", ..record.clone() };
        (record.tool, record.action, record.findings) =
            (Some("slack".into()), "redact", vec![finding.clone(), finding]);
        metrics.count_request(&record);
        metrics.count_request(&unmatched);
        metrics.count_review_decision("timed_out");
        metrics.count_reload(false);
        let text = metrics.encode();
        assert_eq!(value_of(&text, r#"egress_requests_inspected_total{action="redact",tool="slack"}"#), Some(1.0));
        assert_eq!(value_of(&text, r#"egress_requests_inspected_total{action="alert",tool="(none)"}"#), Some(1.0));
        assert_eq!(value_of(&text, r#"egress_findings_total{category="pii",detector="email"}"#), Some(2.0));
        assert_eq!(value_of(&text, r#"egress_review_decisions_total{decision="expired"}"#), Some(1.0));
        assert_eq!(value_of(&text, r#"egress_policy_reloads_total{result="failed"}"#), Some(1.0));
    }
}
