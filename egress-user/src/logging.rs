//! Structured logs (`tracing`) on stderr, as text or as one JSON object per line. The level
//! comes from `RUST_LOG` (default `info`): `error` is for what stops egress from doing its
//! job, `warn` for lost inspection, refusals and degraded service, `info` for its life cycle
//! and decisions, `debug` for each event.
use std::{io::IsTerminal as _, sync::OnceLock};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

impl LogFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::Json => "json",
        }
    }
}

static CHOSEN: OnceLock<LogFormat> = OnceLock::new();

/// Installs the subscriber for this process; helper processes it starts log the same way
/// ([`format`]).
pub fn init(format: LogFormat) {
    let _ = CHOSEN.set(format);
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(false).init(),
    }
}

/// The format this process logs in.
pub fn format() -> LogFormat {
    CHOSEN.get().copied().unwrap_or(LogFormat::Text)
}
