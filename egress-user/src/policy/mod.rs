//! The policy file: which tools (endpoints) an agent may use and what class each is, what
//! each kind of finding does where, the tools' argument schemas, the taint sources, the
//! detectors' settings, what happens to requests that match no tool, and which destinations
//! are refused outright at `connect()`.
//!
//! ```yaml
//! version: 1
//! mode: enforce          # monitor | enforce
//! default_action: alert  # for a request that matches no tool: allow | alert | review | block | kill
//! fail_mode: open        # open | closed, for watched agents while no daemon runs
//! capture_max_bytes: 262144
//! review_timeout: 120    # seconds (1..3600) a `review` waits for a person; then it denies
//! review_webhook: https://hooks.slack.com/services/T0/B0/x   # new reviews are announced here
//! defaults:              # policy-wide, below a tool's own keys (all optional)
//!   on_findings: { secret: block, pii: redact, document: review, taint: block }
//!   on_schema_violation: block
//!   on_unrequested: alert
//! tools:
//!   - name: openai-chat
//!     class: llm_provider   # read_only | internal_write | external_api (default) | notification | code_exec | llm_provider
//!     match: { host: api.openai.com, method: POST, path: /v1/chat/completions }
//!     action: allow         # endpoint action; default from the class
//!     parts: { any: { secret: block }, tool_result: { pii: redact } }
//!   - name: slack-webhook
//!     class: notification
//!     match: { host: hooks.slack.com, method: POST, path: "/services/*" }
//!     schema_file: schemas/slack-message.json   # or `schema:` inline; relative to this file
//!     on_schema_violation: block
//!     on_findings: { pii: review, secret.aws_access_key_id: kill }
//!     on_unrequested: review
//!   - name: sandbox
//!     class: code_exec
//!     match: { host: sandbox.internal.example }
//!     destinations: [ "10.20.0.0/16", pypi.org ]   # code_exec only
//!     programs: [ /usr/local/bin/code-runner ]     # its processes reach only `destinations`
//! sources:               # responses from these are taint sources
//!   - { name: crm, match: { host: crm.internal.example, path: "/api/*" } }
//! detection:
//!   documents: { dir: documents/, min_share: 0.3 }
//!   dictionaries: [ dictionaries/terms.txt ]
//!   edm: [ { file: edm/customers.csv, primary: [email], corroborating: [name] } ]
//!   taint: { ttl_seconds: 3600, max_fingerprints: 200000 }
//!   max_decode_depth: 3
//! deny_destinations: [ "exfil.example.net", "203.0.113.0/24" ]
//! ```
//!
//! Parsing is done by `serde_yaml_ng` with `deny_unknown_fields` everywhere; every value is
//! validated inside `Deserialize`, so each error names the line, column and key path of the
//! offending value (see [`PolicyError`]). Checks that involve two keys of a tool are raised
//! at the offending value too (see the `context` module).
//!
//! The class postures and the order in which rules apply are on [`ClassPosture`].

mod class;
mod context;
mod deny;
mod detection;
mod error;
mod findings;
mod pattern;
mod schema;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_rules;

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use ipnet::IpNet;
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::detect::Category;
use context::{Injection, NameList, ToolField};
use schema::InlineSchema;

pub use class::{CategoryActions, ClassPosture, MessagePart, ToolClass};
pub use deny::{DenyDestination, ProgramPath, WebhookUrl};
pub use detection::{DetectionSettings, DocumentSettings, EdmSettings, TaintSettings};
pub use error::PolicyError;
pub use findings::{CATEGORIES, FindingKey, FindingRules};
pub use pattern::{HostPattern, HttpMethod, PathPattern, normalize_request_path};
pub use schema::{SchemaViolation, ToolSchema};

/// The policy used when the daemon is started without `--policy`.
pub const DEFAULT_POLICY_YAML: &str = include_str!("../default_policy.yaml");
const DEFAULT_POLICY_NAME: &str = "<built-in default_policy.yaml>";

/// The only policy language version this build understands.
pub const POLICY_VERSION: u32 = 1;
pub const DEFAULT_CAPTURE_MAX_BYTES: u32 = 256 * 1024;
/// The kernel side copies a write in at most this many bytes (bounded eBPF loop).
pub const MAX_CAPTURE_MAX_BYTES: u32 = egress_common::MAX_CAPTURE_BYTES;
pub const DEFAULT_REVIEW_TIMEOUT_SECONDS: u32 = 120;
pub const MAX_REVIEW_TIMEOUT_SECONDS: u32 = 3600;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Observe and record; never hold or refuse a write.
    Monitor,
    /// Hold each write until the policy has decided, and carry the decision out.
    Enforce,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Monitor => "monitor",
            Self::Enforce => "enforce",
        }
    }
}

/// What happens to watched agents while no daemon is running.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FailMode {
    /// Let their traffic through.
    Open,
    /// Refuse their traffic.
    Closed,
}

impl FailMode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Closed => "closed",
        }
    }
}

/// What the daemon does with a request. Variants are declared in order of severity, so
/// `Ord`/`max` combine several outcomes into the one decision:
/// allow < alert < redact < review < block < kill.
///
/// Adding a variant means adding it here, to `ALL` and to `as_str`; serde's derive picks up
/// the lowercase name, and the compiler points at every `match` that has to handle it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Let it through.
    Allow,
    /// Let it through, log and count it.
    Alert,
    /// Mask the sensitive bytes in place (same length) and let it through.
    Redact,
    /// Hold the agent until a person approves or denies; no decision within the policy's
    /// `review_timeout` denies.
    Review,
    /// Make the write fail in the agent; nothing reaches the network.
    Block,
    /// Block, and end the agent process with SIGKILL.
    Kill,
}

impl Action {
    /// Every action, least severe first.
    pub const ALL: [Action; 6] = [Self::Allow, Self::Alert, Self::Redact, Self::Review, Self::Block, Self::Kill];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allow => "allow",
            Self::Alert => "alert",
            Self::Redact => "redact",
            Self::Review => "review",
            Self::Block => "block",
            Self::Kill => "kill",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }

    /// The most severe of several outcomes (`allow` for none).
    pub fn most_severe(actions: impl IntoIterator<Item = Action>) -> Action {
        actions.into_iter().max().unwrap_or(Action::Allow)
    }
}

macro_rules! display_as_str {
    ($($ty:ty),*) => {$(
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    )*};
}
display_as_str!(Mode, FailMode, Action);

/// The names accepted where an action applies to a whole request (`action`,
/// `default_action`, `on_unrequested`, `on_schema_violation`): `redact` masks findings, and
/// a whole request has none to mask.
const REQUEST_ACTIONS: &[&str] = &["allow", "alert", "review", "block", "kill"];

/// Deserializes an action that applies to a whole request (not `redact`), checked inside the
/// visitor so the error is placed at the value.
fn deserialize_request_action<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Action, D::Error> {
    struct V;
    impl Visitor<'_> for V {
        type Value = Action;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("an action")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Action, E> {
            match Action::parse(v) {
                Some(Action::Redact) => Err(E::custom(
                    "`redact` masks findings and applies only in `on_findings`/`parts`; here use one of allow, alert, review, block, kill",
                )),
                Some(action) => Ok(action),
                None => Err(E::unknown_variant(v, REQUEST_ACTIONS)),
            }
        }
    }
    deserializer.deserialize_str(V)
}

fn deserialize_opt_request_action<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Action>, D::Error> {
    deserialize_request_action(deserializer).map(Some)
}

/// The endpoint a tool covers. `host` is required; an absent `method` or `path` matches any.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointMatch {
    pub host: HostPattern,
    #[serde(default)]
    pub method: Option<HttpMethod>,
    #[serde(default)]
    pub path: Option<PathPattern>,
}

impl EndpointMatch {
    /// `host`: Host header without port (`""` when absent); `path`: already normalised with
    /// [`normalize_request_path`].
    pub fn matches(&self, host: &str, method: &str, path: &str) -> bool {
        self.host.matches(host)
            && self.method.as_ref().is_none_or(|m| m.matches(method))
            && self.path.as_ref().is_none_or(|p| p.matches(path))
    }
}

/// One tool of the policy, with its keys as written (`None`/empty where left out) and its
/// endpoint action resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tool {
    /// Unique within the policy, `[a-z0-9][a-z0-9._-]*`.
    pub name: String,
    pub match_: EndpointMatch,
    /// `external_api` when not given.
    pub class: ToolClass,
    /// The endpoint action: the tool's `action`, or its class's default.
    pub action: Action,
    /// `action` as written.
    pub declared_action: Option<Action>,
    /// From `schema` or `schema_file`, compiled.
    pub schema: Option<ToolSchema>,
    pub on_schema_violation: Option<Action>,
    pub on_findings: FindingRules,
    pub on_unrequested: Option<Action>,
    /// code_exec only: the only destinations the tool may reach.
    pub destinations: Vec<DenyDestination>,
    /// code_exec only: the executables whose processes are confined to `destinations`.
    pub programs: Vec<ProgramPath>,
    /// llm_provider only: finding rules per message part.
    pub parts: BTreeMap<MessagePart, FindingRules>,
    /// `inspect` as written; see [`Tool::inspects`].
    pub inspect: Option<bool>,
}

impl Tool {
    pub fn posture(&self) -> &'static ClassPosture {
        self.class.posture()
    }

    /// Whether request bodies to this tool are scanned by the content detectors: `inspect`,
    /// or the class's `always_inspect`.
    pub fn inspects(&self) -> bool {
        self.inspect.unwrap_or(self.posture().always_inspect)
    }

    /// The ways `body` breaks the tool's schema; empty when it conforms or the tool has no
    /// schema. Messages carry no values from the body.
    pub fn validate_body(&self, body: &serde_json::Value) -> Vec<SchemaViolation> {
        self.schema.as_ref().map(|s| s.validate(body)).unwrap_or_default()
    }

    /// Like [`Tool::validate_body`] for raw body bytes: a body that is not JSON is one
    /// violation (keyword `type`, pointer `""`). Empty when the tool has no schema.
    pub fn validate_json_bytes(&self, body: &[u8]) -> Vec<SchemaViolation> {
        let Some(schema) = &self.schema else { return Vec::new() };
        match serde_json::from_slice::<serde_json::Value>(body) {
            Ok(value) => schema.validate(&value),
            Err(_) => vec![SchemaViolation {
                pointer: String::new(),
                keyword: "type".into(),
                message: "body is not valid JSON".into(),
            }],
        }
    }

    /// The literal addresses and CIDRs of `destinations`.
    pub fn destination_nets(&self) -> Vec<IpNet> {
        self.destinations
            .iter()
            .filter_map(|d| match d {
                DenyDestination::Net(net) => Some(*net),
                DenyDestination::Host(_) => None,
            })
            .collect()
    }

    /// The host names of `destinations`, for the daemon to resolve.
    pub fn destination_hosts(&self) -> Vec<&str> {
        self.destinations
            .iter()
            .filter_map(|d| match d {
                DenyDestination::Host(host) => Some(host.as_str()),
                DenyDestination::Net(_) => None,
            })
            .collect()
    }
}

/// An endpoint whose responses are taint sources: data read from it is fingerprinted, and
/// finding it later in a request is a `taint` finding.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// Unique among the sources, `[a-z0-9][a-z0-9._-]*`.
    #[serde(deserialize_with = "deserialize_source_name")]
    pub name: String,
    #[serde(rename = "match")]
    pub match_: EndpointMatch,
}

/// The `defaults:` section: policy-wide rules below a tool's own keys.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyDefaults {
    #[serde(default)]
    pub on_findings: FindingRules,
    #[serde(default, deserialize_with = "deserialize_opt_request_action")]
    pub on_schema_violation: Option<Action>,
    #[serde(default, deserialize_with = "deserialize_opt_request_action")]
    pub on_unrequested: Option<Action>,
}

/// The outcome of [`Policy::decide`]. `tool` borrows the matching tool from the policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision<'a> {
    pub tool: Option<&'a Tool>,
    pub action: Action,
    pub reason: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Policy {
    pub version: u32,
    pub mode: Mode,
    pub default_action: Action,
    pub fail_mode: FailMode,
    /// Monitor mode: at most this many bytes of one write are copied out of the kernel.
    pub capture_max_bytes: u32,
    /// How long a `review` waits for a person before it denies.
    pub review_timeout_seconds: u32,
    /// Where new reviews are announced (a JSON POST without any raw value).
    pub review_webhook: Option<WebhookUrl>,
    pub defaults: PolicyDefaults,
    pub tools: Vec<Tool>,
    pub sources: Vec<Source>,
    pub detection: DetectionSettings,
    pub deny_destinations: Vec<DenyDestination>,
    /// SHA-256 (hex) of the source text: the policy version named in audit records.
    pub digest: String,
    /// File name (or `<built-in default_policy.yaml>`) used in error messages.
    pub source_name: String,
    /// The directory relative paths in the policy were resolved against (absolute).
    pub base_dir: PathBuf,
}

/// The file as written. `version`, `mode`, `default_action` and `fail_mode` are required;
/// everything else may be left out.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    #[serde(deserialize_with = "deserialize_version")]
    version: u32,
    mode: Mode,
    #[serde(deserialize_with = "deserialize_request_action")]
    default_action: Action,
    fail_mode: FailMode,
    #[serde(default = "default_capture_max_bytes", deserialize_with = "deserialize_capture_max_bytes")]
    capture_max_bytes: u32,
    #[serde(default = "default_review_timeout", deserialize_with = "deserialize_review_timeout")]
    review_timeout: u32,
    #[serde(default)]
    review_webhook: Option<WebhookUrl>,
    #[serde(default)]
    defaults: PolicyDefaults,
    #[serde(default, deserialize_with = "deserialize_tools")]
    tools: Vec<ToolFile>,
    #[serde(default)]
    sources: Vec<Source>,
    #[serde(default)]
    detection: DetectionSettings,
    #[serde(default)]
    deny_destinations: Vec<DenyDestination>,
}

/// A tool as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ToolFile {
    #[serde(deserialize_with = "deserialize_tool_name")]
    name: String,
    #[serde(rename = "match")]
    match_: EndpointMatch,
    #[serde(default)]
    class: Option<ToolClass>,
    #[serde(default, deserialize_with = "deserialize_opt_request_action")]
    action: Option<Action>,
    #[serde(default)]
    schema: Option<InlineSchema>,
    #[serde(default, deserialize_with = "deserialize_tool_schema_file")]
    schema_file: Option<ToolSchema>,
    #[serde(default, deserialize_with = "deserialize_tool_on_schema_violation")]
    on_schema_violation: Option<Action>,
    #[serde(default)]
    on_findings: FindingRules,
    #[serde(default, deserialize_with = "deserialize_opt_request_action")]
    on_unrequested: Option<Action>,
    #[serde(default, deserialize_with = "deserialize_tool_destinations")]
    destinations: Option<Vec<DenyDestination>>,
    #[serde(default, deserialize_with = "deserialize_tool_programs")]
    programs: Option<Vec<ProgramPath>>,
    #[serde(default, deserialize_with = "deserialize_tool_parts")]
    parts: Option<BTreeMap<MessagePart, FindingRules>>,
    #[serde(default)]
    inspect: Option<bool>,
}

impl ToolFile {
    /// The first check involving two keys that fails, as the error to raise at the
    /// offending key's value.
    fn cross_check(&self, index: usize) -> Option<Injection> {
        let class = self.class.unwrap_or_default();
        let class_text =
            if self.class.is_some() { format!("class {class}") } else { format!("class {class} by default") };
        let (field, message) = if self.schema.is_some() && self.schema_file.is_some() {
            (
                ToolField::SchemaFile,
                "`schema` and `schema_file` are mutually exclusive: give the schema inline or as a file".to_owned(),
            )
        } else if self.destinations.is_some() && !class.posture().restrict_destinations {
            (
                ToolField::Destinations,
                format!("`destinations` applies only to class code_exec; this tool is {class_text}"),
            )
        } else if self.programs.is_some() && !class.posture().restrict_destinations {
            (ToolField::Programs, format!("`programs` applies only to class code_exec; this tool is {class_text}"))
        } else if self.parts.is_some() && class != ToolClass::LlmProvider {
            (ToolField::Parts, format!("`parts` applies only to class llm_provider; this tool is {class_text}"))
        } else if self.on_schema_violation.is_some() && self.schema.is_none() && self.schema_file.is_none() {
            (
                ToolField::OnSchemaViolation,
                "`on_schema_violation` needs a `schema` or `schema_file` on this tool".to_owned(),
            )
        } else {
            return None;
        };
        Some(Injection { tool: index, field, message })
    }

    fn into_tool(self) -> Tool {
        let class = self.class.unwrap_or_default();
        Tool {
            name: self.name,
            match_: self.match_,
            class,
            action: self.action.unwrap_or(class.posture().endpoint_action),
            declared_action: self.action,
            schema: self.schema.map(|s| s.0).or(self.schema_file),
            on_schema_violation: self.on_schema_violation,
            on_findings: self.on_findings,
            on_unrequested: self.on_unrequested,
            destinations: self.destinations.unwrap_or_default(),
            programs: self.programs.unwrap_or_default(),
            parts: self.parts.unwrap_or_default(),
            inspect: self.inspect,
        }
    }
}

fn default_capture_max_bytes() -> u32 {
    DEFAULT_CAPTURE_MAX_BYTES
}

fn default_review_timeout() -> u32 {
    DEFAULT_REVIEW_TIMEOUT_SECONDS
}

fn parse_file(
    source_name: &str,
    text: &str,
    base_dir: &Path,
    inject: Option<Injection>,
) -> Result<PolicyFile, PolicyError> {
    let _scope = context::Scope::enter(base_dir.to_path_buf(), inject);
    serde_yaml_ng::from_str(text).map_err(|e| PolicyError::from_yaml(source_name, text, &e))
}

impl Policy {
    /// Parses and validates a policy. `source_name` is used as the file name in errors;
    /// relative paths in it are resolved against the current directory.
    pub fn from_yaml(source_name: &str, text: &str) -> Result<Policy, PolicyError> {
        let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
        Policy::from_yaml_in(source_name, text, &cwd)
    }

    /// Parses and validates a policy whose relative paths (`schema_file`, `detection`) are
    /// resolved against `base_dir` (normally the policy file's directory).
    pub fn from_yaml_in(source_name: &str, text: &str, base_dir: &Path) -> Result<Policy, PolicyError> {
        let base_dir = std::path::absolute(base_dir).unwrap_or_else(|_| base_dir.to_path_buf());
        let file = parse_file(source_name, text, &base_dir, None)?;
        if let Some(inject) = file.tools.iter().enumerate().find_map(|(i, t)| t.cross_check(i)) {
            let fallback = PolicyError {
                file: source_name.to_owned(),
                line: 1,
                column: 1,
                path: format!("tools[{}].{}", inject.tool, inject.field.key()),
                message: inject.message.clone(),
            };
            return Err(parse_file(source_name, text, &base_dir, Some(inject)).err().unwrap_or(fallback));
        }
        Ok(Policy {
            version: file.version,
            mode: file.mode,
            default_action: file.default_action,
            fail_mode: file.fail_mode,
            capture_max_bytes: file.capture_max_bytes,
            review_timeout_seconds: file.review_timeout,
            review_webhook: file.review_webhook,
            defaults: file.defaults,
            tools: file.tools.into_iter().map(ToolFile::into_tool).collect(),
            sources: file.sources,
            detection: file.detection,
            deny_destinations: file.deny_destinations,
            digest: hex::encode(Sha256::digest(text.as_bytes())),
            source_name: source_name.to_owned(),
            base_dir,
        })
    }

    /// Reads and parses the policy file at `path`; relative paths in it are resolved
    /// against its directory.
    pub fn load(path: &Path) -> anyhow::Result<Policy> {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading policy file {}", path.display()))?;
        let dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        Ok(Policy::from_yaml_in(&path.display().to_string(), &text, dir)?)
    }

    /// Monitor mode, `default_action: alert`, `fail_mode: open`, no tools, no deny list.
    pub fn builtin_default() -> Policy {
        Policy::from_yaml(DEFAULT_POLICY_NAME, DEFAULT_POLICY_YAML)
            .expect("the built-in default policy is valid (checked by a unit test)")
    }

    /// Decides what happens to a request at the endpoint level. `host`: the Host header (or
    /// HTTP/2 `:authority`) without port, `None` when absent; `method`: the request method;
    /// `path`: the request-target, query string included or not (it is normalised and
    /// stripped here). The first tool whose `match` fits wins, with its `action` or its
    /// class's default; otherwise `default_action` applies.
    pub fn decide(&self, host: Option<&str>, method: &str, path: &str) -> Decision<'_> {
        match self.tool_for(host, method, path) {
            Some(tool) => Decision {
                tool: Some(tool),
                action: tool.action,
                reason: match tool.declared_action {
                    Some(action) => format!("tool {}: action {action}", tool.name),
                    None => format!("tool {}: action {} (class {} default)", tool.name, tool.action, tool.class),
                },
            },
            None => Decision {
                tool: None,
                action: self.default_action,
                reason: format!("no tool matched: default_action {}", self.default_action),
            },
        }
    }

    /// The first tool whose `match` fits the request.
    pub fn tool_for(&self, host: Option<&str>, method: &str, path: &str) -> Option<&Tool> {
        let host = host.unwrap_or("");
        let path = normalize_request_path(path);
        self.tools.iter().find(|tool| tool.match_.matches(host, method, &path))
    }

    /// The tool with this name, if any.
    pub fn tool(&self, name: &str) -> Option<&Tool> {
        self.tools.iter().find(|t| t.name == name)
    }

    /// The key path of a tool (`tools[2]`), for the rule names in decisions.
    fn tool_path(&self, tool: &Tool) -> String {
        match self.tools.iter().position(|t| t.name == tool.name) {
            Some(i) => format!("tools[{i}]"),
            None => format!("tool {}", tool.name),
        }
    }

    /// What a finding does, and the rule that decided it (`tools[2].on_findings.pii`,
    /// `tools[0].parts.tool_result.secret`, `defaults.on_findings.secret`,
    /// `class notification default`).
    ///
    /// Precedence, first match wins:
    /// 1. the tool's `parts.<part>` (llm_provider; `category.detector` before `category`),
    /// 2. the tool's `parts.any`,
    /// 3. the tool's `on_findings` (`category.detector`, then `category`),
    /// 4. `defaults.on_findings` (same order), unless the class posture has `findings_block`
    ///    (read_only, code_exec: their class posture comes first),
    /// 5. the class posture.
    ///
    /// A request that matches no tool (`tool: None`) gets `defaults.on_findings`, then the
    /// `external_api` posture: an unknown destination is treated as a third-party API.
    /// `part`: where in an LLM request's context the finding is (`None` elsewhere, or when
    /// unknown: only `parts.any` applies then).
    pub fn action_for_finding(
        &self,
        tool: Option<&Tool>,
        category: Category,
        detector: &str,
        part: Option<MessagePart>,
    ) -> (Action, String) {
        if let Some(tool) = tool {
            let path = self.tool_path(tool);
            let specific = part.filter(|p| *p != MessagePart::Any);
            for part in specific.into_iter().chain([MessagePart::Any]) {
                if let Some((key, action)) = tool.parts.get(&part).and_then(|r| r.lookup(category, detector)) {
                    return (action, format!("{path}.parts.{part}.{key}"));
                }
            }
            if let Some((key, action)) = tool.on_findings.lookup(category, detector) {
                return (action, format!("{path}.on_findings.{key}"));
            }
        }
        let class = tool.map_or(ToolClass::ExternalApi, |t| t.class);
        let posture = class.posture();
        if !posture.findings_block
            && let Some((key, action)) = self.defaults.on_findings.lookup(category, detector)
        {
            return (action, format!("defaults.on_findings.{key}"));
        }
        let rule = if tool.is_some() {
            format!("class {class} default")
        } else {
            format!("class {class} default (no tool matched)")
        };
        (posture.on_findings.get(category), rule)
    }

    /// What a body that fails `tool`'s schema gets, and the rule: the tool's
    /// `on_schema_violation`, then `defaults.on_schema_violation`, then the class posture.
    pub fn schema_violation_action(&self, tool: &Tool) -> (Action, String) {
        if let Some(action) = tool.on_schema_violation {
            return (action, format!("{}.on_schema_violation", self.tool_path(tool)));
        }
        if let Some(action) = self.defaults.on_schema_violation {
            return (action, "defaults.on_schema_violation".into());
        }
        (tool.posture().on_schema_violation, format!("class {} default", tool.class))
    }

    /// What a request the model did not ask for (or with arguments other than the model's)
    /// gets, and the rule: the tool's `on_unrequested`, then `defaults.on_unrequested`, then
    /// the class posture (`external_api` for a request that matches no tool).
    pub fn unrequested_action(&self, tool: Option<&Tool>) -> (Action, String) {
        if let Some(tool) = tool
            && let Some(action) = tool.on_unrequested
        {
            return (action, format!("{}.on_unrequested", self.tool_path(tool)));
        }
        if let Some(action) = self.defaults.on_unrequested {
            return (action, "defaults.on_unrequested".into());
        }
        let class = tool.map_or(ToolClass::ExternalApi, |t| t.class);
        (class.posture().on_unrequested, format!("class {class} default"))
    }

    /// How long a `review` waits for a person before it denies.
    pub fn review_timeout(&self) -> Duration {
        Duration::from_secs(u64::from(self.review_timeout_seconds))
    }

    /// The taint source whose `match` fits a request (its response is then a source).
    pub fn source_for(&self, host: Option<&str>, method: &str, path: &str) -> Option<&Source> {
        let host = host.unwrap_or("");
        let path = normalize_request_path(path);
        self.sources.iter().find(|s| s.match_.matches(host, method, &path))
    }

    /// Whether `tool` may reach `ip`. Always true for classes without
    /// `restrict_destinations`; for code_exec, `ip` must be inside one of the literal
    /// addresses/CIDRs of `destinations` (host names there are for the daemon to resolve:
    /// [`Tool::destination_hosts`]; see also [`Policy::destination_host_allowed`]).
    pub fn destination_allowed(&self, tool: &Tool, ip: IpAddr) -> bool {
        !tool.posture().restrict_destinations || tool.destination_nets().iter().any(|net| net.contains(&ip))
    }

    /// Whether `tool` may reach the host name `host` (a Host header, port allowed). Always
    /// true for classes without `restrict_destinations`; for code_exec, `host` must be one
    /// of the host names of `destinations` (or a literal address inside one of its nets).
    pub fn destination_host_allowed(&self, tool: &Tool, host: &str) -> bool {
        if !tool.posture().restrict_destinations {
            return true;
        }
        let host = pattern::normalize_host(host);
        if let Ok(ip) = host.parse::<IpAddr>() {
            return self.destination_allowed(tool, ip);
        }
        tool.destination_hosts().iter().any(|h| h.eq_ignore_ascii_case(&host))
    }

    /// The code_exec tools that name `programs`, in policy order: the processes of those
    /// programs are confined to the tool's `destinations` in the kernel.
    pub fn confining_tools(&self) -> impl Iterator<Item = &Tool> {
        self.tools.iter().filter(|tool| tool.posture().restrict_destinations && !tool.programs.is_empty())
    }

    /// The literal addresses and CIDRs of `deny_destinations`.
    pub fn deny_nets(&self) -> Vec<IpNet> {
        self.deny_destinations
            .iter()
            .filter_map(|d| match d {
                DenyDestination::Net(net) => Some(*net),
                DenyDestination::Host(_) => None,
            })
            .collect()
    }

    /// The host names of `deny_destinations`, to be resolved by the daemon at load time.
    pub fn deny_hosts(&self) -> Vec<&str> {
        self.deny_destinations
            .iter()
            .filter_map(|d| match d {
                DenyDestination::Host(host) => Some(host.as_str()),
                DenyDestination::Net(_) => None,
            })
            .collect()
    }
}

/// Reads `tools`, telling the context which tool is being read (for injected errors).
fn deserialize_tools<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<ToolFile>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Vec<ToolFile>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a sequence")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<ToolFile>, A::Error> {
            let mut tools = Vec::new();
            loop {
                context::set_current_tool(Some(tools.len()));
                let Some(tool) = seq.next_element::<ToolFile>()? else { break };
                tools.push(tool);
            }
            context::set_current_tool(None);
            Ok(tools)
        }
    }
    deserializer.deserialize_seq(V)
}

fn deserialize_tool_schema_file<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<ToolSchema>, D::Error> {
    if let Some(message) = context::injected(ToolField::SchemaFile) {
        return context::fail_here(deserializer, message);
    }
    schema::deserialize_schema_file(deserializer).map(Some)
}

fn deserialize_tool_on_schema_violation<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Action>, D::Error> {
    if let Some(message) = context::injected(ToolField::OnSchemaViolation) {
        return context::fail_here(deserializer, message);
    }
    deserialize_opt_request_action(deserializer)
}

fn deserialize_tool_destinations<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Vec<DenyDestination>>, D::Error> {
    if let Some(message) = context::injected(ToolField::Destinations) {
        return context::fail_here(deserializer, message);
    }
    Vec::<DenyDestination>::deserialize(deserializer).map(Some)
}

fn deserialize_tool_programs<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Vec<ProgramPath>>, D::Error> {
    if let Some(message) = context::injected(ToolField::Programs) {
        return context::fail_here(deserializer, message);
    }
    Vec::<ProgramPath>::deserialize(deserializer).map(Some)
}

fn deserialize_tool_parts<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<BTreeMap<MessagePart, FindingRules>>, D::Error> {
    if let Some(message) = context::injected(ToolField::Parts) {
        return context::fail_here(deserializer, message);
    }
    findings::deserialize_parts(deserializer).map(Some)
}

fn validate_name(noun: &str, name: &str) -> Result<(), String> {
    let bytes = name.as_bytes();
    let Some(&first) = bytes.first() else {
        return Err(format!("{noun} name must not be empty"));
    };
    let ok = (first.is_ascii_lowercase() || first.is_ascii_digit())
        && bytes.iter().all(|&b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-'));
    if !ok {
        return Err(format!("invalid {noun} name `{name}`: must match [a-z0-9][a-z0-9._-]*"));
    }
    Ok(())
}

/// A tool or source name, checked for shape and for uniqueness inside the visitor so the
/// duplicate's own line and column end up in the error.
fn deserialize_name<'de, D: Deserializer<'de>>(deserializer: D, list: NameList) -> Result<String, D::Error> {
    struct V(NameList);
    impl Visitor<'_> for V {
        type Value = String;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str(match self.0 {
                NameList::Tools => "a tool name",
                NameList::Sources => "a source name",
            })
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
            let (noun, section) = match self.0 {
                NameList::Tools => ("tool", "tools"),
                NameList::Sources => ("source", "sources"),
            };
            validate_name(noun, v).map_err(E::custom)?;
            context::note_name(self.0, v).map_err(|index| {
                E::custom(format!("duplicate {noun} name `{v}` (first used by {section}[{index}])"))
            })?;
            Ok(v.to_owned())
        }
    }
    deserializer.deserialize_str(V(list))
}

fn deserialize_tool_name<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    deserialize_name(deserializer, NameList::Tools)
}

fn deserialize_source_name<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    deserialize_name(deserializer, NameList::Sources)
}

/// Deserializes an unsigned integer and checks it inside the visitor, so the error is placed
/// at the value.
fn deserialize_checked_u32<'de, D: Deserializer<'de>>(
    deserializer: D,
    expecting: &'static str,
    check: fn(u64) -> Result<u32, String>,
) -> Result<u32, D::Error> {
    struct V {
        expecting: &'static str,
        check: fn(u64) -> Result<u32, String>,
    }
    impl Visitor<'_> for V {
        type Value = u32;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str(self.expecting)
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<u32, E> {
            (self.check)(v).map_err(E::custom)
        }
    }
    deserializer.deserialize_u64(V { expecting, check })
}

fn deserialize_version<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u32, D::Error> {
    deserialize_checked_u32(deserializer, "policy version 1", |v| {
        if v == u64::from(POLICY_VERSION) {
            Ok(POLICY_VERSION)
        } else {
            Err(format!("unsupported policy version {v}; this build supports version {POLICY_VERSION}"))
        }
    })
}

fn deserialize_capture_max_bytes<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u32, D::Error> {
    deserialize_checked_u32(deserializer, "a byte count", |v| match u32::try_from(v) {
        Ok(n) if (1..=MAX_CAPTURE_MAX_BYTES).contains(&n) => Ok(n),
        _ => Err(format!("must be between 1 and {MAX_CAPTURE_MAX_BYTES} bytes, got {v}")),
    })
}

fn deserialize_review_timeout<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u32, D::Error> {
    deserialize_checked_u32(deserializer, "a number of seconds", |v| match u32::try_from(v) {
        Ok(n) if (1..=MAX_REVIEW_TIMEOUT_SECONDS).contains(&n) => Ok(n),
        _ => Err(format!("must be between 1 and {MAX_REVIEW_TIMEOUT_SECONDS} seconds, got {v}")),
    })
}
