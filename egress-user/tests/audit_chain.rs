//! The tamper-evident audit log end to end: write through `AuditLog`, tamper with copies of
//! the files, and check that `verify` names the first bad record. No root needed.
use std::{
    fs,
    path::{Path, PathBuf},
    time::Instant,
};

use ed25519_dalek::SigningKey;
use egress::audit::{
    AuditLog, AuditOptions, AuditRecord, Checkpoint, FsyncPolicy, Problem, ProblemKind, VerifyError, VerifySummary,
    chain_files, public_key_pem, timestamp, verify,
};
use sha2::{Digest as _, Sha256};

/// A directory of its own under the system temp dir (or `EGRESS_AUDIT_TEST_DIR`), removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let base = std::env::var_os("EGRESS_AUDIT_TEST_DIR").map_or_else(std::env::temp_dir, PathBuf::from);
        let dir = base.join(format!("egress-audit-chain-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("creates a scratch dir");
        Self(dir)
    }

    fn key_path(&self) -> PathBuf {
        self.0.join("key/audit.key")
    }

    fn options(&self) -> AuditOptions {
        AuditOptions { key_path: self.key_path(), checkpoint_every: 100, ..AuditOptions::default() }
    }

    /// The public key as `egress audit pubkey` prints it, in a file.
    fn pubkey(&self) -> PathBuf {
        let path = self.0.join("audit.pub");
        fs::write(&path, public_key_pem(&self.key_path()).expect("public key")).expect("writes");
        path
    }

    fn log(&self) -> PathBuf {
        self.0.join("audit.jsonl")
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn record(n: u64) -> AuditRecord {
    AuditRecord {
        ts: timestamp(),
        pid: 1000 + n as u32,
        comm: "agent".into(),
        cgroup: "/agents/a".into(),
        tls_library: "/usr/lib/x86_64-linux-gnu/libssl.so.3".into(),
        peer: Some("203.0.113.7:443".into()),
        host: Some("api.example.com".into()),
        method: Some("POST".into()),
        path: Some(format!("/v1/requests/{n}")),
        tool: Some("example".into()),
        action: "block",
        outcome: "blocked",
        enforced: true,
        reason: format!("request {n}: findings pii"),
        bytes: 100 + n,
        body_sha256: Some("ab".repeat(32)),
        truncated: false,
        findings: Vec::new(),
        schema_violations: Vec::new(),
        tool_call_id: None,
        link: None,
        redacted: 0,
        review: None,
        policy_version: "f00d".into(),
        mode: "enforce",
        review_preview: None,
    }
}

/// Writes `count` records (seq `from`..) and, if `shutdown`, the shutdown checkpoint.
fn write(path: &Path, options: AuditOptions, from: u64, count: u64, shutdown: bool) {
    let mut log = AuditLog::open_with(path, options).expect("opens");
    for n in from..from + count {
        log.append(&record(n)).expect("appends");
    }
    assert_eq!(log.seq(), from + count - 1);
    if shutdown {
        log.checkpoint().expect("checkpoint");
    }
}

/// 250 records with checkpoints at 100, 200 and the shutdown (250).
fn intact(name: &str) -> Scratch {
    let scratch = Scratch::new(name);
    write(&scratch.log(), scratch.options(), 1, 250, true);
    scratch
}

/// A copy of the log with its lines changed by `change`.
fn tampered(scratch: &Scratch, change: impl FnOnce(&mut Vec<String>)) -> PathBuf {
    let text = fs::read_to_string(scratch.log()).expect("reads");
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    change(&mut lines);
    let copy = scratch.0.join("tampered.jsonl");
    fs::write(&copy, lines.iter().map(|line| format!("{line}\n")).collect::<String>()).expect("writes");
    copy
}

/// Index of the line of record `seq`.
fn record_line(lines: &[String], seq: u64) -> usize {
    let prefix = format!("{{\"seq\":{seq},");
    lines.iter().position(|line| line.starts_with(&prefix)).expect("record present")
}

/// Index of the line of the checkpoint of `seq`.
fn checkpoint_line(lines: &[String], seq: u64) -> usize {
    let prefix = format!("{{\"checkpoint\":{{\"seq\":{seq},");
    lines.iter().position(|line| line.starts_with(&prefix)).expect("checkpoint present")
}

fn broken(result: Result<VerifySummary, VerifyError>) -> Problem {
    match result {
        Err(VerifyError::Broken(problem)) => problem,
        other => panic!("expected a broken chain, got {other:?}"),
    }
}

/// Recomputes a record line's hash after an edit, as someone covering their tracks would,
/// with `prev_hash` set to `prev`; returns the new line and hash.
fn rehash(line: &str, prev: Option<&str>) -> (String, String) {
    let cut = line.rfind(",\"hash\":\"").expect("hash member");
    let mut canonical = line[..cut].to_string();
    if let Some(prev) = prev {
        let at = canonical.find("\"prev_hash\":\"").expect("prev_hash") + "\"prev_hash\":\"".len();
        canonical.replace_range(at..at + 64, prev);
    }
    canonical.push('}');
    let hash = hex::encode(Sha256::digest(canonical.as_bytes()));
    canonical.pop();
    (format!("{canonical},\"hash\":\"{hash}\"}}"), hash)
}

#[test]
fn an_intact_log_verifies_with_its_key() {
    let scratch = intact("intact");
    let lines = fs::read_to_string(scratch.log()).expect("reads").lines().count();
    assert_eq!(lines, 253, "250 records and checkpoints at 100, 200 and 250");
    let summary = verify(&[scratch.log()], Some(&scratch.pubkey())).expect("intact");
    assert_eq!((summary.records, summary.first_seq, summary.last_seq), (250, Some(1), Some(250)));
    assert_eq!(summary.checkpoints, 3);
    assert_eq!(summary.checkpointed_through, Some(250));
    assert!(summary.verified_key_id.is_some());
    assert!(summary.warnings.is_empty(), "{:?}", summary.warnings);
    assert!(
        summary
            .to_string()
            .starts_with("intact: 250 records (seq 1-250) in 1 file, 3 checkpoints; signatures verified")
    );

    let unsigned = verify(&[scratch.log()], None).expect("intact");
    assert_eq!(unsigned.verified_key_id, None);
    assert!(unsigned.to_string().contains("signatures not checked"), "{unsigned}");

    // The private key file works as the public key too.
    verify(&[scratch.log()], Some(&scratch.key_path())).expect("intact");
}

#[test]
fn another_key_is_refused() {
    let scratch = intact("otherkey");
    let other = Scratch::new("otherkey-key");
    let other_key = other.key_path();
    egress::audit::load_or_create_key(&other_key).expect("creates");
    let problem = broken(verify(&[scratch.log()], Some(&other.pubkey())));
    assert!(matches!(problem.kind, ProblemKind::BadSignature(_)), "{problem}");
    assert_eq!((problem.seq, problem.line), (Some(100), 101));
}

#[test]
fn an_edited_record_is_named() {
    let scratch = intact("edited");
    let copy = tampered(&scratch, |lines| {
        let at = record_line(lines, 57);
        lines[at] = lines[at].replace("\"outcome\":\"blocked\"", "\"outcome\":\"passed\"");
    });
    let problem = broken(verify(&[copy], Some(&scratch.pubkey())));
    assert!(matches!(problem.kind, ProblemKind::Edited { .. }), "{problem}");
    assert_eq!((problem.seq, problem.line), (Some(57), 57));
    assert!(problem.to_string().contains("tampered.jsonl:57: seq 57: edited"), "{problem}");
}

#[test]
fn an_edit_with_a_recomputed_hash_breaks_the_chain() {
    let scratch = intact("rehashed");
    let copy = tampered(&scratch, |lines| {
        let at = record_line(lines, 57);
        lines[at] = rehash(&lines[at].replace("\"outcome\":\"blocked\"", "\"outcome\":\"passed\""), None).0;
    });
    let problem = broken(verify(&[copy], None));
    assert_eq!((problem.kind, problem.seq), (ProblemKind::ChainBroken, Some(58)));
}

#[test]
fn rehashing_the_rest_of_the_chain_is_caught_by_the_next_checkpoint() {
    let scratch = intact("rechained");
    // Edit record 57 and recompute every hash after it, up to the end.
    let rechain = |lines: &mut Vec<String>, and_checkpoints: bool| {
        let start = record_line(lines, 57);
        let mut prev: Option<String> = None;
        for line in &mut lines[start..] {
            if line.starts_with("{\"checkpoint\"") {
                if and_checkpoints {
                    let mut value: serde_json::Value = serde_json::from_str(line).expect("json");
                    value["checkpoint"]["hash"] = prev.clone().expect("a record before").into();
                    *line = value.to_string();
                }
                continue;
            }
            let edited = line.replace("\"outcome\":\"blocked\"", "\"outcome\":\"passed\"");
            let (new_line, hash) = rehash(&edited, prev.as_deref());
            *line = new_line;
            prev = Some(hash);
        }
    };
    let copy = tampered(&scratch, |lines| rechain(lines, false));
    let problem = broken(verify(&[copy], None));
    assert!(matches!(problem.kind, ProblemKind::CheckpointMismatch(_)), "{problem}");
    assert_eq!(problem.seq, Some(100));

    // Rewriting the checkpoints' hashes too takes the key: without a public key it passes
    // (the summary says signatures were not checked), with one it fails.
    let copy = tampered(&scratch, |lines| rechain(lines, true));
    assert!(verify(std::slice::from_ref(&copy), None).is_ok());
    let problem = broken(verify(&[copy], Some(&scratch.pubkey())));
    assert!(matches!(problem.kind, ProblemKind::BadSignature(_)), "{problem}");
    assert_eq!(problem.seq, Some(100));
}

#[test]
fn a_removed_record_is_named() {
    let scratch = intact("removed");
    let copy = tampered(&scratch, |lines| {
        let at = record_line(lines, 120);
        lines.remove(at);
    });
    let problem = broken(verify(&[copy], Some(&scratch.pubkey())));
    assert_eq!(problem.kind, ProblemKind::Removed { expected: 120, found: 121 });
    assert_eq!(problem.seq, Some(120));
    assert_eq!(problem.line, 121, "record 121 now stands on the line of 120 (after the checkpoint at 100)");
}

#[test]
fn swapped_records_are_reordered() {
    let scratch = intact("swapped");
    let copy = tampered(&scratch, |lines| {
        let (a, b) = (record_line(lines, 30), record_line(lines, 31));
        lines.swap(a, b);
    });
    let problem = broken(verify(&[copy], Some(&scratch.pubkey())));
    assert_eq!(problem.kind, ProblemKind::Reordered { expected: 30, found: 31 });
    assert_eq!((problem.seq, problem.line), (Some(30), 30));

    // A record moved back: the seq goes backwards.
    let copy = tampered(&scratch, |lines| {
        let line = lines.remove(record_line(lines, 10));
        let at = record_line(lines, 20);
        lines.insert(at, line);
    });
    let problem = broken(verify(&[copy], None));
    assert!(matches!(problem.kind, ProblemKind::Reordered { .. }), "{problem}");
    assert_eq!(problem.seq, Some(10));
}

#[test]
fn a_file_cut_mid_line_is_torn() {
    let scratch = intact("torn");
    let text = fs::read_to_string(scratch.log()).expect("reads");
    // Cut in the middle of record 240.
    let start = text.find("{\"seq\":240,").expect("record 240");
    let copy = scratch.0.join("cut.jsonl");
    fs::write(&copy, &text[..start + 40]).expect("writes");
    let problem = broken(verify(std::slice::from_ref(&copy), Some(&scratch.pubkey())));
    assert_eq!(problem.kind, ProblemKind::Torn { after: Some(239) });
    assert_eq!(problem.line, 242);
    // Cut in the middle of the final checkpoint.
    fs::write(&copy, &text[..text.len() - 10]).expect("writes");
    let problem = broken(verify(std::slice::from_ref(&copy), Some(&scratch.pubkey())));
    assert_eq!(problem.kind, ProblemKind::Torn { after: Some(250) });

    // Whole lines cut off the end cannot be told from a crash: a warning, not a failure.
    let end = text.find("{\"seq\":241,").expect("record 241");
    fs::write(&copy, &text[..end]).expect("writes");
    let summary = verify(&[copy], Some(&scratch.pubkey())).expect("verifies up to 240");
    assert_eq!(summary.last_seq, Some(240));
    assert!(summary.warnings.iter().any(|warning| warning.contains("records 201-240 come after the last checkpoint")));
}

#[test]
fn a_forged_checkpoint_signature_is_refused() {
    let scratch = intact("forged");
    let forger = SigningKey::from_bytes(&[7; 32]);
    let forge = |keep_key_id: bool| {
        tampered(&scratch, |lines| {
            let at = checkpoint_line(lines, 200);
            let value: serde_json::Value = serde_json::from_str(&lines[at]).expect("json");
            let original: Checkpoint = serde_json::from_value(value["checkpoint"].clone()).expect("checkpoint");
            let mut forged =
                Checkpoint::sign(&forger, original.seq, &original.hash, original.ts.clone(), original.reason);
            if keep_key_id {
                forged.key_id = original.key_id;
            }
            lines[at] = serde_json::json!({ "checkpoint": forged }).to_string();
        })
    };
    for keep_key_id in [false, true] {
        let problem = broken(verify(&[forge(keep_key_id)], Some(&scratch.pubkey())));
        assert!(matches!(problem.kind, ProblemKind::BadSignature(_)), "{problem}");
        assert_eq!((problem.seq, problem.line), (Some(200), 202));
    }
}

#[test]
fn rotation_keeps_the_chain_across_files() {
    let scratch = Scratch::new("rotation");
    let options = AuditOptions { max_file_bytes: Some(16 * 1024), ..scratch.options() };
    write(&scratch.log(), options.clone(), 1, 150, false);
    // A restart goes on in the same chain.
    write(&scratch.log(), options, 151, 100, true);
    let files = chain_files(&scratch.log()).expect("lists");
    assert!(files.len() >= 4, "{files:?}");
    for segment in &files[..files.len() - 1] {
        let text = fs::read_to_string(segment).expect("reads");
        assert!(text.lines().last().is_some_and(|line| line.starts_with("{\"checkpoint\"")), "{}", segment.display());
        assert!(fs::metadata(segment).expect("exists").len() < 16 * 1024 + 2048);
    }
    let pubkey = scratch.pubkey();
    let summary = verify(&files, Some(&pubkey)).expect("intact");
    assert_eq!((summary.records, summary.first_seq, summary.last_seq), (250, Some(1), Some(250)));
    assert_eq!(summary.files, files.len());
    assert!(summary.warnings.is_empty(), "{:?}", summary.warnings);

    // The order the files are given in does not matter.
    let reversed: Vec<PathBuf> = files.iter().rev().cloned().collect();
    assert_eq!(verify(&reversed, Some(&pubkey)).expect("intact").records, 250);

    // Without a middle file, the records it held are missing.
    let mut without_middle = files.clone();
    let middle = without_middle.remove(1);
    let first_missing = fs::read_to_string(&middle).expect("reads").lines().next().map(|line| {
        let value: serde_json::Value = serde_json::from_str(line).expect("json");
        value["seq"].as_u64().expect("seq")
    });
    let problem = broken(verify(&without_middle, Some(&pubkey)));
    assert!(matches!(problem.kind, ProblemKind::Removed { .. }), "{problem}");
    assert_eq!(problem.seq, first_missing);
    assert_eq!(problem.line, 1);

    // Without the first file, the chain starts late: a warning.
    let summary = verify(&files[1..], Some(&pubkey)).expect("intact from its start");
    assert!(summary.warnings.iter().any(|warning| warning.contains("starts at seq")), "{:?}", summary.warnings);
}

#[test]
fn a_restart_after_rotation_continues_from_the_newest_file() {
    let scratch = Scratch::new("rotation-restart");
    let options = AuditOptions { max_file_bytes: Some(8 * 1024), ..scratch.options() };
    write(&scratch.log(), options.clone(), 1, 40, true);
    // A crash between renaming the live file and creating the next one: no live file.
    let seqs: Vec<u64> = fs::read_to_string(scratch.log())
        .expect("reads")
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok()?["seq"].as_u64())
        .collect();
    let (first, last) = (seqs[0], seqs[seqs.len() - 1]);
    assert_eq!(last, 40);
    fs::rename(scratch.log(), scratch.0.join(format!("audit.jsonl.{first:010}-{last:010}"))).expect("renames");
    write(&scratch.log(), options, 41, 10, true);
    let first_line = fs::read_to_string(scratch.log()).expect("reads").lines().next().map(str::to_string);
    assert!(first_line.is_some_and(|line| line.starts_with("{\"seq\":41,")));
    let files = chain_files(&scratch.log()).expect("lists");
    let summary = verify(&files, Some(&scratch.pubkey())).expect("intact");
    assert_eq!((summary.records, summary.first_seq, summary.last_seq), (50, Some(1), Some(50)));
}

#[test]
fn a_crash_leaves_a_chain_that_verifies_up_to_its_last_record() {
    let scratch = Scratch::new("crash");
    // Dropped without the shutdown checkpoint: what a crash leaves.
    write(&scratch.log(), scratch.options(), 1, 150, false);
    let pubkey = scratch.pubkey();
    let summary = verify(&[scratch.log()], Some(&pubkey)).expect("verifies");
    assert_eq!((summary.records, summary.checkpointed_through), (150, Some(100)));
    assert!(
        summary.warnings.iter().any(|warning| warning.contains("records 101-150 come after the last checkpoint")),
        "{:?}",
        summary.warnings
    );
    // The restarted daemon continues the chain and its checkpoints cover the crash's tail.
    write(&scratch.log(), scratch.options(), 151, 20, true);
    let summary = verify(&[scratch.log()], Some(&pubkey)).expect("verifies");
    assert_eq!((summary.records, summary.checkpointed_through), (170, Some(170)));
    assert!(summary.warnings.is_empty(), "{:?}", summary.warnings);
}

/// Append cost per fsync policy on this machine. Not a timed assertion: run with
/// `cargo test -p egress-user --test audit_chain -- --ignored --nocapture append_cost`
/// (`EGRESS_AUDIT_TEST_DIR` picks the file system; tmpfs makes fsync free).
#[test]
#[ignore = "a measurement, not a test"]
fn append_cost() {
    for (policy, count) in
        [(FsyncPolicy::Never, 20_000), (FsyncPolicy::Checkpoint, 20_000), (FsyncPolicy::EveryRecord, 2_000)]
    {
        let scratch = Scratch::new(&format!("cost-{policy:?}"));
        let options = AuditOptions { fsync: policy, ..scratch.options() };
        let mut log = AuditLog::open_with(&scratch.log(), options).expect("opens");
        let record = record(1);
        log.append(&record).expect("warms up");
        let mut samples = Vec::with_capacity(count);
        let started = Instant::now();
        for _ in 0..count {
            let one = Instant::now();
            log.append(&record).expect("appends");
            samples.push(one.elapsed().as_secs_f64() * 1e6);
        }
        let mean = started.elapsed().as_secs_f64() * 1e6 / count as f64;
        samples.sort_by(f64::total_cmp);
        let at = |q: f64| samples[((samples.len() - 1) as f64 * q) as usize];
        println!(
            "fsync {policy:?}: {count} records, mean {mean:.1} µs/record, p50 {:.1} µs, p99 {:.1} µs, max {:.1} µs",
            at(0.5),
            at(0.99),
            at(1.0)
        );
    }
}
