//! Byte-class masks of up to 64 bytes at a time, for the scans that split text into words:
//! word starts and ends then fall out of shifts, with no branch per byte (a branch at every
//! word boundary would be mispredicted every few bytes).

const ONES: u64 = 0x0101_0101_0101_0101;

/// The high bit of every byte of `x` that lies strictly between `lo` and `hi`; bytes of 0x80
/// and above never qualify. Eight bytes at a time without a branch (SWAR).
fn between(x: u64, lo: u8, hi: u8) -> u64 {
    let low7 = x & (ONES * 0x7f);
    (ONES * (127 + u64::from(hi)) - low7) & !x & (low7 + ONES * (127 - u64::from(lo))) & (ONES * 0x80)
}

/// Bit `k` set for byte `k` of `x` whose high bit is set.
fn gather(x: u64) -> u64 {
    (x >> 7).wrapping_mul(0x0102_0408_1020_4080) >> 56
}

/// Masks of the ASCII letters and of the ASCII alphanumerics among up to 64 bytes (bit `k` for
/// byte `k`).
pub(crate) fn masks(block: &[u8]) -> (u64, u64) {
    let (alpha, alnum, _) = masks_with_high(block);
    (alpha, alnum)
}

/// [`masks`] and the mask of the bytes of 0x80 and above (parts of non-ASCII characters).
pub(crate) fn masks_with_high(block: &[u8]) -> (u64, u64, u64) {
    let (mut alpha, mut alnum, mut high) = (0u64, 0u64, 0u64);
    let (chunks, rest) = block.as_chunks::<8>();
    let mut shift = 0;
    for chunk in chunks {
        let x = u64::from_le_bytes(*chunk);
        let letters = between(x | (ONES * 0x20), b'a' - 1, b'z' + 1);
        let digits = between(x, b'0' - 1, b'9' + 1);
        alpha |= gather(letters) << shift;
        alnum |= gather(letters | digits) << shift;
        high |= gather(x & (ONES * 0x80)) << shift;
        shift += 8;
    }
    for (k, &c) in rest.iter().enumerate() {
        alpha |= u64::from(c.is_ascii_alphabetic()) << (shift + k);
        alnum |= u64::from(c.is_ascii_alphanumeric()) << (shift + k);
        high |= u64::from(c >= 0x80) << (shift + k);
    }
    (alpha, alnum, high)
}

/// Which byte pairs may begin a word of a set (dictionary terms, EDM openers): per ASCII
/// byte, in either case, whether some word begins with it and whether some word has it
/// second (every byte, when a word is one byte long). A byte of 0x80 and up always passes.
/// Tested 64 text bytes at a time with [`avx512::LeadingPairsLut`], it spares a scan the
/// per-word test of most words that begin nothing of the set.
#[derive(Clone, Debug)]
pub(crate) struct LeadingPairs {
    first: [u8; 128],
    second: [u8; 128],
}

impl LeadingPairs {
    pub(crate) fn new() -> Self {
        Self { first: [0; 128], second: [0; 128] }
    }

    /// Adds the first two bytes of `word` (not empty).
    pub(crate) fn add(&mut self, word: &[u8]) {
        let mark = |table: &mut [u8; 128], byte: u8| {
            if byte.is_ascii() {
                table[usize::from(byte.to_ascii_lowercase())] = 1;
                table[usize::from(byte.to_ascii_uppercase())] = 1;
            }
        };
        mark(&mut self.first, word[0]);
        match word.get(1) {
            Some(&second) => mark(&mut self.second, second),
            None => self.second = [1; 128],
        }
    }
}

/// [`masks_with_high`] in vector registers: one load and three compares for up to 64 bytes,
/// where the SWAR path takes about thirty operations per 8 bytes.
#[cfg(target_arch = "x86_64")]
pub(crate) mod avx512 {
    use std::arch::x86_64::*;

    /// Whether this processor has what [`masks_with_high`] and its callers' vector paths use:
    /// checked once, then one load (it is asked per 64-byte block).
    pub(crate) fn available() -> bool {
        static AVAILABLE: std::sync::LazyLock<bool> = std::sync::LazyLock::new(|| {
            is_x86_feature_detected!("avx512f")
                && is_x86_feature_detected!("avx512bw")
                && is_x86_feature_detected!("bmi1")
                && is_x86_feature_detected!("bmi2")
        });
        *AVAILABLE
    }

    /// Whether this processor also has VBMI (byte permutes across a whole vector).
    pub(crate) fn vbmi_available() -> bool {
        static AVAILABLE: std::sync::LazyLock<bool> =
            std::sync::LazyLock::new(|| available() && is_x86_feature_detected!("avx512vbmi"));
        *AVAILABLE
    }

    /// [`super::masks_with_high`] of up to 64 bytes.
    #[target_feature(enable = "avx512f,avx512bw,bmi1,bmi2")]
    #[inline]
    pub(crate) fn masks_with_high(block: &[u8]) -> (u64, u64, u64) {
        let lanes = super::bit_range(0, block.len().min(64));
        // SAFETY: the masked load reads only the bytes whose lane is in `lanes`, all within
        // `block`; AVX-512 suppresses faults on the others (zero here: no class has 0).
        let v = unsafe { _mm512_maskz_loadu_epi8(lanes, block.as_ptr().cast()) };
        let lower = _mm512_or_si512(v, _mm512_set1_epi8(0x20));
        let alpha = _mm512_cmplt_epu8_mask(_mm512_sub_epi8(lower, _mm512_set1_epi8(b'a' as i8)), _mm512_set1_epi8(26));
        let digit = _mm512_cmplt_epu8_mask(_mm512_sub_epi8(v, _mm512_set1_epi8(b'0' as i8)), _mm512_set1_epi8(10));
        (alpha, alpha | digit, _mm512_movepi8_mask(v))
    }

    /// Masks of the ASCII digits, of the bytes equal to `first` and of those equal to
    /// `second` among up to 64 bytes (bit `k` for byte `k`): one load for three classes.
    #[target_feature(enable = "avx512f,avx512bw,bmi1,bmi2")]
    #[inline]
    pub(crate) fn digit_and_byte_masks(block: &[u8], first: u8, second: u8) -> (u64, u64, u64) {
        let lanes = super::bit_range(0, block.len().min(64));
        // SAFETY: as in `masks_with_high`; the zeroed lanes are cleared from every mask.
        let v = unsafe { _mm512_maskz_loadu_epi8(lanes, block.as_ptr().cast()) };
        let digit = _mm512_cmplt_epu8_mask(_mm512_sub_epi8(v, _mm512_set1_epi8(b'0' as i8)), _mm512_set1_epi8(10));
        let first = _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8(first as i8));
        let second = _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8(second as i8));
        (digit, first & lanes, second & lanes)
    }

    /// The mask of the bytes in `lo..=hi` among up to 64 bytes: one range compare.
    #[target_feature(enable = "avx512f,avx512bw,bmi1,bmi2")]
    #[inline]
    pub(crate) fn range_mask(block: &[u8], lo: u8, hi: u8) -> u64 {
        let lanes = super::bit_range(0, block.len().min(64));
        // SAFETY: as in `masks_with_high`; the zeroed lanes are cleared from the mask.
        let v = unsafe { _mm512_maskz_loadu_epi8(lanes, block.as_ptr().cast()) };
        if lo > hi {
            return 0;
        }
        if lo == 0 && hi == u8::MAX {
            return lanes;
        }
        let span = hi - lo + 1;
        _mm512_cmplt_epu8_mask(_mm512_sub_epi8(v, _mm512_set1_epi8(lo as i8)), _mm512_set1_epi8(span as i8)) & lanes
    }

    /// The mask of the ASCII digits among up to 64 bytes.
    #[target_feature(enable = "avx512f,avx512bw,bmi1,bmi2")]
    #[inline]
    pub(crate) fn digit_mask(block: &[u8]) -> u64 {
        let lanes = super::bit_range(0, block.len().min(64));
        // SAFETY: as in `masks_with_high`; a zeroed lane is no digit.
        let v = unsafe { _mm512_maskz_loadu_epi8(lanes, block.as_ptr().cast()) };
        _mm512_cmplt_epu8_mask(_mm512_sub_epi8(v, _mm512_set1_epi8(b'0' as i8)), _mm512_set1_epi8(10))
    }

    /// [`super::next_digit`] 64 bytes at a time.
    #[target_feature(enable = "avx512f,avx512bw,bmi1,bmi2")]
    pub(crate) fn next_digit(bytes: &[u8], from: usize) -> Option<usize> {
        let rest = bytes.get(from..)?;
        rest.chunks(64).enumerate().find_map(|(k, block)| {
            let digits = digit_mask(block);
            (digits != 0).then(|| from + k * 64 + digits.trailing_zeros() as usize)
        })
    }

    /// [`super::LeadingPairs`] in vector registers: each table as the two halves `vpermi2b`
    /// selects from.
    #[derive(Clone, Copy)]
    pub(crate) struct LeadingPairsLut {
        first: (__m512i, __m512i),
        second: (__m512i, __m512i),
    }

    impl LeadingPairsLut {
        #[target_feature(enable = "avx512f")]
        #[inline]
        pub(crate) fn new(pairs: &super::LeadingPairs) -> Self {
            let halves = |table: &[u8; 128]| {
                // SAFETY: each half is 64 readable bytes; an unaligned load needs no alignment.
                unsafe { (_mm512_loadu_si512(table.as_ptr().cast()), _mm512_loadu_si512(table[64..].as_ptr().cast())) }
            };
            Self { first: halves(&pairs.first), second: halves(&pairs.second) }
        }

        /// Bit `k`: the bytes of `text` at `base + k` and `base + k + 1` (zero past its end)
        /// may begin a word of the set.
        #[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
        #[inline]
        pub(crate) fn starts(self, text: &[u8], base: usize) -> u64 {
            let load = |from: usize| {
                let len = text.len().saturating_sub(from).min(64);
                // SAFETY: the masked load reads only the `len` bytes from `from`, all within
                // `text` (none when `len` is 0, from a pointer at most one past its end).
                unsafe {
                    _mm512_maskz_loadu_epi8(super::bit_range(0, len), text.as_ptr().add(from.min(text.len())).cast())
                }
            };
            // Bytes of 0x80 and up pass (their low seven bits would pick an ASCII entry).
            let in_table = |(low, high): (__m512i, __m512i), bytes: __m512i| {
                let entries = _mm512_permutex2var_epi8(low, bytes, high);
                _mm512_test_epi8_mask(entries, entries) | _mm512_movepi8_mask(bytes)
            };
            in_table(self.first, load(base)) & in_table(self.second, load(base + 1))
        }
    }

    /// [`super::word_masks`] of up to 64 bytes.
    #[target_feature(enable = "avx512f,avx512bw,bmi1,bmi2")]
    #[inline]
    pub(crate) fn word_masks(block: &[u8]) -> (u64, u64) {
        let lanes = super::bit_range(0, block.len().min(64));
        // SAFETY: as in `masks_with_high`; a zeroed lane is in no class.
        let v = unsafe { _mm512_maskz_loadu_epi8(lanes, block.as_ptr().cast()) };
        let lower = _mm512_or_si512(v, _mm512_set1_epi8(0x20));
        let alpha = _mm512_cmplt_epu8_mask(_mm512_sub_epi8(lower, _mm512_set1_epi8(b'a' as i8)), _mm512_set1_epi8(26));
        let digit = _mm512_cmplt_epu8_mask(_mm512_sub_epi8(v, _mm512_set1_epi8(b'0' as i8)), _mm512_set1_epi8(10));
        let underscore = _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8(b'_' as i8));
        let lead = _mm512_cmpge_epu8_mask(v, _mm512_set1_epi8(0xc0_u8 as i8));
        (alpha | digit | underscore, lead)
    }

    /// [`super::next_of_two`] 64 bytes at a time.
    #[target_feature(enable = "avx512f,avx512bw,bmi1,bmi2")]
    #[inline]
    pub(crate) fn next_of_two(bytes: &[u8], from: usize, first: u8, second: u8) -> Option<usize> {
        let rest = bytes.get(from..)?;
        rest.chunks(64).enumerate().find_map(|(k, block)| {
            let lanes = super::bit_range(0, block.len());
            // SAFETY: as in `masks_with_high`; the zeroed lanes are cleared from the mask.
            let v = unsafe { _mm512_maskz_loadu_epi8(lanes, block.as_ptr().cast()) };
            let found = (_mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8(first as i8))
                | _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8(second as i8)))
                & lanes;
            (found != 0).then(|| from + k * 64 + found.trailing_zeros() as usize)
        })
    }

    /// [`super::base64_superset_mask`] of up to 64 bytes: one range compare.
    #[target_feature(enable = "avx512f,avx512bw,bmi1,bmi2")]
    #[inline]
    pub(crate) fn base64_superset_mask(block: &[u8]) -> u64 {
        let lanes = super::bit_range(0, block.len().min(64));
        // SAFETY: as in `masks_with_high`; the zeroed lanes are outside the range.
        let v = unsafe { _mm512_maskz_loadu_epi8(lanes, block.as_ptr().cast()) };
        let span = b'z' - b'+' + 1;
        _mm512_cmplt_epu8_mask(_mm512_sub_epi8(v, _mm512_set1_epi8(b'+' as i8)), _mm512_set1_epi8(span as i8)) & lanes
    }
}

/// The first ASCII digit at or after `from`. Digits are rare in prose: whole blocks are
/// tested at once (64 bytes with AVX-512, else 32 with a fold the compiler vectorizes)
/// instead of a branch per byte.
pub(crate) fn next_digit(bytes: &[u8], from: usize) -> Option<usize> {
    #[cfg(target_arch = "x86_64")]
    if avx512::available() {
        // SAFETY: `available()` checked that the processor has the target features.
        return unsafe { avx512::next_digit(bytes, from) };
    }
    next_digit_portable(bytes, from)
}

/// The first byte at or after `from` that is `first` or `second`. `memchr2` where there is
/// no AVX-512: its call and alignment set-up cost more than the search on the short strings
/// a JSON payload is full of (`"role"`), where one masked load finds the end.
pub(crate) fn next_of_two(bytes: &[u8], from: usize, first: u8, second: u8) -> Option<usize> {
    #[cfg(target_arch = "x86_64")]
    if avx512::available() {
        // SAFETY: `available()` checked that the processor has the target features.
        return unsafe { avx512::next_of_two(bytes, from, first, second) };
    }
    memchr::memchr2(first, second, bytes.get(from..)?).map(|k| from + k)
}

/// Masks of up to 64 bytes (bit `k` for byte `k`): the ASCII word bytes (letters, digits,
/// `_`), and the bytes that start a non-ASCII character (`0xc0` and up).
pub(crate) fn word_masks(block: &[u8]) -> (u64, u64) {
    #[cfg(target_arch = "x86_64")]
    if avx512::available() {
        // SAFETY: `available()` checked that the processor has the target features.
        return unsafe { avx512::word_masks(block) };
    }
    word_masks_portable(block)
}

/// [`word_masks`] from [`masks_with_high`] and a pass for the two classes it lacks.
fn word_masks_portable(block: &[u8]) -> (u64, u64) {
    let (_, alnum, _) = masks_with_high(block);
    let (mut underscore, mut lead) = (0u64, 0u64);
    for (k, &c) in block.iter().enumerate() {
        underscore |= u64::from(c == b'_') << k;
        lead |= u64::from(c >= 0xc0) << k;
    }
    (alnum | underscore, lead)
}

/// [`next_digit`] without vector instructions.
fn next_digit_portable(bytes: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while let Some(block) = bytes.get(i..i + 32) {
        if block.iter().fold(false, |any, &c| any | c.is_ascii_digit()) {
            break;
        }
        i += 32;
    }
    bytes.get(i..)?.iter().position(u8::is_ascii_digit).map(|p| i + p)
}

/// Bit `k` set for byte `k` in `+..=z` (ASCII letters, digits, `+,-./_` and some other
/// punctuation): a superset of the base64 and hex alphabets that one range test finds, to
/// skip text that holds no long run of them (prose breaks its runs with spaces).
pub(crate) fn base64_superset_mask(block: &[u8]) -> u64 {
    #[cfg(target_arch = "x86_64")]
    if avx512::available() {
        // SAFETY: `available()` checked that the processor has the target features.
        return unsafe { avx512::base64_superset_mask(block) };
    }
    base64_superset_mask_swar(block)
}

/// [`base64_superset_mask`] eight bytes at a time in a 64-bit word.
fn base64_superset_mask_swar(block: &[u8]) -> u64 {
    let mut mask = 0u64;
    let (chunks, rest) = block.as_chunks::<8>();
    let mut shift = 0;
    for chunk in chunks {
        mask |= gather(between(u64::from_le_bytes(*chunk), b'+' - 1, b'z' + 1)) << shift;
        shift += 8;
    }
    for (k, &c) in rest.iter().enumerate() {
        mask |= u64::from(is_base64_superset(c)) << (shift + k);
    }
    mask
}

fn is_base64_superset(c: u8) -> bool {
    (b'+'..=b'z').contains(&c)
}

/// Bits `from..to` (both at most 64).
pub(crate) fn bit_range(from: usize, to: usize) -> u64 {
    let below = |n: usize| if n >= 64 { u64::MAX } else { (1u64 << n) - 1 };
    below(to) & !below(from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_match_byte_tests() {
        let alphabet = b"aZ09 _-:@\x7f\x80\xc3\xa9\xff`{[/+,.*^";
        let mut state = 9u64;
        for len in 0..=64 {
            let block: Vec<u8> = (0..len)
                .map(|_| {
                    state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                    alphabet[(state >> 33) as usize % alphabet.len()]
                })
                .collect();
            let (alpha, alnum, high) = masks_with_high(&block);
            for (k, c) in block.iter().enumerate() {
                assert_eq!(alpha >> k & 1 == 1, c.is_ascii_alphabetic(), "{block:?} at {k}");
                assert_eq!(alnum >> k & 1 == 1, c.is_ascii_alphanumeric(), "{block:?} at {k}");
                assert_eq!(high >> k & 1 == 1, *c >= 0x80, "{block:?} at {k}");
            }
            let superset = base64_superset_mask(&block);
            for (k, c) in block.iter().enumerate() {
                assert_eq!(superset >> k & 1 == 1, is_base64_superset(*c), "{block:?} at {k}");
            }
            assert_eq!(base64_superset_mask_swar(&block), superset, "{block:?}");
        }
        assert_eq!(bit_range(0, 64), u64::MAX);
        assert_eq!(bit_range(3, 5), 0b11000);
        assert_eq!(bit_range(64, 64), 0);
    }

    #[test]
    fn next_digit_matches_a_byte_search_from_every_position() {
        let mut state = 13u64;
        let mut texts: Vec<Vec<u8>> = Vec::new();
        for len in (0..140).chain([255, 256, 257]) {
            // Mostly letters, so a digit lands in a random later block, and one digit just
            // before, at and after each block edge.
            let text: Vec<u8> = (0..len)
                .map(|_| {
                    state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                    b"x9 /:\x80\xc3a"[if (state >> 33).is_multiple_of(16) { (state >> 40) as usize % 8 } else { 0 }]
                })
                .collect();
            texts.push(text);
            for edge in [31, 32, 63, 64, 65, 127, 128].into_iter().filter(|&edge| edge < len) {
                let mut text = vec![b'x'; len];
                text[edge] = b'7';
                texts.push(text);
            }
        }
        for text in &texts {
            for from in 0..=text.len() + 1 {
                let want = text.get(from..).and_then(|rest| rest.iter().position(u8::is_ascii_digit)).map(|p| from + p);
                assert_eq!(next_digit(text, from), want, "{text:?} from {from}");
                assert_eq!(next_digit_portable(text, from), want, "{text:?} from {from}");
            }
        }
        assert!(texts.iter().filter(|text| next_digit(text, 0).is_some()).count() > 100);
    }

    #[test]
    fn word_masks_match_byte_tests() {
        let all: Vec<u8> = (0..=255).collect();
        let mut state = 9u64;
        let random: Vec<Vec<u8>> = (0..=64)
            .map(|len| {
                (0..len)
                    .map(|_| {
                        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                        (state >> 33) as u8
                    })
                    .collect()
            })
            .collect();
        for block in all.chunks(64).chain(random.iter().map(Vec::as_slice)) {
            let bits =
                |test: fn(u8) -> bool| block.iter().enumerate().fold(0u64, |m, (k, &c)| m | u64::from(test(c)) << k);
            let want = (bits(|c| c.is_ascii_alphanumeric() || c == b'_'), bits(|c| c >= 0xc0));
            assert_eq!(word_masks(block), want, "{block:?}");
            assert_eq!(word_masks_portable(block), want, "{block:?}");
        }
    }

    #[test]
    fn next_of_two_matches_a_byte_search_from_every_position() {
        let mut state = 5u64;
        for len in (0..140).chain([255, 256, 257]) {
            // Mostly random bytes, so the next quote or backslash lands in a random later
            // block.
            let text: Vec<u8> = (0..len)
                .map(|_| {
                    state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                    match (state >> 33) % 40 {
                        0 => b'"',
                        1 => b'\\',
                        _ => (state >> 41) as u8,
                    }
                })
                .collect();
            for from in 0..=len + 1 {
                let want =
                    text.get(from..).and_then(|rest| rest.iter().position(|b| b"\"\\".contains(b))).map(|p| from + p);
                assert_eq!(next_of_two(&text, from, b'"', b'\\'), want, "{text:?} from {from}");
            }
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn vector_masks_match_the_scalar_ones() {
        if !avx512::available() {
            eprintln!("no AVX-512 here: the vector masks are not tested");
            return;
        }
        // Random blocks of every length (the masked load must stop at the block's end), then
        // every byte value.
        let all: Vec<u8> = (0..=255).collect();
        let mut state = 3u64;
        for len in (0..=64).chain([64; 200]) {
            let block: Vec<u8> = (0..len)
                .map(|_| {
                    state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                    (state >> 33) as u8
                })
                .collect();
            // SAFETY: `available()` checked that the processor has the target features.
            let vector = unsafe { avx512::masks_with_high(&block) };
            assert_eq!(vector, masks_with_high(&block), "{block:?}");
        }
        for chunk in all.chunks(64) {
            // SAFETY: as above.
            assert_eq!(unsafe { avx512::masks_with_high(chunk) }, masks_with_high(chunk), "{chunk:?}");
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn vector_digit_byte_and_range_masks_match_byte_tests() {
        if !avx512::available() {
            eprintln!("no AVX-512 here: the vector digit masks are not tested");
            return;
        }
        // Every length (the lanes past the end are zero: a zero byte must match nothing, not
        // even `first == 0`), random bytes, and every byte value.
        let all: Vec<u8> = (0..=255).collect();
        let mut state = 5u64;
        let mut blocks: Vec<Vec<u8>> = all.chunks(64).map(<[u8]>::to_vec).collect();
        for len in (0..=64).chain([64; 200]) {
            blocks.push(
                (0..len)
                    .map(|_| {
                        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                        b"09/:@\0\xff\x80a"[(state >> 33) as usize % 9]
                    })
                    .collect(),
            );
        }
        for block in &blocks {
            for (first, second) in [(b'@', b':'), (0, 0xff), (b'0', b'9')] {
                let expect = |test: &dyn Fn(u8) -> bool| {
                    block.iter().enumerate().fold(0u64, |mask, (k, &c)| mask | u64::from(test(c)) << k)
                };
                let want = (expect(&|c| c.is_ascii_digit()), expect(&|c| c == first), expect(&|c| c == second));
                // SAFETY: `available()` checked that the processor has the target features.
                let got = unsafe { avx512::digit_and_byte_masks(block, first, second) };
                assert_eq!(got, want, "{block:?} {first} {second}");
                // SAFETY: as above.
                assert_eq!(unsafe { avx512::digit_mask(block) }, want.0, "{block:?}");
            }
            for (lo, hi) in [(b'0', b'@'), (0, 0), (0, 255), (255, 255), (b'9', b'0'), (0x7f, 0x80), (1, 254)] {
                let want =
                    block.iter().enumerate().fold(0u64, |mask, (k, c)| mask | u64::from((lo..=hi).contains(c)) << k);
                // SAFETY: `available()` checked that the processor has the target features.
                assert_eq!(unsafe { avx512::range_mask(block, lo, hi) }, want, "{block:?} {lo}..={hi}");
            }
        }
    }
}
