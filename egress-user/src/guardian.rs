//! The guardian: a small process started beside each daemon that applies the fail mode if the
//! daemon dies (SIGKILL, crash, OOM). A stopped agent cannot resume itself and the kernel
//! cannot send it SIGCONT, so without it an agent held at the daemon's death would stay
//! stopped forever. It watches a pipe from the daemon: end of file without the word `clean`
//! means the daemon is gone.
use std::{
    io::{Read as _, Write as _},
    path::{Path, PathBuf},
    process::{Child, ChildStdin, Command, Stdio},
    time::Duration,
};

use anyhow::Context as _;
use aya::maps::{Array, HashMap, Map, MapData};
use egress_common::{Config, FAIL_CLOSED};

use crate::loader;

const CLEAN_EXIT: &[u8] = b"clean";
/// Holds that raced the daemon's death are swept up by repeating the sweep a few times.
const SWEEPS: usize = 3;
const SWEEP_INTERVAL: Duration = Duration::from_millis(50);

/// The daemon's handle on its guardian.
pub struct Guardian {
    child: Child,
    pipe: Option<ChildStdin>,
}

impl Guardian {
    /// Starts `egress guardian --pin-dir DIR` in its own process group, so that a signal to
    /// the daemon's group does not take it down too.
    pub fn spawn(pin_dir: &Path) -> anyhow::Result<Self> {
        let exe = std::env::current_exe().context("locating the egress executable")?;
        let mut child = std::os::unix::process::CommandExt::process_group(
            Command::new(exe)
                .arg("--log-format")
                .arg(crate::logging::format().as_str())
                .arg("guardian")
                .arg("--pin-dir")
                .arg(pin_dir)
                .stdin(Stdio::piped()),
            0,
        )
        .spawn()
        .context("starting the guardian process")?;
        let pipe = child.stdin.take();
        Ok(Self { child, pipe })
    }

    /// Tells the guardian the daemon has settled everything itself, and waits for it to exit.
    pub fn dismiss(mut self) -> anyhow::Result<()> {
        if let Some(mut pipe) = self.pipe.take() {
            pipe.write_all(CLEAN_EXIT).context("writing to the guardian")?;
        }
        self.child.wait().context("waiting for the guardian")?;
        Ok(())
    }
}

/// Body of `egress guardian`: waits for the daemon's pipe to close and settles if it died.
pub fn watch(pin_dir: &Path) -> anyhow::Result<()> {
    let mut said = Vec::new();
    std::io::stdin().read_to_end(&mut said).context("reading the daemon's pipe")?;
    if said == CLEAN_EXIT {
        return Ok(());
    }
    tracing::warn!("daemon died: applying the fail mode of {}", pin_dir.display());
    settle(pin_dir)
}

/// Applies the fail mode recorded in an instance's pinned config to whatever it holds:
/// `open` resumes held agents and detaches everything; `closed` marks held threads denied
/// before resuming them (their write fails) and leaves the programs pinned, dropping TLS
/// writes until a daemon is back. Used by the guardian and by a daemon that finds the pins
/// of a dead predecessor.
pub fn settle(pin_dir: &Path) -> anyhow::Result<()> {
    let mut heartbeat: Array<MapData, u64> = open_pinned(pin_dir, "HEARTBEAT")?;
    heartbeat.set(0, &0, 0).context("clearing the heartbeat")?;
    let config: Array<MapData, Config> = open_pinned(pin_dir, "CONFIG")?;
    let closed = config.get(&0, 0).context("reading the pinned config")?.fail_mode == FAIL_CLOSED;
    let mut held: HashMap<MapData, u64, u64> = open_pinned(pin_dir, "HELD")?;
    let mut denied: HashMap<MapData, u64, u8> = open_pinned(pin_dir, "DENIED_THREADS")?;
    for _ in 0..SWEEPS {
        let threads: Vec<u64> = held.keys().filter_map(Result::ok).collect();
        for pid_tgid in threads {
            if closed {
                denied.insert(&pid_tgid, &1, 0).context("marking a held thread denied")?;
            }
            let _ = held.remove(&pid_tgid);
            resume((pid_tgid >> 32) as u32);
            tracing::warn!(
                "resumed held process {} ({})",
                pid_tgid >> 32,
                if closed { "its write fails" } else { "uninspected" }
            );
        }
        std::thread::sleep(SWEEP_INTERVAL);
    }
    if closed {
        tracing::warn!(
            "fail_mode closed: TLS writes of watched agents are dropped until a daemon is back \
             (remove {} to lift)",
            pin_dir.display()
        );
        Ok(())
    } else {
        loader::remove_pins(pin_dir)
    }
}

pub fn resume(tgid: u32) {
    // SAFETY: plain kill(2).
    unsafe { libc::kill(tgid as libc::pid_t, libc::SIGCONT) };
}

fn open_pinned<T>(pin_dir: &Path, name: &str) -> anyhow::Result<T>
where
    T: TryFrom<Map, Error = aya::maps::MapError>,
{
    let path: PathBuf = pin_dir.join(name);
    let data = MapData::from_pin(&path).with_context(|| format!("opening pinned map {}", path.display()))?;
    let map = Map::from_map_data(data).with_context(|| format!("pinned map {}", path.display()))?;
    T::try_from(map).with_context(|| format!("pinned map {} has an unexpected type", path.display()))
}

/// A second handle on the pinned heartbeat, for the task that beats it.
pub fn open_heartbeat(pin_dir: &Path) -> anyhow::Result<Array<MapData, u64>> {
    open_pinned(pin_dir, "HEARTBEAT")
}
