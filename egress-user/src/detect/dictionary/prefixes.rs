//! Which word starts of a text may begin a term: the test every word of a scanned text takes,
//! so it is kept to a multiply and a bit per word. With AVX-512 VBMI, the word starts whose
//! first or second byte begins no term are dropped first, 64 bytes at a time by two table
//! lookups. (Testing 16 words at a time with AVX-512 gathers was measured no faster: the
//! gathers' latency is on the path.)

use crate::detect::ascii;

/// Most bytes of a term's prefix in a [`PrefixSet`].
pub(super) const PREFIX: usize = 4;

/// Sets the `0x20` bit of each byte: ASCII letters fold to lowercase, as the automaton's
/// `ascii_case_insensitive` does (some punctuation merges too, harmlessly for a filter).
const FOLD: u32 = 0x2020_2020;
/// An odd multiplier whose product's top bits depend on all the input bits.
const MIX: u32 = 0x9e37_79b1;

/// The prefixes of terms (their first [`PREFIX`] bytes, all of a shorter term), as one bit
/// each for a keyed hash of the prefix, case folded.
#[derive(Debug)]
pub(super) struct PrefixSet {
    key: u32,
    bits: Vec<u32>,
    /// 32 minus the number of index bits.
    shift: u32,
    /// The prefix lengths that occur, one probe each: [`PREFIX`] alone unless some term is
    /// shorter (rare).
    lengths: Vec<usize>,
    /// The first two bytes of the terms.
    leading: ascii::LeadingPairs,
}

impl PrefixSet {
    pub(super) fn new<'t>(key: u32, terms: impl Iterator<Item = &'t [u8]>) -> Self {
        let mut leading = ascii::LeadingPairs::new();
        let mut prefixes: Vec<(u32, usize)> = terms
            .map(|term| {
                leading.add(term);
                let len = term.len().min(PREFIX);
                (term[..len].iter().rev().fold(0, |x, &b| x << 8 | u32::from(b)), len)
            })
            .collect();
        prefixes.sort_unstable();
        prefixes.dedup();
        let mut lengths: Vec<usize> = prefixes.iter().map(|&(_, len)| len).collect();
        lengths.sort_unstable();
        lengths.dedup();
        // About 64 bits a prefix, so that about one word start in 64 that begins no term is
        // matched all the same.
        let len = (prefixes.len() * 64).next_power_of_two().clamp(1 << 12, 1 << 24);
        let mut set = Self { key, bits: vec![0; len / 32], shift: 32 - len.trailing_zeros(), lengths, leading };
        for (prefix, len) in prefixes {
            let at = set.index(prefix, len) as usize;
            set.bits[at / 32] |= 1 << (at % 32);
        }
        set
    }

    pub(super) fn memory_bytes(&self) -> usize {
        self.bits.capacity() * 4 + self.lengths.capacity() * std::mem::size_of::<usize>()
    }

    /// The bit of `prefix`, the first `len` bytes of a word (zero above).
    #[inline(always)]
    fn index(&self, prefix: u32, len: usize) -> u32 {
        ((prefix | fold(len)) ^ self.key ^ len as u32).wrapping_mul(MIX) >> self.shift
    }

    /// False: no term's prefix begins `text` at `at`.
    fn may_start(&self, text: &[u8], at: usize) -> bool {
        let four = match text[at..].first_chunk::<PREFIX>() {
            Some(&four) => u32::from_le_bytes(four),
            // The last bytes of the text: zero above its end, which no term prefix of that
            // length has.
            None => text[at..].iter().rev().fold(0, |x, &b| x << 8 | u32::from(b)),
        };
        self.lengths.iter().any(|&len| {
            let at = self.index(four & low_bytes(len), len) as usize;
            self.bits[at / 32] >> (at % 32) & 1 == 1
        })
    }

    /// Calls `f`, in order, with each offset of `text` where a word starts and some term's
    /// prefix may begin. A word start is an ASCII letter, digit or `_`, or the first byte of
    /// a non-ASCII character (which may be a letter), that does not follow an ASCII letter,
    /// digit or `_`; one after a non-ASCII letter is a false start, which the caller's
    /// boundary check rejects.
    ///
    /// The starts of 64 bytes are found at once from byte masks, and each is tested without
    /// a branch (the outcome only sets a bit), so the one unpredictable outcome per word costs
    /// no misprediction; `f` is then called for the few that passed.
    pub(super) fn word_starts(&self, text: &[u8], f: impl FnMut(usize)) {
        #[cfg(target_arch = "x86_64")]
        if ascii::avx512::vbmi_available() {
            // SAFETY: `vbmi_available()` checked that the processor has the target features.
            return unsafe { self.word_starts_vbmi(text, f) };
        }
        self.word_starts_with(
            text,
            |base| {
                let (word, lead) = ascii::word_masks(&text[base..text.len().min(base + 64)]);
                (word, lead, u64::MAX)
            },
            f,
        );
    }

    /// [`Self::word_starts`] with the first and second bytes of the starts looked up in
    /// vector registers (`vpermi2b` over the two 128-entry tables).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512bw,avx512vbmi,bmi1,bmi2")]
    fn word_starts_vbmi(&self, text: &[u8], f: impl FnMut(usize)) {
        let leading = ascii::avx512::LeadingPairsLut::new(&self.leading);
        self.word_starts_with(
            text,
            |base| {
                let (word, lead) = ascii::avx512::word_masks(&text[base..text.len().min(base + 64)]);
                (word, lead, leading.starts(text, base))
            },
            f,
        );
    }

    /// [`Self::word_starts`] with `masks(base)`: the word bytes, the non-ASCII lead bytes and
    /// the bytes that may begin a term, of the 64 bytes from `base`.
    #[inline(always)]
    fn word_starts_with(&self, text: &[u8], masks: impl Fn(usize) -> (u64, u64, u64), mut f: impl FnMut(usize)) {
        let mut after_word = 0;
        for base in (0..text.len()).step_by(64) {
            let (word, lead, plausible) = masks(base);
            let starts = (word | lead) & !(word << 1 | after_word) & plausible;
            after_word = word >> 63;
            let mut passed = self.passing(text, base, starts);
            while passed != 0 {
                f(base + passed.trailing_zeros() as usize);
                passed &= passed - 1;
            }
        }
    }

    /// Of the word starts `starts` of the block at `base`, those that may begin a term.
    #[inline(always)]
    fn passing(&self, text: &[u8], base: usize, mut starts: u64) -> u64 {
        let mut passed = 0u64;
        while starts != 0 {
            let bit = starts.trailing_zeros();
            starts &= starts - 1;
            passed |= u64::from(self.may_start(text, base + bit as usize)) << bit;
        }
        passed
    }
}

/// The `0x20` bits of the first `len` bytes.
#[inline(always)]
fn fold(len: usize) -> u32 {
    FOLD & low_bytes(len)
}

/// A mask of the first `len` (1 to 4) bytes.
#[inline(always)]
fn low_bytes(len: usize) -> u32 {
    u32::MAX >> (32 - 8 * len)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Word starts by the definition, one byte at a time.
    fn reference_starts(text: &[u8]) -> Vec<usize> {
        let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
        (0..text.len()).filter(|&at| (word(text[at]) || text[at] >= 0xc0) && (at == 0 || !word(text[at - 1]))).collect()
    }

    #[test]
    fn word_starts_that_pass_are_the_starts_of_prefixes_of_terms() {
        let terms: [&[u8]; 6] = [b"atlas", b"Q3", b"x", b"_int", b"\xc3\xbcber", b"k9 unit"];
        let set = PrefixSet::new(0x1234_5678, terms.iter().copied());
        let pieces: [&[u8]; 16] = [
            b"atlas",
            b"ATLAS",
            b"q3",
            b"x",
            b"xy",
            b"_int",
            b"\xc3\xbcber",
            b"K9 ",
            b" ",
            b" ",
            b"-",
            b".",
            b"7",
            b"abc",
            b"\xc2\xab",
            b"zzzzzzzz",
        ];
        let mut state = 3u64;
        let mut passed_total = 0;
        for round in 0..2000 {
            let text: Vec<u8> = (0..round % 90)
                .flat_map(|_| {
                    state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                    pieces[(state >> 33) as usize % pieces.len()].iter().copied()
                })
                .collect();
            let mut got = Vec::new();
            set.word_starts(&text, |at| got.push(at));
            let starts = reference_starts(&text);
            // Every start of a term's prefix passes, and only word starts do.
            let of_terms = starts.iter().copied().filter(|&at| {
                terms.iter().any(|term| {
                    let prefix = &term[..term.len().min(PREFIX)];
                    text.get(at..at + prefix.len()).is_some_and(|bytes| bytes.eq_ignore_ascii_case(prefix))
                })
            });
            for at in of_terms {
                assert!(got.contains(&at), "{text:?} at {at}");
            }
            assert!(got.iter().all(|at| starts.contains(at)), "{text:?}: {got:?}");
            assert!(got.is_sorted());
            // The portable path (no byte lookups) passes at least what this machine's does.
            let mut portable = Vec::new();
            set.word_starts_with(
                &text,
                |base| {
                    let (word, lead) = ascii::word_masks(&text[base..text.len().min(base + 64)]);
                    (word, lead, u64::MAX)
                },
                |at| portable.push(at),
            );
            assert!(got.iter().all(|at| portable.contains(at)), "{text:?}: {got:?} {portable:?}");
            passed_total += got.len();
        }
        assert!(passed_total > 10_000, "{passed_total}");
    }

    #[test]
    fn few_word_starts_that_begin_no_term_pass() {
        let terms: Vec<String> = (0..10_000).map(|i| format!("codename{i:05}")).collect();
        let set = PrefixSet::new(0x9abc_def0, terms.iter().map(String::as_bytes));
        let text: Vec<u8> = (0..20_000).flat_map(|i| format!("w{i} ").into_bytes()).collect();
        let mut passed = 0;
        set.word_starts(&text, |_| passed += 1);
        assert!(passed < 20_000 / 32, "{passed} of 20,000 passed");
    }
}
