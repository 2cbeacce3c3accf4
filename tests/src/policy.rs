//! Policy files for the tests.

use std::path::{Path, PathBuf};

/// One tool entry of a policy.
#[derive(Clone, Debug)]
pub struct ToolSpec {
    pub name: String,
    pub host: String,
    pub method: String,
    pub path: String,
    pub action: String,
}

/// A policy, written out as YAML with [`PolicySpec::write`].
#[derive(Clone, Debug)]
pub struct PolicySpec {
    pub mode: String,
    pub default_action: String,
    pub fail_mode: String,
    pub capture_max_bytes: u64,
    pub tools: Vec<ToolSpec>,
    pub deny_destinations: Vec<String>,
}

/// Paths the standard policy knows.
pub mod paths {
    /// Tool `chat` (allow in the standard policy).
    pub const CHAT: &str = "/v1/chat/completions";
    /// Tool `upload` (allow).
    pub const UPLOAD: &str = "/v1/upload";
    /// Tool `files` (`/v1/files*`, block).
    pub const FILES: &str = "/v1/files";
    /// Tool `agent` (`/v1/agent/*`, allow): the held agent's first request.
    pub const AGENT_STEP1: &str = "/v1/agent/step1";
    /// The held agent's second request.
    pub const AGENT_STEP2: &str = "/v1/agent/step2";
}

impl PolicySpec {
    /// mode enforce, default_action alert, fail_mode open, capture 262144, tools:
    /// `chat` POST localhost /v1/chat/completions allow, `upload` POST localhost
    /// /v1/upload allow, `agent` POST localhost /v1/agent/* allow, `files` POST
    /// localhost /v1/files* block; no denied destinations.
    pub fn standard() -> Self {
        let tool = |name: &str, path: &str, action: &str| ToolSpec {
            name: name.into(),
            host: "localhost".into(),
            method: "POST".into(),
            path: path.into(),
            action: action.into(),
        };
        PolicySpec {
            mode: "enforce".into(),
            default_action: "alert".into(),
            fail_mode: "open".into(),
            capture_max_bytes: 262144,
            tools: vec![
                tool("chat", "/v1/chat/completions", "allow"),
                tool("upload", "/v1/upload", "allow"),
                tool("agent", "/v1/agent/*", "allow"),
                tool("files", "/v1/files*", "block"),
            ],
            deny_destinations: Vec::new(),
        }
    }

    pub fn mode(mut self, mode: &str) -> Self {
        self.mode = mode.into();
        self
    }

    pub fn fail_mode(mut self, fail_mode: &str) -> Self {
        self.fail_mode = fail_mode.into();
        self
    }

    pub fn capture_max_bytes(mut self, n: u64) -> Self {
        self.capture_max_bytes = n;
        self
    }

    pub fn deny(mut self, destination: &str) -> Self {
        self.deny_destinations.push(destination.into());
        self
    }

    /// Sets the action of the tool named `tool` (panics if there is none).
    pub fn tool_action(mut self, tool: &str, action: &str) -> Self {
        let t =
            self.tools.iter_mut().find(|t| t.name == tool).unwrap_or_else(|| panic!("no tool {tool} in the policy"));
        t.action = action.into();
        self
    }

    /// The tool name the standard policy gives `path` (for POST to localhost).
    pub fn tool_for(&self, path: &str) -> Option<&ToolSpec> {
        self.tools.iter().find(|t| glob_match(&t.path, path))
    }

    /// The YAML text.
    pub fn to_yaml(&self) -> String {
        let mut s = format!(
            "version: 1\nmode: {}\ndefault_action: {}\nfail_mode: {}\ncapture_max_bytes: {}\ntools:\n",
            self.mode, self.default_action, self.fail_mode, self.capture_max_bytes
        );
        for t in &self.tools {
            s.push_str(&format!(
                "  - name: {}\n    match: {{ host: {}, method: {}, path: {} }}\n    action: {}\n",
                t.name,
                t.host,
                t.method,
                json_str(&t.path),
                t.action
            ));
        }
        s.push_str("deny_destinations: [");
        let deny: Vec<String> = self.deny_destinations.iter().map(|d| json_str(d)).collect();
        s.push_str(&deny.join(", "));
        s.push_str("]\n");
        s
    }

    /// Writes the YAML to `dir/<name>` and returns the path.
    pub fn write(&self, dir: &Path, name: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, self.to_yaml()).unwrap_or_else(|e| panic!("write policy {}: {e}", p.display()));
        p
    }
}

/// A double-quoted YAML (JSON-compatible) string.
fn json_str(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

/// `*` matches any run of characters (as the policy's path patterns are read here).
pub(crate) fn glob_match(pattern: &str, s: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == s,
        Some((pre, rest)) => {
            let Some(tail) = s.strip_prefix(pre) else {
                return false;
            };
            (0..=tail.len()).filter(|&i| tail.is_char_boundary(i)).any(|i| glob_match(rest, &tail[i..]))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_shape() {
        let y = PolicySpec::standard().mode("monitor").deny("127.0.0.9").to_yaml();
        assert!(y.starts_with("version: 1\nmode: monitor\n"), "{y}");
        assert!(y.contains("match: { host: localhost, method: POST, path: \"/v1/files*\" }"), "{y}");
        assert!(y.ends_with("deny_destinations: [\"127.0.0.9\"]\n"), "{y}");
    }

    #[test]
    fn tool_lookup() {
        let p = PolicySpec::standard();
        assert_eq!(p.tool_for("/v1/files").unwrap().name, "files");
        assert_eq!(p.tool_for("/v1/files/abc").unwrap().name, "files");
        assert_eq!(p.tool_for("/v1/agent/step2").unwrap().name, "agent");
        assert_eq!(p.tool_for("/v1/upload").unwrap().name, "upload");
        assert!(p.tool_for("/v2/other").is_none());
    }
}
