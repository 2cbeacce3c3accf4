//! HTTP/1.1 request reassembly from the plaintext a client writes into one TLS connection,
//! and response reassembly from the plaintext it reads back ([`ResponseAssembler`]).
//!
//! The probes deliver the bytes of each `SSL_write` in order but split wherever the client
//! happened to call it, so everything here is incremental: any byte may be the last of a push.
//! The parser is deliberately strict: an observer that guesses differently from the server
//! about where a request ends could be steered past inspection, so anything ambiguous ends
//! parsing with [`Progress::NotHttp`] and the caller decides what to do with the connection.

use std::collections::VecDeque;
use std::io::{self, Write};

use flate2::write::{MultiGzDecoder, ZlibDecoder};
use sha2::{Digest, Sha256};

/// Largest request head (request line + headers) we buffer before giving up.
const MAX_HEAD_BYTES: usize = 64 * 1024;
/// Header slots tried first; doubled on `TooManyHeaders` up to [`MAX_HEADERS`].
const INITIAL_HEADER_SLOTS: usize = 32;
const MAX_HEADERS: usize = 256;
/// Longest chunk-size line (size plus extensions) we accept.
const MAX_CHUNK_SIZE_LINE: usize = 4 * 1024;
/// Largest trailer section of a chunked body we accept.
const MAX_TRAILER_BYTES: usize = 64 * 1024;
/// Responses: requests sent whose final response has not arrived that we remember the method
/// of; a client that pipelines more than this without reading answers is not an HTTP client.
const MAX_AWAITED_RESPONSES: usize = 1024;
/// Streaming responses: decoded bytes (gzip/deflate) we hold between two reports at least.
const MAX_STREAM_INFLATE: usize = 1 << 20;

/// Incremental HTTP/1.1 request parser for one direction (client -> server) of one connection.
pub struct RequestAssembler {
    /// Bound on the bytes of each body we keep (wire and decoded); the rest is only hashed.
    max_body: usize,
    state: State,
    /// Received bytes not consumed yet: only ever a partial head, chunk-size line, chunk CRLF
    /// or trailer line, never body bytes, so it stays small.
    carry: Vec<u8>,
    bytes_seen: u64,
}

/// What [`RequestAssembler::push`] learned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Progress {
    /// Headers of a new request are complete (emitted once per request, before its body
    /// completes, even when the body is in the same push).
    Head(RequestHead),
    /// A request is complete (headers + whole body).
    Complete(Request),
    /// The stream is not HTTP/1.1 (or is malformed). Emitted once; afterwards the assembler
    /// only counts bytes (see [`RequestAssembler::failed`] and [`RequestAssembler::bytes_seen`]).
    NotHttp { reason: String },
}

/// A parsed request head.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestHead {
    pub method: String,
    /// Request-target as sent, including the query string.
    pub path: String,
    /// Host header without port, lowercased; an IPv6 literal without brackets.
    pub host: Option<String>,
    /// Port from the Host header, if it carried one.
    pub host_port: Option<u16>,
    /// All header fields in order, names lowercased, values as sent.
    pub headers: Vec<(String, Vec<u8>)>,
    /// Declared Content-Length; framing ignores it when `chunked` is set (RFC 9112 6.3).
    pub content_length: Option<u64>,
    pub chunked: bool,
    /// Content-Encoding, lowercased; several header fields are joined with ", ".
    pub content_encoding: Option<String>,
}

/// A complete request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub head: RequestHead,
    /// Body as sent on the wire after removing chunked framing, before content decoding.
    pub wire_body_len: u64,
    /// Decoded body (after Content-Encoding gzip / deflate / identity), up to max_body bytes.
    pub body: Vec<u8>,
    /// sha256 hex of the full decoded body (all of it, even past max_body).
    pub body_sha256: String,
    /// Length of the full decoded body.
    pub body_len: u64,
    /// True if `body` holds fewer bytes than body_len (max_body reached) OR gzip/deflate
    /// decoding failed, so that a partial body is never taken for the whole one.
    pub body_truncated: bool,
    /// Set when the body could not be decoded (corrupt stream or unsupported encoding). Then
    /// `body`, `body_sha256` and `body_len` describe the wire body instead of a decoded one.
    pub decode_error: Option<String>,
    /// Total bytes of this request on the wire (head + framing + body).
    pub wire_len: u64,
}

impl RequestAssembler {
    /// `max_body` bounds memory for bodies: bytes beyond it are hashed and counted but not kept
    /// (the request is then marked `body_truncated`, never passed off as whole).
    pub fn new(max_body: usize) -> Self {
        Self { max_body, state: State::awaiting_head(), carry: Vec::new(), bytes_seen: 0 }
    }

    /// Feed the next bytes the client wrote. Returns what became known.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<Progress> {
        self.bytes_seen = self.bytes_seen.saturating_add(bytes.len() as u64);
        let mut progress = Vec::new();
        if matches!(self.state, State::Failed(_)) {
            return progress;
        }
        let mut carry = std::mem::take(&mut self.carry);
        if carry.is_empty() {
            // Common case: parse straight from the caller's buffer, copying only a leftover.
            let consumed = self.process(bytes, &mut progress);
            carry.extend_from_slice(bytes.get(consumed..).unwrap_or_default());
        } else {
            carry.extend_from_slice(bytes);
            let consumed = self.process(&carry, &mut progress);
            carry.drain(..consumed.min(carry.len()));
        }
        if !matches!(self.state, State::Failed(_)) {
            // A large push appended to a small leftover must not pin its capacity forever.
            carry.shrink_to(MAX_HEAD_BYTES);
            self.carry = carry;
        }
        progress
    }

    /// True when no request is partially buffered (between requests). False after failure,
    /// since request boundaries are then unknown.
    pub fn is_idle(&self) -> bool {
        matches!(self.state, State::Head(_)) && self.carry.is_empty()
    }

    /// The head of the request currently being received, if its headers are complete but its
    /// body is not.
    pub fn pending_head(&self) -> Option<&RequestHead> {
        match &self.state {
            State::Body(in_flight) => Some(&in_flight.head),
            _ => None,
        }
    }

    /// Why the stream stopped being parsed, once [`Progress::NotHttp`] was reported.
    pub fn failed(&self) -> Option<&str> {
        match &self.state {
            State::Failed(reason) => Some(reason),
            _ => None,
        }
    }

    /// Every byte ever pushed, including those swallowed after a failure.
    pub fn bytes_seen(&self) -> u64 {
        self.bytes_seen
    }

    /// Runs the state machine over `data`; returns how many bytes it consumed.
    fn process(&mut self, data: &[u8], progress: &mut Vec<Progress>) -> usize {
        let mut pos = 0;
        loop {
            let rest = data.get(pos..).unwrap_or_default();
            let step = match self.state {
                State::Head(_) => self.step_head(rest, progress),
                State::Body(_) => self.step_body(rest, progress),
                State::Failed(_) => Step::Wait,
            };
            match step {
                // Every step that changes state consumes at least one byte, so a zero
                // advance can only mean "nothing to do"; stopping then rules out a spin.
                Step::Advance(0) | Step::Wait => return pos,
                Step::Advance(n) => pos += n,
                Step::Fail(reason) => {
                    progress.push(Progress::NotHttp { reason: reason.clone() });
                    self.state = State::Failed(reason);
                    return pos;
                }
            }
        }
    }

    fn step_head(&mut self, rest: &[u8], progress: &mut Vec<Progress>) -> Step {
        let State::Head(scan) = &mut self.state else {
            return Step::Wait;
        };
        if let Some(step) = scan.gate(rest) {
            return step;
        }
        match parse_head(rest) {
            HeadParse::Partial if rest.len() > MAX_HEAD_BYTES => Step::Fail(head_too_large()),
            HeadParse::Partial => scan.partial(rest.len()),
            HeadParse::Invalid(reason) => Step::Fail(reason),
            HeadParse::Complete { len, .. } if len > MAX_HEAD_BYTES => Step::Fail(head_too_large()),
            HeadParse::Complete { head, len } => {
                self.start_body(head, len, progress);
                Step::Advance(len)
            }
        }
    }

    fn start_body(&mut self, head: RequestHead, head_len: usize, progress: &mut Vec<Progress>) {
        progress.push(Progress::Head(head.clone()));
        // Without Content-Length or chunked, a request has no body (RFC 9112 6.3).
        let framing = if head.chunked {
            Framing::Chunked(ChunkPhase::SizeLine)
        } else {
            Framing::Length { remaining: head.content_length.unwrap_or(0) }
        };
        let in_flight = InFlight {
            body: BodySink::new(self.max_body, head.content_encoding.as_deref()),
            head,
            wire_len: head_len as u64,
            framing,
        };
        if matches!(in_flight.framing, Framing::Length { remaining: 0 }) {
            self.state = State::awaiting_head();
            progress.push(Progress::Complete(in_flight.finish()));
        } else {
            self.state = State::Body(Box::new(in_flight));
        }
    }

    fn step_body(&mut self, rest: &[u8], progress: &mut Vec<Progress>) -> Step {
        let State::Body(body_state) = &mut self.state else {
            return Step::Wait;
        };
        let in_flight = &mut **body_state;
        match in_flight.framing.advance(rest, &mut in_flight.body) {
            Err(reason) => Step::Fail(reason),
            Ok(BodyStep::Wait) => Step::Wait,
            Ok(BodyStep::Consumed(n)) => {
                in_flight.wire_len += n as u64;
                Step::Advance(n)
            }
            Ok(BodyStep::Finished(n)) => {
                in_flight.wire_len += n as u64;
                if let State::Body(done) = std::mem::replace(&mut self.state, State::awaiting_head()) {
                    progress.push(Progress::Complete(done.finish()));
                }
                Step::Advance(n)
            }
        }
    }
}

enum State {
    /// Waiting for (more of) a request head at the start of the unconsumed bytes.
    Head(HeadScan),
    /// Receiving a body.
    Body(Box<InFlight>),
    /// Not HTTP/1.1; the reason.
    Failed(String),
}

impl State {
    fn awaiting_head() -> Self {
        State::Head(HeadScan::default())
    }
}

/// How far a head that is still arriving has been looked at, shared by requests and
/// responses. Re-parsing the whole buffered head on every tiny push would be quadratic, so
/// the parser runs only when a blank line may have ended the head, or when the buffer doubled
/// (which still rejects garbage at the first push).
#[derive(Default)]
struct HeadScan {
    /// Buffered head bytes already searched for a blank line.
    scanned: usize,
    /// Buffered length at which to run the parser again even without one.
    parse_at: usize,
}

impl HeadScan {
    /// A step to take without parsing, or `None` when the head should be parsed now.
    fn gate(&mut self, rest: &[u8]) -> Option<Step> {
        // Empty lines before a message belong to no message (RFC 9112 2.2); dropping them
        // keeps a stray CRLF after a body from looking like a partial head.
        match rest {
            [] | [b'\r'] => return Some(Step::Wait),
            [b'\r', b'\n', ..] if self.scanned == 0 => return Some(Step::Advance(2)),
            [b'\n', ..] if self.scanned == 0 => return Some(Step::Advance(1)),
            _ => {}
        }
        let blank_line = contains_blank_line(rest, self.scanned.saturating_sub(2));
        if !blank_line && rest.len() <= MAX_HEAD_BYTES && rest.len() < self.parse_at {
            self.scanned = rest.len();
            return Some(Step::Wait);
        }
        None
    }

    /// The parser found the `len` buffered bytes to be an incomplete head.
    fn partial(&mut self, len: usize) -> Step {
        self.scanned = len;
        self.parse_at = len.saturating_mul(2);
        Step::Wait
    }
}

/// Outcome of one state-machine step.
enum Step {
    Advance(usize),
    Wait,
    Fail(String),
}

/// A request whose head is parsed and whose body is still arriving.
struct InFlight {
    head: RequestHead,
    /// Wire bytes of this request consumed so far.
    wire_len: u64,
    framing: Framing,
    body: BodySink,
}

impl InFlight {
    fn finish(self) -> Request {
        let wire_body_len = self.body.wire.len;
        let decoded = self.body.finish();
        Request {
            head: self.head,
            wire_body_len,
            body: decoded.body,
            body_sha256: decoded.sha256,
            body_len: decoded.len,
            body_truncated: decoded.truncated,
            decode_error: decoded.decode_error,
            wire_len: self.wire_len,
        }
    }
}

/// How the end of the body is found.
enum Framing {
    Length {
        remaining: u64,
    },
    Chunked(ChunkPhase),
    /// Responses only: the body runs until the server closes the connection.
    UntilClose,
}

enum ChunkPhase {
    SizeLine,
    Data {
        remaining: u64,
    },
    /// The CRLF that closes a chunk's data.
    DataEnd,
    /// After the last (zero-size) chunk: trailer fields until an empty line.
    Trailers {
        seen: usize,
    },
}

enum BodyStep {
    Consumed(usize),
    /// Consumed this many bytes and the body is complete.
    Finished(usize),
    Wait,
}

impl Framing {
    fn advance(&mut self, rest: &[u8], body: &mut BodySink) -> Result<BodyStep, String> {
        if rest.is_empty() {
            return Ok(BodyStep::Wait);
        }
        let phase = match self {
            Framing::Length { remaining } => {
                let taken = take_body_bytes(rest, remaining, body);
                return Ok(if *remaining == 0 { BodyStep::Finished(taken) } else { BodyStep::Consumed(taken) });
            }
            Framing::Chunked(phase) => phase,
            Framing::UntilClose => {
                body.write(rest);
                return Ok(BodyStep::Consumed(rest.len()));
            }
        };
        match phase {
            ChunkPhase::SizeLine => {
                let Some(line) = complete_line(rest, MAX_CHUNK_SIZE_LINE, "chunk-size line")? else {
                    return Ok(BodyStep::Wait);
                };
                let size = match httparse::parse_chunk_size(line) {
                    Ok(httparse::Status::Complete((used, size))) if used == line.len() => size,
                    _ => return Err("invalid chunk-size line".to_owned()),
                };
                *phase =
                    if size == 0 { ChunkPhase::Trailers { seen: 0 } } else { ChunkPhase::Data { remaining: size } };
                Ok(BodyStep::Consumed(line.len()))
            }
            ChunkPhase::Data { remaining } => {
                let taken = take_body_bytes(rest, remaining, body);
                if *remaining == 0 {
                    *phase = ChunkPhase::DataEnd;
                }
                Ok(BodyStep::Consumed(taken))
            }
            ChunkPhase::DataEnd => {
                if rest.starts_with(b"\r\n") {
                    *phase = ChunkPhase::SizeLine;
                    Ok(BodyStep::Consumed(2))
                } else if rest == b"\r" {
                    Ok(BodyStep::Wait)
                } else {
                    Err("chunk data not followed by CRLF".to_owned())
                }
            }
            ChunkPhase::Trailers { seen } => {
                let budget = MAX_TRAILER_BYTES.saturating_sub(*seen);
                let Some(line) = complete_line(rest, budget, "chunked trailer section")? else {
                    return Ok(BodyStep::Wait);
                };
                if !line.ends_with(b"\r\n") {
                    return Err("chunked trailer line not ended by CRLF".to_owned());
                }
                if line.len() == 2 {
                    return Ok(BodyStep::Finished(2));
                }
                if !line.contains(&b':') {
                    return Err("chunked trailer line is not a header field".to_owned());
                }
                *seen += line.len();
                Ok(BodyStep::Consumed(line.len()))
            }
        }
    }
}

/// Moves up to `remaining` body bytes from `rest` into `body`; returns how many.
fn take_body_bytes(rest: &[u8], remaining: &mut u64, body: &mut BodySink) -> usize {
    let taken = usize::try_from(*remaining).map_or(rest.len(), |r| r.min(rest.len()));
    body.write(rest.get(..taken).unwrap_or_default());
    *remaining -= taken as u64;
    taken
}

/// The line (through its `\n`) at the start of `rest`, `None` if it has not fully arrived, or
/// an error once it is longer than `max_len`.
fn complete_line<'a>(rest: &'a [u8], max_len: usize, what: &str) -> Result<Option<&'a [u8]>, String> {
    match rest.iter().position(|&b| b == b'\n') {
        Some(newline) if newline < max_len => Ok(rest.get(..=newline)),
        None if rest.len() < max_len => Ok(None),
        _ => Err(format!("{what} longer than {max_len} bytes")),
    }
}

fn head_too_large() -> String {
    format!("request head larger than {MAX_HEAD_BYTES} bytes")
}

/// Whether `bytes[from..]` holds an empty line (httparse accepts LF as well as CRLF).
fn contains_blank_line(bytes: &[u8], from: usize) -> bool {
    let tail = bytes.get(from..).unwrap_or_default();
    tail.windows(2).any(|w| w == b"\n\n") || tail.windows(3).any(|w| w == b"\n\r\n")
}

/// What the parser made of the buffered bytes of a request head or response head.
enum HeadParse<H> {
    Partial,
    Complete { head: H, len: usize },
    Invalid(String),
}

fn parse_head(bytes: &[u8]) -> HeadParse<RequestHead> {
    let mut slots = INITIAL_HEADER_SLOTS;
    loop {
        let mut headers = vec![httparse::EMPTY_HEADER; slots];
        let mut request = httparse::Request::new(&mut headers);
        match request.parse(bytes) {
            Ok(httparse::Status::Partial) => return HeadParse::Partial,
            Ok(httparse::Status::Complete(len)) => {
                return match build_head(&request) {
                    Ok(head) => HeadParse::Complete { head, len },
                    Err(reason) => HeadParse::Invalid(reason),
                };
            }
            Err(httparse::Error::TooManyHeaders) if slots < MAX_HEADERS => {
                slots = (slots * 2).min(MAX_HEADERS);
            }
            Err(httparse::Error::TooManyHeaders) => {
                return HeadParse::Invalid(format!("more than {MAX_HEADERS} header fields"));
            }
            // Named so the caller can hand the connection to an HTTP/2 parser instead.
            Err(_) if bytes.starts_with(b"PRI * HTTP/2") => {
                return HeadParse::Invalid("HTTP/2 connection preface".to_owned());
            }
            Err(error) => return HeadParse::Invalid(format!("invalid request head: {error}")),
        }
    }
}

fn build_head(request: &httparse::Request<'_, '_>) -> Result<RequestHead, String> {
    let (Some(method), Some(path)) = (request.method, request.path) else {
        return Err("incomplete request line".to_owned());
    };
    let headers: Vec<(String, Vec<u8>)> =
        request.headers.iter().map(|header| (header.name.to_ascii_lowercase(), header.value.to_vec())).collect();
    let values_of =
        |name: &'static str| headers.iter().filter(move |(n, _)| n == name).map(|(_, value)| value.as_slice());

    let (host, host_port) = match values_of("host").collect::<Vec<_>>().as_slice() {
        [] => (None, None),
        [value] => parse_host(value)?,
        _ => return Err("multiple Host header fields".to_owned()),
    };
    let content_length = parse_content_length(values_of("content-length"))?;
    let chunked = parse_transfer_encoding(values_of("transfer-encoding"))?;
    let encodings: Vec<String> =
        values_of("content-encoding").map(|value| String::from_utf8_lossy(value).trim().to_ascii_lowercase()).collect();
    let content_encoding = (!encodings.is_empty()).then(|| encodings.join(", "));

    Ok(RequestHead {
        method: method.to_owned(),
        path: path.to_owned(),
        host,
        host_port,
        headers,
        content_length,
        chunked,
        content_encoding,
    })
}

/// Splits a Host value into lowercased host and port. Malformed values are errors because
/// the host feeds the destination allowlist.
fn parse_host(value: &[u8]) -> Result<(Option<String>, Option<u16>), String> {
    let invalid = || format!("invalid Host header {:?}", String::from_utf8_lossy(value));
    let text = std::str::from_utf8(value).map_err(|_| invalid())?.trim();
    if text.is_empty() {
        // Allowed by RFC 9112 3.2 when the target has no authority.
        return Ok((None, None));
    }
    let (host, port, allowed): (&str, &str, fn(char) -> bool) = if let Some(bracketed) = text.strip_prefix('[') {
        let (literal, after) = bracketed.split_once(']').ok_or_else(invalid)?;
        let port = match after {
            "" => "",
            _ => after.strip_prefix(':').ok_or_else(invalid)?,
        };
        (literal, port, |c| c.is_ascii_alphanumeric() || ":.%-_~".contains(c))
    } else {
        let (host, port) = text.rsplit_once(':').unwrap_or((text, ""));
        (host, port, |c| c.is_ascii_alphanumeric() || "-._~%!$&'()*+,;=".contains(c))
    };
    if host.is_empty() || !host.chars().all(allowed) {
        return Err(invalid());
    }
    let port = match port {
        "" => None,
        digits if digits.bytes().all(|b| b.is_ascii_digit()) => Some(digits.parse::<u16>().map_err(|_| invalid())?),
        _ => return Err(invalid()),
    };
    Ok((Some(host.to_ascii_lowercase()), port))
}

/// Content-Length from all its fields; identical repeats ("5, 5") are allowed (RFC 9110
/// 8.6), anything else ambiguous is an error since it could hide a second request.
fn parse_content_length<'a>(values: impl Iterator<Item = &'a [u8]>) -> Result<Option<u64>, String> {
    let mut length = None;
    for item in values.flat_map(|value| value.split(|&b| b == b',')) {
        let item = item.trim_ascii();
        let parsed = std::str::from_utf8(item)
            .ok()
            .filter(|digits| !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|digits| digits.parse::<u64>().ok())
            .ok_or_else(|| format!("invalid Content-Length {:?}", String::from_utf8_lossy(item)))?;
        match length {
            Some(previous) if previous != parsed => {
                return Err("conflicting Content-Length values".to_owned());
            }
            _ => length = Some(parsed),
        }
    }
    Ok(length)
}

/// Whether the body is chunked. Requests whose Transfer-Encoding is not exactly `chunked` are
/// rejected: without a final chunked the length is unknowable (RFC 9112 6.3), and other
/// transfer-codings are not used by real clients.
fn parse_transfer_encoding<'a>(mut values: impl Iterator<Item = &'a [u8]>) -> Result<bool, String> {
    let Some(first) = values.next() else {
        return Ok(false);
    };
    let codings: Vec<String> = std::iter::once(first)
        .chain(values)
        .flat_map(|value| value.split(|&b| b == b','))
        .map(|coding| String::from_utf8_lossy(coding.trim_ascii()).to_ascii_lowercase())
        .filter(|coding| !coding.is_empty())
        .collect();
    match codings.as_slice() {
        [only] if only == "chunked" => Ok(true),
        _ => Err(format!("unsupported Transfer-Encoding {:?}", codings.join(", "))),
    }
}

/// Keeps the first `limit` bytes of a stream while hashing and counting all of it.
struct CappedDigest {
    kept: Vec<u8>,
    limit: usize,
    hasher: Sha256,
    len: u64,
    /// Streaming responses only: a copy of the bytes not yet handed to the caller.
    tap: Option<Tap>,
}

impl CappedDigest {
    fn new(limit: usize) -> Self {
        Self { kept: Vec::new(), limit, hasher: Sha256::new(), len: 0, tap: None }
    }

    fn update(&mut self, bytes: &[u8]) {
        self.hasher.update(bytes);
        self.len += bytes.len() as u64;
        let room = self.limit.saturating_sub(self.kept.len());
        self.kept.extend_from_slice(bytes.get(..room.min(bytes.len())).unwrap_or_default());
        if let Some(tap) = &mut self.tap {
            tap.feed(bytes);
        }
    }
}

/// Decoded bytes of a streaming response waiting to be reported. Bounded between two takes, so
/// a small compressed push cannot inflate into unbounded memory; what does not fit is dropped
/// and remembered as a gap.
struct Tap {
    pending: Vec<u8>,
    limit: usize,
    gap: bool,
}

impl Tap {
    fn new(limit: usize) -> Self {
        Self { pending: Vec::new(), limit, gap: false }
    }

    fn feed(&mut self, bytes: &[u8]) {
        let room = self.limit.saturating_sub(self.pending.len());
        if bytes.len() > room {
            self.gap = true;
        }
        self.pending.extend_from_slice(bytes.get(..room.min(bytes.len())).unwrap_or_default());
    }
}

/// Lets the streaming decoders write their output straight into a digest.
impl Write for CappedDigest {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

enum Decoding {
    Identity,
    Gzip(Box<MultiGzDecoder<CappedDigest>>),
    Zlib(Box<ZlibDecoder<CappedDigest>>),
    /// Not decodable from the start; the message for `decode_error`.
    Unsupported(String),
    /// The decoder rejected the stream part way; the message for `decode_error`.
    Corrupt(String),
}

/// Receives de-chunked body bytes: digests them as sent and, when content-encoded, decodes
/// them as they arrive so memory stays bounded by `max_body` even for large bodies. The wire
/// copy is what we fall back to when decoding fails.
struct BodySink {
    wire: CappedDigest,
    decoding: Decoding,
    /// Streaming only: some decoded bytes were never handed out (see [`Tap`]).
    stream_gap: bool,
}

/// Final body fields of a [`Request`].
struct BodyOutcome {
    body: Vec<u8>,
    sha256: String,
    len: u64,
    truncated: bool,
    decode_error: Option<String>,
}

impl BodySink {
    fn new(max_body: usize, content_encoding: Option<&str>) -> Self {
        let codings: Vec<&str> = content_encoding
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|coding| !coding.is_empty() && *coding != "identity")
            .collect();
        let decoding = match codings.as_slice() {
            [] => Decoding::Identity,
            ["gzip" | "x-gzip"] => Decoding::Gzip(Box::new(MultiGzDecoder::new(CappedDigest::new(max_body)))),
            // HTTP "deflate" is the zlib format (RFC 9110 8.4.1.2).
            ["deflate"] => Decoding::Zlib(Box::new(ZlibDecoder::new(CappedDigest::new(max_body)))),
            _ => {
                Decoding::Unsupported(format!("unsupported content-encoding {}", content_encoding.unwrap_or_default()))
            }
        };
        Self { wire: CappedDigest::new(max_body), decoding, stream_gap: false }
    }

    /// Like [`BodySink::new`], but the decoded bytes are also kept for
    /// [`BodySink::take_streamed`]. Identity bytes are bounded by the push that carried them;
    /// decoded ones by `max(max_body, MAX_STREAM_INFLATE)` per take.
    fn streaming(max_body: usize, content_encoding: Option<&str>) -> Self {
        let mut sink = Self::new(max_body, content_encoding);
        let inflated = Tap::new(max_body.max(MAX_STREAM_INFLATE));
        match &mut sink.decoding {
            Decoding::Identity => sink.wire.tap = Some(Tap::new(usize::MAX)),
            Decoding::Gzip(decoder) => decoder.get_mut().tap = Some(inflated),
            Decoding::Zlib(decoder) => decoder.get_mut().tap = Some(inflated),
            Decoding::Unsupported(_) | Decoding::Corrupt(_) => {}
        }
        sink
    }

    /// The decoded bytes that arrived since the last call (streaming sinks only). Flushes the
    /// decoder first: flate2 holds output back until the next write otherwise.
    fn take_streamed(&mut self) -> Vec<u8> {
        let flushed = match &mut self.decoding {
            Decoding::Gzip(decoder) => decoder.flush().map_err(|e| format!("gzip: {e}")),
            Decoding::Zlib(decoder) => decoder.flush().map_err(|e| format!("deflate: {e}")),
            Decoding::Identity | Decoding::Unsupported(_) | Decoding::Corrupt(_) => Ok(()),
        };
        if let Err(message) = flushed {
            self.decoding = Decoding::Corrupt(message);
        }
        let digest = match &mut self.decoding {
            Decoding::Identity => &mut self.wire,
            Decoding::Gzip(decoder) => decoder.get_mut(),
            Decoding::Zlib(decoder) => decoder.get_mut(),
            Decoding::Unsupported(_) | Decoding::Corrupt(_) => return Vec::new(),
        };
        let Some(tap) = &mut digest.tap else {
            return Vec::new();
        };
        self.stream_gap |= std::mem::take(&mut tap.gap);
        std::mem::take(&mut tap.pending)
    }

    fn write(&mut self, bytes: &[u8]) {
        self.wire.update(bytes);
        let result = match &mut self.decoding {
            Decoding::Gzip(decoder) => decoder.write_all(bytes).map_err(|e| format!("gzip: {e}")),
            Decoding::Zlib(decoder) => decoder.write_all(bytes).map_err(|e| format!("deflate: {e}")),
            Decoding::Identity | Decoding::Unsupported(_) | Decoding::Corrupt(_) => Ok(()),
        };
        if let Err(message) = result {
            // Drops the decoder and its partial output; only the wire copy is kept from now.
            self.decoding = Decoding::Corrupt(message);
        }
    }

    fn finish(self) -> BodyOutcome {
        let BodySink { wire, decoding, .. } = self;
        if wire.len == 0 {
            // Nothing to decode: an empty body is empty under any encoding.
            return outcome(wire, None, false);
        }
        let decoded = match decoding {
            Decoding::Identity => return outcome(wire, None, false),
            Decoding::Unsupported(message) => return outcome(wire, Some(message), false),
            Decoding::Corrupt(message) => Err(message),
            Decoding::Gzip(decoder) => decoder.finish().map_err(|e| format!("gzip: {e}")),
            Decoding::Zlib(decoder) => decoder.finish().map_err(|e| format!("deflate: {e}")),
        };
        match decoded {
            Ok(decoded) => outcome(decoded, None, false),
            Err(message) => outcome(wire, Some(message), true),
        }
    }
}

fn outcome(digest: CappedDigest, decode_error: Option<String>, decode_failed: bool) -> BodyOutcome {
    BodyOutcome {
        truncated: decode_failed || (digest.kept.len() as u64) < digest.len,
        sha256: hex::encode(digest.hasher.finalize()),
        len: digest.len,
        body: digest.kept,
        decode_error,
    }
}

/// Incremental HTTP/1.1 response parser for the server -> client direction of one connection,
/// fed with the plaintext the client read (`SSL_read`), split anywhere.
///
/// Whether a response has a body depends on the request it answers (HEAD, CONNECT), and
/// responses come back in request order, so the caller announces each request sent on the
/// connection with [`ResponseAssembler::expect`]. Bodies of `text/event-stream` responses are
/// also reported piecewise ([`ResponseProgress::BodyChunk`]) so server-sent events can be
/// parsed while the stream is still open.
pub struct ResponseAssembler {
    /// Bound on the bytes of each body we keep (wire and decoded); the rest is only hashed.
    max_body: usize,
    state: ResponseState,
    /// Received bytes not consumed yet (partial head or chunk framing, never body bytes).
    carry: Vec<u8>,
    bytes_seen: u64,
    /// Methods of the requests whose final response has not arrived yet, oldest first.
    awaited: VecDeque<String>,
    /// A failure noticed outside `push` (in `expect`), reported by the next `push`.
    deferred_failure: Option<String>,
}

/// What [`ResponseAssembler::push`] learned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ResponseProgress {
    /// Status line and headers of a new response (once per response, interim 1xx included).
    Head(ResponseHead),
    /// Decoded body bytes of a streaming response (`head.streaming`), in order, as they
    /// arrived; the [`ResponseProgress::Complete`] that follows carries the body again.
    BodyChunk(Vec<u8>),
    /// A response is complete (head + whole body).
    Complete(Response),
    /// The stream is not (or no longer) HTTP/1.1: malformed, or switched to another protocol
    /// by a 101 or a successful CONNECT. Emitted once; afterwards bytes are only counted.
    NotHttp { reason: String },
}

/// A parsed response head.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResponseHead {
    pub status: u16,
    pub reason: String,
    /// Minor version: 1 for HTTP/1.1, 0 for HTTP/1.0.
    pub version: u8,
    /// All header fields in order, names lowercased, values as sent.
    pub headers: Vec<(String, Vec<u8>)>,
    /// Declared Content-Length; ignored for framing when chunked or bodiless.
    pub content_length: Option<u64>,
    pub chunked: bool,
    /// Content-Encoding, lowercased; several header fields are joined with ", ".
    pub content_encoding: Option<String>,
    /// Media type of Content-Type, lowercased, without parameters.
    pub content_type: Option<String>,
    /// Method of the request this answers, when [`ResponseAssembler::expect`] announced it.
    pub request_method: Option<String>,
    /// Body bytes are reported as [`ResponseProgress::BodyChunk`]s (`text/event-stream`).
    pub streaming: bool,
}

/// How a response body ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyEnd {
    /// By its framing (Content-Length, last chunk, or no body at all).
    Framed,
    /// By the connection closing, which is how a response without framing ends.
    ConnectionClose,
    /// The connection closed before the framing said the body was complete.
    CutShort,
}

/// A complete response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    pub head: ResponseHead,
    /// Body as sent on the wire after removing chunked framing, before content decoding.
    pub wire_body_len: u64,
    /// Decoded body (after Content-Encoding gzip / deflate / identity), up to max_body bytes.
    pub body: Vec<u8>,
    /// sha256 hex of the full decoded body (all of it, even past max_body).
    pub body_sha256: String,
    /// Length of the full decoded body.
    pub body_len: u64,
    /// True if `body` holds fewer bytes than the body had: max_body reached, decoding failed,
    /// or the connection closed before the body was complete ([`BodyEnd::CutShort`]).
    pub body_truncated: bool,
    /// Set when the body could not be decoded; then the body fields describe the wire body.
    pub decode_error: Option<String>,
    /// Total bytes of this response on the wire (head + framing + body).
    pub wire_len: u64,
    pub end: BodyEnd,
    /// Streaming only: decoded bytes that were not reported as chunks, because one push
    /// inflated to more than the per-push bound. A parser fed with the chunks missed them.
    pub stream_gap: bool,
}

impl ResponseAssembler {
    /// `max_body` bounds memory for bodies as on the request side.
    pub fn new(max_body: usize) -> Self {
        Self {
            max_body,
            state: ResponseState::awaiting_head(),
            carry: Vec::new(),
            bytes_seen: 0,
            awaited: VecDeque::new(),
            deferred_failure: None,
        }
    }

    /// Announces a request sent on this connection (its method), in sending order. Responses
    /// without an announced request are framed as answers to a GET.
    pub fn expect(&mut self, method: &str) {
        if self.awaited.len() >= MAX_AWAITED_RESPONSES {
            if self.deferred_failure.is_none() && !matches!(self.state, ResponseState::Failed(_)) {
                self.deferred_failure = Some(format!("more than {MAX_AWAITED_RESPONSES} requests awaiting a response"));
            }
            return;
        }
        self.awaited.push_back(method.to_ascii_uppercase());
    }

    /// Feeds the next bytes the client read. Returns what became known.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<ResponseProgress> {
        self.bytes_seen = self.bytes_seen.saturating_add(bytes.len() as u64);
        let mut progress = Vec::new();
        if let Some(reason) = self.deferred_failure.take() {
            self.fail(reason, &mut progress);
        }
        if matches!(self.state, ResponseState::Failed(_) | ResponseState::Closed) {
            return progress;
        }
        let mut carry = std::mem::take(&mut self.carry);
        if carry.is_empty() {
            let consumed = self.process(bytes, &mut progress);
            carry.extend_from_slice(bytes.get(consumed..).unwrap_or_default());
        } else {
            carry.extend_from_slice(bytes);
            let consumed = self.process(&carry, &mut progress);
            carry.drain(..consumed.min(carry.len()));
        }
        if matches!(self.state, ResponseState::Head(_) | ResponseState::Body(_)) {
            carry.shrink_to(MAX_HEAD_BYTES);
            self.carry = carry;
        }
        progress
    }

    /// The connection was closed. Completes a body that runs until close, reports a body the
    /// close cut short (as [`BodyEnd::CutShort`]) or a partial head (as `NotHttp`); `None`
    /// when nothing was in flight. Later pushes are ignored.
    pub fn finish(&mut self) -> Option<ResponseProgress> {
        let state = std::mem::replace(&mut self.state, ResponseState::Closed);
        let carry = std::mem::take(&mut self.carry);
        match state {
            ResponseState::Body(in_flight) => {
                let end = if matches!(in_flight.framing, Framing::UntilClose) {
                    BodyEnd::ConnectionClose
                } else {
                    BodyEnd::CutShort
                };
                Some(ResponseProgress::Complete(in_flight.finish(end)))
            }
            ResponseState::Head(_) if !carry.is_empty() => {
                Some(ResponseProgress::NotHttp { reason: "connection closed inside a response head".to_owned() })
            }
            ResponseState::Head(_) | ResponseState::Closed => None,
            ResponseState::Failed(reason) => {
                self.state = ResponseState::Failed(reason);
                None
            }
        }
    }

    /// True when no response is partially buffered.
    pub fn is_idle(&self) -> bool {
        matches!(self.state, ResponseState::Head(_)) && self.carry.is_empty()
    }

    /// The head of the response currently being received, if its body is not complete.
    pub fn pending_head(&self) -> Option<&ResponseHead> {
        match &self.state {
            ResponseState::Body(in_flight) => Some(&in_flight.head),
            _ => None,
        }
    }

    /// Requests announced with [`ResponseAssembler::expect`] still waiting for a response.
    pub fn awaited(&self) -> usize {
        self.awaited.len()
    }

    /// Why the stream stopped being parsed, once [`ResponseProgress::NotHttp`] was reported.
    pub fn failed(&self) -> Option<&str> {
        match &self.state {
            ResponseState::Failed(reason) => Some(reason),
            _ => None,
        }
    }

    /// Every byte ever pushed, including those swallowed after a failure or close.
    pub fn bytes_seen(&self) -> u64 {
        self.bytes_seen
    }

    fn fail(&mut self, reason: String, progress: &mut Vec<ResponseProgress>) {
        progress.push(ResponseProgress::NotHttp { reason: reason.clone() });
        self.state = ResponseState::Failed(reason);
        self.carry = Vec::new();
    }

    /// Runs the state machine over `data`; returns how many bytes it consumed.
    fn process(&mut self, data: &[u8], progress: &mut Vec<ResponseProgress>) -> usize {
        let mut pos = 0;
        loop {
            let rest = data.get(pos..).unwrap_or_default();
            let step = match self.state {
                ResponseState::Head(_) => self.step_head(rest, progress),
                ResponseState::Body(_) => self.step_body(rest, progress),
                ResponseState::Failed(_) | ResponseState::Closed => Step::Wait,
            };
            match step {
                Step::Advance(0) | Step::Wait => return pos,
                Step::Advance(n) => pos += n,
                Step::Fail(reason) => {
                    self.fail(reason, progress);
                    return pos;
                }
            }
        }
    }

    fn step_head(&mut self, rest: &[u8], progress: &mut Vec<ResponseProgress>) -> Step {
        let ResponseState::Head(scan) = &mut self.state else {
            return Step::Wait;
        };
        if let Some(step) = scan.gate(rest) {
            return step;
        }
        match parse_response_head(rest) {
            HeadParse::Partial if rest.len() > MAX_HEAD_BYTES => Step::Fail(response_head_too_large()),
            HeadParse::Partial => scan.partial(rest.len()),
            HeadParse::Invalid(reason) => Step::Fail(reason),
            HeadParse::Complete { len, .. } if len > MAX_HEAD_BYTES => Step::Fail(response_head_too_large()),
            HeadParse::Complete { head, len } => match self.start_body(head, len, progress) {
                Some(reason) => {
                    // Let the caller see the switch before everything after it is refused.
                    progress.push(ResponseProgress::NotHttp { reason: reason.clone() });
                    self.state = ResponseState::Failed(reason);
                    Step::Advance(len)
                }
                None => Step::Advance(len),
            },
        }
    }

    /// Emits the head and picks the framing (RFC 9112 6.3). Returns a reason when the
    /// connection stops being HTTP after this response (101, successful CONNECT).
    fn start_body(
        &mut self,
        mut head: ResponseHead,
        head_len: usize,
        progress: &mut Vec<ResponseProgress>,
    ) -> Option<String> {
        let interim = (100..200).contains(&head.status) && head.status != 101;
        if !interim {
            head.request_method = self.awaited.pop_front();
        }
        let method = head.request_method.as_deref().unwrap_or("GET");
        let switched = if head.status == 101 {
            Some("connection switched protocols (101)".to_owned())
        } else if method == "CONNECT" && (200..300).contains(&head.status) {
            Some("connection became a CONNECT tunnel".to_owned())
        } else {
            None
        };
        let bodiless = (100..200).contains(&head.status)
            || head.status == 204
            || head.status == 304
            || method == "HEAD"
            || switched.is_some();
        let framing = if bodiless {
            Framing::Length { remaining: 0 }
        } else if head.chunked {
            Framing::Chunked(ChunkPhase::SizeLine)
        } else if let Some(length) = head.content_length {
            Framing::Length { remaining: length }
        } else {
            Framing::UntilClose
        };
        head.streaming = !bodiless && head.content_type.as_deref() == Some("text/event-stream");
        progress.push(ResponseProgress::Head(head.clone()));
        let body = if head.streaming {
            BodySink::streaming(self.max_body, head.content_encoding.as_deref())
        } else {
            BodySink::new(self.max_body, head.content_encoding.as_deref())
        };
        let in_flight = ResponseInFlight { body, head, wire_len: head_len as u64, framing };
        if matches!(in_flight.framing, Framing::Length { remaining: 0 }) {
            self.state = ResponseState::awaiting_head();
            progress.push(ResponseProgress::Complete(in_flight.finish(BodyEnd::Framed)));
        } else {
            self.state = ResponseState::Body(Box::new(in_flight));
        }
        switched
    }

    fn step_body(&mut self, rest: &[u8], progress: &mut Vec<ResponseProgress>) -> Step {
        let ResponseState::Body(body_state) = &mut self.state else {
            return Step::Wait;
        };
        let in_flight = &mut **body_state;
        let result = in_flight.framing.advance(rest, &mut in_flight.body);
        if in_flight.head.streaming {
            let chunk = in_flight.body.take_streamed();
            if !chunk.is_empty() {
                progress.push(ResponseProgress::BodyChunk(chunk));
            }
        }
        match result {
            Err(reason) => Step::Fail(reason),
            Ok(BodyStep::Wait) => Step::Wait,
            Ok(BodyStep::Consumed(n)) => {
                in_flight.wire_len += n as u64;
                Step::Advance(n)
            }
            Ok(BodyStep::Finished(n)) => {
                in_flight.wire_len += n as u64;
                if let ResponseState::Body(done) = std::mem::replace(&mut self.state, ResponseState::awaiting_head()) {
                    progress.push(ResponseProgress::Complete(done.finish(BodyEnd::Framed)));
                }
                Step::Advance(n)
            }
        }
    }
}

enum ResponseState {
    /// Waiting for (more of) a response head.
    Head(HeadScan),
    Body(Box<ResponseInFlight>),
    Failed(String),
    /// [`ResponseAssembler::finish`] was called.
    Closed,
}

impl ResponseState {
    fn awaiting_head() -> Self {
        ResponseState::Head(HeadScan::default())
    }
}

/// A response whose head is parsed and whose body is still arriving.
struct ResponseInFlight {
    head: ResponseHead,
    wire_len: u64,
    framing: Framing,
    body: BodySink,
}

impl ResponseInFlight {
    fn finish(self, end: BodyEnd) -> Response {
        let wire_body_len = self.body.wire.len;
        let stream_gap = self.body.stream_gap;
        let decoded = self.body.finish();
        Response {
            head: self.head,
            wire_body_len,
            body: decoded.body,
            body_sha256: decoded.sha256,
            body_len: decoded.len,
            body_truncated: decoded.truncated || end == BodyEnd::CutShort,
            decode_error: decoded.decode_error,
            wire_len: self.wire_len,
            end,
            stream_gap,
        }
    }
}

fn response_head_too_large() -> String {
    format!("response head larger than {MAX_HEAD_BYTES} bytes")
}

fn parse_response_head(bytes: &[u8]) -> HeadParse<ResponseHead> {
    let mut slots = INITIAL_HEADER_SLOTS;
    loop {
        let mut headers = vec![httparse::EMPTY_HEADER; slots];
        let mut response = httparse::Response::new(&mut headers);
        match response.parse(bytes) {
            Ok(httparse::Status::Partial) => return HeadParse::Partial,
            Ok(httparse::Status::Complete(len)) => {
                return match build_response_head(&response) {
                    Ok(head) => HeadParse::Complete { head, len },
                    Err(reason) => HeadParse::Invalid(reason),
                };
            }
            Err(httparse::Error::TooManyHeaders) if slots < MAX_HEADERS => {
                slots = (slots * 2).min(MAX_HEADERS);
            }
            Err(httparse::Error::TooManyHeaders) => {
                return HeadParse::Invalid(format!("more than {MAX_HEADERS} header fields"));
            }
            Err(error) => return HeadParse::Invalid(format!("invalid response head: {error}")),
        }
    }
}

fn build_response_head(response: &httparse::Response<'_, '_>) -> Result<ResponseHead, String> {
    let (Some(version), Some(status)) = (response.version, response.code) else {
        return Err("incomplete status line".to_owned());
    };
    let headers: Vec<(String, Vec<u8>)> =
        response.headers.iter().map(|header| (header.name.to_ascii_lowercase(), header.value.to_vec())).collect();
    let values_of =
        |name: &'static str| headers.iter().filter(move |(n, _)| n == name).map(|(_, value)| value.as_slice());
    let content_length = parse_content_length(values_of("content-length"))?;
    let chunked = parse_transfer_encoding(values_of("transfer-encoding"))?;
    let encodings: Vec<String> =
        values_of("content-encoding").map(|value| String::from_utf8_lossy(value).trim().to_ascii_lowercase()).collect();
    let content_encoding = (!encodings.is_empty()).then(|| encodings.join(", "));
    let content_type = values_of("content-type").next().map(|value| {
        let media_type = value.split(|&b| b == b';').next().unwrap_or_default();
        String::from_utf8_lossy(media_type.trim_ascii()).to_ascii_lowercase()
    });
    Ok(ResponseHead {
        status,
        reason: response.reason.unwrap_or_default().to_owned(),
        version,
        headers,
        content_length,
        chunked,
        content_encoding,
        content_type,
        request_method: None,
        streaming: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::Compression;
    use flate2::write::{GzEncoder, ZlibEncoder};

    pub(super) const MAX_BODY: usize = 1 << 20;

    pub(super) fn sha256_hex(bytes: &[u8]) -> String {
        hex::encode(Sha256::digest(bytes))
    }

    pub(super) fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    }

    pub(super) fn zlib(bytes: &[u8]) -> Vec<u8> {
        let mut encoder = ZlibEncoder::new(Vec::new(), Compression::default());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    }

    /// Wraps `body` in chunked framing, `chunk` bytes per chunk, with an extension on each.
    fn chunked(body: &[u8], chunk: usize) -> Vec<u8> {
        let mut out = Vec::new();
        for piece in body.chunks(chunk) {
            out.extend_from_slice(format!("{:x};n=v\r\n", piece.len()).as_bytes());
            out.extend_from_slice(piece);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"0\r\nX-Checksum: abc\r\n\r\n");
        out
    }

    fn request_with_body(extra_headers: &str, body: &[u8]) -> Vec<u8> {
        let mut out =
            format!("POST /v1/chat/completions HTTP/1.1\r\nHost: api.openai.com\r\n{extra_headers}\r\n").into_bytes();
        out.extend_from_slice(body);
        out
    }

    fn feed(max_body: usize, pushes: &[&[u8]]) -> Vec<Progress> {
        let mut assembler = RequestAssembler::new(max_body);
        pushes.iter().flat_map(|push| assembler.push(push)).collect()
    }

    fn completed(progress: &[Progress]) -> Vec<&Request> {
        progress
            .iter()
            .filter_map(|p| match p {
                Progress::Complete(request) => Some(request),
                _ => None,
            })
            .collect()
    }

    fn only_request(progress: &[Progress]) -> &Request {
        let requests = completed(progress);
        assert_eq!(requests.len(), 1, "{progress:?}");
        requests[0]
    }

    fn not_http_reason(progress: &[Progress]) -> &str {
        match progress.last() {
            Some(Progress::NotHttp { reason }) => reason,
            other => panic!("expected NotHttp, got {other:?}"),
        }
    }

    #[test]
    fn simple_get() {
        let wire = b"GET /v1/models?limit=5 HTTP/1.1\r\n\
            Host: API.OpenAI.com\r\nAccept: */*\r\nX-Empty:\r\n\r\n";
        let mut assembler = RequestAssembler::new(MAX_BODY);
        let progress = assembler.push(wire);
        assert_eq!(progress.len(), 2);
        let Progress::Head(head) = &progress[0] else {
            panic!("{progress:?}");
        };
        assert_eq!(head.method, "GET");
        assert_eq!(head.path, "/v1/models?limit=5");
        assert_eq!(head.host.as_deref(), Some("api.openai.com"));
        assert_eq!(head.host_port, None);
        assert_eq!(
            head.headers,
            vec![
                ("host".to_owned(), b"API.OpenAI.com".to_vec()),
                ("accept".to_owned(), b"*/*".to_vec()),
                ("x-empty".to_owned(), Vec::new()),
            ]
        );
        assert_eq!(head.content_length, None);
        assert!(!head.chunked);
        let request = only_request(&progress);
        assert_eq!(&request.head, head);
        assert!(request.body.is_empty());
        assert_eq!(request.body_len, 0);
        assert_eq!(request.wire_body_len, 0);
        assert_eq!(request.body_sha256, sha256_hex(b""));
        assert!(!request.body_truncated);
        assert_eq!(request.wire_len, wire.len() as u64);
        assert!(assembler.is_idle());
        assert_eq!(assembler.failed(), None);
    }

    #[test]
    fn post_with_content_length() {
        let body = br#"{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}"#;
        let wire =
            request_with_body(&format!("Content-Type: application/json\r\nContent-Length: {}\r\n", body.len()), body);
        let progress = feed(MAX_BODY, &[&wire]);
        let request = only_request(&progress);
        assert_eq!(request.head.method, "POST");
        assert_eq!(request.head.content_length, Some(body.len() as u64));
        assert_eq!(request.body, body);
        assert_eq!(request.body_len, body.len() as u64);
        assert_eq!(request.wire_body_len, body.len() as u64);
        assert_eq!(request.body_sha256, sha256_hex(body));
        assert_eq!(request.decode_error, None);
        assert!(!request.body_truncated);
        assert_eq!(request.wire_len, wire.len() as u64);
    }

    #[test]
    fn body_split_over_several_pushes() {
        let body = b"0123456789abcdefghij";
        let wire = request_with_body("Content-Length: 20\r\n", body);
        let head_len = wire.len() - body.len();
        let mut assembler = RequestAssembler::new(MAX_BODY);

        let first = assembler.push(&wire[..head_len + 3]);
        assert!(matches!(first.as_slice(), [Progress::Head(head)] if head.content_length == Some(20)));
        assert_eq!(assembler.pending_head().map(|h| h.path.as_str()), Some("/v1/chat/completions"));
        assert!(!assembler.is_idle());

        assert!(assembler.push(&wire[head_len + 3..head_len + 11]).is_empty());
        assert!(assembler.push(&[]).is_empty());
        let last = assembler.push(&wire[head_len + 11..]);
        assert_eq!(only_request(&last).body, body);
        assert!(assembler.pending_head().is_none());
        assert!(assembler.is_idle());
        assert_eq!(assembler.bytes_seen(), wire.len() as u64);
    }

    #[test]
    fn head_split_inside_crlf_is_held_back() {
        let wire = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n";
        let mut assembler = RequestAssembler::new(MAX_BODY);
        assert!(assembler.push(&wire[..wire.len() - 1]).is_empty());
        assert!(!assembler.is_idle());
        assert_eq!(only_request(&assembler.push(&wire[wire.len() - 1..])).wire_len, wire.len() as u64);
    }

    #[test]
    fn stray_crlf_between_requests_is_ignored() {
        let mut assembler = RequestAssembler::new(MAX_BODY);
        let first = assembler.push(b"POST /a HTTP/1.1\r\nContent-Length: 2\r\n\r\nok\r");
        assert_eq!(only_request(&first).wire_len, 41);
        assert!(assembler.push(b"\n\r\n").is_empty());
        assert!(assembler.is_idle());
        let second = assembler.push(b"GET /b HTTP/1.1\r\n\r\n");
        assert_eq!(only_request(&second).head.path, "/b");
        assert_eq!(only_request(&second).wire_len, 19);
    }

    #[test]
    fn chunked_with_extensions_and_trailers() {
        let wire = request_with_body(
            "Transfer-Encoding: chunked\r\n",
            b"5;ext=1\r\nhello\r\n6 ; name=\"quoted;value\"\r\n world\r\nA\r\n, and more\r\n\
              0\r\nX-Trailer: yes\r\nX-Other: 2\r\n\r\n",
        );
        let progress = feed(MAX_BODY, &[&wire]);
        let request = only_request(&progress);
        assert!(request.head.chunked);
        assert_eq!(request.body, b"hello world, and more");
        assert_eq!(request.wire_body_len, 21);
        assert_eq!(request.body_sha256, sha256_hex(b"hello world, and more"));
        assert_eq!(request.wire_len, wire.len() as u64);
    }

    #[test]
    fn chunked_wins_over_content_length() {
        let wire = request_with_body(
            "Content-Length: 3\r\nTransfer-Encoding: chunked\r\n",
            b"4\r\nabcd\r\n0\r\n\r\nGET /next HTTP/1.1\r\n\r\n",
        );
        let progress = feed(MAX_BODY, &[&wire]);
        let requests = completed(&progress);
        assert_eq!(requests.len(), 2, "{progress:?}");
        assert_eq!(requests[0].head.content_length, Some(3));
        assert_eq!(requests[0].body, b"abcd");
        assert_eq!(requests[1].head.path, "/next");
    }

    #[test]
    fn gzip_body_with_content_length() {
        let json = br#"{"messages":[{"role":"user","content":"summarise this file"}]}"#.repeat(20);
        let compressed = gzip(&json);
        let wire = request_with_body(
            &format!("Content-Encoding: GZIP\r\nContent-Length: {}\r\n", compressed.len()),
            &compressed,
        );
        let progress = feed(MAX_BODY, &[&wire]);
        let request = only_request(&progress);
        assert_eq!(request.head.content_encoding.as_deref(), Some("gzip"));
        assert_eq!(request.body, json);
        assert_eq!(request.body_len, json.len() as u64);
        assert_eq!(request.wire_body_len, compressed.len() as u64);
        assert_eq!(request.body_sha256, sha256_hex(&json));
        assert_eq!(request.decode_error, None);
        assert!(!request.body_truncated);
    }

    #[test]
    fn gzip_body_chunked_and_split() {
        let json = br#"{"input":"a fairly repetitive payload payload payload"}"#.repeat(10);
        let compressed = gzip(&json);
        let wire =
            request_with_body("Content-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n", &chunked(&compressed, 7));
        let pushes: Vec<&[u8]> = wire.chunks(5).collect();
        let progress = feed(MAX_BODY, &pushes);
        let request = only_request(&progress);
        assert_eq!(request.body, json);
        assert_eq!(request.wire_body_len, compressed.len() as u64);
        assert_eq!(request.body_sha256, sha256_hex(&json));
        assert_eq!(request.wire_len, wire.len() as u64);
    }

    #[test]
    fn deflate_body_is_zlib() {
        let text = b"deflate me, deflate me, deflate me";
        let compressed = zlib(text);
        let wire = request_with_body(
            &format!("Content-Encoding: identity, deflate\r\nContent-Length: {}\r\n", compressed.len()),
            &compressed,
        );
        let progress = feed(MAX_BODY, &[&wire]);
        let request = only_request(&progress);
        assert_eq!(request.body, text);
        assert_eq!(request.decode_error, None);
    }

    #[test]
    fn pipelined_requests_in_one_push() {
        let mut wire = request_with_body("Content-Length: 5\r\n", b"first");
        wire.extend_from_slice(b"GET /second HTTP/1.1\r\nHost: example.org\r\n\r\n");
        wire.extend_from_slice(b"POST /third HTTP/1.1\r\nContent-Length: 4\r\n\r\nab");
        let mut assembler = RequestAssembler::new(MAX_BODY);
        let progress = assembler.push(&wire);
        let kinds: Vec<&str> = progress
            .iter()
            .map(|p| match p {
                Progress::Head(head) => head.path.as_str(),
                Progress::Complete(_) => "complete",
                Progress::NotHttp { .. } => "not-http",
            })
            .collect();
        assert_eq!(kinds, ["/v1/chat/completions", "complete", "/second", "complete", "/third"]);
        let requests = completed(&progress);
        assert_eq!(requests[0].body, b"first");
        assert_eq!(requests[1].head.host.as_deref(), Some("example.org"));
        assert_eq!(assembler.pending_head().map(|h| h.path.as_str()), Some("/third"));
        let rest = assembler.push(b"cd");
        assert_eq!(only_request(&rest).body, b"abcd");
        assert!(assembler.is_idle());
    }

    #[test]
    fn host_with_port_and_ipv6_literal() {
        let host_of = |value: &str| {
            let wire = format!("GET / HTTP/1.1\r\nHost: {value}\r\n\r\n");
            let progress = feed(MAX_BODY, &[wire.as_bytes()]);
            let request = only_request(&progress);
            (request.head.host.clone(), request.head.host_port)
        };
        assert_eq!(host_of("Example.COM:8443"), (Some("example.com".to_owned()), Some(8443)));
        assert_eq!(host_of("[::1]:8443"), (Some("::1".to_owned()), Some(8443)));
        assert_eq!(host_of("[FE80::1]"), (Some("fe80::1".to_owned()), None));
        assert_eq!(host_of("10.0.0.1:"), (Some("10.0.0.1".to_owned()), None));
        assert_eq!(host_of(""), (None, None));

        for bad in ["a.com:99999", "a.com:x", "[::1", "[::1]x", "::1", "a b", "user@a.com"] {
            let wire = format!("GET / HTTP/1.1\r\nHost: {bad}\r\n\r\n");
            let progress = feed(MAX_BODY, &[wire.as_bytes()]);
            assert!(not_http_reason(&progress).contains("Host"), "{bad}: {progress:?}");
        }
        let twice = feed(MAX_BODY, &[b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"]);
        assert_eq!(not_http_reason(&twice), "multiple Host header fields");
    }

    #[test]
    fn garbage_is_not_http_and_later_input_is_swallowed() {
        let tls_client_hello = [0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc];
        let mut assembler = RequestAssembler::new(MAX_BODY);
        let progress = assembler.push(&tls_client_hello);
        assert!(not_http_reason(&progress).starts_with("invalid request head"));
        assert_eq!(progress.len(), 1);
        assert!(assembler.push(b"GET / HTTP/1.1\r\n\r\n").is_empty());
        assert!(assembler.failed().is_some());
        assert!(!assembler.is_idle());
        assert_eq!(assembler.bytes_seen(), tls_client_hello.len() as u64 + 18);

        let words = feed(MAX_BODY, &[b"hello world this is not http\r\n\r\n"]);
        assert!(not_http_reason(&words).contains("version"), "{words:?}");
    }

    #[test]
    fn http2_preface_is_named() {
        let preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
        for split in 1..preface.len() {
            let progress = feed(MAX_BODY, &[&preface[..split], &preface[split..]]);
            assert_eq!(not_http_reason(&progress), "HTTP/2 connection preface", "split {split}");
        }
    }

    #[test]
    fn oversized_head_is_not_http() {
        let mut wire = b"GET / HTTP/1.1\r\n".to_vec();
        while wire.len() <= MAX_HEAD_BYTES {
            wire.extend_from_slice(format!("X-Padding: {}\r\n", "a".repeat(1000)).as_bytes());
        }
        let one_push = feed(MAX_BODY, &[&wire]);
        assert_eq!(not_http_reason(&one_push), head_too_large());

        // Without the blank line, it must be rejected once too big, not buffered forever.
        let mut assembler = RequestAssembler::new(MAX_BODY);
        let mut reported = Vec::new();
        for piece in wire.chunks(1000) {
            reported.extend(assembler.push(piece));
        }
        assert_eq!(not_http_reason(&reported), head_too_large());

        // A complete head that is too big is refused too.
        wire.extend_from_slice(b"\r\n");
        assert_eq!(not_http_reason(&feed(MAX_BODY, &[&wire])), head_too_large());
    }

    #[test]
    fn header_count_grows_up_to_cap() {
        let with_headers = |count: usize| {
            let mut wire = b"GET / HTTP/1.1\r\n".to_vec();
            for i in 0..count {
                wire.extend_from_slice(format!("X-H{i}: {i}\r\n").as_bytes());
            }
            wire.extend_from_slice(b"\r\n");
            feed(MAX_BODY, &[&wire])
        };
        assert_eq!(only_request(&with_headers(MAX_HEADERS)).head.headers.len(), MAX_HEADERS);
        assert_eq!(not_http_reason(&with_headers(MAX_HEADERS + 1)), "more than 256 header fields");
    }

    #[test]
    fn body_over_max_body_is_truncated_but_fully_hashed() {
        let body: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        let wire = request_with_body("Content-Length: 1000\r\n", &body);
        let pushes: Vec<&[u8]> = wire.chunks(97).collect();
        let progress = feed(100, &pushes);
        let request = only_request(&progress);
        assert_eq!(request.body, &body[..100]);
        assert_eq!(request.body_len, 1000);
        assert_eq!(request.wire_body_len, 1000);
        assert_eq!(request.body_sha256, sha256_hex(&body));
        assert!(request.body_truncated);
        assert_eq!(request.decode_error, None);

        let json = b"{\"k\":\"value\"}".repeat(100);
        let compressed = gzip(&json);
        let wire = request_with_body(
            &format!("Content-Encoding: gzip\r\nContent-Length: {}\r\n", compressed.len()),
            &compressed,
        );
        let progress = feed(64, &[&wire]);
        let request = only_request(&progress);
        assert_eq!(request.body, &json[..64]);
        assert_eq!(request.body_len, json.len() as u64);
        assert_eq!(request.body_sha256, sha256_hex(&json));
        assert!(request.body_truncated);
    }

    #[test]
    fn corrupt_gzip_sets_decode_error_and_keeps_wire_bytes() {
        let mut compressed = gzip(&b"some text that will be damaged ".repeat(30));
        let middle = compressed.len() / 2;
        compressed[middle..middle + 8].copy_from_slice(b"\xff\xff\xff\xff\xff\xff\xff\xff");
        let wire = request_with_body(
            &format!("Content-Encoding: gzip\r\nContent-Length: {}\r\n", compressed.len()),
            &compressed,
        );
        let progress = feed(MAX_BODY, &[&wire]);
        let request = only_request(&progress);
        assert!(request.decode_error.as_deref().is_some_and(|e| e.starts_with("gzip:")));
        assert_eq!(request.body, compressed);
        assert_eq!(request.body_sha256, sha256_hex(&compressed));
        assert_eq!(request.body_len, compressed.len() as u64);
        assert!(request.body_truncated);

        let not_gzip =
            feed(MAX_BODY, &[&request_with_body("Content-Encoding: gzip\r\nContent-Length: 5\r\n", b"plain")]);
        let request = only_request(&not_gzip);
        assert!(request.decode_error.is_some());
        assert_eq!(request.body, b"plain");
    }

    #[test]
    fn gzip_cut_short_is_a_decode_error() {
        let compressed = gzip(&b"complete sentence. ".repeat(50));
        let cut = &compressed[..compressed.len() - 10];
        let wire = request_with_body(&format!("Content-Encoding: gzip\r\nContent-Length: {}\r\n", cut.len()), cut);
        let progress = feed(MAX_BODY, &[&wire]);
        let request = only_request(&progress);
        assert!(request.decode_error.is_some(), "{request:?}");
        assert_eq!(request.body, cut);
        assert!(request.body_truncated);
    }

    #[test]
    fn unsupported_encoding_keeps_raw_body() {
        let wire = request_with_body("Content-Encoding: br\r\nContent-Length: 4\r\n", b"\x0b\x01\x80\x03");
        let progress = feed(MAX_BODY, &[&wire]);
        let request = only_request(&progress);
        assert_eq!(request.decode_error.as_deref(), Some("unsupported content-encoding br"));
        assert_eq!(request.body, b"\x0b\x01\x80\x03");
        assert_eq!(request.body_sha256, sha256_hex(b"\x0b\x01\x80\x03"));
        assert!(!request.body_truncated);
    }

    #[test]
    fn ambiguous_framing_is_not_http() {
        let reason = |headers: &str| {
            let wire = format!("POST / HTTP/1.1\r\n{headers}\r\n");
            not_http_reason(&feed(MAX_BODY, &[wire.as_bytes()])).to_owned()
        };
        assert!(reason("Content-Length: abc\r\n").starts_with("invalid Content-Length"));
        assert!(reason("Content-Length: -1\r\n").starts_with("invalid Content-Length"));
        assert!(reason("Content-Length: 99999999999999999999999\r\n").starts_with("invalid Content-Length"));
        assert_eq!(reason("Content-Length: 5\r\nContent-Length: 6\r\n"), "conflicting Content-Length values");
        assert_eq!(reason("Content-Length: 5, 6\r\n"), "conflicting Content-Length values");
        assert!(reason("Transfer-Encoding: gzip\r\n").starts_with("unsupported Transfer-Encoding"));
        assert!(reason("Transfer-Encoding: chunked, chunked\r\n").starts_with("unsupported Transfer-Encoding"));

        let same_twice = feed(MAX_BODY, &[b"POST / HTTP/1.1\r\nContent-Length: 2, 2\r\nContent-Length: 2\r\n\r\nok"]);
        assert_eq!(only_request(&same_twice).body, b"ok");
    }

    #[test]
    fn bad_chunk_framing_is_not_http() {
        let reason = |body: &[u8]| {
            let wire = request_with_body("Transfer-Encoding: chunked\r\n", body);
            not_http_reason(&feed(MAX_BODY, &[&wire])).to_owned()
        };
        assert_eq!(reason(b"3\r\nabcX\r\n"), "chunk data not followed by CRLF");
        assert_eq!(reason(b"3\r\nabcX"), "chunk data not followed by CRLF");
        assert_eq!(reason(b"zz\r\n"), "invalid chunk-size line");
        assert_eq!(reason(b"3\nabc\r\n"), "invalid chunk-size line");
        assert_eq!(reason(b"0\r\nno colon here\r\n\r\n"), "chunked trailer line is not a header field");
        let long_extension = [b"1;".as_slice(), &[b'x'; MAX_CHUNK_SIZE_LINE]].concat();
        assert!(reason(&long_extension).starts_with("chunk-size line longer than"));
    }

    /// The outcome must not depend on where the writes were split.
    #[test]
    fn every_two_way_split_matches_one_shot() {
        let json = br#"{"tool":"read_file","arguments":{"path":"/etc/hosts"}}"#.repeat(3);
        let mut wire =
            request_with_body("Content-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n", &chunked(&gzip(&json), 16));
        wire.extend_from_slice(
            b"\r\nPOST /v1/files HTTP/1.1\r\nHost: [::1]:8443\r\nContent-Length: 11\r\n\r\n\
              hello world",
        );

        let one_shot = feed(32, &[&wire]);
        let requests = completed(&one_shot);
        assert_eq!(requests.len(), 2, "{one_shot:?}");
        assert_eq!(requests[0].body_sha256, sha256_hex(&json));
        assert_eq!(requests[1].body, b"hello world");
        for split in 0..=wire.len() {
            let (a, b) = wire.split_at(split);
            assert_eq!(feed(32, &[a, b]), one_shot, "split at {split}");
        }
        let bytewise: Vec<&[u8]> = wire.chunks(1).collect();
        assert_eq!(feed(32, &bytewise), one_shot);
    }

    /// Mutated and random inputs must never panic, and splitting them must not change the
    /// requests found (failure may only be noticed later when split, never invented).
    #[test]
    fn mutated_inputs_never_panic_and_split_consistently() {
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut base = request_with_body(
            "Content-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n",
            &chunked(&gzip(b"{\"a\":[1,2,3]}"), 5),
        );
        base.extend_from_slice(b"GET /x HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc");
        let interesting = b"\r\n:;0 9aF\x00\xff";
        for round in 0..3000 {
            let mut wire = base.clone();
            for _ in 0..1 + next() % 4 {
                let at = (next() as usize) % wire.len();
                match next() % 3 {
                    0 => wire[at] = interesting[(next() as usize) % interesting.len()],
                    1 => wire[at] = next() as u8,
                    _ => drop(wire.remove(at)),
                }
            }
            if round % 10 == 0 {
                wire = (0..next() % 300).map(|_| next() as u8).collect();
            }
            let one_shot = feed(16, &[&wire]);
            let mut pushes = Vec::new();
            let mut rest = wire.as_slice();
            while !rest.is_empty() {
                let (push, tail) = rest.split_at(1 + (next() as usize) % rest.len().min(40));
                pushes.push(push);
                rest = tail;
            }
            let split = feed(16, &pushes);
            let without_failure = |progress: &[Progress]| -> Vec<Progress> {
                progress.iter().filter(|p| !matches!(p, Progress::NotHttp { .. })).cloned().collect()
            };
            assert_eq!(without_failure(&split), without_failure(&one_shot), "{wire:?}");
            if split.iter().any(|p| matches!(p, Progress::NotHttp { .. })) {
                assert!(one_shot.iter().any(|p| matches!(p, Progress::NotHttp { .. })), "{wire:?}");
            }
        }
    }
}

#[cfg(test)]
mod response_tests {
    use flate2::Compression;
    use flate2::write::GzEncoder;

    use super::tests::{MAX_BODY, gzip, sha256_hex, zlib};
    use super::*;

    fn chunked(body: &[u8], chunk: usize) -> Vec<u8> {
        let mut out = Vec::new();
        for piece in body.chunks(chunk) {
            out.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
            out.extend_from_slice(piece);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"0\r\n\r\n");
        out
    }

    fn response(status: &str, headers: &str, body: &[u8]) -> Vec<u8> {
        let mut out = format!("HTTP/1.1 {status}\r\nDate: Tue, 03 Mar 2026 10:00:00 GMT\r\n{headers}\r\n").into_bytes();
        out.extend_from_slice(body);
        out
    }

    fn feed(max_body: usize, methods: &[&str], pushes: &[&[u8]]) -> Vec<ResponseProgress> {
        let mut assembler = ResponseAssembler::new(max_body);
        for method in methods {
            assembler.expect(method);
        }
        pushes.iter().flat_map(|push| assembler.push(push)).collect()
    }

    fn completed(progress: &[ResponseProgress]) -> Vec<&Response> {
        progress
            .iter()
            .filter_map(|p| match p {
                ResponseProgress::Complete(response) => Some(response),
                _ => None,
            })
            .collect()
    }

    fn only_response(progress: &[ResponseProgress]) -> &Response {
        let responses = completed(progress);
        assert_eq!(responses.len(), 1, "{progress:?}");
        responses[0]
    }

    fn streamed(progress: &[ResponseProgress]) -> Vec<u8> {
        progress
            .iter()
            .filter_map(|p| match p {
                ResponseProgress::BodyChunk(bytes) => Some(bytes.as_slice()),
                _ => None,
            })
            .flatten()
            .copied()
            .collect()
    }

    /// Chunk boundaries depend on the pushes; everything else must not. Merges adjacent chunks.
    fn normalized(progress: &[ResponseProgress]) -> Vec<ResponseProgress> {
        let mut out: Vec<ResponseProgress> = Vec::new();
        for p in progress {
            match (out.last_mut(), p) {
                (Some(ResponseProgress::BodyChunk(previous)), ResponseProgress::BodyChunk(more)) => {
                    previous.extend_from_slice(more)
                }
                _ => out.push(p.clone()),
            }
        }
        out
    }

    fn not_http_reason(progress: &[ResponseProgress]) -> &str {
        match progress.last() {
            Some(ResponseProgress::NotHttp { reason }) => reason,
            other => panic!("expected NotHttp, got {other:?}"),
        }
    }

    #[test]
    fn json_response_with_content_length() {
        let body = br#"{"id":"chatcmpl-1","object":"chat.completion","choices":[]}"#;
        let wire = response(
            "200 OK",
            &format!("Content-Type: application/json; charset=utf-8\r\nContent-Length: {}\r\n", body.len()),
            body,
        );
        let mut assembler = ResponseAssembler::new(MAX_BODY);
        assembler.expect("post");
        assert_eq!(assembler.awaited(), 1);
        let progress = assembler.push(&wire);
        let ResponseProgress::Head(head) = &progress[0] else { panic!("{progress:?}") };
        assert_eq!((head.status, head.reason.as_str(), head.version), (200, "OK", 1));
        assert_eq!(head.content_type.as_deref(), Some("application/json"));
        assert_eq!(head.request_method.as_deref(), Some("POST"));
        assert!(!head.streaming);
        let response = only_response(&progress);
        assert_eq!(response.body, body);
        assert_eq!(response.body_sha256, sha256_hex(body));
        assert_eq!(response.end, BodyEnd::Framed);
        assert_eq!(response.wire_len, wire.len() as u64);
        assert!(!response.body_truncated);
        assert!(assembler.is_idle());
        assert_eq!(assembler.awaited(), 0);
        assert_eq!(assembler.finish(), None);
    }

    #[test]
    fn gzip_chunked_response_split_bytewise() {
        let json = br#"{"output":[{"type":"function_call","name":"lookup","arguments":"{}"}]}"#.repeat(8);
        let wire = response(
            "200 OK",
            "Content-Type: application/json\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n",
            &chunked(&gzip(&json), 9),
        );
        let bytewise: Vec<&[u8]> = wire.chunks(1).collect();
        let progress = feed(MAX_BODY, &["POST"], &bytewise);
        let response = only_response(&progress);
        assert_eq!(response.body, json);
        assert_eq!(response.decode_error, None);
        assert!(response.head.chunked);
        assert_eq!(response.wire_len, wire.len() as u64);
        assert_eq!(progress, feed(MAX_BODY, &["POST"], &[&wire]));
    }

    #[test]
    fn deflate_response_is_zlib() {
        let text = b"the quick brown fox, the quick brown fox";
        let compressed = zlib(text);
        let wire = response(
            "200 OK",
            &format!("Content-Encoding: deflate\r\nContent-Length: {}\r\n", compressed.len()),
            &compressed,
        );
        assert_eq!(only_response(&feed(MAX_BODY, &[], &[&wire])).body, text);
    }

    #[test]
    fn bodiless_responses_frame_the_next_one() {
        // HEAD: Content-Length describes the resource, not this message.
        let mut wire = response("200 OK", "Content-Length: 1234\r\n", b"");
        wire.extend(response("204 No Content", "Content-Length: 7\r\n", b""));
        wire.extend(response("304 Not Modified", "Content-Length: 50\r\nETag: \"x\"\r\n", b""));
        wire.extend(response("200 OK", "Content-Length: 2\r\n", b"ok"));
        let progress = feed(MAX_BODY, &["HEAD", "DELETE", "GET", "GET"], &[&wire]);
        let responses = completed(&progress);
        let statuses: Vec<(u16, Option<&str>, &[u8])> =
            responses.iter().map(|r| (r.head.status, r.head.request_method.as_deref(), r.body.as_slice())).collect();
        assert_eq!(
            statuses,
            [
                (200, Some("HEAD"), b"".as_slice()),
                (204, Some("DELETE"), b""),
                (304, Some("GET"), b""),
                (200, Some("GET"), b"ok")
            ]
        );
    }

    #[test]
    fn interim_responses_do_not_consume_the_request() {
        let mut wire = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n".to_vec();
        wire.extend(response("201 Created", "Content-Length: 3\r\n", b"new"));
        let mut assembler = ResponseAssembler::new(MAX_BODY);
        assembler.expect("PUT");
        let progress = assembler.push(&wire);
        let responses = completed(&progress);
        assert_eq!(responses.len(), 3);
        assert_eq!(responses[0].head.request_method, None);
        assert_eq!(responses[1].head.status, 103);
        assert_eq!(responses[2].head.request_method.as_deref(), Some("PUT"));
        assert_eq!(responses[2].body, b"new");
    }

    #[test]
    fn close_delimited_body_completes_on_finish() {
        let wire = b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the server hangs up";
        let mut assembler = ResponseAssembler::new(MAX_BODY);
        let progress = assembler.push(wire);
        assert!(matches!(progress.as_slice(), [ResponseProgress::Head(head)] if head.version == 0));
        assert_eq!(assembler.pending_head().map(|h| h.status), Some(200));
        let Some(ResponseProgress::Complete(response)) = assembler.finish() else { panic!() };
        assert_eq!(response.body, b"until the server hangs up");
        assert_eq!(response.end, BodyEnd::ConnectionClose);
        assert!(!response.body_truncated);
        assert!(assembler.push(b"HTTP/1.1 200 OK\r\n\r\n").is_empty());
        assert_eq!(assembler.finish(), None);
        assert_eq!(assembler.bytes_seen(), wire.len() as u64 + 19);
    }

    #[test]
    fn finish_reports_cut_short_bodies_and_heads() {
        let mut assembler = ResponseAssembler::new(MAX_BODY);
        assembler.push(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc");
        let Some(ResponseProgress::Complete(response)) = assembler.finish() else { panic!() };
        assert_eq!(response.end, BodyEnd::CutShort);
        assert!(response.body_truncated);
        assert_eq!(response.body, b"abc");

        let mut assembler = ResponseAssembler::new(MAX_BODY);
        assembler.push(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nab");
        let Some(ResponseProgress::Complete(response)) = assembler.finish() else { panic!() };
        assert_eq!((response.end, response.body.as_slice()), (BodyEnd::CutShort, b"ab".as_slice()));

        let mut assembler = ResponseAssembler::new(MAX_BODY);
        assembler.push(b"HTTP/1.1 200 OK\r\nContent-");
        assert!(matches!(assembler.finish(), Some(ResponseProgress::NotHttp { .. })));
    }

    #[test]
    fn event_stream_is_reported_as_it_arrives() {
        let events = [
            "data: {\"choices\":[{\"delta\":{\"content\":\"Hel\"}}]}\n\n",
            "data: {\"choices\":[{\"delta\":{\"content\":\"lo\"}}]}\n\n",
            "data: [DONE]\n\n",
        ];
        let body: Vec<u8> = events.concat().into_bytes();
        let framed = chunked(&body, 40);
        let wire = response(
            "200 OK",
            "Content-Type: text/event-stream; charset=utf-8\r\nTransfer-Encoding: chunked\r\n",
            &framed,
        );
        let head_len = wire.len() - framed.len();
        let mut assembler = ResponseAssembler::new(MAX_BODY);
        assembler.expect("POST");
        let first = assembler.push(&wire[..head_len + 20]);
        assert!(matches!(&first[0], ResponseProgress::Head(head) if head.streaming));
        assert_eq!(streamed(&first), &body[..16]);
        let rest = assembler.push(&wire[head_len + 20..]);
        assert_eq!(streamed(&rest), &body[16..]);
        assert_eq!(only_response(&rest).body, body);
        assert!(matches!(rest.last(), Some(ResponseProgress::Complete(_))));
    }

    #[test]
    fn gzip_event_stream_is_decoded_while_streaming() {
        let body = b"event: message_start\ndata: {\"type\":\"message_start\"}\n\n".repeat(20);
        // A gzip member per flush, as a server compressing an open stream would send.
        let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
        encoder.write_all(&body[..500]).unwrap();
        encoder.flush().unwrap();
        let flushed = encoder.get_ref().len();
        encoder.write_all(&body[500..]).unwrap();
        let compressed = encoder.finish().unwrap();
        let wire = response(
            "200 OK",
            "Content-Type: text/event-stream\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n",
            &chunked(&compressed, 64),
        );
        let head_len = wire.len() - chunked(&compressed, 64).len();
        let framing_up_to = head_len + flushed + 6 * flushed.div_ceil(64) + 16;
        let mut assembler = ResponseAssembler::new(MAX_BODY);
        let early = assembler.push(&wire[..framing_up_to.min(wire.len())]);
        assert!(streamed(&early).len() >= 400, "decoded while open: {}", streamed(&early).len());
        let mut all = early;
        all.extend(assembler.push(&wire[framing_up_to.min(wire.len())..]));
        assert_eq!(streamed(&all), body);
        assert!(!only_response(&all).stream_gap);
    }

    #[test]
    fn inflation_bomb_in_a_stream_leaves_a_gap_not_unbounded_memory() {
        let body = vec![b'a'; 3 * MAX_STREAM_INFLATE];
        let compressed = gzip(&body);
        let wire = response(
            "200 OK",
            &format!(
                "Content-Type: text/event-stream\r\nContent-Encoding: gzip\r\nContent-Length: {}\r\n",
                compressed.len()
            ),
            &compressed,
        );
        let progress = feed(1024, &[], &[&wire]);
        assert!(streamed(&progress).len() <= MAX_STREAM_INFLATE);
        let response = only_response(&progress);
        assert!(response.stream_gap);
        assert_eq!(response.body_len, body.len() as u64);
        assert!(response.body_truncated);
    }

    #[test]
    fn protocol_switches_end_http() {
        let progress =
            feed(MAX_BODY, &["GET"], &[b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x05hello"]);
        assert_eq!(completed(&progress).len(), 1);
        assert_eq!(not_http_reason(&progress), "connection switched protocols (101)");

        let progress = feed(MAX_BODY, &["CONNECT"], &[b"HTTP/1.1 200 Connection established\r\n\r\n\x16\x03\x01"]);
        assert_eq!(completed(&progress).len(), 1);
        assert_eq!(not_http_reason(&progress), "connection became a CONNECT tunnel");
        // A refused CONNECT stays HTTP.
        let refused = feed(MAX_BODY, &["CONNECT"], &[b"HTTP/1.1 403 Forbidden\r\nContent-Length: 2\r\n\r\nno"]);
        assert_eq!(only_response(&refused).body, b"no");
    }

    #[test]
    fn malformed_responses_are_not_http() {
        assert!(
            not_http_reason(&feed(MAX_BODY, &[], &[b"\x00\x00\x12\x04\x00\x00\x00\x00\x00"]))
                .starts_with("invalid response head")
        );
        assert!(
            not_http_reason(&feed(MAX_BODY, &[], &[b"HTTP/1.1 200 OK\r\nContent-Length: 1, 2\r\n\r\n"]))
                .contains("Content-Length")
        );
        assert!(
            not_http_reason(&feed(MAX_BODY, &[], &[b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n"]))
                .starts_with("unsupported Transfer-Encoding")
        );
        let mut big = b"HTTP/1.1 200 OK\r\n".to_vec();
        while big.len() <= MAX_HEAD_BYTES {
            big.extend_from_slice(format!("X-Padding: {}\r\n", "a".repeat(1000)).as_bytes());
        }
        assert_eq!(not_http_reason(&feed(MAX_BODY, &[], &[&big])), response_head_too_large());

        let mut assembler = ResponseAssembler::new(MAX_BODY);
        for _ in 0..=MAX_AWAITED_RESPONSES {
            assembler.expect("GET");
        }
        assert!(not_http_reason(&assembler.push(b"HTTP/1.1 200 OK\r\n")).contains("awaiting a response"));
        assert!(assembler.failed().is_some());
    }

    #[test]
    fn every_two_way_split_matches_one_shot() {
        let sse =
            b"event: response.output_item.added\r\ndata: {\"type\":\"response.output_item.added\"}\r\n\r\n".repeat(3);
        let mut wire = response(
            "200 OK",
            "Content-Type: text/event-stream\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n",
            &chunked(&gzip(&sse), 13),
        );
        wire.extend(response("200 OK", "Content-Length: 0\r\n", b""));
        wire.extend(response(
            "404 Not Found",
            "Content-Type: application/json\r\nContent-Length: 13\r\n",
            b"{\"error\":404}",
        ));
        wire.extend(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\ndata: 1\n\ndata: 2\n\n");
        let methods = ["POST", "HEAD", "GET", "POST"];

        let one_shot = normalized(&feed(32, &methods, &[&wire]));
        assert_eq!(completed(&one_shot).len(), 3, "{one_shot:?}");
        assert_eq!(completed(&one_shot)[0].body_sha256, sha256_hex(&sse));
        assert_eq!(streamed(&one_shot), [sse.as_slice(), b"data: 1\n\ndata: 2\n\n"].concat());
        for split in 0..=wire.len() {
            let (a, b) = wire.split_at(split);
            assert_eq!(normalized(&feed(32, &methods, &[a, b])), one_shot, "split at {split}");
        }
        let bytewise: Vec<&[u8]> = wire.chunks(1).collect();
        assert_eq!(normalized(&feed(32, &methods, &bytewise)), one_shot);
    }

    #[test]
    fn mutated_inputs_never_panic_and_split_consistently() {
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut base = response(
            "200 OK",
            "Content-Type: text/event-stream\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n",
            &chunked(&gzip(b"data: {\"a\":1}\n\n"), 5),
        );
        base.extend(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc");
        base.extend(b"HTTP/1.1 200 OK\r\n\r\nclose-delimited");
        let interesting = b"\r\n:;0 9aF\x00\xff";
        for round in 0..3000 {
            let mut wire = base.clone();
            for _ in 0..1 + next() % 4 {
                let at = (next() as usize) % wire.len();
                match next() % 3 {
                    0 => wire[at] = interesting[(next() as usize) % interesting.len()],
                    1 => wire[at] = next() as u8,
                    _ => drop(wire.remove(at)),
                }
            }
            if round % 10 == 0 {
                wire = (0..next() % 300).map(|_| next() as u8).collect();
            }
            let run = |pushes: &[&[u8]]| {
                let mut assembler = ResponseAssembler::new(16);
                assembler.expect("POST");
                assembler.expect("HEAD");
                let mut progress: Vec<ResponseProgress> = pushes.iter().flat_map(|push| assembler.push(push)).collect();
                progress.extend(assembler.finish());
                normalized(&progress)
            };
            let one_shot = run(&[&wire]);
            let mut pushes = Vec::new();
            let mut rest = wire.as_slice();
            while !rest.is_empty() {
                let (push, tail) = rest.split_at(1 + (next() as usize) % rest.len().min(40));
                pushes.push(push);
                rest = tail;
            }
            let split = run(&pushes);
            let without_failure = |progress: &[ResponseProgress]| -> Vec<ResponseProgress> {
                progress.iter().filter(|p| !matches!(p, ResponseProgress::NotHttp { .. })).cloned().collect()
            };
            assert_eq!(without_failure(&split), without_failure(&one_shot), "{wire:?}");
        }
    }
}
