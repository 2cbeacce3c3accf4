//! Calendar dates: validity, and the written-out forms ("12 March 1985", "March 12, 1985").

use super::tables::month;

/// Whether `year-month-day` is a real calendar day (years 1000-2999).
pub(super) fn valid(year: u32, month: u32, day: u32) -> bool {
    if !(1000..=2999).contains(&year) || !(1..=12).contains(&month) || day == 0 {
        return false;
    }
    let leap = year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400));
    let days = match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    day <= days
}

/// The current year (UTC), for the plausibility of a date of birth.
pub(super) fn current_year() -> u32 {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    // Mean Gregorian year; off by at most a day around New Year, which does not matter here.
    1970 + (secs / 31_556_952) as u32
}

/// A word of letters starting at `p` (at most 16 characters).
fn word_after(text: &str, p: usize) -> Option<(&str, usize)> {
    let rest = text.get(p..)?;
    let len =
        rest.char_indices().take_while(|(i, c)| *i < 24 && c.is_alphabetic()).map(|(i, c)| i + c.len_utf8()).last()?;
    if rest[len..].chars().next().is_some_and(char::is_alphanumeric) {
        return None;
    }
    Some((&rest[..len], p + len))
}

/// A four-digit year at `p`, after an optional comma and one space: `(end, year)`.
pub(super) fn year_after(text: &str, mut p: usize) -> Option<(usize, u32)> {
    let bytes = text.as_bytes();
    if bytes.get(p) == Some(&b',') {
        p += 1;
    }
    if bytes.get(p) != Some(&b' ') {
        return None;
    }
    p += 1;
    let digits = bytes.get(p..p + 4)?;
    if !digits.iter().all(u8::is_ascii_digit) || bytes.get(p + 4).is_some_and(u8::is_ascii_alphanumeric) {
        return None;
    }
    let year = digits.iter().fold(0, |acc, &c| acc * 10 + u32::from(c - b'0'));
    Some((p + 4, year))
}

/// After a day number ending at `p`: `[.] [of] Month[.] [,] YYYY` → `(end, month, year)`.
pub(super) fn month_year_after(text: &str, mut p: usize) -> Option<(usize, u32, u32)> {
    let bytes = text.as_bytes();
    if bytes.get(p) == Some(&b'.') {
        p += 1;
    }
    if bytes.get(p) != Some(&b' ') {
        return None;
    }
    p += 1;
    if text.get(p..p + 3).is_some_and(|w| w.eq_ignore_ascii_case("of ")) {
        p += 3;
    }
    let (word, mut p) = word_after(text, p)?;
    let m = month(word)?;
    if bytes.get(p) == Some(&b'.') {
        p += 1;
    }
    let (end, year) = year_after(text, p)?;
    Some((end, u32::from(m), year))
}

/// Before a day number starting at `p`: `Month[.] ` → `(start, month)`.
pub(super) fn month_before(text: &str, p: usize) -> Option<(usize, u32)> {
    let head = text.get(..p.checked_sub(1)?)?;
    if text.as_bytes()[p - 1] != b' ' {
        return None;
    }
    let head = head.strip_suffix('.').unwrap_or(head);
    let start = head
        .char_indices()
        .rev()
        .take_while(|(i, c)| head.len() - i <= 24 && c.is_alphabetic())
        .last()
        .map(|(i, _)| i)?;
    if head[..start].chars().next_back().is_some_and(char::is_alphanumeric) {
        return None;
    }
    Some((start, u32::from(month(&head[start..])?)))
}
