//! A watched agent's world for the action tests: a fixture (temp dir, certificates, a
//! server), a policy file written by the test, a child cgroup, and `egress daemon` watching
//! it in enforce mode with its own audit log. Clients run inside the cgroup.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;

use crate::audit::{audit_text, format_records, read_audit, wait_for_audit};
use crate::cgroup::CgroupGuard;
use crate::client::{self, CapturedChild, CommandSpec, Launcher, RunOutput};
use crate::daemon::{DaemonOptions, EgressDaemon};
use crate::fixture::Fixture;
use crate::server::TestServer;

/// How long to wait for an audit record after the client finished.
pub const AUDIT_WAIT: Duration = Duration::from_secs(10);

/// The head of a test policy: version 1, enforce, `default_action: allow`, `fail_mode:
/// open`, `review_timeout` seconds; `rest` (tools, sources, ...) follows as written.
pub fn policy_yaml(review_timeout: u32, rest: &str) -> String {
    format!(
        "version: 1\nmode: enforce\ndefault_action: allow\nfail_mode: open\nreview_timeout: {review_timeout}\n{rest}"
    )
}

/// Fields drop in order: the daemon stops (resuming anything it holds) before the cgroup's
/// processes are killed and the cgroup removed, and both before the fixture's server.
pub struct Scenario {
    pub daemon: EgressDaemon,
    pub cgroup: CgroupGuard,
    pub fx: Fixture,
    pub policy: PathBuf,
    pub audit: PathBuf,
}

impl Scenario {
    /// Writes `policy_text` to `<fixture dir>/policy.yaml` and starts `egress daemon` on a new
    /// child cgroup with it (mode enforce, audit `<fixture dir>/audit.jsonl`).
    pub fn start(fx: Fixture, policy_text: &str) -> Self {
        Self::start_with(fx, policy_text, |options| options)
    }

    /// Like [`Scenario::start`], with the daemon's options adjusted by `configure`.
    pub fn start_with(fx: Fixture, policy_text: &str, configure: impl FnOnce(DaemonOptions) -> DaemonOptions) -> Self {
        let policy = fx.write("policy.yaml", policy_text.as_bytes());
        let audit = fx.path("audit.jsonl");
        let cgroup = CgroupGuard::new();
        let options = DaemonOptions::new(cgroup.path()).policy(&policy).mode("enforce").audit(&audit);
        let daemon = EgressDaemon::start(&configure(options));
        Scenario { daemon, cgroup, fx, policy, audit }
    }

    /// Runs `spec` inside the watched cgroup (60 s limit).
    pub fn run(&self, spec: &CommandSpec) -> RunOutput {
        client::run(Launcher::Cgroup(&self.cgroup), spec)
    }

    /// Spawns `spec` inside the watched cgroup.
    pub fn spawn(&self, spec: &CommandSpec) -> CapturedChild {
        CapturedChild::spawn(Launcher::Cgroup(&self.cgroup).prepare(spec))
    }

    /// The audit records so far.
    pub fn records(&self) -> Vec<Value> {
        read_audit(&self.audit)
    }

    /// Waits until a record satisfies `pred` and returns all records then read.
    pub fn wait_records(&self, pred: impl Fn(&Value) -> bool) -> Vec<Value> {
        wait_for_audit(&self.audit, AUDIT_WAIT, pred)
    }

    /// Waits until at least `n` records satisfy `pred` (up to [`AUDIT_WAIT`]); returns those
    /// that do, in file order (maybe fewer than `n` on time-out).
    pub fn wait_count(&self, n: usize, pred: impl Fn(&Value) -> bool) -> Vec<Value> {
        let deadline = std::time::Instant::now() + AUDIT_WAIT;
        loop {
            let mine: Vec<Value> = self.records().into_iter().filter(|r| pred(r)).collect();
            if mine.len() >= n || std::time::Instant::now() >= deadline {
                return mine;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits for the records satisfying `pred`, asserts there is exactly one, returns it.
    /// `ctx` gives the failure context.
    pub fn one_record(&self, what: &str, pred: impl Fn(&Value) -> bool, ctx: &dyn Fn() -> String) -> Value {
        let records = self.wait_records(&pred);
        let mine: Vec<&Value> = records.iter().filter(|r| pred(r)).collect();
        assert_eq!(
            mine.len(),
            1,
            "{what}: expected exactly one matching audit record, found {}:\n{}{}",
            mine.len(),
            format_records(&records),
            ctx()
        );
        mine[0].clone()
    }

    /// Everything a failure message needs: the policy, the clients' output, the daemon's
    /// output, the audit log, and each named server's requests and connections.
    pub fn diag(&self, clients: &[&RunOutput], servers: &[(&str, &TestServer)]) -> String {
        let mut s = String::new();
        s.push_str(&format!(
            "\n=== policy {} ===\n{}",
            self.policy.display(),
            std::fs::read_to_string(&self.policy).unwrap_or_default()
        ));
        for c in clients {
            s.push_str("\n=== client ===\n");
            s.push_str(&c.describe());
        }
        s.push_str("\n=== daemon ===\n");
        s.push_str(&self.daemon.output());
        s.push_str("\n=== audit ===\n");
        s.push_str(&audit_text(&self.audit));
        for (name, server) in servers {
            s.push_str(&format!("\n=== {name} server ===\n"));
            s.push_str(&server.summary());
        }
        s
    }

    /// Asserts the audit log does not hold any of `secrets` (raw values never go there).
    pub fn assert_audit_lacks(&self, secrets: &[&str], what: &str) {
        let text = std::fs::read_to_string(&self.audit).unwrap_or_default();
        for s in secrets {
            assert!(!text.contains(s), "{what}: the audit log holds a raw sensitive value ({s:?}):\n{text}");
        }
    }
}

impl Drop for Scenario {
    /// With `EGRESS_TEST_KEEP_AUDIT=DIR`, keeps a copy of the audit log and the daemon's
    /// output as `DIR/<test name>.audit.jsonl` and `DIR/<test name>.daemon.log`.
    fn drop(&mut self) {
        let Some(dir) = std::env::var_os("EGRESS_TEST_KEEP_AUDIT").filter(|d| !d.is_empty()) else {
            return;
        };
        let dir = PathBuf::from(dir);
        let name = std::thread::current().name().unwrap_or("scenario").replace("::", "-");
        let name = crate::unique_name(&name);
        let _ = std::fs::create_dir_all(&dir);
        let _ = std::fs::copy(&self.audit, dir.join(format!("{name}.audit.jsonl")));
        let _ = std::fs::write(dir.join(format!("{name}.daemon.log")), self.daemon.output());
    }
}

/// What reached `server` of the requests for `path` on the connections after the first
/// `conns_before`, as problems (empty when nothing did): any request with a complete body or
/// any body byte. With `whole_write` (the client writes head and body in one `SSL_write`, as
/// curl does for small bodies) also any plaintext byte at all; otherwise the request head
/// may have been sent before the body's write was refused.
pub fn delivery_problems(server: &TestServer, path: &str, conns_before: usize, whole_write: bool) -> Vec<String> {
    server.wait_connections_closed(conns_before, Duration::from_secs(5));
    let mut p = Vec::new();
    let conn_ids: Vec<u64> = server.connections_since(conns_before).iter().map(|c| c.id).collect();
    for r in server.requests_for(path).iter().filter(|r| conn_ids.contains(&r.conn_id)) {
        if r.body_complete {
            p.push(format!(
                "request {} {} on connection #{} arrived whole ({} body bytes)",
                r.method,
                r.uri,
                r.conn_id,
                r.body.len()
            ));
        } else if !r.body.is_empty() {
            p.push(format!(
                "request {} {} on connection #{} carried {} body bytes",
                r.method,
                r.uri,
                r.conn_id,
                r.body.len()
            ));
        }
    }
    if whole_write {
        let conns = server.connections_since(conns_before);
        if conns.is_empty() {
            p.push("the client never connected (a block at its TLS write needs a connection)".into());
        }
        for c in conns {
            if c.plaintext_bytes != 0 {
                p.push(format!(
                    "connection #{} from {} carried {} plaintext bytes, expected 0",
                    c.id, c.peer, c.plaintext_bytes
                ));
            }
        }
    }
    p
}
