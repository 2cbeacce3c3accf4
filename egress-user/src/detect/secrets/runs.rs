//! Finds runs of token characters (`A-Za-z0-9`, `_`, `-`, `.`, `/`) of a minimum length,
//! eight bytes at a time.
//!
//! Every provider token has such a run of 16+ characters (its random body), while prose and
//! most code rarely do, so the token table's automaton only has to look at a short window
//! around each long run instead of at every byte. The byte classes are computed with SWAR
//! arithmetic on `u64` words (no `unsafe`, no target features): a run of 15 or more bytes
//! always covers one whole aligned word, so only all-token words need a closer look.

const HI: u64 = 0x8080_8080_8080_8080;
const ONES: u64 = 0x0101_0101_0101_0101;

/// High bit of each byte set where `x` (high bits clear) is `>= lo`.
#[inline(always)]
fn ge(x: u64, lo: u8) -> u64 {
    x.wrapping_add(ONES * (0x80 - u64::from(lo)))
}

/// High bit of each byte set where `x` (high bits clear) is `<= hi`.
#[inline(always)]
fn le(x: u64, hi: u8) -> u64 {
    (ONES * (0x80 + u64::from(hi))).wrapping_sub(x)
}

/// High bit of each byte set where the byte is a token character. Setting bit 5 folds
/// `A-Z` onto `a-z` and `_` onto 0x7F; `-`, `.`, `/` and the digits are one range. A few
/// control bytes (0x0D to 0x19) and DEL fold into these too: harmless for a prefilter.
#[inline(always)]
pub(crate) fn token_mask(w: u64) -> u64 {
    let x = (w & !HI) | (ONES * 0x20);
    let letters = ge(x, 0x61) & le(x, 0x7A);
    let digits = ge(x, 0x2D) & le(x, 0x39);
    let under = ge(x, 0x7F);
    (letters | digits | under) & !w & HI
}

/// One bit per byte (bit `i` for byte `i`) from a token mask.
#[inline(always)]
fn pack(m: u64) -> u64 {
    ((m >> 7).wrapping_mul(0x0102_0408_1020_4080)) >> 56
}

/// Token bytes of a 32-byte block as 32 bits, eight bytes at a time in `u64` arithmetic.
/// (Faster here than SSE2 intrinsics behind a `target_feature` call or a byte loop left
/// to the auto-vectorizer, both measured.)
#[inline(always)]
fn bits_of(block: &[u8; 32]) -> u64 {
    let mut bits = 0;
    for (k, w) in block.as_chunks::<8>().0.iter().enumerate() {
        bits |= pack(token_mask(u64::from_le_bytes(*w))) << (8 * k);
    }
    bits
}

/// Token bytes of `t[at..at + 32]` as 32 bits (zero past the end).
#[inline(always)]
pub(crate) fn block_bits(t: &[u8], at: usize) -> u64 {
    match t.get(at..at + 32) {
        Some(block) => bits_of(block.try_into().unwrap_or(&[0; 32])),
        None => {
            let mut padded = [0u8; 32];
            let rest = t.get(at..).unwrap_or_default();
            padded[..rest.len().min(32)].copy_from_slice(&rest[..rest.len().min(32)]);
            bits_of(&padded)
        }
    }
}

pub(crate) fn is_token_byte(b: u8) -> bool {
    b < 0x80 && token_mask(u64::from(b)) != 0
}

/// Calls `f(start, end)` for every maximal run of token characters at least `min` (16 to
/// 32) bytes long, in order. `bits(at)` gives the token bytes of `t[at..at + 32]` as 32
/// bits, zero past the end ([`block_bits`], or a precomputed [`super::blocks::Block`]);
/// `at` is a multiple of 32 below `t.len()`.
///
/// Per 32-byte block: the token bits of the block and the one before (64 bits), folded so
/// that bit `k` says "bytes `k..k + 16` are all token bytes". Only a block where that is
/// true anywhere is looked at closer, for its run's bounds.
pub(crate) fn long_runs(t: &[u8], min: usize, bits: impl Fn(usize) -> u64, mut f: impl FnMut(usize, usize)) {
    debug_assert!((16..=32).contains(&min));
    let mut prev = 0u64;
    let mut at = 0;
    // Bytes before `floor` belong to a run already reported.
    let mut floor = 0;
    while at < t.len() {
        let mut block = bits(at);
        if floor > at {
            block &= !((1u64 << (floor - at).min(32)) - 1);
        }
        let both = prev | (block << 32);
        let mut r = both & (both >> 1);
        r &= r >> 2;
        r &= r >> 4;
        r &= r >> 8;
        // A 16-byte stretch ending in this block (starting at bit 17 or later).
        if r >> 17 == 0 {
            prev = block;
            at += 32;
            continue;
        }
        // Its run's exact bounds, from the bits. It starts after the last non-token byte
        // before its stretch: within `both`, since a run reaching further back would have
        // had its stretch found one block earlier (and bytes before `floor` are clear).
        let first = (r >> 17).trailing_zeros() as usize + 17;
        let before = !both & ((1u64 << first) - 1);
        let start = at + (64 - before.leading_zeros() as usize) - 32;
        let mut end = start + (both >> (start + 32 - at)).trailing_ones() as usize;
        // On through whole blocks of token bytes (the bits are clear past the text's end).
        let mut next = at + 32;
        while end == next && next < t.len() {
            end += bits(next).trailing_ones() as usize;
            next += 32;
        }
        if end - start >= min {
            f(start, end);
        }
        floor = end;
        at = end / 32 * 32;
        prev = 0;
    }
}

/// Whether a long run can be (or follow the prefix of) a provider token: token bodies are
/// random, so they have a digit or a capital, and are not camelCase words
/// (`getElementsByTagName`) or lowercase names (`__webpack_require__`).
pub(crate) fn may_hold_token(run: &[u8]) -> bool {
    let digit = run.iter().any(u8::is_ascii_digit);
    digit || (run.iter().any(u8::is_ascii_uppercase) && !super::entropy::is_wordy(run))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slow(t: &[u8], min: usize) -> Vec<(usize, usize)> {
        let is_tok = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'/' | 0x0D..=0x19 | 0x7F);
        let mut out = Vec::new();
        let mut i = 0;
        while i < t.len() {
            if is_tok(t[i]) {
                let s = i;
                while i < t.len() && is_tok(t[i]) {
                    i += 1;
                }
                if i - s >= min {
                    out.push((s, i));
                }
            } else {
                i += 1;
            }
        }
        out
    }

    #[test]
    fn mask_classifies_every_byte() {
        for b in 0u8..=255 {
            let want = b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'/' | 0x0D..=0x19 | 0x7F);
            let m = token_mask(u64::from(b) << 16);
            assert_eq!(m & (0x80 << 16) != 0, want, "byte {b:#x}");
        }
    }

    #[test]
    fn block_bits_classify_every_byte() {
        let mut block = [0u8; 32];
        for start in (0..=255u8).step_by(32) {
            for (i, b) in block.iter_mut().enumerate() {
                *b = start.wrapping_add(i as u8);
            }
            let want = block.iter().enumerate().fold(0u64, |acc, (i, &b)| acc | (u64::from(is_token_byte(b)) << i));
            assert_eq!(bits_of(&block), want, "bytes {start:#x}..");
        }
    }

    #[test]
    fn runs_match_a_bytewise_scan() {
        let mut seed = 12345u64;
        let alphabet = b"ab_-./Z9 \n:=+\xc3\xa9";
        // Long stretches of token bytes now and then; with the second gap, runs over many
        // blocks.
        for (len, gap) in (0..300).map(|len| (len, 11)).chain((0..300).map(|len| (len, 97))) {
            let t: Vec<u8> = (0..len)
                .map(|_| {
                    seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                    let pick = (seed >> 33) as usize;
                    if pick.is_multiple_of(gap) { b' ' } else { alphabet[pick % 6] }
                })
                .collect();
            for min in [16, 20, 32] {
                let mut got = Vec::new();
                long_runs(&t, min, |at| block_bits(&t, at), |s, e| got.push((s, e)));
                assert_eq!(got, slow(&t, min), "len {len} min {min}");
            }
            let mixed: Vec<u8> =
                t.iter().enumerate().map(|(i, &b)| if i % 37 == 5 { alphabet[6 + i % 7] } else { b }).collect();
            let mut got = Vec::new();
            long_runs(&mixed, 16, |at| block_bits(&mixed, at), |s, e| got.push((s, e)));
            assert_eq!(got, slow(&mixed, 16));
        }
    }
}
