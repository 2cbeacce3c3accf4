//! Tool calls a model asked for, read from the provider's response body as the agent read it.
//!
//! Responses come whole (a JSON document) or streamed as server-sent events, where a call's
//! arguments arrive in fragments spread over many events. [`ResponseParser`] takes the body
//! in pieces split anywhere and tells the two apart by the first byte. Events are recognised
//! by their shape, not by the endpoint, so gateways that relay one provider's format under
//! another path are read the same way.

use serde_json::Value;

/// Largest non-streamed body we buffer.
const MAX_JSON_BODY: usize = 16 << 20;
/// Largest data of one server-sent event we buffer.
const MAX_EVENT_DATA: usize = 4 << 20;
/// Most tool calls we keep track of in one response.
const MAX_CALLS: usize = 512;
/// Longest arguments we keep for one call.
const MAX_ARGUMENTS: usize = 1 << 20;

/// A tool call the model asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ToolCall {
    /// The provider's call id (`call_...`, `toolu_...`), which the tool result will cite.
    /// Empty for legacy Chat Completions `function_call`, which had none.
    pub id: String,
    pub name: String,
    /// As the model produced them: normally a JSON object in text form; a freeform string for
    /// OpenAI custom tools. Anthropic's non-streamed `input` object is serialized compactly.
    pub arguments: String,
}

/// Incremental parser of one response body (decoded, de-chunked) from an LLM provider.
#[derive(Default)]
pub struct ResponseParser {
    mode: Mode,
    /// Whole-JSON mode: the body so far.
    json: Vec<u8>,
    /// Event-stream mode: the line being received.
    line: Vec<u8>,
    /// The last line ended with CR; an LF that follows belongs to it.
    after_cr: bool,
    /// Event-stream mode: the current event's `event:` name and `data:` lines.
    event: String,
    data: Vec<u8>,
    has_data: bool,
    /// The current event's data outgrew [`MAX_EVENT_DATA`]; it is dropped when dispatched.
    data_overflow: bool,
    /// A line was seen already (a byte-order mark can only start the first).
    seen_line: bool,
    calls: Vec<Pending>,
    lossy: bool,
}

#[derive(Default, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Only whitespace seen so far.
    #[default]
    Undecided,
    Json,
    EventStream,
}

/// A call being assembled from one or more events.
struct Pending {
    key: Key,
    id: String,
    name: String,
    /// Argument fragments concatenated in arrival order.
    fragments: String,
    /// The arguments when an event carried them whole; they win over the fragments.
    complete: Option<String>,
    /// Used when neither of the above came (a streamed tool without parameters).
    fallback: Option<String>,
}

/// What later events use to refer to a call.
#[derive(Clone, PartialEq, Eq)]
enum Key {
    /// Chat Completions: choice index and tool call index.
    Chat(u64, u64),
    /// Responses: the output item's id.
    Item(String),
    /// Messages: the content block index.
    Block(u64),
    None,
}

impl ResponseParser {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds the next body bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        let mut bytes = bytes;
        if self.mode == Mode::Undecided {
            bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
            let start = bytes.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(bytes.len());
            bytes = bytes.get(start..).unwrap_or_default();
            match bytes.first() {
                None => return,
                Some(b'{' | b'[') => self.mode = Mode::Json,
                Some(_) => self.mode = Mode::EventStream,
            }
        }
        match self.mode {
            Mode::Json => {
                if self.json.len() + bytes.len() > MAX_JSON_BODY {
                    self.lossy = true;
                }
                let room = MAX_JSON_BODY.saturating_sub(self.json.len());
                self.json.extend_from_slice(bytes.get(..room.min(bytes.len())).unwrap_or_default());
            }
            Mode::EventStream => self.push_event_stream(bytes),
            Mode::Undecided => {}
        }
    }

    /// True when something was dropped (a body or event over the bounds, a document that does
    /// not parse), so the calls returned may be incomplete.
    pub fn is_lossy(&self) -> bool {
        self.lossy
    }

    /// The tool calls, in the order the model produced them. Also takes an event whose
    /// terminating blank line never came, since a capture may end early.
    pub fn finish(self) -> Vec<ToolCall> {
        self.finish_with_loss().0
    }

    /// [`ResponseParser::finish`], and whether anything was dropped (see
    /// [`ResponseParser::is_lossy`]; a whole-JSON body is only parsed here).
    pub fn finish_with_loss(mut self) -> (Vec<ToolCall>, bool) {
        match self.mode {
            Mode::EventStream => {
                if !self.line.is_empty() {
                    let line = std::mem::take(&mut self.line);
                    self.event_line(&line);
                }
                self.dispatch();
            }
            Mode::Json => {
                let json = std::mem::take(&mut self.json);
                // A stream of several documents (NDJSON) reads the same way.
                for document in serde_json::Deserializer::from_slice(&json).into_iter::<Value>() {
                    match document {
                        Ok(value) => self.handle(&value, ""),
                        Err(_) => {
                            self.lossy = true;
                            break;
                        }
                    }
                }
            }
            Mode::Undecided => {}
        }
        let calls = self
            .calls
            .into_iter()
            .filter(|call| !call.id.is_empty() || !call.name.is_empty())
            .map(|call| {
                let fragments = Some(call.fragments).filter(|fragments| !fragments.is_empty());
                let arguments = call.complete.or(fragments).or(call.fallback).unwrap_or_default();
                ToolCall { arguments, id: call.id, name: call.name }
            })
            .collect();
        (calls, self.lossy)
    }

    fn push_event_stream(&mut self, mut bytes: &[u8]) {
        if self.after_cr && !bytes.is_empty() {
            self.after_cr = false;
            if let Some(rest) = bytes.strip_prefix(b"\n") {
                bytes = rest;
            }
        }
        while let Some(end) = memchr::memchr2(b'\n', b'\r', bytes) {
            let (head, tail) = bytes.split_at(end);
            if self.line.is_empty() {
                self.event_line(head);
            } else {
                let mut line = std::mem::take(&mut self.line);
                self.extend_line(&mut line, head);
                self.event_line(&line);
                line.clear();
                self.line = line;
            }
            bytes = match tail {
                [b'\r', b'\n', rest @ ..] => rest,
                [b'\r'] => {
                    self.after_cr = true;
                    &[]
                }
                [_, rest @ ..] => rest,
                [] => &[],
            };
        }
        let mut line = std::mem::take(&mut self.line);
        self.extend_line(&mut line, bytes);
        self.line = line;
    }

    /// Appends to the pending line within the event bound; a longer line is cut and the loss
    /// recorded (its event will not parse).
    fn extend_line(&mut self, line: &mut Vec<u8>, bytes: &[u8]) {
        let room = MAX_EVENT_DATA.saturating_sub(line.len());
        if bytes.len() > room {
            self.lossy = true;
            self.data_overflow = true;
        }
        line.extend_from_slice(bytes.get(..room.min(bytes.len())).unwrap_or_default());
    }

    /// One line of an event stream (without its line ending).
    fn event_line(&mut self, line: &[u8]) {
        let mut line = line;
        if !std::mem::replace(&mut self.seen_line, true) {
            line = line.strip_prefix(b"\xef\xbb\xbf").unwrap_or(line);
        }
        if line.is_empty() {
            self.dispatch();
            return;
        }
        if line.starts_with(b":") {
            return;
        }
        let (field, value) = match memchr::memchr(b':', line) {
            Some(colon) => {
                let value = line.get(colon + 1..).unwrap_or_default();
                (line.get(..colon).unwrap_or_default(), value.strip_prefix(b" ").unwrap_or(value))
            }
            None => (line, &[][..]),
        };
        match field {
            b"data" => {
                if self.data.len() + value.len() + 1 > MAX_EVENT_DATA {
                    self.lossy = true;
                    self.data_overflow = true;
                    return;
                }
                if self.has_data {
                    self.data.push(b'\n');
                }
                self.data.extend_from_slice(value);
                self.has_data = true;
            }
            b"event" => self.event = String::from_utf8_lossy(value).into_owned(),
            _ => {}
        }
    }

    fn dispatch(&mut self) {
        let data = std::mem::take(&mut self.data);
        let event = std::mem::take(&mut self.event);
        let has_data = std::mem::take(&mut self.has_data);
        if std::mem::take(&mut self.data_overflow) || !has_data || data.trim_ascii() == b"[DONE]" {
            return;
        }
        match serde_json::from_slice::<Value>(&data) {
            Ok(value) => self.handle(&value, &event),
            Err(_) => self.lossy = true,
        }
    }

    /// One JSON document: a whole response or one streamed event of any provider.
    fn handle(&mut self, value: &Value, event: &str) {
        if let Some(choices) = value.get("choices").and_then(Value::as_array) {
            for (position, choice) in choices.iter().enumerate() {
                let choice_index = choice.get("index").and_then(Value::as_u64).unwrap_or(position as u64);
                self.chat_choice(choice_index, choice);
            }
            return;
        }
        let kind = value.get("type").and_then(Value::as_str).unwrap_or(event);
        match kind {
            "response.output_item.added" | "response.output_item.done" => {
                if let Some(item) = value.get("item") {
                    self.responses_item(item);
                }
            }
            "response.function_call_arguments.delta" | "response.custom_tool_call_input.delta" => {
                let key = Key::Item(str_of(value, "item_id"));
                let delta = value.get("delta").and_then(Value::as_str).unwrap_or_default();
                self.fragment(key, "", "", delta);
            }
            "response.function_call_arguments.done" | "response.custom_tool_call_input.done" => {
                let key = Key::Item(str_of(value, "item_id"));
                let whole = value.get("arguments").or_else(|| value.get("input")).and_then(Value::as_str);
                self.whole(key, "", "", whole.map(str::to_owned));
            }
            "response.created"
            | "response.in_progress"
            | "response.completed"
            | "response.incomplete"
            | "response.failed" => {
                if let Some(response) = value.get("response") {
                    self.responses_output(response);
                }
            }
            "message_start" => {
                if let Some(message) = value.get("message") {
                    self.anthropic_message(message);
                }
            }
            "message" => self.anthropic_message(value),
            "content_block_start" => {
                let index = value.get("index").and_then(Value::as_u64).unwrap_or(0);
                if let Some(block) = value.get("content_block") {
                    self.anthropic_block(Key::Block(index), block, true);
                }
            }
            "content_block_delta" => {
                let index = value.get("index").and_then(Value::as_u64).unwrap_or(0);
                let delta = value.get("delta");
                if delta.and_then(|d| d.get("type")).and_then(Value::as_str) == Some("input_json_delta") {
                    let partial = delta.and_then(|d| d.get("partial_json")).and_then(Value::as_str).unwrap_or_default();
                    self.fragment(Key::Block(index), "", "", partial);
                }
            }
            _ if value.get("object").and_then(Value::as_str) == Some("response") => self.responses_output(value),
            _ => {}
        }
    }

    /// A Chat Completions choice: `message` (whole) or `delta` (streamed fragments).
    fn chat_choice(&mut self, choice_index: u64, choice: &Value) {
        if let Some(message) = choice.get("message") {
            for (position, call) in array_of(message, "tool_calls").iter().enumerate() {
                let (name, arguments) = chat_function(call);
                let key = Key::Chat(choice_index, position as u64);
                self.whole(key, &str_of(call, "id"), &name, arguments);
            }
            if let Some(function) = message.get("function_call") {
                let key = Key::Chat(choice_index, u64::MAX);
                self.whole(
                    key,
                    "",
                    &str_of(function, "name"),
                    function.get("arguments").and_then(Value::as_str).map(str::to_owned),
                );
            }
        }
        if let Some(delta) = choice.get("delta") {
            for (position, call) in array_of(delta, "tool_calls").iter().enumerate() {
                let index = call.get("index").and_then(Value::as_u64).unwrap_or(position as u64);
                let (name, arguments) = chat_function(call);
                self.fragment(
                    Key::Chat(choice_index, index),
                    &str_of(call, "id"),
                    &name,
                    &arguments.unwrap_or_default(),
                );
            }
            if let Some(function) = delta.get("function_call") {
                let arguments = function.get("arguments").and_then(Value::as_str).unwrap_or_default();
                self.fragment(Key::Chat(choice_index, u64::MAX), "", &str_of(function, "name"), arguments);
            }
        }
    }

    /// A Responses output item: function and custom tool calls are the agent's to run; hosted
    /// tools (web search, MCP, code interpreter) ran at the provider.
    fn responses_item(&mut self, item: &Value) {
        let kind = item.get("type").and_then(Value::as_str).unwrap_or_default();
        let field = match kind {
            "function_call" => "arguments",
            "custom_tool_call" => "input",
            _ => return,
        };
        let key = Key::Item(str_of(item, "id"));
        let arguments = item.get(field).and_then(Value::as_str).filter(|arguments| !arguments.is_empty());
        self.whole(key, &str_of(item, "call_id"), &str_of(item, "name"), arguments.map(str::to_owned));
    }

    fn responses_output(&mut self, response: &Value) {
        for item in array_of(response, "output") {
            self.responses_item(item);
        }
    }

    fn anthropic_message(&mut self, message: &Value) {
        for (index, block) in array_of(message, "content").iter().enumerate() {
            self.anthropic_block(Key::Block(index as u64), block, false);
        }
    }

    /// A `tool_use` block. Server tools (`server_tool_use`, `mcp_tool_use`) ran at Anthropic.
    /// A streamed block starts with an empty `input` that the deltas then fill in.
    fn anthropic_block(&mut self, key: Key, block: &Value, streamed: bool) {
        if block.get("type").and_then(Value::as_str) != Some("tool_use") {
            return;
        }
        let input = block.get("input");
        let arguments = input.map(|input| serde_json::to_string(input).unwrap_or_default());
        if streamed && input.is_none_or(is_empty_object) {
            if let Some(call) = self.entry(key, &str_of(block, "id"), &str_of(block, "name")) {
                call.fallback = arguments;
            }
        } else {
            self.whole(key, &str_of(block, "id"), &str_of(block, "name"), arguments);
        }
    }

    /// The call `key` (or `id`) refers to, created when new.
    fn entry(&mut self, key: Key, id: &str, name: &str) -> Option<&mut Pending> {
        let found = self
            .calls
            .iter()
            .rposition(|call| (key != Key::None && call.key == key) || (!id.is_empty() && call.id == id));
        let position = match found {
            // A different id under the same index is a new call (some gateways reuse index 0).
            Some(at) if !id.is_empty() && !self.calls[at].id.is_empty() && self.calls[at].id != id => {
                self.calls[at].key = Key::None;
                None
            }
            found => found,
        };
        let position = match position {
            Some(at) => at,
            None if self.calls.len() >= MAX_CALLS => {
                self.lossy = true;
                return None;
            }
            None => {
                self.calls.push(Pending {
                    key: key.clone(),
                    id: String::new(),
                    name: String::new(),
                    fragments: String::new(),
                    complete: None,
                    fallback: None,
                });
                self.calls.len() - 1
            }
        };
        let call = self.calls.get_mut(position)?;
        if key != Key::None {
            call.key = key;
        }
        if call.id.is_empty() {
            call.id = id.to_owned();
        }
        if call.name.is_empty() {
            call.name = name.to_owned();
        }
        Some(call)
    }

    fn fragment(&mut self, key: Key, id: &str, name: &str, fragment: &str) {
        let mut overflow = false;
        if let Some(call) = self.entry(key, id, name) {
            let room = MAX_ARGUMENTS.saturating_sub(call.fragments.len());
            if fragment.len() > room {
                overflow = true;
            } else {
                call.fragments.push_str(fragment);
            }
        }
        self.lossy |= overflow;
    }

    fn whole(&mut self, key: Key, id: &str, name: &str, arguments: Option<String>) {
        let mut overflow = false;
        if let Some(call) = self.entry(key, id, name) {
            match arguments {
                Some(arguments) if arguments.len() > MAX_ARGUMENTS => overflow = true,
                Some(arguments) => call.complete = Some(arguments),
                None => {}
            }
        }
        self.lossy |= overflow;
    }
}

fn str_of(value: &Value, key: &str) -> String {
    value.get(key).and_then(Value::as_str).unwrap_or_default().to_owned()
}

fn array_of<'a>(value: &'a Value, key: &str) -> &'a [Value] {
    value.get(key).and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default()
}

fn is_empty_object(value: &Value) -> bool {
    value.as_object().is_some_and(serde_json::Map::is_empty)
}

/// Name and arguments of a Chat Completions tool call: `function` tools, or `custom` tools
/// with a freeform `input`.
fn chat_function(call: &Value) -> (String, Option<String>) {
    let (function, field) = match (call.get("function"), call.get("custom")) {
        (Some(function), _) => (function, "arguments"),
        (None, Some(custom)) => (custom, "input"),
        (None, None) => return (String::new(), None),
    };
    (str_of(function, "name"), function.get(field).and_then(Value::as_str).map(str::to_owned))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn call(id: &str, name: &str, arguments: &str) -> ToolCall {
        ToolCall { id: id.to_owned(), name: name.to_owned(), arguments: arguments.to_owned() }
    }

    fn parse(pushes: &[&[u8]]) -> (Vec<ToolCall>, bool) {
        let mut parser = ResponseParser::new();
        for push in pushes {
            parser.push(push);
        }
        parser.finish_with_loss()
    }

    fn parse_one(body: &[u8]) -> Vec<ToolCall> {
        let (calls, lossy) = parse(&[body]);
        assert!(!lossy);
        calls
    }

    /// Server-sent events with the given line ending; `None` for the event name leaves the
    /// `event:` line out (as OpenAI does).
    fn sse(events: &[(Option<&str>, Value)], newline: &str) -> Vec<u8> {
        let mut out = String::new();
        for (name, data) in events {
            if let Some(name) = name {
                out.push_str(&format!("event: {name}{newline}"));
            }
            out.push_str(&format!("data: {data}{newline}{newline}"));
        }
        out.into_bytes()
    }

    /// The same calls whatever the pushes' split points.
    fn assert_split_invariant(body: &[u8], expected: &[ToolCall]) {
        assert_eq!(parse_one(body), expected);
        for split in 0..=body.len() {
            let (a, b) = body.split_at(split);
            assert_eq!(parse(&[a, b]).0, expected, "split at {split}");
        }
        let bytewise: Vec<&[u8]> = body.chunks(1).collect();
        assert_eq!(parse(&bytewise).0, expected, "bytewise");
    }

    #[test]
    fn chat_completions_whole() {
        let body = json!({
            "id": "chatcmpl-B7qz", "object": "chat.completion", "created": 1767225600, "model": "gpt-4.1-2025-04-14",
            "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
                "role": "assistant", "content": null, "refusal": null,
                "tool_calls": [
                    {"id": "call_Xq81", "type": "function",
                     "function": {"name": "get_invoice", "arguments": "{\"invoice_id\":\"INV-2231\",\"include_lines\":true}"}},
                    {"id": "call_Yr02", "type": "function",
                     "function": {"name": "send_email", "arguments": "{\"to\":\"ops@example.com\",\"subject\":\"Invoice INV-2231\"}"}}
                ]}}],
            "usage": {"prompt_tokens": 412, "completion_tokens": 58, "total_tokens": 470}
        });
        assert_eq!(
            parse_one(body.to_string().as_bytes()),
            [
                call("call_Xq81", "get_invoice", r#"{"invoice_id":"INV-2231","include_lines":true}"#),
                call("call_Yr02", "send_email", r#"{"to":"ops@example.com","subject":"Invoice INV-2231"}"#),
            ]
        );
        let text_only = json!({"object": "chat.completion", "choices": [{"index": 0, "message": {"role": "assistant", "content": "Done."}}]});
        assert!(parse_one(text_only.to_string().as_bytes()).is_empty());
        let legacy = json!({"choices": [{"index": 0, "message": {"role": "assistant", "function_call": {"name": "lookup", "arguments": "{\"q\":1}"}}}]});
        assert_eq!(parse_one(format!("  \n{legacy}\n").as_bytes()), [call("", "lookup", r#"{"q":1}"#)]);
    }

    fn chat_stream() -> Vec<u8> {
        let chunk = |delta: Value| {
            json!({"id": "chatcmpl-C1", "object": "chat.completion.chunk", "created": 1767225601,
            "model": "gpt-4o-mini", "choices": [{"index": 0, "delta": delta, "finish_reason": null}]})
        };
        let mut events = vec![
            (None, chunk(json!({"role": "assistant", "content": null}))),
            (
                None,
                chunk(json!({"tool_calls": [{"index": 0, "id": "call_r1", "type": "function",
                "function": {"name": "search_tickets", "arguments": ""}}]})),
            ),
        ];
        for fragment in ["{\"qu", "ery\": \"refund ", "\\\"urgent\\\"\", ", "\"limit\"", ": 5}"] {
            events.push((None, chunk(json!({"tool_calls": [{"index": 0, "function": {"arguments": fragment}}]}))));
        }
        events.push((
            None,
            chunk(json!({"tool_calls": [{"index": 1, "id": "call_r2", "type": "function",
            "function": {"name": "get_user", "arguments": "{\"id\":"}}]})),
        ));
        events.push((None, chunk(json!({"tool_calls": [{"index": 1, "function": {"arguments": "42}"}}]}))));
        events.push((
            None,
            json!({"id": "chatcmpl-C1", "object": "chat.completion.chunk",
            "choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]}),
        ));
        events.push((
            None,
            json!({"id": "chatcmpl-C1", "object": "chat.completion.chunk", "choices": [],
            "usage": {"prompt_tokens": 90, "completion_tokens": 31, "total_tokens": 121}}),
        ));
        let mut body = sse(&events, "\n");
        body.extend_from_slice(b"data: [DONE]\n\n");
        body
    }

    #[test]
    fn chat_completions_streamed_split_everywhere() {
        let expected = [
            call("call_r1", "search_tickets", r#"{"query": "refund \"urgent\"", "limit": 5}"#),
            call("call_r2", "get_user", r#"{"id":42}"#),
        ];
        assert_split_invariant(&chat_stream(), &expected);
        // CRLF and lone CR line endings read the same.
        let crlf = String::from_utf8(chat_stream()).unwrap().replace('\n', "\r\n");
        assert_split_invariant(crlf.as_bytes(), &expected);
        let cr = String::from_utf8(chat_stream()).unwrap().replace('\n', "\r");
        assert_eq!(parse_one(cr.as_bytes()), expected);
    }

    #[test]
    fn chat_gateway_variants() {
        // Two calls both sent as index 0, told apart by their ids; a choice index > 0.
        let events = [
            (
                None,
                json!({"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "id": "a1", "function": {"name": "f", "arguments": "{\"x\":1}"}}]}}]}),
            ),
            (
                None,
                json!({"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "id": "a2", "function": {"name": "g", "arguments": "{\"y\":2}"}}]}}]}),
            ),
            (
                None,
                json!({"choices": [{"index": 1, "delta": {"tool_calls": [{"id": "b1", "type": "custom", "custom": {"name": "patch", "input": "*** Begin"}}]}}]}),
            ),
        ];
        assert_eq!(
            parse_one(&sse(&events, "\n")),
            [call("a1", "f", r#"{"x":1}"#), call("a2", "g", r#"{"y":2}"#), call("b1", "patch", "*** Begin")]
        );
        // Multi-line data, comments, ids and retry fields, no space after the colon.
        let body = b": keep-alive\nid: 7\nretry: 1000\ndata:{\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":\ndata: [{\"index\":0,\"id\":\"c9\",\"function\":{\"name\":\"h\",\"arguments\":\"{}\"}}]}}]}\n\n";
        assert_eq!(parse_one(body), [call("c9", "h", "{}")]);
    }

    #[test]
    fn responses_whole() {
        let body = json!({
            "id": "resp_68a1", "object": "response", "created_at": 1767225600, "status": "completed", "model": "gpt-5",
            "output": [
                {"type": "reasoning", "id": "rs_1", "summary": []},
                {"type": "function_call", "id": "fc_1", "call_id": "call_w7", "name": "get_weather",
                 "arguments": "{\"city\":\"Lisbon\",\"unit\":\"c\"}", "status": "completed"},
                {"type": "custom_tool_call", "id": "ctc_1", "call_id": "call_sql", "name": "run_sql", "input": "SELECT 1"},
                {"type": "web_search_call", "id": "ws_1", "status": "completed"},
                {"type": "message", "id": "msg_1", "role": "assistant", "content": [{"type": "output_text", "text": "Checking."}]}
            ]
        });
        assert_eq!(
            parse_one(body.to_string().as_bytes()),
            [
                call("call_w7", "get_weather", r#"{"city":"Lisbon","unit":"c"}"#),
                call("call_sql", "run_sql", "SELECT 1")
            ]
        );
    }

    fn responses_stream(with_completed: bool) -> Vec<u8> {
        let item = |arguments: &str| {
            json!({"type": "function_call", "id": "fc_9", "call_id": "call_db",
            "name": "query_db", "arguments": arguments, "status": "in_progress"})
        };
        let mut events = vec![
            (
                Some("response.created"),
                json!({"type": "response.created", "sequence_number": 0,
                "response": {"id": "resp_1", "object": "response", "status": "in_progress", "output": []}}),
            ),
            (
                Some("response.output_item.added"),
                json!({"type": "response.output_item.added", "sequence_number": 1,
                "output_index": 0, "item": item("")}),
            ),
        ];
        for (n, delta) in ["{\"sql\":", "\"select * from ", "users\"}"].iter().enumerate() {
            events.push((
                Some("response.function_call_arguments.delta"),
                json!({"type": "response.function_call_arguments.delta",
                "sequence_number": 2 + n, "item_id": "fc_9", "output_index": 0, "delta": delta}),
            ));
        }
        if with_completed {
            let done = r#"{"sql":"select * from users"}"#;
            events.push((
                Some("response.function_call_arguments.done"),
                json!({"type": "response.function_call_arguments.done",
                "sequence_number": 5, "item_id": "fc_9", "output_index": 0, "arguments": done}),
            ));
            events.push((
                Some("response.output_item.done"),
                json!({"type": "response.output_item.done", "sequence_number": 6,
                "output_index": 0, "item": item(done)}),
            ));
            events.push((
                Some("response.completed"),
                json!({"type": "response.completed", "sequence_number": 7,
                "response": {"id": "resp_1", "object": "response", "status": "completed", "output": [item(done)]}}),
            ));
        }
        sse(&events, "\n")
    }

    #[test]
    fn responses_streamed() {
        let expected = [call("call_db", "query_db", r#"{"sql":"select * from users"}"#)];
        assert_split_invariant(&responses_stream(true), &expected);
        // Cut before the completion events: the deltas alone give the arguments.
        assert_eq!(parse_one(&responses_stream(false)), expected);
    }

    #[test]
    fn anthropic_whole() {
        let body = json!({
            "id": "msg_01XF", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
            "content": [
                {"type": "text", "text": "I'll look up the order."},
                {"type": "tool_use", "id": "toolu_01A", "name": "get_order", "input": {"order_id": "A-1009", "fields": ["status", "eta"]}},
                {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {"query": "x"}},
                {"type": "tool_use", "id": "toolu_01B", "name": "list_carriers", "input": {}}
            ],
            "stop_reason": "tool_use", "usage": {"input_tokens": 512, "output_tokens": 77}
        });
        assert_eq!(
            parse_one(body.to_string().as_bytes()),
            [
                call("toolu_01A", "get_order", r#"{"fields":["status","eta"],"order_id":"A-1009"}"#),
                call("toolu_01B", "list_carriers", "{}"),
            ]
        );
    }

    fn anthropic_stream() -> Vec<u8> {
        let events = [
            (
                Some("message_start"),
                json!({"type": "message_start", "message": {"id": "msg_02", "type": "message",
                "role": "assistant", "content": [], "model": "claude-opus-4-1", "stop_reason": null,
                "usage": {"input_tokens": 1200, "output_tokens": 1}}}),
            ),
            (
                Some("content_block_start"),
                json!({"type": "content_block_start", "index": 0,
                "content_block": {"type": "text", "text": ""}}),
            ),
            (Some("ping"), json!({"type": "ping"})),
            (
                Some("content_block_delta"),
                json!({"type": "content_block_delta", "index": 0,
                "delta": {"type": "text_delta", "text": "Let me create that ticket."}}),
            ),
            (Some("content_block_stop"), json!({"type": "content_block_stop", "index": 0})),
            (
                Some("content_block_start"),
                json!({"type": "content_block_start", "index": 1,
                "content_block": {"type": "tool_use", "id": "toolu_9f", "name": "create_ticket", "input": {}}}),
            ),
            (
                Some("content_block_delta"),
                json!({"type": "content_block_delta", "index": 1,
                "delta": {"type": "input_json_delta", "partial_json": ""}}),
            ),
            (
                Some("content_block_delta"),
                json!({"type": "content_block_delta", "index": 1,
                "delta": {"type": "input_json_delta", "partial_json": "{\"title\": \"Disk full on"}}),
            ),
            (
                Some("content_block_delta"),
                json!({"type": "content_block_delta", "index": 1,
                "delta": {"type": "input_json_delta", "partial_json": " db-3\", \"priority\": 2}"}}),
            ),
            (Some("content_block_stop"), json!({"type": "content_block_stop", "index": 1})),
            (
                Some("content_block_start"),
                json!({"type": "content_block_start", "index": 2,
                "content_block": {"type": "tool_use", "id": "toolu_a0", "name": "whoami", "input": {}}}),
            ),
            (Some("content_block_stop"), json!({"type": "content_block_stop", "index": 2})),
            (
                Some("message_delta"),
                json!({"type": "message_delta", "delta": {"stop_reason": "tool_use"},
                "usage": {"output_tokens": 64}}),
            ),
            (Some("message_stop"), json!({"type": "message_stop"})),
        ];
        sse(&events, "\r\n")
    }

    #[test]
    fn anthropic_streamed_split_everywhere() {
        let expected = [
            call("toolu_9f", "create_ticket", r#"{"title": "Disk full on db-3", "priority": 2}"#),
            call("toolu_a0", "whoami", "{}"),
        ];
        assert_split_invariant(&anthropic_stream(), &expected);
    }

    #[test]
    fn broken_input_is_lossy_not_fatal() {
        let (calls, lossy) = parse(&[b"data: {\"choices\": [\n\ndata: [DONE]\n\n"]);
        assert!(calls.is_empty());
        assert!(lossy);
        let (calls, lossy) = parse(&[b"{\"choices\":[{\"index\":0,\"message\":{\"tool_calls\":[{\"id\":\"x\""]);
        assert!(calls.is_empty());
        assert!(lossy);
        let (calls, lossy) = parse(&[b"", b"  \r\n"]);
        assert!(calls.is_empty() && !lossy);
        // An event whose blank line never came (capture cut short) is still read.
        let unterminated = b"data: {\"type\":\"message\",\"content\":[{\"type\":\"tool_use\",\"id\":\"t\",\"name\":\"n\",\"input\":{\"a\":1}}]}";
        assert_eq!(parse_one(unterminated), [call("t", "n", r#"{"a":1}"#)]);
        // A BOM before the first line is ignored.
        let with_bom = [b"\xef\xbb\xbf".as_slice(), unterminated.as_slice()].concat();
        assert_eq!(parse_one(&with_bom), [call("t", "n", r#"{"a":1}"#)]);
        let split_bom: Vec<&[u8]> = with_bom.chunks(1).collect();
        assert_eq!(parse(&split_bom).0, [call("t", "n", r#"{"a":1}"#)]);
        let json_with_bom = [b"\xef\xbb\xbf".as_slice(), br#"{"type":"message","content":[]}"#].concat();
        assert_eq!(parse(&[&json_with_bom]), (Vec::new(), false));
    }

    #[test]
    fn oversized_event_is_dropped() {
        let mut body = b"data: {\"pad\":\"".to_vec();
        body.extend(std::iter::repeat_n(b'a', MAX_EVENT_DATA + 10));
        body.extend_from_slice(b"\"}\n\n");
        body.extend(sse(
            &[(
                None,
                json!({"type": "message", "content": [{"type": "tool_use", "id": "t2", "name": "n", "input": {}}]}),
            )],
            "\n",
        ));
        let (calls, lossy) = parse(&body.chunks(1 << 16).collect::<Vec<_>>());
        assert!(lossy);
        assert_eq!(calls, [call("t2", "n", "{}")]);
    }
}
