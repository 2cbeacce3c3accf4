//! New code in watched processes: `execve` (a new image, maybe with OpenSSL linked in) and
//! the dynamic loader's `_dl_debug_state` (called after every change to the set of loaded
//! objects, at start-up and on `dlopen`). In enforce mode both hold the process until user
//! space has attached to any TLS library it did not know yet, so no write slips past.
use aya_ebpf::{
    EbpfContext,
    helpers::bpf_get_current_pid_tgid,
    macros::{tracepoint, uprobe},
    programs::{ProbeContext, TracePointContext},
};
use egress_common::{MODE_ENFORCE, kind};

use crate::watch::{config, daemon_alive, header, hold, notify, watched_cgroup};

#[tracepoint]
pub fn sched_process_exec(ctx: TracePointContext) -> u32 {
    on_new_code(&ctx, kind::EXEC);
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
    if config.mode == MODE_ENFORCE {
        hold(ctx, event);
    } else {
        notify(event);
    }
}
