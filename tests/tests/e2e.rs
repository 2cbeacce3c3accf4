//! End-to-end tests of the `egress` binary with real TLS clients, as root, against the
//! real kernel. Run single-threaded:
//!
//! ```text
//! cargo test -p egress-tests --test e2e -- --test-threads=1
//! ```
//!
//! Binary: `$EGRESS_BIN`, default `<workspace>/target/release/egress`. Python clients use
//! `$EGRESS_TEST_PYTHON`, default `<workspace>/.venv/bin/python` (with `openai` and `httpx`).

use std::path::Path;
use std::time::Duration;

use egress_tests::audit::{Expect, audit_text, check_record, format_records, records_for_path};
use egress_tests::client::{self, CapturedChild, ClientRequest, Launcher, RunOutput, Target};
use egress_tests::policy::paths;
use egress_tests::proc::{process_state, wait_for_state};
use egress_tests::server::RecordedRequest;
use egress_tests::{
    CgroupGuard, Client, DaemonOptions, EgressDaemon, Fixture, PolicySpec, TestServer, json_body, require_root,
    sha256_hex, unique_name, wait_for_audit,
};
use serde_json::Value;

/// How long to wait for an audit record to appear after the client finished.
const AUDIT_WAIT: Duration = Duration::from_secs(10);

/// Everything a failure message needs: client output, daemon output, audit log, server.
fn diag(fx: &Fixture, audit: &Path, out: Option<&RunOutput>, daemon: Option<&EgressDaemon>) -> String {
    let mut s = String::new();
    if let Some(o) = out {
        s.push_str("\n=== client (under `egress run`, its stderr holds egress's too) ===\n");
        s.push_str(&o.describe());
    }
    if let Some(d) = daemon {
        s.push_str("\n=== daemon ===\n");
        s.push_str(&d.output());
    }
    s.push_str("\n=== audit ===\n");
    s.push_str(&audit_text(audit));
    s.push_str("\n=== server ===\n");
    s.push_str(&fx.server.summary());
    s
}

/// The request a client makes in a test: for the SDK the fixed chat path and a message
/// text holding `marker`; for the others `path` and a JSON body of `len` bytes holding it.
fn make_request(fx: &Fixture, c: Client, path: &str, marker: &str, len: usize) -> ClientRequest {
    match c.fixed_path() {
        Some(p) => fx.request("message.txt", p, format!("Say hello to the test server. ({marker})").as_bytes()),
        None => fx.request("body.json", path, &json_body(len, marker, len as u64)),
    }
}

/// The body the server must receive for `req` from `c`, if the test knows it in advance.
fn expected_server_body(c: Client, req: &ClientRequest) -> Option<Vec<u8>> {
    c.sends_file_verbatim().then(|| std::fs::read(&req.body_file).expect("read body file"))
}

/// Asserts the server got exactly one complete request for `path` (with the exact body
/// if known) and returns it.
fn assert_server_got_once(fx: &Fixture, c: Client, req: &ClientRequest, ctx: &dyn Fn() -> String) -> RecordedRequest {
    let reqs = fx.server.requests_for(&req.path);
    assert_eq!(reqs.len(), 1, "{}: the server should have exactly one request for {}\n{}", c.name(), req.path, ctx());
    let r = reqs.into_iter().next().unwrap();
    assert!(r.body_complete, "{}: the server got an incomplete body for {}\n{}", c.name(), req.path, ctx());
    assert_eq!(r.method, "POST");
    if let Some(body) = expected_server_body(c, req) {
        assert!(
            r.body == body,
            "{}: the server got a different body for {} ({} bytes, sha256 {}; sent {} bytes, sha256 {})\n{}",
            c.name(),
            req.path,
            r.body.len(),
            r.body_sha256,
            body.len(),
            sha256_hex(&body),
            ctx()
        );
    } else {
        let v: Value = serde_json::from_slice(&r.body)
            .unwrap_or_else(|e| panic!("{}: SDK request body is not JSON: {e}\n{}", c.name(), ctx()));
        let sent = std::fs::read_to_string(&req.body_file).unwrap();
        assert_eq!(
            v["messages"][0]["content"].as_str(),
            Some(sent.as_str()),
            "{}: the SDK request does not carry the message\n{}",
            c.name(),
            ctx()
        );
    }
    r
}

/// Asserts the server received nothing of a request for `path`: no request recorded,
/// at least one new connection (the client got as far as TLS), and zero application
/// bytes on every connection accepted after the first `conns_before`.
fn assert_server_got_nothing(
    server: &TestServer,
    path: &str,
    conns_before: usize,
    what: &str,
    ctx: &dyn Fn() -> String,
) {
    server.wait_connections_closed(conns_before, Duration::from_secs(5));
    let reqs = server.requests_for(path);
    assert!(
        reqs.is_empty(),
        "{what}: the server received {} request(s) for {path}, expected none\n{}",
        reqs.len(),
        ctx()
    );
    let conns = server.connections_since(conns_before);
    assert!(!conns.is_empty(), "{what}: the client never connected (a TLS-layer block needs a connection)\n{}", ctx());
    for c in &conns {
        assert_eq!(
            c.plaintext_bytes,
            0,
            "{what}: connection #{} from {} carried {} plaintext bytes, expected 0\n{}",
            c.id,
            c.peer,
            c.plaintext_bytes,
            ctx()
        );
    }
}

/// Waits for the records for `path` and asserts there is exactly one; returns it.
fn one_record_for(audit: &Path, path: &str, what: &str, ctx: &dyn Fn() -> String) -> Value {
    let records = wait_for_audit(audit, AUDIT_WAIT, |r| r["path"] == path);
    let mine = records_for_path(&records, path);
    assert_eq!(
        mine.len(),
        1,
        "{what}: expected exactly one audit record for {path}, found {}:\n{}{}",
        mine.len(),
        format_records(&records),
        ctx()
    );
    mine[0].clone()
}

fn assert_record(rec: &Value, e: &Expect, what: &str, ctx: &dyn Fn() -> String) {
    let problems = check_record(rec, e);
    assert!(
        problems.is_empty(),
        "{what}: audit record is wrong:\n  - {}\nrecord: {rec}\n{}",
        problems.join("\n  - "),
        ctx()
    );
}

/// The audit log must never hold the raw body.
fn assert_no_raw_body(audit: &Path, marker: &str, what: &str) {
    let text = std::fs::read_to_string(audit).unwrap_or_default();
    assert!(!text.contains(marker), "{what}: the audit log holds the request body (found {marker:?}):\n{text}");
}

fn expect(method: &str, path: &str, tool: &str, action: &str, mode: &str, port: u16) -> Expect {
    Expect {
        method: Some(method.into()),
        path: Some(path.into()),
        host: Some("localhost".into()),
        tool: Some(Some(tool.into())),
        action: Some(action.into()),
        enforced: Some(mode == "enforce"),
        mode: Some(mode.into()),
        peer: Some(format!("127.0.0.1:{port}")),
        ..Default::default()
    }
}

// ---------------------------------------------------------------------------------------
// Allowed requests under `egress run --mode enforce`.

fn allowed_under_run(c: Client) {
    let fx = Fixture::new();
    let spec = PolicySpec::standard().mode("enforce");
    let policy = spec.write(fx.dir(), "policy.yaml");
    let audit = fx.path("audit.jsonl");
    let marker = unique_name("allowed-body-marker");
    let req = make_request(&fx, c, paths::UPLOAD, &marker, 2000);
    let tool = spec.tool_for(&req.path).expect("tool").name.clone();
    let launcher = Launcher::EgressRun { policy: &policy, mode: "enforce", audit: &audit };
    let out = client::run(launcher, &c.command(&fx.target(), &req));
    let ctx = || diag(&fx, &audit, Some(&out), None);
    let what = format!("{} to allowed {} (egress run, enforce)", c.name(), req.path);

    assert!(out.success(), "{what}: the client failed\n{}", ctx());
    assert!(
        out.stdout.contains(c.success_marker()),
        "{what}: the client's stdout lacks {:?}\n{}",
        c.success_marker(),
        ctx()
    );
    let got = assert_server_got_once(&fx, c, &req, &ctx);

    let rec = one_record_for(&audit, &req.path, &what, &ctx);
    let e = Expect {
        body: Some(got.body.clone()),
        ..expect("POST", &req.path, &tool, "allow", "enforce", fx.server.port())
    };
    assert_record(&rec, &e, &what, &ctx);
    assert_no_raw_body(&audit, &marker, &what);
}

#[test]
fn allowed_curl() {
    if !require_root() {
        return;
    }
    allowed_under_run(Client::Curl);
}

#[test]
fn allowed_httpx() {
    if !require_root() {
        return;
    }
    allowed_under_run(Client::Httpx);
}

#[test]
fn allowed_openai_sdk() {
    if !require_root() {
        return;
    }
    allowed_under_run(Client::OpenAi);
}

#[test]
fn allowed_node_fetch() {
    if !require_root() {
        return;
    }
    allowed_under_run(Client::NodeFetch);
}

// ---------------------------------------------------------------------------------------
// Blocked requests under `egress run --mode enforce`.

fn blocked_under_run(c: Client) {
    let fx = Fixture::new();
    // `files` blocks /v1/files*; for the SDK, block the chat tool it calls.
    let spec = PolicySpec::standard().mode("enforce").tool_action("chat", "block");
    let policy = spec.write(fx.dir(), "policy.yaml");
    let audit = fx.path("audit.jsonl");
    let marker = unique_name("blocked-body-marker");
    let req = make_request(&fx, c, paths::FILES, &marker, 2000);
    let tool = spec.tool_for(&req.path).expect("tool").name.clone();
    let launcher = Launcher::EgressRun { policy: &policy, mode: "enforce", audit: &audit };
    let conns_before = fx.server.connections().len();
    let out = client::run(launcher, &c.command(&fx.target(), &req));
    let ctx = || diag(&fx, &audit, Some(&out), None);
    let what = format!("{} to blocked {} (egress run, enforce)", c.name(), req.path);

    assert!(
        out.code().is_some_and(|code| code != 0),
        "{what}: the client should fail with a non-zero exit code (its TLS write fails)\n{}",
        ctx()
    );
    assert_server_got_nothing(&fx.server, &req.path, conns_before, &what, &ctx);

    let rec = one_record_for(&audit, &req.path, &what, &ctx);
    let e = expect("POST", &req.path, &tool, "block", "enforce", fx.server.port());
    assert_record(&rec, &e, &what, &ctx);
    assert_no_raw_body(&audit, &marker, &what);
}

#[test]
fn blocked_curl() {
    if !require_root() {
        return;
    }
    blocked_under_run(Client::Curl);
}

#[test]
fn blocked_httpx() {
    if !require_root() {
        return;
    }
    blocked_under_run(Client::Httpx);
}

#[test]
fn blocked_openai_sdk() {
    if !require_root() {
        return;
    }
    blocked_under_run(Client::OpenAi);
}

#[test]
fn blocked_node_fetch() {
    if !require_root() {
        return;
    }
    blocked_under_run(Client::NodeFetch);
}

// ---------------------------------------------------------------------------------------

#[test]
fn monitor_mode_never_blocks() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new();
    let spec = PolicySpec::standard().mode("monitor");
    let policy = spec.write(fx.dir(), "policy.yaml");
    let audit = fx.path("audit.jsonl");
    let c = Client::Curl;
    let req = make_request(&fx, c, paths::FILES, &unique_name("monitor-marker"), 2000);
    let launcher = Launcher::EgressRun { policy: &policy, mode: "monitor", audit: &audit };
    let out = client::run(launcher, &c.command(&fx.target(), &req));
    let ctx = || diag(&fx, &audit, Some(&out), None);
    let what = "curl to blocked /v1/files (egress run, monitor)";

    assert!(out.success(), "{what}: monitor mode must not block\n{}", ctx());
    let got = assert_server_got_once(&fx, c, &req, &ctx);
    let rec = one_record_for(&audit, &req.path, what, &ctx);
    let e = Expect { body: Some(got.body), ..expect("POST", &req.path, "files", "block", "monitor", fx.server.port()) };
    assert_record(&rec, &e, what, &ctx);
}

#[test]
fn only_the_watched_cgroup_is_inspected() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new();
    let policy = PolicySpec::standard().mode("enforce").write(fx.dir(), "policy.yaml");
    let audit = fx.path("audit.jsonl");
    let cg = CgroupGuard::new();
    let mut daemon = EgressDaemon::start(&DaemonOptions::new(cg.path()).policy(&policy).mode("enforce").audit(&audit));
    let c = Client::Curl;
    let target = fx.target();

    // Outside the watched cgroup: not inspected, not blocked.
    let outside_req = fx.request("outside.json", paths::FILES, &json_body(500, &unique_name("outside"), 1));
    let outside = client::run(Launcher::Direct, &c.command(&target, &outside_req));
    {
        let ctx = || diag(&fx, &audit, Some(&outside), Some(&daemon));
        assert!(outside.success(), "curl outside the watched cgroup to {} should succeed\n{}", paths::FILES, ctx());
        assert_server_got_once(&fx, c, &outside_req, &ctx);
    }

    // Inside: blocked and audited.
    let inside_req = fx.request("inside.json", paths::FILES, &json_body(500, &unique_name("inside"), 2));
    let conns_before = fx.server.connections().len();
    let inside = client::run(Launcher::Cgroup(&cg), &c.command(&target, &inside_req));
    let ctx = || {
        format!("\n=== outside client ===\n{}{}", outside.describe(), diag(&fx, &audit, Some(&inside), Some(&daemon)))
    };
    let what = "curl inside the watched cgroup to /v1/files (daemon, enforce)";
    assert!(inside.code().is_some_and(|code| code != 0), "{what}: should fail\n{}", ctx());
    let reqs = fx.server.requests_for(paths::FILES);
    assert_eq!(reqs.len(), 1, "{what}: the server should only have the outside request\n{}", ctx());
    let conns = fx.server.connections_since(conns_before);
    assert!(
        !conns.is_empty() && conns.iter().all(|c| c.plaintext_bytes == 0),
        "{what}: the blocked connection must carry no plaintext\n{}",
        ctx()
    );

    let records = wait_for_audit(&audit, AUDIT_WAIT, |r| r["path"] == paths::FILES && r["pid"] == inside.pid);
    let mine = records_for_path(&records, paths::FILES);
    assert_eq!(
        mine.len(),
        1,
        "{what}: expected one audit record (the inside curl, pid {}), and none for the \
         outside curl (pid {}):\n{}{}",
        inside.pid,
        outside.pid,
        format_records(&records),
        ctx()
    );
    let e = Expect {
        pid: Some(inside.pid),
        cgroup: Some(cg.relative().into()),
        ..expect("POST", paths::FILES, "files", "block", "enforce", fx.server.port())
    };
    assert_record(mine[0], &e, what, &ctx);

    let status = daemon.stop();
    assert!(status.success(), "egress daemon should exit 0 on SIGTERM, got {status:?}\n{}", daemon.output());
}

// ---------------------------------------------------------------------------------------
// Big bodies.

fn big_body_enforce(c: Client) {
    let fx = Fixture::new();
    let spec = PolicySpec::standard().mode("enforce");
    let policy = spec.write(fx.dir(), "policy.yaml");
    let audit = fx.path("audit.jsonl");
    let req = make_request(&fx, c, paths::UPLOAD, &unique_name("big"), 4 << 20);
    let launcher = Launcher::EgressRun { policy: &policy, mode: "enforce", audit: &audit };
    let out = client::run(launcher, &c.command(&fx.target(), &req));
    let ctx = || diag(&fx, &audit, Some(&out), None);
    let what = format!("{} with a 4 MiB body (egress run, enforce)", c.name());

    assert!(out.success(), "{what}: the client failed\n{}", ctx());
    let got = assert_server_got_once(&fx, c, &req, &ctx);
    assert_eq!(got.body.len(), 4 << 20);
    let rec = one_record_for(&audit, &req.path, &what, &ctx);
    let e =
        Expect { body: Some(got.body), ..expect("POST", &req.path, "upload", "allow", "enforce", fx.server.port()) };
    assert_record(&rec, &e, &what, &ctx);
}

#[test]
fn big_body_enforce_curl() {
    if !require_root() {
        return;
    }
    big_body_enforce(Client::Curl);
}

#[test]
fn big_body_enforce_httpx() {
    if !require_root() {
        return;
    }
    big_body_enforce(Client::Httpx);
}

/// Monitor mode copies at most `capture_max_bytes` of one write; a bigger payload is
/// marked truncated, never reported whole. httpx hands the whole 1 MiB body to one
/// `SSL_write` (curl would write it in 64 KiB pieces, none over the cap).
#[test]
fn monitor_mode_truncation_is_reported() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new();
    let spec = PolicySpec::standard().mode("monitor").capture_max_bytes(65536);
    let policy = spec.write(fx.dir(), "policy.yaml");
    let audit = fx.path("audit.jsonl");
    let c = Client::Httpx;
    let req = make_request(&fx, c, paths::UPLOAD, &unique_name("trunc"), 1 << 20);
    let launcher = Launcher::EgressRun { policy: &policy, mode: "monitor", audit: &audit };
    let out = client::run(launcher, &c.command(&fx.target(), &req));
    let ctx = || diag(&fx, &audit, Some(&out), None);
    let what = "httpx with a 1 MiB body, capture_max_bytes 65536 (egress run, monitor)";

    assert!(out.success(), "{what}: the client failed\n{}", ctx());
    let got = assert_server_got_once(&fx, c, &req, &ctx);
    let rec = one_record_for(&audit, &req.path, what, &ctx);
    let e =
        Expect { truncated: Some(true), ..expect("POST", &req.path, "upload", "allow", "monitor", fx.server.port()) };
    assert_record(&rec, &e, what, &ctx);
    // Truncated means not passed off as whole: no sha256 of the whole body.
    assert_ne!(
        rec["body_sha256"].as_str(),
        Some(sha256_hex(&got.body).as_str()),
        "{what}: a truncated record carries the whole body's sha256\n{}",
        ctx()
    );
}

// ---------------------------------------------------------------------------------------

#[test]
fn deny_destinations_refuses_connect() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new();
    let denied_server = TestServer::start_on(&fx.certs, "127.0.0.9".parse().unwrap());
    let denied = Target::new("127.0.0.9", denied_server.port(), fx.certs.ca_path());
    let policy = PolicySpec::standard().mode("enforce").deny("127.0.0.9").write(fx.dir(), "policy.yaml");
    let audit = fx.path("audit.jsonl");

    // Without egress the destination is reachable.
    let plain = client::run(Launcher::Direct, &client::curl_get(&denied, "/"));
    assert!(
        plain.success(),
        "curl to https://127.0.0.9:{}/ without egress should succeed\n{}{}",
        denied_server.port(),
        plain.describe(),
        denied_server.summary()
    );
    let conns_before = denied_server.connections().len();
    assert_eq!(conns_before, 1, "{}", denied_server.summary());

    let cg = CgroupGuard::new();
    let mut daemon = EgressDaemon::start(&DaemonOptions::new(cg.path()).policy(&policy).mode("enforce").audit(&audit));
    let out = client::run(Launcher::Cgroup(&cg), &client::curl_get(&denied, "/"));
    let ctx = || {
        format!("{}\n=== denied server ===\n{}", diag(&fx, &audit, Some(&out), Some(&daemon)), denied_server.summary())
    };
    assert_eq!(
        out.code(),
        Some(7),
        "curl in the watched cgroup to denied 127.0.0.9 should fail to connect (exit 7)\n{}",
        ctx()
    );
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(
        denied_server.connections().len(),
        conns_before,
        "the denied server must see no connection from the watched cgroup\n{}",
        ctx()
    );

    // Other destinations stay reachable from the cgroup.
    let ok = client::run(Launcher::Cgroup(&cg), &client::curl_get(&fx.target(), "/"));
    assert!(
        ok.success(),
        "curl in the watched cgroup to https://localhost:{}/ (not denied) should succeed\n{}{}",
        fx.server.port(),
        ok.describe(),
        ctx()
    );

    let status = daemon.stop();
    assert!(status.success(), "egress daemon should exit 0 on SIGTERM, got {status:?}\n{}", daemon.output());
}

// ---------------------------------------------------------------------------------------
// Fail modes: the daemon dies while an agent is held.

fn fail_mode(mode: &str) {
    let fx = Fixture::new();
    let policy = PolicySpec::standard().mode("enforce").fail_mode(mode).write(fx.dir(), "policy.yaml");
    let audit = fx.path("audit.jsonl");
    let trigger = fx.path("trigger");
    let cg = CgroupGuard::new();
    let mut daemon = EgressDaemon::start(&DaemonOptions::new(cg.path()).policy(&policy).mode("enforce").audit(&audit));
    let what = format!("fail_mode {mode}");
    let spec = client::held_agent(&fx.target(), paths::AGENT_STEP1, paths::AGENT_STEP2, &trigger);
    let mut agent = CapturedChild::spawn(Launcher::Cgroup(&cg).prepare(&spec));
    let pid = agent.pid() as i32;

    // Request 1 goes through the daemon.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !(agent.stdout_so_far().contains("request1 ok") && !fx.server.requests_for(paths::AGENT_STEP1).is_empty()) {
        if std::time::Instant::now() >= deadline || agent.wait_timeout(Duration::ZERO).is_some() {
            panic!(
                "{what}: the agent's request 1 did not complete\n=== agent ===\n{}{}",
                agent.describe_so_far(),
                diag(&fx, &audit, None, Some(&daemon))
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }

    // Freeze the daemon, let the agent write request 2: it must be held.
    daemon.sigstop();
    assert!(wait_for_state(daemon.pid(), 'T', Duration::from_secs(5)), "{what}: the daemon did not stop on SIGSTOP");
    let conns_before = fx.server.connections().len();
    std::fs::write(&trigger, b"go").expect("write trigger");
    if !wait_for_state(pid, 'T', Duration::from_secs(10)) {
        panic!(
            "{what}: the agent (pid {pid}) was not held (state {:?}) within 10 s of request 2\n\
             === agent ===\n{}{}",
            process_state(pid),
            agent.describe_so_far(),
            diag(&fx, &audit, None, Some(&daemon))
        );
    }

    // The daemon dies while the agent is held.
    daemon.kill9();
    std::thread::sleep(Duration::from_secs(5));
    let stopped = cg.stopped_procs();
    assert!(
        stopped.is_empty(),
        "{what}: 5 s after the daemon died, processes of the cgroup are still stopped: {stopped:?}\n\
         === agent ===\n{}{}",
        agent.describe_so_far(),
        diag(&fx, &audit, None, Some(&daemon))
    );

    let out = agent.finish(Duration::from_secs(30));
    let ctx = || format!("\n=== agent ===\n{}{}", out.describe(), diag(&fx, &audit, None, Some(&daemon)));
    match mode {
        "open" => {
            assert_eq!(
                out.code(),
                Some(0),
                "{what}: the agent should be resumed and its request 2 succeed (exit 0)\n{}",
                ctx()
            );
            let r = fx.server.requests_for(paths::AGENT_STEP2);
            assert!(
                r.len() == 1 && r[0].body == br#"{"step":2}"#,
                "{what}: request 2 should reach the server\n{}",
                ctx()
            );
        }
        "closed" => {
            assert_eq!(out.code(), Some(3), "{what}: the agent's request 2 should fail (exit 3)\n{}", ctx());
            assert_server_got_nothing(&fx.server, paths::AGENT_STEP2, conns_before, &what, &ctx);
        }
        other => unreachable!("fail mode {other}"),
    }

    // `rm -rf /sys/fs/bpf/egress/<instance>` (drop does it too).
    daemon.remove_pins();
    assert!(!daemon.pin_dir().exists(), "could not remove {}", daemon.pin_dir().display());
}

#[test]
fn fail_open_resumes_held_agent() {
    if !require_root() {
        return;
    }
    fail_mode("open");
}

#[test]
fn fail_closed_fails_held_agent() {
    if !require_root() {
        return;
    }
    fail_mode("closed");
}

// ---------------------------------------------------------------------------------------

/// `egress policy check` (no root needed): a valid file exits 0; broken ones print
/// `FILE:LINE:COL: key.path: message` and exit 1.
#[test]
fn policy_check_reports_line_and_column() {
    let dir = tempfile::tempdir().expect("temp dir");
    let bin = egress_tests::egress_bin();
    let check = |file: &Path| -> RunOutput {
        let spec = client::CommandSpec::new(&bin).arg("policy").arg("check").arg(file);
        client::run(Launcher::Direct, &spec)
    };

    let good = PolicySpec::standard().deny("127.0.0.9").deny("203.0.113.0/24").write(dir.path(), "good.yaml");
    let out = check(&good);
    assert!(
        out.success(),
        "policy check of a valid policy should exit 0\n--- policy ---\n{}\n{}",
        std::fs::read_to_string(&good).unwrap(),
        out.describe()
    );

    struct BadPolicy {
        name: &'static str,
        text: &'static str,
        /// Line of the error.
        line: u32,
        /// Columns accepted: the key's or the value's.
        cols: &'static [u32],
        /// Words the key path must contain.
        keys: &'static [&'static str],
    }
    let cases = [
        BadPolicy {
            name: "bad-default.yaml",
            text: "version: 1\nmode: enforce\ndefault_action: maybe\nfail_mode: open\ntools: []\n",
            line: 3,
            cols: &[1, 17],
            keys: &["default_action"],
        },
        BadPolicy {
            name: "bad-tool-action.yaml",
            text: "version: 1\n\
                   mode: enforce\n\
                   default_action: alert\n\
                   fail_mode: open\n\
                   tools:\n\
                   \x20 - name: chat\n\
                   \x20   match: { host: localhost, method: POST, path: /v1/chat/completions }\n\
                   \x20   action: explode\n",
            line: 8,
            cols: &[5, 13],
            keys: &["tools", "action"],
        },
    ];
    for BadPolicy { name, text, line, cols, keys } in cases {
        let file = dir.path().join(name);
        std::fs::write(&file, text).unwrap();
        let out = check(&file);
        let all = format!("{}{}", out.stdout, out.stderr);
        let prefix = format!("{}:", file.display());
        let hit = all.lines().find_map(|l| {
            let rest = l.trim_start().strip_prefix(&prefix)?;
            let mut parts = rest.splitn(3, ':');
            let ln: u32 = parts.next()?.trim().parse().ok()?;
            let col: u32 = parts.next()?.trim().parse().ok()?;
            Some((ln, col, parts.next().unwrap_or("").to_string(), l.to_string()))
        });
        let Some((ln, col, rest, whole)) = hit else {
            panic!(
                "policy check {name}: no `FILE:LINE:COL: key.path: message` line for {}\n{}",
                file.display(),
                out.describe()
            );
        };
        assert_eq!(ln, line, "policy check {name}: wrong line in `{whole}`\n--- policy ---\n{text}");
        assert!(
            cols.contains(&col),
            "policy check {name}: column should be {cols:?} (1-based, the key's or the value's): `{whole}`"
        );
        let key_path = rest.trim_start().split(": ").next().unwrap_or("");
        for k in keys {
            assert!(key_path.contains(k), "policy check {name}: key path should name `{k}`: `{whole}`");
        }
        assert_eq!(out.code(), Some(1), "policy check {name}: should exit 1\n{}", out.describe());
    }
}

// ---------------------------------------------------------------------------------------
// A TLS library the daemon has never seen.

/// The system's OpenSSL, copied so the agent maps a file (inode) egress has never attached to.
const SYSTEM_LIBSSL: &str = "/usr/lib/x86_64-linux-gnu/libssl.so.3";

#[test]
fn a_libssl_never_seen_before_is_attached_before_its_first_write() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new();
    let spec = PolicySpec::standard().mode("enforce");
    let policy = spec.write(fx.dir(), "policy.yaml");
    let audit = fx.path("audit.jsonl");
    let libdir = fx.path("fresh-libssl");
    std::fs::create_dir_all(&libdir).expect("create the library directory");
    let fresh = libdir.join("libssl.so.3");
    std::fs::copy(SYSTEM_LIBSSL, &fresh).unwrap_or_else(|e| panic!("copy {SYSTEM_LIBSSL}: {e}"));
    let marker = unique_name("fresh-libssl-marker");
    let req = make_request(&fx, Client::Curl, paths::FILES, &marker, 100);
    let command = Client::Curl.command(&fx.target(), &req).env("LD_LIBRARY_PATH", &libdir);
    let launcher = Launcher::EgressRun { policy: &policy, mode: "enforce", audit: &audit };
    let conns_before = fx.server.connections().len();
    let out = client::run(launcher, &command);
    let ctx = || diag(&fx, &audit, Some(&out), None);
    let what = format!("curl loading a fresh copy of libssl ({}) to blocked {}", fresh.display(), req.path);

    assert!(out.code().is_some_and(|code| code != 0), "{what}: the client should fail\n{}", ctx());
    assert_server_got_nothing(&fx.server, &req.path, conns_before, &what, &ctx);
    let rec = one_record_for(&audit, &req.path, &what, &ctx);
    assert_eq!(
        rec["tls_library"].as_str(),
        Some(fresh.display().to_string().as_str()),
        "{what}: the record names the copy the probes were attached to\n{}",
        ctx()
    );
}
