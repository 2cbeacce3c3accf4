"""Sentences and lines that carry one sensitive value each, in three styles: `prose` (chat,
e-mail, issue text), `config` (source and config files) and `log` (log lines); and the
hard negatives that look sensitive and are not.

`m(category, detector, value)` marks a value so its byte span can be found after the payload
is serialised (see generate.Marks)."""
import texts
import values as v

# detector -> (value generator, {style: templates}). {v} is the value; {name} a person.
PII = {
    "email": (None, {
        "prose": ["You can reach {name} at {v}.", "Please add {v} to the distribution list.",
                  "The customer wrote from {v} yesterday and is still waiting."],
        "config": ['ADMIN_EMAIL = "{v}"', "notify_to: {v}", '"contact_email": "{v}",'],
        "log": ["sent receipt to={v} status=delivered", "password reset requested for user_email={v}"]}),
    "phone": (v.phone, {
        "prose": ["Call {name} on {v} after 3pm.", "My mobile number is {v}.", "Phone: {v}"],
        "config": ['SUPPORT_PHONE = "{v}"', 'phone: "{v}"'],
        "log": ["sms queued to={v} template=otp", 'callback requested phone="{v}"']}),
    "credit_card": (v.credit_card, {
        "prose": ["Please charge my card {v}, expiry 08/27, CVC 113.", "Card number: {v}",
                  "The customer paid with card {v} and wants a refund."],
        "config": ['card_number = "{v}"  # TODO remove before commit', '"card_number": "{v}",'],
        "log": ["payment declined card={v} reason=insufficient_funds", 'charge card_number="{v}" amount=49.00']}),
    "iban": (v.iban, {
        "prose": ["Please wire the deposit to IBAN {v}.", "Bank details for {name}: IBAN {v}",
                  "Refund to this account, IBAN: {v}"],
        "config": ['payout_iban: "{v}"', 'IBAN = "{v}"'],
        "log": ["payout created iban={v} amount=1200.00 currency=EUR", 'sepa mandate iban="{v}" status=active']}),
    "us_ssn": (v.us_ssn, {
        "prose": ["My SSN is {v}.", "Social Security Number: {v}", "Applicant {name}, SSN {v}, income verified."],
        "config": ['"ssn": "{v}",', 'TEST_SSN = "{v}"  # real applicant, copied from prod'],
        "log": ["kyc check ssn={v} result=pass", 'w2 import ssn="{v}" employer_id=118']}),
    "uk_nino": (v.uk_nino, {
        "prose": ["My National Insurance number is {v}.", "NI number: {v}", "{name} (NINO {v}) starts on Monday."],
        "config": ['ni_number: "{v}"', '"nino": "{v}",'],
        "log": ["payroll export nino={v} period=2025-04", 'hmrc rti submission ni_number="{v}"']}),
    "de_tax_id": (v.de_tax_id, {
        "prose": ["Meine Steuer-ID lautet {v}.", "Steuerliche Identifikationsnummer: {v}",
                  "German tax ID (Steuer-IdNr) of {name}: {v}"],
        "config": ['steuer_id: "{v}"', '"steuerid": "{v}",'],
        "log": ["lohnabrechnung steuer_id={v} monat=05", 'elster upload steuer_idnr="{v}"']}),
    "fr_nir": (v.fr_nir, {
        "prose": ["Mon numéro de sécurité sociale est le {v}.", "NIR : {v}",
                  "French social security number (NIR) of {name}: {v}"],
        "config": ['nir: "{v}"', '"numero_securite_sociale": "{v}",'],
        "log": ["mutuelle affiliation nir={v}", 'dsn export numero_ss="{v}"']}),
    "in_aadhaar": (v.in_aadhaar, {
        "prose": ["Aadhaar number: {v}", "My Aadhaar is {v}, please link it to the account.",
                  "{name} submitted Aadhaar {v} for eKYC."],
        "config": ['aadhaar: "{v}"', '"aadhaar_number": "{v}",'],
        "log": ["ekyc aadhaar={v} status=ok", 'uidai verify aadhaar_no="{v}"']}),
    "es_dni": (v.es_dni, {
        "prose": ["DNI: {v}", "Mi DNI es {v}.", "{name} (DNI {v}) firma el contrato."],
        "config": ['dni: "{v}"', '"dni": "{v}",'],
        "log": ["alta cliente dni={v}", 'verificacion dni="{v}" resultado=ok']}),
    "es_nie": (v.es_nie, {
        "prose": ["NIE: {v}", "Mi NIE es {v}.", "Número de identidad de extranjero de {name}: {v}"],
        "config": ['nie: "{v}"', '"nie": "{v}",'],
        "log": ["alta cliente nie={v}", 'verificacion nie="{v}" resultado=ok']}),
    "ipv4": (v.public_ipv4, {
        "prose": ["The suspicious logins came from {v}.", "Please allowlist my home IP {v} on the VPN."],
        "config": ['allowed_ips: ["{v}"]', 'ADMIN_IP = "{v}"'],
        "log": ['{v} - - [12/May/2025:10:01:44 +0000] "GET /api/v1/orders HTTP/1.1" 200 512',
                "login ok user_id=4411 client_ip={v}"]}),
    "ipv6": (v.public_ipv6, {
        "prose": ["The suspicious logins came from {v}.", "My home IPv6 address is {v}."],
        "config": ['allowed_ips: ["{v}"]', 'ADMIN_IP6 = "{v}"'],
        "log": ["login ok user_id=4411 client_ip={v}", "blocked request from remote_addr={v} rule=geo"]}),
    "date_of_birth": (v.date_of_birth, {
        "prose": ["Date of birth: {v}", "{name}, born {v}, applied for the loan.", "DOB {v}",
                  "Geburtsdatum: {v}"],
        "config": ['date_of_birth: "{v}"', 'dob = "{v}"'],
        "log": ["identity check dob={v} match=true", 'profile update date_of_birth="{v}"']}),
    "street_address": (None, {
        "prose": ["Please ship it to {v}.", "Home address: {v}", "{name} moved to {v} last month."],
        "config": ['shipping_address: "{v}"', 'HOME_ADDRESS = "{v}"'],
        "log": ['shipment created address="{v}" carrier=ups', 'address change new_address="{v}"']}),
}


# E-mail addresses of the EDM table: any occurrence of one must be an EDM positive.
RESERVED_EMAILS = set()


def email_address(rng, fake):
    while True:
        value = fake.free_email() if rng.random() < 0.5 else fake.company_email()
        if value not in RESERVED_EMAILS:
            return value


def pii(rng, fake, m, detector, style):
    gen, templates = PII[detector]
    if detector == "email":
        value = email_address(rng, fake)
    elif detector == "street_address":
        value = street_address(rng, fake)
    else:
        value = gen(rng)
    return rng.choice(templates[style]).format(v=m("pii", detector, value), name=fake.name())


def street_address(rng, fake):
    while True:  # Faker also makes military (PSC/APO) addresses; keep street ones
        a = fake.address().replace("\n", ", ")
        if a[0].isdigit():
            return a


ENV_NAMES = {"github_pat": "GITHUB_TOKEN", "github_fine_grained_pat": "GH_TOKEN", "npm_token": "NPM_TOKEN",
             "slack_bot_token": "SLACK_BOT_TOKEN", "slack_webhook_url": "SLACK_WEBHOOK_URL",
             "stripe_secret_key": "STRIPE_SECRET_KEY", "openai_api_key": "OPENAI_API_KEY",
             "anthropic_api_key": "ANTHROPIC_API_KEY", "google_api_key": "GOOGLE_MAPS_KEY",
             "gitlab_pat": "GITLAB_TOKEN", "huggingface_token": "HF_TOKEN",
             "sendgrid_api_key": "SENDGRID_API_KEY", "jwt": "SESSION_TOKEN"}


def token(rng, m, kind, style):
    detector, value = v.secret_token(rng, kind)
    t = m("secret", detector, value)
    if style == "config":
        return rng.choice([f"{ENV_NAMES[kind]}={t}", f'{ENV_NAMES[kind].lower()} = "{t}"',
                           f'headers = {{"Authorization": "Bearer {t}"}}'])
    if style == "log":
        return rng.choice([f"DEBUG http request headers={{'Authorization': 'Bearer {t}'}}",
                           f"auth failed for token={t} status=401"])
    return rng.choice([f"I set {ENV_NAMES[kind]} to {t} but the call still fails, why?",
                       f"Here is the key for the integration: {t}", f"use this token: {t}"])


def aws(rng, m, style):
    key_id, secret = v.aws_key_pair(rng)
    k, s = m("secret", "aws_access_key_id", key_id), m("secret", "aws_secret_access_key", secret)
    if style == "config":
        return rng.choice([f"AWS_ACCESS_KEY_ID={k}\nAWS_SECRET_ACCESS_KEY={s}",
                           f"[default]\naws_access_key_id = {k}\naws_secret_access_key = {s}",
                           f's3 = boto3.client("s3", aws_access_key_id="{k}", aws_secret_access_key="{s}")'])
    if style == "log":
        return f"botocore.credentials loaded access_key={k} secret_key={s} source=env"
    return f"Creds for the staging bucket: access key {k}, secret key {s}. Rotate after the demo."


URL_PASSWORD_ALPHABET = v.ALNUM + "-_.~!*"


def password_url(rng, fake, m, style):
    pw = m("secret", "password_in_url", v.pick(rng, URL_PASSWORD_ALPHABET, rng.randint(10, 20)))
    user = rng.choice(["app", "admin", "svc_reporting", "root", "deploy"])
    url = rng.choice([f"postgres://{user}:{pw}@db-primary.{fake.domain_name()}:5432/orders",
                      f"mongodb+srv://{user}:{pw}@cluster0.{v.pick(rng, 'abcdefghij0123456789', 5)}.mongodb.net/prod",
                      f"redis://default:{pw}@cache.{fake.domain_name()}:6379/0",
                      f"https://{user}:{pw}@jenkins.{fake.domain_name()}/job/release/"])
    if style == "config":
        return rng.choice([f"DATABASE_URL={url}", f'url: "{url}"'])
    if style == "log":
        return f"INFO connecting to {url}"
    return f"The connection string is {url} - can you check why it times out?"


def password_assignment(rng, m, style):
    pw = m("secret", "password_assignment", v.password(rng))
    if style == "config":
        return rng.choice([f"DB_PASSWORD={pw}", f'password = "{pw}"', f'"password": "{pw}",',
                           f"spring.datasource.password={pw}", f"  admin_password: {pw}"])
    if style == "log":
        return rng.choice([f"DEBUG login attempt user=admin password={pw}", f"smtp auth user=mailer passwd={pw}"])
    return rng.choice([f"login is admin, password: {pw}", f"The wifi password is {pw}",
                       f"For the VPN use username ops and password={pw}"])


def high_entropy(rng, m, style):
    s = m("secret", "generic_high_entropy", v.high_entropy(rng))
    if style == "config":
        return rng.choice([f'CLIENT_SECRET = "{s}"', f"webhook_secret: {s}", f"SECRET_KEY={s}",
                           f'"signing_secret": "{s}",', f'auth_token: "{s}"'])
    if style == "log":
        return f"oauth init client_id=web client_secret={s}"
    return f"The webhook signing secret is {s}, put it in the vault later."


def private_key(rng, m, style, pem):
    body = m("secret", "private_key", pem.rstrip("\n"))
    if style == "config":
        return rng.choice([f"{body}\n", f'DEPLOY_KEY = """{body}"""'])
    return f"ssh refuses this key with 'invalid format', what is wrong with it?\n\n{body}\n"


# --- hard negatives: look sensitive, are not --------------------------------------------

def negative(rng, fake, style):
    """One line that a naive detector would flag."""
    ts = v.moment(rng).isoformat() + "Z"
    choices = [
        lambda: f"Request {v.uuid4(rng)} failed with 502 at {ts}.",
        lambda: f"Fixed in commit {v.hex_digest(rng, 40)}, see PR #{rng.randint(100, 9999)}.",
        lambda: f"image digest sha256:{v.hex_digest(rng, 64)}",
        lambda: f"Upgraded the SDK from {rng.randint(1, 4)}.{rng.randint(0, 30)}.{rng.randint(0, 9)} to {rng.randint(5, 9)}.{rng.randint(0, 30)}.0-rc.{rng.randint(1, 5)}.",
        lambda: f"Order reference {v.luhn_failing_card(rng)} was shipped on {v.moment(rng).date().isoformat()}.",
        lambda: f"The IBAN {v.invalid_iban(rng)} was rejected by the bank as invalid.",
        lambda: f"Fixture SSN {v.invalid_ssn(rng)} is used by the test suite only.",
        lambda: rng.choice(["OPENAI_API_KEY=sk-your-key-here", "export ANTHROPIC_API_KEY=<your-api-key>",
                            'client = OpenAI(api_key="sk-...")', "SLACK_BOT_TOKEN=xoxb-your-token-here"]),
        lambda: rng.choice(["password: ********", '"password": "********"', "DB_PASSWORD=<redacted>",
                            'password = os.environ["DB_PASSWORD"]']),
        lambda: rng.choice(["DATABASE_URL=postgres://app:${DB_PASSWORD}@db:5432/app", "api_key: ${OPENAI_API_KEY}",
                            "token: ${{ secrets.GITHUB_TOKEN }}", "aws_secret_access_key = {{ vault.aws_secret }}"]),
        lambda: "aws_access_key_id = AKIAIOSFODNN7EXAMPLE  # example from the AWS docs",
        lambda: rng.choice(["Listening on 0.0.0.0:8080", "curl -s http://127.0.0.1:9000/healthz", "bind ::1 port 6379"]),
        lambda: rng.choice(["Server 10.0.12.7 returned HTTP 503 for 12 minutes.", "ssh -p 2222 deploy@192.168.1.20",
                            "upstream 172.20.3.4:5432 is down", "the docs use 203.0.113.7 and 2001:db8::1",
                            "metadata endpoint 169.254.169.254 timed out", "ULA fd12:3456:789a::1 on the VPN"]),
        lambda: rng.choice(["We won 3 Green Keys in the raffle.", "Open 24 Hours Station guide is out.",
                            "Level 12 has 4 Hidden Springs and 2 Silver Lakes.", "Season 2 Union Station recap",
                            "Chapter 7 Falls Creek opens the book."]),
        lambda: f'User-Agent: {texts.chrome_user_agent(rng)}',
        lambda: f"trace_id={v.hex_digest(rng, 32)} span_id={v.hex_digest(rng, 16)} duration_ms={rng.randint(1, 900)}",
        lambda: f'"integrity": "sha512-{v.pick(rng, v.ALNUM + "+/", 86)}=="',
        lambda: f"Meeting moved to {v.moment(rng).strftime('%d/%m/%Y')} at 15:00, room {rng.randint(100, 499)}.",
        lambda: f"Build {v.moment(rng).strftime('%Y%m%d')}.{rng.randint(1, 9)} took {rng.randint(2, 59)} min; ts={rng.randint(1_700_000_000, 1_760_000_000)}",
        lambda: f"Ticket #{rng.randint(10_000, 99_999)} is a duplicate of #{rng.randint(10_000, 99_999)}.",
        lambda: f"color: #{v.hex_digest(rng, 6)}; padding: {rng.randint(1, 24)}px;",
    ]
    line = rng.choice(choices)()
    return line if style != "log" else f"{ts} INFO {line}"
