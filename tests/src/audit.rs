//! Reading and checking the audit log (JSON Lines).

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;

/// The records of an audit file (empty if the file does not exist). Panics on a line that
/// is not a JSON object, quoting it.
pub fn read_audit(path: &Path) -> Vec<Value> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Vec::new(),
        Err(e) => panic!("read audit log {}: {e}", path.display()),
    };
    let mut out = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        // The writer may be in the middle of the last line.
        let last_unterminated = i + 1 == lines.len() && !text.ends_with('\n');
        match serde_json::from_str::<Value>(line) {
            // Signed checkpoints of the hash chain sit between records.
            Ok(v) if v.get("checkpoint").is_some() => {}
            Ok(v) if v.is_object() => out.push(v),
            Ok(_) if !last_unterminated => {
                panic!("audit log {} line {}: not a JSON object: {line}", path.display(), i + 1)
            }
            Err(e) if !last_unterminated => {
                panic!("audit log {} line {}: invalid JSON ({e}): {line}", path.display(), i + 1)
            }
            _ => {}
        }
    }
    out
}

/// Polls the audit file until some record satisfies `pred` or `timeout` passes; returns
/// all records read last.
pub fn wait_for_audit(path: &Path, timeout: Duration, pred: impl Fn(&Value) -> bool) -> Vec<Value> {
    let deadline = Instant::now() + timeout;
    loop {
        let records = read_audit(path);
        if records.iter().any(&pred) || Instant::now() >= deadline {
            return records;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The records whose `path` is `path`.
pub fn records_for_path<'a>(records: &'a [Value], path: &str) -> Vec<&'a Value> {
    records.iter().filter(|r| r["path"] == path).collect()
}

/// The records one per line, for failure messages.
pub fn format_records(records: &[Value]) -> String {
    if records.is_empty() {
        return "  (no audit records)\n".into();
    }
    records.iter().map(|r| format!("  {r}\n")).collect()
}

/// The raw text of the audit file (or a note that it does not exist), for messages.
pub fn audit_text(path: &Path) -> String {
    match std::fs::read_to_string(path) {
        Ok(t) if t.is_empty() => format!("audit log {}: (empty)\n", path.display()),
        Ok(t) => format!("audit log {}:\n{}", path.display(), crate::excerpt(t.as_bytes(), 20_000)),
        Err(e) => format!("audit log {}: {e}\n", path.display()),
    }
}

/// The actions of the first contract (no content inspection): what [`schema_problems`]
/// accepts in `action`.
pub const BASIC_ACTIONS: &[&str] = &["allow", "alert", "block"];

/// Every action, least severe first.
pub const ACTIONS: &[&str] = &["allow", "alert", "redact", "review", "block", "kill"];

/// What happened to a request (`outcome`).
pub const OUTCOMES: &[&str] = &["passed", "redacted", "blocked", "killed"];

/// Finding categories.
pub const CATEGORIES: &[&str] = &["pii", "secret", "document", "dictionary", "edm", "taint"];

/// Message parts of an LLM request's context (a finding's `part`, or null).
pub const PARTS: &[&str] = &["system", "user", "assistant", "tool_result", "tool_definition", "attachment"];

/// How a tool request relates to the model's tool calls (`link`, or null).
pub const LINKS: &[&str] = &["requested", "arguments_differ", "unrequested"];

/// How a review ended (`review.outcome`).
pub const REVIEW_OUTCOMES: &[&str] = &["approved", "denied", "timed_out"];

/// Problems of a record with the contract's schema (empty if it conforms).
pub fn schema_problems(r: &Value) -> Vec<String> {
    schema_problems_with(r, BASIC_ACTIONS)
}

fn one_of(v: &Value, set: &[&str]) -> bool {
    v.as_str().is_some_and(|s| set.contains(&s))
}

/// Problems of a record with the contract's schema including content inspection and every
/// action: `findings`, `schema_violations`, `tool_call_id`, `link`, `redacted`, `review`,
/// `outcome` (empty if it conforms).
pub fn action_record_problems(r: &Value) -> Vec<String> {
    let mut p = schema_problems_with(r, ACTIONS);
    let Some(obj) = r.as_object() else {
        return p;
    };
    match obj.get("findings").map(|v| (v, v.as_array())) {
        None => p.push("missing key `findings`".into()),
        Some((v, None)) => p.push(format!("`findings` should be an array, is {v}")),
        Some((_, Some(items))) => {
            for (i, f) in items.iter().enumerate() {
                for problem in finding_problems(f) {
                    p.push(format!("findings[{i}]: {problem}"));
                }
            }
        }
    }
    match obj.get("schema_violations").map(|v| (v, v.as_array())) {
        None => p.push("missing key `schema_violations`".into()),
        Some((v, None)) => p.push(format!("`schema_violations` should be an array, is {v}")),
        Some((_, Some(items))) => {
            for (i, s) in items.iter().enumerate() {
                if !(s["pointer"].is_string() && s["keyword"].as_str().is_some_and(|k| !k.is_empty())) {
                    p.push(format!("schema_violations[{i}] should have string `pointer` and `keyword`: {s}"));
                }
            }
        }
    }
    let mut need = |key: &str, ok: &dyn Fn(&Value) -> bool, what: &str| match obj.get(key) {
        None => p.push(format!("missing key `{key}`")),
        Some(v) if !ok(v) => p.push(format!("`{key}` should be {what}, is {v}")),
        _ => {}
    };
    need("tool_call_id", &|v| v.is_null() || v.is_string(), "a string or null");
    need("link", &|v| v.is_null() || one_of(v, LINKS), "requested|arguments_differ|unrequested|null");
    need("redacted", &|v| v.as_u64().is_some(), "a non-negative integer");
    need(
        "review",
        &|v| {
            v.is_null()
                || (v.is_object()
                    && (v["id"].as_u64().is_some() || v["id"].is_string())
                    && one_of(&v["outcome"], REVIEW_OUTCOMES)
                    && (v["by_uid"].is_null() || v["by_uid"].as_u64().is_some()))
        },
        "null or {id, outcome: approved|denied|timed_out, by_uid: number|null}",
    );
    need("outcome", &|v| one_of(v, OUTCOMES), "passed|redacted|blocked|killed");
    p
}

/// Problems of one element of `findings`.
pub fn finding_problems(f: &Value) -> Vec<String> {
    let mut p = Vec::new();
    if !f.is_object() {
        return vec![format!("not an object: {f}")];
    }
    let mut need = |key: &str, ok: &dyn Fn(&Value) -> bool, what: &str| {
        if !ok(&f[key]) {
            p.push(format!("`{key}` should be {what}, is {}", f[key]));
        }
    };
    need("category", &|v| one_of(v, CATEGORIES), "a finding category");
    need("detector", &|v| v.as_str().is_some_and(|s| !s.is_empty()), "a detector name");
    need("json_path", &|v| v.is_null() || v.is_string(), "a string or null");
    need("part", &|v| v.is_null() || one_of(v, PARTS), "a message part or null");
    need("action", &|v| one_of(v, ACTIONS), "an action");
    need("rule", &|v| v.as_str().is_some_and(|s| !s.is_empty()), "the deciding rule");
    need("start", &|v| v.as_u64().is_some(), "a byte offset");
    need("end", &|v| v.as_u64().is_some(), "a byte offset");
    need("label", &|v| v.is_null() || v.is_string(), "a string or null");
    if let (Some(s), Some(e)) = (f["start"].as_u64(), f["end"].as_u64())
        && s >= e
    {
        p.push(format!("`start` {s} should be before `end` {e}"));
    }
    p
}

/// The record's findings (empty if it has none or no `findings` array).
pub fn findings(r: &Value) -> Vec<&Value> {
    r["findings"].as_array().map(|a| a.iter().collect()).unwrap_or_default()
}

/// Problems of `r` with the expected values at JSON pointers (`("/review/outcome",
/// json!("approved"))`); a pointer that is absent counts as `null`.
pub fn field_problems(r: &Value, expected: &[(&str, Value)]) -> Vec<String> {
    let null = Value::Null;
    expected
        .iter()
        .filter_map(|(ptr, want)| {
            let got = r.pointer(ptr).unwrap_or(&null);
            (got != want).then(|| format!("`{ptr}` should be {want}, is {got}"))
        })
        .collect()
}

/// [`schema_problems`] with the accepted set of `action` values.
pub fn schema_problems_with(r: &Value, actions: &[&str]) -> Vec<String> {
    let mut p = Vec::new();
    match r.get("action") {
        None if r.is_object() => p.push("missing key `action`".into()),
        Some(a) if !one_of(a, actions) => p.push(format!("`action` should be {}, is {a}", actions.join("|"))),
        _ => {}
    }
    let Some(obj) = r.as_object() else {
        return vec!["not an object".into()];
    };
    let mut need = |key: &str, ok: fn(&Value) -> bool, what: &str| match obj.get(key) {
        None => p.push(format!("missing key `{key}`")),
        Some(v) if !ok(v) => p.push(format!("`{key}` should be {what}, is {v}")),
        _ => {}
    };
    need("ts", |v| v.as_str().is_some_and(is_rfc3339), "an RFC 3339 string");
    need("pid", |v| v.as_u64().is_some(), "a non-negative integer");
    need("comm", Value::is_string, "a string");
    need("cgroup", |v| v.as_str().is_some_and(|s| s.starts_with('/')), "a path string starting with '/'");
    need("tls_library", Value::is_string, "a string");
    need(
        "peer",
        |v| v.is_null() || v.as_str().is_some_and(|s| s.parse::<std::net::SocketAddr>().is_ok()),
        "an ip:port string or null",
    );
    need("host", Value::is_string, "a string");
    need("method", Value::is_string, "a string");
    need("path", Value::is_string, "a string");
    need("tool", |v| v.is_null() || v.is_string(), "a string or null");
    need("enforced", Value::is_boolean, "a bool");
    need("reason", Value::is_string, "a string");
    need("bytes", |v| v.as_u64().is_some(), "a non-negative integer");
    need(
        "body_sha256",
        |v| {
            v.is_null()
                || v.as_str().is_some_and(|s| {
                    s.len() == 64 && s.bytes().all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
                })
        },
        "64 lower-case hex digits or null",
    );
    need("truncated", Value::is_boolean, "a bool");
    need("policy_version", Value::is_string, "a string");
    need("mode", |v| matches!(v.as_str(), Some("monitor" | "enforce")), "monitor|enforce");
    for forbidden in ["body", "raw_body", "payload"] {
        if obj.contains_key(forbidden) {
            p.push(format!("has key `{forbidden}`: the audit log must never hold the raw body"));
        }
    }
    p
}

/// `YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM)`.
pub fn is_rfc3339(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() < 20 {
        return false;
    }
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    if !(digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && matches!(b[10], b'T' | b't' | b' ')
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19))
    {
        return false;
    }
    let mut i = 19;
    if b[i] == b'.' {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return false;
        }
    }
    let rest = &b[i..];
    matches!(rest, b"Z" | b"z")
        || (rest.len() == 6
            && matches!(rest[0], b'+' | b'-')
            && rest[1..3].iter().all(u8::is_ascii_digit)
            && rest[3] == b':'
            && rest[4..6].iter().all(u8::is_ascii_digit))
}

/// What a test expects of one record. `None` fields are not checked.
#[derive(Clone, Debug, Default)]
pub struct Expect {
    pub method: Option<String>,
    pub path: Option<String>,
    pub host: Option<String>,
    /// `Some(None)` expects `tool: null`.
    pub tool: Option<Option<String>>,
    pub action: Option<String>,
    pub enforced: Option<bool>,
    pub mode: Option<String>,
    pub peer: Option<String>,
    pub pid: Option<u32>,
    pub cgroup: Option<String>,
    /// The whole body: checks `bytes`, `body_sha256` and `truncated == false`.
    pub body: Option<Vec<u8>>,
    pub truncated: Option<bool>,
}

/// Problems of `r` against `e`, and the schema's (empty if it matches).
pub fn check_record(r: &Value, e: &Expect) -> Vec<String> {
    let mut p = schema_problems(r);
    let mut eq_str = |key: &str, want: &Option<String>| {
        if let Some(w) = want
            && r[key].as_str() != Some(w.as_str())
        {
            p.push(format!("`{key}` should be {w:?}, is {}", r[key]));
        }
    };
    eq_str("method", &e.method);
    eq_str("path", &e.path);
    eq_str("host", &e.host);
    eq_str("action", &e.action);
    eq_str("mode", &e.mode);
    eq_str("peer", &e.peer);
    eq_str("cgroup", &e.cgroup);
    if let Some(t) = &e.tool {
        let ok = match t {
            None => r["tool"].is_null(),
            Some(t) => r["tool"].as_str() == Some(t.as_str()),
        };
        if !ok {
            p.push(format!("`tool` should be {t:?}, is {}", r["tool"]));
        }
    }
    if let Some(en) = e.enforced
        && r["enforced"].as_bool() != Some(en)
    {
        p.push(format!("`enforced` should be {en}, is {}", r["enforced"]));
    }
    if let Some(pid) = e.pid
        && r["pid"].as_u64() != Some(pid as u64)
    {
        p.push(format!("`pid` should be {pid}, is {}", r["pid"]));
    }
    if let Some(t) = e.truncated
        && r["truncated"].as_bool() != Some(t)
    {
        p.push(format!("`truncated` should be {t}, is {}", r["truncated"]));
    }
    if let Some(body) = &e.body {
        if r["bytes"].as_u64() != Some(body.len() as u64) {
            p.push(format!("`bytes` should be {}, is {}", body.len(), r["bytes"]));
        }
        let sha = crate::sha256_hex(body);
        if r["body_sha256"].as_str() != Some(sha.as_str()) {
            p.push(format!("`body_sha256` should be {sha}, is {}", r["body_sha256"]));
        }
        if r["truncated"].as_bool() != Some(false) {
            p.push(format!("`truncated` should be false, is {}", r["truncated"]));
        }
    }
    if r["pid"].as_u64() == Some(0) {
        p.push("`pid` should be > 0".into());
    }
    for key in ["comm", "tls_library", "policy_version"] {
        if r[key].as_str().is_some_and(str::is_empty) {
            p.push(format!("`{key}` should not be empty"));
        }
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339() {
        assert!(is_rfc3339("2026-11-24T04:29:00Z"));
        assert!(is_rfc3339("2026-11-24T04:29:00.123456789Z"));
        assert!(is_rfc3339("2026-11-24T04:29:00.5+01:00"));
        assert!(!is_rfc3339("2026-11-24 04:29"));
        assert!(!is_rfc3339("1732422540"));
        assert!(!is_rfc3339("2026-11-24T04:29:00"));
    }

    #[test]
    fn schema_of_a_good_record() {
        let r = serde_json::json!({
            "ts": "2026-11-24T04:29:00Z", "pid": 12, "comm": "curl",
            "cgroup": "/egress-test-1-0", "tls_library": "/usr/lib/x86_64-linux-gnu/libssl.so.3",
            "peer": "127.0.0.1:38443", "host": "localhost", "method": "POST",
            "path": "/v1/upload", "tool": "upload", "action": "allow", "enforced": true,
            "reason": "tool upload: allow", "bytes": 2,
            "body_sha256": crate::sha256_hex(b"{}"), "truncated": false,
            "policy_version": "abc", "mode": "enforce"
        });
        assert!(schema_problems(&r).is_empty(), "{:?}", schema_problems(&r));
        let e = Expect { body: Some(b"{}".to_vec()), tool: Some(Some("upload".into())), ..Default::default() };
        assert!(check_record(&r, &e).is_empty());
        let e = Expect { tool: Some(None), ..Default::default() };
        assert_eq!(check_record(&r, &e).len(), 1);
        let mut bad = r.clone();
        bad["body"] = "x".into();
        bad.as_object_mut().unwrap().remove("ts");
        assert_eq!(schema_problems(&bad).len(), 2);
    }

    #[test]
    fn schema_of_an_action_record() {
        let mut r = serde_json::json!({
            "ts": "2026-11-24T04:29:00Z", "pid": 12, "comm": "curl",
            "cgroup": "/egress-test-1-0", "tls_library": "/usr/lib/x86_64-linux-gnu/libssl.so.3",
            "peer": "127.0.0.1:38443", "host": "localhost", "method": "POST",
            "path": "/services/T1/B2/x", "tool": "slack", "action": "review", "enforced": true,
            "reason": "tool slack: pii review", "bytes": 2,
            "body_sha256": crate::sha256_hex(b"{}"), "truncated": false,
            "policy_version": "abc", "mode": "enforce",
            "findings": [{"category": "pii", "detector": "email", "json_path": "$.text", "part": null,
                          "action": "review", "rule": "tools[0].on_findings.pii", "start": 9, "end": 30,
                          "label": null}],
            "schema_violations": [], "tool_call_id": null, "link": null, "redacted": 0,
            "review": {"id": 1, "outcome": "approved", "by_uid": 0}, "outcome": "passed"
        });
        assert!(action_record_problems(&r).is_empty(), "{:?}", action_record_problems(&r));
        // The first contract's check refuses `review`.
        assert_eq!(schema_problems(&r).len(), 1, "{:?}", schema_problems(&r));
        assert!(field_problems(&r, &[("/review/outcome", "approved".into()), ("/link", Value::Null)]).is_empty());
        assert_eq!(field_problems(&r, &[("/review/by_uid", 1.into()), ("/nope", 1.into())]).len(), 2);
        r["findings"][0]["part"] = "elsewhere".into();
        r["findings"][0]["end"] = 9.into();
        r["outcome"] = "held".into();
        r["review"] = serde_json::json!({"id": 1, "outcome": "maybe"});
        assert_eq!(action_record_problems(&r).len(), 4, "{:?}", action_record_problems(&r));
    }

    #[test]
    fn reads_partial_last_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.jsonl");
        std::fs::write(&p, "{\"a\":1}\n{\"b\":").unwrap();
        assert_eq!(read_audit(&p).len(), 1);
        assert!(read_audit(&dir.path().join("missing")).is_empty());
    }
}
