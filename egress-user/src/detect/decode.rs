//! Payload decoding into segments (see the module docs of `detect`).
//!
//! Layer 0 reads the payload itself: a JSON document (one segment per string value, per
//! long number and per unusual key, with its JSON path), else a form body (one segment per
//! value), else the whole payload as text. Every segment below `max_depth` is then searched
//! for URL query values and base64 / hex / percent-encoded blobs; what decodes to text
//! becomes a segment one level deeper, which is searched in turn.
//!
//! Every segment maps back to payload bytes: `Offset` when the text is a verbatim slice,
//! `Bytes` when escapes or percent-encoding changed lengths, `Whole` for base64 and hex
//! blobs, whose decoded bytes do not line up with encoded ones.
mod blob;
mod json;
#[cfg(test)]
mod tests;

use std::borrow::Cow;

use bumpalo::Bump;

use super::{Segment, SpanMap};

/// Keys made only of these bytes, short and with few digits, are plain field names
/// (`role`, `max_tokens`, `user[name]`): they get no segment of their own, which would double
/// the detectors' calls on a chat request for nothing. Anything else (an e-mail, a phone
/// number, a name with a space) does.
fn is_plain_key(key: &[u8]) -> bool {
    let mut digits = 0;
    for &b in key {
        if b.is_ascii_digit() {
            digits += 1;
        } else if !(b.is_ascii_alphabetic() || matches!(b, b'_' | b'-' | b'.' | b'[' | b']' | b'$')) {
            return false;
        }
    }
    key.len() <= 32 && digits <= 3
}

/// Turns decoded bytes into text of the same length: each byte of an invalid UTF-8
/// sequence becomes `?`, so offsets (and span maps) stay exact. In binary data, every
/// non-ASCII byte does.
fn to_text(bytes: Vec<u8>) -> String {
    /// Bytes read before deciding whether the rest is binary.
    const SAMPLE: usize = 4096;
    let (mut bytes, valid) = match String::from_utf8(bytes) {
        Ok(text) => return text,
        Err(error) => {
            let valid = error.utf8_error().valid_up_to();
            (error.into_bytes(), valid)
        }
    };
    let sample_end = valid.saturating_add(SAMPLE).min(bytes.len());
    let (next, replaced) = replace_invalid(&mut bytes, valid, sample_end);
    if replaced > SAMPLE / 64 {
        // Binary (an upload, an image): validating it byte by byte would mispredict a branch
        // on every other byte. Nothing a detector finds is outside ASCII there: mask the rest.
        for byte in &mut bytes[next..] {
            // Unconditional store: the loop vectorizes.
            *byte = if *byte >= 0x80 { b'?' } else { *byte };
        }
    } else {
        replace_invalid(&mut bytes, next, usize::MAX);
    }
    String::from_utf8(bytes).unwrap_or_default()
}

/// [`to_text`] of payload bytes, borrowed when they are valid UTF-8 (no copy).
fn payload_text(bytes: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(text) => Cow::Borrowed(text),
        Err(_) => Cow::Owned(to_text(bytes.to_vec())),
    }
}

/// Replaces each byte that is not part of a well-formed UTF-8 sequence by `?`, from `i`
/// until a sequence starts at or after `end`; returns where it stopped and how many bytes
/// it replaced.
fn replace_invalid(bytes: &mut [u8], mut i: usize, end: usize) -> (usize, usize) {
    let mut replaced = 0;
    let end = end.min(bytes.len());
    while i < end {
        if let Some(word) = bytes.get(i..i + 8)
            && u64::from_le_bytes(word.try_into().unwrap_or([0x80; 8])) & 0x8080_8080_8080_8080 == 0
        {
            i += 8;
            continue;
        }
        let lead = bytes[i];
        if lead < 0x80 {
            i += 1;
            continue;
        }
        let (len, second) = match lead {
            0xc2..=0xdf => (2, 0x80..=0xbf),
            0xe0 => (3, 0xa0..=0xbf),
            0xe1..=0xec | 0xee..=0xef => (3, 0x80..=0xbf),
            0xed => (3, 0x80..=0x9f),
            0xf0 => (4, 0x90..=0xbf),
            0xf1..=0xf3 => (4, 0x80..=0xbf),
            0xf4 => (4, 0x80..=0x8f),
            _ => (0, 0x80..=0xbf),
        };
        let continues = |k: usize| bytes.get(i + k).is_some_and(|b| (0x80..=0xbf).contains(b));
        if len > 0 && bytes.get(i + 1).is_some_and(|b| second.contains(b)) && (2..len).all(continues) {
            i += len;
        } else {
            bytes[i] = b'?';
            replaced += 1;
            i += 1;
        }
    }
    (i, replaced)
}

/// Maps decoded bytes whose sources are `local` indices into the text of `parent`, counted
/// from `base`, to payload offsets.
fn compose(parent: &SpanMap, base: usize, mut local: Vec<usize>) -> SpanMap {
    match parent {
        SpanMap::Offset(offset) => {
            local.iter_mut().for_each(|at| *at += offset + base);
            SpanMap::Bytes(local)
        }
        SpanMap::Bytes(starts) => {
            let last = starts.len().saturating_sub(1);
            local.iter_mut().for_each(|at| *at = starts.get((*at + base).min(last)).copied().unwrap_or(0));
            SpanMap::Bytes(local)
        }
        SpanMap::Whole(range) => SpanMap::Whole(range.clone()),
    }
}

/// Percent-decodes `src`; `starts` receives, per output byte, the index in `src` it came from,
/// then `src.len()`. Malformed escapes stay as they are.
fn percent_decode(src: &[u8], plus_is_space: bool, starts: &mut Vec<usize>) -> Vec<u8> {
    let mut out = Vec::with_capacity(src.len());
    starts.clear();
    starts.reserve(src.len() + 1);
    let mut i = 0;
    while i < src.len() {
        let byte = src[i];
        starts.push(i);
        if byte == b'%'
            && let Some(value) = hex_pair(src, i + 1)
        {
            out.push(value);
            i += 3;
            continue;
        }
        out.push(if plus_is_space && byte == b'+' { b' ' } else { byte });
        i += 1;
    }
    starts.push(src.len());
    out
}

/// The byte written as two hex digits at `at`, if there are two.
fn hex_pair(src: &[u8], at: usize) -> Option<u8> {
    let high = (*src.get(at)? as char).to_digit(16)?;
    let low = (*src.get(at + 1)? as char).to_digit(16)?;
    Some((high * 16 + low) as u8)
}

/// Bytes allowed unencoded in an `application/x-www-form-urlencoded` body as clients really
/// send it (curl does not encode `/`, `:`, `@`, ...).
fn is_form_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~*+%&=!$'(),;:@/?[]".contains(&b)
}

/// Bytes a form key may hold: a key with `:` or `/` means this is a URL, not a form.
fn is_form_key_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~*+%[]".contains(&b)
}

/// Whether the payload is a form body: `k=v` pairs joined by `&`, every key non-empty, at
/// least one value non-empty, every `%` a valid escape.
fn is_form(body: &[u8]) -> bool {
    if !body.iter().all(|&b| is_form_byte(b)) {
        return false;
    }
    if body.iter().enumerate().any(|(i, &b)| b == b'%' && hex_pair(body, i + 1).is_none()) {
        return false;
    }
    let mut any_value = false;
    for pair in body.split(|&b| b == b'&').filter(|pair| !pair.is_empty()) {
        let Some(eq) = memchr::memchr(b'=', pair) else { return false };
        if eq == 0 || !pair[..eq].iter().all(|&b| is_form_key_byte(b)) {
            return false;
        }
        any_value |= eq + 1 < pair.len();
    }
    any_value
}

/// One segment per non-empty value of a form body (and per key that is not a plain name).
fn form_segments<'p>(body: &'p [u8], out: &mut Vec<Segment<'p>>) {
    let mut starts = Vec::new();
    let mut at = 0;
    for pair in body.split(|&b| b == b'&') {
        let eq = memchr::memchr(b'=', pair).unwrap_or(pair.len());
        for (from, part) in [(at, &pair[..eq]), (at + eq + 1, pair.get(eq + 1..).unwrap_or_default())] {
            if part.is_empty() || (from == at && is_plain_key(part)) {
                continue;
            }
            let segment = if part.iter().any(|&b| b == b'%' || b == b'+') {
                let text = percent_decode(part, true, &mut starts);
                Segment {
                    text: Cow::Owned(to_text(text)),
                    json_path: None,
                    map: compose(&SpanMap::Offset(from), 0, std::mem::take(&mut starts)),
                    depth: 0,
                }
            } else {
                Segment { text: payload_text(part), json_path: None, map: SpanMap::Offset(from), depth: 0 }
            };
            out.push(segment);
        }
        at += pair.len() + 1;
    }
}

/// Decodes a payload into the segments the detectors scan; their JSON paths are allocated in
/// `paths`.
pub fn segments<'p>(payload: &'p [u8], max_depth: u8, paths: &'p Bump) -> Vec<Segment<'p>> {
    // A chat request holds a string every 50 to 150 bytes; growing the vector from empty
    // would copy it a dozen times. (Capacity that is never written costs no memory.)
    let mut out = Vec::with_capacity((payload.len() / 48).clamp(4, 1 << 20));
    let start = if payload.starts_with(b"\xef\xbb\xbf") { 3 } else { 0 };
    let first = payload[start..].iter().position(|b| !b.is_ascii_whitespace()).map(|i| start + i);
    let Some(first) = first else { return out };
    let trimmed = payload[first..].trim_ascii_end();
    if matches!(payload[first], b'{' | b'[') {
        if let json::End::Syntax(at) = json::walk(payload, first, paths, &mut out)
            && payload[at..].iter().any(|b| !b.is_ascii_whitespace())
        {
            // Not JSON from here on (a log line, a stray token): scan the rest as text.
            out.push(Segment {
                text: payload_text(&payload[at..]),
                json_path: None,
                map: SpanMap::Offset(at),
                depth: 0,
            });
        }
    } else if is_form(trimmed) {
        let before = out.len();
        form_segments(trimmed, &mut out);
        // Offsets above are relative to `trimmed`, which starts at `first`.
        for segment in &mut out[before..] {
            shift(&mut segment.map, first);
        }
    } else {
        out.push(Segment { text: payload_text(payload), json_path: None, map: SpanMap::Offset(0), depth: 0 });
    }
    let mut fresh = Vec::new();
    let mut i = 0;
    while i < out.len() {
        if out[i].depth < max_depth {
            blob::expand(&out[i], &mut fresh);
            out.append(&mut fresh);
        }
        i += 1;
    }
    out
}

fn shift(map: &mut SpanMap, by: usize) {
    match map {
        SpanMap::Offset(offset) => *offset += by,
        SpanMap::Bytes(starts) => starts.iter_mut().for_each(|at| *at += by),
        SpanMap::Whole(range) => *range = range.start + by..range.end + by,
    }
}
