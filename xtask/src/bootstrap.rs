//! The toolchains the eBPF build needs, installed when missing and left alone when present:
//! the nightly pinned in egress-ebpf/rust-toolchain.toml with `rust-src`, and bpf-linker
//! built against that nightly's own LLVM (no system LLVM of the same major exists here).
use std::{fs, path::PathBuf, process::Command};

use anyhow::{Context as _, bail};

use crate::{run_command, workspace};

const BPF_LINKER_VERSION: &str = "0.13.0";

pub fn ebpf_toolchain() -> anyhow::Result<String> {
    let pin = workspace().join("egress-ebpf/rust-toolchain.toml");
    let text = fs::read_to_string(&pin).with_context(|| format!("reading {}", pin.display()))?;
    text.lines()
        .find_map(|line| line.trim().strip_prefix("channel = "))
        .map(|channel| channel.trim_matches('"').to_owned())
        .with_context(|| format!("no channel in {}", pin.display()))
}

fn succeeds(command: &mut Command) -> bool {
    command.output().is_ok_and(|output| output.status.success())
}

pub fn ensure_ebpf_toolchain() -> anyhow::Result<()> {
    let toolchain = ebpf_toolchain()?;
    let sysroot = rustc_sysroot(&toolchain);
    let has_rust_src = sysroot.as_ref().is_some_and(|root| root.join("lib/rustlib/src/rust/library/core").exists());
    if !has_rust_src {
        run_command(Command::new("rustup").args([
            "toolchain",
            "install",
            &toolchain,
            "--profile",
            "minimal",
            "--component",
            "rust-src,clippy,rustfmt",
        ]))?;
    }
    let sysroot = rustc_sysroot(&toolchain).context("the eBPF toolchain has no sysroot after installing it")?;
    // bpf-linker loads the nightly's libLLVM, which only `rustup run` puts on the library path
    // (aya-build runs it the same way).
    let linker_ok =
        Command::new("rustup").args(["run", &toolchain, "bpf-linker", "--version"]).output().is_ok_and(|output| {
            output.status.success() && String::from_utf8_lossy(&output.stdout).contains(BPF_LINKER_VERSION)
        });
    if !linker_ok {
        install_bpf_linker(&toolchain, &sysroot)?;
    }
    Ok(())
}

fn rustc_sysroot(toolchain: &str) -> Option<PathBuf> {
    let output = Command::new("rustup").args(["run", toolchain, "rustc", "--print", "sysroot"]).output().ok()?;
    output.status.success().then(|| PathBuf::from(String::from_utf8_lossy(&output.stdout).trim()))
}

/// bpf-linker finds LLVM through LLVM_PREFIX/lib/libLLVM.so: point that at the nightly's
/// libLLVM so the linker and rustc agree on the LLVM major.
fn install_bpf_linker(toolchain: &str, sysroot: &std::path::Path) -> anyhow::Result<()> {
    let llvm = fs::read_dir(sysroot.join("lib"))
        .context("reading the nightly's lib directory")?
        .flatten()
        .map(|entry| entry.path())
        .find(|path| path.file_name().is_some_and(|name| name.to_string_lossy().starts_with("libLLVM.so.")))
        .context("the eBPF nightly ships no libLLVM.so.*")?;
    let prefix = workspace().join("target/llvm-prefix");
    fs::create_dir_all(prefix.join("lib"))?;
    let link = prefix.join("lib/libLLVM.so");
    let _ = fs::remove_file(&link);
    std::os::unix::fs::symlink(&llvm, &link).context("linking libLLVM.so")?;
    run_command(
        Command::new("cargo")
            .current_dir(std::env::temp_dir())
            .args(["install", "bpf-linker", "--version", BPF_LINKER_VERSION, "--locked", "--force"])
            .env("LLVM_PREFIX", &prefix),
    )?;
    if !succeeds(Command::new("rustup").args(["run", toolchain, "bpf-linker", "--version"])) {
        bail!("bpf-linker was installed but does not run");
    }
    Ok(())
}

/// The cgroup v2 mount point, from /proc/self/mountinfo.
pub fn cgroup2_mount() -> anyhow::Result<PathBuf> {
    let mountinfo = fs::read_to_string("/proc/self/mountinfo")?;
    mountinfo
        .lines()
        .find_map(|line| {
            let (before, after) = line.split_once(" - ")?;
            (after.split_whitespace().next()? == "cgroup2").then(|| before.split_whitespace().nth(4)).flatten()
        })
        .map(PathBuf::from)
        .context("no cgroup2 mount")
}
