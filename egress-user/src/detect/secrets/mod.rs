//! Credentials and tokens: provider token formats (see [`rules`]), private keys, JWTs,
//! passwords in URLs, connection strings and assignments, and high-entropy strings next to
//! a keyword.
//!
//! Speed: no regex per format. Two passes, each a SIMD-prefiltered search:
//! - a small Aho-Corasick automaton (Teddy prefilter) over keyword roots (`pass`, `token`,
//!   `key`, ...) and a few fixed literals (`-----BEGIN `, `://`, `Basic `, `sig=`, ...);
//! - a word-at-a-time scan for runs of 16+ token characters ([`runs`]), since every
//!   provider token has one; only a short window around each run goes through the
//!   automaton of the token table's prefixes ([`rules`]).
//!
//! On a CPU with AVX-512 VBMI one vector pass ([`blocks`]) classifies the text first: it
//! gives the token bytes the run scan needs and the few places a keyword literal may start,
//! where the keyword automaton is then run anchored. The engine scans every JSON string on
//! its own, so most calls are a few hundred bytes with nothing in them, and this pass is
//! nearly all they cost.
//!
//! Each hit runs only the small checks of the literal it completes (a length and alphabet
//! walk, a checksum, a JSON header parse).
//!
//! Overlaps: a provider format, private key or JWT beats the generic findings on the same
//! bytes (`password_assignment`, `connection_string_password`, `password_in_url`,
//! `bearer_token`, `basic_auth`), and those beat `generic_high_entropy`, so a GitHub token
//! in `"token": "ghp_..."` is reported once, as `github_pat`.
//!
//! Placeholders are never findings: `changeme`, `<password>`, `${PASSWORD}`, `{{ secret }}`,
//! `****`, `xxxx`, `your-...`, `example`, a keyword used as its own value. `changeme` is
//! treated as a placeholder, not a weak password: sending it leaks nothing.

mod blocks;
mod creds;
mod entropy;
mod keys;
mod rules;
mod runs;
#[cfg(test)]
mod tests;

use std::collections::BTreeSet;

use aho_corasick::{AhoCorasick, AhoCorasickKind, Anchored, Input, MatchKind, StartKind, packed};

use super::{Category, Detector, Match};
use blocks::Block;
use creds::Found;

/// All secret detectors, compiled once.
pub fn detectors() -> Vec<Box<dyn Detector>> {
    vec![Box::new(SecretScanner::new())]
}

/// What a literal starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Anchor {
    /// A row of [`rules::RULES`].
    Token(usize),
    /// A keyword root ([`creds::ROOTS`]): assignments and generic high-entropy tokens.
    Root,
    PrivateKey,
    Putty,
    Jwt,
    Url,
    Bearer,
    Basic,
    ServiceAccount,
    Sas,
}

#[derive(Clone, Copy, Debug)]
struct Action {
    anchor: Anchor,
    /// Length of this action's own literal (a prefix of the pattern that hit).
    len: usize,
}

/// Shortest run of token characters the token pass looks at: the shortest format body
/// (an AWS key id has 20 characters, most bodies 24 or more).
const MIN_RUN: usize = 16;
/// How far before a long run its token's prefix may start (`SharedAccessKey=`,
/// `access_token$production$`).
const RUN_BACK: usize = 32;
/// How far into a long run a prefix may start (Mailchimp's `-us` after 32 hex digits,
/// Terraform's `.atlasv1.` after 14, Teams' `.webhook.office.com/` after a host name). A
/// prefix deeper inside one run (after 48 characters joined by `/`, `.`, `-` or `_`) is
/// not looked for.
const RUN_AHEAD: usize = 48;

/// Longer than any literal of either automaton.
const MAX_LITERAL: usize = 32;

/// An automaton with, per pattern, the actions of every literal that is a prefix of it,
/// longest first (leftmost-longest matching reports only the longest literal at a
/// position, so `sk-proj-` must also run the `sk-` rows).
struct Literals {
    automaton: AhoCorasick,
    /// The same patterns in a SIMD searcher (Teddy), when the CPU has one: several times
    /// faster than the automaton's own prefilter loop for a whole-text pass.
    packed: Option<packed::Searcher>,
    /// For window searches: the pairs of bytes a literal starts with, one bit per pair.
    starts: Option<Box<Bigrams>>,
    actions: Vec<Vec<Action>>,
}

/// A set of byte pairs, one bit each.
struct Bigrams([u64; 1024]);

impl Bigrams {
    fn index(first: u8, second: u8) -> usize {
        usize::from(first) << 8 | usize::from(second)
    }

    fn empty() -> Box<Self> {
        Box::new(Self([0; 1024]))
    }

    fn of(literals: &[&str]) -> Box<Self> {
        let mut set = Self::empty();
        for literal in literals {
            let &[first, second, ..] = literal.as_bytes() else { panic!("window literal {literal:?} is too short") };
            set.insert(first, second);
        }
        set
    }

    fn insert(&mut self, first: u8, second: u8) {
        let i = Self::index(first, second);
        self.0[i / 64] |= 1 << (i % 64);
    }

    fn has(&self, first: u8, second: u8) -> bool {
        let i = Self::index(first, second);
        self.0[i / 64] >> (i % 64) & 1 == 1
    }
}

impl Literals {
    /// `whole_text`: searched over whole texts (use Teddy, or anchored searches at the
    /// candidates of [`blocks`]) rather than short windows (use anchored searches where a
    /// literal's first two bytes are: no prefilter start-up per window).
    fn new(literals: &[(String, Anchor)], kind: MatchKind, whole_text: bool) -> Self {
        let patterns: Vec<&str> =
            literals.iter().map(|(l, _)| l.as_str()).collect::<BTreeSet<&str>>().into_iter().collect();
        let actions = patterns
            .iter()
            .map(|p| {
                let mut acts: Vec<Action> = literals
                    .iter()
                    .filter(|(lit, _)| p.starts_with(lit.as_str()))
                    .map(|(lit, anchor)| Action { anchor: *anchor, len: lit.len() })
                    .collect();
                acts.sort_by_key(|a| std::cmp::Reverse(a.len));
                acts.dedup_by(|a, b| a.anchor == b.anchor && a.len == b.len);
                acts
            })
            .collect();
        debug_assert!(patterns.iter().all(|p| p.len() < MAX_LITERAL));
        let automaton = AhoCorasick::builder()
            .match_kind(kind)
            .kind(Some(AhoCorasickKind::DFA))
            .prefilter(whole_text)
            .start_kind(if whole_text { StartKind::Both } else { StartKind::Anchored })
            .build(&patterns)
            .expect("the secret literals build an automaton");
        let starts = (!whole_text).then(|| Bigrams::of(&patterns));
        let packed = whole_text
            .then(|| {
                let kind = match kind {
                    MatchKind::LeftmostLongest => packed::MatchKind::LeftmostLongest,
                    _ => packed::MatchKind::LeftmostFirst,
                };
                packed::Config::new().match_kind(kind).builder().extend(&patterns).build()
            })
            .flatten();
        Self { automaton, packed, starts, actions }
    }

    /// Runs the actions of every hit in the whole of `t`, skipping hits inside bytes an
    /// earlier action consumed. `runs` are the text's long runs, in order. `candidates`,
    /// when given, are `t`'s [`blocks`]: no literal starts outside their keyword bits.
    fn search_all(&self, t: &[u8], runs: &[(usize, usize)], candidates: Option<&[Block]>, out: &mut Vec<Found>) {
        let mut skip = 0;
        let mut cursor = 0;
        let mut hit = |start: usize, pattern: usize| {
            if start < skip {
                return;
            }
            while cursor < runs.len() && runs[cursor].1 <= start {
                cursor += 1;
            }
            for &action in &self.actions[pattern] {
                if let Some(end) = SecretScanner::run(action, t, start, &runs[cursor..], out) {
                    skip = end;
                    break;
                }
            }
        };
        match (candidates, &self.packed) {
            (Some(blocks), _) => self.anchored_matches(t, blocks, hit),
            (None, Some(searcher)) => searcher.find_iter(t).for_each(|m| hit(m.start(), m.pattern().as_usize())),
            (None, None) => self.automaton.find_iter(t).for_each(|m| hit(m.start(), m.pattern().as_usize())),
        }
    }

    /// The first match in `t[from..to]` (leftmost, then longest), for a window literal set:
    /// an anchored search only where a literal's first two bytes are, which few places in
    /// a token are (an unanchored automaton walks every byte, a dependent load each).
    fn find_in_window(&self, t: &[u8], from: usize, to: usize) -> Option<aho_corasick::Match> {
        let starts = self.starts.as_deref().expect("window literals have their bigrams");
        let window = &t[from..to];
        let candidates = window.windows(2).enumerate().filter(|(_, pair)| starts.has(pair[0], pair[1]));
        candidates
            .map(|(offset, _)| from + offset)
            .find_map(|start| self.automaton.find(Input::new(t).range(start..to).anchored(Anchored::Yes)))
    }

    /// The matches `find_iter` gives (leftmost-first, not overlapping), found by an anchored
    /// search at each candidate: no literal starts between two candidates, so the first
    /// candidate after the last match where one starts is the next match.
    fn anchored_matches(&self, t: &[u8], blocks: &[Block], mut hit: impl FnMut(usize, usize)) {
        let mut resume = 0;
        for (index, block) in blocks.iter().enumerate() {
            let mut bits = block.keyword;
            while bits != 0 {
                let start = index * blocks::BLOCK + bits.trailing_zeros() as usize;
                bits &= bits - 1;
                if start < resume {
                    continue;
                }
                if let Some(m) = self.automaton.find(Input::new(t).range(start..).anchored(Anchored::Yes)) {
                    hit(m.start(), m.pattern().as_usize());
                    resume = m.end();
                }
            }
        }
    }
}

/// Every secret detector, in two passes over the text.
pub struct SecretScanner {
    /// Keyword roots and fixed literals, found anywhere.
    keywords: Literals,
    /// Token prefixes, `eyJ`, `Bearer `: looked for only near long runs.
    tokens: Literals,
    /// The vector pass, when the CPU has it.
    classifier: Option<blocks::Classifier>,
}

impl Default for SecretScanner {
    fn default() -> Self {
        Self::new()
    }
}

/// `word`, `Word`, `WORD`.
fn case_forms(word: &str) -> [String; 3] {
    let mut title = word.to_string();
    if let Some(first) = title.get_mut(0..1) {
        first.make_ascii_uppercase();
    }
    [word.to_string(), title, word.to_ascii_uppercase()]
}

/// Texts up to this many blocks keep their [`Block`]s on the stack.
const STACK_BLOCKS: usize = 16;

impl SecretScanner {
    pub fn new() -> Self {
        let keywords = Self::keyword_literals();
        let tokens = Self::token_literals();
        let tables = blocks::Tables::new(&keywords.iter().map(|(literal, _)| literal.as_str()).collect::<Vec<_>>());
        Self {
            keywords: Literals::new(&keywords, MatchKind::LeftmostFirst, true),
            tokens: Literals::new(&tokens, MatchKind::LeftmostLongest, false),
            classifier: blocks::Classifier::new(tables),
        }
    }

    /// The literals of the token windows: the token table's anchors, and fixed ones.
    fn token_literals() -> Vec<(String, Anchor)> {
        let mut tokens: Vec<(String, Anchor)> =
            rules::RULES.iter().enumerate().map(|(i, rule)| (rule.anchor.to_string(), Anchor::Token(i))).collect();
        let fixed: &[(&str, Anchor)] = &[
            ("eyJ", Anchor::Jwt),
            ("Bearer ", Anchor::Bearer),
            ("bearer ", Anchor::Bearer),
            ("BEARER ", Anchor::Bearer),
        ];
        tokens.extend(fixed.iter().map(|(s, a)| (s.to_string(), *a)));
        tokens
    }

    /// The literals of the keyword pass: keyword roots in every case form, and fixed ones.
    fn keyword_literals() -> Vec<(String, Anchor)> {
        let mut keywords: Vec<(String, Anchor)> = Vec::new();
        for root in creds::ROOTS {
            keywords.extend(case_forms(root).into_iter().map(|form| (form, Anchor::Root)));
        }
        let fixed: &[(&str, Anchor)] = &[
            ("-----BEGIN ", Anchor::PrivateKey),
            ("PuTTY-User-Key-File-", Anchor::Putty),
            ("://", Anchor::Url),
            ("Basic ", Anchor::Basic),
            ("service_account", Anchor::ServiceAccount),
            ("sig=", Anchor::Sas),
        ];
        keywords.extend(fixed.iter().map(|(s, a)| (s.to_string(), *a)));
        keywords
    }

    /// The distinct formats (detector names) the scanner can report.
    pub fn format_names() -> Vec<&'static str> {
        let mut names: Vec<&'static str> = rules::RULES.iter().map(|r| r.name).collect();
        names.extend(rules::CONTEXT_RULES.iter().map(|r| r.name));
        names.extend([
            "aws_secret_access_key",
            "gcp_service_account",
            "azure_sas_token",
            "discord_bot_token",
            "private_key",
            "jwt",
            "password_in_url",
            "connection_string_password",
            "password_assignment",
            "bearer_token",
            "basic_auth",
            "generic_high_entropy",
        ]);
        names.sort_unstable();
        names.dedup();
        names
    }

    /// Runs one action at a hit; returns where scanning may resume when the action consumed
    /// bytes (a token, a key block, an identifier), so nothing inside is matched again.
    fn run(action: Action, t: &[u8], start: usize, runs: &[(usize, usize)], out: &mut Vec<Found>) -> Option<usize> {
        let a_end = start + action.len;
        match action.anchor {
            Anchor::Token(i) => {
                let rule = &rules::RULES[i];
                let hit = rules::match_rule(rule, t, start, a_end)?;
                let mut confidence = rule.confidence;
                if rule.name == "aws_access_key_id"
                    && let Some((s, e)) = creds::aws_pair(t, hit.start, hit.end)
                {
                    confidence = 0.95;
                    out.push(Found {
                        detector: "aws_secret_access_key",
                        start: s,
                        end: e,
                        confidence: 0.95,
                        label: None,
                    });
                }
                out.push(Found { detector: rule.name, start: hit.start, end: hit.end, confidence, label: None });
                return Some(hit.end);
            }
            Anchor::Root => return Some(creds::keyword_hit(t, start, a_end, runs, out)),
            Anchor::PrivateKey => {
                let (end, confidence) = keys::private_key(t, start)?;
                out.push(Found { detector: "private_key", start, end, confidence, label: None });
                return Some(end);
            }
            Anchor::Putty => {
                let end = keys::putty_key(t, start)?;
                out.push(Found { detector: "private_key", start, end, confidence: 0.95, label: None });
                return Some(end);
            }
            Anchor::Jwt => {
                let (end, confidence) = keys::jwt(t, start)?;
                out.push(Found { detector: "jwt", start, end, confidence, label: None });
                return Some(end);
            }
            Anchor::Url => out.extend(creds::url_password(t, start)),
            Anchor::Bearer => out.extend(creds::bearer(t, a_end)),
            Anchor::Basic => {
                let found = creds::basic(t, a_end)?;
                let end = found.end;
                out.push(found);
                return Some(end);
            }
            Anchor::ServiceAccount => out.extend(creds::service_account(t, start)),
            Anchor::Sas => {
                let found = creds::sas_signature(t, start)?;
                let end = found.end;
                out.push(found);
                return Some(end);
            }
        }
        None
    }

    /// Finds the literals of `lits` in `t[from..to]` and runs their actions; returns from
    /// where a later search must start to miss nothing: past any consumed bytes, and early
    /// enough to find a literal that started before `to` but did not end before it.
    fn search(lits: &Literals, t: &[u8], from: usize, to: usize, out: &mut Vec<Found>) -> usize {
        let mut pos = from;
        let mut covered = if to == t.len() { to } else { to.saturating_sub(MAX_LITERAL).max(from) };
        while pos < to {
            let Some(hit) = lits.find_in_window(t, pos, to) else { break };
            let mut next = hit.start() + 1;
            for &action in &lits.actions[hit.pattern().as_usize()] {
                if let Some(end) = Self::run(action, t, hit.start(), &[], out) {
                    next = next.max(end);
                    break;
                }
            }
            covered = covered.max(next);
            pos = next;
        }
        covered
    }
}

impl Detector for SecretScanner {
    fn scan(&self, text: &str, out: &mut Vec<Match>) {
        let t = text.as_bytes();
        let mut found: Vec<Found> = Vec::new();
        let mut long = Vec::new();
        match &self.classifier {
            Some(classifier) => {
                let mut on_stack = [Block::default(); STACK_BLOCKS];
                let mut on_heap = Vec::new();
                let count = t.len().div_ceil(blocks::BLOCK);
                let blocks = if count <= STACK_BLOCKS {
                    &mut on_stack[..count]
                } else {
                    on_heap.resize(count, Block::default());
                    &mut on_heap[..]
                };
                classifier.classify(t, blocks);
                // Most strings are short and plain: no room for a long run, no keyword
                // candidate, so both passes would find nothing.
                if t.len() >= MIN_RUN {
                    let token_bits =
                        |at: usize| (blocks[at / blocks::BLOCK].token >> (at % blocks::BLOCK)) & u64::from(u32::MAX);
                    self.token_pass(t, token_bits, &mut long, &mut found);
                }
                if blocks.iter().any(|block| block.keyword != 0) {
                    self.keywords.search_all(t, &long, Some(blocks), &mut found);
                }
            }
            None => {
                self.token_pass(t, |at| runs::block_bits(t, at), &mut long, &mut found);
                self.keywords.search_all(t, &long, None, &mut found);
            }
        }
        if found.is_empty() {
            return;
        }
        for f in resolve(found) {
            if f.start < f.end && text.is_char_boundary(f.start) && text.is_char_boundary(f.end) {
                out.push(Match {
                    detector: f.detector,
                    category: Category::Secret,
                    start: f.start,
                    end: f.end,
                    confidence: f.confidence,
                    label: f.label.map(str::to_string),
                });
            }
        }
    }
}

impl SecretScanner {
    /// The token pass: finds the long runs of `t` (into `long`), and the tokens in a window
    /// around each. `token_bits` as in [`runs::long_runs`].
    fn token_pass(
        &self,
        t: &[u8],
        token_bits: impl Fn(usize) -> u64,
        long: &mut Vec<(usize, usize)>,
        found: &mut Vec<Found>,
    ) {
        let mut covered = 0;
        runs::long_runs(t, MIN_RUN, token_bits, |start, end| {
            long.push((start, end));
            if let Some(bot) = creds::discord_bot(t, start, end) {
                found.push(bot);
            }
            if !runs::may_hold_token(&t[start..end]) {
                return;
            }
            let from = start.saturating_sub(RUN_BACK).max(covered);
            let to = t.len().min(end.min(start + RUN_AHEAD) + 32);
            if from < to {
                covered = Self::search(&self.tokens, t, from, to, found);
            }
        });
    }
}

/// How generic a detector is: a finding is dropped when it overlaps one of a lower level.
pub(crate) fn level(detector: &str) -> u8 {
    match detector {
        "generic_high_entropy" => 2,
        "password_assignment" | "connection_string_password" | "password_in_url" | "bearer_token" | "basic_auth" => 1,
        _ => 0,
    }
}

/// Drops exact duplicates (keeping the best confidence) and generic findings that overlap a
/// more specific one. O(n log n), so a text full of matches stays linear-ish.
fn resolve(mut found: Vec<Found>) -> Vec<Found> {
    found.sort_by(|a, b| {
        (a.start, a.end, a.detector).cmp(&(b.start, b.end, b.detector)).then(b.confidence.total_cmp(&a.confidence))
    });
    found.dedup_by(|next, kept| next.start == kept.start && next.end == kept.end && next.detector == kept.detector);
    for lvl in [1u8, 2] {
        let lower: Vec<(usize, usize)> =
            found.iter().filter(|f| level(f.detector) < lvl).map(|f| (f.start, f.end)).collect();
        if lower.is_empty() {
            continue;
        }
        let mut max_end = Vec::with_capacity(lower.len());
        let mut running = 0;
        for &(_, end) in &lower {
            running = running.max(end);
            max_end.push(running);
        }
        found.retain(|f| {
            if level(f.detector) != lvl {
                return true;
            }
            let k = lower.partition_point(|&(start, _)| start < f.end);
            !(k > 0 && max_end[k - 1] > f.start)
        });
    }
    found
}
