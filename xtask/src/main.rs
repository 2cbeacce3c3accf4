//! Developer tasks: `cargo xtask build | run | test | lint | bench | eval | demo` (through `./x`
//! on a fresh machine). Every task first bootstraps what it needs, idempotently.
mod bootstrap;
mod demo;
mod test_deps;

use std::{
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{Context as _, bail};
use clap::{Parser, Subcommand};

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Install the eBPF toolchain and bpf-linker if missing, then build target/release/egress.
    Build,
    /// Build, then run the daemon on its built-in default policy. Arguments after `--` go to
    /// `egress daemon` (default: `--cgroup <cgroup2 mount>/egress-agents`).
    Run {
        #[arg(last = true)]
        args: Vec<String>,
    },
    /// fmt and clippy checks of every crate, the eBPF crate included.
    Lint,
    /// Everything: lint, unit tests, and the root end-to-end tests with real clients.
    Test,
    /// Overhead of capture and enforcement per SSL_write, and hold latency; then detection
    /// speed and memory (criterion).
    Bench,
    /// Detection quality on the labelled corpus: precision and recall per category.
    Eval,
    /// Build, then show egress at work (needs root): a Python agent using the `openai` SDK
    /// runs under `egress run` against local servers; one request is allowed, one redacted,
    /// one blocked, one held for review and approved; then the audit log is verified.
    Demo,
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().task {
        Task::Build => build(),
        Task::Run { args } => run(args),
        Task::Lint => lint(),
        Task::Test => test(),
        Task::Bench => bench(),
        Task::Eval => run_command(cargo().args([
            "test",
            "--release",
            "-p",
            "egress-user",
            "--test",
            "detect_eval",
            "--",
            "--nocapture",
        ])),
        Task::Demo => demo::run(),
    }
}

pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask sits in the workspace").to_path_buf()
}

pub fn egress_binary() -> PathBuf {
    workspace().join("target/release/egress")
}

/// Runs a command, failing with its command line if it fails.
pub fn run_command(command: &mut Command) -> anyhow::Result<()> {
    let shown = format!("{command:?}");
    eprintln!("xtask: {shown}");
    let status = command.status().with_context(|| format!("starting {shown}"))?;
    if !status.success() {
        bail!("{shown} failed: {status}");
    }
    Ok(())
}

fn cargo() -> Command {
    let mut command = Command::new("cargo");
    command.current_dir(workspace());
    command
}

fn build() -> anyhow::Result<()> {
    bootstrap::ensure_ebpf_toolchain()?;
    run_command(cargo().args(["build", "--release", "-p", "egress-user"]))?;
    eprintln!("xtask: built {}", egress_binary().display());
    Ok(())
}

fn run(args: Vec<String>) -> anyhow::Result<()> {
    build()?;
    let mut args = args;
    if args.is_empty() {
        let cgroup = bootstrap::cgroup2_mount()?.join("egress-agents");
        std::fs::create_dir_all(&cgroup).with_context(|| format!("creating {}", cgroup.display()))?;
        eprintln!(
            "xtask: watching {} (move an agent there: echo PID > {}/cgroup.procs)",
            cgroup.display(),
            cgroup.display()
        );
        args = vec!["--cgroup".into(), cgroup.display().to_string()];
    }
    run_command(Command::new(egress_binary()).arg("daemon").args(args))
}

fn lint() -> anyhow::Result<()> {
    bootstrap::ensure_ebpf_toolchain()?;
    run_command(cargo().args(["fmt", "--all", "--check"]))?;
    run_command(cargo().args([
        "clippy",
        "--workspace",
        "--exclude",
        "egress-ebpf",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))?;
    // The eBPF crate with its own nightly and target (its directory pins the toolchain).
    run_command(
        Command::new("rustup")
            .current_dir(workspace().join("egress-ebpf"))
            .args(["run", &bootstrap::ebpf_toolchain()?, "cargo", "clippy", "--release"])
            .args(["--target", "bpfel-unknown-none", "-Z", "build-std=core", "--", "-D", "warnings"]),
    )
}

fn test() -> anyhow::Result<()> {
    build()?;
    lint()?;
    let python = test_deps::install()?;
    run_command(cargo().args(["test", "--workspace", "--exclude", "egress-ebpf", "--exclude", "egress-tests"]))?;
    run_command(
        cargo()
            .args(["test", "-p", "egress-tests", "--", "--test-threads=1"])
            .env("EGRESS_BIN", egress_binary())
            .env("EGRESS_TEST_PYTHON", python),
    )
}

fn bench() -> anyhow::Result<()> {
    build()?;
    let python = test_deps::install()?;
    run_command(
        cargo()
            .args(["run", "--release", "-p", "egress-tests", "--bin", "egress-bench"])
            .env("EGRESS_BIN", egress_binary())
            .env("EGRESS_TEST_PYTHON", python),
    )?;
    run_command(cargo().args(["bench", "-p", "egress-user", "--bench", "detect"]))
}
