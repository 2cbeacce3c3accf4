//! Street addresses: a house number next to a street name that carries a street-type word.
//! Three shapes: "221B Baker Street" (type word last), "12 rue de la Paix" (type word first),
//! "Hauptstraße 5" / "Berliner Straße 5" (name before the number).
//!
//! The common type words ("Street", "Road") make an address on their own; the rest of the
//! USPS list ("Rapids", "Causeway", "Union") only with context: an address word before the
//! number, or a unit ("Apt. 4") or a US city, state and ZIP code (", Lishire, TX 58467")
//! after the street. The span takes in that unit and that city line when they follow.

use super::tables::{
    STREET_COMPOUND_ENDINGS, STREET_JOINERS, STREET_PREFIXES, STREET_STOPWORDS, STREET_SUFFIXES,
    STREET_SUFFIXES_WITH_CONTEXT, STREET_UNITS,
};

/// The span of a street address around the house number `text[start..end]`, if there is one.
/// `start` and `end` must be ASCII positions (the number is ASCII); `context` says whether an
/// address word comes before the number (asked only when needed).
pub(super) fn around_number(
    text: &str,
    start: usize,
    end: usize,
    context: impl FnMut() -> bool,
) -> Option<(usize, usize)> {
    if let Some(s) = name_before(text, start) {
        return Some((s, end));
    }
    let street_end = type_last(text, end, context).or_else(|| type_first(text, end))?;
    Some((start, after_street(text, street_end).unwrap_or(street_end)))
}

/// The end of a unit and/or a US city line right after a street ending at `p`, if any.
fn after_street(text: &str, p: usize) -> Option<usize> {
    let unit = unit_after(text, p);
    city_line_after(text, unit.unwrap_or(p)).or(unit)
}

/// " Apt. 055", ", Suite 259", " #12": a unit designator and a short number.
fn unit_after(text: &str, p: usize) -> Option<usize> {
    let b = text.as_bytes();
    let mut q = p + usize::from(b.get(p) == Some(&b','));
    if b.get(q) != Some(&b' ') {
        return None;
    }
    q += 1;
    if b.get(q) == Some(&b'#') {
        q += 1;
    } else {
        let (ws, we) = word_at(text, q)?;
        if !is_in(STREET_UNITS, &text[ws..we]) {
            return None;
        }
        q = we + usize::from(b.get(we) == Some(&b'.'));
        if b.get(q) != Some(&b' ') {
            return None;
        }
        q += 1;
    }
    let id = b[q..].iter().take_while(|c| c.is_ascii_alphanumeric() || **c == b'-').count();
    let id_bytes = &b[q..q + id];
    ((1..=8).contains(&id) && id_bytes.iter().any(u8::is_ascii_digit)).then_some(q + id)
}

/// ", East Wesleyborough, SC 90738": up to four capitalised words, a two-letter state code and
/// a five-digit ZIP code (ZIP+4 included).
fn city_line_after(text: &str, p: usize) -> Option<usize> {
    let b = text.as_bytes();
    if b.get(p..p + 2) != Some(b", ") {
        return None;
    }
    let mut q = p + 2;
    for _ in 0..4 {
        let (ws, we) = word_at(text, q)?;
        if !capitalised(&text[ws..we]) {
            return None;
        }
        q = we;
        if b.get(q..q + 2) == Some(b", ") {
            let state = b.get(q + 2..q + 5)?;
            if !(state[0].is_ascii_uppercase() && state[1].is_ascii_uppercase() && state[2] == b' ') {
                return None;
            }
            let zip = q + 5;
            let digits = b[zip..].iter().take_while(|c| c.is_ascii_digit()).count();
            if digits != 5 {
                return None;
            }
            let mut end = zip + 5;
            if b.get(end) == Some(&b'-') && b.get(end + 1..end + 5).is_some_and(|d| d.iter().all(u8::is_ascii_digit)) {
                end += 5;
            }
            return (!b.get(end).is_some_and(u8::is_ascii_alphanumeric)).then_some(end);
        }
        if b.get(q) != Some(&b' ') {
            return None;
        }
        q += 1;
    }
    None
}

fn is_in(list: &[&str], word: &str) -> bool {
    list.iter().any(|w| w.eq_ignore_ascii_case(word))
}

fn capitalised(word: &str) -> bool {
    word.chars().next().is_some_and(char::is_uppercase)
}

/// The word starting at `p`: letters with inner `'` or `-`, or an ordinal such as `5th`.
fn word_at(text: &str, p: usize) -> Option<(usize, usize)> {
    let rest = text.get(p..)?;
    let bytes = rest.as_bytes();
    if bytes.first()?.is_ascii_digit() {
        let digits = bytes.iter().take_while(|c| c.is_ascii_digit()).count();
        let suffix = bytes.get(digits..digits + 2)?;
        let ordinal = [b"st", b"nd", b"rd", b"th"].iter().any(|s| suffix.eq_ignore_ascii_case(*s));
        let bounded = !bytes.get(digits + 2).is_some_and(u8::is_ascii_alphanumeric);
        return (digits <= 3 && ordinal && bounded).then_some((p, p + digits + 2));
    }
    let mut end = 0;
    for (i, c) in rest.char_indices() {
        if i > 48 {
            return None;
        }
        let joins = (c == '\'' || c == '-') && rest[i + 1..].chars().next().is_some_and(char::is_alphabetic);
        if c.is_alphabetic() {
            end = i + c.len_utf8();
        } else if !joins {
            break;
        }
    }
    (end > 0).then_some((p, p + end))
}

/// "Baker Street", "Pennsylvania Avenue", "5th Ave": capitalised names, then the type word.
fn type_last(text: &str, mut p: usize, mut context: impl FnMut() -> bool) -> Option<usize> {
    let bytes = text.as_bytes();
    for names in 0..5 {
        if bytes.get(p) != Some(&b' ') {
            return None;
        }
        let (ws, we) = word_at(text, p + 1)?;
        let word = &text[ws..we];
        let cap = capitalised(word);
        if names > 0 && cap && is_in(STREET_SUFFIXES, word) {
            return Some(we);
        }
        if names > 0
            && cap
            && is_in(STREET_SUFFIXES_WITH_CONTEXT, word)
            && (after_street(text, we).is_some() || context())
        {
            return Some(we);
        }
        let ordinal = word.as_bytes()[0].is_ascii_digit();
        if !(cap || ordinal) || is_in(STREET_STOPWORDS, word) {
            return None;
        }
        p = we;
    }
    None
}

/// "rue de la Paix", "Calle Mayor", "via Roma": the type word, then a capitalised name.
fn type_first(text: &str, mut p: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    if bytes.get(p) == Some(&b',') {
        p += 1;
    }
    if bytes.get(p) != Some(&b' ') {
        return None;
    }
    let (ws, we) = word_at(text, p + 1)?;
    if !is_in(STREET_PREFIXES, &text[ws..we]) {
        return None;
    }
    p = we;
    if bytes.get(p) == Some(&b'.') {
        p += 1;
    }
    let mut end = None;
    for _ in 0..5 {
        if bytes.get(p) != Some(&b' ') {
            break;
        }
        let Some((ws, we)) = word_at(text, p + 1) else { break };
        let word = &text[ws..we];
        // "l'Église", "d'Alsace": an elided article glued to a capitalised name.
        let elided =
            word.len() > 2 && matches!(&word.as_bytes()[..2], b"l'" | b"d'" | b"L'" | b"D'") && capitalised(&word[2..]);
        if (capitalised(word) && !is_in(STREET_STOPWORDS, word)) || elided {
            end = Some(we);
        } else if !is_in(STREET_JOINERS, word) {
            break;
        }
        p = we;
    }
    end
}

/// "Hauptstraße 5", "Karl-Marx-Allee 12", "Berliner Straße 5", "Kerkstraat 12": the start of
/// the street name that ends right before the number.
fn name_before(text: &str, start: usize) -> Option<usize> {
    let head = text.get(..start.checked_sub(1)?)?;
    if text.as_bytes()[start - 1] != b' ' {
        return None;
    }
    let word_start = word_before(head)?;
    let word = &head[word_start..];
    if !capitalised(word) {
        return None;
    }
    for ending in STREET_COMPOUND_ENDINGS {
        let Some(cut) = word.len().checked_sub(ending.len()) else { continue };
        if !word.is_char_boundary(cut) || !word[cut..].eq_ignore_ascii_case(ending) {
            continue;
        }
        if cut > 0 && word[..cut].chars().next_back().is_some_and(char::is_alphabetic) {
            return Some(word_start);
        }
        if cut == 0 {
            // A stand-alone type word needs a capitalised name before it.
            let before = head[..word_start].strip_suffix(' ')?;
            let name_start = word_before(before)?;
            return capitalised(&before[name_start..]).then_some(name_start);
        }
    }
    None
}

/// Start of the word (letters, inner `-`, a final `.`) that ends `head`.
fn word_before(head: &str) -> Option<usize> {
    let mut start = None;
    for (count, (i, c)) in head.char_indices().rev().enumerate() {
        if count > 48 {
            return None;
        }
        let ok = c.is_alphabetic() || (c == '-' && start.is_some()) || (c == '.' && i + 1 == head.len());
        if !ok {
            break;
        }
        start = Some(i);
    }
    let start = start?;
    // The word must begin with a letter and not be glued to a digit or another symbol run.
    let first = head[start..].chars().next()?;
    let glued = head[..start].chars().next_back().is_some_and(|c| c.is_alphanumeric() || c == '_');
    (first.is_alphabetic() && !glued).then_some(start)
}
