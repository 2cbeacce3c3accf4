//! OpenSSL 3 probes: `SSL_write`/`SSL_write_ex` at entry (hold or copy the plaintext),
//! `SSL_read`/`SSL_read_ex` at entry and return (copy what was read), and
//! `SSL_do_handshake` at entry (ties the handshake's socket to its `SSL *`).
use aya_ebpf::{
    EbpfContext,
    helpers::{bpf_get_attach_cookie, bpf_get_current_pid_tgid, bpf_probe_read_user},
    macros::{uprobe, uretprobe},
    programs::{ProbeContext, RetProbeContext},
};
use egress_common::{MODE_ENFORCE, ReadArgs, counter, kind};

use crate::{
    maps::{CURRENT_SSL, DENIED_THREADS, READ_ARGS, count},
    watch::{config, copy_chunks, daemon_alive, fail_closed, header, hold, watched_cgroup},
};

fn cookie<C: EbpfContext>(ctx: &C) -> u32 {
    // SAFETY: reads the attach cookie of the running probe.
    unsafe { bpf_get_attach_cookie(ctx.as_ptr()) as u32 }
}

#[uprobe]
pub fn ssl_write(ctx: ProbeContext) -> u32 {
    // int SSL_write(SSL *ssl, const void *buf, int num)
    let num: i32 = ctx.arg(2).unwrap_or(0);
    on_write(&ctx, num.max(0) as u64);
    0
}

#[uprobe]
pub fn ssl_write_ex(ctx: ProbeContext) -> u32 {
    // int SSL_write_ex(SSL *s, const void *buf, size_t num, size_t *written)
    let num: u64 = ctx.arg(2).unwrap_or(0);
    on_write(&ctx, num);
    0
}

fn on_write(ctx: &ProbeContext, len: u64) {
    let Some(cgroup_id) = watched_cgroup() else {
        return;
    };
    let ssl: u64 = ctx.arg(0).unwrap_or(0);
    let buf: u64 = ctx.arg(1).unwrap_or(0);
    let pid_tgid = bpf_get_current_pid_tgid();
    let _ = CURRENT_SSL.insert(&pid_tgid, &ssl, 0);
    // A deny mark lasts from a blocked write to the thread's next write.
    let _ = DENIED_THREADS.remove(&pid_tgid);
    let Some(config) = config() else {
        return;
    };
    if !daemon_alive(&config) {
        if fail_closed(&config) {
            let _ = DENIED_THREADS.insert(&pid_tgid, &1, 0);
            count(counter::DENIED_FAIL_CLOSED);
        } else {
            count(counter::UNINSPECTED_FAIL_OPEN);
        }
        return;
    }
    let mut event = header(kind::WRITE_HELD, pid_tgid, cgroup_id, cookie(ctx));
    event.ssl = ssl;
    if config.mode == MODE_ENFORCE {
        event.buf = buf;
        event.total_len = len;
        if !hold(ctx, event) && fail_closed(&config) {
            // Could not hold it for inspection: a closed fail mode drops it instead.
            let _ = DENIED_THREADS.insert(&pid_tgid, &1, 0);
        }
    } else {
        event.kind = kind::WRITE_DATA;
        copy_chunks(event, buf, len, config.capture_max);
    }
}

#[uprobe]
pub fn ssl_do_handshake(ctx: ProbeContext) -> u32 {
    if watched_cgroup().is_some() {
        let ssl: u64 = ctx.arg(0).unwrap_or(0);
        let pid_tgid = bpf_get_current_pid_tgid();
        let _ = CURRENT_SSL.insert(&pid_tgid, &ssl, 0);
        // A handshake starts a new connection: the deny mark of a write blocked on an earlier
        // one must not drop its ClientHello (that connection's socket is shut down anyway).
        let _ = DENIED_THREADS.remove(&pid_tgid);
    }
    0
}

#[uprobe]
pub fn ssl_read(ctx: ProbeContext) -> u32 {
    // int SSL_read(SSL *ssl, void *buf, int num)
    save_read_args(&ctx, 0);
    0
}

#[uprobe]
pub fn ssl_read_ex(ctx: ProbeContext) -> u32 {
    // int SSL_read_ex(SSL *ssl, void *buf, size_t num, size_t *readbytes)
    let readbytes: u64 = ctx.arg(3).unwrap_or(0);
    save_read_args(&ctx, readbytes);
    0
}

fn save_read_args(ctx: &ProbeContext, readbytes_ptr: u64) {
    if watched_cgroup().is_none() {
        return;
    }
    let pid_tgid = bpf_get_current_pid_tgid();
    let args = ReadArgs {
        ssl: ctx.arg(0).unwrap_or(0),
        buf: ctx.arg(1).unwrap_or(0),
        readbytes_ptr,
        lib_cookie: cookie(ctx),
        _pad: 0,
    };
    let _ = CURRENT_SSL.insert(&pid_tgid, &args.ssl, 0);
    let _ = READ_ARGS.insert(&pid_tgid, &args, 0);
}

#[uretprobe]
pub fn ssl_read_ret(ctx: RetProbeContext) -> u32 {
    let ret: i32 = ctx.ret();
    on_read_return(ret, false);
    0
}

#[uretprobe]
pub fn ssl_read_ex_ret(ctx: RetProbeContext) -> u32 {
    let ret: i32 = ctx.ret();
    on_read_return(ret, true);
    0
}

fn on_read_return(ret: i32, is_ex: bool) {
    let pid_tgid = bpf_get_current_pid_tgid();
    // SAFETY: the value is copied out before the entry is removed.
    let Some(args) = (unsafe { READ_ARGS.get(&pid_tgid) }).copied() else {
        return;
    };
    let _ = READ_ARGS.remove(&pid_tgid);
    let len = if is_ex {
        if ret != 1 || args.readbytes_ptr == 0 {
            return;
        }
        // SAFETY: reads a size_t the caller passed for SSL_read_ex to fill.
        match unsafe { bpf_probe_read_user(args.readbytes_ptr as *const u64) } {
            Ok(n) => n,
            Err(_) => {
                count(counter::READ_USER_FAILED);
                return;
            }
        }
    } else if ret > 0 {
        ret as u64
    } else {
        return;
    };
    let Some(cgroup_id) = watched_cgroup() else {
        return;
    };
    let Some(config) = config() else {
        return;
    };
    if !daemon_alive(&config) {
        return;
    }
    let mut event = header(kind::READ_DATA, pid_tgid, cgroup_id, args.lib_cookie);
    event.ssl = args.ssl;
    copy_chunks(event, args.buf, len, config.capture_max);
}
