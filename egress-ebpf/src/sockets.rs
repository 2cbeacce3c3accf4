//! The enforcement point: sockets of watched cgroups enter `SOCKETS` when they connect, and
//! the `sk_msg` program on that map drops every send of a thread marked denied (the sender
//! sees EACCES). It also records which peer a TLS connection's socket talks to.
use aya_ebpf::{
    bindings::{BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB, BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB, sk_action},
    helpers::bpf_get_current_pid_tgid,
    macros::{sk_msg, sock_ops},
    programs::{SkMsgContext, SockOpsContext},
};
use core::ptr::read_volatile;

use egress_common::{Peer, SocketKey, SslKey, counter};

use crate::maps::{CURRENT_SSL, DENIED_THREADS, SOCKETS, SSL_PEERS, count};

const AF_INET: u32 = 2;

#[sock_ops]
pub fn track_sockets(ctx: SockOpsContext) -> u32 {
    let op = ctx.op();
    if op != BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB && op != BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB {
        return 0;
    }
    let ops = ctx.ops;
    // SAFETY: `ops` is the context pointer the kernel passed in; volatile loads at fixed
    // offsets, for the same reason as in `peer_of`.
    let mut key = unsafe {
        let family = read_volatile(&raw const (*ops).family);
        let ip4 = read_volatile(&raw const (*ops).remote_ip4);
        let ip6 = [
            read_volatile(&raw const (*ops).remote_ip6[0]),
            read_volatile(&raw const (*ops).remote_ip6[1]),
            read_volatile(&raw const (*ops).remote_ip6[2]),
            read_volatile(&raw const (*ops).remote_ip6[3]),
        ];
        SocketKey {
            family,
            local_port: read_volatile(&raw const (*ops).local_port),
            remote_port: read_volatile(&raw const (*ops).remote_port),
            remote_ip: if family == AF_INET { [ip4, 0, 0, 0] } else { ip6 },
        }
    };
    // SAFETY: the sock_ops context pointer is the one the kernel passed in.
    if SOCKETS.update(&mut key, unsafe { &mut *ctx.ops }, 0).is_err() {
        count(counter::SOCKHASH_FULL);
    }
    0
}

#[sk_msg]
pub fn guard_sends(ctx: SkMsgContext) -> u32 {
    let pid_tgid = bpf_get_current_pid_tgid();
    // SAFETY: plain lookup of a u8 value.
    if unsafe { DENIED_THREADS.get(&pid_tgid) }.is_some() {
        count(counter::SENDS_DROPPED);
        return sk_action::SK_DROP;
    }
    // SAFETY: plain lookup of a u64 value.
    if let Some(&ssl) = unsafe { CURRENT_SSL.get(&pid_tgid) } {
        let peer = peer_of(&ctx);
        let key = SslKey { tgid: (pid_tgid >> 32) as u32, _pad: 0, ssl };
        let _ = SSL_PEERS.insert(&key, &peer, 0);
    }
    sk_action::SK_PASS
}

/// Reads the remote address fields of the message's socket. Each field is read with its own
/// volatile load at its own offset: the verifier refuses context access through a derived
/// pointer, which is what the compiler makes of plain field reads.
fn peer_of(ctx: &SkMsgContext) -> Peer {
    let msg = ctx.msg;
    // SAFETY: `msg` is the context pointer the kernel passed in; every field is in bounds.
    unsafe {
        let family = read_volatile(&raw const (*msg).family);
        let port = u32::from(u16::from_be(network_port(read_volatile(&raw const (*msg).remote_port))));
        let ip4 = read_volatile(&raw const (*msg).remote_ip4);
        let ip6 = [
            read_volatile(&raw const (*msg).remote_ip6[0]),
            read_volatile(&raw const (*msg).remote_ip6[1]),
            read_volatile(&raw const (*msg).remote_ip6[2]),
            read_volatile(&raw const (*msg).remote_ip6[3]),
        ];
        let ip = if family == AF_INET { [ip4, 0, 0, 0] } else { ip6 };
        let local_port = read_volatile(&raw const (*msg).local_port);
        Peer { family, port, local_port, ip }
    }
}

/// The remote port of an `sk_msg` context, in network byte order. Little-endian kernels
/// shift it into the upper half of the 32-bit field; a connected socket never has port 0,
/// so whichever half is set is the port.
fn network_port(field: u32) -> u16 {
    if field & 0xffff == 0 { (field >> 16) as u16 } else { field as u16 }
}
