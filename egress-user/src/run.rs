//! `egress run -- CMD`: one agent command in a fresh cgroup, watched by a daemon of its own
//! that lives exactly as long as the command.
use std::{ffi::OsString, io, os::fd::AsRawFd as _, os::unix::process::ExitStatusExt as _, path::PathBuf};

use anyhow::Context as _;
use tokio::signal::unix::{SignalKind, signal};

use crate::{
    audit::AuditOptions,
    cgroup::{self, OwnedCgroup},
    daemon::{Daemon, Options, PolicySource},
    policy::Policy,
};

/// Runs the command to completion and returns the exit code to leave with (128 + signal
/// number when it was killed by a signal, as shells do).
pub async fn run(
    policy: Policy,
    source: PolicySource,
    audit: PathBuf,
    audit_options: AuditOptions,
    metrics_addr: Option<std::net::SocketAddr>,
    command: Vec<OsString>,
) -> anyhow::Result<i32> {
    let (program, args) = command.split_first().context("no command given after --")?;
    let instance = format!("run-{}", std::process::id());
    let cgroup = OwnedCgroup::create(cgroup::cgroup2_mount()?.join("egress").join(&instance))?;
    let daemon = Daemon::start(Options {
        cgroups: vec![cgroup.path().to_path_buf()],
        policy,
        audit,
        audit_options,
        instance,
        source,
        metrics_addr,
        api_group: None,
    })?;

    let procs = cgroup.procs_file()?;
    let procs_fd = procs.as_raw_fd();
    let mut command = tokio::process::Command::new(program);
    command.args(args);
    // SAFETY: between fork and exec the child only calls write(2) on an fd opened before
    // the fork: it moves itself into the cgroup, so its exec is already watched (and held).
    unsafe {
        command.pre_exec(move || {
            if libc::write(procs_fd, b"0".as_ptr().cast(), 1) < 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = command.spawn().with_context(|| format!("starting {}", program.to_string_lossy()))?;
    drop(procs);
    let child_pid = child.id().context("child has no pid")?;

    let status = daemon
        .run(
            async move {
                let mut interrupt = signal(SignalKind::interrupt())?;
                let mut terminate = signal(SignalKind::terminate())?;
                loop {
                    // The agent gets the signals meant for it; egress leaves when it does.
                    let forwarded = tokio::select! {
                        status = child.wait() => return status,
                        _ = interrupt.recv() => libc::SIGINT,
                        _ = terminate.recv() => libc::SIGTERM,
                    };
                    // SAFETY: plain kill(2) of our own child.
                    unsafe { libc::kill(child_pid as libc::pid_t, forwarded) };
                }
            },
            true,
        )
        .await??;
    cgroup.remove()?;
    Ok(status.code().unwrap_or_else(|| 128 + status.signal().unwrap_or(0)))
}
