//! Structured secrets: PEM / OpenSSH / PGP private key blocks, PuTTY key files, JWTs.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::rules::{B64_EQ, URLSAFE, has};

/// Farthest a key's END line may be from its BEGIN line (a 16384-bit RSA key in PEM is
/// about 13 KiB).
const MAX_KEY_BLOCK: usize = 64 * 1024;

/// A private key block starting at `at` (the `-----BEGIN ` hit): its end and confidence.
///
/// The span runs through the END line. Without an END line (a truncated paste) it covers
/// the base64 body that follows, at a lower confidence. Literal `\n` sequences (a key inside
/// a JSON string that was not unescaped) need no special case: the END line is searched as
/// bytes, and `\` and `n` simply count as body.
pub(crate) fn private_key(t: &[u8], at: usize) -> Option<(usize, f32)> {
    const BEGIN: &[u8] = b"-----BEGIN ";
    let label_start = at + BEGIN.len();
    let rest = t.get(label_start..)?;
    let label_len = memchr::memmem::find(&rest[..rest.len().min(48)], b"-----")?;
    let label = &rest[..label_len];
    let kind_ok = label.ends_with(b"PRIVATE KEY") || label == b"PGP PRIVATE KEY BLOCK";
    if !kind_ok || !label.iter().all(|&b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b' ') {
        return None;
    }
    let body_start = label_start + label_len + 5;
    let window = &t[body_start..t.len().min(body_start + MAX_KEY_BLOCK)];
    let mut end_marker = None;
    let mut from = 0;
    while let Some(i) = memchr::memmem::find(&window[from..], b"-----END ") {
        let m = from + i;
        let after = &window[m + 9..];
        if after.starts_with(label) && after[label.len()..].starts_with(b"-----") {
            end_marker = Some(m);
            break;
        }
        from = m + 9;
    }
    let encrypted = label.starts_with(b"ENCRYPTED") || memchr::memmem::find(window, b"ENCRYPTED").is_some();
    let (body, end, confidence) = match end_marker {
        Some(m) => (&window[..m], body_start + m + 9 + label.len() + 5, if encrypted { 0.85 } else { 0.97 }),
        None => {
            // Truncated: take the body as far as it looks like one.
            let n = window
                .iter()
                .position(|&b| !(has(B64_EQ, b) || b.is_ascii_whitespace() || matches!(b, b'\\' | b':' | b',' | b'-')))
                .unwrap_or(window.len());
            let mut n = n;
            while n > 0 && !has(B64_EQ, window[n - 1]) {
                n -= 1;
            }
            (&window[..n], body_start + n, 0.8)
        }
    };
    let b64 = body.iter().filter(|&&b| has(B64_EQ, b)).count();
    let mut lower = [0u8; 64];
    let fake = body.windows(3).any(|w| w == b"..." || w.eq_ignore_ascii_case(b"xxx")) || body.contains(&b'<') || {
        let head = &body[..body.len().min(64)];
        head.iter().zip(lower.iter_mut()).for_each(|(s, d)| *d = s.to_ascii_lowercase());
        memchr::memmem::find(&lower[..head.len()], b"your").is_some()
    };
    (b64 >= 64 && !fake).then_some((end, confidence))
}

/// A PuTTY private key file starting at `at` (`PuTTY-User-Key-File-`): through the end of
/// its `Private-MAC:` line.
pub(crate) fn putty_key(t: &[u8], at: usize) -> Option<usize> {
    let window = &t[at..t.len().min(at + MAX_KEY_BLOCK)];
    let lines = memchr::memmem::find(window, b"Private-Lines:")?;
    let mac = lines + memchr::memmem::find(&window[lines..], b"Private-MAC:")?;
    let mut end = mac + 12;
    while end < window.len() && window[end] == b' ' {
        end += 1;
    }
    while end < window.len() && window[end].is_ascii_hexdigit() {
        end += 1;
    }
    (end > mac + 12 + 16).then_some(at + end)
}

/// A JWT (or JWE) starting at `at` (`eyJ`): its end and confidence.
///
/// Three (or five) base64url parts; the header must decode to a JSON object with a string
/// `alg`. `alg: none` tokens are unsigned but still carry claims, so they are findings too.
pub(crate) fn jwt(t: &[u8], at: usize) -> Option<(usize, f32)> {
    if at > 0 && (has(URLSAFE, t[at - 1]) || t[at - 1] == b'.') {
        return None;
    }
    let run = |from: usize, max: usize| {
        let mut p = from;
        while p < t.len() && p - from < max && has(URLSAFE, t[p]) {
            p += 1;
        }
        p
    };
    let h_end = run(at, 4096);
    if h_end - at < 16 || t.get(h_end) != Some(&b'.') {
        return None;
    }
    let p_end = run(h_end + 1, 64 * 1024);
    if p_end - h_end - 1 < 4 || t.get(p_end) != Some(&b'.') {
        return None;
    }
    let mut end = run(p_end + 1, 8192);
    let mut parts = 3;
    // JWE: five parts.
    while parts < 5 && t.get(end) == Some(&b'.') && t.get(end + 1).is_some_and(|&b| has(URLSAFE, b)) {
        end = run(end + 1, 64 * 1024);
        parts += 1;
    }
    if t.get(end).is_some_and(|&b| has(URLSAFE, b) || b == b'=') {
        return None;
    }
    let header: serde_json::Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&t[at..h_end]).ok()?).ok()?;
    let alg = header.as_object()?.get("alg")?.as_str()?;
    let signature = end - p_end - 1;
    if alg.eq_ignore_ascii_case("none") {
        return Some((end, 0.7));
    }
    if signature < 16 && parts == 3 {
        return None;
    }
    let claims = URL_SAFE_NO_PAD
        .decode(&t[h_end + 1..p_end])
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .is_some_and(|v| v.is_object());
    Some((end, if claims || parts == 5 { 0.95 } else { 0.85 }))
}
