//! Announces new reviews to the policy's `review_webhook` (a chat or inbox system): a JSON
//! POST with a Slack-style `text` line and the review's summary. It carries what the review
//! listing carries and never a raw value: tool, host, path, pid, comm, finding kinds and
//! where they sit. Delivery is best effort (one attempt, 5 s): a failure is logged and
//! counted (`egress_review_notifications_failed_total`), and the review waits all the same.
use std::{sync::Arc, time::Duration};

use serde_json::json;

use crate::{metrics::Metrics, policy::WebhookUrl, review::ReviewSummary};

const TIMEOUT: Duration = Duration::from_secs(5);

pub struct ReviewNotifier {
    client: reqwest::Client,
    instance: String,
}

impl ReviewNotifier {
    /// The HTTPS client trusts the system's roots (and `SSL_CERT_FILE`, if set).
    pub fn new(instance: &str) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder().timeout(TIMEOUT).build()?;
        Ok(Self { client, instance: instance.to_owned() })
    }

    /// Posts the announcement in the background.
    pub fn announce(&self, url: &WebhookUrl, review: &ReviewSummary, metrics: Arc<Metrics>) {
        let request = self.client.post(&url.0).json(&payload(&self.instance, review));
        let id = review.id;
        tokio::spawn(async move {
            let failure = match request.send().await {
                Ok(response) if response.status().is_success() => None,
                Ok(response) => Some(format!("answered {}", response.status())),
                Err(error) => Some(error.to_string()),
            };
            if let Some(failure) = failure {
                tracing::warn!(review = id, "review webhook: {failure}");
                metrics.count_review_notification_failed();
            }
        });
    }
}

fn payload(instance: &str, review: &ReviewSummary) -> serde_json::Value {
    let target = format!(
        "{} {}{}",
        review.tool.as_deref().unwrap_or("(no tool)"),
        review.host.as_deref().unwrap_or("-"),
        review.path.as_deref().unwrap_or("")
    );
    json!({
        "text": format!(
            "egress {instance}: review {} waits for a decision: {target}, pid {} ({}), {} finding(s); \
             `egress review approve {}` or `deny` within {} s",
            review.id, review.pid, review.comm, review.findings.len(), review.id, review.expires_in_seconds
        ),
        "instance": instance,
        "review": review,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_announcement_names_the_review_and_carries_no_value() {
        let review = ReviewSummary {
            id: 4,
            tool: Some("slack".into()),
            host: Some("hooks.slack.com".into()),
            path: Some("/services/x".into()),
            pid: 42,
            comm: "python3".into(),
            findings: vec!["pii/email at $.text".into()],
            body_sha256: Some("ab".repeat(32)),
            policy_version: "cd".repeat(32),
            age_seconds: 0,
            expires_in_seconds: 120,
        };
        let body = payload("daemon", &review);
        let text = body["text"].as_str().unwrap();
        assert!(text.contains("review 4 waits for a decision: slack hooks.slack.com/services/x, pid 42 (python3)"));
        assert!(text.contains("within 120 s"), "{text}");
        assert_eq!(body["review"]["findings"][0], "pii/email at $.text");
        assert_eq!(body["review"]["id"], 4);
    }
}
