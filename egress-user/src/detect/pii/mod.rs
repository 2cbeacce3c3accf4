//! PII detectors: validated, not just matched. Every candidate passes a structural rule
//! (check digit, issuer range, per-country length, calendar, real top-level domain) before it
//! is reported; context words just before a match ("card", "IBAN", "born") raise confidence,
//! and formats too ambiguous on their own (nine bare digits, national phone numbers, dates)
//! are reported only next to such words.
//!
//! For speed the families are one detector and share their passes: one vector pass over a
//! string finds its first ASCII digit, `@` and `:` ([`triggers`]), and only the families
//! whose byte occurs run. From its first digit, one skip to the next digit feeds every
//! digit-bearing family ([`numeric`]); `@` and `:` feed e-mail and IPv6.

mod address;
mod checksum;
mod context;
mod dates;
mod email;
mod ip;
mod numeric;
mod tables;
#[cfg(test)]
mod tests;
mod triggers;

use super::{Detector, Match};

/// Every detector name the PII detectors report (for the policy's list of known detectors).
pub const NAMES: &[&str] = &[
    "email",
    "phone",
    "credit_card",
    "iban",
    "us_ssn",
    "uk_nino",
    "de_tax_id",
    "fr_nir",
    "in_aadhaar",
    "es_dni",
    "es_nie",
    "nl_bsn",
    "it_codice_fiscale",
    "br_cpf",
    "ipv4",
    "ipv6",
    "date_of_birth",
    "street_address",
];

/// All PII detectors, compiled once.
pub fn detectors() -> Vec<Box<dyn Detector>> {
    vec![Box::new(Pii::new())]
}

/// The PII families as one detector, so that a string is searched once for what starts them.
struct Pii {
    search: triggers::Search,
    ctx: context::Context,
    numeric: numeric::Numeric,
    email: email::Email,
    ipv6: ip::Ipv6,
}

impl Pii {
    fn new() -> Self {
        Self {
            search: triggers::Search::new(),
            ctx: context::Context::new(),
            numeric: numeric::Numeric::new(),
            email: email::Email::new(),
            ipv6: ip::Ipv6,
        }
    }
}

impl Detector for Pii {
    fn scan(&self, text: &str, out: &mut Vec<Match>) {
        let found = self.search.first_triggers(text.as_bytes());
        // One memo of context words for the whole string, whichever family asks.
        let mut cache = context::Cache::new(&self.ctx);
        if let Some(digit) = found.digit {
            self.numeric.scan(text, digit, &mut cache, out);
        }
        if let Some(at) = found.at {
            self.email.scan(text, at, &mut cache, out);
        }
        if let Some(colon) = found.colon {
            self.ipv6.scan(text, colon, &mut cache, out);
        }
    }
}
