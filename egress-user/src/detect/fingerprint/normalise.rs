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
        return block_with(text, from, stop, norm, pos, len, capacity, |chunk, i, norm, pos, len| {
            // SAFETY: `available()` checked that the processor has the target features.
            unsafe { avx512::ascii_chunk(chunk, i, norm, pos, len) }
        });
    }
    block_with(text, from, stop, norm, pos, len, capacity, scalar_ascii_chunk)
}

/// [`block`] with `chunk` normalising up to 64 ASCII bytes at a time (the bytes, and the
/// text offset of the first); it returns `None` when they are not all ASCII.
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
        let chunk_end = stop.min(i + 64);
        if let Some(grown) = chunk(&bytes[i..chunk_end], i, norm, pos, len) {
            len = grown;
            i = chunk_end;
            continue;
        }
        // The 64 bytes one by one: they hold a non-ASCII character.
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

/// Up to 64 ASCII bytes, with one test for the high bits.
fn scalar_ascii_chunk(chunk: &[u8], i: usize, norm: &mut [u8], pos: &mut [u32], mut len: usize) -> Option<usize> {
    if !chunk.is_ascii() {
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

    /// Whether this processor has what [`ascii_chunk`] uses: checked once, then one load.
    pub(super) fn available() -> bool {
        static AVAILABLE: std::sync::LazyLock<bool> = std::sync::LazyLock::new(|| {
            is_x86_feature_detected!("avx512f")
                && is_x86_feature_detected!("avx512bw")
                && is_x86_feature_detected!("avx512vbmi2")
                && is_x86_feature_detected!("popcnt")
        });
        *AVAILABLE
    }

    /// [`super::scalar_ascii_chunk`] in vector registers: lowercase, keep the letters and
    /// digits, compress them (and their offsets) to the front, store whole vectors.
    ///
    /// # Safety
    /// The processor must have the enabled target features ([`available`]).
    #[target_feature(enable = "avx512f,avx512bw,avx512vbmi2,popcnt")]
    pub(super) unsafe fn ascii_chunk(
        chunk: &[u8],
        i: usize,
        norm: &mut [u8],
        pos: &mut [u32],
        len: usize,
    ) -> Option<usize> {
        // Bounds of the full-vector stores below, checked once.
        let (norm_out, pos_out) = (&mut norm[len..len + 64], &mut pos[len..len + 64]);
        let lanes = if chunk.len() >= 64 { u64::MAX } else { (1u64 << chunk.len()) - 1 };
        // SAFETY: the masked load reads only the lanes in `lanes`, all within `chunk` (the
        // others are not read and are zero, which is dropped as punctuation); the stores
        // below go to `norm_out` and `pos_out`, 64 entries each; all unaligned.
        let v = unsafe { _mm512_maskz_loadu_epi8(lanes, chunk.as_ptr().cast()) };
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The normalised bytes and their offsets of `text[from..stop]`, byte by byte.
    fn reference(text: &str, from: usize, stop: usize) -> (Vec<u8>, Vec<u32>) {
        let (mut norm, mut pos) = (Vec::new(), Vec::new());
        for (i, c) in text[from..stop].char_indices() {
            if c.is_alphanumeric() {
                for lower in c.to_lowercase() {
                    let mut buf = [0u8; 4];
                    for &b in lower.encode_utf8(&mut buf).as_bytes() {
                        norm.push(b);
                        pos.push((from + i) as u32);
                    }
                }
            }
        }
        (norm, pos)
    }

    #[test]
    fn vector_and_scalar_chunks_equal_the_definition() {
        let pieces = ["Hello", " ", "WORLD", ", ", "42", "\n", "İstanbul", "-", "ÆØÅ", "東京", "x_y", "\t", "\"q\""];
        let mut state = 7u64;
        for round in 0..300 {
            let mut text = String::new();
            while text.len() < round * 3 {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                text.push_str(pieces[(state >> 33) as usize % pieces.len()]);
            }
            let capacity = 2 * text.len() + 32;
            let expected = reference(&text, 0, text.len());
            let (mut norm, mut pos) = (vec![0u8; capacity + SLACK], vec![0u32; capacity + SLACK]);
            let (reached, len) = block(&text, 0, text.len(), &mut norm, &mut pos, 0, capacity);
            assert_eq!(reached, text.len());
            assert_eq!((&norm[..len], &pos[..len]), (expected.0.as_slice(), expected.1.as_slice()), "{text:?}");
            let (reached, len) = block_with(&text, 0, text.len(), &mut norm, &mut pos, 0, capacity, scalar_ascii_chunk);
            assert_eq!(reached, text.len());
            assert_eq!((&norm[..len], &pos[..len]), (expected.0.as_slice(), expected.1.as_slice()), "{text:?}");
        }
    }
}
