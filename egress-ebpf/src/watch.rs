//! Who is watched, whether a daemon is alive, and how events reach user space.
use aya_ebpf::{
    EbpfContext,
    helpers::{
        bpf_get_current_ancestor_cgroup_id, bpf_get_current_cgroup_id, bpf_get_current_comm, bpf_ktime_get_ns,
        bpf_probe_read_user_buf, bpf_send_signal,
    },
};
use egress_common::{CHUNK_BYTES, Config, EventHeader, FAIL_CLOSED, HEADER_BYTES, MAX_CHUNKS, counter, flag};

use crate::maps::{CONFIG, EVENTS, HEARTBEAT, HELD, SCRATCH, WATCHED_CGROUPS, count};

/// Deepest cgroup nesting searched for a watched ancestor.
const MAX_CGROUP_DEPTH: i32 = 32;
const SIGSTOP: u32 = 19;

/// The current task's cgroup id if it or one of its ancestors is watched.
pub fn watched_cgroup() -> Option<u64> {
    // SAFETY: helpers without pointer arguments.
    let own = unsafe { bpf_get_current_cgroup_id() };
    for level in 0..MAX_CGROUP_DEPTH {
        // SAFETY: as above; returns 0 past the task's own level.
        let ancestor = unsafe { bpf_get_current_ancestor_cgroup_id(level) };
        if ancestor == 0 {
            break;
        }
        // SAFETY: plain lookup of a u8 value.
        if unsafe { WATCHED_CGROUPS.get(&ancestor) }.is_some() {
            return Some(own);
        }
        if ancestor == own {
            break;
        }
    }
    None
}

pub fn config() -> Option<Config> {
    CONFIG.get(0).copied()
}

pub fn daemon_alive(config: &Config) -> bool {
    let Some(&beat) = HEARTBEAT.get(0) else {
        return false;
    };
    // SAFETY: helper without arguments.
    let now = unsafe { bpf_ktime_get_ns() };
    beat != 0 && now.saturating_sub(beat) < config.heartbeat_timeout_ns
}

pub fn fail_closed(config: &Config) -> bool {
    config.fail_mode == FAIL_CLOSED
}

pub fn header(kind: u32, pid_tgid: u64, cgroup_id: u64, lib_cookie: u32) -> EventHeader {
    EventHeader {
        kind,
        flags: 0,
        pid_tgid,
        cgroup_id,
        ssl: 0,
        buf: 0,
        total_len: 0,
        offset: 0,
        chunk_len: 0,
        lib_cookie,
        // SAFETY: helper without arguments.
        ktime_ns: unsafe { bpf_ktime_get_ns() },
        comm: bpf_get_current_comm().unwrap_or([0; 16]),
    }
}

/// Stops the calling process and tells user space, in that order of commitment: the record is
/// reserved first so that a full ring buffer never leaves a process stopped that nobody knows
/// of, and the record is only submitted once the signal is queued.
pub fn hold<C: EbpfContext>(_ctx: &C, mut event: EventHeader) -> bool {
    let Some(mut entry) = EVENTS.reserve::<EventHeader>(0) else {
        count(counter::RINGBUF_DROPS);
        return false;
    };
    event.flags |= flag::HELD;
    let pid_tgid = event.pid_tgid;
    entry.write(event);
    if HELD.insert(&pid_tgid, &event.ktime_ns, 0).is_err() {
        entry.discard(0);
        count(counter::HOLD_SIGNAL_FAILED);
        return false;
    }
    // SAFETY: signals the current task only.
    if unsafe { bpf_send_signal(SIGSTOP) } != 0 {
        let _ = HELD.remove(&pid_tgid);
        entry.discard(0);
        count(counter::HOLD_SIGNAL_FAILED);
        return false;
    }
    entry.submit(0);
    true
}

/// Sends a header-only event (an exec or library change that could not be held).
pub fn notify(event: EventHeader) {
    if EVENTS.output(&event, 0).is_err() {
        count(counter::RINGBUF_DROPS);
    }
}

/// Copies up to `cap` bytes of the user buffer at `buf` to user space in chunks, each a
/// record of its own with its offset; a buffer longer than `cap` is marked truncated.
pub fn copy_chunks(mut event: EventHeader, buf: u64, total_len: u64, cap: u32) {
    let copy_len = if total_len > cap as u64 { cap as u64 } else { total_len };
    event.buf = buf;
    event.total_len = total_len;
    if copy_len < total_len {
        event.flags |= flag::TRUNCATED;
        count(counter::CAPTURE_TRUNCATED);
    }
    for index in 0..MAX_CHUNKS {
        let offset = index as u64 * CHUNK_BYTES as u64;
        if offset >= copy_len {
            break;
        }
        let remaining = copy_len - offset;
        let want = if remaining > CHUNK_BYTES as u64 { CHUNK_BYTES as u64 } else { remaining };
        if !copy_one_chunk(&mut event, buf + offset, offset, want) {
            break;
        }
    }
}

fn copy_one_chunk(event: &mut EventHeader, src: u64, offset: u64, want: u64) -> bool {
    let Some(slot) = SCRATCH.get_ptr_mut(0) else {
        return false;
    };
    // SAFETY: per-CPU scratch slot, used by one program at a time on this CPU.
    let slot = unsafe { &mut *slot };
    // Mask so the verifier sees 1..=CHUNK_BYTES (`want` is never 0 here).
    let len = ((want as usize).wrapping_sub(1) & (CHUNK_BYTES - 1)) + 1;
    let Some(dst) = slot.data.get_mut(..len) else {
        return false;
    };
    // SAFETY: reads user memory of the current task into a bounded kernel buffer.
    if unsafe { bpf_probe_read_user_buf(src as *const u8, dst) }.is_err() {
        count(counter::READ_USER_FAILED);
        return false;
    }
    event.offset = offset;
    event.chunk_len = len as u32;
    slot.header = *event;
    // SAFETY: the slot is HEADER_BYTES + CHUNK_BYTES long and len <= CHUNK_BYTES.
    let bytes = unsafe {
        core::slice::from_raw_parts((slot as *const egress_common::DataEvent).cast::<u8>(), HEADER_BYTES + len)
    };
    if EVENTS.output(bytes, 0).is_err() {
        count(counter::RINGBUF_DROPS);
        return false;
    }
    true
}
