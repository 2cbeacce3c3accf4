#!/usr/bin/env python3
"""Writes the labelled detection corpus: payloads.jsonl and the fixtures the engine is built
from (documents/, terms.txt, customers.csv, taint_source.json).

Deterministic: a fixed seed and a pinned Faker (corpus/requirements.txt). Run with
  .venv/bin/python corpus/generate.py
Each payload is the HTTP body an agent sends; each label is the byte span of one sensitive
value in that body, as it appears there (JSON-escaped, percent-encoded, ...)."""
import csv
import json
import random
import re
import sys
import urllib.parse
from pathlib import Path

from faker import Faker

sys.path.insert(0, str(Path(__file__).parent))
import keys  # noqa: E402
import snippets as sn  # noqa: E402
import texts  # noqa: E402
import values as v  # noqa: E402

SEED = 20250611
HERE = Path(__file__).parent
PROSE_KINDS = ["openai_chat", "anthropic_messages", "tool_call", "slack_webhook", "github_issue", "email"]
STYLE_OF = {"code": "config", "log": "log"}


class Marks:
    """Wraps a value in markers made of letters and digits only, so they come through JSON
    escaping and percent-encoding unchanged; `finish` removes them and records byte spans."""

    MARKER = re.compile(r"QZX([SE])(\d+)\1")

    def __init__(self):
        self.labels = []

    def __call__(self, category, detector, value):
        n = len(self.labels)
        self.labels.append((category, detector))
        return f"QZXS{n}S{value}QZXE{n}E"

    def finish(self, text):
        out, starts, labels, pos = bytearray(), {}, [], 0
        for marker in self.MARKER.finditer(text):
            out += text[pos:marker.start()].encode()
            n = int(marker.group(2))
            if marker.group(1) == "S":
                starts[n] = len(out)
            else:
                category, detector = self.labels[n]
                labels.append({"category": category, "detector": detector, "start": starts.pop(n), "end": len(out)})
            pos = marker.end()
        out += text[pos:].encode()
        assert not starts and len(labels) == len(self.labels), "a marked value was dropped"
        labels.sort(key=lambda label: (label["start"], label["end"], label["category"]))
        return out.decode(), labels


# --- payload kinds: what an agent's HTTP body looks like ------------------------------

def dumps(rng, obj):
    # Python's json and most SDKs escape non-ASCII by default; some clients send raw UTF-8.
    return json.dumps(obj, ensure_ascii=rng.random() < 0.3)


def wrap(kind, rng, fake, m, parts):
    body = "\n".join(parts)
    if kind == "openai_chat":
        messages = [{"role": "system", "content": "You are a helpful assistant for the operations team."}]
        if rng.random() < 0.4:
            messages += [{"role": "user", "content": fake.sentence()}, {"role": "assistant", "content": fake.paragraph()}]
        messages.append({"role": "user", "content": rng.choice(["Can you help with this?", "Summarise the following.",
                                                                "Draft a reply to this."]) + "\n\n" + body})
        return dumps(rng, {"model": rng.choice(["gpt-4o", "gpt-4.1-mini", "gpt-4o-mini"]), "messages": messages,
                           "temperature": 0.2, "stream": rng.random() < 0.3})
    if kind == "anthropic_messages":
        tool_id = "toolu_01" + v.pick(rng, v.ALNUM, 22)
        return dumps(rng, {"model": "claude-sonnet-4-5-20250929", "max_tokens": 2048, "system": "You triage support tickets.",
                           "messages": [
                               {"role": "user", "content": [{"type": "text", "text": "Look up the latest ticket and summarise it."}]},
                               {"role": "assistant", "content": [{"type": "tool_use", "id": tool_id, "name": "get_ticket",
                                                                  "input": {"ticket_id": rng.randint(10_000, 99_999)}}]},
                               {"role": "user", "content": [{"type": "tool_result", "tool_use_id": tool_id, "content": body}]}]})
    if kind == "tool_call":
        if rng.random() < 0.5:  # OpenAI function call: arguments are a JSON string inside JSON
            args = json.dumps({"channel": "#ops", "text": body})
            call = {"id": "call_" + v.pick(rng, v.ALNUM, 24), "type": "function",
                    "function": {"name": rng.choice(["post_message", "create_ticket", "save_note"]), "arguments": args}}
            return dumps(rng, {"model": "gpt-4o", "messages": [
                {"role": "user", "content": "File this for me."},
                {"role": "assistant", "content": None, "tool_calls": [call]},
                {"role": "tool", "tool_call_id": call["id"], "content": "ok"}]})
        return dumps(rng, {"jsonrpc": "2.0", "id": rng.randint(1, 500), "method": "tools/call",
                           "params": {"name": rng.choice(["create_ticket", "update_record", "append_note"]),
                                      "arguments": {"title": fake.sentence(nb_words=5), "description": body}}})
    if kind == "slack_webhook":
        message = {"text": body, "username": "ops-agent"} if rng.random() < 0.5 else \
            {"blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": body}}]}
        if rng.random() < 0.3:  # the legacy form-encoded webhook body
            return "payload=" + urllib.parse.quote_plus(json.dumps(message))
        return dumps(rng, message)
    if kind == "github_issue":
        return dumps(rng, {"title": fake.sentence(nb_words=6).rstrip("."), "labels": ["bug", "triage"],
                           "body": f"### What happened\n\n{fake.paragraph()}\n\n```\n{body}\n```\n\n### Expected\n\n{fake.sentence()}"})
    if kind == "email":
        sender = m("pii", "email", sn.email_address(rng, fake))
        to = m("pii", "email", sn.email_address(rng, fake))
        subject = fake.sentence(nb_words=5)
        text = f"Hi,\n\n{body}\n\nBest regards,\n{fake.name()}"
        if rng.random() < 0.4:  # Mailgun-style form body: '@' travels as %40
            return urllib.parse.urlencode({"from": f"Ops Agent <{sender}>", "to": to, "subject": subject, "text": text})
        return dumps(rng, {"personalizations": [{"to": [{"email": to}]}], "from": {"email": sender},
                           "subject": subject, "content": [{"type": "text/plain", "value": text}]})
    if kind == "code":
        if rng.random() < 0.5:  # a gist / file-write tool
            name = rng.choice(["settings.py", "config.yaml", ".env", "deploy.sh", "app.js"])
            return dumps(rng, {"description": fake.sentence(), "public": False, "files": {name: {"content": body}}})
        return f"# {fake.sentence()}\nimport os\n\n{body}\n\nDEBUG = os.environ.get('DEBUG') == '1'\n"
    if kind == "log":
        lines = [line if re.match(r"\d{4}-", line) else f"{v.moment(rng).isoformat()}Z INFO {line}"
                 for line in parts]
        if rng.random() < 0.5:  # NDJSON to a log intake API
            return "\n".join(json.dumps({"service": "checkout", "message": line}) for line in lines) + "\n"
        return "\n".join(lines) + "\n"
    raise ValueError(kind)


def filler(rng, fake, style):
    if style == "log":
        return f"{v.moment(rng).isoformat()}Z DEBUG worker {rng.randint(1, 16)} idle"
    if style == "config":
        return rng.choice(["TIMEOUT_SECONDS = 30", "LOG_LEVEL: info", "retries = 3", f"REGION = \"{rng.choice(['eu-west-1', 'us-east-2'])}\""])
    return fake.paragraph(nb_sentences=rng.randint(1, 3))


# --- sensitive items -----------------------------------------------------------------

def item_kinds():
    """(category, detector, count): how many times each kind of positive is planted."""
    out = [("pii", det, 22) for det in sn.PII]
    out += [("secret", "aws", 16), ("secret", "private_key", 10), ("secret", "password_in_url", 16),
            ("secret", "password_assignment", 20), ("secret", "generic_high_entropy", 16)]
    out += [("secret", kind, 10) for kind in v.TOKEN_KINDS]
    out += [("dictionary", "dictionary", 50), ("edm", "edm", 40)]
    return out


def render(item, rng, fake, m, style, ctx):
    category, detector = item
    if category == "pii":
        return sn.pii(rng, fake, m, detector, style)
    if detector == "aws":
        return sn.aws(rng, m, style)
    if detector == "private_key":
        return sn.private_key(rng, m, style, ctx["keys"].pop())
    if detector == "password_in_url":
        return sn.password_url(rng, fake, m, style)
    if detector == "password_assignment":
        return sn.password_assignment(rng, m, style)
    if detector == "generic_high_entropy":
        return sn.high_entropy(rng, m, style)
    if category == "secret":
        return sn.token(rng, m, detector, style)
    if category == "dictionary":
        term = m("dictionary", "dictionary", rng.choice(ctx["terms"]))
        if style == "log":
            return f"deploy finished target={term} status=ok"
        if style == "config":
            return f'PROJECT = "{term}"  # internal'
        return rng.choice([f"Status on {term}: the design review moved to Thursday.",
                           f"Can you draft the launch announcement for {term}?",
                           f"Budget for {term} is frozen until the next planning cycle."])
    if category == "edm":
        name, email, account = rng.choice(ctx["customers"])
        e = m("edm", "edm", m("pii", "email", email))
        if style == "log":
            return f'crm.lookup name="{name}" email={e} account={account}'
        if style == "config":
            return f'TEST_CUSTOMER = {{"name": "{name}", "email": "{e}", "account": "{account}"}}'
        return rng.choice([f"Customer {name} ({e}, {account}) is asking for a refund.",
                           f"Please update the record for {name} <{e}>: new plan is Enterprise.",
                           f"{name}, {e}, account {account}, reported the outage first."])
    raise ValueError(item)


def mark_terms(text, m, term_set):
    """Marks the dictionary terms inside a copied text (documents name internal projects)."""
    pattern = re.compile("|".join(re.escape(t) for t in sorted(term_set, key=len, reverse=True)))
    return pattern.sub(lambda t: m("dictionary", "dictionary", t.group(0)), text)


def excerpt(rng, text, share):
    paragraphs = text.split("\n\n")
    want = len(text) * share
    start = rng.randrange(len(paragraphs))
    end = start
    while end < len(paragraphs) and len("\n\n".join(paragraphs[start:end])) < want:
        end += 1
    while len("\n\n".join(paragraphs[start:end])) < want and start > 0:
        start -= 1
    return "\n\n".join(paragraphs[start:end])


# --- assembly ------------------------------------------------------------------------

def build(rng, fake):
    term_list = texts.terms(rng)
    term_set = set(term_list)
    fakes = [Faker(loc) for loc in ["en_US", "en_GB", "de_DE", "fr_FR", "es_ES", "en_IN"]]
    for i, f in enumerate(fakes):
        f.seed_instance(SEED + i)
    customers = texts.customers(rng, fakes)
    sn.RESERVED_EMAILS.update(email for _, email, _ in customers)
    docs = texts.documents(rng, fake, term_list)
    crm = texts.crm_response(rng, fake)
    pem = [keys.private_key(rng, f"deploy@{fake.domain_word()}") for _ in range(10)]
    ctx = {"terms": term_list, "customers": customers, "keys": pem}

    payloads = []

    def add(kind, m, text):
        text, labels = m.finish(text)
        payloads.append({"id": f"{kind}-{len(payloads):04d}", "kind": kind, "payload": text, "labels": labels})

    # Plain positives: 1 to 3 items a payload, with hard negatives mixed in half the time.
    items = [(c, d) for c, d, n in item_kinds() for _ in range(n)]
    rng.shuffle(items)
    i = 0
    while i < len(items):
        n = rng.randint(1, 3)
        group, i = items[i:i + n], i + n
        kind = rng.choice(PROSE_KINDS + ["code", "code", "log", "log"])
        if any(d == "private_key" for _, d in group) and kind == "log":
            kind = "code"
        style = STYLE_OF.get(kind, "prose")
        m = Marks()
        parts = [render(item, rng, fake, m, style, ctx) for item in group]
        parts += [sn.negative(rng, fake, style) for _ in range(rng.choice([0, 0, 1, 2]))]
        parts += [filler(rng, fake, style) for _ in range(rng.randint(0, 2))]
        rng.shuffle(parts)
        add(kind, m, wrap(kind, rng, fake, m, parts))

    # Documents: 20-40 % excerpts (a few whole copies) pasted into prose channels.
    for j in range(40):
        name = rng.choice(sorted(docs))
        share = 1.0 if j % 10 == 0 else rng.uniform(0.2, 0.4)
        m = Marks()
        copied = m("document", "document", mark_terms(excerpt(rng, docs[name], share), m, term_set))
        kind = rng.choice(PROSE_KINDS)
        add(kind, m, wrap(kind, rng, fake, m, [rng.choice(["Please tighten the wording of this:", "For context:",
                                                             "Summarise for the exec sync:"]), copied]))

    # Taint: a note the agent read from the CRM, sent on somewhere else.
    notes = [note["body"] for note in crm["notes"]]
    for j in range(36):
        note = rng.choice(notes)
        if rng.random() < 0.4:  # part of the note: two of its three sentences
            note = " ".join(note.split(". ")[:2]).rstrip(".") + "."
        m = Marks()
        copied = m("taint", "taint", note)
        kind = rng.choice(PROSE_KINDS)
        add(kind, m, wrap(kind, rng, fake, m, [rng.choice(["From the CRM:", "Latest account notes:", "FYI"]), copied,
                                                filler(rng, fake, "prose")]))

    # Hard negatives: nothing here is sensitive.
    for j in range(200):
        kind = rng.choice(PROSE_KINDS + ["code", "log"])
        style = STYLE_OF.get(kind, "prose")
        m = Marks()
        parts = [sn.negative(rng, fake, style) for _ in range(rng.randint(1, 4))]
        extra = rng.random()
        if extra < 0.15 and style == "prose":
            parts.append(texts.lorem(rng))
        elif extra < 0.25 and kind in ("code", "tool_call"):
            parts.append(texts.minified_js(rng))
        parts += [filler(rng, fake, style) for _ in range(rng.randint(0, 2))]
        rng.shuffle(parts)
        if kind == "openai_chat" and extra > 0.5:  # a vision request with an inline screenshot
            text = dumps(rng, {"model": "gpt-4o", "messages": [{"role": "user", "content": [
                {"type": "text", "text": "\n".join(parts)},
                {"type": "image_url", "image_url": {"url": texts.png_data_url(rng)}}]}]})
        elif kind == "anthropic_messages" and extra > 0.5:
            data = texts.png_data_url(rng).split(",", 1)[1]
            text = dumps(rng, {"model": "claude-sonnet-4-5-20250929", "max_tokens": 1024, "messages": [
                {"role": "user", "content": [
                    {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": data}},
                    {"type": "text", "text": "\n".join(parts)}]}]})
        else:
            text = wrap(kind, rng, fake, m, parts)
        add(kind, m, text)

    # Interleave, so no category sits in one block of the file.
    rng.shuffle(payloads)
    fixtures = {"docs": docs, "terms": term_list, "customers": customers, "crm": crm}
    return payloads, fixtures


# --- checks: the labels say everything there is -------------------------------------

EMAIL = re.compile(r"[A-Za-z0-9._+-]+(?:@|%40)[A-Za-z0-9.-]+\.[a-z]{2,}")
URL_USERINFO = re.compile(r"://[^\s/@]*:$")  # postgres://user:PASSWORD@host is no e-mail


def lint(payloads, fixtures):
    customer_emails = {email for _, email, _ in fixtures["customers"]}
    terms = fixtures["terms"]
    problems = []
    for p in payloads:
        data = p["payload"].encode()
        spans = {c: [(l["start"], l["end"]) for l in p["labels"] if l["category"] == c]
                 for c in ("pii", "edm", "dictionary", "secret")}
        covered = lambda c, s, e: any(a <= s and e <= b for a, b in spans[c])  # noqa: E731
        overlapped = lambda c, s, e: any(a < e and s < b for a, b in spans[c])  # noqa: E731
        text = data.decode()
        for match in EMAIL.finditer(text):
            s, e = len(text[:match.start()].encode()), len(text[:match.end()].encode())
            if URL_USERINFO.search(text[max(0, match.start() - 80):match.start()]) or overlapped("secret", s, e):
                continue
            if not overlapped("pii", s, e):
                problems.append(f"{p['id']}: unlabelled e-mail {match.group(0)}")
            if match.group(0).replace("%40", "@") in customer_emails and not overlapped("edm", s, e):
                problems.append(f"{p['id']}: customer e-mail without edm label")
        for term in terms:  # the dictionary matches whole words, case-insensitively
            for match in re.finditer(r"(?<!\w)" + re.escape(term) + r"(?!\w)", text, re.IGNORECASE):
                s, e = len(text[:match.start()].encode()), len(text[:match.end()].encode())
                if not covered("dictionary", s, e):
                    problems.append(f"{p['id']}: unlabelled term {term}")
        for label in p["labels"]:
            value = data[label["start"]:label["end"]].decode()
            digits = re.sub(r"\D", "", value)
            if label["detector"] == "credit_card" and not v.luhn_ok(digits):
                problems.append(f"{p['id']}: card fails Luhn: {value}")
            if label["detector"] == "in_aadhaar" and not v.verhoeff_ok(digits):
                problems.append(f"{p['id']}: Aadhaar fails Verhoeff: {value}")
            if label["detector"] == "iban":
                compact = urllib.parse.unquote_plus(value).replace(" ", "")
                if v.mod97(compact[4:] + compact[:4]) != 1:
                    problems.append(f"{p['id']}: IBAN fails mod 97: {value}")
    # A marker left over, not the bare letters: random base64 (an image) may hold "QZX".
    assert not any(Marks.MARKER.search(p["payload"]) for p in payloads)
    return problems


def write(payloads, fixtures):
    fx = HERE / "fixtures"
    (fx / "documents").mkdir(parents=True, exist_ok=True)
    for name, text in fixtures["docs"].items():
        (fx / "documents" / f"{name}.txt").write_text(text)
    (fx / "terms.txt").write_text("# Internal code names and service names (dictionary detector).\n"
                                  + "\n".join(fixtures["terms"]) + "\n")
    with open(fx / "customers.csv", "w", newline="") as f:
        out = csv.writer(f, lineterminator="\n")
        out.writerow(["name", "email", "account"])
        out.writerows(fixtures["customers"])
    (fx / "taint_source.json").write_text(json.dumps(fixtures["crm"], indent=2, ensure_ascii=False) + "\n")
    with open(HERE / "payloads.jsonl", "w") as f:
        for p in payloads:
            f.write(json.dumps(p, ensure_ascii=False) + "\n")


def main():
    rng = random.Random(SEED)
    Faker.seed(SEED)
    fake = Faker("en_US")
    payloads, fixtures = build(rng, fake)
    problems = lint(payloads, fixtures)
    if problems:
        print("\n".join(problems[:40]), file=sys.stderr)
        sys.exit(f"{len(problems)} labelling problems")
    write(payloads, fixtures)
    labels = [l for p in payloads for l in p["labels"]]
    by_cat = {}
    for l in labels:
        by_cat[l["category"]] = by_cat.get(l["category"], 0) + 1
    size = (HERE / "payloads.jsonl").stat().st_size
    print(f"{len(payloads)} payloads ({sum(1 for p in payloads if not p['labels'])} without labels), "
          f"{len(labels)} labels {dict(sorted(by_cat.items()))}, {size / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
