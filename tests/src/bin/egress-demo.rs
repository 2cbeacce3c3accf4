//! `cargo xtask demo`: what egress does, in a few readable lines per step.
//!
//! Starts a local OpenAI-compatible chat server and a local Slack-style webhook server (TLS,
//! loopback, certificates from a fresh CA), then runs `demo/agent.py` (the real `openai` SDK
//! and httpx) under `egress run --policy demo/policy.yaml`. For each of the agent's four steps
//! it prints what the agent sent and got back, what egress decided (from the audit log) and
//! what the server received; the webhook post is held for review and approved here with
//! `egress review approve ID`. Last, `egress audit verify` checks the audit log.
//!
//! Needs root (egress loads eBPF programs). Finds the binary through `EGRESS_BIN` and the
//! Python interpreter through `EGRESS_TEST_PYTHON`, as the end-to-end tests do.

use std::fs::File;
use std::io::BufRead as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use egress_tests::daemon::parse_review_socket;
use egress_tests::server::{CHAT_PATH, RecordedRequest};
use egress_tests::{ReviewCli, ServerOptions, TestCerts, TestServer, read_audit, samples};
use serde_json::Value;

/// Where the agent posts its team message (the webhook server answers any `/services/*`).
const WEBHOOK_PATH: &str = "/services/T024BE7LD/B08QZ1MRW/demo";
/// The agent's steps, one request each.
const AGENT_STEPS: usize = 4;
/// How long the agent may stay silent before the demo gives up.
const STEP_TIMEOUT: Duration = Duration::from_secs(120);
/// How long egress may take to write a step's audit record after the agent saw its outcome
/// (it is written before the verdict is applied, so this is only the file read racing it).
const AUDIT_WAIT: Duration = Duration::from_secs(5);
/// A step that has not answered within this long may be held for review: look for it.
const REVIEW_POLL: Duration = Duration::from_millis(300);

fn main() -> ExitCode {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("egress demo: needs root (egress loads eBPF programs and holds the agent): run `sudo ./x demo`");
        return ExitCode::from(1);
    }
    match run_demo() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("egress demo: {error:#}");
            ExitCode::from(1)
        }
    }
}

fn run_demo() -> anyhow::Result<()> {
    let workspace = egress_tests::workspace_dir();
    let policy = workspace.join("demo/policy.yaml");
    let agent = workspace.join("demo/agent.py");
    // Kept afterwards, so the audit log and egress's log can be read once the demo is over.
    let work = tempfile::Builder::new().prefix("egress-demo-").tempdir().context("creating a temp dir")?.keep();
    let certs = TestCerts::new();
    let llm = TestServer::start(&certs);
    let webhook = TestServer::start_with(&certs, ServerOptions::slack_webhook());
    let files = DemoFiles::new(&work);
    files.write_credentials()?;

    let llm_url = format!("https://localhost:{}/v1", llm.port());
    let webhook_url = format!("https://localhost:{}{WEBHOOK_PATH}", webhook.port());
    println!("egress demo: a Python agent (openai SDK + httpx) runs under egress with demo/policy.yaml");
    println!("  model API  {llm_url}  (local OpenAI-compatible server)");
    println!("  webhook    {webhook_url}  (local Slack-style server)");
    println!("  $ egress run --policy demo/policy.yaml --audit {} -- python demo/agent.py", files.audit.display());

    let mut command = Command::new(egress_tests::egress_bin());
    command
        .arg("run")
        .arg("--policy")
        .arg(&policy)
        .arg("--audit")
        .arg(&files.audit)
        // The demo's own signing key, so it leaves nothing in /var/lib/egress.
        .arg("--audit-key")
        .arg(&files.audit_key)
        .arg("--")
        .arg(egress_tests::python())
        .arg(&agent)
        .env("OPENAI_BASE_URL", &llm_url)
        .env("OPENAI_API_KEY", "demo")
        .env("WEBHOOK_URL", &webhook_url)
        .env("SSL_CERT_FILE", certs.ca_path())
        .env("AWS_SHARED_CREDENTIALS_FILE", &files.credentials)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(File::create(&files.egress_log).context("creating the egress log")?);
    let mut egress = EgressRun::spawn(command)?;
    let lines = egress.agent_lines()?;

    let mut steps =
        StepPrinter { files: &files, llm: &llm, webhook: &webhook, in_flight: false, records_shown: 0, seen: (0, 0) };
    let mut last_line = Instant::now();
    loop {
        match lines.recv_timeout(REVIEW_POLL) {
            Ok(line) => {
                last_line = Instant::now();
                steps.agent_line(&line)?;
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if last_line.elapsed() > STEP_TIMEOUT {
                    bail!("the agent said nothing for {STEP_TIMEOUT:?}\n{}", files.log_tail());
                }
                if steps.in_flight && steps.approve_pending_review()? {
                    last_line = Instant::now();
                }
            }
        }
    }
    let status = egress.wait()?;
    if !status.success() {
        bail!("`egress run` exited with {status}\n{}", files.log_tail());
    }
    if steps.records_shown != AGENT_STEPS {
        bail!("the agent finished after {} of its {AGENT_STEPS} steps\n{}", steps.records_shown, files.log_tail());
    }
    verify_audit(&files)?;
    println!("\nThe audit log, egress's log and the demo's key stay in {}.", work.display());
    Ok(())
}

/// The demo's files in its temp dir.
struct DemoFiles {
    audit: PathBuf,
    audit_key: PathBuf,
    audit_pubkey: PathBuf,
    credentials: PathBuf,
    egress_log: PathBuf,
}

impl DemoFiles {
    fn new(dir: &Path) -> Self {
        DemoFiles {
            audit: dir.join("audit.jsonl"),
            audit_key: dir.join("audit.key"),
            audit_pubkey: dir.join("audit.pub"),
            credentials: dir.join("aws-credentials"),
            egress_log: dir.join("egress.log"),
        }
    }

    /// The AWS credentials file the agent's `read_file` tool reads (a made-up key pair, made
    /// here so that no key-shaped string sits in the repository).
    fn write_credentials(&self) -> anyhow::Result<()> {
        let (key_id, secret) = samples::aws_key_pair(2026);
        let text = format!(
            "[default]\naws_access_key_id = {key_id}\naws_secret_access_key = {secret}\nregion = eu-central-1\n"
        );
        std::fs::write(&self.credentials, text).with_context(|| format!("writing {}", self.credentials.display()))
    }

    /// The review API socket `egress run` logged (`review API: PATH`), once it has.
    fn review_socket(&self) -> Option<PathBuf> {
        std::fs::read_to_string(&self.egress_log).ok()?.lines().find_map(parse_review_socket)
    }

    /// The end of egress's log (its stderr and the agent's), for failure messages.
    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(&self.egress_log).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        let tail = lines[lines.len().saturating_sub(40)..].join("\n");
        format!("--- last lines of {} ---\n{tail}", self.egress_log.display())
    }
}

/// `egress run -- python demo/agent.py`; SIGTERM (which it passes to the agent) if the demo
/// ends before it does.
struct EgressRun {
    child: Child,
}

impl EgressRun {
    fn spawn(mut command: Command) -> anyhow::Result<Self> {
        let child = command.spawn().context("starting `egress run`")?;
        Ok(EgressRun { child })
    }

    /// The agent's stdout, line by line (`egress run` hands its own stdout to the agent).
    fn agent_lines(&mut self) -> anyhow::Result<mpsc::Receiver<String>> {
        let stdout = self.child.stdout.take().context("the agent's stdout is not piped")?;
        let (sender, receiver) = mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    return;
                }
            }
        });
        Ok(receiver)
    }

    fn wait(&mut self) -> anyhow::Result<std::process::ExitStatus> {
        self.child.wait().context("waiting for `egress run`")
    }
}

impl Drop for EgressRun {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            egress_tests::proc::signal(self.child.id() as i32, libc::SIGTERM);
            let _ = self.child.wait();
        }
    }
}

/// Prints each step: the agent's own lines, then egress's decision and what the server got.
struct StepPrinter<'a> {
    files: &'a DemoFiles,
    llm: &'a TestServer,
    webhook: &'a TestServer,
    /// Whether the agent has sent a request and not yet printed its outcome.
    in_flight: bool,
    records_shown: usize,
    /// Requests of each server (model, webhook) already shown.
    seen: (usize, usize),
}

impl StepPrinter<'_> {
    /// Prints one line of the agent: `N: title`, `N -> what it sends`, `N <- what came back`
    /// (then egress's decision and what the server got), or any other line as it is.
    fn agent_line(&mut self, line: &str) -> anyhow::Result<()> {
        let rest = line.trim_start_matches(|c: char| c.is_ascii_digit());
        let step = &line[..line.len() - rest.len()];
        if let Some(title) = rest.strip_prefix(": ").filter(|_| !step.is_empty()) {
            println!("\n[{step}] {title}");
        } else if let Some(sent) = rest.strip_prefix(" -> ").filter(|_| !step.is_empty()) {
            println!("    agent     -> {sent}");
            self.in_flight = true;
        } else if let Some(outcome) = rest.strip_prefix(" <- ").filter(|_| !step.is_empty()) {
            println!("    agent     <- {outcome}");
            self.in_flight = false;
            self.show_decision(step)?;
            self.show_received();
        } else {
            println!("    agent     {line}");
        }
        Ok(())
    }

    /// The step's audit record, in a line or two.
    fn show_decision(&mut self, step: &str) -> anyhow::Result<()> {
        let deadline = Instant::now() + AUDIT_WAIT;
        let records = loop {
            let records = read_audit(&self.files.audit);
            if records.len() > self.records_shown {
                break records;
            }
            if Instant::now() >= deadline {
                bail!(
                    "egress wrote no audit record for step {step} in {}: the request never reached it\n{}",
                    self.files.audit.display(),
                    self.files.log_tail()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let record = &records[self.records_shown];
        self.records_shown += 1;
        let text = |key: &str| record[key].as_str().unwrap_or("-").to_string();
        println!(
            "    egress    tool {}: action {}, outcome {}{}",
            text("tool"),
            text("action"),
            text("outcome"),
            record["review"]["outcome"]
                .as_str()
                .map(|outcome| format!(" (review {outcome} by uid {})", record["review"]["by_uid"]))
                .unwrap_or_default()
        );
        let findings: Vec<String> = record["findings"].as_array().into_iter().flatten().map(describe_finding).collect();
        if !findings.is_empty() {
            println!("              found {}", findings.join("; "));
        }
        if let Some(spans) = record["redacted"].as_u64().filter(|&n| n > 0) {
            println!("              masked {spans} spans in the agent's memory before encryption");
        }
        Ok(())
    }

    /// What the servers received since the last step.
    fn show_received(&mut self) {
        let llm = self.llm.requests();
        let webhook = self.webhook.requests();
        let new: Vec<&RecordedRequest> = llm[self.seen.0..].iter().chain(&webhook[self.seen.1..]).collect();
        self.seen = (llm.len(), webhook.len());
        if new.is_empty() {
            println!("    server    received nothing");
        }
        for request in new {
            if !request.body_complete {
                println!(
                    "    server    got the head of {} {} and {} body bytes, then the connection was cut",
                    request.method,
                    request.path,
                    request.body.len()
                );
            } else if request.path == CHAT_PATH {
                let body: Value = serde_json::from_slice(&request.body).unwrap_or_default();
                let last = &body["messages"].as_array().and_then(|m| m.last()).cloned().unwrap_or_default();
                println!("    server    received the prompt: {}", last["content"]);
            } else {
                println!("    server    received: {}", String::from_utf8_lossy(&request.body));
            }
        }
    }

    /// Approves the review the agent is held for, if one is pending. Returns whether it did.
    fn approve_pending_review(&self) -> anyhow::Result<bool> {
        let Some(socket) = self.files.review_socket() else { return Ok(false) };
        let reviews = ReviewCli::new(&socket);
        let Some(pending) = reviews.list().1.and_then(|entries| entries.into_iter().next()) else {
            return Ok(false);
        };
        let id = &pending["id"];
        let findings: Vec<&str> =
            pending["findings"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
        println!(
            "    egress    holds the agent (pid {}, {}): review #{id} for tool {}: {}",
            pending["pid"],
            pending["comm"].as_str().unwrap_or("?"),
            pending["tool"].as_str().unwrap_or("-"),
            findings.join("; ")
        );
        println!("    reviewer  $ egress review approve {id} --socket {}", socket.display());
        let approval = reviews.approve(id);
        if !approval.success() {
            bail!("`egress review approve {id}` failed\n{}", approval.describe());
        }
        Ok(true)
    }
}

/// `category/detector at $.path (part) -> action`.
fn describe_finding(finding: &Value) -> String {
    let text = |key: &str| finding[key].as_str().unwrap_or("?").to_string();
    let part = finding["part"].as_str().map(|part| format!(" ({part})")).unwrap_or_default();
    format!("{}/{} at {}{part} -> {}", text("category"), text("detector"), text("json_path"), text("action"))
}

/// `egress audit pubkey` and `egress audit verify`, printed as a reader would type them.
fn verify_audit(files: &DemoFiles) -> anyhow::Result<()> {
    let egress = egress_tests::egress_bin();
    let records = read_audit(&files.audit).len();
    println!("\n[audit] {records} records in {}, hash-chained and signed", files.audit.display());
    let pubkey = Command::new(&egress)
        .args(["audit", "pubkey", "--key"])
        .arg(&files.audit_key)
        .output()
        .context("running `egress audit pubkey`")?;
    if !pubkey.status.success() {
        bail!("`egress audit pubkey` failed: {}", String::from_utf8_lossy(&pubkey.stderr));
    }
    std::fs::write(&files.audit_pubkey, &pubkey.stdout).context("writing the public key")?;
    println!("    $ egress audit verify {} --pubkey {}", files.audit.display(), files.audit_pubkey.display());
    let verify = Command::new(&egress)
        .args(["audit", "verify"])
        .arg(&files.audit)
        .arg("--pubkey")
        .arg(&files.audit_pubkey)
        .output()
        .context("running `egress audit verify`")?;
    let stdout = String::from_utf8_lossy(&verify.stdout);
    println!("    {}", stdout.trim());
    if !verify.status.success() {
        bail!("`egress audit verify` failed ({}): {}", verify.status, String::from_utf8_lossy(&verify.stderr));
    }
    Ok(())
}
