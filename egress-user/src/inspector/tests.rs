use sha2::{Digest as _, Sha256};

use super::*;

const POLICY: &str = r#"
version: 1
mode: enforce
default_action: alert
fail_mode: open
tools:
  - name: chat
    class: llm_provider
    match: { host: api.openai.com, method: POST, path: /v1/chat/completions }
    on_findings: { pii: redact }
    parts:
      tool_result: { secret: block }
  - name: files
    match: { host: api.openai.com, method: POST, path: "/v1/files*" }
    action: block
  - name: post_message
    class: notification
    match: { host: hooks.slack.com, method: POST, path: "/services/*" }
    on_findings: { pii: review }
    on_unrequested: block
    schema:
      type: object
      required: [text]
      properties: { text: { type: string } }
      additionalProperties: false
  - name: tickets
    match: { host: tickets.internal, method: POST }
    on_findings: { pii: redact, pii.iban: review }
  - name: notes
    class: code_exec
    match: { host: notes.internal, method: POST }
    destinations: [ pypi.org ]
    programs: [ /usr/local/bin/notes-runner ]
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
        confined_to: None,
    }
}

const KEY: ConnectionKey = ConnectionKey { tgid: 10, ssl: 0x1000 };

fn request(host: &str, path: &str, body: &str) -> String {
    format!("POST {path} HTTP/1.1\r\nHost: {host}:443\r\nContent-Length: {}\r\n\r\n{body}", body.len())
}

/// A non-streamed JSON response as the agent reads it.
fn reply(body: &str) -> String {
    format!("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}", body.len())
}

/// Runs one write through a fresh inspector, engine and ledger.
struct Bench {
    policy: Policy,
    engine: Engine,
    ledger: ToolCallLedger,
    inspector: Inspector,
}

impl Bench {
    fn new(mode: &str) -> Self {
        Self {
            policy: policy(mode),
            engine: Engine::builtin(),
            ledger: ToolCallLedger::default(),
            inspector: Inspector::new(),
        }
    }

    fn write(&mut self, bytes: &[u8]) -> Outcome {
        let mut judge = Judge { policy: &self.policy, engine: &self.engine, ledger: &mut self.ledger };
        self.inspector.push(&mut judge, KEY, &writer(), bytes)
    }

    fn write_as(&mut self, writer: &Writer, bytes: &[u8]) -> Outcome {
        let mut judge = Judge { policy: &self.policy, engine: &self.engine, ledger: &mut self.ledger };
        self.inspector.push(&mut judge, KEY, writer, bytes)
    }

    fn read(&mut self, bytes: &[u8]) {
        let mut judge = Judge { policy: &self.policy, engine: &self.engine, ledger: &mut self.ledger };
        self.inspector.push_read(&mut judge, KEY, bytes);
    }
}

#[test]
fn an_allowed_request_is_recorded_with_its_digest() {
    let mut bench = Bench::new("enforce");
    let body = r#"{"messages":[{"role":"user","content":"hello"}]}"#;
    let outcome = bench.write(request("api.openai.com", "/v1/chat/completions", body).as_bytes());
    assert_eq!(outcome.effect, Effect::Pass);
    let [record] = outcome.records.as_slice() else { panic!("one record: {:?}", outcome.records) };
    assert_eq!((record.action, record.outcome), ("allow", "passed"));
    assert_eq!(record.tool.as_deref(), Some("chat"));
    assert_eq!(record.host.as_deref(), Some("api.openai.com"));
    assert_eq!(record.bytes, body.len() as u64);
    assert_eq!(record.body_sha256.as_deref(), Some(hex::encode(Sha256::digest(body)).as_str()));
    assert!(!record.truncated);
    assert!(record.findings.is_empty());
}

#[test]
fn pii_in_a_chat_request_is_redacted_in_the_write_buffer() {
    let mut bench = Bench::new("enforce");
    let body = r#"{"messages":[{"role":"user","content":"mail jane.doe@example.com please"}]}"#;
    let write = request("api.openai.com", "/v1/chat/completions", body);
    let outcome = bench.write(write.as_bytes());
    let Effect::Redact(ranges) = &outcome.effect else { panic!("redact expected: {outcome:?}") };
    let [range] = ranges.as_slice() else { panic!("one span: {ranges:?}") };
    assert_eq!(&write[range.clone()], "jane.doe@example.com", "the range points into the write buffer");
    let record = &outcome.records[0];
    assert_eq!((record.action, record.outcome, record.redacted), ("redact", "redacted", 1));
    assert_eq!(record.findings[0].part, Some(MessagePart::User));
    assert_eq!(record.findings[0].rule, "tools[0].on_findings.pii");
}

#[test]
fn a_body_that_cannot_be_masked_in_place_is_blocked_instead() {
    let mut bench = Bench::new("enforce");
    let body = r#"{"messages":[{"role":"user","content":"mail jane.doe@example.com"}]}"#;
    let chunked = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nHost: api.openai.com\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{body}\r\n0\r\n\r\n",
        body.len()
    );
    let outcome = bench.write(chunked.as_bytes());
    assert_eq!(outcome.effect, Effect::Block);
    assert!(
        outcome.records[0].reason.contains("cannot redact in place (chunked body)"),
        "{}",
        outcome.records[0].reason
    );
}

#[test]
fn a_secret_in_a_tool_result_blocks_by_the_part_rule() {
    let mut bench = Bench::new("enforce");
    let body = r#"{"messages":[{"role":"user","content":"read the config"},{"role":"assistant","tool_calls":[{"id":"call_1","type":"function","function":{"name":"read","arguments":"{}"}}]},{"role":"tool","tool_call_id":"call_1","content":"aws_access_key_id = AKIAIOSFODNN7EXAMPLF\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}]}"#;
    let outcome = bench.write(request("api.openai.com", "/v1/chat/completions", body).as_bytes());
    assert_eq!(outcome.effect, Effect::Block, "{:?}", outcome.records);
    let secret = outcome.records[0].findings.iter().find(|f| f.category == "secret").expect("a secret finding");
    assert_eq!(secret.part, Some(MessagePart::ToolResult));
    assert!(secret.rule.contains("parts.tool_result"), "{}", secret.rule);
}

#[test]
fn a_blocked_head_blocks_before_its_body_is_written() {
    let mut bench = Bench::new("enforce");
    let outcome = bench.write(b"POST /v1/files HTTP/1.1\r\nHost: api.openai.com\r\nContent-Length: 5\r\n\r\n");
    assert_eq!(outcome.effect, Effect::Block);
    assert!(outcome.records[0].truncated, "the body was never seen");
    assert_eq!(outcome.records[0].tool.as_deref(), Some("files"));
    let body = bench.write(b"hello");
    assert_eq!(body.effect, Effect::Block);
    assert!(body.records.is_empty());
}

#[test]
fn monitor_mode_records_but_never_applies() {
    let mut bench = Bench::new("monitor");
    let outcome = bench.write(request("api.openai.com", "/v1/files", "x").as_bytes());
    assert_eq!(outcome.effect, Effect::Pass);
    assert_eq!((outcome.records[0].action, outcome.records[0].outcome), ("block", "passed"));
    assert!(!outcome.records[0].enforced);
    assert!(outcome.records[0].reason.contains("monitor mode"));
}

#[test]
fn schema_violations_name_the_field_and_rule() {
    let mut bench = Bench::new("enforce");
    let model_reply = reply(
        r#"{"choices":[{"message":{"role":"assistant","tool_calls":[{"id":"call_9","type":"function","function":{"name":"post_message","arguments":"{\"text\":\"hi\"}"}}]}}]}"#,
    );
    bench.write(request("api.openai.com", "/v1/chat/completions", r#"{"messages":[]}"#).as_bytes());
    bench.read(model_reply.as_bytes());
    let outcome = bench.write(request("hooks.slack.com", "/services/x", r#"{"text":"hi","exfil":"x"}"#).as_bytes());
    let record = &outcome.records[0];
    assert_eq!(record.schema_violations.len(), 1, "{record:?}");
    assert_eq!(record.schema_violations[0].pointer, "/exfil");
    assert_eq!(record.schema_violations[0].keyword, "additionalProperties");
    assert_eq!(outcome.effect, Effect::Block);
}

#[test]
fn requests_carrying_the_models_tool_call_are_linked_and_others_refused() {
    let mut bench = Bench::new("enforce");
    let model_reply = reply(
        r#"{"choices":[{"message":{"role":"assistant","tool_calls":[{"id":"call_1","type":"function","function":{"name":"post_message","arguments":"{\"text\":\"deploy done\"}"}}]}}]}"#,
    );
    bench.write(request("api.openai.com", "/v1/chat/completions", r#"{"messages":[]}"#).as_bytes());
    bench.read(model_reply.as_bytes());
    let linked = bench.write(request("hooks.slack.com", "/services/x", r#"{"text":"deploy done"}"#).as_bytes());
    assert_eq!(linked.effect, Effect::Pass, "{:?}", linked.records);
    assert_eq!(linked.records[0].link, Some("requested"));
    assert_eq!(linked.records[0].tool_call_id.as_deref(), Some("call_1"));
    let mut other = Bench::new("enforce");
    let unrequested = other.write(request("hooks.slack.com", "/services/x", r#"{"text":"something else"}"#).as_bytes());
    assert_eq!(unrequested.effect, Effect::Block);
    assert_eq!(unrequested.records[0].link, Some("unrequested"));
}

#[test]
fn pii_for_a_notification_asks_for_review() {
    let mut bench = Bench::new("enforce");
    let model_reply = reply(
        r#"{"choices":[{"message":{"role":"assistant","tool_calls":[{"id":"call_2","type":"function","function":{"name":"post_message","arguments":"{\"text\":\"mail jane.doe@example.com\"}"}}]}}]}"#,
    );
    bench.write(request("api.openai.com", "/v1/chat/completions", r#"{"messages":[]}"#).as_bytes());
    bench.read(model_reply.as_bytes());
    let outcome =
        bench.write(request("hooks.slack.com", "/services/x", r#"{"text":"mail jane.doe@example.com"}"#).as_bytes());
    assert_eq!(outcome.effect, Effect::Review(Vec::new()), "{:?}", outcome.records);
    assert_eq!((outcome.records[0].action, outcome.records[0].outcome), ("review", "held"));
}

#[test]
fn a_request_held_for_review_keeps_the_redactions_an_approval_applies() {
    let mut bench = Bench::new("enforce");
    let body = r#"{"text":"mail jane.doe@example.com, account DE89 3704 0044 0532 0130 00"}"#;
    let write = request("tickets.internal", "/new", body);
    let outcome = bench.write(write.as_bytes());
    let Effect::Review(ranges) = &outcome.effect else { panic!("review expected: {outcome:?}") };
    let [range] = ranges.as_slice() else { panic!("the e-mail only: {ranges:?}") };
    assert_eq!(&write[range.clone()], "jane.doe@example.com");
    let record = &outcome.records[0];
    assert_eq!((record.action, record.outcome, record.redacted), ("review", "held", 0));
    // The reviewer's preview masks every finding, the reviewed one included.
    let preview = record.review_preview.as_ref().expect("a held request has a preview");
    assert_eq!(preview.text, r#"{"text":"mail ********************, account ***************************"}"#);
    assert_eq!((preview.body_bytes, preview.truncated), (body.len() as u64, false));
}

#[test]
fn a_confined_process_may_send_only_to_the_hosts_of_its_tool() {
    let mut bench = Bench::new("enforce");
    let confined = Writer { confined_to: Some("notes".into()), ..writer() };
    let fronted = bench.write_as(&confined, request("api.openai.com", "/v1/chat/completions", "{}").as_bytes());
    assert_eq!(fronted.effect, Effect::Block, "{:?}", fronted.records);
    assert!(
        fronted.records[0]
            .reason
            .contains("host `api.openai.com` is not among the destinations of code_exec tool notes"),
        "{}",
        fronted.records[0].reason
    );
    // (A new connection: the blocked one stays blocked.)
    let listed = Bench::new("enforce").write_as(&confined, request("PyPI.org", "/simple/", "{}").as_bytes());
    assert_eq!(listed.effect, Effect::Pass, "{:?}", listed.records);
}

#[test]
fn split_writes_make_one_record_when_the_request_completes() {
    let mut bench = Bench::new("enforce");
    let text = request("api.openai.com", "/v1/chat/completions", r#"{"messages":[]}"#);
    let (first, second) = text.split_at(text.len() - 4);
    assert!(bench.write(first.as_bytes()).records.is_empty());
    let outcome = bench.write(second.as_bytes());
    assert_eq!(outcome.records.len(), 1);
    assert_eq!(outcome.records[0].bytes, 15);
}

#[test]
fn lost_bytes_mark_the_request_truncated_and_parsing_restarts() {
    let mut bench = Bench::new("monitor");
    let head = "POST /v1/chat/completions HTTP/1.1\r\nHost: api.openai.com\r\nContent-Length: 100000\r\n\r\nabc";
    assert!(bench.write(head.as_bytes()).records.is_empty());
    let lost = bench.inspector.lose(&bench.policy, KEY, &writer(), "write longer than capture_max_bytes");
    assert_eq!(lost.len(), 1);
    assert!(lost[0].truncated);
    assert_eq!(lost[0].body_sha256, None);
    assert_eq!(lost[0].bytes, 100000);
    let next = bench.write(request("api.openai.com", "/v1/chat/completions", "{}").as_bytes());
    assert_eq!(next.records.len(), 1);
    assert!(!next.records[0].truncated);
}

#[test]
fn not_http_gets_the_default_action_once() {
    let mut bench = Bench::new("enforce");
    let outcome = bench.write(b"\x16\x03\x01garbage\r\n\r\n");
    assert_eq!(outcome.records.len(), 1);
    assert_eq!(outcome.records[0].action, "alert");
    assert!(outcome.records[0].method.is_none());
    assert!(bench.write(b"more").records.is_empty());
}

#[test]
fn a_class_default_for_unrequested_calls_needs_the_models_calls_on_record() {
    let mut bench = Bench::new("enforce");
    let body = r#"{"code":"print(1)"}"#;
    let without_model = bench.write(request("notes.internal", "/run", body).as_bytes());
    assert_eq!(without_model.records[0].link, Some("unrequested"));
    assert_eq!(without_model.records[0].action, "alert", "code_exec's endpoint default, not its unrequested block");
    let model_reply = reply(
        r#"{"choices":[{"message":{"role":"assistant","tool_calls":[{"id":"call_3","type":"function","function":{"name":"notes","arguments":"{\"code\":\"print(2)\"}"}}]}}]}"#,
    );
    let mut driven = Bench::new("enforce");
    driven.write(request("api.openai.com", "/v1/chat/completions", r#"{"messages":[]}"#).as_bytes());
    driven.read(model_reply.as_bytes());
    let other = driven.write(request("notes.internal", "/run", body).as_bytes());
    assert_eq!(other.effect, Effect::Block, "the model asked for other code: code_exec refuses it");
    assert_eq!(other.records[0].link, Some("arguments_differ"));
}
