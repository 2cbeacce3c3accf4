//! Confinement of code-execution processes: a `code_exec` tool that names `programs` confines
//! every process running one of them, and everything such a process starts, to the tool's
//! `destinations`. The daemon marks a process when it executes a listed program (checked
//! against `/proc/<pid>/exe` while the process is held at exec in enforce mode); the kernel
//! copies the mark to children at fork and refuses their `connect()` to anything else.
//!
//! A confined process may also reach the system's DNS resolvers (`/etc/resolv.conf`), or host
//! names among its destinations could not be resolved.
use std::{
    collections::HashMap,
    net::{IpAddr, ToSocketAddrs as _},
    path::{Path, PathBuf},
};

use egress_common::{ConnectRefusal, refusal};
use ipnet::IpNet;

use crate::{audit::AuditRecord, inspector::Writer, policy::Policy};

const RESOLV_CONF: &str = "/etc/resolv.conf";

/// One confining tool, by its slot (the index the kernel maps use).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfinedTool {
    pub name: String,
    /// Where its processes may connect: `destinations` (host names resolved now) and the
    /// DNS resolvers.
    pub allowed: Vec<IpNet>,
}

/// The confinement a policy asks for, resolved against this host.
#[derive(Debug, Default)]
pub struct Confinement {
    tools: Vec<ConfinedTool>,
    /// Canonical executable path -> slot.
    programs: HashMap<PathBuf, u32>,
}

impl Confinement {
    /// Resolves program paths (symbolic links followed) and destination host names. A
    /// program that does not exist yet is kept as written; a host name that does not resolve
    /// is left out with a warning (the tool reaches less, never more).
    pub fn from_policy(policy: &Policy) -> Self {
        let resolvers = nameservers(&std::fs::read_to_string(RESOLV_CONF).unwrap_or_default());
        let mut confinement = Self::default();
        for (slot, tool) in policy.confining_tools().enumerate() {
            let slot = slot as u32;
            let mut allowed = tool.destination_nets();
            for host in tool.destination_hosts() {
                match (host, 0).to_socket_addrs() {
                    Ok(addresses) => allowed.extend(addresses.map(|address| IpNet::from(address.ip()))),
                    Err(error) => tracing::warn!(
                        "tool {}: destination {host} does not resolve now ({error}); its processes cannot reach it",
                        tool.name
                    ),
                }
            }
            allowed.extend(resolvers.iter().copied().map(IpNet::from));
            allowed.sort();
            allowed.dedup();
            for program in &tool.programs {
                let path = std::fs::canonicalize(&program.0).unwrap_or_else(|_| program.0.clone());
                confinement.programs.entry(path).or_insert(slot);
            }
            confinement.tools.push(ConfinedTool { name: tool.name.clone(), allowed });
        }
        confinement
    }

    pub fn tools(&self) -> &[ConfinedTool] {
        &self.tools
    }

    pub fn is_empty(&self) -> bool {
        self.tools.is_empty()
    }

    /// The slot of the tool whose program `pid` runs, if any.
    pub fn slot_of_process(&self, pid: u32) -> Option<u32> {
        let exe = std::fs::read_link(format!("/proc/{pid}/exe")).ok()?;
        self.slot_of_program(&exe)
    }

    pub fn slot_of_program(&self, exe: &Path) -> Option<u32> {
        self.programs.get(exe).copied()
    }

    pub fn tool_name(&self, slot: u32) -> Option<&str> {
        self.tools.get(slot as usize).map(|tool| tool.name.as_str())
    }

    pub fn slot_of_tool(&self, name: &str) -> Option<u32> {
        self.tools.iter().position(|tool| tool.name == name).map(|slot| slot as u32)
    }
}

/// The `nameserver` addresses of a resolv.conf.
fn nameservers(resolv_conf: &str) -> Vec<IpAddr> {
    resolv_conf
        .lines()
        .filter_map(|line| line.trim().strip_prefix("nameserver"))
        .filter_map(|rest| rest.trim().split('%').next()?.parse().ok())
        .collect()
}

/// The audit record of a `connect()` the kernel refused (or, in monitor mode, reported).
pub fn refusal_record(
    policy: &Policy,
    confinement: &Confinement,
    writer: &Writer,
    refused: &ConnectRefusal,
) -> AuditRecord {
    let target = refused.peer.socket_addr().to_string();
    let tool = (refused.reason == refusal::CONFINED).then(|| confinement.tool_name(refused.slot)).flatten();
    let why = match (refused.reason, tool) {
        (refusal::DENY_LIST, _) => "in deny_destinations".to_owned(),
        (_, Some(tool)) => format!("outside the destinations of code_exec tool {tool}"),
        (_, None) => format!("outside the destinations of confinement slot {}", refused.slot),
    };
    let enforced = refused.enforced != 0;
    let verb = if enforced { "refused" } else { "would be refused (monitor mode: not enforced)" };
    let mut record = crate::inspector::base_record(policy, writer, format!("connect() to {target} {verb}: {why}"));
    record.peer = Some(target);
    record.tool = tool.map(str::to_owned);
    record.action = crate::policy::Action::Block.as_str();
    record.outcome = if enforced { "blocked" } else { "passed" };
    record.enforced = enforced;
    record
}

#[cfg(test)]
mod tests {
    use egress_common::Peer;

    use super::*;

    const POLICY: &str = "version: 1\nmode: enforce\ndefault_action: allow\nfail_mode: open\ntools:\n  - name: runner\n    class: code_exec\n    match: { host: runner }\n    destinations: [ 10.1.0.0/16, localhost ]\n    programs: [ /bin/sh, /nonexistent/tool ]\n  - name: closed\n    class: code_exec\n    match: { host: closed }\n    programs: [ /usr/bin/env ]\n  - name: unconfined\n    class: code_exec\n    match: { host: other }\n";

    #[test]
    fn each_confining_tool_gets_a_slot_with_its_destinations_and_the_resolvers() {
        let policy = Policy::from_yaml("t.yaml", POLICY).expect("valid");
        let confinement = Confinement::from_policy(&policy);
        let names: Vec<&str> = confinement.tools().iter().map(|tool| tool.name.as_str()).collect();
        assert_eq!(names, ["runner", "closed"], "a code_exec tool without programs confines nothing");
        let runner = &confinement.tools()[0].allowed;
        assert!(runner.contains(&"10.1.0.0/16".parse().unwrap()));
        assert!(runner.contains(&"127.0.0.1/32".parse().unwrap()), "localhost resolved: {runner:?}");
        let resolvers = nameservers(&std::fs::read_to_string(RESOLV_CONF).unwrap_or_default());
        for resolver in &resolvers {
            assert!(confinement.tools()[1].allowed.contains(&IpNet::from(*resolver)));
        }
        assert_eq!(confinement.tools()[1].allowed.len(), resolvers.len(), "no destinations: the resolvers only");
        // Programs are compared by their resolved path.
        let sh = std::fs::canonicalize("/bin/sh").unwrap();
        assert_eq!(confinement.slot_of_program(&sh), Some(0));
        assert_eq!(confinement.slot_of_program(Path::new("/nonexistent/tool")), Some(0));
        let env = std::fs::canonicalize("/usr/bin/env").unwrap();
        assert_eq!(confinement.slot_of_program(&env), Some(1));
        assert_eq!(confinement.slot_of_program(Path::new("/usr/bin/true")), None);
        assert_eq!((confinement.slot_of_tool("closed"), confinement.tool_name(1)), (Some(1), Some("closed")));
    }

    #[test]
    fn nameservers_are_read_from_resolv_conf() {
        let conf = "# comment\nnameserver 10.0.0.2\nsearch example\nnameserver fe80::1%eth0\nnameserver bogus\n";
        assert_eq!(nameservers(conf), ["10.0.0.2".parse::<IpAddr>().unwrap(), "fe80::1".parse().unwrap()]);
    }

    #[test]
    fn a_refusal_record_names_the_tool_and_whether_it_was_enforced() {
        let policy = Policy::from_yaml("t.yaml", POLICY).expect("valid");
        let confinement = Confinement::from_policy(&policy);
        let writer = Writer {
            pid: 7,
            comm: "curl".into(),
            cgroup: "/agents".into(),
            tls_library: String::new(),
            peer: None,
            confined_to: None,
        };
        let peer = Peer { family: 2, port: 443, local_port: 0, ip: [u32::from_ne_bytes([203, 0, 113, 9]), 0, 0, 0] };
        let refused = ConnectRefusal { peer, reason: refusal::CONFINED, slot: 1, enforced: 1, _pad: 0 };
        let record = refusal_record(&policy, &confinement, &writer, &refused);
        assert_eq!((record.tool.as_deref(), record.action, record.outcome), (Some("closed"), "block", "blocked"));
        assert_eq!(record.peer.as_deref(), Some("203.0.113.9:443"));
        assert!(record.reason.contains("outside the destinations of code_exec tool closed"), "{}", record.reason);
        let reported = ConnectRefusal { reason: refusal::DENY_LIST, enforced: 0, ..refused };
        let record = refusal_record(&policy, &confinement, &writer, &reported);
        assert_eq!((record.tool, record.outcome, record.enforced), (None, "passed", false));
        assert!(record.reason.contains("in deny_destinations"), "{}", record.reason);
    }
}
