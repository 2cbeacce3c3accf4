//! E-mail addresses: found from each `@` (memchr), expanded to a local part and a domain whose
//! top-level domain must be a real one, so `user@host.local` or `a@b.c` are not reported.

use super::context::{self as cx, Cache};
use super::tables::TLDS;
use crate::detect::{Category, Match};

pub(super) struct Email {
    /// [`tld_key`] of every top-level domain, sorted for binary search: comparing integers
    /// costs less than comparing byte strings.
    tlds: Vec<u128>,
}

/// A top-level domain of at most 15 bytes as one number: its bytes in lower case, then its
/// length in the top byte.
fn tld_key(tld: &[u8]) -> Option<u128> {
    let mut key = [0u8; 16];
    key.get_mut(..tld.len()).filter(|_| tld.len() < 16)?.copy_from_slice(tld);
    key[..15].make_ascii_lowercase();
    key[15] = tld.len() as u8;
    Some(u128::from_le_bytes(key))
}

impl Email {
    pub(super) fn new() -> Self {
        let mut tlds: Vec<u128> = TLDS.split_ascii_whitespace().filter_map(|tld| tld_key(tld.as_bytes())).collect();
        debug_assert_eq!(tlds.len(), TLDS.split_ascii_whitespace().count(), "a top-level domain is too long for a key");
        tlds.sort_unstable();
        Self { tlds }
    }

    fn tld_ok(&self, tld: &[u8]) -> bool {
        // Internationalised TLDs (`xn--p1ai`) are all delegated ccTLDs or brands.
        if tld.len() > 5 && tld.len() <= 24 && tld[..4].eq_ignore_ascii_case(b"xn--") {
            return true;
        }
        tld_key(tld).is_some_and(|key| self.tlds.binary_search(&key).is_ok())
    }

    fn domain_ok(&self, domain: &[u8]) -> bool {
        let mut labels = 0;
        let mut last: &[u8] = &[];
        for label in domain.split(|&c| c == b'.') {
            if label.is_empty() || label.len() > 63 || label[0] == b'-' || label[label.len() - 1] == b'-' {
                return false;
            }
            labels += 1;
            last = label;
        }
        labels >= 2 && (last.iter().all(u8::is_ascii_alphabetic) || last.starts_with(b"xn--")) && self.tld_ok(last)
    }
}

fn is_local(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'%' | b'+' | b'-')
}

/// Whether the `@` at `at` ends the userinfo of a URL (`https://user:p4ss!@host/`,
/// `ssh://git@host`): the bytes back to `scheme://` hold no `/`, `?`, `#`, space or quote.
/// That is a login on a host, not a mailbox; a password in it is a secret's finding.
fn in_url_authority(b: &[u8], at: usize) -> bool {
    let from = at.saturating_sub(256);
    let Some(slash) = b[from..at].iter().rposition(|&c| c == b'/' || c == b'?' || c == b'#' || is_url_end(c)) else {
        return false;
    };
    let slash = from + slash;
    b[slash] == b'/' && slash >= 2 && &b[slash - 2..slash] == b":/"
}

fn is_url_end(c: u8) -> bool {
    c.is_ascii_whitespace() || matches!(c, b'"' | b'\'' | b'<' | b'>' | b'`')
}

impl Email {
    /// Appends the addresses in `text`, whose first `@` is at `first`.
    pub(super) fn scan(&self, text: &str, first: usize, cache: &mut Cache<'_>, out: &mut Vec<Match>) {
        let b = text.as_bytes();
        let mut floor = 0;
        for at in memchr::memchr_iter(b'@', &b[first..]).map(|p| first + p) {
            if at < floor {
                continue;
            }
            let mut s = at;
            while s > floor && at - s <= 64 && is_local(b[s - 1]) {
                s -= 1;
            }
            if at - s > 64 {
                continue;
            }
            // Punctuation that opened the run is not part of the address.
            while s < at && matches!(b[s], b'.' | b'-' | b'+') {
                s += 1;
            }
            let local = &b[s..at];
            if local.is_empty() || local[local.len() - 1] == b'.' || local.windows(2).any(|w| w == b"..") {
                continue;
            }
            if in_url_authority(b, at) {
                continue;
            }
            let mut e = at + 1;
            while e < b.len() && e - at <= 254 && (b[e].is_ascii_alphanumeric() || matches!(b[e], b'.' | b'-')) {
                e += 1;
            }
            while e > at + 1 && matches!(b[e - 1], b'.' | b'-') {
                e -= 1;
            }
            if e - at > 254 || !self.domain_ok(&b[at + 1..e]) {
                continue;
            }
            // `git@github.com:org/repo.git` is an SSH remote, not a mailbox.
            if b.get(e) == Some(&b':')
                && b.get(e + 1).is_some_and(|&c| c.is_ascii_alphanumeric() || c == b'/' || c == b'~')
            {
                continue;
            }
            let boosted = cache.before(b, s) & cx::EMAIL != 0;
            let confidence = if boosted { 0.97 } else { 0.9 };
            out.push(Match { detector: "email", category: Category::Pii, start: s, end: e, confidence, label: None });
            floor = e;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The number keys find exactly the listed domains, whatever their case: every listed one,
    /// and near misses (cut, extended, padded with NUL, longer than a key holds).
    #[test]
    fn tld_keys_match_a_plain_search() {
        let email = Email::new();
        let listed = |tld: &[u8]| {
            TLDS.split_ascii_whitespace().any(|t| t.as_bytes().eq_ignore_ascii_case(tld))
                || (tld.len() > 5 && tld.len() <= 24 && tld[..4].eq_ignore_ascii_case(b"xn--"))
        };
        let mut candidates: Vec<Vec<u8>> = Vec::new();
        for tld in TLDS.split_ascii_whitespace().map(str::as_bytes) {
            candidates.push(tld.to_vec());
            candidates.push(tld.to_ascii_uppercase());
            candidates.push(tld[..tld.len() - 1].to_vec());
            candidates.push([tld, b"s"].concat());
            candidates.push([tld, b"\0"].concat());
            candidates.push(tld.repeat(16 / tld.len() + 1));
        }
        for extra in ["", "xn--", "xn--p", "XN--P1AI", "xn--vermgensberatung-pwb", "xn--vermgensberatung-pwbxx"] {
            candidates.push(extra.as_bytes().to_vec());
        }
        for tld in &candidates {
            assert_eq!(email.tld_ok(tld), listed(tld), "{:?}", String::from_utf8_lossy(tld));
        }
    }
}
