//! Sensitive content detection: the engine the policy acts on.
//!
//! A payload is first decoded into [`Segment`]s (JSON string values after unescaping, URL
//! query and form values, base64 / hex / percent-encoded blobs decoded recursively), each
//! carrying a map back to the bytes of the original payload. Every [`Detector`] scans every
//! segment; its [`Match`]es are mapped back to byte spans of the original payload, so a
//! finding can be redacted in place. A finding never carries the sensitive value itself,
//! only a salted hash of it.
mod ascii;
pub mod decode;
pub mod dictionary;
pub mod edm;
pub mod eval;
pub mod fingerprint;
mod json_path;
pub mod pii;
pub mod secrets;
pub mod taint;

use std::{
    borrow::Cow,
    hash::Hasher as _,
    io::Read as _,
    ops::Range,
    path::PathBuf,
    sync::{Arc, RwLock},
    time::{Duration, Instant},
};

use anyhow::Context as _;
use serde::Serialize;
use siphasher::sip::SipHasher24;

pub use self::json_path::JsonPath;

/// What kind of sensitive content a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Category {
    Pii,
    Secret,
    Document,
    Dictionary,
    Edm,
    Taint,
}

impl Category {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pii => "pii",
            Self::Secret => "secret",
            Self::Document => "document",
            Self::Dictionary => "dictionary",
            Self::Edm => "edm",
            Self::Taint => "taint",
        }
    }
}

/// A match inside one segment's text (byte offsets into `Segment::text`).
#[derive(Clone, Debug, PartialEq)]
pub struct Match {
    /// Stable detector name, e.g. `credit_card`, `aws_access_key_id`, `document`.
    pub detector: &'static str,
    pub category: Category,
    pub start: usize,
    pub end: usize,
    /// 0.0 to 1.0.
    pub confidence: f32,
    /// What was matched, when that is not sensitive: a registered document's name, a taint
    /// source, a dictionary's name. Never the matched value.
    pub label: Option<String>,
}

/// One detector. Implementations are built once at start-up (compiled patterns, loaded
/// fingerprints) and shared by every scan.
pub trait Detector: Send + Sync {
    /// Appends the matches found in one piece of decoded text.
    fn scan(&self, text: &str, out: &mut Vec<Match>);

    /// Appends the matches found in the segments of one payload, each with the index of its
    /// segment. A detector whose evidence adds up across a payload's strings (a document
    /// copied into several messages) overrides this; the others scan each segment alone.
    fn scan_segments(&self, segments: &[Segment<'_>], out: &mut Vec<(usize, Match)>) {
        scan_each(segments, out, |text, matches| self.scan(text, matches));
    }
}

/// Runs `scan` on each segment alone and appends its matches with the segment's index.
pub(crate) fn scan_each(
    segments: &[Segment<'_>],
    out: &mut Vec<(usize, Match)>,
    mut scan: impl FnMut(&str, &mut Vec<Match>),
) {
    let mut matches = Vec::new();
    for (index, segment) in segments.iter().enumerate() {
        scan(&segment.text, &mut matches);
        // Most segments have no match: no drain to set up for them.
        if !matches.is_empty() {
            out.extend(matches.drain(..).map(|found| (index, found)));
        }
    }
}

/// Where a segment's bytes came from in the original payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SpanMap {
    /// Byte `i` of the text is byte `offset + i` of the payload.
    Offset(usize),
    /// Byte `i` of the text came from payload bytes `starts[i]..starts[i + 1]` (JSON escapes,
    /// percent-encoding): `starts` has one more entry than the text has bytes.
    Bytes(Vec<usize>),
    /// The text was decoded from an encoded blob (base64, hex): any match inside it maps to
    /// the whole blob, which is what redaction has to mask.
    Whole(Range<usize>),
}

impl SpanMap {
    /// The payload byte range of the text bytes `start..end`.
    pub fn to_payload(&self, start: usize, end: usize) -> Range<usize> {
        match self {
            Self::Offset(offset) => offset + start..offset + end,
            Self::Bytes(starts) => {
                let last = starts.len().saturating_sub(1);
                let first = starts.get(start.min(last)).copied().unwrap_or(0);
                let past = starts.get(end.min(last)).copied().unwrap_or(first);
                first..past
            }
            Self::Whole(range) => range.clone(),
        }
    }
}

/// A piece of decoded text to scan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Segment<'p> {
    /// Borrowed from the payload when it is there verbatim (most JSON strings).
    pub text: Cow<'p, str>,
    /// JSON path of the string value it came from (`$.messages[3].content`), if any; held in
    /// the arena of the decoding, so that the hundreds of segments of a payload are not one
    /// allocation each.
    pub json_path: Option<&'p str>,
    pub map: SpanMap,
    /// 0 for text read directly from the payload; +1 per layer of decoding.
    pub depth: u8,
}

/// A finding in a payload, as the policy, the audit log and `egress scan` see it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Finding {
    pub detector: &'static str,
    pub category: Category,
    /// Byte offsets into the original payload.
    pub start: usize,
    pub end: usize,
    pub json_path: Option<JsonPath>,
    pub confidence: f32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Keyed hash of the matched text: lets two findings of the same value be linked without
    /// keeping the value.
    pub value_hash: ValueHash,
}

/// SipHash-2-4 of a matched text keyed with the engine's random 128-bit salt, written as 16
/// hex digits. SipHash is a keyed pseudo-random function made for short inputs: without
/// the salt the hashes give nothing away, and it is cheaper than a salted SHA-256 (a payload
/// can have thousands of findings). Kept as a number, not a string, for the same reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ValueHash(u64);

impl std::fmt::Display for ValueHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

impl Serialize for ValueHash {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// What the engine loads besides its built-in PII and secret detectors.
#[derive(Clone, Debug)]
pub struct DetectionConfig {
    /// Registered confidential documents (every readable text file below it).
    pub documents_dir: Option<PathBuf>,
    /// Share of a document's fingerprints a payload must carry to be reported, in (0, 1].
    pub document_min_share: f32,
    /// Terminology files, one term per line.
    pub dictionaries: Vec<PathBuf>,
    pub edm: Vec<EdmSource>,
    pub taint_ttl: Duration,
    pub taint_max_fingerprints: usize,
    pub max_decode_depth: u8,
}

impl Default for DetectionConfig {
    fn default() -> Self {
        Self {
            documents_dir: None,
            document_min_share: 0.3,
            dictionaries: Vec::new(),
            edm: Vec::new(),
            taint_ttl: taint::TaintConfig::default().ttl,
            taint_max_fingerprints: taint::TaintConfig::default().max_entries,
            max_decode_depth: 3,
        }
    }
}

/// One exact-data-match table: a CSV with a header row.
#[derive(Clone, Debug)]
pub struct EdmSource {
    pub file: PathBuf,
    pub primary: Vec<String>,
    pub corroborating: Vec<String>,
}

impl From<&crate::policy::DetectionSettings> for DetectionConfig {
    fn from(settings: &crate::policy::DetectionSettings) -> Self {
        Self {
            documents_dir: settings.documents.as_ref().map(|documents| documents.dir.clone()),
            document_min_share: settings.documents.as_ref().map_or(0.3, |documents| documents.min_share as f32),
            dictionaries: settings.dictionaries.clone(),
            edm: settings
                .edm
                .iter()
                .map(|edm| EdmSource {
                    file: edm.file.clone(),
                    primary: edm.primary.clone(),
                    corroborating: edm.corroborating.clone(),
                })
                .collect(),
            taint_ttl: Duration::from_secs(settings.taint.ttl_seconds),
            taint_max_fingerprints: settings.taint.max_fingerprints,
            max_decode_depth: settings.max_decode_depth,
        }
    }
}

/// The remembered responses of taint sources, shared with the taint detector.
#[derive(Clone)]
pub struct TaintHandle(Arc<RwLock<taint::TaintStore>>);

impl TaintHandle {
    /// Remembers what the agent read from a sensitive source.
    pub fn remember(&self, source: &str, text: &str) {
        let mut store = self.0.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        store.remember(source, text, Instant::now());
    }

    /// Forgets what has expired.
    pub fn purge(&self) {
        self.0.write().unwrap_or_else(std::sync::PoisonError::into_inner).purge(Instant::now());
    }

    pub fn memory_bytes(&self) -> usize {
        self.0.read().unwrap_or_else(std::sync::PoisonError::into_inner).memory_bytes()
    }
}

/// The detectors, built once.
pub struct Engine {
    detectors: Vec<Box<dyn Detector>>,
    salt: [u8; 16],
    max_decode_depth: u8,
    taint: TaintHandle,
    memory: Vec<(&'static str, usize)>,
}

impl Engine {
    /// The built-in PII and secret detectors only.
    pub fn builtin() -> Self {
        Self::from_config(&DetectionConfig::default()).expect("the built-in detectors need no files")
    }

    /// Built-in detectors plus the documents, dictionaries, EDM tables and taint store the
    /// configuration names. Files are read and compiled here, once.
    pub fn from_config(config: &DetectionConfig) -> anyhow::Result<Self> {
        let salt = random_salt()?;
        let mut detectors: Vec<Box<dyn Detector>> = pii::detectors();
        detectors.extend(secrets::detectors());
        let mut memory = Vec::new();
        if let Some(dir) = &config.documents_dir {
            let index = fingerprint::DocumentIndex::from_dir(dir, config.document_min_share)
                .with_context(|| format!("fingerprinting the documents in {}", dir.display()))?;
            memory.push(("documents", index.memory_bytes()));
            detectors.push(Box::new(index));
        }
        if !config.dictionaries.is_empty() {
            let dictionary =
                dictionary::Dictionary::from_files(&config.dictionaries).context("loading dictionaries")?;
            memory.push(("dictionaries", dictionary.memory_bytes()));
            detectors.push(Box::new(dictionary));
        }
        for source in &config.edm {
            let primary: Vec<&str> = source.primary.iter().map(String::as_str).collect();
            let corroborating: Vec<&str> = source.corroborating.iter().map(String::as_str).collect();
            let edm = edm::ExactDataMatch::from_csv(&source.file, &primary, &corroborating, &salt)
                .with_context(|| format!("loading exact data match table {}", source.file.display()))?;
            memory.push(("edm", edm.memory_bytes()));
            detectors.push(Box::new(edm));
        }
        let store = Arc::new(RwLock::new(taint::TaintStore::new(taint::TaintConfig {
            ttl: config.taint_ttl,
            max_entries: config.taint_max_fingerprints,
            ..taint::TaintConfig::default()
        })));
        detectors.push(Box::new(taint::TaintDetector::new(Arc::clone(&store))));
        Ok(Self { detectors, salt, max_decode_depth: config.max_decode_depth, taint: TaintHandle(store), memory })
    }

    /// An engine with exactly these detectors (tests, tools with a custom set); its taint
    /// store is not consulted unless a detector on it is among them.
    pub fn new(detectors: Vec<Box<dyn Detector>>, salt: [u8; 16], max_decode_depth: u8) -> Self {
        let store = Arc::new(RwLock::new(taint::TaintStore::new(taint::TaintConfig::default())));
        Self { detectors, salt, max_decode_depth, taint: TaintHandle(store), memory: Vec::new() }
    }

    /// Where the taint sources' responses are remembered.
    pub fn taint(&self) -> &TaintHandle {
        &self.taint
    }

    /// Estimated memory of the loaded documents, dictionaries, EDM tables and taint store.
    pub fn memory_bytes(&self) -> Vec<(&'static str, usize)> {
        let mut memory = self.memory.clone();
        memory.push(("taint", self.taint.memory_bytes()));
        memory
    }

    /// All findings in a payload, sorted by position; the same detector matching the same
    /// payload bytes twice (say, raw and decoded) is reported once, at its best confidence.
    pub fn scan(&self, payload: &[u8]) -> Vec<Finding> {
        let paths = bumpalo::Bump::new();
        let segments = decode::segments(payload, self.max_decode_depth, &paths);
        // Detector by detector rather than segment by segment: each detector's tables and
        // code stay in the caches for the whole payload.
        let mut matches: Vec<(usize, Match)> = Vec::new();
        for detector in &self.detectors {
            detector.scan_segments(&segments, &mut matches);
        }
        // Each match with its payload span, in finding order; stable, so that matches of one
        // detector and span stay in the order they were found.
        let mut spans: Vec<(Range<usize>, usize)> = matches
            .iter()
            .enumerate()
            .map(|(at, (index, found))| (segments[*index].map.to_payload(found.start, found.end), at))
            .collect();
        spans.sort_by(|(a, a_at), (b, b_at)| {
            (a.start, a.end, matches[*a_at].1.detector).cmp(&(b.start, b.end, matches[*b_at].1.detector))
        });
        // One finding per detector and span (a value seen in two segments, say a blob and
        // its decoded text): the first of the most confident matches. Sorting and merging
        // neighbours keeps this linear after the sort, with no hash map whose keys (offsets)
        // the payload's writer chooses; the value hash, path and label, which allocate, are
        // only made for the matches that become findings.
        let mut findings: Vec<Finding> = Vec::new();
        let mut group = 0;
        while group < spans.len() {
            let (span, first) = &spans[group];
            let detector = matches[*first].1.detector;
            let mut end = group + 1;
            while end < spans.len() && spans[end].0 == *span && matches[spans[end].1].1.detector == detector {
                end += 1;
            }
            let best = spans[group..end]
                .iter()
                .map(|&(_, at)| at)
                .reduce(|best, at| if matches[at].1.confidence > matches[best].1.confidence { at } else { best })
                .unwrap_or(*first);
            let (index, found) = &mut matches[best];
            let segment = &segments[*index];
            let value = segment.text.get(found.start..found.end).unwrap_or_default();
            findings.push(Finding {
                detector: found.detector,
                category: found.category,
                start: span.start,
                end: span.end,
                json_path: segment.json_path.map(JsonPath::new),
                confidence: found.confidence,
                label: found.label.take(),
                value_hash: self.value_hash(value),
            });
            group = end;
        }
        findings
    }

    fn value_hash(&self, value: &str) -> ValueHash {
        let mut hasher = SipHasher24::new_with_key(&self.salt);
        hasher.write(value.as_bytes());
        ValueHash(hasher.finish())
    }
}

/// A fresh salt for value hashes and EDM tables: hashes are comparable within one daemon's
/// life, never across hosts or restarts (so they cannot be looked up in a table).
fn random_salt() -> anyhow::Result<[u8; 16]> {
    let mut salt = [0u8; 16];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut random| random.read_exact(&mut salt))
        .context("reading /dev/urandom for a salt")?;
    Ok(salt)
}

/// Whether `name` is a detector of `category` that this build knows: the policy refuses
/// unknown detector names in `on_findings` (a typo there would silently never match).
pub fn is_known_detector(category: Category, name: &str) -> bool {
    known_detectors(category).contains(&name)
}

/// The detector names of a category, for validation and error messages.
pub fn known_detectors(category: Category) -> Vec<&'static str> {
    match category {
        Category::Pii => pii::NAMES.to_vec(),
        Category::Secret => secrets::SecretScanner::format_names(),
        Category::Document => vec!["document"],
        Category::Dictionary => vec!["dictionary"],
        Category::Edm => vec!["edm"],
        Category::Taint => vec!["taint"],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Word(&'static str);

    impl Detector for Word {
        fn scan(&self, text: &str, out: &mut Vec<Match>) {
            for (start, _) in text.match_indices(self.0) {
                out.push(Match {
                    detector: "word",
                    category: Category::Dictionary,
                    start,
                    end: start + self.0.len(),
                    confidence: 0.5,
                    label: None,
                });
            }
        }
    }

    #[test]
    fn span_maps_lead_back_to_payload_bytes() {
        assert_eq!(SpanMap::Offset(10).to_payload(2, 5), 12..15);
        // "a\u0062c" decoded to "abc": b came from 6 payload bytes.
        let escaped = SpanMap::Bytes(vec![0, 1, 7, 8]);
        assert_eq!(escaped.to_payload(1, 2), 1..7);
        assert_eq!(escaped.to_payload(0, 3), 0..8);
        assert_eq!(SpanMap::Whole(4..40).to_payload(3, 9), 4..40);
    }

    #[test]
    fn findings_carry_payload_spans_and_no_value() {
        let engine = Engine::new(vec![Box::new(Word("secret"))], [7; 16], 2);
        let payload = br#"{"messages":[{"role":"user","content":"my secret"}]}"#;
        let findings = engine.scan(payload);
        let [finding] = findings.as_slice() else { panic!("one finding: {findings:?}") };
        assert_eq!(&payload[finding.start..finding.end], b"secret");
        assert_eq!(finding.json_path.as_deref(), Some("$.messages[0].content"));
        // SipHash-2-4 keyed with the salt, in hex; another salt gives another hash.
        let keyed = |salt: [u8; 16]| {
            let mut hasher = SipHasher24::new_with_key(&salt);
            hasher.write(b"secret");
            format!("{:016x}", hasher.finish())
        };
        let expected = keyed([7; 16]);
        assert_eq!(finding.value_hash.to_string(), expected);
        let other_salt = Engine::new(vec![Box::new(Word("secret"))], [8; 16], 2).scan(payload);
        assert_eq!(other_salt[0].value_hash.to_string(), keyed([8; 16]));
        assert_ne!(other_salt[0].value_hash, finding.value_hash);
        let json = serde_json::to_string(finding).expect("json");
        assert!(json.contains(&format!("\"value_hash\":\"{expected}\"")), "{json}");
        assert!(!json.contains("\"secret\""));
    }
}
