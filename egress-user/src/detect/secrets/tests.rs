//! Tests of the secret detectors: a built positive for every row of the token table,
//! hand-written positives and negatives per family, filters, overlaps, and a no-panic run
//! over random and truncated input. Also a timing helper (ignored; prints MB/s).

use std::sync::OnceLock;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

use super::rules::{self, Check, Part, RULES};
use super::*;

fn scanner() -> &'static SecretScanner {
    static SCANNER: OnceLock<SecretScanner> = OnceLock::new();
    SCANNER.get_or_init(SecretScanner::new)
}

fn scan(text: &str) -> Vec<Match> {
    let mut out = Vec::new();
    scanner().scan(text, &mut out);
    out
}

/// The single finding of `detector` in `text`, whose bytes must be `secret`.
#[track_caller]
fn assert_finds(text: &str, detector: &str, secret: &str) -> Match {
    let found = scan(text);
    let hits: Vec<&Match> = found.iter().filter(|m| m.detector == detector).collect();
    let [hit] = hits.as_slice() else { panic!("want one {detector} in {text:?}, got {found:#?}") };
    assert_eq!(&text[hit.start..hit.end], secret, "{detector} span in {text:?}");
    assert_eq!(hit.category, Category::Secret);
    assert!(hit.confidence > 0.0 && hit.confidence <= 1.0);
    (*hit).clone()
}

#[track_caller]
fn assert_none(text: &str) {
    let found = scan(text);
    assert!(found.is_empty(), "no finding wanted in {text:?}, got {found:#?}");
}

/// xorshift64*: deterministic test data without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn from(&mut self, alphabet: &[u8], n: usize) -> String {
        (0..n).map(|_| alphabet[self.below(alphabet.len())] as char).collect()
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

const B62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const HEXL: &[u8] = b"0123456789abcdef";
const B64S: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// The bytes of a [`rules::Set`], without `.` (a trailing dot is trimmed as punctuation).
fn alphabet(set: rules::Set) -> Vec<u8> {
    (0u8..128).filter(|&b| rules::has(set, b) && b != b'.').collect()
}

/// CRC-32 (IEEE), bit by bit: independent of the crate the detector uses.
fn crc32(data: &[u8]) -> u32 {
    let mut c = !0u32;
    for &b in data {
        c ^= u32::from(b);
        for _ in 0..8 {
            c = if c & 1 != 0 { (c >> 1) ^ 0xEDB8_8320 } else { c >> 1 };
        }
    }
    !c
}

/// A GitHub / npm style token with a valid checksum.
fn checksummed(prefix: &str, rng: &mut Rng) -> String {
    let random = rng.from(B62, 30);
    let mut n = crc32(random.as_bytes());
    let mut sum = [b'0'; 6];
    for slot in sum.iter_mut().rev() {
        *slot = B62[(n % 62) as usize];
        n /= 62;
    }
    format!("{prefix}{random}{}", std::str::from_utf8(&sum).unwrap())
}

fn uuid(rng: &mut Rng) -> String {
    format!(
        "{}-{}-{}-{}-{}",
        rng.from(HEXL, 8),
        rng.from(HEXL, 4),
        rng.from(HEXL, 4),
        rng.from(HEXL, 4),
        rng.from(HEXL, 12)
    )
}

/// A text holding a valid token for table row `i`, and the secret's bytes.
fn sample(i: usize, rng: &mut Rng) -> (String, String) {
    let rule = &RULES[i];
    let a = rule.anchor;
    let token = match (rule.name, a) {
        (_, _) if matches!(rule.check, Check::Crc32Base62) => checksummed(a, rng),
        (n, _) if n.starts_with("slack_") && !n.ends_with("webhook_url") => {
            format!("{a}1234567890-1234567890123-{}", rng.from(B62, 24))
        }
        ("openai_api_key", "sk-") => format!("sk-{}T3BlbkFJ{}", rng.from(B62, 20), rng.from(B62, 20)),
        ("plaid_access_token" | "hubspot_private_app_token", _) => format!("{a}{}", uuid(rng)),
        ("azure_ad_client_secret", _) => format!("aB38Q~{}", rng.from(&alphabet(rules::URLSAFE), 32)),
        ("onepassword_secret_key", _) => {
            let up = alphabet(rules::UP_ALNUM);
            format!(
                "A3-{}-{}-{}-{}-{}-{}",
                rng.from(&up, 6),
                rng.from(&up, 6),
                rng.from(&up, 5),
                rng.from(&up, 5),
                rng.from(&up, 5),
                rng.from(&up, 5)
            )
        }
        ("firebase_cloud_messaging_key", _) => {
            format!("AAAA{}:APA91b{}", rng.from(B62, 7), rng.from(&alphabet(rules::URLSAFE), 134))
        }
        _ => {
            let mut s = String::new();
            if let Some(back) = rule.back {
                s += &rng.from(&alphabet(back.set), back.min as usize);
            }
            s += a;
            for part in rule.parts {
                match *part {
                    Part::Lit(l) => s += l,
                    Part::Run(set, min, max) => {
                        let n = min as usize + rng.below((max - min) as usize + 1).min(8);
                        s += &rng.from(&alphabet(set), n);
                    }
                }
            }
            s
        }
    };
    let secret = if rule.label_anchor { token[a.len()..].to_string() } else { token.clone() };
    (format!("value: {token} end"), secret)
}

#[test]
fn every_table_row_finds_a_built_token_with_its_exact_span() {
    let mut rng = Rng(0x5EC2_E7E5);
    for (i, rule) in RULES.iter().enumerate() {
        let (text, secret) = sample(i, &mut rng);
        let m = assert_finds(&text, rule.name, &secret);
        assert_eq!(m.confidence, rule.confidence, "{}", rule.anchor);
    }
}

#[test]
fn table_rows_reject_truncated_and_glued_tokens() {
    let mut rng = Rng(77);
    for (i, rule) in RULES.iter().enumerate() {
        let (text, secret) = sample(i, &mut rng);
        let token_start = text.find(&secret).unwrap();
        let token_end = token_start + secret.len();
        // Cut in the middle of the token (the last run falls short of its minimum, or a
        // checksum no longer fits): no finding of this row.
        let fixed_tail = matches!(rule.parts.last(), Some(Part::Lit(_)));
        let cut = if fixed_tail { token_end - 1 } else { token_start + (secret.len() / 2).max(1) };
        let truncated = format!("{} end", &text[..cut]);
        assert!(scan(&truncated).iter().all(|m| m.detector != rule.name || m.end <= token_start), "{truncated}");
        // Glued to a word before it: part of something else.
        if rule.back.is_none() && !rule.label_anchor {
            let glued = text.replacen("value: ", "value: z", 1);
            assert!(scan(&glued).iter().all(|m| m.detector != rule.name), "{glued}");
        }
    }
}

#[test]
fn rule_count_covers_well_over_sixty_formats() {
    let names = SecretScanner::format_names();
    println!("{} formats, {} table rows: {}", names.len(), RULES.len(), names.join(", "));
    assert!(names.len() >= 60, "{} formats: {names:?}", names.len());
    assert!(RULES.len() >= 100, "{} table rows", RULES.len());
    for n in &names {
        assert!(n.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'), "{n}");
    }
}

#[test]
fn context_rows_need_their_provider_name() {
    let mut rng = Rng(99);
    for rule in rules::CONTEXT_RULES {
        let token = match rule.name {
            "aws_secret_access_key" => format!("{}9aZ", rng.from(B64S, 37)),
            "okta_api_token" => format!("00{}", rng.from(B62, 40)),
            "twitter_bearer_token" => format!("{}{}", "A".repeat(20), rng.from(B62, 80)),
            "mailgun_api_key" => format!("{}-{}-{}", rng.from(HEXL, 32), rng.from(HEXL, 8), rng.from(HEXL, 8)),
            "heroku_api_key" | "snyk_api_token" => uuid(&mut rng),
            _ => {
                let mut t = rng.from(&alphabet(rule.set), rule.min as usize - 1);
                t.insert(rule.min as usize / 2, '7');
                t
            }
        };
        let with = format!("{} api key: {token}", rule.keyword);
        let m = scan(&with);
        assert!(
            m.iter().any(|m| m.detector == rule.name && with[m.start..m.end] == token),
            "{}: {with:?} -> {m:#?}",
            rule.name
        );
        let far = format!("{} {}api key: {token}", rule.keyword, "filler words ".repeat(10));
        assert!(scan(&far).iter().all(|m| m.detector != rule.name), "{far}");
        let without = format!("value api key: {token}");
        assert!(scan(&without).iter().all(|m| m.detector != rule.name), "{without}");
    }
}

#[test]
fn a_keyword_value_reported_as_a_format_is_not_judged_again() {
    let mut rng = Rng(3);
    let token = checksummed("ghp_", &mut rng);
    // 40 URL-safe characters after `cloudflare`: the shape of a Cloudflare API token too.
    for text in [
        format!("my cloudflare token {token} for the deploy"),
        format!("cloudflare_token = \"{token}\""),
        format!("cloudflare token: {token}"),
    ] {
        let found = scan(&text);
        let detectors: Vec<&str> = found.iter().map(|m| m.detector).collect();
        assert_eq!(detectors, ["github_pat"], "{text}");
    }
    // With the checksum broken it is no GitHub token: the keyword's value is judged as before.
    let mut bad = token.into_bytes();
    let last = bad.len() - 1;
    bad[last] = if bad[last] == b'A' { b'B' } else { b'A' };
    let bad = String::from_utf8(bad).unwrap();
    let text = format!("my cloudflare token {bad} for the deploy");
    let detectors: Vec<&str> = scan(&text).iter().map(|m| m.detector).collect();
    assert_eq!(detectors, ["cloudflare_api_token"], "{text}");
}

#[test]
fn github_and_npm_checksums_are_validated() {
    let mut rng = Rng(1);
    let good = checksummed("ghp_", &mut rng);
    let m = assert_finds(&format!("export GH={good}"), "github_pat", &good);
    assert!(m.confidence >= 0.99);
    // One checksum character changed.
    let mut bad = good.clone().into_bytes();
    let last = bad.len() - 1;
    bad[last] = if bad[last] == b'A' { b'B' } else { b'A' };
    let bad = String::from_utf8(bad).unwrap();
    assert!(scan(&format!("export GH={bad}")).iter().all(|m| m.detector != "github_pat"));
    // One random character changed.
    let mut bad = good.clone().into_bytes();
    bad[10] = if bad[10] == b'x' { b'y' } else { b'x' };
    let bad = String::from_utf8(bad).unwrap();
    assert!(scan(&bad).iter().all(|m| m.detector != "github_pat"));
    let npm = checksummed("npm_", &mut rng);
    assert_finds(&format!("//registry.npmjs.org/:_authToken={npm}"), "npm_access_token", &npm);
    let not_npm = format!("npm_{}", rng.from(B62, 36));
    assert!(scan(&not_npm).iter().all(|m| m.detector != "npm_access_token"));
    // In an assignment, the specific format wins over the generic one.
    let ghs = checksummed("ghs_", &mut rng);
    let found = scan(&format!("{{\"token\": \"{ghs}\"}}"));
    assert_eq!(found.iter().map(|m| m.detector).collect::<Vec<_>>(), ["github_app_token"]);
}

#[test]
fn aws_key_pairs_raise_confidence() {
    let key = "AKIAQ3EGRT7PLM2XZ4VB";
    let secret = "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";
    let text = format!("[default]\naws_access_key_id = {key}\naws_secret_access_key = {secret}\n");
    let found = scan(&text);
    let id = found.iter().find(|m| m.detector == "aws_access_key_id").expect("key id");
    assert_eq!(&text[id.start..id.end], key);
    assert_eq!(id.confidence, 0.95);
    let sec: Vec<&Match> = found.iter().filter(|m| m.detector == "aws_secret_access_key").collect();
    assert_eq!(sec.len(), 1, "{found:#?}");
    assert_eq!(&text[sec[0].start..sec[0].end], secret);
    assert!(found.iter().all(|m| m.detector != "password_assignment"), "{found:#?}");
    // The id alone.
    let alone = assert_finds(&format!("key {key} here"), "aws_access_key_id", key);
    assert_eq!(alone.confidence, 0.8);
    // The secret alone, named by its keyword.
    assert_finds(&format!("AWS_SECRET_ACCESS_KEY={secret}"), "aws_secret_access_key", secret);
    assert_finds(&format!("SecretAccessKey: \"{secret}\""), "aws_secret_access_key", secret);
    // Documentation examples and templates.
    assert_none("aws_access_key_id = AKIAIOSFODNN7EXAMPLE");
    assert_none("aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
    assert_none("aws_secret_access_key = ${AWS_SECRET}");
    assert_none("AWS_SECRET_ACCESS_KEY=$AWS_SECRET");
    // Not base32 (contains 0, 1, 8).
    assert_none("AKIA0123456789ABCDEF");
    // Too long.
    assert_none("AKIAQ3EGRT7PLM2XZ4VBQ");
}

#[test]
fn provider_tokens_by_hand() {
    let mut rng = Rng(2);
    let cases: Vec<(&str, String)> = vec![
        ("slack_bot_token", format!("xoxb-2368475611-5493028475632-{}", rng.from(B62, 24))),
        ("slack_user_token", format!("xoxp-2368475611-2368475612-5493028475632-{}", rng.from(HEXL, 32))),
        ("slack_app_token", format!("xapp-1-A0123ABCDEF-5493028475632-{}", rng.from(HEXL, 64))),
        ("stripe_secret_key", format!("sk_live_{}", rng.from(B62, 99))),
        ("stripe_restricted_key", format!("rk_live_{}", rng.from(B62, 24))),
        ("openai_api_key", format!("sk-proj-{}T3BlbkFJ{}", rng.from(B62, 74), rng.from(B62, 74))),
        ("openai_api_key", format!("sk-svcacct-{}", rng.from(B62, 64))),
        ("anthropic_api_key", format!("sk-ant-api03-{}AA", rng.from(B62, 93))),
        ("anthropic_admin_key", format!("sk-ant-admin01-{}AA", rng.from(B62, 93))),
        ("twilio_api_key", format!("SK{}", rng.from(HEXL, 32))),
        ("sendgrid_api_key", format!("SG.{}.{}", rng.from(B62, 22), rng.from(B62, 43))),
        ("pypi_api_token", format!("pypi-AgEIcHlwaS5vcmc{}", rng.from(B62, 150))),
        ("gitlab_pat", format!("glpat-{}", rng.from(B62, 20))),
        ("gitlab_runner_registration_token", format!("GR1348941{}", rng.from(B62, 20))),
        ("gcp_api_key", format!("AIza{}", rng.from(B62, 35))),
        ("huggingface_token", format!("hf_{}", rng.from(B62, 34))),
        ("hashicorp_vault_token", format!("hvs.{}", rng.from(B62, 90))),
        ("digitalocean_pat", format!("dop_v1_{}", rng.from(HEXL, 64))),
        ("age_secret_key", format!("AGE-SECRET-KEY-1{}", rng.from(b"QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L", 58))),
        ("docker_hub_token", format!("dckr_pat_{}", rng.from(B62, 27))),
        ("telegram_bot_token", format!("5012345678:AA{}", rng.from(B62, 33))),
        ("mailchimp_api_key", format!("{}-us21", rng.from(HEXL, 32))),
        ("terraform_cloud_token", format!("{}.atlasv1.{}", rng.from(B62, 14), rng.from(B62, 67))),
        ("groq_api_key", format!("gsk_{}", rng.from(B62, 52))),
        ("replicate_api_token", format!("r8_{}", rng.from(B62, 37))),
        ("perplexity_api_key", format!("pplx-{}", rng.from(B62, 48))),
        ("databricks_token", format!("dapi{}", rng.from(HEXL, 32))),
        ("shopify_access_token", format!("shpat_{}", rng.from(HEXL, 32))),
        ("grafana_service_account_token", format!("glsa_{}_{}", rng.from(B62, 32), rng.from(HEXL, 8))),
        ("new_relic_user_api_key", format!("NRAK-{}", rng.from(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", 27))),
        ("postman_api_key", format!("PMAK-{}-{}", rng.from(HEXL, 24), rng.from(HEXL, 34))),
        ("linear_api_key", format!("lin_api_{}", rng.from(B62, 40))),
        ("doppler_token", format!("dp.pt.{}", rng.from(B62, 43))),
        ("braintree_access_token", format!("access_token$production${}${}", rng.from(HEXL, 16), rng.from(HEXL, 32))),
    ];
    for (detector, token) in &cases {
        assert_finds(&format!("config: {token}\n"), detector, token);
        assert_finds(&format!("{{\"k\":\"{token}\"}}"), detector, token);
    }
    let hook = format!("https://hooks.slack.com/services/T01ABCDEF23/B04GHIJKL56/{}", rng.from(B62, 24));
    let secret = &hook["https://hooks.slack.com/services/".len()..];
    assert_finds(&format!("post to {hook}"), "slack_webhook_url", secret);
    let discord = format!("https://discord.com/api/webhooks/112233445566778899/{}", rng.from(B62, 68));
    assert_finds(&discord, "discord_webhook_url", &discord["https://discord.com/api/webhooks/".len()..]);
    let azure_key = format!("{}==", rng.from(B64S, 86));
    let conn = format!(
        "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey={azure_key};EndpointSuffix=core.windows.net"
    );
    assert_finds(&conn, "azure_storage_account_key", &azure_key);
}

#[test]
fn provider_lookalikes_are_not_tokens() {
    for text in [
        "sk-your-key-here",
        "OPENAI_API_KEY=sk-your-key-here",
        "sk-proj-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        "sk_live_xxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        "stripe key sk_live_ABCDEFGHIJKLMNOPQRSTUVWXYZ",
        "ghp_XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
        "xoxb-your-token-here",
        "the task-runner and desk-lamp",
        "en-us, en-gb, fr-fr",
        "AIzaSy-your-api-key",
        "glpat-xxxxxxxxxxxxxxxxxxxx",
        "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAu1SU1LfVLPHCozMxH2Mo\n-----END PUBLIC KEY-----",
        "-----BEGIN PRIVATE KEY-----\n...\n-----END PRIVATE KEY-----",
        "-----BEGIN RSA PRIVATE KEY-----\n<your key here>\n-----END RSA PRIVATE KEY-----",
    ] {
        assert_none(text);
    }
}

/// PEM body of `n` bytes of random data, in 64-character lines joined by `sep`.
fn pem_body(rng: &mut Rng, n: usize, sep: &str) -> String {
    let b64 = STANDARD.encode(rng.bytes(n));
    b64.as_bytes().chunks(64).map(|c| std::str::from_utf8(c).unwrap()).collect::<Vec<_>>().join(sep)
}

#[test]
fn private_key_blocks_span_begin_to_end() {
    let mut rng = Rng(3);
    for label in ["RSA PRIVATE KEY", "PRIVATE KEY", "EC PRIVATE KEY", "OPENSSH PRIVATE KEY", "DSA PRIVATE KEY"] {
        let block = format!("-----BEGIN {label}-----\n{}\n-----END {label}-----", pem_body(&mut rng, 600, "\n"));
        let m = assert_finds(&format!("here is my key:\n{block}\nthanks"), "private_key", &block);
        assert!(m.confidence >= 0.95);
        // Inside a JSON string whose newlines are still `\n` escapes.
        let escaped = block.replace('\n', "\\n");
        assert_finds(&format!("{{\"content\":\"{escaped}\"}}"), "private_key", &escaped);
    }
    let pgp = format!(
        "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\n{}\n-----END PGP PRIVATE KEY BLOCK-----",
        pem_body(&mut rng, 900, "\n")
    );
    assert_finds(&pgp, "private_key", &pgp);
    let enc = format!(
        "-----BEGIN ENCRYPTED PRIVATE KEY-----\n{}\n-----END ENCRYPTED PRIVATE KEY-----",
        pem_body(&mut rng, 700, "\n")
    );
    assert!(assert_finds(&enc, "private_key", &enc).confidence < 0.9);
    // Truncated paste: no END line.
    let body = pem_body(&mut rng, 300, "\n");
    let truncated = format!("-----BEGIN RSA PRIVATE KEY-----\n{body}");
    assert_eq!(assert_finds(&format!("{truncated}\n"), "private_key", &truncated).confidence, 0.8);
    // A mismatched END line does not close it.
    let other = format!("-----BEGIN EC PRIVATE KEY-----\n{body}\n-----END RSA PRIVATE KEY-----");
    let m = scan(&other);
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].confidence, 0.8);
    // PuTTY.
    let ppk = format!(
        "PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nComment: me\nPublic-Lines: 2\n{}\nPrivate-Lines: 1\n{}\nPrivate-MAC: {}",
        pem_body(&mut rng, 48, "\n"),
        pem_body(&mut rng, 48, "\n"),
        rng.from(HEXL, 64)
    );
    assert_finds(&format!("{ppk}\n"), "private_key", &ppk);
}

fn b64url(json: &str) -> String {
    URL_SAFE_NO_PAD.encode(json)
}

#[test]
fn jwts_need_a_json_header_with_alg() {
    let mut rng = Rng(4);
    let sig = URL_SAFE_NO_PAD.encode(rng.bytes(32));
    let jwt = format!(
        "{}.{}.{sig}",
        b64url(r#"{"alg":"HS256","typ":"JWT"}"#),
        b64url(r#"{"sub":"1234567890","name":"Jo","iat":1516239022}"#)
    );
    let m = assert_finds(&format!("Authorization: Bearer {jwt}"), "jwt", &jwt);
    assert!(m.confidence >= 0.95);
    // The bearer finding on the same bytes gives way to the JWT.
    assert!(scan(&format!("Authorization: Bearer {jwt}")).iter().all(|m| m.detector != "bearer_token"));
    let none = format!("{}.{}.", b64url(r#"{"alg":"none"}"#), b64url(r#"{"admin":true}"#));
    assert_eq!(assert_finds(&format!("token={none} x"), "jwt", &none).confidence, 0.7);
    let no_alg = format!("{}.{}.{sig}", b64url(r#"{"typ":"JWT"}"#), b64url(r#"{"a":1}"#));
    assert!(scan(&no_alg).iter().all(|m| m.detector != "jwt"));
    let not_json = format!("eyJhbGciOiJIUzI1NiIsInR5cCI6.{}.{sig}", b64url(r#"{"a":1}"#));
    assert!(scan(&not_json).iter().all(|m| m.detector != "jwt"));
    // Base64 of some JSON, no dots: not a JWT.
    assert_none(&b64url(r#"{"message":"hello there, this is just json"}"#));
}

#[test]
fn passwords_given_in_a_sentence_look_like_passwords() {
    for (text, secret) in [
        ("The wifi password is Galaxy260!gQP\nPlease call", "Galaxy260!gQP"),
        ("fyi the admin password was Tr0ub4dor&3.", "Tr0ub4dor&3"),
    ] {
        assert_finds(text, "password_assignment", secret);
    }
    for text in [
        "The password is required for every login.",
        "Your password is incorrect, try again",
        "the password is stored in vault",
        "The password is 1234",
        "Your password is: ********",
        "the token is Galaxy260!gQP",
    ] {
        assert!(scan(text).iter().all(|m| m.detector != "password_assignment"), "{text}: {:#?}", scan(text));
    }
}

#[test]
fn passwords_in_urls_span_the_password_only() {
    assert_finds("DATABASE_URL=postgres://app:S3cr3tPw9@db.internal:5432/app", "password_in_url", "S3cr3tPw9");
    assert_finds(
        "mongodb+srv://admin:Zx81kq0Lm@cluster0.ab1cd.mongodb.net/test?retryWrites=true",
        "password_in_url",
        "Zx81kq0Lm",
    );
    assert_finds("REDIS_URL=redis://:r3disPa55@cache:6379/0", "password_in_url", "r3disPa55");
    assert_finds("git clone https://oauth2:9f8e7d6c5b4a@gitlab.example.com/g/p.git", "password_in_url", "9f8e7d6c5b4a");
    for text in [
        "postgres://user:password@localhost/db",
        "postgres://user:****@localhost/db",
        "mysql://root:<password>@localhost/db",
        "amqp://guest:${RABBIT_PASSWORD}@mq:5672/",
        "postgres://u:{{ secret }}@h/db",
        "ftp://anonymous:xxx@ftp.example.com/",
        "https://example.com/path?q=1",
        "see https://docs.rs/regex/latest/regex/ for user:pass@ syntax",
        "ssh://git@github.com/org/repo.git",
    ] {
        assert!(scan(text).iter().all(|m| m.detector != "password_in_url"), "{text}");
    }
}

#[test]
fn connection_strings_and_assignments() {
    assert_finds(
        "Server=tcp:db.example.net,1433;Database=app;User Id=svc;Password=Pa55w0rd!x;Encrypt=true;",
        "connection_string_password",
        "Pa55w0rd!x",
    );
    assert_finds(
        "jdbc:mysql://db:3306/app?user=svc&password=s3cr3t99&useSSL=true",
        "connection_string_password",
        "s3cr3t99",
    );
    let cases = [
        (r#"password = "hunter22!""#, "hunter22!"),
        (r#"{"username":"bob","password":"Tr0ub4dor&3"}"#, "Tr0ub4dor&3"),
        ("DB_PASSWORD=Xk93!pqZ", "Xk93!pqZ"),
        ("<password>Xk93pqZ!</password>", "Xk93pqZ!"),
        ("smtp:\n  pass: 'mQ3v8LzR'\n", "mQ3v8LzR"),
        ("mysql --user root --password Xk93pqZ1 -h db", "Xk93pqZ1"),
        (r#"api_key = "a8F3kL9zQ2xW7vB1""#, "a8F3kL9zQ2xW7vB1"),
        (r#"headers = {"X-Api-Key": "Zq8wP2mK4rT6yU1i"}"#, "Zq8wP2mK4rT6yU1i"),
        ("client_secret: 9fK2mQ7xLp3vR8tY", "9fK2mQ7xLp3vR8tY"),
        (r#"const authToken = 'c29tZS1yYW5kb20tdG9rZW4tOTk5'"#, "c29tZS1yYW5kb20tdG9rZW4tOTk5"),
        (r#"config["secret"] = "s3cr3t-Value-77""#, "s3cr3t-Value-77"),
        ("dbPass := \"p9Lk2Qz7\"", "p9Lk2Qz7"),
    ];
    for (text, secret) in cases {
        let m = assert_finds(text, "password_assignment", secret);
        assert!(m.label.is_some());
    }
    for text in [
        r#"password = "password""#,
        "password: ${DB_PASS}",
        "password = get_password()",
        "password: true",
        "token: 123456789",
        r#"password="abc""#,
        r#"{"max_tokens": 1024, "prompt_tokens": 12}"#,
        r#"{"next_page_token": "CiAKGjBpNDd2Nmp2Zml2cXRwYjBpOXA3"}"#,
        r#"bypass = "Xk93pqZ1""#,
        r#"secret: "{{ secret }}""#,
        "var t={apiKey:e.apiKey,authToken:n.authToken}",
        "PWD=/home/user/project",
        r#"private_key_path = "./keys/id_rsa.pem""#,
        r#"if password == "hunter22": pass"#,
        r#""auth": {"type": "oauth2"}"#,
        r#"secret: "my secret phrase""#,
        "password: changeme",
        "password=<your-password>",
        "token = os.environ[\"GITHUB_TOKEN\"]",
        "api_key: OPENAI_API_KEY",
        r#"{"eos_token": "</s>", "pad_token": "<pad>"}"#,
    ] {
        assert_none(text);
    }
}

#[test]
fn generic_high_entropy_needs_a_keyword_close_before() {
    let token = "9fK2mQ7xLp3vR8tY1wZ4bN6c";
    assert_finds(&format!("here is the api key {token} for staging"), "generic_high_entropy", token);
    assert_finds(&format!("Authorization: token {token}"), "generic_high_entropy", token);
    // No keyword, or the keyword too far before.
    assert_none(&format!("here is the value {token} for staging"));
    assert_none(&format!("the api key is in the vault; unrelated words follow here: {token}"));
    // Filtered shapes after a keyword.
    for value in [
        "123e4567-e89b-12d3-a456-426614174000",
        "abcdefghijklmnopqrstuvwxyz",
        "getElementsByTagNameAndClass",
        "/usr/local/share/ca-certificates",
        "${SECRET_TOKEN_FROM_ENVIRONMENT}",
        "{{ secrets.DEPLOY_TOKEN_VALUE }}",
        "<insert-your-token-here-please>",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "ThisIsNotARandomStringAtAll",
    ] {
        assert!(scan(&format!("the secret token {value}")).is_empty(), "{value}");
    }
    // A digest named as such is not a key; bare hex of digest length after a keyword is
    // kept at low confidence.
    let sha = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    assert_none(&format!("token sha256 {sha}"));
    assert_none(&format!("commit {}", &sha[..40]));
    let m = assert_finds(&format!("auth token {sha}"), "generic_high_entropy", sha);
    assert_eq!(m.confidence, 0.4);
}

#[test]
fn random_tokens_after_a_keyword_are_found() {
    let mut rng = Rng(5);
    let mut found = 0;
    let total = 300;
    for i in 0..total {
        let (alpha, len): (&[u8], usize) = match i % 3 {
            0 => (B62, 20 + rng.below(20)),
            1 => (B64S, 32 + rng.below(32)),
            _ => (HEXL, 24 + rng.below(6)),
        };
        let token = rng.from(alpha, len);
        let text = format!("please use this api key {token} today");
        if scan(&text).iter().any(|m| m.detector == "generic_high_entropy" && text[m.start..m.end] == token) {
            found += 1;
        }
    }
    assert!(found * 100 >= total * 95, "{found}/{total}");
}

#[test]
fn authorization_headers() {
    assert_finds(
        "curl -H 'Authorization: Bearer 8f3Kq0Zt5LmW2xRv9bNc' https://api",
        "bearer_token",
        "8f3Kq0Zt5LmW2xRv9bNc",
    );
    for text in ["Authorization: Bearer <token>", "Authorization: Bearer $TOKEN", "Bearer YOUR_ACCESS_TOKEN_HERE"] {
        assert_none(text);
    }
    let basic = STANDARD.encode("deploy:s3cr3tPass");
    assert_finds(&format!("Authorization: Basic {basic}"), "basic_auth", &basic);
    assert_none(&format!("Authorization: Basic {}", STANDARD.encode("user:password")));
    assert_none("Basic usage of the API is described below.");
}

#[test]
fn cloud_credentials_in_files_and_urls() {
    let mut rng = Rng(6);
    let body = pem_body(&mut rng, 600, "\\n");
    let pem = format!("-----BEGIN PRIVATE KEY-----\\n{body}\\n-----END PRIVATE KEY-----\\n");
    let sa = format!(
        "{{\n  \"type\": \"service_account\",\n  \"project_id\": \"p\",\n  \"private_key_id\": \"{}\",\n  \"private_key\": \"{pem}\",\n  \"client_email\": \"x@p.iam.gserviceaccount.com\"\n}}",
        rng.from(HEXL, 40)
    );
    assert_finds(&sa, "gcp_service_account", &pem);
    assert!(scan(&sa).iter().any(|m| m.detector == "private_key"));
    let sig = format!("{}%3D", rng.from(B62, 43));
    let sas = format!(
        "https://acct.blob.core.windows.net/c/b.txt?sv=2022-11-02&ss=b&srt=o&sp=r&se=2030-01-01T00:00:00Z&sig={sig}"
    );
    assert_finds(&sas, "azure_sas_token", &sig);
    assert_none(&format!("https://example.com/x?sig={sig}"));
    let id = URL_SAFE_NO_PAD.encode("112233445566778899");
    let bot = format!("{id}.{}.{}", rng.from(B62, 6), rng.from(B62, 38));
    assert_finds(&format!("Authorization: Bot {bot}"), "discord_bot_token", &bot);
    assert_finds(&format!("DISCORD_TOKEN={bot}"), "discord_bot_token", &bot);
    // The first part must decode to a numeric id.
    let not_id = format!("{}.{}.{}", URL_SAFE_NO_PAD.encode("11223344556677889x"), rng.from(B62, 6), rng.from(B62, 38));
    assert!(scan(&format!("Bot {not_id}")).iter().all(|m| m.detector != "discord_bot_token"));
}

const LOREM: &str = "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor \
incididunt ut labore et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud exercitation ullamco \
laboris nisi ut aliquip ex ea commodo consequat. Duis aute irure dolor in reprehenderit in voluptate velit \
esse cillum dolore eu fugiat nulla pariatur. Excepteur sint occaecat cupidatat non proident, sunt in culpa \
qui officia deserunt mollit anim id est laborum. ";

const MINIFIED: &str = r#"!function(e,t){"object"==typeof exports&&"undefined"!=typeof module?module.exports=t():"function"==typeof define&&define.amd?define(t):(e=e||self).Auth=t()}(this,function(){"use strict";var e={apiKey:null,authToken:void 0,secret:"",password:""};function t(t,n){var r=t.token||n.accessToken,o=e.apiKey;return r&&o?{headers:{Authorization:"Bearer "+r,"X-Api-Key":o}}:{}}function n(e){return e.replace(/[A-Za-z0-9+/=]/g,"").split(",").map(function(e){return e.trim()})}var r=Object.keys,o=Array.isArray,i={key:"value",keyPath:"a.b.c",tokenize:n,passThrough:!0,getElementsByTagName:function(e){return document.getElementsByTagName(e)}},a="0123456789abcdefghijklmnopqrstuvwxyz",s=function(e){for(var t=0,n=0;n<e.length;n++)t=(t<<5)-t+e.charCodeAt(n)|0;return t};return{init:function(n){return Object.assign(e,n),t},hash:s,utils:i,alphabet:a,keys:r,isArray:o}});"#;

#[test]
fn ordinary_text_has_no_secrets() {
    assert_none(&LOREM.repeat(20));
    assert_none(MINIFIED);
    // A PNG as a data URI.
    let mut rng = Rng(7);
    let mut png = vec![0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a];
    png.extend(rng.bytes(6000));
    png.extend([0u8; 300]);
    png.extend(rng.bytes(2000));
    assert_none(&format!("<img src=\"data:image/png;base64,{}\">", STANDARD.encode(&png)));
    let uuids: Vec<String> = (0..50).map(|_| uuid(&mut rng)).collect();
    assert_none(&uuids.join("\n"));
    let hashes: Vec<String> = (0..50).map(|i| format!("{}  file{i}.tar.gz", rng.from(HEXL, 64))).collect();
    assert_none(&hashes.join("\n"));
    assert_none(&format!("commit {}\nAuthor: A <a@example.com>\n\n    Fix the token refresh\n", rng.from(HEXL, 40)));
    assert_none(&chat_json(&mut rng, 4096));
}

#[test]
fn never_panics_and_spans_stay_in_bounds() {
    let mut rng = Rng(8);
    let pieces: Vec<String> = vec![
        "ghp_".into(),
        "AKIA".into(),
        "-----BEGIN RSA PRIVATE KEY-----".into(),
        "-----END RSA PRIVATE KEY-----".into(),
        "eyJ".into(),
        "://".into(),
        "@".into(),
        ":".into(),
        "password=".into(),
        "\"token\": \"".into(),
        "Bearer ".into(),
        "Basic ".into(),
        "sig=".into(),
        "service_account".into(),
        "\"private_key\"".into(),
        ":AA".into(),
        "-us".into(),
        ".atlasv1.".into(),
        "Q~".into(),
        "é".into(),
        "日本".into(),
        "\u{1F600}".into(),
        "\\n".into(),
        "\n".into(),
        " ".into(),
        "=".into(),
        ".".into(),
        "xoxb-".into(),
        "discord".into(),
        "Bot ".into(),
        "aws".into(),
    ];
    for round in 0..3000 {
        let mut s = String::new();
        for _ in 0..rng.below(40) {
            match rng.below(3) {
                0 => s += &pieces[rng.below(pieces.len())],
                1 => {
                    let n = rng.below(60);
                    s += &rng.from(B64S, n);
                }
                _ => {
                    let n = rng.below(20);
                    s += &rng.from(b"abc019-_.:/=\"' ", n);
                }
            }
        }
        if round % 7 == 0 {
            // Arbitrary bytes, made valid UTF-8.
            let n = rng.below(200);
            s += &String::from_utf8_lossy(&rng.bytes(n));
        }
        check_bounds(&s);
    }
    // Every row's token cut at every length, at the very end of the text.
    for i in 0..RULES.len() {
        let (text, _) = sample(i, &mut rng);
        let body = text.trim_end_matches(" end");
        for cut in 0..=body.len() {
            if body.is_char_boundary(cut) {
                check_bounds(&body[..cut]);
            }
        }
    }
}

fn check_bounds(s: &str) {
    for m in scan(s) {
        assert!(m.start < m.end && m.end <= s.len(), "{m:?} in {s:?}");
        assert!(s.is_char_boundary(m.start) && s.is_char_boundary(m.end));
        assert!((0.0..=1.0).contains(&m.confidence));
    }
}

#[test]
fn engine_maps_findings_back_to_the_payload() {
    let mut rng = Rng(9);
    let token = checksummed("ghp_", &mut rng);
    let payload = format!(r#"{{"messages":[{{"role":"user","content":"push with {token} please"}}]}}"#);
    let engine = crate::detect::Engine::new(detectors(), [1; 16], 2);
    let findings = engine.scan(payload.as_bytes());
    let f = findings.iter().find(|f| f.detector == "github_pat").expect("github_pat");
    assert_eq!(&payload[f.start..f.end], token);
    assert_eq!(f.category, Category::Secret);
}

/// The scanner's word-at-a-time path with Teddy, which machines without AVX-512 VBMI run:
/// the reference for the vector path.
fn scalar_scanner() -> &'static SecretScanner {
    static SCANNER: OnceLock<SecretScanner> = OnceLock::new();
    SCANNER.get_or_init(|| SecretScanner { classifier: None, ..SecretScanner::new() })
}

/// Random texts made of pieces that start or end keyword literals and tokens, secrets of
/// several kinds, non-ASCII text and long runs, cut at every length around block edges.
fn adversarial_texts(rng: &mut Rng) -> Vec<String> {
    let mut pieces: Vec<String> = [
        "pass",
        "PASS",
        "Pass",
        "password",
        "pAsSwOrD",
        "pwd",
        "Pwd",
        "secret",
        "SECRET",
        "token",
        "Token",
        "key",
        "KEY",
        "apiKey",
        "auth",
        "AUTH",
        "credential",
        "Credentials",
        "service_account",
        "service",
        "sig=",
        "sig",
        "://",
        ":/",
        "Basic ",
        "Bas",
        "-----BEGIN ",
        "-----BEGIN RSA PRIVATE KEY-----",
        "PuTTY-User-Key-File-",
        "PuTTY",
        "ce_",
        "-Us",
        "BEG",
        "Bearer ",
        "eyJ",
        " = ",
        ": ",
        "=",
        "\"",
        "'",
        " ",
        "\n",
        "_",
        "-",
        ".",
        "/",
        "é",
        "日本",
        "🔑",
        "\u{0e}",
        "\u{7f}",
        "token is ",
        "password is Galaxy260!gQP",
        "postgres://u:Pa55w0rd9@h/db",
        "sv=2022&sig=",
        "\"type\": \"service_account\"",
        "Authorization: Basic dXNlcjpodW50ZXIy",
    ]
    .map(str::to_string)
    .to_vec();
    for _ in 0..8 {
        pieces.push(checksummed("ghp_", rng));
        let run = 16 + rng.below(40);
        pieces.push(rng.from(B62, run));
        pieces.push(format!("AKIA{}", rng.from(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16)));
    }
    let mut texts = Vec::new();
    for len in (0..300).chain([511, 512, 513, 1023, 1024, 1025, 1100, 3000]) {
        let mut text = String::new();
        while text.len() < len {
            text += &pieces[rng.below(pieces.len())];
        }
        let mut cut = len;
        while !text.is_char_boundary(cut) {
            cut += 1;
        }
        text.truncate(cut);
        texts.push(text);
    }
    texts
}

#[test]
fn vector_candidates_give_the_matches_of_teddy() {
    let scanner = scanner();
    let Some(classifier) = &scanner.classifier else {
        eprintln!("no AVX-512 VBMI here: the vector path is not tested");
        return;
    };
    let keywords = &scanner.keywords;
    let mut rng = Rng(31);
    for text in adversarial_texts(&mut rng).iter().chain(&bench_segments()[..200]) {
        let t = text.as_bytes();
        let mut blocks = vec![Block::default(); t.len().div_ceil(blocks::BLOCK)];
        classifier.classify(t, &mut blocks);
        let mut got = Vec::new();
        keywords.anchored_matches(t, &blocks, |start, pattern| got.push((start, pattern)));
        let want: Vec<(usize, usize)> = match &keywords.packed {
            Some(teddy) => teddy.find_iter(t).map(|m| (m.start(), m.pattern().as_usize())).collect(),
            None => keywords.automaton.find_iter(t).map(|m| (m.start(), m.pattern().as_usize())).collect(),
        };
        assert_eq!(got, want, "{text:?}");
    }
}

#[test]
fn vector_path_finds_what_the_scalar_path_finds() {
    let mut rng = Rng(32);
    let mut texts = adversarial_texts(&mut rng);
    texts.extend(bench_segments().into_iter().take(300));
    texts.push(prose_and_code(&mut rng, 64 * 1024));
    texts.push(minified_js(&mut rng, 16 * 1024));
    texts.push(chat_json(&mut rng, 16 * 1024));
    let mut findings = 0;
    for text in &texts {
        let (mut vector, mut scalar) = (Vec::new(), Vec::new());
        scanner().scan(text, &mut vector);
        scalar_scanner().scan(text, &mut scalar);
        assert_eq!(vector, scalar, "{text:?}");
        findings += scalar.len();
    }
    assert!(findings > 50, "the texts hold secrets to compare: {findings}");
}

/// The decoded segments of the 256 KiB payload of `benches/detect.rs`: what the engine hands
/// the scanner there, one short string at a time.
fn bench_segments() -> Vec<String> {
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
    let mut state = (256 * 1024) as u64;
    let mut next = move || {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        state >> 33
    };
    // The JSON string values, as the decoder hands them over.
    let mut segments = vec!["gpt-4o".to_string()];
    let mut length = 40;
    while length < 256 * 1024 {
        let mut content = (0..40).map(|_| WORDS[next() as usize % WORDS.len()]).collect::<Vec<_>>().join(" ");
        match next() % 8 {
            0 => content.push_str(" contact jane.doe@example.com"),
            1 => content.push_str(" card 4111 1111 1111 1111"),
            2 => content.push_str(" token ghp_16C7e42F292c6912E7710c838347Ae178B4a"),
            _ => {}
        }
        length += content.len() + 32;
        let role = if segments.len() % 4 == 1 { "user" } else { "assistant" };
        segments.extend([role.to_string(), content]);
    }
    segments
}

/// A chat-completions request body of about `size` bytes.
fn chat_json(rng: &mut Rng, size: usize) -> String {
    let sentences = [
        "Can you summarize the quarterly report and list the three biggest risks?",
        "Sure. The report covers revenue, churn and hiring; the main risks are supplier delays, currency exposure and a pending audit.",
        "Please rewrite the function so that it handles empty input without panicking.",
        "Here is the updated code: fn parse(input: &str) -> Option<u32> { input.trim().parse().ok() }",
        "The password reset flow sends a link that expires after 30 minutes.",
        "See https://docs.example.com/guides/getting-started#install for the install steps.",
        "Use the token endpoint to refresh credentials before they expire.",
        "The key insight is that the cache keys are derived from the request path.",
    ];
    let mut messages =
        vec![r#"{"role":"system","content":"You are a helpful assistant. Answer briefly."}"#.to_string()];
    let mut len = 0;
    while len < size {
        let role = if messages.len() % 2 == 1 { "user" } else { "assistant" };
        let mut content = String::new();
        for _ in 0..1 + rng.below(3) {
            content += sentences[rng.below(sentences.len())];
            content.push(' ');
        }
        let m = format!(r#"{{"role":"{role}","content":"{}"}}"#, content.trim_end());
        len += m.len();
        messages.push(m);
    }
    let body = format!(
        r#"{{"model":"gpt-4o","temperature":0.2,"max_tokens":1024,"stream":false,"messages":[{}],"tools":[{{"type":"function","function":{{"name":"search","parameters":{{"type":"object","properties":{{"query":{{"type":"string"}}}}}}}}}}]}}"#,
        messages.join(",")
    );
    body.chars().take(size).collect()
}

/// About `size` bytes of prose and code with a few real-looking secrets.
fn prose_and_code(rng: &mut Rng, size: usize) -> String {
    let code = [
        "fn verify(token: &str, key: &[u8]) -> bool { hmac::verify(key, token.as_bytes()) }\n",
        "let password_hash = argon2::hash_encoded(password.as_bytes(), &salt, &config)?;\n",
        "def get_user(session, user_id):\n    return session.query(User).filter_by(id=user_id).first()\n",
        "    if not auth.is_valid(request.headers.get('Authorization')):\n        raise Unauthorized()\n",
        "const secretName = process.env.SECRET_NAME; // resolved at deploy time\n",
        "SELECT id, email, created_at FROM accounts WHERE status = 'active' ORDER BY created_at DESC;\n",
        "for (int i = 0; i < n; ++i) { sum += values[i] * weights[i]; }\n",
    ];
    let mut out = String::with_capacity(size + 1024);
    let mut next_secret = size / 8;
    while out.len() < size {
        if rng.below(2) == 0 {
            out += code[rng.below(code.len())];
        } else {
            out += &LOREM[..rng.below(LOREM.len() - 1) + 1];
            out.push('\n');
        }
        if out.len() >= next_secret {
            out += &format!("GITHUB_TOKEN={}\n", checksummed("ghp_", rng));
            out += &format!("db_password = \"{}\"\n", rng.from(B62, 14));
            next_secret += size / 8;
        }
    }
    out
}

/// About `size` bytes of minified JavaScript.
fn minified_js(rng: &mut Rng, size: usize) -> String {
    let mut out = String::with_capacity(size + MINIFIED.len());
    let idents = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_$";
    while out.len() < size {
        out += MINIFIED;
        for _ in 0..20 {
            let (na, nb) = (1 + rng.below(2), 1 + rng.below(3));
            let a = rng.from(idents, na);
            let b = rng.from(idents, nb);
            out += &format!("var {a}={b}.{}({},\"{}\");", rng.from(idents, 6), rng.below(1000), rng.from(idents, 8));
        }
    }
    out
}

/// Prints MB/s of [`detectors`] on three corpora. A report, not an assertion: run with
/// `cargo test --release -p egress-user --lib detect::secrets::tests::throughput -- --ignored --nocapture`.
/// Reports the best and the median of many timed batches, since a shared machine's load
/// only ever makes a batch slower.
#[test]
#[ignore = "timing report; run in release with --nocapture"]
fn throughput() {
    let dets = detectors();
    let mut rng = Rng(10);
    let corpora = [
        ("4 KiB chat JSON", chat_json(&mut rng, 4096)),
        ("4 MiB prose+code", prose_and_code(&mut rng, 4 << 20)),
        ("4 MiB minified JS", minified_js(&mut rng, 4 << 20)),
    ];
    let segments = bench_segments();
    let bytes: usize = segments.iter().map(String::len).sum();
    let mut times = Vec::new();
    let mut out = Vec::new();
    for _ in 0..200 {
        let started = std::time::Instant::now();
        out.clear();
        for segment in &segments {
            for d in &dets {
                d.scan(std::hint::black_box(segment), &mut out);
            }
        }
        times.push(started.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    println!(
        "bench payload: {} segments, {bytes} bytes, {} findings; best {:.3} ns/B; median {:.3} ns/B",
        segments.len(),
        out.len(),
        times[0] * 1e9 / bytes as f64,
        times[times.len() / 2] * 1e9 / bytes as f64,
    );
    for (name, text) in &corpora {
        let per_batch = if text.len() < 100_000 { 200 } else { 1 };
        let mut out = Vec::new();
        let mut times = Vec::new();
        for _ in 0..40 {
            let started = std::time::Instant::now();
            for _ in 0..per_batch {
                out.clear();
                for d in &dets {
                    d.scan(std::hint::black_box(text), &mut out);
                }
            }
            times.push(started.elapsed().as_secs_f64() / per_batch as f64);
        }
        times.sort_by(f64::total_cmp);
        let (best, median) = (times[0], times[times.len() / 2]);
        println!(
            "{name}: {} bytes, {} findings; best {:.2} us/scan = {:.0} MB/s; median {:.2} us/scan = {:.0} MB/s",
            text.len(),
            out.len(),
            best * 1e6,
            text.len() as f64 / best / 1e6,
            median * 1e6,
            text.len() as f64 / median / 1e6,
        );
    }
}

/// The window search (anchored searches where a literal's first two bytes are) against an
/// unanchored leftmost-longest automaton over the same literals, on text built from
/// literal pieces, token bytes and non-ASCII bytes, at every window start and end.
#[test]
fn window_search_matches_an_unanchored_automaton() {
    let scanner = SecretScanner::new();
    let literals: Vec<String> = SecretScanner::token_literals().into_iter().map(|(literal, _)| literal).collect();
    let reference = AhoCorasick::builder()
        .match_kind(MatchKind::LeftmostLongest)
        .build(&literals)
        .expect("the token literals build an automaton");
    let mut pieces: Vec<&[u8]> = literals.iter().map(|l| l.as_bytes()).collect();
    pieces.extend([&b"a"[..], b"Z9", b"_", b"-", b".", b" ", b"\xc3\xa9", b"sk", b"gh", b"x"]);
    let mut rng = Rng(99);
    let mut matches = 0;
    for _ in 0..2_000 {
        let mut text = Vec::new();
        while text.len() < 80 {
            let piece = pieces[rng.below(pieces.len())];
            // Cut literals short now and then, so that many candidates fail.
            text.extend_from_slice(&piece[..piece.len() - rng.below(2).min(piece.len() - 1)]);
        }
        for from in (0..text.len()).step_by(7) {
            for to in [from, from + 1, from + 13, text.len()] {
                let to = to.min(text.len());
                let want = reference.find(aho_corasick::Input::new(&text).span(from..to));
                let got = scanner.tokens.find_in_window(&text, from, to);
                assert_eq!(
                    got.map(|m| (m.start(), m.end())),
                    want.map(|m| (m.start(), m.end())),
                    "{:?} {from}..{to}",
                    String::from_utf8_lossy(&text)
                );
                matches += usize::from(want.is_some());
            }
        }
    }
    assert!(matches > 10_000, "{matches}");
}

/// The vector path returns early from a text too short for a long run or without keyword
/// candidates: the scalar path, which always runs both passes, must agree on short texts
/// of token bytes, keyword pieces and secrets cut short, and on long texts with no keyword.
#[test]
fn early_returns_miss_nothing() {
    let mut rng = Rng(33);
    let pieces = ["pwd=", "key:", "sig=", "a://b:c@d", "Basic ", "eyJ", "AKIA", "ghp_", "x", "9", "-", "_", " ", "é"];
    let mut texts = Vec::new();
    for len in 0..=2 * MIN_RUN {
        for _ in 0..40 {
            let mut text = String::new();
            while text.len() < len {
                text += if rng.below(2) == 0 { pieces[rng.below(pieces.len())] } else { "Zq7" };
            }
            texts.push(text);
        }
    }
    let token = checksummed("ghp_", &mut rng);
    texts.extend([token.clone(), format!("{token} {token}"), format!("a {}", rng.from(B62, 40))]);
    for text in &texts {
        let (mut vector, mut scalar) = (Vec::new(), Vec::new());
        scanner().scan(text, &mut vector);
        scalar_scanner().scan(text, &mut scalar);
        assert_eq!(vector, scalar, "{text:?}");
    }
}
