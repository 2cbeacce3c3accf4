//! Dictionaries: internal terminology and code names, matched case-insensitively as whole
//! words.
//!
//! All terms of all dictionaries go into one Aho-Corasick automaton built at start-up, so a
//! scan is one pass over the text whatever the number of terms. The automaton folds ASCII
//! case itself. Terms with other letters are lowercased at load, and a text that holds
//! non-ASCII bytes is lowercased before the pass (only when some term needs it), with the
//! rule that keeps byte offsets: a character is lowercased when its lowercase form has the
//! same UTF-8 length, which covers Latin, Greek, Cyrillic, Armenian and the like; the rare
//! letters whose lowercase is longer or shorter (`İ`, `ẞ`, `Ω` as the ohm sign) match only
//! in the case written.
//!
//! Whole word: a match is kept only if the character before it and the character after it
//! are not letters, digits or `_`. The check applies only on a side where the term itself
//! begins or ends with such a character, so `C++` or `#ops` still match next to a word.
//! Terms are trimmed and their inner whitespace collapsed to one space; a text must space
//! them the same way (`Project Atlas`, not `Project  Atlas`).
use std::borrow::Cow;
use std::collections::HashSet;
use std::path::Path;

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};

use super::fingerprint::LoadError;
use super::{Category, Detector, Match};

/// Confidence of a dictionary match: a registered term, exactly, as a word.
const CONFIDENCE: f32 = 0.9;

/// Above this many bytes of terms the automaton is a contiguous NFA instead of a DFA: the
/// DFA is several times faster but its memory grows with the states times the byte classes.
const DFA_MAX_TERM_BYTES: usize = 256 << 10;

/// Term lists compiled into one automaton.
#[derive(Debug)]
pub struct Dictionary {
    automaton: AhoCorasick,
    /// Per pattern: index into `names`, and which of its ends need a word boundary.
    patterns: Vec<PatternInfo>,
    names: Vec<String>,
    /// Some term holds non-ASCII letters, so texts are case-folded before the pass.
    fold_text: bool,
}

#[derive(Clone, Copy, Debug)]
struct PatternInfo {
    dictionary: u32,
    word_start: bool,
    word_end: bool,
}

impl Dictionary {
    /// Loads one dictionary per file: one term per line, `#` starts a comment line, blank
    /// lines are ignored. A dictionary is named by its file stem (`codenames.txt` is
    /// `codenames`), which is the label of its matches.
    pub fn from_files<P: AsRef<Path>>(paths: impl IntoIterator<Item = P>) -> Result<Self, LoadError> {
        let mut lists = Vec::new();
        for path in paths {
            let path = path.as_ref();
            let text = std::fs::read_to_string(path).map_err(|e| LoadError::io(path, e))?;
            let name = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            let terms: Vec<&str> =
                text.lines().map(str::trim).filter(|line| !line.is_empty() && !line.starts_with('#')).collect();
            lists.push((name, terms.into_iter().map(str::to_owned).collect::<Vec<_>>()));
        }
        Self::from_lists(lists)
    }

    /// One dictionary from terms in memory.
    pub fn from_terms<S: AsRef<str>>(name: &str, terms: impl IntoIterator<Item = S>) -> Result<Self, LoadError> {
        Self::from_lists([(name.to_owned(), terms.into_iter().map(|t| t.as_ref().to_owned()).collect())])
    }

    /// Named term lists; a term listed twice (in any case) counts for the first list only.
    pub fn from_lists(lists: impl IntoIterator<Item = (String, Vec<String>)>) -> Result<Self, LoadError> {
        let mut names = Vec::new();
        let mut terms = Vec::new();
        let mut patterns = Vec::new();
        let mut seen = HashSet::new();
        let mut fold_text = false;
        for (name, list) in lists {
            let dictionary = names.len() as u32;
            names.push(name);
            for term in list {
                let term = fold(&term.split_whitespace().collect::<Vec<_>>().join(" ")).into_owned();
                let (Some(first), Some(last)) = (term.chars().next(), term.chars().next_back()) else {
                    continue;
                };
                if !seen.insert(term.to_ascii_lowercase()) {
                    continue;
                }
                fold_text |= !term.is_ascii();
                patterns.push(PatternInfo { dictionary, word_start: is_word(first), word_end: is_word(last) });
                terms.push(term);
            }
        }
        let bytes: usize = terms.iter().map(String::len).sum();
        let kind = if bytes <= DFA_MAX_TERM_BYTES { AhoCorasickKind::DFA } else { AhoCorasickKind::ContiguousNFA };
        let automaton = AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .kind(Some(kind))
            .build(&terms)?;
        Ok(Self { automaton, patterns, names, fold_text })
    }

    /// Number of distinct terms.
    pub fn len(&self) -> usize {
        self.patterns.len()
    }

    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// Estimated heap bytes: the automaton and the per-term table (the terms themselves are
    /// not kept outside the automaton).
    pub fn memory_bytes(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.automaton.memory_usage()
            + self.patterns.capacity() * std::mem::size_of::<PatternInfo>()
            + self.names.iter().map(|n| n.capacity() + std::mem::size_of::<String>()).sum::<usize>()
    }
}

impl Detector for Dictionary {
    fn scan(&self, text: &str, out: &mut Vec<Match>) {
        if self.patterns.is_empty() {
            return;
        }
        let haystack = if self.fold_text { fold(text) } else { Cow::Borrowed(text) };
        // Overlapping search, so that a longer term rejected at a word boundary does not hide
        // a shorter one at the same place; then leftmost-longest among the whole words.
        let mut found: Vec<(usize, usize, u32)> = Vec::new();
        for m in self.automaton.find_overlapping_iter(haystack.as_bytes()) {
            let info = self.patterns[m.pattern().as_usize()];
            let before_ok = !info.word_start || !text[..m.start()].chars().next_back().is_some_and(is_word);
            let after_ok = !info.word_end || !text[m.end()..].chars().next().is_some_and(is_word);
            if before_ok && after_ok {
                found.push((m.start(), m.end(), info.dictionary));
            }
        }
        found.sort_unstable_by_key(|&(start, end, _)| (start, std::cmp::Reverse(end)));
        let mut covered = 0;
        for (start, end, dictionary) in found {
            if start < covered {
                continue;
            }
            covered = end;
            out.push(Match {
                detector: "dictionary",
                category: Category::Dictionary,
                start,
                end,
                confidence: CONFIDENCE,
                label: Some(self.names[dictionary as usize].clone()),
            });
        }
    }
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Lowercases the non-ASCII characters whose lowercase has the same UTF-8 length (ASCII is
/// left to the automaton), so byte offsets into the result are offsets into `text`.
fn fold(text: &str) -> Cow<'_, str> {
    if text.is_ascii() {
        return Cow::Borrowed(text);
    }
    let mut folded = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii() {
            folded.push(c);
            continue;
        }
        let mut lower = c.to_lowercase();
        match (lower.next(), lower.next()) {
            (Some(l), None) if l.len_utf8() == c.len_utf8() => folded.push(l),
            _ => folded.push(c),
        }
    }
    Cow::Owned(folded)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(dictionary: &Dictionary, text: &str) -> Vec<(String, String)> {
        let mut out = Vec::new();
        dictionary.scan(text, &mut out);
        for m in &out {
            assert_eq!(m.detector, "dictionary");
            assert_eq!(m.category, Category::Dictionary);
        }
        out.into_iter().map(|m| (text[m.start..m.end].to_owned(), m.label.unwrap_or_default())).collect()
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter().map(|(a, b)| ((*a).to_owned(), (*b).to_owned())).collect()
    }

    #[test]
    fn whole_words_case_insensitively() {
        let dictionary = Dictionary::from_terms("codenames", ["Atlas", "Blue Heron", "night-owl"]).expect("build");
        assert_eq!(scan(&dictionary, "Project Atlas launch"), pairs(&[("Atlas", "codenames")]));
        assert_eq!(
            scan(&dictionary, "project ATLAS, then atlas."),
            pairs(&[("ATLAS", "codenames"), ("atlas", "codenames")])
        );
        assert!(scan(&dictionary, "a book of atlases").is_empty());
        assert!(scan(&dictionary, "Atlas_v2 and MyAtlas and atlas2").is_empty());
        assert_eq!(
            scan(&dictionary, "the blue heron team and NIGHT-OWL"),
            pairs(&[("blue heron", "codenames"), ("NIGHT-OWL", "codenames")])
        );
        assert!(scan(&dictionary, "blue herons").is_empty());
        assert!(scan(&dictionary, "").is_empty());
    }

    #[test]
    fn longest_whole_word_wins_and_a_rejected_long_term_does_not_hide_a_short_one() {
        let dictionary =
            Dictionary::from_terms("x", ["Project Atlas", "Project Atlas Prime", "Atlas", "C++"]).expect("build");
        assert_eq!(scan(&dictionary, "see Project Atlas Prime now"), pairs(&[("Project Atlas Prime", "x")]));
        assert_eq!(scan(&dictionary, "see project atlas primes"), pairs(&[("project atlas", "x")]));
        // Term edges that are not word characters need no boundary.
        assert_eq!(scan(&dictionary, "written in C++11"), pairs(&[("C++", "x")]));
    }

    #[test]
    fn non_ascii_terms_fold_case() {
        let dictionary = Dictionary::from_terms("de", ["Überprojekt", "Ørsted", "Звезда"]).expect("build");
        assert_eq!(scan(&dictionary, "das ÜBERPROJEKT läuft"), pairs(&[("ÜBERPROJEKT", "de")]));
        assert_eq!(scan(&dictionary, "ørsted og звезда"), pairs(&[("ørsted", "de"), ("звезда", "de")]));
        assert!(scan(&dictionary, "Überprojekte").is_empty());
        // ASCII-only dictionaries leave non-ASCII text alone and still match around it.
        let ascii = Dictionary::from_terms("a", ["atlas"]).expect("build");
        assert_eq!(scan(&ascii, "Ünlü ATLAS ünlü"), pairs(&[("ATLAS", "a")]));
        assert!(scan(&ascii, "éatlas").is_empty());
    }

    #[test]
    fn files_name_dictionaries_and_skip_comments() {
        let dir = std::env::temp_dir().join(format!("egress-dict-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("mkdir");
        let codenames = dir.join("codenames.txt");
        let products = dir.join("products.list");
        std::fs::write(&codenames, "# internal code names\n\n  Atlas  \nBlue   Heron\n#Hidden\n").expect("write");
        std::fs::write(&products, "Widget Pro\natlas\n").expect("write");
        let dictionary = Dictionary::from_files([&codenames, &products]).expect("load");
        std::fs::remove_dir_all(&dir).expect("cleanup");
        assert_eq!(dictionary.len(), 3);
        assert_eq!(
            scan(&dictionary, "Atlas, blue heron and widget pro; #hidden hidden"),
            pairs(&[("Atlas", "codenames"), ("blue heron", "codenames"), ("widget pro", "products")])
        );
        assert!(matches!(Dictionary::from_files(["/nonexistent/terms.txt"]), Err(LoadError::Io { .. })));
    }

    #[test]
    fn ten_thousand_terms_load_and_match() {
        let terms: Vec<String> = (0..10_000).map(|i| format!("codename{i:05} zeta")).collect();
        let dictionary = Dictionary::from_terms("big", &terms).expect("build");
        assert_eq!(dictionary.len(), 10_000);
        assert_eq!(
            scan(&dictionary, "ship CODENAME09999 Zeta and codename00000 zeta, not codename00001 zetas"),
            pairs(&[("CODENAME09999 Zeta", "big"), ("codename00000 zeta", "big")])
        );
        assert!(dictionary.memory_bytes() > 10_000 * 10);
    }
}
