//! Self-checks of the test harness without the `egress` binary: the server with each real
//! client, the chat completion answer through the real SDK, byte counting, cgroups.
//! The cgroup checks need root (and skip without it, unless CI=true).

use std::time::Duration;

use egress_tests::client::{self, CapturedChild, Launcher, Target};
use egress_tests::policy::paths;
use egress_tests::{CgroupGuard, Client, Fixture, json_body, require_root, sha256_hex};

fn client_reaches_server(c: Client) {
    let fx = Fixture::new();
    let path = c.fixed_path().unwrap_or(paths::UPLOAD);
    let body = json_body(300, &format!("harness-{}", c.name()), 1);
    let req = fx.request("body.json", path, &body);
    let out = client::run(Launcher::Direct, &c.command(&fx.target(), &req));
    assert!(out.success(), "{} failed against the test server\n{}{}", c.name(), out.describe(), fx.server.summary());
    assert!(
        out.stdout.contains(c.success_marker()),
        "{}: stdout lacks {:?}\n{}",
        c.name(),
        c.success_marker(),
        out.describe()
    );
    let reqs = fx.server.requests_for(path);
    assert_eq!(reqs.len(), 1, "{}", fx.server.summary());
    let r = &reqs[0];
    assert!(r.body_complete);
    assert_eq!(r.method, "POST");
    assert_eq!(r.body_sha256, sha256_hex(&r.body));
    if c.sends_file_verbatim() {
        assert_eq!(r.body, body, "{}", fx.server.summary());
    } else {
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(v["messages"][0]["content"].as_str().unwrap().as_bytes(), &body[..]);
    }
    let conns = fx.server.connections();
    assert_eq!(conns.len(), 1, "{}", fx.server.summary());
    assert!(conns[0].tls_established);
    assert!(conns[0].plaintext_bytes as usize > body.len());
    assert_eq!(fx.server.plaintext_bytes_total(), conns[0].plaintext_bytes);
    assert_eq!(conns[0].peer.ip().to_string(), "127.0.0.1");
}

#[test]
fn harness_curl() {
    client_reaches_server(Client::Curl);
}

#[test]
fn harness_httpx() {
    client_reaches_server(Client::Httpx);
}

#[test]
fn harness_openai_sdk() {
    client_reaches_server(Client::OpenAi);
}

#[test]
fn harness_node_fetch() {
    client_reaches_server(Client::NodeFetch);
}

#[test]
fn harness_big_body_curl_and_httpx() {
    let fx = Fixture::new();
    let body = json_body(4 << 20, "big", 2);
    for (i, c) in [Client::Curl, Client::Httpx].into_iter().enumerate() {
        let req = fx.request(&format!("big{i}.json"), paths::UPLOAD, &body);
        let out = client::run(Launcher::Direct, &c.command(&fx.target(), &req));
        assert!(out.success(), "{}", out.describe());
    }
    let reqs = fx.server.requests_for(paths::UPLOAD);
    assert_eq!(reqs.len(), 2);
    for r in reqs {
        assert!(r.body == body, "body differs: {} bytes", r.body.len());
    }
}

#[test]
fn harness_handshake_only_counts_zero_plaintext() {
    let fx = Fixture::new();
    // A TLS client that completes the handshake and closes without sending data.
    let script = "import socket,ssl,sys\n\
                  ctx=ssl.create_default_context(cafile=sys.argv[2])\n\
                  s=socket.create_connection(('localhost',int(sys.argv[1])))\n\
                  t=ctx.wrap_socket(s,server_hostname='localhost')\n\
                  t.close()\n";
    let spec = client::CommandSpec::new(egress_tests::python())
        .arg("-c")
        .arg(script)
        .arg(fx.server.port().to_string())
        .arg(fx.certs.ca_path());
    let out = client::run(Launcher::Direct, &spec);
    assert!(out.success(), "{}", out.describe());
    fx.server.wait_connections_closed(0, Duration::from_secs(5));
    let conns = fx.server.connections();
    assert_eq!(conns.len(), 1, "{}", fx.server.summary());
    assert!(conns[0].tls_established, "{}", fx.server.summary());
    assert_eq!(conns[0].plaintext_bytes, 0, "{}", fx.server.summary());
    assert!(fx.server.requests().is_empty());
}

#[test]
fn harness_second_loopback_address() {
    let fx = Fixture::new();
    let server = egress_tests::TestServer::start_on(&fx.certs, "127.0.0.9".parse().unwrap());
    let target = Target::new("127.0.0.9", server.port(), fx.certs.ca_path());
    let out = client::run(Launcher::Direct, &client::curl_get(&target, "/"));
    assert!(out.success(), "{}", out.describe());
    assert_eq!(server.connections().len(), 1);
    assert_eq!(server.connections()[0].local.ip().to_string(), "127.0.0.9");
}

#[test]
fn harness_held_agent_direct() {
    let fx = Fixture::new();
    let trigger = fx.path("trigger");
    let spec = client::held_agent(&fx.target(), paths::AGENT_STEP1, paths::AGENT_STEP2, &trigger);
    let agent = CapturedChild::spawn(Launcher::Direct.prepare(&spec));
    assert!(
        fx.server.wait_for_request(paths::AGENT_STEP1, Duration::from_secs(30)).is_some(),
        "{}",
        agent.describe_so_far()
    );
    assert!(fx.server.requests_for(paths::AGENT_STEP2).is_empty());
    std::fs::write(&trigger, b"go").unwrap();
    let out = agent.finish(Duration::from_secs(30));
    assert_eq!(out.code(), Some(0), "{}", out.describe());
    assert_eq!(fx.server.requests_for(paths::AGENT_STEP2).len(), 1);
    let conns = fx.server.connections();
    assert_eq!(conns.len(), 2, "request 2 must use a new connection");
}

#[test]
fn harness_cgroup_spawn_and_cleanup() {
    if !require_root() {
        return;
    }
    let cg = CgroupGuard::new();
    let path = cg.path().to_path_buf();
    assert!(path.is_dir());
    // The child reports its own cgroup.
    let spec = client::CommandSpec::new("cat").arg("/proc/self/cgroup");
    let out = client::run(Launcher::Cgroup(&cg), &spec);
    assert!(out.success(), "{}", out.describe());
    assert!(
        out.stdout.lines().any(|l| l == format!("0::{}", cg.relative())),
        "child not in {}: {}",
        cg.relative(),
        out.stdout
    );
    // A process left running (and one stopped) is killed when the guard drops.
    let sleeper = CapturedChild::spawn(Launcher::Cgroup(&cg).prepare(&client::CommandSpec::new("sleep").arg("600")));
    let pid = sleeper.pid() as i32;
    assert_eq!(cg.procs(), vec![pid]);
    egress_tests::proc::signal(pid, libc::SIGSTOP);
    assert!(egress_tests::proc::wait_for_state(pid, 'T', Duration::from_secs(5)));
    assert_eq!(cg.stopped_procs(), vec![(pid, 'T')]);
    drop(cg);
    assert!(!path.exists(), "cgroup {} not removed", path.display());
    drop(sleeper);
}
