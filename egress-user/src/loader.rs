//! Loads the eBPF programs, attaches them, and owns their maps.
//!
//! Everything that must outlive a crashed daemon is pinned under one directory of bpffs
//! (`/sys/fs/bpf/egress/<instance>`): the probes and socket programs (so a closed fail mode
//! still drops writes while no daemon runs) and the maps the guardian needs (`HELD`,
//! `HEARTBEAT`, `DENIED_THREADS`, `CONFIG`).
use std::{
    fs,
    os::fd::AsFd as _,
    path::{Path, PathBuf},
};

use anyhow::{Context as _, anyhow};
use aya::{
    Ebpf, EbpfLoader, include_bytes_aligned,
    maps::{Array, HashMap, LpmTrie, MapData, PerCpuArray, RingBuf, SockHash, lpm_trie::Key},
    programs::{
        CgroupAttachMode, CgroupSockAddr, SkMsg, SockOps, TracePoint, UProbe,
        links::{FdLink, PinnedLink},
        uprobe::{UProbeAttachLocation, UProbeAttachPoint, UProbeScope},
    },
};
use egress_common::{ALLOW_SLOT_BITS, Config, Peer, SocketKey, SslKey, counter};
use ipnet::IpNet;

use crate::targets::{self, Exports};

static EBPF_OBJECT: &[u8] = include_bytes_aligned!(concat!(env!("OUT_DIR"), "/egress"));

/// bpffs directory under which each instance pins its state.
pub const PIN_ROOT: &str = "/sys/fs/bpf/egress";
const BPF_FS_MAGIC: i64 = 0xcafe_4a11;
const TRACEFS_MAGIC: i64 = 0x7472_6163;

/// Maps the guardian opens from their pins when the daemon is gone.
pub const PINNED_MAPS: [&str; 4] = ["HELD", "HEARTBEAT", "DENIED_THREADS", "CONFIG"];

/// (program, symbol) pairs attached to every OpenSSL target that defines the symbol.
const OPENSSL_PROBES: [(&str, &str); 7] = [
    ("ssl_write", targets::SSL_WRITE),
    ("ssl_write_ex", targets::SSL_WRITE_EX),
    ("ssl_read", targets::SSL_READ),
    ("ssl_read_ret", targets::SSL_READ),
    ("ssl_read_ex", targets::SSL_READ_EX),
    ("ssl_read_ex_ret", targets::SSL_READ_EX),
    ("ssl_do_handshake", targets::SSL_DO_HANDSHAKE),
];

pub fn pin_dir(instance: &str) -> PathBuf {
    Path::new(PIN_ROOT).join(instance)
}

/// Mounts the kernel file systems the programs need where nothing is mounted yet (neither
/// is mounted at boot on some hosts): bpffs for pins, tracefs for the exec tracepoint.
pub fn ensure_kernel_filesystems() -> anyhow::Result<()> {
    ensure_mounted(c"/sys/fs/bpf", c"bpf", BPF_FS_MAGIC)?;
    ensure_mounted(c"/sys/kernel/tracing", c"tracefs", TRACEFS_MAGIC)
}

fn ensure_mounted(target: &std::ffi::CStr, fs_type: &std::ffi::CStr, magic: i64) -> anyhow::Result<()> {
    // SAFETY: statfs on a NUL-terminated path into a zeroed struct.
    let mut stat: libc::statfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statfs(target.as_ptr(), &mut stat) } == 0 && stat.f_type == magic {
        return Ok(());
    }
    // SAFETY: mount(2) with NUL-terminated strings.
    let result = unsafe { libc::mount(fs_type.as_ptr(), target.as_ptr(), fs_type.as_ptr(), 0, std::ptr::null()) };
    if result != 0 {
        return Err(std::io::Error::last_os_error())
            .with_context(|| format!("mounting {} on {}", fs_type.to_string_lossy(), target.to_string_lossy()));
    }
    Ok(())
}

/// The loaded programs of one daemon instance.
pub struct Kernel {
    ebpf: Ebpf,
    pin_dir: PathBuf,
    pinned_links: Vec<PinnedLink>,
    /// Attached TLS targets; a probe's attach cookie is the index into this list.
    tls_targets: Vec<PathBuf>,
    /// Every file with uprobes attached (TLS targets and loaders), with how many.
    uprobes: Vec<(PathBuf, usize)>,
    /// Attachments made, by program name.
    attachments: std::collections::BTreeMap<&'static str, usize>,
    pub config: Array<MapData, Config>,
    pub heartbeat: Array<MapData, u64>,
    pub held: HashMap<MapData, u64, u64>,
    pub denied_threads: HashMap<MapData, u64, u8>,
    pub watched: HashMap<MapData, u64, u8>,
    pub ssl_peers: HashMap<MapData, SslKey, Peer>,
    counters: PerCpuArray<MapData, u64>,
    deny_v4: LpmTrie<MapData, [u8; 4], u8>,
    deny_v6: LpmTrie<MapData, [u8; 16], u8>,
    /// Processes confined to a code_exec tool: tgid -> slot.
    pub confined: HashMap<MapData, u32, u32>,
    allowed_v4: LpmTrie<MapData, [u8; 8], u8>,
    allowed_v6: LpmTrie<MapData, [u8; 20], u8>,
    fork_child_pid_offset: u32,
}

impl Kernel {
    /// Loads and verifies every program, pins the shared maps, and writes the configuration.
    /// Nothing is attached yet.
    pub fn load(pin_dir: PathBuf, config: Config) -> anyhow::Result<Self> {
        ensure_kernel_filesystems()?;
        fs::create_dir_all(pin_dir.join("links")).with_context(|| format!("creating {}", pin_dir.display()))?;
        let mut ebpf = EbpfLoader::new().load(EBPF_OBJECT).context("loading the eBPF object")?;
        for (name, program) in ebpf.programs_mut() {
            let loaded = match program {
                aya::programs::Program::UProbe(p) => p.load(),
                aya::programs::Program::TracePoint(p) => p.load(),
                aya::programs::Program::SockOps(p) => p.load(),
                aya::programs::Program::SkMsg(p) => p.load(),
                aya::programs::Program::CgroupSockAddr(p) => p.load(),
                other => return Err(anyhow!("unexpected program type {:?} for {name}", other.prog_type())),
            };
            loaded.with_context(|| format!("loading (verifying) eBPF program {name}"))?;
        }
        for name in PINNED_MAPS {
            let path = pin_dir.join(name);
            let _ = fs::remove_file(&path);
            map_of(&ebpf, name)?.pin(&path).with_context(|| format!("pinning map {name} at {}", path.display()))?;
        }
        let mut take = |name: &str| ebpf.take_map(name).ok_or_else(|| anyhow!("eBPF map {name} missing"));
        let fork_child_pid_offset = fork_child_pid_offset()?;
        let mut config_map: Array<MapData, Config> = take("CONFIG")?.try_into()?;
        config_map.set(0, &Config { fork_child_pid_offset, ..config }, 0).context("writing the eBPF config")?;
        Ok(Self {
            heartbeat: take("HEARTBEAT")?.try_into()?,
            held: take("HELD")?.try_into()?,
            denied_threads: take("DENIED_THREADS")?.try_into()?,
            watched: take("WATCHED_CGROUPS")?.try_into()?,
            ssl_peers: take("SSL_PEERS")?.try_into()?,
            counters: take("COUNTERS")?.try_into()?,
            deny_v4: take("DENY_V4")?.try_into()?,
            deny_v6: take("DENY_V6")?.try_into()?,
            confined: take("CONFINED")?.try_into()?,
            allowed_v4: take("ALLOWED_V4")?.try_into()?,
            allowed_v6: take("ALLOWED_V6")?.try_into()?,
            fork_child_pid_offset,
            config: config_map,
            ebpf,
            pin_dir,
            pinned_links: Vec::new(),
            tls_targets: Vec::new(),
            uprobes: Vec::new(),
            attachments: std::collections::BTreeMap::new(),
        })
    }

    /// The ring buffer of events; taken once by the reader.
    pub fn take_events(&mut self) -> anyhow::Result<RingBuf<MapData>> {
        let map = self.ebpf.take_map("EVENTS").ok_or_else(|| anyhow!("EVENTS already taken"))?;
        Ok(RingBuf::try_from(map)?)
    }

    /// Attaches the programs that do not depend on which cgroups are watched: the socket
    /// guard on the socket hash and the exec tracepoint.
    pub fn attach_global(&mut self) -> anyhow::Result<()> {
        let sockets: SockHash<&MapData, SocketKey> =
            SockHash::try_from(map_of(&self.ebpf, "SOCKETS")?).context("SOCKETS map")?;
        let sockets_fd = sockets.fd().try_clone().context("duplicating the SOCKETS fd")?;
        let sk_msg: &mut SkMsg = program(&mut self.ebpf, "guard_sends")?;
        let id = sk_msg.attach(&sockets_fd).context("attaching sk_msg to the socket hash")?;
        let link: FdLink = sk_msg.take_link(id)?.try_into().context("sk_msg link is not an fd link")?;
        self.pin(link, "guard_sends")?;
        self.attached("guard_sends");

        for name in ["sched_process_exec", "sched_process_fork"] {
            let tracepoint: &mut TracePoint = program(&mut self.ebpf, name)?;
            let id = tracepoint.attach("sched", name).with_context(|| format!("attaching the {name} tracepoint"))?;
            let link: FdLink = tracepoint.take_link(id)?.try_into().context("tracepoint link is not an fd link")?;
            self.pin(link, name)?;
            self.attached(name);
        }
        Ok(())
    }

    fn attached(&mut self, program: &'static str) {
        *self.attachments.entry(program).or_default() += 1;
    }

    /// How many times each program is attached (cgroups, files, hooks).
    pub fn attachments(&self) -> &std::collections::BTreeMap<&'static str, usize> {
        &self.attachments
    }

    /// Writes the configuration (the policy's part; the kernel layout facts are this
    /// loader's).
    pub fn write_config(&mut self, config: Config) -> anyhow::Result<()> {
        let config = Config { fork_child_pid_offset: self.fork_child_pid_offset, ..config };
        self.config.set(0, &config, 0).context("writing the eBPF config")
    }

    /// Starts watching a cgroup v2 directory (and its descendants).
    /// (Cgroup links coexist with other programs whatever the mode; the kernel wants no flags.)
    pub fn watch_cgroup(&mut self, dir: &Path, cgroup_id: u64) -> anyhow::Result<()> {
        let cgroup = fs::File::open(dir).with_context(|| format!("opening cgroup {}", dir.display()))?;
        let sock_ops: &mut SockOps = program(&mut self.ebpf, "track_sockets")?;
        let id = sock_ops
            .attach(cgroup.as_fd(), CgroupAttachMode::Single)
            .with_context(|| format!("attaching sock_ops to {}", dir.display()))?;
        let link: FdLink = sock_ops.take_link(id)?.try_into().context("sock_ops link is not an fd link")?;
        self.pin(link, &format!("track_sockets-{cgroup_id}"))?;
        self.attached("track_sockets");
        // The connect guards stay owned by this process (aya cannot pin their links): the
        // deny list is enforced while a daemon runs.
        for name in ["refuse_connect4", "refuse_connect6"] {
            let guard: &mut CgroupSockAddr = program(&mut self.ebpf, name)?;
            guard
                .attach(cgroup.as_fd(), CgroupAttachMode::Single)
                .with_context(|| format!("attaching {name} to {}", dir.display()))?;
            self.attached(name);
        }
        self.watched.insert(&cgroup_id, &1, 0).context("adding to WATCHED_CGROUPS")?;
        Ok(())
    }

    /// Attaches the OpenSSL probes to a library or executable; returns its attach cookie.
    pub fn attach_openssl(&mut self, path: &Path, exports: &Exports) -> anyhow::Result<u32> {
        let cookie = u32::try_from(self.tls_targets.len())?;
        for (program_name, symbol) in OPENSSL_PROBES {
            if exports.openssl.contains(&symbol) {
                self.attach_uprobe(program_name, symbol, path, cookie)?;
            }
        }
        self.tls_targets.push(path.to_path_buf());
        Ok(cookie)
    }

    /// Attaches the library-change hook to a dynamic loader.
    pub fn attach_loader_hook(&mut self, path: &Path) -> anyhow::Result<()> {
        self.attach_uprobe("dl_debug_state", targets::DL_DEBUG_STATE, path, u32::MAX)
    }

    fn attach_uprobe(
        &mut self,
        program_name: &'static str,
        symbol: &str,
        path: &Path,
        cookie: u32,
    ) -> anyhow::Result<()> {
        let probe: &mut UProbe = program(&mut self.ebpf, program_name)?;
        let point =
            UProbeAttachPoint { location: UProbeAttachLocation::Symbol(symbol), cookie: Some(u64::from(cookie)) };
        let id = probe
            .attach([point], path, UProbeScope::AllProcesses)
            .with_context(|| format!("attaching {program_name} to {symbol} in {}", path.display()))?;
        let link: FdLink = probe.take_link(id)?.try_into().context("uprobe link is not an fd link")?;
        let pin_name = format!("{program_name}-{}", self.pinned_links.len());
        self.pin(link, &pin_name)?;
        self.attached(program_name);
        match self.uprobes.iter_mut().find(|(file, _)| file == path) {
            Some((_, count)) => *count += 1,
            None => self.uprobes.push((path.to_path_buf(), 1)),
        }
        Ok(())
    }

    /// Files with uprobes attached, and how many each.
    pub fn uprobes(&self) -> &[(PathBuf, usize)] {
        &self.uprobes
    }

    fn pin(&mut self, link: FdLink, name: &str) -> anyhow::Result<()> {
        let path = self.pin_dir.join("links").join(name);
        let _ = fs::remove_file(&path);
        let pinned = link.pin(&path).with_context(|| format!("pinning link {}", path.display()))?;
        self.pinned_links.push(pinned);
        Ok(())
    }

    /// Path of the TLS target an event's cookie names.
    pub fn tls_target(&self, cookie: u32) -> Option<&Path> {
        self.tls_targets.get(cookie as usize).map(PathBuf::as_path)
    }

    pub fn tls_targets(&self) -> &[PathBuf] {
        &self.tls_targets
    }

    /// Replaces the networks refused at connect().
    pub fn set_deny_networks(&mut self, networks: &[IpNet]) -> anyhow::Result<()> {
        clear(&mut self.deny_v4);
        clear(&mut self.deny_v6);
        for network in networks {
            match network {
                IpNet::V4(net) => {
                    self.deny_v4.insert(&Key::new(u32::from(net.prefix_len()), net.network().octets()), &1, 0)
                }
                IpNet::V6(net) => {
                    self.deny_v6.insert(&Key::new(u32::from(net.prefix_len()), net.network().octets()), &1, 0)
                }
            }
            .with_context(|| format!("adding {network} to the deny list"))?;
        }
        Ok(())
    }

    /// Replaces the destinations each confinement slot may reach (index = slot).
    pub fn set_allowed_destinations(&mut self, slots: &[Vec<IpNet>]) -> anyhow::Result<()> {
        clear(&mut self.allowed_v4);
        clear(&mut self.allowed_v6);
        for (slot, networks) in slots.iter().enumerate() {
            let slot_bytes = u32::try_from(slot)?.to_be_bytes();
            for network in networks {
                let prefix = ALLOW_SLOT_BITS + u32::from(network.prefix_len());
                match network {
                    IpNet::V4(net) => {
                        let mut data = [0u8; 8];
                        data[..4].copy_from_slice(&slot_bytes);
                        data[4..].copy_from_slice(&net.network().octets());
                        self.allowed_v4.insert(&Key::new(prefix, data), &1, 0)
                    }
                    IpNet::V6(net) => {
                        let mut data = [0u8; 20];
                        data[..4].copy_from_slice(&slot_bytes);
                        data[4..].copy_from_slice(&net.network().octets());
                        self.allowed_v6.insert(&Key::new(prefix, data), &1, 0)
                    }
                }
                .with_context(|| format!("adding {network} to the destinations of slot {slot}"))?;
            }
        }
        Ok(())
    }

    /// Sum over CPUs of one of the kernel-side counters.
    pub fn counter(&self, index: u32) -> u64 {
        self.counters.get(&index, 0).map(|per_cpu| per_cpu.iter().sum()).unwrap_or(0)
    }

    /// All kernel-side counters with their names, for logs and metrics.
    pub fn counters(&self) -> Vec<(&'static str, u64)> {
        [
            ("ringbuf_drops", counter::RINGBUF_DROPS),
            ("capture_truncated", counter::CAPTURE_TRUNCATED),
            ("hold_signal_failed", counter::HOLD_SIGNAL_FAILED),
            ("sockhash_full", counter::SOCKHASH_FULL),
            ("sends_dropped", counter::SENDS_DROPPED),
            ("connects_refused", counter::CONNECTS_REFUSED),
            ("uninspected_fail_open", counter::UNINSPECTED_FAIL_OPEN),
            ("denied_fail_closed", counter::DENIED_FAIL_CLOSED),
            ("read_user_failed", counter::READ_USER_FAILED),
            ("connects_confined", counter::CONNECTS_CONFINED),
            ("confine_failed", counter::CONFINE_FAILED),
        ]
        .into_iter()
        .map(|(name, index)| (name, self.counter(index)))
        .collect()
    }

    /// Detaches everything and removes the pins: nothing of this instance stays in the kernel.
    pub fn release(self) -> anyhow::Result<()> {
        for link in self.pinned_links {
            link.unpin().context("unpinning a link")?;
        }
        remove_pins(&self.pin_dir)
    }

    /// Leaves the pinned programs enforcing after this process exits (closed fail mode).
    pub fn leave_pinned(self) {
        drop(self);
    }
}

/// Empties an LPM trie before it is filled anew (the keys are read first: removing while
/// iterating would skip entries).
fn clear<K: aya::Pod>(trie: &mut LpmTrie<MapData, K, u8>) {
    let old: Vec<Key<K>> = trie.keys().filter_map(Result::ok).collect();
    for key in old {
        let _ = trie.remove(&key);
    }
}

/// Where `child_pid` sits in a `sched_process_fork` record on this kernel, from the
/// tracepoint's format file (its fields changed from arrays to `__data_loc` strings in 6.x).
fn fork_child_pid_offset() -> anyhow::Result<u32> {
    let path = "/sys/kernel/tracing/events/sched/sched_process_fork/format";
    let format = fs::read_to_string(path).with_context(|| format!("reading {path}"))?;
    field_offset(&format, "child_pid").with_context(|| format!("no child_pid field in {path}"))
}

/// The `offset:` of a field in a tracepoint format file.
fn field_offset(format: &str, field: &str) -> Option<u32> {
    let line = format.lines().find(|line| {
        line.trim_start()
            .strip_prefix("field:")
            .and_then(|decl| decl.split(';').next())
            .is_some_and(|decl| decl.rsplit([' ', '*']).next() == Some(field))
    })?;
    line.split(';').find_map(|part| part.trim().strip_prefix("offset:")?.parse().ok())
}

/// Removes an instance's pin directory; pinned links and maps go with their last reference.
pub fn remove_pins(pin_dir: &Path) -> anyhow::Result<()> {
    if pin_dir.exists() {
        fs::remove_dir_all(pin_dir).with_context(|| format!("removing {}", pin_dir.display()))?;
    }
    Ok(())
}

fn map_of<'a>(ebpf: &'a Ebpf, name: &str) -> anyhow::Result<&'a aya::maps::Map> {
    ebpf.map(name).ok_or_else(|| anyhow!("eBPF map {name} missing"))
}

fn program<'a, T>(ebpf: &'a mut Ebpf, name: &str) -> anyhow::Result<&'a mut T>
where
    &'a mut T: TryFrom<&'a mut aya::programs::Program, Error = aya::programs::ProgramError>,
{
    let program = ebpf.program_mut(name).ok_or_else(|| anyhow!("eBPF program {name} missing"))?;
    program.try_into().with_context(|| format!("eBPF program {name} has an unexpected type"))
}

#[cfg(test)]
mod tests {
    use super::field_offset;

    #[test]
    fn field_offsets_are_read_from_a_tracepoint_format() {
        let format = "name: sched_process_fork\nformat:\n\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\n\tfield:__data_loc char[] parent_comm;\toffset:8;\tsize:4;\tsigned:0;\n\tfield:pid_t parent_pid;\toffset:12;\tsize:4;\tsigned:1;\n\tfield:pid_t child_pid;\toffset:20;\tsize:4;\tsigned:1;\n";
        assert_eq!(field_offset(format, "child_pid"), Some(20));
        assert_eq!(field_offset(format, "parent_pid"), Some(12));
        assert_eq!(field_offset(format, "pid"), None, "a suffix of another field's name is not that field");
    }
}
