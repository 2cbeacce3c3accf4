//! End-to-end test of code_exec confinement: the processes of a `code_exec` tool's
//! `programs`, and everything they start, connect only to the tool's `destinations`. The
//! program is a copy of bash (a "code runner"); the connections are made by curl, its child.
//! Run as root:
//!
//! ```text
//! cargo test -p egress-tests --test confine -- --test-threads=1
//! ```

use std::time::Duration;

use egress_tests::client::{CommandSpec, Target};
use egress_tests::scenario::policy_yaml;
use egress_tests::{Fixture, Scenario, TestServer, require_root};

/// curl exits 7 when it cannot connect.
const CURL_COULD_NOT_CONNECT: &str = "rc=7";

#[test]
fn a_code_exec_program_and_its_children_reach_only_the_tools_destinations() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new();
    let allowed_server = TestServer::start_on(&fx.certs, "127.0.0.9".parse().unwrap());
    let allowed = Target::new("127.0.0.9", allowed_server.port(), fx.certs.ca_path());
    let other = fx.target();
    let runner = fx.path("code-runner");
    std::fs::copy("/bin/bash", &runner).expect("copying bash as the code runner");
    let tools = format!(
        "tools:\n  - name: runner\n    class: code_exec\n    match: {{ host: runner.invalid }}\n    destinations: [ 127.0.0.9 ]\n    programs: [ {} ]\n",
        runner.display()
    );
    let sc = Scenario::start(fx, &policy_yaml(30, &tools));
    let curl = |target: &Target| {
        format!("curl -sS -o /dev/null --cacert {} {}; echo rc=$?", target.ca.display(), target.url("/"))
    };
    let other_conns_before = sc.fx.server.connections().len();

    // The code runner's curl: the tool's destination only.
    let script = format!("{}; {}", curl(&other), curl(&allowed));
    let confined = sc.run(&CommandSpec::new(&runner).arg("-c").arg(&script));
    let ctx = || sc.diag(&[&confined], &[("localhost", &sc.fx.server), ("127.0.0.9", &allowed_server)]);
    let codes: Vec<&str> = confined.stdout.lines().filter(|line| line.starts_with("rc=")).collect();
    assert_eq!(
        codes,
        [CURL_COULD_NOT_CONNECT, "rc=0"],
        "the runner's curl should fail to connect to localhost (not a destination) and reach 127.0.0.9\n{}",
        ctx()
    );
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(
        sc.fx.server.connections().len(),
        other_conns_before,
        "localhost must see no connection from the confined curl\n{}",
        ctx()
    );

    // The same curl outside the runner, in the same cgroup, is not confined.
    let free = sc.run(&CommandSpec::new("bash").arg("-c").arg(curl(&other)));
    assert!(free.stdout.contains("rc=0"), "curl outside the code runner should reach localhost\n{}", ctx());

    // Each refused connect is in the audit log, with the tool, the child's pid and comm.
    let records = sc.wait_records(|r| r["tool"] == "runner");
    let refusals: Vec<_> = records.iter().filter(|r| r["tool"] == "runner").collect();
    assert!(!refusals.is_empty(), "no audit record of the refused connect\n{}", ctx());
    for record in &refusals {
        let peer = record["peer"].as_str().unwrap_or_default();
        let problems: Vec<String> = [
            (record["comm"] == "curl", "comm should be curl (the runner's child)"),
            (record["action"] == "block" && record["outcome"] == "blocked", "action block, outcome blocked"),
            (peer.ends_with(&format!(":{}", other.port)), "peer should be the localhost server's port"),
            (record["reason"].as_str().is_some_and(|r| r.contains("code_exec tool runner")), "reason names the tool"),
        ]
        .into_iter()
        .filter(|(ok, _)| !ok)
        .map(|(_, what)| what.to_owned())
        .collect();
        assert!(problems.is_empty(), "refusal record {record} is wrong: {problems:?}\n{}", ctx());
    }
}
