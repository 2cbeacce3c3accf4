//! From plaintext to decisions. Per TLS connection, the bytes the agent wrote are put back
//! together into HTTP/1.1 requests and the bytes it read into responses. Each request is
//! matched to a tool, scanned for sensitive content, checked against the tool's schema and
//! linked to the model's tool calls; every rule that fires gives an action, and the most
//! severe one decides. Responses feed the taint store (sources) and the tool-call ledger
//! (LLM providers). No kernel access here, so it is tested without root.
use std::{
    collections::{HashMap, VecDeque},
    ops::Range,
    time::Instant,
};

use crate::{
    audit::{AuditFinding, AuditRecord, AuditViolation, ReviewPreview, timestamp},
    detect::{Engine, Finding},
    http1::{Progress, Request, RequestAssembler, RequestHead, ResponseAssembler, ResponseProgress},
    llm::{self, Link, ProviderFormat, ResponseParser, ToolCallLedger},
    policy::{Action, MessagePart, Mode, Policy, Tool, ToolClass},
};

/// Decoded bytes of one body kept for inspection; the rest is hashed and counted only.
pub const MAX_INSPECTED_BODY: usize = 64 * 1024 * 1024;
/// Response bytes kept per response for the taint store and the tool-call parser.
const MAX_RESPONSE_BODY: usize = 16 * 1024 * 1024;
/// Byte that replaces each redacted byte: ASCII, so the body keeps its length and encoding.
pub const REDACTION_MASK: u8 = b'*';

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
    /// The code_exec tool the process is confined to, if any.
    pub confined_to: Option<String>,
}

/// What happens to the write that was inspected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    Pass,
    /// Mask these byte ranges of the write buffer, then let it through.
    Redact(Vec<Range<usize>>),
    /// Keep the agent held until a person decides (or the review times out). An approval
    /// masks these ranges first: the findings the policy redacts stay redacted.
    Review(Vec<Range<usize>>),
    Block,
    Kill,
}

#[derive(Debug)]
pub struct Outcome {
    pub effect: Effect,
    /// Records of the requests this write completed (or blocked on their headers). For a
    /// `Review` effect their `outcome` is set when the review ends.
    pub records: Vec<AuditRecord>,
}

/// Shared state a write is judged with.
pub struct Judge<'a> {
    pub policy: &'a Policy,
    pub engine: &'a Engine,
    pub ledger: &'a mut ToolCallLedger,
}

/// What a response is needed for, noted when its request was sent.
#[derive(Clone, Debug, Default)]
struct Exchange {
    source: Option<String>,
    llm_provider: bool,
}

struct Connection {
    requests: RequestAssembler,
    responses: ResponseAssembler,
    exchanges: VecDeque<Exchange>,
    current: Option<(Exchange, ResponseParser)>,
    /// A request of this connection was blocked: the TLS stream is broken from then on, so
    /// every later write on it is refused too (without a new record).
    blocked: bool,
    /// The head of the request in flight was already recorded (blocked before its body).
    head_recorded: bool,
}

impl Connection {
    fn new() -> Self {
        Self {
            requests: RequestAssembler::new(MAX_INSPECTED_BODY),
            responses: ResponseAssembler::new(MAX_RESPONSE_BODY),
            exchanges: VecDeque::new(),
            current: None,
            blocked: false,
            head_recorded: false,
        }
    }
}

#[derive(Default)]
pub struct Inspector {
    connections: HashMap<ConnectionKey, Connection>,
}

impl Inspector {
    pub fn new() -> Self {
        Self::default()
    }

    /// Inspects the next bytes the agent wrote on a connection. `bytes` is the whole write
    /// (redaction ranges are offsets into it).
    pub fn push(&mut self, judge: &mut Judge<'_>, key: ConnectionKey, writer: &Writer, bytes: &[u8]) -> Outcome {
        let policy = judge.policy;
        let connection = self.connections.entry(key).or_insert_with(Connection::new);
        if connection.blocked {
            return Outcome { effect: enforced(policy, Effect::Block), records: Vec::new() };
        }
        let mut decisions = Vec::new();
        for progress in connection.requests.push(bytes) {
            match progress {
                Progress::Head(_) => connection.head_recorded = false,
                Progress::Complete(request) => {
                    connection.responses.expect(&request.head.method);
                    connection.exchanges.push_back(exchange_for(policy, &request.head));
                    if !std::mem::take(&mut connection.head_recorded) {
                        decisions.push(judge_request(judge, writer, &request, bytes));
                    }
                }
                Progress::NotHttp { reason } => decisions.push(not_http(policy, writer, &reason, bytes.len() as u64)),
            }
        }
        // A request whose body is still to come is decided on its head now when that head
        // alone blocks it: its first bytes must not leave either.
        if let Some(head) = connection.requests.pending_head()
            && !connection.head_recorded
            && let Some(decision) = judge_head(policy, writer, head)
        {
            decisions.push(decision);
            connection.head_recorded = true;
        }
        let outcome = combine(policy, decisions);
        if matches!(outcome.effect, Effect::Block | Effect::Kill) {
            connection.blocked = true;
        }
        outcome
    }

    /// Feeds what the agent read on a connection: responses of sources are remembered for
    /// taint, responses of LLM providers are parsed for the tool calls the model asked for.
    pub fn push_read(&mut self, judge: &mut Judge<'_>, key: ConnectionKey, bytes: &[u8]) {
        let Some(connection) = self.connections.get_mut(&key) else {
            return;
        };
        for progress in connection.responses.push(bytes) {
            match progress {
                ResponseProgress::Head(head) => {
                    // Interim 1xx responses answer no request of their own.
                    if head.status >= 200 {
                        let exchange = connection.exchanges.pop_front().unwrap_or_default();
                        connection.current = Some((exchange, ResponseParser::new()));
                    }
                }
                ResponseProgress::BodyChunk(chunk) => {
                    if let Some((exchange, parser)) = &mut connection.current
                        && exchange.llm_provider
                    {
                        parser.push(&chunk);
                    }
                }
                ResponseProgress::Complete(response) => {
                    if let Some((exchange, mut parser)) = connection.current.take() {
                        if let Some(source) = &exchange.source {
                            judge.engine.taint().remember(source, &String::from_utf8_lossy(&response.body));
                        }
                        if exchange.llm_provider {
                            if !response.head.streaming {
                                parser.push(&response.body);
                            }
                            judge.ledger.record(key.tgid, parser.finish(), Instant::now());
                        }
                    }
                }
                ResponseProgress::NotHttp { .. } => connection.current = None,
            }
        }
    }

    /// Bytes of this connection's writes were lost (not captured: write over the capture
    /// cap, or ring-buffer drops). The request in flight is recorded as truncated, and parsing
    /// starts again at the next write, where clients begin their requests.
    pub fn lose(&mut self, policy: &Policy, key: ConnectionKey, writer: &Writer, why: &str) -> Vec<AuditRecord> {
        let Some(connection) = self.connections.get_mut(&key) else {
            return Vec::new();
        };
        let mut records = Vec::new();
        if let Some(head) = connection.requests.pending_head()
            && !connection.head_recorded
        {
            let mut decision = head_decision(policy, writer, head);
            decision.record.reason = format!("{}; {why}", decision.record.reason);
            records.push(finish_record(policy, decision.record, &Effect::Pass));
        }
        connection.requests = RequestAssembler::new(MAX_INSPECTED_BODY);
        connection.head_recorded = false;
        records
    }

    /// Forgets connections of processes that are gone.
    pub fn forget_processes(&mut self, alive: impl Fn(u32) -> bool) {
        self.connections.retain(|key, _| alive(key.tgid));
    }
}

/// One request's decision before the write's decisions are combined.
struct RequestDecision {
    action: Action,
    record: AuditRecord,
    /// Ranges of the write buffer to mask when the action is `redact`.
    redactions: Vec<Range<usize>>,
}

fn exchange_for(policy: &Policy, head: &RequestHead) -> Exchange {
    let tool = policy.tool_for(head.host.as_deref(), &head.method, &head.path);
    Exchange {
        source: policy.source_for(head.host.as_deref(), &head.method, &head.path).map(|source| source.name.clone()),
        llm_provider: tool.is_some_and(|tool| tool.class == ToolClass::LlmProvider),
    }
}

/// A request decided on its head alone, when its endpoint action already refuses it.
fn judge_head(policy: &Policy, writer: &Writer, head: &RequestHead) -> Option<RequestDecision> {
    let decision = head_decision(policy, writer, head);
    (decision.action >= Action::Block).then_some(decision)
}

fn head_decision(policy: &Policy, writer: &Writer, head: &RequestHead) -> RequestDecision {
    let decision = policy.decide(head.host.as_deref(), &head.method, &head.path);
    let mut record = base_record(policy, writer, decision.reason);
    fill_request(&mut record, head, decision.tool);
    record.bytes = head.content_length.unwrap_or(0);
    record.truncated = true;
    RequestDecision { action: decision.action, record, redactions: Vec::new() }
}

/// Every rule that applies to a complete request, and the most severe action among them.
fn judge_request(judge: &mut Judge<'_>, writer: &Writer, request: &Request, write: &[u8]) -> RequestDecision {
    let policy = judge.policy;
    let head = &request.head;
    let decision = policy.decide(head.host.as_deref(), &head.method, &head.path);
    let tool = decision.tool;
    let mut actions = vec![decision.action];
    let mut reasons = vec![decision.reason];
    // The kernel confines a code_exec process by address; the Host header is checked too, so
    // that an allowed address (a shared front end) does not carry requests for other hosts.
    if let Some(confining) = writer.confined_to.as_deref().and_then(|name| policy.tool(name)) {
        let host = head.host.as_deref().unwrap_or("");
        if !policy.destination_host_allowed(confining, host) {
            actions.push(Action::Block);
            reasons.push(format!("host `{host}` is not among the destinations of code_exec tool {}", confining.name));
        }
    }
    let mut record = base_record(policy, writer, String::new());
    fill_request(&mut record, head, tool);
    record.bytes = request.body_len;
    record.body_sha256 = Some(request.body_sha256.clone());
    record.truncated = request.body_truncated;
    if let Some(error) = &request.decode_error {
        reasons.push(format!("body not decoded: {error}"));
    }

    let mut redact = Vec::new();
    if tool.is_none_or(Tool::inspects) {
        let findings = judge.engine.scan(&request.body);
        let parts = PartLocator::new(tool, head, &request.body);
        for finding in &findings {
            let part = parts.part_of(finding);
            let (action, rule) = policy.action_for_finding(tool, finding.category, finding.detector, part);
            if action == Action::Redact {
                redact.push(finding.start..finding.end);
            }
            actions.push(action);
            record.findings.push(AuditFinding::new(finding, part, action, rule));
        }
    }
    if let Some(tool) = tool {
        let violations = tool.validate_json_bytes(&request.body);
        if !violations.is_empty() {
            let (action, rule) = policy.schema_violation_action(tool);
            actions.push(action);
            reasons.push(format!("schema violated ({rule}: {action})"));
            record.schema_violations = violations.iter().map(AuditViolation::from).collect();
        }
        if tool.class != ToolClass::LlmProvider {
            let link = judge.ledger.link(writer.pid, Some(&tool.name), &request.body, Instant::now());
            match &link {
                Link::Requested { tool_call_id } => record.tool_call_id = Some(tool_call_id.clone()),
                Link::ArgumentsDiffer { tool_call_id, .. } => record.tool_call_id = Some(tool_call_id.clone()),
                Link::Unrequested => {}
            }
            record.link = Some(link_name(&link));
            // A class default applies only to agents whose model calls egress has seen (else
            // every request of an agent whose LLM traffic is not inspected would count as
            // unrequested); a rule the policy writes out applies always.
            let explicit = tool.on_unrequested.is_some() || policy.defaults.on_unrequested.is_some();
            if !matches!(link, Link::Requested { .. }) && (explicit || judge.ledger.has_calls(writer.pid)) {
                let (action, rule) = policy.unrequested_action(Some(tool));
                actions.push(action);
                reasons.push(format!("{} ({rule}: {action})", link_name(&link)));
            }
        }
    }

    let mut action = Action::most_severe(actions);
    let mut redactions = Vec::new();
    // A request held for review keeps its redactions: an approval lets it through masked.
    if action == Action::Redact || (action == Action::Review && !redact.is_empty()) {
        match locate_body(request, write) {
            Ok(offset) => redactions = redact.iter().map(|span| offset + span.start..offset + span.end).collect(),
            Err(why) => {
                action = Action::Block;
                reasons.push(format!("cannot redact in place ({why}): blocked instead"));
            }
        }
    }
    if action == Action::Review {
        record.review_preview = Some(ReviewPreview::new(&request.body, request.body_len, &record.findings));
    }
    if !record.findings.is_empty() {
        reasons.push(findings_summary(&record.findings));
    }
    record.reason = reasons.join("; ");
    RequestDecision { action, record, redactions }
}

/// Where the request's body starts in the write being held. Redaction masks the agent's
/// buffer, so it is possible only when the body is there byte for byte: identity encoding,
/// no chunked framing, and the whole body inside this one write.
fn locate_body(request: &Request, write: &[u8]) -> Result<usize, &'static str> {
    if request.head.chunked {
        return Err("chunked body");
    }
    if request.head.content_encoding.as_deref().is_some_and(|encoding| encoding != "identity") {
        return Err("content-encoded body");
    }
    if request.body_truncated || request.body.len() as u64 != request.body_len {
        return Err("body not kept whole");
    }
    let body = &request.body;
    if body.len() > write.len() {
        return Err("body split across writes");
    }
    // The body ends the request; the last occurrence in this write is the request's own when
    // several requests share the write (pipelining), and the bytes compare equal by search.
    memchr::memmem::rfind(write, body).ok_or("body split across writes")
}

/// Maps findings of an LLM provider request to the message part they sit in.
struct PartLocator {
    format: Option<ProviderFormat>,
    body: Option<serde_json::Value>,
}

impl PartLocator {
    fn new(tool: Option<&Tool>, head: &RequestHead, body: &[u8]) -> Self {
        let is_llm = tool.is_some_and(|tool| tool.class == ToolClass::LlmProvider);
        let body: Option<serde_json::Value> = if is_llm { serde_json::from_slice(body).ok() } else { None };
        let format = body.as_ref().and_then(|body| ProviderFormat::detect(&head.path, body));
        Self { format, body }
    }

    fn part_of(&self, finding: &Finding) -> Option<MessagePart> {
        let (format, body, path) = (self.format?, self.body.as_ref()?, finding.json_path.as_deref()?);
        llm::part_at(format, body, path).map(|location| location.part)
    }
}

fn link_name(link: &Link) -> &'static str {
    match link {
        Link::Requested { .. } => "requested",
        Link::ArgumentsDiffer { .. } => "arguments_differ",
        Link::Unrequested => "unrequested",
    }
}

fn findings_summary(findings: &[AuditFinding]) -> String {
    let mut counted: Vec<(String, usize)> = Vec::new();
    for finding in findings {
        let name = format!("{}/{} -> {}", finding.category, finding.detector, finding.action);
        match counted.iter_mut().find(|(known, _)| *known == name) {
            Some((_, count)) => *count += 1,
            None => counted.push((name, 1)),
        }
    }
    let listed: Vec<String> = counted.into_iter().map(|(name, count)| format!("{count}x {name}")).collect();
    format!("findings: {}", listed.join(", "))
}

fn not_http(policy: &Policy, writer: &Writer, why: &str, bytes: u64) -> RequestDecision {
    let reason = format!("not HTTP/1.1 ({why}): default_action {}", policy.default_action);
    let mut record = base_record(policy, writer, reason);
    record.bytes = bytes;
    record.truncated = true;
    RequestDecision { action: policy.default_action, record, redactions: Vec::new() }
}

/// One effect for the write: the most severe of its requests' actions.
fn combine(policy: &Policy, decisions: Vec<RequestDecision>) -> Outcome {
    let action = Action::most_severe(decisions.iter().map(|decision| decision.action));
    let redactions = || decisions.iter().flat_map(|decision| decision.redactions.iter().cloned()).collect();
    let effect = enforced(
        policy,
        match action {
            Action::Allow | Action::Alert => Effect::Pass,
            Action::Redact => Effect::Redact(redactions()),
            Action::Review => Effect::Review(redactions()),
            Action::Block => Effect::Block,
            Action::Kill => Effect::Kill,
        },
    );
    let records = decisions
        .into_iter()
        .map(|decision| {
            let mut record = decision.record;
            record.action = decision.action.as_str();
            if policy.mode == Mode::Monitor && decision.action > Action::Alert {
                record.reason = format!("{} (monitor mode: not enforced)", record.reason);
            }
            record.redacted = match &effect {
                Effect::Redact(_) => decision.redactions.len(),
                _ => 0,
            };
            finish_record(policy, record, &effect)
        })
        .collect();
    Outcome { effect, records }
}

/// Monitor mode records every decision and applies none.
fn enforced(policy: &Policy, effect: Effect) -> Effect {
    if policy.mode == Mode::Enforce { effect } else { Effect::Pass }
}

/// Sets what happened to a record's request, once it is known.
pub fn finish_record(policy: &Policy, mut record: AuditRecord, effect: &Effect) -> AuditRecord {
    record.enforced = policy.mode == Mode::Enforce;
    record.outcome = match effect {
        Effect::Pass => "passed",
        Effect::Redact(_) => "redacted",
        Effect::Review(_) => "held",
        Effect::Block => "blocked",
        Effect::Kill => "killed",
    };
    record
}

pub(crate) fn base_record(policy: &Policy, writer: &Writer, reason: String) -> AuditRecord {
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
        action: Action::Allow.as_str(),
        outcome: "passed",
        enforced: policy.mode == Mode::Enforce,
        reason,
        bytes: 0,
        body_sha256: None,
        truncated: false,
        findings: Vec::new(),
        schema_violations: Vec::new(),
        tool_call_id: None,
        link: None,
        redacted: 0,
        review: None,
        policy_version: policy.digest.clone(),
        mode: policy.mode.as_str(),
        review_preview: None,
    }
}

fn fill_request(record: &mut AuditRecord, head: &RequestHead, tool: Option<&Tool>) {
    record.host = head.host.clone();
    record.method = Some(head.method.clone());
    record.path = Some(head.path.clone());
    record.tool = tool.map(|tool| tool.name.clone());
}

#[cfg(test)]
mod tests;
