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

/// Token bytes at the end of a word whose mask is `m`.
#[inline(always)]
fn tail(m: u64) -> usize {
    ((!m & HI).leading_zeros() / 8) as usize
}

/// Token bytes at the start of a word whose mask is `m`.
#[inline(always)]
fn head(m: u64) -> usize {
    ((!m & HI).trailing_zeros() / 8) as usize
}

/// The mask of word `i` of `t` (zero-padded past the end).
#[inline(always)]
fn mask_at(t: &[u8], i: usize) -> u64 {
    match t.get(i * 8..i * 8 + 8) {
        Some(w) => token_mask(u64::from_le_bytes(w.try_into().unwrap_or([0; 8]))),
        None => {
            let mut w = [0u8; 8];
            let rest = t.get(i * 8..).unwrap_or_default();
            w[..rest.len().min(8)].copy_from_slice(&rest[..rest.len().min(8)]);
            token_mask(u64::from_le_bytes(w))
        }
    }
}

/// Calls `f(start, end)` for every maximal run of token characters at least `min` (>= 15)
/// bytes long, in order.
pub(crate) fn long_runs(t: &[u8], min: usize, mut f: impl FnMut(usize, usize)) {
    let last = t.len().div_ceil(8);
    let mut prev = 0u64;
    let mut i = 0;
    while i < last {
        // 32 bytes per step while no word is all token bytes.
        if let Some(block) = t.get(i * 8..i * 8 + 32) {
            let mut any_full = false;
            let mut m = 0;
            for w in block.chunks_exact(8) {
                m = token_mask(u64::from_le_bytes(w.try_into().unwrap_or([0; 8])));
                any_full |= m == HI;
            }
            if !any_full {
                prev = m;
                i += 4;
                continue;
            }
        }
        let m = mask_at(t, i);
        if m != HI {
            prev = m;
            i += 1;
            continue;
        }
        let start = i * 8 - tail(prev);
        let mut j = i + 1;
        let mut next = if j < last { mask_at(t, j) } else { 0 };
        while next == HI {
            j += 1;
            next = if j < last { mask_at(t, j) } else { 0 };
        }
        let end = (j * 8 + head(next)).min(t.len());
        if end - start >= min {
            f(start, end);
        }
        prev = next;
        i = j + 1;
    }
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
    fn runs_match_a_bytewise_scan() {
        let mut seed = 12345u64;
        let alphabet = b"ab_-./Z9 \n:=+\xc3\xa9";
        for len in 0..300 {
            let t: Vec<u8> = (0..len)
                .map(|_| {
                    seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                    // Long stretches of token bytes now and then.
                    let pick = (seed >> 33) as usize;
                    if pick % 11 == 0 { b' ' } else { alphabet[pick % 6] }
                })
                .collect();
            for min in [15, 16, 20] {
                let mut got = Vec::new();
                long_runs(&t, min, |s, e| got.push((s, e)));
                assert_eq!(got, slow(&t, min), "len {len} min {min}");
            }
            let mixed: Vec<u8> =
                t.iter().enumerate().map(|(i, &b)| if i % 37 == 5 { alphabet[6 + i % 7] } else { b }).collect();
            let mut got = Vec::new();
            long_runs(&mixed, 16, |s, e| got.push((s, e)));
            assert_eq!(got, slow(&mixed, 16));
        }
    }
}
