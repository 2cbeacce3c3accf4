//! `cargo xtask bench`: what egress costs an agent per `SSL_write`.
//!
//! A Python client (OpenSSL through the `ssl` module) writes whole HTTP requests of 512 B and
//! 64 KiB to a local TLS sink: without egress, under `egress run --mode monitor` and under
//! `--mode enforce`, all in the same run. Prints the time per write, its ratio to the run
//! without egress, and the hold latency (SSL_write entry to resume) the daemon measured.
use std::{
    path::{Path, PathBuf},
    process::Command,
    sync::Arc,
};

use egress_tests::certs::TestCerts;
use tokio::io::AsyncReadExt as _;

const SIZES: [(usize, usize); 2] = [(512, 5000), (64 * 1024, 1000)];
const POLICY: &str = "version: 1\nmode: monitor\ndefault_action: alert\nfail_mode: open\ncapture_max_bytes: 1048576\ntools:\n  - name: bench\n    match: { host: localhost, method: POST, path: /v1/bench }\n    action: allow\n";

#[derive(Clone)]
struct Measured {
    median_ns: u64,
    p99_ns: u64,
    hold: Option<String>,
}

fn main() {
    let certs = TestCerts::new();
    let port = start_sink(certs.server_config());
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace").to_path_buf();
    let egress = std::env::var_os("EGRESS_BIN").map_or_else(|| workspace.join("target/release/egress"), PathBuf::from);
    let python = std::env::var_os("EGRESS_TEST_PYTHON").map_or_else(|| PathBuf::from("python3"), PathBuf::from);
    let script = workspace.join("tests/bench/ssl_writes.py");
    let policy = certs.dir().join("bench-policy.yaml");
    std::fs::write(&policy, POLICY).expect("write the bench policy");

    println!("{:>8}  {:<9} {:>12} {:>12} {:>8}  hold latency", "size", "mode", "median/write", "p99/write", "ratio");
    for (size, count) in SIZES {
        let client = |mode: Option<&str>| {
            let audit = certs.dir().join(format!("audit-{size}-{}.jsonl", mode.unwrap_or("none")));
            let mut command = match mode {
                None => Command::new(&python),
                Some(mode) => {
                    let mut command = Command::new(&egress);
                    command
                        .args(["run", "--mode", mode, "--policy"])
                        .arg(&policy)
                        .arg("--audit")
                        .arg(&audit)
                        .arg("--")
                        .arg(&python);
                    command
                }
            };
            command
                .arg(&script)
                .args(["127.0.0.1", &port.to_string()])
                .arg(certs.ca_path())
                .args([size.to_string(), count.to_string()]);
            measure(&mut command)
        };
        let baseline = client(None);
        for (label, measured) in [("none", None), ("monitor", Some("monitor")), ("enforce", Some("enforce"))] {
            let result =
                if measured.is_none() { Measured { hold: None, ..baseline.clone() } } else { client(measured) };
            println!(
                "{:>8}  {:<9} {:>10.1}us {:>10.1}us {:>7.2}x  {}",
                human_size(size),
                label,
                result.median_ns as f64 / 1000.0,
                result.p99_ns as f64 / 1000.0,
                result.median_ns as f64 / baseline.median_ns as f64,
                result.hold.as_deref().unwrap_or("-"),
            );
        }
    }
}

fn measure(command: &mut Command) -> Measured {
    let output = command.output().expect("start the bench client");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "bench client failed: {command:?}\n{stdout}\n{stderr}");
    let line = stdout.lines().last().expect("the client prints its figures");
    let figures: serde_json::Value = serde_json::from_str(line).expect("figures are JSON");
    let field = |name: &str| figures[name].as_u64().unwrap_or_else(|| panic!("{name} missing in {line}"));
    let hold = stderr
        .lines()
        .find_map(|line| line.split_once("hold latency (SSL_write entry to resume): "))
        .map(|(_, summary)| summary.split(" (").next().unwrap_or(summary).to_owned());
    Measured { median_ns: field("median_ns"), p99_ns: field("p99_ns"), hold }
}

fn human_size(bytes: usize) -> String {
    if bytes >= 1024 { format!("{} KiB", bytes / 1024) } else { format!("{bytes} B") }
}

/// A TLS server that reads and discards everything, on a thread of its own.
fn start_sink(config: Arc<rustls::ServerConfig>) -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the sink");
    let port = listener.local_addr().expect("sink address").port();
    listener.set_nonblocking(true).expect("non-blocking listener");
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("sink runtime");
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
            let acceptor = tokio_rustls::TlsAcceptor::from(config);
            loop {
                let Ok((stream, _)) = listener.accept().await else { continue };
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(stream).await else { return };
                    let mut buffer = vec![0u8; 256 * 1024];
                    while matches!(tls.read(&mut buffer).await, Ok(n) if n > 0) {}
                });
            }
        });
    });
    port
}
