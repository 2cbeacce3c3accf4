//! The audit log: JSON Lines, one record per inspected request, written (and flushed to the
//! kernel, and by default synced to disk) before the verdict it records is applied. It never
//! holds the raw body.
//!
//! The log is tamper-evident:
//!
//! - Every record carries `seq` (from 1, never reset), `prev_hash` (the `hash` of the record
//!   before, 64 zeros for the first) and `hash`: SHA-256 of the record's canonical JSON (see
//!   [`chain`] for the exact bytes). Editing, removing or reordering a record breaks the chain.
//! - Every `checkpoint_every` records, before rotating a file and at clean shutdown, a line
//!   `{"checkpoint":{...}}` signs the seq and hash of the last record with an Ed25519 key the
//!   daemon creates on first start (see [`signing`]). A checkpoint vouches for every record up
//!   to it: recomputing the hashes after an edit is caught by the next checkpoint, whose
//!   signature cannot be redone without the key.
//! - Rotation (`max_file_bytes`) renames the file `NAME.FIRST-LAST` after ending it with a
//!   checkpoint; the chain goes on in a new `NAME`, and [`verify`] checks it across files.
//!
//! What it does not prove: records after the last checkpoint are only hash-chained, so cutting
//! whole lines off the end of the log, or rewriting that unsigned tail with recomputed hashes,
//! is not detectable (verify warns when a log does not end in a checkpoint). Whoever can read
//! the key (root on the host) can forge everything; keep the public key, and copies of the
//! log, somewhere else.
use std::{
    fs,
    io::{self, BufRead as _, Seek as _, Write as _},
    os::unix::fs::{FileExt as _, OpenOptionsExt as _},
    path::{Path, PathBuf},
};

use anyhow::Context as _;
use ed25519_dalek::SigningKey;
use serde::Serialize;

use crate::{
    detect::Finding,
    policy::{Action, MessagePart, SchemaViolation},
};

pub mod chain;
pub mod signing;
mod verify;

pub use chain::GENESIS_HASH;
use chain::{Entry, encode_record, parse_entry, parse_segment_name, segment_name};
pub use signing::{
    Checkpoint, CheckpointReason, DEFAULT_KEY_PATH, key_id, load_or_create_key, load_public_key, public_key_pem,
};
pub use verify::{Problem, ProblemKind, VerifyError, VerifySummary, chain_files, verify};

#[derive(Clone, Debug, Serialize)]
pub struct AuditRecord {
    pub ts: String,
    pub pid: u32,
    pub comm: String,
    pub cgroup: String,
    pub tls_library: String,
    pub peer: Option<String>,
    pub host: Option<String>,
    pub method: Option<String>,
    pub path: Option<String>,
    pub tool: Option<String>,
    /// The decided action: the most severe of every rule that applied.
    pub action: &'static str,
    /// What happened to the request: `passed`, `redacted`, `blocked` or `killed`.
    pub outcome: &'static str,
    /// False in monitor mode: the action was recorded, not applied.
    pub enforced: bool,
    pub reason: String,
    /// Length of the decoded body.
    pub bytes: u64,
    pub body_sha256: Option<String>,
    /// The body was not seen whole (capture cap, lost events, blocked before it was sent).
    pub truncated: bool,
    pub findings: Vec<AuditFinding>,
    pub schema_violations: Vec<AuditViolation>,
    /// The model's tool call this request carries out, when it is linked to one.
    pub tool_call_id: Option<String>,
    /// `requested`, `arguments_differ` or `unrequested`; null where not checked.
    pub link: Option<&'static str>,
    /// Spans masked in the agent's buffer before the write.
    pub redacted: usize,
    pub review: Option<AuditReview>,
    pub policy_version: String,
    pub mode: &'static str,
    /// For a request held for review: its body with every finding masked, for the reviewer
    /// who asks (`egress review show`). Kept in memory while the review waits, never written.
    #[serde(skip)]
    pub review_preview: Option<ReviewPreview>,
}

/// A held request's body as a reviewer may see it: every finding's bytes replaced by `*`.
#[derive(Clone, Debug, Serialize)]
pub struct ReviewPreview {
    /// The masked body (UTF-8, invalid bytes replaced), at most `PREVIEW_MAX_BYTES` of it.
    pub text: String,
    /// Length of the whole body.
    pub body_bytes: u64,
    /// True when `text` holds only the start of the body.
    pub truncated: bool,
}

/// How much of a held body a preview shows.
pub const PREVIEW_MAX_BYTES: usize = 16 * 1024;

impl ReviewPreview {
    /// Masks each finding span of `body` (the decoded body the spans point into).
    pub fn new(body: &[u8], body_len: u64, findings: &[AuditFinding]) -> Self {
        let mut masked = body.to_vec();
        for finding in findings {
            if let Some(span) = masked.get_mut(finding.start..finding.end.min(body.len())) {
                span.fill(b'*');
            }
        }
        let shown = masked.len().min(PREVIEW_MAX_BYTES);
        Self {
            text: String::from_utf8_lossy(&masked[..shown]).into_owned(),
            body_bytes: body_len,
            truncated: (shown as u64) < body_len,
        }
    }
}

/// A finding as the audit log keeps it: where and what kind, never the value.
#[derive(Clone, Debug, Serialize)]
pub struct AuditFinding {
    pub category: &'static str,
    pub detector: &'static str,
    pub json_path: Option<String>,
    pub part: Option<MessagePart>,
    pub action: &'static str,
    /// The policy rule that gave the action (`tools[2].on_findings.pii`, `class ... default`).
    pub rule: String,
    pub start: usize,
    pub end: usize,
    pub confidence: f32,
    pub label: Option<String>,
    pub value_hash: String,
}

impl AuditFinding {
    pub fn new(finding: &Finding, part: Option<MessagePart>, action: Action, rule: String) -> Self {
        Self {
            category: finding.category.as_str(),
            detector: finding.detector,
            json_path: finding.json_path.as_deref().map(str::to_owned),
            part,
            action: action.as_str(),
            rule,
            start: finding.start,
            end: finding.end,
            confidence: finding.confidence,
            label: finding.label.clone(),
            value_hash: finding.value_hash.to_string(),
        }
    }
}

/// Which field of the body broke which schema rule.
#[derive(Clone, Debug, Serialize)]
pub struct AuditViolation {
    pub pointer: String,
    pub keyword: String,
}

impl From<&SchemaViolation> for AuditViolation {
    fn from(violation: &SchemaViolation) -> Self {
        Self { pointer: violation.pointer.clone(), keyword: violation.keyword.clone() }
    }
}

/// How a review of the request ended.
#[derive(Clone, Debug, Serialize)]
pub struct AuditReview {
    pub id: u64,
    pub outcome: &'static str,
    pub by_uid: Option<u32>,
}

/// How hard an append pushes its line towards the disk.
///
/// Every append is one `write(2)` that returns before the verdict is applied, so a record is
/// in the kernel before its decision takes effect and survives a crash of the daemon whatever
/// the policy. The policy only matters for a crash of the whole machine (power loss, kernel
/// panic): what was written but not yet synced may then be lost, or left as a torn last line.
///
/// The cost, measured by `append_cost` in `tests/audit_chain.rs` (release build, 2-core VM,
/// ext4 on a virtual disk, 740-byte records): `Never` 2.5 µs per append (serialize, hash,
/// write), `Checkpoint` 4.5 µs on average (a sync and a signature every 100 records, but that
/// one append waits for them), `EveryRecord` 120 µs on an idle disk and 1.5 to 4 ms while
/// other processes write heavily. Every decision waits for its sync, and the daemon decides
/// one request at a time, so `EveryRecord` adds that latency to each inspected request and
/// caps the daemon at a few hundred (busy disk) to several thousand decisions a second.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum FsyncPolicy {
    /// Never `fdatasync` (except at shutdown and rotation): a power loss can lose the last
    /// seconds of records, decisions included.
    Never,
    /// `fdatasync` after every record, before the verdict is applied: a power loss loses no
    /// decision that took effect. The default, as this is an audit trail.
    #[default]
    EveryRecord,
    /// `fdatasync` after each checkpoint (every `checkpoint_every` records): a power loss can
    /// lose the records since the last checkpoint.
    Checkpoint,
}

/// How the audit log is kept. [`AuditOptions::default`] is what [`AuditLog::open`] uses.
#[derive(Clone, Debug)]
pub struct AuditOptions {
    /// The Ed25519 signing key (PKCS#8 PEM, created 0600 on first start if missing).
    pub key_path: PathBuf,
    /// A signed checkpoint after every record whose seq is a multiple of this (0: only at
    /// rotation and shutdown).
    pub checkpoint_every: u64,
    pub fsync: FsyncPolicy,
    /// Rotate once the file reaches this many bytes (None: never rotate).
    pub max_file_bytes: Option<u64>,
}

impl Default for AuditOptions {
    fn default() -> Self {
        Self {
            key_path: PathBuf::from(DEFAULT_KEY_PATH),
            checkpoint_every: 100,
            fsync: FsyncPolicy::EveryRecord,
            max_file_bytes: None,
        }
    }
}

/// The open audit log: a hash chain of records with signed checkpoints (see the module docs).
pub struct AuditLog {
    file: fs::File,
    path: PathBuf,
    options: AuditOptions,
    key: SigningKey,
    /// Seq of the last record of the chain (0 before the first).
    seq: u64,
    /// Hash of that record ([`GENESIS_HASH`] before the first).
    last_hash: String,
    /// Seq of the first record in the current file.
    file_first_seq: Option<u64>,
    /// Seq covered by the last checkpoint written to the current file.
    file_signed_seq: Option<u64>,
    /// Length of the file up to its last whole line.
    len: u64,
    /// A failed write may have left part of a line behind `len`: cut it before writing on.
    dirty: bool,
    /// The file was rotated away and the new one is not open yet.
    reopen_pending: bool,
}

impl AuditLog {
    /// Opens the log with the default options (key at [`DEFAULT_KEY_PATH`], a checkpoint
    /// every 100 records, fsync every record, no rotation).
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        Self::open_with(path, AuditOptions::default())
    }

    /// Opens (or creates) the log at `path` and continues its chain: from its last line, or,
    /// when the file is missing or empty, from the newest rotated file beside it. Loads the
    /// signing key, creating it if it does not exist. Fails if another process holds the file.
    ///
    /// A torn last line (a power loss in the middle of a write) is cut off and saved, as it
    /// was, in `torn-<unix ms>-<name>` beside the log, with a warning; with fsync every record
    /// its decision was never applied. A file whose last whole line is not an audit line (a
    /// log from before the chain, or damage) is moved aside to `<name>.unchained-<unix ms>`,
    /// with a warning, and the chain goes on in a new file.
    pub fn open_with(path: &Path, options: AuditOptions) -> anyhow::Result<Self> {
        if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
            fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let key = load_or_create_key(&options.key_path)?;
        let sync = options.fsync != FsyncPolicy::Never;
        let mut file = open_live(path, sync)?;
        let mut tail = read_tail(&file).with_context(|| format!("reading audit log {}", path.display()))?;
        if tail.total_len > tail.complete_len {
            save_torn_tail(path, &file, &tail)?;
            tail.total_len = tail.complete_len;
        }
        let mut state = None;
        let mut file_first_seq = None;
        if let Some(line) = &tail.last_line {
            match parse_entry(line) {
                Ok(entry) => {
                    state = Some(chain_state(path, entry));
                    file_first_seq = first_record_seq(&file)?;
                }
                Err(why) => {
                    let aside = sibling(path, |name| format!("{name}.unchained-{}", unix_millis()));
                    tracing::warn!(
                        "the last line of audit log {} is not an audit record ({why}): moved it to {} and \
                         going on in a new file",
                        path.display(),
                        aside.display()
                    );
                    drop(file);
                    fs::rename(path, &aside).with_context(|| format!("moving {} aside", path.display()))?;
                    file = open_live(path, sync)?;
                    tail = Tail { complete_len: 0, total_len: 0, last_line: None };
                }
            }
        }
        if state.is_none() {
            state = newest_segment_state(path)?;
        }
        let (seq, last_hash) = state.unwrap_or_else(|| (0, GENESIS_HASH.to_string()));
        Ok(Self {
            file,
            path: path.to_path_buf(),
            options,
            key,
            seq,
            last_hash,
            file_first_seq,
            file_signed_seq: None,
            len: tail.complete_len,
            dirty: false,
            reopen_pending: false,
        })
    }

    /// Appends one record with a single write(2), synced as the fsync policy says, so the
    /// record is in the kernel (or on disk) before the verdict is applied. Then writes a
    /// checkpoint or rotates when due; those failing is logged, not returned, as the record
    /// itself is written. An error means the record may not be in the log.
    pub fn append(&mut self, record: &AuditRecord) -> anyhow::Result<()> {
        if self.reopen_pending {
            self.reopen()?;
        }
        let encoded = encode_record(self.seq + 1, &self.last_hash, record).context("encoding an audit record")?;
        self.write_line(&encoded.line)?;
        self.seq += 1;
        self.last_hash = encoded.hash;
        self.file_first_seq.get_or_insert(self.seq);
        if self.options.fsync == FsyncPolicy::EveryRecord {
            self.sync()?;
        }
        let every = self.options.checkpoint_every;
        if every > 0
            && self.seq.is_multiple_of(every)
            && let Err(error) = self.write_checkpoint(CheckpointReason::Interval)
        {
            tracing::error!("{error:#}");
        }
        if self.options.max_file_bytes.is_some_and(|max| self.len >= max)
            && let Err(error) = self.rotate()
        {
            tracing::error!("rotating audit log {}: {error:#}", self.path.display());
        }
        Ok(())
    }

    /// Writes a signed checkpoint of the last record and syncs the file, whatever the fsync
    /// policy. The daemon calls it at clean shutdown; a log without records gets none.
    pub fn checkpoint(&mut self) -> anyhow::Result<()> {
        if self.seq == 0 {
            return Ok(());
        }
        if self.reopen_pending {
            self.reopen()?;
        }
        self.write_checkpoint(CheckpointReason::Shutdown)?;
        self.sync()
    }

    /// Seq of the last record written (0 before the first).
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// Hash of the last record written ([`GENESIS_HASH`] before the first).
    pub fn last_hash(&self) -> &str {
        &self.last_hash
    }

    fn write_checkpoint(&mut self, reason: CheckpointReason) -> anyhow::Result<()> {
        let checkpoint = Checkpoint::sign(&self.key, self.seq, &self.last_hash, timestamp(), reason);
        self.write_line(&checkpoint.to_line())?;
        self.file_signed_seq = Some(self.seq);
        if self.options.fsync == FsyncPolicy::Checkpoint {
            self.sync()?;
        }
        Ok(())
    }

    /// Ends the current file with a checkpoint, renames it `NAME.FIRST-LAST` and opens a new
    /// one at the same path, whose first record follows the last of the old file.
    fn rotate(&mut self) -> anyhow::Result<()> {
        let Some(first) = self.file_first_seq else {
            return Ok(());
        };
        if self.file_signed_seq != Some(self.seq) {
            self.write_checkpoint(CheckpointReason::Rotate)?;
        }
        self.sync()?;
        let segment = sibling(&self.path, |name| segment_name(name, first, self.seq));
        anyhow::ensure!(!segment.exists(), "{} already exists", segment.display());
        fs::rename(&self.path, &segment)
            .with_context(|| format!("renaming {} to {}", self.path.display(), segment.display()))?;
        self.reopen_pending = true;
        sync_dir(&self.path)?;
        tracing::info!("audit log: records {first}-{} moved to {}", self.seq, segment.display());
        self.reopen()
    }

    fn reopen(&mut self) -> anyhow::Result<()> {
        let file = open_live(&self.path, true)?;
        let len = file.metadata()?.len();
        anyhow::ensure!(
            len == 0,
            "{} appeared while rotating it ({len} bytes): not appending to it",
            self.path.display()
        );
        self.file = file;
        self.len = 0;
        self.file_first_seq = None;
        self.file_signed_seq = None;
        self.dirty = false;
        self.reopen_pending = false;
        Ok(())
    }

    /// Appends one whole line. If the write fails, the file is cut back to its last whole
    /// line, so a partial line never has another written after it.
    fn write_line(&mut self, line: &[u8]) -> anyhow::Result<()> {
        if self.dirty {
            self.file.set_len(self.len).with_context(|| format!("repairing audit log {}", self.path.display()))?;
            self.dirty = false;
        }
        if let Err(error) = self.file.write_all(line) {
            self.dirty = self.file.set_len(self.len).is_err();
            return Err(error).with_context(|| format!("writing audit log {}", self.path.display()));
        }
        self.len += line.len() as u64;
        Ok(())
    }

    fn sync(&mut self) -> anyhow::Result<()> {
        self.file.sync_data().with_context(|| format!("syncing audit log {}", self.path.display()))
    }
}

/// Opens the live file for appending (and reading its tail), creating it 0640, and takes an
/// exclusive lock on it: two writers would fork the chain.
fn open_live(path: &Path, sync_new: bool) -> anyhow::Result<fs::File> {
    let existed = path.exists();
    let file = fs::OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .mode(0o640)
        .open(path)
        .with_context(|| format!("opening audit log {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(fs::TryLockError::WouldBlock) => anyhow::bail!(
            "audit log {} is being written by another egress process (give each its own audit file)",
            path.display()
        ),
        Err(fs::TryLockError::Error(error)) => {
            return Err(error).with_context(|| format!("locking audit log {}", path.display()));
        }
    }
    if !existed && sync_new {
        sync_dir(path)?;
    }
    Ok(file)
}

/// Syncs the directory that holds `path`, so a created or renamed name survives a power loss.
pub(crate) fn sync_dir(path: &Path) -> anyhow::Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    fs::File::open(dir).and_then(|dir| dir.sync_all()).with_context(|| format!("syncing {}", dir.display()))
}

/// `path` with its file name changed by `rename`.
fn sibling(path: &Path, rename: impl FnOnce(&str) -> String) -> PathBuf {
    let name = path.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default();
    path.with_file_name(rename(&name))
}

fn unix_millis() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|since| since.as_millis()).unwrap_or(0)
}

/// Where the chain stands after a line.
fn chain_state(path: &Path, entry: Entry) -> (u64, String) {
    match entry {
        Entry::Record(head) => {
            if head.hash != head.computed {
                tracing::warn!(
                    "the last record of audit log {} (seq {}) does not match its hash: it was changed after it \
                     was written (`egress audit verify` will report it)",
                    path.display(),
                    head.seq
                );
            }
            (head.seq, head.hash)
        }
        Entry::Checkpoint(checkpoint) => (checkpoint.seq, checkpoint.hash),
    }
}

/// The end of a file: the length up to its last newline and the line before that newline.
struct Tail {
    complete_len: u64,
    total_len: u64,
    last_line: Option<Vec<u8>>,
}

fn read_tail(file: &fs::File) -> io::Result<Tail> {
    const CHUNK: u64 = 64 * 1024;
    let total_len = file.metadata()?.len();
    let mut start = total_len;
    // The bytes from `start` to the end of the file.
    let mut buf = Vec::new();
    loop {
        if let Some(last) = memchr::memrchr(b'\n', &buf) {
            let complete_len = start + last as u64 + 1;
            if let Some(previous) = memchr::memrchr(b'\n', &buf[..last]) {
                return Ok(Tail { complete_len, total_len, last_line: Some(buf[previous + 1..last].to_vec()) });
            }
            if start == 0 {
                return Ok(Tail { complete_len, total_len, last_line: Some(buf[..last].to_vec()) });
            }
        } else if start == 0 {
            return Ok(Tail { complete_len: 0, total_len, last_line: None });
        }
        let from = start.saturating_sub(CHUNK);
        let mut chunk = vec![0; (start - from) as usize];
        file.read_exact_at(&mut chunk, from)?;
        chunk.extend_from_slice(&buf);
        buf = chunk;
        start = from;
    }
}

/// Copies a torn last line to a file of its own, then cuts it off the log.
fn save_torn_tail(path: &Path, file: &fs::File, tail: &Tail) -> anyhow::Result<()> {
    let mut fragment = vec![0; (tail.total_len - tail.complete_len) as usize];
    file.read_exact_at(&mut fragment, tail.complete_len)?;
    let saved = sibling(path, |name| format!("torn-{}-{name}", unix_millis()));
    let mut out = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o640)
        .open(&saved)
        .with_context(|| format!("creating {}", saved.display()))?;
    out.write_all(&fragment)?;
    out.sync_all()?;
    file.set_len(tail.complete_len).with_context(|| format!("cutting the torn tail of {}", path.display()))?;
    file.sync_all()?;
    tracing::warn!(
        "audit log {} ended in a torn line of {} bytes (a crash of the machine mid-write): cut it off and kept it \
         in {}",
        path.display(),
        fragment.len(),
        saved.display()
    );
    Ok(())
}

/// Seq of the first record of a file.
fn first_record_seq(file: &fs::File) -> anyhow::Result<Option<u64>> {
    let mut reader = io::BufReader::new(file.try_clone()?);
    reader.seek(io::SeekFrom::Start(0))?;
    let mut line = Vec::new();
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 || line.last() != Some(&b'\n') {
            return Ok(None);
        }
        if let Ok(Entry::Record(head)) = parse_entry(&line[..line.len() - 1]) {
            return Ok(Some(head.seq));
        }
    }
}

/// The rotated files of the log at `live`, oldest first, with their record ranges.
pub(crate) fn segments(live: &Path) -> io::Result<Vec<(PathBuf, u64, u64)>> {
    let Some(live_name) = live.file_name().and_then(|name| name.to_str()) else {
        return Ok(Vec::new());
    };
    let dir = match live.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let mut found = Vec::new();
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(found),
        Err(error) => return Err(error),
    };
    for entry in entries {
        let entry = entry?;
        if let Some(name) = entry.file_name().to_str()
            && let Some((first, last)) = parse_segment_name(live_name, name)
        {
            found.push((entry.path(), first, last));
        }
    }
    found.sort_by_key(|&(_, first, last)| (first, last));
    Ok(found)
}

/// Where the chain stands at the end of the newest rotated file, if there is one.
fn newest_segment_state(live: &Path) -> anyhow::Result<Option<(u64, String)>> {
    let segments = segments(live).with_context(|| format!("listing the rotated files of {}", live.display()))?;
    let Some((newest, _, _)) = segments.iter().max_by_key(|&&(_, _, last)| last) else {
        return Ok(None);
    };
    let file = fs::File::open(newest).with_context(|| format!("opening {}", newest.display()))?;
    let tail = read_tail(&file).with_context(|| format!("reading {}", newest.display()))?;
    let entry = tail.last_line.as_deref().map(parse_entry);
    match entry {
        Some(Ok(entry)) => Ok(Some(chain_state(newest, entry))),
        Some(Err(why)) => anyhow::bail!(
            "cannot continue the audit chain: the last line of {} is not an audit line ({why})",
            newest.display()
        ),
        None => anyhow::bail!("cannot continue the audit chain: {} is empty", newest.display()),
    }
}

/// Now, as RFC 3339 UTC with milliseconds.
pub fn timestamp() -> String {
    humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string()
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    /// A directory of its own under the system temp dir, removed on drop.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(name: &str) -> Self {
            let dir = std::env::temp_dir().join(format!("egress-audit-{name}-{}", std::process::id()));
            let _ = fs::remove_dir_all(&dir);
            fs::create_dir_all(&dir).expect("creates a scratch dir");
            Self(dir)
        }

        fn options(&self) -> AuditOptions {
            AuditOptions { key_path: self.0.join("keys/audit.key"), ..AuditOptions::default() }
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn record() -> AuditRecord {
        AuditRecord {
            ts: timestamp(),
            pid: 7,
            comm: "curl".into(),
            cgroup: "/agents/a".into(),
            tls_library: "/usr/lib/x86_64-linux-gnu/libssl.so.3".into(),
            peer: Some("127.0.0.1:443".into()),
            host: Some("api.openai.com".into()),
            method: Some("POST".into()),
            path: Some("/v1/files".into()),
            tool: Some("openai-files".into()),
            action: "block",
            outcome: "blocked",
            enforced: true,
            reason: "tool openai-files: action block".into(),
            bytes: 12,
            body_sha256: Some("ab".repeat(32)),
            truncated: false,
            findings: Vec::new(),
            schema_violations: Vec::new(),
            tool_call_id: None,
            link: None,
            redacted: 0,
            review: None,
            policy_version: "f00d".into(),
            mode: "enforce",
            review_preview: None,
        }
    }

    fn lines(path: &Path) -> Vec<serde_json::Value> {
        let text = fs::read_to_string(path).expect("reads");
        text.lines().map(|line| serde_json::from_str(line).expect("json")).collect()
    }

    #[test]
    fn records_are_chained_json_lines_without_the_body() {
        let scratch = Scratch::new("lines");
        let path = scratch.0.join("audit.jsonl");
        let mut log = AuditLog::open_with(&path, scratch.options()).expect("opens");
        log.append(&record()).expect("writes");
        log.append(&record()).expect("writes");
        let lines = lines(&path);
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["action"], "block");
        assert_eq!(lines[0]["peer"], "127.0.0.1:443");
        assert_eq!(lines[0]["tool"], "openai-files");
        assert!(lines[0]["ts"].as_str().is_some_and(|ts| ts.ends_with('Z')));
        assert_eq!(lines[0]["seq"], 1);
        assert_eq!(lines[0]["prev_hash"], GENESIS_HASH);
        assert_eq!(lines[1]["seq"], 2);
        assert_eq!(lines[1]["prev_hash"], lines[0]["hash"]);
        assert_eq!(lines[1]["hash"], log.last_hash());
    }

    #[test]
    fn the_key_is_created_private_once_and_reused() {
        let scratch = Scratch::new("key");
        let options = scratch.options();
        let first = load_or_create_key(&options.key_path).expect("creates");
        let mode = fs::metadata(&options.key_path).expect("exists").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let dir_mode = fs::metadata(options.key_path.parent().expect("dir")).expect("exists").permissions().mode();
        assert_eq!(dir_mode & 0o777, 0o700);
        let again = load_or_create_key(&options.key_path).expect("loads");
        assert_eq!(first.to_bytes(), again.to_bytes());
        let pem = public_key_pem(&options.key_path).expect("public key");
        assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----"));
        let public = scratch.0.join("audit.pub");
        fs::write(&public, &pem).expect("writes");
        assert_eq!(load_public_key(&public).expect("parses"), first.verifying_key());
        assert_eq!(load_public_key(&options.key_path).expect("parses"), first.verifying_key());
        fs::write(scratch.0.join("junk.key"), "not a key").expect("writes");
        assert!(load_or_create_key(&scratch.0.join("junk.key")).is_err(), "a file that is not a key is never replaced");
    }

    #[test]
    fn a_second_writer_is_refused() {
        let scratch = Scratch::new("lock");
        let path = scratch.0.join("audit.jsonl");
        let _log = AuditLog::open_with(&path, scratch.options()).expect("opens");
        let error = AuditLog::open_with(&path, scratch.options()).err().expect("refused");
        assert!(format!("{error:#}").contains("another egress process"), "{error:#}");
    }

    #[test]
    fn reopening_continues_the_chain() {
        let scratch = Scratch::new("reopen");
        let path = scratch.0.join("audit.jsonl");
        let mut log = AuditLog::open_with(&path, scratch.options()).expect("opens");
        log.append(&record()).expect("writes");
        log.checkpoint().expect("checkpoint");
        let hash = log.last_hash().to_string();
        drop(log);
        let mut log = AuditLog::open_with(&path, scratch.options()).expect("reopens");
        assert_eq!((log.seq(), log.last_hash()), (1, hash.as_str()));
        log.append(&record()).expect("writes");
        let lines = lines(&path);
        assert_eq!(lines[2]["seq"], 2);
        assert_eq!(lines[2]["prev_hash"], hash.as_str());
        verify(&[path], Some(&scratch.options().key_path)).expect("verifies");
    }

    #[test]
    fn a_torn_tail_is_cut_off_kept_aside_and_the_chain_goes_on() {
        let scratch = Scratch::new("torn");
        let path = scratch.0.join("audit.jsonl");
        let mut log = AuditLog::open_with(&path, scratch.options()).expect("opens");
        log.append(&record()).expect("writes");
        drop(log);
        let mut file = fs::OpenOptions::new().append(true).open(&path).expect("opens");
        file.write_all(b"{\"seq\":2,\"prev_hash\":\"00").expect("writes");
        drop(file);
        assert!(matches!(
            verify(std::slice::from_ref(&path), None),
            Err(VerifyError::Broken(Problem { line: 2, kind: ProblemKind::Torn { after: Some(1) }, .. }))
        ));
        let mut log = AuditLog::open_with(&path, scratch.options()).expect("reopens");
        log.append(&record()).expect("writes");
        let summary = verify(std::slice::from_ref(&path), None).expect("verifies");
        assert_eq!((summary.records, summary.last_seq), (2, Some(2)));
        let torn: Vec<_> = fs::read_dir(&scratch.0)
            .expect("lists")
            .filter_map(|entry| entry.ok().map(|entry| entry.file_name().to_string_lossy().into_owned()))
            .filter(|name| name.starts_with("torn-") && name.ends_with("-audit.jsonl"))
            .collect();
        assert_eq!(torn.len(), 1);
        assert_eq!(fs::read(scratch.0.join(&torn[0])).expect("reads"), b"{\"seq\":2,\"prev_hash\":\"00");
    }

    #[test]
    fn a_log_from_before_the_chain_is_moved_aside() {
        let scratch = Scratch::new("unchained");
        let path = scratch.0.join("audit.jsonl");
        fs::write(&path, "{\"ts\":\"2025-01-01T00:00:00Z\",\"pid\":1}\n").expect("writes");
        let mut log = AuditLog::open_with(&path, scratch.options()).expect("opens");
        log.append(&record()).expect("writes");
        assert_eq!(lines(&path)[0]["seq"], 1);
        let moved = fs::read_dir(&scratch.0)
            .expect("lists")
            .filter_map(Result::ok)
            .any(|entry| entry.file_name().to_string_lossy().starts_with("audit.jsonl.unchained-"));
        assert!(moved);
    }

    #[test]
    fn fsync_policies_parse_from_the_command_line() {
        use clap::ValueEnum as _;
        assert_eq!(FsyncPolicy::from_str("every-record", false), Ok(FsyncPolicy::EveryRecord));
        assert_eq!(FsyncPolicy::from_str("checkpoint", false), Ok(FsyncPolicy::Checkpoint));
        assert_eq!(FsyncPolicy::from_str("never", false), Ok(FsyncPolicy::Never));
    }
}
