//! `egress daemon` as an RAII guard.

use std::ffi::OsString;
use std::io::BufRead as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long the daemon may take to log `ready:`.
pub const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// Where the daemon pins its kernel state.
pub const BPF_PIN_ROOT: &str = "/sys/fs/bpf/egress";

/// What the daemon (and `egress run`) logs, followed by the socket path, once the review
/// API listens.
pub const REVIEW_API_MARKER: &str = "review API: ";

/// What the daemon logs, followed by its metrics URL, once it serves metrics.
pub const METRICS_MARKER: &str = "metrics: http://";

/// The socket path of a `... review API: <path>` log line (the rest of the line after the
/// marker, trimmed, up to the first space; a path made by the daemon has none).
pub fn parse_review_socket(line: &str) -> Option<PathBuf> {
    let (_, rest) = line.split_once(REVIEW_API_MARKER)?;
    let path = rest.split_whitespace().next()?;
    let path = path.trim_matches(|c| c == '"' || c == '\'' || c == '`');
    path.starts_with('/').then(|| PathBuf::from(path))
}

/// Arguments of `egress daemon`.
#[derive(Clone, Debug)]
pub struct DaemonOptions {
    pub cgroups: Vec<PathBuf>,
    pub policy: Option<PathBuf>,
    pub mode: Option<String>,
    pub audit: Option<PathBuf>,
    /// Always passed as `--instance`; [`DaemonOptions::new`] makes a unique one.
    pub instance: String,
    pub extra_args: Vec<OsString>,
    /// Environment variables set for the daemon.
    pub env: Vec<(OsString, OsString)>,
}

impl DaemonOptions {
    /// Watches `cgroup`, with a unique instance name (`t-<pid>-<n>`).
    pub fn new(cgroup: &Path) -> Self {
        DaemonOptions {
            cgroups: vec![cgroup.to_path_buf()],
            policy: None,
            mode: None,
            audit: None,
            instance: crate::unique_name("t"),
            extra_args: Vec::new(),
            env: Vec::new(),
        }
    }

    /// Adds arguments after the standard ones.
    pub fn extra(mut self, args: &[&str]) -> Self {
        self.extra_args.extend(args.iter().map(OsString::from));
        self
    }

    pub fn env(mut self, key: &str, value: impl Into<OsString>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    pub fn policy(mut self, p: &Path) -> Self {
        self.policy = Some(p.to_path_buf());
        self
    }

    pub fn mode(mut self, m: &str) -> Self {
        self.mode = Some(m.into());
        self
    }

    pub fn audit(mut self, p: &Path) -> Self {
        self.audit = Some(p.to_path_buf());
        self
    }

    pub fn args(&self) -> Vec<OsString> {
        let mut a: Vec<OsString> = vec!["daemon".into()];
        for c in &self.cgroups {
            a.push("--cgroup".into());
            a.push(c.into());
        }
        if let Some(p) = &self.policy {
            a.push("--policy".into());
            a.push(p.into());
        }
        if let Some(m) = &self.mode {
            a.push("--mode".into());
            a.push(m.into());
        }
        if let Some(p) = &self.audit {
            a.push("--audit".into());
            a.push(p.into());
        }
        a.push("--instance".into());
        a.push((&self.instance).into());
        // Metrics on a port of the kernel's choosing (the log line says which), so that
        // daemons of tests never contend for the default port.
        if !self.extra_args.iter().any(|arg| arg == "--metrics-addr" || arg == "--no-metrics") {
            a.push("--metrics-addr".into());
            a.push("127.0.0.1:0".into());
        }
        a.extend(self.extra_args.iter().cloned());
        a
    }
}

/// A running `egress daemon`. Its stderr (and stdout) lines are all kept for failure
/// messages. On drop: SIGTERM (then SIGKILL after 10 s) if still running, and the pin
/// directory `/sys/fs/bpf/egress/<instance>` is removed if it is left.
pub struct EgressDaemon {
    child: Option<Child>,
    pid: i32,
    instance: String,
    command: String,
    lines: Arc<Mutex<Vec<String>>>,
    readers: Vec<JoinHandle<()>>,
    status: Option<ExitStatus>,
}

impl EgressDaemon {
    /// Spawns `egress daemon ...` and waits up to 60 s for a stderr line with `ready:`;
    /// panics with everything it printed if it exits or times out first.
    pub fn start(opts: &DaemonOptions) -> Self {
        let bin = crate::egress_bin();
        let args = opts.args();
        let command = format!(
            "{} {}",
            bin.display(),
            args.iter().map(|a| a.to_string_lossy().into_owned()).collect::<Vec<_>>().join(" ")
        );
        let mut child = Command::new(&bin)
            .args(&args)
            .envs(opts.env.iter().map(|(key, value)| (key, value)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn `{command}`: {e}"));
        let pid = child.id() as i32;
        let lines = Arc::new(Mutex::new(Vec::new()));
        let (ready_tx, ready_rx) = mpsc::channel();
        let stderr = child.stderr.take().expect("stderr piped");
        let stdout = child.stdout.take().expect("stdout piped");
        let l = lines.clone();
        let err_reader = std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr).lines() {
                let Ok(line) = line else { return };
                if line.contains("ready:") {
                    let _ = ready_tx.send(());
                }
                l.lock().unwrap().push(line);
            }
        });
        let l = lines.clone();
        let out_reader = std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                l.lock().unwrap().push(format!("[stdout] {line}"));
            }
        });
        let mut d = EgressDaemon {
            child: Some(child),
            pid,
            instance: opts.instance.clone(),
            command,
            lines,
            readers: vec![err_reader, out_reader],
            status: None,
        };
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            match ready_rx.recv_timeout(Duration::from_millis(100)) {
                Ok(()) => return d,
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    // stderr closed: it is exiting; wait for the status below.
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
            if let Some(status) = d.try_wait() {
                d.join_readers();
                panic!("egress daemon exited before it was ready ({status:?})\ncommand: {}\n{}", d.command, d.output());
            }
            if Instant::now() >= deadline {
                d.kill9();
                d.join_readers();
                panic!(
                    "egress daemon did not log `ready:` within {READY_TIMEOUT:?}; killed it\ncommand: {}\n{}",
                    d.command,
                    d.output()
                );
            }
        }
    }

    pub fn pid(&self) -> i32 {
        self.pid
    }

    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// `/sys/fs/bpf/egress/<instance>`.
    pub fn pin_dir(&self) -> PathBuf {
        Path::new(BPF_PIN_ROOT).join(&self.instance)
    }

    /// Everything it printed so far (stderr lines; stdout lines marked `[stdout]`).
    pub fn output(&self) -> String {
        let lines = self.lines.lock().unwrap();
        let mut s = format!("--- egress daemon output ({} lines) ---\n", lines.len());
        // Keep messages bounded: the first 50 and the last 300 lines.
        let n = lines.len();
        for (i, l) in lines.iter().enumerate() {
            if i == 50 && n > 350 {
                s.push_str(&format!("... [{} lines left out] ...\n", n - 350));
            }
            if i < 50 || i + 300 >= n {
                s.push_str(l);
                s.push('\n');
            }
        }
        s.push_str("--------------------------------------\n");
        s
    }

    fn try_wait(&mut self) -> Option<ExitStatus> {
        if self.status.is_none()
            && let Some(c) = self.child.as_mut()
            && let Ok(Some(s)) = c.try_wait()
        {
            self.status = Some(s);
        }
        self.status
    }

    /// Whether it is still running (not exited).
    pub fn is_running(&mut self) -> bool {
        self.try_wait().is_none()
    }

    fn wait_timeout(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(s) = self.try_wait() {
                return Some(s);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn join_readers(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.readers.iter().any(|r| !r.is_finished()) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        for r in std::mem::take(&mut self.readers) {
            if r.is_finished() {
                let _ = r.join();
            }
        }
    }

    /// SIGTERM, then waits up to 15 s for it to exit (panics with its output if it does
    /// not, after SIGKILL). Returns its exit status.
    pub fn stop(&mut self) -> ExitStatus {
        if let Some(s) = self.try_wait() {
            return s;
        }
        crate::proc::signal(self.pid, libc::SIGTERM);
        // In case it was stopped.
        crate::proc::signal(self.pid, libc::SIGCONT);
        match self.wait_timeout(Duration::from_secs(15)) {
            Some(s) => {
                self.join_readers();
                s
            }
            None => {
                self.kill9();
                self.join_readers();
                panic!("egress daemon did not exit within 15 s of SIGTERM; killed it\n{}", self.output());
            }
        }
    }

    /// The number of output lines so far (to wait for lines printed after a point).
    pub fn line_count(&self) -> usize {
        self.lines.lock().unwrap().len()
    }

    /// The output lines after the first `skip` (stdout lines marked `[stdout]`).
    pub fn lines_since(&self, skip: usize) -> Vec<String> {
        self.lines.lock().unwrap().iter().skip(skip).cloned().collect()
    }

    /// Waits up to `timeout` for an output line after the first `skip` that contains
    /// `needle`; returns it.
    pub fn wait_for_line(&self, skip: usize, needle: &str, timeout: Duration) -> Option<String> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(l) = self.lines_since(skip).into_iter().find(|l| l.contains(needle)) {
                return Some(l);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The review API's socket, from the `review API: <path>` line it logs when ready
    /// (waits up to 10 s for it; panics with its output if it never comes).
    pub fn review_socket(&self) -> PathBuf {
        let line = self.wait_for_line(0, REVIEW_API_MARKER, Duration::from_secs(10)).unwrap_or_else(|| {
            panic!("egress daemon never logged `{REVIEW_API_MARKER} <socket path>`\n{}", self.output())
        });
        parse_review_socket(&line)
            .unwrap_or_else(|| panic!("cannot read the socket path in `{line}`\n{}", self.output()))
    }

    /// The `http://ADDR/metrics` URL it logged.
    pub fn metrics_url(&self) -> String {
        let line = self
            .wait_for_line(0, METRICS_MARKER, Duration::from_secs(10))
            .unwrap_or_else(|| panic!("egress daemon never logged `{METRICS_MARKER} <url>`\n{}", self.output()));
        let (_, rest) = line.split_once(METRICS_MARKER).expect("the marker is in the line");
        let address = rest.split_whitespace().next().unwrap_or_default().trim_end_matches(['"', ',']);
        format!("http://{address}")
    }

    /// SIGHUP: re-read the policy file.
    pub fn sighup(&self) {
        crate::proc::signal(self.pid, libc::SIGHUP);
    }

    /// SIGSTOP (for the fail-mode tests).
    pub fn sigstop(&self) {
        crate::proc::signal(self.pid, libc::SIGSTOP);
    }

    /// SIGKILL and reap. The pin directory is left (see [`EgressDaemon::remove_pins`]; drop
    /// removes it).
    pub fn kill9(&mut self) {
        if self.try_wait().is_some() {
            return;
        }
        crate::proc::signal(self.pid, libc::SIGKILL);
        if let Some(c) = self.child.as_mut()
            && let Ok(s) = c.wait()
        {
            self.status = Some(s);
        }
    }

    /// `rm -rf /sys/fs/bpf/egress/<instance>`.
    pub fn remove_pins(&self) {
        let dir = self.pin_dir();
        if dir.exists()
            && let Err(e) = std::fs::remove_dir_all(&dir)
        {
            eprintln!("warning: rm -rf {}: {e}", dir.display());
        }
    }
}

impl Drop for EgressDaemon {
    fn drop(&mut self) {
        if self.try_wait().is_none() {
            crate::proc::signal(self.pid, libc::SIGTERM);
            crate::proc::signal(self.pid, libc::SIGCONT);
            if self.wait_timeout(Duration::from_secs(10)).is_none() {
                self.kill9();
            }
        }
        self.remove_pins();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn review_socket_lines() {
        assert_eq!(
            parse_review_socket("2026-11-24T05:00:00Z INFO egress: review API: /run/egress/t-1-0.sock"),
            Some(PathBuf::from("/run/egress/t-1-0.sock"))
        );
        assert_eq!(
            parse_review_socket("review API: `/run/egress/run-77.sock` (mode 0600)"),
            Some(PathBuf::from("/run/egress/run-77.sock"))
        );
        assert_eq!(parse_review_socket("ready: attached"), None);
        assert_eq!(parse_review_socket("review API: disabled"), None);
    }
}
