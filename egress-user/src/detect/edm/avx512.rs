//! The word scan with AVX-512 (F, BW, DQ, VBMI, VBMI2): the words that end in a 64-byte
//! block are tested against the [`HeadSet`] of openers eight at a time in vector registers,
//! with no branch and no call per word; then only the words that need
//! [`ExactDataMatch::step`] are taken one at a time: those that pass, numbers, words with
//! non-ASCII bytes and the words that follow a possible lead. In prose most blocks have none.

use std::arch::x86_64::*;

use super::{BlockBounds, ExactDataMatch, FOLD, HeadSet, Hit, M1, Word, WordRuns, split_by_chars, split_long_run};
use crate::detect::ascii;

/// Whether this processor has what [`ExactDataMatch::scan_words_avx512`] uses: checked once.
pub(super) fn available() -> bool {
    static AVAILABLE: std::sync::LazyLock<bool> = std::sync::LazyLock::new(|| {
        ascii::avx512::available()
            && is_x86_feature_detected!("avx512dq")
            && is_x86_feature_detected!("avx512vbmi")
            && is_x86_feature_detected!("avx512vbmi2")
            && is_x86_feature_detected!("popcnt")
    });
    *AVAILABLE
}

/// The words that end in one block, in order.
struct BlockWords {
    /// Offsets in the block of each word's first byte and of the byte after it.
    starts: [u8; 64],
    stops: [u8; 64],
    count: usize,
    /// Bit `k` for word `k`: it holds bytes of non-ASCII characters.
    non_ascii: u64,
    /// Bit `k`: it is all digits.
    numbers: u64,
    /// Bit `k`: it must be taken even after a word that starts no pair (one of the above,
    /// or it may be an opener).
    needed: u64,
}

/// Bytes `0..64`, in order.
const LANES: [i64; 8] = {
    let mut lanes = [0i64; 8];
    let mut byte = 0;
    while byte < 64 {
        lanes[byte / 8] |= (byte as i64) << (8 * (byte % 8));
        byte += 1;
    }
    lanes
};

impl ExactDataMatch {
    /// [`Self::scan_words`] a block of words at a time.
    #[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vbmi,avx512vbmi2,bmi1,bmi2,popcnt")]
    pub(super) fn scan_words_avx512(&self, text: &str, hits: &mut Vec<Hit>) -> bool {
        let bytes = text.as_bytes();
        let mut runs = WordRuns::default();
        let mut lower = String::new();
        let mut digits = 0;
        let leading = ascii::avx512::LeadingPairsLut::new(&self.openers.leading);
        // As in `for_each_word`: a block starts at the text's start, after a run, or at the
        // start of a run that the previous block cut; the last block is shorter than 64.
        let mut base = 0;
        while base <= bytes.len() {
            let block = &bytes[base..(base + 64).min(bytes.len())];
            let BlockBounds { alpha, alnum, high, starts, stops } =
                BlockBounds::of(block, &|block| ascii::avx512::masks_with_high(block));
            digits |= alnum & !alpha;
            let may_open = starts & leading.starts(bytes, base) != 0;
            let count = stops.count_ones() as usize;
            // Without a possible opener, a number, a non-ASCII word or a lead before it, no
            // word of the block needs a look (most blocks of prose): not even listed.
            if may_open || (alnum & !alpha) != 0 || high != 0 || runs.previous.is_some() {
                let words = self.openers.block_words(block, starts, stops, alpha, high, may_open);
                if words.needed != 0 || runs.previous.is_some() {
                    self.take_words(text, base, &words, &mut runs, &mut lower, hits);
                }
            }
            // A start without a stop is a run that goes on past the block (starts and stops
            // alternate, so it is the last start).
            base = if starts.count_ones() as usize > count {
                base + 63 - starts.leading_zeros() as usize
            } else {
                base + 64
            };
            if count == 0 && starts & 1 == 1 {
                let (end, digit) =
                    split_long_run(text, base, &mut lower, &mut |word| self.visit(&mut runs, word, hits));
                digits |= u64::from(digit);
                base = end;
            }
        }
        digits != 0
    }

    /// Takes the needed words of a block, and every word that follows a possible lead. Out
    /// of line, so that the block loop, which seldom gets here, stays small.
    #[inline(never)]
    fn take_words(
        &self,
        text: &str,
        base: usize,
        words: &BlockWords,
        runs: &mut WordRuns,
        lower: &mut String,
        hits: &mut Vec<Hit>,
    ) {
        let mut k = 0;
        while k < words.count {
            if runs.previous.is_none() {
                let rest = words.needed >> k;
                if rest == 0 {
                    return;
                }
                k += rest.trailing_zeros() as usize;
            }
            let (start, end) = (base + usize::from(words.starts[k]), base + usize::from(words.stops[k]));
            if words.non_ascii >> k & 1 == 1 {
                split_by_chars(text, start, end, lower, &mut |word| self.visit(runs, word, hits));
            } else {
                let number = words.numbers >> k & 1 == 1;
                self.step(runs, &Word { source: text.as_bytes(), range: start..end, start, end, number }, hits);
            }
            k += 1;
        }
    }
}

impl HeadSet {
    /// Bit `i`: the word of qword `i` of `heads` (its [`super::head`]) and `lens` (its
    /// length) may be in the set: [`HeadSet::may_contain`], eight words at once.
    #[inline]
    #[target_feature(enable = "avx512f,avx512dq")]
    fn contains_heads(&self, heads: __m512i, lens: __m512i) -> __mmask8 {
        let key = _mm512_xor_si512(_mm512_set1_epi64(self.key as i64), lens);
        let mixed = _mm512_xor_si512(_mm512_or_si512(heads, _mm512_set1_epi64(FOLD as i64)), key);
        let at = _mm512_srlv_epi64(
            _mm512_mullo_epi64(mixed, _mm512_set1_epi64(M1 as i64)),
            _mm512_set1_epi64(i64::from(self.shift)),
        );
        // SAFETY: `at` is below 2^(64 - shift), the number of bits of `bits`, so every word
        // read is within it.
        let bits = unsafe { _mm512_i64gather_epi64::<8>(_mm512_srli_epi64::<6>(at), self.bits.as_ptr().cast()) };
        _mm512_test_epi64_mask(
            _mm512_srlv_epi64(bits, _mm512_and_si512(at, _mm512_set1_epi64(63))),
            _mm512_set1_epi64(1),
        )
    }

    /// The words of `block` (at most 64 bytes) that end in it, given the masks of their
    /// first bytes (`starts`), of the bytes after them (`stops`), of the ASCII letters and of
    /// the non-ASCII bytes. Unless `may_open`, no word of the block can be in the set, and it
    /// is not tested.
    #[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vbmi,avx512vbmi2,bmi1,bmi2,popcnt")]
    fn block_words(&self, block: &[u8], starts: u64, stops: u64, alpha: u64, high: u64, may_open: bool) -> BlockWords {
        let lanes = ascii::bit_range(0, block.len().min(64));
        // SAFETY: the masked load reads only the bytes whose lane is in `lanes`, all within
        // `block`; AVX-512 suppresses faults on the others.
        let text = unsafe { _mm512_maskz_loadu_epi8(lanes, block.as_ptr().cast()) };
        let [l0, l1, l2, l3, l4, l5, l6, l7] = LANES;
        let offsets = _mm512_set_epi64(l7, l6, l5, l4, l3, l2, l1, l0);
        // Every word that ends in the block starts in it: the k-th start pairs with the
        // k-th stop.
        let firsts = _mm512_maskz_compress_epi8(starts, offsets);
        let afters = _mm512_maskz_compress_epi8(stops, offsets);
        let count = stops.count_ones() as usize;
        let mut words = BlockWords { starts: [0; 64], stops: [0; 64], count, non_ascii: 0, numbers: 0, needed: 0 };
        // SAFETY: each store writes 64 bytes, the size of its array.
        unsafe {
            _mm512_storeu_si512(words.starts.as_mut_ptr().cast(), firsts);
            _mm512_storeu_si512(words.stops.as_mut_ptr().cast(), afters);
        }
        let ones = 0x0101_0101_0101_0101i64;
        // Byte j of qword i: i, then j.
        let spread = _mm512_set_epi64(7 * ones, 6 * ones, 5 * ones, 4 * ones, 3 * ones, 2 * ones, ones, 0);
        let within = _mm512_set1_epi64(0x0706_0504_0302_0100);
        let low_byte = _mm512_set1_epi64(0xff);
        let one = _mm512_set1_epi64(1);
        for group in 0..count.div_ceil(8) {
            // Qword i for word 8 * group + i: its start and stop in every byte, its length,
            // its first 8 bytes (fewer when shorter, zero above: `head`).
            let pick = _mm512_add_epi8(spread, _mm512_set1_epi8(8 * group as i8));
            let first = _mm512_permutexvar_epi8(pick, firsts);
            let after = _mm512_permutexvar_epi8(pick, afters);
            let len = _mm512_sub_epi8(after, first);
            let head_bytes = _mm512_cmplt_epu8_mask(within, len);
            let heads = _mm512_maskz_permutexvar_epi8(head_bytes, _mm512_add_epi8(first, within), text);
            let (first, after, len) =
                (_mm512_and_si512(first, low_byte), _mm512_and_si512(after, low_byte), _mm512_and_si512(len, low_byte));
            let inside = _mm512_sub_epi64(_mm512_sllv_epi64(one, after), _mm512_sllv_epi64(one, first));
            let non_ascii = _mm512_test_epi64_mask(inside, _mm512_set1_epi64(high as i64));
            let lettered = _mm512_test_epi64_mask(inside, _mm512_set1_epi64(alpha as i64));
            let passes = if may_open { self.contains_heads(heads, len) } else { 0 };
            let valid = ascii::bit_range(0, (count - 8 * group).min(8)) as u8;
            let shift = 8 * group;
            words.non_ascii |= u64::from(non_ascii & valid) << shift;
            words.numbers |= u64::from(!lettered & valid) << shift;
            words.needed |= u64::from((non_ascii | !lettered | passes) & valid) << shift;
        }
        words
    }
}

#[cfg(test)]
mod tests {
    use super::super::{head, tests::random_text};
    use super::*;

    /// Text pieces for random inputs: words of letters and digits, ASCII punctuation and
    /// spaces, non-ASCII letters and punctuation, and words of 64 bytes or more.
    fn pieces() -> Vec<String> {
        let mut pieces: Vec<String> = [
            "person",
            "Report",
            "the",
            "quarterly",
            "o",
            "brien",
            "12",
            "4111",
            "x9",
            " ",
            "  ",
            "-",
            ".",
            "@",
            ",",
            "é",
            "Ü",
            "—",
            "\u{a0}",
            "東京",
            "\0",
            "\x7f",
            "~",
            "Zoë",
        ]
        .map(String::from)
        .to_vec();
        pieces.extend(["ab".repeat(32), "7".repeat(70), "é".repeat(40), "x".repeat(63), "Q".repeat(65)]);
        // Every byte value that stands alone as a character, and some that start one.
        pieces.extend((0..=255u8).filter_map(|b| char::from_u32(u32::from(b)).map(String::from)));
        pieces
    }

    #[test]
    fn block_words_agree_with_a_word_walk() {
        if !available() {
            eprintln!("no AVX-512 VBMI2 here: the vector word scan is not tested");
            return;
        }
        let pieces = pieces();
        let pieces: Vec<&str> = pieces.iter().map(String::as_str).collect();
        // Openers of the words of the pieces, so that about half of the words pass.
        let openers: Vec<(u64, usize)> =
            pieces.iter().step_by(2).map(|p| (head(p.as_bytes(), 0, p.len().max(1)), p.len())).collect();
        let set = HeadSet::new(0x5eed, openers);
        let mut state = 17u64;
        let (mut words, mut passed) = (0, 0);
        for count in (0..60).chain([30; 400]) {
            let text = random_text(&mut state, &pieces, count);
            for block in text.as_bytes().chunks(64).chain([&text.as_bytes()[text.len().saturating_sub(17)..]]) {
                let BlockBounds { alpha, high, starts, stops, .. } = BlockBounds::of(block, &ascii::masks_with_high);
                // The block's own bytes only (the text past it is not known here): a pair cut
                // by the block's end is tested as the byte alone.
                // SAFETY: `available()` checked that the processor has the target features.
                let may_open =
                    starts & unsafe { ascii::avx512::LeadingPairsLut::new(&set.leading).starts(block, 0) } != 0;
                // SAFETY: as above.
                let got = unsafe { set.block_words(block, starts, stops, alpha, high, may_open) };
                let (mut from, mut to) = (starts, stops);
                let mut k = 0;
                while from != 0 && to != 0 {
                    let (start, end) = (from.trailing_zeros() as usize, to.trailing_zeros() as usize);
                    (from, to) = (from & (from - 1), to & (to - 1));
                    let inside = ascii::bit_range(start, end);
                    let non_ascii = high & inside != 0;
                    let number = alpha & inside == 0;
                    let opener = set.may_contain(block, &(start..end));
                    let bit = |mask: u64| mask >> k & 1 == 1;
                    assert_eq!((usize::from(got.starts[k]), usize::from(got.stops[k])), (start, end), "{block:?}");
                    assert_eq!(bit(got.non_ascii), non_ascii, "{block:?} word {k}");
                    if !non_ascii {
                        assert_eq!(bit(got.numbers), number, "{block:?} word {k}");
                    }
                    assert_eq!(bit(got.needed), non_ascii || number || (opener && may_open), "{block:?} word {k}");
                    passed += usize::from(opener);
                    k += 1;
                }
                assert_eq!(got.count, k, "{block:?}");
                assert_eq!(got.needed >> k, 0, "{block:?}");
                words += k;
            }
        }
        assert!(passed > 300 && words - passed > 1000, "{passed} of {words}");
    }

    #[test]
    fn vector_word_scan_finds_what_the_word_walk_finds() {
        if !available() {
            eprintln!("no AVX-512 VBMI2 here: the vector word scan is not tested");
            return;
        }
        let pieces = pieces();
        let pieces: Vec<&str> = pieces.iter().map(String::as_str).collect();
        // Values of one to four of the pieces, as names, with numbers.
        let mut state = 23u64;
        let header = ["name", "account"];
        let rows: Vec<[String; 2]> = (0..300)
            .map(|i| {
                let words = 1 + i % 4;
                let name = (0..words).map(|_| random_text(&mut state, &pieces[..24], 1)).collect::<Vec<_>>().join(" ");
                [name, format!("{:06}", 1000 + i)]
            })
            .collect();
        let edm = ExactDataMatch::from_rows("t", &header, rows, &["name"], &["account"], b"salt").expect("build");
        let separators = [" ", " ", "-", ", ", "\u{a0}", "é", ""];
        let mut found = 0;
        for count in (0..200).chain([60; 300]) {
            let text: String = (0..count)
                .map(|_| random_text(&mut state, &pieces, 1) + &random_text(&mut state, &separators, 1))
                .collect();
            let text = &text[..text.floor_char_boundary(count.max(1) * 4)];
            let scan = |words: &dyn Fn(&mut Vec<Hit>) -> bool| {
                let mut hits = Vec::new();
                let digits = words(&mut hits);
                hits.sort_unstable();
                (digits, hits)
            };
            let expected = scan(&|hits| edm.scan_words_with(text, hits, ascii::masks_with_high));
            // SAFETY: `available()` checked that the processor has the target features.
            let got = scan(&|hits| unsafe { edm.scan_words_avx512(text, hits) });
            assert_eq!(got, expected, "{text:?}");
            found += expected.1.len();
        }
        assert!(found > 500, "{found}");
    }
}
