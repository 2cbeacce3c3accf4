//! A span-aware JSON walk. serde_json reports no byte positions for the values it parses,
//! and redaction needs them, so this is a tokenizer of its own. It is lenient where leniency
//! costs nothing (raw control characters, unknown escapes and lone surrogates are accepted),
//! iterative (an explicit stack: deep nesting cannot overflow the thread's stack), and it
//! stops cleanly where a truncated body stops, keeping what it read.
use std::borrow::Cow;
use std::ops::Range;

use bumpalo::Bump;
use memchr::memchr;

use super::{Segment, SpanMap, is_plain_key, payload_text, to_text};
use crate::detect::ascii;

/// Path components past this nesting are elided (`…`): a path is cloned into every segment,
/// so an unbounded one would make a deeply nested payload cost quadratic memory.
const MAX_PATH_DEPTH: usize = 64;
/// Keys longer than this are cut in paths, for the same reason.
const MAX_KEY_IN_PATH: usize = 64;
/// Numbers with at least this many digits may be card or phone numbers.
const MIN_NUMBER_DIGITS: usize = 6;

/// How a walk ended.
pub(super) enum End {
    /// Every top-level value was read, or the payload stopped inside one (truncated).
    Done,
    /// An unexpected byte at this offset: what follows is not JSON.
    Syntax(usize),
}

enum Stop {
    Truncated,
    Syntax(usize),
}

enum Frame {
    /// `base`: length of the path of the container itself.
    Object {
        base: usize,
    },
    Array {
        base: usize,
        index: usize,
    },
}

/// Walks the JSON values that follow one another from `start` (one document, or JSON Lines),
/// appending a segment per string value, long number and unusual key.
pub(super) fn walk<'p>(payload: &'p [u8], start: usize, paths: &'p Bump, out: &mut Vec<Segment<'p>>) -> End {
    // Validated once: a verbatim string is then a slice of it, where validating each of the
    // hundreds of strings of a chat request on its own cost a tenth of the decoding.
    let text = std::str::from_utf8(payload).ok();
    let mut walker = Walker { b: payload, text, out, paths, path: String::from("$"), frames: Vec::new() };
    let mut pos = start;
    loop {
        pos = skip_ws(payload, pos);
        match payload.get(pos) {
            None => return End::Done,
            Some(b'{' | b'[') => {}
            Some(_) => return End::Syntax(pos),
        }
        walker.path.truncate(1);
        walker.frames.clear();
        match walker.value(pos) {
            Ok(next) => pos = next,
            Err(Stop::Truncated) => return End::Done,
            Err(Stop::Syntax(at)) => return End::Syntax(at),
        }
    }
}

fn skip_ws(b: &[u8], mut pos: usize) -> usize {
    while pos < b.len() && matches!(b[pos], b' ' | b'\n' | b'\r' | b'\t') {
        pos += 1;
    }
    pos
}

struct Walker<'a, 'o> {
    b: &'a [u8],
    /// The payload as text, when all of it is valid UTF-8.
    text: Option<&'a str>,
    out: &'o mut Vec<Segment<'a>>,
    /// Where the paths of segments are kept.
    paths: &'a Bump,
    /// Path of the value being read.
    path: String,
    frames: Vec<Frame>,
}

/// A string token: `content` is between the quotes (to the payload's end if unterminated).
struct Token {
    content: Range<usize>,
    escaped: bool,
    closed: bool,
    next: usize,
}

impl<'a> Walker<'a, '_> {
    /// Reads one whole value from `pos`; returns the offset after it.
    fn value(&mut self, mut pos: usize) -> Result<usize, Stop> {
        'value: loop {
            pos = skip_ws(self.b, pos);
            let byte = *self.b.get(pos).ok_or(Stop::Truncated)?;
            match byte {
                b'{' => {
                    self.frames.push(Frame::Object { base: self.path.len() });
                    pos = skip_ws(self.b, pos + 1);
                    match self.b.get(pos) {
                        None => return Err(Stop::Truncated),
                        Some(b'}') => self.close(&mut pos),
                        Some(b'"') => {
                            pos = self.member(pos)?;
                            continue 'value;
                        }
                        Some(_) => return Err(Stop::Syntax(pos)),
                    }
                }
                b'[' => {
                    self.frames.push(Frame::Array { base: self.path.len(), index: 0 });
                    self.push_index(0);
                    pos = skip_ws(self.b, pos + 1);
                    match self.b.get(pos) {
                        None => return Err(Stop::Truncated),
                        Some(b']') => self.close(&mut pos),
                        Some(_) => continue 'value,
                    }
                }
                b'"' => pos = self.string_value(pos)?,
                b'-' | b'0'..=b'9' => pos = self.number(pos)?,
                b't' => pos = self.literal(pos, b"true")?,
                b'f' => pos = self.literal(pos, b"false")?,
                b'n' => pos = self.literal(pos, b"null")?,
                _ => return Err(Stop::Syntax(pos)),
            }
            // After a value: a separator, or the end of one or more containers.
            loop {
                pos = skip_ws(self.b, pos);
                let Some(frame) = self.frames.last_mut() else { return Ok(pos) };
                let byte = *self.b.get(pos).ok_or(Stop::Truncated)?;
                match (frame, byte) {
                    (Frame::Object { .. }, b',') => {
                        pos = skip_ws(self.b, pos + 1);
                        match self.b.get(pos) {
                            None => return Err(Stop::Truncated),
                            Some(b'"') => {}
                            Some(_) => return Err(Stop::Syntax(pos)),
                        }
                        pos = self.member(pos)?;
                        continue 'value;
                    }
                    (Frame::Array { index, .. }, b',') => {
                        *index += 1;
                        self.next_index();
                        pos += 1;
                        continue 'value;
                    }
                    (Frame::Object { .. }, b'}') | (Frame::Array { .. }, b']') => self.close(&mut pos),
                    _ => return Err(Stop::Syntax(pos)),
                }
            }
        }
    }

    /// Payload bytes as they are, as text: borrowed from the validated payload, or (a payload
    /// with invalid UTF-8) validated on their own.
    fn verbatim(&self, range: Range<usize>) -> Cow<'a, str> {
        match self.text.and_then(|text| text.get(range.clone())) {
            Some(text) => Cow::Borrowed(text),
            None => payload_text(&self.b[range]),
        }
    }

    /// Pops the innermost container, whose closing bracket is at `pos`.
    fn close(&mut self, pos: &mut usize) {
        if let Some(Frame::Object { base } | Frame::Array { base, .. }) = self.frames.pop() {
            self.path.truncate(base);
        }
        *pos += 1;
    }

    /// Reads `"key":` at `pos` (a quote) inside the innermost object; sets the path to the
    /// member's and returns the offset after the colon.
    fn member(&mut self, pos: usize) -> Result<usize, Stop> {
        let token = scan_string(self.b, pos);
        if !token.closed {
            return Err(Stop::Truncated);
        }
        if let Some(Frame::Object { base }) = self.frames.last() {
            self.path.truncate(*base);
        }
        if token.escaped {
            let (text, starts) = unescape(self.b, token.content.clone());
            let text = to_text(text);
            if !text.is_empty() && !is_plain_key(text.as_bytes()) {
                self.emit(Cow::Owned(text.clone()), SpanMap::Bytes(starts));
            }
            self.push_key(&text);
        } else {
            let raw = &self.b[token.content.clone()];
            if !raw.is_empty() && !is_plain_key(raw) {
                self.emit(self.verbatim(token.content.clone()), SpanMap::Offset(token.content.start));
            }
            match self.verbatim(token.content.clone()) {
                Cow::Borrowed(key) => self.push_key(key),
                Cow::Owned(key) => self.push_key(&key),
            }
        }
        let colon = skip_ws(self.b, token.next);
        match self.b.get(colon) {
            None => Err(Stop::Truncated),
            Some(b':') => Ok(colon + 1),
            Some(_) => Err(Stop::Syntax(colon)),
        }
    }

    fn string_value(&mut self, pos: usize) -> Result<usize, Stop> {
        let token = scan_string(self.b, pos);
        if !token.content.is_empty() {
            if token.escaped {
                let (text, starts) = unescape(self.b, token.content.clone());
                self.emit(Cow::Owned(to_text(text)), SpanMap::Bytes(starts));
            } else {
                self.emit(self.verbatim(token.content.clone()), SpanMap::Offset(token.content.start));
            }
        }
        if token.closed { Ok(token.next) } else { Err(Stop::Truncated) }
    }

    /// A number as JSON writes it: `-`, digits, a fraction, an exponent.
    fn number(&mut self, pos: usize) -> Result<usize, Stop> {
        let b = self.b;
        let digits_from = |mut at: usize| {
            while at < b.len() && b[at].is_ascii_digit() {
                at += 1;
            }
            at
        };
        let int_start = pos + usize::from(b[pos] == b'-');
        let mut end = digits_from(int_start);
        let mut digits = end - int_start;
        if b.get(end) == Some(&b'.') {
            let fraction = digits_from(end + 1);
            digits += fraction - end - 1;
            end = fraction;
        }
        if matches!(b.get(end), Some(b'e' | b'E')) {
            end += 1;
            end += usize::from(matches!(b.get(end), Some(b'+' | b'-')));
            end = digits_from(end);
        }
        if digits >= MIN_NUMBER_DIGITS {
            self.emit(self.verbatim(pos..end), SpanMap::Offset(pos));
        }
        if end == b.len() { Err(Stop::Truncated) } else { Ok(end) }
    }

    fn literal(&self, pos: usize, word: &[u8]) -> Result<usize, Stop> {
        let rest = &self.b[pos..];
        if rest.starts_with(word) {
            Ok(pos + word.len())
        } else if word.starts_with(rest) {
            Err(Stop::Truncated)
        } else {
            Err(Stop::Syntax(pos))
        }
    }

    fn emit(&mut self, text: Cow<'a, str>, map: SpanMap) {
        self.out.push(Segment { text, json_path: Some(self.paths.alloc_str(&self.path)), map, depth: 0 });
    }

    /// Whether the next path component must be elided; writes the marker once.
    fn elided(&mut self) -> bool {
        let depth = self.frames.len();
        if depth == MAX_PATH_DEPTH + 1 {
            self.path.push_str(".…");
        }
        depth > MAX_PATH_DEPTH
    }

    fn push_index(&mut self, index: usize) {
        if !self.elided() {
            // By hand: `write!` goes through the formatting machinery, which cost a tenth of
            // the decoding of a chat request (one index per message).
            let mut digits = [0u8; 20];
            let mut at = digits.len();
            let mut rest = index;
            loop {
                at -= 1;
                digits[at] = b'0' + (rest % 10) as u8;
                rest /= 10;
                if rest == 0 {
                    break;
                }
            }
            self.path.push('[');
            self.path.extend(digits[at..].iter().map(|&digit| char::from(digit)));
            self.path.push(']');
        }
    }

    /// Moves the path from `[n]` to `[n + 1]`, in place: the path of an array's element
    /// ends with its index once the element is read (a container closed truncates the path
    /// back to it). Deeper than [`MAX_PATH_DEPTH`] the path holds no index.
    fn next_index(&mut self) {
        if self.frames.len() > MAX_PATH_DEPTH {
            return;
        }
        debug_assert!(self.path.ends_with(']'));
        self.path.pop();
        let mut nines = 0;
        loop {
            match self.path.pop() {
                Some('9') => nines += 1,
                Some(digit @ '0'..='8') => {
                    self.path.push(char::from(digit as u8 + 1));
                    break;
                }
                // `[`: the index was all nines and takes one more digit.
                opening => {
                    self.path.extend(opening);
                    self.path.push('1');
                    break;
                }
            }
        }
        self.path.extend(std::iter::repeat_n('0', nines));
        self.path.push(']');
    }

    /// `.key` for identifiers, `["key"]` for anything else.
    fn push_key(&mut self, key: &str) {
        if self.elided() {
            return;
        }
        let (key, cut): (Cow<str>, bool) = if key.len() > MAX_KEY_IN_PATH {
            let mut end = MAX_KEY_IN_PATH;
            while !key.is_char_boundary(end) {
                end -= 1;
            }
            (Cow::Borrowed(&key[..end]), true)
        } else {
            (Cow::Borrowed(key), false)
        };
        let identifier = !key.starts_with(|c: char| c.is_ascii_digit())
            && !key.is_empty()
            && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if identifier && !cut {
            self.path.push('.');
            self.path.push_str(&key);
            return;
        }
        self.path.push_str("[\"");
        for c in key.chars() {
            match c {
                '"' => self.path.push_str("\\\""),
                '\\' => self.path.push_str("\\\\"),
                c if c.is_control() => {
                    use std::fmt::Write as _;
                    let _ = write!(self.path, "\\u{:04x}", c as u32);
                }
                c => self.path.push(c),
            }
        }
        if cut {
            self.path.push('…');
        }
        self.path.push_str("\"]");
    }
}

/// Finds the end of the string whose opening quote is at `open`, jumping from one `"` or `\`
/// to the next.
fn scan_string(b: &[u8], open: usize) -> Token {
    let start = open + 1;
    let mut i = start;
    let mut escaped = false;
    while i < b.len() {
        match ascii::next_of_two(b, i, b'"', b'\\') {
            None => break,
            Some(at) if b[at] == b'"' => {
                return Token { content: start..at, escaped, closed: true, next: at + 1 };
            }
            Some(at) => {
                escaped = true;
                i = at + 2;
            }
        }
    }
    let end = b.len().max(start);
    Token { content: start..end, escaped, closed: false, next: end }
}

/// Unescapes a string's content. `starts[i]` is the payload offset where decoded byte `i`
/// came from (every byte of a character written as `\uXXXX` or a surrogate pair maps to its
/// escape's backslash); the last entry is the end of the content.
fn unescape(b: &[u8], content: Range<usize>) -> (Vec<u8>, Vec<usize>) {
    let raw = &b[content.clone()];
    let base = content.start;
    let mut text = Vec::with_capacity(raw.len());
    let mut starts = Vec::with_capacity(raw.len() + 1);
    let mut i = 0;
    while i < raw.len() {
        let next = memchr(b'\\', &raw[i..]).map_or(raw.len(), |k| i + k);
        text.extend_from_slice(&raw[i..next]);
        starts.extend(base + i..base + next);
        i = next;
        if i >= raw.len() {
            break;
        }
        let at = base + i;
        let simple = match raw.get(i + 1) {
            Some(b'n') => Some(b'\n'),
            Some(b't') => Some(b'\t'),
            Some(b'r') => Some(b'\r'),
            Some(b'b') => Some(0x08),
            Some(b'f') => Some(0x0c),
            Some(&c @ (b'"' | b'\\' | b'/')) => Some(c),
            _ => None,
        };
        if let Some(byte) = simple {
            text.push(byte);
            starts.push(at);
            i += 2;
            continue;
        }
        if raw.get(i + 1) == Some(&b'u')
            && let Some((c, used)) = unicode_escape(raw, i)
        {
            let mut utf8 = [0; 4];
            let encoded = c.encode_utf8(&mut utf8);
            text.extend_from_slice(encoded.as_bytes());
            starts.extend(std::iter::repeat_n(at, encoded.len()));
            i += used;
            continue;
        }
        // An unknown or cut escape: keep the backslash, the next byte follows as text.
        text.push(b'\\');
        starts.push(at);
        i += 1;
    }
    starts.push(content.end);
    (text, starts)
}

/// The character of the `\uXXXX` escape at `i` (with its low surrogate, if it is a high one
/// followed by one) and the number of bytes used. Lone surrogates become U+FFFD.
fn unicode_escape(raw: &[u8], i: usize) -> Option<(char, usize)> {
    let unit = hex4(raw, i + 2)?;
    match unit {
        0xd800..=0xdbff => {
            let low = raw.get(i + 6..i + 8).filter(|s| *s == b"\\u").and_then(|_| hex4(raw, i + 8));
            match low {
                Some(low @ 0xdc00..=0xdfff) => {
                    let code = 0x10000 + ((unit - 0xd800) << 10) + (low - 0xdc00);
                    Some((char::from_u32(code).unwrap_or('\u{fffd}'), 12))
                }
                _ => Some(('\u{fffd}', 6)),
            }
        }
        0xdc00..=0xdfff => Some(('\u{fffd}', 6)),
        _ => Some((char::from_u32(unit).unwrap_or('\u{fffd}'), 6)),
    }
}

fn hex4(raw: &[u8], at: usize) -> Option<u32> {
    let digits = raw.get(at..at + 4)?;
    digits.iter().try_fold(0, |acc, &d| Some(acc * 16 + (d as char).to_digit(16)?))
}
