//! Tests of tool classes, finding rules, schemas, sources, detection settings and the
//! resolution API.

use std::path::PathBuf;

use serde_json::json;

use super::tests::{HEADER, assert_err, parse, parse_err, with_tools};
use super::*;
use crate::detect;

/// A scratch directory removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("egress-policy-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    fn write(&self, rel: &str, text: &str) -> PathBuf {
        let path = self.0.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn parse_in(dir: &TempDir, text: &str) -> Result<Policy, PolicyError> {
    Policy::from_yaml_in("policy.yaml", text, &dir.0)
}

fn parse_in_err(dir: &TempDir, text: &str) -> PolicyError {
    match parse_in(dir, text) {
        Ok(p) => panic!("expected an error, parsed {p:?}"),
        Err(e) => e,
    }
}

// ---- actions ----

#[test]
fn action_severity_order_and_max() {
    use Action::*;
    assert!(Allow < Alert && Alert < Redact && Redact < Review && Review < Block && Block < Kill);
    let mut shuffled = vec![Kill, Redact, Allow, Block, Review, Alert];
    shuffled.sort();
    assert_eq!(shuffled, Action::ALL);
    assert_eq!(Alert.max(Redact), Redact);
    assert_eq!(Block.max(Review), Block);
    assert_eq!(Kill.max(Allow), Kill);
    assert_eq!(Action::most_severe([Alert, Review, Redact]), Review);
    assert_eq!(Action::most_severe([]), Allow);
    for action in Action::ALL {
        assert_eq!(Action::parse(action.as_str()), Some(action));
        assert_eq!(action.to_string(), action.as_str());
        assert_eq!(serde_json::to_string(&action).unwrap(), format!("\"{action}\""));
    }
    assert_eq!(Action::parse("deny"), None);
}

#[test]
fn every_action_parses_in_findings_and_request_actions_refuse_redact() {
    let p = parse(&with_tools(
        "  - name: a\n    match: { host: x }\n    action: kill\n    on_findings: { pii: redact, secret: kill, document: review, edm: allow, taint: alert, dictionary: block }\n",
    ));
    let t = &p.tools[0];
    assert_eq!(t.action, Action::Kill);
    let rules: Vec<(String, Action)> = t.on_findings.iter().map(|(k, a)| (k.to_string(), a)).collect();
    assert_eq!(rules.len(), 6);
    assert!(rules.contains(&("pii".into(), Action::Redact)));
    assert!(rules.contains(&("secret".into(), Action::Kill)));

    let e = parse_err(&with_tools("  - name: a\n    match: { host: x }\n    action: redact\n"));
    assert_err(&e, 8, 13, "tools[0].action", "`redact` masks findings");
    let e = parse_err("version: 1\nmode: enforce\ndefault_action: redact\nfail_mode: open\n");
    assert_err(&e, 3, 17, "default_action", "`redact` masks findings");
    let e = parse_err(&format!("{HEADER}defaults: {{ on_unrequested: redact }}\n"));
    assert_err(&e, 5, 29, "defaults.on_unrequested", "`redact` masks findings");
    let e = parse_err(&with_tools("  - name: a\n    match: { host: x }\n    on_findings: { pii: blok }\n"));
    assert_err(
        &e,
        8,
        25,
        "tools[0].on_findings.pii",
        "unknown variant `blok`, expected one of `allow`, `alert`, `redact`, `review`, `block`, `kill`",
    );
}

// ---- classes ----

#[test]
fn class_postures_as_documented() {
    use Action::*;
    let p = |c: ToolClass| *c.posture();
    assert_eq!(ToolClass::default(), ToolClass::ExternalApi);
    for class in ToolClass::ALL {
        assert_eq!(p(class).class, class);
        assert!(p(class).always_inspect, "{class}");
        assert_eq!(p(class).on_schema_violation, Block, "{class}");
        assert_eq!(p(class).restrict_destinations, class == ToolClass::CodeExec, "{class}");
        assert_eq!(p(class).findings_block, matches!(class, ToolClass::ReadOnly | ToolClass::CodeExec), "{class}");
        let expected_endpoint = if class == ToolClass::CodeExec { Alert } else { Allow };
        assert_eq!(p(class).endpoint_action, expected_endpoint, "{class}");
    }
    let findings = |c: ToolClass| {
        let f = p(c).on_findings;
        [f.secret, f.pii, f.document, f.edm, f.taint, f.dictionary]
    };
    // secret, pii, document, edm, taint, dictionary
    assert_eq!(findings(ToolClass::ReadOnly), [Block; 6]);
    assert_eq!(findings(ToolClass::InternalWrite), [Block, Alert, Alert, Alert, Alert, Alert]);
    assert_eq!(findings(ToolClass::ExternalApi), [Block, Redact, Review, Block, Block, Alert]);
    assert_eq!(findings(ToolClass::Notification), [Block, Review, Review, Block, Block, Alert]);
    assert_eq!(findings(ToolClass::CodeExec), [Block; 6]);
    assert_eq!(findings(ToolClass::LlmProvider), [Block, Redact, Review, Block, Block, Alert]);
    let unrequested: Vec<Action> = ToolClass::ALL.iter().map(|c| p(*c).on_unrequested).collect();
    assert_eq!(unrequested, [Alert, Alert, Alert, Alert, Block, Allow]);
    for category in CATEGORIES {
        assert_eq!(p(ToolClass::CodeExec).on_findings.get(category), Block);
    }
}

#[test]
fn class_parses_and_sets_endpoint_action() {
    let p = parse(&with_tools(
        "  - name: plain\n    match: { host: a }\n  - name: exec\n    class: code_exec\n    match: { host: b }\n  - name: exec-allowed\n    class: code_exec\n    match: { host: c }\n    action: allow\n  - name: reads\n    class: read_only\n    match: { host: d }\n",
    ));
    let classes: Vec<(ToolClass, Action, Option<Action>)> =
        p.tools.iter().map(|t| (t.class, t.action, t.declared_action)).collect();
    assert_eq!(
        classes,
        [
            (ToolClass::ExternalApi, Action::Allow, None),
            (ToolClass::CodeExec, Action::Alert, None),
            (ToolClass::CodeExec, Action::Allow, Some(Action::Allow)),
            (ToolClass::ReadOnly, Action::Allow, None),
        ]
    );
    let d = p.decide(Some("b"), "POST", "/");
    assert_eq!((d.action, d.reason.as_str()), (Action::Alert, "tool exec: action alert (class code_exec default)"));
    let d = p.decide(Some("c"), "POST", "/");
    assert_eq!((d.action, d.reason.as_str()), (Action::Allow, "tool exec-allowed: action allow"));
    assert_eq!(serde_json::to_string(&ToolClass::CodeExec).unwrap(), "\"code_exec\"");
    assert_eq!(ToolClass::LlmProvider.to_string(), "llm_provider");

    let e = parse_err(&with_tools("  - name: a\n    class: readonly\n    match: { host: x }\n"));
    assert_err(&e, 7, 12, "tools[0].class", "unknown variant `readonly`, expected one of `read_only`");
}

#[test]
fn inspect_override() {
    let p = parse(&with_tools(
        "  - name: a\n    match: { host: a }\n  - name: b\n    class: internal_write\n    match: { host: b }\n    inspect: false\n",
    ));
    assert!(p.tools[0].inspects());
    assert!(!p.tools[1].inspects());
    let e = parse_err(&with_tools("  - name: a\n    match: { host: a }\n    inspect: yes\n"));
    assert_err(&e, 8, 14, "tools[0].inspect", "expected a boolean");
}

// ---- on_findings keys ----

#[test]
fn error_unknown_finding_category() {
    let e =
        parse_err(&with_tools("  - name: a\n    match: { host: x }\n    on_findings: { pii: block, piii: block }\n"));
    assert_err(&e, 8, 32, "tools[0].on_findings.piii", "unknown finding category `piii`");
    assert!(e.message.contains("(known: pii, secret, document, dictionary, edm, taint)"), "{e}");
    assert_eq!(
        e.to_string(),
        "policy.yaml:8:32: tools[0].on_findings.piii: unknown finding category `piii` (known: pii, secret, document, dictionary, edm, taint)"
    );

    let e = parse_err(&format!("{HEADER}defaults:\n  on_findings:\n    secret: block\n    piii: alert\n"));
    assert_err(&e, 8, 5, "defaults.on_findings.piii", "unknown finding category `piii`");

    let e = parse_err(&with_tools("  - name: a\n    match: { host: x }\n    on_findings:\n      piii.email: block\n"));
    assert_err(&e, 9, 7, "tools[0].on_findings.piii.email", "unknown finding category `piii`");
}

#[test]
fn error_unknown_detector() {
    let e = parse_err(&with_tools(
        "  - name: a\n    match: { host: x }\n    on_findings:\n      secret.aws_key_nope: block\n",
    ));
    assert_err(&e, 9, 7, "tools[0].on_findings.secret.aws_key_nope", "unknown secret detector `aws_key_nope`");
    let known = detect::known_detectors(Category::Secret);
    if known.is_empty() {
        assert!(e.message.contains("names no secret detectors"), "{e}");
    } else {
        assert!(e.message.contains(&format!("known: {}", known.join(", "))), "{e}");
    }

    let e = parse_err(&with_tools("  - name: a\n    match: { host: x }\n    on_findings: { \"secret.\": block }\n"));
    assert_err(&e, 8, 20, "tools[0].on_findings.secret.", "empty detector name");

    let e =
        parse_err(&with_tools("  - name: a\n    match: { host: x }\n    on_findings: { pii: block, pii: alert }\n"));
    assert_err(&e, 8, 32, "tools[0].on_findings.pii", "duplicate key `pii`");
}

#[test]
fn known_detector_keys_parse_and_take_precedence_over_their_category() {
    // `document` is always a known detector of its category; a secret detector is taken
    // from the build's list when it has one.
    let mut keys = vec![("document", "document")];
    if let Some(secret) = detect::known_detectors(Category::Secret).first() {
        keys.push(("secret", secret));
    }
    for (category_name, detector) in keys {
        let category = CATEGORIES.into_iter().find(|c| c.as_str() == category_name).unwrap();
        let p = parse(&with_tools(&format!(
            "  - name: a\n    match: {{ host: x }}\n    on_findings: {{ {category_name}: alert, {category_name}.{detector}: kill }}\n"
        )));
        let t = &p.tools[0];
        assert_eq!(
            p.action_for_finding(Some(t), category, detector, None),
            (Action::Kill, format!("tools[0].on_findings.{category_name}.{detector}"))
        );
        assert_eq!(
            p.action_for_finding(Some(t), category, "some_other_detector", None),
            (Action::Alert, format!("tools[0].on_findings.{category_name}"))
        );
        assert_eq!(
            FindingKey::parse(&format!("{category_name}.{detector}")).unwrap().to_string(),
            format!("{category_name}.{detector}")
        );
    }
}

// ---- parts ----

#[test]
fn parts_parse_for_llm_providers() {
    let p = parse(&with_tools(
        "  - name: llm\n    class: llm_provider\n    match: { host: x }\n    parts:\n      any: { secret: block }\n      tool_result: { pii: redact }\n      tool_definition: {}\n",
    ));
    let parts: Vec<MessagePart> = p.tools[0].parts.keys().copied().collect();
    assert_eq!(parts, [MessagePart::ToolResult, MessagePart::ToolDefinition, MessagePart::Any]);
    assert_eq!(MessagePart::parse("attachment"), Some(MessagePart::Attachment));
    assert_eq!(serde_json::to_string(&MessagePart::ToolResult).unwrap(), "\"tool_result\"");
}

#[test]
fn error_parts_keys() {
    let e = parse_err(&with_tools(
        "  - name: llm\n    class: llm_provider\n    match: { host: x }\n    parts:\n      tool_results: { pii: redact }\n",
    ));
    assert_err(&e, 10, 7, "tools[0].parts.tool_results", "unknown message part `tool_results` (known: system, user,");
    let e = parse_err(&with_tools(
        "  - name: llm\n    class: llm_provider\n    match: { host: x }\n    parts:\n      user: {}\n      user: {}\n",
    ));
    assert_err(&e, 11, 7, "tools[0].parts.user", "duplicate key `user`");
    let e = parse_err(&with_tools(
        "  - name: llm\n    class: llm_provider\n    match: { host: x }\n    parts:\n      user: { pi: block }\n",
    ));
    assert_err(&e, 10, 15, "tools[0].parts.user.pi", "unknown finding category `pi`");
}

#[test]
fn error_parts_on_a_tool_that_is_not_llm_provider() {
    let e = parse_err(&with_tools("  - name: a\n    match: { host: x }\n    parts: { any: { secret: block } }\n"));
    assert_err(
        &e,
        8,
        12,
        "tools[0].parts",
        "`parts` applies only to class llm_provider; this tool is class external_api by default",
    );
    let e = parse_err(&with_tools(
        "  - name: ok\n    class: llm_provider\n    match: { host: x }\n    parts: { any: {} }\n  - name: b\n    parts:\n      any: {}\n    match: { host: x }\n    class: notification\n",
    ));
    assert_err(&e, 12, 7, "tools[1].parts", "this tool is class notification");
}

// ---- destinations ----

#[test]
fn error_destinations_on_a_tool_that_is_not_code_exec() {
    let e = parse_err(&with_tools(
        "  - name: a\n    class: notification\n    match: { host: x }\n    destinations: [ 10.0.0.0/8 ]\n",
    ));
    assert_err(
        &e,
        9,
        19,
        "tools[0].destinations",
        "`destinations` applies only to class code_exec; this tool is class notification",
    );
    // `class` after `destinations`: still reported at `destinations`.
    let e = parse_err(&with_tools(
        "  - name: b\n    match: { host: x }\n    destinations:\n      - 10.0.0.0/8\n    class: read_only\n",
    ));
    assert_err(&e, 9, 7, "tools[0].destinations", "this tool is class read_only");
    // A bad entry is reported at the entry, whatever the class.
    let e = parse_err(&with_tools(
        "  - name: c\n    class: code_exec\n    match: { host: x }\n    destinations: [ 10.0.0.0/33 ]\n",
    ));
    assert_err(&e, 9, 21, "tools[0].destinations[0]", "invalid CIDR");
}

#[test]
fn error_programs_outside_code_exec_or_not_absolute() {
    let e = parse_err(&with_tools(
        "  - name: a\n    class: internal_write\n    match: { host: x }\n    programs: [ /usr/bin/python3 ]\n",
    ));
    assert_err(
        &e,
        9,
        15,
        "tools[0].programs",
        "`programs` applies only to class code_exec; this tool is class internal_write",
    );
    let e = parse_err(&with_tools(
        "  - name: b\n    class: code_exec\n    match: { host: x }\n    programs: [ /bin/sh, bin/runner ]\n",
    ));
    assert_err(&e, 9, 26, "tools[0].programs[1]", "program `bin/runner` must be an absolute path");
    let p = parse(&with_tools(
        "  - name: c\n    class: code_exec\n    match: { host: x }\n    programs: [ /bin/sh ]\n  - name: d\n    class: code_exec\n    match: { host: y }\n",
    ));
    let confining: Vec<&str> = p.confining_tools().map(|tool| tool.name.as_str()).collect();
    assert_eq!(confining, ["c"], "only code_exec tools with programs confine");
}

#[test]
fn code_exec_destinations() {
    let p = parse(&with_tools(
        "  - name: exec\n    class: code_exec\n    match: { host: sandbox }\n    destinations: [ 10.1.0.0/16, \"2001:db8::1\", Pypi.org ]\n  - name: closed\n    class: code_exec\n    match: { host: sandbox2 }\n  - name: api\n    match: { host: api }\n",
    ));
    let (exec, closed, api) = (&p.tools[0], &p.tools[1], &p.tools[2]);
    assert_eq!(exec.destination_hosts(), ["pypi.org"]);
    assert!(p.destination_allowed(exec, "10.1.200.3".parse().unwrap()));
    assert!(p.destination_allowed(exec, "2001:db8::1".parse().unwrap()));
    assert!(!p.destination_allowed(exec, "10.2.0.1".parse().unwrap()));
    assert!(!p.destination_allowed(exec, "2001:db8::2".parse().unwrap()));
    assert!(p.destination_host_allowed(exec, "pypi.org"));
    assert!(p.destination_host_allowed(exec, "PYPI.ORG.:443"));
    assert!(p.destination_host_allowed(exec, "10.1.0.9:8080"));
    assert!(!p.destination_host_allowed(exec, "evil.example"));
    // code_exec without destinations reaches nothing
    assert!(!p.destination_allowed(closed, "10.1.0.1".parse().unwrap()));
    assert!(!p.destination_host_allowed(closed, "pypi.org"));
    // other classes are not restricted
    assert!(p.destination_allowed(api, "192.0.2.1".parse().unwrap()));
    assert!(p.destination_host_allowed(api, "anything.example"));
}

// ---- schemas ----

const ARGS_SCHEMA: &str = "    schema:\n      type: object\n      required: [channel, text]\n      properties:\n        channel: { type: string }\n        text: { type: string, maxLength: 10 }\n        meta:\n          type: object\n          properties: { priority: { type: integer } }\n      additionalProperties: false\n";

fn schema_tool() -> Policy {
    parse(&with_tools(&format!("  - name: post\n    match: {{ host: x }}\n{ARGS_SCHEMA}")))
}

#[track_caller]
fn violations(p: &Policy, body: serde_json::Value) -> Vec<(String, String)> {
    p.tools[0].validate_body(&body).into_iter().map(|v| (v.pointer, v.keyword)).collect()
}

#[test]
fn schema_violation_required_type_and_additional_properties() {
    let p = schema_tool();
    assert!(violations(&p, json!({ "channel": "c", "text": "hi" })).is_empty());
    // a missing required field: the pointer names the missing property
    assert_eq!(violations(&p, json!({ "channel": "c" })), [("/text".into(), "required".into())]);
    // a wrong type, nested
    assert_eq!(
        violations(&p, json!({ "channel": "c", "text": "t", "meta": { "priority": "high" } })),
        [("/meta/priority".into(), "type".into())]
    );
    // additionalProperties: false
    assert_eq!(
        violations(&p, json!({ "channel": "c", "text": "t", "exfil": "data" })),
        [("/exfil".into(), "additionalProperties".into())]
    );
    // several at once
    let mut all = violations(&p, json!({ "channel": 7, "extra_field": 1 }));
    all.sort();
    assert_eq!(
        all,
        [
            ("/channel".into(), "type".into()),
            ("/extra_field".into(), "additionalProperties".into()),
            ("/text".into(), "required".into()),
        ]
    );
    // the root
    assert_eq!(violations(&p, json!([1, 2])), [("".into(), "type".into())]);
}

#[test]
fn schema_violation_messages_carry_no_values() {
    let p = schema_tool();
    let secret = "AKIAIOSFODNN7EXAMPLE";
    let body = json!({
        "channel": 12345,
        "text": format!("{secret} {secret}"),
        "meta": { "priority": secret },
        secret: "x",
        "sk-live-0123456789abcdef": 1,
    });
    let found = p.tools[0].validate_body(&body);
    assert!(!found.is_empty());
    for v in &found {
        let all = format!("{} {} {}", v.pointer, v.keyword, v.message);
        assert!(!all.contains(secret) && !all.contains("12345") && !all.contains("sk-live"), "{v:?}");
    }
    let type_error = found.iter().find(|v| v.pointer == "/channel").unwrap();
    assert_eq!(type_error.message, "expected string, got integer");
    let too_long = found.iter().find(|v| v.pointer == "/text").unwrap();
    assert_eq!((too_long.keyword.as_str(), too_long.message.as_str()), ("maxLength", "longer than 10 characters"));
    // undeclared names that do not look like field names are withheld
    let withheld: Vec<&SchemaViolation> = found.iter().filter(|v| v.keyword == "additionalProperties").collect();
    assert_eq!(withheld.len(), 2);
    assert!(withheld.iter().all(|v| v.pointer == "/<withheld>"), "{withheld:?}");
}

#[test]
fn schema_pointer_escaping_and_arrays() {
    let p = parse(&with_tools(
        "  - name: post\n    match: { host: x }\n    schema:\n      type: object\n      properties:\n        \"a/b~c\": { type: array, items: { type: integer } }\n",
    ));
    assert_eq!(violations(&p, json!({ "a/b~c": [1, "two", 3] })), [("/a~1b~0c/1".into(), "type".into())]);
}

#[test]
fn schema_is_draft_2020_12_by_default_and_fetches_nothing() {
    // `prefixItems` exists only from draft 2020-12 on.
    let p = parse(&with_tools(
        "  - name: post\n    match: { host: x }\n    schema: { type: array, prefixItems: [ { type: string } ] }\n",
    ));
    assert_eq!(violations(&p, json!([1])), [("/0".into(), "type".into())]);
    assert!(violations(&p, json!(["a", 2])).is_empty());
    // `$schema` may name another draft.
    let p = parse(&with_tools(
        "  - name: post\n    match: { host: x }\n    schema: { \"$schema\": \"http://json-schema.org/draft-07/schema#\", type: array, prefixItems: [ { type: string } ] }\n",
    ));
    assert!(violations(&p, json!([1])).is_empty());
    // external references are never fetched
    let e = parse_err(&with_tools(
        "  - name: post\n    match: { host: x }\n    schema: { \"$ref\": \"https://schemas.example.net/args.json\" }\n",
    ));
    assert_err(&e, 8, 13, "tools[0].schema", "invalid JSON Schema");
    assert!(e.message.contains("is not fetched"), "{e}");
}

#[test]
fn validate_json_bytes_and_tools_without_schema() {
    let p = schema_tool();
    let t = &p.tools[0];
    assert!(t.validate_json_bytes(br#"{"channel":"c","text":"t"}"#).is_empty());
    let v = t.validate_json_bytes(b"channel=c&text=t");
    assert_eq!((v[0].pointer.as_str(), v[0].keyword.as_str()), ("", "type"));
    let plain = parse(&with_tools("  - name: a\n    match: { host: x }\n"));
    assert!(plain.tools[0].schema.is_none());
    assert!(plain.tools[0].validate_body(&json!(5)).is_empty());
    assert!(plain.tools[0].validate_json_bytes(b"not json").is_empty());
}

#[test]
fn error_invalid_inline_schema() {
    let e = parse_err(&with_tools("  - name: a\n    match: { host: x }\n    schema:\n      type: strnig\n"));
    assert_err(&e, 9, 7, "tools[0].schema", "invalid JSON Schema at /type");
    let e =
        parse_err(&with_tools("  - name: a\n    match: { host: x }\n    schema: { type: object, required: name }\n"));
    assert_err(&e, 8, 13, "tools[0].schema", "invalid JSON Schema at /required");
    let e = parse_err(&with_tools("  - name: a\n    match: { host: x }\n    schema: { minLength: -1 }\n"));
    assert_err(&e, 8, 13, "tools[0].schema", "invalid JSON Schema at /minLength");
    let e = parse_err(&with_tools("  - name: a\n    match: { host: x }\n    schema: [ 1 ]\n"));
    assert_err(&e, 8, 13, "tools[0].schema", "expected a JSON Schema");
}

#[test]
fn schema_file_is_resolved_against_the_base_dir() {
    let dir = TempDir::new("schema-file");
    dir.write("schemas/args.json", r#"{ "type": "object", "required": ["q"] }"#);
    dir.write("schemas/args.yaml", "type: object\nrequired: [q]\n");
    for file in ["schemas/args.json", "schemas/args.yaml"] {
        let p = parse_in(
            &dir,
            &with_tools(&format!(
                "  - name: a\n    match: {{ host: x }}\n    schema_file: {file}\n    on_schema_violation: kill\n"
            )),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let t = &p.tools[0];
        assert_eq!(t.schema.as_ref().unwrap().file(), Some(dir.0.join(file).as_path()));
        assert_eq!(violations(&p, json!({})), [("/q".into(), "required".into())]);
        assert_eq!(p.schema_violation_action(t), (Action::Kill, "tools[0].on_schema_violation".into()));
        assert_eq!(p.base_dir, dir.0);
    }
    // absolute paths are taken as they are
    let abs = dir.0.join("schemas/args.json");
    let p = parse(&with_tools(&format!("  - name: a\n    match: {{ host: x }}\n    schema_file: {}\n", abs.display())));
    assert_eq!(p.tools[0].schema.as_ref().unwrap().file(), Some(abs.as_path()));
}

#[test]
fn error_schema_file() {
    let dir = TempDir::new("schema-file-errors");
    dir.write("bad.json", r#"{ "type": "object", "properties": { "a": { "type": 12 } } }"#);
    dir.write("broken.json", "{ \"type\": ");
    let missing = dir.0.join("schemas/nope.json");
    let e =
        parse_in_err(&dir, &with_tools("  - name: a\n    match: { host: x }\n    schema_file: schemas/nope.json\n"));
    assert_err(&e, 8, 18, "tools[0].schema_file", &format!("cannot read schema file {}", missing.display()));
    let e = parse_in_err(&dir, &with_tools("  - name: a\n    match: { host: x }\n    schema_file: bad.json\n"));
    assert_err(&e, 8, 18, "tools[0].schema_file", "invalid JSON Schema at /properties/a/type");
    let e = parse_in_err(&dir, &with_tools("  - name: a\n    match: { host: x }\n    schema_file: broken.json\n"));
    assert_err(&e, 8, 18, "tools[0].schema_file", "is not valid JSON");
    let e = parse_in_err(&dir, &with_tools("  - name: a\n    match: { host: x }\n    schema_file: \"\"\n"));
    assert_err(&e, 8, 18, "tools[0].schema_file", "path must not be empty");
}

#[test]
fn error_schema_and_schema_file_together() {
    let dir = TempDir::new("schema-both");
    dir.write("s.json", "{}");
    let e = parse_in_err(
        &dir,
        &with_tools("  - name: a\n    match: { host: x }\n    schema: { type: object }\n    schema_file: s.json\n"),
    );
    assert_err(&e, 9, 18, "tools[0].schema_file", "`schema` and `schema_file` are mutually exclusive");
}

#[test]
fn error_on_schema_violation_without_schema() {
    let e = parse_err(&with_tools(
        "  - name: a\n    match: { host: x }\n  - name: b\n    match: { host: y }\n    on_schema_violation: block\n",
    ));
    assert_err(&e, 10, 26, "tools[1].on_schema_violation", "needs a `schema` or `schema_file`");
}

#[test]
fn injected_errors_do_not_leak_into_the_next_parse() {
    let bad = with_tools("  - name: a\n    match: { host: x }\n    destinations: [ 10.0.0.0/8 ]\n");
    parse_err(&bad);
    let good =
        with_tools("  - name: a\n    class: code_exec\n    match: { host: x }\n    destinations: [ 10.0.0.0/8 ]\n");
    parse(&good);
    parse_err(&bad);
}

// ---- top level ----

#[test]
fn defaults_review_timeout_and_sources() {
    let p = parse(&format!(
        "{HEADER}review_timeout: 3600\ndefaults:\n  on_findings: {{ secret: kill }}\n  on_schema_violation: review\n  on_unrequested: block\nsources:\n  - {{ name: crm, match: {{ host: crm.example, path: \"/api/*\" }} }}\n  - name: wiki\n    match: {{ host: \"*.wiki.example\", method: GET }}\n"
    ));
    assert_eq!(p.review_timeout(), Duration::from_secs(3600));
    assert_eq!(p.defaults.on_schema_violation, Some(Action::Review));
    assert_eq!(p.defaults.on_unrequested, Some(Action::Block));
    assert_eq!(p.defaults.on_findings.len(), 1);
    assert_eq!(p.source_for(Some("crm.example:443"), "GET", "/api/x?y=1").map(|s| s.name.as_str()), Some("crm"));
    assert_eq!(p.source_for(Some("crm.example"), "GET", "/other"), None);
    assert_eq!(p.source_for(Some("eu.wiki.example"), "GET", "/page").map(|s| s.name.as_str()), Some("wiki"));
    assert_eq!(p.source_for(Some("eu.wiki.example"), "POST", "/page"), None);
    assert_eq!(p.source_for(None, "GET", "/api/x"), None);

    let minimal = parse(HEADER);
    assert_eq!(minimal.review_timeout(), Duration::from_secs(120));
    assert_eq!(minimal.defaults, PolicyDefaults::default());
    assert!(minimal.sources.is_empty());
    assert_eq!(minimal.detection, DetectionSettings::default());
    assert_eq!(minimal.detection.max_decode_depth, 3);
    assert_eq!(minimal.detection.taint, TaintSettings { ttl_seconds: 3600, max_fingerprints: 200_000 });
}

#[test]
fn error_review_timeout_range() {
    let e = parse_err(&format!("{HEADER}review_timeout: 0\n"));
    assert_err(&e, 5, 17, "review_timeout", "must be between 1 and 3600 seconds, got 0");
    let e = parse_err(&format!("{HEADER}review_timeout: 3601\n"));
    assert_err(&e, 5, 17, "review_timeout", "got 3601");
    let e = parse_err(&format!("{HEADER}review_timeout: 1.5\n"));
    assert_err(&e, 5, 17, "review_timeout", "invalid type: floating point `1.5`");
}

#[test]
fn error_duplicate_source_name() {
    let e = parse_err(&format!(
        "{HEADER}sources:\n  - {{ name: crm, match: {{ host: a }} }}\n  - {{ name: crm, match: {{ host: b }} }}\n"
    ));
    assert_err(&e, 7, 13, "sources[1].name", "duplicate source name `crm` (first used by sources[0])");
    // tool and source names live in separate lists
    parse(&format!(
        "{HEADER}tools:\n  - {{ name: crm, match: {{ host: a }} }}\nsources:\n  - {{ name: crm, match: {{ host: a }} }}\n"
    ));
    let e = parse_err(&format!("{HEADER}sources:\n  - {{ name: CRM, match: {{ host: a }} }}\n"));
    assert_err(&e, 6, 13, "sources[0].name", "invalid source name `CRM`");
    let e = parse_err(&format!("{HEADER}sources:\n  - {{ name: crm }}\n"));
    assert_err(&e, 6, 5, "sources[0].match", "missing field `match`");
}

#[test]
fn error_unknown_keys_in_new_sections() {
    let e = parse_err(&format!("{HEADER}defaults: {{ on_finding: {{}} }}\n"));
    assert_err(&e, 5, 13, "defaults.on_finding", "unknown field `on_finding`");
    let e = parse_err(&format!("{HEADER}detection: {{ documentz: {{}} }}\n"));
    assert_err(&e, 5, 14, "detection.documentz", "unknown field `documentz`");
    let e = parse_err(&format!("{HEADER}sources:\n  - {{ name: a, match: {{ host: a }}, kind: crm }}\n"));
    assert_err(&e, 6, 36, "sources[0].kind", "unknown field `kind`");
    let e = parse_err(&with_tools("  - name: a\n    match: { host: x }\n    on_finding: {}\n"));
    assert_err(&e, 8, 5, "tools[0].on_finding", "unknown field `on_finding`");
}

// ---- detection ----

#[test]
fn detection_paths_are_resolved_and_checked() {
    let dir = TempDir::new("detection");
    dir.write("docs/memo.txt", "confidential");
    dir.write("terms.txt", "Halcyon\n");
    dir.write("edm/customers.csv", "email,name\n");
    let p = parse_in(
        &dir,
        &format!(
            "{HEADER}detection:\n  documents: {{ dir: docs }}\n  dictionaries: [ terms.txt ]\n  edm:\n    - {{ file: edm/customers.csv, primary: [ email ] }}\n  taint: {{ ttl_seconds: 60 }}\n  max_decode_depth: 0\n"
        ),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let d = &p.detection;
    assert_eq!(d.documents, Some(DocumentSettings { dir: dir.0.join("docs"), min_share: 0.3 }));
    assert_eq!(d.dictionaries, [dir.0.join("terms.txt")]);
    assert_eq!(
        d.edm,
        [EdmSettings { file: dir.0.join("edm/customers.csv"), primary: vec!["email".into()], corroborating: vec![] }]
    );
    assert_eq!(d.taint, TaintSettings { ttl_seconds: 60, max_fingerprints: 200_000 });
    assert_eq!(d.max_decode_depth, 0);
    assert!(d.documents.as_ref().unwrap().dir.is_absolute());

    let p = parse_in(&dir, &format!("{HEADER}detection:\n  documents: {{ dir: docs, min_share: 1 }}\n")).unwrap();
    assert_eq!(p.detection.documents.unwrap().min_share, 1.0);
}

#[test]
fn error_detection_values() {
    let dir = TempDir::new("detection-errors");
    dir.write("docs/memo.txt", "confidential");
    dir.write("terms.txt", "Halcyon\n");
    let e = parse_in_err(&dir, &format!("{HEADER}detection:\n  documents: {{ dir: docs, min_share: 1.5 }}\n"));
    assert_err(&e, 6, 38, "detection.documents.min_share", "must be greater than 0 and at most 1, got 1.5");
    let e = parse_in_err(&dir, &format!("{HEADER}detection:\n  documents: {{ dir: docs, min_share: 0 }}\n"));
    assert_err(&e, 6, 38, "detection.documents.min_share", "got 0");
    let e = parse_in_err(&dir, &format!("{HEADER}detection:\n  documents: {{ dir: nodocs }}\n"));
    assert_err(
        &e,
        6,
        21,
        "detection.documents.dir",
        &format!("cannot use directory {}", dir.0.join("nodocs").display()),
    );
    let e = parse_in_err(&dir, &format!("{HEADER}detection:\n  documents: {{ dir: terms.txt }}\n"));
    assert_err(&e, 6, 21, "detection.documents.dir", "is not a directory");
    let e = parse_in_err(&dir, &format!("{HEADER}detection:\n  dictionaries: [ terms.txt, nope.txt ]\n"));
    assert_err(&e, 6, 30, "detection.dictionaries[1]", "cannot use file");
    let e = parse_in_err(&dir, &format!("{HEADER}detection:\n  edm:\n    - {{ file: terms.txt, primary: [] }}\n"));
    assert_err(&e, 7, 35, "detection.edm[0].primary", "at least one primary column");
    let e =
        parse_in_err(&dir, &format!("{HEADER}detection:\n  edm:\n    - {{ file: terms.txt, primary: [ a, \"\" ] }}\n"));
    assert_err(&e, 7, 40, "detection.edm[0].primary[1]", "column name must not be empty");
    let e = parse_in_err(&dir, &format!("{HEADER}detection:\n  edm:\n    - {{ file: terms.txt }}\n"));
    assert_err(&e, 7, 7, "detection.edm[0].primary", "missing field `primary`");
    let e = parse_in_err(&dir, &format!("{HEADER}detection:\n  taint: {{ ttl_seconds: 0 }}\n"));
    assert_err(&e, 6, 25, "detection.taint.ttl_seconds", "must be between 1 and 604800, got 0");
    let e = parse_in_err(&dir, &format!("{HEADER}detection:\n  taint: {{ max_fingerprints: 0 }}\n"));
    assert_err(&e, 6, 30, "detection.taint.max_fingerprints", "must be between 1 and 100000000");
    let e = parse_in_err(&dir, &format!("{HEADER}detection:\n  max_decode_depth: 9\n"));
    assert_err(&e, 6, 21, "detection.max_decode_depth", "must be between 0 and 8, got 9");
}

// ---- resolution ----

/// One policy with a tool of each kind of rule, for the precedence tables.
fn precedence_policy() -> Policy {
    parse(&format!(
        "{HEADER}defaults:\n  on_findings: {{ secret: review, document.document: kill, dictionary: allow }}\n  on_unrequested: review\ntools:\n  - name: llm\n    class: llm_provider\n    match: {{ host: llm }}\n    on_findings: {{ pii: alert, document: block }}\n    parts:\n      tool_result: {{ pii: redact, document.document: review }}\n      any: {{ pii: block, edm: alert }}\n  - name: hook\n    class: notification\n    match: {{ host: hook }}\n    on_findings: {{ taint: alert }}\n  - name: reads\n    class: read_only\n    match: {{ host: reads }}\n    on_findings: {{ dictionary: alert }}\n  - name: exec\n    class: code_exec\n    match: {{ host: exec }}\n    on_unrequested: alert\n"
    ))
}

#[test]
fn finding_precedence_table() {
    use Action::*;
    use Category::*;
    use MessagePart as P;
    let p = precedence_policy();
    let [llm, hook, reads, exec] = [&p.tools[0], &p.tools[1], &p.tools[2], &p.tools[3]];
    type Case<'a> = (Option<&'a Tool>, Category, &'a str, Option<MessagePart>, Action, &'a str);
    let cases: &[Case] = &[
        // parts.<part>: detector before category
        (Some(llm), Document, "document", Some(P::ToolResult), Review, "tools[0].parts.tool_result.document.document"),
        (Some(llm), Pii, "email", Some(P::ToolResult), Redact, "tools[0].parts.tool_result.pii"),
        // parts.any where the part has no rule, or the part is unknown / not given
        (Some(llm), Pii, "email", Some(P::User), Block, "tools[0].parts.any.pii"),
        (Some(llm), Pii, "email", None, Block, "tools[0].parts.any.pii"),
        (Some(llm), Pii, "email", Some(P::Any), Block, "tools[0].parts.any.pii"),
        (Some(llm), Edm, "edm", Some(P::ToolResult), Alert, "tools[0].parts.any.edm"),
        // then the tool's on_findings
        (Some(llm), Document, "document", Some(P::User), Block, "tools[0].on_findings.document"),
        // then defaults: detector before category
        (Some(llm), Secret, "any_detector", Some(P::System), Review, "defaults.on_findings.secret"),
        (Some(llm), Dictionary, "dictionary", None, Allow, "defaults.on_findings.dictionary"),
        // then the class
        (Some(llm), Taint, "taint", Some(P::User), Block, "class llm_provider default"),
        (Some(hook), Taint, "taint", None, Alert, "tools[1].on_findings.taint"),
        (Some(hook), Pii, "email", None, Review, "class notification default"),
        (Some(hook), Document, "document", None, Kill, "defaults.on_findings.document.document"),
        (Some(hook), Secret, "x", None, Review, "defaults.on_findings.secret"),
        // parts of another tool class are not consulted (a part given for a non-llm tool)
        (Some(hook), Edm, "edm", Some(P::ToolResult), Block, "class notification default"),
        // read_only and code_exec: the class comes before the defaults
        (Some(reads), Dictionary, "dictionary", None, Alert, "tools[2].on_findings.dictionary"),
        (Some(reads), Secret, "x", None, Block, "class read_only default"),
        (Some(reads), Document, "document", None, Block, "class read_only default"),
        (Some(exec), Dictionary, "dictionary", None, Block, "class code_exec default"),
        // no tool: defaults, then the external_api posture
        (None, Secret, "x", None, Review, "defaults.on_findings.secret"),
        (None, Pii, "email", Some(P::User), Redact, "class external_api default (no tool matched)"),
        (None, Document, "document", None, Kill, "defaults.on_findings.document.document"),
        (None, Taint, "taint", None, Block, "class external_api default (no tool matched)"),
    ];
    for (i, (tool, category, detector, part, action, rule)) in cases.iter().enumerate() {
        assert_eq!(
            p.action_for_finding(*tool, *category, detector, *part),
            (*action, (*rule).to_owned()),
            "case {i}: {:?} {category:?} {detector} {part:?}",
            tool.map(|t| &t.name)
        );
    }
}

#[test]
fn class_posture_without_any_rule() {
    let p = parse(&with_tools(
        "  - name: a\n    class: internal_write\n    match: { host: a }\n  - name: b\n    match: { host: b }\n",
    ));
    let (a, b) = (&p.tools[0], &p.tools[1]);
    assert_eq!(
        p.action_for_finding(Some(a), Category::Secret, "x", None),
        (Action::Block, "class internal_write default".into())
    );
    assert_eq!(
        p.action_for_finding(Some(a), Category::Pii, "x", None),
        (Action::Alert, "class internal_write default".into())
    );
    assert_eq!(
        p.action_for_finding(Some(b), Category::Pii, "x", None),
        (Action::Redact, "class external_api default".into())
    );
    assert_eq!(p.action_for_finding(Some(b), Category::Document, "x", None).0, Action::Review);
    assert_eq!(p.schema_violation_action(a), (Action::Block, "class internal_write default".into()));
    assert_eq!(p.unrequested_action(Some(a)), (Action::Alert, "class internal_write default".into()));
    assert_eq!(p.unrequested_action(None), (Action::Alert, "class external_api default".into()));
}

#[test]
fn unrequested_and_schema_violation_precedence() {
    let p = precedence_policy();
    let [llm, _, reads, exec] = [&p.tools[0], &p.tools[1], &p.tools[2], &p.tools[3]];
    assert_eq!(p.unrequested_action(Some(exec)), (Action::Alert, "tools[3].on_unrequested".into()));
    assert_eq!(p.unrequested_action(Some(reads)), (Action::Review, "defaults.on_unrequested".into()));
    assert_eq!(p.unrequested_action(None), (Action::Review, "defaults.on_unrequested".into()));
    assert_eq!(p.schema_violation_action(llm), (Action::Block, "class llm_provider default".into()));

    let p = parse(&format!(
        "{HEADER}defaults: {{ on_schema_violation: alert }}\ntools:\n  - name: a\n    match: {{ host: a }}\n    schema: true\n  - name: b\n    match: {{ host: b }}\n    schema: false\n    on_schema_violation: review\n"
    ));
    assert_eq!(p.schema_violation_action(&p.tools[0]), (Action::Alert, "defaults.on_schema_violation".into()));
    assert_eq!(p.schema_violation_action(&p.tools[1]), (Action::Review, "tools[1].on_schema_violation".into()));
    assert!(p.tools[0].validate_body(&json!({ "any": 1 })).is_empty());
    assert_eq!(violations_of(&p.tools[1], json!(1)), [("".into(), "falseSchema".into())]);
}

fn violations_of(tool: &Tool, body: serde_json::Value) -> Vec<(String, String)> {
    tool.validate_body(&body).into_iter().map(|v| (v.pointer, v.keyword)).collect()
}

#[test]
fn policy_is_shareable_across_threads() {
    fn assert_send_sync<T: Send + Sync + Clone + 'static>() {}
    assert_send_sync::<Policy>();
    let p = schema_tool();
    let copy = p.clone();
    assert_eq!(p, copy);
    let handle = std::thread::spawn(move || copy.tools[0].validate_body(&json!({})).len());
    assert_eq!(handle.join().unwrap(), 2);
}

#[test]
fn builtin_default_policy_has_open_defaults() {
    let p = Policy::builtin_default();
    assert_eq!(p.review_timeout(), Duration::from_secs(u64::from(DEFAULT_REVIEW_TIMEOUT_SECONDS)));
    assert!(p.sources.is_empty());
    assert_eq!(p.defaults, PolicyDefaults::default());
    assert_eq!(p.detection, DetectionSettings::default());
}
