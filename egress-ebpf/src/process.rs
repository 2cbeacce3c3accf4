//! New code in watched processes: `execve` (a new image, maybe with OpenSSL linked in) and
//! the dynamic loader's `_dl_debug_state` (called after every change to the set of loaded
//! objects, at start-up and on `dlopen`). Both hold the process until user space has attached
//! to any TLS library it did not know yet, so no write slips past: in enforce mode it would
//! go uninspected, in monitor mode unrecorded (a short command can finish its request before
//! an attach that does not hold it).
//! And `fork`: a child of a process confined to a code_exec tool is confined too.
use aya_ebpf::{
    EbpfContext,
    helpers::bpf_get_current_pid_tgid,
    macros::{tracepoint, uprobe},
    programs::{ProbeContext, TracePointContext},
};
use egress_common::{counter, kind};

use crate::{
    maps::{CONFINED, count},
    watch::{config, daemon_alive, header, hold, notify, watched_cgroup},
};

#[tracepoint]
pub fn sched_process_exec(ctx: TracePointContext) -> u32 {
    on_new_code(&ctx, kind::EXEC);
    0
}

/// Runs in the parent. The child inherits the confinement before it can run a single
/// instruction, so nothing a confined program starts escapes its destinations.
#[tracepoint]
pub fn sched_process_fork(ctx: TracePointContext) -> u32 {
    let parent = (bpf_get_current_pid_tgid() >> 32) as u32;
    // SAFETY: plain lookup of a u32 value.
    let Some(&slot) = (unsafe { CONFINED.get(&parent) }) else {
        return 0;
    };
    let Some(offset) = config().map(|config| config.fork_child_pid_offset as usize) else {
        return 0;
    };
    // SAFETY: reads a field of the tracepoint record at the offset its format file gives.
    let Ok(child) = (unsafe { ctx.read_at::<u32>(offset) }) else {
        return 0;
    };
    if CONFINED.insert(&child, &slot, 0).is_err() {
        count(counter::CONFINE_FAILED);
    }
    0
}

#[uprobe]
pub fn dl_debug_state(ctx: ProbeContext) -> u32 {
    on_new_code(&ctx, kind::LIBS_CHANGED);
    0
}

fn on_new_code<C: EbpfContext>(ctx: &C, event_kind: u32) {
    let Some(cgroup_id) = watched_cgroup() else {
        return;
    };
    let Some(config) = config() else {
        return;
    };
    if !daemon_alive(&config) {
        return;
    }
    let event = header(event_kind, bpf_get_current_pid_tgid(), cgroup_id, 0);
    if !hold(ctx, event) {
        // Not held (counted): user space still attaches, as soon as it reads this.
        notify(event);
    }
}
