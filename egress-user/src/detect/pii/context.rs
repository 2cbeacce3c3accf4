//! Context words: the words near a candidate that say what it is ("card", "IBAN", "born").
//! Each word maps to a bit set of families. Only the few bytes around a candidate are ever
//! searched, and a context word always starts a word, so the search looks only at word starts:
//! a bit table of hashed first three letters rejects almost all of them, the rest are compared
//! with the few words of the same first two letters. Word starts come from bit masks of 64
//! bytes at a time (one vector compare with AVX-512, else eight bytes at a time in a word), so
//! the per-byte work has no branch.

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
    /// The first eight bytes of `text` (fewer when it is shorter) as a little-endian number,
    /// and the mask of the bytes that count: one compare instead of one per byte.
    head: u64,
    head_mask: u64,
    families: u32,
    /// Short words must also end at a word boundary ("cc" is no context inside "accent").
    whole: bool,
}

const ONES: u64 = 0x0101_0101_0101_0101;

/// Up to eight bytes of `text` from `i` as a little-endian number, zeros past the end.
fn load8(text: &[u8], i: usize) -> u64 {
    match text.get(i..i + 8) {
        Some(bytes) => u64::from_le_bytes(bytes.try_into().expect("eight bytes")),
        None => {
            let mut bytes = [0u8; 8];
            let rest = text.get(i..).unwrap_or_default();
            bytes[..rest.len()].copy_from_slice(rest);
            u64::from_le_bytes(bytes)
        }
    }
}

/// The bytes of a word or its match after the eight of [`Word::head`].
fn past_head(bytes: &[u8]) -> &[u8] {
    bytes.get(8..).unwrap_or_default()
}

/// `x` with its ASCII capitals in lower case, eight bytes at a time (see `ascii::between`).
fn lower8(x: u64) -> u64 {
    let low7 = x & (ONES * 0x7f);
    let at_least_a = low7 + ONES * u64::from(0x80 - b'A');
    let above_z = low7 + ONES * u64::from(0x80 - b'Z' - 1);
    let capitals = at_least_a & !above_z & !x & (ONES * 0x80);
    x | (capitals >> 2)
}

pub(super) use crate::detect::ascii::masks;

pub(super) struct Context {
    /// Sorted by their first two bytes.
    words: Vec<Word>,
    /// Bit `c0 * 256 + c1` is set when some word starts with `c0 c1` (lower case).
    first_two: Box<[u64; 1024]>,
    /// The bits set in `first_two` before each of its 64-bit words: with the bits below a
    /// pair's bit in its own word, the pair's index in `buckets`.
    ranks: Box<[u16; 1024]>,
    /// `words[buckets[k]..buckets[k + 1]]` start with the `k`-th pair set in `first_two`.
    buckets: Vec<u16>,
    /// Bits of [`trigram`] for every word: a word start whose bit is clear starts no word, and
    /// one test rejects almost every word of prose (which shares first two letters with some
    /// context word about once in three).
    trigrams: Box<[u64; TRIGRAM_BITS / 64]>,
    /// Longest word, in bytes.
    longest: usize,
    /// Whether the word masks can use AVX-512 (checked once here).
    avx512: bool,
}

const TRIGRAM_BITS: usize = 1 << 15;

/// A hash of the first three bytes of `word8` (a word start and what follows), each with bit
/// 0x20 set, below [`TRIGRAM_BITS`]. Setting that bit puts ASCII letters in lower case and
/// maps every byte that matches a word's byte (ignoring ASCII case) to the word byte's image,
/// so a word's trigram is that of every text it matches.
fn trigram(word8: u64) -> usize {
    let key = (word8 as u32 | 0x0020_2020) & 0x00ff_ffff;
    (key.wrapping_mul(0x9e37_79b1) >> (32 - TRIGRAM_BITS.trailing_zeros())) as usize
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
                        let head_len = text.len().min(8);
                        let head = load8(&text[..head_len], 0);
                        let head_mask = u64::MAX >> (64 - 8 * head_len);
                        words.push(Word { text, head, head_mask, families: *family, whole });
                    }
                }
            }
        }
        words.sort_by_key(|w| (w.text[0], w.text[1]));
        let mut first_two = Box::new([0u64; 1024]);
        let mut trigrams = Box::new([0u64; TRIGRAM_BITS / 64]);
        let set = |bits: &mut [u64], bit: usize| bits[bit / 64] |= 1 << (bit % 64);
        let mut buckets = Vec::new();
        for (k, w) in words.iter().enumerate() {
            let pair = pair_bit(w.text[0], w.text[1]);
            if first_two[pair / 64] & (1 << (pair % 64)) == 0 {
                buckets.push(k as u16);
            }
            set(&mut first_two[..], pair);
            if w.text.len() > 2 {
                set(&mut trigrams[..], trigram(w.head));
            } else {
                // A two-byte word may be followed by the end of the text (read as 0), and by
                // anything ("v.") or anything but an alphanumeric ("cc").
                for next in (0..=255u8).filter(|c| !(w.whole && c.is_ascii_alphanumeric())) {
                    set(&mut trigrams[..], trigram(w.head | u64::from(next) << 16));
                }
            }
        }
        buckets.push(words.len() as u16);
        let mut ranks = Box::new([0u16; 1024]);
        for k in 1..1024 {
            ranks[k] = ranks[k - 1] + first_two[k - 1].count_ones() as u16;
        }
        let longest = words.iter().map(|w| w.text.len()).max().unwrap_or(0);
        #[cfg(target_arch = "x86_64")]
        let avx512 = crate::detect::ascii::avx512::available();
        #[cfg(not(target_arch = "x86_64"))]
        let avx512 = false;
        Self { words, first_two, ranks, buckets, trigrams, longest, avx512 }
    }

    /// Masks of the letters and alphanumerics of up to 64 bytes.
    fn masks(&self, block: &[u8]) -> (u64, u64) {
        #[cfg(target_arch = "x86_64")]
        if self.avx512 {
            // SAFETY: `avx512` is set only when `available()` found the target features.
            let (alpha, alnum, _) = unsafe { crate::detect::ascii::avx512::masks_with_high(block) };
            return (alpha, alnum);
        }
        masks(block)
    }

    /// The words that start with the pair `c0 c1` (lower case).
    #[inline]
    fn bucket(&self, c0: u8, c1: u8) -> &[Word] {
        let pair = pair_bit(c0, c1);
        let (word, bit) = (self.first_two[pair / 64], 1u64 << (pair % 64));
        if word & bit == 0 {
            return &[];
        }
        let k = usize::from(self.ranks[pair / 64]) + (word & (bit - 1)).count_ones() as usize;
        &self.words[usize::from(self.buckets[k])..usize::from(self.buckets[k + 1])]
    }

    /// Calls `hit(start, end, families)` for each context word inside `text[from..to]`, in order
    /// of position.
    fn each(&self, text: &[u8], from: usize, to: usize, mut hit: impl FnMut(usize, usize, u32)) {
        let to = to.min(text.len());
        let mut base = from.min(to);
        let mut prev_alnum = base > 0 && text[base - 1].is_ascii_alphanumeric();
        while base + 1 < to {
            let block = &text[base..(base + 64).min(to)];
            let (alpha, alnum) = self.masks(block);
            let mut starts = alpha & !((alnum << 1) | u64::from(prev_alnum));
            prev_alnum = (alnum >> (block.len() - 1)) & 1 == 1;
            while starts != 0 {
                let i = base + starts.trailing_zeros() as usize;
                starts &= starts - 1;
                if i + 1 >= to {
                    break;
                }
                let word8 = load8(text, i);
                let bit = trigram(word8);
                if self.trigrams[bit / 64] & (1 << (bit % 64)) == 0 {
                    continue;
                }
                let lower = lower8(word8);
                for w in self.bucket(lower as u8, (lower >> 8) as u8) {
                    let end = i + w.text.len();
                    if end > to
                        || lower & w.head_mask != w.head
                        || !past_head(&text[i..end]).eq_ignore_ascii_case(past_head(w.text))
                    {
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

fn pair_bit(c0: u8, c1: u8) -> usize {
    (usize::from(c0) << 8) | usize::from(c1)
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

    /// Families of the context words inside `text[from..to]` (not remembered).
    pub(super) fn families(&self, text: &[u8], from: usize, to: usize) -> u32 {
        self.ctx.families(text, from, to)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Every word of every family at every word start, byte by byte.
    fn reference(text: &[u8], from: usize, to: usize) -> u32 {
        let to = to.min(text.len());
        let mut mask = 0;
        for i in from..to {
            let starts = text[i].is_ascii_alphabetic() && !(i > 0 && text[i - 1].is_ascii_alphanumeric());
            for (family, list) in WORDS.iter().filter(|_| starts) {
                for word in list.iter().map(|w| w.as_bytes()) {
                    let end = i + word.len();
                    let whole = word.len() <= 3 && word.last().is_some_and(u8::is_ascii_alphanumeric);
                    if end <= to
                        && text[i..end].eq_ignore_ascii_case(word)
                        && !(whole && text.get(end).is_some_and(u8::is_ascii_alphanumeric))
                    {
                        mask |= family;
                    }
                }
            }
        }
        mask
    }

    #[test]
    fn lower8_and_load8_match_byte_functions() {
        let mut state = 1u64;
        let all: Vec<u8> = (0..=255).collect();
        for k in 0..2000 {
            let bytes: Vec<u8> = match k {
                0..32 => all[k * 8..k * 8 + 8].to_vec(),
                _ => (0..8)
                    .map(|_| {
                        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                        (state >> 33) as u8
                    })
                    .collect(),
            };
            let x = u64::from_le_bytes(bytes.clone().try_into().unwrap());
            assert_eq!(lower8(x).to_le_bytes().to_vec(), bytes.to_ascii_lowercase(), "{bytes:?}");
            for i in 0..=9 {
                let mut want = [0u8; 8];
                let rest = bytes.get(i..).unwrap_or_default();
                want[..rest.len()].copy_from_slice(rest);
                assert_eq!(load8(&bytes, i), u64::from_le_bytes(want), "{bytes:?} at {i}");
            }
        }
    }

    /// The trigram filter, the buckets and the eight-byte compares find what a plain search
    /// finds: on texts of context words in mixed case, cut short, glued to letters, digits and
    /// non-ASCII characters, and ending at every place of a word.
    #[test]
    fn families_match_a_plain_search() {
        let ctx = Context::new();
        let mut pieces: Vec<String> = WORDS.iter().flat_map(|(_, list)| list.iter().map(|w| w.to_string())).collect();
        pieces.extend(pieces.clone().iter().map(|w| w.to_uppercase()));
        pieces.extend(pieces.clone().iter().map(|w| w.chars().take(w.chars().count() / 2 + 1).collect::<String>()));
        for extra in [" ", " ", " ", "x", "9", "é", "É", "_", "#", ".", "\u{0}", "😀", "Cc", "V.", "ssN#"] {
            pieces.push(extra.to_string());
        }
        let mut state = 17u64;
        let mut random = |n: usize| {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (state >> 33) as usize % n
        };
        for _ in 0..3000 {
            let text: String = (0..random(12)).map(|_| pieces[random(pieces.len())].as_str()).collect();
            let b = text.as_bytes();
            let from = random(b.len() + 1);
            for to in [b.len(), from + random(70), random(b.len() + 1)] {
                assert_eq!(ctx.families(b, from, to), reference(b, from, to), "{text:?} {from}..{to}");
            }
        }
    }
}
