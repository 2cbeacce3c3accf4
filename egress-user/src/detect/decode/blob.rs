//! What is encoded inside a segment's text: URL query values and base64, hex and
//! percent-encoded blobs. Only what decodes to text is kept: a blob that decodes to binary
//! (an image, a hash, an identifier that merely looks like base64) holds nothing a text
//! detector could find.
use std::borrow::Cow;

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use memchr::{memchr, memchr_iter};

use super::{Segment, SpanMap, compose, hex_pair, percent_decode, to_text};
use crate::detect::ascii;

const MIN_BASE64: usize = 16;
const MIN_HEX: usize = 16;
const MIN_ESCAPES: usize = 3;
const MAX_SCHEME: usize = 32;
/// Share of non-printable bytes (in percent) above which decoded bytes are binary.
const MAX_BINARY_PERCENT: usize = 15;
/// Encoded characters decoded first, to drop a binary blob (a base64 image of megabytes)
/// after decoding 48 bytes of it.
const PROBE: usize = 64;

const CONFIG: GeneralPurposeConfig = GeneralPurposeConfig::new()
    .with_decode_allow_trailing_bits(true)
    .with_decode_padding_mode(DecodePaddingMode::Indifferent);
const STANDARD: GeneralPurpose = GeneralPurpose::new(&alphabet::STANDARD, CONFIG);
const URL_SAFE: GeneralPurpose = GeneralPurpose::new(&alphabet::URL_SAFE, CONFIG);

// Character classes of the base64 alphabets, as bits, so one pass over a run says which
// alphabet it can be and whether it is pure hex.
const UPPER: u8 = 1;
const LOWER: u8 = 2;
const DIGIT: u8 = 4;
const STD_ONLY: u8 = 8;
const URL_ONLY: u8 = 16;
const NOT_HEX: u8 = 32;

static CLASS: [u8; 256] = classes();

const fn classes() -> [u8; 256] {
    let mut table = [0; 256];
    let mut i = 0;
    while i < 256 {
        table[i] = match i as u8 {
            b'A'..=b'F' => UPPER,
            b'G'..=b'Z' => UPPER | NOT_HEX,
            b'a'..=b'f' => LOWER,
            b'g'..=b'z' => LOWER | NOT_HEX,
            b'0'..=b'9' => DIGIT,
            b'+' | b'/' => STD_ONLY | NOT_HEX,
            b'-' | b'_' => URL_ONLY | NOT_HEX,
            _ => 0,
        };
        i += 1;
    }
    table
}

/// Appends the segments decoded from `segment`'s text, one level deeper.
pub(super) fn expand<'p>(segment: &Segment<'p>, out: &mut Vec<Segment<'p>>) {
    // Most strings hold neither a URL's `:` nor a `%`: one search says so.
    let text = segment.text.as_bytes();
    if let Some(first) = ascii::next_of_two(text, 0, b':', b'%') {
        if memchr(b':', &text[first..]).is_some() {
            query_values(segment, out);
        }
        if memchr(b'%', &text[first..]).is_some() {
            percent_blobs(segment, out);
        }
    }
    encoded_runs(segment, out);
}

fn child<'p>(parent: &Segment<'p>, text: String, map: SpanMap) -> Segment<'p> {
    Segment { text: Cow::Owned(text), json_path: parent.json_path, map, depth: parent.depth.saturating_add(1) }
}

/// Bytes that can be part of a URL as people write it (raw UTF-8 included).
fn is_url_byte(b: u8) -> bool {
    b > b' ' && b != 0x7f && !b"\"'<>\\^`{|}".contains(&b)
}

/// The percent-decoded values of the query strings of URLs in the text. Values that decoding
/// would not change are already in the text as they are, and get no segment.
fn query_values<'p>(segment: &Segment<'p>, out: &mut Vec<Segment<'p>>) {
    let text = segment.text.as_bytes();
    let mut covered = 0;
    let mut starts = Vec::new();
    // memchr for the colon: building a memmem finder per segment would cost more than the
    // search on the short strings most segments are.
    for hit in memchr_iter(b':', text) {
        if hit < covered || !text[hit + 1..].starts_with(b"//") {
            continue;
        }
        // Schemes are short: looking further back would rescan long runs once per colon.
        let floor = hit.saturating_sub(MAX_SCHEME).max(covered);
        let mut scheme = hit;
        while scheme > floor && (text[scheme - 1].is_ascii_alphanumeric() || b"+-.".contains(&text[scheme - 1])) {
            scheme -= 1;
        }
        if !text[scheme..hit].iter().any(u8::is_ascii_alphabetic) {
            continue;
        }
        let mut end = hit + 3;
        while end < text.len() && is_url_byte(text[end]) {
            end += 1;
        }
        // Prose punctuation after a URL is not part of it.
        while end > hit + 3 && b".,;:!?)]".contains(&text[end - 1]) {
            end -= 1;
        }
        covered = end;
        let Some(question) = memchr(b'?', &text[hit + 3..end]) else { continue };
        let query = hit + 3 + question + 1;
        let query_end = memchr(b'#', &text[query..end]).map_or(end, |k| query + k);
        let mut at = query;
        for pair in text[query..query_end].split(|&b| b == b'&') {
            if let Some(eq) = memchr(b'=', pair) {
                let value = &pair[eq + 1..];
                if value.iter().any(|&b| b == b'%' || b == b'+') {
                    let decoded = percent_decode(value, true, &mut starts);
                    let map = compose(&segment.map, at + eq + 1, std::mem::take(&mut starts));
                    out.push(child(segment, to_text(decoded), map));
                }
            }
            at += pair.len() + 1;
        }
    }
}

/// Runs of URL bytes holding at least [`MIN_ESCAPES`] `%XX` escapes, outside URLs (whose
/// query values [`query_values`] reads), decoded when they decode to text.
fn percent_blobs<'p>(segment: &Segment<'p>, out: &mut Vec<Segment<'p>>) {
    let text = segment.text.as_bytes();
    let mut from = 0;
    let mut starts = Vec::new();
    while let Some(k) = memchr(b'%', &text[from..]) {
        let at = from + k;
        let mut start = at;
        while start > from && is_url_byte(text[start - 1]) {
            start -= 1;
        }
        let mut end = at;
        while end < text.len() && is_url_byte(text[end]) {
            end += 1;
        }
        from = end.max(at + 1);
        let run = &text[start..end];
        let escapes = memchr_iter(b'%', run).filter(|&i| hex_pair(run, i + 1).is_some()).count();
        if escapes < MIN_ESCAPES || has_scheme(run) {
            continue;
        }
        let decoded = percent_decode(run, false, &mut starts);
        if let Some(decoded) = textual(decoded) {
            let map = compose(&segment.map, start, std::mem::take(&mut starts));
            out.push(child(segment, decoded, map));
        }
    }
}

fn has_scheme(run: &[u8]) -> bool {
    memchr_iter(b':', run).any(|i| run[i + 1..].starts_with(b"//"))
}

/// Runs of base64-alphabet characters: pure hex ones are hex candidates, the others base64
/// candidates.
///
/// Only runs of `MIN_RUN` characters or more matter, so the text is first searched 64 bytes
/// at a time, with a byte mask of (a superset of) the alphabet, for the first place where
/// `MIN_RUN` of them follow one another ([`first_long_run_end`]); in prose there is none.
fn encoded_runs<'p>(segment: &Segment<'p>, out: &mut Vec<Segment<'p>>) {
    #[cfg(target_arch = "x86_64")]
    if ascii::avx512::available() {
        // SAFETY: `available()` checked that the processor has the target features.
        return unsafe { encoded_runs_avx512(segment, out) };
    }
    encoded_runs_with(segment, out, ascii::base64_superset_mask);
}

/// [`encoded_runs`] compiled for AVX-512, so that the vector mask is inlined into the loop
/// (a call per 64 bytes cost as much as the search).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,bmi1,bmi2")]
fn encoded_runs_avx512<'p>(segment: &Segment<'p>, out: &mut Vec<Segment<'p>>) {
    encoded_runs_with(segment, out, |block| ascii::avx512::base64_superset_mask(block));
}

#[inline(always)]
fn encoded_runs_with<'p>(segment: &Segment<'p>, out: &mut Vec<Segment<'p>>, superset_mask: impl Fn(&[u8]) -> u64) {
    let text = segment.text.as_bytes();
    let class = |at: usize| CLASS[text[at] as usize];
    // No run starts before `i` that was not handled: `text[i - 1]` ends one.
    let mut i = 0;
    while i + MIN_RUN <= text.len() {
        let Some(probe) = first_long_run_end(text, i, &superset_mask) else { break };
        let mut seen = class(probe);
        if seen == 0 {
            // A byte of the superset only.
            i = probe + 1;
            continue;
        }
        let mut start = probe;
        while start > i && class(start - 1) != 0 {
            start -= 1;
            seen |= class(start);
        }
        let mut body_end = probe + 1;
        while body_end < text.len() && class(body_end) != 0 {
            seen |= class(body_end);
            body_end += 1;
        }
        let mut end = body_end;
        while end < text.len() && end - body_end < 2 && text[end] == b'=' {
            end += 1;
        }
        i = end;
        if body_end - start < MIN_RUN {
            continue;
        }
        let padded = end > body_end;
        if seen & NOT_HEX == 0 && !padded {
            hex_blob(segment, start, body_end, out);
        } else if !padded
            && text[start] == b'0'
            && matches!(text[start + 1], b'x' | b'X')
            && text[start + 2..body_end].iter().all(u8::is_ascii_hexdigit)
        {
            hex_blob(segment, start + 2, body_end, out);
        } else {
            base64_blob(segment, start, body_end, end, seen, out);
        }
    }
}

/// Fewest characters of a run worth decoding.
const MIN_RUN: usize = if MIN_BASE64 < MIN_HEX { MIN_BASE64 } else { MIN_HEX };

/// The first offset `e` at or after `from` where `text[e + 1 - MIN_RUN..=e]`, none of it
/// before `from`, is all in the superset of `superset_mask`.
///
/// Blocks of 64 bytes follow each other at a fixed stride, each tested together with the
/// mask of the one before (the 128 bits as one number), so that a run across a block edge is
/// seen and the next load never waits for the last block's result (re-aligning each block to
/// the start of the last run made every step wait for the one before).
#[inline(always)]
fn first_long_run_end(text: &[u8], from: usize, superset_mask: &impl Fn(&[u8]) -> u64) -> Option<usize> {
    let mut before = 0u64;
    let mut at = from;
    while at < text.len() {
        let mask = superset_mask(&text[at..text.len().min(at + 64)]);
        let ends = (run_ends(u128::from(mask) << 64 | u128::from(before), MIN_RUN) >> 64) as u64;
        if ends != 0 {
            return Some(at + ends.trailing_zeros() as usize);
        }
        before = mask;
        at += 64;
    }
    None
}

/// Bit `k` set where bits `k + 1 - run..=k` of `mask` all are.
#[inline(always)]
fn run_ends(mask: u128, run: usize) -> u128 {
    let mut ends = mask;
    let mut covered = 1;
    while covered < run {
        let step = covered.min(run - covered);
        ends &= ends << step;
        covered += step;
    }
    ends
}

fn hex_blob<'p>(segment: &Segment<'p>, start: usize, end: usize, out: &mut Vec<Segment<'p>>) {
    let digits = &segment.text.as_bytes()[start..end];
    if digits.len() < MIN_HEX || !digits.len().is_multiple_of(2) {
        return;
    }
    if digits.len() > PROBE {
        let mut probe = [0; PROBE / 2];
        if hex::decode_to_slice(&digits[..PROBE], &mut probe).is_err() || !textual_prefix(&probe) {
            return;
        }
    }
    if let Some(text) = hex::decode(digits).ok().and_then(textual) {
        out.push(child(segment, text, SpanMap::Whole(segment.map.to_payload(start, end))));
    }
}

/// `end` includes the padding, `body_end` does not.
fn base64_blob<'p>(
    segment: &Segment<'p>,
    start: usize,
    body_end: usize,
    end: usize,
    seen: u8,
    out: &mut Vec<Segment<'p>>,
) {
    // Mixed alphabets are a path or an identifier; base64 of anything longer than a few
    // bytes has both cases, which lowercase words, snake_case names and UUIDs lack.
    if seen & (STD_ONLY | URL_ONLY) == STD_ONLY | URL_ONLY || seen & (UPPER | LOWER) != UPPER | LOWER {
        return;
    }
    let engine = if seen & URL_ONLY != 0 { &URL_SAFE } else { &STANDARD };
    let mut len = body_end - start;
    let mut end = end;
    if len % 4 == 1 {
        // One character too many to be base64: most likely the end of a neighbouring word.
        len -= 1;
        end = start + len;
    }
    if len < MIN_BASE64 {
        return;
    }
    let encoded = &segment.text.as_bytes()[start..start + len];
    if len > PROBE {
        let mut probe = [0; PROBE / 4 * 3];
        if engine.decode_slice(&encoded[..PROBE], &mut probe).is_err() || !textual_prefix(&probe) {
            return;
        }
    }
    if let Some(text) = engine.decode(encoded).ok().and_then(textual) {
        out.push(child(segment, text, SpanMap::Whole(segment.map.to_payload(start, end))));
    }
}

/// The decoded bytes as text, if they are valid UTF-8 and mostly printable.
fn textual(bytes: Vec<u8>) -> Option<String> {
    if !mostly_printable(&bytes) {
        return None;
    }
    String::from_utf8(bytes).ok()
}

/// Whether a decoded prefix may begin text: valid UTF-8 up to a character the cut may have
/// split, mostly printable.
fn textual_prefix(bytes: &[u8]) -> bool {
    let valid = match std::str::from_utf8(bytes) {
        Ok(_) => bytes.len(),
        Err(error) if error.error_len().is_none() => error.valid_up_to(),
        Err(_) => return false,
    };
    mostly_printable(&bytes[..valid])
}

/// Control characters other than tab and line breaks, DEL and C1 controls are binary.
fn mostly_printable(bytes: &[u8]) -> bool {
    if bytes.is_empty() {
        return false;
    }
    let mut binary = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let control = (b < b' ' && !matches!(b, b'\t' | b'\n' | b'\r'))
            || b == 0x7f
            || (b == 0xc2 && matches!(bytes.get(i + 1), Some(0x80..=0x9f)));
        binary += usize::from(control);
    }
    binary * 100 <= bytes.len() * MAX_BINARY_PERCENT
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_search_mask_holds_every_byte_of_the_alphabets() {
        for byte in 0..=u8::MAX {
            if CLASS[usize::from(byte)] != 0 {
                assert_eq!(ascii::base64_superset_mask(&[byte; 8]), 0xff, "{byte:#x}");
                assert_eq!(ascii::base64_superset_mask(&[byte]), 1, "{byte:#x}");
            }
        }
        assert_eq!(run_ends(0b0111_1111_0111, 3), 0b0111_1100_0100);
        assert_eq!(run_ends(u128::MAX, 16), u128::MAX << 15);
    }

    /// The first end of a long run, found a block at a time, is the first a byte walk finds:
    /// runs across block edges, at the text's end, starting at `from` or cut by it.
    #[test]
    fn long_runs_are_found_where_a_byte_walk_finds_them() {
        let mut state = 17u64;
        for len in (0..300).chain([511, 512, 513]) {
            let text: Vec<u8> = (0..len)
                .map(|_| {
                    state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                    // Mostly alphabet bytes, so long runs are common but not everywhere.
                    if (state >> 33).is_multiple_of(19) { b' ' } else { b'a' + (state >> 40) as u8 % 26 }
                })
                .collect();
            for from in (0..len).step_by(7) {
                let want = (from + MIN_RUN - 1..len)
                    .find(|&end| text[end + 1 - MIN_RUN..=end].iter().all(|&b| ascii::base64_superset_mask(&[b]) == 1));
                assert_eq!(first_long_run_end(&text, from, &ascii::base64_superset_mask), want, "{len} from {from}");
            }
        }
    }
}
