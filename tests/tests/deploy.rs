//! The deployment files under `deploy/`, checked against the real `egress` binary: the systemd
//! unit, the Kubernetes manifests and the Grafana dashboard. No root needed; the binary is
//! found through `EGRESS_BIN` as in the other suites.
//!
//! ```text
//! cargo test -p egress-tests --test deploy
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize as _;
use serde_json::Value;

/// What the daemon cannot work without, whichever way it is deployed.
const REQUIRED_CAPABILITIES: &[&str] =
    &["CAP_BPF", "CAP_PERFMON", "CAP_NET_ADMIN", "CAP_SYS_ADMIN", "CAP_SYS_PTRACE", "CAP_KILL"];

/// Where the daemon pins kernel state.
const BPF_FS: &str = "/sys/fs/bpf";
/// Where the review API sockets live.
const RUN_DIR: &str = "/run/egress";

fn deploy_file(name: &str) -> (PathBuf, String) {
    let path = egress_tests::workspace_dir().join("deploy").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    (path, text)
}

/// Asserts the real CLI accepts `egress ARGS`: with `--help` appended, clap parses every flag
/// and value before it reaches `--help` (exit 2 on an unknown flag or a bad value) and then
/// prints the help instead of starting the daemon.
fn assert_cli_accepts(args: &[String], what: &str) {
    let output = Command::new(egress_tests::egress_bin())
        .args(args)
        .arg("--help")
        .output()
        .unwrap_or_else(|e| panic!("{what}: run egress: {e}"));
    assert!(
        output.status.success(),
        "{what}: `egress {}` is refused by the CLI ({}):\n{}",
        args.join(" "),
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The values of a long flag, written `--flag VALUE` or `--flag=VALUE`.
fn flag_values(args: &[String], flag: &str) -> Vec<String> {
    let mut values = Vec::new();
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        if arg == flag {
            values.extend(rest.next().cloned());
        } else if let Some(value) = arg.strip_prefix(flag).and_then(|r| r.strip_prefix('=')) {
            values.push(value.to_string());
        }
    }
    values
}

fn only_flag_value(args: &[String], flag: &str, what: &str) -> String {
    let values = flag_values(args, flag);
    assert_eq!(values.len(), 1, "{what}: expected one {flag} in {args:?}");
    values[0].clone()
}

/// Whether `path` is `dir` or below it.
fn is_under(path: &str, dir: &str) -> bool {
    Path::new(path).starts_with(dir)
}

// ---------------------------------------------------------------------------------------
// systemd

/// A unit file: each section's `Key=value` lines in order, continuation lines joined.
struct UnitFile {
    sections: BTreeMap<String, Vec<(String, String)>>,
}

impl UnitFile {
    fn parse(text: &str) -> Self {
        let mut sections: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
        let mut current: Option<String> = None;
        let mut pending = String::new();
        for raw in text.lines() {
            let line = raw.trim();
            if pending.is_empty() && (line.is_empty() || line.starts_with('#') || line.starts_with(';')) {
                continue;
            }
            if let Some(continued) = line.strip_suffix('\\') {
                pending.push_str(continued);
                pending.push(' ');
                continue;
            }
            let line = std::mem::take(&mut pending) + line;
            if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                sections.entry(name.to_string()).or_default();
                current = Some(name.to_string());
                continue;
            }
            let (key, value) = line.split_once('=').unwrap_or_else(|| panic!("not `Key=value`: {line:?}"));
            let section = current.clone().unwrap_or_else(|| panic!("`{line}` is outside any section"));
            sections.entry(section).or_default().push((key.trim().to_string(), value.trim().to_string()));
        }
        UnitFile { sections }
    }

    fn values(&self, section: &str, key: &str) -> Vec<&str> {
        self.sections
            .get(section)
            .map(|entries| entries.iter().filter(|(k, _)| k == key).map(|(_, v)| v.as_str()).collect())
            .unwrap_or_default()
    }

    /// The value of a key set once (the last one wins in systemd, but a unit here sets each
    /// setting once).
    fn value(&self, section: &str, key: &str) -> Option<&str> {
        let values = self.values(section, key);
        assert!(values.len() <= 1, "[{section}] {key} is set {} times", values.len());
        values.first().copied()
    }

    /// Space-separated values of every `key=` line (`Wants=a b`, `ReadWritePaths=...`).
    fn words(&self, section: &str, key: &str) -> Vec<&str> {
        self.values(section, key).into_iter().flat_map(str::split_whitespace).collect()
    }
}

#[test]
fn systemd_unit_runs_the_daemon_with_what_it_needs() {
    let (path, text) = deploy_file("egress.service");
    let unit = UnitFile::parse(&text);
    let what = path.display().to_string();
    for section in ["Unit", "Service", "Install"] {
        assert!(unit.sections.contains_key(section), "{what}: no [{section}] section");
    }
    assert_eq!(unit.words("Install", "WantedBy"), ["multi-user.target"], "{what}: [Install] WantedBy");

    let exec = unit.value("Service", "ExecStart").unwrap_or_else(|| panic!("{what}: no ExecStart"));
    let words: Vec<String> = exec.split_whitespace().map(str::to_string).collect();
    assert_eq!(words.first().map(String::as_str), Some("/usr/local/bin/egress"), "{what}: ExecStart={exec}");
    assert_eq!(words.get(1).map(String::as_str), Some("daemon"), "{what}: ExecStart={exec}");
    let args = &words[1..];
    assert_cli_accepts(args, &what);

    // The daemon refuses a cgroup that does not exist: the unit orders itself after the
    // slice whose cgroup it watches.
    let cgroups = flag_values(args, "--cgroup");
    assert!(!cgroups.is_empty(), "{what}: ExecStart watches no --cgroup");
    for cgroup in &cgroups {
        assert!(is_under(cgroup, "/sys/fs/cgroup"), "{what}: --cgroup {cgroup} is not a cgroup v2 directory");
        let slice = Path::new(cgroup).file_name().unwrap().to_string_lossy().into_owned();
        assert!(slice.ends_with(".slice"), "{what}: --cgroup {cgroup} should be a systemd slice's cgroup");
        for key in ["Wants", "After"] {
            assert!(unit.words("Unit", key).contains(&slice.as_str()), "{what}: [Unit] {key}= should name {slice}");
        }
        let (_, slice_text) = deploy_file(&slice);
        assert!(UnitFile::parse(&slice_text).sections.contains_key("Slice"), "deploy/{slice} has no [Slice]");
    }

    // It checks for uid 0; the bounding set is what limits that root.
    assert!(matches!(unit.value("Service", "User"), None | Some("root")), "{what}: the daemon must run as root");
    let capabilities = unit.words("Service", "CapabilityBoundingSet");
    assert!(!capabilities.iter().any(|c| c.starts_with('~')), "{what}: CapabilityBoundingSet should list what is kept");
    for needed in REQUIRED_CAPABILITIES {
        assert!(capabilities.contains(needed), "{what}: CapabilityBoundingSet lacks {needed}: {capabilities:?}");
    }

    // Under ProtectSystem=strict only listed paths (and the API file systems such as /sys)
    // are writable: the audit log, its key and the API socket directory must be among them.
    assert_eq!(unit.value("Service", "ProtectSystem"), Some("strict"), "{what}: ProtectSystem");
    let mut writable: Vec<String> = unit.words("Service", "ReadWritePaths").iter().map(|p| p.to_string()).collect();
    for (key, root) in [("LogsDirectory", "/var/log"), ("StateDirectory", "/var/lib"), ("RuntimeDirectory", "/run")] {
        writable.extend(unit.words("Service", key).iter().map(|dir| format!("{root}/{dir}")));
    }
    let audit = only_flag_value(args, "--audit", &what);
    let audit_key = only_flag_value(args, "--audit-key", &what);
    for needed in [audit.as_str(), audit_key.as_str(), RUN_DIR] {
        assert!(
            writable.iter().any(|dir| is_under(needed, dir)),
            "{what}: {needed} is not writable under ProtectSystem=strict (writable: {writable:?})"
        );
    }

    // Options that would break it (see the comments in the unit).
    for (key, breaking) in [
        ("ProtectKernelTunables", &["yes", "true"][..]),
        ("ProtectControlGroups", &["yes", "true", "private", "strict"]),
        ("PrivatePIDs", &["yes", "true"]),
        ("PrivateUsers", &["yes", "true", "self", "identity"]),
        ("PrivateNetwork", &["yes", "true"]),
        ("ProtectProc", &["invisible", "noaccess", "ptraceable"]),
        ("ProtectHome", &["yes", "true", "tmpfs"]),
    ] {
        let value = unit.value("Service", key);
        assert!(
            !value.is_some_and(|v| breaking.contains(&v)),
            "{what}: {key}={} would break the daemon",
            value.unwrap()
        );
    }
    // In the service's private mount namespace a bpffs mounted by the daemon would vanish with
    // it, pins and all: it is mounted in the host's first (`+` runs outside the sandbox).
    assert!(
        unit.values("Service", "ExecStartPre")
            .iter()
            .any(|c| c.starts_with('+') && c.contains("-t bpf") && c.contains(BPF_FS)),
        "{what}: an ExecStartPre=+... should mount bpffs on {BPF_FS} in the host's mount namespace"
    );
    assert_eq!(unit.value("Service", "NoNewPrivileges"), Some("yes"), "{what}: NoNewPrivileges");
    assert_eq!(unit.value("Service", "Restart"), Some("on-failure"), "{what}: Restart");
    // The guardian must outlive a crashed daemon to apply the fail mode.
    assert_eq!(unit.value("Service", "KillMode"), Some("process"), "{what}: KillMode");
    assert!(
        unit.value("Service", "ExecReload").is_some_and(|r| r.contains("-HUP")),
        "{what}: ExecReload should send SIGHUP (the daemon re-reads its policy on it)"
    );
}

// ---------------------------------------------------------------------------------------
// Kubernetes

fn manifests() -> (PathBuf, Vec<Value>) {
    let (path, text) = deploy_file("daemonset.yaml");
    let docs = serde_yaml_ng::Deserializer::from_str(&text)
        .map(|doc| Value::deserialize(doc).unwrap_or_else(|e| panic!("{}: not YAML: {e}", path.display())))
        .filter(|doc| !doc.is_null())
        .collect();
    (path, docs)
}

fn strings(value: &Value) -> Vec<String> {
    value.as_array().into_iter().flatten().filter_map(Value::as_str).map(str::to_string).collect()
}

#[test]
fn daemonset_watches_agent_pods_with_host_mounts() {
    let (path, docs) = manifests();
    let what = path.display().to_string();
    let kinds: Vec<&str> = docs.iter().filter_map(|d| d["kind"].as_str()).collect();
    assert_eq!(kinds, ["Namespace", "ServiceAccount", "ConfigMap", "DaemonSet"], "{what}: documents");
    let doc = |kind: &str| docs.iter().find(|d| d["kind"] == kind).unwrap();
    assert_eq!(doc("Namespace")["metadata"]["name"], "egress-system", "{what}: namespace");
    for kind in ["ServiceAccount", "ConfigMap", "DaemonSet"] {
        assert_eq!(doc(kind)["metadata"]["namespace"], "egress-system", "{what}: {kind}'s namespace");
    }

    let ds = doc("DaemonSet");
    assert_eq!(ds["apiVersion"], "apps/v1", "{what}: DaemonSet apiVersion");
    let template = &ds["spec"]["template"];
    let selector = ds["spec"]["selector"]["matchLabels"].as_object().expect("selector.matchLabels");
    for (key, value) in selector {
        assert_eq!(&template["metadata"]["labels"][key], value, "{what}: the selector must match the pod labels");
    }
    let pod = &template["spec"];
    assert_eq!(pod["hostPID"], true, "{what}: hostPID (agents are host processes to the daemon)");
    assert_eq!(pod["serviceAccountName"], doc("ServiceAccount")["metadata"]["name"], "{what}: serviceAccountName");
    let node_label = pod["nodeSelector"].as_object().and_then(|s| s.keys().next()).expect("a nodeSelector");
    assert!(
        pod["tolerations"].as_array().into_iter().flatten().any(|t| &t["key"] == node_label),
        "{what}: the DaemonSet must tolerate the agent nodes' taint {node_label}"
    );

    let containers = pod["containers"].as_array().expect("containers");
    assert_eq!(containers.len(), 1, "{what}: one container");
    let container = &containers[0];
    assert_eq!(container["securityContext"]["privileged"], true, "{what}: privileged (Bidirectional propagation)");
    assert_eq!(strings(&container["command"]), ["/usr/local/bin/egress"], "{what}: command");
    let args = strings(&container["args"]);
    assert_eq!(args.first().map(String::as_str), Some("daemon"), "{what}: args");
    assert_cli_accepts(&args, &what);

    // Host paths, mounted where the daemon looks for them.
    let volumes: BTreeMap<&str, &Value> = pod["volumes"]
        .as_array()
        .expect("volumes")
        .iter()
        .map(|v| (v["name"].as_str().expect("volume name"), v))
        .collect();
    let mounts: Vec<&Value> = container["volumeMounts"].as_array().expect("volumeMounts").iter().collect();
    let host_mount = |host_path: &str| -> &Value {
        mounts
            .iter()
            .find(|m| {
                let volume = volumes[m["name"].as_str().unwrap()];
                volume["hostPath"]["path"] == host_path && m["mountPath"] == host_path
            })
            .unwrap_or_else(|| panic!("{what}: no hostPath volume {host_path} mounted at {host_path}"))
    };
    for host_path in ["/sys/fs/cgroup", "/sys/kernel/tracing", "/var/log/egress", "/var/lib/egress", RUN_DIR] {
        host_mount(host_path);
    }
    assert_eq!(host_mount(BPF_FS)["mountPropagation"], "Bidirectional", "{what}: bpffs propagation");
    assert_eq!(host_mount("/sys/kernel/btf")["readOnly"], true, "{what}: BTF is read-only");
    for flag in ["--audit", "--audit-key"] {
        let file = only_flag_value(&args, flag, &what);
        let persisted = mounts.iter().any(|m| {
            volumes[m["name"].as_str().unwrap()]["hostPath"].is_object()
                && is_under(&file, m["mountPath"].as_str().unwrap())
        });
        assert!(persisted, "{what}: {flag} {file} must be on a hostPath volume (the chain and key outlive the pod)");
    }

    // Watched: pod cgroups below kubepods, never kubepods itself, which holds this pod too.
    let cgroups = flag_values(&args, "--cgroup");
    assert!(!cgroups.is_empty(), "{what}: no --cgroup");
    for cgroup in &cgroups {
        assert!(
            is_under(cgroup, "/sys/fs/cgroup/kubepods.slice") && cgroup != "/sys/fs/cgroup/kubepods.slice",
            "{what}: --cgroup {cgroup} should be a QoS slice below kubepods.slice"
        );
    }
    // Guaranteed QoS (requests == limits) keeps the egress pod out of the watched QoS slices.
    let resources = &container["resources"];
    for resource in ["cpu", "memory"] {
        let request = &resources["requests"][resource];
        assert!(!request.is_null(), "{what}: no {resource} request");
        assert_eq!(request, &resources["limits"][resource], "{what}: {resource} request != limit: not Guaranteed QoS");
    }

    // The policy: a key of the ConfigMap, mounted where --policy says, and valid.
    let policy = only_flag_value(&args, "--policy", &what);
    let policy_path = Path::new(&policy);
    let policy_mount = mounts
        .iter()
        .find(|m| volumes[m["name"].as_str().unwrap()]["configMap"]["name"] == doc("ConfigMap")["metadata"]["name"])
        .unwrap_or_else(|| panic!("{what}: the policy ConfigMap is not mounted"));
    assert_eq!(policy_path.parent(), Some(Path::new(policy_mount["mountPath"].as_str().unwrap())), "{what}: --policy");
    let key = policy_path.file_name().unwrap().to_str().unwrap();
    let policy_text = doc("ConfigMap")["data"][key]
        .as_str()
        .unwrap_or_else(|| panic!("{what}: the ConfigMap has no key {key}"))
        .to_string();
    assert_policy_valid(&policy_text, &what);

    // Metrics: the address the daemon serves, the port Prometheus scrapes and the probe hit.
    let metrics_addr = only_flag_value(&args, "--metrics-addr", &what);
    let (host, port) = metrics_addr.rsplit_once(':').expect("--metrics-addr HOST:PORT");
    assert_eq!(host, "0.0.0.0", "{what}: metrics must listen beyond the pod's loopback for Prometheus and the kubelet");
    let port: u64 = port.parse().expect("metrics port");
    let ports = container["ports"].as_array().expect("ports");
    let metrics_port = ports.iter().find(|p| p["containerPort"] == port).expect("a containerPort for the metrics");
    let annotations = &template["metadata"]["annotations"];
    assert_eq!(annotations["prometheus.io/scrape"], "true", "{what}: scrape annotation");
    assert_eq!(annotations["prometheus.io/port"], port.to_string(), "{what}: prometheus.io/port");
    let probe = &container["livenessProbe"]["httpGet"];
    assert_eq!(probe["path"], "/metrics", "{what}: liveness probe path");
    assert!(
        probe["port"] == metrics_port["name"] || probe["port"] == port,
        "{what}: the liveness probe must hit the metrics port"
    );
}

/// `egress policy check` on the text.
fn assert_policy_valid(text: &str, what: &str) {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("policy.yaml");
    std::fs::write(&file, text).expect("write policy");
    let output = Command::new(egress_tests::egress_bin()).arg("policy").arg("check").arg(&file).output().unwrap();
    assert!(
        output.status.success(),
        "{what}: the policy is refused by `egress policy check`:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

// ---------------------------------------------------------------------------------------
// Grafana

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum MetricKind {
    Counter,
    Gauge,
    Histogram,
}

/// The metric families the daemon exports, their kind and labels.
const METRIC_FAMILIES: &[(&str, MetricKind, &[&str])] = &[
    ("egress_requests_inspected_total", MetricKind::Counter, &["tool", "action"]),
    ("egress_findings_total", MetricKind::Counter, &["category", "detector"]),
    ("egress_inspection_duration_seconds", MetricKind::Histogram, &[]),
    ("egress_hold_duration_seconds", MetricKind::Histogram, &[]),
    ("egress_bytes_inspected_total", MetricKind::Counter, &[]),
    ("egress_kernel_events_lost_total", MetricKind::Counter, &["reason"]),
    ("egress_truncated_captures_total", MetricKind::Counter, &[]),
    ("egress_held_processes", MetricKind::Gauge, &[]),
    ("egress_review_queue_depth", MetricKind::Gauge, &[]),
    ("egress_review_decisions_total", MetricKind::Counter, &["decision"]),
    ("egress_policy_reloads_total", MetricKind::Counter, &["result"]),
    ("egress_attached_uprobes", MetricKind::Gauge, &["library"]),
    ("egress_connects_refused_total", MetricKind::Counter, &["reason"]),
    ("egress_audit_records_total", MetricKind::Counter, &[]),
    ("egress_audit_write_failures_total", MetricKind::Counter, &[]),
];

/// Labels every scraped series has (added by Prometheus).
const TARGET_LABELS: &[&str] = &["instance", "job"];

/// The metric family a series name belongs to, and the labels the series has.
fn series_labels(series: &str) -> Option<(&'static str, Vec<&'static str>)> {
    METRIC_FAMILIES.iter().find_map(|&(family, kind, labels)| {
        let mut all: Vec<&'static str> = labels.iter().chain(TARGET_LABELS).copied().collect();
        match kind {
            MetricKind::Histogram => match series.strip_prefix(family)? {
                "_bucket" => {
                    all.push("le");
                    Some((family, all))
                }
                "_sum" | "_count" => Some((family, all)),
                _ => None,
            },
            _ => (series == family).then_some((family, all)),
        }
    })
}

/// The series names and label names a PromQL expression refers to.
#[derive(Debug, Default)]
struct PromQlRefs {
    series: Vec<String>,
    labels: Vec<String>,
}

/// Words that are never series: operators, and aggregations (which may be followed by `by`
/// rather than `(`).
const PROMQL_KEYWORDS: &[&str] = &[
    "and",
    "or",
    "unless",
    "bool",
    "offset",
    "atan2",
    "sum",
    "min",
    "max",
    "avg",
    "group",
    "stddev",
    "stdvar",
    "count",
    "count_values",
    "bottomk",
    "topk",
    "quantile",
    "limitk",
    "limit_ratio",
];
/// Words followed by a parenthesised list of label names.
const PROMQL_GROUPING: &[&str] = &["by", "without", "on", "ignoring", "group_left", "group_right"];

/// A small PromQL scanner: skips strings, range and subquery brackets and numbers; reads
/// label names from `{...}` matchers and `by (...)` clauses; an identifier followed by `(` is
/// a function, any other that is not a keyword is a series name.
fn scan_promql(expr: &str) -> PromQlRefs {
    let chars: Vec<char> = expr.chars().collect();
    let mut refs = PromQlRefs::default();
    let mut i = 0;
    let word_char = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':';
    let read_word = |i: &mut usize| {
        let start = *i;
        while *i < chars.len() && word_char(chars[*i]) {
            *i += 1;
        }
        chars[start..*i].iter().collect::<String>()
    };
    let skip_string = |i: &mut usize| {
        *i += 1;
        while *i < chars.len() && chars[*i] != '"' {
            *i += if chars[*i] == '\\' { 2 } else { 1 };
        }
        *i += 1;
    };
    while i < chars.len() {
        let c = chars[i];
        if c == '"' {
            skip_string(&mut i);
        } else if c == '[' {
            while i < chars.len() && chars[i] != ']' {
                i += 1;
            }
        } else if c == '{' {
            i += 1;
            while i < chars.len() && chars[i] != '}' {
                if word_char(chars[i]) {
                    refs.labels.push(read_word(&mut i));
                } else if chars[i] == '"' {
                    skip_string(&mut i);
                } else {
                    i += 1;
                }
            }
        } else if c.is_ascii_digit() || c == '.' {
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                i += 1;
            }
            continue;
        } else if word_char(c) {
            let word = read_word(&mut i);
            let mut next = i;
            while next < chars.len() && chars[next].is_whitespace() {
                next += 1;
            }
            let opens = chars.get(next) == Some(&'(');
            if PROMQL_GROUPING.contains(&word.as_str()) {
                if opens {
                    i = next + 1;
                    while i < chars.len() && chars[i] != ')' {
                        if word_char(chars[i]) {
                            refs.labels.push(read_word(&mut i));
                        } else {
                            i += 1;
                        }
                    }
                }
            } else if !opens && !PROMQL_KEYWORDS.contains(&word.as_str()) {
                refs.series.push(word);
            }
            continue;
        }
        i += 1;
    }
    refs
}

#[test]
fn promql_scanner_finds_series_and_labels() {
    let refs = scan_promql(
        r#"histogram_quantile(0.99, sum by (le) (rate(egress_hold_duration_seconds_bucket{instance=~"$instance",x="a,b}"}[$__rate_interval]))) or vector(0)"#,
    );
    assert_eq!(refs.series, ["egress_hold_duration_seconds_bucket"]);
    assert_eq!(refs.labels, ["le", "instance", "x"]);
    let refs = scan_promql("sum without (tool) (rate(a_total[5m])) / on (job) group_left b");
    assert_eq!(refs.series, ["a_total", "b"]);
    assert_eq!(refs.labels, ["tool", "job"]);
}

/// Every panel, rows' collapsed panels included.
fn all_panels(dashboard: &Value) -> Vec<&Value> {
    let mut panels = Vec::new();
    for panel in dashboard["panels"].as_array().into_iter().flatten() {
        panels.push(panel);
        panels.extend(panel["panels"].as_array().into_iter().flatten());
    }
    panels
}

#[test]
fn grafana_dashboard_queries_only_the_exported_metrics() {
    let (path, text) = deploy_file("grafana-dashboard.json");
    let what = path.display().to_string();
    let dashboard: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{what}: not JSON: {e}"));
    assert!(dashboard["schemaVersion"].as_u64().is_some_and(|v| v >= 36), "{what}: schemaVersion");
    let variables = dashboard["templating"]["list"].as_array().expect("templating.list");
    assert!(
        variables
            .iter()
            .any(|v| v["name"] == "DS_PROMETHEUS" && v["type"] == "datasource" && v["query"] == "prometheus"),
        "{what}: no Prometheus datasource variable DS_PROMETHEUS"
    );

    let panels = all_panels(&dashboard);
    let ids: BTreeSet<u64> = panels.iter().filter_map(|p| p["id"].as_u64()).collect();
    assert_eq!(ids.len(), panels.len(), "{what}: every panel needs its own id");
    let mut families_used = BTreeSet::new();
    let mut problems = Vec::new();
    for panel in panels.iter().filter(|p| p["type"] != "row") {
        let title = panel["title"].as_str().unwrap_or("?");
        if panel["datasource"]["uid"] != "${DS_PROMETHEUS}" {
            problems.push(format!("{title}: datasource is not ${{DS_PROMETHEUS}}"));
        }
        let targets = panel["targets"].as_array().map(Vec::as_slice).unwrap_or_default();
        if targets.is_empty() {
            problems.push(format!("{title}: no queries"));
        }
        for expr in targets.iter().map(|t| t["expr"].as_str().unwrap_or_default()) {
            let refs = scan_promql(expr);
            if refs.series.is_empty() {
                problems.push(format!("{title}: `{expr}` queries no metric"));
            }
            for series in &refs.series {
                let Some((family, labels)) = series_labels(series) else {
                    problems.push(format!("{title}: `{expr}`: {series} is not an exported series"));
                    continue;
                };
                families_used.insert(family);
                for label in refs.labels.iter().filter(|l| !labels.contains(&l.as_str())) {
                    problems.push(format!("{title}: `{expr}`: {family} has no label {label}"));
                }
            }
            if expr.contains("histogram_quantile") && !refs.series.iter().all(|s| s.ends_with("_bucket")) {
                problems.push(format!("{title}: `{expr}`: histogram_quantile needs _bucket series"));
            }
        }
    }
    for (family, _, _) in METRIC_FAMILIES {
        if !families_used.contains(family) {
            problems.push(format!("no panel shows {family}"));
        }
    }
    assert!(problems.is_empty(), "{what}:\n  - {}", problems.join("\n  - "));

    // Lost kernel events mean uninspected traffic: every panel of them turns red above zero.
    let lost_panels: Vec<&&Value> = panels
        .iter()
        .filter(|p| {
            p["targets"].as_array().into_iter().flatten().any(|t| {
                scan_promql(t["expr"].as_str().unwrap_or_default())
                    .series
                    .contains(&"egress_kernel_events_lost_total".to_string())
            })
        })
        .collect();
    assert!(!lost_panels.is_empty(), "{what}: no panel of lost kernel events");
    for panel in lost_panels {
        let steps = panel["fieldConfig"]["defaults"]["thresholds"]["steps"].as_array().cloned().unwrap_or_default();
        let red_above_zero =
            steps.iter().any(|s| s["color"] == "red" && s["value"].as_f64().is_some_and(|v| v > 0.0 && v <= 1.0));
        assert!(
            red_above_zero,
            "{what}: panel {:?} must turn red on the first lost event (a red threshold step in (0, 1]): {steps:?}",
            panel["title"]
        );
    }
}
