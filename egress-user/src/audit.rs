//! The audit log: JSON Lines, one record per inspected request, written (and flushed to the
//! kernel) before the verdict it records is applied. It never holds the raw body.
use std::{
    fs,
    io::Write as _,
    path::{Path, PathBuf},
};

use anyhow::Context as _;
use serde::Serialize;

use crate::{
    detect::Finding,
    policy::{Action, MessagePart, SchemaViolation},
};

#[derive(Clone, Debug, Serialize)]
pub struct AuditRecord {
    pub ts: String,
    pub pid: u32,
    pub comm: String,
    pub cgroup: String,
    pub tls_library: String,
    pub peer: Option<String>,
    pub host: Option<String>,
    pub method: Option<String>,
    pub path: Option<String>,
    pub tool: Option<String>,
    /// The decided action: the most severe of every rule that applied.
    pub action: &'static str,
    /// What happened to the request: `passed`, `redacted`, `blocked` or `killed`.
    pub outcome: &'static str,
    /// False in monitor mode: the action was recorded, not applied.
    pub enforced: bool,
    pub reason: String,
    /// Length of the decoded body.
    pub bytes: u64,
    pub body_sha256: Option<String>,
    /// The body was not seen whole (capture cap, lost events, blocked before it was sent).
    pub truncated: bool,
    pub findings: Vec<AuditFinding>,
    pub schema_violations: Vec<AuditViolation>,
    /// The model's tool call this request carries out, when it is linked to one.
    pub tool_call_id: Option<String>,
    /// `requested`, `arguments_differ` or `unrequested`; null where not checked.
    pub link: Option<&'static str>,
    /// Spans masked in the agent's buffer before the write.
    pub redacted: usize,
    pub review: Option<AuditReview>,
    pub policy_version: String,
    pub mode: &'static str,
}

/// A finding as the audit log keeps it: where and what kind, never the value.
#[derive(Clone, Debug, Serialize)]
pub struct AuditFinding {
    pub category: &'static str,
    pub detector: &'static str,
    pub json_path: Option<String>,
    pub part: Option<MessagePart>,
    pub action: &'static str,
    /// The policy rule that gave the action (`tools[2].on_findings.pii`, `class ... default`).
    pub rule: String,
    pub start: usize,
    pub end: usize,
    pub confidence: f32,
    pub label: Option<String>,
    pub value_hash: String,
}

impl AuditFinding {
    pub fn new(finding: &Finding, part: Option<MessagePart>, action: Action, rule: String) -> Self {
        Self {
            category: finding.category.as_str(),
            detector: finding.detector,
            json_path: finding.json_path.clone(),
            part,
            action: action.as_str(),
            rule,
            start: finding.start,
            end: finding.end,
            confidence: finding.confidence,
            label: finding.label.clone(),
            value_hash: finding.value_hash.clone(),
        }
    }
}

/// Which field of the body broke which schema rule.
#[derive(Clone, Debug, Serialize)]
pub struct AuditViolation {
    pub pointer: String,
    pub keyword: String,
}

impl From<&SchemaViolation> for AuditViolation {
    fn from(violation: &SchemaViolation) -> Self {
        Self { pointer: violation.pointer.clone(), keyword: violation.keyword.clone() }
    }
}

/// How a review of the request ended.
#[derive(Clone, Debug, Serialize)]
pub struct AuditReview {
    pub id: u64,
    pub outcome: &'static str,
    pub by_uid: Option<u32>,
}

pub struct AuditLog {
    file: fs::File,
    path: PathBuf,
}

impl AuditLog {
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
            fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let file = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("opening audit log {}", path.display()))?;
        Ok(Self { file, path: path.to_path_buf() })
    }

    /// Appends one record with a single write(2), so a crash never leaves half a line
    /// behind a complete one and the record is in the kernel before the verdict is applied.
    pub fn append(&mut self, record: &AuditRecord) -> anyhow::Result<()> {
        let mut line = serde_json::to_vec(record).context("encoding an audit record")?;
        line.push(b'\n');
        self.file.write_all(&line).with_context(|| format!("writing audit log {}", self.path.display()))
    }
}

/// Now, as RFC 3339 UTC with milliseconds.
pub fn timestamp() -> String {
    humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_json_lines_without_the_body() {
        let dir = std::env::temp_dir().join(format!("egress-audit-test-{}", std::process::id()));
        let path = dir.join("audit.jsonl");
        let mut log = AuditLog::open(&path).expect("opens");
        let record = AuditRecord {
            ts: timestamp(),
            pid: 7,
            comm: "curl".into(),
            cgroup: "/agents/a".into(),
            tls_library: "/usr/lib/x86_64-linux-gnu/libssl.so.3".into(),
            peer: Some("127.0.0.1:443".into()),
            host: Some("api.openai.com".into()),
            method: Some("POST".into()),
            path: Some("/v1/files".into()),
            tool: Some("openai-files".into()),
            action: "block",
            outcome: "blocked",
            enforced: true,
            reason: "tool openai-files: action block".into(),
            bytes: 12,
            body_sha256: Some("ab".repeat(32)),
            truncated: false,
            findings: Vec::new(),
            schema_violations: Vec::new(),
            tool_call_id: None,
            link: None,
            redacted: 0,
            review: None,
            policy_version: "f00d".into(),
            mode: "enforce",
        };
        log.append(&record).expect("writes");
        log.append(&record).expect("writes");
        let text = fs::read_to_string(&path).expect("reads");
        let lines: Vec<serde_json::Value> =
            text.lines().map(|line| serde_json::from_str(line).expect("json")).collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["action"], "block");
        assert_eq!(lines[0]["peer"], "127.0.0.1:443");
        assert_eq!(lines[0]["tool"], "openai-files");
        assert!(lines[0]["ts"].as_str().is_some_and(|ts| ts.ends_with('Z')));
        fs::remove_dir_all(dir).expect("cleans up");
    }
}
