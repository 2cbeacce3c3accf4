//! `deny_destinations` entries: destinations refused at `connect()`.

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
