//! The policy file: which tools (endpoints) an agent may use, what happens to requests that
//! match no tool, and which destinations are refused outright at `connect()`.
//!
//! ```yaml
//! version: 1
//! mode: enforce          # monitor | enforce
//! default_action: alert  # allow | alert | block, for a request that matches no tool
//! fail_mode: open        # open | closed, for watched agents while no daemon runs
//! capture_max_bytes: 262144
//! tools:
//!   - name: openai-chat
//!     match: { host: api.openai.com, method: POST, path: /v1/chat/completions }
//!     action: allow
//! deny_destinations: [ "exfil.example.net", "203.0.113.0/24" ]
//! ```
//!
//! Parsing is done by `serde_yaml_ng` with `deny_unknown_fields` everywhere; every value is
//! validated inside `Deserialize`, so each error names the line, column and key path of the
//! offending value (see [`PolicyError`]).

mod deny;
mod error;
mod pattern;
#[cfg(test)]
mod tests;

use std::cell::RefCell;
use std::fmt;
use std::path::Path;

use anyhow::Context as _;
use ipnet::IpNet;
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

pub use deny::DenyDestination;
pub use error::PolicyError;
pub use pattern::{HostPattern, HttpMethod, PathPattern, normalize_request_path};

/// The policy used when the daemon is started without `--policy`.
pub const DEFAULT_POLICY_YAML: &str = include_str!("../default_policy.yaml");
const DEFAULT_POLICY_NAME: &str = "<built-in default_policy.yaml>";

/// The only policy language version this build understands.
pub const POLICY_VERSION: u32 = 1;
pub const DEFAULT_CAPTURE_MAX_BYTES: u32 = 256 * 1024;
/// The kernel side copies a write in at most this many bytes (bounded eBPF loop).
pub const MAX_CAPTURE_MAX_BYTES: u32 = egress_common::MAX_CAPTURE_BYTES;

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

/// What the daemon does with a request. Adding a variant means adding it here and to
/// `as_str`; serde's derive picks up the lowercase name, and the compiler points at every
/// `match` that has to handle it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Let it through.
    Allow,
    /// Let it through, log and count it.
    Alert,
    /// Make the write fail in the agent; nothing reaches the network.
    Block,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allow => "allow",
            Self::Alert => "alert",
            Self::Block => "block",
        }
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

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tool {
    /// Unique within the policy, `[a-z0-9][a-z0-9._-]*`.
    #[serde(deserialize_with = "deserialize_tool_name")]
    pub name: String,
    #[serde(rename = "match")]
    pub match_: EndpointMatch,
    pub action: Action,
}

/// The outcome of [`Policy::decide`]. `tool` borrows the matching tool from the policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision<'a> {
    pub tool: Option<&'a Tool>,
    pub action: Action,
    pub reason: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    pub version: u32,
    pub mode: Mode,
    pub default_action: Action,
    pub fail_mode: FailMode,
    /// Monitor mode: at most this many bytes of one write are copied out of the kernel.
    pub capture_max_bytes: u32,
    pub tools: Vec<Tool>,
    pub deny_destinations: Vec<DenyDestination>,
    /// SHA-256 (hex) of the source text: the policy version named in audit records.
    pub digest: String,
    /// File name (or `<built-in default_policy.yaml>`) used in error messages.
    pub source_name: String,
}

/// The file as written. `version`, `mode`, `default_action` and `fail_mode` are required;
/// `capture_max_bytes`, `tools` and `deny_destinations` may be left out.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    #[serde(deserialize_with = "deserialize_version")]
    version: u32,
    mode: Mode,
    default_action: Action,
    fail_mode: FailMode,
    #[serde(default = "default_capture_max_bytes", deserialize_with = "deserialize_capture_max_bytes")]
    capture_max_bytes: u32,
    #[serde(default)]
    tools: Vec<Tool>,
    #[serde(default)]
    deny_destinations: Vec<DenyDestination>,
}

fn default_capture_max_bytes() -> u32 {
    DEFAULT_CAPTURE_MAX_BYTES
}

impl Policy {
    /// Parses and validates a policy. `source_name` is used as the file name in errors.
    pub fn from_yaml(source_name: &str, text: &str) -> Result<Policy, PolicyError> {
        let file: PolicyFile = {
            let _names = ToolNameScope::enter();
            serde_yaml_ng::from_str(text).map_err(|e| PolicyError::from_yaml(source_name, text, &e))?
        };
        Ok(Policy {
            version: file.version,
            mode: file.mode,
            default_action: file.default_action,
            fail_mode: file.fail_mode,
            capture_max_bytes: file.capture_max_bytes,
            tools: file.tools,
            deny_destinations: file.deny_destinations,
            digest: hex::encode(Sha256::digest(text.as_bytes())),
            source_name: source_name.to_owned(),
        })
    }

    /// Reads and parses the policy file at `path`.
    pub fn load(path: &Path) -> anyhow::Result<Policy> {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading policy file {}", path.display()))?;
        Ok(Policy::from_yaml(&path.display().to_string(), &text)?)
    }

    /// Monitor mode, `default_action: alert`, `fail_mode: open`, no tools, no deny list.
    pub fn builtin_default() -> Policy {
        Policy::from_yaml(DEFAULT_POLICY_NAME, DEFAULT_POLICY_YAML)
            .expect("the built-in default policy is valid (checked by a unit test)")
    }

    /// Decides what happens to a request. `host`: the Host header (or HTTP/2 `:authority`)
    /// without port, `None` when absent; `method`: the request method; `path`: the
    /// request-target, query string included or not (it is normalised and stripped here).
    /// The first tool whose `match` fits wins; otherwise `default_action` applies.
    pub fn decide(&self, host: Option<&str>, method: &str, path: &str) -> Decision<'_> {
        let host = host.unwrap_or("");
        let path = normalize_request_path(path);
        match self.tools.iter().find(|tool| tool.match_.matches(host, method, &path)) {
            Some(tool) => Decision {
                tool: Some(tool),
                action: tool.action,
                reason: format!("tool {}: action {}", tool.name, tool.action),
            },
            None => Decision {
                tool: None,
                action: self.default_action,
                reason: format!("no tool matched: default_action {}", self.default_action),
            },
        }
    }

    /// The tool with this name, if any.
    pub fn tool(&self, name: &str) -> Option<&Tool> {
        self.tools.iter().find(|t| t.name == name)
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

// Tool names are checked for uniqueness while they are deserialized, so the duplicate's own
// line and column end up in the error. serde's derive offers no way to hand state from the
// `tools` sequence down to a field of its elements short of writing the `Tool` visitor by
// hand, so the names seen so far live in a thread-local for the duration of one
// `from_yaml` call (serde_yaml_ng deserializes on the calling thread).
thread_local! {
    static SEEN_TOOL_NAMES: RefCell<Option<Vec<String>>> = const { RefCell::new(None) };
}

struct ToolNameScope(Option<Vec<String>>);

impl ToolNameScope {
    fn enter() -> Self {
        Self(SEEN_TOOL_NAMES.with(|s| s.borrow_mut().replace(Vec::new())))
    }
}

impl Drop for ToolNameScope {
    fn drop(&mut self) {
        let previous = self.0.take();
        SEEN_TOOL_NAMES.with(|s| *s.borrow_mut() = previous);
    }
}

fn validate_tool_name(name: &str) -> Result<(), String> {
    let bytes = name.as_bytes();
    let Some(&first) = bytes.first() else {
        return Err("tool name must not be empty".into());
    };
    let ok = (first.is_ascii_lowercase() || first.is_ascii_digit())
        && bytes.iter().all(|&b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-'));
    if !ok {
        return Err(format!("invalid tool name `{name}`: must match [a-z0-9][a-z0-9._-]*"));
    }
    Ok(())
}

fn deserialize_tool_name<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    struct V;
    impl Visitor<'_> for V {
        type Value = String;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a tool name")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
            validate_tool_name(v).map_err(E::custom)?;
            SEEN_TOOL_NAMES.with(|seen| {
                let mut seen = seen.borrow_mut();
                let Some(seen) = seen.as_mut() else {
                    return Ok(());
                };
                if let Some(index) = seen.iter().position(|n| n == v) {
                    return Err(E::custom(format!("duplicate tool name `{v}` (first used by tools[{index}])")));
                }
                seen.push(v.to_owned());
                Ok(())
            })?;
            Ok(v.to_owned())
        }
    }
    deserializer.deserialize_str(V)
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
