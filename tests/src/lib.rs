//! Support library for the `egress` end-to-end tests.
//!
//! The tests run real TLS clients (curl, Python httpx, the `openai` Python SDK, node's
//! `fetch`) against a local TLS server made here, under the real `egress` binary, as root,
//! against the real kernel. Everything that needs cleaning up is an RAII guard: child
//! cgroups ([`cgroup::CgroupGuard`]), the server ([`server::TestServer`]), the daemon
//! ([`daemon::EgressDaemon`]) and spawned clients ([`client::CapturedChild`]).
//!
//! Helpers panic with a message instead of returning `Result`, as root-only test code does.

pub mod audit;
pub mod certs;
pub mod cgroup;
pub mod client;
pub mod daemon;
pub mod fixture;
pub mod metrics;
pub mod policy;
pub mod proc;
pub mod review;
pub mod samples;
pub mod scenario;
pub mod server;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use sha2::{Digest, Sha256};

pub use audit::{read_audit, wait_for_audit};
pub use certs::TestCerts;
pub use cgroup::CgroupGuard;
pub use client::{Client, ClientRequest, Launcher, RunOutput};
pub use daemon::{DaemonOptions, EgressDaemon};
pub use fixture::Fixture;
pub use policy::PolicySpec;
pub use review::ReviewCli;
pub use scenario::Scenario;
pub use server::{ServerOptions, TestServer};

/// The workspace root (the parent of this crate's directory).
pub fn workspace_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests crate has a parent directory").to_path_buf()
}

/// This crate's directory (`<workspace>/tests`).
pub fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Directory of the client scripts (`tests/clients`).
pub fn clients_dir() -> PathBuf {
    crate_dir().join("clients")
}

/// Path of the binary under test: `$EGRESS_BIN`, default `<workspace>/target/release/egress`.
pub fn egress_bin_path() -> PathBuf {
    match std::env::var_os("EGRESS_BIN") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => workspace_dir().join("target/release/egress"),
    }
}

/// Like [`egress_bin_path`], but panics with a hint if the binary is not there.
pub fn egress_bin() -> PathBuf {
    let p = egress_bin_path();
    assert!(
        p.is_file(),
        "egress binary not found at {} (build it with `cargo xtask build` or set EGRESS_BIN)",
        p.display()
    );
    p
}

/// The Python interpreter for the Python clients: `$EGRESS_TEST_PYTHON`, default
/// `<workspace>/.venv/bin/python` (made by the xtask: `python3 -m venv .venv &&
/// .venv/bin/pip install openai httpx`).
pub fn python() -> PathBuf {
    let p = match std::env::var_os("EGRESS_TEST_PYTHON") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => workspace_dir().join(".venv/bin/python"),
    };
    assert!(
        p.exists(),
        "python interpreter not found at {} (create the venv: `python3 -m venv .venv && \
         .venv/bin/pip install openai httpx`, or set EGRESS_TEST_PYTHON)",
        p.display()
    );
    p
}

/// The node binary: `$EGRESS_TEST_NODE`, default `/usr/bin/node`.
pub fn node() -> PathBuf {
    let p = match std::env::var_os("EGRESS_TEST_NODE") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => PathBuf::from("/usr/bin/node"),
    };
    assert!(p.exists(), "node not found at {}", p.display());
    p
}

/// A name unique within this machine for this run: `<prefix>-<pid>-<n>`.
pub fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}-{}-{n}", std::process::id())
}

/// Whether the tests run as root. If not: with `CI=true` this panics (CI must run them);
/// otherwise it prints `SKIP: <test>: needs root` and returns false, and the test returns.
#[track_caller]
pub fn require_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } == 0 {
        return true;
    }
    let name = current_test_name(std::panic::Location::caller());
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{name}: needs root, and CI=true: the end-to-end tests must run as root in CI");
    }
    println!("SKIP: {name}: needs root");
    false
}

/// The running test's name (libtest names the thread after it), or the caller's location.
fn current_test_name(loc: &std::panic::Location<'_>) -> String {
    match std::thread::current().name() {
        Some(n) if n != "main" => n.to_string(),
        _ => format!("{}:{}", loc.file(), loc.line()),
    }
}

/// Lower-case hex sha256 of `data`.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// A JSON document of exactly `len` bytes (`len >= 64`): `{"marker":"...","data":"..."}`
/// with `marker` in it (so a test can look for the raw body elsewhere) and pseudo-random
/// printable filler seeded by `seed`.
pub fn json_body(len: usize, marker: &str, seed: u64) -> Vec<u8> {
    let head = format!("{{\"marker\":\"{marker}\",\"data\":\"");
    let tail = "\"}";
    assert!(len >= head.len() + tail.len(), "json_body: {len} bytes is too short for marker {marker:?}");
    let fill = len - head.len() - tail.len();
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 -_.,";
    let mut out = Vec::with_capacity(len);
    out.extend_from_slice(head.as_bytes());
    let mut x = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    for _ in 0..fill {
        x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        out.push(ALPHABET[((x >> 33) % ALPHABET.len() as u64) as usize]);
    }
    out.extend_from_slice(tail.as_bytes());
    debug_assert_eq!(out.len(), len);
    out
}

/// Text of `bytes` for messages, cut to `max` bytes.
pub fn excerpt(bytes: &[u8], max: usize) -> String {
    if bytes.len() <= max {
        String::from_utf8_lossy(bytes).into_owned()
    } else {
        format!("{}... [{} more bytes]", String::from_utf8_lossy(&bytes[..max]), bytes.len() - max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_body_has_exact_length_and_parses() {
        for len in [64, 1000, 65536, 1 << 20] {
            let b = json_body(len, "m-1", 7);
            assert_eq!(b.len(), len);
            let v: serde_json::Value = serde_json::from_slice(&b).unwrap();
            assert_eq!(v["marker"], "m-1");
        }
    }

    #[test]
    fn unique_names_differ() {
        assert_ne!(unique_name("x"), unique_name("x"));
    }
}
