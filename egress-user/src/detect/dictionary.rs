//! Dictionaries: internal terminology and code names, matched case-insensitively as whole
//! words.
//!
//! A term that begins with a word character can only match where a word begins, so the
//! text is not run through an automaton byte by byte: its word starts are found 64 bytes at a
//! time, each is tested against a set of one bit per term prefix (the first up to 4 bytes,
//! case folded, keyed by a random seed), and only the few that pass are matched, anchored,
//! by an Aho-Corasick automaton of those terms (leftmost-longest, then shorter ones while
//! the longest fails the word boundary at its end). That automaton runs so seldom that it is
//! a compact NFA, not a DFA (1.5 MiB for 10,000 terms instead of 39). The rare terms that
//! begin otherwise (`#ops`) go into a second automaton that scans the whole text. Both are
//! built at start-up, so a scan costs about the same whatever the number of terms. The
//! automata fold ASCII case themselves. Terms with other letters are lowercased at load,
//! and a text that holds non-ASCII bytes is lowercased before the pass (only when some term
//! needs it), with the rule that keeps byte offsets: a character is lowercased when its lowercase form has the
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

use aho_corasick::{AhoCorasick, AhoCorasickKind, Anchored, Input, MatchKind, StartKind};

mod prefixes;

use prefixes::PrefixSet;

use super::fingerprint::{LoadError, random_seed};
use super::{Category, Detector, Match};

/// Confidence of a dictionary match: a registered term, exactly, as a word.
const CONFIDENCE: f32 = 0.9;

/// Above this many bytes of terms the automaton that scans whole texts is a contiguous NFA
/// instead of a DFA: the DFA is several times faster but its memory grows with the states
/// times the byte classes.
const DFA_MAX_TERM_BYTES: usize = 256 << 10;

/// Term lists compiled for the scan.
#[derive(Debug)]
pub struct Dictionary {
    /// The terms that begin with a word character, matched only at word starts.
    at_word_starts: Terms,
    /// Their prefixes: the test every word start of a text takes.
    prefixes: PrefixSet,
    /// The other terms (`#ops`), searched everywhere; `None` when there are none.
    anywhere: Option<Terms>,
    names: Vec<String>,
    /// Some term holds non-ASCII letters, so texts are case-folded before the pass.
    fold_text: bool,
    /// Bytes of the shortest term: a shorter text (a chat message's `"role": "user"`) holds
    /// none, and is passed over without the scan's fixed cost.
    shortest: usize,
}

/// Terms in one automaton, with what each pattern needs to know.
#[derive(Debug)]
struct Terms {
    automaton: AhoCorasick,
    /// Per pattern: index into `names`, and whether its end needs a word boundary.
    patterns: Vec<PatternInfo>,
}

#[derive(Clone, Copy, Debug)]
struct PatternInfo {
    dictionary: u32,
    /// The term ends with a word character, so it must not run on into a word.
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
        let mut seen = HashSet::new();
        let mut fold_text = false;
        // (term, info) by where it can match.
        let (mut at_word_starts, mut anywhere) = (Vec::new(), Vec::new());
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
                let info = PatternInfo { dictionary, word_end: is_word(last) };
                if is_word(first) { &mut at_word_starts } else { &mut anywhere }.push((term, info));
            }
        }
        let shortest = at_word_starts.iter().chain(&anywhere).map(|(term, _)| term.len()).min().unwrap_or(usize::MAX);
        let prefixes = PrefixSet::new(random_seed() as u32, at_word_starts.iter().map(|(term, _)| term.as_bytes()));
        Ok(Self {
            // Run only at the word starts that pass the prefix set, so a contiguous NFA: a
            // DFA of 10,000 terms took 39 MiB for no measurable gain.
            at_word_starts: Terms::new(
                at_word_starts,
                StartKind::Anchored,
                MatchKind::LeftmostLongest,
                AhoCorasickKind::ContiguousNFA,
            )?,
            prefixes,
            anywhere: match anywhere.is_empty() {
                true => None,
                false => {
                    let bytes: usize = anywhere.iter().map(|(term, _)| term.len()).sum();
                    let kind =
                        if bytes <= DFA_MAX_TERM_BYTES { AhoCorasickKind::DFA } else { AhoCorasickKind::ContiguousNFA };
                    Some(Terms::new(anywhere, StartKind::Unanchored, MatchKind::Standard, kind)?)
                }
            },
            names,
            fold_text,
            shortest,
        })
    }

    /// Number of distinct terms.
    pub fn len(&self) -> usize {
        self.at_word_starts.patterns.len() + self.anywhere.as_ref().map_or(0, |terms| terms.patterns.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Estimated heap bytes: the automata, the per-term tables and the prefix set (the terms
    /// themselves are not kept outside the automata).
    pub fn memory_bytes(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.at_word_starts.memory_bytes()
            + self.anywhere.as_ref().map_or(0, Terms::memory_bytes)
            + self.prefixes.memory_bytes()
            + self.names.iter().map(|n| n.capacity() + std::mem::size_of::<String>()).sum::<usize>()
    }

    /// The longest term that matches at `start`, a word start of `text` (`haystack` is
    /// `text` case-folded, with the same offsets), as a whole word: when the longest runs on
    /// into a word, shorter ones are tried (`Atlas` in `Atlas-2x` when `Atlas-2` is a term).
    fn longest_at(&self, text: &str, haystack: &[u8], start: usize) -> Option<(usize, usize, u32)> {
        if text[..start].chars().next_back().is_some_and(is_word) {
            return None;
        }
        let mut end = haystack.len();
        while end > start {
            let input = Input::new(haystack).span(start..end).anchored(Anchored::Yes);
            let found = self.at_word_starts.automaton.find(input)?;
            let info = self.at_word_starts.patterns[found.pattern().as_usize()];
            if !info.word_end || !text[found.end()..].chars().next().is_some_and(is_word) {
                return Some((start, found.end(), info.dictionary));
            }
            end = found.end() - 1;
        }
        None
    }
}

impl Terms {
    fn new(
        terms: Vec<(String, PatternInfo)>,
        start_kind: StartKind,
        match_kind: MatchKind,
        kind: AhoCorasickKind,
    ) -> Result<Self, LoadError> {
        let (terms, patterns): (Vec<String>, Vec<PatternInfo>) = terms.into_iter().unzip();
        let automaton = AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .match_kind(match_kind)
            .start_kind(start_kind)
            .kind(Some(kind))
            .build(&terms)?;
        Ok(Self { automaton, patterns })
    }

    fn memory_bytes(&self) -> usize {
        self.automaton.memory_usage() + self.patterns.capacity() * std::mem::size_of::<PatternInfo>()
    }
}

impl Detector for Dictionary {
    fn scan(&self, text: &str, out: &mut Vec<Match>) {
        if text.len() < self.shortest {
            return;
        }
        let haystack = if self.fold_text { fold(text) } else { Cow::Borrowed(text) };
        let haystack = haystack.as_bytes();
        let mut found: Vec<(usize, usize, u32)> = Vec::new();
        if !self.at_word_starts.patterns.is_empty() {
            self.prefixes.word_starts(haystack, |start| found.extend(self.longest_at(text, haystack, start)));
        }
        // Overlapping search, so that a longer term rejected at a word boundary does not hide
        // a shorter one at the same place.
        if let Some(terms) = &self.anywhere {
            for m in terms.automaton.find_overlapping_iter(haystack) {
                let info = terms.patterns[m.pattern().as_usize()];
                if !info.word_end || !text[m.end()..].chars().next().is_some_and(is_word) {
                    found.push((m.start(), m.end(), info.dictionary));
                }
            }
        }
        // Leftmost-longest among the whole words.
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

    /// The definition, by brute force: every term at every offset (ASCII case folded, on the
    /// folded text), kept when whole words, then leftmost-longest.
    fn reference(terms: &[&str], text: &str) -> Vec<(usize, usize)> {
        let haystack = fold(text);
        let haystack = haystack.as_bytes();
        let mut found = Vec::new();
        for term in terms {
            let term = fold(term);
            let (first, last) = (term.chars().next().expect("term"), term.chars().next_back().expect("term"));
            for start in (0..haystack.len()).filter(|&at| text.is_char_boundary(at)) {
                let end = start + term.len();
                if !haystack.get(start..end).is_some_and(|bytes| bytes.eq_ignore_ascii_case(term.as_bytes())) {
                    continue;
                }
                let before_ok = !is_word(first) || !text[..start].chars().next_back().is_some_and(is_word);
                let after_ok = !is_word(last) || !text[end..].chars().next().is_some_and(is_word);
                if before_ok && after_ok {
                    found.push((start, end));
                }
            }
        }
        found.sort_unstable_by_key(|&(start, end)| (start, std::cmp::Reverse(end)));
        let mut covered = 0;
        found.retain(|&(start, end)| {
            let keep = start >= covered;
            if keep {
                covered = end;
            }
            keep
        });
        found
    }

    #[test]
    fn matches_agree_with_a_brute_force_search() {
        // Terms that are prefixes of one another, shorter than the 4-byte prefix, with edges
        // that are not word characters, with non-ASCII letters, and one word start after a
        // non-ASCII letter or punctuation.
        let terms = [
            "atlas",
            "Atlas-2",
            "Atlas-2 Prime",
            "q3",
            "x",
            "ab",
            "C++",
            "#ops",
            "-dash",
            "Über",
            "zvezda",
            "Звезда",
            "_internal",
            "k9 unit",
        ];
        let pieces = [
            "atlas",
            "ATLAS-2",
            "-2",
            " prime",
            "Q3",
            "x",
            "ab",
            "abc",
            "c++",
            "#OPS",
            "-dash",
            "über",
            "ÜBER",
            "звезда",
            "«",
            "é",
            "_internal",
            "k9",
            " unit",
            " ",
            " ",
            "-",
            "_",
            ".",
            "\n",
            "7",
            "xx",
        ];
        let dictionary = Dictionary::from_terms("t", terms).expect("build");
        let mut state = 21u64;
        let mut matched = 0;
        for round in 0..3000 {
            let count = round % 60;
            let text: String = (0..count)
                .map(|_| {
                    state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                    pieces[(state >> 33) as usize % pieces.len()]
                })
                .collect();
            let mut out = Vec::new();
            dictionary.scan(&text, &mut out);
            let got: Vec<(usize, usize)> = out.iter().map(|m| (m.start, m.end)).collect();
            assert_eq!(got, reference(&terms, &text), "{text:?}");
            matched += got.len();
        }
        assert!(matched > 3000, "the texts hold terms: {matched}");
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
