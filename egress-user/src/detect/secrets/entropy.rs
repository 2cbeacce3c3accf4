//! Statistics and filters that tell a random secret from text that only looks like one:
//! Shannon entropy, placeholders and templates, UUIDs, hashes, sequences, words, paths.
//!
//! Everything here works on ASCII bytes and never allocates: the values it sees are capped
//! by the callers (a few hundred bytes at most).

use std::sync::LazyLock;

use aho_corasick::{AhoCorasick, AhoCorasickKind, Anchored, Input, StartKind};

use super::Bigrams;

/// Shannon entropy in bits per byte.
pub(crate) fn shannon(s: &[u8]) -> f32 {
    if s.is_empty() {
        return 0.0;
    }
    let mut counts = [0u32; 256];
    // Which bytes occur, so that only those are visited (in byte order, as the sum's
    // rounding depends on it): a branch per possible byte mispredicted more than it saved.
    // Each byte sets its bit in all four words through a mask, so the words stay in
    // registers (indexing them put them in memory, each byte waiting on the last store).
    let mut present = [0u64; 4];
    for &b in s {
        counts[b as usize] += 1;
        let bit = 1u64 << (b & 63);
        for (quarter, word) in (0u8..).zip(present.iter_mut()) {
            *word |= bit & 0u64.wrapping_sub(u64::from(b >> 6 == quarter));
        }
    }
    // A term depends only on its count and the length, and a secret's bytes mostly occur
    // a few times each: the terms of small counts come from a table (a lazy cache's branch
    // mispredicted, and computing them per value cost four `log2` calls).
    let computed;
    let small_terms = match SMALL_TERMS.get(s.len()) {
        Some(row) => row,
        None => {
            computed = small_terms(s.len());
            &computed
        }
    };
    let mut h = 0.0f32;
    for (word, mut bits) in present.into_iter().enumerate() {
        while bits != 0 {
            let count = counts[word * 64 + bits.trailing_zeros() as usize];
            h -= small_terms.get(count as usize).copied().unwrap_or_else(|| term(count, s.len()));
            bits &= bits - 1;
        }
    }
    h
}

/// Counts up to this many get their [`shannon`] term from a table.
const SMALL_COUNTS: usize = 4;

/// Lengths up to this one have their row of [`SMALL_TERMS`] (a generic token's longest).
const TABLED_LEN: usize = 512;

/// [`small_terms`] of every length up to [`TABLED_LEN`].
static SMALL_TERMS: LazyLock<Vec<[f32; SMALL_COUNTS + 1]>> =
    LazyLock::new(|| (0..=TABLED_LEN).map(small_terms).collect());

/// A count's term of the entropy sum of a value `len` bytes long.
fn term(count: u32, len: usize) -> f32 {
    let p = count as f32 / len as f32;
    p * p.log2()
}

/// The terms of counts 0 to [`SMALL_COUNTS`] (0 and counts above `len` never occur).
fn small_terms(len: usize) -> [f32; SMALL_COUNTS + 1] {
    let mut terms = [0.0f32; SMALL_COUNTS + 1];
    for (count, slot) in (1..).zip(&mut terms[1..=len.min(SMALL_COUNTS)]) {
        *slot = term(count, len);
    }
    terms
}

/// Which kinds of characters a value has.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Classes {
    pub lower: usize,
    pub upper: usize,
    pub digit: usize,
    pub other: usize,
}

impl Classes {
    pub(crate) fn of(s: &[u8]) -> Self {
        let (mut lower, mut upper, mut digit) = (0, 0, 0);
        // Sums of comparisons rather than a branch per byte, in one pass with byte-wide
        // counters (a chunk of 255 cannot overflow them): the compiler vectorizes this at
        // full width, where `usize` sums widened every byte to 64 bits.
        for chunk in s.chunks(255) {
            let (mut l, mut u, mut d) = (0u8, 0u8, 0u8);
            for &b in chunk {
                l += u8::from(b.wrapping_sub(b'a') < 26);
                u += u8::from(b.wrapping_sub(b'A') < 26);
                d += u8::from(b.wrapping_sub(b'0') < 10);
            }
            (lower, upper, digit) = (lower + usize::from(l), upper + usize::from(u), digit + usize::from(d));
        }
        Self { lower, upper, digit, other: s.len() - lower - upper - digit }
    }

    pub(crate) fn alnum(self) -> usize {
        self.lower + self.upper + self.digit
    }

    /// How many of lower, upper, digit and other occur at all.
    pub(crate) fn kinds(self) -> usize {
        [self.lower, self.upper, self.digit, self.other].iter().filter(|&&n| n > 0).count()
    }
}

pub(crate) fn is_hex(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(u8::is_ascii_hexdigit)
}

/// `8-4-4-4-12` hex digits: identifiers, not secrets (a few providers use them as keys, and
/// those are caught by their context rules instead).
pub(crate) fn is_uuid(s: &[u8]) -> bool {
    s.len() == 36
        && s.iter()
            .enumerate()
            .all(|(i, &b)| if matches!(i, 8 | 13 | 18 | 23) { b == b'-' } else { b.is_ascii_hexdigit() })
}

/// Hex of a digest's length (MD5, SHA-1 / git, SHA-256, SHA-384, SHA-512).
pub(crate) fn is_hash_like(s: &[u8]) -> bool {
    matches!(s.len(), 32 | 40 | 64 | 96 | 128) && is_hex(s)
}

pub(crate) fn is_same_char(s: &[u8]) -> bool {
    s.first().is_some_and(|&f| s.iter().all(|b| b.eq_ignore_ascii_case(&f)))
}

/// `abcdef`, `123456789`, `zyxw`, or a short pattern repeated (`abcabcabc`, `1a2b1a2b`).
pub(crate) fn is_sequence(s: &[u8]) -> bool {
    if s.len() < 6 {
        return false;
    }
    // Pairs rather than `windows(2)`, and a sum of small counts: the compiler vectorizes
    // this form.
    let steps: u32 = s
        .iter()
        .zip(&s[1..])
        .map(|(a, b)| {
            let (a, b) = (a.to_ascii_lowercase(), b.to_ascii_lowercase());
            u32::from(b == a.wrapping_add(1) || a == b.wrapping_add(1))
        })
        .sum();
    let steps = steps as usize;
    if steps * 4 >= (s.len() - 1) * 3 {
        return true;
    }
    // Smallest period up to 8 that covers the value at least three times.
    (1..=8usize).any(|p| s.len() >= p * 3 && (p..s.len()).all(|i| s[i] == s[i - p]))
}

/// Share of letters that sit in word-like runs: a lowercase run of at least four letters,
/// counting one leading capital (`Element` in `getElementById`). Random base62 keeps this
/// near 10%, identifiers and prose near 100%.
pub(crate) fn is_wordy(s: &[u8]) -> bool {
    // Without a branch per byte: random case changes mispredicted most of them. A capital
    // or any other byte ends the current run; a capital also starts the next one.
    let (mut in_words, mut letters, mut run) = (0usize, 0usize, 0usize);
    for &b in s {
        let lower = b.is_ascii_lowercase();
        let upper = b.is_ascii_uppercase();
        letters += usize::from(lower || upper);
        if !lower {
            in_words += if run >= 4 { run } else { 0 };
        }
        run = if lower { run + 1 } else { usize::from(upper) };
    }
    in_words += if run >= 4 { run } else { 0 };
    letters > 0 && in_words * 2 >= s.len()
}

/// A file path or a URL path, not a key: `/etc/ssl/x`, `./a/b`, `src/components/header`.
pub(crate) fn looks_like_path(s: &[u8]) -> bool {
    if matches!(s.first(), Some(b'/' | b'~' | b'.')) || s.contains(&b'\\') {
        return true;
    }
    if !s.contains(&b'/') || s.contains(&b'+') {
        return false;
    }
    s.split(|&b| b == b'/').all(|seg| {
        seg.is_empty()
            || is_wordy(seg)
            || (seg.len() <= 12
                && seg.iter().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'-' | b'.')))
    })
}

/// Words that mark a value as an example or an instruction to fill something in.
const PLACEHOLDER_MARKS: &[&[u8]] = &[
    b"xxxx",
    b"****",
    b"....",
    "\u{2026}".as_bytes(),
    "\u{2022}".as_bytes(),
    b"your",
    b"example",
    b"placeholder",
    b"changeme",
    b"change_me",
    b"change-me",
    b"replace",
    b"redacted",
    b"dummy",
    b"sample",
    b"insert",
    b"<",
    b">",
    b"${",
    b"{{",
    b"}}",
    b"%(",
    b"todo",
    b"fixme",
    b"qwerty",
    b"asdf",
];

/// A search for a list of (lowercase) marks in any ASCII case, built once: a substring
/// searcher built per mark per value (what `memmem::find` does) cost more than the rest of
/// a keyword hit, and an unanchored automaton walks every byte, a dependent load each.
/// Here an anchored automaton runs only where a mark's first two bytes are, which few
/// places in a random value are.
struct Marks {
    automaton: AhoCorasick,
    /// The pairs of bytes a mark starts with, in every case (so that a value's bytes are
    /// looked up as they are); a one-byte mark has every pair it starts.
    starts: Box<Bigrams>,
}

impl Marks {
    fn new(marks: &[&[u8]]) -> Self {
        let automaton = AhoCorasick::builder()
            .kind(Some(AhoCorasickKind::DFA))
            .ascii_case_insensitive(true)
            .start_kind(StartKind::Anchored)
            .build(marks)
            .expect("the mark lists build an automaton");
        let mut starts = Bigrams::empty();
        let cases = |b: u8| [b.to_ascii_lowercase(), b.to_ascii_uppercase()];
        for mark in marks {
            for first in cases(mark[0]) {
                match mark.get(1) {
                    Some(&second) => cases(second).into_iter().for_each(|second| starts.insert(first, second)),
                    None => (0..=u8::MAX).for_each(|second| starts.insert(first, second)),
                }
            }
        }
        Self { automaton, starts }
    }

    /// Whether a mark is in the first [`MARKS_SPAN`] bytes of `s`.
    fn is_in(&self, s: &[u8]) -> bool {
        let s = &s[..s.len().min(MARKS_SPAN)];
        (0..s.len()).any(|at| {
            // After the last byte, a zero: only a one-byte mark starts a pair with it.
            let next = s.get(at + 1).copied().unwrap_or(0);
            self.starts.has(s[at], next)
                && self.automaton.find(Input::new(s).range(at..).anchored(Anchored::Yes)).is_some()
        })
    }
}

/// The part of a value the mark searches look at.
const MARKS_SPAN: usize = 512;

/// The placeholder marks and the template references ([`TEMPLATE_REFS`]) in one search,
/// since a placeholder check asks for both.
static PLACEHOLDER_OR_TEMPLATE_SEARCH: LazyLock<Marks> =
    LazyLock::new(|| Marks::new(&[PLACEHOLDER_MARKS, TEMPLATE_REFS].concat()));

/// Whole values (lowercased, separators dropped) that are a name or a word, not a secret.
const PLACEHOLDER_WORDS: &[&[u8]] = &[
    b"password",
    b"password1",
    b"password123",
    b"passwd",
    b"pass",
    b"pwd",
    b"secret",
    b"secretkey",
    b"secretvalue",
    b"mysecret",
    b"mypassword",
    b"token",
    b"accesstoken",
    b"apikey",
    b"apitoken",
    b"privatekey",
    b"clientsecret",
    b"bearer",
    b"basic",
    b"test",
    b"testing",
    b"string",
    b"value",
    b"default",
    b"none",
    b"null",
    b"nil",
    b"undefined",
    b"true",
    b"false",
    b"empty",
    b"foo",
    b"bar",
    b"foobar",
    b"hidden",
    b"masked",
    b"removed",
    b"sensitive",
    b"notset",
    b"unset",
    b"tbd",
    b"admin",
    b"root",
    b"user",
    b"username",
    b"letmein",
];

/// An example value, a template reference (`${VAR}`, `$VAR`, `{{ x }}`, `%VAR%`, `<x>`,
/// `process.env.X`, `vault:...`), a keyword used as its own value, or a value too regular
/// to be a random secret.
pub(crate) fn is_placeholder(s: &[u8]) -> bool {
    if s.is_empty() || is_same_char(s) || has_template_form(s) {
        return true;
    }
    if PLACEHOLDER_OR_TEMPLATE_SEARCH.is_in(s) {
        return true;
    }
    let span = &s[..s.len().min(MARKS_SPAN)];
    let alnum = Classes::of(span).alnum();
    // Only a value with as few letters and digits as a word can be one.
    if (1..=LONGEST_PLACEHOLDER_WORD).contains(&alnum) {
        let mut word = [0u8; LONGEST_PLACEHOLDER_WORD];
        for (slot, b) in word.iter_mut().zip(span.iter().filter(|b| b.is_ascii_alphanumeric())) {
            *slot = b.to_ascii_lowercase();
        }
        if PLACEHOLDER_WORDS.contains(&&word[..alnum]) {
            return true;
        }
    }
    alnum == 0 || is_sequence(s)
}

/// Length of the longest of [`PLACEHOLDER_WORDS`].
const LONGEST_PLACEHOLDER_WORD: usize = {
    let mut longest = 0;
    let mut i = 0;
    while i < PLACEHOLDER_WORDS.len() {
        if PLACEHOLDER_WORDS[i].len() > longest {
            longest = PLACEHOLDER_WORDS[i].len();
        }
        i += 1;
    }
    longest
};

/// Marks of a reference to a value kept elsewhere: `${VAR}`, `{{ x }}`, `process.env.X`,
/// `os.environ[...]`, `secrets.X`, `op://vault/item`, `vault:...`.
const TEMPLATE_REFS: &[&[u8]] = &[
    b"${",
    b"{{",
    b"<%",
    b"#{",
    b"$(",
    b"process.env",
    b"os.environ",
    b"getenv",
    b"env(",
    b"env[",
    b"secrets.",
    b"op://",
    b"vault:",
    b"keyvault",
    b"ref+",
];

/// A reference by its first and last bytes (`$VAR`, `%VAR%`, `{x}`, `<x>`, `[x]`), or empty.
fn has_template_form(s: &[u8]) -> bool {
    let (Some(&first), Some(&last)) = (s.first(), s.last()) else { return true };
    first == b'$' && s.get(1).is_some_and(|&b| b.is_ascii_alphabetic() || matches!(b, b'_' | b'{' | b'('))
        || (first == b'%' && last == b'%')
        || (first == b'{' && last == b'}')
        || (first == b'<' && last == b'>')
        || (first == b'[' && last == b']')
}

/// A constant name standing for the value (`MY_API_KEY`), not the value.
pub(crate) fn is_constant_name(s: &[u8]) -> bool {
    s.iter().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || *b == b'_')
        && s.contains(&b'_')
        && s.first().is_some_and(u8::is_ascii_uppercase)
}

/// Marks of an example token body.
const FAKE_MARKS: &[&[u8]] = &[b"xxxx", b"****", b"example", b"your", b"placeholder", b"00000000", b"redacted"];

/// The body of a provider token that is plainly not a real one: an example marker, one
/// character repeated, a sequence, or far too few distinct characters.
pub(crate) fn looks_fake(body: &[u8]) -> bool {
    if body.len() < 8 {
        return false;
    }
    if is_same_char(body) || is_sequence(body) {
        return true;
    }
    static SEARCH: LazyLock<Marks> = LazyLock::new(|| Marks::new(FAKE_MARKS));
    if SEARCH.is_in(body) {
        return true;
    }
    let mut seen = [false; 256];
    let mut distinct = 0;
    for &b in body {
        if !seen[b as usize] {
            seen[b as usize] = true;
            distinct += 1;
        }
    }
    // Random base62 of 16 characters has about 14 distinct ones, random hex of 64 about 16.
    distinct * 6 < body.len().min(64)
}

/// Entropy a keyword-anchored token needs to count as a generic secret. Random strings of
/// a few dozen characters fall short of their alphabet's log2 since not every symbol occurs,
/// so the bars sit well under the maxima (hex 4.0, base64 6.0): hex >= 3.0 bits; other
/// alphabets >= 3.5 bits below 32 characters and >= 4.0 bits from 32 on. English words
/// and camelCase identifiers of that length sit around 3.0 to 3.8 and are also cut by
/// [`is_wordy`].
pub(crate) fn entropy_threshold(token: &[u8]) -> f32 {
    if is_hex(token) {
        3.0
    } else if token.len() < 32 {
        3.5
    } else {
        4.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The sum over all 256 byte values, in order: what [`shannon`] must equal bit for bit.
    fn shannon_reference(s: &[u8]) -> f32 {
        let mut counts = [0u32; 256];
        for &b in s {
            counts[b as usize] += 1;
        }
        let n = s.len() as f32;
        counts.iter().filter(|&&c| c > 0).fold(0.0f32, |h, &c| {
            let p = c as f32 / n;
            h - p * p.log2()
        })
    }

    #[test]
    fn entropy_is_the_reference_sum_bit_for_bit() {
        let mut seed = 7u64;
        for len in 1..600 {
            let value: Vec<u8> = (0..len)
                .map(|_| {
                    seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                    let r = (seed >> 33) as u8;
                    if len % 3 == 0 { r } else { b'0' + r % 75 }
                })
                .collect();
            assert_eq!(shannon(&value).to_bits(), shannon_reference(&value).to_bits(), "{value:?}");
        }
    }

    /// Values made of marks, words, separators and random bytes, in every case, plus
    /// every length up to a few dozen: what the filters below are compared on.
    fn adversarial_values() -> Vec<Vec<u8>> {
        let mut pieces: Vec<&[u8]> =
            PLACEHOLDER_MARKS.iter().chain(TEMPLATE_REFS).chain(PLACEHOLDER_WORDS).copied().collect();
        pieces.extend([
            &b"k9Qz"[..],
            b"2LmW",
            b"_",
            b"-",
            b" ",
            b"$",
            b"%",
            b"{",
            b"}",
            b"[",
            b"]",
            b"abc",
            b"9876",
            b"\xc3\xa9",
            b"\xe2\x80",
            b"A",
            b"defghi",
            b"345678",
            b"zyx",
            b"ab1ab1ab1",
        ]);
        // As many random pieces again, so that about half the values are no placeholder.
        let random: Vec<&[u8]> = [&b"q7"[..], b"W3", b"Zk", b"8v", b"Np", b"Lx", b"0r", b"Tj"].repeat(8);
        pieces.extend(random);
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut pick = move |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n as u64) as usize
        };
        let mut values = Vec::new();
        for _ in 0..20_000 {
            let mut value = Vec::new();
            for _ in 0..1 + pick(4) {
                let piece = pieces[pick(pieces.len())];
                if pick(2) == 0 { value.extend(piece.to_ascii_uppercase()) } else { value.extend(piece) }
            }
            values.push(value);
        }
        for len in 0..80 {
            values.push((0..len).map(|_| b"aAzZ09_-.%$\xff"[pick(12)]).collect());
        }
        values.push(vec![b'a'; 600]);
        values
    }

    /// The placeholder check as it was: the template references searched on their own.
    fn is_placeholder_reference(s: &[u8]) -> bool {
        static SEARCHES: LazyLock<[AhoCorasick; 2]> = LazyLock::new(|| {
            [TEMPLATE_REFS, PLACEHOLDER_MARKS]
                .map(|marks| AhoCorasick::builder().ascii_case_insensitive(true).build(marks).expect("marks"))
        });
        let span = &s[..s.len().min(MARKS_SPAN)];
        if s.is_empty() || is_same_char(s) || has_template_form(s) || SEARCHES.iter().any(|a| a.is_match(span)) {
            return true;
        }
        let word: Vec<u8> = s[..s.len().min(MARKS_SPAN)]
            .iter()
            .filter(|b| b.is_ascii_alphanumeric())
            .map(u8::to_ascii_lowercase)
            .collect();
        if word.len() <= 64 && PLACEHOLDER_WORDS.contains(&word.as_slice()) {
            return true;
        }
        word.is_empty() || is_sequence_reference(s)
    }

    /// The word check as it was: a walk from run to run.
    fn is_wordy_reference(s: &[u8]) -> bool {
        let mut in_words = 0usize;
        let mut letters = 0usize;
        let mut i = 0;
        while i < s.len() {
            let start = i;
            if s[i].is_ascii_uppercase() {
                i += 1;
            }
            while i < s.len() && s[i].is_ascii_lowercase() {
                i += 1;
            }
            let run = i - start;
            if run == 0 {
                i += 1;
                continue;
            }
            letters += run;
            if run >= 4 {
                in_words += run;
            }
        }
        letters > 0 && in_words * 2 >= s.len()
    }

    /// The fake-body check as it was: an unanchored search for its marks.
    fn looks_fake_reference(body: &[u8]) -> bool {
        static SEARCH: LazyLock<AhoCorasick> =
            LazyLock::new(|| AhoCorasick::builder().ascii_case_insensitive(true).build(FAKE_MARKS).expect("marks"));
        if body.len() < 8 {
            return false;
        }
        if is_same_char(body) || is_sequence_reference(body) || SEARCH.is_match(&body[..body.len().min(MARKS_SPAN)]) {
            return true;
        }
        let distinct = body.iter().collect::<std::collections::BTreeSet<_>>().len();
        distinct * 6 < body.len().min(64)
    }

    fn is_sequence_reference(s: &[u8]) -> bool {
        if s.len() < 6 {
            return false;
        }
        let steps = s
            .windows(2)
            .filter(|w| {
                let (a, b) = (w[0].to_ascii_lowercase(), w[1].to_ascii_lowercase());
                b == a.wrapping_add(1) || a == b.wrapping_add(1)
            })
            .count();
        steps * 4 >= (s.len() - 1) * 3
            || (1..=8usize).any(|p| s.len() >= p * 3 && (p..s.len()).all(|i| s[i] == s[i - p]))
    }

    #[test]
    fn filters_match_their_plain_versions() {
        let (mut placeholders, mut sequences, mut wordy) = (0, 0, 0);
        for value in adversarial_values() {
            let shown = String::from_utf8_lossy(&value);
            let placeholder = is_placeholder_reference(&value);
            assert_eq!(is_placeholder(&value), placeholder, "{shown}");
            assert_eq!(is_sequence(&value), is_sequence_reference(&value), "{shown}");
            assert_eq!(looks_fake(&value), looks_fake_reference(&value), "{shown}");
            assert_eq!(is_wordy(&value), is_wordy_reference(&value), "{shown}");
            wordy += usize::from(is_wordy_reference(&value));
            let mut classes = Classes::default();
            for &b in &value {
                match b {
                    b'a'..=b'z' => classes.lower += 1,
                    b'A'..=b'Z' => classes.upper += 1,
                    b'0'..=b'9' => classes.digit += 1,
                    _ => classes.other += 1,
                }
            }
            assert_eq!(Classes::of(&value), classes, "{shown}");
            assert_eq!(shannon(&value).to_bits(), shannon_reference(&value).to_bits(), "{shown}");
            placeholders += usize::from(placeholder);
            sequences += usize::from(is_sequence_reference(&value));
        }
        assert!(
            (1_000..19_000).contains(&placeholders) && sequences > 100 && (1_000..19_000).contains(&wordy),
            "{placeholders} placeholders, {sequences} sequences, {wordy} wordy"
        );
    }

    #[test]
    fn entropy_of_known_strings() {
        assert_eq!(shannon(b""), 0.0);
        assert_eq!(shannon(b"aaaa"), 0.0);
        assert!((shannon(b"ab") - 1.0).abs() < 1e-6);
        assert!((shannon(b"0123456789abcdef") - 4.0).abs() < 1e-5);
    }

    #[test]
    fn filters_say_what_they_mean() {
        assert!(is_uuid(b"123e4567-e89b-12d3-a456-426614174000"));
        assert!(!is_uuid(b"123e4567-e89b-12d3-a456-42661417400g"));
        assert!(is_hash_like(b"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
        assert!(!is_hash_like(b"e3b0c44298fc1c149afbf4c8996fb924"[..31].as_ref()));
        assert!(is_sequence(b"abcdefghij"));
        assert!(is_sequence(b"9876543210"));
        assert!(is_sequence(b"abcabcabcabc"));
        assert!(!is_sequence(b"k9Qz2LmW8vXp"));
        assert!(is_wordy(b"getElementsByTagName"));
        assert!(is_wordy(b"thisisjustaverylongword"));
        assert!(!is_wordy(b"k9Qz2LmW8vXpR4tYbN7cD1sF"));
        assert!(looks_like_path(b"/usr/local/bin/python3"));
        assert!(looks_like_path(b"src/components/HeaderNavigationBar"));
        assert!(!looks_like_path(b"wJalrXUtnFEMI/K7MDENG/bPxRfiCYzzzzKEY"));
        for p in [&b"${AWS_SECRET}"[..], b"{{ secret }}", b"<password>", b"%DB_PASS%", b"$PASSWORD", b"********"] {
            assert!(is_placeholder(p), "{}", String::from_utf8_lossy(p));
        }
        for p in [&b"changeme"[..], b"your-api-key", b"Password", b"process.env.TOKEN", b"123456789", b"xxxxxxxx"] {
            assert!(is_placeholder(p), "{}", String::from_utf8_lossy(p));
        }
        for real in [&b"hunter2!xK"[..], b"Tr0ub4dor&3", b"k9Qz2LmW8vXpR4tY"] {
            assert!(!is_placeholder(real), "{}", String::from_utf8_lossy(real));
        }
        assert!(is_constant_name(b"OPENAI_API_KEY"));
        assert!(!is_constant_name(b"K9QZ2LMW8VXP"));
        assert!(looks_fake(b"aaaaaaaaaaaaaaaaaaaa"));
        assert!(looks_fake(b"abababababababababab"));
        assert!(!looks_fake(b"k9Qz2LmW8vXpR4tYbN7c"));
    }
}
