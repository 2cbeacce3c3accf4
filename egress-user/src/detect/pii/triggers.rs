//! The bytes that start each family's search: an ASCII digit (numeric), `@` (e-mail) and `:`
//! (IPv6). Most strings of a chat hold none of some of them, so one pass over a string finds
//! the first of each instead of one search per family; with AVX-512 it tests 64 bytes with
//! three compares and one load.

#[cfg(target_arch = "x86_64")]
use crate::detect::ascii::avx512;

/// Where the first ASCII digit, `@` and `:` of a text are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Triggers {
    pub(super) digit: Option<usize>,
    pub(super) at: Option<usize>,
    pub(super) colon: Option<usize>,
}

/// The searches, with the instruction set chosen once rather than at every string.
#[derive(Clone, Copy, Debug)]
pub(super) struct Search {
    avx512: bool,
}

impl Search {
    pub(super) fn new() -> Self {
        #[cfg(target_arch = "x86_64")]
        return Self { avx512: avx512::available() };
        #[cfg(not(target_arch = "x86_64"))]
        Self { avx512: false }
    }

    /// Where the first ASCII digit, `@` and `:` of `b` are.
    pub(super) fn first_triggers(self, b: &[u8]) -> Triggers {
        #[cfg(target_arch = "x86_64")]
        if self.avx512 {
            // SAFETY: `avx512` is set only when `available()` found the target features.
            return unsafe { first_triggers_avx512(b) };
        }
        first_triggers_scalar(b)
    }
}

/// [`Search::first_triggers`] without vector instructions: a search per byte class.
fn first_triggers_scalar(b: &[u8]) -> Triggers {
    Triggers {
        digit: crate::detect::ascii::next_digit(b, 0),
        at: memchr::memchr(b'@', b),
        colon: memchr::memchr(b':', b),
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,bmi1,bmi2")]
fn first_triggers_avx512(b: &[u8]) -> Triggers {
    let mut found = Triggers { digit: None, at: None, colon: None };
    let mut record = |block: &[u8], base: usize| {
        let (digit, at, colon) = avx512::digit_and_byte_masks(block, b'@', b':');
        let first = |mask: u64| (mask != 0).then(|| base + mask.trailing_zeros() as usize);
        found.digit = found.digit.or_else(|| first(digit));
        found.at = found.at.or_else(|| first(at));
        found.colon = found.colon.or_else(|| first(colon));
        found.digit.is_some() && found.at.is_some() && found.colon.is_some()
    };
    let (blocks, tail) = b.as_chunks::<64>();
    for (k, block) in blocks.iter().enumerate() {
        // Digits, `:` and `@` all lie in `0..=@`, which prose seldom has: one compare skips
        // most blocks.
        if avx512::range_mask(block, b'0', b'@') != 0 && record(block, k * 64) {
            return found;
        }
    }
    if avx512::range_mask(tail, b'0', b'@') != 0 {
        record(tail, blocks.len() * 64);
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(b: &[u8]) -> Triggers {
        Triggers {
            digit: b.iter().position(u8::is_ascii_digit),
            at: b.iter().position(|&c| c == b'@'),
            colon: b.iter().position(|&c| c == b':'),
        }
    }

    /// Texts of every length around the 32- and 64-byte block edges, random bytes drawn mostly
    /// from the trigger bytes, their neighbours (`/`, `;`, `?`, `A`) and non-ASCII bytes.
    fn texts() -> Vec<Vec<u8>> {
        let alphabet = b"0 9/:;@?A\x80\xc3\xa9\xff\x00ab";
        let mut state = 11u64;
        let mut random = |n: usize| {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (state >> 33) as usize % n
        };
        let mut out = Vec::new();
        for len in (0..200).chain([255, 256, 257, 1000]) {
            for sparse in [false, true] {
                // Sparse texts are mostly letters, so a trigger lands in a random later block.
                let mut text: Vec<u8> = (0..len)
                    .map(|_| if sparse && random(20) != 0 { b'x' } else { alphabet[random(alphabet.len())] })
                    .collect();
                out.push(text.clone());
                // One trigger byte just before, at and after each block edge.
                for edge in [31, 32, 63, 64, 65, 127, 128] {
                    if edge < len {
                        text.fill(b'x');
                        text[edge] = b"7@:"[random(3)];
                        out.push(text.clone());
                    }
                }
            }
        }
        out.push((0..=255).collect());
        out
    }

    #[test]
    fn first_triggers_match_a_byte_search() {
        for text in texts() {
            let want = reference(&text);
            assert_eq!(Search::new().first_triggers(&text), want, "{text:?}");
            assert_eq!(first_triggers_scalar(&text), want, "{text:?}");
            #[cfg(target_arch = "x86_64")]
            if avx512::available() {
                // SAFETY: `available()` checked that the processor has the target features.
                assert_eq!(unsafe { first_triggers_avx512(&text) }, want, "{text:?}");
            }
        }
    }
}
