//! Normalisation of text into the byte stream that is hashed: its letters and digits,
//! lowercased, with the text offset of each (see the module docs of `fingerprint`).
//!
//! Chunks of 64 ASCII bytes are normalised with AVX-512 where the processor has it (one
//! vector compress drops the other bytes: no branch and no table load per byte); every other
//! byte takes the scalar path, which is also the whole path elsewhere.

/// Lowercase of an ASCII letter or digit; 0 for every other ASCII byte (dropped).
const ASCII_NORM: [u8; 128] = {
    let mut table = [0u8; 128];
    let mut b = 0;
    while b < 128 {
        let c = b as u8;
        table[b] = match c {
            b'0'..=b'9' | b'a'..=b'z' => c,
            b'A'..=b'Z' => c + 32,
            _ => 0,
        };
        b += 1;
    }
    table
};

/// Room a caller leaves in `norm` and `pos` past what a call can fill: the vector path stores
/// whole 64-byte (and 16-offset) vectors, of which only the first `popcount` entries count.
pub(super) const SLACK: usize = 64;

/// Normalises `text[from..stop]` (or less, see below) into `norm[len..]`, with the text offset
/// (truncated to 32 bits) of each normalised byte in `pos[len..]`. Returns the text offset
/// reached and the new `len`.
///
/// Stops early, at a character boundary, when a non-ASCII character might not fit below
/// `capacity - 12` (lowercasing can lengthen a character). `norm` and `pos` hold at least
/// `capacity + SLACK` entries, and `len + (stop - from)` never exceeds `capacity - 12` for
/// ASCII text, so vector stores stay in bounds.
pub(super) fn block(
    text: &str,
    from: usize,
    stop: usize,
    norm: &mut [u8],
    pos: &mut [u32],
    len: usize,
    capacity: usize,
) -> (usize, usize) {
    #[cfg(target_arch = "x86_64")]
    if avx512::available() {
        return block_with(text, from, stop, norm, pos, len, capacity, |bytes, i, norm, pos, len| {
            // SAFETY: `available()` checked that the processor has the target features.
            unsafe { avx512::ascii_chunk(bytes, i, norm, pos, len) }
        });
    }
    block_with(text, from, stop, norm, pos, len, capacity, scalar_ascii_chunk)
}

/// [`block`] with `chunk` normalising 64 ASCII bytes at a time; returns `None` when the 64
/// bytes at `i` are not all ASCII.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn block_with(
    text: &str,
    from: usize,
    stop: usize,
    norm: &mut [u8],
    pos: &mut [u32],
    mut len: usize,
    capacity: usize,
    chunk: impl Fn(&[u8], usize, &mut [u8], &mut [u32], usize) -> Option<usize>,
) -> (usize, usize) {
    let bytes = text.as_bytes();
    let mut i = from;
    while i < stop {
        if i + 64 <= stop
            && let Some(grown) = chunk(bytes, i, norm, pos, len)
        {
            len = grown;
            i += 64;
            continue;
        }
        // Up to the next 64 bytes one by one: they hold a non-ASCII character, or they are
        // the block's tail.
        let chunk_end = stop.min(i + 64);
        while i < chunk_end {
            let b = bytes[i];
            if b < 0x80 {
                let n = ASCII_NORM[b as usize];
                norm[len] = n;
                pos[len] = i as u32;
                len += usize::from(n != 0);
                i += 1;
                continue;
            }
            if len + 12 > capacity {
                return (i, len);
            }
            let Some(c) = text[i..].chars().next() else {
                return (i, len);
            };
            if c.is_alphanumeric() {
                for lower in c.to_lowercase() {
                    let mut buf = [0u8; 4];
                    for &nb in lower.encode_utf8(&mut buf).as_bytes() {
                        norm[len] = nb;
                        pos[len] = i as u32;
                        len += 1;
                    }
                }
            }
            i += c.len_utf8();
        }
    }
    (i, len)
}

/// 64 ASCII bytes, eight at a time with one test for the high bits.
fn scalar_ascii_chunk(bytes: &[u8], i: usize, norm: &mut [u8], pos: &mut [u32], mut len: usize) -> Option<usize> {
    let chunk: &[u8; 64] = bytes[i..].first_chunk()?;
    let (eights, _) = chunk.as_chunks::<8>();
    if eights.iter().any(|eight| u64::from_le_bytes(*eight) & 0x8080_8080_8080_8080 != 0) {
        return None;
    }
    for (offset, &b) in chunk.iter().enumerate() {
        let n = ASCII_NORM[b as usize];
        norm[len] = n;
        pos[len] = (i + offset) as u32;
        len += usize::from(n != 0);
    }
    Some(len)
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::*;

    /// Whether this processor has what [`ascii_chunk`] uses (checked once, then cached by
    /// the standard library).
    pub(super) fn available() -> bool {
        is_x86_feature_detected!("avx512f")
            && is_x86_feature_detected!("avx512bw")
            && is_x86_feature_detected!("avx512vbmi2")
            && is_x86_feature_detected!("popcnt")
    }

    /// [`super::scalar_ascii_chunk`] in vector registers: lowercase, keep the letters and
    /// digits, compress them (and their offsets) to the front, store whole vectors.
    ///
    /// # Safety
    /// The processor must have the enabled target features ([`available`]).
    #[target_feature(enable = "avx512f,avx512bw,avx512vbmi2,popcnt")]
    pub(super) unsafe fn ascii_chunk(
        bytes: &[u8],
        i: usize,
        norm: &mut [u8],
        pos: &mut [u32],
        len: usize,
    ) -> Option<usize> {
        let chunk: &[u8; 64] = bytes[i..].first_chunk()?;
        // Bounds of the full-vector stores below, checked once.
        let (norm_out, pos_out) = (&mut norm[len..len + 64], &mut pos[len..len + 64]);
        // SAFETY (this and the stores): `chunk`, `norm_out` and `pos_out` are 64 entries long
        // and the loads and stores are unaligned ones.
        let v = unsafe { _mm512_loadu_si512(chunk.as_ptr().cast()) };
        if _mm512_movepi8_mask(v) != 0 {
            return None;
        }
        let upper = _mm512_cmplt_epu8_mask(_mm512_sub_epi8(v, _mm512_set1_epi8(b'A' as i8)), _mm512_set1_epi8(26));
        let lowered = _mm512_mask_add_epi8(v, upper, v, _mm512_set1_epi8(32));
        let letter =
            _mm512_cmplt_epu8_mask(_mm512_sub_epi8(lowered, _mm512_set1_epi8(b'a' as i8)), _mm512_set1_epi8(26));
        let digit = _mm512_cmplt_epu8_mask(_mm512_sub_epi8(v, _mm512_set1_epi8(b'0' as i8)), _mm512_set1_epi8(10));
        let kept = letter | digit;
        unsafe { _mm512_storeu_si512(norm_out.as_mut_ptr().cast(), _mm512_maskz_compress_epi8(kept, lowered)) };
        let lanes = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
        let mut filled = 0;
        for quarter in 0..4 {
            let mask = (kept >> (16 * quarter)) as u16;
            let offsets = _mm512_add_epi32(lanes, _mm512_set1_epi32((i + 16 * quarter) as i32));
            let packed = _mm512_maskz_compress_epi32(mask, offsets);
            unsafe { _mm512_storeu_si512(pos_out[filled..].as_mut_ptr().cast(), packed) };
            filled += mask.count_ones() as usize;
        }
        Some(len + filled)
    }
}
