//! Credentials and tokens: provider token formats (see [`rules`]), private keys, JWTs,
//! passwords in URLs, connection strings and assignments, and high-entropy strings next to
//! a keyword.
//!
//! Speed comes from one pass: every literal any detector starts from (token prefixes,
//! keyword roots, provider names, `-----BEGIN `, `eyJ`, `://`, ...) sits in a single
//! Aho-Corasick automaton. Each hit runs only the small checks of the literals it completes
//! (a length and alphabet walk, a checksum, a JSON header parse), so the cost is a scan
//! plus a few nanoseconds per hit, not a regex per format.
//!
//! Overlaps: a provider format, private key or JWT beats the generic findings on the same
//! bytes (`password_assignment`, `connection_string_password`, `password_in_url`,
//! `bearer_token`, `basic_auth`), and those beat `generic_high_entropy`, so a GitHub token
//! in `"token": "ghp_..."` is reported once, as `github_pat`.
//!
//! Placeholders are never findings: `changeme`, `<password>`, `${PASSWORD}`, `{{ secret }}`,
//! `****`, `xxxx`, `your-...`, `example`, a keyword used as its own value. `changeme` is
//! treated as a placeholder, not a weak password: sending it leaks nothing.

mod creds;
mod entropy;
mod keys;
mod rules;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use aho_corasick::{AhoCorasick, AhoCorasickKind, Input, MatchKind};

use super::{Category, Detector, Match};
use creds::Found;

/// All secret detectors, compiled once.
pub fn detectors() -> Vec<Box<dyn Detector>> {
    vec![Box::new(SecretScanner::new())]
}

/// What a literal in the automaton starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Anchor {
    /// A row of [`rules::RULES`].
    Token(usize),
    /// A provider name of [`rules::CONTEXT_RULES`].
    Context(usize),
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
    DiscordBot,
}

#[derive(Clone, Copy, Debug)]
struct Action {
    anchor: Anchor,
    /// Length of this action's own literal (a prefix of the pattern that hit).
    len: usize,
}

/// Every secret detector in one pass over the text.
pub struct SecretScanner {
    automaton: AhoCorasick,
    /// Per automaton pattern: the actions of every literal that is a prefix of it, longest
    /// first. Leftmost-longest matching reports only the longest literal at a position, so
    /// `sk-proj-` must also run the `sk-` rows.
    actions: Vec<Vec<Action>>,
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

impl SecretScanner {
    pub fn new() -> Self {
        let mut literals: Vec<(String, Anchor)> = Vec::new();
        for (i, rule) in rules::RULES.iter().enumerate() {
            literals.push((rule.anchor.to_string(), Anchor::Token(i)));
        }
        for (i, rule) in rules::CONTEXT_RULES.iter().enumerate() {
            for form in case_forms(rule.keyword) {
                literals.push((form, Anchor::Context(i)));
            }
        }
        for root in creds::ROOTS {
            for form in case_forms(root) {
                literals.push((form, Anchor::Root));
            }
        }
        for form in case_forms("discord") {
            literals.push((form, Anchor::DiscordBot));
        }
        let fixed: &[(&str, Anchor)] = &[
            ("-----BEGIN ", Anchor::PrivateKey),
            ("PuTTY-User-Key-File-", Anchor::Putty),
            ("eyJ", Anchor::Jwt),
            ("://", Anchor::Url),
            ("Bearer ", Anchor::Bearer),
            ("bearer ", Anchor::Bearer),
            ("BEARER ", Anchor::Bearer),
            ("Basic ", Anchor::Basic),
            ("service_account", Anchor::ServiceAccount),
            ("sig=", Anchor::Sas),
            ("Bot ", Anchor::DiscordBot),
        ];
        literals.extend(fixed.iter().map(|(s, a)| (s.to_string(), *a)));
        literals.dedup();

        let mut patterns: BTreeMap<&str, ()> = BTreeMap::new();
        for (lit, _) in &literals {
            patterns.insert(lit, ());
        }
        let patterns: Vec<&str> = patterns.into_keys().collect();
        let actions = patterns
            .iter()
            .map(|p| {
                let mut acts: Vec<Action> = literals
                    .iter()
                    .filter(|(lit, _)| p.starts_with(lit.as_str()))
                    .map(|(lit, anchor)| Action { anchor: *anchor, len: lit.len() })
                    .collect();
                acts.sort_by(|a, b| b.len.cmp(&a.len));
                acts.dedup_by(|a, b| a.anchor == b.anchor && a.len == b.len);
                acts
            })
            .collect();
        let automaton = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .kind(Some(AhoCorasickKind::DFA))
            .build(&patterns)
            .expect("the secret literals build an automaton");
        Self { automaton, actions }
    }

    /// Number of distinct formats (detector names) the scanner can report.
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

    /// Runs one action at a hit; returns where scanning may resume if the action consumed
    /// the bytes (a token, a key block), so nothing inside them is matched again.
    fn run(&self, action: Action, t: &[u8], start: usize, out: &mut Vec<Found>) -> Option<usize> {
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
            Anchor::Context(i) => out.extend(creds::context(t, start, a_end, &rules::CONTEXT_RULES[i])),
            Anchor::Root => {
                if let Some(found) = creds::assignment(t, start, a_end).or_else(|| creds::generic(t, start, a_end)) {
                    out.push(found);
                }
            }
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
            Anchor::DiscordBot => out.extend(creds::discord_bot(t, a_end)),
        }
        None
    }
}

impl Detector for SecretScanner {
    fn scan(&self, text: &str, out: &mut Vec<Match>) {
        let t = text.as_bytes();
        let mut found: Vec<Found> = Vec::new();
        let mut pos = 0;
        while pos < t.len() {
            let Some(hit) = self.automaton.find(Input::new(t).span(pos..t.len())) else { break };
            let mut next = hit.start() + 1;
            for &action in &self.actions[hit.pattern().as_usize()] {
                if let Some(end) = self.run(action, t, hit.start(), &mut found) {
                    next = next.max(end);
                    break;
                }
            }
            pos = next;
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

/// How generic a detector is: a finding is dropped when it overlaps one of a lower level.
fn level(detector: &str) -> u8 {
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
