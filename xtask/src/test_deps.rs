//! What the end-to-end tests run: real clients (curl, wget, git, node) from Debian and a
//! Python virtual environment with the `openai` SDK and `httpx` from PyPI.
use std::{path::PathBuf, process::Command};

use crate::{run_command, workspace};

/// Debian packages whose programs the tests use, by the program that must exist.
const DEBIAN: [(&str, &str); 4] = [("curl", "curl"), ("wget", "wget"), ("git", "git"), ("node", "nodejs")];
const PYPI: [&str; 2] = ["openai", "httpx"];

/// Installs what is missing; returns the Python interpreter of the tests' virtualenv.
pub fn install() -> anyhow::Result<PathBuf> {
    let missing: Vec<&str> =
        DEBIAN.iter().filter(|(program, _)| which(program).is_none()).map(|(_, package)| *package).collect();
    if !missing.is_empty() {
        run_command(Command::new("apt-get").arg("update"))?;
        run_command(Command::new("apt-get").args(["install", "-y", "--no-install-recommends"]).args(&missing))?;
    }
    let venv = workspace().join(".venv");
    let python = venv.join("bin/python");
    if !python.exists() {
        run_command(Command::new("python3").args(["-m", "venv"]).arg(&venv))?;
    }
    let imports = format!("import {}", PYPI.join(", "));
    let installed = Command::new(&python).args(["-c", &imports]).output().is_ok_and(|output| output.status.success());
    if !installed {
        run_command(Command::new(&python).args(["-m", "pip", "install", "--quiet"]).args(PYPI))?;
    }
    Ok(python)
}

fn which(program: &str) -> Option<PathBuf> {
    let paths = std::env::var_os("PATH")?;
    std::env::split_paths(&paths).map(|dir| dir.join(program)).find(|path| path.is_file())
}
