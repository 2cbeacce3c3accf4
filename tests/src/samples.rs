//! Made-up sensitive values that the detectors must recognise: syntactically valid, never
//! real (a Luhn-valid card number, an AWS key pair of the right shape, e-mail addresses at
//! real top-level domains).

/// A made-up e-mail address at a real top-level domain.
pub const EMAIL: &str = "jonas.wilhelmsen@fjordline-analytics.com";

/// A 16-digit Visa-range card number with a valid Luhn check digit, from `seed`.
pub fn card_number(seed: u64) -> String {
    let mut digits = vec![4u8, 5, 3, 9];
    let mut x = Lcg::new(seed);
    while digits.len() < 15 {
        digits.push((x.next() % 10) as u8);
    }
    digits.push(luhn_check_digit(&digits));
    digits.into_iter().map(|d| char::from(b'0' + d)).collect()
}

/// The digit that makes `payload` followed by it pass the Luhn check.
pub fn luhn_check_digit(payload: &[u8]) -> u8 {
    // Doubling starts at the rightmost payload digit (the check digit will be to its right).
    let sum: u32 = payload
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            let d = u32::from(d);
            if i % 2 == 0 {
                let dd = d * 2;
                if dd > 9 { dd - 9 } else { dd }
            } else {
                d
            }
        })
        .sum();
    ((10 - sum % 10) % 10) as u8
}

/// Whether a string of digits passes the Luhn check.
pub fn luhn_valid(number: &str) -> bool {
    let digits: Vec<u8> = number.bytes().map(|b| b - b'0').collect();
    match digits.split_last() {
        Some((&check, payload)) => luhn_check_digit(payload) == check,
        None => false,
    }
}

/// An AWS access key id (`AKIA` + 16 base32 characters) and a 40-character secret access
/// key (base64 alphabet, with lower, upper and digits), from `seed`.
pub fn aws_key_pair(seed: u64) -> (String, String) {
    const B32: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut x = Lcg::new(seed);
    let mut id = String::from("AKIA");
    for _ in 0..16 {
        id.push(char::from(B32[(x.next() % 32) as usize]));
    }
    loop {
        let secret: String = (0..40).map(|_| char::from(B64[(x.next() % 64) as usize])).collect();
        let has = |f: fn(&char) -> bool| secret.chars().any(|c| f(&c));
        if has(char::is_ascii_lowercase) && has(char::is_ascii_uppercase) && has(char::is_ascii_digit) {
            return (id, secret);
        }
    }
}

/// Knuth's MMIX linear congruential generator, upper bits.
struct Lcg(u64);

impl Lcg {
    fn new(seed: u64) -> Self {
        Lcg(seed ^ 0x9e37_79b9_7f4a_7c15)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cards_pass_luhn() {
        assert!(luhn_valid("4539578763621486"));
        assert!(!luhn_valid("4539578763621487"));
        assert!(luhn_valid("79927398713"));
        for seed in 0..50 {
            let c = card_number(seed);
            assert_eq!(c.len(), 16);
            assert!(c.starts_with("4539"));
            assert!(luhn_valid(&c), "{c}");
        }
    }

    #[test]
    fn aws_pairs_have_the_shape() {
        let (id, secret) = aws_key_pair(7);
        assert_eq!(id.len(), 20);
        assert!(id.starts_with("AKIA"));
        assert!(id[4..].bytes().all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b)));
        assert_eq!(secret.len(), 40);
        assert!(!secret.contains("EXAMPLE"));
        assert_ne!(aws_key_pair(8), (id, secret));
    }
}
