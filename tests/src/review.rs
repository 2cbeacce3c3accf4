//! The review API through the real CLI: `egress review list|approve|deny --socket PATH`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::client::{self, CommandSpec, Launcher, RunOutput};

/// `egress review ... --socket <socket>`, run as a plain child of the test (as root: the
/// decisions are made by uid 0).
#[derive(Clone, Debug)]
pub struct ReviewCli {
    socket: PathBuf,
}

/// What [`ReviewCli::wait_for`] found: the matching entry and the whole listing's text.
#[derive(Clone, Debug)]
pub struct Pending {
    pub entry: Value,
    pub listing: String,
}

impl ReviewCli {
    pub fn new(socket: &Path) -> Self {
        ReviewCli { socket: socket.to_path_buf() }
    }

    pub fn socket(&self) -> &Path {
        &self.socket
    }

    fn command(&self, args: &[&str]) -> CommandSpec {
        let mut spec = CommandSpec::new(crate::egress_bin()).arg("review");
        for a in args {
            spec = spec.arg(a);
        }
        spec.arg("--socket").arg(&self.socket)
    }

    /// `egress review list`: the run, and its stdout parsed as a JSON array (None if it failed
    /// or printed something else).
    pub fn list(&self) -> (RunOutput, Option<Vec<Value>>) {
        let out = client::run(Launcher::Direct, &self.command(&["list"]));
        let parsed = if out.success() {
            serde_json::from_str::<Value>(out.stdout.trim()).ok().and_then(|v| v.as_array().cloned())
        } else {
            None
        };
        (out, parsed)
    }

    /// `egress review approve ID`.
    pub fn approve(&self, id: &Value) -> RunOutput {
        client::run(Launcher::Direct, &self.command(&["approve", &id_arg(id)]))
    }

    /// `egress review deny ID`.
    pub fn deny(&self, id: &Value) -> RunOutput {
        client::run(Launcher::Direct, &self.command(&["deny", &id_arg(id)]))
    }

    /// Polls `egress review list` every 100 ms until an entry satisfies `pred`, up to
    /// `timeout`. On time-out: `Err` with the last listing runs (for the failure message).
    pub fn wait_for(&self, timeout: Duration, pred: impl Fn(&Value) -> bool) -> Result<Pending, String> {
        let deadline = Instant::now() + timeout;
        loop {
            let (out, parsed) = self.list();
            if let Some(entries) = &parsed
                && let Some(entry) = entries.iter().find(|e| pred(e))
            {
                return Ok(Pending { entry: entry.clone(), listing: out.stdout });
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "last `egress review list` ({}):\n{}",
                    if parsed.is_some() { "a JSON array, no matching entry" } else { "not a JSON array" },
                    out.describe()
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// A review id as the CLI takes it: a number as its digits, a string as it is.
pub fn id_arg(id: &Value) -> String {
    match id {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Problems of one `egress review list` entry with the contract's fields (empty if none).
pub fn entry_problems(e: &Value) -> Vec<String> {
    let mut p = Vec::new();
    let Some(obj) = e.as_object() else {
        return vec![format!("entry is not an object: {e}")];
    };
    let mut need = |key: &str, ok: fn(&Value) -> bool, what: &str| match obj.get(key) {
        None => p.push(format!("missing key `{key}`")),
        Some(v) if !ok(v) => p.push(format!("`{key}` should be {what}, is {v}")),
        _ => {}
    };
    need("id", |v| v.as_u64().is_some() || v.as_str().is_some_and(|s| !s.is_empty()), "a number or string");
    need("tool", |v| v.is_null() || v.is_string(), "a string or null");
    need("host", |v| v.is_null() || v.is_string(), "a string or null");
    need("path", |v| v.is_null() || v.is_string(), "a string or null");
    need("pid", |v| v.as_u64().is_some_and(|n| n > 0), "a pid");
    need("comm", Value::is_string, "a string");
    need(
        "findings",
        |v| v.as_array().is_some_and(|a| a.iter().all(Value::is_string)),
        "an array of strings (`category/detector at json_path`)",
    );
    need("body_sha256", |v| v.is_null() || v.as_str().is_some_and(|s| s.len() == 64), "64 hex digits or null");
    need("policy_version", Value::is_string, "a string");
    need("age_seconds", |v| v.as_u64().is_some(), "a non-negative integer");
    need("expires_in_seconds", |v| v.as_u64().is_some(), "a non-negative integer");
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_entries() {
        assert_eq!(id_arg(&serde_json::json!(7)), "7");
        assert_eq!(id_arg(&serde_json::json!("r-7")), "r-7");
        let e = serde_json::json!({
            "id": 1, "tool": "slack", "host": "localhost", "path": "/services/T1/B2/x", "pid": 42,
            "comm": "curl", "findings": ["pii/email at $.text"], "body_sha256": "a".repeat(64),
            "policy_version": "abc", "age_seconds": 0, "expires_in_seconds": 29
        });
        assert!(entry_problems(&e).is_empty(), "{:?}", entry_problems(&e));
        let mut bad = e.clone();
        bad["findings"] = serde_json::json!([{"category": "pii"}]);
        bad.as_object_mut().unwrap().remove("pid");
        assert_eq!(entry_problems(&bad).len(), 2);
    }
}
