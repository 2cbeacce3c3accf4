//! End-to-end tests of the content actions: redact, review (approved, denied, timed out),
//! schema enforcement, per-part rules for an LLM request's context, taint, tool-call linking
//! (non-streamed and streamed answers), policy reload, kill. Real clients (curl, httpx, the
//! `openai` SDK, Python agents) run in a cgroup watched by `egress daemon` in enforce mode,
//! against local TLS servers (an OpenAI-compatible chat server, a Slack-style webhook, a CRM).
//! Run as root, single-threaded:
//!
//! ```text
//! cargo test -p egress-tests --test actions -- --test-threads=1
//! ```
//!
//! The `direct_*` tests check the servers and client scripts without egress (no root).

use std::time::{Duration, Instant};

use egress_tests::audit::{action_record_problems, field_problems, findings, format_records};
use egress_tests::client::{self, Launcher, RunOutput};
use egress_tests::policy::paths;
use egress_tests::proc::process_state;
use egress_tests::review::entry_problems;
use egress_tests::scenario::{delivery_problems, policy_yaml};
use egress_tests::server::{CHAT_PATH, CHAT_REPLY, CRM_CUSTOMER_PATH, ToolCallSpec, crm_customer_record};
use egress_tests::{
    Client, Fixture, PolicySpec, ReviewCli, Scenario, ServerOptions, TestServer, json_body, require_root, samples,
    sha256_hex,
};
use serde_json::{Value, json};

/// The webhook path the notification tools get (the Slack servers answer any
/// `POST /services/*`).
const WEBHOOK_PATH: &str = "/services/team-ops/channel-deploys/incoming";

/// The chat tool of the policies: an `llm_provider` for `POST localhost/v1/chat/completions`,
/// with `extra` (keys indented by four spaces) added.
fn chat_tool(extra: &str) -> String {
    format!(
        "  - name: chat\n    class: llm_provider\n    match: {{ host: localhost, method: POST, path: {CHAT_PATH} }}\n{extra}"
    )
}

/// A `notification` tool named `name` for `POST localhost/services/*`, with `extra`.
fn webhook_tool(name: &str, extra: &str) -> String {
    format!(
        "  - name: {name}\n    class: notification\n    match: {{ host: localhost, method: POST, path: \"/services/*\" }}\n{extra}"
    )
}

/// Asserts the record has the contract's shape and the `expected` values (JSON pointers).
fn assert_fields(rec: &Value, expected: &[(&str, Value)], what: &str, ctx: &dyn Fn() -> String) {
    let mut problems = action_record_problems(rec);
    problems.extend(field_problems(rec, expected));
    assert!(
        problems.is_empty(),
        "{what}: audit record is wrong:\n  - {}\nrecord: {rec}\n{}",
        problems.join("\n  - "),
        ctx()
    );
}

/// The first finding of `rec` satisfying `pred`; panics listing the findings if none does.
fn finding<'a>(
    rec: &'a Value,
    desc: &str,
    pred: impl Fn(&Value) -> bool,
    what: &str,
    ctx: &dyn Fn() -> String,
) -> &'a Value {
    findings(rec).into_iter().find(|f| pred(f)).unwrap_or_else(|| {
        panic!(
            "{what}: the audit record has no finding {desc}; findings: {}\nrecord: {rec}\n{}",
            rec["findings"],
            ctx()
        )
    })
}

/// Asserts nothing of the request reached `server` (see [`delivery_problems`]).
fn assert_not_delivered(
    server: &TestServer,
    path: &str,
    conns_before: usize,
    whole_write: bool,
    what: &str,
    ctx: &dyn Fn() -> String,
) {
    let problems = delivery_problems(server, path, conns_before, whole_write);
    assert!(problems.is_empty(), "{what}: the server received some of it:\n  - {}\n{}", problems.join("\n  - "), ctx());
}

/// The byte range of the only occurrence of `needle` in `hay`.
fn span_of(hay: &[u8], needle: &str) -> std::ops::Range<usize> {
    let n = needle.as_bytes();
    let hits: Vec<usize> = hay.windows(n.len()).enumerate().filter(|(_, w)| *w == n).map(|(i, _)| i).collect();
    assert_eq!(hits.len(), 1, "{needle:?} should occur once in {}", String::from_utf8_lossy(hay));
    hits[0]..hits[0] + n.len()
}

/// How `got` differs from `reference` with the bytes of `masked` replaced by `*`.
fn mask_problems(reference: &[u8], got: &[u8], masked: &[std::ops::Range<usize>]) -> Vec<String> {
    if reference.len() != got.len() {
        return vec![format!(
            "length {} differs from the original's {}:\n  original: {}\n  received: {}",
            got.len(),
            reference.len(),
            String::from_utf8_lossy(reference),
            String::from_utf8_lossy(got)
        )];
    }
    let mut p = Vec::new();
    for (i, (&r, &g)) in reference.iter().zip(got).enumerate() {
        let want = if masked.iter().any(|m| m.contains(&i)) { b'*' } else { r };
        if g != want {
            p.push(format!("byte {i}: {:?}, expected {:?}", char::from(g), char::from(want)));
        }
    }
    if !p.is_empty() {
        p.truncate(20);
        p.push(format!("original: {}\nreceived: {}", String::from_utf8_lossy(reference), String::from_utf8_lossy(got)));
    }
    p
}

// ---------------------------------------------------------------------------------------
// 1. redact

/// The SDK's chat request carries an e-mail address and a card number in the user message;
/// `on_findings: { pii: redact }` masks both in the agent's buffer: the call succeeds and the
/// server gets the same bytes with `*` over the two values.
#[test]
fn redact_pii_in_openai_chat_request() {
    if !require_root() {
        return;
    }
    let what = "openai SDK chat request with an e-mail and a card number, pii: redact";
    let fx = Fixture::new();
    let target = fx.target();
    let email = samples::EMAIL;
    let card = samples::card_number(1);
    let message = format!("Please update the billing contact to {email} and charge the card {card} for the renewal.");
    let req = fx.request("message.txt", CHAT_PATH, message.as_bytes());

    // The same call without egress: the SDK's body is the same both times.
    let direct = client::run(Launcher::Direct, &Client::OpenAi.command(&target, &req));
    assert!(
        direct.success(),
        "{what}: the SDK call without egress failed\n{}{}",
        direct.describe(),
        fx.server.summary()
    );
    let reference = fx.server.requests_for(CHAT_PATH)[0].body.clone();

    let sc =
        Scenario::start(fx, &policy_yaml(30, &format!("tools:\n{}", chat_tool("    on_findings: { pii: redact }\n"))));
    let out = sc.run(&Client::OpenAi.command(&target, &req));
    let ctx = || sc.diag(&[&out], &[("chat", &sc.fx.server)]);

    assert!(out.success() && out.stdout.contains(CHAT_REPLY), "{what}: the SDK call should succeed\n{}", ctx());
    let reqs = sc.fx.server.requests_for(CHAT_PATH);
    assert_eq!(reqs.len(), 2, "{what}: the server should have the direct request and the redacted one\n{}", ctx());
    let got = &reqs[1];
    assert!(got.body_complete, "{what}: incomplete body\n{}", ctx());
    let masked = [span_of(&reference, email), span_of(&reference, &card)];
    let problems = mask_problems(&reference, &got.body, &masked);
    assert!(
        problems.is_empty(),
        "{what}: the server should get the original body with the e-mail and the card number masked:\n  - {}\n{}",
        problems.join("\n  - "),
        ctx()
    );

    let rec = sc.one_record(what, |r| r["path"] == CHAT_PATH, &ctx);
    assert_fields(
        &rec,
        &[("/tool", "chat".into()), ("/action", "redact".into()), ("/outcome", "redacted".into())],
        what,
        &ctx,
    );
    assert!(rec["redacted"].as_u64().is_some_and(|n| n >= 2), "{what}: `redacted` should be >= 2: {rec}\n{}", ctx());
    for detector in ["email", "credit_card"] {
        let f = finding(
            &rec,
            &format!("pii/{detector} in part user, action redact"),
            |f| f["category"] == "pii" && f["detector"] == detector && f["part"] == "user" && f["action"] == "redact",
            what,
            &ctx,
        );
        // start/end are offsets into the body: what they cover was masked.
        let (s, e) = (f["start"].as_u64().unwrap() as usize, f["end"].as_u64().unwrap() as usize);
        assert!(
            e <= got.body.len() && got.body[s..e].iter().all(|&b| b == b'*'),
            "{what}: finding {f} should cover masked bytes of the body\n{}",
            ctx()
        );
    }
    sc.assert_audit_lacks(&[email, &card], what);
}

// ---------------------------------------------------------------------------------------
// 2-4. review

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Decision {
    Approve,
    Deny,
    /// No decision: the review times out.
    Timeout,
}

/// curl posts a message with an e-mail address to a notification tool with
/// `on_findings: { pii: review }`: curl is held until the reviewer decides (or the review
/// times out).
fn review_webhook_post(decision: Decision) {
    let review_timeout = if decision == Decision::Timeout { 2 } else { 30 };
    let what = format!("curl to a webhook with an e-mail, pii: review, decision {decision:?}");
    let fx = Fixture::with_server(ServerOptions::slack_webhook());
    let target = fx.target();
    let email = samples::EMAIL;
    let body = format!(r#"{{"text":"New lead from the fair: please call back {email} before Friday."}}"#);
    let req = fx.request("message.json", WEBHOOK_PATH, body.as_bytes());
    let tools = format!("tools:\n{}", webhook_tool("slack", "    on_findings: { pii: review }\n"));
    let sc = Scenario::start(fx, &policy_yaml(review_timeout, &tools));
    let reviews = ReviewCli::new(&sc.daemon.review_socket());
    let conns_before = sc.fx.server.connections().len();

    let started = Instant::now();
    let curl = sc.spawn(&Client::Curl.command(&target, &req));
    let pid = curl.pid();
    let mut decided = None;
    if decision != Decision::Timeout {
        let pending = reviews.wait_for(Duration::from_secs(20), |e| e["path"] == WEBHOOK_PATH).unwrap_or_else(|e| {
            panic!(
                "{what}: the request never showed up in `egress review list`\n{e}\n=== curl ===\n{}{}",
                curl.describe_so_far(),
                sc.diag(&[], &[("webhook", &sc.fx.server)])
            )
        });
        let entry = &pending.entry;
        let ctx = || {
            format!(
                "\nlisting: {}\n=== curl ===\n{}{}",
                pending.listing,
                curl.describe_so_far(),
                sc.diag(&[], &[("webhook", &sc.fx.server)])
            )
        };
        let mut problems = entry_problems(entry);
        problems.extend(field_problems(
            entry,
            &[("/tool", "slack".into()), ("/host", "localhost".into()), ("/pid", pid.into()), ("/comm", "curl".into())],
        ));
        if !entry["findings"]
            .as_array()
            .is_some_and(|f| f.iter().any(|s| s.as_str().is_some_and(|s| s.starts_with("pii/"))))
        {
            problems.push(format!("`findings` should name a pii finding: {}", entry["findings"]));
        }
        if entry["expires_in_seconds"].as_u64().is_some_and(|s| s > u64::from(review_timeout)) {
            problems.push(format!("`expires_in_seconds` should be <= {review_timeout}"));
        }
        assert!(
            problems.is_empty(),
            "{what}: the pending review is wrong:\n  - {}\n{}",
            problems.join("\n  - "),
            ctx()
        );
        assert!(!pending.listing.contains(email), "{what}: the review listing shows the raw e-mail address\n{}", ctx());
        assert_eq!(
            process_state(pid as i32),
            Some('T'),
            "{what}: curl should be held (stopped) during review\n{}",
            ctx()
        );
        assert!(
            sc.fx.server.requests_for(WEBHOOK_PATH).is_empty(),
            "{what}: nothing may leave during review\n{}",
            ctx()
        );

        let id = entry["id"].clone();
        let run = if decision == Decision::Approve { reviews.approve(&id) } else { reviews.deny(&id) };
        assert!(run.success(), "{what}: the decision should be accepted (exit 0)\n{}{}", run.describe(), ctx());
        decided = Some(id);
    }
    let out = curl.finish(Duration::from_secs(60));
    let elapsed = started.elapsed();
    let ctx = || sc.diag(&[&out], &[("webhook", &sc.fx.server)]);

    let (review_outcome, by_uid, outcome) = match decision {
        Decision::Approve => ("approved", json!(0), "passed"),
        Decision::Deny => ("denied", json!(0), "blocked"),
        Decision::Timeout => ("timed_out", Value::Null, "blocked"),
    };
    if decision == Decision::Approve {
        assert!(out.success() && out.stdout.contains("ok"), "{what}: curl should succeed after approval\n{}", ctx());
        let got = sc.fx.server.requests_for(WEBHOOK_PATH);
        assert!(
            got.len() == 1 && got[0].body_complete && got[0].body == body.as_bytes(),
            "{what}: the server should get the body unchanged, once\n{}",
            ctx()
        );
    } else {
        assert!(out.code().is_some_and(|c| c != 0), "{what}: curl should fail\n{}", ctx());
        assert_not_delivered(&sc.fx.server, WEBHOOK_PATH, conns_before, true, &what, &ctx);
    }
    if decision == Decision::Timeout {
        assert!(
            elapsed >= Duration::from_secs(2),
            "{what}: curl should be held for the review timeout (2 s), it ended after {elapsed:?}\n{}",
            ctx()
        );
    }

    let rec = sc.one_record(&what, |r| r["path"] == WEBHOOK_PATH, &ctx);
    assert_fields(
        &rec,
        &[
            ("/tool", "slack".into()),
            ("/pid", pid.into()),
            ("/action", "review".into()),
            ("/outcome", outcome.into()),
            ("/review/outcome", review_outcome.into()),
            ("/review/by_uid", by_uid),
        ],
        &what,
        &ctx,
    );
    finding(
        &rec,
        "pii/email with action review",
        |f| f["category"] == "pii" && f["detector"] == "email" && f["action"] == "review",
        &what,
        &ctx,
    );
    if let Some(id) = &decided {
        assert_eq!(&rec["review"]["id"], id, "{what}: review.id should be the listed id\n{}", ctx());
        // Decided once: a second decision is refused.
        let again = reviews.deny(id);
        assert_eq!(
            again.code(),
            Some(1),
            "{what}: deciding review {id} twice should exit 1\n{}{}",
            again.describe(),
            ctx()
        );
    }
    sc.assert_audit_lacks(&[email], &what);
}

#[test]
fn review_approved_lets_the_request_through() {
    if !require_root() {
        return;
    }
    review_webhook_post(Decision::Approve);
}

#[test]
fn review_denied_blocks_the_request() {
    if !require_root() {
        return;
    }
    review_webhook_post(Decision::Deny);
}

#[test]
fn review_timed_out_blocks_the_request() {
    if !require_root() {
        return;
    }
    review_webhook_post(Decision::Timeout);
}

/// One request, two rules: the card number is redacted, the e-mail address goes to review.
/// The approved request leaves with the card masked and the e-mail as written.
#[test]
fn review_approved_keeps_the_redactions_of_the_same_request() {
    if !require_root() {
        return;
    }
    let what = "curl to a webhook with a card (pii: redact) and an e-mail (pii.email: review), approved";
    let fx = Fixture::with_server(ServerOptions::slack_webhook());
    let target = fx.target();
    let (email, card) = (samples::EMAIL, samples::card_number(2));
    let body = format!(r#"{{"text":"Lead {email} paid with {card}, please confirm."}}"#);
    let req = fx.request("message.json", WEBHOOK_PATH, body.as_bytes());
    let rules = "    on_findings: { pii: redact, pii.email: review }\n";
    let sc = Scenario::start(fx, &policy_yaml(30, &format!("tools:\n{}", webhook_tool("slack", rules))));
    let reviews = ReviewCli::new(&sc.daemon.review_socket());
    let curl = sc.spawn(&Client::Curl.command(&target, &req));
    let pending = reviews
        .wait_for(Duration::from_secs(20), |e| e["path"] == WEBHOOK_PATH)
        .unwrap_or_else(|e| panic!("{what}: no pending review\n{e}\n{}", sc.diag(&[], &[("webhook", &sc.fx.server)])));
    let approval = reviews.approve(&pending.entry["id"]);
    assert!(approval.success(), "{what}: approval refused\n{}", approval.describe());
    let out = curl.finish(Duration::from_secs(60));
    let ctx = || sc.diag(&[&out], &[("webhook", &sc.fx.server)]);

    assert!(out.success(), "{what}: curl should succeed after approval\n{}", ctx());
    let got = sc.fx.server.requests_for(WEBHOOK_PATH);
    assert_eq!(got.len(), 1, "{what}: one request should arrive\n{}", ctx());
    let problems = mask_problems(body.as_bytes(), &got[0].body, &[span_of(body.as_bytes(), &card)]);
    assert!(
        problems.is_empty(),
        "{what}: the server should get the body with the card masked and the e-mail kept:\n  - {}\n{}",
        problems.join("\n  - "),
        ctx()
    );
    let rec = sc.one_record(what, |r| r["path"] == WEBHOOK_PATH, &ctx);
    assert_fields(
        &rec,
        &[
            ("/action", "review".into()),
            ("/outcome", "redacted".into()),
            ("/redacted", 1.into()),
            ("/review/outcome", "approved".into()),
        ],
        what,
        &ctx,
    );
    sc.assert_audit_lacks(&[email, &card], what);
}

// ---------------------------------------------------------------------------------------
// 5. schema

#[test]
fn schema_violation_blocks_unexpected_field() {
    if !require_root() {
        return;
    }
    let what = "httpx posts a body with a field the tool's schema forbids";
    let fx = Fixture::with_server(ServerOptions::slack_webhook());
    let target = fx.target();
    let extra = "    schema:\n      type: object\n      required: [text]\n      properties:\n        text: { type: string }\n      additionalProperties: false\n    on_schema_violation: block\n";
    let sc = Scenario::start(fx, &policy_yaml(30, &format!("tools:\n{}", webhook_tool("notify", extra))));

    let bad = sc.fx.request("bad.json", WEBHOOK_PATH, br#"{"text": "hi", "exfil": "x"}"#);
    let conns_before = sc.fx.server.connections().len();
    let out = sc.run(&Client::Httpx.command(&target, &bad));
    let ctx = || sc.diag(&[&out], &[("webhook", &sc.fx.server)]);
    assert!(out.code().is_some_and(|c| c != 0), "{what}: httpx should fail\n{}", ctx());
    assert_not_delivered(&sc.fx.server, WEBHOOK_PATH, conns_before, false, what, &ctx);
    let rec = sc.one_record(what, |r| r["path"] == WEBHOOK_PATH && r["pid"] == out.pid, &ctx);
    assert_fields(
        &rec,
        &[("/tool", "notify".into()), ("/action", "block".into()), ("/outcome", "blocked".into())],
        what,
        &ctx,
    );
    let violations = rec["schema_violations"].as_array().cloned().unwrap_or_default();
    assert!(
        violations.iter().any(|v| v["pointer"] == "/exfil" && v["keyword"] == "additionalProperties"),
        "{what}: schema_violations should hold {{pointer: /exfil, keyword: additionalProperties}}: {}\n{}",
        rec["schema_violations"],
        ctx()
    );

    let what = "httpx posts a body that fits the tool's schema";
    let good = sc.fx.request("good.json", WEBHOOK_PATH, br#"{"text": "hi"}"#);
    let out2 = sc.run(&Client::Httpx.command(&target, &good));
    let ctx = || sc.diag(&[&out, &out2], &[("webhook", &sc.fx.server)]);
    assert!(out2.success(), "{what}: httpx should succeed\n{}", ctx());
    let got: Vec<_> = sc.fx.server.requests_for(WEBHOOK_PATH).into_iter().filter(|r| r.body_complete).collect();
    assert!(got.len() == 1 && got[0].body == br#"{"text": "hi"}"#, "{what}: the server should get it\n{}", ctx());
    let rec = sc.one_record(what, |r| r["path"] == WEBHOOK_PATH && r["pid"] == out2.pid, &ctx);
    assert_fields(
        &rec,
        &[("/tool", "notify".into()), ("/outcome", "passed".into()), ("/schema_violations", json!([]))],
        what,
        &ctx,
    );
}

// ---------------------------------------------------------------------------------------
// 6. secret in a tool result

/// A conversation whose tool result (or, with `in_user`, the user message) holds an AWS key.
fn conversation_with_key(key_id: &str, secret: &str, in_user: bool) -> Value {
    let creds =
        format!("[default]\naws_access_key_id = {key_id}\naws_secret_access_key = {secret}\nregion = eu-central-1\n");
    if in_user {
        return json!([
            {"role": "system", "content": "You are a deployment assistant."},
            {"role": "user", "content": format!("These are the deploy job's credentials:\n{creds}Which region is used?")}
        ]);
    }
    json!([
        {"role": "system", "content": "You are a deployment assistant."},
        {"role": "user", "content": "Which AWS region does the deploy job use?"},
        {"role": "assistant", "content": null, "tool_calls": [{
            "id": "call_read_config_1",
            "type": "function",
            "function": {"name": "read_file", "arguments": "{\"path\": \"/home/deploy/.aws/credentials\"}"}
        }]},
        {"role": "tool", "tool_call_id": "call_read_config_1", "content": creds}
    ])
}

/// `parts: { tool_result: { secret: block } }` with `on_findings: { secret: alert }`: an AWS
/// key in a tool result blocks the SDK call; the same key in the user message is only an alert.
#[test]
fn secret_in_tool_result_blocks_llm_request() {
    if !require_root() {
        return;
    }
    let what = "openai SDK chat request whose tool result holds an AWS key, parts.tool_result.secret: block";
    let fx = Fixture::new();
    let target = fx.target();
    let (key_id, secret) = samples::aws_key_pair(3);
    let tools = format!(
        "tools:\n{}",
        chat_tool("    on_findings: { secret: alert }\n    parts:\n      tool_result: { secret: block }\n")
    );
    let sc = Scenario::start(fx, &policy_yaml(30, &tools));

    let messages =
        sc.fx.write("tool-result.json", conversation_with_key(&key_id, &secret, false).to_string().as_bytes());
    let conns_before = sc.fx.server.connections().len();
    let out = sc.run(&client::openai_messages(&target, &messages));
    let ctx = || sc.diag(&[&out], &[("chat", &sc.fx.server)]);
    assert!(
        out.code() == Some(1) && out.stderr.contains("APIConnectionError"),
        "{what}: the SDK call should fail with openai.APIConnectionError\n{}",
        ctx()
    );
    assert_not_delivered(&sc.fx.server, CHAT_PATH, conns_before, false, what, &ctx);
    let rec = sc.one_record(what, |r| r["path"] == CHAT_PATH && r["pid"] == out.pid, &ctx);
    assert_fields(
        &rec,
        &[("/tool", "chat".into()), ("/action", "block".into()), ("/outcome", "blocked".into())],
        what,
        &ctx,
    );
    let f = finding(
        &rec,
        "secret in part tool_result, action block",
        |f| f["category"] == "secret" && f["part"] == "tool_result" && f["action"] == "block",
        what,
        &ctx,
    );
    assert!(
        f["rule"].as_str().is_some_and(|r| r.contains("tool_result")),
        "{what}: the rule should be the part's: {f}\n{}",
        ctx()
    );

    let what = "openai SDK chat request whose user message holds the AWS key, on_findings.secret: alert";
    let messages = sc.fx.write("user.json", conversation_with_key(&key_id, &secret, true).to_string().as_bytes());
    let out2 = sc.run(&client::openai_messages(&target, &messages));
    let ctx = || sc.diag(&[&out, &out2], &[("chat", &sc.fx.server)]);
    assert!(out2.success(), "{what}: the SDK call should succeed\n{}", ctx());
    let rec = sc.one_record(what, |r| r["path"] == CHAT_PATH && r["pid"] == out2.pid, &ctx);
    assert_fields(&rec, &[("/action", "alert".into()), ("/outcome", "passed".into())], what, &ctx);
    finding(
        &rec,
        "secret in part user, action alert",
        |f| f["category"] == "secret" && f["part"] == "user" && f["action"] == "alert",
        what,
        &ctx,
    );
    sc.assert_audit_lacks(&[&key_id, &secret], what);
}

// ---------------------------------------------------------------------------------------
// 7. taint

/// One agent process reads a customer record from the `crm` source, then posts its text to a
/// webhook whose tool has `on_findings: { taint: block }` (and `pii: alert`, so the block is
/// the taint's).
#[test]
fn taint_from_source_blocks_post() {
    if !require_root() {
        return;
    }
    let what = "agent posts a CRM record it read to a webhook, taint: block";
    let fx = Fixture::with_server(ServerOptions::crm());
    let crm = fx.target();
    let webhook = fx.start_server(ServerOptions::slack_webhook());
    let webhook_target = fx.target_of(&webhook);
    let rest = format!(
        "tools:\n  - name: crm-read\n    class: read_only\n    match: {{ host: localhost, method: GET, path: \"/api/*\" }}\n{}\
         sources:\n  - {{ name: crm, match: {{ host: localhost, path: \"/api/*\" }} }}\n",
        webhook_tool("slack", "    on_findings: { taint: block, pii: alert }\n")
    );
    let sc = Scenario::start(fx, &policy_yaml(30, &rest));
    let out = sc.run(&client::taint_agent(&crm, CRM_CUSTOMER_PATH, &webhook_target, WEBHOOK_PATH));
    let ctx = || sc.diag(&[&out], &[("crm", &sc.fx.server), ("webhook", &webhook)]);

    assert!(client::step(&out.stdout, "read")["ok"] == true, "{what}: the agent should read the record\n{}", ctx());
    assert!(
        out.code() == Some(3) && client::step(&out.stdout, "post")["ok"] == false,
        "{what}: the agent's post should fail (exit 3)\n{}",
        ctx()
    );
    assert_not_delivered(&webhook, WEBHOOK_PATH, 0, false, what, &ctx);
    let rec = sc.one_record(what, |r| r["path"] == WEBHOOK_PATH, &ctx);
    assert_fields(
        &rec,
        &[("/tool", "slack".into()), ("/action", "block".into()), ("/outcome", "blocked".into())],
        what,
        &ctx,
    );
    finding(
        &rec,
        "taint labelled crm, action block",
        |f| f["category"] == "taint" && f["label"] == "crm" && f["action"] == "block",
        what,
        &ctx,
    );
    let read = sc.one_record("the CRM read", |r| r["path"] == CRM_CUSTOMER_PATH, &ctx);
    assert_fields(&read, &[("/outcome", "passed".into())], "the CRM read", &ctx);
    let record = crm_customer_record();
    sc.assert_audit_lacks(&[record["email"].as_str().unwrap(), record["account_number"].as_str().unwrap()], what);
}

// ---------------------------------------------------------------------------------------
// 8. tool calls

/// The chat server asks for `post_message {"text": "deploy done"}`; the agent runs it
/// (linked: passes) and then posts something else (`on_unrequested: block`: blocked).
fn tool_call_linking(stream: bool) {
    let what = format!("agent runs the model's tool call, then another one (stream: {stream})");
    let call = ToolCallSpec::new("call_egress_deploy_1", "post_message", r#"{"text": "deploy done"}"#);
    let fx = Fixture::with_server(ServerOptions::chat_tool_call(call.clone()));
    let chat = fx.target();
    let webhook = fx.start_server(ServerOptions::slack_webhook());
    let webhook_target = fx.target_of(&webhook);
    let rest = format!("tools:\n{}{}", chat_tool(""), webhook_tool("post_message", "    on_unrequested: block\n"));
    let sc = Scenario::start(fx, &policy_yaml(30, &rest));
    let out = sc.run(&client::tool_call_agent(&chat, &webhook_target, WEBHOOK_PATH, stream));
    let ctx = || sc.diag(&[&out], &[("chat", &sc.fx.server), ("webhook", &webhook)]);

    let chat_step = client::step(&out.stdout, "chat");
    assert!(
        out.success()
            && chat_step["ok"] == true
            && chat_step["tool_call"]["id"] == call.id.as_str()
            && chat_step["tool_call"]["arguments"] == call.arguments.as_str(),
        "{what}: the agent should get the tool call from the model\n{}",
        ctx()
    );
    let post1 = client::step(&out.stdout, "post1");
    assert!(post1["ok"] == true && post1["body"] == "ok", "{what}: the requested call should pass\n{}", ctx());
    assert!(client::step(&out.stdout, "post2")["ok"] == false, "{what}: the unrequested post should fail\n{}", ctx());
    let delivered: Vec<_> = webhook.requests_for(WEBHOOK_PATH).into_iter().filter(|r| r.body_complete).collect();
    assert!(
        delivered.len() == 1
            && serde_json::from_slice::<Value>(&delivered[0].body).ok() == Some(json!({"text": "deploy done"})),
        "{what}: the webhook should get exactly the requested call's post\n{}",
        ctx()
    );
    assert!(
        webhook.requests_for(WEBHOOK_PATH).iter().all(|r| !String::from_utf8_lossy(&r.body).contains("something else")),
        "{what}: no byte of the unrequested post's body may reach the webhook\n{}",
        ctx()
    );

    let recs = sc.wait_count(2, |r| r["path"] == WEBHOOK_PATH && r["pid"] == out.pid);
    assert_eq!(
        recs.len(),
        2,
        "{what}: expected two audit records for the webhook:\n{}{}",
        format_records(&recs),
        ctx()
    );
    assert_fields(
        &recs[0],
        &[
            ("/tool", "post_message".into()),
            ("/link", "requested".into()),
            ("/tool_call_id", call.id.as_str().into()),
            ("/outcome", "passed".into()),
            ("/body_sha256", sha256_hex(&delivered[0].body).into()),
        ],
        &format!("{what}: post 1"),
        &ctx,
    );
    assert_fields(
        &recs[1],
        &[("/tool", "post_message".into()), ("/action", "block".into()), ("/outcome", "blocked".into())],
        &format!("{what}: post 2"),
        &ctx,
    );
    assert!(
        matches!(recs[1]["link"].as_str(), Some("arguments_differ" | "unrequested")),
        "{what}: post 2's link should be arguments_differ or unrequested: {}\n{}",
        recs[1],
        ctx()
    );
}

#[test]
fn tool_call_linking_non_streamed() {
    if !require_root() {
        return;
    }
    tool_call_linking(false);
}

#[test]
fn tool_call_linking_streamed() {
    if !require_root() {
        return;
    }
    tool_call_linking(true);
}

// ---------------------------------------------------------------------------------------
// 9. policy reload

/// Writes `text` to `path` atomically (a temp file renamed over it).
fn replace_file(path: &std::path::Path, text: &str) {
    let tmp = path.with_extension("yaml.tmp");
    std::fs::write(&tmp, text).unwrap_or_else(|e| panic!("write {}: {e}", tmp.display()));
    std::fs::rename(&tmp, path).unwrap_or_else(|e| panic!("rename {} -> {}: {e}", tmp.display(), path.display()));
}

/// Whether `line` has `:<line>:<col>` (a digit run, then `:` or a space or the end).
fn has_line_col(line: &str, want_line: u32) -> bool {
    let needle = format!(":{want_line}:");
    line.match_indices(&needle).any(|(i, _)| {
        let rest = &line[i + needle.len()..];
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        digits > 0 && rest[digits..].chars().next().is_none_or(|c| c == ':' || c == ' ')
    })
}

#[test]
fn policy_reload_refuses_broken_file_and_applies_good_one() {
    if !require_root() {
        return;
    }
    let what = "policy reload";
    let first = PolicySpec::standard().to_yaml();
    let mut sc = Scenario::start(Fixture::new(), &first);
    let target = sc.fx.target();
    let req = sc.fx.request("files.json", paths::FILES, &json_body(300, "reload-test", 9));
    let curl = |sc: &Scenario| sc.run(&Client::Curl.command(&target, &req));
    let version = |text: &str| sha256_hex(text.as_bytes());

    // Under the first policy /v1/files is blocked.
    let out1 = curl(&sc);
    let ctx = || sc.diag(&[&out1], &[("api", &sc.fx.server)]);
    assert!(out1.code().is_some_and(|c| c != 0), "{what}: /v1/files should be blocked at first\n{}", ctx());
    let rec = sc.one_record(what, |r| r["pid"] == out1.pid, &ctx);
    assert_fields(
        &rec,
        &[("/action", "block".into()), ("/outcome", "blocked".into()), ("/policy_version", version(&first).into())],
        what,
        &ctx,
    );

    // A broken file is refused; the old policy stays.
    let broken = "version: 1\nmode: enforce\ndefault_action: maybe\nfail_mode: open\ntools: []\n";
    let skip = sc.daemon.line_count();
    replace_file(&sc.policy, broken);
    sc.daemon.sighup();
    let refused = sc.daemon.wait_for_line(skip, "policy reload refused:", Duration::from_secs(10));
    let running = sc.daemon.is_running();
    let ctx = || sc.diag(&[&out1], &[("api", &sc.fx.server)]);
    let refused = refused.unwrap_or_else(|| panic!("{what}: no `policy reload refused:` line after SIGHUP\n{}", ctx()));
    assert!(
        refused.contains(&sc.policy.display().to_string()) && has_line_col(&refused, 3),
        "{what}: the refusal should name {}:3:COL: `{refused}`\n{}",
        sc.policy.display(),
        ctx()
    );
    assert!(running, "{what}: the daemon must keep running after a refused reload\n{}", ctx());
    assert!(
        !sc.daemon.lines_since(skip).iter().any(|l| l.contains("policy reloaded:")),
        "{what}: a broken file must not be reported as reloaded\n{}",
        ctx()
    );
    let out2 = curl(&sc);
    let ctx = || sc.diag(&[&out1, &out2], &[("api", &sc.fx.server)]);
    assert!(out2.code().is_some_and(|c| c != 0), "{what}: /v1/files should still be blocked\n{}", ctx());
    let rec = sc.one_record(what, |r| r["pid"] == out2.pid, &ctx);
    assert_fields(
        &rec,
        &[("/action", "block".into()), ("/outcome", "blocked".into()), ("/policy_version", version(&first).into())],
        what,
        &ctx,
    );

    // A good file allowing it is applied.
    let second = PolicySpec::standard().tool_action("files", "allow").to_yaml();
    let skip = sc.daemon.line_count();
    replace_file(&sc.policy, &second);
    sc.daemon.sighup();
    let reloaded = sc.daemon.wait_for_line(skip, "policy reloaded:", Duration::from_secs(10));
    assert!(reloaded.is_some(), "{what}: no `policy reloaded:` line after SIGHUP with a good file\n{}", ctx());
    let out3 = curl(&sc);
    let ctx = || sc.diag(&[&out1, &out2, &out3], &[("api", &sc.fx.server)]);
    assert!(out3.success(), "{what}: /v1/files should pass under the new policy\n{}", ctx());
    assert_eq!(sc.fx.server.requests_for(paths::FILES).len(), 1, "{what}: the server should get it\n{}", ctx());
    let rec = sc.one_record(what, |r| r["pid"] == out3.pid, &ctx);
    // `alert` too: the tool's class (external_api) alerts on a request no model asked for.
    assert_fields(
        &rec,
        &[("/tool", "files".into()), ("/outcome", "passed".into()), ("/policy_version", version(&second).into())],
        what,
        &ctx,
    );
    assert!(
        matches!(rec["action"].as_str(), Some("allow" | "alert")),
        "{what}: action should be allow: {rec}\n{}",
        ctx()
    );
    assert_ne!(version(&first), version(&second));
}

/// `egress policy reload --instance NAME` (which signals the daemon named in
/// `/run/egress/NAME.pid`) applies a new file like SIGHUP does.
#[test]
fn policy_reload_via_cli() {
    if !require_root() {
        return;
    }
    let what = "egress policy reload --instance";
    let first = PolicySpec::standard().to_yaml();
    let sc = Scenario::start(Fixture::new(), &first);
    let second = PolicySpec::standard().tool_action("files", "allow").to_yaml();
    let skip = sc.daemon.line_count();
    replace_file(&sc.policy, &second);
    let spec = client::CommandSpec::new(egress_tests::egress_bin())
        .arg("policy")
        .arg("reload")
        .arg("--instance")
        .arg(sc.daemon.instance());
    let reload = direct(&spec);
    let reloaded = sc.daemon.wait_for_line(skip, "policy reloaded:", Duration::from_secs(10));
    let ctx = || sc.diag(&[&reload], &[("api", &sc.fx.server)]);
    assert!(reload.success(), "{what}: should exit 0\n{}", ctx());
    assert!(reloaded.is_some(), "{what}: the daemon should log `policy reloaded:`\n{}", ctx());
    let req = sc.fx.request("files.json", paths::FILES, &json_body(300, "reload-cli", 10));
    let out = sc.run(&Client::Curl.command(&sc.fx.target(), &req));
    let ctx = || sc.diag(&[&reload, &out], &[("api", &sc.fx.server)]);
    assert!(out.success(), "{what}: /v1/files should pass under the new policy\n{}", ctx());
    let rec = sc.one_record(what, |r| r["pid"] == out.pid, &ctx);
    assert_fields(
        &rec,
        &[("/outcome", "passed".into()), ("/policy_version", sha256_hex(second.as_bytes()).into())],
        what,
        &ctx,
    );
}

// ---------------------------------------------------------------------------------------
// 10. kill

#[test]
fn kill_action_kills_the_agent() {
    if !require_root() {
        return;
    }
    use std::os::unix::process::ExitStatusExt as _;
    let what = "curl to a tool with action: kill";
    let rest =
        "tools:\n  - name: exec\n    match: { host: localhost, method: POST, path: /v1/exec }\n    action: kill\n";
    let sc = Scenario::start(Fixture::new(), &policy_yaml(30, rest));
    let target = sc.fx.target();
    let req = sc.fx.request("exec.json", "/v1/exec", br#"{"cmd": "id"}"#);
    let conns_before = sc.fx.server.connections().len();
    let out = sc.run(&Client::Curl.command(&target, &req));
    let ctx = || sc.diag(&[&out], &[("api", &sc.fx.server)]);
    assert_eq!(out.status.signal(), Some(libc::SIGKILL), "{what}: curl should be killed by SIGKILL\n{}", ctx());
    assert_not_delivered(&sc.fx.server, "/v1/exec", conns_before, true, what, &ctx);
    let rec = sc.one_record(what, |r| r["path"] == "/v1/exec", &ctx);
    assert_fields(
        &rec,
        &[
            ("/tool", "exec".into()),
            ("/pid", out.pid.into()),
            ("/action", "kill".into()),
            ("/outcome", "killed".into()),
        ],
        what,
        &ctx,
    );
}

// ---------------------------------------------------------------------------------------
// The servers and client scripts without egress (no root needed).

fn direct(spec: &client::CommandSpec) -> RunOutput {
    client::run(Launcher::Direct, spec)
}

fn direct_tool_call_agent(stream: bool) {
    let call = ToolCallSpec::new("call_direct_1", "post_message", r#"{"text": "deploy done"}"#);
    let fx = Fixture::with_server(ServerOptions::chat_tool_call(call.clone()));
    let webhook = fx.start_server(ServerOptions::slack_webhook());
    let out = direct(&client::tool_call_agent(&fx.target(), &fx.target_of(&webhook), WEBHOOK_PATH, stream));
    let ctx = || format!("{}{}{}", out.describe(), fx.server.summary(), webhook.summary());
    assert!(out.success(), "{}", ctx());
    let chat = client::step(&out.stdout, "chat");
    assert_eq!(chat["tool_call"]["id"], call.id.as_str(), "{}", ctx());
    assert_eq!(chat["tool_call"]["name"], "post_message", "{}", ctx());
    assert_eq!(chat["tool_call"]["arguments"], call.arguments.as_str(), "{}", ctx());
    if stream {
        assert!(chat["tool_call"]["chunks"].as_u64().is_some_and(|n| n >= 4), "{}", ctx());
    }
    let sent: Value = serde_json::from_slice(&fx.server.requests_for(CHAT_PATH)[0].body).unwrap();
    assert_eq!(sent["stream"].as_bool().unwrap_or(false), stream, "{}", ctx());
    assert_eq!(sent["tools"][0]["function"]["name"], "post_message");
    for step in ["post1", "post2"] {
        assert!(client::step(&out.stdout, step)["ok"] == true, "{step}\n{}", ctx());
    }
    let bodies: Vec<Value> =
        webhook.requests_for(WEBHOOK_PATH).iter().map(|r| serde_json::from_slice(&r.body).unwrap()).collect();
    assert_eq!(bodies, vec![json!({"text": "deploy done"}), json!({"text": "something else"})], "{}", ctx());
}

#[test]
fn direct_tool_call_agent_non_streamed() {
    direct_tool_call_agent(false);
}

#[test]
fn direct_tool_call_agent_streamed() {
    direct_tool_call_agent(true);
}

#[test]
fn direct_taint_agent_and_crm() {
    let fx = Fixture::with_server(ServerOptions::crm());
    let webhook = fx.start_server(ServerOptions::slack_webhook());
    let out = direct(&client::taint_agent(&fx.target(), CRM_CUSTOMER_PATH, &fx.target_of(&webhook), WEBHOOK_PATH));
    let ctx = || format!("{}{}{}", out.describe(), fx.server.summary(), webhook.summary());
    assert_eq!(out.code(), Some(0), "{}", ctx());
    let got = webhook.requests_for(WEBHOOK_PATH);
    assert_eq!(got.len(), 1, "{}", ctx());
    let text = serde_json::from_slice::<Value>(&got[0].body).unwrap()["text"].as_str().unwrap().to_string();
    let record = crm_customer_record();
    for field in ["name", "email", "account_number", "address"] {
        assert!(text.contains(record[field].as_str().unwrap()), "{field} missing from {text}");
    }
    assert_eq!(fx.server.requests_for(CRM_CUSTOMER_PATH)[0].method, "GET");
}

#[test]
fn direct_openai_messages_with_tool_result() {
    let fx = Fixture::new();
    let (key_id, secret) = samples::aws_key_pair(3);
    let conversation = conversation_with_key(&key_id, &secret, false);
    let messages = fx.write("m.json", conversation.to_string().as_bytes());
    let out = direct(&client::openai_messages(&fx.target(), &messages));
    assert!(out.success() && out.stdout.contains(CHAT_REPLY), "{}{}", out.describe(), fx.server.summary());
    let sent: Value = serde_json::from_slice(&fx.server.requests_for(CHAT_PATH)[0].body).unwrap();
    assert_eq!(sent["messages"], conversation);
    assert!(samples::luhn_valid(&samples::card_number(1)));
}

#[test]
fn direct_curl_to_webhook() {
    let fx = Fixture::with_server(ServerOptions::slack_webhook());
    let req = fx.request("m.json", WEBHOOK_PATH, br#"{"text":"hi"}"#);
    let out = direct(&Client::Curl.command(&fx.target(), &req));
    assert!(out.success() && out.stdout.trim() == "ok", "{}{}", out.describe(), fx.server.summary());
    // Other paths keep the default answer.
    let other = fx.request("o.json", paths::UPLOAD, br#"{}"#);
    let out = direct(&Client::Curl.command(&fx.target(), &other));
    assert!(out.stdout.contains("\"ok\":true"), "{}", out.describe());
}

#[test]
fn line_col_detection() {
    assert!(has_line_col("policy reload refused: /tmp/p.yaml:3:17: default_action: unknown variant", 3));
    assert!(has_line_col("refused: /tmp/p.yaml:3:1", 3));
    assert!(!has_line_col("refused: /tmp/p.yaml:13:1: x", 3));
    assert!(!has_line_col("refused: /tmp/p.yaml:3:x", 3));
}
