//! LLM provider traffic.
//!
//! Requests to a model carry the agent's whole context, so a finding in one needs to say where
//! it sits (system prompt, user turn, tool result, attachment...) for a per-part policy
//! ([`request`]). Responses carry the tool calls the model asked for ([`response`]); the
//! agent's later tool requests are linked to those calls, and a request no call asked for
//! stands out ([`calls`]).
pub mod calls;
pub mod request;
pub mod response;

pub use calls::{Link, ToolCallLedger};
pub use request::{Part, PartLocation, ProviderFormat, part_at};
pub use response::{ResponseParser, ToolCall};
