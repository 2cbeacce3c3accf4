//! PII detectors: validated, not just matched. Every candidate passes a structural rule
//! (check digit, issuer range, per-country length, calendar, real top-level domain) before it
//! is reported; context words just before a match ("card", "IBAN", "born") raise confidence,
//! and formats too ambiguous on their own (nine bare digits, national phone numbers, dates)
//! are reported only next to such words.
//!
//! For speed the families share three passes instead of one each: a single skip over the text
//! to the next ASCII digit feeds every digit-bearing family ([`numeric`]); `@` and `:` found
//! with memchr feed e-mail and IPv6.

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

use std::sync::Arc;

use super::Detector;

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
    let ctx = Arc::new(context::Context::new());
    vec![
        Box::new(numeric::Numeric::new(Arc::clone(&ctx))),
        Box::new(email::Email::new(Arc::clone(&ctx))),
        Box::new(ip::Ipv6::new(ctx)),
    ]
}
