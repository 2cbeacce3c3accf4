//! Checking a log: the hash chain across files, and the checkpoint signatures.
//!
//! [`verify`] reads the files in chain order (sorted by the seq of their first record, so a
//! shell glob's order does not matter; files without records go last) and stops at the first
//! problem, naming its file, line and seq:
//!
//! - an edited record: its hash does not match its bytes ([`ProblemKind::Edited`]);
//! - an edited record whose hash was recomputed: the next record's `prev_hash` does not match
//!   ([`ProblemKind::ChainBroken`]), or, if all the rest was re-hashed, the next checkpoint
//!   names another hash ([`ProblemKind::CheckpointMismatch`]); if the checkpoints were
//!   rewritten too, only their signatures tell ([`ProblemKind::BadSignature`]);
//! - a removed record (or a missing file): a gap in `seq` whose missing seq does not come
//!   later ([`ProblemKind::Removed`]);
//! - reordered records: a seq that goes backwards, or a gap whose missing seq comes later
//!   ([`ProblemKind::Reordered`]);
//! - a file cut mid-line (or a torn write): a last line without its newline
//!   ([`ProblemKind::Torn`]);
//! - a forged checkpoint, with a public key given: a signature that does not verify, or
//!   another key id ([`ProblemKind::BadSignature`]).
//!
//! Not failures, but warnings in the summary: the log does not end in a checkpoint (a crash,
//! a daemon still running, or lines cut off the end: they cannot be told apart); the chain
//! does not start at seq 1 (earlier files not given). Without a public key only the hash
//! chain is checked, and the summary says so: anyone can recompute hashes, so that proves
//! only that nothing was changed by accident or by someone careless.
use std::{
    collections::BTreeSet,
    fmt, fs,
    io::{self, BufRead as _, Seek as _},
    path::{Path, PathBuf},
};

use ed25519_dalek::VerifyingKey;

use super::{
    GENESIS_HASH,
    chain::{Entry, RecordHead, parse_entry},
    key_id, load_public_key,
    signing::Checkpoint,
};

/// What an intact log holds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VerifySummary {
    pub files: usize,
    pub records: u64,
    pub first_seq: Option<u64>,
    pub last_seq: Option<u64>,
    /// Hash of the last record ([`GENESIS_HASH`] when there is none).
    pub last_hash: String,
    pub checkpoints: u64,
    /// The key the signatures were checked against; None: hash chain only.
    pub verified_key_id: Option<String>,
    /// The key ids the checkpoints name.
    pub key_ids: Vec<String>,
    /// The last seq a checkpoint covers (signed, when a key was given).
    pub checkpointed_through: Option<u64>,
    /// Things that are not failures but limit what was proved.
    pub warnings: Vec<String>,
}

impl fmt::Display for VerifySummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plural = |count: u64, word: &str| format!("{count} {word}{}", if count == 1 { "" } else { "s" });
        write!(f, "intact: {}", plural(self.records, "record"))?;
        if let (Some(first), Some(last)) = (self.first_seq, self.last_seq) {
            write!(f, " (seq {first}-{last})")?;
        }
        write!(f, " in {}, {}", plural(self.files as u64, "file"), plural(self.checkpoints, "checkpoint"))?;
        match (&self.verified_key_id, self.checkpointed_through) {
            (Some(id), Some(through)) => write!(f, "; signatures verified with key {id}, signed through seq {through}"),
            (Some(id), None) => write!(f, "; no signature to check with key {id}"),
            (None, _) => write!(f, "; hash chain only: signatures not checked (no public key given)"),
        }
    }
}

/// Why verification failed.
#[derive(Debug)]
pub enum VerifyError {
    /// A file or the public key could not be read: nothing was proved either way.
    Read { path: PathBuf, message: String },
    /// The log is not intact: the first problem found.
    Broken(Problem),
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Read { path, message } => write!(f, "{}: {message}", path.display()),
            Self::Broken(problem) => problem.fmt(f),
        }
    }
}

impl std::error::Error for VerifyError {}

/// The first place the chain breaks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub file: PathBuf,
    /// 1-based line in `file`.
    pub line: u64,
    /// The seq the problem is about: the edited record, the first missing one, the one out of
    /// place, the checkpoint's; None for a torn or unreadable line.
    pub seq: Option<u64>,
    pub kind: ProblemKind,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: ", self.file.display(), self.line)?;
        if let Some(seq) = self.seq {
            write!(f, "seq {seq}: ")?;
        }
        self.kind.fmt(f)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProblemKind {
    /// The record's bytes do not hash to its `hash`.
    Edited {
        stated: String,
        computed: String,
    },
    /// `prev_hash` is not the hash of the record before: that one, or this one, was replaced.
    ChainBroken,
    /// Seq `expected` (up to `found - 1`) is missing.
    Removed {
        expected: u64,
        found: u64,
    },
    /// Seq `found` stands where `expected` should.
    Reordered {
        expected: u64,
        found: u64,
    },
    /// The last line of a file is incomplete (cut mid-line); `after` is the last whole record.
    Torn {
        after: Option<u64>,
    },
    /// Not an audit line.
    Malformed(String),
    /// A checkpoint that does not name the record before it.
    CheckpointMismatch(String),
    BadSignature(String),
}

impl fmt::Display for ProblemKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Edited { stated, computed } => {
                write!(f, "edited: the record hashes to {computed}, not to its hash {stated}")
            }
            Self::ChainBroken => {
                f.write_str("chain broken: prev_hash is not the hash of the record before (one of them was replaced)")
            }
            Self::Removed { expected, found } if found - expected == 1 => {
                write!(f, "removed: record {expected} is missing (found seq {found})")
            }
            Self::Removed { expected, found } => {
                write!(f, "removed: records {expected}-{} are missing (found seq {found})", found - 1)
            }
            Self::Reordered { expected, found } => {
                write!(f, "reordered: seq {found} stands where seq {expected} should")
            }
            Self::Torn { after: Some(seq) } => write!(f, "torn: the line after seq {seq} is cut off mid-line"),
            Self::Torn { after: None } => f.write_str("torn: the line is cut off mid-line"),
            Self::Malformed(why) => write!(f, "malformed: {why}"),
            Self::CheckpointMismatch(why) => write!(f, "checkpoint does not match the chain: {why}"),
            Self::BadSignature(why) => write!(f, "bad checkpoint signature: {why}"),
        }
    }
}

/// Checks the chain across `files` and, with `pubkey` (an SPKI PEM public key, or the
/// private key file), every checkpoint's signature. Reports the first problem.
pub fn verify(files: &[PathBuf], pubkey: Option<&Path>) -> Result<VerifySummary, VerifyError> {
    let key = pubkey
        .map(|path| {
            load_public_key(path)
                .map_err(|error| VerifyError::Read { path: path.to_path_buf(), message: format!("{error:#}") })
        })
        .transpose()?;
    if files.is_empty() {
        return Err(VerifyError::Read { path: PathBuf::new(), message: "no file to verify".into() });
    }
    let mut ordered = Vec::with_capacity(files.len());
    for path in files {
        let first = first_seq(path).map_err(|error| read_error(path, &error))?;
        ordered.push((first.map_or((1, 0), |seq| (0, seq)), path.clone()));
    }
    ordered.sort_by_key(|(order, _)| *order);
    let ordered: Vec<PathBuf> = ordered.into_iter().map(|(_, path)| path).collect();

    let mut walk = Walk {
        key: key.as_ref(),
        last: None,
        last_record: None,
        key_ids: BTreeSet::new(),
        summary: VerifySummary::default(),
    };
    walk.summary.verified_key_id = key.as_ref().map(key_id);
    for (index, path) in ordered.iter().enumerate() {
        walk.file(&ordered, index, path)?;
    }
    Ok(walk.finish(ordered.len()))
}

/// The files of the log at `live` in chain order: its rotated files (`NAME.FIRST-LAST`) and,
/// if it exists, `live` itself.
pub fn chain_files(live: &Path) -> io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = super::segments(live)?.into_iter().map(|(path, _, _)| path).collect();
    if live.exists() {
        files.push(live.to_path_buf());
    }
    Ok(files)
}

fn read_error(path: &Path, error: &io::Error) -> VerifyError {
    VerifyError::Read { path: path.to_path_buf(), message: error.to_string() }
}

struct Walk<'a> {
    key: Option<&'a VerifyingKey>,
    /// Where the chain stands: the last record's (or anchoring checkpoint's) seq and hash.
    last: Option<(u64, String)>,
    /// Seq of the last record seen.
    last_record: Option<u64>,
    key_ids: BTreeSet<String>,
    summary: VerifySummary,
}

impl Walk<'_> {
    fn file(&mut self, ordered: &[PathBuf], index: usize, path: &Path) -> Result<(), VerifyError> {
        let mut reader = io::BufReader::new(fs::File::open(path).map_err(|error| read_error(path, &error))?);
        let mut buf = Vec::new();
        let mut line = 0;
        let mut offset = 0;
        loop {
            buf.clear();
            let read = reader.read_until(b'\n', &mut buf).map_err(|error| read_error(path, &error))?;
            if read == 0 {
                return Ok(());
            }
            line += 1;
            offset += read as u64;
            let problem = |seq, kind| VerifyError::Broken(Problem { file: path.to_path_buf(), line, seq, kind });
            if buf.last() != Some(&b'\n') {
                return Err(problem(None, ProblemKind::Torn { after: self.last_record }));
            }
            let entry = parse_entry(&buf[..buf.len() - 1]).map_err(|why| problem(None, ProblemKind::Malformed(why)))?;
            let checked = match entry {
                Entry::Record(head) => self.record(head, |wanted| appears_later(ordered, index, offset, wanted)),
                Entry::Checkpoint(checkpoint) => self.checkpoint(&checkpoint),
            };
            checked.map_err(|(seq, kind)| problem(Some(seq), kind))?;
        }
    }

    /// `later(seq)` tells whether a record with that seq appears later in the files.
    fn record(&mut self, head: RecordHead, later: impl FnOnce(u64) -> bool) -> Result<(), (u64, ProblemKind)> {
        let seq = head.seq;
        if head.hash != head.computed {
            return Err((seq, ProblemKind::Edited { stated: head.hash, computed: head.computed }));
        }
        match &self.last {
            None if seq == 1 && head.prev_hash != GENESIS_HASH => return Err((seq, ProblemKind::ChainBroken)),
            None if seq != 1 => self
                .summary
                .warnings
                .push(format!("the chain starts at seq {seq}, not 1: earlier records are not in the files given")),
            None => {}
            Some((last, last_hash)) => {
                let expected = last + 1;
                if seq < expected {
                    return Err((expected, ProblemKind::Reordered { expected, found: seq }));
                }
                if seq > expected {
                    let kind = if later(expected) {
                        ProblemKind::Reordered { expected, found: seq }
                    } else {
                        ProblemKind::Removed { expected, found: seq }
                    };
                    return Err((expected, kind));
                }
                if head.prev_hash != *last_hash {
                    return Err((seq, ProblemKind::ChainBroken));
                }
            }
        }
        self.summary.records += 1;
        self.summary.first_seq.get_or_insert(seq);
        self.summary.last_seq = Some(seq);
        self.last_record = Some(seq);
        self.last = Some((seq, head.hash));
        Ok(())
    }

    fn checkpoint(&mut self, checkpoint: &Checkpoint) -> Result<(), (u64, ProblemKind)> {
        let seq = checkpoint.seq;
        match &self.last {
            Some((last, _)) if *last != seq => {
                return Err((
                    seq,
                    ProblemKind::CheckpointMismatch(format!("it names seq {seq}, the last record is {last}")),
                ));
            }
            Some((_, hash_before)) if *hash_before != checkpoint.hash => {
                return Err((
                    seq,
                    ProblemKind::CheckpointMismatch(format!(
                        "it signs hash {}, record {seq} hashes to {hash_before} (records up to it were rewritten)",
                        checkpoint.hash
                    )),
                ));
            }
            Some(_) => {}
            // A file that starts with a checkpoint (given without the file before it): it
            // anchors the chain.
            None => self.last = Some((seq, checkpoint.hash.clone())),
        }
        if let Some(key) = self.key {
            checkpoint.verify_signature(key).map_err(|why| (seq, ProblemKind::BadSignature(why)))?;
        }
        self.key_ids.insert(checkpoint.key_id.clone());
        self.summary.checkpoints += 1;
        self.summary.checkpointed_through = Some(seq);
        Ok(())
    }

    fn finish(mut self, files: usize) -> VerifySummary {
        let summary = &mut self.summary;
        summary.files = files;
        summary.last_hash = self.last.map_or_else(|| GENESIS_HASH.to_string(), |(_, hash)| hash);
        summary.key_ids = self.key_ids.into_iter().collect();
        match (summary.last_seq, summary.checkpointed_through) {
            (None, _) => summary.warnings.push("no records".into()),
            (Some(last), through) if through.is_none_or(|through| through < last) => {
                let first_unsigned = through.map_or(summary.first_seq.unwrap_or(1), |through| through + 1);
                summary.warnings.push(format!(
                    "records {first_unsigned}-{last} come after the last checkpoint, so no signature covers them: the \
                     daemon crashed or is still running (or the end of the log was cut off at a line boundary)"
                ));
            }
            _ => {}
        }
        if summary.verified_key_id.is_none() && summary.key_ids.len() > 1 {
            summary.warnings.push(format!(
                "checkpoints name {} different keys: {}",
                summary.key_ids.len(),
                summary.key_ids.join(", ")
            ));
        }
        self.summary
    }
}

/// Whether record `wanted` appears after byte `offset` of `ordered[index]` or in a later
/// file (only looked for when a gap is found, to tell a removal from a reordering).
fn appears_later(ordered: &[PathBuf], index: usize, offset: u64, wanted: u64) -> bool {
    ordered[index..].iter().enumerate().any(|(position, path)| {
        let start = if position == 0 { offset } else { 0 };
        contains_seq(path, start, wanted).unwrap_or(false)
    })
}

fn contains_seq(path: &Path, start: u64, wanted: u64) -> io::Result<bool> {
    let mut file = fs::File::open(path)?;
    file.seek(io::SeekFrom::Start(start))?;
    let mut reader = io::BufReader::new(file);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        if reader.read_until(b'\n', &mut buf)? == 0 {
            return Ok(false);
        }
        let line = buf.strip_suffix(b"\n").unwrap_or(&buf);
        if let Ok(Entry::Record(head)) = parse_entry(line)
            && head.seq == wanted
        {
            return Ok(true);
        }
    }
}

/// Seq of the first record of a file (None if it has none before an unreadable line).
fn first_seq(path: &Path) -> io::Result<Option<u64>> {
    let mut reader = io::BufReader::new(fs::File::open(path)?);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        if reader.read_until(b'\n', &mut buf)? == 0 || buf.last() != Some(&b'\n') {
            return Ok(None);
        }
        match parse_entry(&buf[..buf.len() - 1]) {
            Ok(Entry::Record(head)) => return Ok(Some(head.seq)),
            Ok(Entry::Checkpoint(_)) => {}
            Err(_) => return Ok(None),
        }
    }
}
