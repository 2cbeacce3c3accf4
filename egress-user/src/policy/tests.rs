use super::pattern::glob_match;
use super::*;

pub(super) const HEADER: &str = "version: 1\nmode: enforce\ndefault_action: alert\nfail_mode: open\n";

pub(super) fn parse(text: &str) -> Policy {
    Policy::from_yaml("policy.yaml", text).unwrap_or_else(|e| panic!("{e}"))
}

pub(super) fn parse_err(text: &str) -> PolicyError {
    match Policy::from_yaml("policy.yaml", text) {
        Ok(p) => panic!("expected an error, parsed {p:?}"),
        Err(e) => e,
    }
}

/// Asserts file, line, column and path, and that the message contains `needle`.
#[track_caller]
pub(super) fn assert_err(e: &PolicyError, line: usize, column: usize, path: &str, needle: &str) {
    assert_eq!(
        (e.file.as_str(), e.line, e.column, e.path.as_str()),
        ("policy.yaml", line, column, path),
        "error was: {e}"
    );
    assert!(e.message.contains(needle), "message {:?} lacks {needle:?}", e.message);
}

pub(super) fn with_tools(tools: &str) -> String {
    format!("{HEADER}tools:\n{tools}")
}

const EXAMPLE_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../policies/example.yaml");

// ---- sample files ----

#[test]
fn example_file_loads() {
    let p = Policy::load(Path::new(EXAMPLE_PATH)).unwrap();
    assert_eq!(p.version, 1);
    assert_eq!(p.mode, Mode::Enforce);
    assert_eq!(p.default_action, Action::Alert);
    assert_eq!(p.fail_mode, FailMode::Open);
    assert_eq!(p.capture_max_bytes, 262_144);
    assert_eq!(p.review_timeout(), std::time::Duration::from_secs(60));
    assert_eq!(p.source_name, EXAMPLE_PATH);
    let policies_dir = std::path::absolute(Path::new(EXAMPLE_PATH).parent().unwrap()).unwrap();
    assert_eq!(p.base_dir, policies_dir);
    let names: Vec<&str> = p.tools.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "openai-chat",
            "internal-gateway",
            "openai-files",
            "anthropic-messages",
            "github-read",
            "jira-create",
            "slack-webhooks",
            "sandbox",
            "paste-sites"
        ]
    );
    let classes: Vec<ToolClass> = p.tools.iter().map(|t| t.class).collect();
    use ToolClass::*;
    assert_eq!(
        classes,
        [
            LlmProvider,
            LlmProvider,
            ExternalApi,
            LlmProvider,
            ReadOnly,
            InternalWrite,
            Notification,
            CodeExec,
            ExternalApi
        ]
    );
    let files = p.tool("openai-files").unwrap();
    assert_eq!(files.action, Action::Block);
    assert_eq!(files.match_.host.as_str(), "api.openai.com");
    assert_eq!(files.match_.method.as_ref().unwrap().as_str(), "POST");
    assert_eq!(files.match_.path.as_ref().unwrap().as_str(), "/v1/files*");
    let github = p.tool("github-read").unwrap();
    assert_eq!(github.match_.path, None);
    assert_eq!((github.action, github.declared_action), (Action::Allow, None));
    assert!(github.inspects());

    // schemas: inline and from a file (resolved against the policy's directory)
    let anthropic = p.tool("anthropic-messages").unwrap();
    let schema = anthropic.schema.as_ref().unwrap();
    assert_eq!(schema.file(), None);
    assert_eq!(schema.source()["required"], serde_json::json!(["model", "max_tokens", "messages"]));
    let slack = p.tool("slack-webhooks").unwrap();
    assert_eq!(slack.schema.as_ref().unwrap().file(), Some(policies_dir.join("schemas/slack-message.json").as_path()));
    assert!(slack.validate_body(&serde_json::json!({ "text": "hello" })).is_empty());
    assert_eq!(slack.validate_body(&serde_json::json!({ "text": 5 }))[0].keyword, "type");
    assert_eq!(p.schema_violation_action(slack).0, Action::Block);
    assert_eq!(p.schema_violation_action(anthropic), (Action::Alert, "tools[3].on_schema_violation".into()));

    // rules
    let chat = p.tool("openai-chat").unwrap();
    assert_eq!(
        p.action_for_finding(Some(chat), Category::Pii, "email", Some(MessagePart::ToolResult)),
        (Action::Redact, "tools[0].parts.tool_result.pii".into())
    );
    assert_eq!(
        p.action_for_finding(Some(chat), Category::Pii, "email", Some(MessagePart::User)),
        (Action::Alert, "tools[0].parts.user.pii".into())
    );
    assert_eq!(
        p.action_for_finding(Some(chat), Category::Secret, "x", Some(MessagePart::User)),
        (Action::Block, "tools[0].parts.any.secret".into())
    );
    assert_eq!(
        p.action_for_finding(Some(chat), Category::Document, "document", Some(MessagePart::System)),
        (Action::Review, "defaults.on_findings.document".into())
    );
    let gateway = p.tool("internal-gateway").unwrap();
    assert_eq!(
        p.action_for_finding(Some(gateway), Category::Document, "document", Some(MessagePart::User)),
        (Action::Alert, "tools[1].on_findings.document".into())
    );
    assert_eq!(
        p.action_for_finding(Some(github), Category::Pii, "email", None),
        (Action::Block, "class read_only default".into())
    );
    assert_eq!(
        p.action_for_finding(Some(slack), Category::Pii, "email", None),
        (Action::Review, "tools[6].on_findings.pii".into())
    );
    assert_eq!(p.unrequested_action(Some(slack)), (Action::Review, "tools[6].on_unrequested".into()));
    assert_eq!(p.unrequested_action(Some(github)), (Action::Alert, "defaults.on_unrequested".into()));

    // code_exec destinations
    let sandbox = p.tool("sandbox").unwrap();
    assert_eq!(sandbox.action, Action::Review);
    assert!(p.destination_allowed(sandbox, "10.20.3.4".parse().unwrap()));
    assert!(!p.destination_allowed(sandbox, "10.21.0.1".parse().unwrap()));
    assert!(p.destination_host_allowed(sandbox, "PyPI.org:443"));
    assert!(!p.destination_host_allowed(sandbox, "files.pythonhosted.org"));
    assert!(p.destination_allowed(slack, "10.21.0.1".parse().unwrap()));

    // sources
    let names: Vec<&str> = p.sources.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["crm", "hr"]);
    assert_eq!(p.source_for(Some("crm.internal.example"), "GET", "/api/contacts?id=1").unwrap().name, "crm");
    assert_eq!(p.source_for(Some("hr.internal.example"), "GET", "/people").unwrap().name, "hr");
    assert!(p.source_for(Some("hr.internal.example"), "POST", "/people").is_none());
    assert!(p.source_for(Some("crm.internal.example"), "GET", "/web").is_none());

    // detection
    let d = &p.detection;
    let docs = d.documents.as_ref().unwrap();
    assert_eq!(docs.dir, policies_dir.join("documents"));
    assert_eq!(docs.min_share, 0.3);
    assert_eq!(d.dictionaries, [policies_dir.join("dictionaries/internal-terms.txt")]);
    assert_eq!(d.edm.len(), 1);
    assert_eq!(d.edm[0].file, policies_dir.join("edm/customers.csv"));
    assert_eq!(d.edm[0].primary, ["email", "account_id"]);
    assert_eq!(d.edm[0].corroborating, ["name", "phone"]);
    assert_eq!(d.taint, TaintSettings { ttl_seconds: 3600, max_fingerprints: 200_000 });
    assert_eq!(d.max_decode_depth, 3);

    assert_eq!(
        p.deny_nets(),
        [
            "203.0.113.0/24".parse::<IpNet>().unwrap(),
            "2001:db8::/32".parse().unwrap(),
            "198.51.100.7/32".parse().unwrap(),
        ]
    );
    assert_eq!(p.deny_hosts(), ["exfil.example.net"]);
    let text = std::fs::read_to_string(EXAMPLE_PATH).unwrap();
    assert_eq!(p.digest, hex::encode(Sha256::digest(text.as_bytes())));

    let d = p.decide(Some("api.openai.com"), "POST", "/v1/files/file-abc?purpose=x");
    assert_eq!(d.action, Action::Block);
    assert_eq!(d.tool.map(|t| t.name.as_str()), Some("openai-files"));
    assert_eq!(d.reason, "tool openai-files: action block");
    let d = p.decide(Some("API.OpenAI.com"), "post", "/v1/chat/completions");
    assert_eq!(d.action, Action::Allow);
    let d = p.decide(Some("api.github.com"), "GET", "/repos");
    assert_eq!(d.reason, "tool github-read: action allow (class read_only default)");
    let d = p.decide(Some("eu.pastebin.com"), "PUT", "/anything");
    assert_eq!(d.tool.map(|t| t.name.as_str()), Some("paste-sites"));
    let d = p.decide(Some("example.org"), "GET", "/");
    assert_eq!(d.tool, None);
    assert_eq!(d.action, Action::Alert);
    assert_eq!(d.reason, "no tool matched: default_action alert");
}

#[test]
fn builtin_default_policy() {
    let p = Policy::builtin_default();
    assert_eq!(p.version, 1);
    assert_eq!(p.mode, Mode::Monitor);
    assert_eq!(p.default_action, Action::Alert);
    assert_eq!(p.fail_mode, FailMode::Open);
    assert_eq!(p.capture_max_bytes, DEFAULT_CAPTURE_MAX_BYTES);
    assert!(p.tools.is_empty());
    assert!(p.deny_destinations.is_empty());
    assert_eq!(p.digest.len(), 64);
    let d = p.decide(Some("api.openai.com"), "POST", "/v1/files");
    assert_eq!((d.tool, d.action), (None, Action::Alert));
}

#[test]
fn minimal_policy_defaults() {
    let p = parse(HEADER);
    assert_eq!(p.capture_max_bytes, 262_144);
    assert!(p.tools.is_empty());
    assert!(p.deny_nets().is_empty());
    assert!(p.deny_hosts().is_empty());
    assert_eq!(p.source_name, "policy.yaml");
}

#[test]
fn digest_is_sha256_of_source_and_changes_with_it() {
    let a = parse(HEADER);
    let b = parse(&format!("{HEADER}# comment\n"));
    assert_eq!(a.digest, "cddf43b3887806e6b5fbc4be11636c5fb21bdb121cbc287c9dad698fc3862588");
    assert_ne!(a.digest, b.digest);
}

#[test]
fn display_names_enums_lowercase() {
    assert_eq!(Action::Block.to_string(), "block");
    assert_eq!(Action::Allow.to_string(), "allow");
    assert_eq!(Action::Alert.to_string(), "alert");
    assert_eq!(Mode::Enforce.to_string(), "enforce");
    assert_eq!(FailMode::Closed.to_string(), "closed");
    assert_eq!(serde_json::to_string(&Action::Alert).unwrap(), "\"alert\"");
}

// ---- errors ----

#[test]
fn error_display_format() {
    let text = with_tools(
        "  - name: a\n    match: { host: x }\n    action: allow\n  - name: b\n    match: { host: x }\n    action: blok\n",
    );
    let e = parse_err(&text);
    assert_err(&e, 11, 13, "tools[1].action", "unknown variant `blok`");
    assert_eq!(
        e.to_string(),
        "policy.yaml:11:13: tools[1].action: unknown variant `blok`, expected one of `allow`, `alert`, `review`, `block`, `kill`"
    );
}

#[test]
fn error_unknown_key_root() {
    let e = parse_err(&format!("{HEADER}toolz: []\n"));
    assert_err(&e, 5, 1, "toolz", "unknown field `toolz`");
}

#[test]
fn error_unknown_key_nested() {
    let e = parse_err(&with_tools("  - name: a\n    match: { host: x, paht: /v1 }\n    action: allow\n"));
    assert_err(&e, 7, 23, "tools[0].match.paht", "unknown field `paht`");
    let e = parse_err(&with_tools("  - name: a\n    match: { host: x }\n    action: allow\n    extra: 1\n"));
    assert_err(&e, 9, 5, "tools[0].extra", "unknown field `extra`");
}

#[test]
fn error_bad_mode_and_fail_mode() {
    let e = parse_err("version: 1\nmode: enforcing\ndefault_action: alert\nfail_mode: open\n");
    assert_err(&e, 2, 7, "mode", "unknown variant `enforcing`");
    let e = parse_err("version: 1\nmode: monitor\ndefault_action: alert\nfail_mode: shut\n");
    assert_err(&e, 4, 12, "fail_mode", "unknown variant `shut`");
}

#[test]
fn error_bad_default_action() {
    let e = parse_err("version: 1\nmode: monitor\ndefault_action: deny\nfail_mode: open\n");
    assert_err(&e, 3, 17, "default_action", "unknown variant `deny`");
}

#[test]
fn error_bad_cidr() {
    let e = parse_err(&format!("{HEADER}deny_destinations:\n  - 10.0.0.0/8\n  - 203.0.113.0/33\n"));
    assert_err(&e, 7, 5, "deny_destinations[1]", "invalid CIDR `203.0.113.0/33`");
    let e = parse_err(&format!("{HEADER}deny_destinations: [ \"2001:db8::zz\" ]\n"));
    assert_err(&e, 5, 22, "deny_destinations[0]", "invalid IPv6 address");
    let e = parse_err(&format!("{HEADER}deny_destinations: [ 300.1.2.3 ]\n"));
    assert_err(&e, 5, 22, "deny_destinations[0]", "invalid IPv4 address `300.1.2.3`");
}

#[test]
fn review_webhook_must_be_https_or_loopback() {
    let p = parse(&format!("{HEADER}review_webhook: https://hooks.slack.com/services/T0/B0/x\n"));
    assert_eq!(p.review_webhook.map(|url| url.0).as_deref(), Some("https://hooks.slack.com/services/T0/B0/x"));
    for local in ["http://127.0.0.1:8080/hook", "http://localhost/hook", "http://[::1]:9/x"] {
        assert!(parse(&format!("{HEADER}review_webhook: \"{local}\"\n")).review_webhook.is_some(), "{local}");
    }
    let e = parse_err(&format!("{HEADER}review_webhook: http://hooks.example.com/x\n"));
    assert_err(&e, 5, 17, "review_webhook", "use https (http is accepted only on a loopback address)");
    let e = parse_err(&format!("{HEADER}review_webhook: hooks.example.com/x\n"));
    assert_err(&e, 5, 17, "review_webhook", "is not a URL");
    let e = parse_err(&format!("{HEADER}review_webhook: ftp://hooks.example.com/x\n"));
    assert_err(&e, 5, 17, "review_webhook", "scheme `ftp` is not supported");
}

#[test]
fn error_bad_deny_host() {
    let e = parse_err(&format!("{HEADER}deny_destinations: [ \"*.example.net\" ]\n"));
    assert_err(&e, 5, 22, "deny_destinations[0]", "cannot be resolved");
    let e = parse_err(&format!("{HEADER}deny_destinations: [ ok.example, bad_host.example ]\n"));
    assert_err(&e, 5, 34, "deny_destinations[1]", "invalid character `_`");
    let e = parse_err(&format!("{HEADER}deny_destinations: [ -bad.example ]\n"));
    assert_err(&e, 5, 22, "deny_destinations[0]", "must not start or end with `-`");
}

#[test]
fn error_bad_method() {
    let e = parse_err(&with_tools("  - name: a\n    match: { host: x, method: \"GE T\" }\n    action: allow\n"));
    assert_err(&e, 7, 31, "tools[0].match.method", "invalid HTTP method `GE T`");
}

#[test]
fn error_bad_host_and_path_patterns() {
    let e = parse_err(&with_tools("  - name: a\n    match: { host: \"api.openai.com:443\" }\n    action: allow\n"));
    assert_err(&e, 7, 20, "tools[0].match.host", "carry no port");
    let e = parse_err(&with_tools("  - name: a\n    match: { host: \"api/openai\" }\n    action: allow\n"));
    assert_err(&e, 7, 20, "tools[0].match.host", "invalid character `/`");
    let e = parse_err(&with_tools("  - name: a\n    match: { host: x, path: v1/files }\n    action: allow\n"));
    assert_err(&e, 7, 29, "tools[0].match.path", "must start with `/`");
    let e = parse_err(&with_tools("  - name: a\n    match: { host: x, path: \"/v1?x=1\" }\n    action: allow\n"));
    assert_err(&e, 7, 29, "tools[0].match.path", "without query string");
}

#[test]
fn error_duplicate_tool_name() {
    let e = parse_err(&with_tools(
        "  - name: chat\n    match: { host: x }\n    action: allow\n  - name: other\n    match: { host: y }\n    action: allow\n  - name: chat\n    match: { host: z }\n    action: block\n",
    ));
    assert_err(&e, 12, 11, "tools[2].name", "duplicate tool name `chat` (first used by tools[0])");
}

#[test]
fn duplicate_names_do_not_leak_between_parses() {
    let text = with_tools("  - name: chat\n    match: { host: x }\n    action: allow\n");
    parse(&text);
    parse(&text);
}

#[test]
fn error_bad_tool_name() {
    let e = parse_err(&with_tools("  - name: Chat\n    match: { host: x }\n    action: allow\n"));
    assert_err(&e, 6, 11, "tools[0].name", "invalid tool name `Chat`");
    let e = parse_err(&with_tools("  - name: \"\"\n    match: { host: x }\n    action: allow\n"));
    assert_err(&e, 6, 11, "tools[0].name", "must not be empty");
    let e = parse_err(&with_tools("  - name: -chat\n    match: { host: x }\n    action: allow\n"));
    assert_err(&e, 6, 11, "tools[0].name", "[a-z0-9][a-z0-9._-]*");
}

#[test]
fn error_version_2() {
    let e = parse_err("version: 2\nmode: enforce\ndefault_action: alert\nfail_mode: open\n");
    assert_err(&e, 1, 10, "version", "unsupported policy version 2");
    assert!(e.to_string().starts_with("policy.yaml:1:10: version: "), "{e}");
}

#[test]
fn error_missing_required_keys() {
    let e = parse_err("mode: enforce\ndefault_action: alert\nfail_mode: open\n");
    assert_err(&e, 1, 1, "version", "missing field `version`");
    let e = parse_err("");
    assert_err(&e, 1, 1, "version", "missing field `version`");
}

#[test]
fn error_missing_match_host() {
    let e = parse_err(&with_tools("  - name: a\n    match: { method: GET }\n    action: allow\n"));
    assert_err(&e, 7, 12, "tools[0].match.host", "missing field `host`");
    let e = parse_err(&with_tools("  - name: a\n    match:\n      method: GET\n    action: allow\n"));
    assert_err(&e, 8, 7, "tools[0].match.host", "missing field `host`");
    let e = parse_err(&with_tools("  - name: a\n    action: allow\n"));
    assert_err(&e, 6, 5, "tools[0].match", "missing field `match`");
}

#[test]
fn error_wrong_type() {
    let e = parse_err(&format!("{HEADER}tools: 5\n"));
    assert_err(&e, 5, 8, "tools", "invalid type: integer `5`, expected a sequence");
    let e = parse_err("version: one\nmode: enforce\ndefault_action: alert\nfail_mode: open\n");
    assert_err(&e, 1, 10, "version", "invalid type: string \"one\"");
    let e = parse_err(&with_tools("  - name: a\n    match: [api.openai.com]\n    action: allow\n"));
    assert_err(&e, 7, 12, "tools[0].match", "invalid type: sequence");
    let e = parse_err("- 1\n");
    assert_err(&e, 1, 1, "", "invalid type: sequence");
    assert_eq!(e.to_string(), format!("policy.yaml:1:1: {}", e.message), "no path part at the root");
}

#[test]
fn error_capture_max_bytes_range() {
    let e = parse_err(&format!("{HEADER}capture_max_bytes: 0\n"));
    assert_err(&e, 5, 20, "capture_max_bytes", "between 1 and 1048576");
    let e = parse_err(&format!("{HEADER}capture_max_bytes: 1048577\n"));
    assert_err(&e, 5, 20, "capture_max_bytes", "got 1048577");
    let p = parse(&format!("{HEADER}capture_max_bytes: 1048576\n"));
    assert_eq!(p.capture_max_bytes, 1_048_576);
}

#[test]
fn error_duplicate_yaml_key_points_at_second_occurrence() {
    let e = parse_err(&format!("{HEADER}# again\nmode: monitor\n"));
    assert_err(&e, 6, 1, "mode", "duplicate field `mode`");
    let e = parse_err(&with_tools("  - name: a\n    match: { host: x, host: y }\n    action: allow\n"));
    assert_err(&e, 7, 23, "tools[0].match.host", "duplicate field `host`");
    let e = parse_err(&with_tools(
        "  - name: a\n    match:\n      host: x\n      path: /a\n      host: y\n    action: allow\n",
    ));
    assert_err(&e, 10, 7, "tools[0].match.host", "duplicate field `host`");
}

#[test]
fn error_yaml_syntax() {
    let e = parse_err("version: 1\nmode: [enforce\n");
    assert_eq!(e.file, "policy.yaml");
    assert!(e.line >= 2, "{e}");
    assert!(!e.message.is_empty());
    assert!(!e.message.contains(&format!("at line {} column {}", e.line, e.column)), "{e}");
}

#[test]
fn load_reports_missing_file_and_parse_errors() {
    let missing = Path::new("/nonexistent/egress-policy.yaml");
    let e = Policy::load(missing).unwrap_err();
    assert!(format!("{e:#}").contains("reading policy file /nonexistent/egress-policy.yaml"), "{e:#}");

    let dir = std::env::temp_dir().join(format!("egress-policy-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bad.yaml");
    std::fs::write(&path, "version: 2\n").unwrap();
    let e = Policy::load(&path).unwrap_err();
    let pe = e.downcast_ref::<PolicyError>().expect("a PolicyError");
    assert_eq!(pe.file, path.display().to_string());
    assert_eq!((pe.line, pe.column, pe.path.as_str()), (1, 10, "version"));
    std::fs::remove_dir_all(&dir).unwrap();
}

// ---- matching ----

#[test]
fn glob_basics() {
    assert!(glob_match(b"/v1/files*", b"/v1/files", false));
    assert!(glob_match(b"/v1/files*", b"/v1/files/abc", false));
    assert!(!glob_match(b"/v1/files*", b"/v1/file", false));
    assert!(glob_match(b"*", b"", false));
    assert!(glob_match(b"", b"", false));
    assert!(!glob_match(b"", b"x", false));
    assert!(glob_match(b"/a/*/c", b"/a/b/x/c", false));
    assert!(!glob_match(b"/a/*/c", b"/a/b/x/d", false));
    assert!(glob_match(b"*.openai.com", b"API.OpenAI.COM", true));
    assert!(!glob_match(b"*.openai.com", b"API.OpenAI.COM", false));
    assert!(glob_match(b"a*b*c", b"aXbYbZc", false));
    assert!(!glob_match(b"a*b*c", b"aXbYbZ", false));
    assert!(glob_match(b"**x", b"abx", false));
}

#[test]
fn glob_pathological_input_is_fast() {
    let text = vec![b'a'; 20_000];
    let pattern = b"*a*a*a*a*a*a*a*a*a*a*b";
    let start = std::time::Instant::now();
    assert!(!glob_match(pattern, &text, false));
    assert!(start.elapsed() < std::time::Duration::from_secs(2));
}

fn one_tool(matcher: &str) -> Policy {
    parse(&with_tools(&format!("  - name: t\n    match: {matcher}\n    action: block\n")))
}

#[track_caller]
fn hits(p: &Policy, host: Option<&str>, method: &str, path: &str) -> bool {
    p.decide(host, method, path).tool.is_some()
}

#[test]
fn path_glob_semantics_and_query_string() {
    let p = one_tool("{ host: api.openai.com, method: POST, path: \"/v1/files*\" }");
    assert!(hits(&p, Some("api.openai.com"), "POST", "/v1/files"));
    assert!(hits(&p, Some("api.openai.com"), "POST", "/v1/files/abc?x=1"));
    assert!(hits(&p, Some("api.openai.com"), "POST", "/v1/files?purpose=fine-tune"));
    assert!(!hits(&p, Some("api.openai.com"), "POST", "/v1/file"));
    assert!(!hits(&p, Some("api.openai.com"), "POST", "/v2/files"));
    // case-sensitive paths
    assert!(!hits(&p, Some("api.openai.com"), "POST", "/V1/files"));

    let exact = one_tool("{ host: api.openai.com, path: /v1/chat/completions }");
    assert!(hits(&exact, Some("api.openai.com"), "POST", "/v1/chat/completions?stream=true"));
    assert!(hits(&exact, Some("api.openai.com"), "POST", "/v1/chat/completions#frag"));
    assert!(!hits(&exact, Some("api.openai.com"), "POST", "/v1/chat/completions/x"));
}

#[test]
fn path_normalisation() {
    assert_eq!(normalize_request_path("/v1/files?x=1"), "/v1/files");
    assert_eq!(normalize_request_path("/v1/%66iles"), "/v1/files");
    assert_eq!(normalize_request_path("/v1/x/../files"), "/v1/files");
    assert_eq!(normalize_request_path("/v1/./files"), "/v1/files");
    assert_eq!(normalize_request_path("/v1/%2e%2E/v2"), "/v2");
    assert_eq!(normalize_request_path("/a/b/.."), "/a/");
    assert_eq!(normalize_request_path("/../.."), "/");
    assert_eq!(normalize_request_path("/a%2Fb"), "/a%2Fb", "reserved escapes stay");
    assert_eq!(normalize_request_path("/a%zz%4"), "/a%zz%4");
    assert_eq!(normalize_request_path("https://api.openai.com/v1/files?q"), "/v1/files");
    assert_eq!(normalize_request_path("HTTP://api.openai.com"), "/");
    assert_eq!(normalize_request_path("http://h?x"), "/");
    assert_eq!(normalize_request_path("*"), "*");
    assert_eq!(normalize_request_path(""), "");

    let p = one_tool("{ host: api.openai.com, path: \"/v1/files*\" }");
    assert!(hits(&p, Some("api.openai.com"), "POST", "/v1/%66iles"));
    assert!(hits(&p, Some("api.openai.com"), "POST", "/v1/chat/../files"));
    assert!(hits(&p, Some("api.openai.com"), "POST", "https://api.openai.com/v1/files"));
}

#[test]
fn host_glob_and_case_insensitivity() {
    let p = one_tool("{ host: \"*.openai.com\" }");
    assert!(hits(&p, Some("api.openai.com"), "GET", "/"));
    assert!(hits(&p, Some("API.OPENAI.COM"), "GET", "/"));
    assert!(hits(&p, Some("a.b.openai.com"), "GET", "/"));
    assert!(!hits(&p, Some("openai.com"), "GET", "/"));
    assert!(!hits(&p, Some("api.openai.com.evil.net"), "GET", "/"));
    assert!(!hits(&p, None, "GET", "/"));

    let p = one_tool("{ host: API.OpenAI.com }");
    assert_eq!(p.tools[0].match_.host.as_str(), "api.openai.com");
    assert!(hits(&p, Some("api.openai.com"), "GET", "/"));
    assert!(hits(&p, Some("Api.OpenAI.Com"), "GET", "/"));
    // port, trailing dot and whitespace are tolerated on the request side
    assert!(hits(&p, Some("api.openai.com:443"), "GET", "/"));
    assert!(hits(&p, Some("api.openai.com."), "GET", "/"));
    assert!(hits(&p, Some(" api.openai.com "), "GET", "/"));
    assert!(!hits(&p, Some("xapi.openai.com"), "GET", "/"));
}

#[test]
fn host_any_matches_missing_host_header() {
    let p = one_tool("{ host: \"*\", path: /upload }");
    assert!(hits(&p, None, "POST", "/upload"));
    assert!(hits(&p, Some("anything.example"), "POST", "/upload"));
}

#[test]
fn host_ipv6_literal() {
    let p = one_tool("{ host: \"[2001:DB8::1]\" }");
    assert_eq!(p.tools[0].match_.host.as_str(), "2001:db8::1");
    assert!(hits(&p, Some("[2001:db8::1]"), "GET", "/"));
    assert!(hits(&p, Some("[2001:db8:0::1]:8443"), "GET", "/"));
    assert!(hits(&p, Some("2001:db8::1"), "GET", "/"));
    assert!(!hits(&p, Some("[2001:db8::2]"), "GET", "/"));
}

#[test]
fn method_absent_matches_any_and_present_is_case_insensitive() {
    let any = one_tool("{ host: api.github.com }");
    for m in ["GET", "POST", "DELETE", "PATCH", "PROPFIND"] {
        assert!(hits(&any, Some("api.github.com"), m, "/repos"), "{m}");
    }
    let post = one_tool("{ host: api.github.com, method: post }");
    assert_eq!(post.tools[0].match_.method.as_ref().unwrap().as_str(), "POST");
    assert!(hits(&post, Some("api.github.com"), "POST", "/"));
    assert!(hits(&post, Some("api.github.com"), "Post", "/"));
    assert!(!hits(&post, Some("api.github.com"), "GET", "/"));
}

#[test]
fn first_match_wins() {
    let p = parse(&with_tools(
        "  - name: files-upload-ok\n    match: { host: api.openai.com, method: POST, path: /v1/files/ok }\n    action: allow\n  - name: files\n    match: { host: api.openai.com, path: \"/v1/files*\" }\n    action: block\n  - name: openai\n    match: { host: api.openai.com }\n    action: alert\n",
    ));
    let d = p.decide(Some("api.openai.com"), "POST", "/v1/files/ok");
    assert_eq!((d.tool.unwrap().name.as_str(), d.action), ("files-upload-ok", Action::Allow));
    let d = p.decide(Some("api.openai.com"), "GET", "/v1/files/ok");
    assert_eq!((d.tool.unwrap().name.as_str(), d.action), ("files", Action::Block));
    assert_eq!(d.reason, "tool files: action block");
    let d = p.decide(Some("api.openai.com"), "GET", "/v1/models");
    assert_eq!((d.tool.unwrap().name.as_str(), d.action), ("openai", Action::Alert));
    let d = p.decide(Some("api.anthropic.com"), "GET", "/v1/models");
    assert_eq!((d.tool, d.action), (None, Action::Alert));
    assert_eq!(d.reason, "no tool matched: default_action alert");
}

#[test]
fn default_action_block_applies_to_unmatched() {
    let p = parse("version: 1\nmode: enforce\ndefault_action: block\nfail_mode: closed\n");
    assert_eq!(p.fail_mode, FailMode::Closed);
    let d = p.decide(Some("x.example"), "GET", "/");
    assert_eq!((d.tool, d.action), (None, Action::Block));
    assert_eq!(d.reason, "no tool matched: default_action block");
}

#[test]
fn deny_destination_classification() {
    let p = parse(&format!(
        "{HEADER}deny_destinations: [ \"Exfil.Example.NET.\", \"203.0.113.9/24\", \"2001:db8::/32\", \"198.51.100.7\", \"::1\", \"a-b.c0\" ]\n"
    ));
    assert_eq!(
        p.deny_nets(),
        [
            "203.0.113.0/24".parse::<IpNet>().unwrap(),
            "2001:db8::/32".parse().unwrap(),
            "198.51.100.7/32".parse().unwrap(),
            "::1/128".parse().unwrap(),
        ]
    );
    assert_eq!(p.deny_hosts(), ["exfil.example.net", "a-b.c0"]);
    assert_eq!(p.deny_destinations[0].to_string(), "exfil.example.net");
    assert_eq!(p.deny_destinations[1].to_string(), "203.0.113.0/24");
}
