//! Network destinations named by the policy: `deny_destinations` entries (refused at
//! `connect()`), code_exec `programs`, and the review webhook.

use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;
use serde::de::{self, Deserialize, Deserializer, Visitor};

use super::pattern::deserialize_via_parse;

/// One `deny_destinations` entry. Literal addresses and CIDRs become [`DenyDestination::Net`]
/// (a single address is a /32 or /128); anything else must be a resolvable host name, which
/// the daemon resolves when it loads the policy (this module does no DNS).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DenyDestination {
    Net(IpNet),
    /// Lowercased host name without trailing dot.
    Host(String),
}

impl DenyDestination {
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if s.is_empty() {
            return Err("deny destination must not be empty".into());
        }
        if s.contains('/') {
            return s
                .parse::<IpNet>()
                .map(|net| Self::Net(net.trunc()))
                .map_err(|e| format!("invalid CIDR `{s}`: {e}"));
        }
        if let Ok(addr) = s.parse::<IpAddr>() {
            return Ok(Self::Net(IpNet::from(addr)));
        }
        if s.contains(':') {
            return Err(format!("invalid IPv6 address `{s}` (ports are not part of a deny destination)"));
        }
        if s.contains('*') {
            return Err(format!(
                "wildcard host name `{s}` cannot be resolved when the policy is loaded; list each host name, or its addresses or CIDR"
            ));
        }
        let name = s.strip_suffix('.').unwrap_or(s);
        if name.len() > 253 {
            return Err(format!("host name `{s}` is longer than 253 characters"));
        }
        for label in name.split('.') {
            if label.is_empty() || label.len() > 63 {
                return Err(format!("invalid host name `{s}`: each label must have 1 to 63 characters"));
            }
            if let Some(c) = label.chars().find(|c| !(c.is_ascii_alphanumeric() || *c == '-')) {
                return Err(format!("invalid character `{c}` in host name `{s}` (allowed: letters, digits, `-`, `.`)"));
            }
            if label.starts_with('-') || label.ends_with('-') {
                return Err(format!("invalid host name `{s}`: a label must not start or end with `-`"));
            }
        }
        if name.rsplit('.').next().is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit())) {
            return Err(format!("invalid IPv4 address `{s}`"));
        }
        Ok(Self::Host(name.to_ascii_lowercase()))
    }
}

impl fmt::Display for DenyDestination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Net(net) => net.fmt(f),
            Self::Host(host) => f.write_str(host),
        }
    }
}

deserialize_via_parse!(DenyDestination, "an IP address, a CIDR or a host name");

/// One `programs` entry of a code_exec tool: an executable whose processes (and everything
/// they start) are confined to the tool's `destinations`. Absolute, because the daemon
/// compares it with `/proc/<pid>/exe`; symbolic links are resolved when the daemon loads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProgramPath(pub std::path::PathBuf);

impl ProgramPath {
    pub fn parse(s: &str) -> Result<Self, String> {
        if !s.starts_with('/') {
            return Err(format!("program `{s}` must be an absolute path to an executable"));
        }
        if s.ends_with('/') {
            return Err(format!("program `{s}` names a directory, not an executable"));
        }
        Ok(Self(s.into()))
    }
}

deserialize_via_parse!(ProgramPath, "an absolute path to an executable");

/// `review_webhook`: an `https://` URL (an `http://` one only on a loopback address, for a
/// local relay), so that what is announced about a review does not cross a network in clear.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookUrl(pub String);

impl WebhookUrl {
    pub fn parse(s: &str) -> Result<Self, String> {
        let (scheme, rest) = s.split_once("://").ok_or_else(|| format!("`{s}` is not a URL (https://host/path)"))?;
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        let host = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
        let host = match host.strip_prefix('[') {
            Some(bracketed) => bracketed.split(']').next().unwrap_or_default(),
            None => host.split(':').next().unwrap_or_default(),
        };
        if host.is_empty() {
            return Err(format!("`{s}` has no host"));
        }
        let loopback = host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
        match scheme {
            "https" => Ok(Self(s.to_owned())),
            "http" if loopback => Ok(Self(s.to_owned())),
            "http" => Err(format!("`{s}`: use https (http is accepted only on a loopback address)")),
            other => Err(format!("`{s}`: scheme `{other}` is not supported, use https")),
        }
    }
}

deserialize_via_parse!(WebhookUrl, "an https URL");
