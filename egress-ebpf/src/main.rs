//! The kernel half of egress: one module per hook family.
//!
//! Every program returns quickly for tasks outside the watched cgroups, never panics, and
//! counts what it could not do in `COUNTERS` so that user space reports it.
#![no_std]
#![no_main]

mod connect;
mod maps;
mod process;
mod sockets;
mod tls;
mod watch;

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    // Unreachable by construction: the verifier rejects any program with a panic path.
    loop {}
}

/// GPL-only helpers (`bpf_send_signal`, `bpf_probe_read_user`) need a GPL-compatible license.
#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 13] = *b"Dual MIT/GPL\0";
