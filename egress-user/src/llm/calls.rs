//! Linking an agent's tool requests to the tool calls its model asked for.
//!
//! When a model asks for a tool call, the agent then sends a request that carries the call's
//! arguments. Recording each process's recent calls lets a tool request be linked to the call
//! that asked for it (the audit record names the call id), and lets a request no call asked
//! for, or one whose arguments were changed on the way, get an action of its own.
//!
//! Linking is by content, not by position: the arguments the model produced must show up in
//! the request body, either as its fields or under a wrapper (`{"arguments": {...}}`,
//! `{"input": {...}}`, MCP's `{"params": {"name": ..., "arguments": {...}}}`).
//!
//! A linked call stays in the ledger (agents retry, and a retry is still requested) but is
//! counted, and calls not linked yet are preferred: when the model asked for the same call
//! twice, two requests link to the two ids in order.

use std::cmp::Reverse;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

use serde_json::{Map, Value};

use super::response::ToolCall;

/// How deep into a request body argument wrappers are looked for.
const MAX_WRAPPER_DEPTH: usize = 3;
/// Objects of one body considered as argument containers.
const MAX_CONTAINERS: usize = 256;
/// Longest JSON text inside a string value that is parsed as a possible container.
const MAX_EMBEDDED_JSON: usize = 64 * 1024;
/// Most such embedded documents parsed per body.
const MAX_EMBEDDED_DOCUMENTS: usize = 16;

/// How a tool request relates to the calls the model asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Link {
    /// The request carries the arguments of this call.
    Requested { tool_call_id: String },
    /// The model asked for this tool, but the request's arguments are not the ones it produced.
    ArgumentsDiffer {
        tool_call_id: String,
        /// JSON pointers (RFC 6901) into the call's arguments of what is missing, different or
        /// (MCP only) added. Never values.
        differing: Vec<String>,
    },
    /// No recent call of this process matches.
    Unrequested,
}

/// Recent tool calls per process, bounded in age and number.
pub struct ToolCallLedger {
    ttl: Duration,
    max_entries: usize,
    /// Oldest first.
    entries: VecDeque<Entry>,
}

struct Entry {
    pid: u32,
    call: ToolCall,
    /// The arguments parsed as JSON; a freeform string when they are not JSON.
    arguments: Value,
    recorded: Instant,
    /// Requests linked to this call so far.
    linked: u32,
}

impl Default for ToolCallLedger {
    /// Ten minutes, 4096 calls.
    fn default() -> Self {
        Self::new(Duration::from_secs(600), 4096)
    }
}

impl ToolCallLedger {
    /// Calls are forgotten `ttl` after they were recorded, and the oldest first once there are
    /// more than `max_entries`.
    pub fn new(ttl: Duration, max_entries: usize) -> Self {
        Self { ttl, max_entries, entries: VecDeque::new() }
    }

    /// Remembers the calls a model asked `pid` for. A call id seen before for the same process
    /// (the same response parsed twice) replaces the earlier entry.
    pub fn record(&mut self, pid: u32, calls: Vec<ToolCall>, now: Instant) {
        self.expire(now);
        for call in calls {
            if !call.id.is_empty() {
                self.entries.retain(|entry| entry.pid != pid || entry.call.id != call.id);
            }
            let arguments = parse_arguments(&call.arguments);
            self.entries.push_back(Entry { pid, call, arguments, recorded: now, linked: 0 });
        }
        while self.entries.len() > self.max_entries {
            self.entries.pop_front();
        }
    }

    /// Forgets a process's calls (it exited).
    pub fn forget_process(&mut self, pid: u32) {
        self.entries.retain(|entry| entry.pid != pid);
    }

    /// A recorded call, e.g. to name the tool a `Requested` link points at: a body may carry
    /// a call's arguments to a different tool, which only the caller can judge.
    pub fn get(&self, pid: u32, tool_call_id: &str) -> Option<&ToolCall> {
        self.entries
            .iter()
            .rev()
            .find(|entry| entry.pid == pid && entry.call.id == tool_call_id)
            .map(|entry| &entry.call)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether a model asked `pid` for any tool call still remembered: only then is a request
    /// without a matching call known to be one the model did not ask for.
    pub fn has_calls(&self, pid: u32) -> bool {
        self.entries.iter().any(|entry| entry.pid == pid)
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Links a tool request `pid` sent to the call it carries. `tool_name_hint` is a name the
    /// request is known by (the policy tool's name); an MCP `tools/call` body names its tool
    /// itself. A name is needed to call arguments different rather than unrequested, and for
    /// calls without arguments. `body` is JSON, or form/query encoded (`a=1&b=x`).
    /// A `Requested` link counts as a use of the call.
    pub fn link(&mut self, pid: u32, tool_name_hint: Option<&str>, body: &[u8], now: Instant) -> Link {
        self.expire(now);
        let Some(body) = parse_body(body) else {
            return self.link_unparsed(pid, tool_name_hint, body);
        };
        let mcp = mcp_tool_call(&body);
        let hints: Vec<&str> = tool_name_hint.into_iter().chain(mcp.map(|(name, _)| name)).collect();
        let embedded = embedded_documents(&body);
        let mut containers = Vec::new();
        collect_objects(&body, 0, &mut containers);
        for document in &embedded {
            collect_objects(document, 1, &mut containers);
        }
        let no_arguments = Value::Object(Map::new());

        // The carried call: named as hinted, most specific, not linked yet, oldest.
        let carried = self
            .entries
            .iter()
            .enumerate()
            .filter(|(_, entry)| entry.pid == pid)
            .filter_map(|(position, entry)| {
                let named = hints.iter().any(|hint| names_match(hint, &entry.call.name));
                let carried = match (mcp, &entry.arguments) {
                    // MCP names its tool and passes the model's arguments through as they are.
                    (Some((_, sent)), expected) => named && loose_eq(expected, sent.unwrap_or(&no_arguments)),
                    (None, Value::Object(expected)) if expected.is_empty() => named,
                    (None, Value::Object(expected)) => containers.iter().any(|container| carries(container, expected)),
                    (None, expected) => containers.iter().any(|container| contains_value(container, expected)),
                };
                let specificity = entry.arguments.as_object().map_or(1, Map::len);
                let rank = (named, specificity, entry.linked == 0, Reverse(entry.recorded), Reverse(position));
                carried.then_some((position, rank))
            })
            .max_by_key(|(_, rank)| *rank);
        if let Some((position, _)) = carried
            && let Some(entry) = self.entries.get_mut(position)
        {
            entry.linked = entry.linked.saturating_add(1);
            return Link::Requested { tool_call_id: entry.call.id.clone() };
        }

        // Otherwise the hinted call whose arguments differ least; not linked yet, newest first.
        let closest = self
            .entries
            .iter()
            .filter(|entry| entry.pid == pid && hints.iter().any(|hint| names_match(hint, &entry.call.name)))
            .map(|entry| {
                let differing = match mcp {
                    Some((_, sent)) => differences(&entry.arguments, Some(sent.unwrap_or(&no_arguments)), true),
                    None => closest_differences(&entry.arguments, &containers),
                };
                (differing, entry)
            })
            .min_by_key(|(differing, entry)| (differing.len(), entry.linked > 0, Reverse(entry.recorded)));
        match closest {
            Some((differing, entry)) => Link::ArgumentsDiffer { tool_call_id: entry.call.id.clone(), differing },
            None => Link::Unrequested,
        }
    }

    /// A body that is neither JSON nor a form: it carries a call without arguments (given its
    /// name), or a freeform call whose text it is.
    fn link_unparsed(&mut self, pid: u32, tool_name_hint: Option<&str>, body: &[u8]) -> Link {
        let text = std::str::from_utf8(body).map(str::trim).ok();
        let candidate = self
            .entries
            .iter_mut()
            .filter(|entry| entry.pid == pid)
            .filter(|entry| match &entry.arguments {
                Value::Object(expected) => {
                    expected.is_empty() && tool_name_hint.is_some_and(|hint| names_match(hint, &entry.call.name))
                }
                Value::String(freeform) => text.is_some_and(|text| !text.is_empty() && text == freeform.trim()),
                _ => false,
            })
            .min_by_key(|entry| (entry.linked > 0, entry.recorded));
        match candidate {
            Some(entry) => {
                entry.linked = entry.linked.saturating_add(1);
                Link::Requested { tool_call_id: entry.call.id.clone() }
            }
            None => Link::Unrequested,
        }
    }

    fn expire(&mut self, now: Instant) {
        let ttl = self.ttl;
        self.entries.retain(|entry| now.saturating_duration_since(entry.recorded) <= ttl);
    }
}

/// Arguments as JSON; empty text is no arguments, anything else not JSON is freeform text.
fn parse_arguments(arguments: &str) -> Value {
    if arguments.trim().is_empty() {
        return Value::Object(Map::new());
    }
    serde_json::from_str(arguments).unwrap_or_else(|_| Value::String(arguments.to_owned()))
}

/// The body as JSON, or a form / query string as an object of strings.
fn parse_body(body: &[u8]) -> Option<Value> {
    let trimmed = body.trim_ascii();
    if trimmed.is_empty() {
        return None;
    }
    if let Ok(value) = serde_json::from_slice(trimmed) {
        return Some(value);
    }
    let text = std::str::from_utf8(trimmed).ok()?;
    let text = text.strip_prefix('?').unwrap_or(text);
    if !text.contains('=') || text.contains(char::is_whitespace) {
        return None;
    }
    let mut form = Map::new();
    for pair in text.split('&').filter(|pair| !pair.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        form.insert(percent_decode(key)?, Value::String(percent_decode(value)?));
    }
    Some(Value::Object(form))
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while let Some(&byte) = bytes.get(at) {
        match byte {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = std::str::from_utf8(bytes.get(at + 1..at + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                at += 2;
            }
            other => out.push(other),
        }
        at += 1;
    }
    String::from_utf8(out).ok()
}

/// The tool name and arguments of an MCP JSON-RPC `tools/call` request.
fn mcp_tool_call(body: &Value) -> Option<(&str, Option<&Value>)> {
    if body.get("method").and_then(Value::as_str) != Some("tools/call") {
        return None;
    }
    let params = body.get("params")?;
    Some((params.get("name").and_then(Value::as_str)?, params.get("arguments")))
}

/// Objects of `value` (itself first) that may hold a call's arguments, down to
/// [`MAX_WRAPPER_DEPTH`] levels of wrappers.
fn collect_objects<'a>(value: &'a Value, depth: usize, out: &mut Vec<&'a Value>) {
    if out.len() >= MAX_CONTAINERS {
        return;
    }
    if value.is_object() {
        out.push(value);
    }
    if depth >= MAX_WRAPPER_DEPTH {
        return;
    }
    match value {
        Value::Object(map) => map.values().for_each(|child| collect_objects(child, depth + 1, out)),
        Value::Array(items) => items.iter().for_each(|child| collect_objects(child, depth + 1, out)),
        _ => {}
    }
}

/// JSON objects serialized into string values (`{"payload": "{\"to\": ...}"}`) within the
/// wrapper depth, parsed.
fn embedded_documents(body: &Value) -> Vec<Value> {
    fn walk(value: &Value, depth: usize, out: &mut Vec<Value>) {
        if depth > MAX_WRAPPER_DEPTH || out.len() >= MAX_EMBEDDED_DOCUMENTS {
            return;
        }
        match value {
            Value::String(text) if text.len() <= MAX_EMBEDDED_JSON && text.trim_start().starts_with(['{', '[']) => {
                if let Ok(document) = serde_json::from_str::<Value>(text) {
                    out.push(document);
                }
            }
            Value::Object(map) => map.values().for_each(|child| walk(child, depth + 1, out)),
            Value::Array(items) => items.iter().for_each(|child| walk(child, depth + 1, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(body, 0, &mut out);
    out
}

/// Every argument is in `container` with an equal value.
fn carries(container: &Value, arguments: &Map<String, Value>) -> bool {
    arguments.iter().all(|(key, expected)| container.get(key).is_some_and(|sent| loose_eq(expected, sent)))
}

/// `wanted` appears anywhere in `value` (arguments that are not an object).
fn contains_value(value: &Value, wanted: &Value) -> bool {
    if loose_eq(value, wanted) {
        return true;
    }
    match value {
        Value::Object(map) => map.values().any(|child| contains_value(child, wanted)),
        Value::Array(items) => items.iter().any(|child| contains_value(child, wanted)),
        _ => false,
    }
}

/// JSON equality that also takes `5` for `5.0` and for `"5"`, and `true` for `"true"`:
/// tool layers and form encodings change representations, not values.
fn loose_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            x == y || matches!((x.as_f64(), y.as_f64()), (Some(x), Some(y)) if x == y)
        }
        (Value::String(text), scalar @ (Value::Number(_) | Value::Bool(_)))
        | (scalar @ (Value::Number(_) | Value::Bool(_)), Value::String(text)) => {
            serde_json::from_str::<Value>(text.trim())
                .is_ok_and(|parsed| !parsed.is_string() && loose_eq(&parsed, scalar))
        }
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(x, y)| loose_eq(x, y)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(key, value)| y.get(key).is_some_and(|other| loose_eq(value, other)))
        }
        _ => a == b,
    }
}

/// Differences against the container that shares the most argument keys (then values).
fn closest_differences(arguments: &Value, containers: &[&Value]) -> Vec<String> {
    let Value::Object(expected) = arguments else {
        return vec![String::new()];
    };
    let overlap = |container: &Value| {
        let present = expected.keys().filter(|key| container.get(key.as_str()).is_some()).count();
        let equal = expected
            .iter()
            .filter(|(key, value)| container.get(key.as_str()).is_some_and(|sent| loose_eq(value, sent)))
            .count();
        (present, equal)
    };
    // `max_by_key` keeps the last maximum; reversing keeps the outermost one on ties.
    let best = containers.iter().rev().max_by_key(|container| overlap(container));
    differences(arguments, best.copied(), false)
}

/// JSON pointers of what differs between the call's arguments and what was sent. With
/// `exact`, keys the request added count too.
fn differences(expected: &Value, sent: Option<&Value>, exact: bool) -> Vec<String> {
    let mut out = Vec::new();
    diff_into(expected, sent, exact, String::new(), &mut out);
    out
}

fn diff_into(expected: &Value, sent: Option<&Value>, exact: bool, pointer: String, out: &mut Vec<String>) {
    match (expected, sent) {
        (Value::Object(expected), Some(Value::Object(sent))) => {
            for (key, value) in expected {
                diff_into(value, sent.get(key), exact, format!("{pointer}/{}", escape_pointer(key)), out);
            }
            if exact {
                let added = sent.keys().filter(|key| !expected.contains_key(*key));
                out.extend(added.map(|key| format!("{pointer}/{}", escape_pointer(key))));
            }
        }
        (expected, Some(sent)) if loose_eq(expected, sent) => {}
        _ => out.push(pointer),
    }
}

fn escape_pointer(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// Whether a request's tool name and a model's function name are the same tool, allowing for
/// the prefixes agents put on MCP tools (`mcp__github__create_issue`, `github.create_issue`).
fn names_match(hint: &str, name: &str) -> bool {
    let normalize = |text: &str| text.trim().to_ascii_lowercase().replace(['-', '.', '/', ':', ' '], "_");
    let (hint, name) = (normalize(hint), normalize(name));
    if hint.is_empty() || name.is_empty() {
        return false;
    }
    let suffix_of = |long: &str, short: &str| short.len() >= 3 && long.ends_with(&format!("_{short}"));
    hint == name || suffix_of(&hint, &name) || suffix_of(&name, &hint)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const AGENT: u32 = 4242;

    fn call(id: &str, name: &str, arguments: &str) -> ToolCall {
        ToolCall { id: id.to_owned(), name: name.to_owned(), arguments: arguments.to_owned() }
    }

    fn requested(id: &str) -> Link {
        Link::Requested { tool_call_id: id.to_owned() }
    }

    fn differ(id: &str, pointers: &[&str]) -> Link {
        Link::ArgumentsDiffer {
            tool_call_id: id.to_owned(),
            differing: pointers.iter().map(|p| p.to_string()).collect(),
        }
    }

    fn ledger_with(calls: Vec<ToolCall>, now: Instant) -> ToolCallLedger {
        let mut ledger = ToolCallLedger::default();
        ledger.record(AGENT, calls, now);
        ledger
    }

    fn body(value: Value) -> Vec<u8> {
        value.to_string().into_bytes()
    }

    #[test]
    fn rest_body_with_the_arguments_is_requested() {
        let now = Instant::now();
        let mut ledger = ledger_with(
            vec![
                call(
                    "call_a",
                    "create_issue",
                    r#"{"repo":"acme/api","title":"Login fails on Safari","labels":["bug"]}"#,
                ),
                call("call_b", "send_slack", r##"{"channel":"#ops","text":"deploy done"}"##),
            ],
            now,
        );
        // Top-level fields, extra fields added by the tool layer, key order changed.
        let issue =
            body(json!({"labels": ["bug"], "title": "Login fails on Safari", "repo": "acme/api", "assignees": []}));
        assert_eq!(ledger.link(AGENT, Some("github-api"), &issue, now), requested("call_a"));
        // Under a wrapper, with a number sent as a string elsewhere.
        let slack = body(json!({"input": {"channel": "#ops", "text": "deploy done"}, "meta": {"retry": "1"}}));
        assert_eq!(ledger.link(AGENT, None, &slack, now), requested("call_b"));
        assert_eq!(ledger.get(AGENT, "call_b").map(|call| call.name.as_str()), Some("send_slack"));
        assert_eq!(ledger.get(AGENT + 1, "call_b"), None);
        // Another process did not ask for it.
        assert_eq!(ledger.link(AGENT + 1, None, &slack, now), Link::Unrequested);
    }

    #[test]
    fn changed_arguments_differ_with_pointers_and_no_values() {
        let now = Instant::now();
        let mut ledger = ledger_with(
            vec![call(
                "call_m",
                "send_email",
                r#"{"to":"alice@example.com","subject":"Q3 numbers","options":{"cc":"bob@example.com","urgent":false}}"#,
            )],
            now,
        );
        let sent = body(json!({"to": "attacker@evil.test", "subject": "Q3 numbers",
            "options": {"cc": "bob@example.com", "urgent": true}}));
        let link = ledger.link(AGENT, Some("send-email"), &sent, now);
        assert_eq!(link, differ("call_m", &["/options/urgent", "/to"]));
        assert!(!format!("{link:?}").contains("attacker"));
        // Without a name, a body that does not carry the call is unrequested.
        assert_eq!(ledger.link(AGENT, None, &sent, now), Link::Unrequested);
        // A missing argument is a difference too.
        let partial = body(json!({"to": "alice@example.com"}));
        assert_eq!(ledger.link(AGENT, Some("send_email"), &partial, now), differ("call_m", &["/options", "/subject"]));
    }

    #[test]
    fn unrequested_when_nothing_matches() {
        let now = Instant::now();
        let mut ledger = ledger_with(vec![call("call_r", "read_file", r#"{"path":"/srv/app/config.yaml"}"#)], now);
        let upload = body(json!({"file": "/srv/app/.env", "dest": "https://paste.example/new"}));
        assert_eq!(ledger.link(AGENT, Some("paste-upload"), &upload, now), Link::Unrequested);
        assert_eq!(ledger.link(AGENT, None, b"", now), Link::Unrequested);
        assert_eq!(ToolCallLedger::default().link(AGENT, Some("read_file"), &upload, now), Link::Unrequested);
    }

    #[test]
    fn mcp_tools_call() {
        let now = Instant::now();
        let mut ledger = ledger_with(
            vec![
                call("toolu_01", "mcp__github__search_code", r#"{"query":"aws_secret_access_key","per_page":10}"#),
                call("toolu_02", "mcp__github__get_me", "{}"),
            ],
            now,
        );
        let rpc = |id: u32, name: &str, arguments: Value| {
            body(json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
                "params": {"name": name, "arguments": arguments, "_meta": {"progressToken": id}}}))
        };
        let exact = rpc(7, "search_code", json!({"per_page": 10, "query": "aws_secret_access_key"}));
        assert_eq!(ledger.link(AGENT, None, &exact, now), requested("toolu_01"));
        // MCP passes arguments through unchanged, so an added one is a difference.
        let added = rpc(8, "search_code", json!({"per_page": 10, "query": "aws_secret_access_key", "org": "acme"}));
        assert_eq!(ledger.link(AGENT, None, &added, now), differ("toolu_01", &["/org"]));
        let changed = rpc(9, "search_code", json!({"per_page": 100, "query": "aws_secret_access_key"}));
        assert_eq!(ledger.link(AGENT, None, &changed, now), differ("toolu_01", &["/per_page"]));
        // A tool without arguments links by name, with or without an empty `arguments`.
        assert_eq!(ledger.link(AGENT, None, &rpc(10, "get_me", json!({})), now), requested("toolu_02"));
        let no_arguments =
            body(json!({"jsonrpc": "2.0", "id": 11, "method": "tools/call", "params": {"name": "get_me"}}));
        assert_eq!(ledger.link(AGENT, None, &no_arguments, now), requested("toolu_02"));
        // The same arguments under a tool the model did not name are not its call.
        let other = rpc(12, "delete_repo", json!({"per_page": 10, "query": "aws_secret_access_key"}));
        assert_eq!(ledger.link(AGENT, None, &other, now), Link::Unrequested);
    }

    #[test]
    fn repeated_calls_link_in_order_and_retries_still_link() {
        let now = Instant::now();
        let args = r#"{"url":"https://status.example.com/api"}"#;
        let mut ledger = ledger_with(vec![call("call_1", "fetch", args), call("call_2", "fetch", args)], now);
        let sent = body(json!({"url": "https://status.example.com/api"}));
        assert_eq!(ledger.link(AGENT, None, &sent, now), requested("call_1"));
        assert_eq!(ledger.link(AGENT, None, &sent, now), requested("call_2"));
        // A retry after both were used still links (to the oldest).
        assert_eq!(ledger.link(AGENT, None, &sent, now), requested("call_1"));
    }

    #[test]
    fn most_specific_and_named_call_wins() {
        let now = Instant::now();
        let mut ledger = ledger_with(
            vec![
                call("call_p", "write_file", r#"{"path":"/tmp/out.txt"}"#),
                call("call_pc", "write_file", r#"{"path":"/tmp/out.txt","content":"report"}"#),
                call("call_s", "stat", r#"{"path":"/tmp/out.txt"}"#),
            ],
            now,
        );
        let sent = body(json!({"path": "/tmp/out.txt", "content": "report"}));
        assert_eq!(ledger.link(AGENT, None, &sent, now), requested("call_pc"));
        let stat = body(json!({"path": "/tmp/out.txt"}));
        assert_eq!(ledger.link(AGENT, Some("stat"), &stat, now), requested("call_s"));
    }

    #[test]
    fn embedded_json_form_and_freeform_bodies() {
        let now = Instant::now();
        let mut ledger = ledger_with(
            vec![
                call("call_w", "post_webhook", r#"{"event":"deploy","build":1187}"#),
                call("call_q", "search", r#"{"q":"quarterly report","page":2}"#),
                call("call_x", "run_sql", "SELECT count(*) FROM orders"),
                call("call_n", "ping", ""),
            ],
            now,
        );
        let embedded = body(json!({"payload": "{\"event\":\"deploy\",\"build\":1187}"}));
        assert_eq!(ledger.link(AGENT, None, &embedded, now), requested("call_w"));
        assert_eq!(ledger.link(AGENT, None, b"q=quarterly+report&page=2", now), requested("call_q"));
        assert_eq!(ledger.link(AGENT, None, b"  SELECT count(*) FROM orders\n", now), requested("call_x"));
        assert_eq!(
            ledger.link(AGENT, None, &body(json!({"sql": "SELECT count(*) FROM orders"})), now),
            requested("call_x")
        );
        assert_eq!(ledger.link(AGENT, Some("ping"), b"", now), requested("call_n"));
        assert_eq!(ledger.link(AGENT, None, b"", now), Link::Unrequested);
    }

    #[test]
    fn ttl_bound_and_forget() {
        let start = Instant::now();
        let mut ledger = ToolCallLedger::new(Duration::from_secs(60), 3);
        ledger.record(AGENT, vec![call("old", "f", r#"{"a":1}"#)], start);
        let later = start + Duration::from_secs(61);
        assert_eq!(ledger.link(AGENT, None, br#"{"a":1}"#, later), Link::Unrequested);
        assert!(ledger.is_empty());

        let calls = (0..5).map(|n| call(&format!("c{n}"), "f", &format!("{{\"n\":{n}}}"))).collect();
        ledger.record(AGENT, calls, start);
        assert_eq!(ledger.len(), 3);
        assert_eq!(ledger.link(AGENT, None, br#"{"n":0}"#, start), Link::Unrequested);
        assert_eq!(ledger.link(AGENT, None, br#"{"n":4}"#, start), requested("c4"));
        // Recording the same id again replaces it.
        ledger.record(AGENT, vec![call("c4", "f", r#"{"n":40}"#)], start);
        assert_eq!(ledger.len(), 3);
        assert_eq!(ledger.link(AGENT, None, br#"{"n":40}"#, start), requested("c4"));
        ledger.forget_process(AGENT);
        assert!(ledger.is_empty());
    }

    #[test]
    fn name_matching_allows_agent_prefixes() {
        assert!(names_match("create_issue", "mcp__github__create_issue"));
        assert!(names_match("github.create-issue", "create_issue"));
        assert!(names_match("Send-Email", "send_email"));
        assert!(!names_match("create_issue", "close_issue"));
        assert!(!names_match("", "x"));
        assert!(!names_match("ue", "create_issue"));
    }

    #[test]
    fn loose_equality() {
        assert!(loose_eq(&json!(5), &json!(5.0)));
        assert!(loose_eq(&json!("5"), &json!(5)));
        assert!(loose_eq(&json!(true), &json!("true")));
        assert!(!loose_eq(&json!("\"5\""), &json!(5)));
        assert!(!loose_eq(&json!({"a": 1}), &json!({"a": 1, "b": 2})));
        assert!(loose_eq(&json!([1, {"b": "2"}]), &json!([1.0, {"b": 2}])));
        assert_eq!(escape_pointer("a/b~c"), "a~1b~0c");
    }
}
