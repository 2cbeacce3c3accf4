//! Measured detection quality: the engine run over a labelled corpus (`corpus/payloads.jsonl`,
//! written by `corpus/generate.py`), its findings matched against the labels, and precision,
//! recall and time per payload reported per category.
//!
//! Matching is per category and one to one: a finding is a true positive when it overlaps a
//! not yet matched label of its category, a duplicate (neither true nor false) when it only
//! overlaps labels already matched (two detectors on the same bytes), and a false positive
//! when it overlaps no label of its category. Labels left unmatched are false negatives.
//! Precision is tp / (tp + fp), recall tp / labels.
use std::collections::BTreeMap;
use std::fmt;
use std::io::{self, BufRead as _, BufReader, BufWriter, Write as _};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::{Category, Engine, Finding};

/// One sensitive value in a payload: its byte span, as it appears in the payload text.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Label {
    pub category: Category,
    /// The detector expected to find it (for the per-detector breakdown; matching is by
    /// category).
    pub detector: String,
    pub start: usize,
    pub end: usize,
}

/// One HTTP body an agent sends, with every sensitive value in it labelled.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabelledPayload {
    pub id: String,
    /// The channel: `openai_chat`, `tool_call`, `email`, `log`, ...
    pub kind: String,
    pub payload: String,
    pub labels: Vec<Label>,
}

#[derive(Debug, thiserror::Error)]
pub enum CorpusError {
    #[error("reading {}: {source}", path.display())]
    Read { path: PathBuf, source: io::Error },
    #[error("{}:{line}: {source}", path.display())]
    Parse { path: PathBuf, line: usize, source: serde_json::Error },
    #[error("{}:{line}: payload {id}: label {start}..{end} is not a span of its {len} bytes", path.display())]
    Span { path: PathBuf, line: usize, id: String, start: usize, end: usize, len: usize },
}

/// Reads a JSON-lines corpus and checks every label is a span of its payload on character
/// boundaries.
pub fn load_corpus(path: &Path) -> Result<Vec<LabelledPayload>, CorpusError> {
    let read_error = |source| CorpusError::Read { path: path.to_path_buf(), source };
    let file = std::fs::File::open(path).map_err(read_error)?;
    let mut corpus = Vec::new();
    for (index, line) in BufReader::new(file).lines().enumerate() {
        let line = line.map_err(read_error)?;
        if line.trim().is_empty() {
            continue;
        }
        let payload: LabelledPayload = serde_json::from_str(&line).map_err(|source| CorpusError::Parse {
            path: path.to_path_buf(),
            line: index + 1,
            source,
        })?;
        let text = &payload.payload;
        if let Some(bad) = payload.labels.iter().find(|l| l.start >= l.end || text.get(l.start..l.end).is_none()) {
            return Err(CorpusError::Span {
                path: path.to_path_buf(),
                line: index + 1,
                id: payload.id.clone(),
                start: bad.start,
                end: bad.end,
                len: text.len(),
            });
        }
        corpus.push(payload);
    }
    Ok(corpus)
}

/// The findings in one payload and how long the scan took.
#[derive(Clone, Debug, Serialize)]
pub struct Scanned {
    pub id: String,
    pub micros: f64,
    pub findings: Vec<Finding>,
}

/// Counts of one category.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub labels: usize,
    pub findings: usize,
    pub tp: usize,
    pub fp: usize,
    pub fn_: usize,
    pub duplicates: usize,
}

impl Counts {
    /// None when there was no finding to judge.
    pub fn precision(&self) -> Option<f64> {
        ratio(self.tp, self.tp + self.fp)
    }

    /// None when there was no label to find.
    pub fn recall(&self) -> Option<f64> {
        ratio(self.tp, self.labels)
    }
}

fn ratio(part: usize, whole: usize) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MissKind {
    FalsePositive,
    FalseNegative,
}

/// A finding with no label, or a label with no finding: what to look at when a floor fails.
#[derive(Clone, Debug)]
pub struct Miss {
    pub kind: MissKind,
    pub id: String,
    pub category: Category,
    /// The finding's detector (false positive) or the label's (false negative).
    pub detector: String,
    pub start: usize,
    pub end: usize,
    /// The span and a little around it (the corpus is synthetic, so printing it is fine).
    pub excerpt: String,
}

/// Quality per category and time per payload.
#[derive(Clone, Debug, Default)]
pub struct Report {
    pub categories: BTreeMap<Category, Counts>,
    /// `category/detector` of the labels → (found, total).
    pub recall_by_detector: BTreeMap<String, (usize, usize)>,
    /// `category/detector` of the findings → false positives.
    pub fp_by_detector: BTreeMap<String, usize>,
    pub misses: Vec<Miss>,
    pub scanned: Vec<Scanned>,
    pub payload_bytes: usize,
}

/// Scans per payload whose fastest time is kept: on a shared machine the others are mostly
/// someone else's noise. A debug build's times mean nothing, so it scans once.
const TIMED_SCANS: usize = if cfg!(debug_assertions) { 1 } else { 3 };

/// Scans every payload (after a short warm-up, so lazily built state is not timed).
pub fn scan_corpus(engine: &Engine, corpus: &[LabelledPayload]) -> Vec<Scanned> {
    for payload in corpus.iter().take(20) {
        engine.scan(payload.payload.as_bytes());
    }
    corpus
        .iter()
        .map(|payload| {
            let mut findings = Vec::new();
            let mut micros = f64::INFINITY;
            for _ in 0..TIMED_SCANS {
                let started = Instant::now();
                findings = engine.scan(payload.payload.as_bytes());
                micros = micros.min(started.elapsed().as_secs_f64() * 1e6);
            }
            Scanned { id: payload.id.clone(), micros, findings }
        })
        .collect()
}

/// Runs the engine over the corpus and scores it.
pub fn evaluate(engine: &Engine, corpus: &[LabelledPayload]) -> Report {
    score(corpus, scan_corpus(engine, corpus))
}

/// Scores findings against the labels; `scanned[i]` belongs to `corpus[i]`.
pub fn score(corpus: &[LabelledPayload], scanned: Vec<Scanned>) -> Report {
    let mut report = Report::default();
    for (payload, result) in corpus.iter().zip(&scanned) {
        report.payload_bytes += payload.payload.len();
        let mut categories: Vec<Category> =
            payload.labels.iter().map(|l| l.category).chain(result.findings.iter().map(|f| f.category)).collect();
        categories.sort();
        categories.dedup();
        for category in categories {
            report.match_category(payload, &result.findings, category);
        }
    }
    report.scanned = scanned;
    report
}

impl Report {
    fn match_category(&mut self, payload: &LabelledPayload, findings: &[Finding], category: Category) {
        let labels: Vec<&Label> = payload.labels.iter().filter(|l| l.category == category).collect();
        let mut matched = vec![false; labels.len()];
        let counts = self.categories.entry(category).or_default();
        counts.labels += labels.len();
        for finding in findings.iter().filter(|f| f.category == category) {
            counts.findings += 1;
            let overlaps = |l: &&Label| l.start < finding.end && finding.start < l.end;
            if let Some(i) = (0..labels.len()).find(|&i| !matched[i] && overlaps(&labels[i])) {
                matched[i] = true;
                counts.tp += 1;
            } else if labels.iter().any(overlaps) {
                counts.duplicates += 1;
            } else {
                counts.fp += 1;
                *self.fp_by_detector.entry(format!("{}/{}", category.as_str(), finding.detector)).or_default() += 1;
                let span = finding.start..finding.end;
                self.misses.push(miss(MissKind::FalsePositive, payload, category, finding.detector, span));
            }
        }
        for (label, found) in labels.iter().zip(&matched) {
            let entry = self.recall_by_detector.entry(format!("{}/{}", category.as_str(), label.detector)).or_default();
            entry.1 += 1;
            if *found {
                entry.0 += 1;
            } else {
                counts.fn_ += 1;
                let span = label.start..label.end;
                self.misses.push(miss(MissKind::FalseNegative, payload, category, &label.detector, span));
            }
        }
    }

    pub fn counts(&self, category: Category) -> Counts {
        self.categories.get(&category).copied().unwrap_or_default()
    }

    /// Median and 99th percentile (nearest rank) of the scan time per payload, µs.
    pub fn micros_per_payload(&self) -> (f64, f64) {
        let mut times: Vec<f64> = self.scanned.iter().map(|s| s.micros).collect();
        if times.is_empty() {
            return (0.0, 0.0);
        }
        times.sort_by(f64::total_cmp);
        let rank = |q: f64| times[((q * times.len() as f64).ceil() as usize).clamp(1, times.len()) - 1];
        (rank(0.5), rank(0.99))
    }

    /// The first `limit` misses, one a line.
    pub fn misses_text(&self, limit: usize) -> String {
        let mut out = String::new();
        for m in self.misses.iter().take(limit) {
            let kind = if m.kind == MissKind::FalsePositive { "FP" } else { "FN" };
            let (id, category, detector, excerpt) = (&m.id, m.category.as_str(), &m.detector, &m.excerpt);
            out += &format!("{kind} {id} {category}/{detector} {}..{}: {excerpt:?}\n", m.start, m.end);
        }
        out
    }

    /// Writes every payload's findings and scan time as JSON (`bench/compare.py` reads it).
    pub fn write_findings_json(&self, path: &Path) -> io::Result<()> {
        let mut out = BufWriter::new(std::fs::File::create(path)?);
        serde_json::to_writer(&mut out, &serde_json::json!({ "tool": "egress", "payloads": self.scanned }))?;
        out.flush()
    }
}

fn miss(kind: MissKind, payload: &LabelledPayload, category: Category, detector: &str, span: Range<usize>) -> Miss {
    let Range { start, end } = span;
    let text = &payload.payload;
    let floor = |mut i: usize| {
        i = i.min(text.len());
        while !text.is_char_boundary(i) {
            i -= 1;
        }
        i
    };
    let from = floor(start.saturating_sub(24));
    let to = floor(end.min(start + 120) + 24);
    Miss {
        kind,
        id: payload.id.clone(),
        category,
        detector: detector.to_owned(),
        start,
        end,
        excerpt: text[from..to.max(from)].to_owned(),
    }
}

fn row(f: &mut fmt::Formatter<'_>, name: &str, c: &Counts) -> fmt::Result {
    let show = |r: Option<f64>| r.map_or_else(|| "-".to_owned(), |r| format!("{r:.3}"));
    let (precision, recall) = (show(c.precision()), show(c.recall()));
    let Counts { labels, findings, tp, fp, fn_, duplicates } = c;
    writeln!(f, "{name:<11}{labels:>7}{findings:>9}{tp:>6}{fp:>6}{fn_:>6}{duplicates:>6}{precision:>11}{recall:>8}")
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let header = ["category", "labels", "findings", "tp", "fp", "fn", "dup", "precision", "recall"];
        let [name, rest @ ..] = header;
        let widths = [7, 9, 6, 6, 6, 6, 11, 8];
        write!(f, "{name:<11}")?;
        for (title, width) in rest.iter().zip(widths) {
            write!(f, "{title:>width$}")?;
        }
        writeln!(f)?;
        let mut all = Counts::default();
        for (category, c) in &self.categories {
            row(f, category.as_str(), c)?;
            all.labels += c.labels;
            all.findings += c.findings;
            all.tp += c.tp;
            all.fp += c.fp;
            all.fn_ += c.fn_;
            all.duplicates += c.duplicates;
        }
        row(f, "all", &all)?;
        let recall: Vec<String> =
            self.recall_by_detector.iter().map(|(name, (found, total))| format!("{name} {found}/{total}")).collect();
        writeln!(f, "found per label detector: {}", recall.join(", "))?;
        let fps: Vec<String> = self.fp_by_detector.iter().map(|(name, n)| format!("{name} {n}")).collect();
        writeln!(
            f,
            "false positives per finding detector: {}",
            if fps.is_empty() { "none".to_owned() } else { fps.join(", ") }
        )?;
        let (median, p99) = self.micros_per_payload();
        let build = if cfg!(debug_assertions) {
            " (debug build: times mean nothing)".to_owned()
        } else {
            format!(", fastest of {TIMED_SCANS} scans each")
        };
        write!(
            f,
            "time per payload: median {median:.0} µs, p99 {p99:.0} µs over {} payloads, {:.2} MB{build}",
            self.scanned.len(),
            self.payload_bytes as f64 / 1e6
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::{Detector, Match};

    /// Finds every occurrence of a word, as a given category.
    struct Word(&'static str, Category);

    impl Detector for Word {
        fn scan(&self, text: &str, out: &mut Vec<Match>) {
            for (start, _) in text.match_indices(self.0) {
                out.push(Match {
                    detector: self.0,
                    category: self.1,
                    start,
                    end: start + self.0.len(),
                    confidence: 1.0,
                    label: None,
                });
            }
        }
    }

    fn labelled(id: &str, payload: &str, labels: &[(Category, &str)]) -> LabelledPayload {
        let labels = labels
            .iter()
            .map(|&(category, value)| {
                let start = payload.find(value).expect("labelled value in payload");
                Label { category, detector: "test".into(), start, end: start + value.len() }
            })
            .collect();
        LabelledPayload { id: id.into(), kind: "test".into(), payload: payload.into(), labels }
    }

    #[test]
    fn findings_are_matched_one_to_one_within_their_category() {
        let engine = Engine::new(
            vec![
                Box::new(Word("secret", Category::Secret)),
                Box::new(Word("cret", Category::Secret)),
                Box::new(Word("alice", Category::Pii)),
            ],
            [0; 16],
            0,
        );
        let corpus = [
            // "secret" and "cret" both hit the one label: one tp, one duplicate.
            labelled("a", "my secret", &[(Category::Secret, "secret")]),
            // "alice" is unlabelled: a false positive; the labelled "bob" is missed.
            labelled("b", "alice and bob", &[(Category::Pii, "bob")]),
            // A label of another category does not excuse a finding.
            labelled("c", "secret", &[(Category::Pii, "secret")]),
        ];
        let report = evaluate(&engine, &corpus);
        let secret = report.counts(Category::Secret);
        assert_eq!(secret, Counts { labels: 1, findings: 4, tp: 1, fp: 2, fn_: 0, duplicates: 1 });
        let pii = report.counts(Category::Pii);
        assert_eq!(pii, Counts { labels: 2, findings: 1, tp: 0, fp: 1, fn_: 2, duplicates: 0 });
        assert_eq!(secret.precision(), Some(1.0 / 3.0));
        assert_eq!(pii.recall(), Some(0.0));
        assert_eq!(report.recall_by_detector["pii/test"], (0, 2));
        assert_eq!(report.fp_by_detector["pii/alice"], 1);
        assert_eq!(report.scanned.len(), 3);
        let text = report.to_string();
        assert!(text.contains("secret"), "{text}");
    }

    #[test]
    fn percentiles_use_nearest_rank() {
        let scanned = (1..=100).map(|i| Scanned { id: i.to_string(), micros: i as f64, findings: vec![] }).collect();
        let report = Report { scanned, ..Report::default() };
        assert_eq!(report.micros_per_payload(), (50.0, 99.0));
    }

    fn corpus_path() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../corpus/payloads.jsonl")
    }

    #[test]
    fn the_shipped_corpus_loads_and_covers_every_detector() {
        let corpus = load_corpus(&corpus_path()).expect("corpus/payloads.jsonl (run corpus/generate.py)");
        assert!(corpus.len() >= 400, "{} payloads", corpus.len());
        let unlabelled = corpus.iter().filter(|p| p.labels.is_empty()).count();
        assert!(unlabelled >= 100, "{unlabelled} hard-negative payloads");
        let mut per_detector: BTreeMap<(Category, &str), usize> = BTreeMap::new();
        for label in corpus.iter().flat_map(|p| &p.labels) {
            *per_detector.entry((label.category, &label.detector)).or_default() += 1;
        }
        let pii = [
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
            "ipv4",
            "ipv6",
            "date_of_birth",
            "street_address",
        ];
        for detector in pii {
            let n = per_detector.get(&(Category::Pii, detector)).copied().unwrap_or(0);
            assert!(n >= 15, "{n} labels of pii/{detector}");
        }
        for (category, at_least) in [
            (Category::Secret, 150),
            (Category::Document, 30),
            (Category::Dictionary, 30),
            (Category::Edm, 30),
            (Category::Taint, 30),
        ] {
            let n: usize = per_detector.iter().filter(|((c, _), _)| *c == category).map(|(_, n)| n).sum();
            assert!(n >= at_least, "{n} labels of {}", category.as_str());
        }
    }

    #[test]
    fn a_label_outside_its_payload_is_refused() {
        let dir = std::env::temp_dir().join(format!("egress-eval-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("bad.jsonl");
        let line = r#"{"id":"x","kind":"log","payload":"héllo","labels":[{"category":"pii","detector":"email","start":1,"end":2}]}"#;
        std::fs::write(&path, format!("{line}\n")).expect("write");
        let error = load_corpus(&path).expect_err("span inside a character");
        assert!(error.to_string().contains("payload x"), "{error}");
        std::fs::remove_dir_all(&dir).ok();
    }
}
