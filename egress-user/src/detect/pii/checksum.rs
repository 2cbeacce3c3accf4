//! Check-digit and structure rules of the numbers the PII detectors report. Digit slices hold
//! values 0-9 (not ASCII); code slices hold upper-case ASCII.

/// Luhn (mod 10) check over the whole number, check digit last.
pub(super) fn luhn(digits: &[u8]) -> bool {
    let mut sum = 0u32;
    for (i, &d) in digits.iter().rev().enumerate() {
        let d = u32::from(d);
        sum += if i % 2 == 1 {
            let x = d * 2;
            if x > 9 { x - 9 } else { x }
        } else {
            d
        };
    }
    sum.is_multiple_of(10)
}

fn prefix(digits: &[u8], len: usize) -> u32 {
    digits.iter().take(len).fold(0u32, |acc, &d| acc * 10 + u32::from(d))
}

/// Card issuer by prefix (IIN range) and length. Only numbers an issuer could hand out.
pub(super) fn card_issuer(digits: &[u8]) -> Option<&'static str> {
    let len = digits.len();
    let (p2, p3, p4, p6) = (prefix(digits, 2), prefix(digits, 3), prefix(digits, 4), prefix(digits, 6));
    let long = (16..=19).contains(&len);
    let issuer = match digits.first()? {
        4 if matches!(len, 13 | 16 | 19) => "visa",
        5 if (51..=55).contains(&p2) && len == 16 => "mastercard",
        5 if matches!(p4, 5018 | 5020 | 5038 | 5893) && (13..=19).contains(&len) => "maestro",
        2 if (2221..=2720).contains(&p4) && len == 16 => "mastercard",
        2 if (2200..=2204).contains(&p4) && len == 16 => "mir",
        3 if matches!(p2, 34 | 37) && len == 15 => "amex",
        3 if (3528..=3589).contains(&p4) && long => "jcb",
        3 if ((300..=305).contains(&p3) || p4 == 3095 || matches!(p2, 36 | 38 | 39)) && (14..=19).contains(&len) => {
            "diners"
        }
        6 if (622126..=622925).contains(&p6) && long => "discover",
        6 if (p4 == 6011 || (644..=649).contains(&p3) || p2 == 65) && long => "discover",
        6 if p2 == 62 && long => "unionpay",
        6 if matches!(p4, 6304 | 6759 | 6761..=6763) && (13..=19).contains(&len) => "maestro",
        _ => return None,
    };
    Some(issuer)
}

/// ISO 13616 IBAN check: country and check digits moved to the end, letters as 10-35, the
/// whole number mod 97 must be 1.
pub(super) fn iban_valid(code: &[u8]) -> bool {
    if code.len() < 5 || !code[2].is_ascii_digit() || !code[3].is_ascii_digit() {
        return false;
    }
    let mut rem = 0u32;
    for &c in code[4..].iter().chain(&code[..4]) {
        rem = match c {
            b'0'..=b'9' => (rem * 10 + u32::from(c - b'0')) % 97,
            b'A'..=b'Z' => (rem * 100 + u32::from(c - b'A') + 10) % 97,
            _ => return false,
        };
    }
    rem == 1
}

/// US SSN ranges the SSA never issues: area 000, 666, 900-999; group 00; serial 0000. Also the
/// two numbers voided after appearing in advertising (078-05-1120, 219-09-9999).
pub(super) fn ssn_valid(d: &[u8]) -> bool {
    if d.len() != 9 {
        return false;
    }
    let (area, group, serial) = (prefix(d, 3), prefix(&d[3..], 2), prefix(&d[5..], 4));
    let voided = matches!(prefix(d, 9), 78_051_120 | 219_099_999);
    area != 0 && area != 666 && area < 900 && group != 0 && serial != 0 && !voided
}

/// UK National Insurance number `AB123456C`: letters D F I Q U V never first, D F I O Q U V
/// never second, a few prefixes never allocated, suffix A-D.
pub(super) fn nino_valid(code: &[u8]) -> bool {
    let [a, b, rest @ .., suffix] = code else { return false };
    rest.len() == 6
        && rest.iter().all(u8::is_ascii_digit)
        && a.is_ascii_uppercase()
        && b.is_ascii_uppercase()
        && !matches!(a, b'D' | b'F' | b'I' | b'Q' | b'U' | b'V')
        && !matches!(b, b'D' | b'F' | b'I' | b'O' | b'Q' | b'U' | b'V')
        && !matches!(&[*a, *b], b"BG" | b"GB" | b"NK" | b"KN" | b"TN" | b"NT" | b"ZZ")
        && matches!(suffix, b'A'..=b'D')
}

/// German Steuer-IdNr: 11 digits, no leading 0, in the first ten exactly one digit repeated
/// (twice, or three times but not three in a row), ISO 7064 MOD 11,10 check digit.
pub(super) fn de_tax_id_valid(d: &[u8]) -> bool {
    if d.len() != 11 || d[0] == 0 {
        return false;
    }
    let mut counts = [0u8; 10];
    for &x in &d[..10] {
        counts[usize::from(x)] += 1;
    }
    let mut repeated = (0..10u8).filter(|&x| counts[usize::from(x)] > 1);
    let (Some(digit), None) = (repeated.next(), repeated.next()) else { return false };
    match counts[usize::from(digit)] {
        2 => {}
        3 => {
            let run = d[..10].windows(3).any(|w| w.iter().all(|&x| x == digit));
            if run {
                return false;
            }
        }
        _ => return false,
    }
    u8::try_from(iso7064_mod11_10(&d[..10])).ok() == Some(d[10])
}

/// ISO 7064 MOD 11,10 check digit of `digits`.
pub(super) fn iso7064_mod11_10(digits: &[u8]) -> u32 {
    let mut product = 10u32;
    for &x in digits {
        let mut sum = (u32::from(x) + product) % 10;
        if sum == 0 {
            sum = 10;
        }
        product = (sum * 2) % 11;
    }
    (11 - product) % 10
}

/// French NIR (social security number), 15 characters: sex, year, month, department (2A/2B for
/// Corsica), commune, order, key = 97 - (first 13 digits mod 97), Corsica counted as 19/18.
pub(super) fn fr_nir_valid(code: &[u8]) -> bool {
    if code.len() != 15 || !matches!(code[0], b'1' | b'2' | b'3' | b'4' | b'7' | b'8') {
        return false;
    }
    let num = |range: std::ops::Range<usize>| -> Option<u64> {
        code[range].iter().try_fold(0u64, |acc, &c| c.is_ascii_digit().then(|| acc * 10 + u64::from(c - b'0')))
    };
    let (Some(month), Some(commune), Some(order), Some(key)) = (num(3..5), num(7..10), num(10..13), num(13..15)) else {
        return false;
    };
    if !(matches!(month, 1..=12 | 20..=42 | 50..=99) && commune != 0 && order != 0 && (1..=97).contains(&key)) {
        return false;
    }
    if num(1..3).is_none() {
        return false;
    }
    let dept: u64 = match &code[5..7] {
        b"2A" => 19,
        b"2B" => 18,
        _ => match num(5..7) {
            Some(0) | None => return false,
            Some(d) => d,
        },
    };
    let mut n = 0u64;
    for (i, &c) in code[..13].iter().enumerate() {
        n = n * 10
            + match i {
                5 => dept / 10,
                6 => dept % 10,
                _ => u64::from(c - b'0'),
            };
    }
    97 - n % 97 == key
}

const VERHOEFF_D: [[u8; 10]; 10] = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    [1, 2, 3, 4, 0, 6, 7, 8, 9, 5],
    [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
    [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
    [4, 0, 1, 2, 3, 9, 5, 6, 7, 8],
    [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
    [6, 5, 9, 8, 7, 1, 0, 4, 3, 2],
    [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
    [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
    [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
];

const VERHOEFF_P: [[u8; 10]; 8] = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    [1, 5, 7, 6, 2, 8, 3, 0, 9, 4],
    [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
    [8, 9, 1, 6, 0, 4, 3, 5, 2, 7],
    [9, 4, 5, 3, 1, 2, 6, 8, 7, 0],
    [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
    [2, 7, 9, 3, 8, 0, 6, 4, 1, 5],
    [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
];

/// Verhoeff check (dihedral group D5) over the whole number, check digit last.
pub(super) fn verhoeff(digits: &[u8]) -> bool {
    let mut c = 0u8;
    for (i, &d) in digits.iter().rev().enumerate() {
        let Some(&p) = VERHOEFF_P[i % 8].get(usize::from(d)) else { return false };
        c = VERHOEFF_D[usize::from(c)][usize::from(p)];
    }
    c == 0
}

#[cfg(test)]
pub(super) fn verhoeff_tables() -> (&'static [[u8; 10]; 10], &'static [[u8; 10]; 8]) {
    (&VERHOEFF_D, &VERHOEFF_P)
}

/// Aadhaar: 12 digits, never starting with 0 or 1, Verhoeff check digit.
pub(super) fn aadhaar_valid(d: &[u8]) -> bool {
    d.len() == 12 && d[0] >= 2 && verhoeff(d)
}

const DNI_LETTERS: &[u8; 23] = b"TRWAGMYFPDXBNJZSQVHLCKE";

/// Spanish DNI `12345678Z` (number mod 23 picks the letter) and NIE `X1234567L` (X/Y/Z = 0/1/2).
pub(super) fn es_id_valid(code: &[u8]) -> bool {
    let [first, body @ .., letter] = code else { return false };
    if body.len() != 7 || !body.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let lead = match first {
        b'0'..=b'9' => u32::from(first - b'0'),
        b'X' => 0,
        b'Y' => 1,
        b'Z' => 2,
        _ => return false,
    };
    let n = body.iter().fold(lead, |acc, &c| acc * 10 + u32::from(c - b'0'));
    DNI_LETTERS[(n % 23) as usize] == *letter
}

/// Dutch BSN "elfproef": 9·d1 + 8·d2 + … + 2·d8 − d9 ≡ 0 (mod 11), not all zero.
pub(super) fn bsn_valid(d: &[u8]) -> bool {
    if d.len() != 9 || d.iter().all(|&x| x == 0) {
        return false;
    }
    let sum: i32 = d[..8].iter().zip((2..=9).rev()).map(|(&x, w)| i32::from(x) * w).sum::<i32>() - i32::from(d[8]);
    sum % 11 == 0
}

/// Brazilian CPF: two mod-11 check digits; all-equal numbers are invalid by rule.
pub(super) fn cpf_valid(d: &[u8]) -> bool {
    if d.len() != 11 || d.iter().all(|&x| x == d[0]) {
        return false;
    }
    let check = |n: usize| -> u8 {
        let sum: u32 = d[..n].iter().zip((2..=n as u32 + 1).rev()).map(|(&x, w)| u32::from(x) * w).sum();
        ((sum * 10) % 11 % 10) as u8
    };
    check(9) == d[9] && check(10) == d[10]
}

/// Italian codice fiscale: 6 letters, year, month letter, day, place code, check letter. Digits
/// may be replaced by LMNPQRSTUV (omocodia).
pub(super) fn it_cf_valid(code: &[u8]) -> bool {
    if code.len() != 16 {
        return false;
    }
    let digit_like = |c: u8| c.is_ascii_digit() || b"LMNPQRSTUV".contains(&c);
    let shape = code.iter().enumerate().all(|(i, &c)| match i {
        0..=5 | 11 | 15 => c.is_ascii_uppercase(),
        8 => b"ABCDEHLMPRST".contains(&c),
        _ => digit_like(c),
    });
    shape && it_cf_check(&code[..15]) == Some(code[15])
}

/// The check letter of the first 15 characters of a codice fiscale.
pub(super) fn it_cf_check(code: &[u8]) -> Option<u8> {
    // Values of characters in odd (1st, 3rd, ...) positions, indexed by digit or letter.
    const ODD: [u32; 26] =
        [1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23];
    let mut sum = 0;
    for (i, &c) in code.iter().enumerate() {
        let v = match c {
            b'0'..=b'9' => u32::from(c - b'0'),
            b'A'..=b'Z' => u32::from(c - b'A'),
            _ => return None,
        };
        sum += if i % 2 == 0 { ODD[v as usize] } else { v };
    }
    Some(b'A' + (sum % 26) as u8)
}
