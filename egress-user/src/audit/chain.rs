//! The chained line format.
//!
//! A record line is the record's JSON with three more members:
//! `{"seq":N,"prev_hash":"<64 hex>",<the record's fields in struct order>,"hash":"<64 hex>"}`.
//!
//! - `seq` counts records from 1 and never resets, across restarts and rotated files alike.
//! - `prev_hash` is the `hash` of record `seq - 1`, or 64 zeros ([`GENESIS_HASH`]) for seq 1.
//! - `hash` is the lowercase hex SHA-256 of the canonical form: the line exactly as written,
//!   without its newline and with the trailing `,"hash":"..."` member removed, i.e. compact
//!   serde_json output of `{"seq":..,"prev_hash":..,<fields>}`. `hash` is always the last
//!   member, so a verifier hashes the bytes it reads and never re-serializes anything (no key
//!   order or float formatting can differ between writer and verifier).
//!
//! Checkpoint lines (see [`super::Checkpoint`]) have the single member `checkpoint` and are
//! not part of the hash chain: removing one loses a signature, not a record.
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use super::signing::Checkpoint;

/// `prev_hash` of the first record of a chain.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What a line encoded.
pub(crate) struct Encoded {
    pub line: Vec<u8>,
    pub hash: String,
}

/// The line (newline included) and hash of a record.
pub(crate) fn encode_record<T: Serialize>(seq: u64, prev_hash: &str, record: &T) -> anyhow::Result<Encoded> {
    let body = serde_json::to_vec(record)?;
    anyhow::ensure!(
        body.len() >= 2 && body[0] == b'{' && body[body.len() - 1] == b'}',
        "an audit record must serialize as a JSON object"
    );
    let mut line = Vec::with_capacity(body.len() + 180);
    line.extend_from_slice(format!("{{\"seq\":{seq},\"prev_hash\":\"{prev_hash}\"").as_bytes());
    if body.len() > 2 {
        line.push(b',');
        line.extend_from_slice(&body[1..body.len() - 1]);
    }
    line.push(b'}');
    let hash = hex::encode(Sha256::digest(&line));
    line.pop();
    line.extend_from_slice(format!(",\"hash\":\"{hash}\"}}\n").as_bytes());
    Ok(Encoded { line, hash })
}

/// One parsed line.
pub(crate) enum Entry {
    Record(RecordHead),
    Checkpoint(Checkpoint),
}

/// What the chain needs of a record line.
pub(crate) struct RecordHead {
    pub seq: u64,
    pub prev_hash: String,
    /// As written in the line.
    pub hash: String,
    /// As computed from the line's bytes.
    pub computed: String,
}

/// The members that tell the kind of a line; the rest of the record is parsed (so the line
/// must be valid JSON) but not kept.
#[derive(Deserialize)]
struct Probe {
    seq: Option<u64>,
    prev_hash: Option<String>,
    hash: Option<String>,
    checkpoint: Option<Checkpoint>,
}

pub(crate) fn is_hex_hash(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|byte| matches!(byte, b'0'..=b'9' | b'a'..=b'f'))
}

/// Parses one line (without its newline); the error says what is wrong with it.
pub(crate) fn parse_entry(line: &[u8]) -> Result<Entry, String> {
    let probe: Probe = serde_json::from_slice(line).map_err(|error| format!("not a JSON object: {error}"))?;
    match probe {
        Probe { checkpoint: Some(checkpoint), seq: None, prev_hash: None, hash: None } => {
            if !is_hex_hash(&checkpoint.hash) {
                return Err("checkpoint `hash` is not 64 lowercase hex digits".into());
            }
            if checkpoint.ts.chars().any(char::is_control) {
                return Err("checkpoint `ts` holds control characters".into());
            }
            Ok(Entry::Checkpoint(checkpoint))
        }
        Probe { checkpoint: None, seq: Some(seq), prev_hash: Some(prev_hash), hash: Some(hash) } => {
            if seq == 0 {
                return Err("`seq` is 0 (records count from 1)".into());
            }
            if !is_hex_hash(&prev_hash) || !is_hex_hash(&hash) {
                return Err("`prev_hash` or `hash` is not 64 lowercase hex digits".into());
            }
            let member = format!(",\"hash\":\"{hash}\"}}");
            let Some(canonical) = line.strip_suffix(member.as_bytes()) else {
                return Err("`hash` is not the last member of the record".into());
            };
            let mut hasher = Sha256::new();
            hasher.update(canonical);
            hasher.update(b"}");
            Ok(Entry::Record(RecordHead { seq, prev_hash, hash, computed: hex::encode(hasher.finalize()) }))
        }
        _ => Err("neither a record (`seq`, `prev_hash`, `hash`) nor a `checkpoint`".into()),
    }
}

/// `NAME.FIRST-LAST`: a rotated file that holds records FIRST to LAST (zero-padded to ten
/// digits so that names sort in chain order).
pub(crate) fn segment_name(live_name: &str, first: u64, last: u64) -> String {
    format!("{live_name}.{first:010}-{last:010}")
}

/// The record range of a rotated file of `live_name`, if `name` is one.
pub(crate) fn parse_segment_name(live_name: &str, name: &str) -> Option<(u64, u64)> {
    let range = name.strip_prefix(live_name)?.strip_prefix('.')?;
    let (first, last) = range.split_once('-')?;
    let digits = |text: &str| !text.is_empty() && text.bytes().all(|byte| byte.is_ascii_digit());
    if !digits(first) || !digits(last) {
        return None;
    }
    Some((first.parse().ok()?, last.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct Small {
        a: u32,
        f: f32,
        s: &'static str,
    }

    #[test]
    fn a_record_line_hashes_its_own_bytes_without_the_hash_member() {
        let encoded = encode_record(3, GENESIS_HASH, &Small { a: 1, f: 0.95, s: "x\"y" }).expect("encodes");
        let text = std::str::from_utf8(&encoded.line).expect("utf-8");
        assert!(text.starts_with(&format!("{{\"seq\":3,\"prev_hash\":\"{GENESIS_HASH}\",\"a\":1,\"f\":0.95,")));
        assert!(text.ends_with(&format!(",\"hash\":\"{}\"}}\n", encoded.hash)));
        let canonical = format!("{{\"seq\":3,\"prev_hash\":\"{GENESIS_HASH}\",\"a\":1,\"f\":0.95,\"s\":\"x\\\"y\"}}");
        assert_eq!(encoded.hash, hex::encode(Sha256::digest(canonical.as_bytes())));
        let Ok(Entry::Record(head)) = parse_entry(&encoded.line[..encoded.line.len() - 1]) else {
            panic!("parses as a record")
        };
        assert_eq!(
            (head.seq, head.hash.as_str(), head.computed.as_str()),
            (3, encoded.hash.as_str(), encoded.hash.as_str())
        );
        assert_eq!(head.prev_hash, GENESIS_HASH);
    }

    #[test]
    fn lines_that_are_neither_kind_are_refused() {
        assert!(parse_entry(b"{\"ts\":\"x\"}").is_err());
        assert!(parse_entry(b"{\"seq\":1,\"prev_hash\":\"00\",\"hash\":\"11\"}").is_err());
        assert!(parse_entry(b"{\"seq\":1,").is_err());
        let hash = "a".repeat(64);
        let reordered = format!("{{\"hash\":\"{hash}\",\"seq\":1,\"prev_hash\":\"{GENESIS_HASH}\"}}");
        assert!(parse_entry(reordered.as_bytes()).is_err_and(|why| why.contains("last member")));
    }

    #[test]
    fn segment_names_sort_in_chain_order_and_parse_back() {
        let name = segment_name("audit.jsonl", 58, 120);
        assert_eq!(name, "audit.jsonl.0000000058-0000000120");
        assert!(segment_name("audit.jsonl", 9, 57) < name);
        assert_eq!(parse_segment_name("audit.jsonl", &name), Some((58, 120)));
        assert_eq!(parse_segment_name("audit.jsonl", "audit.jsonl.unchained-17"), None);
        assert_eq!(parse_segment_name("audit.jsonl", "audit.jsonl"), None);
    }
}
