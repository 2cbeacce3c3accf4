//! TLS clients (curl, Python httpx, the `openai` SDK, node `fetch`) and how to launch
//! them: directly, under `egress run`, or inside a cgroup.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::os::unix::process::{CommandExt as _, ExitStatusExt as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::cgroup::CgroupGuard;

/// How long a client may run before it is killed and the test fails.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(60);

/// A program with arguments and extra environment.
#[derive(Clone, Debug)]
pub struct CommandSpec {
    pub program: PathBuf,
    pub args: Vec<OsString>,
    pub envs: Vec<(OsString, OsString)>,
}

impl CommandSpec {
    pub fn new(program: impl Into<PathBuf>) -> Self {
        CommandSpec { program: program.into(), args: Vec::new(), envs: Vec::new() }
    }

    pub fn arg(mut self, a: impl AsRef<OsStr>) -> Self {
        self.args.push(a.as_ref().to_os_string());
        self
    }

    pub fn env(mut self, k: impl AsRef<OsStr>, v: impl AsRef<OsStr>) -> Self {
        self.envs.push((k.as_ref().to_os_string(), v.as_ref().to_os_string()));
        self
    }

    /// The command line, for messages.
    pub fn display(&self) -> String {
        let mut s = String::new();
        for (k, v) in &self.envs {
            s.push_str(&format!("{}={} ", k.to_string_lossy(), v.to_string_lossy()));
        }
        s.push_str(&self.program.to_string_lossy());
        for a in &self.args {
            s.push(' ');
            s.push_str(&a.to_string_lossy());
        }
        s
    }
}

/// Where a client runs.
#[derive(Clone, Copy, Debug)]
pub enum Launcher<'a> {
    /// Plain child of the test, outside any watched cgroup.
    Direct,
    /// `egress run --policy P --mode M --audit A -- CMD...`.
    EgressRun { policy: &'a Path, mode: &'a str, audit: &'a Path },
    /// Inside this cgroup (moved in before `exec`).
    Cgroup(&'a CgroupGuard),
}

/// A command ready to spawn (keeps the cgroup's `cgroup.procs` open until then).
pub struct Prepared {
    cmd: Command,
    keep_open: Option<File>,
    label: String,
}

impl Launcher<'_> {
    /// Builds the `Command` for `spec` under this launcher: in its own process group,
    /// stdin from /dev/null, stdout and stderr piped.
    pub fn prepare(&self, spec: &CommandSpec) -> Prepared {
        let (mut cmd, label) = match self {
            Launcher::Direct | Launcher::Cgroup(_) => {
                let mut c = Command::new(&spec.program);
                c.args(&spec.args);
                (c, spec.display())
            }
            Launcher::EgressRun { policy, mode, audit } => {
                let bin = crate::egress_bin();
                let mut c = Command::new(&bin);
                c.arg("run")
                    .arg("--policy")
                    .arg(policy)
                    .arg("--mode")
                    .arg(mode)
                    .arg("--audit")
                    .arg(audit)
                    .arg("--")
                    .arg(&spec.program)
                    .args(&spec.args);
                let label = format!(
                    "{} run --policy {} --mode {mode} --audit {} -- {}",
                    bin.display(),
                    policy.display(),
                    audit.display(),
                    spec.display()
                );
                (c, label)
            }
        };
        for (k, v) in &spec.envs {
            cmd.env(k, v);
        }
        cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).process_group(0);
        let keep_open = match self {
            Launcher::Cgroup(cg) => Some(cg.enter_on_spawn(&mut cmd)),
            _ => None,
        };
        let label = match self {
            Launcher::Cgroup(cg) => format!("[in cgroup {}] {label}", cg.path().display()),
            _ => label,
        };
        Prepared { cmd, keep_open, label }
    }
}

/// What a finished client run gave.
#[derive(Clone, Debug)]
pub struct RunOutput {
    pub label: String,
    pub pid: u32,
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl RunOutput {
    pub fn success(&self) -> bool {
        self.status.success()
    }

    /// The exit code (None if killed by a signal).
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    /// Everything about the run, for failure messages.
    pub fn describe(&self) -> String {
        let status = match (self.status.code(), self.status.signal()) {
            (Some(c), _) => format!("exit code {c}"),
            (None, Some(s)) => format!("killed by signal {s}"),
            _ => format!("{:?}", self.status),
        };
        format!(
            "command: {}\npid: {}\nstatus: {status}\n--- stdout ---\n{}\n--- stderr ---\n{}\n--------------\n",
            self.label,
            self.pid,
            crate::excerpt(self.stdout.as_bytes(), 8000),
            crate::excerpt(self.stderr.as_bytes(), 20000)
        )
    }
}

/// A spawned child whose stdout and stderr are collected by threads; killed (its whole
/// process group) on drop if still running.
pub struct CapturedChild {
    child: Child,
    label: String,
    stdout: Arc<Mutex<Vec<u8>>>,
    stderr: Arc<Mutex<Vec<u8>>>,
    readers: Vec<JoinHandle<()>>,
    status: Option<ExitStatus>,
}

fn collect(mut r: impl std::io::Read + Send + 'static, into: Arc<Mutex<Vec<u8>>>) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        loop {
            match r.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => into.lock().unwrap().extend_from_slice(&buf[..n]),
            }
        }
    })
}

impl CapturedChild {
    /// Spawns `prepared`.
    pub fn spawn(prepared: Prepared) -> Self {
        let Prepared { mut cmd, keep_open, label } = prepared;
        let mut child = cmd.spawn().unwrap_or_else(|e| panic!("spawn `{label}`: {e}"));
        drop(keep_open);
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let readers = vec![
            collect(child.stdout.take().expect("stdout piped"), stdout.clone()),
            collect(child.stderr.take().expect("stderr piped"), stderr.clone()),
        ];
        CapturedChild { child, label, stdout, stderr, readers, status: None }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn label(&self) -> &str {
        &self.label
    }

    /// Stdout so far.
    pub fn stdout_so_far(&self) -> String {
        String::from_utf8_lossy(&self.stdout.lock().unwrap()).into_owned()
    }

    /// Stderr so far.
    pub fn stderr_so_far(&self) -> String {
        String::from_utf8_lossy(&self.stderr.lock().unwrap()).into_owned()
    }

    /// Output so far, for messages.
    pub fn describe_so_far(&self) -> String {
        format!(
            "command: {}\npid: {}\nstatus: {}\n--- stdout ---\n{}\n--- stderr ---\n{}\n--------------\n",
            self.label,
            self.pid(),
            match self.status {
                Some(s) => format!("{s:?}"),
                None => "running".into(),
            },
            crate::excerpt(self.stdout_so_far().as_bytes(), 8000),
            crate::excerpt(self.stderr_so_far().as_bytes(), 20000)
        )
    }

    /// Waits up to `timeout` for it to exit.
    pub fn wait_timeout(&mut self, timeout: Duration) -> Option<ExitStatus> {
        if let Some(s) = self.status {
            return Some(s);
        }
        let deadline = Instant::now() + timeout;
        loop {
            match self.child.try_wait() {
                Ok(Some(s)) => {
                    self.status = Some(s);
                    return Some(s);
                }
                Ok(None) => {}
                Err(e) => panic!("wait for `{}`: {e}", self.label),
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills its process group (and it) and reaps it.
    pub fn kill(&mut self) {
        if self.status.is_some() {
            return;
        }
        crate::proc::signal_group(self.child.id() as i32, libc::SIGKILL);
        let _ = self.child.kill();
        if let Ok(s) = self.child.wait() {
            self.status = Some(s);
        }
    }

    /// Waits up to `timeout` for it to exit and for its output to end; on time-out kills
    /// it and panics with its output.
    pub fn finish(mut self, timeout: Duration) -> RunOutput {
        let Some(status) = self.wait_timeout(timeout) else {
            self.kill();
            self.join_readers(Duration::from_secs(2));
            panic!("`{}` did not finish within {timeout:?}; killed it\n{}", self.label, self.describe_so_far());
        };
        self.join_readers(Duration::from_secs(10));
        RunOutput {
            label: self.label.clone(),
            pid: self.child.id(),
            status,
            stdout: self.stdout_so_far(),
            stderr: self.stderr_so_far(),
        }
    }

    /// Waits for the output threads (a grandchild holding the pipes may keep them open).
    fn join_readers(&mut self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while self.readers.iter().any(|r| !r.is_finished()) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        for r in std::mem::take(&mut self.readers) {
            if r.is_finished() {
                let _ = r.join();
            }
        }
    }
}

impl Drop for CapturedChild {
    fn drop(&mut self) {
        if self.status.is_none() && !matches!(self.child.try_wait(), Ok(Some(_))) {
            self.kill();
        }
    }
}

/// Runs `spec` under `launcher` with [`CLIENT_TIMEOUT`].
pub fn run(launcher: Launcher<'_>, spec: &CommandSpec) -> RunOutput {
    run_with_timeout(launcher.prepare(spec), CLIENT_TIMEOUT)
}

/// Runs a prepared command; on time-out kills it and panics with its output.
pub fn run_with_timeout(prepared: Prepared, timeout: Duration) -> RunOutput {
    CapturedChild::spawn(prepared).finish(timeout)
}

/// The server a client talks to: `https://HOST:PORT` and the CA to trust.
#[derive(Clone, Debug)]
pub struct Target {
    pub host: String,
    pub port: u16,
    pub ca: PathBuf,
}

impl Target {
    pub fn new(host: &str, port: u16, ca: &Path) -> Self {
        Target { host: host.into(), port, ca: ca.to_path_buf() }
    }

    /// `https://HOST:PORT` (IPv6 literals bracketed).
    pub fn base_url(&self) -> String {
        if self.host.contains(':') {
            format!("https://[{}]:{}", self.host, self.port)
        } else {
            format!("https://{}:{}", self.host, self.port)
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url())
    }
}

/// One POST a client makes: the path, and a file with the body. For the `openai` SDK the
/// path is always `/v1/chat/completions` and the file's text is the user message.
#[derive(Clone, Debug)]
pub struct ClientRequest {
    pub path: String,
    pub body_file: PathBuf,
}

/// The TLS clients the tests drive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Client {
    /// `curl -sS --cacert CA --data-binary @FILE` (OpenSSL 3, libssl.so.3).
    Curl,
    /// `tests/clients/httpx_post.py` (Python ssl: OpenSSL 3).
    Httpx,
    /// `tests/clients/openai_chat.py`: the real `openai` SDK (over httpx).
    OpenAi,
    /// `tests/clients/fetch_post.mjs` with `/usr/bin/node` (OpenSSL linked into node).
    NodeFetch,
}

impl Client {
    pub const ALL: [Client; 4] = [Client::Curl, Client::Httpx, Client::OpenAi, Client::NodeFetch];

    pub fn name(self) -> &'static str {
        match self {
            Client::Curl => "curl",
            Client::Httpx => "httpx",
            Client::OpenAi => "openai-sdk",
            Client::NodeFetch => "node-fetch",
        }
    }

    /// The path this client always uses, if it cannot choose (the SDK).
    pub fn fixed_path(self) -> Option<&'static str> {
        match self {
            Client::OpenAi => Some("/v1/chat/completions"),
            _ => None,
        }
    }

    /// Whether the server receives exactly the body file's bytes (false for the SDK,
    /// which wraps the message in its own JSON).
    pub fn sends_file_verbatim(self) -> bool {
        self != Client::OpenAi
    }

    /// What the client prints on stdout after a successful request.
    pub fn success_marker(self) -> &'static str {
        match self {
            Client::OpenAi => crate::server::CHAT_REPLY,
            _ => "\"ok\":true",
        }
    }

    /// The command that makes `req` against `target`.
    pub fn command(self, target: &Target, req: &ClientRequest) -> CommandSpec {
        let ca = &target.ca;
        match self {
            Client::Curl => {
                let mut data = OsString::from("@");
                data.push(&req.body_file);
                CommandSpec::new("curl")
                    .arg("-sS")
                    .arg("--fail-with-body")
                    .arg("--cacert")
                    .arg(ca)
                    .arg("-H")
                    .arg("Content-Type: application/json")
                    .arg("--data-binary")
                    .arg(data)
                    .arg(target.url(&req.path))
            }
            Client::Httpx => python_script("httpx_post.py").arg(target.url(&req.path)).arg(ca).arg(&req.body_file),
            Client::OpenAi => {
                let fixed = self.fixed_path().unwrap_or_default();
                assert_eq!(req.path, fixed, "the openai SDK client only calls {fixed}");
                python_script("openai_chat.py").arg(target.url("/v1")).arg(ca).arg(&req.body_file)
            }
            Client::NodeFetch => CommandSpec::new(crate::node())
                .arg(crate::clients_dir().join("fetch_post.mjs"))
                .arg(target.url(&req.path))
                .arg(&req.body_file)
                .env("NODE_EXTRA_CA_CERTS", ca),
        }
    }
}

/// `python tests/clients/<script>` with unbuffered output.
pub fn python_script(script: &str) -> CommandSpec {
    CommandSpec::new(crate::python())
        .arg(crate::clients_dir().join(script))
        .env("PYTHONUNBUFFERED", "1")
        .env("PYTHONDONTWRITEBYTECODE", "1")
}

/// `curl -sS --cacert CA URL` (a GET).
pub fn curl_get(target: &Target, path: &str) -> CommandSpec {
    CommandSpec::new("curl").arg("-sS").arg("--fail-with-body").arg("--cacert").arg(&target.ca).arg(target.url(path))
}

/// `held_agent.py URL1 URL2 CA TRIGGER`: request 1, then wait for TRIGGER to exist, then
/// request 2 on a new connection; exits 0 if request 2 succeeded, 3 if it failed.
pub fn held_agent(target: &Target, path1: &str, path2: &str, trigger: &Path) -> CommandSpec {
    python_script("held_agent.py").arg(target.url(path1)).arg(target.url(path2)).arg(&target.ca).arg(trigger)
}

/// `openai_messages.py BASE/v1 CA MESSAGES_FILE`: one SDK chat completion with the whole
/// conversation in MESSAGES_FILE (a JSON array); prints `{"content", "tool_calls"}`.
pub fn openai_messages(target: &Target, messages_file: &Path) -> CommandSpec {
    python_script("openai_messages.py").arg(target.url("/v1")).arg(&target.ca).arg(messages_file)
}

/// `tool_call_agent.py CHAT/v1 TOOL_URL CA [--stream]`: asks the model (SDK, `stream` or
/// not), POSTs the `post_message` call's arguments to the tool, then `{"text": "something
/// else"}`; prints one JSON line per step (`chat`, `post1`, `post2`).
pub fn tool_call_agent(chat: &Target, tool: &Target, tool_path: &str, stream: bool) -> CommandSpec {
    let spec = python_script("tool_call_agent.py").arg(chat.url("/v1")).arg(tool.url(tool_path)).arg(&chat.ca);
    if stream { spec.arg("--stream") } else { spec }
}

/// `taint_agent.py RECORD_URL TOOL_URL CA`: GETs a customer record, POSTs its text to the
/// tool; prints one JSON line per step (`read`, `post`); exit 0 if the POST succeeded, 3 if
/// it failed, 2 if the read failed.
pub fn taint_agent(source: &Target, source_path: &str, tool: &Target, tool_path: &str) -> CommandSpec {
    python_script("taint_agent.py").arg(source.url(source_path)).arg(tool.url(tool_path)).arg(&source.ca)
}

/// The JSON objects of the lines of `stdout` that are JSON objects (the agents' step lines).
pub fn json_lines(stdout: &str) -> Vec<serde_json::Value> {
    stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l.trim()).ok())
        .filter(serde_json::Value::is_object)
        .collect()
}

/// The step line `{"step": step, ...}` of an agent's output, or `Value::Null`.
pub fn step(stdout: &str, step: &str) -> serde_json::Value {
    json_lines(stdout).into_iter().find(|v| v["step"] == step).unwrap_or(serde_json::Value::Null)
}
