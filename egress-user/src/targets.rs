//! Which files carry TLS code to probe: OpenSSL 3 as a shared library (`libssl.so.3`) or
//! linked into an executable that exports its symbols (`/usr/bin/node`), and the dynamic
//! loaders whose `_dl_debug_state` announces new libraries. Each file is inspected once
//! (by device and inode), however many processes map it.
use std::{
    collections::HashMap,
    fs,
    os::unix::fs::MetadataExt as _,
    path::{Path, PathBuf},
};

use anyhow::Context as _;
use object::{Object as _, ObjectSymbol as _};

pub const SSL_WRITE: &str = "SSL_write";
pub const SSL_WRITE_EX: &str = "SSL_write_ex";
pub const SSL_READ: &str = "SSL_read";
pub const SSL_READ_EX: &str = "SSL_read_ex";
pub const SSL_DO_HANDSHAKE: &str = "SSL_do_handshake";
pub const DL_DEBUG_STATE: &str = "_dl_debug_state";

/// What a file offers to probe.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Exports {
    /// The OpenSSL functions it defines (a subset of the `SSL_*` names above).
    pub openssl: Vec<&'static str>,
    pub dl_debug_state: bool,
}

impl Exports {
    pub fn has_openssl_writes(&self) -> bool {
        self.openssl.contains(&SSL_WRITE) || self.openssl.contains(&SSL_WRITE_EX)
    }
}

/// Reads the dynamic symbol table of an ELF file.
pub fn inspect(path: &Path) -> anyhow::Result<Exports> {
    let file = fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    // SAFETY: read-only map of a file we only parse; a concurrent truncation could fault, which
    // is the same risk every ELF reader of live libraries takes.
    let map = unsafe { memmap2::Mmap::map(&file) }.with_context(|| format!("mapping {}", path.display()))?;
    let elf = object::File::parse(&*map).with_context(|| format!("parsing ELF {}", path.display()))?;
    let mut exports = Exports::default();
    // Exported symbols only: what a dynamic linker can bind is what the agent can call.
    for symbol in elf.dynamic_symbols() {
        if !symbol.is_definition() {
            continue;
        }
        let Ok(name) = symbol.name() else { continue };
        // Versioned names appear as `SSL_write@@OPENSSL_3.0.0` in some tables.
        let name = name.split('@').next().unwrap_or(name);
        if let Some(known) =
            [SSL_WRITE, SSL_WRITE_EX, SSL_READ, SSL_READ_EX, SSL_DO_HANDSHAKE].into_iter().find(|known| *known == name)
            && !exports.openssl.contains(&known)
        {
            exports.openssl.push(known);
        }
        if name == DL_DEBUG_STATE {
            exports.dl_debug_state = true;
        }
    }
    exports.openssl.sort_unstable();
    Ok(exports)
}

/// One executable mapping of /proc/PID/maps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MappedFile {
    pub device: (u32, u32),
    pub inode: u64,
    pub path: PathBuf,
}

/// Executable file mappings of a process (deduplicated, in map order).
pub fn mapped_files(pid: u32) -> Vec<MappedFile> {
    let Ok(maps) = fs::read_to_string(format!("/proc/{pid}/maps")) else {
        return Vec::new();
    };
    let mut files: Vec<MappedFile> = Vec::new();
    for file in maps.lines().filter_map(parse_maps_line) {
        if !files.iter().any(|known| known.inode == file.inode && known.device == file.device) {
            files.push(file);
        }
    }
    files
}

fn parse_maps_line(line: &str) -> Option<MappedFile> {
    let mut fields = line.split_whitespace();
    let _range = fields.next()?;
    let perms = fields.next()?;
    let _offset = fields.next()?;
    let device = fields.next()?;
    let inode: u64 = fields.next()?.parse().ok()?;
    let path = fields.next()?;
    if !perms.contains('x') || inode == 0 || !path.starts_with('/') || fields.next().is_some() {
        return None;
    }
    let (major, minor) = device.split_once(':')?;
    Some(MappedFile {
        device: (u32::from_str_radix(major, 16).ok()?, u32::from_str_radix(minor, 16).ok()?),
        inode,
        path: PathBuf::from(path),
    })
}

/// A path under which this daemon can open the file a process mapped: the plain path if it
/// names the same inode (same mount namespace), else through /proc/PID/root.
pub fn reachable_path(pid: u32, file: &MappedFile) -> Option<PathBuf> {
    let same = |path: &Path| fs::metadata(path).is_ok_and(|meta| meta.ino() == file.inode);
    if same(&file.path) {
        return Some(file.path.clone());
    }
    let through_root = Path::new(&format!("/proc/{pid}/root")).join(file.path.strip_prefix("/").ok()?);
    same(&through_root).then_some(through_root)
}

/// Memo of inspected files, keyed by (device, inode).
#[derive(Default)]
pub struct Inspected {
    by_inode: HashMap<((u32, u32), u64), Exports>,
}

impl Inspected {
    /// The exports of a mapped file, inspecting it on first sight. `None` if it was seen
    /// before (nothing new to attach) or cannot be read.
    pub fn first_sight(&mut self, pid: u32, file: &MappedFile) -> Option<(PathBuf, Exports)> {
        let key = (file.device, file.inode);
        if self.by_inode.contains_key(&key) {
            return None;
        }
        let path = reachable_path(pid, file)?;
        let exports = match inspect(&path) {
            Ok(exports) => exports,
            Err(error) => {
                tracing::debug!("not an ELF we can read: {error:#}");
                Exports::default()
            }
        };
        self.by_inode.insert(key, exports.clone());
        Some((path, exports))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_executable_file_mappings_only() {
        let exec = "7f2c1a000000-7f2c1a0a0000 r-xp 00020000 fe:01 1318 /usr/lib/x86_64-linux-gnu/libssl.so.3";
        let parsed = parse_maps_line(exec).expect("executable mapping");
        assert_eq!(parsed.device, (0xfe, 1));
        assert_eq!(parsed.inode, 1318);
        assert_eq!(parsed.path, PathBuf::from("/usr/lib/x86_64-linux-gnu/libssl.so.3"));
        assert!(parse_maps_line("7f2c1a000000-7f2c1a0a0000 r--p 00000000 fe:01 1318 /usr/lib/libssl.so.3").is_none());
        assert!(parse_maps_line("7ffd5000-7ffd6000 r-xp 00000000 00:00 0 [vdso]").is_none());
        assert!(parse_maps_line("7f00-7f01 r-xp 00000000 fe:01 99 /tmp/x (deleted)").is_none());
    }

    #[test]
    fn finds_openssl_in_the_system_libssl() {
        let libssl = Path::new("/usr/lib/x86_64-linux-gnu/libssl.so.3");
        if !libssl.exists() {
            eprintln!("SKIP: {} not installed", libssl.display());
            return;
        }
        let exports = inspect(libssl).expect("libssl parses");
        assert!(exports.has_openssl_writes());
        assert!(exports.openssl.contains(&SSL_READ_EX));
        assert!(!exports.dl_debug_state);
    }

    #[test]
    fn finds_the_loader_hook_in_ld_so() {
        let exports = inspect(Path::new("/lib64/ld-linux-x86-64.so.2")).expect("ld.so parses");
        assert!(exports.dl_debug_state);
        assert!(exports.openssl.is_empty());
    }
}
