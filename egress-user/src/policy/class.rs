//! Tool classes and their default postures, and the parts of an LLM request's context.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::Action;
use crate::detect::Category;

/// What kind of tool an endpoint is. Each class has a default posture ([`ClassPosture`]) that
/// the tool's own keys override. A tool without `class` is `external_api`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ToolClass {
    /// Fetches data (search, GET APIs): a request carries no data, so any finding blocks.
    ReadOnly,
    /// Writes to systems inside the organisation (ticketing, internal stores).
    InternalWrite,
    /// Any third-party API. Also the posture of a request that matches no tool.
    #[default]
    ExternalApi,
    /// Messages to people and downstream systems (chat, e-mail, webhooks).
    Notification,
    /// Code execution: the most restrictive class.
    CodeExec,
    /// A model provider; the request carries the agent's whole context.
    LlmProvider,
}

impl ToolClass {
    pub const ALL: [ToolClass; 6] =
        [Self::ReadOnly, Self::InternalWrite, Self::ExternalApi, Self::Notification, Self::CodeExec, Self::LlmProvider];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::ReadOnly => "read_only",
            Self::InternalWrite => "internal_write",
            Self::ExternalApi => "external_api",
            Self::Notification => "notification",
            Self::CodeExec => "code_exec",
            Self::LlmProvider => "llm_provider",
        }
    }

    /// The class's default posture.
    pub fn posture(self) -> &'static ClassPosture {
        match self {
            Self::ReadOnly => &READ_ONLY,
            Self::InternalWrite => &INTERNAL_WRITE,
            Self::ExternalApi => &EXTERNAL_API,
            Self::Notification => &NOTIFICATION,
            Self::CodeExec => &CODE_EXEC,
            Self::LlmProvider => &LLM_PROVIDER,
        }
    }
}

impl fmt::Display for ToolClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One action per finding category: the last step of [`Policy::action_for_finding`]'s
/// precedence.
///
/// [`Policy::action_for_finding`]: super::Policy::action_for_finding
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CategoryActions {
    pub pii: Action,
    pub secret: Action,
    pub document: Action,
    pub dictionary: Action,
    pub edm: Action,
    pub taint: Action,
}

impl CategoryActions {
    const fn all(action: Action) -> Self {
        Self { pii: action, secret: action, document: action, dictionary: action, edm: action, taint: action }
    }

    pub fn get(&self, category: Category) -> Action {
        match category {
            Category::Pii => self.pii,
            Category::Secret => self.secret,
            Category::Document => self.document,
            Category::Dictionary => self.dictionary,
            Category::Edm => self.edm,
            Category::Taint => self.taint,
        }
    }
}

/// The default posture of a [`ToolClass`], as data. Every field is a default that a tool's
/// own key overrides (`action`, `on_findings`/`parts`, `inspect`, `on_unrequested`,
/// `on_schema_violation`); `restrict_destinations` is the one that is not a default but a
/// property of the class.
///
/// | class | endpoint `action` | secret | pii | document | edm | taint | dictionary | `defaults.on_findings` apply | inspect | destinations | `on_unrequested` | `on_schema_violation` |
/// | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |
/// | `read_only` | allow | block | block | block | block | block | block | no (a read carries no data: any finding blocks) | yes | any | alert | block |
/// | `internal_write` | allow | block | alert | alert | alert | alert | alert | yes | yes | any | alert | block |
/// | `external_api` (default; also requests that match no tool) | allow | block | redact | review | block | block | alert | yes | yes | any | alert | block |
/// | `notification` | allow | block | review | review | block | block | alert | yes | yes (always) | any | alert | block |
/// | `code_exec` | alert | block | block | block | block | block | block | no (everything blocks) | yes | only the tool's `destinations` | block | block |
/// | `llm_provider` | allow | block | redact | review | block | block | alert | yes | yes (always) | any | allow (a provider call is never a model tool call) | block |
///
/// Precedence for a finding: the tool's `parts.<part>`, then `parts.any` (llm_provider), then
/// the tool's `on_findings` (`category.detector` before `category`), then
/// `defaults.on_findings` (same order; skipped where the table says "no"), then the class
/// column above. `on_unrequested` and `on_schema_violation`: the tool's key, then
/// `defaults.*`, then the class.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClassPosture {
    pub class: ToolClass,
    /// The endpoint action of a tool without `action`.
    pub endpoint_action: Action,
    /// What each finding category does when no rule of the tool or of `defaults` names it.
    pub on_findings: CategoryActions,
    /// Whether request bodies are scanned by the content detectors when the tool says
    /// nothing (`inspect:`). True for every class: notification and llm_provider content is
    /// the data leaving, and read_only/code_exec bodies must be seen to be refused.
    pub always_inspect: bool,
    /// Findings in the body block whatever `defaults.on_findings` says: the class posture
    /// comes before the policy-wide defaults (only the tool's own rules come first). For
    /// read_only (a read carries no data) and code_exec.
    pub findings_block: bool,
    /// The tool may reach only the destinations it lists (`destinations:`); the key is
    /// refused on classes without it.
    pub restrict_destinations: bool,
    /// A request the model did not ask for, or with arguments other than the model's.
    pub on_unrequested: Action,
    /// A body that fails the tool's schema.
    pub on_schema_violation: Action,
}

static READ_ONLY: ClassPosture = ClassPosture {
    class: ToolClass::ReadOnly,
    endpoint_action: Action::Allow,
    on_findings: CategoryActions::all(Action::Block),
    always_inspect: true,
    findings_block: true,
    restrict_destinations: false,
    on_unrequested: Action::Alert,
    on_schema_violation: Action::Block,
};

static INTERNAL_WRITE: ClassPosture = ClassPosture {
    class: ToolClass::InternalWrite,
    endpoint_action: Action::Allow,
    on_findings: CategoryActions { secret: Action::Block, ..CategoryActions::all(Action::Alert) },
    always_inspect: true,
    findings_block: false,
    restrict_destinations: false,
    on_unrequested: Action::Alert,
    on_schema_violation: Action::Block,
};

const EXTERNAL_FINDINGS: CategoryActions = CategoryActions {
    pii: Action::Redact,
    secret: Action::Block,
    document: Action::Review,
    dictionary: Action::Alert,
    edm: Action::Block,
    taint: Action::Block,
};

static EXTERNAL_API: ClassPosture = ClassPosture {
    class: ToolClass::ExternalApi,
    endpoint_action: Action::Allow,
    on_findings: EXTERNAL_FINDINGS,
    always_inspect: true,
    findings_block: false,
    restrict_destinations: false,
    on_unrequested: Action::Alert,
    on_schema_violation: Action::Block,
};

static NOTIFICATION: ClassPosture = ClassPosture {
    class: ToolClass::Notification,
    endpoint_action: Action::Allow,
    on_findings: CategoryActions { pii: Action::Review, ..EXTERNAL_FINDINGS },
    always_inspect: true,
    findings_block: false,
    restrict_destinations: false,
    on_unrequested: Action::Alert,
    on_schema_violation: Action::Block,
};

static CODE_EXEC: ClassPosture = ClassPosture {
    class: ToolClass::CodeExec,
    endpoint_action: Action::Alert,
    on_findings: CategoryActions::all(Action::Block),
    always_inspect: true,
    findings_block: true,
    restrict_destinations: true,
    on_unrequested: Action::Block,
    on_schema_violation: Action::Block,
};

static LLM_PROVIDER: ClassPosture = ClassPosture {
    class: ToolClass::LlmProvider,
    endpoint_action: Action::Allow,
    on_findings: EXTERNAL_FINDINGS,
    always_inspect: true,
    findings_block: false,
    restrict_destinations: false,
    on_unrequested: Action::Allow,
    on_schema_violation: Action::Block,
};

/// Where in an LLM request's context a finding sits (the detectors' JSON path, mapped by the
/// provider-format parser). `any` in a policy means every part.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessagePart {
    /// System prompt / instructions.
    System,
    /// What the user wrote.
    User,
    /// Earlier model output, tool calls included.
    Assistant,
    /// Output of a tool the agent ran, fed back to the model.
    ToolResult,
    /// The tool (function) declarations sent to the model.
    ToolDefinition,
    /// Files, images and retrieved documents attached to a message.
    Attachment,
    /// Every part; a rule under `any` applies where no rule for the specific part does.
    Any,
}

impl MessagePart {
    pub const ALL: [MessagePart; 7] = [
        Self::System,
        Self::User,
        Self::Assistant,
        Self::ToolResult,
        Self::ToolDefinition,
        Self::Attachment,
        Self::Any,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::System => "system",
            Self::User => "user",
            Self::Assistant => "assistant",
            Self::ToolResult => "tool_result",
            Self::ToolDefinition => "tool_definition",
            Self::Attachment => "attachment",
            Self::Any => "any",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

impl fmt::Display for MessagePart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
