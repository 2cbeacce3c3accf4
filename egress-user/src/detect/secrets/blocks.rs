//! One AVX-512 pass that classifies a text 64 bytes at a time: which bytes are token
//! characters (for [`super::runs::long_runs`]), and where a keyword literal may start (for
//! the keyword pass). Most texts (prose, short JSON values) have neither a long run nor a
//! keyword, and are done after this pass.
//!
//! Every byte class is a lookup in a 128-entry table (`vpermi2b`, AVX-512 VBMI); bytes of
//! 0x80 and above are in no class. A keyword literal is found by three of its bytes at a
//! fixed offset (its *window*): a byte's entry in the table of window position `j` has bit
//! `b` set when some literal of bucket `b` has that byte at position `j`, so a literal of
//! bucket `b` may start where the three entries share bit `b`. Only literals whose bytes
//! rarely mix in text share a bucket; a false candidate costs one anchored automaton step.
//!
//! Machines without AVX-512 VBMI use the scanner's other path (Teddy and word-at-a-time
//! runs); [`Classifier::new`] returns `None` there.

/// What one 64-byte block holds: bit `i` stands for byte `i` of the block.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Block {
    /// The byte is a token character ([`super::runs::token_mask`]).
    pub token: u64,
    /// A keyword literal may start at the byte.
    pub keyword: u64,
}

/// Block size in bytes.
pub(crate) const BLOCK: usize = 64;

/// Where in a literal each window's three bytes are: the first three bytes, or bytes 5..8
/// for long literals that start like common words (`service`, `input`, `-----`).
const WINDOW_OFFSETS: [usize; 2] = [0, 5];

/// The keyword literals of each window's buckets (any case form of a listed literal
/// belongs to its bucket). `pass` / `Basic ` and `pwd` / `://` share a bucket: mixtures
/// like `Bas`, `p:/` or `:wd` are rare.
const BUCKETS: [&[&[&str]]; 2] = [
    &[&["pass", "Basic "], &["pwd", "://"], &["secret"], &["sig="], &["token"], &["key"], &["auth"], &["credential"]],
    &[&["service_account"], &["PuTTY-User-Key-File-"], &["-----BEGIN "]],
];

/// The lookup tables, one entry per ASCII byte.
#[derive(Clone, Debug)]
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code, reason = "read by the x86-64 vector code"))]
pub(crate) struct Tables {
    /// Non-zero for a token character.
    token: [u8; 128],
    /// Per window and window position, the buckets having that byte there.
    windows: [[[u8; 128]; 3]; 2],
}

impl Tables {
    /// Tables for the keyword literals `keywords`. Panics if a literal has no bucket in
    /// [`BUCKETS`] (then it could never be found) or is too short for its window.
    pub(crate) fn new(keywords: &[&str]) -> Self {
        let mut token = [0u8; 128];
        for (b, entry) in token.iter_mut().enumerate() {
            *entry = u8::from(super::runs::is_token_byte(b as u8));
        }
        let mut windows = [[[0u8; 128]; 3]; 2];
        for literal in keywords {
            let (window, bucket) = BUCKETS
                .iter()
                .enumerate()
                .find_map(|(window, buckets)| {
                    let bucket = buckets.iter().position(|b| b.iter().any(|l| l.eq_ignore_ascii_case(literal)))?;
                    Some((window, bucket))
                })
                .unwrap_or_else(|| panic!("keyword literal {literal:?} has no prefilter bucket"));
            let offset = WINDOW_OFFSETS[window];
            let bytes = &literal.as_bytes()[offset..offset + 3];
            for (position, &byte) in bytes.iter().enumerate() {
                assert!(byte.is_ascii() && byte != 0, "keyword literal {literal:?} is not printable ASCII");
                windows[window][position][usize::from(byte)] |= 1 << bucket;
            }
        }
        Self { token, windows }
    }

    /// The blocks of `t`, byte by byte: the reference the vector code must agree with.
    #[cfg(test)]
    pub(crate) fn classify_bytewise(&self, t: &[u8]) -> Vec<Block> {
        let entry = |table: &[u8; 128], at: usize| match t.get(at) {
            Some(&b) if b < 0x80 => table[usize::from(b)],
            _ => 0,
        };
        let mut blocks = vec![Block::default(); t.len().div_ceil(BLOCK)];
        for i in 0..t.len() {
            let bit = 1u64 << (i % BLOCK);
            if entry(&self.token, i) != 0 {
                blocks[i / BLOCK].token |= bit;
            }
            for (tables, offset) in self.windows.iter().zip(WINDOW_OFFSETS) {
                let at = i + offset;
                if entry(&tables[0], at) & entry(&tables[1], at + 1) & entry(&tables[2], at + 2) != 0 {
                    blocks[i / BLOCK].keyword |= bit;
                }
            }
        }
        blocks
    }
}

/// The vector classifier; exists only on a CPU that can run it.
#[derive(Clone, Debug)]
pub(crate) struct Classifier {
    tables: Tables,
}

impl Classifier {
    /// `None` when the CPU lacks AVX-512 (F, BW and VBMI).
    pub(crate) fn new(tables: Tables) -> Option<Self> {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512bw")
            && std::arch::is_x86_feature_detected!("avx512vbmi")
        {
            return Some(Self { tables });
        }
        let _ = tables;
        None
    }

    /// Fills `out` (one entry per 64 bytes of `t`, the last one zero-padded) with the blocks
    /// of `t`.
    pub(crate) fn classify(&self, t: &[u8], out: &mut [Block]) {
        assert_eq!(out.len(), t.len().div_ceil(BLOCK), "one block per 64 bytes");
        #[cfg(target_arch = "x86_64")]
        // SAFETY: a `Classifier` is only built after detecting every feature the function
        // enables.
        unsafe {
            avx512::classify(&self.tables, t, out)
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::{
        __m512i, __mmask64, _mm512_add_epi8, _mm512_and_si512, _mm512_loadu_si512, _mm512_maskz_loadu_epi8,
        _mm512_movepi8_mask, _mm512_or_si512, _mm512_permutex2var_epi8, _mm512_set_epi8, _mm512_set1_epi8,
        _mm512_test_epi8_mask,
    };

    use super::{BLOCK, Block, Tables, WINDOW_OFFSETS};

    /// Where the vectors of a block start, relative to the block: the bytes of each window.
    const VECTORS: [usize; 6] = [
        WINDOW_OFFSETS[0],
        WINDOW_OFFSETS[0] + 1,
        WINDOW_OFFSETS[0] + 2,
        WINDOW_OFFSETS[1],
        WINDOW_OFFSETS[1] + 1,
        WINDOW_OFFSETS[1] + 2,
    ];
    /// Bytes a block reads.
    const SPAN: usize = BLOCK + VECTORS[5];

    #[inline]
    #[target_feature(enable = "avx512f")]
    fn load(bytes: &[u8]) -> __m512i {
        let bytes: &[u8; 64] = bytes.try_into().expect("a vector is 64 bytes");
        // SAFETY: `bytes` is 64 readable bytes, and an unaligned load needs no alignment.
        unsafe { _mm512_loadu_si512(bytes.as_ptr().cast()) }
    }

    /// A 128-entry table as the two halves `vpermi2b` selects from.
    #[derive(Clone, Copy)]
    struct Lut(__m512i, __m512i);

    impl Lut {
        #[inline]
        #[target_feature(enable = "avx512f")]
        fn new(table: &[u8; 128]) -> Self {
            Self(load(&table[..64]), load(&table[64..]))
        }

        /// Each byte's entry (of its low seven bits: callers mask out bytes >= 0x80).
        #[inline]
        #[target_feature(enable = "avx512f,avx512vbmi")]
        fn get(self, bytes: __m512i) -> __m512i {
            _mm512_permutex2var_epi8(self.0, bytes, self.1)
        }
    }

    /// Bytes >= 0x80.
    #[inline]
    #[target_feature(enable = "avx512bw")]
    fn non_ascii(bytes: __m512i) -> __mmask64 {
        _mm512_movepi8_mask(bytes)
    }

    /// The vectors at [`VECTORS`] of `rest`, the text from a block's start on, shorter than
    /// [`SPAN`]: zero past its end.
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
    fn tail_vectors(rest: &[u8]) -> [__m512i; 6] {
        let lanes = |from: usize| {
            let len = rest.len().saturating_sub(from).min(64);
            if len == 64 { u64::MAX } else { (1u64 << len) - 1 }
        };
        // SAFETY: a masked load reads only the bytes whose lane is set, all within `rest`
        // (none when the mask is zero).
        let low = unsafe { _mm512_maskz_loadu_epi8(lanes(0), rest.as_ptr().cast()) };
        // SAFETY: as above; the pointer is only offset when `rest` reaches past 64 bytes.
        let high = unsafe { _mm512_maskz_loadu_epi8(lanes(64), rest.as_ptr().add(rest.len().min(64)).cast()) };
        let lane_numbers = _mm512_set_epi8(
            63, 62, 61, 60, 59, 58, 57, 56, 55, 54, 53, 52, 51, 50, 49, 48, 47, 46, 45, 44, 43, 42, 41, 40, 39, 38, 37,
            36, 35, 34, 33, 32, 31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17, 16, 15, 14, 13, 12, 11, 10,
            9, 8, 7, 6, 5, 4, 3, 2, 1, 0,
        );
        // Lane j of the vector at `offset` is byte `offset + j`: of `low`, or of `high` past 63.
        VECTORS.map(|offset| {
            _mm512_permutex2var_epi8(low, _mm512_add_epi8(lane_numbers, _mm512_set1_epi8(offset as i8)), high)
        })
    }

    /// Where a window's three entries share a bucket.
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
    fn window(luts: &[Lut; 3], [a, b, c]: [__m512i; 3]) -> __mmask64 {
        let shared = _mm512_and_si512(_mm512_and_si512(luts[0].get(a), luts[1].get(b)), luts[2].get(c));
        _mm512_test_epi8_mask(shared, shared) & !non_ascii(_mm512_or_si512(_mm512_or_si512(a, b), c))
    }

    #[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
    pub(super) fn classify(tables: &Tables, t: &[u8], out: &mut [Block]) {
        let token = Lut::new(&tables.token);
        let window_luts = |w: usize| [0, 1, 2].map(|position| Lut::new(&tables.windows[w][position]));
        let windows = [window_luts(0), window_luts(1)];
        for (i, block) in out.iter_mut().enumerate() {
            let at = i * BLOCK;
            let [v0, v1, v2, v5, v6, v7] = match t.get(at..at + SPAN) {
                Some(span) => VECTORS.map(|offset| load(&span[offset..offset + BLOCK])),
                // The last blocks read past the text's end: zeros there. (Not a zero-padded
                // copy on the stack: loading vectors from bytes just copied there stalls on
                // store forwarding, which cost most of the scan of a short string.)
                None => tail_vectors(&t[at..]),
            };
            let entries = token.get(v0);
            block.token = _mm512_test_epi8_mask(entries, entries) & !non_ascii(v0);
            block.keyword = window(&windows[0], [v0, v1, v2]) | window(&windows[1], [v5, v6, v7]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keywords() -> Vec<String> {
        super::super::SecretScanner::keyword_literals().into_iter().map(|(literal, _)| literal).collect()
    }

    fn tables() -> Tables {
        Tables::new(&keywords().iter().map(String::as_str).collect::<Vec<_>>())
    }

    #[test]
    fn every_keyword_literal_start_is_a_candidate() {
        let tables = tables();
        for literal in keywords() {
            for lead in 0..70 {
                let text = format!("{}{literal}", " ".repeat(lead));
                let blocks = tables.classify_bytewise(text.as_bytes());
                assert!(blocks[lead / BLOCK].keyword & (1 << (lead % BLOCK)) != 0, "{literal:?} at {lead}");
            }
        }
    }

    #[test]
    fn plain_prose_has_no_candidates() {
        let text = b"the report customer quarterly revenue deploy service latency please summarise meeting";
        let blocks = tables().classify_bytewise(text);
        assert!(blocks.iter().all(|b| b.keyword == 0), "{blocks:?}");
    }

    #[test]
    #[should_panic(expected = "no prefilter bucket")]
    fn a_literal_without_a_bucket_is_refused() {
        Tables::new(&["password", "hunter2"]);
    }

    /// The vector pass against the bytewise one, on random text with literal pieces,
    /// non-ASCII bytes (which alias ASCII in the low seven bits) and every length around
    /// block edges.
    #[test]
    fn vector_blocks_match_the_bytewise_reference() {
        let tables = tables();
        let Some(classifier) = Classifier::new(tables.clone()) else {
            eprintln!("no AVX-512 VBMI here: vector classifier not tested");
            return;
        };
        let pieces: &[&[u8]] = &[
            b"pass",
            b"PASS",
            b"Pwd",
            b"://",
            b"Basic ",
            b"sig=",
            b"TOKEN",
            b"key",
            b"Auth",
            b"credential",
            b"secret",
            b"service_account",
            b"PuTTY-User-Key-File-",
            b"-----BEGIN ",
            b"ce_",
            b"-Us",
            b"BEG",
            b"abcXYZ09_-./",
            b" ",
            b"\n",
            b"\xc3\xa9",
            b"\xf0\x9f\x94\x91",
            b"\xf0\xe1\xf4",
            b"\xb3\xa1\xa5\xa7",
            b"\x0e\x7f\x00",
        ];
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for len in (0..400).chain([1000, 4096 + 7]) {
            let mut text = Vec::new();
            while text.len() < len {
                text.extend_from_slice(pieces[next() as usize % pieces.len()]);
            }
            text.truncate(len);
            let mut blocks = vec![Block::default(); len.div_ceil(BLOCK)];
            classifier.classify(&text, &mut blocks);
            assert_eq!(blocks, tables.classify_bytewise(&text), "len {len}: {:?}", String::from_utf8_lossy(&text));
        }
        let every_byte: Vec<u8> = (0..=255u8).chain((0..=255u8).rev()).collect();
        let mut blocks = vec![Block::default(); every_byte.len().div_ceil(BLOCK)];
        classifier.classify(&every_byte, &mut blocks);
        assert_eq!(blocks, tables.classify_bytewise(&every_byte));
    }
}
