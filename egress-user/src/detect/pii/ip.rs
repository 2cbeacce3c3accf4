//! IPv6 addresses: found from each `:` (memchr), expanded over hex digits, colons and dots,
//! and accepted only if `std::net::Ipv6Addr` parses the candidate. IPv4 is in `numeric`.
//!
//! Only addresses that can point at a person's device are PII. Loopback, private, link-local,
//! shared (CGNAT), documentation, multicast and reserved addresses (`127.0.0.1`,
//! `0.0.0.0:8080`, `10.0.12.7`, `fe80::1`, `2001:db8::1`) are in every log line, config and
//! tutorial and identify no one outside one network: they are not reported at all, since the
//! policy acts on every finding whatever its confidence.

use std::net::{Ipv4Addr, Ipv6Addr};

use super::context::{self as cx, Cache};
use crate::detect::{Category, Match};

pub(super) struct Ipv6;

fn is_part(c: u8) -> bool {
    c.is_ascii_hexdigit() || c == b':' || c == b'.'
}

/// Whether an IPv4 address is one that identifies no one (see the module docs).
pub(super) fn ipv4_identifies_no_one(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_documentation()
        || a == 0
        || a >= 240
        || (a == 100 && (64..128).contains(&b))
        || (a == 192 && b == 0)
        || (a == 198 && (18..20).contains(&b))
}

/// Whether an IPv6 address is one that identifies no one (see the module docs); an
/// IPv4-mapped one (`::ffff:a.b.c.d`) is judged by its IPv4 address.
fn ipv6_identifies_no_one(ip: &Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return ipv4_identifies_no_one(v4);
    }
    let seg = ip.segments();
    ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || seg[0] & 0xffc0 == 0xfe80
        || seg[0] & 0xfe00 == 0xfc00
        || (seg[0] == 0x2001 && seg[1] == 0x0db8)
        || seg[0] & 0xe000 != 0x2000
}

impl Ipv6 {
    /// Appends the addresses in `text`, whose first `:` is at `first`.
    pub(super) fn scan(&self, text: &str, first: usize, cache: &mut Cache<'_>, out: &mut Vec<Match>) {
        let b = text.as_bytes();
        let mut floor = 0;
        for colon in memchr::memchr_iter(b':', &b[first..]).map(|p| first + p) {
            if colon < floor {
                continue;
            }
            let mut s = colon;
            while s > floor && colon - s < 40 && (b[s - 1].is_ascii_hexdigit() || b[s - 1] == b':') {
                s -= 1;
            }
            let mut e = colon + 1;
            while e < b.len() && e - s < 48 && is_part(b[e]) {
                e += 1;
            }
            floor = e;
            // A sentence may end right after the address; a lone trailing colon is punctuation.
            while (e > s && b[e - 1] == b'.') || (e >= s + 2 && b[e - 1] == b':' && b[e - 2] != b':') {
                e -= 1;
            }
            let cand = &b[s..e];
            let colons = cand.iter().filter(|&&c| c == b':').count();
            let hex = cand.iter().filter(|c| c.is_ascii_hexdigit()).count();
            // Code (`Foo::bar`, `a::b`) rarely has a decimal digit and three hex digits.
            if colons < 2 || hex < 3 || !cand.iter().any(u8::is_ascii_digit) {
                continue;
            }
            let glued_left = s > 0 && (b[s - 1].is_ascii_alphanumeric() || matches!(b[s - 1], b'_' | b'.'));
            let glued_right = b.get(e).is_some_and(|&c| c.is_ascii_alphanumeric() || c == b'_');
            if glued_left || glued_right {
                continue;
            }
            let Some(ip) = text.get(s..e).and_then(|c| c.parse::<Ipv6Addr>().ok()) else { continue };
            if ipv6_identifies_no_one(&ip) {
                continue;
            }
            let confidence = if cache.before(b, s) & cx::IP != 0 { 0.85 } else { 0.6 };
            out.push(Match { detector: "ipv6", category: Category::Pii, start: s, end: e, confidence, label: None });
        }
    }
}
