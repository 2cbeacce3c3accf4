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

/// Bit `k` set for byte `k` in `+..=z` (ASCII letters, digits, `+,-./_` and some other
/// punctuation): a superset of the base64 and hex alphabets that one range test finds, to
/// skip text that holds no long run of them (prose breaks its runs with spaces).
pub(crate) fn base64_superset_mask(block: &[u8]) -> u64 {
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
        }
        assert_eq!(bit_range(0, 64), u64::MAX);
        assert_eq!(bit_range(3, 5), 0b11000);
        assert_eq!(bit_range(64, 64), 0);
    }
}
