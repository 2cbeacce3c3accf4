//! Detection quality on the labelled corpus (`corpus/payloads.jsonl`, written by
//! `corpus/generate.py`): the engine is built from the corpus fixtures and must reach a
//! precision and recall floor in every category.
//!
//! `cargo test --release -p egress-user --test detect_eval -- --nocapture` prints the table
//! (`cargo xtask eval` runs that). With `EGRESS_EVAL_FINDINGS=FILE` every finding and scan
//! time is also written to FILE, which `bench/compare.py` reads.
use std::path::{Path, PathBuf};

use egress::detect::{Category, DetectionConfig, EdmSource, Engine, eval};

/// (category, precision floor, recall floor): just under what the engine reaches on the
/// corpus, so a regression fails the test. Raise them when the engine gets better; never
/// lower one to make a change pass. Measured when set: pii 0.994 / 0.981, secret 0.987 /
/// 0.991, the rest 1.000 / 1.000.
const FLOORS: [(Category, f64, f64); 6] = [
    (Category::Pii, 0.98, 0.97),
    (Category::Secret, 0.97, 0.97),
    (Category::Document, 0.95, 0.95),
    (Category::Dictionary, 0.95, 0.95),
    (Category::Edm, 0.95, 0.95),
    (Category::Taint, 0.95, 0.95),
];

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../corpus")
}

fn engine() -> Engine {
    let fixtures = corpus_dir().join("fixtures");
    let config = DetectionConfig {
        documents_dir: Some(fixtures.join("documents")),
        // The corpus pastes 20 to 40 % of a document; a share of 15 % must be reported.
        document_min_share: 0.15,
        dictionaries: vec![fixtures.join("terms.txt")],
        edm: vec![EdmSource {
            file: fixtures.join("customers.csv"),
            primary: vec!["email".into()],
            corroborating: vec!["name".into(), "account".into()],
        }],
        ..Default::default()
    };
    let engine = Engine::from_config(&config).expect("engine from the corpus fixtures");
    // The CRM response the agent read: the corpus sends parts of it elsewhere.
    let crm = std::fs::read_to_string(fixtures.join("taint_source.json")).expect("corpus/fixtures/taint_source.json");
    engine.taint().remember("crm", &crm);
    engine
}

#[test]
fn detection_quality_meets_the_floors() {
    let corpus = eval::load_corpus(&corpus_dir().join("payloads.jsonl")).expect("corpus (run corpus/generate.py)");
    let report = eval::evaluate(&engine(), &corpus);
    println!("{report}");
    if let Some(path) = std::env::var_os("EGRESS_EVAL_FINDINGS") {
        report.write_findings_json(Path::new(&path)).expect("writing EGRESS_EVAL_FINDINGS");
    }
    let mut failures = Vec::new();
    for (category, precision_floor, recall_floor) in FLOORS {
        let counts = report.counts(category);
        let precision = counts.precision().unwrap_or(0.0);
        let recall = counts.recall().unwrap_or(0.0);
        if precision < precision_floor {
            failures.push(format!("{} precision {precision:.3} < {precision_floor}", category.as_str()));
        }
        if recall < recall_floor {
            failures.push(format!("{} recall {recall:.3} < {recall_floor}", category.as_str()));
        }
    }
    assert!(failures.is_empty(), "{}\n\n{report}\n\nfirst misses:\n{}", failures.join("\n"), report.misses_text(60));
}
