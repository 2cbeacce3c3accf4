"""Longer texts: the confidential documents, the code-name dictionary, the customer table,
the CRM response the agent read, and the filler that makes payloads look like real ones
(prose, lorem ipsum, minified JS, PNG data URLs)."""
import base64
import struct
import zlib

from faker.providers.lorem.la import Provider as LatinLorem

import values as v

# --- dictionary: internal code names and service names ------------------------------

ADJECTIVES = ["Amber", "Basalt", "Cobalt", "Crimson", "Dusky", "Ember", "Feldspar", "Granite",
              "Halcyon", "Indigo", "Juniper", "Kelp", "Lapis", "Marigold", "Nimbus", "Obsidian",
              "Pewter", "Quartz", "Russet", "Saffron", "Tamarind", "Umber", "Vermilion", "Wisteria"]
ANIMALS = ["Heron", "Lynx", "Kestrel", "Marten", "Narwhal", "Ocelot", "Pangolin", "Quokka",
           "Raven", "Stoat", "Tapir", "Urial", "Vole", "Wombat", "Xerus", "Yak", "Zebu", "Bittern",
           "Caracal", "Dugong"]


def terms(rng):
    names = [f"{a} {b}" for a in ADJECTIVES for b in ANIMALS]
    rng.shuffle(names)
    code_names = sorted(names[:220])
    services = sorted({f"{b.lower()}-{rng.choice(['billing', 'ledger', 'gateway', 'ingest', 'vault'])}-prod"
                       for b in ANIMALS for _ in range(5)})
    return code_names + services


# --- confidential documents ----------------------------------------------------------

# Each document has its own sentence templates, so no document shares phrasing with another
# or with the rest of the corpus; Faker sentences between them add bulk.
DOCUMENTS = {
    "board-memo-acquisition": (
        "Board memorandum: proposed acquisition of {company}",
        ["The committee recommends an enterprise value of ${m} million for {company}, payable {pct} percent in cash.",
         "Diligence on {company} found {n} open customer escalations and a churn rate of {pct} percent in the enterprise segment.",
         "The integration plan assumes the {city} office closes within {n} months of signing.",
         "Synergies of ${m} million are expected from consolidating the hosting contracts with {company}.",
         "Management has not yet informed the {city} team about the proposed retention packages.",
         "The exclusivity period with {company} ends on {date}; a counter-offer from a competitor is possible.",
         "Legal counsel flags a pending patent dispute that could reduce the valuation by ${m} million."]),
    "pricing-strategy-2026": (
        "Pricing strategy 2026 (restricted)",
        ["Enterprise list prices rise by {pct} percent on {date}, but the top {n} accounts keep their current rates.",
         "Discount authority above {pct} percent moves from regional directors to the pricing council.",
         "Win rates against the main competitor fell to {pct} percent in {city} after their price cut.",
         "We will sunset the Starter tier and migrate its {n} customers to a usage-based plan.",
         "Gross margin on the analytics add-on is {pct} percent and must reach {pct2} percent before expansion.",
         "The partner channel receives a {pct} percent rebate that is not disclosed to direct sales.",
         "Price floor for multi-year renewals is ${m} thousand per year regardless of seat count."]),
    "incident-postmortem-sev1": (
        "Postmortem: SEV-1 data exposure in the export service",
        ["At {time} UTC an export job wrote {n} customer records to a bucket with public read access.",
         "The misconfigured bucket policy was introduced by a change that skipped the security review.",
         "Records for {n} accounts in {city} were reachable for {n2} minutes before the policy was reverted.",
         "Notification to regulators is due by {date} under the seventy-two hour rule.",
         "The access logs show {n} downloads from addresses outside our network during the window.",
         "Remediation item: every storage policy change now requires approval from two reviewers.",
         "We estimate the cost of notification and credit monitoring at ${m} thousand."]),
    "reorg-plan-engineering": (
        "Engineering reorganisation plan (do not forward)",
        ["The platform group in {city} shrinks from {n} to {n2} engineers by the end of the quarter.",
         "Roles affected by the reduction are listed in the appendix held by human resources.",
         "Severance follows the standard policy plus {n} weeks for staff with more than five years of service.",
         "The data infrastructure team merges into the analytics organisation on {date}.",
         "Budget freed by the change, about ${m} million a year, funds the new inference cluster.",
         "Managers brief their teams only after the all-hands on {date}; no earlier communication is allowed.",
         "Attrition risk is highest in {city}, where {pct} percent of senior staff have competing offers."]),
}


def document_text(rng, fake, title, templates, term_list):
    company, city = fake.company(), fake.city()
    paragraphs = [title, "CONFIDENTIAL - internal use only. Distribution: leadership team."]
    for _ in range(rng.randint(22, 28)):
        sentences = []
        for _ in range(rng.randint(4, 6)):
            if rng.random() < 0.55:
                sentences.append(rng.choice(templates).format(
                    company=company, city=city, m=rng.randint(2, 900), pct=rng.randint(3, 60),
                    pct2=rng.randint(61, 90), n=rng.randint(3, 9000), n2=rng.randint(2, 200),
                    date=v.moment(rng).strftime("%d %B %Y"),
                    time=f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}"))
            else:
                sentences.append(fake.sentence(nb_words=rng.randint(8, 16)))
        if rng.random() < 0.2:  # real documents name internal projects
            sentences.append(f"This affects the {rng.choice(term_list)} programme.")
        paragraphs.append(" ".join(sentences))
    return "\n\n".join(paragraphs) + "\n"


def documents(rng, fake, term_list):
    return {name: document_text(rng, fake, title, templates, term_list)
            for name, (title, templates) in DOCUMENTS.items()}


# --- EDM: a customer table -----------------------------------------------------------

def customers(rng, fakes, count=300):
    rows, seen = [], set()
    while len(rows) < count:
        fake = rng.choice(fakes)
        name = fake.name()
        email = fake.free_email() if rng.random() < 0.6 else fake.company_email()
        if email in seen or "," in name or not name.isascii() and rng.random() < 0.5:
            continue
        seen.add(email)
        rows.append((name, email, f"ACCT-{rng.randint(10_000_000, 99_999_999)}"))
    return rows


# --- taint: a CRM response body the agent read ----------------------------------------

NOTE_TEMPLATES = [
    "Renewal call with the procurement lead went badly; they want a {pct} percent reduction or they move to a competitor in {month}.",
    "Champion left the company last week and the new VP has frozen all vendor spend until the budget review.",
    "Customer disclosed that their auditors found gaps in access reviews and they plan to replace three suppliers this year.",
    "Escalation about the outage on the {day}: they are asking for service credits worth {n} thousand dollars.",
    "Expansion opportunity in the {region} subsidiary, roughly {n} seats, but legal must approve the data processing terms first.",
    "Their CFO hinted at layoffs in the support organisation and asked whether seats can be reduced mid-term.",
    "Security questionnaire returned with {n} open findings; the deal is blocked until the pen test report is shared.",
    "They are evaluating an in-house build and gave us until {month} to show the integration roadmap.",
]


def crm_response(rng, fake):
    notes = []
    for i in range(8):
        text = " ".join(t.format(pct=rng.randint(10, 40), month=fake.month_name(), day=f"{rng.randint(1, 28)}th",
                                 n=rng.randint(20, 900), region=fake.country())
                        for t in rng.sample(NOTE_TEMPLATES, 3))
        notes.append({"id": f"note_{rng.getrandbits(40):x}", "author": fake.name(),
                      "created_at": v.moment(rng).isoformat() + "Z", "body": text})
    return {"object": "account", "id": f"acc_{rng.getrandbits(48):x}", "name": fake.company(),
            "tier": "enterprise", "arr_usd": rng.randint(200, 5000) * 1000, "health": "at_risk",
            "owner": fake.name(), "notes": notes}


# --- filler and hard negatives -------------------------------------------------------

def lorem(rng, sentences=5):
    words = LatinLorem.word_list
    out = []
    for _ in range(sentences):
        s = " ".join(rng.choice(words) for _ in range(rng.randint(6, 14)))
        out.append(s[0].upper() + s[1:] + ".")
    return "Lorem ipsum dolor sit amet, consectetur adipiscing elit. " + " ".join(out)


def png_data_url(rng, size=None):
    """A real PNG (IHDR, IDAT, IEND with CRCs): a noisy gradient, so it does not compress away."""
    w = h = size or rng.choice([24, 32, 40])
    rows = b"".join(b"\x00" + bytes((x * 7 + y * 3 + rng.randrange(40)) % 256 for x in range(w * 3))
                    for y in range(h))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b""))
    return "data:image/png;base64," + base64.b64encode(png).decode()


def minified_js(rng, functions=40):
    """Looks like a bundler's output: short names, hashed chunk ids, colour and number literals."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    parts = ['"use strict";(self.webpackChunkapp=self.webpackChunkapp||[]).push([[' + str(rng.randint(100, 999)) + "],{"]
    for i in range(functions):
        a, b, c = (rng.choice(letters) for _ in range(3))
        key = rng.randint(1000, 99999)
        body = rng.choice([
            f"function({a},{b},{c}){{{c}.d({b},{{Z:()=>{a}}});var {a}=function({a}){{return {a}&&{a}.__esModule?{a}:{{default:{a}}}}}}}",
            f"({a},{b},{c})=>{{{c}.r({b});const {a}={{color:\"#{v.hex_digest(rng, 6)}\",size:{rng.randint(1, 64)},margin:\"0 {rng.randint(1, 9)}px\"}};{b}.exports={a}}}",
            f"function({a}){{{a}.exports=JSON.parse('{{\"version\":\"{rng.randint(1, 9)}.{rng.randint(0, 30)}.{rng.randint(0, 9)}\",\"hash\":\"{v.hex_digest(rng, 20)}\"}}')}}",
            f"({a},{b})=>{{for(var {c}=0;{c}<{a}.length;{c}++){b}[{c}]={a}[{c}]^{rng.randint(1, 255)};return {b}}}",
        ])
        parts.append(f"{key}:{body}" + ("," if i < functions - 1 else ""))
    parts.append("}]);\n//# sourceMappingURL=main." + v.hex_digest(rng, 20) + ".js.map")
    return "".join(parts)


def chrome_user_agent(rng):
    return (f"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
            f"Chrome/{rng.randint(110, 131)}.0.{rng.randint(5000, 6999)}.{rng.randint(100, 250)} Safari/537.36")
