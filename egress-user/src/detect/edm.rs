//! Exact data match: records of a sensitive table (customers: name, e-mail, account), found
//! when a text carries a value of a primary column together with another value of the same
//! row.
//!
//! Only salted 64-bit hashes of the values are kept, never the values. The hash is keyed with
//! two 64-bit keys derived from SHA-256 of the salt; it is a fast multiply-xorshift mix, not
//! a cryptographic MAC (a scan computes thousands of them per KiB), so it hides the values
//! from a reader of the daemon's memory who lacks the salt but is no defence against one who
//! has it.
//!
//! **Values** are normalised into a sequence of tokens that is hashed as a chain of keyed
//! token hashes (case folded):
//! - an e-mail address (`@`, no space) is one token;
//! - a value without letters (account, phone, card numbers: `+1 (555) 010-2030`) is one
//!   token, its digits only; fewer than 4 digits is not indexed;
//! - anything else (names, addresses) is its runs of letters and digits, lowercased
//!   (`O'Brien-Smith` is `o brien smith`); fewer than 3 letters and digits in all is not
//!   indexed, and only the first [`MAX_WORDS`] tokens are.
//!
//! **Scan**: the text is split into words 64 bytes at a time with byte masks (AVX-512 ones
//! where the processor has it), and a word is hashed at most once; every run of 1..=[`MAX_WORDS`]
//! adjacent words whose words all pass a Bloom filter of the indexed words, and whose
//! neighbouring words all pass a Bloom filter of the word pairs of indexed values, is looked
//! up (prose is full of words that occur in some name, rarely of two in a row of one name);
//! the pair filter is large, so it is only probed after a word that passes the small filter
//! of the words that start a pair; and a word that follows no word starting a pair is first
//! tested against a set of one bit per word of the words that start a pair or are a value
//! alone, keyed by its length and first 8 bytes ([`HeadSet`]): most prose words stop there,
//! at one multiply, without a token hash (with AVX-512 VBMI2, all the words of a 64-byte
//! block are tested at once, and only those that pass are then taken one by one);
//! e-mail-like tokens around each `@`, and runs of 2..=[`MAX_DIGIT_GROUPS`] digit groups
//! joined by at most two of ` -.()+/` (a number written `4412 0098 7731`) are looked up as
//! one token. Words, numbers and e-mail addresses have a filter each, so that the filter
//! of name words, the one prose hits all the time, stays small enough for the CPU cache. A
//! primary value of a row is reported when a value of another corroborating column of the
//! same row occurs elsewhere (not overlapping) in the same text.
use std::path::Path;

use sha2::{Digest as _, Sha256};

use super::ascii;
use super::fingerprint::{Bloom, HashIndex, LoadError};
use super::{Category, Detector, Match};

#[cfg(target_arch = "x86_64")]
mod avx512;

/// Longest value, in words, that is matched (names, street addresses).
pub const MAX_WORDS: usize = 4;
/// Most digit groups one number is written in (`+1 (555) 010 2030` is four).
pub const MAX_DIGIT_GROUPS: usize = 5;
/// A value shared by more rows than this identifies no row (a city, a status) and is not
/// indexed; it also bounds the work one matched value can cause.
pub const MAX_ROWS_PER_VALUE: usize = 256;
/// Row ids share 32 bits with the column number.
const MAX_ROWS: usize = 1 << 24;

/// Token classes, each with its own filter.
const WORD: usize = 0;
const NUMBER: usize = 1;
const EMAIL: usize = 2;

/// Records of one table, as salted hashes.
pub struct ExactDataMatch {
    label: String,
    keys: [u64; 2],
    /// Column roles, by indexed column number (the order of the named columns).
    primary: Vec<bool>,
    corroborating: Vec<bool>,
    /// Value hash → `row << 8 | column`.
    index: HashIndex,
    /// Token hashes of the indexed values, by class: words, numbers, e-mail addresses.
    filters: [Bloom; 3],
    /// [`pair_hash`] of every two adjacent tokens of a multi-word value.
    pairs: Bloom,
    /// Token hashes that start such a pair, words and numbers: far fewer than the pairs (a
    /// table's first names, not its surnames), so this filter stays in the cache and spares
    /// most words a probe of the pair filter.
    leads: [Bloom; 2],
    /// Token hashes of the values that are one word of letters: prose is full of words that
    /// occur in multi-word values (names), and this small filter spares each of them a lookup
    /// in the index's large one.
    single_words: Bloom,
    /// The words of letters that start a run (the word leads of `leads` and the
    /// `single_words`): the first test of every word that follows no lead.
    openers: HeadSet,
    /// Bit n: some value is a number of n digits (63 and more share bit 63). A number written
    /// in groups is hashed only for the digit counts that occur (a card number's groups make
    /// six candidates, and an account column has one length).
    number_lengths: u64,
    /// A lower bound on the bytes of any indexed value as a text writes it: a shorter text
    /// (a chat message's `"role": "user"`) holds none, and is passed over without the scan's
    /// fixed cost.
    shortest: usize,
    rows: usize,
}

impl std::fmt::Debug for ExactDataMatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExactDataMatch")
            .field("label", &self.label)
            .field("rows", &self.rows)
            .field("values", &self.index.len())
            .finish_non_exhaustive()
    }
}

/// How one value is tokenised.
#[derive(Debug, PartialEq, Eq)]
enum Tokens {
    None,
    Email(String),
    Number(String),
    Words(Vec<String>),
}

impl ExactDataMatch {
    /// Loads a CSV file (RFC 4180: a header row naming the columns, `"` quoting) and indexes
    /// the named columns; other columns are not read into the index. The label of its
    /// findings is `"<file stem> row match"`.
    pub fn from_csv(path: &Path, primary: &[&str], corroborating: &[&str], salt: &[u8]) -> Result<Self, LoadError> {
        let text = std::fs::read_to_string(path).map_err(|e| LoadError::io(path, e))?;
        let mut records = parse_csv(&text).map_err(|message| LoadError::format(path, message))?;
        let Some(header) = records.next() else {
            return Err(LoadError::format(path, "no header row"));
        };
        let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let header: Vec<&str> = header.iter().map(|s| s.trim()).collect();
        Self::build(&stem, &header, records, primary, corroborating, salt).map_err(|m| LoadError::format(path, m))
    }

    /// The same from rows in memory (`name` makes the label, like a file stem).
    pub fn from_rows<R, S>(
        name: &str,
        header: &[&str],
        rows: impl IntoIterator<Item = R>,
        primary: &[&str],
        corroborating: &[&str],
        salt: &[u8],
    ) -> Result<Self, LoadError>
    where
        R: AsRef<[S]>,
        S: AsRef<str>,
    {
        let rows = rows.into_iter().map(|row| row.as_ref().iter().map(|v| v.as_ref().to_owned()).collect());
        Self::build(name, header, rows, primary, corroborating, salt).map_err(|m| LoadError::format(Path::new(name), m))
    }

    fn build(
        name: &str,
        header: &[&str],
        rows: impl Iterator<Item = Vec<String>>,
        primary: &[&str],
        corroborating: &[&str],
        salt: &[u8],
    ) -> Result<Self, String> {
        if primary.is_empty() || corroborating.is_empty() {
            return Err("exact data match needs a primary and a corroborating column".into());
        }
        // Indexed columns: each named column once, primary ones first.
        let mut columns: Vec<(usize, bool, bool)> = Vec::new();
        for wanted in primary.iter().chain(corroborating) {
            let Some(at) = header.iter().position(|h| h.eq_ignore_ascii_case(wanted)) else {
                return Err(format!("no column {wanted:?} in the header"));
            };
            if !columns.iter().any(|c| c.0 == at) {
                columns.push((at, primary.contains(wanted), false));
            }
            if corroborating.contains(wanted)
                && let Some(c) = columns.iter_mut().find(|c| c.0 == at)
            {
                c.2 = true;
            }
        }
        let [keys @ .., head_key] = derive_keys(salt);
        let mut pairs: Vec<(u64, u32)> = Vec::new();
        let mut tokens_by_class: [Vec<u64>; 3] = Default::default();
        let mut word_pairs: Vec<u64> = Vec::new();
        let mut leads: [Vec<u64>; 2] = Default::default();
        let mut single_words: Vec<u64> = Vec::new();
        let mut openers: Vec<(u64, usize)> = Vec::new();
        let mut number_lengths = 0u64;
        let mut shortest = usize::MAX;
        let mut count = 0usize;
        for (row, record) in rows.enumerate() {
            if row >= MAX_ROWS {
                return Err(format!("more than {MAX_ROWS} rows"));
            }
            count = row + 1;
            for (number, &(at, _, _)) in columns.iter().enumerate() {
                let Some(value) = record.get(at) else {
                    continue;
                };
                let value_tokens = tokens(value);
                shortest = shortest.min(written_length(&value_tokens));
                let hashes: Vec<u64> = match &value_tokens {
                    Tokens::None => continue,
                    Tokens::Email(token) => {
                        let hash = token_hash(&keys, token.as_bytes());
                        tokens_by_class[EMAIL].push(hash);
                        vec![hash]
                    }
                    Tokens::Number(token) => {
                        number_lengths |= 1 << token.len().min(63);
                        let hash = token_hash(&keys, token.as_bytes());
                        tokens_by_class[NUMBER].push(hash);
                        vec![hash]
                    }
                    Tokens::Words(list) => list
                        .iter()
                        .enumerate()
                        .map(|(at, word)| {
                            let hash = token_hash(&keys, word.as_bytes());
                            let class = if word.bytes().all(|b| b.is_ascii_digit()) { NUMBER } else { WORD };
                            tokens_by_class[class].push(hash);
                            if at + 1 < list.len() {
                                leads[class].push(hash);
                            }
                            if class == WORD && (at + 1 < list.len() || list.len() == 1) {
                                openers.push((head(word.as_bytes(), 0, word.len()), word.len()));
                            }
                            hash
                        })
                        .collect(),
                };
                if let (Tokens::Words(list), [hash]) = (&value_tokens, hashes.as_slice())
                    && !list[0].bytes().all(|b| b.is_ascii_digit())
                {
                    single_words.push(*hash);
                }
                word_pairs.extend(hashes.windows(2).map(|two| pair_hash(two[0], two[1])));
                pairs.push((chain(&keys, &hashes), (row as u32) << 8 | number as u32));
            }
        }
        // Values of too many rows identify none.
        pairs.sort_unstable();
        pairs.dedup();
        let mut kept = Vec::with_capacity(pairs.len());
        for run in pairs.chunk_by(|a, b| a.0 == b.0) {
            if run.len() <= MAX_ROWS_PER_VALUE {
                kept.extend_from_slice(run);
            }
        }
        let filters = tokens_by_class.map(bloom_of);
        let pairs_filter = bloom_of(word_pairs);
        let single_words = bloom_of(single_words);
        Ok(Self {
            label: format!("{name} row match"),
            keys,
            primary: columns.iter().map(|c| c.1).collect(),
            corroborating: columns.iter().map(|c| c.2).collect(),
            // The filters above come first, so the index's own filter is seldom asked.
            index: HashIndex::new(kept, 8),
            filters,
            pairs: pairs_filter,
            leads: leads.map(bloom_of),
            single_words,
            openers: HeadSet::new(head_key, openers),
            number_lengths,
            shortest,
            rows: count,
        })
    }

    /// Number of rows loaded.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Estimated heap bytes.
    pub fn memory_bytes(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.label.capacity()
            + self.primary.capacity()
            + self.corroborating.capacity()
            + self.index.memory_bytes()
            + self.filters.iter().map(Bloom::memory_bytes).sum::<usize>()
            + self.pairs.memory_bytes()
            + self.leads.iter().map(Bloom::memory_bytes).sum::<usize>()
            + self.single_words.memory_bytes()
            + self.openers.memory_bytes()
    }

    /// Records the rows whose indexed values hash to `hash`, found at `start..end`.
    fn lookup(&self, hash: u64, start: usize, end: usize, hits: &mut Vec<Hit>) {
        for entry in self.index.find(hash) {
            let value = self.index.value(entry);
            hits.push(Hit { row: value >> 8, column: (value & 0xff) as u8, start, end });
        }
    }
}

/// Where the word scan is: the hash and start of the last MAX_WORDS words that passed the
/// filter, by their number mod MAX_WORDS; the last `linked` of them follow each other with
/// neighbours that pass the pair filter; `previous` is the last word if it may start a pair.
/// A run's chain hash is worked out only when it is looked up: in prose that is rare.
#[derive(Default)]
struct WordRuns {
    recent: [(u64, usize); MAX_WORDS],
    passed: usize,
    linked: usize,
    previous: Option<u64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Hit {
    row: u32,
    column: u8,
    start: usize,
    end: usize,
}

impl Detector for ExactDataMatch {
    fn scan(&self, text: &str, out: &mut Vec<Match>) {
        if self.index.is_empty() || text.len() < self.shortest {
            return;
        }
        let mut hits = Vec::new();
        let digits = self.scan_words(text, &mut hits);
        self.scan_emails(text, &mut hits);
        if digits {
            self.scan_numbers(text, &mut hits);
        }
        if hits.is_empty() {
            return;
        }
        hits.sort_unstable();
        hits.dedup();
        let mut reported: Vec<(usize, usize, f32)> = Vec::new();
        for row in hits.chunk_by(|a, b| a.row == b.row) {
            for p in row.iter().filter(|h| self.primary[usize::from(h.column)]) {
                let mut counted: Vec<u8> = Vec::new();
                for c in row {
                    let disjoint = c.end <= p.start || c.start >= p.end;
                    if c.column != p.column
                        && self.corroborating[usize::from(c.column)]
                        && disjoint
                        && !counted.contains(&c.column)
                    {
                        counted.push(c.column);
                    }
                }
                let confidence = match counted.len() {
                    0 => continue,
                    1 => 0.75,
                    2 => 0.9,
                    _ => 0.95,
                };
                match reported.iter_mut().find(|r| r.0 == p.start && r.1 == p.end) {
                    Some(r) => r.2 = r.2.max(confidence),
                    None => reported.push((p.start, p.end, confidence)),
                }
            }
        }
        for (start, end, confidence) in reported {
            out.push(Match {
                detector: "edm",
                category: Category::Edm,
                start,
                end,
                confidence,
                label: Some(self.label.clone()),
            });
        }
    }
}

impl ExactDataMatch {
    /// Runs of 1..=MAX_WORDS adjacent words. Returns whether the text holds an ASCII digit.
    fn scan_words(&self, text: &str, hits: &mut Vec<Hit>) -> bool {
        #[cfg(target_arch = "x86_64")]
        if avx512::available() {
            // SAFETY: `available()` checked that the processor has the target features.
            return unsafe { self.scan_words_avx512(text, hits) };
        }
        self.scan_words_with(text, hits, ascii::masks_with_high)
    }

    /// [`Self::scan_words`] with the byte masks of `masks`, one word at a time.
    #[inline(always)]
    fn scan_words_with(&self, text: &str, hits: &mut Vec<Hit>, masks: impl Fn(&[u8]) -> (u64, u64, u64)) -> bool {
        let mut runs = WordRuns::default();
        let mut lower = String::new();
        for_each_word(text, &mut lower, masks, |word| self.visit(&mut runs, word, hits))
    }

    /// Takes the next word of the text.
    #[inline(always)]
    fn visit(&self, runs: &mut WordRuns, word: Word<'_>, hits: &mut Vec<Hit>) {
        // After a word that starts no pair, a word of letters matters only if it starts a
        // run (a pair or a one-word value): most prose words stop here, at one cheap hash
        // and one probe of a small filter. (What `step` would do to such a word, `linked` 1
        // or 0 with `previous` None, changes nothing that follows.)
        if runs.previous.is_some() || word.number || self.openers.may_contain(word.source, &word.range) {
            self.step(runs, &word, hits);
        }
    }

    /// Takes one word into `runs` and looks up the runs it ends. Out of line, so that the
    /// loop over words, which seldom gets here, stays small.
    #[inline(never)]
    fn step(&self, runs: &mut WordRuns, word: &Word<'_>, hits: &mut Vec<Hit>) {
        let hash = token_hash_in(&self.keys, word.source, word.range.start, word.range.end);
        let class = if word.number { NUMBER } else { WORD };
        if !self.filters[class].may_contain(hash) {
            runs.previous = None;
            runs.linked = 0;
            return;
        }
        let follows = runs.previous.is_some_and(|before| self.pairs.may_contain(pair_hash(before, hash)));
        runs.linked = if follows { (runs.linked + 1).min(MAX_WORDS) } else { 1 };
        runs.previous = self.leads[class].may_contain(hash).then_some(hash);
        runs.recent[runs.passed % MAX_WORDS] = (hash, word.start);
        runs.passed += 1;
        let alone = word.number || self.single_words.may_contain(hash);
        if runs.linked > usize::from(!alone) {
            self.lookup_runs(&runs.recent, runs.passed, usize::from(!alone)..runs.linked, word.end, hits);
        }
    }

    /// Looks up the runs of n + 1 words ending at the last of the `passed` words, for each n
    /// in `sizes` (n = 0, the word alone, only when the table has values of one word). Out of
    /// line: rare in prose, and the per-word loop stays small.
    #[cold]
    #[inline(never)]
    fn lookup_runs(
        &self,
        recent: &[(u64, usize); MAX_WORDS],
        passed: usize,
        sizes: std::ops::Range<usize>,
        end: usize,
        hits: &mut Vec<Hit>,
    ) {
        for n in sizes {
            let first = passed - 1 - n;
            let chain = (first..passed).fold(self.keys[1], |h, k| chain_step(h, recent[k % MAX_WORDS].0));
            self.lookup(chain, recent[first % MAX_WORDS].1, end, hits);
        }
    }

    /// E-mail-like tokens around each `@`.
    fn scan_emails(&self, text: &str, hits: &mut Vec<Hit>) {
        let bytes = text.as_bytes();
        // The local-part characters real addresses use: the rarer RFC 5322 ones (`=`, `/`, `?`,
        // `&`, ...) are far more often the delimiter before an address (`email=jane@x.com`).
        let local = |b: u8| b.is_ascii_alphanumeric() || b".+-_%".contains(&b);
        let domain = |b: u8| b.is_ascii_alphanumeric() || b == b'.' || b == b'-';
        for at in memchr::memchr_iter(b'@', bytes) {
            let mut start = at;
            while start > 0 && local(bytes[start - 1]) {
                start -= 1;
            }
            let mut end = at + 1;
            while end < bytes.len() && domain(bytes[end]) {
                end += 1;
            }
            while start < at && matches!(bytes[start], b'.' | b'\'') {
                start += 1;
            }
            while end > at + 1 && matches!(bytes[end - 1], b'.' | b'-') {
                end -= 1;
            }
            if start == at || end == at + 1 {
                continue;
            }
            let hash = token_hash(&self.keys, &bytes[start..end]);
            if self.filters[EMAIL].may_contain(hash) {
                self.lookup(chain(&self.keys, &[hash]), start, end, hits);
            }
        }
    }

    /// Numbers written in 2..=MAX_DIGIT_GROUPS groups (a single group is a word already).
    /// Without allocating: a text with a digit in it is common (a date, a version, a token),
    /// and two vectors here cost more than the search.
    fn scan_numbers(&self, text: &str, hits: &mut Vec<Hit>) {
        let bytes = text.as_bytes();
        // The last groups of the current run of groups, group `n` at `n % MAX_DIGIT_GROUPS`.
        let mut recent = [(0usize, 0usize); MAX_DIGIT_GROUPS];
        let mut i = 0;
        while let Some(next) = ascii::next_digit(bytes, i) {
            i = next;
            // A run of digit groups joined by short separators.
            let mut count = 0;
            loop {
                let start = i;
                i = digits_end(bytes, i);
                recent[count % MAX_DIGIT_GROUPS] = (start, i);
                count += 1;
                self.numbers_ending(bytes, &recent, count, hits);
                match next_group(bytes, i) {
                    Some(next) => i = next,
                    None => break,
                }
            }
        }
    }

    /// Looks up the numbers of 2..=MAX_DIGIT_GROUPS groups that end at the last of the
    /// `count` groups of a run (the latest ones in `recent`), whose digit count some number of
    /// the table has.
    fn numbers_ending(
        &self,
        bytes: &[u8],
        recent: &[(usize, usize); MAX_DIGIT_GROUPS],
        count: usize,
        hits: &mut Vec<Hit>,
    ) {
        let last = count - 1;
        let group = |n: usize| recent[n % MAX_DIGIT_GROUPS];
        let mut length = group(last).1 - group(last).0;
        for first in (last.saturating_sub(MAX_DIGIT_GROUPS - 1)..last).rev() {
            length += group(first).1 - group(first).0;
            if length < 4 || self.number_lengths >> length.min(63) & 1 == 0 {
                continue;
            }
            let mut on_stack = [0u8; 64];
            let mut on_heap = Vec::new();
            let digits = if length <= on_stack.len() {
                &mut on_stack[..length]
            } else {
                on_heap.resize(length, 0);
                &mut on_heap[..]
            };
            let mut at = 0;
            for n in first..=last {
                let (start, end) = group(n);
                digits[at..at + end - start].copy_from_slice(&bytes[start..end]);
                at += end - start;
            }
            let hash = token_hash(&self.keys, digits);
            if self.filters[NUMBER].may_contain(hash) {
                self.lookup(chain(&self.keys, &[hash]), group(first).0, group(last).1, hits);
            }
        }
    }
}

/// The end of the run of ASCII digits at `from`.
fn digits_end(bytes: &[u8], from: usize) -> usize {
    bytes[from..].iter().position(|b| !b.is_ascii_digit()).map_or(bytes.len(), |k| from + k)
}

/// Where the next digit group of a number starts after a group that ends at `end`: past one
/// or two of ` -.()+/`, if a digit follows them.
fn next_group(bytes: &[u8], end: usize) -> Option<usize> {
    let mut next = end;
    while next < bytes.len() && next - end < 2 && b" -.()+/".contains(&bytes[next]) {
        next += 1;
    }
    (next > end && bytes.get(next).is_some_and(u8::is_ascii_digit)).then_some(next)
}

/// One run of letters and digits: `source[range]` are its bytes to hash (the text itself when
/// ASCII, which [`token_hash`] case-folds; else the run lowercased), `start..end` its span
/// in the text.
struct Word<'a> {
    source: &'a [u8],
    range: std::ops::Range<usize>,
    start: usize,
    end: usize,
    /// All digits.
    number: bool,
}

/// Calls `f` with each maximal run of letters and digits; returns whether the text holds an
/// ASCII digit.
///
/// Runs of ASCII letters, digits and non-ASCII bytes are found 64 bytes at a time with the
/// byte masks of `masks` ([`ascii::masks_with_high`] or a vector version of it); a run that
/// holds non-ASCII bytes (rare) is then split by characters.
#[inline(always)]
fn for_each_word(
    text: &str,
    lower: &mut String,
    masks: impl Fn(&[u8]) -> (u64, u64, u64),
    mut f: impl FnMut(Word<'_>),
) -> bool {
    let bytes = text.as_bytes();
    let mut digits = 0;
    // Where the block starts: the text's start, the first byte after a run, or the start of
    // a run that the previous block cut; so every run that starts in the block starts at a
    // start bit, and no run is carried from one block to the next.
    let mut base = 0;
    // The last block is shorter than 64 bytes (empty when the text fills whole blocks), so
    // that the end of the text can be a stop like any other, at its bit `block.len()`.
    while base <= bytes.len() {
        let block = &bytes[base..(base + 64).min(bytes.len())];
        let BlockBounds { alpha, alnum, high, mut starts, mut stops } = BlockBounds::of(block, &masks);
        digits |= alnum & !alpha;
        let mut next = base + 64;
        // Starts and stops alternate: a run ends at the first stop after its start.
        while starts != 0 {
            let from = starts.trailing_zeros() as usize;
            starts &= starts - 1;
            if stops == 0 {
                // The run may go on past the block: the next block starts with it.
                next = base + from;
                break;
            }
            let stop = stops.trailing_zeros() as usize;
            stops &= stops - 1;
            // `stop` is below 64: a stop at bit 64 would be past a full block.
            let inside = (1u64 << stop) - (1u64 << from);
            let (start, end) = (base + from, base + stop);
            if high & inside != 0 {
                split_by_chars(text, start, end, lower, &mut f);
            } else {
                f(Word { source: bytes, range: start..end, start, end, number: alpha & inside == 0 });
            }
        }
        if next == base {
            let (end, digit) = split_long_run(text, base, lower, &mut f);
            digits |= u64::from(digit);
            next = end;
        }
        base = next;
    }
    digits != 0
}

/// The byte masks of one block of [`for_each_word`]'s walk (at most 64 bytes; the last
/// block is shorter), and where its words (runs of ASCII letters and digits and non-ASCII
/// bytes) start and stop.
struct BlockBounds {
    alpha: u64,
    alnum: u64,
    high: u64,
    /// Bit k: byte k is the first of a word.
    starts: u64,
    /// Bit k: byte k is the first byte after a word; in the last block the text's end is one,
    /// at bit `block.len()`.
    stops: u64,
}

impl BlockBounds {
    #[inline(always)]
    fn of(block: &[u8], masks: &impl Fn(&[u8]) -> (u64, u64, u64)) -> Self {
        let (alpha, alnum, high) = masks(block);
        let word = alnum | high;
        let last = block.len() < 64;
        let starts = word & !(word << 1);
        let stops = !word & (word << 1) & ascii::bit_range(0, block.len() + usize::from(last));
        Self { alpha, alnum, high, starts, stops }
    }
}

/// The runs of alphanumeric characters in a run of 64 bytes or more that starts at `from`
/// (rare): it ends at the first ASCII byte that is not a letter or digit. Returns its end and
/// whether it holds an ASCII digit.
fn split_long_run(text: &str, from: usize, lower: &mut String, f: &mut dyn FnMut(Word<'_>)) -> (usize, bool) {
    let bytes = text.as_bytes();
    let end = bytes[from..]
        .iter()
        .position(|&b| b.is_ascii() && !b.is_ascii_alphanumeric())
        .map_or(bytes.len(), |k| from + k);
    split_by_chars(text, from, end, lower, f);
    (end, bytes[from..end].iter().any(u8::is_ascii_digit))
}

/// The runs of alphanumeric characters in `text[from..to]`, which holds non-ASCII bytes.
fn split_by_chars(text: &str, from: usize, to: usize, lower: &mut String, f: &mut dyn FnMut(Word<'_>)) {
    let bytes = text.as_bytes();
    let mut i = from;
    while i < to {
        let c = text[i..].chars().next().unwrap_or(' ');
        if !c.is_alphanumeric() {
            i += c.len_utf8();
            continue;
        }
        let start = i;
        let mut ascii = true;
        let mut letters = false;
        while i < to {
            let c = text[i..].chars().next().unwrap_or(' ');
            if !c.is_alphanumeric() {
                break;
            }
            ascii &= c.is_ascii();
            letters |= !c.is_ascii_digit();
            i += c.len_utf8();
        }
        if ascii {
            f(Word { source: bytes, range: start..i, start, end: i, number: !letters });
        } else {
            lower.clear();
            lower.extend(text[start..i].chars().flat_map(char::to_lowercase));
            f(Word { source: lower.as_bytes(), range: 0..lower.len(), start, end: i, number: false });
        }
    }
}

/// How a table value is tokenised (see the module docs).
fn tokens(value: &str) -> Tokens {
    let value = value.trim();
    if value.contains('@') && !value.contains(char::is_whitespace) {
        return if value.len() >= 3 { Tokens::Email(value.to_ascii_lowercase()) } else { Tokens::None };
    }
    if !value.chars().any(char::is_alphabetic) {
        let digits: String = value.chars().filter(char::is_ascii_digit).collect();
        return if digits.len() >= 4 { Tokens::Number(digits) } else { Tokens::None };
    }
    let mut words = Vec::new();
    let mut lower = String::new();
    for_each_word(value, &mut lower, ascii::masks_with_high, |word| {
        words.push(String::from_utf8_lossy(&word.source[word.range]).to_lowercase());
    });
    if words.iter().map(String::len).sum::<usize>() < 3 {
        return Tokens::None;
    }
    words.truncate(MAX_WORDS);
    Tokens::Words(words)
}

/// The fewest bytes a text can write a value of these tokens in: an e-mail address as it is,
/// a number's digits, words with one separator between them. A word's non-ASCII characters
/// count for nothing, since lowercasing can make them longer (`İ` is `i̇`); its ASCII ones count
/// a byte each, which the text spends at least.
fn written_length(tokens: &Tokens) -> usize {
    match tokens {
        Tokens::None => usize::MAX,
        Tokens::Email(token) | Tokens::Number(token) => token.len(),
        Tokens::Words(words) => {
            words.iter().map(|word| word.bytes().filter(u8::is_ascii).count()).sum::<usize>() + words.len() - 1
        }
    }
}

fn derive_keys(salt: &[u8]) -> [u64; 3] {
    let digest = Sha256::new().chain_update(b"egress edm v1\0").chain_update(salt).finalize();
    let word = |i: usize| u64::from_le_bytes(digest[i..i + 8].try_into().unwrap_or_default());
    [word(0), word(8), word(16)]
}

/// Final avalanche of MurmurHash3.
#[inline]
fn fmix64(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^ (x >> 33)
}

/// Keyed hash of one token, ASCII case folded: every byte is hashed with its `0x20` bit set,
/// which lowercases ASCII letters and leaves digits alone, so a word is hashed straight from
/// the text whatever its case. (It also merges `@` with `` ` `` and the like, harmlessly.)
fn token_hash(keys: &[u64; 2], bytes: &[u8]) -> u64 {
    token_hash_in(keys, bytes, 0, bytes.len())
}

const FOLD: u64 = 0x2020_2020_2020_2020;
const M1: u64 = 0x9e37_79b9_7f4a_7c15;
const M2: u64 = 0x2127_599b_f432_5c37;

/// [`token_hash`] of `within[start..end]`. A token of up to 8 bytes (most words) is one
/// 64-bit block read at once where `within` has room, mixed by a bijection (two multiplies),
/// so short tokens never collide; longer ones are folded a block at a time.
#[inline]
fn token_hash_in(keys: &[u64; 2], within: &[u8], start: usize, end: usize) -> u64 {
    let len = end - start;
    if len <= 8 {
        let mut h = ((head(within, start, end) | FOLD) ^ keys[0]).wrapping_mul(M1);
        h = (h ^ (h >> 32)).wrapping_mul(M2);
        return h ^ (h >> 29) ^ keys[1];
    }
    let mut h = keys[0] ^ (len as u64).wrapping_mul(M1);
    let (blocks, rest) = within[start..end].as_chunks::<8>();
    for &block in blocks {
        h = (h ^ (u64::from_le_bytes(block) | FOLD)).wrapping_mul(M2).rotate_left(29);
    }
    let tail = rest.iter().rev().fold(0u64, |x, &b| x << 8 | u64::from(b));
    h = (h ^ (tail | FOLD)).wrapping_mul(M2);
    fmix64(h ^ keys[1])
}

/// The first 8 bytes of `within[start..end]` (all of it when shorter, zero above), little
/// endian: one read where `within` has room.
#[inline(always)]
fn head(within: &[u8], start: usize, end: usize) -> u64 {
    let len = (end - start).min(8);
    match within.get(start..start + 8) {
        Some(eight) => {
            let mut word = [0u8; 8];
            word.copy_from_slice(eight);
            u64::from_le_bytes(word) & (u64::MAX >> (64 - 8 * len.max(1)))
        }
        None => within[start..start + len].iter().rev().fold(0u64, |x, &b| x << 8 | u64::from(b)),
    }
}

/// A set of words as one bit each for a keyed hash of their length and [`head`]: a cheaper
/// test than a [`Bloom`] probe (one multiply, one bit, no pass over a long word), with more
/// false positives, for the test that every word takes.
struct HeadSet {
    key: u64,
    bits: Vec<u64>,
    /// 64 minus the number of index bits.
    shift: u32,
    /// The first two bytes of the words of the set: the vector scan skips the set's test for
    /// a block where no word begins with such a pair.
    leading: ascii::LeadingPairs,
}

impl HeadSet {
    /// The set of the words of these [`head`]s and lengths.
    fn new(key: u64, mut words: Vec<(u64, usize)>) -> Self {
        words.sort_unstable();
        words.dedup();
        // About 16 bits a word (fewer past 16,384 words), so that about 1 prose word in 16
        // passes where it should not.
        let len = (words.len() * 16).next_power_of_two().clamp(1 << 12, 1 << 18);
        let mut set = Self {
            key,
            bits: vec![0; len / 64],
            shift: 64 - len.trailing_zeros(),
            leading: ascii::LeadingPairs::new(),
        };
        for (head, len) in words {
            let at = set.index(head, len);
            set.bits[at / 64] |= 1 << (at % 64);
            set.leading.add(&head.to_le_bytes()[..len.clamp(1, 8)]);
        }
        set
    }

    #[inline(always)]
    fn index(&self, head: u64, len: usize) -> usize {
        (((head | FOLD) ^ self.key ^ len as u64).wrapping_mul(M1) >> self.shift) as usize
    }

    /// False: `within[range]` (case folded) is certainly not in the set.
    #[inline(always)]
    fn may_contain(&self, within: &[u8], range: &std::ops::Range<usize>) -> bool {
        let at = self.index(head(within, range.start, range.end), range.len());
        self.bits.get(at / 64).is_some_and(|bits| bits >> (at % 64) & 1 == 1)
    }

    fn memory_bytes(&self) -> usize {
        self.bits.capacity() * 8
    }
}

/// Hash of a value from the hashes of its tokens, in order.
#[inline]
fn chain(keys: &[u64; 2], tokens: &[u64]) -> u64 {
    tokens.iter().fold(keys[1], |h, &t| chain_step(h, t))
}

/// [`chain`] of a value extended by one token.
#[inline]
fn chain_step(h: u64, token: u64) -> u64 {
    fmix64(h.rotate_left(23) ^ token)
}

/// Hash of two adjacent tokens of a value, for the pair filter.
#[inline]
fn pair_hash(first: u64, second: u64) -> u64 {
    fmix64(first.rotate_left(31) ^ second)
}

/// A filter holding `hashes`.
fn bloom_of(mut hashes: Vec<u64>) -> Bloom {
    hashes.sort_unstable();
    hashes.dedup();
    let mut filter = Bloom::with_keys(hashes.len());
    for hash in hashes {
        filter.insert(hash);
    }
    filter
}

/// Records of a CSV text: RFC 4180 quoting (`""` inside quotes), LF or CRLF line ends,
/// line breaks inside quoted fields; blank lines are skipped.
fn parse_csv(text: &str) -> Result<impl Iterator<Item = Vec<String>> + '_, String> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    let mut line = 1;
    let mut quote_line = 0;
    let mut any = false;
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => quoted = false,
                '\n' => {
                    line += 1;
                    field.push(c);
                }
                _ => field.push(c),
            }
            continue;
        }
        match c {
            '"' if field.is_empty() => {
                quoted = true;
                quote_line = line;
                any = true;
            }
            ',' => {
                record.push(std::mem::take(&mut field));
                any = true;
            }
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' => {
                line += 1;
                if any || !field.is_empty() {
                    record.push(std::mem::take(&mut field));
                    records.push(std::mem::take(&mut record));
                }
                any = false;
            }
            _ => {
                field.push(c);
                any = true;
            }
        }
    }
    if quoted {
        return Err(format!("line {quote_line}: unterminated quoted field"));
    }
    if any || !field.is_empty() {
        record.push(field);
        records.push(record);
    }
    Ok(records.into_iter())
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: [&str; 5] = ["name", "email", "account", "city", "note"];
    const SALT: &[u8] = b"test salt 0123456789";

    fn rows() -> Vec<Vec<&'static str>> {
        vec![
            vec!["Jane Q. Doe", "Jane.Doe@Example.com", "4412-0098-7731", "Springfield", "vip"],
            vec!["Ravi Kumar", "ravi.k@corp.example", "9900 1122 3344", "Shelbyville", ""],
            vec!["Zoë O'Brien-Smith", "zoe@example.org", "55-66-77-88-99", "Springfield", "x"],
        ]
    }

    fn customers() -> ExactDataMatch {
        ExactDataMatch::from_rows("customers", &HEADER, rows(), &["name", "email"], &["email", "account"], SALT)
            .expect("build")
    }

    fn scan(edm: &ExactDataMatch, text: &str) -> Vec<(String, f32)> {
        let mut out = Vec::new();
        edm.scan(text, &mut out);
        for m in &out {
            assert_eq!(m.detector, "edm");
            assert_eq!(m.category, Category::Edm);
            assert_eq!(m.label.as_deref(), Some("customers row match"));
        }
        out.into_iter().map(|m| (text[m.start..m.end].to_owned(), m.confidence)).collect()
    }

    fn spans(edm: &ExactDataMatch, text: &str) -> Vec<String> {
        let mut found: Vec<String> = scan(edm, text).into_iter().map(|(s, _)| s).collect();
        found.sort();
        found
    }

    #[test]
    fn primary_with_corroborating_value_of_the_same_row_is_found() {
        let edm = customers();
        assert_eq!(edm.rows(), 3);
        assert_eq!(spans(&edm, "Customer jane q doe, account 4412 0098 7731, is late"), ["jane q doe"]);
        // Case, spacing and punctuation differ.
        // The e-mail corroborates the name; the e-mail itself has no other corroborating value.
        assert_eq!(spans(&edm, "To: JANE.DOE@EXAMPLE.COM\nRe: Jane  Q Doe's account"), ["Jane  Q Doe"]);
        assert_eq!(spans(&edm, "{\"who\":\"Zoë O'Brien Smith\",\"acct\":\"5566778899\"}"), ["Zoë O'Brien Smith"]);
        assert_eq!(spans(&edm, "ravi.k@corp.example paid from 9900-1122-3344."), ["ravi.k@corp.example"]);
        // More corroborating columns, more confidence.
        let one = scan(&edm, "Jane Q Doe 4412 0098 7731");
        let two = scan(&edm, "Jane Q Doe 4412 0098 7731 jane.doe@example.com");
        let name_one = one.iter().find(|(s, _)| s == "Jane Q Doe").expect("name").1;
        let name_two = two.iter().find(|(s, _)| s == "Jane Q Doe").expect("name").1;
        assert!(name_two > name_one, "{name_two} vs {name_one}");
    }

    #[test]
    fn primary_alone_or_values_of_different_rows_are_not_found() {
        let edm = customers();
        assert!(scan(&edm, "please call Jane Q. Doe tomorrow").is_empty());
        assert!(scan(&edm, "write to jane.doe@example.com").is_empty());
        // Corroborating only.
        assert!(scan(&edm, "account 4412-0098-7731 in Springfield").is_empty());
        // Name of one row, account of another.
        assert!(scan(&edm, "Jane Q Doe, account 9900 1122 3344").is_empty());
        // Columns that are not corroborating (city) do not count.
        assert!(scan(&edm, "Jane Q Doe from Springfield").is_empty());
        // Part of a value is not the value.
        assert!(scan(&edm, "Jane Doe, account 4412 0098 773").is_empty());
        assert!(scan(&edm, "").is_empty());
    }

    #[test]
    fn one_word_values_are_found_past_the_single_word_filter() {
        let header = ["code", "owner", "badge"];
        let rows = [["Zephyrine", "kim@example.net", "A7"], ["Ostrava", "lee@example.net", "Q123456"]];
        let edm =
            ExactDataMatch::from_rows("customers", &header, rows, &["code"], &["owner", "badge"], SALT).expect("build");
        assert_eq!(spans(&edm, "ZEPHYRINE is owned by kim@example.net"), ["ZEPHYRINE"]);
        // A one-word value of letters and digits, as the corroborating value.
        assert_eq!(spans(&edm, "ostrava badge q123456"), ["ostrava"]);
        // Another row's owner does not corroborate, and a word that is no value is not one.
        assert!(scan(&edm, "Zephyrine and lee@example.net").is_empty());
        assert!(scan(&edm, "Zephyr is owned by kim@example.net").is_empty());
    }

    #[test]
    fn no_raw_value_is_kept() {
        let edm = customers();
        let mut memory: Vec<u8> = Vec::new();
        memory.extend(edm.label.as_bytes());
        memory.extend(edm.keys.iter().flat_map(|k| k.to_le_bytes()));
        for entry in 0..edm.index.len() {
            memory.extend(edm.index.value(entry).to_le_bytes());
        }
        memory.extend(edm.openers.bits.iter().flat_map(|bits| bits.to_le_bytes()));
        let debug = format!("{edm:?}");
        for row in rows() {
            for value in row.iter().filter(|v| v.len() >= 4) {
                for needle in [value.to_string(), value.to_lowercase(), value.replace([' ', '-'], "")] {
                    assert!(!debug.contains(&needle));
                    assert!(!memory.windows(needle.len()).any(|w| w == needle.as_bytes()), "{needle}");
                }
            }
        }
        // Another salt, other hashes: the same text is matched only with its own table.
        let other = ExactDataMatch::from_rows("c", &HEADER, rows(), &["name"], &["account"], b"other").expect("build");
        assert_ne!(other.keys, edm.keys);
    }

    #[test]
    fn csv_files_load_with_quotes_and_errors_name_the_problem() {
        let dir = std::env::temp_dir().join(format!("egress-edm-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("mkdir");
        let path = dir.join("customers.csv");
        std::fs::write(
            &path,
            "Name,E-mail,Account\r\n\"Doe, Jane\",jane@example.com,12345678\r\n\"Said \"\"Sam\"\" Li\",sam@x.io,\"8765 4321\"\r\n",
        )
        .expect("write");
        let edm = ExactDataMatch::from_csv(&path, &["name"], &["e-mail", "account"], SALT).expect("load");
        assert_eq!(edm.rows(), 2);
        let mut out = Vec::new();
        edm.scan("doe jane <jane@example.com>", &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].label.as_deref(), Some("customers row match"));
        out.clear();
        edm.scan("Said Sam Li: 87654321", &mut out);
        assert_eq!(out.len(), 1);
        let missing = ExactDataMatch::from_csv(&path, &["name"], &["phone"], SALT).expect_err("no phone column");
        assert!(missing.to_string().contains("phone"), "{missing}");
        std::fs::write(&path, "a,b\n\"x,1\n").expect("write");
        let broken = ExactDataMatch::from_csv(&path, &["a"], &["b"], SALT).expect_err("unterminated");
        assert!(broken.to_string().contains("line 2"), "{broken}");
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }

    #[test]
    fn value_tokenisation() {
        assert_eq!(tokens(" Jane.Doe@Example.COM "), Tokens::Email("jane.doe@example.com".into()));
        assert_eq!(tokens("+1 (555) 010-2030"), Tokens::Number("15550102030".into()));
        assert_eq!(tokens("123"), Tokens::None);
        assert_eq!(tokens("Li"), Tokens::None);
        assert_eq!(tokens("O'Brien-Smith"), Tokens::Words(vec!["o".into(), "brien".into(), "smith".into()]));
        assert_eq!(tokens("ÉLODIE  Ünal"), Tokens::Words(vec!["élodie".into(), "ünal".into()]));
        assert_eq!(tokens("1 2 3 4 5 6 Main Street"), Tokens::Words(["1", "2", "3", "4"].map(String::from).to_vec()));
    }

    #[test]
    fn a_text_as_short_as_a_value_can_be_written_is_scanned() {
        for value in ["Jane.Doe@Example.COM", "+1 (555) 010-2030", "O'Brien-Smith", "ÉLODIE  Ünal", "İlkay Kıvanç"]
        {
            // The value written as tightly as a text can: case folded, one space between words.
            let words = match tokens(value) {
                Tokens::Words(words) => words.join(" "),
                Tokens::Email(token) | Tokens::Number(token) => token,
                Tokens::None => unreachable!("{value}"),
            };
            let bound = written_length(&tokens(value));
            assert!(bound <= words.len() && bound <= value.len(), "{value}: {bound}");
        }
        // The shortest value, with its corroborating value, is found in a text of just them.
        let edm = ExactDataMatch::from_rows(
            "customers",
            &["name", "account"],
            [["Al Bo", "1234"]],
            &["name"],
            &["account"],
            SALT,
        )
        .expect("build");
        assert_eq!(edm.shortest, 4);
        assert_eq!(scan(&edm, "al bo 1234").len(), 1);
        assert!(scan(&edm, "al").is_empty());
    }

    /// A function of [`ascii::masks_with_high`]'s type.
    type ByteMasks = dyn Fn(&[u8]) -> (u64, u64, u64);

    /// The words of `text` by a walk over its characters: maximal runs of alphanumeric
    /// characters, lowercased when not ASCII, with whether they are all ASCII digits.
    fn reference_words(text: &str) -> Vec<(usize, usize, String, bool)> {
        let mut out = Vec::new();
        let mut run: Option<usize> = None;
        for (i, c) in text.char_indices().chain([(text.len(), ' ')]) {
            match (run, c.is_alphanumeric()) {
                (None, true) => run = Some(i),
                (Some(start), false) => {
                    let word = &text[start..i];
                    let number = word.bytes().all(|b| b.is_ascii_digit());
                    let source = if word.is_ascii() { word.to_string() } else { word.to_lowercase() };
                    out.push((start, i, source, number));
                    run = None;
                }
                _ => {}
            }
        }
        out
    }

    /// A text of `count` pieces picked at random.
    pub(super) fn random_text(state: &mut u64, pieces: &[&str], count: usize) -> String {
        (0..count)
            .map(|_| {
                *state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                pieces[(*state >> 33) as usize % pieces.len()]
            })
            .collect()
    }

    /// The grouped-number search as first written: every run of groups collected, then every
    /// span of 2..=MAX_DIGIT_GROUPS of them concatenated (the groups split by the same rule).
    fn numbers_reference(edm: &ExactDataMatch, text: &str) -> Vec<Hit> {
        let bytes = text.as_bytes();
        let mut hits = Vec::new();
        let mut i = 0;
        while let Some(next) = (i..bytes.len()).find(|&k| bytes[k].is_ascii_digit()) {
            i = next;
            let mut groups = Vec::new();
            loop {
                let start = i;
                i = digits_end(bytes, i);
                groups.push((start, i));
                match next_group(bytes, i) {
                    Some(next) => i = next,
                    None => break,
                }
            }
            for first in 0..groups.len() {
                let mut digits = Vec::new();
                for last in first..groups.len().min(first + MAX_DIGIT_GROUPS) {
                    digits.extend_from_slice(&bytes[groups[last].0..groups[last].1]);
                    if last == first || digits.len() < 4 {
                        continue;
                    }
                    let hash = token_hash(&edm.keys, &digits);
                    if edm.filters[NUMBER].may_contain(hash) {
                        edm.lookup(chain(&edm.keys, &[hash]), groups[first].0, groups[last].1, &mut hits);
                    }
                }
            }
        }
        hits.sort_unstable();
        hits
    }

    #[test]
    fn grouped_numbers_agree_with_collecting_the_groups_first() {
        // Accounts of 4 to 80 digits, written in groups of every width, among stray digits.
        let mut state = 11u64;
        let mut next = |below: u64| {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (state >> 33) % below
        };
        let accounts: Vec<String> = (0..40)
            .map(|n| {
                (0..[4, 7, 10, 12, 16, 63, 64, 65, 80][n % 9]).map(|_| char::from(b'0' + next(10) as u8)).collect()
            })
            .collect();
        let rows: Vec<Vec<String>> =
            accounts.iter().enumerate().map(|(n, account)| vec![format!("Person {n}"), account.clone()]).collect();
        let edm = ExactDataMatch::from_rows("accounts", &["name", "account"], rows, &["account"], &["name"], SALT)
            .expect("build");
        const SEPARATORS: [&str; 9] = [" ", "-", ".", "(", ") ", "+", "/", " - ", "x"];
        let mut found = 0;
        for _ in 0..2000 {
            let mut text = String::new();
            for _ in 0..1 + next(4) {
                let account = &accounts[next(accounts.len() as u64) as usize];
                let mut at = 0;
                while at < account.len() {
                    let width = (1 + next(8) as usize).min(account.len() - at);
                    text.push_str(&account[at..at + width]);
                    at += width;
                    if at < account.len() || next(2) == 0 {
                        text.push_str(SEPARATORS[next(SEPARATORS.len() as u64) as usize]);
                    }
                }
                for _ in 0..next(3) {
                    text.push_str(&next(100_000).to_string());
                    text.push_str(SEPARATORS[next(SEPARATORS.len() as u64) as usize]);
                }
            }
            let mut hits = Vec::new();
            edm.scan_numbers(&text, &mut hits);
            hits.sort_unstable();
            assert_eq!(hits, numbers_reference(&edm, &text), "{text}");
            found += hits.len();
        }
        assert!(found > 300, "the texts hold accounts: {found} hits");
    }

    #[test]
    fn words_split_by_masks_agree_with_a_character_walk() {
        let long_ascii = "aB3".repeat(30);
        let long_mixed = "xé".repeat(30);
        let pieces = [
            "ab",
            "Z9",
            "0",
            "42",
            " ",
            "-",
            "é",
            "Ü",
            "—",
            "\u{a0}",
            "x",
            ".",
            "12345678901",
            "東京",
            &long_ascii,
            &long_mixed,
        ];
        let mut state = 5u64;
        for len in [0, 1, 7, 63, 64, 65, 130, 400].into_iter().chain([40; 100]) {
            let text = random_text(&mut state, &pieces, len);
            let expected = reference_words(&text);
            let split = |masks: &ByteMasks| {
                let mut got = Vec::new();
                let mut lower = String::new();
                for_each_word(&text, &mut lower, masks, |w| {
                    let source = String::from_utf8_lossy(&w.source[w.range]).into_owned();
                    got.push((w.start, w.end, source, w.number));
                });
                got
            };
            assert_eq!(split(&ascii::masks_with_high), expected, "{text:?}");
            #[cfg(target_arch = "x86_64")]
            if ascii::avx512::available() {
                // SAFETY: `available()` checked that the processor has the target features.
                assert_eq!(split(&|block| unsafe { ascii::avx512::masks_with_high(block) }), expected, "{text:?}");
            }
        }
    }

    #[test]
    fn word_runs_found_past_the_filters_are_all_runs_of_indexed_values() {
        // Leads and one-word values that share their first 8 bytes or their length with
        // prose words, values of more than 8 bytes, non-ASCII and numeric words.
        let header = ["name", "account"];
        let rows = [
            ["Quarterlyman Reportage", "1001"],
            ["Quarterly Report", "1002"],
            ["Person 12 report", "1003"],
            ["Zoë O'Brien-Smith", "1004"],
            ["Maximilianus Bartholomew Fitzgerald Jr", "1005"],
            ["Zephyrine", "1006"],
            ["Q123456", "1007"],
            ["ÉLODIE Ünal", "1008"],
            ["the report", "1009"],
        ];
        let edm = ExactDataMatch::from_rows("t", &header, rows, &["name"], &["account"], SALT).expect("build");
        let reference = |text: &str| {
            let words = reference_words(text);
            let hashes: Vec<u64> = words.iter().map(|w| token_hash(&edm.keys, w.2.as_bytes())).collect();
            let mut hits = Vec::new();
            for last in 0..words.len() {
                for first in last.saturating_sub(MAX_WORDS - 1)..=last {
                    edm.lookup(chain(&edm.keys, &hashes[first..=last]), words[first].0, words[last].1, &mut hits);
                }
            }
            hits.sort_unstable();
            hits
        };
        let separators = ["", " ", " ", "  ", "-", ", ", "'", "\u{a0}", "—", "é"];
        let pieces = [
            "quarterly",
            "QUARTERLYMAN",
            "quarterlymen",
            "Reportage",
            "report",
            "Report",
            "person",
            "12",
            "120",
            "zoë",
            "ZOË",
            "o",
            "brien",
            "smith",
            "maximilianus",
            "bartholomew",
            "fitzgerald",
            "jr",
            "zephyrine",
            "zephyrines",
            "q123456",
            "élodie",
            "ünal",
            "the",
            "é",
            "1001",
            "x",
            &"z".repeat(70),
            // Whole values, in other case and spacing.
            "Quarterly  REPORT",
            "person 12-report",
            "zoë o'brien smith",
            "MAXIMILIANUS Bartholomew fitzgerald JR",
            "élodie\u{a0}ünal",
        ];
        let mut state = 11u64;
        let mut found = 0;
        for count in (0..40).chain([50; 300]) {
            let text: String = (0..count)
                .map(|_| random_text(&mut state, &pieces, 1) + &random_text(&mut state, &separators, 1))
                .collect();
            let expected = reference(&text);
            found += expected.len();
            let scan = |words: &dyn Fn(&str, &mut Vec<Hit>) -> bool| {
                let mut hits = Vec::new();
                let digits = words(&text, &mut hits);
                assert_eq!(digits, text.bytes().any(|b| b.is_ascii_digit()), "{text:?}");
                hits.sort_unstable();
                hits.dedup();
                hits
            };
            assert_eq!(scan(&|t, h| edm.scan_words_with(t, h, ascii::masks_with_high)), expected, "{text:?}");
            assert_eq!(scan(&|t, h| edm.scan_words(t, h)), expected, "{text:?}");
        }
        // Runs of every length were there to find.
        assert!(found > 1000, "{found}");
    }

    #[test]
    fn heads_read_at_once_agree_with_a_byte_walk() {
        let text = b"abcdefghijklmnopqrstuvwxyz0123";
        for n in 0..=text.len() {
            let within = &text[..n];
            for start in 0..n {
                for end in start + 1..=n {
                    let first = &within[start..end.min(start + 8)];
                    let expected = first.iter().rev().fold(0u64, |x, &b| x << 8 | u64::from(b));
                    assert_eq!(head(within, start, end), expected, "{n} {start} {end}");
                }
            }
        }
    }

    #[test]
    fn values_shared_by_many_rows_are_not_indexed() {
        let many: Vec<Vec<String>> =
            (0..MAX_ROWS_PER_VALUE + 1).map(|i| vec![format!("person {i:04}"), "Common Value".into()]).collect();
        let edm = ExactDataMatch::from_rows("t", &["n", "c"], many, &["n"], &["c"], SALT).expect("build");
        let mut out = Vec::new();
        edm.scan("person 0007 with common value", &mut out);
        assert!(out.is_empty());
    }
}
