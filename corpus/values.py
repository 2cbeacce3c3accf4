"""Sensitive values that are valid the way real ones are (check digits, issuer prefixes,
numbering plans, token checksums), and near-misses that are not.

Every function takes the generator's `random.Random`, so the corpus is reproducible.
"""
import base64
import binascii
import json
import string
from datetime import date, datetime, timedelta

ALNUM = string.ascii_letters + string.digits
UPPER_ALNUM = string.ascii_uppercase + string.digits
B64URL = ALNUM + "-_"


def pick(rng, alphabet, n):
    return "".join(rng.choice(alphabet) for _ in range(n))


# --- payment cards -------------------------------------------------------------------

def luhn_digit(body):
    """The Luhn check digit to append to `body` (a digit string)."""
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:  # doubled: these become odd positions once the check digit is added
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return str((10 - total % 10) % 10)


def luhn_ok(number):
    return luhn_digit(number[:-1]) == number[-1]


# Real issuer prefixes (IIN ranges) and lengths.
CARD_ISSUERS = [
    ("visa", ["4"], 16),
    ("mastercard", ["51", "52", "53", "54", "55", "2221", "2410", "2720"], 16),
    ("amex", ["34", "37"], 15),
    ("discover", ["6011", "65", "644"], 16),
    ("jcb", ["3528", "3589"], 16),
]


def card_digits(rng):
    _, prefixes, length = rng.choice(CARD_ISSUERS)
    body = rng.choice(prefixes)
    body += pick(rng, string.digits, length - 1 - len(body))
    return body + luhn_digit(body)


def format_card(rng, digits):
    style = rng.choice(["space", "dash", "plain"])
    if style == "plain":
        return digits
    sep = " " if style == "space" else "-"
    groups = [4, 6, 5] if len(digits) == 15 else [4, 4, 4, 4]
    out, i = [], 0
    for g in groups:
        out.append(digits[i:i + g])
        i += g
    return sep.join(out)


def credit_card(rng):
    return format_card(rng, card_digits(rng))


def luhn_failing_card(rng):
    """A 16-digit number with a Visa/Mastercard prefix whose check digit is wrong."""
    digits = card_digits(rng)
    while len(digits) != 16:
        digits = card_digits(rng)
    bad = str((int(digits[-1]) + rng.randint(1, 9)) % 10)
    return format_card(rng, digits[:-1] + bad)


# --- IBAN ----------------------------------------------------------------------------

def mod97(digits_and_letters):
    """ISO 7064 mod 97 of a string of digits and letters (A=10 .. Z=35)."""
    n = "".join(str(int(c, 36)) for c in digits_and_letters)
    return int(n) % 97


def iban_from_bban(country, bban):
    check = 98 - mod97(bban + country + "00")
    return f"{country}{check:02d}{bban}"


def fr_rib_key(bank, branch, account):
    # Clé RIB over all-digit codes (letters in accounts, rare, would map A,J=1 B,K,S=2 ...).
    return 97 - (89 * int(bank) + 15 * int(branch) + 3 * int(account)) % 97


def es_ccc_check(bank_branch, account):
    weights = [1, 2, 4, 8, 5, 10, 9, 7, 3, 6]

    def digit(s):
        r = 11 - sum(int(c) * w for c, w in zip(s.rjust(10, "0"), weights)) % 11
        return {10: 1, 11: 0}.get(r, r)

    return f"{digit('00' + bank_branch)}{digit(account)}"


def be_check(bank_account):
    r = int(bank_account) % 97
    return f"{r or 97:02d}"


GB_BANKS = ["NWBK", "BARC", "LOYD", "HBUK", "MIDL", "CITI"]
NL_BANKS = ["ABNA", "INGB", "RABO", "TRIO", "SNSB"]


def iban(rng):
    country = rng.choice(["DE", "GB", "FR", "ES", "NL", "BE"])
    d = lambda n: pick(rng, string.digits, n)  # noqa: E731
    if country == "DE":  # 8-digit Bankleitzahl + 10-digit account
        bban = rng.choice(["10070000", "37040044", "50010517", "20041133"]) + d(10)
    elif country == "GB":  # bank code + 6-digit sort code + 8-digit account
        bban = rng.choice(GB_BANKS) + d(6) + d(8)
    elif country == "FR":
        bank, branch, account = d(5), d(5), d(11)
        bban = f"{bank}{branch}{account}{fr_rib_key(bank, branch, account):02d}"
    elif country == "ES":
        bank_branch, account = d(8), d(10)
        bban = bank_branch + es_ccc_check(bank_branch, account) + account
    elif country == "NL":
        bban = rng.choice(NL_BANKS) + d(10)
    else:
        body = d(10)
        bban = body + be_check(body)
    return format_iban(rng, iban_from_bban(country, bban))


def format_iban(rng, compact):
    if rng.random() < 0.5:
        return compact
    return " ".join(compact[i:i + 4] for i in range(0, len(compact), 4))


def invalid_iban(rng):
    """Right shape, wrong mod-97 check digits."""
    compact = iban(rng).replace(" ", "")
    check = int(compact[2:4])
    wrong = (check + rng.randint(1, 40)) % 97 or 3
    return format_iban(rng, f"{compact[:2]}{wrong:02d}{compact[4:]}")


# --- national identifiers ------------------------------------------------------------

def us_ssn(rng):
    while True:
        area = rng.randint(1, 899)
        if area != 666:
            break
    return f"{area:03d}-{rng.randint(1, 99):02d}-{rng.randint(1, 9999):04d}"


def invalid_ssn(rng):
    """Never issued: area 666, 9xx, or group/serial zero."""
    choice = rng.randrange(3)
    if choice == 0:
        return f"666-{rng.randint(1, 99):02d}-{rng.randint(1, 9999):04d}"
    if choice == 1:
        return f"{rng.randint(900, 999)}-{rng.randint(1, 99):02d}-{rng.randint(1, 9999):04d}"
    return f"{rng.randint(1, 665):03d}-00-{rng.randint(1, 9999):04d}"


NINO_FIRST = [c for c in string.ascii_uppercase if c not in "DFIQUV"]
NINO_SECOND = [c for c in string.ascii_uppercase if c not in "DFIOQUV"]
NINO_BANNED = {"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"}


def uk_nino(rng):
    while True:
        prefix = rng.choice(NINO_FIRST) + rng.choice(NINO_SECOND)
        if prefix not in NINO_BANNED:
            break
    digits = pick(rng, string.digits, 6)
    suffix = rng.choice("ABCD")
    if rng.random() < 0.5:
        return f"{prefix}{digits}{suffix}"
    return f"{prefix} {digits[:2]} {digits[2:4]} {digits[4:]} {suffix}"


def triple_run(digits):
    return any(digits[i] == digits[i + 1] == digits[i + 2] for i in range(len(digits) - 2))


def de_tax_id(rng):
    """Steuerliche Identifikationsnummer: 11 digits, no leading 0, in the first ten one digit
    appears two or three times, and an ISO 7064 MOD 11,10 check digit."""
    while True:
        first = [rng.choice("123456789")] + [rng.choice(string.digits) for _ in range(9)]
        counts = sorted((first.count(c) for c in set(first)), reverse=True)
        if counts[0] in (2, 3) and all(c == 1 for c in counts[1:]) and not triple_run(first):
            break
    product = 10
    for ch in first:
        s = (int(ch) + product) % 10 or 10
        product = (s * 2) % 11
    check = (11 - product) % 10
    return "".join(first) + str(check)


def fr_nir(rng):
    sex = rng.choice("12")
    yy = f"{rng.randint(40, 99):02d}"
    mm = f"{rng.randint(1, 12):02d}"
    dept = f"{rng.choice([d for d in range(1, 96) if d != 20]):02d}"
    commune = f"{rng.randint(1, 990):03d}"
    order = f"{rng.randint(1, 999):03d}"
    body = sex + yy + mm + dept + commune + order
    key = 97 - int(body) % 97
    if rng.random() < 0.5:
        return f"{body}{key:02d}"
    return f"{sex} {yy} {mm} {dept} {commune} {order} {key:02d}"


# Verhoeff tables (dihedral group D5).
_VERHOEFF_D = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 2, 3, 4, 0, 6, 7, 8, 9, 5], [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
    [3, 4, 0, 1, 2, 8, 9, 5, 6, 7], [4, 0, 1, 2, 3, 9, 5, 6, 7, 8], [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
    [6, 5, 9, 8, 7, 1, 0, 4, 3, 2], [7, 6, 5, 9, 8, 2, 1, 0, 4, 3], [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
    [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
]
_VERHOEFF_P = [[0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 5, 7, 6, 2, 8, 3, 0, 9, 4]]
for _i in range(2, 8):
    _VERHOEFF_P.append([_VERHOEFF_P[1][x] for x in _VERHOEFF_P[_i - 1]])
_VERHOEFF_INV = [0, 4, 3, 2, 1, 5, 6, 7, 8, 9]


def verhoeff_digit(body):
    c = 0
    for i, ch in enumerate(reversed(body)):
        c = _VERHOEFF_D[c][_VERHOEFF_P[(i + 1) % 8][int(ch)]]
    return str(_VERHOEFF_INV[c])


def verhoeff_ok(number):
    c = 0
    for i, ch in enumerate(reversed(number)):
        c = _VERHOEFF_D[c][_VERHOEFF_P[i % 8][int(ch)]]
    return c == 0


def in_aadhaar(rng):
    body = rng.choice("23456789") + pick(rng, string.digits, 10)
    n = body + verhoeff_digit(body)
    return f"{n[:4]} {n[4:8]} {n[8:]}" if rng.random() < 0.7 else n


DNI_LETTERS = "TRWAGMYFPDXBNJZSQVHLCKE"


def es_dni(rng):
    n = rng.randint(1_000_000, 99_999_999)
    return f"{n:08d}{DNI_LETTERS[n % 23]}"


def es_nie(rng):
    lead = rng.randrange(3)
    n = rng.randint(0, 9_999_999)
    return f"{'XYZ'[lead]}{n:07d}{DNI_LETTERS[int(f'{lead}{n:07d}') % 23]}"


# --- contact data --------------------------------------------------------------------

US_AREAS = ["212", "310", "312", "415", "503", "512", "617", "646", "206", "303", "404", "702"]


def phone(rng):
    """International formats over real numbering plans (mobile and geographic ranges)."""
    d = lambda n: pick(rng, string.digits, n)  # noqa: E731
    country = rng.choice(["US", "GB", "DE", "FR", "IN", "ES"])
    if country == "US":
        a, x, s = rng.choice(US_AREAS), rng.choice("23456789") + d(2), d(4)
        return rng.choice([f"+1 {a} {x} {s}", f"+1 ({a}) {x}-{s}", f"+1-{a}-{x}-{s}", f"+1{a}{x}{s}"])
    if country == "GB":
        if rng.random() < 0.5:
            n = "79" + d(8)
            return rng.choice([f"+44 {n[:4]} {n[4:]}", f"+44{n}"])
        return f"+44 20 {rng.choice('378')}{d(3)} {d(4)}"
    if country == "DE":
        if rng.random() < 0.5:
            return f"+49 {rng.choice(['151', '160', '170', '176'])} {d(8)}"
        return f"+49 30 {rng.choice('2345689')}{d(7)}"
    if country == "FR":
        n = rng.choice("67") + d(8)
        return rng.choice([f"+33 {n[0]} {n[1:3]} {n[3:5]} {n[5:7]} {n[7:]}", f"+33{n}"])
    if country == "IN":
        n = rng.choice("6789") + d(9)
        return rng.choice([f"+91 {n[:5]} {n[5:]}", f"+91-{n}"])
    n = rng.choice("67") + d(8)
    return f"+34 {n[:3]} {n[3:5]} {n[5:7]} {n[7:]}"


def public_ipv4(rng):
    while True:
        a = rng.randint(1, 223)
        if a not in (10, 100, 127, 169, 172, 192, 198, 203):
            return f"{a}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"


def public_ipv6(rng):
    # Allocated provider prefixes; never 2001:db8::/32, which is for documentation.
    head = rng.choice(["2a00:1450", "2a02:8108", "2600:1700", "2a01:4f8", "2406:da18"])
    groups = [f"{rng.randint(0, 0xffff):x}" for _ in range(6)]
    if rng.random() < 0.4:
        return f"{head}:{groups[0]}::{groups[4]}:{groups[5]}"
    return f"{head}:" + ":".join(groups)


def moment(rng):
    """A time in 2025. Faker's "this year" helpers depend on today, which would break reproducibility."""
    return datetime(2025, 1, 1) + timedelta(seconds=rng.randrange(365 * 86400))


def date_of_birth(rng):
    d = date(rng.randint(1940, 2005), rng.randint(1, 12), rng.randint(1, 28))
    fmt = rng.choice(["iso", "us", "eu", "dot", "long"])
    if fmt == "iso":
        return d.isoformat()
    if fmt == "us":
        return d.strftime("%m/%d/%Y")
    if fmt == "eu":
        return d.strftime("%d/%m/%Y")
    if fmt == "dot":
        return d.strftime("%d.%m.%Y")
    return f"{d.day} {d.strftime('%B')} {d.year}"


# --- secrets -------------------------------------------------------------------------

def base62(n, width):
    out = ""
    while n:
        n, r = divmod(n, 62)
        out = (string.digits + string.ascii_uppercase + string.ascii_lowercase)[r] + out
    return out.rjust(width, "0")


def checksummed_token(rng, prefix):
    """GitHub / npm style: prefix + 30 random base62 + base62(CRC32(random)) in 6 chars."""
    body = pick(rng, ALNUM, 30)
    return prefix + body + base62(binascii.crc32(body.encode()), 6)


def aws_key_pair(rng):
    key_id = rng.choice(["AKIA", "ASIA"]) + pick(rng, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16)
    return key_id, pick(rng, ALNUM + "/+", 40)


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt(rng):
    alg = rng.choice(["HS256", "RS256", "ES256"])
    header = b64url(json.dumps({"alg": alg, "typ": "JWT"}, separators=(",", ":")).encode())
    iat = rng.randint(1_700_000_000, 1_760_000_000)
    claims = {"sub": f"{rng.getrandbits(64):x}", "iss": rng.choice(["https://auth.acme-corp.io/", "accounts.internal"]),
              "aud": rng.choice(["api", "billing"]), "iat": iat, "exp": iat + 3600,
              "scope": rng.choice(["read write", "admin", "orders:read"])}
    body = b64url(json.dumps(claims, separators=(",", ":")).encode())
    sig_len = {"HS256": 32, "RS256": 256, "ES256": 64}[alg]
    return f"{header}.{body}.{b64url(rng.randbytes(sig_len))}"


def secret_token(rng, kind):
    """A token in the provider's documented format. Returns (detector, value)."""
    if kind == "github_pat":
        return kind, checksummed_token(rng, rng.choice(["ghp_", "gho_", "ghs_", "ghu_"]))
    if kind == "github_fine_grained_pat":
        return kind, "github_pat_" + pick(rng, ALNUM, 22) + "_" + pick(rng, ALNUM, 59)
    if kind == "npm_token":
        return kind, checksummed_token(rng, "npm_")
    if kind == "slack_bot_token":
        return kind, f"xoxb-{pick(rng, string.digits, 12)}-{pick(rng, string.digits, 13)}-{pick(rng, ALNUM, 24)}"
    if kind == "slack_webhook_url":
        return kind, ("https://hooks.slack.com/services/T" + pick(rng, UPPER_ALNUM, 8) + "/B"
                      + pick(rng, UPPER_ALNUM, 10) + "/" + pick(rng, ALNUM, 24))
    if kind == "stripe_secret_key":
        return kind, rng.choice(["sk_live_", "rk_live_"]) + pick(rng, ALNUM, rng.choice([24, 99]))
    if kind == "openai_api_key":
        if rng.random() < 0.7:
            return kind, "sk-proj-" + pick(rng, B64URL, 74) + "T3BlbkFJ" + pick(rng, B64URL, 74)
        return kind, "sk-" + pick(rng, ALNUM, 20) + "T3BlbkFJ" + pick(rng, ALNUM, 20)
    if kind == "anthropic_api_key":
        return kind, "sk-ant-api03-" + pick(rng, B64URL, 93) + "AA"
    if kind == "google_api_key":
        return kind, "AIza" + pick(rng, B64URL, 35)
    if kind == "gitlab_pat":
        return kind, "glpat-" + pick(rng, B64URL, 20)
    if kind == "huggingface_token":
        return kind, "hf_" + pick(rng, string.ascii_letters, 34)
    if kind == "sendgrid_api_key":
        return kind, "SG." + pick(rng, B64URL, 22) + "." + pick(rng, B64URL, 43)
    if kind == "jwt":
        return kind, jwt(rng)
    raise ValueError(kind)


TOKEN_KINDS = ["github_pat", "github_fine_grained_pat", "npm_token", "slack_bot_token",
               "slack_webhook_url", "stripe_secret_key", "openai_api_key", "anthropic_api_key",
               "google_api_key", "gitlab_pat", "huggingface_token", "sendgrid_api_key", "jwt"]


def password(rng):
    """What people choose: words, digits, a symbol; or a generated one."""
    if rng.random() < 0.5:
        word = rng.choice(["Summer", "Winter", "Dragon", "Monkey", "Sunshine", "Galaxy", "Falcon"])
        return f"{word}{rng.randint(10, 2099)}{rng.choice('!#$%*?')}{pick(rng, ALNUM, 3)}"
    return pick(rng, ALNUM + "!#%^*-_", rng.randint(14, 24))


def high_entropy(rng):
    return rng.choice([pick(rng, ALNUM, 40), pick(rng, "0123456789abcdef", 64), pick(rng, ALNUM + "+/", 44)])


# --- things that look sensitive and are not ------------------------------------------

def uuid4(rng):
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[rng.randrange(4)]}{h[17:20]}-{h[20:]}"


def hex_digest(rng, n):
    return pick(rng, "0123456789abcdef", n)
