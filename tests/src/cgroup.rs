//! cgroup v2: finding the mount, child cgroups as RAII guards, spawning into them.

use std::fs::File;
use std::io::Write as _;
use std::os::fd::AsRawFd as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::proc::{process_state, signal};

/// The cgroup2 mount point, from `/proc/self/mountinfo` (`/sys/fs/cgroup/unified` on a
/// hybrid layout, `/sys/fs/cgroup` on most hosts).
pub fn cgroup2_mount() -> PathBuf {
    let info =
        std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_else(|e| panic!("read /proc/self/mountinfo: {e}"));
    parse_cgroup2_mount(&info).unwrap_or_else(|| {
        panic!("no cgroup2 file system in /proc/self/mountinfo:\n{info}");
    })
}

/// The first cgroup2 mount point in a mountinfo text.
pub fn parse_cgroup2_mount(mountinfo: &str) -> Option<PathBuf> {
    for line in mountinfo.lines() {
        // id parent major:minor root mount-point options [optional...] - fstype source super
        let Some((pre, post)) = line.split_once(" - ") else {
            continue;
        };
        if post.split_whitespace().next() != Some("cgroup2") {
            continue;
        }
        let mount_point = pre.split_whitespace().nth(4)?;
        return Some(PathBuf::from(unescape_mountinfo(mount_point)));
    }
    None
}

/// mountinfo escapes space, tab, newline and backslash as `\ooo`.
fn unescape_mountinfo(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c)) {
            let v = (b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0');
            out.push(v);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The pids listed in a cgroup directory's `cgroup.procs` (empty if it is gone).
pub fn cgroup_procs(dir: &Path) -> Vec<i32> {
    std::fs::read_to_string(dir.join("cgroup.procs"))
        .map(|s| s.lines().filter_map(|l| l.trim().parse().ok()).collect())
        .unwrap_or_default()
}

/// A child cgroup of the cgroup2 root, `egress-test-<pid>-<n>`, removed on drop after
/// every process left in it (and in any descendant) is killed.
#[derive(Debug)]
pub struct CgroupGuard {
    path: PathBuf,
    relative: String,
}

impl CgroupGuard {
    /// Creates a uniquely named child cgroup of the cgroup2 root.
    pub fn new() -> Self {
        let mount = cgroup2_mount();
        let name = crate::unique_name("egress-test");
        let path = mount.join(&name);
        std::fs::create_dir(&path).unwrap_or_else(|e| panic!("create cgroup {}: {e}", path.display()));
        CgroupGuard { path, relative: format!("/{name}") }
    }

    /// Absolute path of the cgroup directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The path relative to the cgroup2 mount, as the audit log writes it
    /// (`/egress-test-1234-0`).
    pub fn relative(&self) -> &str {
        &self.relative
    }

    /// Pids of the processes in this cgroup (not its descendants).
    pub fn procs(&self) -> Vec<i32> {
        cgroup_procs(&self.path)
    }

    /// Pids (with their state letters) of processes of this cgroup and its descendants
    /// that are stopped (`T`, or `t` traced).
    pub fn stopped_procs(&self) -> Vec<(i32, char)> {
        let mut out = Vec::new();
        for dir in subtree(&self.path) {
            for pid in cgroup_procs(&dir) {
                if let Some(s) = process_state(pid)
                    && (s == 'T' || s == 't')
                {
                    out.push((pid, s));
                }
            }
        }
        out
    }

    /// Makes `cmd` move itself into this cgroup before `exec`: `cgroup.procs` is opened
    /// now, and the child writes "0" to it in `pre_exec`. The returned file must be kept
    /// open until `cmd` has been spawned.
    pub fn enter_on_spawn(&self, cmd: &mut Command) -> File {
        let procs_path = self.path.join("cgroup.procs");
        let file = File::options()
            .write(true)
            .open(&procs_path)
            .unwrap_or_else(|e| panic!("open {}: {e}", procs_path.display()));
        let fd = file.as_raw_fd();
        // SAFETY: the closure only calls async-signal-safe functions (write, errno read).
        unsafe {
            cmd.pre_exec(move || {
                let r = libc::write(fd, b"0".as_ptr().cast(), 1);
                if r == 1 { Ok(()) } else { Err(std::io::Error::last_os_error()) }
            });
        }
        file
    }

    /// Kills every process in this cgroup and its descendants and waits (up to 10 s) until
    /// they are gone.
    pub fn kill_all(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let dirs = subtree(&self.path);
            let mut any = false;
            for dir in &dirs {
                if !cgroup_procs(dir).is_empty() {
                    any = true;
                }
            }
            if !any {
                return;
            }
            let kill_file = self.path.join("cgroup.kill");
            let killed_by_file = kill_file.exists()
                && File::options().write(true).open(&kill_file).and_then(|mut f| f.write_all(b"1")).is_ok();
            if !killed_by_file {
                for dir in &dirs {
                    for pid in cgroup_procs(dir) {
                        signal(pid, libc::SIGKILL);
                    }
                }
            }
            if Instant::now() >= deadline {
                eprintln!(
                    "warning: processes still in {} after SIGKILL: {:?}",
                    self.path.display(),
                    cgroup_procs(&self.path)
                );
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Default for CgroupGuard {
    fn default() -> Self {
        Self::new()
    }
}

/// `dir` and all cgroup directories below it, parents before children.
fn subtree(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![dir.to_path_buf()];
    let mut i = 0;
    while i < out.len() {
        if let Ok(rd) = std::fs::read_dir(&out[i]) {
            for e in rd.flatten() {
                if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                    out.push(e.path());
                }
            }
        }
        i += 1;
    }
    out
}

impl Drop for CgroupGuard {
    fn drop(&mut self) {
        self.kill_all();
        // Children first.
        let mut dirs = subtree(&self.path);
        dirs.reverse();
        for dir in dirs {
            let deadline = Instant::now() + Duration::from_secs(5);
            loop {
                match std::fs::remove_dir(&dir) {
                    Ok(()) => break,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => break,
                    Err(e) => {
                        if Instant::now() >= deadline {
                            eprintln!("warning: could not remove cgroup {}: {e}", dir.display());
                            break;
                        }
                        std::thread::sleep(Duration::from_millis(50));
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_cgroup2_in_hybrid_mountinfo() {
        let info = "\
25 30 0:23 / /sys rw,nosuid shared:7 - sysfs sysfs rw
35 25 0:30 / /sys/fs/cgroup ro,nosuid shared:9 - tmpfs tmpfs ro,mode=755
41 35 0:38 / /sys/fs/cgroup/unified rw,relatime shared:10 - cgroup2 cgroup2 rw
42 35 0:39 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
";
        assert_eq!(parse_cgroup2_mount(info), Some(PathBuf::from("/sys/fs/cgroup/unified")));
    }

    #[test]
    fn finds_cgroup2_in_unified_mountinfo_with_escapes() {
        let info = "30 23 0:26 / /sys/fs/my\\040cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate\n";
        assert_eq!(parse_cgroup2_mount(info), Some(PathBuf::from("/sys/fs/my cgroup")));
        assert_eq!(parse_cgroup2_mount("1 2 0:1 / / rw - ext4 /dev/sda rw\n"), None);
    }

    #[test]
    fn this_machine_has_cgroup2() {
        assert!(cgroup2_mount().join("cgroup.procs").exists());
    }
}
