//! Request formats of LLM providers: which API a request speaks, and which part of the
//! context (message, role, kind of content) a JSON path points into.
//!
//! Findings carry JSON paths (`$.messages[3].content`); the policy may treat a secret in the
//! system prompt differently from one in a tool result, so the path is mapped back to the part
//! of the conversation it sits in. Only the leading path segments that name a message and a
//! content block are looked at: a path that continues into decoded content (JSON inside a
//! string) maps to the part that string belongs to.

use serde::Serialize;
use serde_json::Value;

/// The request format of an LLM API.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProviderFormat {
    /// OpenAI Chat Completions, also spoken by most OpenAI-compatible gateways.
    OpenAiChat,
    /// OpenAI Responses.
    OpenAiResponses,
    /// Anthropic Messages.
    AnthropicMessages,
}

impl ProviderFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OpenAiChat => "openai_chat",
            Self::OpenAiResponses => "openai_responses",
            Self::AnthropicMessages => "anthropic_messages",
        }
    }

    /// From the request path (query ignored). Gateways mount the provider's API under a
    /// prefix of their own (`/openai/v1/chat/completions`, `/api/v1/...`, Azure's
    /// `/openai/deployments/NAME/chat/completions`), so the path's tail decides.
    pub fn from_path(path: &str) -> Option<Self> {
        let path = path.split(['?', '#']).next().unwrap_or_default().to_ascii_lowercase();
        let segments: Vec<&str> = path.split('/').filter(|segment| !segment.is_empty()).collect();
        // `responses` and `messages` are common words, so they count only after a version or
        // provider segment (OpenAI's `/v1/threads/ID/messages` is not Anthropic's).
        let versioned = |before: &[&str]| matches!(before.last(), None | Some(&("v1" | "openai" | "anthropic")));
        match segments.as_slice() {
            [.., "chat", "completions"] => Some(Self::OpenAiChat),
            [before @ .., "responses"] | [before @ .., "responses", "input_tokens"] if versioned(before) => {
                Some(Self::OpenAiResponses)
            }
            [before @ .., "messages"] | [before @ .., "messages", "count_tokens"] if versioned(before) => {
                Some(Self::AnthropicMessages)
            }
            _ => None,
        }
    }

    /// From the body's shape, for gateways with paths of their own. Plain user/assistant
    /// text reads the same in Chat Completions and Messages; that is taken as Chat.
    pub fn from_body(body: &Value) -> Option<Self> {
        let object = body.as_object()?;
        let messages = object.get("messages").and_then(Value::as_array);
        if messages.is_none() && (object.contains_key("input") || object.contains_key("instructions")) {
            return Some(Self::OpenAiResponses);
        }
        let messages = messages?;
        let mut anthropic = 0;
        let mut openai = 0;
        if object.contains_key("system") {
            anthropic += 1;
        }
        for tool in object.get("tools").and_then(Value::as_array).into_iter().flatten() {
            if tool.get("input_schema").is_some() {
                anthropic += 1;
            }
            if tool.get("function").is_some() {
                openai += 1;
            }
        }
        for message in messages {
            if matches!(message.get("role").and_then(Value::as_str), Some("system" | "developer" | "tool" | "function"))
            {
                openai += 1;
            }
            if message.get("tool_calls").is_some() || message.get("tool_call_id").is_some() {
                openai += 1;
            }
            for block in message.get("content").and_then(Value::as_array).into_iter().flatten() {
                match block.get("type").and_then(Value::as_str) {
                    Some("tool_use" | "tool_result" | "image" | "document" | "thinking") => anthropic += 1,
                    Some("image_url" | "input_audio" | "file") => openai += 1,
                    _ => {}
                }
            }
        }
        Some(if anthropic > openai { Self::AnthropicMessages } else { Self::OpenAiChat })
    }

    /// The path when it is conclusive, the body's shape otherwise.
    pub fn detect(path: &str, body: &Value) -> Option<Self> {
        Self::from_path(path).or_else(|| Self::from_body(body))
    }
}

/// The part of an LLM context a piece of content belongs to: the policy's own enum, so a
/// location maps onto `parts:` rules directly (`part_at` never yields `Any`).
pub use crate::policy::MessagePart as Part;

/// Where a JSON path sits in a request's context.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PartLocation {
    pub part: Part,
    /// The `role` of the message it is in, as sent (`developer`, `tool`, ...); `None` for
    /// top-level fields (`system`, `instructions`, `tools`) and role-less items.
    pub role: Option<String>,
    /// Index into `messages` (Chat, Messages) or `input` (Responses).
    pub message_index: Option<usize>,
    /// The tool call a tool result answers, or the call an assistant tool call made.
    pub tool_call_id: Option<String>,
}

/// The part of `body` that `json_path` (`$.messages[2].content[0].text`, also
/// `$["messages"][2]`) points into, or `None` when it is outside the context (`$.model`),
/// does not parse, or names a message that is not in the body.
pub fn part_at(format: ProviderFormat, body: &Value, json_path: &str) -> Option<PartLocation> {
    let segments = parse_json_path(json_path)?;
    match format {
        ProviderFormat::OpenAiChat => chat_part(body, &segments),
        ProviderFormat::OpenAiResponses => responses_part(body, &segments),
        ProviderFormat::AnthropicMessages => anthropic_part(body, &segments),
    }
}

/// One step of a JSON path.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Segment {
    Key(String),
    Index(usize),
}

/// Parses `$`, `.key`, `[3]`, `["key"]` and `['key']` steps.
fn parse_json_path(path: &str) -> Option<Vec<Segment>> {
    let mut rest = path.trim().strip_prefix('$')?;
    let mut segments = Vec::new();
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('.') {
            let end = after.find(['.', '[']).unwrap_or(after.len());
            let (key, tail) = after.split_at(end);
            if key.is_empty() {
                return None;
            }
            segments.push(Segment::Key(key.to_owned()));
            rest = tail;
        } else {
            let (segment, tail) = parse_bracket(rest.strip_prefix('[')?)?;
            segments.push(segment);
            rest = tail;
        }
    }
    Some(segments)
}

/// Parses the inside of `[...]` (after the `[`): an index or a quoted key.
fn parse_bracket(after: &str) -> Option<(Segment, &str)> {
    let quote = after.chars().next()?;
    if quote != '"' && quote != '\'' {
        let (digits, tail) = after.split_once(']')?;
        return Some((Segment::Index(digits.trim().parse().ok()?), tail));
    }
    let mut key = String::new();
    let mut chars = after.char_indices().skip(1);
    while let Some((at, c)) = chars.next() {
        match c {
            '\\' => key.push(chars.next()?.1),
            c if c == quote => {
                let tail = after.get(at + 1..)?.strip_prefix(']')?;
                return Some((Segment::Key(key), tail));
            }
            c => key.push(c),
        }
    }
    None
}

fn is_key(segment: Option<&Segment>, name: &str) -> bool {
    matches!(segment, Some(Segment::Key(key)) if key == name)
}

fn index_of(segment: Option<&Segment>) -> Option<usize> {
    match segment {
        Some(Segment::Index(index)) => Some(*index),
        _ => None,
    }
}

fn str_field(value: &Value, key: &str) -> Option<String> {
    value.get(key).and_then(Value::as_str).map(str::to_owned)
}

fn located(
    part: Part,
    role: Option<String>,
    message_index: Option<usize>,
    tool_call_id: Option<String>,
) -> PartLocation {
    PartLocation { part, role, message_index, tool_call_id }
}

/// The content block `rest` points into, when `rest` is `<container>[j]...`.
fn block_at<'a>(message: &'a Value, rest: &[Segment], container: &str) -> Option<&'a Value> {
    if !is_key(rest.first(), container) {
        return None;
    }
    message.get(container)?.get(index_of(rest.get(1))?)
}

/// Content part types that carry an image, audio or file rather than text.
fn is_attachment_block(block: &Value) -> bool {
    match block.get("type").and_then(Value::as_str) {
        Some(kind) => matches!(
            kind,
            "image_url" | "input_image" | "input_audio" | "file" | "input_file" | "image" | "document" | "audio"
        ),
        // Untyped parts as some gateways accept them.
        None => ["image_url", "input_audio", "file", "image"].iter().any(|key| block.get(key).is_some()),
    }
}

/// OpenAI Chat Completions: `messages[i]` by role, `tools` / legacy `functions`.
fn chat_part(body: &Value, segments: &[Segment]) -> Option<PartLocation> {
    match segments {
        [Segment::Key(key), ..] if key == "tools" || key == "functions" => {
            Some(located(Part::ToolDefinition, None, None, None))
        }
        [Segment::Key(key), Segment::Index(i), rest @ ..] if key == "messages" => {
            let message = body.get("messages")?.get(*i)?;
            let role = str_field(message, "role")?;
            let (part, tool_call_id) = match role.as_str() {
                "system" | "developer" => (Part::System, None),
                "user" => (attachment_or(message, rest, "content", Part::User), None),
                "assistant" => {
                    let call = block_at(message, rest, "tool_calls");
                    (Part::Assistant, call.and_then(|call| str_field(call, "id")))
                }
                "tool" => {
                    (attachment_or(message, rest, "content", Part::ToolResult), str_field(message, "tool_call_id"))
                }
                // Legacy function results carry the function's name, no call id.
                "function" => (Part::ToolResult, None),
                _ => return None,
            };
            Some(located(part, Some(role), Some(*i), tool_call_id))
        }
        _ => None,
    }
}

/// `Attachment` when `rest` points into an attachment block of `message[container]`.
fn attachment_or(message: &Value, rest: &[Segment], container: &str, otherwise: Part) -> Part {
    match block_at(message, rest, container) {
        Some(block) if is_attachment_block(block) => Part::Attachment,
        _ => otherwise,
    }
}

/// OpenAI Responses: `instructions`, `input` (a string, or items: messages, function calls
/// and their outputs), `tools`.
fn responses_part(body: &Value, segments: &[Segment]) -> Option<PartLocation> {
    let first = segments.first();
    if is_key(first, "instructions") {
        return Some(located(Part::System, None, None, None));
    }
    if is_key(first, "tools") {
        return Some(located(Part::ToolDefinition, None, None, None));
    }
    if !is_key(first, "input") {
        return None;
    }
    let input = body.get("input")?;
    if input.is_string() {
        return Some(located(Part::User, None, None, None));
    }
    let i = index_of(segments.get(1))?;
    let item = input.get(i)?;
    let rest = segments.get(2..).unwrap_or_default();
    let role = str_field(item, "role");
    let kind =
        str_field(item, "type").unwrap_or_else(|| if role.is_some() { "message".to_owned() } else { String::new() });
    let call_id = str_field(item, "call_id");
    let part = match kind.as_str() {
        "message" => match role.as_deref()? {
            "system" | "developer" => Part::System,
            "user" => attachment_or(item, rest, "content", Part::User),
            "assistant" => Part::Assistant,
            _ => return None,
        },
        kind if kind.ends_with("_call_output") => attachment_or(item, rest, "output", Part::ToolResult),
        "mcp_approval_response" => Part::ToolResult,
        // Calls the model made earlier; hosted tools (web search, MCP, code interpreter) keep
        // what they returned in the same item.
        kind if kind.ends_with("_call") || kind == "mcp_list_tools" => {
            let output = ["output", "outputs", "results", "tools"].iter().any(|key| is_key(rest.first(), key));
            if output { Part::ToolResult } else { Part::Assistant }
        }
        "reasoning" | "compaction" | "mcp_approval_request" => Part::Assistant,
        _ => return None,
    };
    Some(located(part, role, Some(i), call_id))
}

/// Anthropic Messages: `system`, `messages[i]` with content blocks, `tools`.
fn anthropic_part(body: &Value, segments: &[Segment]) -> Option<PartLocation> {
    match segments {
        [Segment::Key(key), ..] if key == "system" => Some(located(Part::System, None, None, None)),
        [Segment::Key(key), ..] if key == "tools" => Some(located(Part::ToolDefinition, None, None, None)),
        [Segment::Key(key), Segment::Index(i), rest @ ..] if key == "messages" => {
            let message = body.get("messages")?.get(*i)?;
            let role = str_field(message, "role")?;
            let block = block_at(message, rest, "content");
            let kind = block.and_then(|block| str_field(block, "type")).unwrap_or_default();
            let inner = rest.get(2..).unwrap_or_default();
            let (part, tool_call_id) = match (role.as_str(), kind.as_str()) {
                // A tool result may hold images and documents of its own.
                (_, "tool_result") => {
                    let id = block.and_then(|block| str_field(block, "tool_use_id"));
                    let part = match block {
                        Some(block) => attachment_or(block, inner, "content", Part::ToolResult),
                        None => Part::ToolResult,
                    };
                    (part, id)
                }
                (_, kind) if kind.ends_with("_tool_result") => {
                    (Part::ToolResult, block.and_then(|block| str_field(block, "tool_use_id")))
                }
                (_, "image" | "document" | "search_result" | "container_upload") => (Part::Attachment, None),
                ("user", _) => (Part::User, None),
                ("assistant", "tool_use" | "server_tool_use" | "mcp_tool_use") => {
                    (Part::Assistant, block.and_then(|block| str_field(block, "id")))
                }
                ("assistant", _) => (Part::Assistant, None),
                _ => return None,
            };
            Some(located(part, Some(role), Some(*i), tool_call_id))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn at(format: ProviderFormat, body: &Value, path: &str) -> Option<PartLocation> {
        part_at(format, body, path)
    }

    fn loc(part: Part, role: Option<&str>, message_index: Option<usize>, id: Option<&str>) -> Option<PartLocation> {
        Some(PartLocation { part, role: role.map(str::to_owned), message_index, tool_call_id: id.map(str::to_owned) })
    }

    fn chat_body() -> Value {
        json!({
            "model": "gpt-4.1",
            "messages": [
                {"role": "system", "content": "You are a release assistant for the payments team."},
                {"role": "developer", "content": "Never print customer card numbers."},
                {"role": "user", "content": [
                    {"type": "text", "text": "Summarise the attached incident report and the screenshot."},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
                    {"type": "file", "file": {"filename": "incident.pdf", "file_data": "JVBERi0xLjcK"}}
                ]},
                {"role": "assistant", "content": null, "tool_calls": [
                    {"id": "call_Q7b2", "type": "function",
                     "function": {"name": "read_file", "arguments": "{\"path\":\"/srv/reports/incident-42.md\"}"}}
                ]},
                {"role": "tool", "tool_call_id": "call_Q7b2", "content": "Incident 42: card 4111 1111 1111 1111 declined"},
                {"role": "function", "name": "legacy_lookup", "content": "{\"ok\":true}"},
                {"role": "critic", "content": "unknown role"}
            ],
            "tools": [{"type": "function", "function": {"name": "read_file", "description": "Read a file",
                "parameters": {"type": "object", "properties": {"path": {"type": "string"}}}}}]
        })
    }

    #[test]
    fn chat_completions_paths() {
        let body = chat_body();
        let chat = ProviderFormat::OpenAiChat;
        assert_eq!(at(chat, &body, "$.messages[0].content"), loc(Part::System, Some("system"), Some(0), None));
        assert_eq!(at(chat, &body, "$.messages[1].content"), loc(Part::System, Some("developer"), Some(1), None));
        assert_eq!(at(chat, &body, "$.messages[2].content[0].text"), loc(Part::User, Some("user"), Some(2), None));
        assert_eq!(
            at(chat, &body, "$.messages[2].content[1].image_url.url"),
            loc(Part::Attachment, Some("user"), Some(2), None)
        );
        assert_eq!(
            at(chat, &body, "$.messages[2].content[2].file.file_data"),
            loc(Part::Attachment, Some("user"), Some(2), None)
        );
        assert_eq!(
            at(chat, &body, "$.messages[3].tool_calls[0].function.arguments"),
            loc(Part::Assistant, Some("assistant"), Some(3), Some("call_Q7b2"))
        );
        // A path that continues into the decoded arguments maps to the same part.
        assert_eq!(
            at(chat, &body, "$.messages[3].tool_calls[0].function.arguments.path"),
            loc(Part::Assistant, Some("assistant"), Some(3), Some("call_Q7b2"))
        );
        assert_eq!(
            at(chat, &body, "$.messages[4].content"),
            loc(Part::ToolResult, Some("tool"), Some(4), Some("call_Q7b2"))
        );
        assert_eq!(at(chat, &body, "$.messages[5].content"), loc(Part::ToolResult, Some("function"), Some(5), None));
        assert_eq!(at(chat, &body, "$.tools[0].function.description"), loc(Part::ToolDefinition, None, None, None));
        assert_eq!(at(chat, &body, r#"$["messages"][4]['content']"#), at(chat, &body, "$.messages[4].content"));
        // Unknown roles, fields outside the context, messages not in the body, bad paths.
        for path in [
            "$.messages[6].content",
            "$.model",
            "$.messages[9].content",
            "messages[0]",
            "$.messages[x]",
            "$..a",
            "$[\"a",
        ] {
            assert_eq!(at(chat, &body, path), None, "{path}");
        }
    }

    #[test]
    fn responses_paths() {
        let body = json!({
            "model": "gpt-5",
            "instructions": "You triage support tickets.",
            "input": [
                {"role": "developer", "content": "Use the CRM tool for customer lookups."},
                {"type": "message", "role": "user", "content": [
                    {"type": "input_text", "text": "Who filed ticket 881?"},
                    {"type": "input_image", "image_url": "data:image/jpeg;base64,/9j/4AAQ"},
                    {"type": "input_file", "file_id": "file-7d1"}
                ]},
                {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Looking it up."}]},
                {"type": "function_call", "id": "fc_1", "call_id": "call_crm", "name": "crm_lookup", "arguments": "{\"ticket\":881}"},
                {"type": "function_call_output", "call_id": "call_crm", "output": "Filed by jane.doe@example.com"},
                {"type": "function_call_output", "call_id": "call_shot", "output": [
                    {"type": "input_text", "text": "screenshot follows"},
                    {"type": "input_image", "image_url": "data:image/png;base64,iVBOR"}
                ]},
                {"type": "web_search_call", "id": "ws_1", "status": "completed", "results": [{"text": "found"}]},
                {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "thinking"}]},
                {"type": "item_reference", "id": "msg_0"}
            ],
            "tools": [{"type": "function", "name": "crm_lookup", "description": "Look up a ticket",
                       "parameters": {"type": "object"}}]
        });
        let responses = ProviderFormat::OpenAiResponses;
        assert_eq!(at(responses, &body, "$.instructions"), loc(Part::System, None, None, None));
        assert_eq!(at(responses, &body, "$.input[0].content"), loc(Part::System, Some("developer"), Some(0), None));
        assert_eq!(at(responses, &body, "$.input[1].content[0].text"), loc(Part::User, Some("user"), Some(1), None));
        assert_eq!(
            at(responses, &body, "$.input[1].content[1].image_url"),
            loc(Part::Attachment, Some("user"), Some(1), None)
        );
        assert_eq!(
            at(responses, &body, "$.input[1].content[2].file_id"),
            loc(Part::Attachment, Some("user"), Some(1), None)
        );
        assert_eq!(
            at(responses, &body, "$.input[2].content[0].text"),
            loc(Part::Assistant, Some("assistant"), Some(2), None)
        );
        assert_eq!(at(responses, &body, "$.input[3].arguments"), loc(Part::Assistant, None, Some(3), Some("call_crm")));
        assert_eq!(at(responses, &body, "$.input[4].output"), loc(Part::ToolResult, None, Some(4), Some("call_crm")));
        assert_eq!(
            at(responses, &body, "$.input[5].output[0].text"),
            loc(Part::ToolResult, None, Some(5), Some("call_shot"))
        );
        assert_eq!(
            at(responses, &body, "$.input[5].output[1].image_url"),
            loc(Part::Attachment, None, Some(5), Some("call_shot"))
        );
        assert_eq!(at(responses, &body, "$.input[6].results[0].text"), loc(Part::ToolResult, None, Some(6), None));
        assert_eq!(at(responses, &body, "$.input[7].summary[0].text"), loc(Part::Assistant, None, Some(7), None));
        assert_eq!(at(responses, &body, "$.input[8].id"), None);
        assert_eq!(at(responses, &body, "$.tools[0].description"), loc(Part::ToolDefinition, None, None, None));
        assert_eq!(at(responses, &body, "$.model"), None);

        let plain = json!({"model": "gpt-5", "input": "Draft a reply to the customer."});
        assert_eq!(at(responses, &plain, "$.input"), loc(Part::User, None, None, None));
    }

    #[test]
    fn anthropic_messages_paths() {
        let body = json!({
            "model": "claude-sonnet-4-5",
            "max_tokens": 1024,
            "system": [{"type": "text", "text": "You are an on-call assistant.", "cache_control": {"type": "ephemeral"}}],
            "messages": [
                {"role": "user", "content": "Check the disk usage on db-3."},
                {"role": "assistant", "content": [
                    {"type": "text", "text": "Running the check."},
                    {"type": "tool_use", "id": "toolu_01Ab", "name": "run_command", "input": {"host": "db-3", "cmd": "df -h"}}
                ]},
                {"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_01Ab", "content": "/dev/sda1 91% /var/lib/postgres"},
                    {"type": "text", "text": "Also look at this graph and the runbook."},
                    {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}},
                    {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0x"}},
                    {"type": "tool_result", "tool_use_id": "toolu_02Cd", "content": [
                        {"type": "text", "text": "rendered chart"},
                        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBOR"}}
                    ]}
                ]}
            ],
            "tools": [{"name": "run_command", "description": "Run a shell command", "input_schema": {"type": "object"}}]
        });
        let anthropic = ProviderFormat::AnthropicMessages;
        assert_eq!(at(anthropic, &body, "$.system"), loc(Part::System, None, None, None));
        assert_eq!(at(anthropic, &body, "$.system[0].text"), loc(Part::System, None, None, None));
        assert_eq!(at(anthropic, &body, "$.messages[0].content"), loc(Part::User, Some("user"), Some(0), None));
        assert_eq!(
            at(anthropic, &body, "$.messages[1].content[0].text"),
            loc(Part::Assistant, Some("assistant"), Some(1), None)
        );
        assert_eq!(
            at(anthropic, &body, "$.messages[1].content[1].input.cmd"),
            loc(Part::Assistant, Some("assistant"), Some(1), Some("toolu_01Ab"))
        );
        assert_eq!(
            at(anthropic, &body, "$.messages[2].content[0].content"),
            loc(Part::ToolResult, Some("user"), Some(2), Some("toolu_01Ab"))
        );
        assert_eq!(at(anthropic, &body, "$.messages[2].content[1].text"), loc(Part::User, Some("user"), Some(2), None));
        assert_eq!(
            at(anthropic, &body, "$.messages[2].content[2].source.data"),
            loc(Part::Attachment, Some("user"), Some(2), None)
        );
        assert_eq!(
            at(anthropic, &body, "$.messages[2].content[3].source.data"),
            loc(Part::Attachment, Some("user"), Some(2), None)
        );
        assert_eq!(
            at(anthropic, &body, "$.messages[2].content[4].content[0].text"),
            loc(Part::ToolResult, Some("user"), Some(2), Some("toolu_02Cd"))
        );
        assert_eq!(
            at(anthropic, &body, "$.messages[2].content[4].content[1].source.data"),
            loc(Part::Attachment, Some("user"), Some(2), Some("toolu_02Cd"))
        );
        assert_eq!(at(anthropic, &body, "$.tools[0].description"), loc(Part::ToolDefinition, None, None, None));
        assert_eq!(at(anthropic, &body, "$.max_tokens"), None);
    }

    #[test]
    fn format_from_path() {
        let cases = [
            ("/v1/chat/completions", Some(ProviderFormat::OpenAiChat)),
            ("/openai/v1/chat/completions?x=1", Some(ProviderFormat::OpenAiChat)),
            ("/api/v1/chat/completions", Some(ProviderFormat::OpenAiChat)),
            ("/openai/deployments/gpt4o/chat/completions?api-version=2024-10-21", Some(ProviderFormat::OpenAiChat)),
            ("/chat/completions", Some(ProviderFormat::OpenAiChat)),
            ("/v1/responses", Some(ProviderFormat::OpenAiResponses)),
            ("/openai/responses?api-version=preview", Some(ProviderFormat::OpenAiResponses)),
            ("/v1/responses/input_tokens", Some(ProviderFormat::OpenAiResponses)),
            ("/v1/messages", Some(ProviderFormat::AnthropicMessages)),
            ("/anthropic/v1/messages/", Some(ProviderFormat::AnthropicMessages)),
            ("/v1/messages/count_tokens", Some(ProviderFormat::AnthropicMessages)),
            ("/v1/threads/thread_abc/messages", None),
            ("/forms/12/responses", None),
            ("/v1/embeddings", None),
            ("/v1/files", None),
        ];
        for (path, expected) in cases {
            assert_eq!(ProviderFormat::from_path(path), expected, "{path}");
        }
    }

    #[test]
    fn format_from_body() {
        assert_eq!(ProviderFormat::from_body(&chat_body()), Some(ProviderFormat::OpenAiChat));
        let anthropic = json!({"system": "be brief", "messages": [{"role": "user", "content": "hi"}]});
        assert_eq!(ProviderFormat::from_body(&anthropic), Some(ProviderFormat::AnthropicMessages));
        let tool_result = json!({"messages": [{"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": "x"}]}]});
        assert_eq!(ProviderFormat::from_body(&tool_result), Some(ProviderFormat::AnthropicMessages));
        let plain = json!({"messages": [{"role": "user", "content": "hi"}]});
        assert_eq!(ProviderFormat::from_body(&plain), Some(ProviderFormat::OpenAiChat));
        assert_eq!(ProviderFormat::from_body(&json!({"input": "hi"})), Some(ProviderFormat::OpenAiResponses));
        assert_eq!(ProviderFormat::from_body(&json!({"query": "hi"})), None);
        assert_eq!(ProviderFormat::from_body(&json!([1, 2])), None);
        assert_eq!(ProviderFormat::detect("/gateway/llm", &anthropic), Some(ProviderFormat::AnthropicMessages));
        assert_eq!(ProviderFormat::detect("/v1/chat/completions", &anthropic), Some(ProviderFormat::OpenAiChat));
    }

    #[test]
    fn part_names() {
        let all = [Part::System, Part::User, Part::Assistant, Part::ToolResult, Part::ToolDefinition, Part::Attachment];
        let names: Vec<&str> = all.iter().map(|part| part.as_str()).collect();
        assert_eq!(names, ["system", "user", "assistant", "tool_result", "tool_definition", "attachment"]);
        for part in all {
            assert_eq!(serde_json::to_value(part).unwrap(), json!(part.as_str()));
        }
        assert_eq!(ProviderFormat::AnthropicMessages.as_str(), "anthropic_messages");
    }
}
