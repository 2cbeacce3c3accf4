//! End-to-end tests of what operators use: the Prometheus endpoint (scraped while agents run;
//! its counters must match what happened), `egress status`, the review API's permissions,
//! decision binding, `egress review watch` and the review webhook, JSON logs, and an audit
//! chain that verifies after the daemon was SIGKILLed. Root, single-threaded:
//!
//! ```text
//! cargo test -p egress-tests --test operations -- --test-threads=1
//! ```

use std::time::Duration;

use egress_tests::client::{self, CapturedChild, CommandSpec, Launcher};
use egress_tests::metrics::{scrape, value};
use egress_tests::scenario::policy_yaml;
use egress_tests::{Client, Fixture, ReviewCli, Scenario, ServerOptions, require_root, samples};
use serde_json::Value;

const WEBHOOK_PATH: &str = "/services/team/channel/incoming";
const ANNOUNCE_PATH: &str = "/services/reviews/announce";

fn webhook_tool(rules: &str) -> String {
    format!(
        "tools:\n  - name: hook\n    class: notification\n    match: {{ host: localhost, method: POST, path: \"/services/team/*\" }}\n    on_findings: {rules}\n"
    )
}

fn egress(args: &[&str]) -> CommandSpec {
    args.iter().fold(CommandSpec::new(egress_tests::egress_bin()), |spec, arg| spec.arg(arg))
}

/// Runs `egress ARGS` as another user (`setpriv`), to see what the socket's mode allows.
fn egress_as(uid: u32, gid: u32, args: &[&str]) -> CommandSpec {
    let spec = CommandSpec::new("setpriv")
        .arg(format!("--reuid={uid}"))
        .arg(format!("--regid={gid}"))
        .arg("--clear-groups")
        .arg(egress_tests::egress_bin());
    args.iter().fold(spec, |spec, arg| spec.arg(arg))
}

#[test]
fn metrics_and_status_match_what_happened() {
    if !require_root() {
        return;
    }
    let fx = Fixture::with_server(ServerOptions::slack_webhook());
    let target = fx.target();
    let (key_id, secret) = samples::aws_key_pair(7);
    let clean = fx.request("clean.json", WEBHOOK_PATH, br#"{"text":"deploy finished, all green"}"#);
    let leaky_body = format!(r#"{{"text":"use {key_id} / {secret} for the bucket"}}"#);
    let leaky = fx.request("leaky.json", WEBHOOK_PATH, leaky_body.as_bytes());
    let sc = Scenario::start(fx, &policy_yaml(30, &webhook_tool("{ secret: block }")));
    let url = sc.daemon.metrics_url();
    let before = scrape(&url);
    assert_eq!(value(&before, "egress_audit_records_total"), Some(0.0), "{before}");

    let allowed = sc.run(&Client::Curl.command(&target, &clean));
    let blocked = sc.run(&Client::Curl.command(&target, &leaky));
    let ctx = || sc.diag(&[&allowed, &blocked], &[("webhook", &sc.fx.server)]);
    assert!(allowed.success(), "the clean post should pass\n{}", ctx());
    assert!(!blocked.success(), "the post with an AWS key should be blocked\n{}", ctx());
    sc.wait_count(2, |r| r["tool"] == "hook");

    let text = scrape(&url);
    let expect = |series: &str, wanted: f64| {
        assert_eq!(value(&text, series), Some(wanted), "{series} in\n{text}\n{}", ctx());
    };
    let at_least = |series: &str, floor: f64| {
        assert!(
            value(&text, series).is_some_and(|v| v >= floor),
            "{series} should be >= {floor} in\n{text}\n{}",
            ctx()
        );
    };
    expect(r#"egress_requests_inspected_total{action="allow",tool="hook"}"#, 1.0);
    expect(r#"egress_requests_inspected_total{action="block",tool="hook"}"#, 1.0);
    at_least(r#"egress_findings_total{category="secret",detector="aws_access_key_id"}"#, 1.0);
    expect("egress_audit_records_total", 2.0);
    expect("egress_audit_write_failures_total", 0.0);
    expect("egress_held_processes", 0.0);
    expect("egress_review_queue_depth", 0.0);
    // Losses are exported at 0, never left out.
    expect(r#"egress_kernel_events_lost_total{reason="ringbuf_full"}"#, 0.0);
    at_least("egress_hold_duration_seconds_count", 2.0);
    at_least("egress_inspection_duration_seconds_count", 2.0);
    at_least(r#"egress_bytes_inspected_total{direction="request"}"#, (leaky_body.len() + 32) as f64);
    at_least(r#"egress_attached_uprobes{library="libssl.so.3"}"#, 4.0);
    assert!(!text.contains("pid=\""), "no pid labels");

    let status_run = client::run(
        Launcher::Direct,
        &egress(&["status", "--format", "json", "--socket"]).arg(sc.daemon.review_socket()),
    );
    assert!(status_run.success(), "egress status failed\n{}", status_run.describe());
    let status: Value = serde_json::from_str(&status_run.stdout).expect("status is JSON");
    let cgroup = sc.cgroup.path().display().to_string();
    assert_eq!(status["mode"], "enforce", "{status}");
    for program in ["guard_sends", "track_sockets", "refuse_connect4", "sched_process_exec", "ssl_write"] {
        assert!(status["programs"][program].as_u64().is_some_and(|n| n >= 1), "{program} attached: {status}");
    }
    assert_eq!(status["audit"]["seq"], 2, "{status}");
    assert!(
        status["watched_cgroups"].as_array().is_some_and(|all| all.iter().any(|c| c == cgroup.as_str())),
        "{status}"
    );
    assert!(
        status["uprobes"]
            .as_array()
            .is_some_and(|all| all.iter().any(|u| u["file"].as_str().is_some_and(|f| f.ends_with("libssl.so.3")))),
        "{status}"
    );
    let text_run = client::run(Launcher::Direct, &egress(&["status", "--socket"]).arg(sc.daemon.review_socket()));
    assert!(
        text_run.stdout.contains("mode          enforce, fail_mode open") && text_run.stdout.contains(&cgroup),
        "egress status text\n{}",
        text_run.describe()
    );
}

#[test]
fn review_api_permissions_binding_watch_and_webhook() {
    if !require_root() {
        return;
    }
    let fx = Fixture::with_server(ServerOptions::slack_webhook());
    let announcements = fx.start_server(ServerOptions::slack_webhook());
    let target = fx.target();
    let announce_url = fx.target_of(&announcements).url(ANNOUNCE_PATH);
    let email = samples::EMAIL;
    let body = format!(r#"{{"text":"call back {email} today"}}"#);
    let request = fx.request("message.json", WEBHOOK_PATH, body.as_bytes());
    let policy = format!("review_webhook: \"{announce_url}\"\n{}", webhook_tool("{ pii: review }"));
    let ca = fx.certs.ca_path().to_path_buf();
    // Reviewers are the members of `nogroup`; the webhook's server is trusted through SSL_CERT_FILE.
    let sc = Scenario::start_with(fx, &policy_yaml(60, &policy), |options| {
        options.extra(&["--api-group", "nogroup"]).env("SSL_CERT_FILE", &ca)
    });
    let socket = sc.daemon.review_socket();
    let socket_arg = socket.display().to_string();
    let reviews = ReviewCli::new(&socket);
    let mut watch = CapturedChild::spawn(Launcher::Direct.prepare(&egress(&[
        "review",
        "watch",
        "--interval",
        "0.2",
        "--socket",
        &socket_arg,
    ])));
    let curl = sc.spawn(&Client::Curl.command(&target, &request));
    let pending = reviews
        .wait_for(Duration::from_secs(20), |e| e["path"] == WEBHOOK_PATH)
        .unwrap_or_else(|e| panic!("no pending review\n{e}\n{}", sc.diag(&[], &[])));
    let id = pending.entry["id"].as_u64().expect("numeric id");
    let ctx = || sc.diag(&[], &[("webhook", &sc.fx.server)]);

    // Other users may not use the socket; members of its group may.
    let stranger = client::run(Launcher::Direct, &egress_as(1000, 1000, &["review", "list", "--socket", &socket_arg]));
    assert!(
        stranger.code() == Some(1) && stranger.stderr.contains("Permission denied"),
        "uid 1000 should get permission denied\n{}{}",
        stranger.describe(),
        ctx()
    );
    let member = client::run(Launcher::Direct, &egress_as(65534, 65534, &["review", "list", "--socket", &socket_arg]));
    assert!(
        member.success() && member.stdout.contains(WEBHOOK_PATH),
        "a nogroup member may list\n{}{}",
        member.describe(),
        ctx()
    );

    // A reviewer who asks sees the body with the finding masked, never the address itself.
    let shown = client::run(Launcher::Direct, &egress(&["review", "show", &id.to_string(), "--socket", &socket_arg]));
    let masked = "*".repeat(email.len());
    assert!(
        shown.success() && shown.stdout.contains(&format!("call back {masked} today")) && !shown.stdout.contains(email),
        "egress review show should print the body with the e-mail masked\n{}{}",
        shown.describe(),
        ctx()
    );

    // A decision bound to another body is refused; the request stays held.
    let id_arg = id.to_string();
    let wrong = client::run(
        Launcher::Direct,
        &egress(&["review", "approve", &id_arg, "--body-sha256", &"0".repeat(64), "--socket", &socket_arg]),
    );
    assert_eq!(wrong.code(), Some(1), "a decision for another digest must be refused\n{}{}", wrong.describe(), ctx());
    assert!(
        reviews.list().1.is_some_and(|all| all.iter().any(|e| e["id"] == id)),
        "still pending after a refused decision{}",
        ctx()
    );
    let digest = pending.entry["body_sha256"].as_str().expect("digest listed").to_owned();
    let version = pending.entry["policy_version"].as_str().expect("version listed").to_owned();
    let right = client::run(
        Launcher::Direct,
        &egress(&[
            "review",
            "approve",
            &id_arg,
            "--body-sha256",
            &digest,
            "--policy-version",
            &version,
            "--socket",
            &socket_arg,
        ]),
    );
    assert!(right.success(), "the bound approval should be accepted\n{}{}", right.describe(), ctx());
    let out = curl.finish(Duration::from_secs(30));
    assert!(out.success(), "curl should pass after approval\n{}{}", out.describe(), ctx());

    // The watch saw it come and go.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let left = format!("- {id} left the queue");
    while !watch.stdout_so_far().contains(&left) && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let watched = watch.stdout_so_far();
    assert!(
        watched.contains(&format!("+ {id} tool hook localhost {WEBHOOK_PATH}")) && watched.contains(&left),
        "egress review watch should print the arrival and the departure of review {id}:\n{watched}{}",
        ctx()
    );

    watch.kill();

    // The webhook announced it, without the address itself.
    let announced = announcements
        .wait_for_request(ANNOUNCE_PATH, Duration::from_secs(10))
        .unwrap_or_else(|| panic!("the review webhook got nothing\n{}{}", announcements.summary(), ctx()));
    let payload: Value = serde_json::from_slice(&announced.body).expect("the announcement is JSON");
    assert_eq!(payload["review"]["id"], id, "{payload}");
    assert!(payload["text"].as_str().is_some_and(|t| t.contains(&format!("review {id}"))), "{payload}");
    assert!(!String::from_utf8_lossy(&announced.body).contains(email), "the announcement must not carry the e-mail");

    let metrics = scrape(&sc.daemon.metrics_url());
    assert_eq!(value(&metrics, r#"egress_review_decisions_total{decision="approved"}"#), Some(1.0), "{metrics}");
    let record = sc.one_record("approved review", |r| r["path"] == WEBHOOK_PATH, &ctx);
    assert_eq!(record["review"]["by_uid"], 0, "{record}");
}

#[test]
fn a_sigkilled_daemon_leaves_a_chain_that_verifies_and_json_logs() {
    if !require_root() {
        return;
    }
    let fx = Fixture::with_server(ServerOptions::slack_webhook());
    let target = fx.target();
    let request = fx.request("clean.json", WEBHOOK_PATH, br#"{"text":"nightly build ok"}"#);
    let mut sc = Scenario::start_with(fx, &policy_yaml(30, &webhook_tool("{ secret: block }")), |options| {
        options.extra(&["--log-format", "json"])
    });
    for _ in 0..3 {
        let out = sc.run(&Client::Curl.command(&target, &request));
        assert!(out.success(), "{}", out.describe());
    }
    assert_eq!(sc.wait_count(3, |r| r["tool"] == "hook").len(), 3, "three records before the kill");
    sc.daemon.kill9();

    let verify = client::run(Launcher::Direct, &egress(&["audit", "verify"]).arg(&sc.audit));
    assert!(
        verify.success() && verify.stdout.contains("intact: 3 records"),
        "the chain of a SIGKILLed daemon should verify up to its last record\n{}",
        verify.describe()
    );

    // Every line the daemon logged is one JSON object with a level and a message.
    let output = sc.daemon.output();
    let lines: Vec<&str> = output.lines().filter(|l| !l.starts_with("---")).collect();
    assert!(!lines.is_empty());
    for line in &lines {
        let parsed: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert!(parsed["level"].is_string() && parsed["message"].is_string(), "{line}");
    }
    assert!(lines.iter().any(|l| l.contains("\"message\":\"ready:")), "a JSON `ready:` line\n{output}");
}
