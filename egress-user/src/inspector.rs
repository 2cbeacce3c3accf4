//! From plaintext to decisions: per TLS connection, the bytes the agent wrote are put back
//! together into HTTP/1.1 requests, each request is matched against the policy, and each
//! decision becomes an audit record. No kernel access here, so it is tested without root.
use std::collections::HashMap;

use crate::{
    audit::{AuditRecord, timestamp},
    http1::{Progress, Request, RequestAssembler, RequestHead},
    policy::{Action, Mode, Policy},
};

/// Decoded bytes of one body kept for inspection; the rest is hashed and counted only.
pub const MAX_INSPECTED_BODY: usize = 64 * 1024 * 1024;

/// One TLS connection: the `SSL *` within its process.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ConnectionKey {
    pub tgid: u32,
    pub ssl: u64,
}

/// Who wrote, for the audit record.
#[derive(Clone, Debug, Default)]
pub struct Writer {
    pub pid: u32,
    pub comm: String,
    pub cgroup: String,
    pub tls_library: String,
    pub peer: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    Block,
}

#[derive(Debug)]
pub struct Outcome {
    pub verdict: Verdict,
    pub records: Vec<AuditRecord>,
}

struct Connection {
    assembler: RequestAssembler,
    /// A request of this connection was blocked: the TLS stream is broken from then on, so
    /// every later write on it is refused too (without a new record).
    blocked: bool,
    /// The head of the request in flight was already recorded (blocked before its body).
    head_recorded: bool,
}

impl Connection {
    fn new() -> Self {
        Self { assembler: RequestAssembler::new(MAX_INSPECTED_BODY), blocked: false, head_recorded: false }
    }
}

pub struct Inspector {
    connections: HashMap<ConnectionKey, Connection>,
}

impl Default for Inspector {
    fn default() -> Self {
        Self::new()
    }
}

impl Inspector {
    pub fn new() -> Self {
        Self { connections: HashMap::new() }
    }

    /// Inspects the next bytes the agent wrote on a connection.
    pub fn push(&mut self, policy: &Policy, key: ConnectionKey, writer: &Writer, bytes: &[u8]) -> Outcome {
        let connection = self.connections.entry(key).or_insert_with(Connection::new);
        if connection.blocked {
            return Outcome { verdict: enforced(policy, Action::Block), records: Vec::new() };
        }
        let mut records = Vec::new();
        let mut verdict = Verdict::Pass;
        for progress in connection.assembler.push(bytes) {
            let record = match progress {
                Progress::Head(_) => {
                    connection.head_recorded = false;
                    continue;
                }
                Progress::Complete(request) => {
                    if std::mem::take(&mut connection.head_recorded) {
                        continue;
                    }
                    complete_record(policy, writer, &request)
                }
                Progress::NotHttp { reason } => not_http_record(policy, writer, &reason, bytes.len() as u64),
            };
            verdict = worse(verdict, record_verdict(policy, &record));
            records.push(record);
        }
        // A request whose body is still to come is decided on its head now when that head
        // alone blocks it: its first bytes must not leave either.
        if let Some(head) = connection.assembler.pending_head()
            && !connection.head_recorded
        {
            let decision = policy.decide(head.host.as_deref(), &head.method, &head.path);
            if decision.action == Action::Block {
                let record =
                    head_record(policy, writer, head, decision.tool.map(|tool| tool.name.clone()), decision.reason);
                verdict = worse(verdict, record_verdict(policy, &record));
                records.push(record);
                connection.head_recorded = true;
            }
        }
        if verdict == Verdict::Block {
            connection.blocked = true;
        }
        Outcome { verdict, records }
    }

    /// Bytes of this connection were lost (not captured: write over the capture cap, or
    /// ring-buffer drops). The request in flight is recorded as truncated, and parsing starts
    /// again at the next write, where clients begin their requests.
    pub fn lose(&mut self, policy: &Policy, key: ConnectionKey, writer: &Writer, why: &str) -> Vec<AuditRecord> {
        let Some(connection) = self.connections.get_mut(&key) else {
            return Vec::new();
        };
        let mut records = Vec::new();
        if let Some(head) = connection.assembler.pending_head()
            && !connection.head_recorded
        {
            let decision = policy.decide(head.host.as_deref(), &head.method, &head.path);
            let mut record =
                head_record(policy, writer, head, decision.tool.map(|tool| tool.name.clone()), decision.reason);
            record.reason = format!("{}; {why}", record.reason);
            records.push(record);
        }
        connection.assembler = RequestAssembler::new(MAX_INSPECTED_BODY);
        connection.head_recorded = false;
        records
    }

    /// Forgets connections of processes that are gone.
    pub fn forget_processes(&mut self, alive: impl Fn(u32) -> bool) {
        self.connections.retain(|key, _| alive(key.tgid));
    }

    pub fn connection_count(&self) -> usize {
        self.connections.len()
    }
}

fn enforced(policy: &Policy, action: Action) -> Verdict {
    if policy.mode == Mode::Enforce && action == Action::Block { Verdict::Block } else { Verdict::Pass }
}

fn record_verdict(policy: &Policy, record: &AuditRecord) -> Verdict {
    enforced(policy, if record.action == Action::Block.as_str() { Action::Block } else { Action::Allow })
}

fn worse(a: Verdict, b: Verdict) -> Verdict {
    if a == Verdict::Block || b == Verdict::Block { Verdict::Block } else { Verdict::Pass }
}

fn base_record(policy: &Policy, writer: &Writer, action: Action, reason: String) -> AuditRecord {
    let enforced = policy.mode == Mode::Enforce;
    AuditRecord {
        ts: timestamp(),
        pid: writer.pid,
        comm: writer.comm.clone(),
        cgroup: writer.cgroup.clone(),
        tls_library: writer.tls_library.clone(),
        peer: writer.peer.clone(),
        host: None,
        method: None,
        path: None,
        tool: None,
        action: action.as_str(),
        enforced,
        reason: if enforced || action == Action::Allow {
            reason
        } else {
            format!("{reason} (monitor mode: not enforced)")
        },
        bytes: 0,
        body_sha256: None,
        truncated: false,
        policy_version: policy.digest.clone(),
        mode: policy.mode.as_str(),
    }
}

fn complete_record(policy: &Policy, writer: &Writer, request: &Request) -> AuditRecord {
    let head = &request.head;
    let decision = policy.decide(head.host.as_deref(), &head.method, &head.path);
    let mut reason = decision.reason;
    if let Some(error) = &request.decode_error {
        reason = format!("{reason}; body not decoded: {error}");
    }
    let mut record = base_record(policy, writer, decision.action, reason);
    record.host = head.host.clone();
    record.method = Some(head.method.clone());
    record.path = Some(head.path.clone());
    record.tool = decision.tool.map(|tool| tool.name.clone());
    record.bytes = request.body_len;
    record.body_sha256 = Some(request.body_sha256.clone());
    record.truncated = request.body_truncated;
    record
}

/// A request recorded from its head alone: its body was not seen whole.
fn head_record(
    policy: &Policy,
    writer: &Writer,
    head: &RequestHead,
    tool: Option<String>,
    reason: String,
) -> AuditRecord {
    let action = policy.decide(head.host.as_deref(), &head.method, &head.path).action;
    let mut record = base_record(policy, writer, action, reason);
    record.host = head.host.clone();
    record.method = Some(head.method.clone());
    record.path = Some(head.path.clone());
    record.tool = tool;
    record.bytes = head.content_length.unwrap_or(0);
    record.truncated = true;
    record
}

fn not_http_record(policy: &Policy, writer: &Writer, why: &str, bytes: u64) -> AuditRecord {
    let reason = format!("not HTTP/1.1 ({why}): default_action {}", policy.default_action);
    let mut record = base_record(policy, writer, policy.default_action, reason);
    record.bytes = bytes;
    record.truncated = true;
    record
}

#[cfg(test)]
mod tests {
    use sha2::{Digest as _, Sha256};

    use super::*;

    const POLICY: &str = r#"
version: 1
mode: enforce
default_action: alert
fail_mode: open
tools:
  - name: chat
    match: { host: api.openai.com, method: POST, path: /v1/chat/completions }
    action: allow
  - name: files
    match: { host: api.openai.com, method: POST, path: "/v1/files*" }
    action: block
"#;

    fn policy(mode: &str) -> Policy {
        Policy::from_yaml("test.yaml", &POLICY.replace("mode: enforce", &format!("mode: {mode}"))).expect("valid")
    }

    fn writer() -> Writer {
        Writer {
            pid: 10,
            comm: "python3".into(),
            cgroup: "/a".into(),
            tls_library: "libssl".into(),
            peer: Some("127.0.0.1:443".into()),
        }
    }

    const KEY: ConnectionKey = ConnectionKey { tgid: 10, ssl: 0x1000 };

    fn request(path: &str, body: &str) -> String {
        format!("POST {path} HTTP/1.1\r\nHost: api.openai.com:443\r\nContent-Length: {}\r\n\r\n{body}", body.len())
    }

    #[test]
    fn an_allowed_request_is_recorded_with_its_digest() {
        let policy = policy("enforce");
        let mut inspector = Inspector::new();
        let outcome = inspector.push(&policy, KEY, &writer(), request("/v1/chat/completions", "{\"a\":1}").as_bytes());
        assert_eq!(outcome.verdict, Verdict::Pass);
        let [record] = outcome.records.as_slice() else { panic!("one record: {:?}", outcome.records) };
        assert_eq!(record.action, "allow");
        assert_eq!(record.tool.as_deref(), Some("chat"));
        assert_eq!(record.host.as_deref(), Some("api.openai.com"));
        assert_eq!(record.bytes, 7);
        assert_eq!(record.body_sha256.as_deref(), Some(hex::encode(Sha256::digest(b"{\"a\":1}")).as_str()));
        assert!(!record.truncated);
        assert_eq!(record.policy_version, policy.digest);
    }

    #[test]
    fn a_blocked_head_blocks_before_its_body_is_written() {
        let policy = policy("enforce");
        let mut inspector = Inspector::new();
        let head = "POST /v1/files HTTP/1.1\r\nHost: api.openai.com\r\nContent-Length: 5\r\n\r\n";
        let outcome = inspector.push(&policy, KEY, &writer(), head.as_bytes());
        assert_eq!(outcome.verdict, Verdict::Block);
        assert_eq!(outcome.records.len(), 1);
        assert!(outcome.records[0].truncated, "the body was never seen");
        assert_eq!(outcome.records[0].tool.as_deref(), Some("files"));
        // The body write that follows is refused too, with no second record.
        let body = inspector.push(&policy, KEY, &writer(), b"hello");
        assert_eq!(body.verdict, Verdict::Block);
        assert!(body.records.is_empty());
    }

    #[test]
    fn monitor_mode_records_but_never_blocks() {
        let policy = policy("monitor");
        let mut inspector = Inspector::new();
        let outcome = inspector.push(&policy, KEY, &writer(), request("/v1/files", "x").as_bytes());
        assert_eq!(outcome.verdict, Verdict::Pass);
        assert_eq!(outcome.records[0].action, "block");
        assert!(!outcome.records[0].enforced);
        assert!(outcome.records[0].reason.contains("monitor mode"));
    }

    #[test]
    fn split_writes_make_one_record_when_the_request_completes() {
        let policy = policy("enforce");
        let mut inspector = Inspector::new();
        let text = request("/v1/chat/completions", "0123456789");
        let (first, second) = text.split_at(text.len() - 4);
        assert!(inspector.push(&policy, KEY, &writer(), first.as_bytes()).records.is_empty());
        let outcome = inspector.push(&policy, KEY, &writer(), second.as_bytes());
        assert_eq!(outcome.records.len(), 1);
        assert_eq!(outcome.records[0].bytes, 10);
    }

    #[test]
    fn lost_bytes_mark_the_request_truncated_and_parsing_restarts() {
        let policy = policy("monitor");
        let mut inspector = Inspector::new();
        let head = "POST /v1/chat/completions HTTP/1.1\r\nHost: api.openai.com\r\nContent-Length: 100000\r\n\r\nabc";
        assert!(inspector.push(&policy, KEY, &writer(), head.as_bytes()).records.is_empty());
        let lost = inspector.lose(&policy, KEY, &writer(), "write longer than capture_max_bytes");
        assert_eq!(lost.len(), 1);
        assert!(lost[0].truncated);
        assert_eq!(lost[0].body_sha256, None);
        assert_eq!(lost[0].bytes, 100000);
        let next = inspector.push(&policy, KEY, &writer(), request("/v1/chat/completions", "ok").as_bytes());
        assert_eq!(next.records.len(), 1);
        assert!(!next.records[0].truncated);
    }

    #[test]
    fn not_http_gets_the_default_action_once() {
        let policy = policy("enforce");
        let mut inspector = Inspector::new();
        let outcome = inspector.push(&policy, KEY, &writer(), b"\x16\x03\x01garbage\r\n\r\n");
        assert_eq!(outcome.records.len(), 1);
        assert_eq!(outcome.records[0].action, "alert");
        assert!(outcome.records[0].method.is_none());
        assert!(inspector.push(&policy, KEY, &writer(), b"more").records.is_empty());
    }
}
