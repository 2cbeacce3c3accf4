//! The command-line side of a daemon's local API: `egress status` as text, and
//! `egress review watch`, which follows the review queue and prints each change as a line.
use std::{collections::BTreeMap, fmt::Write as _, path::Path, time::Duration};

use anyhow::Context as _;
use hyper::Method;
use serde_json::Value;

use crate::api;

/// `egress status` for people: one fact per line, lists indented.
pub fn render_status(status: &Value) -> String {
    let text = |pointer: &str| match status.pointer(pointer) {
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => "-".to_owned(),
    };
    let list = |pointer: &str| status.pointer(pointer).and_then(Value::as_array).cloned().unwrap_or_default();
    let mut out = String::new();
    let _ =
        writeln!(out, "instance      {} (pid {}, up {} s)", text("/instance"), text("/pid"), text("/uptime_seconds"));
    let _ = writeln!(out, "mode          {}, fail_mode {}", text("/mode"), text("/fail_mode"));
    let version: String = text("/policy/version").chars().take(12).collect();
    let _ = writeln!(out, "policy        {} (version {version})", text("/policy/source"));
    let _ = writeln!(out, "audit log     {} (seq {})", text("/audit/path"), text("/audit/seq"));
    let _ = writeln!(out, "cgroups       {}", list("/watched_cgroups").len());
    for cgroup in list("/watched_cgroups") {
        let _ = writeln!(out, "  {}", cgroup.as_str().unwrap_or("?"));
    }
    if let Some(programs) = status["programs"].as_object() {
        let attached: Vec<String> = programs.iter().map(|(name, count)| format!("{name} x{count}")).collect();
        let _ = writeln!(out, "programs      {}", attached.join(", "));
    }
    let _ = writeln!(out, "uprobes       {} file(s)", list("/uprobes").len());
    for file in list("/uprobes") {
        let _ = writeln!(out, "  {} ({} probes)", file["file"].as_str().unwrap_or("?"), file["count"]);
    }
    let held = list("/held");
    let _ = writeln!(out, "held          {} process(es), {} review(s) pending", held.len(), text("/reviews_pending"));
    for process in held {
        let _ = writeln!(out, "  pid {} ({})", process["pid"], process["comm"].as_str().unwrap_or("?"));
    }
    let confined = list("/confined");
    let _ = writeln!(out, "confined      {} process(es)", confined.len());
    for process in confined {
        let _ = writeln!(
            out,
            "  pid {} ({}) -> tool {}",
            process["pid"],
            process["comm"].as_str().unwrap_or("?"),
            process["tool"].as_str().unwrap_or("?")
        );
    }
    let _ = writeln!(out, "counters");
    if let Some(counters) = status["counters"].as_object() {
        for (name, value) in counters {
            let _ = writeln!(out, "  {name:<24} {value}");
        }
    }
    out
}

/// Follows the review queue of the daemon at `socket`, printing `+ ID ...` when a review
/// appears and `- ID` when it leaves the queue (decided, expired or abandoned), until the
/// daemon goes away.
pub async fn watch_reviews(socket: &Path, interval: Duration) -> anyhow::Result<()> {
    let mut shown: BTreeMap<u64, Value> = BTreeMap::new();
    loop {
        let (status, body) = api::call(socket, Method::GET, "/v1/reviews", Vec::new()).await?;
        anyhow::ensure!(status.is_success(), "the daemon refused the listing: {}", body.trim());
        let pending: Vec<Value> = serde_json::from_str(&body).context("the review listing is not JSON")?;
        for line in queue_changes(&mut shown, pending) {
            println!("{line}");
        }
        tokio::time::sleep(interval).await;
    }
}

/// The lines that tell how the queue changed since `shown`, which is brought up to date.
fn queue_changes(shown: &mut BTreeMap<u64, Value>, pending: Vec<Value>) -> Vec<String> {
    let current: BTreeMap<u64, Value> =
        pending.into_iter().filter_map(|entry| Some((entry["id"].as_u64()?, entry))).collect();
    let mut lines = Vec::new();
    for id in shown.keys().filter(|id| !current.contains_key(id)) {
        lines.push(format!("- {id} left the queue"));
    }
    for (id, entry) in current.iter().filter(|(id, _)| !shown.contains_key(id)) {
        let findings: Vec<&str> =
            entry["findings"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
        lines.push(format!(
            "+ {id} tool {} {} {}, pid {} ({}), expires in {} s, findings: {}",
            entry["tool"].as_str().unwrap_or("-"),
            entry["host"].as_str().unwrap_or("-"),
            entry["path"].as_str().unwrap_or("-"),
            entry["pid"],
            entry["comm"].as_str().unwrap_or("?"),
            entry["expires_in_seconds"],
            if findings.is_empty() { "-".to_owned() } else { findings.join(", ") },
        ));
    }
    *shown = current;
    lines
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_watch_prints_arrivals_and_departures_once() {
        let mut shown = BTreeMap::new();
        let first = json!({"id": 1, "tool": "slack", "host": "hooks.slack.com", "path": "/services/x", "pid": 42,
            "comm": "python3", "expires_in_seconds": 118, "findings": ["pii/email at $.text"]});
        let lines = queue_changes(&mut shown, vec![first.clone()]);
        assert_eq!(
            lines,
            [
                "+ 1 tool slack hooks.slack.com /services/x, pid 42 (python3), expires in 118 s, findings: pii/email at $.text"
            ]
        );
        assert!(queue_changes(&mut shown, vec![first]).is_empty(), "an unchanged queue prints nothing");
        let second = json!({"id": 2, "pid": 43, "comm": "curl", "expires_in_seconds": 5, "findings": []});
        let lines = queue_changes(&mut shown, vec![second]);
        assert_eq!(lines, ["- 1 left the queue", "+ 2 tool - - -, pid 43 (curl), expires in 5 s, findings: -"]);
    }

    #[test]
    fn status_text_lists_what_is_watched_held_and_counted() {
        let status = json!({
            "instance": "daemon", "pid": 7, "uptime_seconds": 30, "mode": "enforce", "fail_mode": "closed",
            "policy": {"source": "/etc/egress/policy.yaml", "version": "0123456789abcdef"},
            "watched_cgroups": ["/sys/fs/cgroup/agents"],
            "programs": {"guard_sends": 1, "ssl_write": 2},
            "uprobes": [{"file": "/usr/lib/libssl.so.3", "count": 7}],
            "held": [{"pid": 42, "comm": "python3"}], "reviews_pending": 1,
            "confined": [{"pid": 50, "comm": "bash", "tool": "sandbox"}],
            "audit": {"path": "/var/log/egress/audit.jsonl", "seq": 12},
            "counters": {"ringbuf_drops": 0},
        });
        let text = render_status(&status);
        for expected in [
            "mode          enforce, fail_mode closed",
            "policy        /etc/egress/policy.yaml (version 0123456789ab)",
            "  /sys/fs/cgroup/agents",
            "programs      guard_sends x1, ssl_write x2",
            "  /usr/lib/libssl.so.3 (7 probes)",
            "held          1 process(es), 1 review(s) pending",
            "  pid 42 (python3)",
            "  pid 50 (bash) -> tool sandbox",
            "  ringbuf_drops            0",
        ] {
            assert!(text.contains(expected), "missing {expected:?} in\n{text}");
        }
    }
}
