//! Detection speed and memory (`cargo bench -p egress-user --bench detect`).
//!
//! The engine runs with every detector on: the built-in PII and secret detectors plus
//! 10,000 dictionary terms, 1,000 fingerprinted documents and 100,000 EDM rows. Payloads are
//! chat-completion requests of 1 KiB, 4 KiB, 16 KiB, 256 KiB and 4 MiB with some findings.
//! Criterion reports its usual estimates; a second pass prints median, p99 and MB/s per size,
//! and the memory of the loaded engine.
use std::{
    hint::black_box,
    path::Path,
    time::{Duration, Instant},
};

use criterion::{BenchmarkId, Criterion, Throughput};
use egress::detect::{DetectionConfig, EdmSource, Engine};

const SIZES: [(usize, &str); 5] =
    [(1024, "1 KiB"), (4096, "4 KiB"), (16 * 1024, "16 KiB"), (256 * 1024, "256 KiB"), (4 * 1024 * 1024, "4 MiB")];
const WORDS: [&str; 24] = [
    "the",
    "report",
    "customer",
    "quarterly",
    "revenue",
    "deploy",
    "service",
    "latency",
    "please",
    "summarise",
    "meeting",
    "notes",
    "from",
    "yesterday",
    "and",
    "send",
    "them",
    "to",
    "team",
    "with",
    "budget",
    "figures",
    "project",
    "status",
];

/// Deterministic pseudo-random numbers, so every run measures the same data.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        self.0 >> 33
    }

    fn word(&mut self) -> &'static str {
        WORDS[self.next() as usize % WORDS.len()]
    }

    fn sentence(&mut self, words: usize) -> String {
        (0..words).map(|_| self.word()).collect::<Vec<_>>().join(" ")
    }
}

fn fixtures(dir: &Path) -> DetectionConfig {
    let mut random = Lcg(7);
    let documents = dir.join("documents");
    std::fs::create_dir_all(&documents).expect("documents dir");
    for index in 0..1000 {
        let text: String = (0..80).map(|_| random.sentence(12) + ".\n").collect();
        std::fs::write(documents.join(format!("doc-{index:04}.txt")), text).expect("write a document");
    }
    let terms: String = (0..10_000).map(|index| format!("codename-{index}-{}\n", random.word())).collect();
    std::fs::write(dir.join("terms.txt"), terms).expect("write terms");
    let mut csv = String::from("name,email,account\n");
    for index in 0..100_000 {
        csv.push_str(&format!("Person {index} {},person{index}@example.com,{:010}\n", random.word(), random.next()));
    }
    std::fs::write(dir.join("customers.csv"), csv).expect("write the EDM table");
    DetectionConfig {
        documents_dir: Some(documents),
        dictionaries: vec![dir.join("terms.txt")],
        edm: vec![EdmSource {
            file: dir.join("customers.csv"),
            primary: vec!["email".into()],
            corroborating: vec!["name".into(), "account".into()],
        }],
        ..DetectionConfig::default()
    }
}

/// A chat-completion request of about `size` bytes: prose with an e-mail, a card number and
/// a token now and then.
fn payload(size: usize) -> Vec<u8> {
    let mut random = Lcg(size as u64);
    let mut messages = Vec::new();
    let mut length = 40;
    while length < size {
        let mut content = random.sentence(40);
        match random.next() % 8 {
            0 => content.push_str(" contact jane.doe@example.com"),
            1 => content.push_str(" card 4111 1111 1111 1111"),
            2 => content.push_str(" token ghp_16C7e42F292c6912E7710c838347Ae178B4a"),
            _ => {}
        }
        length += content.len() + 32;
        messages.push(serde_json::json!({ "role": if messages.len() % 2 == 0 { "user" } else { "assistant" }, "content": content }));
    }
    serde_json::to_vec(&serde_json::json!({ "model": "gpt-4o", "messages": messages })).expect("json")
}

fn percentile_table(engine: &Engine) {
    println!("\n{:>8} {:>12} {:>12} {:>10} {:>9}", "payload", "median", "p99", "MB/s", "findings");
    for (size, label) in SIZES {
        let body = payload(size);
        let findings = engine.scan(&body).len();
        let rounds = (64 * 1024 * 1024 / body.len()).clamp(20, 5000);
        let mut times: Vec<Duration> = (0..rounds)
            .map(|_| {
                let start = Instant::now();
                black_box(engine.scan(black_box(&body)));
                start.elapsed()
            })
            .collect();
        times.sort_unstable();
        let median = times[times.len() / 2];
        let p99 = times[(times.len() - 1) * 99 / 100];
        let megabytes_per_second = body.len() as f64 / median.as_secs_f64() / 1e6;
        println!("{label:>8} {median:>12.2?} {p99:>12.2?} {megabytes_per_second:>10.0} {findings:>9}");
    }
}

/// Where the time of the 256 KiB payload goes: the engine with one group of detectors at a
/// time (decoding alone first, then decoding plus the group), in ns per payload byte.
fn breakdown(config: &DetectionConfig) {
    use egress::detect::{Detector, dictionary, edm, fingerprint, pii, secrets, taint};
    let salt = [7u8; 16];
    let documents = config.documents_dir.as_ref().expect("documents");
    let source = &config.edm[0];
    let primary: Vec<&str> = source.primary.iter().map(String::as_str).collect();
    let corroborating: Vec<&str> = source.corroborating.iter().map(String::as_str).collect();
    let store = std::sync::Arc::new(std::sync::RwLock::new(taint::TaintStore::new(taint::TaintConfig::default())));
    let groups: Vec<(&str, Vec<Box<dyn Detector>>)> = vec![
        ("decoding", Vec::new()),
        ("pii", pii::detectors()),
        ("secrets", secrets::detectors()),
        ("documents", vec![Box::new(fingerprint::DocumentIndex::from_dir(documents, 0.3).expect("documents"))]),
        ("dictionary", vec![Box::new(dictionary::Dictionary::from_files(&config.dictionaries).expect("terms"))]),
        (
            "edm",
            vec![Box::new(edm::ExactDataMatch::from_csv(&source.file, &primary, &corroborating, &salt).expect("edm"))],
        ),
        ("taint", vec![Box::new(taint::TaintDetector::new(store))]),
    ];
    let body = payload(256 * 1024);
    println!(
        "\n256 KiB payload, ns of this thread's CPU time per byte (robust to other processes on the \
         machine):\ndecoding alone, then each group with decoding subtracted"
    );
    let mut decoding = 0.0;
    for (name, detectors) in groups {
        let engine = Engine::new(detectors, salt, config.max_decode_depth);
        let mut times: Vec<Duration> = (0..200)
            .map(|_| {
                let start = thread_cpu_time();
                black_box(engine.scan(black_box(&body)));
                thread_cpu_time() - start
            })
            .collect();
        times.sort_unstable();
        let per_byte = times[times.len() / 2].as_nanos() as f64 / body.len() as f64;
        if name == "decoding" {
            decoding = per_byte;
            println!("  {name:<11} {per_byte:>6.2}");
        } else {
            println!("  {name:<11} {:>6.2}", per_byte - decoding);
        }
    }
}

fn thread_cpu_time() -> Duration {
    let mut now = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `now` is a valid timespec for the call to fill.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
    assert_eq!(rc, 0, "clock_gettime");
    Duration::new(now.tv_sec as u64, now.tv_nsec as u32)
}

fn main() {
    let dir = std::env::temp_dir().join(format!("egress-bench-detect-{}", std::process::id()));
    let config = fixtures(&dir);
    let started = Instant::now();
    let engine = Engine::from_config(&config).expect("engine");
    println!("engine built in {:.2?}", started.elapsed());
    println!("memory of the loaded engine (10,000 terms, 1,000 documents, 100,000 EDM rows):");
    for (part, bytes) in engine.memory_bytes() {
        println!("  {part:<13} {:>10.1} KiB", bytes as f64 / 1024.0);
    }
    let mut criterion = Criterion::default().configure_from_args().measurement_time(Duration::from_secs(3));
    let mut group = criterion.benchmark_group("scan");
    for (size, label) in SIZES {
        let body = payload(size);
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_with_input(BenchmarkId::from_parameter(label), &body, |bencher, body| {
            bencher.iter(|| engine.scan(black_box(body)))
        });
    }
    group.finish();
    percentile_table(&engine);
    breakdown(&config);
    criterion.final_summary();
    let _ = std::fs::remove_dir_all(dir);
}
