//! cgroup v2: where it is mounted, ids of directories, and which processes live below one.
use std::{
    fs,
    io::Write as _,
    os::unix::fs::MetadataExt as _,
    path::{Path, PathBuf},
};

use anyhow::{Context as _, bail};

/// The cgroup v2 mount point, read from /proc/self/mountinfo (it is /sys/fs/cgroup on most
/// hosts and /sys/fs/cgroup/unified on hybrid ones).
pub fn cgroup2_mount() -> anyhow::Result<PathBuf> {
    let mountinfo = fs::read_to_string("/proc/self/mountinfo").context("reading /proc/self/mountinfo")?;
    mountinfo
        .lines()
        .find_map(cgroup2_mount_point)
        .map(PathBuf::from)
        .context("no cgroup2 file system is mounted (see /proc/self/mountinfo)")
}

/// The mount point of a mountinfo line if its file system type is cgroup2.
fn cgroup2_mount_point(line: &str) -> Option<&str> {
    let (before, after) = line.split_once(" - ")?;
    let fs_type = after.split_whitespace().next()?;
    (fs_type == "cgroup2").then(|| before.split_whitespace().nth(4)).flatten()
}

/// The id the kernel uses for a cgroup v2 directory (`bpf_get_current_cgroup_id`): its inode.
pub fn cgroup_id(dir: &Path) -> anyhow::Result<u64> {
    Ok(fs::metadata(dir).with_context(|| format!("cgroup {}", dir.display()))?.ino())
}

/// The directory and every directory below it.
pub fn subtree(dir: &Path) -> Vec<PathBuf> {
    let mut found = vec![dir.to_path_buf()];
    let mut index = 0;
    while let Some(current) = found.get(index).cloned() {
        if let Ok(entries) = fs::read_dir(&current) {
            found.extend(
                entries
                    .flatten()
                    .filter(|entry| entry.file_type().is_ok_and(|kind| kind.is_dir()))
                    .map(|entry| entry.path()),
            );
        }
        index += 1;
    }
    found
}

/// Every process in the cgroup or below it.
pub fn processes(dir: &Path) -> Vec<u32> {
    subtree(dir)
        .iter()
        .filter_map(|cgroup| fs::read_to_string(cgroup.join("cgroup.procs")).ok())
        .flat_map(|procs| procs.lines().filter_map(|line| line.trim().parse().ok()).collect::<Vec<u32>>())
        .collect()
}

/// The cgroup v2 path of a process relative to the mount (`0::/path` in /proc/PID/cgroup).
pub fn cgroup_of(pid: u32) -> Option<String> {
    let text = fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    text.lines().find_map(|line| line.strip_prefix("0::")).map(str::to_owned)
}

/// Path of a cgroup directory relative to the cgroup2 mount, as /proc/PID/cgroup writes it.
pub fn relative_path(mount: &Path, dir: &Path) -> String {
    match dir.strip_prefix(mount) {
        Ok(rest) => format!("/{}", rest.display()),
        Err(_) => dir.display().to_string(),
    }
}

/// A cgroup this process created, removed (after its processes are killed) on drop.
pub struct OwnedCgroup {
    path: PathBuf,
}

impl OwnedCgroup {
    pub fn create(path: PathBuf) -> anyhow::Result<Self> {
        fs::create_dir_all(&path).with_context(|| format!("creating cgroup {}", path.display()))?;
        Ok(Self { path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Opens `cgroup.procs` for writing, so a child can move itself in between fork and exec.
    pub fn procs_file(&self) -> anyhow::Result<fs::File> {
        let path = self.path.join("cgroup.procs");
        fs::OpenOptions::new().write(true).open(&path).with_context(|| format!("opening {}", path.display()))
    }

    fn kill_all(&self) {
        if let Ok(mut kill) = fs::OpenOptions::new().write(true).open(self.path.join("cgroup.kill")) {
            let _ = kill.write_all(b"1");
        }
        for pid in processes(&self.path) {
            // SAFETY: plain kill(2); the pid was read from this cgroup.
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
        }
    }

    /// Kills what is left inside and removes the directory (and any child cgroups).
    pub fn remove(&self) -> anyhow::Result<()> {
        self.kill_all();
        let mut dirs = subtree(&self.path);
        dirs.reverse();
        for dir in dirs {
            let mut tries = 0;
            while let Err(error) = fs::remove_dir(&dir) {
                tries += 1;
                if tries > 100 {
                    bail!("removing cgroup {}: {error}", dir.display());
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
        }
        Ok(())
    }
}

impl Drop for OwnedCgroup {
    fn drop(&mut self) {
        if self.path.exists()
            && let Err(error) = self.remove()
        {
            tracing::warn!("{error:#}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_cgroup2_in_a_mountinfo_line() {
        let hybrid = "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw";
        assert_eq!(cgroup2_mount_point(hybrid), Some("/sys/fs/cgroup/unified"));
        let v1 = "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu";
        assert_eq!(cgroup2_mount_point(v1), None);
        let with_optional_fields = "30 23 0:26 / /sys/fs/cgroup rw shared:4 - cgroup2 cgroup2 rw";
        assert_eq!(cgroup2_mount_point(with_optional_fields), Some("/sys/fs/cgroup"));
    }

    #[test]
    fn relative_path_strips_the_mount() {
        let mount = Path::new("/sys/fs/cgroup/unified");
        assert_eq!(relative_path(mount, Path::new("/sys/fs/cgroup/unified/a/b")), "/a/b");
        assert_eq!(relative_path(mount, mount), "/");
    }
}
