//! The `egress` command line.
use std::{ffi::OsString, path::PathBuf, process::ExitCode};

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use egress::{
    api,
    audit::{self, AuditOptions, FsyncPolicy},
    daemon::{Daemon, Options, PolicySource},
    guardian,
    policy::{Mode, Policy},
    run, scan,
};
use tokio::signal::unix::{SignalKind, signal};

#[derive(Parser)]
#[command(name = "egress", version, about = "Stops AI agents from leaking sensitive data through TLS")]
struct Cli {
    #[command(subcommand)]
    command: Command,
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
        api: ApiArgs,
    },
    /// Refuse a held request (the agent's write fails).
    Deny {
        id: u64,
        #[command(flatten)]
        api: ApiArgs,
    },
}

/// One call to a daemon's API: prints its answer; success unless the daemon refused.
fn call_api(api: &ApiArgs, method: hyper::Method, path: &str) -> anyhow::Result<ExitCode> {
    let (status, body) = runtime()?.block_on(api::call(&api.socket(), method, path, Vec::new()))?;
    println!("{}", body.trim_end());
    Ok(if status.is_success() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let cli = Cli::parse();
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
            call_api(&api, hyper::Method::POST, "/v1/policy/reload")
        }
        Command::Review { command: ReviewCommand::List { api } } => call_api(&api, hyper::Method::GET, "/v1/reviews"),
        Command::Review { command: ReviewCommand::Approve { id, api } } => {
            call_api(&api, hyper::Method::POST, &format!("/v1/reviews/{id}/approve"))
        }
        Command::Review { command: ReviewCommand::Deny { id, api } } => {
            call_api(&api, hyper::Method::POST, &format!("/v1/reviews/{id}/deny"))
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
        Command::Run { policy, audit, audit_options, command } => {
            require_root("run")?;
            let (policy, source) = policy.load()?;
            let code = runtime()?.block_on(run::run(policy, source, audit, audit_options.options(), command))?;
            Ok(ExitCode::from(u8::try_from(code).unwrap_or(1)))
        }
        Command::Daemon { cgroups, policy, audit, audit_options, instance } => {
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
                })?;
                let mut interrupt = signal(SignalKind::interrupt())?;
                let mut terminate = signal(SignalKind::terminate())?;
                let stop = async move {
                    tokio::select! {
                        _ = interrupt.recv() => log::info!("SIGINT: stopping"),
                        _ = terminate.recv() => log::info!("SIGTERM: stopping"),
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
