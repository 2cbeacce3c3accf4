//! `cargo xtask demo` end to end: the demo driver (`egress-demo`) with the real binary, the
//! real `openai` SDK and the real kernel. Root only (skips with a reason outside CI, fails
//! with `CI=true`); the policy check runs anywhere.
//!
//! ```text
//! cargo test -p egress-tests --test demo -- --test-threads=1
//! ```

use std::process::Command;
use std::time::{Duration, Instant};

use egress_tests::require_root;

/// The whole demo, egress's eBPF load included, takes about ten seconds.
const DEMO_TIMEOUT: Duration = Duration::from_secs(180);

#[test]
fn demo_policy_is_valid() {
    let policy = egress_tests::workspace_dir().join("demo/policy.yaml");
    let output = Command::new(egress_tests::egress_bin()).arg("policy").arg("check").arg(&policy).output().unwrap();
    assert!(
        output.status.success(),
        "`egress policy check {}` refused it:\n{}",
        policy.display(),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The lines of one step (`[N] title` up to the next blank line).
fn step(stdout: &str, number: u32) -> String {
    let header = format!("[{number}] ");
    let start = stdout.find(&header).unwrap_or_else(|| panic!("the demo printed no step {number}:\n{stdout}"));
    let rest = &stdout[start..];
    rest.split("\n\n").next().unwrap_or(rest).to_string()
}

fn assert_lines(text: &str, needles: &[&str], what: &str, stdout: &str, stderr: &str) {
    for needle in needles {
        assert!(
            text.contains(needle),
            "{what}: expected `{needle}` in\n{text}\n--- whole demo stdout ---\n{stdout}\n--- stderr ---\n{stderr}"
        );
    }
}

#[test]
fn demo_shows_allow_redact_block_review_and_verifies_the_audit_log() {
    if !require_root() {
        return;
    }
    let mut child = Command::new(env!("CARGO_BIN_EXE_egress-demo"))
        .env("EGRESS_BIN", egress_tests::egress_bin())
        .env("EGRESS_TEST_PYTHON", egress_tests::python())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start egress-demo");
    let deadline = Instant::now() + DEMO_TIMEOUT;
    while child.try_wait().expect("poll egress-demo").is_none() {
        if Instant::now() >= deadline {
            let _ = child.kill();
            panic!("egress-demo did not finish within {DEMO_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let output = child.wait_with_output().expect("egress-demo output");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "egress-demo failed ({}):\n{stdout}\n--- stderr ---\n{stderr}", output.status);
    // The demo keeps its files for the reader; the test does not need them.
    let kept = stdout.lines().find_map(|l| l.split_once(" stay in ")).map(|(_, dir)| dir.trim_end_matches('.'));
    if let Some(dir) = kept.filter(|dir| dir.starts_with(&*std::env::temp_dir().to_string_lossy())) {
        let _ = std::fs::remove_dir_all(dir);
    }
    let check = |number: u32, needles: &[&str], what: &str| {
        assert_lines(&step(&stdout, number), needles, what, &stdout, &stderr)
    };

    check(
        1,
        &[
            "model replied",
            "tool openai-chat: action allow, outcome passed",
            "server    received the prompt: \"Summarise",
        ],
        "step 1 (allowed)",
    );
    // The server got the prompt with both values masked, same length.
    check(
        2,
        &[
            "action redact, outcome redacted",
            "pii/email",
            "pii/credit_card",
            "masked 2 spans",
            "Draft a short apology to **************************************** and refund the last charge on card ****************.",
        ],
        "step 2 (redacted)",
    );
    let step2 = step(&stdout, 2);
    let server_line = step2.lines().find(|l| l.contains("server")).unwrap_or_default();
    assert!(!server_line.contains("fjordline-analytics.com"), "step 2: the server got the raw e-mail:\n{step2}");
    check(
        3,
        &["call failed: APIConnectionError", "action block, outcome blocked", "(tool_result) -> block", "0 body bytes"],
        "step 3 (blocked)",
    );
    // The agent carried on after the block: its webhook post went to review and through.
    check(
        4,
        &[
            "holds the agent",
            "review #",
            "pii/email at $.text",
            "$ egress review approve",
            "webhook answered 200",
            "action review, outcome passed (review approved by uid 0)",
            "server    received: {\"text\":\"Refund requested by",
        ],
        "step 4 (review approved)",
    );
    let audit = stdout.split("[audit]").nth(1).unwrap_or_else(|| panic!("no [audit] part:\n{stdout}"));
    assert_lines(
        audit,
        &["4 records", "$ egress audit verify", "intact: 4 records", "signatures verified"],
        "audit verification",
        &stdout,
        &stderr,
    );
}
