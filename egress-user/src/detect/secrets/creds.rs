//! Credentials found by their surroundings rather than their shape: passwords in URLs and
//! connection strings, `password=` / `"token": "..."` assignments, high-entropy strings
//! right after a keyword, `Authorization` header values, provider keys next to the
//! provider's name, GCP service-account files, Azure SAS signatures, Discord bot tokens.

use std::sync::LazyLock;

use aho_corasick::{AhoCorasick, AhoCorasickKind, Anchored, Input, MatchKind, StartKind};
use base64::Engine as _;
use base64::alphabet;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

use super::entropy::{
    Classes, entropy_threshold, is_constant_name, is_hash_like, is_placeholder, is_uuid, is_wordy, looks_fake,
    looks_like_path, shannon,
};
use super::rules::{B64, CONTEXT_RULES, Check, HEX, Set, aws_secret_shape, has, set};

/// A finding before it becomes a [`super::super::Match`].
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Found {
    pub detector: &'static str,
    pub start: usize,
    pub end: usize,
    pub confidence: f32,
    pub label: Option<&'static str>,
}

impl Found {
    fn new(detector: &'static str, start: usize, end: usize, confidence: f32) -> Self {
        Self { detector, start, end, confidence, label: None }
    }
}

/// Bytes that continue an identifier (`db_password`, `x-api-key`).
const IDENT: Set = set(b"A-Za-z0-9_-");
/// Bytes of a generic token candidate: the base64, base64url and hex alphabets.
const TOKEN: Set = set(b"A-Za-z0-9+/=_-");

/// What a keyword says about the value after it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Class {
    /// A password: any non-placeholder value of six or more characters counts.
    Password,
    /// A key or token: the value must also look random enough.
    Secret,
    /// AWS secret access key: the value is checked against that format first.
    Aws,
}

/// The word roots the keyword automaton looks for (in lower, `Title` and `UPPER` case). A
/// hit is widened to the whole identifier around it, which must end with one of [`KEYWORDS`]
/// (`DB_PASSWORD`, `apiKey`, `x-auth-token`).
pub(crate) const ROOTS: &[&str] = &["pass", "pwd", "secret", "token", "key", "auth", "credential"];

struct Keyword {
    /// Lowercase, without `_`, `-` or spaces: what the identifier must end with.
    norm: &'static str,
    class: Class,
    label: &'static str,
}

const fn kw(norm: &'static str, class: Class, label: &'static str) -> Keyword {
    Keyword { norm, class, label }
}

/// Identifier endings that name a secret, longest first where one ends another.
static KEYWORDS: &[Keyword] = &[
    kw("secretaccesskey", Class::Aws, "aws_secret_access_key"),
    kw("awssecretkey", Class::Aws, "aws_secret_access_key"),
    kw("awssecret", Class::Aws, "aws_secret_access_key"),
    kw("password", Class::Password, "password"),
    kw("passwd", Class::Password, "password"),
    kw("passphrase", Class::Password, "passphrase"),
    kw("pass", Class::Password, "password"),
    kw("pwd", Class::Password, "password"),
    kw("secret", Class::Secret, "secret"),
    kw("apikey", Class::Secret, "api_key"),
    kw("accesskey", Class::Secret, "access_key"),
    kw("secretkey", Class::Secret, "secret_key"),
    kw("privatekey", Class::Secret, "private_key"),
    kw("authkey", Class::Secret, "auth_key"),
    kw("masterkey", Class::Secret, "master_key"),
    kw("signingkey", Class::Secret, "signing_key"),
    kw("encryptionkey", Class::Secret, "encryption_key"),
    kw("sharedkey", Class::Secret, "shared_key"),
    kw("accountkey", Class::Secret, "account_key"),
    kw("subscriptionkey", Class::Secret, "subscription_key"),
    kw("servicekey", Class::Secret, "service_key"),
    kw("clientkey", Class::Secret, "client_key"),
    kw("token", Class::Secret, "token"),
    kw("auth", Class::Secret, "auth"),
    kw("credential", Class::Secret, "credential"),
    kw("credentials", Class::Secret, "credential"),
];

/// Identifiers that end in `token` but hold no secret: tokenizer vocabulary, paging cursors.
const NOT_SECRET: &[&str] = &[
    "pagetoken",
    "nexttoken",
    "eostoken",
    "bostoken",
    "padtoken",
    "unktoken",
    "septoken",
    "clstoken",
    "masktoken",
    "maxtoken",
    "continuationtoken",
    "synctoken",
    "cursortoken",
    "starttoken",
    "endtoken",
];

/// Every [`KEYWORDS`] and [`NOT_SECRET`] entry reversed, in that order, for an anchored
/// search over an identifier read backwards: the longest entry it finds is the one the
/// identifier ends with. Where one keyword ends another the longer comes first in
/// [`KEYWORDS`], so the longest is also the first; a [`NOT_SECRET`] entry is longer than
/// the `token` it ends with.
static ENDINGS: LazyLock<AhoCorasick> = LazyLock::new(|| {
    let reversed = |word: &str| word.bytes().rev().collect::<Vec<u8>>();
    let endings: Vec<Vec<u8>> =
        KEYWORDS.iter().map(|k| reversed(k.norm)).chain(NOT_SECRET.iter().map(|n| reversed(n))).collect();
    AhoCorasick::builder()
        .kind(Some(AhoCorasickKind::DFA))
        .match_kind(MatchKind::LeftmostLongest)
        .start_kind(StartKind::Anchored)
        .build(&endings)
        .expect("the identifier endings build an automaton")
});

/// How many of an identifier's last letters [`keyword_of`] reads: more than any ending has.
const ENDING_SPAN: usize = 24;

/// The keyword the identifier `t[id_start..id_end]` ends with, if it names a secret: read
/// backwards, lowercased, ignoring `_`, `-` (and spaces if `spaces`).
///
/// With `spaces`, the keyword may span words (`api key`), for prose.
fn keyword_of(t: &[u8], id_start: usize, id_end: usize, spaces: bool) -> Option<&'static Keyword> {
    let mut reversed = [0u8; ENDING_SPAN];
    // Where in `t` each byte of `reversed` is.
    let mut positions = [0usize; ENDING_SPAN];
    let mut len = 0;
    let mut i = id_end;
    while i > id_start && len < ENDING_SPAN {
        i -= 1;
        let b = t[i];
        if b == b'_' || b == b'-' || (spaces && b == b' ') {
            continue;
        }
        reversed[len] = b.to_ascii_lowercase();
        positions[len] = i;
        len += 1;
    }
    let ending = ENDINGS.find(Input::new(&reversed[..len]).anchored(Anchored::Yes))?;
    // A `NOT_SECRET` ending: tokenizer vocabulary, a paging cursor.
    let keyword = KEYWORDS.get(ending.pattern().as_usize())?;
    let at = positions[ending.end() - 1];
    if matches!(keyword.norm, "pass" | "pwd") && at > 0 && t[at - 1].is_ascii_alphabetic() {
        // `bypass`, `compass`; but `dbPass` is a camelCase boundary.
        let camel = t[at].is_ascii_uppercase() && t[at - 1].is_ascii_lowercase();
        if !camel {
            return None;
        }
    }
    Some(keyword)
}

/// What may follow a root in the identifier it ends (`pass` + `word`, `credential` + `s`),
/// keyed by the root's first letter.
fn completions(root_first: u8) -> &'static [&'static [u8]] {
    match root_first.to_ascii_lowercase() {
        b'p' => &[b"", b"word", b"wd", b"phrase"],
        b'c' => &[b"", b"s"],
        _ => &[b""],
    }
}

/// Everything a keyword root hit at `start..end` can lead to: an assignment, or else a
/// high-entropy token shortly after. Returns where the keyword search may go on: past the
/// identifier if it was evaluated, else right after the root (`secretKey` has a second
/// root).
///
/// `runs` are the text's long runs ([`super::runs::long_runs`]) from `runs[0]` on: a generic
/// token has one, so without one close after the keyword there is no need to look.
pub(crate) fn keyword_hit(t: &[u8], start: usize, end: usize, runs: &[(usize, usize)], out: &mut Vec<Found>) -> usize {
    // Cheap rejection first: most roots sit inside longer words (`keyboard`, `author`).
    let mut id_end = end;
    while id_end < t.len() && id_end - end < 6 && t[id_end].is_ascii_alphabetic() {
        id_end += 1;
    }
    let rest = &t[end..id_end];
    if t.get(id_end).is_some_and(|&b| has(IDENT, b))
        || !completions(t[start]).iter().any(|c| rest.eq_ignore_ascii_case(c))
    {
        return end;
    }
    let mut id_start = start;
    while id_start > 0 && start - id_start < 48 && has(IDENT, t[id_start - 1]) {
        id_start -= 1;
    }
    if let Some(found) = assignment(t, id_start, id_end, out) {
        out.push(found);
        return id_end;
    }
    let run_near = runs
        .iter()
        .find(|&&(_, run_end)| run_end > id_end)
        .is_some_and(|&(run_start, _)| run_start < id_end + GENERIC_WINDOW);
    if run_near && let Some(found) = generic(t, id_end, out) {
        let mut words_start = id_start;
        while words_start > 0
            && id_start - words_start < 24
            && (has(IDENT, t[words_start - 1]) || t[words_start - 1] == b' ')
        {
            words_start -= 1;
        }
        if keyword_of(t, words_start, id_end, true).is_some() {
            out.push(found);
        }
    }
    id_end
}

/// Whether `t[start..end]` overlaps a provider format in `reported`. A keyword's value that
/// is one (`token: ghp_...`) is reported as that format; judged again it could only be
/// reported twice (as a context-rule format) or dropped (as a generic finding).
fn reported_as_format(reported: &[Found], start: usize, end: usize) -> bool {
    reported.iter().any(|found| super::level(found.detector) == 0 && found.start < end && start < found.end)
}

/// A `keyword = value` assignment after the identifier `t[id_start..id_end]`, unless the
/// value is `reported` as a provider format.
fn assignment(t: &[u8], id_start: usize, id_end: usize, reported: &[Found]) -> Option<Found> {
    let xml = id_start > 0 && t[id_start - 1] == b'<';
    let cli = t[id_start..].starts_with(b"--");
    let mut p = id_end;
    let mut closers = 0;
    while closers < 2 && p < t.len() && matches!(t[p], b'"' | b'\'' | b'`' | b']') {
        p += 1;
        closers += 1;
    }
    let spaces_from = p;
    while p < t.len() && p - spaces_from < 16 && matches!(t[p], b' ' | b'\t') {
        p += 1;
    }
    let rest = &t[p..];
    let xml_op = xml && rest.starts_with(b">");
    let op = if rest.starts_with(b"==") || rest.starts_with(b"=~") || rest.starts_with(b"::") {
        return None;
    } else if rest.starts_with(b":=") || rest.starts_with(b"=>") || rest.starts_with(b"?=") {
        2
    } else if rest.starts_with(b"=") || rest.starts_with(b":") || xml_op {
        1
    } else if cli && p > spaces_from && closers == 0 {
        0
    } else if closers == 0 && p > spaces_from {
        return prose(t, id_start, id_end, p);
    } else {
        return None;
    };
    p += op;
    let after_op = p;
    while p < t.len() && p - after_op < 16 && matches!(t[p], b' ' | b'\t') {
        p += 1;
    }
    let (start, end, quoted) = if xml_op {
        let len = memchr::memchr(b'<', &t[p..t.len().min(p + 256)])?;
        (p, p + len, true)
    } else {
        match t.get(p)? {
            &q @ (b'"' | b'\'' | b'`') => {
                let end = closing_quote(t, p + 1, q)?;
                (p + 1, end, true)
            }
            _ => {
                let mut e = p;
                while e < t.len() && e - p <= 200 && !is_unquoted_end(t[e]) {
                    e += 1;
                }
                if e - p > 200 || matches!(t.get(e), Some(b'(' | b'[')) {
                    return None;
                }
                (p, e, false)
            }
        }
    };
    let v = &t[start..end];
    if v.len() < 6 || reported_as_format(reported, start, end) {
        return None;
    }
    let keyword = keyword_of(t, id_start, id_end, false)?;
    if let Some(found) = provider(t, start, end) {
        return Some(found);
    }
    let (confidence, label) = judge_value(keyword, v, quoted)?;
    if keyword.class == Class::Aws && aws_secret_shape(v) {
        return Some(Found::new("aws_secret_access_key", start, end, 0.9));
    }
    let detector = if keyword.class == Class::Password && connection_context(t, id_start, end) {
        "connection_string_password"
    } else {
        "password_assignment"
    };
    Some(Found { detector, start, end, confidence, label: Some(label) })
}

/// A password given in a sentence: `the wifi password is Galaxy260!gQP`, with `p` just
/// after the keyword's spaces. Prose says "the password is required" too, so the value must
/// look like a password: eight or more characters with a letter and a digit or symbol, and
/// not all lower case.
fn prose(t: &[u8], id_start: usize, id_end: usize, p: usize) -> Option<Found> {
    let rest = &t[p..];
    let verb = [&b"is "[..], b"was ", b"is: "]
        .into_iter()
        .find(|verb| rest.len() >= verb.len() && rest[..verb.len()].eq_ignore_ascii_case(verb))?;
    let keyword = keyword_of(t, id_start, id_end, false)?;
    if keyword.class != Class::Password {
        return None;
    }
    let start = p + verb.len();
    let mut end = start;
    // A sentence ends the value at a space or a quote (`&` and `;` may be in a password).
    while end < t.len() && end - start <= 64 && !(t[end].is_ascii_whitespace() || matches!(t[end], b'"' | b'\\' | b'<'))
    {
        end += 1;
    }
    // The sentence's own punctuation is not part of the password.
    while end > start && matches!(t[end - 1], b'.' | b',' | b';' | b':') {
        end -= 1;
    }
    let v = &t[start..end];
    let letter = v.iter().any(u8::is_ascii_alphabetic);
    let digit_or_symbol = v.iter().any(|b| b.is_ascii_digit() || b.is_ascii_punctuation());
    let not_lower = v.iter().any(|b| !b.is_ascii_lowercase());
    if v.len() < 8 || v.len() > 64 || !letter || !digit_or_symbol || !not_lower {
        return None;
    }
    let (confidence, label) = judge_value(keyword, v, false)?;
    Some(Found { detector: "password_assignment", start, end, confidence, label: Some(label) })
}

/// End of a quoted value starting at `from` (after the opening quote), on one line and at
/// most 256 bytes long, honouring backslash escapes.
fn closing_quote(t: &[u8], from: usize, q: u8) -> Option<usize> {
    let mut i = from;
    while i < t.len() && i - from <= 256 {
        match t[i] {
            b'\\' => i += 2,
            b'\n' | b'\r' => return None,
            b if b == q => return Some(i),
            _ => i += 1,
        }
    }
    None
}

fn is_unquoted_end(b: u8) -> bool {
    b.is_ascii_whitespace()
        || matches!(
            b,
            b',' | b';' | b'&' | b'"' | b'\'' | b'`' | b'(' | b')' | b'[' | b']' | b'{' | b'}' | b'<' | b'>' | b'\\'
        )
}

/// `Server=x;User Id=y;Password=z;`, `jdbc:...?password=`, `postgres://...?password=`.
fn connection_context(t: &[u8], id_start: usize, value_end: usize) -> bool {
    let line_start =
        t[..id_start].iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1).max(id_start.saturating_sub(300));
    let before = &t[line_start..id_start];
    let semicolon_pairs = (before.contains(&b';') && before.contains(&b'=')) || t.get(value_end) == Some(&b';');
    semicolon_pairs
        || memchr::memmem::find(before, b"://").is_some()
        || memchr::memmem::find(before, b"jdbc:").is_some()
}

/// Whether the value of an assignment is a secret, and how sure we are.
fn judge_value(keyword: &Keyword, v: &[u8], quoted: bool) -> Option<(f32, &'static str)> {
    if v.len() < 6 || is_placeholder(v) || is_constant_name(v) {
        return None;
    }
    if v.iter().all(|b| b.is_ascii_digit() || matches!(b, b'.' | b',' | b':' | b'-' | b'+')) {
        return None;
    }
    if memchr::memmem::find(v, b"://").is_some() || is_pathish(v) || has_file_extension(v) {
        return None;
    }
    if matches!(v.first(), Some(b'!' | b'|' | b'*' | b'&' | b'@')) && !quoted {
        return None;
    }
    let classes = Classes::of(v);
    let identifier = v.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b == b'.')
        && v[0].is_ascii_alphabetic();
    if !quoted && identifier && v.contains(&b'.') {
        // `e.apiKey`, `config.secret`: an expression.
        return None;
    }
    match keyword.class {
        Class::Password => {
            let conf = if !quoted && identifier && classes.digit == 0 {
                0.45
            } else if quoted {
                0.8
            } else {
                0.7
            };
            Some((conf, keyword.label))
        }
        Class::Secret | Class::Aws => {
            if v.iter().any(u8::is_ascii_whitespace) || classes.kinds() < 2 || shannon(v) < 2.5 {
                return None;
            }
            if !quoted && identifier && classes.digit == 0 {
                return None;
            }
            let plain_words = is_wordy(v) && classes.digit == 0;
            if plain_words && classes.other == 0 {
                return None;
            }
            let conf = if plain_words || is_uuid(v) {
                0.45
            } else if v.len() >= 16 && shannon(v) >= 3.5 {
                0.8
            } else {
                0.65
            };
            Some((conf, keyword.label))
        }
    }
}

fn is_pathish(v: &[u8]) -> bool {
    matches!(v.first(), Some(b'/' | b'~'))
        || v.starts_with(b"./")
        || v.starts_with(b"../")
        || (v.len() > 2 && v[1] == b':' && v[2] == b'\\')
}

fn has_file_extension(v: &[u8]) -> bool {
    const EXT: &[&[u8]] =
        &[b".pem", b".key", b".json", b".txt", b".p12", b".pfx", b".crt", b".env", b".yaml", b".yml", b".ppk", b".jks"];
    EXT.iter().any(|e| v.len() > e.len() && v[v.len() - e.len()..].eq_ignore_ascii_case(e))
}

/// How far after a keyword a generic high-entropy token may start.
pub(crate) const GENERIC_WINDOW: usize = 40;

/// Words near a hex string that say it is a digest, not a key.
const HASH_WORDS: &[&[u8]] =
    &[b"sha", b"md5", b"hash", b"digest", b"checksum", b"commit", b"etag", b"integrity", b"fingerprint", b"sum"];

/// A high-entropy token starting within [`GENERIC_WINDOW`] bytes after a keyword. The first
/// token that is `reported` as a provider format (`token ghp_...`) ends the search with
/// nothing: it is the keyword's value.
///
/// Filters: UUIDs; hex of digest length (32/40/64/96/128) unless no hash word (`sha`, `md5`,
/// `commit`, ...) is near, then at low confidence, since the keyword is secret-ish; paths,
/// URLs, dotted names, e-mail parts; templates and placeholders; sequences; word-like
/// identifiers; strings with no digit; anything under [`entropy_threshold`].
pub(crate) fn generic(t: &[u8], from: usize, reported: &[Found]) -> Option<Found> {
    let limit = t.len().min(from + GENERIC_WINDOW);
    let mut p = from;
    while p < limit {
        if !has(TOKEN, t[p]) {
            p += 1;
            continue;
        }
        let run_start = p;
        while p < t.len() && has(TOKEN, t[p]) && p - run_start < 1024 {
            p += 1;
        }
        let (mut s, mut e) = (run_start, p);
        while s < e && matches!(t[s], b'=' | b'-' | b'_' | b'+') {
            s += 1;
        }
        while e > s && matches!(t[e - 1], b'-' | b'_') {
            e -= 1;
        }
        if s >= limit || reported_as_format(reported, s, e) {
            break;
        }
        if let Some(found) = provider(t, s, e).or_else(|| judge_token(t, s, e)) {
            return Some(found);
        }
    }
    None
}

fn judge_token(t: &[u8], s: usize, e: usize) -> Option<Found> {
    let tok = &t[s..e];
    if tok.len() < 20 || tok.len() > 512 {
        return None;
    }
    if s > 0 && matches!(t[s - 1], b'/' | b'.' | b'@' | b'\\' | b'$' | b'{' | b'<' | b'%') {
        return None;
    }
    let next = t.get(e).copied();
    let after = t.get(e + 1).copied();
    if matches!(next, Some(b'@' | b'(' | b'}' | b'>'))
        || (matches!(next, Some(b'.' | b':')) && after.is_some_and(|b| b.is_ascii_alphanumeric()))
    {
        return None;
    }
    if is_placeholder(tok) || is_uuid(tok) || looks_like_path(tok) || is_wordy(tok) {
        return None;
    }
    let c = Classes::of(tok);
    if c.digit == 0 || c.lower + c.upper == 0 {
        return None;
    }
    let h = shannon(tok);
    let threshold = entropy_threshold(tok);
    if h < threshold {
        return None;
    }
    if is_hash_like(tok) {
        let near = &t[s.saturating_sub(64)..s];
        let mut lower = [0u8; 64];
        for (d, b) in lower.iter_mut().zip(near) {
            *d = b.to_ascii_lowercase();
        }
        let near = &lower[..near.len()];
        if HASH_WORDS.iter().any(|w| memchr::memmem::find(near, w).is_some()) {
            return None;
        }
        return Some(Found::new("generic_high_entropy", s, e, 0.4));
    }
    let confidence = if h >= threshold + 0.5 && tok.len() >= 32 { 0.7 } else { 0.55 };
    Some(Found::new("generic_high_entropy", s, e, confidence))
}

/// `scheme://user:password@host`: the password. `at` is the `://` hit.
pub(crate) fn url_password(t: &[u8], at: usize) -> Option<Found> {
    // A scheme of at least two characters before `://`.
    let mut s = at;
    while s > 0 && at - s < 32 && (t[s - 1].is_ascii_alphanumeric() || matches!(t[s - 1], b'+' | b'.' | b'-')) {
        s -= 1;
    }
    if at - s < 2 || !t[s].is_ascii_alphabetic() {
        return None;
    }
    let auth_start = at + 3;
    let mut end = auth_start;
    let mut last_at = None;
    while end < t.len() && end - auth_start < 512 {
        match t[end] {
            b'/' | b'?' | b'#' | b'"' | b'\'' | b'`' | b'<' | b'>' | b'\\' | b'(' | b')' | b'[' | b']' | b'{'
            | b'}' => break,
            b if b.is_ascii_whitespace() => break,
            b'@' => last_at = Some(end),
            _ => {}
        }
        end += 1;
    }
    let at_sign = last_at?;
    let userinfo = &t[auth_start..at_sign];
    let colon = memchr::memchr(b':', userinfo)?;
    let (pw_start, pw_end) = (auth_start + colon + 1, at_sign);
    let pw = &t[pw_start..pw_end];
    let host = t.get(at_sign + 1)?;
    if pw.is_empty() || !(host.is_ascii_alphanumeric() || *host == b'[') {
        return None;
    }
    if is_placeholder(pw) || is_pathish(pw) {
        return None;
    }
    let confidence = if pw.len() < 6 { 0.6 } else { 0.85 };
    Some(Found::new("password_in_url", pw_start, pw_end, confidence))
}

/// `Bearer <token>` (RFC 6750's `b64token`); `a_end` is after `Bearer `.
pub(crate) fn bearer(t: &[u8], a_end: usize) -> Option<Found> {
    const B64TOKEN: Set = set(b"A-Za-z0-9._~+/=-");
    let mut s = a_end;
    while s < t.len() && s - a_end < 4 && t[s] == b' ' {
        s += 1;
    }
    let mut e = s;
    while e < t.len() && e - s < 16 * 1024 && has(B64TOKEN, t[e]) {
        e += 1;
    }
    let tok = &t[s..e];
    if tok.len() < 16 || t.get(e).is_some_and(|b| has(B64TOKEN, *b) || b.is_ascii_alphanumeric()) {
        return None;
    }
    let c = Classes::of(tok);
    if is_placeholder(tok) || is_wordy(tok) || looks_like_path(tok) {
        return None;
    }
    if (c.digit == 0 && (c.lower == 0 || c.upper == 0)) || shannon(tok) < 3.0 {
        return None;
    }
    Some(Found::new("bearer_token", s, e, 0.75))
}

/// Base64 as it appears in `Authorization: Basic`, with or without padding.
const B64_ANY_PAD: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// `Basic <base64 of user:password>`; `a_end` is after `Basic `.
pub(crate) fn basic(t: &[u8], a_end: usize) -> Option<Found> {
    let mut e = a_end;
    while e < t.len() && e - a_end < 1024 && has(B64, t[e]) {
        e += 1;
    }
    let mut pad = 0;
    while pad < 2 && t.get(e) == Some(&b'=') {
        e += 1;
        pad += 1;
    }
    if e - a_end < 8 || t.get(e).is_some_and(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=')) {
        return None;
    }
    let decoded = B64_ANY_PAD.decode(&t[a_end..e]).ok()?;
    let text = std::str::from_utf8(&decoded).ok()?;
    if text.chars().any(char::is_control) {
        return None;
    }
    let (_, pw) = text.split_once(':')?;
    if pw.is_empty() || is_placeholder(pw.as_bytes()) {
        return None;
    }
    Some(Found::new("basic_auth", a_end, e, 0.85))
}

/// A GCP service-account key file: `"type": "service_account"` with its `private_key`.
/// `at` is the `service_account` hit. The span is the private key string (or, failing
/// that, the `private_key_id`).
pub(crate) fn service_account(t: &[u8], at: usize) -> Option<Found> {
    let before = &t[at.saturating_sub(24)..at];
    memchr::memmem::find(before, b"\"type\"")?;
    let from = at.saturating_sub(8 * 1024);
    let window = &t[from..t.len().min(at + 16 * 1024)];
    if let Some(i) = memchr::memmem::find(window, b"\"private_key\"") {
        let mut p = from + i + 13;
        while p < t.len() && matches!(t[p], b' ' | b'\t' | b':' | b'\n' | b'\r') {
            p += 1;
        }
        if t.get(p) == Some(&b'"') {
            let start = p + 1;
            let mut e = start;
            while e < t.len() && e - start < 16 * 1024 && t[e] != b'"' {
                e += if t[e] == b'\\' { 2 } else { 1 };
            }
            if e < t.len() && t[e] == b'"' && e - start >= 64 {
                return Some(Found::new("gcp_service_account", start, e, 0.95));
            }
        }
    }
    let i = memchr::memmem::find(window, b"\"private_key_id\"")?;
    let mut p = from + i + 16;
    while p < t.len() && matches!(t[p], b' ' | b'\t' | b':' | b'"') {
        p += 1;
    }
    let mut e = p;
    while e < t.len() && has(HEX, t[e]) {
        e += 1;
    }
    (e - p == 40).then(|| Found::new("gcp_service_account", p, e, 0.7))
}

/// Azure SAS signature: `sig=<url-encoded base64 of an HMAC-SHA256>` in a query that also
/// has SAS fields (`sv=`, `se=`, `sp=`, `sr=`). `at` is the `sig=` hit.
pub(crate) fn sas_signature(t: &[u8], at: usize) -> Option<Found> {
    if at > 0 && !matches!(t[at - 1], b'?' | b'&' | b';' | b' ' | b'"' | b'\'') {
        return None;
    }
    const SIG: Set = set(b"A-Za-z0-9%+/=");
    let s = at + 4;
    let mut e = s;
    while e < t.len() && e - s < 256 && has(SIG, t[e]) {
        e += 1;
    }
    let sig = &t[s..e];
    // Percent escapes count as one character.
    let decoded_len = sig.len() - 2 * sig.iter().filter(|&&b| b == b'%').count();
    if !(40..=48).contains(&decoded_len) || t.get(e).is_some_and(u8::is_ascii_alphanumeric) {
        return None;
    }
    let query = &t[at.saturating_sub(400)..at];
    let sas = [&b"sv="[..], b"se=", b"sp=", b"sr=", b"SharedAccessSignature"]
        .iter()
        .any(|f| memchr::memmem::find(query, f).is_some());
    (sas && !is_placeholder(sig)).then(|| Found::new("azure_sas_token", s, e, 0.85))
}

/// A Discord bot token: a run `base64(user id).<6>.<27+>` whose first part decodes to the
/// bot's numeric id. `t[s..e]` is a long run of token characters.
pub(crate) fn discord_bot(t: &[u8], s: usize, e: usize) -> Option<Found> {
    let tok = &t[s..e];
    if !(50..=100).contains(&tok.len()) || tok.iter().filter(|&&b| b == b'.').count() != 2 {
        return None;
    }
    let mut parts = tok.split(|&b| b == b'.');
    let (id, mid, mac) = (parts.next()?, parts.next()?, parts.next()?);
    let shape = (18..=32).contains(&id.len()) && (5..=7).contains(&mid.len()) && (27..=40).contains(&mac.len());
    let all_b64 = tok.iter().all(|&b| b == b'.' || b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    let digits =
        URL_SAFE_NO_PAD.decode(id).is_ok_and(|d| (17..=20).contains(&d.len()) && d.iter().all(u8::is_ascii_digit));
    (shape && all_b64 && digits).then(|| Found::new("discord_bot_token", s, e, 0.9))
}

/// How far before a value its provider's name may stand.
const PROVIDER_WINDOW: usize = 100;

/// A value `t[vs..ve]` (after a keyword) that has the shape of a [`CONTEXT_RULES`] row whose
/// provider is named shortly before it (`TWILIO_AUTH_TOKEN=<32 hex>`).
pub(crate) fn provider(t: &[u8], vs: usize, ve: usize) -> Option<Found> {
    let v = &t[vs..ve];
    if v.len() < 24 {
        return None;
    }
    let near = &t[vs.saturating_sub(PROVIDER_WINDOW)..vs];
    // The value's bytes as a set, taken once for all rows of its length.
    let mut bytes = None;
    for rule in CONTEXT_RULES {
        let len_ok = (rule.min as usize..=rule.max as usize).contains(&v.len());
        // The name last of the cheap checks: it costs a search.
        if !len_ok
            || *bytes.get_or_insert_with(|| byte_set(v)) & !rule.set != 0
            || !named(near, rule.keyword.as_bytes())
        {
            continue;
        }
        let structured = matches!(rule.check, Check::Custom(_));
        let shape = match rule.check {
            Check::Custom(f) => f(v),
            Check::Contains(needle) => memchr::memmem::find(v, needle.as_bytes()).is_some(),
            Check::None | Check::Crc32Base62 => true,
        };
        if !shape || looks_fake(v) || is_placeholder(v) {
            continue;
        }
        let c = Classes::of(v);
        if !structured && (c.digit == 0 || shannon(v) < if rule.set == HEX { 3.0 } else { 3.5 }) {
            continue;
        }
        return Some(Found::new(rule.name, vs, ve, rule.confidence));
    }
    None
}

/// The bytes of `v` as a [`Set`], with a non-ASCII byte counted as a NUL: no row's
/// alphabet has either, so `byte_set(v) & !set == 0` exactly when every byte is in `set`.
fn byte_set(v: &[u8]) -> Set {
    // By halves, for the reason of `has`.
    let (mut low, mut high) = (0u64, 0u64);
    for &b in v {
        let b = if b < 128 { b } else { 0 };
        let bit = 1u64 << (b & 63);
        low |= if b < 64 { bit } else { 0 };
        high |= if b < 64 { 0 } else { bit };
    }
    Set::from(low) | Set::from(high) << 64
}

/// `name` (lowercase) occurs in `near` in any case, as a word or an identifier's first
/// part: not after a letter (`laws`), and for short names not before a lowercase letter
/// (`awsome`, but `AWSSecretKey` is fine).
///
/// Every occurrence is tried, overlapping ones too; those are after a letter of the name, so
/// they never count (and a `memmem` searcher built per call costs more than this walk).
fn named(near: &[u8], name: &[u8]) -> bool {
    let first = name[0];
    memchr::memchr2_iter(first, first.to_ascii_uppercase(), near)
        .filter(|&i| starts_with_ignoring_case(&near[i..], name))
        .any(|i| {
            let after_letter = i.checked_sub(1).is_some_and(|j| near[j].is_ascii_alphabetic());
            let glued = name.len() <= 4 && near.get(i + name.len()).is_some_and(u8::is_ascii_lowercase);
            !after_letter && !glued
        })
}

fn starts_with_ignoring_case(s: &[u8], prefix: &[u8]) -> bool {
    s.get(..prefix.len()).is_some_and(|head| head.eq_ignore_ascii_case(prefix))
}

/// An AWS secret access key within a few hundred bytes of the key id at `start..end`.
pub(crate) fn aws_pair(t: &[u8], start: usize, end: usize) -> Option<(usize, usize)> {
    // `=` separates `aws_secret_access_key=` from the key, so it is not part of a run here.
    const TOKEN: Set = set(b"A-Za-z0-9+/_-");
    let from = start.saturating_sub(320);
    let to = t.len().min(end + 320);
    let mut p = from;
    // Do not start in the middle of a run.
    while p > 0 && p < to && has(TOKEN, t[p - 1]) && has(TOKEN, t[p]) {
        p += 1;
    }
    while p < to {
        if !has(TOKEN, t[p]) {
            p += 1;
            continue;
        }
        let s = p;
        while p < t.len() && p - s < 256 && has(TOKEN, t[p]) {
            p += 1;
        }
        let tok = &t[s..p];
        if s != start
            && tok.len() == 40
            && tok.iter().all(|&b| has(B64, b))
            && aws_secret_shape(tok)
            && !looks_fake(tok)
        {
            return Some((s, p));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small xorshift generator: the same adversarial inputs on every run.
    fn picks(seed: u64) -> impl FnMut(usize) -> usize {
        let mut state = seed;
        move |n| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n as u64) as usize
        }
    }

    /// The keyword search as it was: every ending tried in turn, backwards over the text.
    fn keyword_of_reference(t: &[u8], id_start: usize, id_end: usize, spaces: bool) -> Option<&'static str> {
        let ends_with = |kw: &[u8]| {
            let mut i = id_end;
            let mut k = kw.len();
            while k > 0 {
                if i <= id_start {
                    return None;
                }
                let b = t[i - 1];
                if b == b'_' || b == b'-' || (spaces && b == b' ') {
                    i -= 1;
                    continue;
                }
                if b.to_ascii_lowercase() != kw[k - 1] {
                    return None;
                }
                i -= 1;
                k -= 1;
            }
            Some(i)
        };
        let (keyword, at) = KEYWORDS.iter().find_map(|k| ends_with(k.norm.as_bytes()).map(|at| (k, at)))?;
        if matches!(keyword.norm, "pass" | "pwd") && at > 0 && t[at - 1].is_ascii_alphabetic() {
            let camel = t[at].is_ascii_uppercase() && t[at - 1].is_ascii_lowercase();
            if !camel {
                return None;
            }
        }
        if keyword.norm == "token" && NOT_SECRET.iter().any(|n| ends_with(n.as_bytes()).is_some()) {
            return None;
        }
        Some(keyword.norm)
    }

    #[test]
    fn endings_fit_the_span_and_longer_keywords_come_first() {
        for ending in KEYWORDS.iter().map(|k| k.norm).chain(NOT_SECRET.iter().copied()) {
            assert!(ending.len() < ENDING_SPAN, "{ending}");
        }
        for (i, short) in KEYWORDS.iter().enumerate() {
            for long in &KEYWORDS[i + 1..] {
                assert!(!long.norm.ends_with(short.norm), "{} must come before {}", long.norm, short.norm);
            }
        }
        for n in NOT_SECRET {
            assert!(n.ends_with("token") && n.len() > "token".len(), "{n}");
        }
    }

    /// Identifiers built from keyword pieces, separators, spaces and case changes, read as
    /// identifiers and as prose, against the search that tried every ending in turn.
    #[test]
    fn keyword_of_matches_the_list_walk() {
        let pieces: Vec<String> = KEYWORDS
            .iter()
            .map(|k| k.norm.to_string())
            .chain(NOT_SECRET.iter().map(|n| n.to_string()))
            .chain(
                ["_", "-", " ", "db", "Db", "by", "com", "X", "api", "my", "TOKEN", "Pass", "pAsS", "s", "é", "="]
                    .map(String::from),
            )
            .collect();
        let mut pick = picks(0x5eed);
        let mut found = 0;
        for _ in 0..20_000 {
            let mut text = String::new();
            for _ in 0..1 + pick(4) {
                let piece = &pieces[pick(pieces.len())];
                match pick(3) {
                    0 => text.push_str(&piece.to_ascii_uppercase()),
                    _ => text.push_str(piece),
                }
            }
            let t = text.as_bytes();
            let id_start = pick(t.len().min(4) + 1).min(t.len());
            for spaces in [false, true] {
                let want = keyword_of_reference(t, id_start, t.len(), spaces);
                assert_eq!(keyword_of(t, id_start, t.len(), spaces).map(|k| k.norm), want, "{text:?} from {id_start}");
                found += usize::from(want.is_some());
            }
        }
        assert!(found > 5_000, "too few keywords found ({found}) for the comparison to mean much");
    }

    /// The alphabet test through [`byte_set`] against a walk of the value, for every context
    /// row, on values drawn from each row's alphabet with now and then a byte from outside
    /// it (ASCII, NUL or non-ASCII).
    #[test]
    fn byte_sets_test_alphabets_like_a_walk() {
        let mut pick = picks(4242);
        let mut inside = 0;
        for rule in CONTEXT_RULES {
            assert_eq!(rule.set & 1, 0, "{}: a row's alphabet may not hold NUL", rule.name);
            let alphabet: Vec<u8> = (0..128u8).filter(|&b| has(rule.set, b)).collect();
            for _ in 0..2_000 {
                let mut v: Vec<u8> = (0..1 + pick(60)).map(|_| alphabet[pick(alphabet.len())]).collect();
                if pick(2) == 0 {
                    let at = pick(v.len());
                    v[at] = [0, b' ', b'.', b'~', 0x80, 0xc3, 0xff, pick(256) as u8][pick(8)];
                }
                let want = v.iter().all(|&b| has(rule.set, b));
                assert_eq!(byte_set(&v) & !rule.set == 0, want, "{} {v:?}", rule.name);
                inside += usize::from(want);
            }
        }
        assert!(inside > 20_000, "{inside}");
    }

    /// The provider-name check as it was: on a lowercased copy.
    fn named_reference(orig: &[u8], name: &[u8]) -> bool {
        let near = orig.to_ascii_lowercase();
        (0..near.len()).filter(|&i| near[i..].starts_with(name)).any(|i| {
            let after_letter = i.checked_sub(1).is_some_and(|j| near[j].is_ascii_alphabetic());
            let glued = name.len() <= 4 && orig.get(i + name.len()).is_some_and(u8::is_ascii_lowercase);
            !after_letter && !glued
        })
    }

    #[test]
    fn named_ignores_case_like_a_lowercased_copy() {
        let pieces =
            ["aws", "AWS", "Aws", "twilio", "TWILIO_", "laws", "awsome", "sumo", "SUMO", "_", " ", "x", "é", "aw"];
        let mut pick = picks(77);
        let mut named_count = 0;
        for _ in 0..20_000 {
            let text: String = (0..1 + pick(6)).map(|_| pieces[pick(pieces.len())]).collect();
            for name in [&b"aws"[..], b"twilio", b"sumo"] {
                let want = named_reference(text.as_bytes(), name);
                assert_eq!(named(text.as_bytes(), name), want, "{text:?} {:?}", String::from_utf8_lossy(name));
                named_count += usize::from(want);
            }
        }
        assert!(named_count > 1_000, "{named_count}");
    }
}
