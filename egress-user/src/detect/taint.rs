//! Taint: content the agent read from a sensitive source, found again when it tries to send
//! it somewhere.
//!
//! Responses captured from `SSL_read` on a source the policy marks sensitive are remembered
//! in a [`TaintStore`], as two kinds of 64-bit keys, each with the source's name and an
//! expiry:
//! - winnowed fingerprints of the text, normalised as in [`super::fingerprint`], with a
//!   smaller [`TAINT_K`] = 16 and [`TAINT_W`] = 16 than documents: a shared run of 31
//!   letters and digits (about six words) is guaranteed a shared fingerprint, one position
//!   in eight or nine is kept, and the three shared fingerprints a match needs by default
//!   come with some 50 copied letters and digits (ten words, one customer record with its
//!   notes); a shorter record is caught by its values:
//! - exact values: every token of at least [`MIN_VALUE_CHARS`] letters and digits that holds a
//!   digit or an `@` (e-mail addresses, account, phone and order numbers, identifiers), hashed
//!   alone, so one such value is caught even where it is too short for a fingerprint. A token
//!   is a run of letters, digits and `@._-+%`, digit groups joined by single spaces included
//!   (`4412 0098 7731`); it is compared as its lowercased letters, digits and `@`.
//!
//! An outbound text is tainted by a source where it shares a cluster of at least
//! `min_shared` distinct fingerprints with it, shared k-grams no more than [`MAX_GAP`] bytes
//! apart (one match from the first to the last k-gram of the cluster: a copied passage; a
//! 16-letter phrase that two unrelated texts share now and then does not add up across a
//! long text), or one exact value (a match on that token, unless a fingerprint match of the
//! same source covers it).
//!
//! Memory is bounded by `max_entries` keys: keys are kept in insertion order, and the oldest
//! go first when a new response would exceed it. Expired keys never match and are dropped on
//! [`TaintStore::purge`] and before each [`TaintStore::remember`].
use std::collections::VecDeque;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use super::fingerprint::{Bloom, HashMapU64, Winnow, random_seed, splitmix64};
use super::{Category, Detector, Match, Segment, scan_each};

/// k of taint fingerprints, in normalised bytes (see the module docs).
pub const TAINT_K: usize = 16;
/// Winnowing window of taint fingerprints, in k-grams.
pub const TAINT_W: usize = 16;
/// Shortest exact value remembered, in letters and digits.
pub const MIN_VALUE_CHARS: usize = 8;

/// Most bytes between two shared k-grams of one copied passage (markup, escapes, re-spacing
/// in between); farther apart they are separate coincidences.
pub const MAX_GAP: usize = 2 * TAINT_K;
/// Smallest filter, in keys (1 KiB).
const MIN_FILTER_KEYS: usize = 1024;
/// Confidence of a single exact value.
const VALUE_CONFIDENCE: f32 = 0.8;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaintConfig {
    /// How long a response is remembered.
    pub ttl: Duration,
    /// Most keys (fingerprints and exact values) held; about 47 bytes each, allocated as
    /// they come.
    pub max_entries: usize,
    /// Distinct fingerprints a passage of an outbound text must share with one source.
    pub min_shared: usize,
}

impl Default for TaintConfig {
    fn default() -> Self {
        Self { ttl: Duration::from_secs(30 * 60), max_entries: 1 << 19, min_shared: 3 }
    }
}

#[derive(Clone, Copy, Debug)]
struct Slot {
    source: u32,
    exact: bool,
    /// Milliseconds since the store's epoch.
    expires: u64,
}

/// What the agent read from sensitive sources, as fingerprints and value hashes.
pub struct TaintStore {
    config: TaintConfig,
    winnow: Winnow,
    value_seed: u64,
    epoch: Instant,
    sources: Vec<String>,
    entries: HashMapU64<Slot>,
    /// `(key, expiry)` in insertion order (so also in expiry order): the eviction queue. An
    /// entry whose key was remembered again later is stale and evicts nothing.
    order: VecDeque<(u64, u64)>,
    /// Every key held, and those evicted since it was last rebuilt: a scan asks it first,
    /// since most of a text's keys are not held and it is a twentieth the size of the map.
    filter: Bloom,
    /// Keys the filter was sized for, and keys put in it since it was built.
    filter_keys: usize,
    filter_load: usize,
}

impl std::fmt::Debug for TaintStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaintStore")
            .field("config", &self.config)
            .field("sources", &self.sources)
            .field("entries", &self.entries.len())
            .finish_non_exhaustive()
    }
}

impl TaintStore {
    pub fn new(config: TaintConfig) -> Self {
        let mut seed = random_seed();
        let winnow = Winnow::new(TAINT_K, TAINT_W, splitmix64(&mut seed));
        let value_seed = splitmix64(&mut seed);
        Self {
            winnow,
            value_seed,
            epoch: Instant::now(),
            sources: Vec::new(),
            entries: HashMapU64::default(),
            order: VecDeque::new(),
            filter: Bloom::with_keys(MIN_FILTER_KEYS),
            filter_keys: MIN_FILTER_KEYS,
            filter_load: 0,
            config,
        }
    }

    pub fn config(&self) -> &TaintConfig {
        &self.config
    }

    /// Keys currently held (expired ones included until purged).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Remembers a response body read from `source` (the policy's name for it) at `now`.
    pub fn remember(&mut self, source: &str, text: &str, now: Instant) {
        self.purge(now);
        let source = match self.sources.iter().position(|s| s == source) {
            Some(i) => i as u32,
            None => {
                self.sources.push(source.to_owned());
                (self.sources.len() - 1) as u32
            }
        };
        let expires = self.millis(now).saturating_add(self.config.ttl.as_millis() as u64);
        let mut keys: Vec<(u64, bool)> = Vec::new();
        self.winnow.fingerprints(text, |fp| keys.push((fp.hash, false)));
        let mut normal = Vec::new();
        for_each_value(text, &mut normal, |value, _, _| keys.push((value_hash(self.value_seed, value), true)));
        keys.sort_unstable();
        keys.dedup_by_key(|k| k.0);
        for (key, exact) in keys {
            self.entries.insert(key, Slot { source, exact, expires });
            self.order.push_back((key, expires));
            self.filter.insert(key);
            self.filter_load += 1;
        }
        while self.order.len() > self.config.max_entries {
            self.evict_oldest();
        }
        if self.filter_load > self.filter_keys {
            self.rebuild_filter();
        }
    }

    /// Sizes the filter for twice the keys held (so it is rebuilt after as many inserts
    /// again, at most) and drops evicted keys from it.
    fn rebuild_filter(&mut self) {
        self.filter_keys = (2 * self.entries.len()).max(MIN_FILTER_KEYS);
        self.filter = Bloom::with_keys(self.filter_keys);
        for &key in self.entries.keys() {
            self.filter.insert(key);
        }
        self.filter_load = self.entries.len();
    }

    /// Drops what expired by `now`.
    pub fn purge(&mut self, now: Instant) {
        let now = self.millis(now);
        while self.order.front().is_some_and(|&(_, expires)| expires <= now) {
            self.evict_oldest();
        }
        if self.filter_load > 4 * self.entries.len() + MIN_FILTER_KEYS {
            self.rebuild_filter();
        }
    }

    fn evict_oldest(&mut self) {
        if let Some((key, expires)) = self.order.pop_front()
            && self.entries.get(&key).is_some_and(|slot| slot.expires == expires)
        {
            self.entries.remove(&key);
        }
    }

    fn millis(&self, now: Instant) -> u64 {
        now.saturating_duration_since(self.epoch).as_millis() as u64
    }

    /// Estimated heap bytes.
    pub fn memory_bytes(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.winnow.memory_bytes()
            + self.entries.capacity() * (std::mem::size_of::<(u64, Slot)>() + 1)
            + self.order.capacity() * std::mem::size_of::<(u64, u64)>()
            + self.filter.memory_bytes()
            + self.sources.iter().map(|s| s.capacity() + std::mem::size_of::<String>()).sum::<usize>()
    }

    /// The taint matches of an outbound text at `now`.
    pub fn scan_at(&self, text: &str, now: Instant, out: &mut Vec<Match>) {
        if self.entries.is_empty() {
            return;
        }
        let now = self.millis(now);
        let live = |key: u64, exact: bool| {
            if !self.filter.may_contain(key) {
                return None;
            }
            self.entries.get(&key).filter(|slot| slot.exact == exact && slot.expires > now).map(|slot| slot.source)
        };
        // (source, key, start, end)
        let mut shared: Vec<(u32, u64, usize, usize)> = Vec::new();
        self.winnow.fingerprints_where(
            text,
            |hash| self.filter.may_contain(hash),
            |fp| {
                if let Some(source) = live(fp.hash, false) {
                    shared.push((source, fp.hash, fp.start, fp.end));
                }
            },
        );
        let mut values: Vec<(u32, usize, usize)> = Vec::new();
        let mut normal = Vec::new();
        for_each_value(text, &mut normal, |value, start, end| {
            if let Some(source) = live(value_hash(self.value_seed, value), true) {
                values.push((source, start, end));
            }
        });
        let mut covered: Vec<(u32, usize, usize)> = Vec::new();
        shared.sort_unstable_by_key(|&(source, _, start, _)| (source, start));
        let min_shared = self.config.min_shared.max(1);
        let mut keys = Vec::new();
        for run in shared.chunk_by(|a, b| a.0 == b.0) {
            // A copied passage is a cluster: inside it the shared k-grams overlap or follow
            // each other closely (every window of w k-grams selects one).
            for cluster in run.chunk_by(|a, b| b.2 <= a.3 + MAX_GAP) {
                keys.clear();
                keys.extend(cluster.iter().map(|h| h.1));
                keys.sort_unstable();
                keys.dedup();
                if keys.len() < min_shared {
                    continue;
                }
                let (source, start) = (cluster[0].0, cluster[0].2);
                let end = cluster.iter().map(|h| h.3).max().unwrap_or(start);
                covered.push((source, start, end));
                out.push(self.finding(source, start, end, (0.5 + keys.len() as f32 / 20.0).min(1.0)));
            }
        }
        for (source, start, end) in values {
            if !covered.iter().any(|&(s, from, to)| s == source && from <= start && end <= to) {
                out.push(self.finding(source, start, end, VALUE_CONFIDENCE));
            }
        }
    }

    fn finding(&self, source: u32, start: usize, end: usize, confidence: f32) -> Match {
        Match {
            detector: "taint",
            category: Category::Taint,
            start,
            end,
            confidence,
            label: Some(self.sources[source as usize].clone()),
        }
    }
}

/// The taint detector of the engine: reads the store the capture side writes.
#[derive(Clone, Debug)]
pub struct TaintDetector {
    store: Arc<RwLock<TaintStore>>,
}

impl TaintDetector {
    pub fn new(store: Arc<RwLock<TaintStore>>) -> Self {
        Self { store }
    }

    pub fn store(&self) -> &Arc<RwLock<TaintStore>> {
        &self.store
    }

    pub fn memory_bytes(&self) -> usize {
        self.store.read().unwrap_or_else(PoisonError::into_inner).memory_bytes()
    }
}

impl Detector for TaintDetector {
    fn scan(&self, text: &str, out: &mut Vec<Match>) {
        let store = self.store.read().unwrap_or_else(PoisonError::into_inner);
        // Nothing remembered (the usual case without taint sources): not even a clock read.
        if !store.is_empty() {
            store.scan_at(text, Instant::now(), out);
        }
    }

    /// The segments of a payload under one read lock and one clock reading: a payload has
    /// hundreds of strings.
    fn scan_segments(&self, segments: &[Segment<'_>], out: &mut Vec<(usize, Match)>) {
        let store = self.store.read().unwrap_or_else(PoisonError::into_inner);
        if store.is_empty() {
            return;
        }
        let now = Instant::now();
        scan_each(segments, out, |text, matches| store.scan_at(text, now, matches));
    }
}

/// Bytes that make up value tokens: ASCII letters and digits, `@._-+%`, and every byte of
/// a non-ASCII character.
const TOKEN: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_alphanumeric() || matches!(c, b'@' | b'.' | b'_' | b'-' | b'+' | b'%') || c >= 0x80;
        b += 1;
    }
    table
};

/// Calls `f` with each value token that qualifies (see the module docs): its normal form
/// (lowercased letters, digits and `@`) and its byte span. Only tokens around a digit or an
/// `@` can qualify, so the text is searched for those eight bytes at a time, and only the
/// tokens around them are looked at.
fn for_each_value(text: &str, normal: &mut Vec<u8>, mut f: impl FnMut(&[u8], usize, usize)) {
    let bytes = text.as_bytes();
    let joins = |at: usize| {
        TOKEN[bytes[at] as usize]
            || (bytes[at] == b' '
                && at > 0
                && bytes[at - 1].is_ascii_digit()
                && bytes.get(at + 1).is_some_and(u8::is_ascii_digit))
    };
    let mut done = 0;
    while let Some(hit) = next_digit_or_at(bytes, done) {
        if !(bytes[hit].is_ascii_digit() || bytes[hit] == b'@') {
            done = hit + 1;
            continue;
        }
        let mut start = hit;
        while start > done && joins(start - 1) {
            start -= 1;
        }
        let mut end = hit + 1;
        while end < bytes.len() && joins(end) {
            end += 1;
        }
        done = end;
        if end - start < MIN_VALUE_CHARS {
            continue;
        }
        // Non-ASCII bytes are taken whole (never split inside a character); only letters and
        // digits among them count.
        let token = &text[start..end];
        normal.clear();
        let mut chars = 0;
        for c in token.chars() {
            if c.is_ascii_alphanumeric() || c == '@' {
                normal.push(c.to_ascii_lowercase() as u8);
                chars += usize::from(c != '@');
            } else if c.is_alphanumeric() {
                for lower in c.to_lowercase() {
                    let mut buf = [0; 4];
                    normal.extend_from_slice(lower.encode_utf8(&mut buf).as_bytes());
                }
                chars += 1;
            }
        }
        if chars >= MIN_VALUE_CHARS {
            // The span leaves out leading and trailing punctuation (`jane@x.org.` ends a sentence).
            let trimmed = token.trim_matches(|c: char| !c.is_alphanumeric());
            let lead = token.len() - token.trim_start_matches(|c: char| !c.is_alphanumeric()).len();
            f(normal, start + lead, start + lead + trimmed.len());
        }
    }
}

/// The first byte at or after `from` that may be a digit or `@`: bytes whose low seven bits
/// are 0x30 to 0x40, found eight at a time (a superset; the caller checks the byte).
fn next_digit_or_at(bytes: &[u8], from: usize) -> Option<usize> {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut i = from;
    while i + 8 <= bytes.len() {
        let mut word = [0u8; 8];
        word.copy_from_slice(&bytes[i..i + 8]);
        let y = u64::from_le_bytes(word) & LOW7;
        // High bit of each byte: at least 0x30, and not at least 0x41.
        let found = y.wrapping_add(0x5050_5050_5050_5050) & !y.wrapping_add(0x3f3f_3f3f_3f3f_3f3f) & HIGH;
        if found != 0 {
            return Some(i + (found.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    (i..bytes.len()).find(|&j| (0x30..=0x40).contains(&(bytes[j] & 0x7f)))
}

/// Seeded hash of a value's normal form (FNV-1a steps, MurmurHash3 finish).
fn value_hash(seed: u64, bytes: &[u8]) -> u64 {
    let mut h = seed ^ 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

#[cfg(test)]
mod tests {
    use super::*;

    const RESPONSE: &str = r#"{"customers":[{"name":"Jane Doe","email":"jane.doe@example.com","account":"4412-0098-7731","notes":"Prefers contact by phone after 6pm; renewal of the premium plan is due in March."}]}"#;

    fn store(config: TaintConfig) -> (TaintStore, Instant) {
        let store = TaintStore::new(config);
        let now = Instant::now();
        (store, now)
    }

    fn scan(store: &TaintStore, text: &str, now: Instant) -> Vec<(String, String)> {
        let mut out = Vec::new();
        store.scan_at(text, now, &mut out);
        for m in &out {
            assert_eq!(m.detector, "taint");
            assert_eq!(m.category, Category::Taint);
        }
        out.into_iter().map(|m| (text[m.start..m.end].to_owned(), m.label.unwrap_or_default())).collect()
    }

    #[test]
    fn remembered_response_is_found_in_a_later_payload_with_its_source() {
        let (mut store, now) = store(TaintConfig::default());
        store.remember("crm.internal/api/customers", RESPONSE, now);
        store.remember("wiki.internal/page", "Unrelated page about the cafeteria menu for next week.", now);
        let payload = "Summary for the team: JANE DOE, jane.doe@example.com - prefers contact by phone after \
                       6 pm. Renewal of the premium plan is due in March!";
        let found = scan(&store, payload, now + Duration::from_secs(60));
        assert!(!found.is_empty());
        assert!(found.iter().all(|(_, source)| source == "crm.internal/api/customers"), "{found:?}");
        // One match covers the copied notes (the e-mail may be a second, exact-value match):
        // at least from the last k-gram of the shared run's first window ("y phone ...", as
        // the seed falls) to the first k-gram of its last window.
        assert!(
            found.iter().any(|(span, _)| span.contains("phone after") && span.contains("Renewal of the prem")),
            "{found:?}"
        );
        assert!(scan(&store, "What is the capital of France? Paris, of course.", now).is_empty());
    }

    #[test]
    fn scattered_coincidences_do_not_add_up() {
        let (mut store, now) = store(TaintConfig::default());
        let response = "The quarterly board memo says: revenue grew in every northern region while \
                        the southern launch slipped; legal review of the term sheet continues.";
        store.remember("memo", response, now);
        // Snippets of 17 letters (two k-grams each) far apart: never three shared fingerprints
        // in one cluster, whatever the hash table.
        let filler = "lorem ipsum dolor sit amet consectetur adipiscing elit ".repeat(2);
        let outbound = format!("x memo says revenue gr {filler} southern launch sli {filler} the term sheet co y");
        assert!(scan(&store, &outbound, now).is_empty());
        // The same sentence copied whole is a cluster.
        let copied = format!("fyi: {} end", &response[..90]);
        assert_eq!(scan(&store, &copied, now).len(), 1);
    }

    #[test]
    fn exact_values_are_found_alone() {
        let (mut store, now) = store(TaintConfig::default());
        store.remember("crm", RESPONSE, now);
        assert_eq!(
            scan(&store, r#"{"to":"Jane.Doe@Example.com."}"#, now),
            [("Jane.Doe@Example.com".to_owned(), "crm".to_owned())]
        );
        assert_eq!(
            scan(&store, "wire to 4412 0098 7731 today", now),
            [("4412 0098 7731".to_owned(), "crm".to_owned())]
        );
        // Plain words and short numbers are not values.
        assert!(scan(&store, "customers name email account notes 6pm 4412", now).is_empty());
        assert!(scan(&store, "jane.doe@example.org", now).is_empty());
    }

    #[test]
    fn taint_expires_after_the_ttl() {
        let config = TaintConfig { ttl: Duration::from_secs(600), ..TaintConfig::default() };
        let (mut store, now) = store(config);
        store.remember("crm", RESPONSE, now);
        let held = store.len();
        assert!(held > 5, "{held}");
        assert_eq!(scan(&store, "jane.doe@example.com", now + Duration::from_secs(599)).len(), 1);
        assert!(scan(&store, "jane.doe@example.com", now + Duration::from_secs(601)).is_empty());
        store.purge(now + Duration::from_secs(599));
        assert_eq!(store.len(), held);
        store.purge(now + Duration::from_secs(601));
        assert_eq!(store.len(), 0);
        // Remembering again refreshes.
        store.remember("crm", RESPONSE, now + Duration::from_secs(700));
        assert_eq!(scan(&store, "jane.doe@example.com", now + Duration::from_secs(1200)).len(), 1);
    }

    #[test]
    fn capacity_bound_evicts_the_oldest() {
        let config = TaintConfig { max_entries: 100, ..TaintConfig::default() };
        let (mut store, now) = store(config);
        let old = "Old source account numbers: 11112222333, 44445555666, and memo: budget overrun in the \
                   northern region is confidential.";
        store.remember("old", old, now);
        assert!(!scan(&store, old, now).is_empty());
        let new: String =
            (0..40).map(|i| format!("order {:08} shipped to warehouse {i}; ", 90_000_000 + i * 7919)).collect();
        store.remember("new", &new, now + Duration::from_secs(1));
        assert!(store.len() <= 100);
        assert!(store.memory_bytes() > 100 * 24);
        assert!(scan(&store, old, now).is_empty(), "old source evicted");
        let found = scan(&store, &new, now + Duration::from_secs(2));
        assert!(found.iter().any(|f| f.1 == "new"), "{found:?}");
    }

    #[test]
    fn filter_rebuilds_keep_every_held_key() {
        let (mut store, now) = store(TaintConfig { max_entries: 5000, ..TaintConfig::default() });
        let values: Vec<String> = (0..4000).map(|i| format!("acct-{:010}", i * 7919)).collect();
        for (i, chunk) in values.chunks(100).enumerate() {
            store.remember(&format!("s{}", i % 3), &chunk.join(" / "), now);
        }
        assert!(store.filter_keys > MIN_FILTER_KEYS, "rebuilt and grown");
        // About 265 keys a response, 5000 held: the last 15 responses are whole, the first 15 gone.
        assert!(values[..1500].iter().all(|v| scan(&store, v, now).is_empty()), "the oldest are evicted");
        assert!(values[2500..].iter().all(|v| scan(&store, v, now).len() == 1), "the newest are found");
    }

    #[test]
    fn detector_reads_the_shared_store() {
        let store = Arc::new(RwLock::new(TaintStore::new(TaintConfig::default())));
        let detector = TaintDetector::new(Arc::clone(&store));
        let mut out = Vec::new();
        detector.scan("ticket 2024-00981234", &mut out);
        assert!(out.is_empty());
        store.write().expect("lock").remember("tickets", "[{\"id\":\"2024-00981234\"}]", Instant::now());
        detector.scan("ticket 2024-00981234", &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].label.as_deref(), Some("tickets"));
        assert!(detector.memory_bytes() > 0);
    }

    #[test]
    fn segments_are_scanned_as_each_alone() {
        let store = Arc::new(RwLock::new(TaintStore::new(TaintConfig::default())));
        let detector = TaintDetector::new(Arc::clone(&store));
        let texts =
            ["ticket 2024-00981234", "nothing here", RESPONSE, "", "mail jane.doe@example.com and 2024-00981234"];
        let segments: Vec<Segment<'_>> = texts
            .iter()
            .map(|text| Segment {
                text: (*text).into(),
                json_path: None,
                map: crate::detect::SpanMap::Offset(0),
                depth: 0,
            })
            .collect();
        let each_alone = |detector: &TaintDetector| {
            let mut expected = Vec::new();
            for (index, text) in texts.iter().enumerate() {
                let mut matches = Vec::new();
                detector.scan(text, &mut matches);
                expected.extend(matches.into_iter().map(|found| (index, found)));
            }
            expected
        };
        let mut out = Vec::new();
        detector.scan_segments(&segments, &mut out);
        assert!(out.is_empty());
        store.write().expect("lock").remember("tickets", "[{\"id\":\"2024-00981234\"}]", Instant::now());
        store.write().expect("lock").remember("crm", RESPONSE, Instant::now());
        detector.scan_segments(&segments, &mut out);
        let expected = each_alone(&detector);
        assert!(expected.len() >= 4, "{expected:?}");
        assert_eq!(out, expected);
    }

    #[test]
    fn digit_or_at_search_finds_the_first() {
        let text = b"no digits here, none at all!! but 7 and later @ too";
        assert_eq!(next_digit_or_at(text, 0), Some(34));
        assert_eq!(next_digit_or_at(text, 35), Some(46));
        assert_eq!(next_digit_or_at(text, 47), None);
        assert_eq!(next_digit_or_at(b"abc", 0), None);
        for (i, b) in (0u8..=255).enumerate() {
            let mut bytes = vec![b'x'; 20];
            bytes[i % 20] = b;
            let found = next_digit_or_at(&bytes, 0);
            if b.is_ascii_digit() || b == b'@' {
                assert_eq!(found, Some(i % 20), "{b:#x}");
            }
        }
    }

    #[test]
    fn value_tokens() {
        let mut normal = Vec::new();
        let mut found = Vec::new();
        let text = "Mail (Jane.Doe@Example.com), call +1 555 010 2030, order AB-1234-5678; word verylongword 1234";
        for_each_value(text, &mut normal, |value, start, end| {
            found.push((String::from_utf8_lossy(value).into_owned(), text[start..end].to_owned()))
        });
        let expected = [
            ("janedoe@examplecom", "Jane.Doe@Example.com"),
            ("15550102030", "1 555 010 2030"),
            ("ab12345678", "AB-1234-5678"),
        ];
        assert_eq!(found, expected.map(|(a, b)| (a.to_owned(), b.to_owned())));
    }
}
