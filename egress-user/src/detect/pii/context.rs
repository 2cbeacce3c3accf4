//! Context words: the words near a candidate that say what it is ("card", "IBAN", "born").
//! One case-insensitive Aho-Corasick automaton over all words of all families; each word maps
//! to a bit set of families. Only the few bytes around a candidate are ever searched.

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};

pub(super) const CARD: u32 = 1 << 0;
pub(super) const IBAN: u32 = 1 << 1;
pub(super) const SSN: u32 = 1 << 2;
pub(super) const PHONE: u32 = 1 << 3;
pub(super) const NINO: u32 = 1 << 4;
pub(super) const DE_TAX: u32 = 1 << 5;
pub(super) const FR_NIR: u32 = 1 << 6;
pub(super) const AADHAAR: u32 = 1 << 7;
pub(super) const ES_ID: u32 = 1 << 8;
pub(super) const BSN: u32 = 1 << 9;
pub(super) const CPF: u32 = 1 << 10;
pub(super) const IT_CF: u32 = 1 << 11;
pub(super) const DOB: u32 = 1 << 12;
pub(super) const ADDRESS: u32 = 1 << 13;
pub(super) const IP: u32 = 1 << 14;
pub(super) const EMAIL: u32 = 1 << 15;
/// Words that make a dotted number a version rather than an address.
pub(super) const VERSION: u32 = 1 << 16;

/// How far before a candidate context words count (bytes).
pub(super) const BEFORE: usize = 50;

const WORDS: &[(u32, &[&str])] = &[
    (
        CARD,
        &[
            "card",
            "credit",
            "debit",
            "visa",
            "mastercard",
            "master card",
            "amex",
            "american express",
            "discover",
            "jcb",
            "diners",
            "unionpay",
            "maestro",
            "cc",
            "ccn",
            "cvv",
            "cvc",
            "pan",
            "payment",
            "kreditkarte",
            "karte",
            "carte",
            "tarjeta",
            "carta",
        ],
    ),
    (IBAN, &["iban", "account", "acct", "bank", "konto", "bic", "swift", "sepa", "rib", "compte", "cuenta", "conto"]),
    (SSN, &["ssn", "social security", "soc sec", "ss#", "ss #", "ssn#", "itin", "taxpayer"]),
    (
        PHONE,
        &[
            "phone",
            "tel",
            "tel.",
            "telephone",
            "mobile",
            "mobil",
            "cell",
            "cellphone",
            "call",
            "fax",
            "whatsapp",
            "sms",
            "text me",
            "contact",
            "ring me",
            "telefon",
            "telefono",
            "teléfono",
            "téléphone",
            "portable",
            "handy",
            "móvil",
            "movil",
            "hotline",
            "dial",
        ],
    ),
    (NINO, &["national insurance", "nino", "ni number", "ni no", "nin"]),
    (
        DE_TAX,
        &[
            "steuer",
            "steuerid",
            "steuer-id",
            "steuer id",
            "idnr",
            "id-nr",
            "identifikationsnummer",
            "steueridentifikationsnummer",
            "tax id",
            "tax identification",
            "tin",
        ],
    ),
    (FR_NIR, &["nir", "insee", "sécurité sociale", "securite sociale", "sécu", "secu", "numéro de sécurité"]),
    (AADHAAR, &["aadhaar", "aadhar", "uidai", "uid"]),
    (ES_ID, &["dni", "nie", "nif", "documento", "identidad", "extranjero"]),
    (BSN, &["bsn", "burgerservicenummer", "sofinummer", "sofi"]),
    (CPF, &["cpf", "cadastro"]),
    (IT_CF, &["codice fiscale", "cf", "fiscale", "tessera sanitaria"]),
    (
        DOB,
        &[
            "dob",
            "d.o.b",
            "date of birth",
            "birth date",
            "birthdate",
            "birthday",
            "born",
            "geburtsdatum",
            "geboren",
            "geb.",
            "né le",
            "née le",
            "né",
            "née",
            "date de naissance",
            "fecha de nacimiento",
            "nacido",
            "nacida",
            "data di nascita",
            "nato il",
            "nata il",
        ],
    ),
    (
        ADDRESS,
        &[
            "address",
            "addr",
            "ship to",
            "shipping",
            "deliver to",
            "delivery",
            "lives at",
            "living at",
            "lives on",
            "resides",
            "residing",
            "located at",
            "mailing",
            "billing",
            "home",
            "adresse",
            "anschrift",
            "wohnt",
            "wohnhaft",
            "domicile",
            "dirección",
            "direccion",
            "domicilio",
            "indirizzo",
            "residence",
            "postal",
        ],
    ),
    (
        IP,
        &[
            "ip",
            "ip address",
            "ipv4",
            "ipv6",
            "client",
            "host",
            "server",
            "remote",
            "address",
            "addr",
            "src",
            "dst",
            "source",
            "peer",
            "gateway",
        ],
    ),
    (EMAIL, &["email", "e-mail", "mail", "contact", "reach"]),
    (VERSION, &["version", "ver", "ver.", "release", "build", "firmware", "kernel", "v."]),
];

pub(super) struct Context {
    automaton: AhoCorasick,
    families: Vec<u32>,
    /// Whether a word must also end at a word boundary (short words inside longer ones mislead).
    whole: Vec<bool>,
    /// Longest word, in bytes.
    longest: usize,
}

impl Context {
    pub(super) fn new() -> Self {
        let mut words: Vec<(&str, u32)> = Vec::new();
        for (family, list) in WORDS {
            for word in *list {
                match words.iter_mut().find(|(w, _)| w.eq_ignore_ascii_case(word)) {
                    Some((_, f)) => *f |= family,
                    None => words.push((word, *family)),
                }
            }
        }
        let automaton = AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .kind(Some(AhoCorasickKind::DFA))
            .build(words.iter().map(|(w, _)| w))
            .expect("context words compile");
        let whole = words
            .iter()
            .map(|(w, _)| w.len() <= 3 && w.bytes().last().is_some_and(|c| c.is_ascii_alphanumeric()))
            .collect();
        let longest = words.iter().map(|(w, _)| w.len()).max().unwrap_or(0);
        Self { automaton, families: words.iter().map(|(_, f)| *f).collect(), whole, longest }
    }

    /// Calls `hit(start, end, families)` for each context word inside `text[from..to]`.
    fn each(&self, text: &[u8], from: usize, to: usize, mut hit: impl FnMut(usize, usize, u32)) {
        let to = to.min(text.len());
        let from = from.min(to);
        for m in self.automaton.find_overlapping_iter(&text[from..to]) {
            let (s, e) = (from + m.start(), from + m.end());
            // A word counts only where it starts a word, and short ones only as whole words.
            if s > 0 && text[s - 1].is_ascii_alphanumeric() {
                continue;
            }
            let id = m.pattern().as_usize();
            if self.whole[id] && text.get(e).is_some_and(u8::is_ascii_alphanumeric) {
                continue;
            }
            hit(s, e, self.families[id]);
        }
    }

    /// Families of the context words inside `text[from..to]`.
    pub(super) fn families(&self, text: &[u8], from: usize, to: usize) -> u32 {
        let mut mask = 0;
        self.each(text, from, to, |_, _, f| mask |= f);
        mask
    }

    /// Families of the context words in the [`BEFORE`] bytes before `start`.
    pub(super) fn before(&self, text: &[u8], start: usize) -> u32 {
        self.families(text, start.saturating_sub(BEFORE), start)
    }
}

/// Context words found so far in one text. Nearby candidates have overlapping windows; this
/// searches each stretch of text once instead of once per candidate.
pub(super) struct Cache<'c> {
    ctx: &'c Context,
    /// `text[lo..hi]` has been searched; `hits` holds its words in order of their end.
    lo: usize,
    hi: usize,
    hits: Vec<(usize, usize, u32)>,
}

impl<'c> Cache<'c> {
    pub(super) fn new(ctx: &'c Context) -> Self {
        Self { ctx, lo: 0, hi: 0, hits: Vec::new() }
    }

    /// Same as [`Context::before`].
    pub(super) fn before(&mut self, text: &[u8], start: usize) -> u32 {
        let start = start.min(text.len());
        let from = start.saturating_sub(BEFORE);
        if from >= self.lo && from <= self.hi {
            if start > self.hi {
                // Extend to the right; words ending by `hi` are known already.
                let (known, hits) = (self.hi, &mut self.hits);
                let rescan = known.saturating_sub(self.ctx.longest).max(self.lo);
                self.ctx.each(text, rescan, start, |s, e, f| {
                    if e > known {
                        hits.push((s, e, f));
                    }
                });
                self.hi = start;
            }
        } else {
            self.hits.clear();
            let hits = &mut self.hits;
            self.ctx.each(text, from, start, |s, e, f| hits.push((s, e, f)));
            (self.lo, self.hi) = (from, start);
        }
        let mut mask = 0;
        for &(s, e, f) in self.hits.iter().rev() {
            if e <= start && s >= from {
                mask |= f;
            } else if e < from {
                break;
            }
        }
        mask
    }
}
