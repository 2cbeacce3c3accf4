//! Context words: the words near a candidate that say what it is ("card", "IBAN", "born").
//! Each word maps to a bit set of families. Only the few bytes around a candidate are ever
//! searched, and a context word always starts a word, so the search looks only at word starts:
//! a bit table of the first two letters rejects almost all of them, the rest are compared with
//! the few words of the same first letter. Word starts come from bit masks built eight bytes
//! at a time, so the per-byte work has no branch.

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
            // Field names in code, logs and config.
            "date_of_birth",
            "date-of-birth",
            "dateofbirth",
            "birth_date",
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

struct Word {
    /// Lower-case bytes.
    text: &'static [u8],
    families: u32,
    /// Short words must also end at a word boundary ("cc" is no context inside "accent").
    whole: bool,
}

pub(super) use crate::detect::ascii::masks;

pub(super) struct Context {
    /// Grouped by first byte.
    words: Vec<Word>,
    /// `words[by_first[c]..by_first[c + 1]]` start with byte `c`.
    by_first: [u16; 257],
    /// Bit `c0 * 256 + c1` is set when some word starts with `c0 c1` (lower case).
    first_two: Box<[u64; 1024]>,
    /// Longest word, in bytes.
    longest: usize,
}

impl Context {
    pub(super) fn new() -> Self {
        let mut words: Vec<Word> = Vec::new();
        for (family, list) in WORDS {
            for word in *list {
                let text = word.as_bytes();
                debug_assert!(
                    text.len() >= 2 && text[0].is_ascii_lowercase() && !text.iter().any(u8::is_ascii_uppercase)
                );
                match words.iter_mut().find(|w| w.text == text) {
                    Some(w) => w.families |= family,
                    None => {
                        let whole = text.len() <= 3 && text.last().is_some_and(u8::is_ascii_alphanumeric);
                        words.push(Word { text, families: *family, whole });
                    }
                }
            }
        }
        words.sort_by_key(|w| w.text[0]);
        let mut by_first = [0u16; 257];
        let mut first_two = Box::new([0u64; 1024]);
        for w in &words {
            by_first[usize::from(w.text[0]) + 1] += 1;
            let bit = (usize::from(w.text[0]) << 8) | usize::from(w.text[1]);
            first_two[bit / 64] |= 1 << (bit % 64);
        }
        for c in 0..256 {
            by_first[c + 1] += by_first[c];
        }
        let longest = words.iter().map(|w| w.text.len()).max().unwrap_or(0);
        Self { words, by_first, first_two, longest }
    }

    /// Calls `hit(start, end, families)` for each context word inside `text[from..to]`, in order
    /// of position.
    fn each(&self, text: &[u8], from: usize, to: usize, mut hit: impl FnMut(usize, usize, u32)) {
        let to = to.min(text.len());
        let mut base = from.min(to);
        let mut prev_alnum = base > 0 && text[base - 1].is_ascii_alphanumeric();
        while base + 1 < to {
            let block = &text[base..(base + 64).min(to)];
            let (alpha, alnum) = masks(block);
            let mut starts = alpha & !((alnum << 1) | u64::from(prev_alnum));
            prev_alnum = (alnum >> (block.len() - 1)) & 1 == 1;
            while starts != 0 {
                let i = base + starts.trailing_zeros() as usize;
                starts &= starts - 1;
                if i + 1 >= to {
                    break;
                }
                let (c0, c1) = (text[i].to_ascii_lowercase(), text[i + 1].to_ascii_lowercase());
                let bit = (usize::from(c0) << 8) | usize::from(c1);
                if self.first_two[bit / 64] & (1 << (bit % 64)) == 0 {
                    continue;
                }
                let range =
                    usize::from(self.by_first[usize::from(c0)])..usize::from(self.by_first[usize::from(c0) + 1]);
                for w in &self.words[range] {
                    let end = i + w.text.len();
                    if w.text[1] != c1 || end > to || !text[i..end].eq_ignore_ascii_case(w.text) {
                        continue;
                    }
                    if w.whole && text.get(end).is_some_and(u8::is_ascii_alphanumeric) {
                        continue;
                    }
                    hit(i, end, w.families);
                }
            }
            base += block.len();
        }
    }

    /// Families of the context words inside `text[from..to]`.
    pub(super) fn families(&self, text: &[u8], from: usize, to: usize) -> u32 {
        let mut mask = 0;
        self.each(text, from, to, |_, _, f| mask |= f);
        mask
    }
}

/// Context words found so far in one text. Nearby candidates have overlapping windows; this
/// searches each stretch of text once instead of once per candidate.
pub(super) struct Cache<'c> {
    ctx: &'c Context,
    /// `text[lo..hi]` has been searched; `hits` holds the words found there.
    lo: usize,
    hi: usize,
    hits: Vec<(usize, usize, u32)>,
}

impl<'c> Cache<'c> {
    pub(super) fn new(ctx: &'c Context) -> Self {
        Self { ctx, lo: 0, hi: 0, hits: Vec::new() }
    }

    /// Families of the context words in the [`BEFORE`] bytes before `start`.
    pub(super) fn before(&mut self, text: &[u8], start: usize) -> u32 {
        let start = start.min(text.len());
        let from = start.saturating_sub(BEFORE);
        if from >= self.lo && from <= self.hi {
            if start > self.hi {
                // Extend to the right; the words ending by `hi` are known already.
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
        // Hits are in order of start, except that a rescan may add one starting up to
        // `longest` bytes before an earlier hit: past that distance, no older hit can count.
        let stop = from.saturating_sub(self.ctx.longest);
        for &(s, e, f) in self.hits.iter().rev() {
            if s >= from && e <= start {
                mask |= f;
            } else if s < stop {
                break;
            }
        }
        mask
    }
}
