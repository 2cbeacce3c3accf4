//! The network layer of the policy, at `connect()`: destinations in `deny_destinations` are
//! refused to every watched process, and a process confined to a `code_exec` tool reaches only
//! the tool's `destinations`. Each refusal is reported to user space for the audit log.
use aya_ebpf::{
    helpers::bpf_get_current_pid_tgid, macros::cgroup_sock_addr, maps::lpm_trie::Key, programs::SockAddrContext,
};
use egress_common::{ALLOW_SLOT_BITS, ConnectEvent, ConnectRefusal, MODE_ENFORCE, Peer, counter, kind, refusal};

use crate::{
    maps::{ALLOWED_V4, ALLOWED_V6, CONFINED, DENY_V4, DENY_V6, EVENTS, count},
    watch::{config, header},
};

const ALLOW: i32 = 1;
const REFUSE: i32 = 0;
const AF_INET: u32 = 2;
const AF_INET6: u32 = 10;

#[cgroup_sock_addr(connect4)]
pub fn refuse_connect4(ctx: SockAddrContext) -> i32 {
    // SAFETY: the context pointer is the one the kernel passed in.
    let (ip, port) = unsafe { ((*ctx.sock_addr).user_ip4, (*ctx.sock_addr).user_port) };
    let octets = ip.to_ne_bytes();
    let peer = Peer { family: AF_INET, port: port_of(port), local_port: 0, ip: [ip, 0, 0, 0] };
    judge(peer, DENY_V4.get(&Key::new(32, octets)).is_some(), |slot| {
        let mut key = [0u8; 8];
        key[..4].copy_from_slice(&slot.to_be_bytes());
        key[4..].copy_from_slice(&octets);
        ALLOWED_V4.get(&Key::new(ALLOW_SLOT_BITS + 32, key)).is_some()
    })
}

#[cgroup_sock_addr(connect6)]
pub fn refuse_connect6(ctx: SockAddrContext) -> i32 {
    // SAFETY: the context pointer is the one the kernel passed in.
    let (words, port) = unsafe { ((*ctx.sock_addr).user_ip6, (*ctx.sock_addr).user_port) };
    let mut ip = [0u8; 16];
    for (index, word) in words.iter().enumerate() {
        let bytes = word.to_ne_bytes();
        for (offset, byte) in bytes.iter().enumerate() {
            if let Some(slot) = ip.get_mut(index * 4 + offset) {
                *slot = *byte;
            }
        }
    }
    let peer = Peer { family: AF_INET6, port: port_of(port), local_port: 0, ip: words };
    judge(peer, DENY_V6.get(&Key::new(128, ip)).is_some(), |slot| {
        let mut key = [0u8; 20];
        key[..4].copy_from_slice(&slot.to_be_bytes());
        key[4..].copy_from_slice(&ip);
        ALLOWED_V6.get(&Key::new(ALLOW_SLOT_BITS + 128, key)).is_some()
    })
}

/// A denied destination is refused to everyone; otherwise a confined caller needs its slot's
/// allowlist (`allowed_for`) to name the destination, and everyone else may connect.
fn judge(peer: Peer, denied: bool, allowed_for: impl FnOnce(u32) -> bool) -> i32 {
    if denied {
        return refuse(peer, refusal::DENY_LIST, 0, true);
    }
    match confinement() {
        Some(slot) if !allowed_for(slot) => refuse(peer, refusal::CONFINED, slot, enforcing()),
        _ => ALLOW,
    }
}

/// The code_exec slot the calling process is confined to, if any.
fn confinement() -> Option<u32> {
    let tgid = (bpf_get_current_pid_tgid() >> 32) as u32;
    // SAFETY: plain lookup of a u32 value.
    unsafe { CONFINED.get(&tgid) }.copied()
}

/// Confinement follows the mode: monitor mode reports what enforce mode would refuse.
fn enforcing() -> bool {
    config().is_some_and(|config| config.mode == MODE_ENFORCE)
}

/// `user_port` is in network byte order in the low 16 bits.
fn port_of(user_port: u32) -> u32 {
    u32::from(u16::from_be(user_port as u16))
}

fn refuse(peer: Peer, reason: u32, slot: u32, enforced: bool) -> i32 {
    count(if reason == refusal::CONFINED { counter::CONNECTS_CONFINED } else { counter::CONNECTS_REFUSED });
    report(peer, reason, slot, enforced);
    if enforced { REFUSE } else { ALLOW }
}

fn report(peer: Peer, reason: u32, slot: u32, enforced: bool) {
    let Some(mut entry) = EVENTS.reserve::<ConnectEvent>(0) else {
        count(counter::RINGBUF_DROPS);
        return;
    };
    // SAFETY: helper without pointer arguments.
    let cgroup_id = unsafe { aya_ebpf::helpers::bpf_get_current_cgroup_id() };
    // No TLS library is involved: the cookie names none.
    let mut event_header = header(kind::CONNECT_REFUSED, bpf_get_current_pid_tgid(), cgroup_id, u32::MAX);
    event_header.chunk_len = core::mem::size_of::<ConnectRefusal>() as u32;
    let refusal = ConnectRefusal { peer, reason, slot, enforced: u32::from(enforced), _pad: 0 };
    entry.write(ConnectEvent { header: event_header, refusal });
    entry.submit(0);
}
