//! Types shared by the eBPF programs and user space: one event envelope (fixed header, then
//! payload bytes for data events), map keys and values, and the codes both sides agree on.
//! Everything is `#[repr(C)]` and free of pointers so that it reads the same on both sides.
#![no_std]

/// Bytes of plaintext one data event carries at most. Monitor mode copies a write in chunks
/// of this size; user space puts them back together by `offset`.
pub const CHUNK_BYTES: usize = 16 * 1024;
/// Chunks one write or read may be copied in, so the per-write capture cap is at most
/// `CHUNK_BYTES * MAX_CHUNKS` (1 MiB). Bounded because eBPF loops must be.
pub const MAX_CHUNKS: u32 = 64;
pub const MAX_CAPTURE_BYTES: u32 = CHUNK_BYTES as u32 * MAX_CHUNKS;

/// `EventHeader::kind` values.
pub mod kind {
    /// Enforce mode: a watched thread entered `SSL_write` and was stopped; user space reads
    /// `len` bytes at `buf` from the stopped process, decides, and resumes it.
    pub const WRITE_HELD: u32 = 1;
    /// Monitor mode: one chunk of an `SSL_write` buffer follows the header.
    pub const WRITE_DATA: u32 = 2;
    /// One chunk of what an `SSL_read` returned follows the header.
    pub const READ_DATA: u32 = 3;
    /// A watched process called `execve`; it is stopped until user space has attached to the
    /// TLS code of its new image.
    pub const EXEC: u32 = 4;
    /// The dynamic loader of a watched process changed its set of loaded objects (`dlopen`
    /// or start-up); it is stopped until the new libraries are attached.
    pub const LIBS_CHANGED: u32 = 5;
    /// A `connect()` of a watched process was refused (or, in monitor mode, would have
    /// been); a [`ConnectRefusal`](super::ConnectRefusal) follows the header.
    pub const CONNECT_REFUSED: u32 = 6;
}

/// `EventHeader::flags` bits.
pub mod flag {
    /// The thread is stopped and waits for user space to resume it.
    pub const HELD: u32 = 1 << 0;
    /// The write/read was longer than the capture cap: only `capture_max` bytes were copied.
    pub const TRUNCATED: u32 = 1 << 1;
}

/// Header of every ring-buffer record. Data events append `chunk_len` bytes.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct EventHeader {
    pub kind: u32,
    pub flags: u32,
    pub pid_tgid: u64,
    pub cgroup_id: u64,
    /// The `SSL *` of the call: with the tgid it identifies one TLS connection.
    pub ssl: u64,
    /// User-space address of the written buffer (held writes).
    pub buf: u64,
    /// Length of the whole write or read.
    pub total_len: u64,
    /// Offset of this chunk inside the write or read.
    pub offset: u64,
    pub chunk_len: u32,
    /// Attach cookie: which attached library or executable the probe fired in.
    pub lib_cookie: u32,
    pub ktime_ns: u64,
    pub comm: [u8; 16],
}

pub const HEADER_BYTES: usize = core::mem::size_of::<EventHeader>();

/// A header with room for one chunk: the eBPF side fills it in a per-CPU scratch slot and
/// sends `HEADER_BYTES + chunk_len` bytes of it.
#[repr(C)]
pub struct DataEvent {
    pub header: EventHeader,
    pub data: [u8; CHUNK_BYTES],
}

pub const MODE_MONITOR: u32 = 0;
pub const MODE_ENFORCE: u32 = 1;
pub const FAIL_OPEN: u32 = 0;
pub const FAIL_CLOSED: u32 = 1;

/// The one entry of the `CONFIG` map, written by user space at start and on policy reload.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct Config {
    pub mode: u32,
    pub fail_mode: u32,
    /// Monitor mode copies at most this many bytes of one write (<= MAX_CAPTURE_BYTES).
    pub capture_max: u32,
    /// Offset of `child_pid` in the `sched_process_fork` tracepoint record, read by user
    /// space from the tracepoint's format file (its layout changes between kernels).
    pub fork_child_pid_offset: u32,
    /// A daemon whose last heartbeat is older than this is taken for dead.
    pub heartbeat_timeout_ns: u64,
}

/// Key of the socket hash the `sk_msg` program is attached to: the connection's 4-tuple as
/// the `sock_ops` context gives it (sk_msg may not read socket cookies, see PLATFORM.md).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct SocketKey {
    pub family: u32,
    pub local_port: u32,
    pub remote_port: u32,
    pub remote_ip: [u32; 4],
}

/// Where a TLS connection's socket goes: filled by the `sk_msg` program on the first send of
/// the thread that last used that `SSL *`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct Peer {
    /// `AF_INET` or `AF_INET6`.
    pub family: u32,
    /// Host byte order.
    pub port: u32,
    /// The socket's own port, host byte order: with the peer it names the socket.
    pub local_port: u32,
    /// IPv4 in the first word (network byte order), or the 16 bytes of an IPv6 address.
    pub ip: [u32; 4],
}

/// Key of the `SSL_PEERS` map: one TLS connection.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SslKey {
    pub tgid: u32,
    pub _pad: u32,
    pub ssl: u64,
}

/// Arguments of an `SSL_read`/`SSL_read_ex` call saved at entry for the return probe.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct ReadArgs {
    pub ssl: u64,
    pub buf: u64,
    /// `size_t *readbytes` of `SSL_read_ex`; 0 for `SSL_read`.
    pub readbytes_ptr: u64,
    pub lib_cookie: u32,
    pub _pad: u32,
}

/// LPM trie key for the IPv4 and IPv6 deny lists (prefix length, then the address bytes).
pub type DenyKeyV4 = [u8; 4];
pub type DenyKeyV6 = [u8; 16];

/// LPM trie key for the destinations a confined process may reach: the confinement slot
/// (big-endian, always matched whole: prefix length 32 + the network's), then the address.
pub type AllowKeyV4 = [u8; 8];
pub type AllowKeyV6 = [u8; 20];
/// Bits of an allow key taken by the slot.
pub const ALLOW_SLOT_BITS: u32 = 32;

/// Why a `connect()` was refused.
pub mod refusal {
    /// The destination is in the policy's `deny_destinations`.
    pub const DENY_LIST: u32 = 0;
    /// The process is confined to a `code_exec` tool whose `destinations` do not include it.
    pub const CONFINED: u32 = 1;
}

/// Payload of a `CONNECT_REFUSED` event.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct ConnectRefusal {
    /// The destination (`local_port` is 0: the socket is not bound yet).
    pub peer: Peer,
    /// A [`refusal`] code.
    pub reason: u32,
    /// The confinement slot, for `refusal::CONFINED`.
    pub slot: u32,
    /// 0 in monitor mode: the connect went ahead and is only reported.
    pub enforced: u32,
    pub _pad: u32,
}

/// A header and its refusal, as one ring-buffer record.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ConnectEvent {
    pub header: EventHeader,
    pub refusal: ConnectRefusal,
}

/// Indexes of the per-CPU `COUNTERS` array: everything the kernel side could not do or
/// chose not to do, so that user space reports it instead of it going unseen.
pub mod counter {
    /// A ring-buffer record could not be reserved: that data is missing in user space.
    pub const RINGBUF_DROPS: u32 = 0;
    /// Writes or reads longer than the capture cap (copied in part, marked truncated).
    pub const CAPTURE_TRUNCATED: u32 = 1;
    /// `bpf_send_signal` failed, so a write that should have been held was not.
    pub const HOLD_SIGNAL_FAILED: u32 = 2;
    /// A watched socket could not enter the socket hash (full): it cannot be enforced on.
    pub const SOCKHASH_FULL: u32 = 3;
    /// Sends dropped by the `sk_msg` program (blocked requests, fail-closed writes).
    pub const SENDS_DROPPED: u32 = 4;
    /// `connect()` calls refused by `deny_destinations`.
    pub const CONNECTS_REFUSED: u32 = 5;
    /// Writes that passed uninspected because no daemon was alive and fail mode is open.
    pub const UNINSPECTED_FAIL_OPEN: u32 = 6;
    /// Writes dropped because no daemon was alive and fail mode is closed.
    pub const DENIED_FAIL_CLOSED: u32 = 7;
    /// Copy of user memory failed (`bpf_probe_read_user`): that chunk is missing.
    pub const READ_USER_FAILED: u32 = 8;
    /// `connect()` calls of confined (code_exec) processes to destinations outside their
    /// tool's list (refused in enforce mode, only reported in monitor mode).
    pub const CONNECTS_CONFINED: u32 = 9;
    /// The child of a confined process could not be recorded as confined (map full): it
    /// runs unconfined, so this must never be silent.
    pub const CONFINE_FAILED: u32 = 10;
    pub const COUNT: u32 = 11;
}

#[cfg(feature = "user")]
mod user {
    use super::*;
    // SAFETY: all of these are `#[repr(C)]`, made only of integers, and valid for any bits.
    unsafe impl aya::Pod for EventHeader {}
    unsafe impl aya::Pod for Config {}
    unsafe impl aya::Pod for SocketKey {}
    unsafe impl aya::Pod for Peer {}
    unsafe impl aya::Pod for SslKey {}
    unsafe impl aya::Pod for ReadArgs {}
    unsafe impl aya::Pod for ConnectRefusal {}
}

#[cfg(feature = "user")]
impl EventHeader {
    /// Decodes the header at the start of a ring-buffer record; `None` if it is too short.
    pub fn read_from(record: &[u8]) -> Option<EventHeader> {
        if record.len() < HEADER_BYTES {
            return None;
        }
        // SAFETY: length checked; EventHeader is Pod, read_unaligned copes with alignment.
        Some(unsafe { core::ptr::read_unaligned(record.as_ptr().cast::<EventHeader>()) })
    }

    /// The payload bytes after the header, as long as `chunk_len` says (None if the record is
    /// shorter than it claims).
    pub fn payload<'a>(&self, record: &'a [u8]) -> Option<&'a [u8]> {
        record.get(HEADER_BYTES..HEADER_BYTES + self.chunk_len as usize)
    }

    /// The refusal after the header of a `CONNECT_REFUSED` record.
    pub fn connect_refusal(&self, record: &[u8]) -> Option<ConnectRefusal> {
        let payload = self.payload(record)?;
        if payload.len() < core::mem::size_of::<ConnectRefusal>() {
            return None;
        }
        // SAFETY: length checked; ConnectRefusal is Pod, read_unaligned copes with alignment.
        Some(unsafe { core::ptr::read_unaligned(payload.as_ptr().cast::<ConnectRefusal>()) })
    }

    pub fn tgid(&self) -> u32 {
        (self.pid_tgid >> 32) as u32
    }

    pub fn tid(&self) -> u32 {
        self.pid_tgid as u32
    }

    pub fn comm_str(&self) -> &str {
        let end = self.comm.iter().position(|&b| b == 0).unwrap_or(self.comm.len());
        core::str::from_utf8(&self.comm[..end]).unwrap_or("?")
    }
}

#[cfg(feature = "user")]
impl Peer {
    /// The address and port, as the layout above stores them.
    pub fn socket_addr(&self) -> core::net::SocketAddr {
        let mut bytes = [0u8; 16];
        for (chunk, word) in bytes.as_chunks_mut::<4>().0.iter_mut().zip(self.ip) {
            *chunk = word.to_ne_bytes();
        }
        let ip = match self.family {
            AF_INET => core::net::IpAddr::from([bytes[0], bytes[1], bytes[2], bytes[3]]),
            _ => core::net::IpAddr::from(bytes),
        };
        core::net::SocketAddr::new(ip, self.port as u16)
    }
}

/// `Peer::family` of an IPv4 peer (Linux `AF_INET`).
#[cfg(feature = "user")]
const AF_INET: u32 = 2;

#[cfg(all(test, feature = "user"))]
mod tests {
    extern crate std;
    use super::*;

    #[test]
    fn peers_read_as_address_and_port() {
        use std::string::ToString as _;
        let v4 = Peer { family: 2, port: 8443, local_port: 50000, ip: [u32::from_ne_bytes([127, 0, 0, 1]), 0, 0, 0] };
        assert_eq!(v4.socket_addr().to_string(), "127.0.0.1:8443");
        let mut loopback6 = [0u32; 4];
        loopback6[3] = u32::from_ne_bytes([0, 0, 0, 1]);
        let v6 = Peer { family: 10, port: 443, local_port: 50001, ip: loopback6 };
        assert_eq!(v6.socket_addr().to_string(), "[::1]:443");
        let octets = "2001:db8::7".parse::<core::net::Ipv6Addr>().unwrap().octets();
        let mut ip = [0u32; 4];
        for (word, chunk) in ip.iter_mut().zip(octets.as_chunks::<4>().0) {
            *word = u32::from_ne_bytes(*chunk);
        }
        assert_eq!(Peer { family: 10, port: 443, local_port: 0, ip }.socket_addr().to_string(), "[2001:db8::7]:443");
    }

    #[test]
    fn header_round_trips_through_a_record() {
        let header = EventHeader {
            kind: kind::WRITE_DATA,
            flags: flag::TRUNCATED,
            pid_tgid: (4242u64 << 32) | 4243,
            cgroup_id: 77,
            ssl: 0xdead_beef,
            buf: 0x1000,
            total_len: 5,
            offset: 0,
            chunk_len: 5,
            lib_cookie: 3,
            ktime_ns: 9,
            comm: *b"curl\0\0\0\0\0\0\0\0\0\0\0\0",
        };
        let mut record = std::vec::Vec::new();
        // SAFETY: EventHeader is Pod; we view its bytes to build a record as the kernel does.
        record.extend_from_slice(unsafe {
            core::slice::from_raw_parts((&header as *const EventHeader).cast::<u8>(), HEADER_BYTES)
        });
        record.extend_from_slice(b"hello");
        let decoded = EventHeader::read_from(&record).expect("decodes");
        assert_eq!(decoded.tgid(), 4242);
        assert_eq!(decoded.tid(), 4243);
        assert_eq!(decoded.comm_str(), "curl");
        assert_eq!(decoded.payload(&record), Some(&b"hello"[..]));
        assert!(EventHeader::read_from(&record[..HEADER_BYTES - 1]).is_none());
        let mut short = decoded;
        short.chunk_len = 6;
        assert_eq!(short.payload(&record), None);
    }
}
