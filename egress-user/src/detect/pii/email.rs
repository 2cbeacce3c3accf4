//! E-mail addresses: found from each `@` (memchr), expanded to a local part and a domain whose
//! top-level domain must be a real one, so `user@host.local` or `a@b.c` are not reported.

use std::sync::Arc;

use super::context::{self as cx, Cache, Context};
use super::tables::TLDS;
use crate::detect::{Category, Detector, Match};

pub(super) struct Email {
    ctx: Arc<Context>,
    /// Sorted, for binary search.
    tlds: Vec<&'static [u8]>,
}

impl Email {
    pub(super) fn new(ctx: Arc<Context>) -> Self {
        let mut tlds: Vec<&'static [u8]> = TLDS.split_ascii_whitespace().map(str::as_bytes).collect();
        tlds.sort_unstable();
        Self { ctx, tlds }
    }

    fn tld_ok(&self, tld: &[u8]) -> bool {
        let mut lower = [0u8; 24];
        let Some(buf) = lower.get_mut(..tld.len()) else { return false };
        for (dst, &c) in buf.iter_mut().zip(tld) {
            *dst = c.to_ascii_lowercase();
        }
        // Internationalised TLDs (`xn--p1ai`) are all delegated ccTLDs or brands.
        self.tlds.binary_search(&&*buf).is_ok() || (buf.starts_with(b"xn--") && buf.len() > 5)
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

impl Detector for Email {
    fn scan(&self, text: &str, out: &mut Vec<Match>) {
        let b = text.as_bytes();
        let mut floor = 0;
        let mut cache = Cache::new(&self.ctx);
        for at in memchr::memchr_iter(b'@', b) {
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
