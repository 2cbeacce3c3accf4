//! The checkpoint signing key and signed checkpoints.
//!
//! The key is an Ed25519 key the daemon creates on its first start and reuses afterwards. It
//! is stored as an unencrypted PKCS#8 (v1, RFC 8410) PEM file (`-----BEGIN PRIVATE KEY-----`),
//! mode 0600, in a directory created 0700, the same form as `openssl genpkey -algorithm
//! ed25519` writes: OpenSSL reads it (`openssl pkey -in KEY -pubout` prints the same public
//! key as `egress audit pubkey`), and a key made by OpenSSL can be used instead. It is written to a temporary file,
//! synced, then linked into place, so a crash never leaves half a key, and two processes
//! starting at once end up with the same key.
//!
//! A key is named by its key id: the first 16 hex digits of the SHA-256 of the raw 32-byte
//! public key.
use std::{
    fs,
    io::{self, Write as _},
    os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _},
    path::Path,
};

use anyhow::{Context as _, anyhow};
use base64::Engine as _;
use ed25519_dalek::{
    Signature, Signer as _, SigningKey, VerifyingKey,
    pkcs8::{
        DecodePrivateKey as _, DecodePublicKey as _, EncodePrivateKey as _, EncodePublicKey as _, KeypairBytes,
        spki::der::pem::LineEnding,
    },
};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// Where the daemon keeps its signing key unless told otherwise.
pub const DEFAULT_KEY_PATH: &str = "/var/lib/egress/audit.key";

/// Why a checkpoint was written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckpointReason {
    /// Every `checkpoint_every` records.
    Interval,
    /// The last line of a file before it is rotated.
    Rotate,
    /// A clean shutdown ([`super::AuditLog::checkpoint`]).
    Shutdown,
}

impl CheckpointReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Interval => "interval",
            Self::Rotate => "rotate",
            Self::Shutdown => "shutdown",
        }
    }
}

/// A signed checkpoint: the key's holder vouches that the chain ended in record `seq` with
/// hash `hash` at time `ts`. As every record's hash covers the one before it, a checkpoint
/// vouches for every record up to `seq`.
///
/// In the log it is one line of its own: `{"checkpoint":{"seq":...,"hash":...,"ts":...,
/// "reason":...,"key_id":...,"signature":...}}`. The signature (standard base64 of the
/// 64-byte Ed25519 signature) covers [`Checkpoint::message`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checkpoint {
    pub seq: u64,
    pub hash: String,
    pub ts: String,
    pub reason: CheckpointReason,
    pub key_id: String,
    pub signature: String,
}

#[derive(Serialize)]
struct CheckpointLine<'a> {
    checkpoint: &'a Checkpoint,
}

impl Checkpoint {
    /// The signed bytes: `egress-audit-checkpoint-v1\nseq=N\nhash=HEX\nts=TS\nreason=R\n`.
    /// (`reason` comes from a fixed set and ends the message, and `seq` and `hash` have fixed
    /// alphabets, so no two checkpoints share a message.)
    pub fn message(seq: u64, hash: &str, ts: &str, reason: CheckpointReason) -> Vec<u8> {
        format!("egress-audit-checkpoint-v1\nseq={seq}\nhash={hash}\nts={ts}\nreason={}\n", reason.as_str())
            .into_bytes()
    }

    pub fn sign(key: &SigningKey, seq: u64, hash: &str, ts: String, reason: CheckpointReason) -> Self {
        let signature = key.sign(&Self::message(seq, hash, &ts, reason));
        Self {
            seq,
            hash: hash.to_string(),
            ts,
            reason,
            key_id: key_id(&key.verifying_key()),
            signature: base64::engine::general_purpose::STANDARD.encode(signature.to_bytes()),
        }
    }

    /// Checks the signature against `key` (strict Ed25519 verification); the error says why not.
    pub fn verify_signature(&self, key: &VerifyingKey) -> Result<(), String> {
        let expected_id = key_id(key);
        if self.key_id != expected_id {
            return Err(format!("signed by key {}, not by the given key {expected_id}", self.key_id));
        }
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&self.signature)
            .map_err(|error| format!("signature is not base64: {error}"))?;
        let bytes: [u8; 64] = bytes.try_into().map_err(|_| "signature is not 64 bytes".to_string())?;
        key.verify_strict(&Self::message(self.seq, &self.hash, &self.ts, self.reason), &Signature::from_bytes(&bytes))
            .map_err(|_| format!("the signature does not verify with key {expected_id}"))
    }

    /// The checkpoint as a log line, newline included.
    pub(crate) fn to_line(&self) -> Vec<u8> {
        let mut line = serde_json::to_vec(&CheckpointLine { checkpoint: self }).expect("a checkpoint serializes");
        line.push(b'\n');
        line
    }
}

/// The first 16 hex digits of the SHA-256 of the raw public key.
pub fn key_id(key: &VerifyingKey) -> String {
    hex::encode(&Sha256::digest(key.as_bytes())[..8])
}

/// Loads the signing key at `path`, creating it (0600, in a 0700 directory) if there is none.
/// An existing file that is not a key is an error: it is never replaced.
pub fn load_or_create_key(path: &Path) -> anyhow::Result<SigningKey> {
    match load_key(path) {
        Err(error) if error.downcast_ref::<io::Error>().is_some_and(|e| e.kind() == io::ErrorKind::NotFound) => {
            create_key(path)
        }
        other => other,
    }
}

/// Loads an existing signing key; warns if others may read it.
pub fn load_key(path: &Path) -> anyhow::Result<SigningKey> {
    let file = fs::File::open(path)?;
    let mode = file.metadata().map(|meta| meta.permissions().mode()).unwrap_or(0);
    if mode & 0o077 != 0 {
        tracing::warn!(
            "the audit signing key {} is readable by others (mode {:o}): chmod 600 it",
            path.display(),
            mode & 0o777
        );
    }
    let pem = io::read_to_string(file).with_context(|| format!("reading the audit signing key {}", path.display()))?;
    SigningKey::from_pkcs8_pem(&pem)
        .map_err(|error| anyhow!("{} is not an Ed25519 PKCS#8 PEM private key: {error}", path.display()))
}

fn create_key(path: &Path) -> anyhow::Result<SigningKey> {
    if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("creating {}", dir.display()))?;
    }
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|error| anyhow!("reading random bytes for the audit key: {error}"))?;
    let key = SigningKey::from_bytes(&seed);
    seed.fill(0);
    // PKCS#8 v1 (the seed alone): OpenSSL 3.0 refuses the v2 form that also holds the public key.
    let pem = KeypairBytes { secret_key: key.to_bytes(), public_key: None }
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|error| anyhow!("encoding the audit key: {error}"))?;
    let name = path.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default();
    let temporary = path.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
    let _ = fs::remove_file(&temporary);
    let written = (|| {
        let mut file = fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&temporary)?;
        file.write_all(pem.as_bytes())?;
        file.sync_all()?;
        // Linking fails if the key appeared meanwhile: a key is never replaced.
        fs::hard_link(&temporary, path)
    })();
    let _ = fs::remove_file(&temporary);
    match written {
        Ok(()) => {
            super::sync_dir(path)?;
            tracing::info!(
                "created the audit signing key {} (key id {})",
                path.display(),
                key_id(&key.verifying_key())
            );
            Ok(key)
        }
        Err(error) if error.kind() == io::ErrorKind::AlreadyExists => load_key(path),
        Err(error) => Err(error).with_context(|| format!("writing the audit signing key {}", path.display())),
    }
}

/// The public key of the signing key at `key_path`, as SPKI PEM (`-----BEGIN PUBLIC KEY-----`),
/// for `egress audit pubkey`. The key must exist (the daemon creates it on its first start).
pub fn public_key_pem(key_path: &Path) -> anyhow::Result<String> {
    let key = load_key(key_path).with_context(|| format!("reading the audit signing key {}", key_path.display()))?;
    key.verifying_key().to_public_key_pem(LineEnding::LF).map_err(|error| anyhow!("encoding the public key: {error}"))
}

/// Reads a public key for verification: an SPKI PEM public key (what `egress audit pubkey`
/// prints), or the PKCS#8 PEM private key file itself.
pub fn load_public_key(path: &Path) -> anyhow::Result<VerifyingKey> {
    let text = fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    if text.contains("-----BEGIN PRIVATE KEY-----") {
        let key = SigningKey::from_pkcs8_pem(&text).map_err(|error| anyhow!("{}: {error}", path.display()))?;
        return Ok(key.verifying_key());
    }
    VerifyingKey::from_public_key_pem(&text)
        .map_err(|error| anyhow!("{} is not an Ed25519 PEM public key: {error}", path.display()))
}
