//! `egress scan`: the findings of one payload, as the daemon would see them.
use std::{io::Read as _, path::Path};

use anyhow::Context as _;

use crate::{
    detect::{DetectionConfig, Engine, Finding},
    policy::Policy,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Json,
    Text,
}

/// Scans a file (or standard input for `-` or none) and prints its findings; returns
/// whether there were any.
pub fn run(policy: Option<&Path>, format: Format, input: Option<&Path>) -> anyhow::Result<bool> {
    let config = match policy {
        Some(path) => DetectionConfig::from(&Policy::load(path)?.detection),
        None => DetectionConfig::default(),
    };
    let engine = Engine::from_config(&config)?;
    let payload = read_input(input)?;
    let findings = engine.scan(&payload);
    print!("{}", render(&findings, format)?);
    Ok(!findings.is_empty())
}

fn read_input(input: Option<&Path>) -> anyhow::Result<Vec<u8>> {
    match input {
        Some(path) if path != Path::new("-") => {
            std::fs::read(path).with_context(|| format!("reading {}", path.display()))
        }
        _ => {
            let mut payload = Vec::new();
            std::io::stdin().read_to_end(&mut payload).context("reading standard input")?;
            Ok(payload)
        }
    }
}

fn render(findings: &[Finding], format: Format) -> anyhow::Result<String> {
    Ok(match format {
        Format::Json => serde_json::to_string_pretty(findings)? + "\n",
        Format::Text => findings
            .iter()
            .map(|finding| {
                format!(
                    "{}..{}\t{}/{}\t{}\t{:.2}{}\n",
                    finding.start,
                    finding.end,
                    finding.category.as_str(),
                    finding.detector,
                    finding.json_path.as_deref().unwrap_or("-"),
                    finding.confidence,
                    finding.label.as_deref().map(|label| format!("\t{label}")).unwrap_or_default()
                )
            })
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_output_has_the_documented_fields_and_no_value() {
        let payload =
            br#"{"messages":[{"role":"user","content":"key AKIAIOSFODNN7EXAMPLE and card 4111 1111 1111 1111"}]}"#;
        let findings = Engine::builtin().scan(payload);
        assert!(!findings.is_empty());
        let json: serde_json::Value =
            serde_json::from_str(&render(&findings, Format::Json).expect("renders")).expect("json");
        for finding in json.as_array().expect("array") {
            for field in ["detector", "category", "start", "end", "json_path", "confidence"] {
                assert!(finding.get(field).is_some(), "{field} missing in {finding}");
            }
        }
        let card = findings.iter().find(|f| f.detector == "credit_card").expect("the card is found");
        assert_eq!(&payload[card.start..card.end], b"4111 1111 1111 1111");
        let text = render(&findings, Format::Text).expect("renders");
        assert!(!text.contains("4111 1111"), "the text output never shows the value: {text}");
        assert!(text.contains("pii/credit_card\t$.messages[0].content"), "{text}");
    }
}
