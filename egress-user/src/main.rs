//! The `egress` command line.
use std::{ffi::OsString, net::SocketAddr, path::PathBuf, process::ExitCode, time::Duration};

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use egress::{
    api,
    audit::{self, AuditOptions, FsyncPolicy},
    client,
    daemon::{Daemon, Options, PolicySource},
    guardian, logging, metrics,
    policy::{Mode, Policy},
    run, scan,
};
use tokio::signal::unix::{SignalKind, signal};

#[derive(Parser)]
#[command(name = "egress", version, about = "Stops AI agents from leaking sensitive data through TLS")]
struct Cli {
    /// Log lines as text or as JSON objects (one per line, for log collectors). The level
    /// comes from RUST_LOG (default `info`).
    #[arg(long, global = true, value_enum, default_value = "text")]
    log_format: logging::LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum OutputFormat {
    Text,
    Json,
}

#[derive(clap::Args)]
struct PolicyArgs {
    /// Policy file (YAML); without it the built-in default policy applies.
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
    /// Overrides the policy's mode.
    #[arg(long, value_name = "M", value_parser = parse_mode)]
    mode: Option<Mode>,
}

#[derive(Subcommand)]
enum Command {
    /// Run one command in a fresh cgroup under the policy; exits with its exit code.
    Run {
        #[command(flatten)]
        policy: PolicyArgs,
        /// Audit log (JSON Lines).
        #[arg(long, value_name = "FILE", default_value = "egress-audit.jsonl")]
        audit: PathBuf,
        #[command(flatten)]
        audit_options: AuditArgs,
        /// Serve Prometheus metrics at http://ADDR/metrics while the command runs.
        #[arg(long, value_name = "ADDR")]
        metrics_addr: Option<SocketAddr>,
        /// The command and its arguments.
        #[arg(last = true, required = true, value_name = "CMD")]
        command: Vec<OsString>,
    },
    /// The host daemon: watch cgroup v2 directories and everything below them.
    Daemon {
        /// A cgroup v2 directory to watch (repeatable).
        #[arg(long = "cgroup", value_name = "DIR", required = true)]
        cgroups: Vec<PathBuf>,
        #[command(flatten)]
        policy: PolicyArgs,
        /// Audit log (JSON Lines).
        #[arg(long, value_name = "FILE", default_value = "/var/log/egress/audit.jsonl")]
        audit: PathBuf,
        #[command(flatten)]
        audit_options: AuditArgs,
        /// Name of this daemon's kernel state under /sys/fs/bpf/egress.
        #[arg(long, value_name = "NAME", default_value = "daemon")]
        instance: String,
        /// Serve Prometheus metrics at http://ADDR/metrics.
        #[arg(long, value_name = "ADDR", default_value = metrics::DEFAULT_ADDR)]
        metrics_addr: SocketAddr,
        /// Serve no metrics.
        #[arg(long)]
        no_metrics: bool,
        /// Group (name or gid) whose members may use the review API socket (mode 0660);
        /// without it only root may.
        #[arg(long, value_name = "GROUP")]
        api_group: Option<String>,
    },
    /// What a running daemon watches, has attached and holds, its policy and its counters.
    Status {
        #[command(flatten)]
        api: ApiArgs,
        #[arg(long, value_enum, default_value = "text")]
        format: OutputFormat,
    },
    /// Policy files.
    Policy {
        #[command(subcommand)]
        command: PolicyCommand,
    },
    /// The audit log: its signing key, and checking it.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Requests held for a person to approve or deny.
    Review {
        #[command(subcommand)]
        command: ReviewCommand,
    },
    /// Print the sensitive-content findings of one payload. Exit 0 without findings, 1 with
    /// findings, 2 on error.
    Scan {
        /// Policy whose `detection` section (documents, dictionaries, EDM tables) applies.
        #[arg(long, value_name = "FILE")]
        policy: Option<PathBuf>,
        #[arg(long, value_enum, default_value = "text")]
        format: scan::Format,
        /// The payload (a request body); `-` or nothing reads standard input.
        input: Option<PathBuf>,
    },
    /// Internal: applies the fail mode if the daemon that started it dies.
    #[command(hide = true)]
    Guardian {
        #[arg(long, value_name = "DIR")]
        pin_dir: PathBuf,
    },
}

#[derive(Subcommand)]
enum PolicyCommand {
    /// Validate a policy file; errors name the line, column and key.
    Check { file: PathBuf },
    /// Make a running daemon re-read its policy file (refused whole if it is invalid).
    Reload {
        #[command(flatten)]
        api: ApiArgs,
    },
}

fn parse_mode(value: &str) -> Result<Mode, String> {
    match value {
        "monitor" => Ok(Mode::Monitor),
        "enforce" => Ok(Mode::Enforce),
        other => Err(format!("unknown mode `{other}`, expected `monitor` or `enforce`")),
    }
}

impl PolicyArgs {
    /// The policy, and where it came from (for reloads).
    fn load(self) -> anyhow::Result<(Policy, PolicySource)> {
        let mut policy = match &self.policy {
            Some(path) => Policy::load(path)?,
            None => Policy::builtin_default(),
        };
        if let Some(mode) = self.mode {
            policy.mode = mode;
        }
        Ok((policy, PolicySource { path: self.policy, mode_override: self.mode }))
    }
}

/// How the audit log is kept (`run` and `daemon`).
#[derive(clap::Args)]
struct AuditArgs {
    /// Ed25519 key that signs the audit log's checkpoints (created 0600 on first start).
    #[arg(long, value_name = "FILE", default_value = audit::DEFAULT_KEY_PATH)]
    audit_key: PathBuf,
    /// Sign a checkpoint every N records (0: only at rotation and shutdown).
    #[arg(long, value_name = "N", default_value_t = 100)]
    audit_checkpoint_every: u64,
    /// When to fdatasync the audit log (a decision is applied only after its record is
    /// written; `every-record` also survives a power loss, at ~0.1-4 ms per request).
    #[arg(long, value_enum, value_name = "WHEN", default_value = "every-record")]
    audit_fsync: FsyncPolicy,
    /// Rotate the audit log once it reaches this many bytes (FILE.FIRST-LAST).
    #[arg(long, value_name = "BYTES")]
    audit_max_bytes: Option<u64>,
}

impl AuditArgs {
    fn options(self) -> AuditOptions {
        AuditOptions {
            key_path: self.audit_key,
            checkpoint_every: self.audit_checkpoint_every,
            fsync: self.audit_fsync,
            max_file_bytes: self.audit_max_bytes,
        }
    }
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Print the public key (PEM) that verifies the audit log's checkpoints.
    Pubkey {
        #[arg(long, value_name = "FILE", default_value = audit::DEFAULT_KEY_PATH)]
        key: PathBuf,
    },
    /// Check the hash chain and checkpoint signatures of audit log files (rotated files in
    /// any order). Exit 0 with a one-line summary if intact; print the first bad record and
    /// exit 1 if not; exit 2 if a file cannot be read.
    Verify {
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// Public key (PEM, from `egress audit pubkey`); without it only the hash chain is checked.
        #[arg(long, value_name = "KEY")]
        pubkey: Option<PathBuf>,
        /// Also check the rotated files beside each FILE (FILE.FIRST-LAST).
        #[arg(long)]
        rotated: bool,
    },
}

fn verify_audit(files: Vec<PathBuf>, pubkey: Option<PathBuf>, rotated: bool) -> ExitCode {
    let files = if rotated {
        let mut all = Vec::new();
        for file in &files {
            match audit::chain_files(file) {
                Ok(found) => all.extend(found),
                Err(error) => {
                    eprintln!("egress: error: {}: {error}", file.display());
                    return ExitCode::from(2);
                }
            }
        }
        all
    } else {
        files
    };
    match audit::verify(&files, pubkey.as_deref()) {
        Ok(summary) => {
            println!("{summary}");
            for warning in &summary.warnings {
                eprintln!("warning: {warning}");
            }
            ExitCode::SUCCESS
        }
        Err(error @ audit::VerifyError::Broken(_)) => {
            println!("{error}");
            ExitCode::from(1)
        }
        Err(error) => {
            eprintln!("egress: error: {error}");
            ExitCode::from(2)
        }
    }
}

/// Which daemon's review API to talk to.
#[derive(clap::Args)]
struct ApiArgs {
    /// The daemon's instance name (its socket is /run/egress/NAME.sock).
    #[arg(long, value_name = "NAME", default_value = "daemon")]
    instance: String,
    /// The socket path, instead of the instance name.
    #[arg(long, value_name = "PATH")]
    socket: Option<PathBuf>,
}

impl ApiArgs {
    fn socket(&self) -> PathBuf {
        self.socket.clone().unwrap_or_else(|| api::socket_path(&self.instance))
    }
}

#[derive(Subcommand)]
enum ReviewCommand {
    /// The requests held for review (JSON).
    List {
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Let a held request through.
    Approve {
        id: u64,
        #[command(flatten)]
        binding: BindingArgs,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Refuse a held request (the agent's write fails).
    Deny {
        id: u64,
        #[command(flatten)]
        binding: BindingArgs,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// A pending request's body with every finding masked (`*`), to judge it in context.
    Show {
        id: u64,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Follow the queue: a line when a review arrives (`+ ID ...`) and when it leaves it
    /// (`- ID`), until the daemon stops.
    Watch {
        /// Seconds between two looks at the queue.
        #[arg(long, value_name = "SECONDS", default_value_t = 1.0)]
        interval: f64,
        #[command(flatten)]
        api: ApiArgs,
    },
}

/// What a decision is bound to: the daemon refuses it if the held request is not that one.
#[derive(clap::Args)]
struct BindingArgs {
    /// The `body_sha256` the reviewer saw in `egress review list`.
    #[arg(long, value_name = "HEX")]
    body_sha256: Option<String>,
    /// The `policy_version` the reviewer saw.
    #[arg(long, value_name = "VERSION")]
    policy_version: Option<String>,
}

impl BindingArgs {
    fn body(self) -> anyhow::Result<Vec<u8>> {
        let binding = api::Binding { body_sha256: self.body_sha256, policy_version: self.policy_version };
        if binding.body_sha256.is_none() && binding.policy_version.is_none() {
            return Ok(Vec::new());
        }
        Ok(serde_json::to_vec(&binding)?)
    }
}

/// One call to a daemon's API: prints its answer; success unless the daemon refused.
fn call_api(api: &ApiArgs, method: hyper::Method, path: &str, body: Vec<u8>) -> anyhow::Result<ExitCode> {
    let (status, body) = runtime()?.block_on(api::call(&api.socket(), method, path, body))?;
    println!("{}", body.trim_end());
    Ok(if status.is_success() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

fn show_status(api: &ApiArgs, format: OutputFormat) -> anyhow::Result<ExitCode> {
    let (status, body) = runtime()?.block_on(api::call(&api.socket(), hyper::Method::GET, "/v1/status", Vec::new()))?;
    if !status.is_success() {
        eprintln!("egress: error: {}", body.trim());
        return Ok(ExitCode::from(1));
    }
    match format {
        OutputFormat::Json => println!("{}", body.trim_end()),
        OutputFormat::Text => print!("{}", client::render_status(&serde_json::from_str(&body)?)),
    }
    Ok(ExitCode::SUCCESS)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    logging::init(cli.log_format);
    match execute(cli.command) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("egress: error: {error:#}");
            ExitCode::from(1)
        }
    }
}

fn execute(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Policy { command: PolicyCommand::Check { file } } => Ok(check_policy(&file)),
        Command::Audit { command: AuditCommand::Pubkey { key } } => {
            print!("{}", audit::public_key_pem(&key)?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Audit { command: AuditCommand::Verify { files, pubkey, rotated } } => {
            Ok(verify_audit(files, pubkey, rotated))
        }
        Command::Policy { command: PolicyCommand::Reload { api } } => {
            call_api(&api, hyper::Method::POST, "/v1/policy/reload", Vec::new())
        }
        Command::Status { api, format } => show_status(&api, format),
        Command::Review { command: ReviewCommand::List { api } } => {
            call_api(&api, hyper::Method::GET, "/v1/reviews", Vec::new())
        }
        Command::Review { command: ReviewCommand::Approve { id, binding, api } } => {
            call_api(&api, hyper::Method::POST, &format!("/v1/reviews/{id}/approve"), binding.body()?)
        }
        Command::Review { command: ReviewCommand::Deny { id, binding, api } } => {
            call_api(&api, hyper::Method::POST, &format!("/v1/reviews/{id}/deny"), binding.body()?)
        }
        Command::Review { command: ReviewCommand::Show { id, api } } => {
            call_api(&api, hyper::Method::GET, &format!("/v1/reviews/{id}/preview"), Vec::new())
        }
        Command::Review { command: ReviewCommand::Watch { interval, api } } => {
            let interval = Duration::try_from_secs_f64(interval).context("--interval")?;
            runtime()?.block_on(client::watch_reviews(&api.socket(), interval))?;
            Ok(ExitCode::SUCCESS)
        }
        // Exit 1 means "findings" here, so errors exit 2.
        Command::Scan { policy, format, input } => Ok(match scan::run(policy.as_deref(), format, input.as_deref()) {
            Ok(found) => ExitCode::from(u8::from(found)),
            Err(error) => {
                eprintln!("egress: error: {error:#}");
                ExitCode::from(2)
            }
        }),
        Command::Guardian { pin_dir } => guardian::watch(&pin_dir).map(|()| ExitCode::SUCCESS),
        Command::Run { policy, audit, audit_options, metrics_addr, command } => {
            require_root("run")?;
            let (policy, source) = policy.load()?;
            let code =
                runtime()?.block_on(run::run(policy, source, audit, audit_options.options(), metrics_addr, command))?;
            Ok(ExitCode::from(u8::try_from(code).unwrap_or(1)))
        }
        Command::Daemon { cgroups, policy, audit, audit_options, instance, metrics_addr, no_metrics, api_group } => {
            require_root("daemon")?;
            let (policy, source) = policy.load()?;
            runtime()?.block_on(async {
                let daemon = Daemon::start(Options {
                    cgroups,
                    policy,
                    audit,
                    audit_options: audit_options.options(),
                    instance,
                    source,
                    metrics_addr: (!no_metrics).then_some(metrics_addr),
                    api_group,
                })?;
                let mut interrupt = signal(SignalKind::interrupt())?;
                let mut terminate = signal(SignalKind::terminate())?;
                let stop = async move {
                    tokio::select! {
                        _ = interrupt.recv() => tracing::info!("SIGINT: stopping"),
                        _ = terminate.recv() => tracing::info!("SIGTERM: stopping"),
                    }
                };
                daemon.run(stop, false).await
            })?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn check_policy(file: &std::path::Path) -> ExitCode {
    match Policy::load(file) {
        Ok(policy) => {
            println!(
                "{}: ok ({} tools, mode {}, version {})",
                file.display(),
                policy.tools.len(),
                policy.mode,
                &policy.digest[..12]
            );
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("{error:#}");
            ExitCode::from(1)
        }
    }
}

/// Loading eBPF programs, signalling agents and reading their memory need root (or
/// CAP_BPF, CAP_PERFMON, CAP_SYS_ADMIN, CAP_SYS_PTRACE and CAP_KILL); say so plainly.
fn require_root(command: &str) -> anyhow::Result<()> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        anyhow::bail!(
            "`egress {command}` needs root (it loads eBPF programs and stops and reads agent processes): run it with sudo"
        );
    }
    Ok(())
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")
}
