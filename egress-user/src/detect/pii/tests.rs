//! Tests of the PII detectors. Valid numbers are built here with check-digit helpers written
//! independently of the validators, so a wrong validator table cannot vouch for itself.

use super::*;
use crate::detect::{Category, Engine, Match};

fn scan(text: &str) -> Vec<Match> {
    static DETECTORS: std::sync::OnceLock<Vec<Box<dyn crate::detect::Detector>>> = std::sync::OnceLock::new();
    let mut out = Vec::new();
    for d in DETECTORS.get_or_init(detectors) {
        d.scan(text, &mut out);
    }
    for m in &out {
        assert_eq!(m.category, Category::Pii);
        assert!(m.start < m.end && m.end <= text.len(), "{m:?} in {text:?}");
        assert!(text.is_char_boundary(m.start) && text.is_char_boundary(m.end), "{m:?} in {text:?}");
        assert!(m.confidence > 0.0 && m.confidence <= 1.0, "{m:?}");
        assert!(NAMES.contains(&m.detector), "{m:?}");
    }
    out
}

/// The matched texts of one detector.
fn found<'t>(text: &'t str, detector: &str) -> Vec<&'t str> {
    scan(text).into_iter().filter(|m| m.detector == detector).map(|m| &text[m.start..m.end]).collect()
}

/// Exactly one match of `detector`, spanning `want`; returns its confidence.
#[track_caller]
fn one(text: &str, detector: &str, want: &str) -> f32 {
    let all = scan(text);
    let hits: Vec<&Match> = all.iter().filter(|m| m.detector == detector).collect();
    let [m] = hits.as_slice() else { panic!("{detector}: expected one match in {text:?}, got {all:?}") };
    assert_eq!(&text[m.start..m.end], want, "{detector} span in {text:?}");
    m.confidence
}

#[track_caller]
fn close(got: f32, want: f32) {
    assert!((got - want).abs() < 1e-5, "confidence {got}, want {want}");
}

#[track_caller]
fn none(text: &str, detector: &str) {
    let hits = found(text, detector);
    assert!(hits.is_empty(), "{detector}: expected no match in {text:?}, got {hits:?}");
}

/// Nothing at all from any PII detector.
#[track_caller]
fn nothing(text: &str) {
    let all = scan(text);
    assert!(all.is_empty(), "expected nothing in {text:?}, got {all:?}");
}

fn digits(s: &str) -> Vec<u32> {
    s.bytes().filter(u8::is_ascii_digit).map(|c| u32::from(c - b'0')).collect()
}

/// Small deterministic PRNG (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn digits(&mut self, n: usize) -> String {
        (0..n).map(|_| char::from(b'0' + self.below(10) as u8)).collect()
    }
}

// ---- independent check-digit helpers ----

/// Appends the Luhn check digit.
fn luhn_complete(body: &str) -> String {
    // Walking right to left over the body, the first digit is doubled (the check digit sits
    // to its right).
    let sum: u32 = digits(body)
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| if i % 2 == 0 { (d * 2) / 10 + (d * 2) % 10 } else { d })
        .sum();
    format!("{body}{}", (10 - sum % 10) % 10)
}

/// The check digit changed to the next value, so Luhn fails.
fn break_last(number: &str) -> String {
    let (head, last) = number.split_at(number.len() - 1);
    let d = (last.parse::<u8>().unwrap() + 1) % 10;
    format!("{head}{d}")
}

/// An IBAN with computed check digits (mod 97 over 9-digit chunks).
fn iban(country: &str, bban: &str) -> String {
    let expanded: String = format!("{bban}{country}00")
        .chars()
        .map(|c| if c.is_ascii_digit() { c.to_string() } else { (c as u32 - 'A' as u32 + 10).to_string() })
        .collect();
    let mut rem: u64 = 0;
    for chunk in expanded.as_bytes().chunks(7) {
        let part: u64 = std::str::from_utf8(chunk).unwrap().parse().unwrap();
        rem = (rem * 10u64.pow(chunk.len() as u32) + part) % 97;
    }
    format!("{country}{:02}{bban}", 98 - rem)
}

fn group4(s: &str) -> String {
    s.as_bytes().chunks(4).map(|c| std::str::from_utf8(c).unwrap()).collect::<Vec<_>>().join(" ")
}

/// German tax id: ISO 7064 MOD 11,10 written as the standard's recursion P(j) = 2·S(j) mod 11.
fn de_tax_complete(first10: &str) -> String {
    let mut p = 10;
    for d in digits(first10) {
        let s = match (d + p) % 10 {
            0 => 10,
            s => s,
        };
        p = 2 * s % 11;
    }
    let check = if p == 1 { 0 } else { 11 - p };
    format!("{first10}{check}")
}

/// French NIR key for 13 digits, Corsica 2A/2B as 19/18.
fn nir_complete(first13: &str) -> String {
    let numeric = first13.replace("2A", "19").replace("2B", "18");
    let n: u64 = numeric.parse().unwrap();
    format!("{first13}{:02}", 97 - n % 97)
}

/// Verhoeff check digit via the inverse table.
fn verhoeff_complete(body: &str) -> String {
    let (d, p) = checksum::verhoeff_tables();
    const INV: [u8; 10] = [0, 4, 3, 2, 1, 5, 6, 7, 8, 9];
    let mut c = 0u8;
    for (i, x) in digits(body).iter().rev().enumerate() {
        c = d[usize::from(c)][usize::from(p[(i + 1) % 8][*x as usize])];
    }
    format!("{body}{}", INV[usize::from(c)])
}

fn dni_letter(n: u32) -> char {
    char::from(b"TRWAGMYFPDXBNJZSQVHLCKE"[(n % 23) as usize])
}

fn cpf_complete(first9: &str) -> String {
    let mut d = digits(first9);
    for n in [9u32, 10] {
        let sum: u32 = d.iter().enumerate().map(|(i, &x)| x * (n + 1 - i as u32)).sum();
        let r = sum % 11;
        d.push(if r < 2 { 0 } else { 11 - r });
    }
    d.iter().map(|x| x.to_string()).collect()
}

#[test]
fn helpers_agree_with_published_examples() {
    assert_eq!(luhn_complete("411111111111111"), "4111111111111111");
    assert_eq!(luhn_complete("37828224631000"), "378282246310005");
    assert_eq!(iban("DE", "370400440532013000"), "DE89370400440532013000");
    assert_eq!(iban("GB", "WEST12345698765432"), "GB82WEST12345698765432");
    assert_eq!(verhoeff_complete("236"), "2363");
    assert_eq!(de_tax_complete("8609574271"), "86095742719");
    assert_eq!(cpf_complete("529982247"), "52998224725");
    assert_eq!(dni_letter(12345678), 'Z');
}

// ---- e-mail ----

#[test]
fn email_valid_with_real_tld() {
    assert_eq!(one("write to john.doe@example.com today", "email", "john.doe@example.com"), 0.9);
    one("cc: Jane+tag@mail.example.co.uk.", "email", "Jane+tag@mail.example.co.uk");
    one("<a_b-c@sub.domain.io>", "email", "a_b-c@sub.domain.io");
    one("mailto:ops@example.org", "email", "ops@example.org");
    one("xn: user@example.xn--p1ai", "email", "user@example.xn--p1ai");
    assert_eq!(one("E-mail: john@example.com", "email", "john@example.com"), 0.97);
    assert_eq!(found("a@example.com, b@example.de; c@example.fr", "email").len(), 3);
    // In a URL's path or query an address is still a mailbox.
    one("https://example.com/invite?email=jane@example.org", "email", "jane@example.org");
    one("see https://example.com/docs then mail jane@example.org", "email", "jane@example.org");
}

#[test]
fn email_rejects_fake_tlds_and_non_addresses() {
    for text in [
        "user@host.local",
        "x@y.invalid",
        "a@b.c",
        "me@localhost",
        "x@y.test",
        "svc@corp.internal",
        "npm i @types/node",
        "@here please",
        "https://user:secret@example.com/path",
        "mongodb+srv://app:RPiafsSom19U*EpvsK@cluster0.ebc8b.mongodb.net/prod",
        "https://deploy:wwzkkRv!Ujzhx*iq@jenkins.example.com/job/release/",
        "ssh://git@gitlab.example.com/group/repo.git",
        "john..doe@example.com",
        "john.@example.com",
        "j@-example.com",
        "j@example-.com",
        "logo@2x.png",
        "git clone git@github.com:org/repo.git",
    ] {
        none(text, "email");
    }
}

// ---- payment cards ----

#[test]
fn cards_of_every_issuer_pass_luhn_and_range() {
    let mut rng = Rng(7);
    let bodies = [
        format!("4{}", rng.digits(14)),                         // Visa 16
        format!("4{}", rng.digits(11)),                         // Visa 13
        format!("5{}{}", 1 + rng.below(5), rng.digits(13)),     // Mastercard 51-55
        format!("2{}{}", 221 + rng.below(500), rng.digits(11)), // Mastercard 2-series
        format!("6011{}", rng.digits(11)),                      // Discover
        format!("65{}", rng.digits(13)),                        // Discover
        format!("35{}{}", 28 + rng.below(62), rng.digits(11)),  // JCB
        format!("62{}", rng.digits(13)),                        // UnionPay 16
        format!("62{}", rng.digits(16)),                        // UnionPay 19
        format!("6759{}", rng.digits(11)),                      // Maestro
        format!("30{}{}", rng.below(6), rng.digits(10)),        // Diners 14
    ];
    for body in bodies {
        let card = luhn_complete(&body);
        assert_eq!(one(&format!("pay with {card} now"), "credit_card", &card), 0.8, "{card}");
        if card.len() == 16 {
            let spaced = group4(&card);
            one(&format!("number {spaced}."), "credit_card", &spaced);
            let dashed = spaced.replace(' ', "-");
            one(&format!("({dashed})"), "credit_card", &dashed);
        }
        none(&format!("pay with {} now", break_last(&card)), "credit_card");
    }
}

#[test]
fn amex_groups_and_test_numbers_are_findings() {
    let amex = luhn_complete("37828224631000");
    let grouped = format!("{} {} {}", &amex[..4], &amex[4..10], &amex[10..]);
    assert_eq!(one(&format!("Amex: {grouped}"), "credit_card", &grouped), 0.95);
    // Well-known test numbers are real-format: an agent leaking one is still a finding.
    one("card 4111111111111111", "credit_card", "4111111111111111");
    one("use 5555 5555 5555 4444 for testing", "credit_card", "5555 5555 5555 4444");
}

#[test]
fn card_hard_negatives() {
    for text in [
        "1234 5678 9012 3456",
        "4111111111111112",
        "4111 1111-1111 1111",
        "94111111111111111",
        "id_4111111111111111",
        "order 41111111111111119999",
        "v4111111111111111",
        "0.4111111111111111",
        // Luhn-valid but no issuer uses the prefix.
        &luhn_complete("123456789012345"),
        &luhn_complete("999999999999999"),
    ] {
        none(text, "credit_card");
    }
}

#[test]
fn card_context_raises_confidence_only_nearby() {
    let card = luhn_complete("453201511283036");
    assert_eq!(one(&format!("Visa {card}"), "credit_card", &card), 0.95);
    assert_eq!(one(&format!("my cc: {card}"), "credit_card", &card), 0.95);
    let far = format!("card {} {card}", "x".repeat(60));
    assert_eq!(one(&far, "credit_card", &card), 0.8);
    // "cc" inside another word is no context.
    assert_eq!(one(&format!("accept {card}"), "credit_card", &card), 0.8);
}

// ---- IBAN ----

#[test]
fn iban_compact_and_grouped() {
    for code in [
        "DE89370400440532013000".to_string(),
        "GB82WEST12345698765432".to_string(),
        iban("NO", "86011117947"),
        iban("MT", "MALT011000012345MTLCAST001S"),
        iban("FR", "20041010050500013M02606"),
        iban("BE", "539007547034"),
    ] {
        assert_eq!(one(&format!("pay to {code}."), "iban", &code), 0.9, "{code}");
        let spaced = group4(&code);
        assert_eq!(one(&format!("IBAN: {spaced}, thanks"), "iban", &spaced), 0.98, "{spaced}");
    }
}

#[test]
fn iban_hard_negatives() {
    let good = "DE89370400440532013000";
    none("DE89370400440532013001", "iban"); // checksum
    none("DE8937040044053201300", "iban"); // length for DE
    none("DE89 3704 0044 0532 0130 0", "iban");
    none("XX89370400440532013000", "iban"); // no such country
    none(&format!("{good}7"), "iban");
    none(&format!("x{good}"), "iban");
    none(&good.to_lowercase(), "iban");
}

// ---- US SSN ----

#[test]
fn ssn_formats_and_context() {
    assert_eq!(one("ssn 123-45-6789", "us_ssn", "123-45-6789"), 0.95);
    assert_eq!(one("ref 123-45-6789 ok", "us_ssn", "123-45-6789"), 0.7);
    assert_eq!(one("Social Security: 123456789", "us_ssn", "123456789"), 0.95);
    none("order 123456789 shipped", "us_ssn");
    assert!(one("id 123 45 6789", "us_ssn", "123 45 6789") < 0.5);
}

#[test]
fn ssn_invalid_ranges_rejected() {
    for ssn in ["666-12-3456", "000-12-3456", "900-12-3456", "999-12-3456", "123-00-4567", "123-45-0000"] {
        none(&format!("SSN: {ssn}"), "us_ssn");
    }
    none("SSN: 078-05-1120", "us_ssn"); // voided: printed in a wallet advertisement
    none("SSN: 123-45-67890", "us_ssn");
    none("x-123-45-6789", "us_ssn");
    none("123-45-6789-1", "us_ssn");
}

// ---- national identifiers ----

#[test]
fn uk_nino() {
    assert_eq!(one("NI number: AB123456C", "uk_nino", "AB123456C"), 0.95);
    assert_eq!(one("it is AB 12 34 56 C.", "uk_nino", "AB 12 34 56 C"), 0.75);
    one("ref JG 103759 A", "uk_nino", "JG 103759 A");
    one("ref JG103759 A", "uk_nino", "JG103759 A");
    for bad in ["DA123456C", "AO123456C", "GB123456A", "NK123456A", "ZZ123456A", "AB123456E", "QQ123456C"] {
        none(&format!("NINO {bad}"), "uk_nino");
    }
    none("AB123456", "uk_nino");
    none("XAB123456C", "uk_nino");
}

#[test]
fn de_tax_id() {
    let id = de_tax_complete("8609574271");
    assert_eq!(one(&format!("Steuer-ID: {id}"), "de_tax_id", &id), 0.95);
    none(&format!("Rechnung {id}"), "de_tax_id");
    let spaced = format!("{} {} {} {}", &id[..2], &id[2..5], &id[5..8], &id[8..]);
    assert_eq!(one(&format!("Nr. {spaced}"), "de_tax_id", &spaced), 0.6);
    none(&format!("Steuer-ID: {}", break_last(&id)), "de_tax_id");
    // Ten different digits: no digit repeats, so not an IdNr even with a right check digit.
    none(&format!("Steuer-ID: {}", de_tax_complete("1234567890")), "de_tax_id");
    // A digit three times in a row is not issued; three times apart is.
    none(&format!("Steuer-ID: {}", de_tax_complete("1112345678")), "de_tax_id");
    let apart = de_tax_complete("1213145678");
    one(&format!("Steuer-ID: {apart}"), "de_tax_id", &apart);
    none(&format!("Steuer-ID: {}", de_tax_complete("0213456789")), "de_tax_id");
}

#[test]
fn fr_nir() {
    let nir = nir_complete("1850578006084");
    assert_eq!(one(&format!("NIR {nir}"), "fr_nir", &nir), 0.95);
    one(&format!("no {nir} ok"), "fr_nir", &nir);
    let spaced = format!(
        "{} {} {} {} {} {} {}",
        &nir[..1],
        &nir[1..3],
        &nir[3..5],
        &nir[5..7],
        &nir[7..10],
        &nir[10..13],
        &nir[13..]
    );
    one(&format!("sécu : {spaced}"), "fr_nir", &spaced);
    let corsica = nir_complete("285072A004123");
    one(&format!("NIR {corsica}"), "fr_nir", &corsica);
    let corsica_b = nir_complete("199012B004123");
    one(&format!("NIR {corsica_b}"), "fr_nir", &corsica_b);
    none(&format!("NIR {}", break_last(&nir)), "fr_nir");
    none(&format!("NIR {}", nir_complete("1851378006084")), "fr_nir"); // month 13
    none(&format!("NIR {}", nir_complete("5850578006084")), "fr_nir"); // sex digit
}

#[test]
fn in_aadhaar() {
    let mut rng = Rng(11);
    for _ in 0..20 {
        let id = verhoeff_complete(&format!("{}{}", 2 + rng.below(8), rng.digits(10)));
        let grouped = format!("{} {} {}", &id[..4], &id[4..8], &id[8..]);
        assert_eq!(one(&format!("id {grouped} ok"), "in_aadhaar", &grouped), 0.6);
        assert_eq!(one(&format!("Aadhaar: {id}"), "in_aadhaar", &id), 0.95);
        assert_eq!(one(&format!("ref {id}"), "in_aadhaar", &id), 0.4);
        none(&format!("Aadhaar: {}", break_last(&id)), "in_aadhaar");
    }
    let starts_with_one = verhoeff_complete("12345678901");
    none(&format!("Aadhaar: {starts_with_one}"), "in_aadhaar");
    // Twelve digits inside a run of four-digit groups are not an Aadhaar number.
    let id = verhoeff_complete("23456789012");
    none(&format!("{} {} {} 4444", &id[..4], &id[4..8], &id[8..]), "in_aadhaar");
}

#[test]
fn es_dni_and_nie() {
    let mut rng = Rng(5);
    for _ in 0..10 {
        let n = rng.digits(8);
        let dni = format!("{n}{}", dni_letter(n.parse().unwrap()));
        assert_eq!(one(&format!("DNI {dni}"), "es_dni", &dni), 0.95);
        let dashed = format!("{n}-{}", dni_letter(n.parse().unwrap()));
        one(&format!("is {dashed}."), "es_dni", &dashed);
        let wrong = format!("{n}{}", dni_letter(n.parse::<u32>().unwrap() + 1));
        none(&format!("DNI {wrong}"), "es_dni");

        let body = rng.digits(7);
        for (prefix, lead) in [('X', 0u32), ('Y', 1), ('Z', 2)] {
            let letter = dni_letter(lead * 10_000_000 + body.parse::<u32>().unwrap());
            let nie = format!("{prefix}{body}{letter}");
            assert_eq!(one(&format!("NIE: {nie}"), "es_nie", &nie), 0.95);
            let dashed = format!("{prefix}-{body}-{letter}");
            one(&format!("NIE {dashed}"), "es_nie", &dashed);
        }
    }
    none("NIE W1234567L", "es_nie");
}

#[test]
fn nl_bsn_needs_context_and_elfproef() {
    assert_eq!(one("BSN: 111222333", "nl_bsn", "111222333"), 0.85);
    none("order 111222333", "nl_bsn");
    none("BSN: 111222334", "nl_bsn");
}

#[test]
fn it_codice_fiscale() {
    assert_eq!(one("CF: RSSMRA85T10A562S", "it_codice_fiscale", "RSSMRA85T10A562S"), 0.97);
    one("codice MRTMTT25D09F205Z.", "it_codice_fiscale", "MRTMTT25D09F205Z");
    none("CF: RSSMRA85T10A562T", "it_codice_fiscale");
    none("CF: RSSMRA85Z10A562S", "it_codice_fiscale"); // Z is no month letter
}

#[test]
fn br_cpf() {
    let cpf = cpf_complete("529982247");
    let formatted = format!("{}.{}.{}-{}", &cpf[..3], &cpf[3..6], &cpf[6..9], &cpf[9..]);
    assert_eq!(one(&format!("doc {formatted}"), "br_cpf", &formatted), 0.8);
    assert_eq!(one(&format!("CPF {cpf}"), "br_cpf", &cpf), 0.95);
    none("doc 111.111.111-11", "br_cpf");
    none(&format!("doc {}", break_last(&formatted)), "br_cpf");
    none(&format!("doc {cpf}"), "br_cpf");
}

// ---- phone numbers ----

#[test]
fn international_phone_numbers() {
    for number in [
        "+44 20 7946 0958",
        "+1 (415) 555-2671",
        "+1-415-555-2671",
        "+49 (0)30 1234567",
        "+33 1 23 45 67 89",
        "+91 98765 43210",
        "+4915112345678",
        "+353 1 234 5678",
        "+81 3-1234-5678",
    ] {
        assert_eq!(one(&format!("reach me on {number}."), "phone", number), 0.7, "{number}");
    }
    assert_eq!(one("Tel: +44 20 7946 0958", "phone", "+44 20 7946 0958"), 0.9);
    for bad in ["+1 415 555", "+999 123456789", "+1 015 555 2671", "+44 20", "a+44 20 7946 0958", "C++ 11"] {
        none(bad, "phone");
    }
}

#[test]
fn national_phone_numbers_need_context() {
    one("Call me at (415) 555-2671 tonight", "phone", "(415) 555-2671");
    one("Tel. 030 1234567", "phone", "030 1234567");
    one("mobile: 06 12 34 56 78", "phone", "06 12 34 56 78");
    none("ticket (415) 555-2671", "phone");
    none("costs 030 1234567", "phone");
    assert_eq!(found("phone: 1234567, count 1000000", "phone"), ["1234567"]);
    // Dates, versions and cards are what they are, even after a phone word.
    none("call on 2024-01-15", "phone");
    none("phone firmware 1.2.3.4", "phone");
    let card = luhn_complete("411111111111111");
    none(&format!("call {card}"), "phone");
    one(&format!("call {card}"), "credit_card", &card);
}

// ---- IP addresses ----

#[test]
fn ipv4_addresses() {
    assert_eq!(one("from 8.8.8.8 today", "ipv4", "8.8.8.8"), 0.6);
    close(one("client 81.2.69.160:8080", "ipv4", "81.2.69.160"), 0.85);
    one("server at 151.101.1.69.", "ipv4", "151.101.1.69");
    for bad in
        ["1.2.3.4.5", "v1.2.3.4", "version 1.2.3.4", "256.1.1.1", "01.2.3.4", "1.2.3", "a1.2.3.4", "1.2.3.4.5678"]
    {
        none(bad, "ipv4");
    }
}

#[test]
fn addresses_that_identify_no_one_are_not_pii() {
    for local in [
        "curl -s http://127.0.0.1:9000/healthz",
        "Listening on 0.0.0.0:8080",
        "host 192.168.1.10:8080",
        "net 10.0.0.0/8",
        "peer 172.20.3.4 down",
        "metadata at 169.254.169.254",
        "CGNAT 100.64.12.9",
        "example 203.0.113.7 and 198.51.100.23 and 192.0.2.1",
        "multicast 239.255.255.250, broadcast 255.255.255.255",
    ] {
        none(local, "ipv4");
    }
    for local in [
        "bind ::1 port 6379",
        "link fe80::1ff:fe23:4567:890a.",
        "ula fd12:3456:789a::1 here",
        "url [2001:db8:85a3::8a2e:370:7334]:443",
        "mapped ::ffff:10.1.2.3 here",
    ] {
        none(local, "ipv6");
    }
}

#[test]
fn ipv6_addresses() {
    close(one("peer 2606:4700:4700::1111 ok", "ipv6", "2606:4700:4700::1111"), 0.85);
    one("url [2a00:1450:4001:82a::200e]:443", "ipv6", "2a00:1450:4001:82a::200e");
    one("mapped ::ffff:81.2.69.160 here", "ipv6", "::ffff:81.2.69.160");
    none("mapped ::ffff:81.2.69.160 here", "ipv4");
    one("full 2a02:8108:0000:0000:0000:ff00:0042:8329", "ipv6", "2a02:8108:0000:0000:0000:ff00:0042:8329");
    for bad in ["std::vector", "a::b", "12:30:45", "00:1a:2b:3c:4d:5e", "Self::Add", "de:ad:be:ef", "1::2::3"] {
        none(bad, "ipv6");
    }
}

// ---- dates of birth ----

#[test]
fn dates_of_birth_near_birth_words() {
    one("DOB: 1985-03-12", "date_of_birth", "1985-03-12");
    one("dob 1985-03-12T00:00:00Z", "date_of_birth", "1985-03-12");
    one("she was born on 12 March 1985 in Leeds", "date_of_birth", "12 March 1985");
    one("Date of birth: 03/12/1985", "date_of_birth", "03/12/1985");
    one("profile update date_of_birth=\"1944-06-06\"", "date_of_birth", "1944-06-06");
    one("dateOfBirth: 16.09.1973", "date_of_birth", "16.09.1973");
    // The next log line's timestamp is not a second date of birth.
    one(
        "2025-05-01T09:23:46Z INFO update date_of_birth=\"1944-06-06\"\n2025-05-01T09:23:47Z INFO done",
        "date_of_birth",
        "1944-06-06",
    );
    one("Geburtsdatum: 12.03.1985", "date_of_birth", "12.03.1985");
    one("birthday is March 12, 1985.", "date_of_birth", "March 12, 1985");
    one("née le 4 février 1990", "date_of_birth", "4 février 1990");
    one("born 1st of May, 1970", "date_of_birth", "1st of May, 1970");
    one("12/03/1985 (date of birth)", "date_of_birth", "12/03/1985");
    for bad in [
        "Meeting on 1985-03-12",
        "dob: 1985-02-30",
        "dob: 1985-13-01",
        "born 2999-01-01",
        "born 12 Smarch 1985",
        "dob 1.2.3",
    ] {
        none(bad, "date_of_birth");
    }
    let far = format!("born {} 1985-03-12", "y".repeat(60));
    none(&far, "date_of_birth");
}

// ---- street addresses ----

#[test]
fn street_addresses() {
    assert_eq!(one("visit 221B Baker Street today", "street_address", "221B Baker Street"), 0.45);
    assert_eq!(one("He lives at 1600 Pennsylvania Avenue NW.", "street_address", "1600 Pennsylvania Avenue"), 0.85);
    one("ship to 350 5th Ave, New York", "street_address", "350 5th Ave");
    one("adresse : 12 rue de la Paix, Paris", "street_address", "12 rue de la Paix");
    one("Anschrift: Hauptstraße 5, Berlin", "street_address", "Hauptstraße 5");
    one("wohnt in der Berliner Straße 12a", "street_address", "Berliner Straße 12a");
    one("Kerkstraat 12, Amsterdam", "street_address", "Kerkstraat 12");
    for bad in ["I walked 5 miles down the road", "Top 10 Best Road Trips", "Chapter 3 The Long Road", "3 Street"] {
        none(bad, "street_address");
    }
}

#[test]
fn street_addresses_with_less_common_type_words_need_context() {
    // A unit or a city line after the street, or an address word before it.
    one(
        "moved to 679 Baker Rapids, East April, RI 84379 last month",
        "street_address",
        "679 Baker Rapids, East April, RI 84379",
    );
    one(
        "ship it to 537 Fox Causeway Apt. 055, Lishire, TX 58467.",
        "street_address",
        "537 Fox Causeway Apt. 055, Lishire, TX 58467",
    );
    one("created 836 Daniels Ford Suite 259 today", "street_address", "836 Daniels Ford Suite 259");
    close(one("Home address: 5021 Brandon Hollow", "street_address", "5021 Brandon Hollow"), 0.85);
    // A common type word takes its unit and city line along.
    one(
        "at 221 Baker Street, Apt 4B, Springfield, IL 62704-1234 now",
        "street_address",
        "221 Baker Street, Apt 4B, Springfield, IL 62704-1234",
    );
    for bad in [
        "We won 3 Green Keys in the raffle",
        "Open 24 Hours Station Guide",
        "she scored 12 Points Union rules",
        "Rated 5 Stars Hollow Knight review",
        "Call 2 Lakes Park now, 3 Union Station",
    ] {
        none(bad, "street_address");
    }
}

// ---- cross-family hard negatives ----

#[test]
fn codes_hashes_versions_timestamps_are_not_pii() {
    for text in [
        "550e8400-e29b-41d4-a716-446655440000",
        "commit 3f2a9b1c4d5e6f708192a3b4c5d6e7f809102030",
        "commit 9402847561938475610293847561029384756102",
        "ts 1700000000 and 1712345678901",
        "at 2024-01-15T10:30:00Z",
        "version v1.2.3.4 and 1.2.3.4.5 and 10.0.19045.3803",
        "sha256:4111111111111111222233334444555566667777888899990000aaaabbbbcccc",
        "price 1,234,567.89 EUR",
        "pi 3.14159265358979",
        "step 1 of 5, page 10 of 200",
        "port 8080 pid 4242",
    ] {
        nothing(text);
    }
}

// ---- robustness ----

#[test]
fn never_panics_on_random_text() {
    let pieces: &[&str] = &[
        "0", "1", "4", "9", "12", "123", "4111", " ", "-", ".", "/", "(", ")", "+", "@", ":", "::", "a", "Z", "X", "é",
        "ß", "😀", "\u{200b}", "\u{301}", "Straße", " St", " rue ", "born ", "card ", "IBAN ", "DE89", "ffff", "x.com",
        "\n", "\t", "_", ",", "'", "2A", "AB", "C", "March ", "1985", "٣", "１", "\u{0}",
    ];
    let mut rng = Rng(0x5eed);
    let mut total = 0;
    for _ in 0..4000 {
        let len = 1 + rng.below(40) as usize;
        let text: String = (0..len).map(|_| pieces[rng.below(pieces.len() as u64) as usize]).collect();
        total += scan(&text).len();
    }
    // Random soup occasionally forms something valid; it must not form much.
    assert!(total < 4000, "{total} matches in random text");
    // Arbitrary bytes, as a lossy decode of a binary body would present them.
    for _ in 0..500 {
        let bytes: Vec<u8> = (0..rng.below(300)).map(|_| rng.next() as u8).collect();
        scan(&String::from_utf8_lossy(&bytes));
    }
}

#[test]
fn digits_next_to_emoji_and_non_ascii() {
    let card = luhn_complete("411111111111111");
    one(&format!("😀{card}😀"), "credit_card", &card);
    one(&format!("é{card}é"), "credit_card", &card);
    one("😀john@example.com😀", "email", "john@example.com");
    one("«8.8.8.8»", "ipv4", "8.8.8.8");
    nothing("٣٣٣٣٣٣٣٣٣٣٣٣٣٣٣٣ １２３４");
}

#[test]
fn tables_are_well_formed() {
    let tlds: Vec<&str> = tables::TLDS.split_ascii_whitespace().collect();
    assert!(tlds.len() > 500, "{}", tlds.len());
    let mut sorted = tlds.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted.len(), tlds.len(), "duplicate TLD");
    assert!(tlds.iter().all(|t| t.len() >= 2 && t.bytes().all(|c| c.is_ascii_lowercase())));
    for absent in ["local", "localhost", "invalid", "test", "example", "internal", "lan", "corp", "home", "c"] {
        assert!(!tlds.contains(&absent), "{absent}");
    }
    // Binary search needs order; a prefix-free set makes the code length unambiguous.
    let codes = tables::CALLING_CODES;
    assert!(codes.windows(2).all(|w| w[0] < w[1]));
    for &c in codes {
        for &d in codes {
            let (short, long) = (c.to_string(), d.to_string());
            assert!(c == d || !long.starts_with(&short), "{c} is a prefix of {d}");
        }
    }
    assert_eq!(tables::iban_length(*b"DE"), Some(22));
    assert_eq!(tables::iban_length(*b"NO"), Some(15));
    assert_eq!(tables::iban_length(*b"RU"), Some(33));
    assert_eq!(tables::iban_length(*b"US"), None);
}

#[test]
fn context_word_masks_match_byte_tests() {
    let mut rng = Rng(9);
    let alphabet = b"aZ09 _-:@\x7f\x80\xc3\xa9\xff`{[/";
    for len in 0..=64 {
        let block: Vec<u8> = (0..len).map(|_| alphabet[rng.below(alphabet.len() as u64) as usize]).collect();
        let (alpha, alnum) = context::masks(&block);
        for (k, c) in block.iter().enumerate() {
            assert_eq!(alpha >> k & 1 == 1, c.is_ascii_alphabetic(), "{block:?} at {k}");
            assert_eq!(alnum >> k & 1 == 1, c.is_ascii_alphanumeric(), "{block:?} at {k}");
        }
        if len < 64 {
            assert_eq!((alpha >> len, alnum >> len), (0, 0));
        }
    }
}

#[test]
fn context_cache_agrees_with_a_fresh_search() {
    let ctx = context::Context::new();
    let pieces: &[&str] = &[
        "card ",
        "Card:",
        "cc ",
        "accent ",
        "date of birth ",
        "IBAN",
        " ",
        "x",
        "1234 ",
        "née le ",
        "é",
        "😀",
        "-mail ",
        "steueridentifikationsnummer ",
        "phone",
        "(tel)",
        "\n",
    ];
    let mut rng = Rng(21);
    for _ in 0..300 {
        let text: String = (0..60).map(|_| pieces[rng.below(pieces.len() as u64) as usize]).collect();
        let b = text.as_bytes();
        let mut cache = context::Cache::new(&ctx);
        let mut at = 0usize;
        for _ in 0..40 {
            // Mostly forward, sometimes back or far ahead, as the detectors ask.
            at = match rng.below(10) {
                0 => at.saturating_sub(rng.below(80) as usize),
                1 => at + rng.below(400) as usize,
                _ => at + rng.below(30) as usize,
            }
            .min(b.len());
            let fresh = ctx.families(b, at.saturating_sub(context::BEFORE), at);
            assert_eq!(cache.before(b, at), fresh, "at {at} in {text:?}");
        }
    }
}

#[test]
fn verhoeff_tables_are_the_dihedral_group() {
    let (d, p) = checksum::verhoeff_tables();
    // D5: identity 0, every element has an inverse, associative.
    for a in 0..10 {
        assert_eq!(d[0][a], a as u8);
        assert_eq!(d[a][0], a as u8);
        assert!((0..10).any(|b| d[a][b] == 0));
        for b in 0..10 {
            for c in 0..10 {
                assert_eq!(d[usize::from(d[a][b])][c], d[a][usize::from(d[b][c])]);
            }
        }
    }
    // p[k] is the k-th power of the permutation p[1].
    for k in 1..8 {
        for x in 0..10 {
            assert_eq!(p[k][x], p[k - 1][usize::from(p[1][x])]);
        }
    }
    // Verhoeff catches every single-digit error and adjacent transposition.
    let mut rng = Rng(3);
    for _ in 0..200 {
        let n = verhoeff_complete(&rng.digits(11));
        let mut b: Vec<u8> = digits(&n).iter().map(|&x| x as u8).collect();
        assert!(checksum::verhoeff(&b));
        let i = rng.below(11) as usize;
        if b[i] != b[i + 1] {
            b.swap(i, i + 1);
            assert!(!checksum::verhoeff(&b), "{n} transposed at {i}");
            b.swap(i, i + 1);
        }
        b[i] = (b[i] + 1 + rng.below(9) as u8) % 10;
        assert!(!checksum::verhoeff(&b), "{n} changed at {i}");
    }
}

#[test]
fn engine_maps_findings_to_payload() {
    let card = luhn_complete("411111111111111");
    let payload = format!(r#"{{"messages":[{{"role":"user","content":"card {card}, mail a@example.com"}}]}}"#);
    let findings = Engine::new(detectors(), [1; 16], 2).scan(payload.as_bytes());
    let names: Vec<&str> = findings.iter().map(|f| f.detector).collect();
    assert_eq!(names, ["credit_card", "email"]);
    assert_eq!(&payload[findings[0].start..findings[0].end], card);
}

// ---- throughput (not a timed assertion) ----

fn chat_json_4k() -> String {
    let card = luhn_complete("411111111111111");
    let turns = [
        "Can you summarise the attached meeting notes from 2024-03-14 and list the action items?",
        "Sure. The team agreed to ship version 2.3.1 by Friday; Maria owns the release notes.",
        "Also email the summary to maria.rossi@example.com and copy ops@example.org please.",
        "The customer paid with card {card} and asked for a refund of 129.99 EUR.",
        "Server 10.0.12.7 returned HTTP 503 for 12 minutes; see ticket #48213 for the logs.",
        "Call the vendor at +44 20 7946 0958 if the shipment to 221B Baker Street is late.",
        "Rewrite this function so it returns early when the list is empty and add unit tests.",
    ];
    let mut out = String::from(r#"{"model":"gpt-4o","messages":["#);
    let mut k = 0;
    while out.len() < 4000 {
        let text = turns[k % turns.len()].replace("{card}", &card);
        let role = if k % 2 == 0 { "user" } else { "assistant" };
        out.push_str(&format!(r#"{{"role":"{role}","content":"{text}"}},"#));
        k += 1;
    }
    out.truncate(4096 - 2);
    out.push_str("]}");
    out
}

fn lorem_4m() -> String {
    let words = [
        "lorem",
        "ipsum",
        "dolor",
        "sit",
        "amet",
        "consectetur",
        "adipiscing",
        "elit",
        "sed",
        "do",
        "eiusmod",
        "tempor",
        "incididunt",
        "ut",
        "labore",
        "et",
        "dolore",
        "magna",
        "aliqua.",
        "Ut",
        "enim",
        "ad",
        "minim",
        "veniam,",
    ];
    let mut rng = Rng(42);
    let mut out = String::with_capacity(4 << 20);
    while out.len() < 4 << 20 {
        if rng.below(200) == 0 {
            out.push_str(&format!("{} ", rng.below(100_000)));
        } else {
            out.push_str(words[rng.below(words.len() as u64) as usize]);
            out.push(' ');
        }
    }
    out
}

/// CPU time of this thread: the timings below should not depend on what else the machine runs.
fn thread_cpu_secs() -> f64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0);
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

/// `cargo test --release -p egress-user --lib detect::pii::tests::throughput -- --ignored --nocapture`
///
/// Reports the best and the median of several batches, in thread CPU time.
#[test]
#[ignore = "prints timings; run in release"]
fn throughput() {
    let dets = detectors();
    let mut out = Vec::new();
    for (name, text, rounds) in [("chat JSON 4 KiB", chat_json_4k(), 2_000), ("prose 4 MiB", lorem_4m(), 2)] {
        let mut per_scan: Vec<f64> = (0..15)
            .map(|_| {
                let start = thread_cpu_secs();
                for _ in 0..rounds {
                    out.clear();
                    for d in &dets {
                        d.scan(std::hint::black_box(&text), &mut out);
                    }
                }
                (thread_cpu_secs() - start) / rounds as f64
            })
            .collect();
        per_scan.sort_by(f64::total_cmp);
        let (best, median) = (per_scan[0], per_scan[per_scan.len() / 2]);
        let mb_s = |secs: f64| text.len() as f64 / secs / 1e6;
        println!(
            "{name}: {} bytes, {} matches; best {:.2} µs/scan = {:.0} MB/s; median {:.2} µs/scan = {:.0} MB/s",
            text.len(),
            out.len(),
            best * 1e6,
            mb_s(best),
            median * 1e6,
            mb_s(median)
        );
    }
}
