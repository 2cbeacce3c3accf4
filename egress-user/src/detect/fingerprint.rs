//! Document fingerprints: registered confidential documents, found whole or in part.
//!
//! **Normalisation.** Text is reduced to the stream of its alphanumeric characters, lowercased
//! (ASCII by table, other letters with `char::to_lowercase`, fed as their UTF-8 bytes).
//! Whitespace, punctuation and markup are dropped, so a copy that was re-wrapped, re-spaced,
//! re-cased, re-punctuated, marked up (Markdown) or de-hyphenated keeps its fingerprints.
//!
//! **Hashing.** Every k-gram of that byte stream is hashed with buzhash (cyclic polynomial
//! over a table of 256 64-bit words, each the xor of a random word for its byte's low nibble
//! and one for its high nibble, so that a vector register looks eight bytes up at once). The
//! words are seeded per process, so nobody can precompute hashes to collide with or to dodge
//! the index. Portably the hash rolls on at one rotate and two table loads per byte; with
//! AVX-512 eight k-grams are hashed at once from prefix xors (see `rolling`).
//!
//! **Winnowing** (Schleimer, Wilkerson, Aiken, SIGMOD 2003): of every window of `w`
//! consecutive k-gram hashes the minimum is kept (robust variant: a tie keeps the hash
//! already chosen, otherwise the rightmost minimum). Two guarantees follow: a run of at least
//! `w + k - 1` normalised bytes shared by two texts always yields a fingerprint both hold,
//! and a shared run shorter than `k` never does. On random text `2 / (w + 1)` of the k-grams
//! become fingerprints.
//!
//! **Documents** use [`DOCUMENT_K`] = 40 and [`DOCUMENT_W`] = 24: 40 letters and digits are
//! about eight English words, longer than the phrases unrelated texts share by chance; any
//! copied run of 63 of them (about twelve words, one sentence) is guaranteed to be seen;
//! about 8 % of positions are kept, some 330 fingerprints per 5 KiB document (5.9 KB of
//! index: 12 bytes an entry, 4 of directory, 2 of filter), enough for a share measured to a
//! few per cent.
use std::collections::HashMap;
use std::hash::{BuildHasher as _, BuildHasherDefault, Hasher};
use std::io;
use std::ops::Range;
use std::path::{Path, PathBuf};

use self::rolling::Buzhash;
use super::{Category, Detector, Match, Segment};

mod minima;
mod normalise;
mod rolling;

/// k of registered documents, in normalised bytes (see the module docs).
pub const DOCUMENT_K: usize = 40;
/// Winnowing window of registered documents, in k-grams (see the module docs).
pub const DOCUMENT_W: usize = 24;
/// A document is reported only when it shares at least this many distinct fingerprints with
/// the text (or all of them, for a document that has fewer), so one stock sentence shared
/// with a short document is not a copy of it.
pub const MIN_SHARED: usize = 3;
/// A fingerprint held by more registered documents than this is template text (a common
/// header, a licence, a disclaimer): it names no document and is left out of the index and of
/// every document's total.
pub const MAX_DOCUMENTS_PER_FINGERPRINT: usize = 32;
/// Files larger than this are not fingerprinted by [`DocumentIndex::from_dir`].
pub const MAX_FILE_BYTES: u64 = 64 << 20;

/// Upper bounds of `k` and `w`: the state carried from one block to the next is bounded.
const MAX_K: usize = 63;
const MAX_W: usize = 64;

/// Error loading registered data (documents, dictionaries, exact-data records).
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("{}: {message}", path.display())]
    Format { path: PathBuf, message: String },
    #[error("building the dictionary automaton: {0}")]
    Automaton(#[from] aho_corasick::BuildError),
}

impl LoadError {
    pub(super) fn io(path: &Path, source: io::Error) -> Self {
        Self::Io { path: path.to_path_buf(), source }
    }

    pub(super) fn format(path: &Path, message: impl Into<String>) -> Self {
        Self::Format { path: path.to_path_buf(), message: message.into() }
    }
}

/// splitmix64: expands a seed into well-mixed 64-bit words.
pub(super) fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A seed drawn from the standard library's per-process random keys.
pub(super) fn random_seed() -> u64 {
    std::hash::RandomState::new().hash_one(0x6567_7265_7373_u64)
}

/// One fingerprint of a text: the hash of a k-gram and the text bytes it covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fingerprint {
    pub hash: u64,
    /// Byte range of the k-gram in the text (from its first to past its last character).
    pub start: usize,
    pub end: usize,
}

/// Normalisation, rolling hash and winnowing with one `k`, `w` and hash table.
#[derive(Clone)]
pub struct Winnow {
    k: usize,
    w: usize,
    hash: Box<Buzhash>,
}

impl std::fmt::Debug for Winnow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Winnow").field("k", &self.k).field("w", &self.w).finish_non_exhaustive()
    }
}

impl Winnow {
    /// `k` in 1..=63 normalised bytes, `w` in 1..=64 k-grams; the seed picks the hash table.
    pub fn new(k: usize, w: usize, seed: u64) -> Self {
        assert!((1..=MAX_K).contains(&k) && (1..=MAX_W).contains(&w), "winnow k {k} / w {w} out of range");
        Self { k, w, hash: Box::new(Buzhash::new(k, seed)) }
    }

    pub fn k(&self) -> usize {
        self.k
    }

    pub fn w(&self) -> usize {
        self.w
    }

    /// Heap bytes: the hash's tables.
    pub fn memory_bytes(&self) -> usize {
        std::mem::size_of::<Buzhash>()
    }

    /// Calls `emit` with each fingerprint winnowing selects, in text order. A text with at
    /// least one k-gram but fewer than `w` yields the minimum of the k-grams it has.
    pub fn fingerprints(&self, text: &str, emit: impl FnMut(Fingerprint)) {
        self.roll(text, Selector::new(self.w), &|_| true, emit);
    }

    /// The hashes [`Winnow::fingerprints`] selects that `keep` accepts, with a span of each:
    /// the way to look a text up, where only the hashes matter. Faster than selecting exact
    /// positions (see [`minima`]); in exchange, a hash that is the minimum of two windows
    /// apart may be reported twice, and of equal hashes in one window the rightmost is the
    /// one reported.
    pub fn fingerprints_where(&self, text: &str, keep: impl Fn(u64) -> bool, emit: impl FnMut(Fingerprint)) {
        self.roll(text, Minima::new(self.w), &keep, emit);
    }

    /// Normalises, hashes and selects `text` a block at a time, in passes that each keep their
    /// state in registers: normalisation into a buffer without branching on each byte (a
    /// branch per word boundary would be mispredicted every few bytes), the hashes of the
    /// block's k-grams, selection, then `keep` over the block's selections (independent
    /// lookups, so the cache misses of a large index overlap). The last `k + w` normalised
    /// bytes are carried into the next block.
    fn roll(&self, text: &str, select: impl Select, keep: &impl Fn(u64) -> bool, emit: impl FnMut(Fingerprint)) {
        // Lowercasing at most doubles a text's bytes (the buffers below rely on it too): a
        // text this short has no k-gram. A chat's `"role": "user"` is one of many such.
        if 2 * text.len() < self.k {
            return;
        }
        // The thread's buffers, borrowed in place (moving them in and out would copy them);
        // a nested call (from `emit`) allocates its own.
        SCRATCH.with(|scratch| match scratch.try_borrow_mut() {
            Ok(mut scratch) => self.roll_with(&mut scratch, text, select, keep, emit),
            Err(_) => self.roll_with(&mut Scratch::new(), text, select, keep, emit),
        });
    }

    /// [`Winnow::roll`] with `scratch` for its buffers.
    fn roll_with(
        &self,
        scratch: &mut Scratch,
        text: &str,
        mut select: impl Select,
        keep: &impl Fn(u64) -> bool,
        mut emit: impl FnMut(Fingerprint),
    ) {
        // Sized for the text when it is short.
        let capacity = CAPACITY.min(2 * text.len() + CARRY + 16);
        scratch.grow_to(capacity);
        let Scratch { norm, pos, prefix, grams, picked, minima, spare } = scratch;
        // grams[..kept]: the last hashes of earlier blocks, the windows' history; then
        // grams[kept..filled] the block's.
        let (mut kept, mut filled) = (0, 0);
        let mut len = 0;
        // Global normalised index of norm[0], and of the next byte to roll.
        let mut base = 0;
        let mut rolled = 0;
        let k = self.k;
        let mut i = 0;
        while i < text.len() {
            if len > CARRY {
                let drop = len - CARRY;
                norm.copy_within(drop..len, 0);
                pos.copy_within(drop..len, 0);
                base += drop;
                len = CARRY;
            }
            let stop = text.len().min(i + BLOCK);
            (i, len) = normalise::block(text, i, stop, norm, pos, len, capacity);
            // The new k-grams are those that end at a byte not rolled before; the carry holds
            // the `k - 1` bytes before the first of them.
            let from = rolled.max(k - 1) + 1 - k - base;
            filled = kept + self.hash.hash_all(&norm[from..len], prefix, &mut grams[kept..]);
            rolled = base + len;
            // k-gram number of grams[0]; number `j` ends at normalised byte `j + k - 1`.
            let first = grams_in(rolled, k) - filled;
            let count = select.push_all(&grams[..filled], first, kept, keep, picked, minima, spare);
            for &at in &picked[..count] {
                emit(fingerprint(text, pos, i, base, k, grams[at as usize], first + at as usize + k - 1));
            }
            if i < text.len() {
                kept = filled.min(MAX_W);
                grams.copy_within(filled - kept..filled, 0);
            }
        }
        // A text with fewer k-grams than a window yields their (rightmost) minimum; all of them
        // are still in `grams`.
        let total = grams_in(rolled, k);
        if (1..self.w).contains(&total) {
            debug_assert_eq!(filled, total);
            let (at, &selected) =
                grams[..total].iter().enumerate().rev().min_by_key(|&(_, hash)| hash).expect("a k-gram");
            if keep(selected) {
                emit(fingerprint(text, pos, i, base, k, selected, at + k - 1));
            }
        }
    }

    /// The distinct fingerprint hashes of a text, sorted.
    pub fn hashes(&self, text: &str) -> Vec<u64> {
        let mut hashes = Vec::new();
        self.fingerprints(text, |fp| hashes.push(fp.hash));
        hashes.sort_unstable();
        hashes.dedup();
        hashes
    }
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = const { std::cell::RefCell::new(Scratch::new()) };
}

/// The buffers of [`Winnow::roll`], kept between calls on a thread: a payload has hundreds of
/// short segments, and allocating and zeroing them per segment cost about as much as hashing
/// them.
struct Scratch {
    /// Normalised bytes, and the text offset of each.
    norm: Vec<u8>,
    pos: Vec<u32>,
    /// Room for the prefixes of [`Buzhash::hash_all`].
    prefix: Vec<u64>,
    /// Hashes of the k-grams of the current block, after the last `w` of earlier ones.
    grams: Vec<u64>,
    /// Selections of the current block, as indices into `grams` (at most one per k-gram).
    picked: Vec<u32>,
    /// The hash of each selection, while [`Minima`] knows only its window.
    minima: Vec<u64>,
    /// Room for [`minima::changes`].
    spare: Vec<u64>,
}

impl Scratch {
    const fn new() -> Self {
        Self {
            norm: Vec::new(),
            pos: Vec::new(),
            prefix: Vec::new(),
            grams: Vec::new(),
            picked: Vec::new(),
            minima: Vec::new(),
            spare: Vec::new(),
        }
    }

    fn grow_to(&mut self, capacity: usize) {
        if self.norm.len() < capacity + normalise::SLACK {
            self.norm.resize(capacity + normalise::SLACK, 0);
            self.pos.resize(capacity + normalise::SLACK, 0);
            self.prefix.resize(capacity + 8, 0);
            self.grams.resize(MAX_W + capacity, 0);
            self.picked.resize(MAX_W + capacity + minima::SLACK, 0);
            self.minima.resize(MAX_W + capacity + minima::SLACK, 0);
            self.spare.resize(minima::spare_for(MAX_W + capacity), 0);
        }
    }
}

/// Source bytes normalised per block.
const BLOCK: usize = 1024;
/// Normalised bytes kept from one block for the next: a selected k-gram lies at most
/// `w - 1` k-grams back, and starts `k - 1` bytes before its end.
const CARRY: usize = MAX_K + MAX_W;
/// Normalised buffer: carry, a block, and the growth of lowercasing (`İ` is 2 bytes, its
/// lowercase 3).
const CAPACITY: usize = CARRY + 2 * BLOCK + 16;

/// The fingerprint of the k-gram ending at normalised byte `end` (global index).
///
/// `pos` holds text offsets truncated to 32 bits (half the stores of `usize`); they are
/// restored relative to `reached`, a text offset at or after them: exact unless a k-gram
/// and its window span 4 GiB of text without a letter or digit.
#[inline]
fn fingerprint(text: &str, pos: &[u32], reached: usize, base: usize, k: usize, hash: u64, end: usize) -> Fingerprint {
    let restore = |offset: u32| reached - (reached as u32).wrapping_sub(offset) as usize;
    let start = restore(pos[end + 1 - k - base]);
    let last = restore(pos[end - base]);
    let width = match text.as_bytes()[last] {
        0..0x80 => 1,
        0x80..0xe0 => 2,
        0xe0..0xf0 => 3,
        _ => 4,
    };
    Fingerprint { hash, start, end: last + width }
}

/// How many k-grams `normalised` bytes hold.
fn grams_in(normalised: usize, k: usize) -> usize {
    (normalised + 1).saturating_sub(k)
}

/// How the k-grams of a block are selected.
trait Select {
    /// Adds the next k-grams, `hashes[from..]`; `hashes[..from]` are the last ones added
    /// before (all of them, or at least `w`), and `hashes[0]` is k-gram number `first` of the
    /// text. Writes the indices in `hashes` of the newly selected k-grams that `keep` accepts
    /// to `picked` and returns how many; `picked`, `minima` and `spare` are room for
    /// intermediate results (`picked` and `minima` one entry per k-gram added and
    /// [`minima::SLACK`], `spare` [`minima::spare_for`] the hashes). The first window is
    /// reported once it is full.
    #[allow(clippy::too_many_arguments)]
    fn push_all(
        &mut self,
        hashes: &[u64],
        first: usize,
        from: usize,
        keep: &impl Fn(u64) -> bool,
        picked: &mut [u32],
        minima: &mut [u64],
        spare: &mut [u64],
    ) -> usize;
}

/// Keeps, in order, the first `count` entries of `picked` that `accept` takes; returns how
/// many. Without a branch on the answer, which is random.
fn retain_accepted(picked: &mut [u32], count: usize, accept: impl Fn(u32) -> bool) -> usize {
    let mut accepted = 0;
    for index in 0..count {
        let entry = picked[index];
        picked[accepted] = entry;
        accepted += usize::from(accept(entry));
    }
    accepted
}

/// Winnowing's selection: which k-gram is the window's minimum, exactly (robust winnowing).
struct Selector {
    w: usize,
    /// k-gram number and hash of the selected minimum.
    min: usize,
    min_hash: u64,
}

impl Selector {
    fn new(w: usize) -> Self {
        Self { w, min: 0, min_hash: 0 }
    }
}

impl Select for Selector {
    /// Once the first window is full, a new minimum is taken without a branch: one k-gram in
    /// `w` brings one, at random, and a branch on it would be mispredicted.
    fn push_all(
        &mut self,
        hashes: &[u64],
        first: usize,
        from: usize,
        keep: &impl Fn(u64) -> bool,
        picked: &mut [u32],
        _: &mut [u64],
        _: &mut [u64],
    ) -> usize {
        let to = hashes.len();
        let w = self.w;
        let mut count = 0;
        let mut at = from;
        // The first window: the rightmost minimum so far, reported once the window is full.
        while at < to && first + at < w {
            let (j, hash) = (first + at, hashes[at]);
            if j == 0 || hash <= self.min_hash {
                (self.min, self.min_hash) = (j, hash);
            }
            if j + 1 == w {
                picked[count] = (self.min - first) as u32;
                count += 1;
            }
            at += 1;
        }
        let (mut min, mut min_hash) = (self.min, self.min_hash);
        let start = at;
        for (offset, &hash) in hashes[start..to].iter().enumerate() {
            let at = start + offset;
            let j = first + at;
            if min + w <= j {
                // The selected minimum left the window: rightmost minimum of the new window.
                (min, min_hash) = (j, hash);
                let opens = at + 1 - w;
                for (i, &h) in hashes[opens..at].iter().enumerate().rev() {
                    if h < min_hash {
                        (min, min_hash) = (first + opens + i, h);
                    }
                }
                picked[count] = (min - first) as u32;
                count += 1;
            } else {
                // Below the minimum of the window before, so the minimum of this one.
                let lower = hash < min_hash;
                picked[count] = at as u32;
                count += usize::from(lower);
                min = std::hint::select_unpredictable(lower, j, min);
                min_hash = std::hint::select_unpredictable(lower, hash, min_hash);
            }
        }
        (self.min, self.min_hash) = (min, min_hash);
        retain_accepted(picked, count, |at| keep(hashes[at as usize]))
    }
}

/// Winnowing's selected hashes without their exact positions: the minimum of each window,
/// for a whole block at once ([`minima::changes`]); a window whose minimum differs from the
/// window before brings a selection. The position of a selection is looked for only
/// once `keep` has accepted its hash, which a lookup rarely does.
struct Minima {
    w: usize,
    /// Minimum of the last window.
    last: Option<u64>,
}

impl Minima {
    fn new(w: usize) -> Self {
        Self { w, last: None }
    }
}

impl Select for Minima {
    fn push_all(
        &mut self,
        hashes: &[u64],
        first: usize,
        from: usize,
        keep: &impl Fn(u64) -> bool,
        picked: &mut [u32],
        minima: &mut [u64],
        spare: &mut [u64],
    ) -> usize {
        let (w, to) = (self.w, hashes.len());
        // Windows end at every k-gram from the first full one on.
        let first_end = from.max((w - 1).saturating_sub(first));
        if first_end >= to {
            return 0;
        }
        // Three passes without a data-dependent branch (a selection comes every few k-grams,
        // at random): the windows whose minimum is new, those of them `keep` accepts (its
        // lookups independent of each other), then the positions of those few.
        let lowest = first_end + 1 - w;
        let (count, last) = minima::changes(&hashes[lowest..], w, self.last, picked, minima, spare);
        self.last = Some(last);
        let (picked, minima) = (&mut picked[..count], &mut minima[..count]);
        let mut accepted = 0;
        for index in 0..count {
            let (window, min) = (picked[index], minima[index]);
            (picked[accepted], minima[accepted]) = (window, min);
            accepted += usize::from(keep(min));
        }
        for (slot, &min) in picked[..accepted].iter_mut().zip(&minima[..accepted]) {
            // The window ending at `end`; of equal hashes in it, the rightmost.
            let end = first_end + *slot as usize;
            let at = (end + 1 - w..=end).rev().find(|&at| hashes[at] == min).expect("the window holds its minimum");
            *slot = at as u32;
        }
        accepted
    }
}

/// A hasher for keys that already are uniform 64-bit hashes.
#[derive(Clone, Copy, Default)]
pub struct IdentityHasher(u64);

impl Hasher for IdentityHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = value;
    }
}

/// `HashMap` keyed by precomputed 64-bit hashes.
pub type HashMapU64<V> = HashMap<u64, V, BuildHasherDefault<IdentityHasher>>;

/// A blocked Bloom filter over 64-bit hashes: two bits in one 64-bit word per key. At one
/// byte per key it gives 3 to 4 % false positives, at two bytes about 1.3 %, so most absent
/// keys cost one load from a table a tenth (or a fifth) the size of what it guards.
#[derive(Clone, Default)]
pub struct Bloom {
    words: Vec<u64>,
    mask: usize,
}

impl Bloom {
    /// Sized for `keys` keys at about one byte each.
    pub fn with_keys(keys: usize) -> Self {
        Self::with_bits_per_key(keys, 8)
    }

    /// Sized for `keys` keys at about `bits` bits each (rounded up to a power of two words).
    pub fn with_bits_per_key(keys: usize, bits: usize) -> Self {
        let words = (keys * bits / 64).max(1).next_power_of_two();
        Self { words: vec![0; words], mask: words - 1 }
    }

    #[inline]
    fn slot(&self, hash: u64) -> (usize, u64) {
        let word = (hash as usize) & self.mask;
        let bits = (1u64 << ((hash >> 24) & 63)) | (1u64 << ((hash >> 30) & 63));
        (word, bits)
    }

    pub fn insert(&mut self, hash: u64) {
        let (word, bits) = self.slot(hash);
        self.words[word] |= bits;
    }

    /// False: certainly absent; true: maybe present.
    #[inline]
    pub fn may_contain(&self, hash: u64) -> bool {
        let (word, bits) = self.slot(hash);
        self.words[word] & bits == bits
    }

    pub fn memory_bytes(&self) -> usize {
        self.words.capacity() * 8
    }
}

/// An immutable multimap from 64-bit hashes to `u32` values, built once: entries sorted by
/// hash in two flat arrays (12 bytes an entry), a directory on the top hash bits that points
/// at each bucket's first entry (about one bucket an entry, 4 bytes), and a [`Bloom`] filter
/// in front (`filter_bits` an entry), so that the usual lookup of an absent hash touches only
/// it.
#[derive(Clone, Default)]
pub struct HashIndex {
    shift: u32,
    filter: Bloom,
    directory: Vec<u32>,
    hashes: Vec<u64>,
    values: Vec<u32>,
}

impl std::fmt::Debug for HashIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HashIndex").field("entries", &self.hashes.len()).finish_non_exhaustive()
    }
}

impl HashIndex {
    /// Builds from `(hash, value)` pairs, with a filter of about `filter_bits` bits an entry;
    /// duplicates are dropped.
    pub fn new(mut pairs: Vec<(u64, u32)>, filter_bits: usize) -> Self {
        pairs.sort_unstable();
        pairs.dedup();
        let bits = pairs.len().max(2).next_power_of_two().trailing_zeros();
        let shift = 64 - bits;
        let buckets = 1usize << bits;
        let mut directory = Vec::with_capacity(buckets + 1);
        let mut i = 0;
        for bucket in 0..=buckets {
            while i < pairs.len() && ((pairs[i].0 >> shift) as usize) < bucket {
                i += 1;
            }
            directory.push(i as u32);
        }
        let mut filter = Bloom::with_bits_per_key(pairs.len(), filter_bits);
        for &(hash, _) in &pairs {
            filter.insert(hash);
        }
        let (hashes, values) = pairs.into_iter().unzip();
        Self { shift, filter, directory, hashes, values }
    }

    pub fn len(&self) -> usize {
        self.hashes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.hashes.is_empty()
    }

    /// False: certainly absent; true: maybe present (one load from the filter).
    #[inline]
    pub fn may_contain(&self, hash: u64) -> bool {
        !self.hashes.is_empty() && self.filter.may_contain(hash)
    }

    /// The entries holding `hash` (positions for [`HashIndex::value`]), sorted by value.
    #[inline]
    pub fn find(&self, hash: u64) -> Range<usize> {
        if !self.may_contain(hash) {
            return 0..0;
        }
        let bucket = (hash >> self.shift) as usize;
        let (mut lo, hi) = (self.directory[bucket] as usize, self.directory[bucket + 1] as usize);
        while lo < hi && self.hashes[lo] < hash {
            lo += 1;
        }
        let mut past = lo;
        while past < hi && self.hashes[past] == hash {
            past += 1;
        }
        lo..past
    }

    pub fn value(&self, entry: usize) -> u32 {
        self.values[entry]
    }

    pub fn memory_bytes(&self) -> usize {
        self.filter.memory_bytes()
            + self.directory.capacity() * 4
            + self.hashes.capacity() * 8
            + self.values.capacity() * 4
    }
}

/// One registered document.
#[derive(Clone, Debug)]
struct DocumentInfo {
    name: String,
    /// Distinct fingerprints in the index (template fingerprints left out).
    fingerprints: u32,
}

/// Registered confidential documents, fingerprinted once at start-up.
///
/// As a [`Detector`] it winnows the scanned text with the same `k`, `w` and table, counts the
/// distinct fingerprints it shares with each document and reports each document whose share
/// (shared / the document's fingerprints) reaches `min_share` (and at least [`MIN_SHARED`]
/// are shared): detector `document`, the document's name as label, the span from the first to
/// the end of the last shared k-gram, the share as confidence. A 25 % excerpt shares about
/// 25 % of the fingerprints; the whole document close to 100 %.
#[derive(Debug)]
pub struct DocumentIndex {
    winnow: Winnow,
    index: HashIndex,
    documents: Vec<DocumentInfo>,
    min_share: f32,
    skipped: Vec<String>,
}

impl DocumentIndex {
    /// Fingerprints `(name, text)` pairs. Documents too short to hold one k-gram (under
    /// [`DOCUMENT_K`] letters and digits) cannot be found and are listed in
    /// [`DocumentIndex::skipped`].
    pub fn from_documents<I, N, T>(documents: I, min_share: f32) -> Self
    where
        I: IntoIterator<Item = (N, T)>,
        N: Into<String>,
        T: AsRef<str>,
    {
        let winnow = Winnow::new(DOCUMENT_K, DOCUMENT_W, random_seed());
        let mut pairs = Vec::new();
        let mut infos = Vec::new();
        let mut skipped = Vec::new();
        for (name, text) in documents {
            let name = name.into();
            let hashes = winnow.hashes(text.as_ref());
            if hashes.is_empty() {
                skipped.push(name);
                continue;
            }
            let id = infos.len() as u32;
            pairs.extend(hashes.into_iter().map(|hash| (hash, id)));
            infos.push(DocumentInfo { name, fingerprints: 0 });
        }
        // Drop template fingerprints, then count what each document keeps.
        pairs.sort_unstable();
        let mut kept = Vec::with_capacity(pairs.len());
        for run in pairs.chunk_by(|a, b| a.0 == b.0) {
            if run.len() <= MAX_DOCUMENTS_PER_FINGERPRINT {
                kept.extend_from_slice(run);
            }
        }
        for &(_, id) in &kept {
            infos[id as usize].fingerprints += 1;
        }
        // Two bytes of filter an entry: a false positive costs two cache misses into the index,
        // and at one byte 4 % of a large payload's lookups were false positives (1.3 % now,
        // which took 6 % off the documents' time on a 4 MiB payload) for 0.5 MiB more.
        let index = HashIndex::new(kept, 16);
        Self { winnow, index, documents: infos, min_share, skipped }
    }

    /// Fingerprints every text file under `dir`, recursively, named by their path relative to
    /// `dir`. A file is taken as text unless its first 8 KiB hold a NUL byte (PDF, Office
    /// files and images are skipped: convert them to text first); invalid UTF-8 is replaced.
    /// HTML and XML have their tags stripped and common entities decoded. Hidden files and
    /// files over [`MAX_FILE_BYTES`] are skipped.
    pub fn from_dir(dir: &Path, min_share: f32) -> Result<Self, LoadError> {
        let mut files = Vec::new();
        collect_files(dir, &mut files)?;
        files.sort();
        let mut documents = Vec::new();
        let mut skipped = Vec::new();
        for path in files {
            let name = path.strip_prefix(dir).unwrap_or(&path).to_string_lossy().replace('\\', "/");
            let size = std::fs::metadata(&path).map_err(|e| LoadError::io(&path, e))?.len();
            if size > MAX_FILE_BYTES {
                skipped.push(name);
                continue;
            }
            let bytes = std::fs::read(&path).map_err(|e| LoadError::io(&path, e))?;
            if memchr::memchr(0, &bytes[..bytes.len().min(8192)]).is_some() {
                skipped.push(name);
                continue;
            }
            let mut text = String::from_utf8_lossy(&bytes).into_owned();
            let ext = path.extension().and_then(|e| e.to_str()).unwrap_or_default().to_ascii_lowercase();
            if matches!(ext.as_str(), "html" | "htm" | "xhtml" | "xml") {
                text = strip_markup(&text);
            }
            documents.push((name, text));
        }
        let mut index = Self::from_documents(documents, min_share);
        skipped.append(&mut index.skipped);
        index.skipped = skipped;
        Ok(index)
    }

    /// Number of fingerprinted documents.
    pub fn len(&self) -> usize {
        self.documents.len()
    }

    pub fn is_empty(&self) -> bool {
        self.documents.is_empty()
    }

    /// Files and documents that were not fingerprinted (binary, too large, too short).
    pub fn skipped(&self) -> &[String] {
        &self.skipped
    }

    /// Estimated heap bytes of the loaded index.
    pub fn memory_bytes(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.winnow.memory_bytes()
            + self.index.memory_bytes()
            + self.documents.capacity() * std::mem::size_of::<DocumentInfo>()
            + self.documents.iter().map(|d| d.name.capacity()).sum::<usize>()
            + self.skipped.iter().map(|s| s.capacity() + std::mem::size_of::<String>()).sum::<usize>()
    }
}

impl DocumentIndex {
    /// The documents that `texts` (numbered pieces of one payload) share enough fingerprints
    /// with, counted over all the pieces together: a document copied into several messages
    /// is as much a copy as one pasted whole. Calls `found` once per piece that holds some of
    /// a reported document, with the span of its share in that piece.
    fn find<'t>(&self, texts: impl IntoIterator<Item = (usize, &'t str)>, mut found: impl FnMut(usize, Match)) {
        if self.documents.is_empty() {
            return;
        }
        // (document, index entry, piece, start, end) of every fingerprint the texts share.
        let mut hits: Vec<(u32, u32, usize, usize, usize)> = Vec::new();
        let known = |hash| self.index.may_contain(hash);
        for (piece, text) in texts {
            self.winnow.fingerprints_where(text, known, |fp| {
                for entry in self.index.find(fp.hash) {
                    hits.push((self.index.value(entry), entry as u32, piece, fp.start, fp.end));
                }
            });
        }
        if hits.is_empty() {
            return;
        }
        hits.sort_unstable_by_key(|&(document, entry, piece, start, _)| (document, entry, piece, start));
        for run in hits.chunk_by(|a, b| a.0 == b.0) {
            let info = &self.documents[run[0].0 as usize];
            let mut shared = 0usize;
            let mut last_entry = None;
            for &(_, entry, ..) in run {
                shared += usize::from(last_entry != Some(entry));
                last_entry = Some(entry);
            }
            let total = info.fingerprints as usize;
            let share = shared as f32 / total as f32;
            if shared < MIN_SHARED.min(total) || share < self.min_share {
                continue;
            }
            // One match per piece, spanning the fingerprints it holds.
            let mut by_piece: Vec<(usize, usize, usize)> =
                run.iter().map(|&(_, _, piece, s, e)| (piece, s, e)).collect();
            by_piece.sort_unstable();
            for pieces in by_piece.chunk_by(|a, b| a.0 == b.0) {
                let start = pieces.iter().map(|&(_, s, _)| s).min().unwrap_or(0);
                let end = pieces.iter().map(|&(_, _, e)| e).max().unwrap_or(0);
                let label = Some(info.name.clone());
                let confidence = share.min(1.0);
                found(
                    pieces[0].0,
                    Match { detector: "document", category: Category::Document, start, end, confidence, label },
                );
            }
        }
    }
}

impl Detector for DocumentIndex {
    fn scan(&self, text: &str, out: &mut Vec<Match>) {
        self.find([(0, text)], |_, found| out.push(found));
    }

    fn scan_segments(&self, segments: &[Segment<'_>], out: &mut Vec<(usize, Match)>) {
        self.find(segments.iter().map(|segment| &*segment.text).enumerate(), |piece, found| out.push((piece, found)));
    }
}

fn collect_files(dir: &Path, files: &mut Vec<PathBuf>) -> Result<(), LoadError> {
    for entry in std::fs::read_dir(dir).map_err(|e| LoadError::io(dir, e))? {
        let entry = entry.map_err(|e| LoadError::io(dir, e))?;
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let path = entry.path();
        let meta = std::fs::metadata(&path).map_err(|e| LoadError::io(&path, e))?;
        if entry.file_type().map_err(|e| LoadError::io(&path, e))?.is_dir() {
            collect_files(&path, files)?;
        } else if meta.is_file() {
            files.push(path);
        }
    }
    Ok(())
}

/// Markup to text, cheaply: tags become a space, the common entities their character.
fn strip_markup(html: &str) -> String {
    let mut text = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(i) = rest.find(['<', '&']) {
        text.push_str(&rest[..i]);
        rest = &rest[i..];
        if rest.starts_with('<') {
            match rest.find('>') {
                Some(close) => rest = &rest[close + 1..],
                None => rest = "",
            }
            text.push(' ');
            continue;
        }
        const ENTITIES: [(&str, char); 7] = [
            ("&amp;", '&'),
            ("&lt;", '<'),
            ("&gt;", '>'),
            ("&quot;", '"'),
            ("&#39;", '\''),
            ("&apos;", '\''),
            ("&nbsp;", ' '),
        ];
        match ENTITIES.iter().find(|(entity, _)| rest.starts_with(entity)) {
            Some((entity, c)) => {
                text.push(*c);
                rest = &rest[entity.len()..];
            }
            None => {
                text.push('&');
                rest = &rest[1..];
            }
        }
    }
    text.push_str(rest);
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic pseudo-random prose: words from a fixed vocabulary.
    pub(crate) fn prose(seed: u64, words: usize) -> String {
        const VOCABULARY: &[&str] = &[
            "the",
            "quarterly",
            "revenue",
            "of",
            "merger",
            "board",
            "confidential",
            "shall",
            "not",
            "be",
            "disclosed",
            "to",
            "any",
            "third",
            "party",
            "without",
            "prior",
            "written",
            "consent",
            "pricing",
            "model",
            "customer",
            "retention",
            "forecast",
            "increase",
            "margin",
            "region",
            "north",
            "south",
            "plan",
            "strategy",
            "launch",
            "product",
            "team",
            "engineering",
            "budget",
            "risk",
            "legal",
            "review",
            "agreement",
            "term",
            "sheet",
            "valuation",
            "investor",
            "memo",
            "draft",
            "final",
            "approved",
            "owner",
            "schedule",
            "milestone",
        ];
        let mut state = seed;
        let mut text = String::new();
        for i in 0..words {
            let word = VOCABULARY[(splitmix64(&mut state) % VOCABULARY.len() as u64) as usize];
            if i > 0 {
                text.push(if i % 13 == 0 { '\n' } else { ' ' });
            }
            if i % 17 == 0 {
                let mut chars = word.chars();
                if let Some(first) = chars.next() {
                    text.extend(first.to_uppercase());
                    text.push_str(chars.as_str());
                }
            } else {
                text.push_str(word);
            }
            if i % 11 == 10 {
                text.push('.');
            }
            text.push_str(&(splitmix64(&mut state) % 100).to_string()[..usize::from(i % 7 == 0)]);
        }
        text
    }

    fn random_alnum(state: &mut u64, len: usize) -> String {
        const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
        (0..len).map(|_| ALPHABET[(splitmix64(state) % ALPHABET.len() as u64) as usize] as char).collect()
    }

    #[test]
    fn normalisation_ignores_case_whitespace_and_punctuation() {
        let winnow = Winnow::new(8, 4, 1);
        let a = winnow.hashes("The Merger with ACME closes on 3 March; do not disclose.");
        let b = winnow.hashes("the  merger\nwith acme, closes on 3 march -- do NOT\tdisclose");
        assert!(!a.is_empty());
        assert_eq!(a, b);
        let c = winnow.hashes("ÜBER Straße Çok güzel ünlü");
        let d = winnow.hashes("über straße çok GÜZEL Ünlü");
        assert!(!c.is_empty());
        assert_eq!(c, d);
        assert_ne!(a, winnow.hashes("The Merger with ACME closes on 4 March; do not disclose."));
    }

    #[test]
    fn winnowing_keeps_a_shared_fingerprint_for_every_run_of_w_plus_k_minus_1() {
        for (k, w) in [(40, 24), (16, 8), (5, 4), (3, 1)] {
            let winnow = Winnow::new(k, w, 42 + k as u64);
            let threshold = w + k - 1;
            let mut state = 7;
            for _ in 0..300 {
                let shared = random_alnum(&mut state, threshold);
                let (pre_a, post_a) = (random_alnum(&mut state, 50), random_alnum(&mut state, 70));
                let (pre_b, post_b) = (random_alnum(&mut state, 90), random_alnum(&mut state, 10));
                // Different spacing and case around and inside the shared run.
                let mut spaced = String::new();
                for (i, c) in shared.chars().enumerate() {
                    spaced.push(c);
                    if i % 5 == 4 {
                        spaced.push(' ');
                    }
                }
                let a = winnow.hashes(&format!("{pre_a} {shared} {post_a}"));
                let b = winnow.hashes(&format!("{pre_b}\n{} -- {post_b}", spaced.to_uppercase()));
                assert!(a.iter().any(|h| b.binary_search(h).is_ok()), "k {k} w {w}: no shared fingerprint");
            }
        }
    }

    /// Every k-gram of a text with its hash and span, by the definition.
    fn all_grams(winnow: &Winnow, text: &str) -> Vec<Fingerprint> {
        let k = winnow.k;
        let mut norm: Vec<(u8, usize, usize)> = Vec::new();
        for (i, c) in text.char_indices() {
            if c.is_alphanumeric() {
                for lower in c.to_lowercase() {
                    let mut buf = [0u8; 4];
                    for &b in lower.encode_utf8(&mut buf).as_bytes() {
                        norm.push((b, i, i + c.len_utf8()));
                    }
                }
            }
        }
        if norm.len() < k {
            return Vec::new();
        }
        (0..=norm.len() - k)
            .map(|s| {
                let hash =
                    (0..k).fold(0u64, |h, i| h ^ winnow.hash.word(norm[s + i].0).rotate_left((k - 1 - i) as u32));
                Fingerprint { hash, start: norm[s].1, end: norm[s + k - 1].2 }
            })
            .collect()
    }

    /// Winnowing by its definition, without rolling, blocks or rings.
    fn reference(winnow: &Winnow, text: &str) -> Vec<Fingerprint> {
        let w = winnow.w;
        let grams = all_grams(winnow, text);
        if grams.is_empty() {
            return Vec::new();
        }
        let mut out = Vec::new();
        let mut selected: Option<usize> = None;
        for first in 0..=grams.len().saturating_sub(w) {
            let window = first..(first + w).min(grams.len());
            let min = grams[window.clone()].iter().map(|g| g.hash).min().expect("non-empty");
            if selected.is_some_and(|s| window.contains(&s) && grams[s].hash == min) {
                continue;
            }
            let pick = window.clone().rfind(|&i| grams[i].hash == min).expect("min");
            selected = Some(pick);
            out.push(grams[pick]);
        }
        out
    }

    fn distinct_hashes(fingerprints: &[Fingerprint]) -> std::collections::BTreeSet<u64> {
        fingerprints.iter().map(|fp| fp.hash).collect()
    }

    #[test]
    fn streaming_winnow_equals_the_definition_across_blocks() {
        let mut state = 3;
        let mut text = String::new();
        while text.len() < 3 * BLOCK + 500 {
            let len = 1 + (splitmix64(&mut state) % 9) as usize;
            let word = random_alnum(&mut state, len);
            text.push_str(&word);
            text.push_str(
                ["  ", ", ", "\n", " İstanbul ", " ÆØÅ-", " 東京 ", "aa", " "][(splitmix64(&mut state) % 8) as usize],
            );
        }
        for (k, w) in [(DOCUMENT_K, DOCUMENT_W), (16, 16), (MAX_K, MAX_W), (4, 3), (1, 1)] {
            let winnow = Winnow::new(k, w, 17);
            let mut streamed = Vec::new();
            winnow.fingerprints(&text, |fp| streamed.push(fp));
            assert_eq!(streamed, reference(&winnow, &text), "k {k} w {w}");
            // The lookup selection: the same hashes, each at one of its k-grams.
            let mut kept = Vec::new();
            winnow.fingerprints_where(&text, |hash| hash % 3 == 0, |fp| kept.push(fp));
            streamed.retain(|fp| fp.hash % 3 == 0);
            assert!(!streamed.is_empty());
            assert_eq!(distinct_hashes(&kept), distinct_hashes(&streamed), "k {k} w {w}: filtered");
            let grams = all_grams(&winnow, &text);
            assert!(kept.iter().all(|fp| grams.contains(fp)), "k {k} w {w}: a span that is not its k-gram's");
            for short in ["", "ab", "abcdefghij", "İİİİİİİİİİİİİİİİİİİİİİİ x"] {
                let mut streamed = Vec::new();
                winnow.fingerprints(short, |fp| streamed.push(fp));
                assert_eq!(streamed, reference(&winnow, short), "k {k} w {w} {short:?}");
                let mut kept = Vec::new();
                winnow.fingerprints_where(short, |_| true, |fp| kept.push(fp));
                assert_eq!(distinct_hashes(&kept), distinct_hashes(&streamed), "k {k} w {w} {short:?}: lookup");
            }
        }
    }

    #[test]
    fn winnowing_density_and_spans() {
        let winnow = Winnow::new(DOCUMENT_K, DOCUMENT_W, 3);
        let mut state = 11;
        let text = random_alnum(&mut state, 100_000);
        let mut count = 0;
        let mut last_start = 0;
        winnow.fingerprints(&text, |fp| {
            count += 1;
            assert_eq!(fp.end - fp.start, DOCUMENT_K);
            assert!(fp.start >= last_start);
            last_start = fp.start;
        });
        // Expected 2 / (w + 1) of the k-grams.
        let expected = 2.0 * 100_000.0 / (DOCUMENT_W as f64 + 1.0);
        assert!((count as f64 - expected).abs() < expected * 0.1, "{count} fingerprints, expected ~{expected}");
        // Spans of a spaced-out text cover the original characters.
        let mut spans = Vec::new();
        Winnow::new(4, 2, 5).fingerprints("AB-CD ef", |fp| spans.push(fp.start..fp.end));
        assert!(!spans.is_empty());
        assert!(spans.iter().all(|s| s.start == 0 || s.start == 1 || s.start == 3), "{spans:?}");
        assert!(spans.iter().all(|s| s.end == 5 || s.end == 7 || s.end == 8), "{spans:?}");
        // Shorter than k: nothing.
        assert!(Winnow::new(8, 4, 5).hashes("abc defg").is_empty());
        assert_eq!(Winnow::new(8, 4, 5).hashes("abcd efgh").len(), 1);
    }

    #[test]
    fn hash_index_finds_every_entry_and_nothing_else() {
        let mut state = 99;
        let pairs: Vec<(u64, u32)> = (0..5000).map(|i| (splitmix64(&mut state), i)).collect();
        let mut with_dup = pairs.clone();
        with_dup.push((pairs[10].0, 77_777));
        let index = HashIndex::new(with_dup, 8);
        for &(hash, value) in &pairs {
            let found: Vec<u32> = index.find(hash).map(|e| index.value(e)).collect();
            assert!(found.contains(&value));
        }
        let found: Vec<u32> = index.find(pairs[10].0).map(|e| index.value(e)).collect();
        assert_eq!(found, vec![10, 77_777]);
        assert!(index.find(12345).is_empty());
        assert!(HashIndex::new(Vec::new(), 8).find(1).is_empty());
    }

    fn corpus() -> Vec<(String, String)> {
        (0..20).map(|i| (format!("doc{i}.txt"), prose(1000 + i, 900))).collect()
    }

    fn scan(index: &DocumentIndex, text: &str) -> Vec<Match> {
        let mut out = Vec::new();
        index.scan(text, &mut out);
        out
    }

    #[test]
    fn whole_document_is_found_and_named_also_reformatted() {
        let docs = corpus();
        let index = DocumentIndex::from_documents(docs.clone(), 0.5);
        assert_eq!(index.len(), 20);
        let doc = &docs[7].1;
        let payload = format!("Please summarise this for me:\n\n{doc}\n\nThanks!");
        let found = scan(&index, &payload);
        let [m] = found.as_slice() else { panic!("one document: {found:?}") };
        assert_eq!(m.label.as_deref(), Some("doc7.txt"));
        assert_eq!(m.detector, "document");
        assert_eq!(m.category, Category::Document);
        assert!(m.confidence > 0.95, "{}", m.confidence);
        let offset = payload.find(doc.as_str()).expect("embedded");
        assert!(m.start >= offset && m.start < offset + 100, "{} vs {offset}", m.start);
        assert!(m.end <= offset + doc.len() && m.end > offset + doc.len() - 100);

        // Re-wrapped, upper-cased, re-spaced, punctuation changed.
        let reformatted = doc.to_uppercase().replace('\n', "\r\n").replace(' ', "  ").replace('.', ",");
        let found = scan(&index, &format!("> {reformatted}"));
        let [m] = found.as_slice() else { panic!("one document: {found:?}") };
        assert_eq!(m.label.as_deref(), Some("doc7.txt"));
        assert!(m.confidence > 0.95);
    }

    #[test]
    fn excerpt_is_found_above_its_share_only() {
        let docs = corpus();
        let doc = &docs[3].1;
        // A 25 % excerpt from the middle, cut at a word.
        let from = doc[doc.len() / 2..].find(' ').expect("space") + doc.len() / 2;
        let excerpt = &doc[from..from + doc.len() / 4];
        let payload = format!("notes: {excerpt} -- end");
        let low = DocumentIndex::from_documents(docs.clone(), 0.2);
        let found = scan(&low, &payload);
        let [m] = found.as_slice() else { panic!("one document: {found:?}") };
        assert_eq!(m.label.as_deref(), Some("doc3.txt"));
        assert!(m.confidence > 0.2 && m.confidence < 0.3, "{}", m.confidence);
        let high = DocumentIndex::from_documents(docs, 0.5);
        assert!(scan(&high, &payload).is_empty());
    }

    #[test]
    fn a_document_split_across_a_payloads_strings_adds_up() {
        let docs = corpus();
        let doc = &docs[11].1;
        // Three parts cut at words, each a third of the document: below a share of 0.5 alone.
        let cuts: Vec<usize> =
            [doc.len() / 3, 2 * doc.len() / 3].iter().map(|&at| at + doc[at..].find(' ').expect("a space")).collect();
        let parts = [&doc[..cuts[0]], &doc[cuts[0]..cuts[1]], &doc[cuts[1]..]];
        let engine = |min_share| {
            crate::detect::Engine::new(
                vec![Box::new(DocumentIndex::from_documents(docs.clone(), min_share))],
                [1; 16],
                2,
            )
        };
        let request = |parts: &[&str]| {
            let messages: Vec<_> =
                parts.iter().map(|part| serde_json::json!({"role": "user", "content": part})).collect();
            serde_json::to_vec(&serde_json::json!({ "messages": messages })).expect("json")
        };
        let payload = request(&parts);
        let findings = engine(0.5).scan(&payload);
        assert_eq!(findings.len(), 3, "{findings:?}");
        for (index, finding) in findings.iter().enumerate() {
            assert_eq!(finding.label.as_deref(), Some("doc11.txt"));
            assert_eq!(finding.json_path.as_deref(), Some(format!("$.messages[{index}].content").as_str()));
            assert!(finding.confidence > 0.9, "{}", finding.confidence);
            // The span lies inside its own part, as the payload writes it (escaped).
            let literal = serde_json::to_string(parts[index]).expect("json");
            let from = memchr::memmem::find(&payload, literal.as_bytes()).expect("the part in the payload");
            assert!(finding.start > from && finding.end < from + literal.len(), "{index}: {finding:?}");
        }
        // One part alone is below the share; with a lower share it is found alone.
        assert!(engine(0.5).scan(&request(&parts[1..2])).is_empty());
        assert_eq!(engine(0.25).scan(&request(&parts[1..2])).len(), 1);
    }

    #[test]
    fn unrelated_text_is_not_found() {
        let index = DocumentIndex::from_documents(corpus(), 0.05);
        // Same vocabulary, different sequence: shares words and short phrases only.
        assert!(scan(&index, &prose(5, 3000)).is_empty());
        assert!(scan(&index, "hello, what is the weather in Paris today?").is_empty());
        assert!(scan(&index, "").is_empty());
    }

    #[test]
    fn short_documents_are_skipped_and_template_text_names_nothing() {
        let boiler = "This document is the property of Example Corp and must not be shared outside it.";
        let mut docs: Vec<(String, String)> =
            (0..40).map(|i| (format!("d{i}"), format!("{boiler}\n{}", prose(300 + i, 400)))).collect();
        docs.push(("tiny".into(), "too short".into()));
        let index = DocumentIndex::from_documents(docs, 0.05);
        assert_eq!(index.len(), 40);
        assert_eq!(index.skipped(), ["tiny"]);
        assert!(scan(&index, &format!("fyi: {boiler}")).is_empty());
    }

    #[test]
    fn from_dir_reads_text_files_and_skips_binaries() {
        let dir = std::env::temp_dir().join(format!("egress-docs-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("legal")).expect("mkdir");
        let contract = prose(77, 600);
        let page = prose(78, 600);
        std::fs::write(dir.join("legal/contract.md"), &contract).expect("write");
        std::fs::write(
            dir.join("page.html"),
            format!("<html><body><p>{}</p></body></html>", page.replace(' ', " <b>x</b> ")),
        )
        .expect("write");
        std::fs::write(dir.join("image.png"), b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR").expect("write");
        std::fs::write(dir.join(".hidden"), &contract).expect("write");
        let index = DocumentIndex::from_dir(&dir, 0.3).expect("load");
        std::fs::remove_dir_all(&dir).expect("cleanup");
        assert_eq!(index.len(), 2);
        assert_eq!(index.skipped(), ["image.png"]);
        let found = scan(&index, &contract[100..]);
        assert_eq!(found.iter().map(|m| m.label.as_deref()).collect::<Vec<_>>(), [Some("legal/contract.md")]);
        let found = scan(&index, &page.replace(' ', " x "));
        assert_eq!(found.iter().map(|m| m.label.as_deref()).collect::<Vec<_>>(), [Some("page.html")]);
        assert!(matches!(DocumentIndex::from_dir(Path::new("/nonexistent/egress"), 0.3), Err(LoadError::Io { .. })));
    }

    #[test]
    fn strip_markup_keeps_text() {
        assert_eq!(strip_markup("<p class=\"x\">A &amp; B</p><br/>c &copy;"), " A & B  c &copy;");
    }
}

/// Throughput and memory of the registered-data detectors, printed, never asserted:
/// `cargo test --release -p egress-user --lib detect::fingerprint::report -- --ignored --nocapture`.
#[cfg(test)]
mod report {
    use std::sync::{Arc, RwLock};
    use std::time::{Duration, Instant};

    use super::tests::prose;
    use super::*;
    use crate::detect::dictionary::Dictionary;
    use crate::detect::edm::ExactDataMatch;
    use crate::detect::taint::{TaintConfig, TaintDetector, TaintStore};

    const FIRST: &[&str] = &[
        "james",
        "mary",
        "robert",
        "patricia",
        "john",
        "jennifer",
        "michael",
        "linda",
        "david",
        "elizabeth",
        "william",
        "barbara",
        "richard",
        "susan",
        "joseph",
        "jessica",
        "thomas",
        "sarah",
        "charles",
        "karen",
        "priya",
        "wei",
        "ahmed",
        "olga",
        "mateo",
        "aiko",
    ];
    const LAST: &[&str] = &[
        "smith",
        "johnson",
        "williams",
        "brown",
        "jones",
        "garcia",
        "miller",
        "davis",
        "rodriguez",
        "martinez",
        "hernandez",
        "lopez",
        "gonzalez",
        "wilson",
        "anderson",
        "thomas",
        "taylor",
        "moore",
        "jackson",
        "martin",
        "lee",
        "perez",
        "thompson",
        "white",
        "harris",
        "sanchez",
        "clark",
        "ramirez",
        "lewis",
        "robinson",
        "walker",
        "young",
        "allen",
        "king",
        "wright",
        "scott",
        "torres",
        "nguyen",
        "hill",
        "flores",
    ];

    /// CPU time of this thread: the machine is shared, wall time would count other jobs.
    fn cpu() -> Duration {
        let mut now = libc::timespec { tv_sec: 0, tv_nsec: 0 };
        // SAFETY: clock_gettime writes one timespec we own.
        unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
        Duration::new(now.tv_sec as u64, now.tv_nsec as u32)
    }

    /// Prose from a vocabulary of some 17,000 made-up words: unlike [`prose`], unrelated texts
    /// share no more short phrases than real ones do.
    fn rich(state: &mut u64, words: usize) -> String {
        const SYLLABLES: &[&str] = &[
            "ka", "lo", "mi", "ten", "ra", "vo", "sel", "dar", "pe", "qui", "no", "bas", "tu", "fi", "gor", "ha", "je",
            "wen", "zu", "cri", "an", "el", "or", "ish", "ment", "ly", "ble", "tion", "ing", "er",
        ];
        let mut text = String::new();
        for i in 0..words {
            let r = splitmix64(state);
            let n = 1 + (r % 3) as usize;
            if i > 0 {
                text.push_str(if r.is_multiple_of(23) {
                    ". "
                } else if r.is_multiple_of(7) {
                    ", "
                } else {
                    " "
                });
            }
            for s in 0..n {
                text.push_str(SYLLABLES[((r >> (8 + 8 * s)) % SYLLABLES.len() as u64) as usize]);
            }
        }
        text
    }

    /// Chat-like text: prose with an e-mail address, numbers and names now and then.
    fn chat(seed: u64, bytes: usize) -> String {
        let mut state = seed;
        let mut text = String::with_capacity(bytes + 200);
        while text.len() < bytes {
            text.push_str(&rich(&mut state, 40));
            let r = splitmix64(&mut state);
            let first = FIRST[(r % FIRST.len() as u64) as usize];
            let last = LAST[((r >> 8) % LAST.len() as u64) as usize];
            text.push_str(&format!(
                " Contact {first} {last} at {first}.{last}@example.com or +1 555 {:03} {:04}; order #{}. ",
                r % 1000,
                (r >> 20) % 10_000,
                (r >> 32) % 100_000_000
            ));
        }
        text.truncate(bytes);
        while !text.is_char_boundary(text.len()) {
            text.pop();
        }
        text
    }

    fn measure(name: &str, detector: &dyn Detector, small: &str, large: &str) {
        if let Ok(only) = std::env::var("REPORT_ONLY") {
            if only != name {
                return;
            }
            let mut out = Vec::new();
            for _ in 0..30 {
                out.clear();
                detector.scan(std::hint::black_box(large), &mut out);
            }
        }
        let mut out = Vec::new();
        let rounds = 2000;
        let started = cpu();
        for _ in 0..rounds {
            out.clear();
            detector.scan(std::hint::black_box(small), &mut out);
        }
        let per_small = (cpu() - started) / rounds;
        let small_found = out.len();
        let mut best = Duration::MAX;
        for _ in 0..3 {
            out.clear();
            let started = cpu();
            detector.scan(std::hint::black_box(large), &mut out);
            best = best.min(cpu() - started);
        }
        println!(
            "{name:<12} 4 KiB: {:>7.1} µs ({:>6.0} MB/s, {small_found} matches)   4 MiB: {:>7.1} ms ({:>6.0} MB/s, {} matches)",
            per_small.as_secs_f64() * 1e6,
            small.len() as f64 / per_small.as_secs_f64() / 1e6,
            best.as_secs_f64() * 1e3,
            large.len() as f64 / best.as_secs_f64() / 1e6,
            out.len()
        );
    }

    #[test]
    #[ignore = "timing report: run in release with --ignored --nocapture"]
    fn report() {
        let small = chat(1, 4096);
        let large = chat(2, 4 << 20);

        let started = Instant::now();
        let mut state = 5;
        let terms: Vec<String> = (0..10_000)
            .map(|i| {
                let syllables = ["ka", "zu", "tro", "vel", "mir", "qua", "dex", "on", "ix", "pra", "sol", "ne"];
                let mut term: String = (0..3).map(|_| syllables[(splitmix64(&mut state) % 12) as usize]).collect();
                if i % 3 == 0 {
                    term.push_str(" project");
                }
                term.push_str(&(i % 97).to_string());
                term
            })
            .collect();
        let dictionary = Dictionary::from_terms("codenames", &terms).expect("dictionary");
        println!(
            "dictionary: {} terms built in {:?}, {} KiB",
            dictionary.len(),
            started.elapsed(),
            dictionary.memory_bytes() >> 10
        );

        let started = Instant::now();
        let documents =
            DocumentIndex::from_documents((0..1000).map(|i| (format!("doc{i}"), prose(10_000 + i, 900))), 0.2);
        let average = (0..10).map(|i| prose(10_000 + i, 900).len()).sum::<usize>() / 10;
        println!(
            "documents: {} docs of ~{average} B built in {:?}, {} fingerprints, {} KiB",
            documents.len(),
            started.elapsed(),
            documents.index.len(),
            documents.memory_bytes() >> 10
        );

        let started = Instant::now();
        let mut state = 9;
        let rows: Vec<[String; 4]> = (0..100_000u64)
            .map(|i| {
                let r = splitmix64(&mut state);
                let first = FIRST[(r % FIRST.len() as u64) as usize];
                let last = LAST[((r >> 8) % LAST.len() as u64) as usize];
                [
                    format!("{first} {last} {}", i % 1000),
                    format!("{first}.{last}{i}@example.com"),
                    format!("{:012}", r % 1_000_000_000_000),
                    format!("+1 555 {:07}", (r >> 24) % 10_000_000),
                ]
            })
            .collect();
        let edm = ExactDataMatch::from_rows(
            "customers",
            &["name", "email", "account", "phone"],
            &rows,
            &["name", "email"],
            &["email", "account", "phone"],
            b"bench salt",
        )
        .expect("edm");
        println!("edm: {} rows built in {:?}, {} KiB", edm.rows(), started.elapsed(), edm.memory_bytes() >> 10);

        let store = Arc::new(RwLock::new(TaintStore::new(TaintConfig::default())));
        let started = Instant::now();
        {
            let mut store = store.write().expect("lock");
            // JSON records of other people and prose of another seed: what an agent reads.
            let mut state = 77;
            for i in 0..64 {
                let mut response = String::from("{\"records\":[");
                while response.len() < 48 << 10 {
                    let r = splitmix64(&mut state);
                    response.push_str(&format!(
                        "{{\"name\":\"Customer {}\",\"email\":\"c{}@corp.example\",\"account\":\"{:012}\"}},",
                        r % 100_000,
                        r % 1_000_000,
                        r >> 24
                    ));
                }
                response.push_str(&format!("\"{}\"]}}", rich(&mut state, 2500)));
                store.remember(&format!("source{}", i % 4), &response, Instant::now());
            }
        }
        let taint = TaintDetector::new(Arc::clone(&store));
        println!(
            "taint: 64 responses of ~64 KiB remembered in {:?}, {} keys (cap {}), {} KiB",
            started.elapsed(),
            store.read().expect("lock").len(),
            TaintConfig::default().max_entries,
            taint.memory_bytes() >> 10
        );

        for (k, w) in [(DOCUMENT_K, DOCUMENT_W), (crate::detect::taint::TAINT_K, crate::detect::taint::TAINT_W)] {
            let winnow = Winnow::new(k, w, 1);
            for text in [&small, &large] {
                let rounds = (8 << 20) / text.len();
                let started = cpu();
                let mut n = 0u64;
                for _ in 0..rounds {
                    winnow.fingerprints(std::hint::black_box(text), |fp| n = n.wrapping_add(fp.hash));
                }
                let per = (cpu() - started) / rounds as u32;
                println!(
                    "winnow k {k} w {w} on {} B: {:?} ({:.0} MB/s) {n}",
                    text.len(),
                    per,
                    text.len() as f64 / per.as_secs_f64() / 1e6
                );
            }
        }
        measure("dictionary", &dictionary, &small, &large);
        measure("documents", &documents, &small, &large);
        measure("edm", &edm, &small, &large);
        measure("taint", &taint, &small, &large);
        let all: Vec<Box<dyn Detector>> =
            vec![Box::new(dictionary), Box::new(documents), Box::new(edm), Box::new(taint)];
        struct All(Vec<Box<dyn Detector>>);
        impl Detector for All {
            fn scan(&self, text: &str, out: &mut Vec<Match>) {
                for d in &self.0 {
                    d.scan(text, out);
                }
            }
        }
        measure("all four", &All(all), &small, &large);
    }
}
