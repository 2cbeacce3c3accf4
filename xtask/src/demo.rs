//! `cargo xtask demo`: builds egress, makes sure the Python virtualenv with the `openai` SDK
//! exists, and runs the demo driver (`tests/src/bin/egress-demo.rs`): a small agent under
//! `egress run` against local servers, step by step.
use std::os::unix::fs::MetadataExt as _;

use anyhow::{Context as _, bail};

use crate::{build, cargo, egress_binary, run_command, test_deps};

pub fn run() -> anyhow::Result<()> {
    // Say it before a build of several minutes, not after. /proc/self belongs to the
    // effective uid of the process looking at it.
    let euid = std::fs::metadata("/proc/self").context("reading /proc/self")?.uid();
    if euid != 0 {
        bail!("the demo needs root (egress loads eBPF programs and holds the agent): run `sudo ./x demo`");
    }
    build()?;
    let python = test_deps::install()?;
    run_command(
        cargo()
            .args(["run", "--quiet", "-p", "egress-tests", "--bin", "egress-demo"])
            .env("EGRESS_BIN", egress_binary())
            .env("EGRESS_TEST_PYTHON", python),
    )
}
