//! Maps shared by the programs. User space finds them by these names.
use aya_ebpf::{
    macros::map,
    maps::{Array, HashMap, LpmTrie, LruHashMap, PerCpuArray, RingBuf, SockHash},
};
use egress_common::{
    AllowKeyV4, AllowKeyV6, Config, DataEvent, DenyKeyV4, DenyKeyV6, Peer, ReadArgs, SocketKey, SslKey, counter,
};

/// Events to user space: held writes, captured chunks, execs, library loads.
#[map]
pub static EVENTS: RingBuf = RingBuf::with_byte_size(32 * 1024 * 1024, 0);

/// Per-CPU scratch slot in which a data event is assembled before it is copied out.
#[map]
pub static SCRATCH: PerCpuArray<DataEvent> = PerCpuArray::with_max_entries(1, 0);

#[map]
pub static CONFIG: Array<Config> = Array::with_max_entries(1, 0);

/// `bpf_ktime_get_ns` of the daemon's last heartbeat; 0 once it has stopped or died.
#[map]
pub static HEARTBEAT: Array<u64> = Array::with_max_entries(1, 0);

/// Cgroup v2 ids under watch; their descendants are watched too.
#[map]
pub static WATCHED_CGROUPS: HashMap<u64, u8> = HashMap::with_max_entries(1024, 0);

/// Threads stopped by a probe and waiting for user space (pid_tgid -> ktime of the hold).
/// Pinned, so that the guardian can resume them if the daemon dies.
#[map]
pub static HELD: HashMap<u64, u64> = HashMap::with_max_entries(16384, 0);

/// Threads whose TLS sends the `sk_msg` program drops, until their next `SSL_write`.
#[map]
pub static DENIED_THREADS: HashMap<u64, u8> = HashMap::with_max_entries(16384, 0);

/// The `SSL *` a thread used last: the `sk_msg` program ties the socket it sends on to it.
#[map]
pub static CURRENT_SSL: LruHashMap<u64, u64> = LruHashMap::with_max_entries(16384, 0);

/// Peer address of each TLS connection seen sending.
#[map]
pub static SSL_PEERS: LruHashMap<SslKey, Peer> = LruHashMap::with_max_entries(65536, 0);

/// `SSL_read`/`SSL_read_ex` arguments between entry and return.
#[map]
pub static READ_ARGS: LruHashMap<u64, ReadArgs> = LruHashMap::with_max_entries(16384, 0);

/// Sockets of watched cgroups; the `sk_msg` program is attached to this map.
#[map]
pub static SOCKETS: SockHash<SocketKey> = SockHash::with_max_entries(65536, 0);

/// `deny_destinations` resolved to networks, refused at `connect()`.
#[map]
pub static DENY_V4: LpmTrie<DenyKeyV4, u8> = LpmTrie::with_max_entries(4096, 1);
#[map]
pub static DENY_V6: LpmTrie<DenyKeyV6, u8> = LpmTrie::with_max_entries(4096, 1);

/// Processes confined to a `code_exec` tool (tgid -> the tool's slot): set by user space when
/// one of the tool's programs is executed, inherited by every child at fork. Entries of
/// threads and dead processes are harmless (lookups are by tgid) and user space prunes them.
#[map]
pub static CONFINED: HashMap<u32, u32> = HashMap::with_max_entries(65536, 0);

/// Per slot, the destinations a confined process may connect to.
#[map]
pub static ALLOWED_V4: LpmTrie<AllowKeyV4, u8> = LpmTrie::with_max_entries(16384, 1);
#[map]
pub static ALLOWED_V6: LpmTrie<AllowKeyV6, u8> = LpmTrie::with_max_entries(16384, 1);

#[map]
pub static COUNTERS: PerCpuArray<u64> = PerCpuArray::with_max_entries(counter::COUNT, 0);

pub fn count(index: u32) {
    if let Some(slot) = COUNTERS.get_ptr_mut(index) {
        // SAFETY: per-CPU slot, no concurrent writer on this CPU while the program runs.
        unsafe { *slot += 1 };
    }
}
