//! Endpoint patterns of a tool's `match`: host globs, HTTP methods and path globs, plus the
//! normalisation applied to a request's Host header and request-target before matching.
//!
//! Each pattern type validates itself inside `Deserialize` (through `deserialize_str` and a
//! visitor, not `try_from`), so the YAML deserializer attaches the line, column and key path of
//! the offending scalar to the error.

use std::borrow::Cow;
use std::fmt;
use std::net::Ipv6Addr;

use serde::de::{self, Deserialize, Deserializer, Visitor};

/// Matches `text` against `pattern`: `*` matches any run of bytes (none included, `/` and `.`
/// included); every other byte is literal. With `fold_case`, ASCII letters compare
/// case-insensitively.
///
/// Hand-written instead of taken from a glob or regex crate: the language has exactly one
/// wildcard, and the greedy algorithm below with a single backtrack point (the last `*` seen)
/// is iterative and runs in O(len(pattern) * len(text)) at worst, with no recursion and no
/// per-pattern compilation. Path-glob crates would also treat `/` specially, which the policy
/// language does not want.
pub(crate) fn glob_match(pattern: &[u8], text: &[u8], fold_case: bool) -> bool {
    let eq = |a: u8, b: u8| {
        if fold_case { a.eq_ignore_ascii_case(&b) } else { a == b }
    };
    let (mut p, mut t) = (0usize, 0usize);
    // After a `*`: the pattern index just past it, and the text index it has consumed up to.
    let mut backtrack: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && pattern[p] == b'*' {
            p += 1;
            backtrack = Some((p, t));
        } else if p < pattern.len() && eq(pattern[p], text[t]) {
            p += 1;
            t += 1;
        } else if let Some((star_p, star_t)) = backtrack {
            // Let the last `*` swallow one more byte and retry from there.
            p = star_p;
            t = star_t + 1;
            backtrack = Some((star_p, star_t + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&b| b == b'*')
}

/// Glob over the request's host name (the Host header without its port), case-insensitive.
/// Stored lowercased; an IPv6 literal is stored in canonical form without brackets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostPattern(String);

impl HostPattern {
    pub fn parse(s: &str) -> Result<Self, String> {
        let raw = s.trim();
        if raw.is_empty() {
            return Err("host pattern must not be empty".into());
        }
        let unbracketed = raw.strip_prefix('[').and_then(|r| r.strip_suffix(']')).unwrap_or(raw);
        if unbracketed.contains(':') {
            return match unbracketed.parse::<Ipv6Addr>() {
                Ok(addr) => Ok(Self(addr.to_string())),
                Err(_) => Err(format!(
                    "invalid host pattern `{raw}`: not an IPv6 address, and host patterns carry no port (the Host header is matched without its port)"
                )),
            };
        }
        let name = raw.strip_suffix('.').unwrap_or(raw);
        if let Some(c) = name.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '*'))) {
            return Err(format!(
                "invalid character `{c}` in host pattern `{raw}` (allowed: letters, digits, `-`, `.`, `_`, and `*` as a wildcard)"
            ));
        }
        if name.is_empty() || name.starts_with('.') || name.contains("..") {
            return Err(format!("invalid host pattern `{raw}`: empty label"));
        }
        Ok(Self(name.to_ascii_lowercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `host` is the Host header value (ideally already without port; a port, brackets, a
    /// trailing dot and surrounding whitespace are removed here anyway). A request without a
    /// Host header is matched as the empty string, so only a pattern like `*` matches it.
    pub fn matches(&self, host: &str) -> bool {
        glob_match(self.0.as_bytes(), normalize_host(host).as_bytes(), true)
    }
}

/// Reduces a Host header value to the bare host name the patterns are written against.
pub(crate) fn normalize_host(host: &str) -> Cow<'_, str> {
    let mut h = host.trim();
    if let Some(rest) = h.strip_prefix('[') {
        // `[v6]` or `[v6]:port`
        h = rest.split_once(']').map_or(rest, |(addr, _)| addr);
    } else if let Some((name, port)) = h.rsplit_once(':') {
        // A single colon followed by digits is a port; several colons is a bare IPv6 literal.
        if !name.contains(':') && port.bytes().all(|b| b.is_ascii_digit()) {
            h = name;
        }
    }
    if h.contains(':')
        && let Ok(addr) = h.parse::<Ipv6Addr>()
    {
        return Cow::Owned(addr.to_string());
    }
    Cow::Borrowed(h.strip_suffix('.').unwrap_or(h))
}

/// An HTTP method (an RFC 9110 token), stored uppercased and compared case-insensitively.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpMethod(String);

impl HttpMethod {
    pub fn parse(s: &str) -> Result<Self, String> {
        let is_tchar = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
        if s.is_empty() || !s.bytes().all(is_tchar) {
            return Err(format!("invalid HTTP method `{s}`: must be a token of letters, digits and !#$%&'*+-.^_`|~"));
        }
        Ok(Self(s.to_ascii_uppercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn matches(&self, method: &str) -> bool {
        self.0.eq_ignore_ascii_case(method)
    }
}

/// Glob over the request-target's path without query string, case-sensitive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathPattern(String);

impl PathPattern {
    pub fn parse(s: &str) -> Result<Self, String> {
        if !(s.starts_with('/') || s.starts_with('*')) {
            return Err(format!("path pattern `{s}` must start with `/` or `*`"));
        }
        if let Some(c) = s.chars().find(|c| c.is_whitespace() || c.is_control()) {
            return Err(format!("path pattern `{s}` contains whitespace or a control character ({c:?})"));
        }
        if let Some(c) = s.chars().find(|c| matches!(c, '?' | '#')) {
            return Err(format!(
                "path pattern `{s}` contains `{c}`: paths are matched without query string or fragment"
            ));
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `path` must already be normalised with [`normalize_request_path`].
    pub fn matches(&self, path: &str) -> bool {
        glob_match(self.0.as_bytes(), path.as_bytes(), false)
    }
}

/// Turns a request-target into the path the path globs are matched against:
/// - absolute-form (`https://host/p?q`) is reduced to its path (`/p`);
/// - the query string and any fragment are cut off;
/// - percent-encoded unreserved characters (`%41`, `%2E`, ...) are decoded and dot segments
///   (`/./`, `/../`) removed, as RFC 3986 §6.2.2 allows, so `/v1/%66iles` or `/v1/x/../files`
///   cannot slip past a rule written for `/v1/files`.
///
/// Other forms (`*`, CONNECT's `host:port`) are returned as they are.
pub fn normalize_request_path(target: &str) -> String {
    let mut path = target;
    for scheme in ["http://", "https://"] {
        if path.len() >= scheme.len() && path[..scheme.len()].eq_ignore_ascii_case(scheme) {
            let after = &path[scheme.len()..];
            path = after.find(['/', '?', '#']).map_or("", |i| &after[i..]);
            if !path.starts_with('/') {
                return "/".to_owned();
            }
            break;
        }
    }
    let path = path.find(['?', '#']).map_or(path, |i| &path[..i]);
    if !path.starts_with('/') {
        return path.to_owned();
    }
    remove_dot_segments(&decode_unreserved(path))
}

fn decode_unreserved(s: &str) -> Cow<'_, str> {
    if !s.contains('%') {
        return Cow::Borrowed(s);
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = |b: u8| (b as char).to_digit(16);
            if let (Some(hi), Some(lo)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                let decoded = (hi * 16 + lo) as u8;
                if decoded.is_ascii_alphanumeric() || matches!(decoded, b'-' | b'.' | b'_' | b'~') {
                    out.push(decoded);
                    i += 3;
                    continue;
                }
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    // Only ASCII bytes were substituted for ASCII escapes, so the result is still UTF-8.
    Cow::Owned(String::from_utf8(out).unwrap_or_else(|_| s.to_owned()))
}

/// RFC 3986 §5.2.4 for an absolute path (starting with `/`).
fn remove_dot_segments(path: &str) -> String {
    let segments: Vec<&str> = path[1..].split('/').collect();
    let mut out: Vec<&str> = Vec::with_capacity(segments.len());
    for (i, seg) in segments.iter().enumerate() {
        let last = i + 1 == segments.len();
        match *seg {
            "." => {}
            ".." => {
                out.pop();
            }
            s => {
                out.push(s);
                continue;
            }
        }
        if last {
            // `/a/.` and `/a/b/..` both end in a directory: keep the trailing slash.
            out.push("");
        }
    }
    format!("/{}", out.join("/"))
}

/// Implements `Deserialize` for a pattern type by deserializing a string and running `parse`
/// inside the visitor, so the error carries the scalar's location and key path.
macro_rules! deserialize_via_parse {
    ($ty:ty, $expecting:literal) => {
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct V;
                impl Visitor<'_> for V {
                    type Value = $ty;
                    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                        f.write_str($expecting)
                    }
                    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                        <$ty>::parse(v).map_err(E::custom)
                    }
                }
                deserializer.deserialize_str(V)
            }
        }
    };
}
pub(crate) use deserialize_via_parse;

deserialize_via_parse!(HostPattern, "a host name or `*` glob");
deserialize_via_parse!(HttpMethod, "an HTTP method");
deserialize_via_parse!(PathPattern, "a path or `*` glob");
