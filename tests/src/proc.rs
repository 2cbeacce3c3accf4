//! Process helpers: `/proc/PID/stat` state and signals.

use std::time::{Duration, Instant};

/// The state letter of `/proc/PID/stat` (`R`, `S`, `D`, `T`, `t`, `Z`, ...), or `None` if
/// the process is gone.
pub fn process_state(pid: i32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "pid (comm) S ...": comm may contain spaces and parentheses; the state follows the
    // last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.trim_start().chars().next()
}

/// The `comm` of a process, if it exists.
pub fn process_comm(pid: i32) -> Option<String> {
    std::fs::read_to_string(format!("/proc/{pid}/comm")).ok().map(|s| s.trim_end().to_string())
}

/// Polls until `pid` is in `state` (true), or `timeout` passes, or it has exited (a
/// zombie or gone: false).
pub fn wait_for_state(pid: i32, state: char, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        match process_state(pid) {
            Some(s) if s == state => return true,
            None | Some('Z' | 'X') => return false,
            _ => {}
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Sends `sig` to `pid`; panics on failure other than ESRCH (returns false then).
pub fn signal(pid: i32, sig: libc::c_int) -> bool {
    assert!(pid > 0, "refusing to signal pid {pid}");
    // SAFETY: kill has no memory-safety preconditions.
    let r = unsafe { libc::kill(pid, sig) };
    if r == 0 {
        return true;
    }
    let e = std::io::Error::last_os_error();
    if e.raw_os_error() == Some(libc::ESRCH) {
        return false;
    }
    panic!("kill({pid}, {sig}) failed: {e}");
}

/// Sends `sig` to the process group `pgid` (ignores ESRCH).
pub fn signal_group(pgid: i32, sig: libc::c_int) {
    assert!(pgid > 1, "refusing to signal process group {pgid}");
    // SAFETY: kill has no memory-safety preconditions.
    unsafe {
        libc::kill(-pgid, sig);
    }
}
