//! The digit-driven PII detectors in one pass. Almost every PII family contains digits, and
//! most text contains few, so one vectorisable skip to the next digit finds every candidate.
//! Around a digit the scanner cuts a small *cluster*: alphanumeric tokens joined by short
//! separator runs (`4111 1111 1111 1111`, `123-45-6789`, `+44 (0)20 7946 0958`). Validators
//! then try each token position in order of specificity; the first that accepts consumes its
//! tokens, so a date or a version string is never read again as a phone number or an ID.

use std::net::{Ipv4Addr, Ipv6Addr};

use super::checksum as ck;
use super::context::{self as cx, Cache};
use super::{address, dates, ip, tables};
use crate::detect::ascii;
use crate::detect::{Category, Match};

/// Tokens per cluster; a longer run of numbers simply starts a new cluster.
const MAX_TOKENS: usize = 32;

/// A maximal run of ASCII alphanumerics.
#[derive(Clone, Copy, Default, Debug)]
struct Tok {
    s: usize,
    e: usize,
    digits: usize,
    upper: usize,
    /// The separator to the next token when it is one byte; 0 when there is none or it is
    /// longer (see [`Scan::sep`] for those).
    sep: u8,
}

impl Tok {
    fn at(b: &[u8], s: usize) -> Self {
        let mut t = Tok { s, e: s, digits: 0, upper: 0, sep: 0 };
        while let Some(&c) = b.get(t.e) {
            match c {
                b'0'..=b'9' => t.digits += 1,
                b'A'..=b'Z' => t.upper += 1,
                b'a'..=b'z' => {}
                _ => break,
            }
            t.e += 1;
        }
        t
    }

    fn len(&self) -> usize {
        self.e - self.s
    }

    fn pure(&self) -> bool {
        self.digits == self.len()
    }
}

/// Card numbers, IBANs, phone numbers, national identifiers, IPv4 addresses, dates of birth and
/// street addresses.
pub(super) struct Numeric {
    max_year: u32,
}

impl Numeric {
    pub(super) fn new() -> Self {
        Self { max_year: dates::current_year() }
    }

    /// Appends the matches in `text`, whose first ASCII digit is at `first`.
    pub(super) fn scan<'a>(&'a self, text: &'a str, first: usize, cache: &mut Cache<'a>, out: &mut Vec<Match>) {
        let b = text.as_bytes();
        let mut toks = [Tok::default(); MAX_TOKENS];
        let mut pos = 0;
        let mut found = Some(first);
        while let Some(p) = found {
            let mut s = p;
            while s > pos && b[s - 1].is_ascii_alphanumeric() {
                s -= 1;
            }
            let mut scan = Scan::new(self, text, s, &mut toks, cache);
            pos = scan.run(out).max(p + 1);
            found = ascii::next_digit(b, pos);
        }
    }
}

fn is_sep(c: u8) -> bool {
    matches!(c, b' ' | b'-' | b'.' | b'/' | b'(' | b')')
}

/// Nothing glued on the left: no alphanumeric or `_`, and no `-`/`.`/`/` continuing a code
/// such as a UUID, a version or a decimal.
fn free_left(b: &[u8], s: usize) -> bool {
    let Some(s1) = s.checked_sub(1) else { return true };
    let c = b[s1];
    if c.is_ascii_alphanumeric() || c == b'_' {
        return false;
    }
    !(matches!(c, b'-' | b'.' | b'/') && s1 > 0 && b[s1 - 1].is_ascii_alphanumeric())
}

/// Nothing glued on the right (see [`free_left`]).
fn free_right(b: &[u8], e: usize) -> bool {
    let Some(&c) = b.get(e) else { return true };
    if c.is_ascii_alphanumeric() || c == b'_' {
        return false;
    }
    !(matches!(c, b'-' | b'.' | b'/') && b.get(e + 1).is_some_and(u8::is_ascii_alphanumeric))
}

fn isolated(b: &[u8], s: usize, e: usize) -> bool {
    free_left(b, s) && free_right(b, e)
}

/// One cluster of tokens around a digit, and the validators that read it.
struct Scan<'a, 's> {
    det: &'a Numeric,
    text: &'a str,
    b: &'a [u8],
    toks: &'s mut [Tok; MAX_TOKENS],
    n: usize,
    /// Where scanning resumes when a match reached past the cluster (textual dates, IBANs).
    resume: usize,
    cache: &'s mut Cache<'a>,
    /// Memo of the context families before one position.
    ctx_at: usize,
    ctx_mask: u32,
}

macro_rules! attempt {
    ($e:expr) => {
        if let Some(next) = $e {
            return next;
        }
    };
}

impl<'a, 's> Scan<'a, 's> {
    fn new(
        det: &'a Numeric,
        text: &'a str,
        s: usize,
        toks: &'s mut [Tok; MAX_TOKENS],
        cache: &'s mut Cache<'a>,
    ) -> Self {
        let b = text.as_bytes();
        toks[0] = Tok::at(b, s);
        let mut n = 1;
        while n < MAX_TOKENS {
            let mut j = toks[n - 1].e;
            let mut seps = 0;
            while seps < 3 && b.get(j).copied().is_some_and(is_sep) {
                j += 1;
                seps += 1;
            }
            if seps == 0 || !b.get(j).is_some_and(u8::is_ascii_alphanumeric) {
                break;
            }
            let t = Tok::at(b, j);
            // Letter-only tokens join only when short and upper case: IBAN groups, ID letters.
            if t.digits == 0 && (t.len() > 4 || t.upper != t.len()) {
                break;
            }
            if j - toks[n - 1].e == 1 {
                toks[n - 1].sep = b[j - 1];
            }
            toks[n] = t;
            n += 1;
        }
        Self { det, text, b, toks, n, resume: 0, cache, ctx_at: usize::MAX, ctx_mask: 0 }
    }

    fn run(&mut self, out: &mut Vec<Match>) -> usize {
        let mut i = 0;
        while i < self.n {
            i = self.step(i, out).max(i + 1);
        }
        self.toks[self.n - 1].e.max(self.resume)
    }

    fn step(&mut self, i: usize, out: &mut Vec<Match>) -> usize {
        let t = self.toks[i];
        if t.len() > 34 || t.digits == 0 {
            return i + 1;
        }
        if !t.pure() {
            attempt!(self.iban(i, out));
            attempt!(self.alnum_id(i, out));
            attempt!(self.fr_nir(i, out));
            attempt!(self.date(i, out));
            attempt!(self.street(i, out));
            return i + 1;
        }
        attempt!(self.nino_spaced(i, out));
        attempt!(self.es_spaced(i, out));
        attempt!(self.phone_international(i, out));
        attempt!(self.date(i, out));
        attempt!(self.cpf(i, out));
        attempt!(self.ipv4(i, out));
        attempt!(self.card(i, out));
        attempt!(self.fr_nir(i, out));
        attempt!(self.de_tax_id(i, out));
        attempt!(self.ssn(i, out));
        attempt!(self.bsn(i, out));
        attempt!(self.aadhaar(i, out, false));
        attempt!(self.phone_national(i, out));
        attempt!(self.aadhaar(i, out, true));
        attempt!(self.street(i, out));
        i + 1
    }

    // ---- helpers ----

    fn tok(&self, k: usize) -> Option<Tok> {
        (k < self.n).then(|| self.toks[k])
    }

    /// The separator between token `k` and token `k + 1`.
    fn sep(&self, k: usize) -> Option<&'a [u8]> {
        (k + 1 < self.n).then(|| &self.b[self.toks[k].e..self.toks[k + 1].s])
    }

    /// The one-byte separator after token `k`, or 0.
    fn sep1(&self, k: usize) -> u8 {
        if k + 1 < self.n { self.toks[k].sep } else { 0 }
    }

    /// Whether tokens `i..i + lens.len()` are pure digit tokens of these lengths, joined by `sep`.
    fn layout(&self, i: usize, lens: &[usize], sep: u8) -> bool {
        lens.iter().enumerate().all(|(k, &len)| {
            self.tok(i + k).is_some_and(|t| t.pure() && t.len() == len)
                && (k + 1 == lens.len() || self.sep1(i + k) == sep)
        })
    }

    /// Whether the run `i..=j` is not part of a longer run of digit groups joined by `sep`.
    fn whole_run(&self, i: usize, j: usize, sep: u8) -> bool {
        let left = i == 0 || self.sep1(i - 1) != sep || !self.toks[i - 1].pure();
        let right = j + 1 >= self.n || self.sep1(j) != sep || !self.toks[j + 1].pure();
        left && right
    }

    /// Digit values of tokens `from..to` into `buf`; `None` if they do not fit.
    fn digits(&self, from: usize, to: usize, buf: &mut [u8]) -> Option<usize> {
        let mut n = 0;
        for t in &self.toks[from..to] {
            for &c in &self.b[t.s..t.e] {
                if c.is_ascii_digit() {
                    *buf.get_mut(n)? = c - b'0';
                    n += 1;
                }
            }
        }
        Some(n)
    }

    /// Upper-case ASCII of tokens `from..to` into `buf`; `None` if they do not fit exactly.
    fn code(&self, from: usize, to: usize, buf: &mut [u8]) -> Option<()> {
        let mut n = 0;
        for t in &self.toks[from..to] {
            let part = &self.b[t.s..t.e];
            buf.get_mut(n..n + part.len())?.copy_from_slice(part);
            n += part.len();
        }
        (n == buf.len()).then_some(())
    }

    fn ctx(&mut self, start: usize) -> u32 {
        if self.ctx_at != start {
            self.ctx_at = start;
            self.ctx_mask = self.cache.before(self.b, start);
        }
        self.ctx_mask
    }

    fn has(&mut self, start: usize, family: u32) -> bool {
        self.ctx(start) & family != 0
    }

    fn first_token_from(&self, end: usize) -> usize {
        (0..self.n).find(|&k| self.toks[k].s >= end).unwrap_or(self.n)
    }

    /// Reports a match, with the boosted confidence when a `family` word precedes it.
    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        out: &mut Vec<Match>,
        detector: &'static str,
        s: usize,
        e: usize,
        base: f32,
        boosted: f32,
        family: u32,
    ) {
        let confidence = if self.has(s, family) { boosted } else { base };
        out.push(Match { detector, category: Category::Pii, start: s, end: e, confidence, label: None });
    }

    // ---- letter-bearing identifiers ----

    /// IBAN, compact (`DE89370400440532013000`) or in groups of four (`DE89 3704 0044 ...`).
    fn iban(&mut self, i: usize, out: &mut Vec<Match>) -> Option<usize> {
        let t = self.toks[i];
        let b = self.b;
        let head = b.get(t.s..t.s + 4)?;
        if t.len() < 4
            || !(head[0].is_ascii_uppercase()
                && head[1].is_ascii_uppercase()
                && head[2].is_ascii_digit()
                && head[3].is_ascii_digit())
        {
            return None;
        }
        let want = tables::iban_length([head[0], head[1]])?;
        let mut code = [0u8; 34];
        let end = if t.len() == want {
            code[..want].copy_from_slice(&b[t.s..t.e]);
            t.e
        } else if t.len() == 4 {
            code[..4].copy_from_slice(head);
            let (mut n, mut p) = (4, t.e);
            while n < want {
                if b.get(p) != Some(&b' ') {
                    return None;
                }
                p += 1;
                let group = b[p..].iter().take(5).take_while(|c| c.is_ascii_alphanumeric()).count();
                if group != (want - n).min(4) {
                    return None;
                }
                code[n..n + group].copy_from_slice(&b[p..p + group]);
                n += group;
                p += group;
            }
            p
        } else {
            return None;
        };
        let code = &code[..want];
        if !code.iter().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
            || !ck::iban_valid(code)
            || !isolated(b, t.s, end)
        {
            return None;
        }
        self.push(out, "iban", t.s, end, 0.9, 0.98, cx::IBAN);
        self.resume = self.resume.max(end);
        Some(self.first_token_from(end))
    }

    /// Single-token identifiers with letters: UK NINO, ES DNI/NIE, IT codice fiscale.
    fn alnum_id(&mut self, i: usize, out: &mut Vec<Match>) -> Option<usize> {
        let t = self.toks[i];
        let code = &self.b[t.s..t.e];
        if !isolated(self.b, t.s, t.e) {
            return None;
        }
        match t.len() {
            9 if ck::nino_valid(code) => self.push(out, "uk_nino", t.s, t.e, 0.75, 0.95, cx::NINO),
            9 if ck::es_id_valid(code) => {
                let name = if code[0].is_ascii_digit() { "es_dni" } else { "es_nie" };
                self.push(out, name, t.s, t.e, 0.75, 0.95, cx::ES_ID);
            }
            // "AB123456 C"
            8 => {
                let suffix = self.tok(i + 1).filter(|s| s.len() == 1 && self.sep1(i) == b' ')?;
                let mut nino = [0u8; 9];
                nino[..8].copy_from_slice(code);
                nino[8] = self.b[suffix.s];
                if !ck::nino_valid(&nino) || !free_right(self.b, suffix.e) {
                    return None;
                }
                self.push(out, "uk_nino", t.s, suffix.e, 0.75, 0.95, cx::NINO);
                return Some(i + 2);
            }
            16 if ck::it_cf_valid(code) => self.push(out, "it_codice_fiscale", t.s, t.e, 0.85, 0.97, cx::IT_CF),
            _ => return None,
        }
        Some(i + 1)
    }

    /// UK NINO written `AB 12 34 56 C` or `AB 123456 C`: the letters sit before this token.
    fn nino_spaced(&mut self, i: usize, out: &mut Vec<Match>) -> Option<usize> {
        let t = self.toks[i];
        let b = self.b;
        if !matches!(t.len(), 2 | 6) || t.s < 3 || b[t.s - 1] != b' ' {
            return None;
        }
        let start = t.s - 3;
        if !free_left(b, start) {
            return None;
        }
        let lens: &[usize] = if t.len() == 2 { &[2, 2, 2] } else { &[6] };
        let last = i + lens.len();
        let suffix = self.tok(last)?;
        if !self.layout(i, lens, b' ') || self.sep1(last - 1) != b' ' || suffix.len() != 1 {
            return None;
        }
        let mut nino = [0u8; 9];
        nino[..2].copy_from_slice(&b[start..start + 2]);
        let mut n = 2;
        for t in &self.toks[i..last] {
            nino[n..n + t.len()].copy_from_slice(&b[t.s..t.e]);
            n += t.len();
        }
        nino[8] = b[suffix.s];
        if !ck::nino_valid(&nino) || !free_right(b, suffix.e) {
            return None;
        }
        self.push(out, "uk_nino", start, suffix.e, 0.75, 0.95, cx::NINO);
        Some(last + 1)
    }

    /// ES DNI `12345678-Z` and NIE `X-1234567-L` with separators.
    fn es_spaced(&mut self, i: usize, out: &mut Vec<Match>) -> Option<usize> {
        let t = self.toks[i];
        let b = self.b;
        let sep = Some(self.sep1(i)).filter(|s| matches!(s, b'-' | b' '))?;
        let letter = self.tok(i + 1).filter(|l| l.len() == 1 && l.upper == 1)?;
        let mut code = [0u8; 9];
        let (name, start) = match t.len() {
            8 => {
                code[..8].copy_from_slice(&b[t.s..t.e]);
                ("es_dni", t.s)
            }
            7 if t.s >= 2 && b[t.s - 1] == sep && matches!(b[t.s - 2], b'X' | b'Y' | b'Z') => {
                code[0] = b[t.s - 2];
                code[1..8].copy_from_slice(&b[t.s..t.e]);
                ("es_nie", t.s - 2)
            }
            _ => return None,
        };
        code[8] = b[letter.s];
        if !ck::es_id_valid(&code) || !isolated(b, start, letter.e) {
            return None;
        }
        self.push(out, name, start, letter.e, 0.7, 0.95, cx::ES_ID);
        Some(i + 2)
    }

    // ---- digit identifiers ----

    /// Payment cards: 13-19 digits, compact or in groups (4-4-4-4[-3], Amex 4-6-5, Diners
    /// 4-6-4), issuer range and length, Luhn.
    fn card(&mut self, i: usize, out: &mut Vec<Match>) -> Option<usize> {
        let t = self.toks[i];
        let mut d = [0u8; 19];
        if (13..=19).contains(&t.len()) {
            let n = self.digits(i, i + 1, &mut d)?;
            if ck::card_issuer(&d[..n]).is_none() || !ck::luhn(&d[..n]) || !isolated(self.b, t.s, t.e) {
                return None;
            }
            self.push(out, "credit_card", t.s, t.e, 0.8, 0.95, cx::CARD);
            return Some(i + 1);
        }
        if t.len() != 4 {
            return None;
        }
        let sep = Some(self.sep1(i)).filter(|s| matches!(s, b' ' | b'-'))?;
        let mut lens = [0usize; 5];
        let mut count = 0;
        let mut total = 0;
        while count < 5 {
            let Some(g) = self.tok(i + count).filter(|g| g.pure()) else { break };
            if (count > 0 && self.sep1(i + count - 1) != sep) || total + g.len() > 19 {
                break;
            }
            lens[count] = g.len();
            total += g.len();
            count += 1;
        }
        for k in (3..=count).rev() {
            let groups = &lens[..k];
            let shaped = match groups {
                [4, 6, 5] | [4, 6, 4] => true,
                [init @ .., last] => init.len() >= 3 && init.iter().all(|&l| l == 4) && (1..=4).contains(last),
                [] => false,
            };
            let end = self.toks[i + k - 1].e;
            if !shaped || !isolated(self.b, t.s, end) {
                continue;
            }
            let n = self.digits(i, i + k, &mut d)?;
            if (13..=19).contains(&n) && ck::card_issuer(&d[..n]).is_some() && ck::luhn(&d[..n]) {
                self.push(out, "credit_card", t.s, end, 0.8, 0.95, cx::CARD);
                return Some(i + k);
            }
        }
        None
    }

    /// French NIR: 15 characters compact, `13 + key`, or `1 85 05 78 006 084 36`.
    fn fr_nir(&mut self, i: usize, out: &mut Vec<Match>) -> Option<usize> {
        let t = self.toks[i];
        let mut code = [0u8; 15];
        let next = if t.len() == 15 {
            i + 1
        } else if t.len() == 13 && t.pure() && self.layout(i + 1, &[2], 0) && self.sep1(i) == b' ' {
            i + 2
        } else if t.len() == 1 && (i + 7 <= self.n) {
            let spaced = [1, 2, 2, 2, 3, 3, 2]
                .iter()
                .enumerate()
                .all(|(k, &len)| self.toks[i + k].len() == len && (k == 6 || self.sep1(i + k) == b' '));
            if !spaced {
                return None;
            }
            i + 7
        } else {
            return None;
        };
        self.code(i, next, &mut code)?;
        let end = self.toks[next - 1].e;
        if !ck::fr_nir_valid(&code) || !isolated(self.b, t.s, end) {
            return None;
        }
        self.push(out, "fr_nir", t.s, end, 0.75, 0.95, cx::FR_NIR);
        Some(next)
    }

    /// German Steuer-IdNr: `12 345 678 901` on its own, 11 bare digits only with context.
    fn de_tax_id(&mut self, i: usize, out: &mut Vec<Match>) -> Option<usize> {
        let t = self.toks[i];
        let mut d = [0u8; 11];
        let (next, base) = if t.len() == 11 {
            if !self.has(t.s, cx::DE_TAX) {
                return None;
            }
            (i + 1, 0.9)
        } else if t.len() == 2 && self.layout(i, &[2, 3, 3, 3], b' ') && self.whole_run(i, i + 3, b' ') {
            (i + 4, 0.6)
        } else {
            return None;
        };
        let end = self.toks[next - 1].e;
        self.digits(i, next, &mut d)?;
        if !ck::de_tax_id_valid(&d) || !isolated(self.b, t.s, end) {
            return None;
        }
        self.push(out, "de_tax_id", t.s, end, base, 0.95, cx::DE_TAX);
        Some(next)
    }

    /// US SSN: `123-45-6789`; `123 45 6789` at lower confidence; 9 bare digits only with context.
    fn ssn(&mut self, i: usize, out: &mut Vec<Match>) -> Option<usize> {
        let t = self.toks[i];
        let mut d = [0u8; 9];
        let (next, base) = if self.layout(i, &[3, 2, 4], b'-') && self.whole_run(i, i + 2, b'-') {
            (i + 3, 0.7)
        } else if self.layout(i, &[3, 2, 4], b' ') && self.whole_run(i, i + 2, b' ') {
            (i + 3, 0.45)
        } else if t.len() == 9 && self.has(t.s, cx::SSN) {
            (i + 1, 0.85)
        } else {
            return None;
        };
        let end = self.toks[next - 1].e;
        self.digits(i, next, &mut d)?;
        if !ck::ssn_valid(&d) || !isolated(self.b, t.s, end) {
            return None;
        }
        self.push(out, "us_ssn", t.s, end, base, 0.95, cx::SSN);
        Some(next)
    }

    /// Brazilian CPF: `123.456.789-09`, or 11 bare digits with context.
    fn cpf(&mut self, i: usize, out: &mut Vec<Match>) -> Option<usize> {
        let t = self.toks[i];
        let mut d = [0u8; 11];
        let formatted = self.layout(i, &[3, 3, 3], b'.') && self.sep1(i + 2) == b'-' && self.layout(i + 3, &[2], 0);
        let (next, base) = if formatted {
            (i + 4, 0.8)
        } else if t.len() == 11 && self.has(t.s, cx::CPF) {
            (i + 1, 0.85)
        } else {
            return None;
        };
        let end = self.toks[next - 1].e;
        self.digits(i, next, &mut d)?;
        if !ck::cpf_valid(&d) || !isolated(self.b, t.s, end) {
            return None;
        }
        self.push(out, "br_cpf", t.s, end, base, 0.95, cx::CPF);
        Some(next)
    }

    /// Dutch BSN (9 digits, elfproef): only with context, nine digits are too common otherwise.
    fn bsn(&mut self, i: usize, out: &mut Vec<Match>) -> Option<usize> {
        let t = self.toks[i];
        let mut d = [0u8; 9];
        let next = if t.len() == 9 {
            i + 1
        } else if self.layout(i, &[4, 2, 3], b'.') {
            i + 3
        } else {
            return None;
        };
        if !self.has(t.s, cx::BSN) {
            return None;
        }
        let end = self.toks[next - 1].e;
        self.digits(i, next, &mut d)?;
        if !ck::bsn_valid(&d) || !isolated(self.b, t.s, end) {
            return None;
        }
        self.push(out, "nl_bsn", t.s, end, 0.85, 0.85, cx::BSN);
        Some(next)
    }

    /// Aadhaar: `2345 6789 0123` (grouped), 12 bare digits with context, or (`bare`) without
    /// context at low confidence once no phone context claimed them.
    fn aadhaar(&mut self, i: usize, out: &mut Vec<Match>, bare: bool) -> Option<usize> {
        let t = self.toks[i];
        let mut d = [0u8; 12];
        let (next, base) = if bare {
            if t.len() != 12 {
                return None;
            }
            (i + 1, 0.4)
        } else if t.len() == 12 {
            if !self.has(t.s, cx::AADHAAR) {
                return None;
            }
            (i + 1, 0.9)
        } else {
            let sep = Some(self.sep1(i)).filter(|s| matches!(s, b' ' | b'-'))?;
            if !(self.layout(i, &[4, 4, 4], sep) && self.whole_run(i, i + 2, sep)) {
                return None;
            }
            (i + 3, 0.6)
        };
        let end = self.toks[next - 1].e;
        self.digits(i, next, &mut d)?;
        if !ck::aadhaar_valid(&d) || !isolated(self.b, t.s, end) {
            return None;
        }
        self.push(out, "in_aadhaar", t.s, end, base, 0.95, cx::AADHAAR);
        Some(next)
    }

    // ---- phone numbers ----

    /// Digit groups from token `i` that a phone number may span: `(last token, digits so far)`
    /// per group, and the digits. A `(0)` trunk prefix after the country code is not counted.
    fn phone_groups(&self, i: usize, max: usize, d: &mut [u8; 16], ends: &mut [(usize, usize); 8]) -> usize {
        let b = self.b;
        let (mut nd, mut count) = (0, 0);
        let mut k = i;
        while k < self.n && count < ends.len() {
            let t = self.toks[k];
            if !t.pure() {
                break;
            }
            let trunk = k > i && t.len() == 1 && b[t.s] == b'0' && b[t.s - 1] == b'(' && b.get(t.e) == Some(&b')');
            if !trunk {
                if nd + t.len() > max {
                    break;
                }
                for &c in &b[t.s..t.e] {
                    d[nd] = c - b'0';
                    nd += 1;
                }
                ends[count] = (k, nd);
                count += 1;
            }
            let Some(sep) = self.sep(k) else { break };
            let doubled = sep.windows(2).any(|w| w[0] == w[1] && w[0] != b' ');
            if doubled || sep.len() > 3 || (sep.contains(&b'/') && sep.len() > 1) {
                break;
            }
            k += 1;
        }
        count
    }

    /// `+CC …` with spaces, dashes, dots or parentheses: a known country code, 8-15 digits (E.164),
    /// NANP numbers exactly `+1` and ten digits.
    fn phone_international(&mut self, i: usize, out: &mut Vec<Match>) -> Option<usize> {
        let t = self.toks[i];
        let b = self.b;
        let start = match (t.s.checked_sub(1).map(|k| b[k]), t.s.checked_sub(2).map(|k| b[k])) {
            (Some(b'+'), _) => t.s - 1,
            (Some(b'('), Some(b'+')) => t.s - 2,
            _ => return None,
        };
        if start > 0 && (b[start - 1].is_ascii_alphanumeric() || b[start - 1] == b'+') {
            return None;
        }
        let mut d = [0u8; 16];
        let mut ends = [(0, 0); 8];
        let count = self.phone_groups(i, 15, &mut d, &mut ends);
        for &(k, nd) in ends[..count].iter().rev() {
            let digits = &d[..nd];
            let cc = tables::calling_code_len(digits)?;
            let ok = if digits[0] == 1 {
                nd == 11 && digits[1] >= 2 && digits[4] >= 2
            } else {
                (8..=15).contains(&nd) && nd - cc >= 6
            };
            let end = self.toks[k].e;
            if ok && free_right(b, end) {
                self.push(out, "phone", start, end, 0.7, 0.9, cx::PHONE);
                return Some(k + 1);
            }
        }
        None
    }

    /// National formats (`(555) 123-4567`, `030 1234567`, `06 12 34 56 78`) only after a phone
    /// word: without one, a run of digits is as likely an amount or an ID.
    fn phone_national(&mut self, i: usize, out: &mut Vec<Match>) -> Option<usize> {
        let t = self.toks[i];
        let b = self.b;
        let start = if t.s > 0 && b[t.s - 1] == b'(' { t.s - 1 } else { t.s };
        if start < t.s && !free_left(b, start) {
            return None;
        }
        let mut d = [0u8; 16];
        let mut ends = [(0, 0); 8];
        let count = self.phone_groups(i, 12, &mut d, &mut ends);
        // The context lookup costs more than the digit count: do it last.
        if ends[..count].iter().all(|&(_, nd)| nd < 7) || !self.has(start, cx::PHONE) {
            return None;
        }
        for (g, &(k, nd)) in ends[..count].iter().enumerate().rev() {
            let digits = &d[..nd];
            let end = self.toks[k].e;
            // Round numbers and repeated digits (`1000000`, `5555555`) are counts, not phones.
            let distinct = (0..10u8).filter(|v| digits.contains(v)).count();
            if (7..=12).contains(&nd) && g < 5 && distinct > 2 && isolated(b, t.s, end) {
                self.push(out, "phone", start, end, 0.75, 0.75, cx::PHONE);
                return Some(k + 1);
            }
        }
        None
    }

    // ---- addresses and dates ----

    /// IPv4 dotted quads. A dotted run of three or more small numbers that is not an address
    /// (`1.2.3`, `1.2.3.4.5`, `version 10.0.0.1`) is consumed as a version string.
    fn ipv4(&mut self, i: usize, out: &mut Vec<Match>) -> Option<usize> {
        let t = self.toks[i];
        if t.len() > 3 || (i > 0 && self.sep1(i - 1) == b'.') {
            return None;
        }
        let mut j = i;
        while self.sep1(j) == b'.' && self.toks[j + 1].pure() && self.toks[j + 1].len() <= 3 {
            j += 1;
        }
        if j - i + 1 < 3 {
            return None;
        }
        let end = self.toks[j].e;
        // Unlike other numbers an address may be followed by `/prefix` (CIDR).
        let right = match self.b.get(end) {
            Some(b'/') => true,
            _ => free_right(self.b, end),
        };
        if j - i + 1 == 4 && free_left(self.b, t.s) && right {
            let mut octets = [0u8; 4];
            let mut ok = true;
            for (k, tok) in self.toks[i..=j].iter().enumerate() {
                let text = &self.b[tok.s..tok.e];
                let value =
                    text.iter().fold(0u32, |acc, &c| acc.saturating_mul(10).saturating_add(u32::from(c - b'0')));
                ok &= value <= 255 && !(text.len() > 1 && text[0] == b'0');
                octets[k] = value as u8;
            }
            if ok
                && !self.inside_ipv6(t.s, end)
                && !self.has(t.s, cx::VERSION)
                && !ip::ipv4_identifies_no_one(Ipv4Addr::from(octets))
            {
                self.push(out, "ipv4", t.s, end, 0.6, 0.85, cx::IP);
            }
        }
        Some(j + 1)
    }

    /// Whether `s..e` is the IPv4 tail of an IPv6 address (`::ffff:10.0.0.1`), which the IPv6
    /// detector reports.
    fn inside_ipv6(&self, s: usize, e: usize) -> bool {
        if s == 0 || self.b[s - 1] != b':' {
            return false;
        }
        let mut k = s;
        while k > 0 && s - k < 40 && (self.b[k - 1].is_ascii_hexdigit() || self.b[k - 1] == b':') {
            k -= 1;
        }
        self.text.get(k..e).is_some_and(|c| c.parse::<Ipv6Addr>().is_ok())
    }

    /// Numeric (`1985-03-12`, `12/03/1985`, `12.03.85`) and written (`12 March 1985`,
    /// `March 12, 1985`) dates. Every date is consumed; only one near a birth word is reported.
    fn date(&mut self, i: usize, out: &mut Vec<Match>) -> Option<usize> {
        let t = self.toks[i];
        let b = self.b;
        // Saturating: a long run of digits is no date, and must not overflow on the way.
        let num = |s: usize, e: usize| {
            b[s..e].iter().fold(0u32, |acc, &c| acc.saturating_mul(10).saturating_add(u32::from(c.wrapping_sub(b'0'))))
        };
        if t.pure() && i + 2 < self.n {
            let (s1, s2) = (self.sep(i)?, self.sep(i + 1)?);
            let (m, c) = (self.toks[i + 1], self.toks[i + 2]);
            let iso_time =
                t.len() == 4 && c.len() > 3 && b[c.s..c.s + 2].iter().all(u8::is_ascii_digit) && b[c.s + 2] == b'T';
            let c_len = if c.pure() {
                c.len()
            } else if iso_time {
                2
            } else {
                0
            };
            if s1.len() == 1 && s1 == s2 && matches!(s1[0], b'-' | b'/' | b'.') && m.pure() && c_len > 0 {
                let (va, vm, vc) = (num(t.s, t.e), num(m.s, m.e), num(c.s, c.s + c_len));
                let short = |l: usize| (1..=2).contains(&l);
                let year = if t.len() == 4 && short(m.len()) && short(c_len) {
                    dates::valid(va, vm, vc).then_some(va)
                } else if short(t.len()) && short(m.len()) && (c_len == 4 || c_len == 2) {
                    let year = match c_len {
                        4 => vc,
                        _ if 2000 + vc <= self.det.max_year => 2000 + vc,
                        _ => 1900 + vc,
                    };
                    (dates::valid(year, vm, va) || dates::valid(year, va, vm)).then_some(year)
                } else {
                    None
                };
                let end = c.s + c_len;
                if let Some(year) = year
                    && free_left(b, t.s)
                    && (iso_time || free_right(b, end))
                {
                    self.birth(out, t.s, end, year);
                    return Some(i + 3);
                }
            }
        }
        // Written forms: the day is 1-2 digits, maybe with an ordinal suffix ("12th").
        let day_digits = b[t.s..t.e].iter().take_while(|c| c.is_ascii_digit()).count();
        let suffix = &b[t.s + day_digits..t.e];
        let ordinal = suffix.is_empty() || [b"st", b"nd", b"rd", b"th"].iter().any(|s| suffix.eq_ignore_ascii_case(*s));
        if !(1..=2).contains(&day_digits) || !ordinal || !free_left(b, t.s) {
            return None;
        }
        let day = num(t.s, t.s + day_digits);
        let (start, end, year) = if let Some((end, month, year)) = dates::month_year_after(self.text, t.e) {
            dates::valid(year, month, day).then_some((t.s, end, year))?
        } else {
            let (start, month) = dates::month_before(self.text, t.s)?;
            let (end, year) = dates::year_after(self.text, t.e)?;
            dates::valid(year, month, day).then_some((start, end, year))?
        };
        self.birth(out, start, end, year);
        self.resume = self.resume.max(end);
        Some(self.first_token_from(end))
    }

    /// Reports the date `s..e` as a date of birth when a birth word is near it.
    fn birth(&mut self, out: &mut Vec<Match>, s: usize, e: usize, year: u32) {
        if !(1900..=self.det.max_year).contains(&year) {
            return;
        }
        // A date with a time that starts a line is a log line's timestamp, whatever the line
        // before it said.
        let line_start = s == 0 || matches!(self.b[s - 1], b'\n' | b'\r');
        if line_start && self.b.get(e) == Some(&b'T') {
            return;
        }
        let near = self.has(s, cx::DOB) || self.cache.families(self.b, e, e + 30) & cx::DOB != 0;
        if near {
            out.push(Match {
                detector: "date_of_birth",
                category: Category::Pii,
                start: s,
                end: e,
                confidence: 0.85,
                label: None,
            });
        }
    }

    /// A street address around a house number (`221B Baker Street`, `Hauptstraße 5`).
    fn street(&mut self, i: usize, out: &mut Vec<Match>) -> Option<usize> {
        let t = self.toks[i];
        let b = self.b;
        let number = (1..=5).contains(&t.digits)
            && b[t.s].is_ascii_digit()
            && (t.pure() || (t.len() == t.digits + 1 && b[t.e - 1].is_ascii_alphabetic()));
        if !number || !free_left(b, t.s) {
            return None;
        }
        let text = self.text;
        let (s, e) = address::around_number(text, t.s, t.e, || self.has(t.s, cx::ADDRESS))?;
        self.push(out, "street_address", s, e, 0.45, 0.85, cx::ADDRESS);
        self.resume = self.resume.max(e);
        Some(self.first_token_from(e))
    }
}
