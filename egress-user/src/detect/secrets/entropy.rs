//! Statistics and filters that tell a random secret from text that only looks like one:
//! Shannon entropy, placeholders and templates, UUIDs, hashes, sequences, words, paths.
//!
//! Everything here works on ASCII bytes and never allocates: the values it sees are capped
//! by the callers (a few hundred bytes at most).

use std::sync::LazyLock;

use aho_corasick::{AhoCorasick, AhoCorasickKind};

/// Shannon entropy in bits per byte.
pub(crate) fn shannon(s: &[u8]) -> f32 {
    if s.is_empty() {
        return 0.0;
    }
    let mut counts = [0u32; 256];
    // Which bytes occur, so that only those are visited (in byte order, as the sum's
    // rounding depends on it): a branch per possible byte mispredicted more than it saved.
    let mut present = [0u64; 4];
    for &b in s {
        counts[b as usize] += 1;
        present[usize::from(b >> 6)] |= 1 << (b & 63);
    }
    let n = s.len() as f32;
    let mut h = 0.0f32;
    for (word, mut bits) in present.into_iter().enumerate() {
        while bits != 0 {
            let p = counts[word * 64 + bits.trailing_zeros() as usize] as f32 / n;
            h -= p * p.log2();
            bits &= bits - 1;
        }
    }
    h
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
        let mut c = Self::default();
        for &b in s {
            match b {
                b'a'..=b'z' => c.lower += 1,
                b'A'..=b'Z' => c.upper += 1,
                b'0'..=b'9' => c.digit += 1,
                _ => c.other += 1,
            }
        }
        c
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
    let steps = s
        .windows(2)
        .filter(|w| {
            let (a, b) = (w[0].to_ascii_lowercase(), w[1].to_ascii_lowercase());
            b == a.wrapping_add(1) || a == b.wrapping_add(1)
        })
        .count();
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
        // An uppercase run like `ABC` is counted letter by letter above; nothing else to do.
    }
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

/// One automaton per list of (lowercase) marks, built once: a substring searcher built per
/// mark per value (what `memmem::find` does) cost more than the rest of a keyword hit. It
/// ignores ASCII case, so values need no lowercased copy.
fn marks_automaton(marks: &[&[u8]]) -> AhoCorasick {
    AhoCorasick::builder()
        .kind(Some(AhoCorasickKind::DFA))
        .ascii_case_insensitive(true)
        .build(marks)
        .expect("the mark lists build an automaton")
}

/// The part of a value the mark searches look at.
const MARKS_SPAN: usize = 512;

/// Whether one of `search`'s marks is in the first [`MARKS_SPAN`] bytes of `s`, in any case.
fn has_mark(search: &AhoCorasick, s: &[u8]) -> bool {
    search.is_match(&s[..s.len().min(MARKS_SPAN)])
}

static PLACEHOLDER_SEARCH: LazyLock<AhoCorasick> = LazyLock::new(|| marks_automaton(PLACEHOLDER_MARKS));

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

/// An example value, a template reference, a keyword used as its own value, or a value
/// too regular to be a random secret.
pub(crate) fn is_placeholder(s: &[u8]) -> bool {
    if s.is_empty() || is_same_char(s) || is_template(s) {
        return true;
    }
    if has_mark(&PLACEHOLDER_SEARCH, s) {
        return true;
    }
    let mut word = [0u8; 64];
    let mut n = 0;
    let mut alnum = 0;
    for &b in &s[..s.len().min(MARKS_SPAN)] {
        if b.is_ascii_alphanumeric() {
            if let Some(slot) = word.get_mut(n) {
                *slot = b.to_ascii_lowercase();
                n += 1;
            }
            alnum += 1;
        }
    }
    if alnum == n && PLACEHOLDER_WORDS.contains(&&word[..n]) {
        return true;
    }
    alnum == 0 || is_sequence(s)
}

/// A reference to a value kept elsewhere: `${VAR}`, `$VAR`, `{{ x }}`, `%VAR%`, `<x>`,
/// `process.env.X`, `os.environ[...]`, `secrets.X`, `op://vault/item`, `vault:...`.
pub(crate) fn is_template(s: &[u8]) -> bool {
    let (Some(&first), Some(&last)) = (s.first(), s.last()) else { return true };
    if first == b'$' && s.get(1).is_some_and(|&b| b.is_ascii_alphabetic() || matches!(b, b'_' | b'{' | b'('))
        || (first == b'%' && last == b'%')
        || (first == b'{' && last == b'}')
        || (first == b'<' && last == b'>')
        || (first == b'[' && last == b']')
    {
        return true;
    }
    const REFS: &[&[u8]] = &[
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
    static SEARCH: LazyLock<AhoCorasick> = LazyLock::new(|| marks_automaton(REFS));
    has_mark(&SEARCH, s)
}

/// A constant name standing for the value (`MY_API_KEY`), not the value.
pub(crate) fn is_constant_name(s: &[u8]) -> bool {
    s.iter().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || *b == b'_')
        && s.contains(&b'_')
        && s.first().is_some_and(u8::is_ascii_uppercase)
}

/// The body of a provider token that is plainly not a real one: an example marker, one
/// character repeated, a sequence, or far too few distinct characters.
pub(crate) fn looks_fake(body: &[u8]) -> bool {
    if body.len() < 8 {
        return false;
    }
    if is_same_char(body) || is_sequence(body) {
        return true;
    }
    const MARKS: &[&[u8]] = &[b"xxxx", b"****", b"example", b"your", b"placeholder", b"00000000", b"redacted"];
    static SEARCH: LazyLock<AhoCorasick> = LazyLock::new(|| marks_automaton(MARKS));
    if has_mark(&SEARCH, body) {
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
