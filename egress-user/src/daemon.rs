//! The daemon: attaches to the watched cgroups, reads events, holds and releases agents,
//! and writes the audit log. `egress daemon` and `egress run` both drive one of these.
use std::{
    collections::HashMap,
    future::Future,
    net::{SocketAddr, ToSocketAddrs as _},
    path::{Path, PathBuf},
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::{Context as _, anyhow};
use aya::maps::{MapData, RingBuf};
use egress_common::{
    Config, EventHeader, FAIL_CLOSED, FAIL_OPEN, MODE_ENFORCE, MODE_MONITOR, Peer, SslKey, flag, kind,
};
use ipnet::IpNet;
use tokio::io::unix::AsyncFd;

use crate::{
    api::{self, ApiCall},
    audit::{AuditLog, AuditRecord, AuditReview},
    cgroup,
    confine::{self, Confinement},
    detect::{DetectionConfig, Engine},
    guardian,
    guardian::Guardian,
    inspector::{ConnectionKey, Effect, Inspector, Judge, REDACTION_MASK, Writer, finish_record},
    llm::ToolCallLedger,
    loader::{self, Kernel},
    metrics::{self, Metrics},
    notify::ReviewNotifier,
    policy::{FailMode, Mode, Policy},
    procmem,
    review::{Resolution, ReviewQueue, ReviewSummary},
    sockets, targets,
};

const HEARTBEAT_INTERVAL: Duration = Duration::from_millis(200);
/// A daemon silent for this long is taken for dead by the kernel side.
const HEARTBEAT_TIMEOUT: Duration = Duration::from_secs(2);
const HOUSEKEEPING_INTERVAL: Duration = Duration::from_secs(10);
/// How often review deadlines are checked.
const REVIEW_TICK: Duration = Duration::from_millis(250);
/// Most ring-buffer records handled after the stop signal (a 32 MiB ring buffer holds a few
/// thousand full captures).
const DRAIN_LIMIT: usize = 1 << 16;

/// Where the policy came from, for reloads.
#[derive(Clone, Debug, Default)]
pub struct PolicySource {
    /// The policy file (re-read on SIGHUP and `egress policy reload`); None for the built-in.
    pub path: Option<PathBuf>,
    /// `--mode` given on the command line: it stays in force across reloads.
    pub mode_override: Option<Mode>,
}

pub struct Options {
    pub cgroups: Vec<PathBuf>,
    pub policy: Policy,
    pub audit: PathBuf,
    pub audit_options: crate::audit::AuditOptions,
    pub instance: String,
    pub source: PolicySource,
    /// Where to serve Prometheus metrics; None serves none.
    pub metrics_addr: Option<SocketAddr>,
    /// The group that may use the review API socket (mode 0660); root's group if None.
    pub api_group: Option<String>,
}

/// Monitor mode: where the chunks of one thread's current write have got to.
struct WriteInProgress {
    ssl: u64,
    next_offset: u64,
    /// Bytes the kernel copies of this write (the capture cap may make it less than its length).
    captured_len: u64,
    total_len: u64,
}

pub struct Daemon {
    kernel: Kernel,
    events: AsyncFd<RingBuf<MapData>>,
    policy: Policy,
    inspector: Inspector,
    engine: Engine,
    ledger: ToolCallLedger,
    reviews: ReviewQueue<HeldWrite>,
    audit: AuditLog,
    inspected: targets::Inspected,
    confinement: Confinement,
    /// The cgroup directories under watch, as given.
    watched_dirs: Vec<PathBuf>,
    cgroup_paths: HashMap<u64, String>,
    writes: HashMap<u64, WriteInProgress>,
    response_bytes: u64,
    hold_latency: LatencySamples,
    pin_dir: PathBuf,
    guardian: Guardian,
    source: PolicySource,
    api: Option<tokio::net::UnixListener>,
    api_socket: PathBuf,
    pid_file: PathBuf,
    metrics: Arc<Metrics>,
    notifier: ReviewNotifier,
    metrics_listener: Option<std::net::TcpListener>,
    instance: String,
    audit_path: PathBuf,
    started: Instant,
}

impl Daemon {
    pub fn start(options: Options) -> anyhow::Result<Self> {
        let Options { cgroups, policy, audit, audit_options, instance, source, metrics_addr, api_group } = options;
        let audit_path = audit.clone();
        let pin_dir = loader::pin_dir(&instance);
        if pin_dir.exists() {
            tracing::warn!("found the state of a previous {instance} daemon: settling what it held");
            loader::ensure_kernel_filesystems()?;
            if let Err(error) = guardian::settle(&pin_dir) {
                tracing::warn!("could not settle the previous state: {error:#}");
            }
            loader::remove_pins(&pin_dir)?;
        }
        let audit = AuditLog::open_with(&audit, audit_options)?;
        let engine = Engine::from_config(&DetectionConfig::from(&policy.detection))?;
        let mut kernel = Kernel::load(pin_dir.clone(), kernel_config(&policy))?;
        beat(&mut kernel.heartbeat)?;
        kernel.attach_global()?;
        let cgroup_mount = cgroup::cgroup2_mount()?;
        let mut cgroup_paths = HashMap::new();
        for dir in &cgroups {
            if !dir.starts_with(&cgroup_mount) {
                return Err(anyhow!("{} is not inside the cgroup v2 mount {}", dir.display(), cgroup_mount.display()));
            }
            let id = cgroup::cgroup_id(dir)?;
            kernel.watch_cgroup(dir, id)?;
            cgroup_paths.insert(id, cgroup::relative_path(&cgroup_mount, dir));
        }
        kernel.set_deny_networks(&deny_networks(&policy))?;
        let confinement = Confinement::from_policy(&policy);
        kernel.set_allowed_destinations(&allowed_destinations(&confinement))?;
        // SAFETY: the ring buffer owns its fd and lives inside the AsyncFd until both drop.
        let events = unsafe { AsyncFd::register(kernel.take_events()?) }.context("polling the event ring buffer")?;
        let guardian = Guardian::spawn(&pin_dir)?;
        let api_socket = api::socket_path(&instance);
        let api = api::bind(&api_socket, api_group.as_deref())?;
        let metrics_listener = metrics_addr.map(metrics::bind).transpose()?;
        let pid_file = Path::new(api::RUN_DIR).join(format!("{instance}.pid"));
        std::fs::write(&pid_file, format!("{}\n", std::process::id()))
            .with_context(|| format!("writing {}", pid_file.display()))?;
        let mut daemon = Self {
            kernel,
            events,
            policy,
            inspector: Inspector::new(),
            engine,
            ledger: ToolCallLedger::default(),
            reviews: ReviewQueue::default(),
            audit,
            inspected: targets::Inspected::default(),
            confinement,
            watched_dirs: cgroups.clone(),
            cgroup_paths,
            writes: HashMap::new(),
            response_bytes: 0,
            hold_latency: LatencySamples::default(),
            pin_dir,
            guardian,
            source,
            api: Some(api),
            api_socket,
            pid_file,
            metrics: Arc::new(Metrics::new()?),
            notifier: ReviewNotifier::new(&instance)?,
            metrics_listener,
            instance,
            audit_path,
            started: Instant::now(),
        };
        // Loaders first (this daemon's own ld.so is the system's), then what already runs.
        daemon.attach_new_code(std::process::id());
        for dir in &cgroups {
            for pid in cgroup::processes(dir) {
                daemon.attach_new_code(pid);
                daemon.confine_if_listed(pid);
            }
        }
        tracing::info!(
            "ready: watching {} cgroup(s), mode {}, fail_mode {}, policy {} ({}), {} TLS target(s) attached",
            cgroups.len(),
            daemon.policy.mode,
            daemon.policy.fail_mode,
            daemon.policy.source_name,
            &daemon.policy.digest[..12],
            daemon.kernel.tls_targets().len()
        );
        tracing::info!("review API: {}", daemon.api_socket.display());
        if let Some(listener) = &daemon.metrics_listener {
            tracing::info!("metrics: http://{}/metrics", listener.local_addr()?);
        }
        Ok(daemon)
    }

    /// Serves events until `stop` completes, then stops cleanly and returns its output.
    pub async fn run<T>(mut self, stop: impl Future<Output = T>, release_on_exit: bool) -> anyhow::Result<T> {
        let heartbeat = tokio::spawn(beat_forever(guardian::open_heartbeat(&self.pin_dir)?));
        let mut housekeeping = tokio::time::interval(HOUSEKEEPING_INTERVAL);
        let mut review_deadlines = tokio::time::interval(REVIEW_TICK);
        let mut hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
        let (api_calls, mut api_inbox) = tokio::sync::mpsc::channel(64);
        let listener = self.api.take().context("the review API was already served")?;
        let metrics_server = match self.metrics_listener.take() {
            Some(listener) => {
                let listener = tokio::net::TcpListener::from_std(listener).context("serving metrics")?;
                Some(tokio::spawn(metrics::serve(listener, self.metrics.clone(), api_calls.clone())))
            }
            None => None,
        };
        let api_server = tokio::spawn(api::serve(listener, api_calls));
        tokio::pin!(stop);
        let served = loop {
            tokio::select! {
                output = &mut stop => break Ok(output),
                readable = self.events.readable_mut() => {
                    let mut guard = match readable {
                        Ok(guard) => guard,
                        Err(error) => break Err(anyhow!(error).context("polling the ring buffer")),
                    };
                    let mut records = Vec::new();
                    while let Some(item) = guard.get_inner_mut().next() {
                        records.push(item.to_vec());
                    }
                    guard.clear_ready();
                    for record in records {
                        if let Err(error) = self.handle(&record) {
                            tracing::error!("{error:#}");
                        }
                    }
                }
                _ = housekeeping.tick() => self.housekeeping(),
                _ = review_deadlines.tick() => self.expire_reviews(),
                _ = hangup.recv() => {
                    let _ = self.reload();
                }
                Some(call) = api_inbox.recv() => self.on_api_call(call),
            }
        };
        heartbeat.abort();
        api_server.abort();
        if let Some(server) = metrics_server {
            server.abort();
        }
        // What the ring buffer still holds is handled before stopping: the watched command
        // of `egress run` may exit before its last events are read (in monitor mode a short
        // command is never held), and its audit records must not be lost.
        self.drain_events();
        self.shutdown(release_on_exit)?;
        served
    }

    /// Handles the events waiting in the ring buffer, at most a ring buffer's worth, so that
    /// a process that goes on writing cannot keep the daemon from stopping.
    fn drain_events(&mut self) {
        let mut records = Vec::new();
        while records.len() < DRAIN_LIMIT
            && let Some(item) = self.events.get_mut().next()
        {
            records.push(item.to_vec());
        }
        for record in records {
            if let Err(error) = self.handle(&record) {
                tracing::error!("{error:#}");
            }
        }
    }

    fn handle(&mut self, record: &[u8]) -> anyhow::Result<()> {
        let header = EventHeader::read_from(record).context("short ring-buffer record")?;
        match header.kind {
            kind::WRITE_HELD => self.on_held_write(&header),
            kind::WRITE_DATA => {
                let payload = header.payload(record).context("data event shorter than its chunk")?;
                self.on_write_chunk(&header, payload)
            }
            kind::READ_DATA => {
                let payload = header.payload(record).context("data event shorter than its chunk")?;
                self.response_bytes += payload.len() as u64;
                self.metrics.count_bytes(true, payload.len());
                let key = ConnectionKey { tgid: header.tgid(), ssl: header.ssl };
                let mut judge = Judge { policy: &self.policy, engine: &self.engine, ledger: &mut self.ledger };
                self.inspector.push_read(&mut judge, key, payload);
                Ok(())
            }
            kind::EXEC | kind::LIBS_CHANGED => {
                if header.kind == kind::EXEC {
                    self.confine_if_listed(header.tgid());
                }
                self.attach_new_code(header.tgid());
                if header.flags & flag::HELD != 0 {
                    self.release(header.pid_tgid);
                }
                Ok(())
            }
            kind::CONNECT_REFUSED => {
                let refused = header.connect_refusal(record).context("connect event shorter than its refusal")?;
                let writer = self.writer(&header);
                let record = confine::refusal_record(&self.policy, &self.confinement, &writer, &refused);
                tracing::warn!(pid = writer.pid, comm = %writer.comm, "{}", record.reason);
                // A refused connect is not a request: it is counted by the kernel's counters.
                self.append(&[record]);
                Ok(())
            }
            other => Err(anyhow!("unknown event kind {other}")),
        }
    }

    /// Enforce mode: the writer is stopped; read its buffer, decide, record, then apply the
    /// decision and resume it (or keep it held for review).
    fn on_held_write(&mut self, header: &EventHeader) -> anyhow::Result<()> {
        let writer = self.writer(header);
        let key = ConnectionKey { tgid: header.tgid(), ssl: header.ssl };
        let bytes = match procmem::read(header.tgid(), header.buf, header.total_len as usize) {
            Ok(bytes) => bytes,
            Err(error) => {
                tracing::warn!("cannot read the write of pid {} ({}): {error}", writer.pid, writer.comm);
                let effect = if self.policy.fail_mode == FailMode::Closed { Effect::Block } else { Effect::Pass };
                return self.apply(header, effect, Vec::new());
            }
        };
        let inspection = Instant::now();
        let mut judge = Judge { policy: &self.policy, engine: &self.engine, ledger: &mut self.ledger };
        let outcome = self.inspector.push(&mut judge, key, &writer, &bytes);
        self.metrics.observe_inspection(inspection.elapsed());
        self.metrics.count_bytes(false, bytes.len());
        if let Effect::Review(redactions) = outcome.effect {
            self.hold_for_review(header, &writer, redactions, outcome.records);
            return Ok(());
        }
        let (effect, records) = self.redact(header, outcome.effect, outcome.records);
        self.apply(header, effect, records)
    }

    /// Masks the ranges of a `Redact` effect in the held writer's buffer. Memory that cannot
    /// be written turns the effect into a block, and the records say why.
    fn redact(&self, header: &EventHeader, effect: Effect, records: Vec<AuditRecord>) -> (Effect, Vec<AuditRecord>) {
        let Effect::Redact(ranges) = effect else {
            return (effect, records);
        };
        let Err(error) = mask(header, &ranges) else {
            return (Effect::Redact(ranges), records);
        };
        let why = format!("redaction failed ({error}): blocked instead");
        tracing::warn!("pid {}: {why}", header.tgid());
        let records = records
            .into_iter()
            .map(|mut record| {
                record.reason = format!("{}; {why}", record.reason);
                record.redacted = 0;
                finish_record(&self.policy, record, &Effect::Block)
            })
            .collect();
        (Effect::Block, records)
    }

    /// Records, then applies an effect to a held write and resumes (or ends) its process. A
    /// record that cannot be written turns the effect into a block: nothing leaves unrecorded.
    fn apply(&mut self, header: &EventHeader, effect: Effect, records: Vec<AuditRecord>) -> anyhow::Result<()> {
        let effect = if self.record(&records) { effect } else { Effect::Block };
        match effect {
            Effect::Block => {
                self.kernel.denied_threads.insert(&header.pid_tgid, &1, 0).context("marking the thread denied")?;
                self.end_connection(header);
                self.release(header.pid_tgid);
            }
            Effect::Kill => {
                let _ = self.kernel.held.remove(&header.pid_tgid);
                // SAFETY: plain kill(2) of the process the policy says to end.
                unsafe { libc::kill(header.tgid() as libc::pid_t, libc::SIGKILL) };
                tracing::warn!("killed pid {} ({}) by policy", header.tgid(), header.comm_str());
            }
            Effect::Pass | Effect::Redact(_) | Effect::Review(_) => self.release(header.pid_tgid),
        }
        let held_ns = monotonic_ns().saturating_sub(header.ktime_ns);
        self.hold_latency.add(held_ns);
        self.metrics.observe_hold(held_ns);
        Ok(())
    }

    /// Shuts the blocked connection's socket down, so that an agent that already sent part of
    /// the request fails at once instead of waiting for an answer that will not come.
    fn end_connection(&self, header: &EventHeader) {
        let Some(peer) = self.peer(header) else {
            return;
        };
        let (local, remote) = (peer.local_port as u16, peer.port as u16);
        match sockets::shut_down(header.tgid(), local, remote) {
            Ok(true) => tracing::debug!("pid {}: connection {local} -> {remote} shut down", header.tgid()),
            Ok(false) => tracing::debug!("pid {}: no socket {local} -> {remote} to shut down", header.tgid()),
            Err(error) => {
                tracing::warn!("pid {}: shutting down connection {local} -> {remote}: {error}", header.tgid())
            }
        }
    }

    fn peer(&self, header: &EventHeader) -> Option<Peer> {
        self.kernel.ssl_peers.get(&SslKey { tgid: header.tgid(), _pad: 0, ssl: header.ssl }, 0).ok()
    }

    /// Keeps the writer stopped and queues its request for a person to decide.
    fn hold_for_review(
        &mut self,
        header: &EventHeader,
        writer: &Writer,
        redactions: Vec<std::ops::Range<usize>>,
        records: Vec<AuditRecord>,
    ) {
        let reviewed = records.iter().find(|record| record.action == "review").or(records.first());
        let summary = ReviewSummary {
            id: 0,
            tool: reviewed.and_then(|record| record.tool.clone()),
            host: reviewed.and_then(|record| record.host.clone()),
            path: reviewed.and_then(|record| record.path.clone()),
            pid: writer.pid,
            comm: writer.comm.clone(),
            findings: reviewed
                .map(|record| {
                    record
                        .findings
                        .iter()
                        .map(|f| format!("{}/{} at {}", f.category, f.detector, f.json_path.as_deref().unwrap_or("-")))
                        .collect()
                })
                .unwrap_or_default(),
            body_sha256: reviewed.and_then(|record| record.body_sha256.clone()),
            policy_version: self.policy.digest.clone(),
            age_seconds: 0,
            expires_in_seconds: 0,
        };
        let now = Instant::now();
        let id = self.reviews.submit(
            HeldWrite { header: *header, redactions, records },
            summary,
            now,
            self.policy.review_timeout(),
        );
        tracing::info!(review = id, pid = writer.pid, comm = %writer.comm, "review {id}: held until a reviewer decides");
        if let Some(url) = &self.policy.review_webhook
            && let Some(listed) = self.reviews.summary(id, now)
        {
            self.notifier.announce(url, &listed, self.metrics.clone());
        }
    }

    fn expire_reviews(&mut self) {
        for (id, held, resolution) in self.reviews.expire(std::time::Instant::now()) {
            if let Err(error) = self.resolve_review(id, held, resolution) {
                tracing::error!("{error:#}");
            }
        }
    }

    fn on_api_call(&mut self, call: ApiCall) {
        match call {
            ApiCall::List { reply } => {
                let _ = reply.send(self.reviews.list(std::time::Instant::now()));
            }
            ApiCall::Decide { id, verdict, by_uid, binding, reply } => {
                let decided = self.reviews.decide(
                    id,
                    verdict,
                    by_uid,
                    binding.body_sha256.as_deref(),
                    binding.policy_version.as_deref(),
                );
                let answer = match decided {
                    Ok((held, resolution)) => {
                        self.resolve_review(id, held, resolution).map_err(|error| format!("{error:#}"))
                    }
                    Err(error) => Err(error.to_string()),
                };
                let _ = reply.send(answer);
            }
            ApiCall::Reload { reply } => {
                let _ = reply.send(self.reload());
            }
            ApiCall::Status { reply } => {
                let _ = reply.send(self.status());
            }
            ApiCall::Preview { id, reply } => {
                let preview = self.reviews.get(id).map(|held| {
                    let previews: Vec<_> =
                        held.records.iter().filter_map(|record| record.review_preview.as_ref()).collect();
                    serde_json::json!({ "id": id, "requests": previews })
                });
                tracing::info!(review = id, "review {id}: redacted preview shown");
                let _ = reply.send(preview);
            }
            ApiCall::RefreshMetrics { reply } => {
                self.refresh_metrics();
                let _ = reply.send(());
            }
        }
    }

    /// Re-reads the policy file. A policy that fails to load is refused whole and the
    /// current one stays; a good one replaces the policy, the detectors and the kernel's
    /// configuration together, before the next event is handled.
    fn reload(&mut self) -> Result<String, String> {
        let Some(path) = self.source.path.clone() else {
            let message = "no --policy file: the built-in default policy cannot be reloaded".to_owned();
            tracing::warn!("policy reload refused: {message}");
            return Err(message);
        };
        let loaded = Policy::load(&path).and_then(|mut policy| {
            if let Some(mode) = self.source.mode_override {
                policy.mode = mode;
            }
            let engine = Engine::from_config(&DetectionConfig::from(&policy.detection))?;
            Ok((policy, engine))
        });
        let (policy, engine) = match loaded {
            Ok(loaded) => loaded,
            Err(error) => {
                let message = format!("{error:#}");
                tracing::error!("policy reload refused: {message}");
                self.metrics.count_reload(false);
                return Err(message);
            }
        };
        let confinement = Confinement::from_policy(&policy);
        let applied = self
            .kernel
            .write_config(kernel_config(&policy))
            .and_then(|()| self.kernel.set_deny_networks(&deny_networks(&policy)))
            .and_then(|()| self.kernel.set_allowed_destinations(&allowed_destinations(&confinement)));
        if let Err(error) = applied {
            let message = format!("{error:#}");
            tracing::error!("policy reload refused: {message}");
            self.metrics.count_reload(false);
            return Err(message);
        }
        self.metrics.count_reload(true);
        self.policy = policy;
        self.engine = engine;
        self.reconfine(confinement);
        let version = self.policy.digest.clone();
        tracing::info!("policy reloaded: {} version {}", self.policy.source_name, &version[..12]);
        Ok(version)
    }

    /// Ends a review: approval lets the write through (with the policy's redactions applied),
    /// denial and timeout block it. One record per request tells the whole chain.
    fn resolve_review(&mut self, id: u64, held: HeldWrite, resolution: Resolution) -> anyhow::Result<()> {
        let approved = if held.redactions.is_empty() { Effect::Pass } else { Effect::Redact(held.redactions) };
        let (effect, outcome, by_uid) = match resolution {
            Resolution::Approved { by_uid } => (approved, "approved", Some(by_uid)),
            Resolution::Denied { by_uid } => (Effect::Block, "denied", Some(by_uid)),
            Resolution::TimedOut => (Effect::Block, "timed_out", None),
            Resolution::Abandoned => (Effect::Block, "abandoned", None),
        };
        tracing::info!("review {id}: {outcome}");
        self.metrics.count_review_decision(outcome);
        let records = held
            .records
            .into_iter()
            .map(|mut record| {
                record.review = Some(AuditReview { id, outcome, by_uid });
                record.ts = crate::audit::timestamp();
                if matches!(effect, Effect::Redact(_)) {
                    record.redacted = record.findings.iter().filter(|finding| finding.action == "redact").count();
                }
                finish_record(&self.policy, record, &effect)
            })
            .collect();
        let (effect, records) = self.redact(&held.header, effect, records);
        self.apply(&held.header, effect, records)
    }

    /// Monitor mode: chunks of one write arrive in order; a gap or the capture cap means
    /// bytes are missing, and the request they belonged to is recorded as truncated.
    fn on_write_chunk(&mut self, header: &EventHeader, payload: &[u8]) -> anyhow::Result<()> {
        let writer = self.writer(header);
        let key = ConnectionKey { tgid: header.tgid(), ssl: header.ssl };
        let mut records = Vec::new();
        let continues = self
            .writes
            .get(&header.pid_tgid)
            .is_some_and(|write| write.ssl == header.ssl && write.next_offset == header.offset && header.offset > 0);
        if !continues {
            if let Some(unfinished) = self.writes.remove(&header.pid_tgid) {
                self.metrics.count_capture_gap();
                let unfinished_key = ConnectionKey { tgid: header.tgid(), ssl: unfinished.ssl };
                records.extend(self.inspector.lose(
                    &self.policy,
                    unfinished_key,
                    &writer,
                    "capture lost chunks of a write",
                ));
            }
            if header.offset != 0 {
                self.metrics.count_capture_gap();
                records.extend(self.inspector.lose(&self.policy, key, &writer, "capture lost the start of a write"));
                self.record(&records);
                return Ok(());
            }
            let captured_len = header.total_len.min(u64::from(self.policy.capture_max_bytes));
            self.writes.insert(
                header.pid_tgid,
                WriteInProgress { ssl: header.ssl, next_offset: 0, captured_len, total_len: header.total_len },
            );
        }
        let inspection = Instant::now();
        let mut judge = Judge { policy: &self.policy, engine: &self.engine, ledger: &mut self.ledger };
        records.extend(self.inspector.push(&mut judge, key, &writer, payload).records);
        self.metrics.observe_inspection(inspection.elapsed());
        self.metrics.count_bytes(false, payload.len());
        let write = self.writes.get_mut(&header.pid_tgid).context("write in progress")?;
        write.next_offset = header.offset + payload.len() as u64;
        if write.next_offset >= write.captured_len {
            let truncated = write.captured_len < write.total_len;
            let total_len = write.total_len;
            self.writes.remove(&header.pid_tgid);
            if truncated || header.flags & flag::TRUNCATED != 0 {
                let why = format!("write of {total_len} bytes is longer than capture_max_bytes");
                records.extend(self.inspector.lose(&self.policy, key, &writer, &why));
            }
        }
        self.record(&records);
        Ok(())
    }

    /// Appends the records of decided requests to the audit log and counts them; false if
    /// one could not be written (the caller then refuses the write rather than let it leave
    /// unrecorded).
    fn record(&mut self, records: &[AuditRecord]) -> bool {
        for record in records {
            self.metrics.count_request(record);
        }
        self.append(records)
    }

    fn append(&mut self, records: &[AuditRecord]) -> bool {
        let mut all_written = true;
        for record in records {
            let written = match self.audit.append(record) {
                Ok(()) => true,
                Err(error) => {
                    tracing::error!("{error:#}");
                    false
                }
            };
            self.metrics.count_audit_write(written);
            all_written &= written;
        }
        all_written
    }

    /// The distinct processes with a thread held now.
    fn held_processes(&self) -> Vec<u32> {
        let mut pids: Vec<u32> = self.kernel.held.keys().filter_map(Result::ok).map(|key| (key >> 32) as u32).collect();
        pids.sort_unstable();
        pids.dedup();
        pids
    }

    fn refresh_metrics(&self) {
        self.metrics.refresh(&metrics::Snapshot {
            kernel_counters: &self.kernel.counters(),
            held_processes: self.held_processes().len(),
            review_queue_depth: self.reviews.len(),
            uprobes: self.kernel.uprobes(),
        });
    }

    /// What `egress status` shows.
    fn status(&self) -> serde_json::Value {
        let comm =
            |pid: u32| std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default().trim().to_owned();
        let confined: Vec<serde_json::Value> = self
            .kernel
            .confined
            .iter()
            .filter_map(Result::ok)
            .filter(|(pid, _)| Path::new(&format!("/proc/{pid}")).exists())
            .map(|(pid, slot)| {
                serde_json::json!({ "pid": pid, "comm": comm(pid), "tool": self.confinement.tool_name(slot) })
            })
            .collect();
        let counters: serde_json::Map<String, serde_json::Value> =
            self.kernel.counters().into_iter().map(|(name, value)| (name.to_owned(), value.into())).collect();
        serde_json::json!({
            "instance": self.instance,
            "pid": std::process::id(),
            "uptime_seconds": self.started.elapsed().as_secs(),
            "mode": self.policy.mode.as_str(),
            "fail_mode": self.policy.fail_mode.to_string(),
            "policy": { "source": self.policy.source_name, "version": self.policy.digest },
            "watched_cgroups": self.watched_dirs,
            "programs": self.kernel.attachments(),
            "tls_libraries": self.kernel.tls_targets(),
            "uprobes": self.kernel.uprobes().iter().map(|(file, count)| serde_json::json!({ "file": file, "count": count })).collect::<Vec<_>>(),
            "held": self.held_processes().into_iter().map(|pid| serde_json::json!({ "pid": pid, "comm": comm(pid) })).collect::<Vec<_>>(),
            "reviews_pending": self.reviews.len(),
            "confined": confined,
            "audit": { "path": self.audit_path, "seq": self.audit.seq() },
            "counters": counters,
        })
    }

    /// Resumes a held thread's process unless another of its threads is still held (SIGCONT
    /// resumes the whole process).
    fn release(&mut self, pid_tgid: u64) {
        let _ = self.kernel.held.remove(&pid_tgid);
        let tgid = pid_tgid >> 32;
        let others_held = self.kernel.held.keys().filter_map(Result::ok).any(|other| other >> 32 == tgid);
        if !others_held {
            guardian::resume(tgid as u32);
        }
    }

    /// Confines a process that runs a program of a code_exec tool. In enforce mode it is held
    /// at exec while this runs, so it cannot connect anywhere before it is confined.
    fn confine_if_listed(&mut self, pid: u32) {
        let Some(slot) = self.confinement.slot_of_process(pid) else {
            return;
        };
        let tool = self.confinement.tool_name(slot).unwrap_or("?");
        match self.kernel.confined.insert(&pid, &slot, 0) {
            Ok(()) => tracing::info!("pid {pid} confined to the destinations of code_exec tool {tool}"),
            Err(error) => tracing::error!("pid {pid} runs a program of tool {tool} but could not be confined: {error}"),
        }
    }

    /// After a reload: confined processes keep the confinement of their tool (by name) under
    /// its new slot, or lose it if the tool no longer confines; running processes of newly
    /// listed programs are confined.
    fn reconfine(&mut self, confinement: Confinement) {
        let old = std::mem::replace(&mut self.confinement, confinement);
        let entries: Vec<(u32, u32)> = self.kernel.confined.iter().filter_map(Result::ok).collect();
        for (pid, old_slot) in entries {
            let new_slot = old.tool_name(old_slot).and_then(|name| self.confinement.slot_of_tool(name));
            let _ = match new_slot {
                Some(slot) => self.kernel.confined.insert(&pid, &slot, 0),
                None => self.kernel.confined.remove(&pid),
            };
        }
        for dir in self.watched_dirs.clone() {
            for pid in cgroup::processes(&dir) {
                if self.kernel.confined.get(&pid, 0).is_err() {
                    self.confine_if_listed(pid);
                }
            }
        }
    }

    /// Attaches to TLS code and loaders that a process maps and that were not seen before.
    fn attach_new_code(&mut self, pid: u32) {
        for file in targets::mapped_files(pid) {
            let Some((path, exports)) = self.inspected.first_sight(pid, &file) else {
                continue;
            };
            if exports.has_openssl_writes() {
                match self.kernel.attach_openssl(&path, &exports) {
                    Ok(_) => tracing::info!("attached OpenSSL probes to {}", path.display()),
                    Err(error) => tracing::error!("{error:#}"),
                }
            }
            if exports.dl_debug_state {
                match self.kernel.attach_loader_hook(&path) {
                    Ok(()) => tracing::info!("attached the library-load hook to {}", path.display()),
                    Err(error) => tracing::error!("{error:#}"),
                }
            }
        }
    }

    fn writer(&mut self, header: &EventHeader) -> Writer {
        let pid = header.tgid();
        let cgroup = match self.cgroup_paths.get(&header.cgroup_id) {
            Some(path) => path.clone(),
            None => {
                let path = cgroup::cgroup_of(pid).unwrap_or_else(|| format!("cgroup id {}", header.cgroup_id));
                self.cgroup_paths.insert(header.cgroup_id, path.clone());
                path
            }
        };
        let peer = self.peer(header).map(|peer| peer.socket_addr().to_string());
        let confined_to = match self.confinement.is_empty() {
            true => None,
            false => self.kernel.confined.get(&pid, 0).ok().and_then(|slot| self.confinement.tool_name(slot)),
        };
        Writer {
            confined_to: confined_to.map(str::to_owned),
            pid,
            comm: header.comm_str().to_owned(),
            cgroup,
            tls_library: self
                .kernel
                .tls_target(header.lib_cookie)
                .map(|path| path.display().to_string())
                .unwrap_or_default(),
            peer,
        }
    }

    fn housekeeping(&mut self) {
        self.inspector.forget_processes(|tgid| Path::new(&format!("/proc/{tgid}")).exists());
        self.writes.retain(|pid_tgid, _| Path::new(&format!("/proc/{}", pid_tgid >> 32)).exists());
        let gone: Vec<u32> = self
            .kernel
            .confined
            .keys()
            .filter_map(Result::ok)
            .filter(|pid| !Path::new(&format!("/proc/{pid}")).exists())
            .collect();
        for pid in gone {
            let _ = self.kernel.confined.remove(&pid);
        }
        self.report_kernel_counters(false);
    }

    /// Logs the kernel side's counters; at the end (`final_report`) at info, else at debug.
    fn report_kernel_counters(&self, final_report: bool) {
        let report = |message: String| match final_report {
            true => tracing::info!("{message}"),
            false => tracing::debug!("{message}"),
        };
        for (name, value) in self.kernel.counters() {
            // Lost data is never silent: anything that stands for missing inspection warns.
            let lossy = matches!(
                name,
                "ringbuf_drops" | "hold_signal_failed" | "sockhash_full" | "read_user_failed" | "confine_failed"
            );
            if lossy && value > 0 {
                tracing::warn!(counter = name, value, "kernel counter {name} = {value}: inspection was lost");
            } else {
                report(format!("kernel counter {name} = {value}"));
            }
        }
        report(format!("response bytes captured = {}", self.response_bytes));
        if let Some(summary) = self.hold_latency.summary() {
            report(format!("hold latency (SSL_write entry to resume): {summary}"));
        }
    }

    /// Resumes anything held, then either removes every program (`release`: `egress run`, or
    /// fail mode open) or leaves them pinned to drop TLS writes until a daemon is back.
    fn shutdown(mut self, release: bool) -> anyhow::Result<()> {
        self.report_kernel_counters(true);
        // A held request nobody decided is not let through by a stopping daemon.
        for (id, held) in self.reviews.drain() {
            if let Err(error) = self.resolve_review(id, held, Resolution::Abandoned) {
                tracing::error!("{error:#}");
            }
        }
        // A signed checkpoint closes the log of a clean stop.
        if let Err(error) = self.audit.checkpoint() {
            tracing::error!("{error:#}");
        }
        let _ = std::fs::remove_file(&self.api_socket);
        let _ = std::fs::remove_file(&self.pid_file);
        let closed_and_kept = !release && self.policy.fail_mode == FailMode::Closed;
        let Self { mut kernel, guardian, pin_dir, .. } = self;
        kernel.heartbeat.set(0, &0, 0).context("clearing the heartbeat")?;
        let held: Vec<u64> = kernel.held.keys().filter_map(Result::ok).collect();
        for pid_tgid in held {
            if closed_and_kept {
                kernel.denied_threads.insert(&pid_tgid, &1, 0)?;
            }
            let _ = kernel.held.remove(&pid_tgid);
            guardian::resume((pid_tgid >> 32) as u32);
        }
        if closed_and_kept {
            tracing::warn!(
                "fail_mode closed: TLS writes of watched agents are dropped until a daemon is back \
                 (remove {} to lift)",
                pin_dir.display()
            );
            kernel.leave_pinned();
        } else {
            kernel.release()?;
        }
        guardian.dismiss()
    }
}

/// A write held for review: what is needed to finish it.
pub struct HeldWrite {
    header: EventHeader,
    /// Ranges to mask if the request is approved.
    redactions: Vec<std::ops::Range<usize>>,
    records: Vec<AuditRecord>,
}

/// Masks the redacted ranges of a held write in the agent's memory.
fn mask(header: &EventHeader, ranges: &[std::ops::Range<usize>]) -> std::io::Result<()> {
    for range in ranges {
        procmem::write(header.tgid(), header.buf + range.start as u64, &vec![REDACTION_MASK; range.len()])?;
    }
    Ok(())
}

/// Hold durations, kept to report percentiles (bounded: later samples are counted only).
#[derive(Default)]
struct LatencySamples {
    samples_ns: Vec<u64>,
    count: u64,
}

impl LatencySamples {
    const MAX_KEPT: usize = 1 << 20;

    fn add(&mut self, ns: u64) {
        self.count += 1;
        if self.samples_ns.len() < Self::MAX_KEPT {
            self.samples_ns.push(ns);
        }
    }

    fn summary(&self) -> Option<String> {
        let mut sorted = self.samples_ns.clone();
        sorted.sort_unstable();
        let percentile = |p: usize| sorted.get((sorted.len() - 1) * p / 100).copied().unwrap_or(0) as f64 / 1000.0;
        let max = *sorted.last()? as f64 / 1000.0;
        Some(format!(
            "n={} p50={:.1}us p99={:.1}us max={max:.1}us (percentiles over the first {} holds)",
            self.count,
            percentile(50),
            percentile(99),
            sorted.len()
        ))
    }
}

fn kernel_config(policy: &Policy) -> Config {
    Config {
        mode: if policy.mode == Mode::Enforce { MODE_ENFORCE } else { MODE_MONITOR },
        fail_mode: if policy.fail_mode == FailMode::Closed { FAIL_CLOSED } else { FAIL_OPEN },
        capture_max: policy.capture_max_bytes,
        fork_child_pid_offset: 0,
        heartbeat_timeout_ns: HEARTBEAT_TIMEOUT.as_nanos() as u64,
    }
}

/// The policy's literal networks plus the addresses its host names resolve to now. A name
/// that does not resolve cannot be connected to either; it is reported, not fatal.
fn allowed_destinations(confinement: &Confinement) -> Vec<Vec<IpNet>> {
    confinement.tools().iter().map(|tool| tool.allowed.clone()).collect()
}

fn deny_networks(policy: &Policy) -> Vec<IpNet> {
    let mut networks = policy.deny_nets();
    for host in policy.deny_hosts() {
        match (host, 0).to_socket_addrs() {
            Ok(addresses) => networks.extend(addresses.map(|address| IpNet::from(address.ip()))),
            Err(error) => {
                tracing::warn!("deny_destinations: {host} does not resolve now ({error}); not refused by address")
            }
        }
    }
    networks
}

fn monotonic_ns() -> u64 {
    // SAFETY: clock_gettime into a zeroed timespec; CLOCK_MONOTONIC is what bpf_ktime_get_ns reads.
    let mut now: libc::timespec = unsafe { std::mem::zeroed() };
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) };
    now.tv_sec as u64 * 1_000_000_000 + now.tv_nsec as u64
}

fn beat(heartbeat: &mut aya::maps::Array<MapData, u64>) -> anyhow::Result<()> {
    heartbeat.set(0, &monotonic_ns(), 0).context("writing the heartbeat")
}

async fn beat_forever(mut heartbeat: aya::maps::Array<MapData, u64>) {
    let mut interval = tokio::time::interval(HEARTBEAT_INTERVAL);
    loop {
        interval.tick().await;
        if let Err(error) = beat(&mut heartbeat) {
            tracing::error!("{error:#}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_summary_gives_percentiles() {
        let mut samples = LatencySamples::default();
        assert!(samples.summary().is_none());
        for us in 1..=100 {
            samples.add(us * 1000);
        }
        let summary = samples.summary().expect("samples");
        assert!(summary.contains("n=100 p50=50.0us p99=99.0us max=100.0us"), "{summary}");
    }

    #[test]
    fn kernel_config_follows_the_policy() {
        let mut policy = Policy::builtin_default();
        policy.mode = Mode::Enforce;
        policy.fail_mode = FailMode::Closed;
        let config = kernel_config(&policy);
        assert_eq!(config.mode, MODE_ENFORCE);
        assert_eq!(config.fail_mode, FAIL_CLOSED);
        assert_eq!(config.capture_max, policy.capture_max_bytes);
        assert_eq!(config.heartbeat_timeout_ns, 2_000_000_000);
    }
}
