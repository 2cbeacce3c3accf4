//! Network-layer refusal of `deny_destinations`: `connect()` to them fails with EPERM.
use aya_ebpf::{macros::cgroup_sock_addr, maps::lpm_trie::Key, programs::SockAddrContext};
use egress_common::counter;

use crate::maps::{DENY_V4, DENY_V6, count};

const ALLOW: i32 = 1;
const REFUSE: i32 = 0;

#[cgroup_sock_addr(connect4)]
pub fn refuse_connect4(ctx: SockAddrContext) -> i32 {
    // SAFETY: the context pointer is the one the kernel passed in.
    let ip = unsafe { (*ctx.sock_addr).user_ip4 };
    let key = Key::new(32, ip.to_ne_bytes());
    verdict(DENY_V4.get(&key).is_some())
}

#[cgroup_sock_addr(connect6)]
pub fn refuse_connect6(ctx: SockAddrContext) -> i32 {
    // SAFETY: the context pointer is the one the kernel passed in.
    let words = unsafe { (*ctx.sock_addr).user_ip6 };
    let mut ip = [0u8; 16];
    for (index, word) in words.iter().enumerate() {
        let bytes = word.to_ne_bytes();
        for (offset, byte) in bytes.iter().enumerate() {
            if let Some(slot) = ip.get_mut(index * 4 + offset) {
                *slot = *byte;
            }
        }
    }
    let key = Key::new(128, ip);
    verdict(DENY_V6.get(&key).is_some())
}

fn verdict(denied: bool) -> i32 {
    if denied {
        count(counter::CONNECTS_REFUSED);
        REFUSE
    } else {
        ALLOW
    }
}
