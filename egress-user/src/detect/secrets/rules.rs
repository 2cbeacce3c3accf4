//! The token table: one row per provider format, written from each provider's documented
//! token layout (prefix, length, alphabet, checksum). Every row is anchored on a literal the
//! scanner's automaton finds near a long run of token characters; the row then checks the
//! bytes around that hit.
//!
//! A row is `anchor` + `parts` (literal pieces and runs of an alphabet with a length range),
//! optionally preceded by a run before the anchor (`back`, for formats whose fixed part
//! sits in the middle: Telegram `<digits>:AA...`, Mailchimp `<hex>-us12`). The last run
//! must end at a boundary: a run that goes on past its maximum is a longer string, not this
//! token. Context rows ([`ContextRule`]) cover formats without a prefix of their own
//! (32 hex after `TWILIO_AUTH_TOKEN=`): they fire only on a keyword's value with the
//! provider's name shortly before it.

use super::entropy::{Classes, is_uuid, looks_fake, shannon};

/// A set of ASCII bytes as a bitmap.
pub(crate) type Set = u128;

/// Builds a [`Set`] from a spec like `b"A-Za-z0-9_-"` (a `-` is literal at the end).
pub(crate) const fn set(spec: &[u8]) -> Set {
    let mut bits = 0u128;
    let mut i = 0;
    while i < spec.len() {
        if i + 2 < spec.len() && spec[i + 1] == b'-' {
            let mut c = spec[i];
            while c <= spec[i + 2] {
                bits |= 1u128 << c;
                c += 1;
            }
            i += 3;
        } else {
            bits |= 1u128 << spec[i];
            i += 1;
        }
    }
    bits
}

/// Whether `b` is in `set`. By halves: a shift of a `u128` by a variable amount is a chain
/// of four instructions, and this is called per byte in the scanners' loops.
#[inline]
pub(crate) fn has(set: Set, b: u8) -> bool {
    let half = if b < 64 { set as u64 } else { (set >> 64) as u64 };
    b < 128 && (half >> (b & 63)) & 1 == 1
}

pub(crate) const ALNUM: Set = set(b"A-Za-z0-9");
pub(crate) const DIGIT: Set = set(b"0-9");
/// Lowercase hex, as most providers print it.
pub(crate) const HEX: Set = set(b"0-9a-f");
pub(crate) const HEX_ANY: Set = set(b"0-9a-fA-F");
pub(crate) const UP_ALNUM: Set = set(b"A-Z0-9");
pub(crate) const LOW_ALNUM: Set = set(b"a-z0-9");
/// AWS key ids are base32: `A-Z` and `2-7`.
pub(crate) const B32_UP: Set = set(b"A-Z2-7");
pub(crate) const URLSAFE: Set = set(b"A-Za-z0-9_-");
pub(crate) const URLSAFE_DOT: Set = set(b"A-Za-z0-9_.-");
pub(crate) const URLSAFE_EQ: Set = set(b"A-Za-z0-9_=-");
pub(crate) const B64: Set = set(b"A-Za-z0-9+/");
pub(crate) const B64_EQ: Set = set(b"A-Za-z0-9+/=");
const HEX_DASH: Set = set(b"0-9a-f-");
const UP_ALNUM_DASH: Set = set(b"A-Z0-9-");
const ALNUM_DASH: Set = set(b"A-Za-z0-9-");
const ALNUM_UNDER: Set = set(b"A-Za-z0-9_");
const AZURE_SECRET: Set = set(b"A-Za-z0-9_.~-");
/// age's bech32 alphabet, upper case.
const BECH32_UP: Set = set(b"QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L");
const FLY: Set = set(b"A-Za-z0-9_+/=,-");
const SENTRY: Set = set(b"A-Za-z0-9_+/=");
const TEAMS: Set = set(b"A-Za-z0-9@/_.-");
const PERCENT_B62: Set = set(b"A-Za-z0-9%");

#[derive(Clone, Copy, Debug)]
pub(crate) enum Part {
    /// `min..=max` bytes of the set.
    Run(Set, u16, u16),
    Lit(&'static str),
}

use Part::{Lit, Run};

/// A check on the whole secret (from the start of `back`, or of the anchor, to the end).
#[derive(Clone, Copy)]
pub(crate) enum Check {
    None,
    /// GitHub's and npm's tokens: the last 6 characters are the CRC32 of the 30 random
    /// characters before them, in base62 (`0-9A-Za-z`), left-padded with `0`.
    Crc32Base62,
    Contains(&'static str),
    Custom(fn(&[u8]) -> bool),
}

/// A run right before the anchor that belongs to the secret.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Back {
    pub set: Set,
    pub min: u8,
    pub max: u8,
    /// Bytes that may not come right before the run (else the run is part of a longer word).
    pub glue: Set,
}

pub(crate) struct Rule {
    /// The detector name findings carry.
    pub name: &'static str,
    pub anchor: &'static str,
    pub parts: &'static [Part],
    pub confidence: f32,
    pub check: Check,
    pub back: Option<Back>,
    /// The anchor is a label (`AccountKey=`, a webhook host), not part of the secret.
    pub label_anchor: bool,
}

const fn rule(name: &'static str, anchor: &'static str, parts: &'static [Part], confidence: f32) -> Rule {
    Rule { name, anchor, parts, confidence, check: Check::None, back: None, label_anchor: false }
}

impl Rule {
    const fn check(mut self, check: Check) -> Self {
        self.check = check;
        self
    }

    const fn back(mut self, set: Set, min: u8, max: u8, glue: Set) -> Self {
        self.back = Some(Back { set, min, max, glue });
        self
    }

    const fn label(mut self) -> Self {
        self.label_anchor = true;
        self
    }
}

/// Slack tokens: `<prefix><digits>-<digits>-...-<random>`: a numeric first group and a
/// random last group of at least 20 characters.
fn slack_shape(s: &[u8]) -> bool {
    let Some(dash) = s.iter().position(|&b| b == b'-') else { return false };
    let groups: Vec<&[u8]> = s[dash + 1..].split(|&b| b == b'-').collect();
    let (Some(first), Some(last)) = (groups.first(), groups.last()) else { return false };
    groups.len() >= 2
        && first.iter().all(u8::is_ascii_digit)
        && !first.is_empty()
        && last.len() >= 20
        && groups.iter().all(|g| !g.is_empty() && g.iter().all(u8::is_ascii_alphanumeric))
}

/// 1Password account secret keys: `A3-` and six groups of five or six characters.
fn onepassword_key_shape(s: &[u8]) -> bool {
    let groups: Vec<&[u8]> = s.split(|&b| b == b'-').skip(1).collect();
    groups.len() == 6 && groups.iter().all(|g| (5..=6).contains(&g.len()))
}

/// The last 36 characters are a UUID.
fn ends_with_uuid(s: &[u8]) -> bool {
    s.len() >= 36 && is_uuid(&s[s.len() - 36..])
}

/// Azure AD client secrets: three characters, a digit, then `Q~`.
fn azure_ad_shape(s: &[u8]) -> bool {
    s.get(3).is_some_and(u8::is_ascii_digit) && Classes::of(s).kinds() >= 3
}

/// Firebase Cloud Messaging server keys start with `AAAA`.
fn fcm_shape(s: &[u8]) -> bool {
    s.starts_with(b"AAAA")
}

/// Mailgun's current keys: `<32 hex>-<8 hex>-<8 hex>`.
fn mailgun_shape(s: &[u8]) -> bool {
    let parts: Vec<&[u8]> = s.split(|&b| b == b'-').collect();
    matches!(parts.as_slice(), [a, b, c] if a.len() == 32 && b.len() == 8 && c.len() == 8)
}

/// AWS secret access keys: 40 characters of base64 with all of lower, upper and digits
/// (true of essentially every random 40-character key) and plenty of entropy.
pub(crate) fn aws_secret_shape(s: &[u8]) -> bool {
    let c = Classes::of(s);
    s.len() == 40 && c.lower > 0 && c.upper > 0 && c.digit > 0 && shannon(s) >= 4.0
}

/// Okta API tokens start with `00`.
fn okta_shape(s: &[u8]) -> bool {
    s.starts_with(b"00")
}

/// Twitter app-only bearer tokens start with a run of `A`.
fn twitter_shape(s: &[u8]) -> bool {
    s.starts_with(b"AAAAAAAAAAAAAAAAAAAA")
}

fn uuid_shape(s: &[u8]) -> bool {
    is_uuid(s)
}

/// Base62 alphabet of GitHub's and npm's checksums.
const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// CRC32 of `data` in base62, six characters, left-padded with `0`.
pub(crate) fn crc32_base62(data: &[u8]) -> [u8; 6] {
    let mut n = crc32fast::hash(data);
    let mut out = [b'0'; 6];
    for slot in out.iter_mut().rev() {
        *slot = BASE62[(n % 62) as usize];
        n /= 62;
    }
    out
}

/// `<prefix>_<30 random><6 checksum>`: the checksum matches.
fn crc32_ok(s: &[u8]) -> bool {
    if s.len() < 36 {
        return false;
    }
    let (random, sum) = s[s.len() - 36..].split_at(30);
    crc32_base62(random) == sum
}

/// The provider formats. Confidence: 0.95+ for prefixes that cannot occur by chance
/// (long prefixes, checksums), ~0.85 for short prefixes with a fixed length, lower for
/// test-mode keys and for identifiers that are only half of a credential.
pub(crate) static RULES: &[Rule] = &[
    // --- AWS
    rule("aws_access_key_id", "AKIA", &[Run(B32_UP, 16, 16)], 0.8),
    rule("aws_access_key_id", "ASIA", &[Run(B32_UP, 16, 16)], 0.75),
    rule("aws_access_key_id", "ABIA", &[Run(B32_UP, 16, 16)], 0.75),
    rule("aws_access_key_id", "ACCA", &[Run(B32_UP, 16, 16)], 0.75),
    rule("aws_session_token", "FwoGZXIvYXdz", &[Run(B64_EQ, 100, 4000)], 0.9),
    rule("aws_session_token", "IQoJb3JpZ2luX2Vj", &[Run(B64_EQ, 100, 4000)], 0.9),
    // --- Google Cloud
    rule("gcp_api_key", "AIza", &[Run(URLSAFE, 35, 35)], 0.85),
    rule("gcp_oauth_client_secret", "GOCSPX-", &[Run(URLSAFE, 28, 28)], 0.9),
    rule("gcp_oauth_access_token", "ya29.", &[Run(URLSAFE, 30, 2048)], 0.75),
    rule("gcp_refresh_token", "1//0", &[Run(URLSAFE, 40, 512)], 0.7),
    // --- Azure
    rule("azure_storage_account_key", "AccountKey=", &[Run(B64, 86, 86), Lit("==")], 0.95).label(),
    rule("azure_shared_access_key", "SharedAccessKey=", &[Run(B64, 43, 43), Lit("=")], 0.9).label(),
    rule("azure_ad_client_secret", "Q~", &[Run(AZURE_SECRET, 31, 34)], 0.8)
        .back(AZURE_SECRET, 4, 4, AZURE_SECRET)
        .check(Check::Custom(azure_ad_shape)),
    // --- GitHub (classic formats carry a CRC32)
    rule("github_pat", "ghp_", &[Run(ALNUM, 36, 36)], 0.99).check(Check::Crc32Base62),
    rule("github_oauth_token", "gho_", &[Run(ALNUM, 36, 36)], 0.99).check(Check::Crc32Base62),
    rule("github_user_token", "ghu_", &[Run(ALNUM, 36, 36)], 0.99).check(Check::Crc32Base62),
    rule("github_app_token", "ghs_", &[Run(ALNUM, 36, 36)], 0.99).check(Check::Crc32Base62),
    rule("github_refresh_token", "ghr_", &[Run(ALNUM, 36, 36)], 0.99).check(Check::Crc32Base62),
    rule("github_fine_grained_pat", "github_pat_", &[Run(ALNUM, 22, 22), Lit("_"), Run(ALNUM, 59, 59)], 0.97),
    // --- GitLab
    rule("gitlab_pat", "glpat-", &[Run(URLSAFE_DOT, 20, 300)], 0.95),
    rule("gitlab_deploy_token", "gldt-", &[Run(URLSAFE_DOT, 20, 300)], 0.95),
    rule("gitlab_runner_token", "glrt-", &[Run(URLSAFE_DOT, 20, 300)], 0.95),
    rule("gitlab_runner_registration_token", "GR1348941", &[Run(URLSAFE, 20, 20)], 0.95),
    rule("gitlab_pipeline_trigger_token", "glptt-", &[Run(HEX, 40, 40)], 0.95),
    rule("gitlab_oauth_app_secret", "gloas-", &[Run(URLSAFE, 64, 64)], 0.95),
    rule("gitlab_feed_token", "glft-", &[Run(URLSAFE, 20, 64)], 0.9),
    rule("gitlab_scim_token", "glsoat-", &[Run(URLSAFE, 20, 64)], 0.95),
    rule("gitlab_agent_token", "glagent-", &[Run(URLSAFE, 50, 1024)], 0.95),
    rule("gitlab_job_token", "glcbt-", &[Run(URLSAFE, 20, 64)], 0.9),
    rule("gitlab_incoming_mail_token", "glimt-", &[Run(URLSAFE, 25, 64)], 0.9),
    rule("gitlab_feature_flag_token", "glffct-", &[Run(URLSAFE, 20, 64)], 0.9),
    // --- Atlassian / Bitbucket
    rule("atlassian_api_token", "ATATT", &[Run(URLSAFE_EQ, 100, 400)], 0.9),
    rule("bitbucket_app_password", "ATBB", &[Run(ALNUM, 28, 40)], 0.85),
    // --- Slack
    rule("slack_bot_token", "xoxb-", &[Run(ALNUM_DASH, 20, 250)], 0.95).check(Check::Custom(slack_shape)),
    rule("slack_user_token", "xoxp-", &[Run(ALNUM_DASH, 20, 250)], 0.95).check(Check::Custom(slack_shape)),
    rule("slack_app_token", "xapp-", &[Run(ALNUM_DASH, 20, 250)], 0.95).check(Check::Custom(slack_shape)),
    rule("slack_legacy_token", "xoxa-", &[Run(ALNUM_DASH, 20, 250)], 0.9).check(Check::Custom(slack_shape)),
    rule("slack_legacy_token", "xoxo-", &[Run(ALNUM_DASH, 20, 250)], 0.9).check(Check::Custom(slack_shape)),
    rule("slack_legacy_token", "xoxs-", &[Run(ALNUM_DASH, 20, 250)], 0.9).check(Check::Custom(slack_shape)),
    rule("slack_refresh_token", "xoxr-", &[Run(ALNUM_DASH, 20, 250)], 0.9).check(Check::Custom(slack_shape)),
    rule("slack_refresh_token", "xoxe-", &[Run(ALNUM_DASH, 20, 250)], 0.9).check(Check::Custom(slack_shape)),
    rule("slack_config_token", "xoxe.xoxp-", &[Run(ALNUM_DASH, 20, 250)], 0.95).check(Check::Custom(slack_shape)),
    rule("slack_config_token", "xoxe.xoxb-", &[Run(ALNUM_DASH, 20, 250)], 0.95).check(Check::Custom(slack_shape)),
    rule(
        "slack_webhook_url",
        "hooks.slack.com/services/",
        &[Run(UP_ALNUM, 8, 12), Lit("/"), Run(UP_ALNUM, 8, 12), Lit("/"), Run(ALNUM, 24, 24)],
        0.95,
    )
    .label(),
    rule("slack_webhook_url", "hooks.slack.com/triggers/", &[Run(set(b"A-Za-z0-9/"), 30, 200)], 0.9).label(),
    rule("slack_webhook_url", "hooks.slack.com/workflows/", &[Run(set(b"A-Za-z0-9/"), 30, 200)], 0.9).label(),
    // --- Discord, Telegram, Microsoft Teams
    rule(
        "discord_webhook_url",
        "discord.com/api/webhooks/",
        &[Run(DIGIT, 17, 20), Lit("/"), Run(URLSAFE, 60, 72)],
        0.95,
    )
    .label(),
    rule(
        "discord_webhook_url",
        "discordapp.com/api/webhooks/",
        &[Run(DIGIT, 17, 20), Lit("/"), Run(URLSAFE, 60, 72)],
        0.95,
    )
    .label(),
    rule("telegram_bot_token", ":AA", &[Run(URLSAFE, 33, 33)], 0.9).back(DIGIT, 8, 10, DIGIT),
    rule("microsoft_teams_webhook_url", ".webhook.office.com/webhookb2/", &[Run(TEAMS, 80, 400)], 0.9).label(),
    // --- Payments
    rule("stripe_secret_key", "sk_live_", &[Run(ALNUM, 24, 247)], 0.95),
    rule("stripe_secret_key", "sk_test_", &[Run(ALNUM, 24, 247)], 0.5),
    rule("stripe_restricted_key", "rk_live_", &[Run(ALNUM, 24, 247)], 0.95),
    rule("stripe_restricted_key", "rk_test_", &[Run(ALNUM, 24, 247)], 0.45),
    rule("stripe_publishable_key", "pk_live_", &[Run(ALNUM, 24, 247)], 0.3),
    rule("stripe_webhook_secret", "whsec_", &[Run(B64_EQ, 32, 64)], 0.9),
    rule("square_access_token", "EAAA", &[Run(URLSAFE, 60, 60)], 0.8),
    rule("square_access_token", "sq0atp-", &[Run(URLSAFE, 22, 22)], 0.9),
    rule("square_oauth_secret", "sq0csp-", &[Run(URLSAFE, 43, 43)], 0.9),
    rule(
        "braintree_access_token",
        "access_token$production$",
        &[Run(LOW_ALNUM, 16, 16), Lit("$"), Run(HEX, 32, 32)],
        0.95,
    ),
    rule("braintree_access_token", "access_token$sandbox$", &[Run(LOW_ALNUM, 16, 16), Lit("$"), Run(HEX, 32, 32)], 0.5),
    rule("plaid_access_token", "access-production-", &[Run(HEX_DASH, 36, 36)], 0.85)
        .check(Check::Custom(ends_with_uuid)),
    rule("plaid_access_token", "access-development-", &[Run(HEX_DASH, 36, 36)], 0.5)
        .check(Check::Custom(ends_with_uuid)),
    rule("flutterwave_secret_key", "FLWSECK-", &[Run(HEX, 32, 32), Lit("-X")], 0.9),
    rule("flutterwave_secret_key", "FLWSECK_TEST-", &[Run(HEX, 32, 32), Lit("-X")], 0.45),
    rule("shopify_access_token", "shpat_", &[Run(HEX_ANY, 32, 32)], 0.95),
    rule("shopify_custom_app_token", "shpca_", &[Run(HEX_ANY, 32, 32)], 0.95),
    rule("shopify_private_app_token", "shppa_", &[Run(HEX_ANY, 32, 32)], 0.95),
    rule("shopify_shared_secret", "shpss_", &[Run(HEX_ANY, 32, 32)], 0.95),
    rule("mapbox_secret_token", "sk.eyJ", &[Run(URLSAFE, 20, 300), Lit("."), Run(URLSAFE, 20, 40)], 0.9),
    rule("facebook_access_token", "EAACEdEose0cBA", &[Run(ALNUM, 20, 400)], 0.85),
    rule("easypost_api_key", "EZAK", &[Run(ALNUM, 54, 54)], 0.9),
    rule("easypost_api_key", "EZTK", &[Run(ALNUM, 54, 54)], 0.45),
    rule("shippo_api_token", "shippo_live_", &[Run(HEX, 40, 40)], 0.95),
    rule("shippo_api_token", "shippo_test_", &[Run(HEX, 40, 40)], 0.45),
    rule("duffel_api_token", "duffel_live_", &[Run(URLSAFE_EQ, 43, 43)], 0.9),
    rule("duffel_api_token", "duffel_test_", &[Run(URLSAFE_EQ, 43, 43)], 0.45),
    // --- AI providers
    rule("openai_api_key", "sk-proj-", &[Run(URLSAFE, 40, 250)], 0.93),
    rule("openai_api_key", "sk-svcacct-", &[Run(URLSAFE, 40, 250)], 0.93),
    rule("openai_api_key", "sk-admin-", &[Run(URLSAFE, 40, 250)], 0.93),
    rule("openai_api_key", "sk-None-", &[Run(URLSAFE, 40, 250)], 0.9),
    rule("openai_api_key", "sk-", &[Run(ALNUM, 48, 48)], 0.95).check(Check::Contains("T3BlbkFJ")),
    rule("anthropic_api_key", "sk-ant-api03-", &[Run(URLSAFE, 80, 120)], 0.97),
    rule("anthropic_admin_key", "sk-ant-admin01-", &[Run(URLSAFE, 80, 120)], 0.97),
    rule("anthropic_oauth_token", "sk-ant-oat01-", &[Run(URLSAFE, 80, 120)], 0.95),
    rule("anthropic_oauth_token", "sk-ant-ort01-", &[Run(URLSAFE, 80, 120)], 0.95),
    rule("openrouter_api_key", "sk-or-v1-", &[Run(HEX, 64, 64)], 0.95),
    rule("deepseek_api_key", "sk-", &[Run(HEX, 32, 32)], 0.6),
    rule("elevenlabs_api_key", "sk_", &[Run(HEX, 48, 48)], 0.6),
    rule("huggingface_token", "hf_", &[Run(ALNUM, 34, 34)], 0.9),
    rule("huggingface_org_token", "api_org_", &[Run(ALNUM, 34, 34)], 0.85),
    rule("replicate_api_token", "r8_", &[Run(ALNUM, 37, 37)], 0.9),
    rule("groq_api_key", "gsk_", &[Run(ALNUM, 52, 52)], 0.95),
    rule("perplexity_api_key", "pplx-", &[Run(ALNUM, 40, 56)], 0.9),
    rule("xai_api_key", "xai-", &[Run(ALNUM, 70, 90)], 0.9),
    rule("langsmith_api_key", "lsv2_pt_", &[Run(HEX, 32, 32), Lit("_"), Run(HEX, 10, 10)], 0.95),
    rule("langsmith_api_key", "lsv2_sk_", &[Run(HEX, 32, 32), Lit("_"), Run(HEX, 10, 10)], 0.95),
    rule("nvidia_api_key", "nvapi-", &[Run(URLSAFE, 64, 64)], 0.9),
    rule("pinecone_api_key", "pcsk_", &[Run(ALNUM_UNDER, 50, 120)], 0.9),
    rule("tavily_api_key", "tvly-", &[Run(ALNUM_DASH, 32, 48)], 0.85),
    // --- Developer platforms and registries
    rule("npm_access_token", "npm_", &[Run(ALNUM, 36, 36)], 0.99).check(Check::Crc32Base62),
    rule("pypi_api_token", "pypi-AgEIcHlwaS5vcmc", &[Run(URLSAFE, 50, 400)], 0.97),
    rule("pypi_api_token", "pypi-AgENdGVzdC5weXBp", &[Run(URLSAFE, 50, 400)], 0.7),
    rule("rubygems_api_key", "rubygems_", &[Run(HEX, 48, 48)], 0.95),
    rule("nuget_api_key", "oy2", &[Run(LOW_ALNUM, 43, 43)], 0.7),
    rule("docker_hub_token", "dckr_pat_", &[Run(URLSAFE, 27, 27)], 0.95),
    rule("docker_hub_token", "dckr_oat_", &[Run(URLSAFE, 27, 36)], 0.95),
    rule("hashicorp_vault_token", "hvs.", &[Run(URLSAFE, 24, 200)], 0.9),
    rule("hashicorp_vault_token", "hvb.", &[Run(URLSAFE, 24, 300)], 0.85),
    rule("hashicorp_vault_token", "hvr.", &[Run(URLSAFE, 24, 200)], 0.85),
    rule("terraform_cloud_token", ".atlasv1.", &[Run(URLSAFE_EQ, 60, 70)], 0.95).back(ALNUM, 14, 14, ALNUM),
    rule("digitalocean_pat", "dop_v1_", &[Run(HEX, 64, 64)], 0.95),
    rule("digitalocean_oauth_token", "doo_v1_", &[Run(HEX, 64, 64)], 0.95),
    rule("digitalocean_refresh_token", "dor_v1_", &[Run(HEX, 64, 64)], 0.95),
    rule("heroku_api_key", "HRKU-", &[Run(URLSAFE, 50, 70)], 0.9),
    rule("databricks_token", "dapi", &[Run(HEX, 32, 32)], 0.9),
    rule("doppler_token", "dp.pt.", &[Run(ALNUM, 40, 44)], 0.95),
    rule("doppler_token", "dp.st.", &[Run(URLSAFE_DOT, 40, 100)], 0.95),
    rule("doppler_token", "dp.ct.", &[Run(ALNUM, 40, 44)], 0.95),
    rule("doppler_token", "dp.sa.", &[Run(ALNUM, 40, 44)], 0.95),
    rule("doppler_token", "dp.scim.", &[Run(ALNUM, 40, 44)], 0.95),
    rule("doppler_token", "dp.audit.", &[Run(ALNUM, 40, 44)], 0.95),
    rule("linear_api_key", "lin_api_", &[Run(ALNUM, 40, 40)], 0.95),
    rule("notion_token", "secret_", &[Run(ALNUM, 43, 43)], 0.8),
    rule("notion_token", "ntn_", &[Run(ALNUM, 40, 50)], 0.9),
    rule("figma_pat", "figd_", &[Run(URLSAFE, 40, 43)], 0.9),
    rule("grafana_cloud_token", "glc_", &[Run(B64_EQ, 32, 400)], 0.9),
    rule("grafana_service_account_token", "glsa_", &[Run(ALNUM, 32, 32), Lit("_"), Run(HEX, 8, 8)], 0.95),
    rule("new_relic_user_api_key", "NRAK-", &[Run(UP_ALNUM, 27, 27)], 0.9),
    rule("new_relic_insert_key", "NRII-", &[Run(URLSAFE, 32, 32)], 0.85),
    rule("sentry_org_token", "sntrys_", &[Run(SENTRY, 60, 400)], 0.95),
    rule("sentry_user_token", "sntryu_", &[Run(HEX, 64, 64)], 0.95),
    rule("postman_api_key", "PMAK-", &[Run(HEX, 24, 24), Lit("-"), Run(HEX, 34, 34)], 0.95),
    rule("pulumi_access_token", "pul-", &[Run(HEX, 40, 40)], 0.95),
    rule("cloudflare_origin_ca_key", "v1.0-", &[Run(HEX, 24, 24), Lit("-"), Run(HEX, 146, 146)], 0.9),
    rule("dropbox_access_token", "sl.", &[Run(URLSAFE_DOT, 130, 1400)], 0.85),
    rule("twilio_account_sid", "AC", &[Run(HEX, 32, 32)], 0.4),
    rule("twilio_api_key", "SK", &[Run(HEX, 32, 32)], 0.7),
    rule("sendgrid_api_key", "SG.", &[Run(URLSAFE, 22, 22), Lit("."), Run(URLSAFE, 43, 43)], 0.97),
    rule("mailgun_api_key", "key-", &[Run(HEX, 32, 32)], 0.75),
    rule("mailchimp_api_key", "-us", &[Run(DIGIT, 1, 2)], 0.9).back(HEX, 32, 32, ALNUM),
    rule("brevo_api_key", "xkeysib-", &[Run(HEX, 64, 64), Lit("-"), Run(ALNUM, 16, 16)], 0.95),
    rule("planetscale_token", "pscale_tkn_", &[Run(URLSAFE, 32, 64)], 0.95),
    rule("planetscale_token", "pscale_oauth_", &[Run(URLSAFE, 32, 64)], 0.95),
    rule("planetscale_password", "pscale_pw_", &[Run(URLSAFE, 32, 64)], 0.95),
    rule("prefect_api_key", "pnu_", &[Run(ALNUM, 36, 36)], 0.9),
    rule("readme_api_key", "rdme_", &[Run(LOW_ALNUM, 70, 70)], 0.9),
    rule("sourcegraph_token", "sgp_", &[Run(ALNUM_UNDER, 40, 80)], 0.85),
    rule("dynatrace_api_token", "dt0c01.", &[Run(UP_ALNUM, 24, 24), Lit("."), Run(UP_ALNUM, 64, 64)], 0.95),
    rule("frameio_api_token", "fio-u-", &[Run(URLSAFE_EQ, 64, 64)], 0.9),
    rule("typeform_pat", "tfp_", &[Run(URLSAFE_DOT, 40, 80)], 0.8),
    rule("adobe_client_secret", "p8e-", &[Run(ALNUM_DASH, 32, 32)], 0.85),
    rule("alibaba_access_key_id", "LTAI", &[Run(ALNUM, 12, 20)], 0.8),
    rule("tencent_secret_id", "AKID", &[Run(ALNUM, 32, 32)], 0.75),
    rule("onepassword_service_account_token", "ops_eyJ", &[Run(URLSAFE_EQ, 100, 4000)], 0.95),
    rule("onepassword_secret_key", "A3-", &[Run(UP_ALNUM_DASH, 30, 40)], 0.9)
        .check(Check::Custom(onepassword_key_shape)),
    rule("hubspot_private_app_token", "pat-na1-", &[Run(HEX_DASH, 36, 36)], 0.9).check(Check::Custom(ends_with_uuid)),
    rule("hubspot_private_app_token", "pat-eu1-", &[Run(HEX_DASH, 36, 36)], 0.9).check(Check::Custom(ends_with_uuid)),
    rule("firebase_cloud_messaging_key", ":APA91b", &[Run(URLSAFE, 130, 140)], 0.95)
        .back(URLSAFE, 11, 11, URLSAFE)
        .check(Check::Custom(fcm_shape)),
    rule("age_secret_key", "AGE-SECRET-KEY-1", &[Run(BECH32_UP, 58, 58)], 0.99),
    rule("fly_io_token", "fo1_", &[Run(URLSAFE, 40, 60)], 0.9),
    rule("fly_io_token", "fm1r_", &[Run(FLY, 40, 4000)], 0.9),
    rule("fly_io_token", "fm1a_", &[Run(FLY, 40, 4000)], 0.9),
    rule("fly_io_token", "fm2_", &[Run(FLY, 40, 4000)], 0.9),
    rule("supabase_pat", "sbp_", &[Run(HEX, 40, 40)], 0.95),
    rule("supabase_secret_key", "sb_secret_", &[Run(URLSAFE, 20, 64)], 0.9),
    rule("netlify_token", "nfp_", &[Run(ALNUM, 36, 40)], 0.9),
    rule("circleci_token", "CCIPAT_", &[Run(ALNUM_UNDER, 40, 80)], 0.9),
    rule("circleci_token", "CCIPRJ_", &[Run(ALNUM_UNDER, 40, 80)], 0.9),
    rule("contentful_pat", "CFPAT-", &[Run(URLSAFE, 43, 43)], 0.95),
    rule("scalingo_api_token", "tk-us-", &[Run(URLSAFE, 48, 48)], 0.9),
    rule("infracost_api_key", "ico-", &[Run(ALNUM, 32, 32)], 0.85),
];

/// A format with no prefix of its own: a keyword's value (`api_key = ...`, `token: ...`)
/// of this shape, with the provider's name shortly before it.
pub(crate) struct ContextRule {
    pub name: &'static str,
    /// Lowercase provider name, which must stand shortly before the value (any case).
    pub keyword: &'static str,
    pub set: Set,
    pub min: u16,
    pub max: u16,
    pub check: Check,
    pub confidence: f32,
}

const fn ctx(name: &'static str, keyword: &'static str, set: Set, len: u16, confidence: f32) -> ContextRule {
    ContextRule { name, keyword, set, min: len, max: len, check: Check::None, confidence }
}

impl ContextRule {
    const fn check(mut self, check: Check) -> Self {
        self.check = check;
        self
    }
}

pub(crate) static CONTEXT_RULES: &[ContextRule] = &[
    ctx("aws_secret_access_key", "aws", B64, 40, 0.75).check(Check::Custom(aws_secret_shape)),
    ctx("twilio_auth_token", "twilio", HEX, 32, 0.7),
    ctx("cohere_api_key", "cohere", ALNUM, 40, 0.7),
    ctx("mistral_api_key", "mistral", ALNUM, 32, 0.7),
    ctx("cloudflare_api_token", "cloudflare", URLSAFE, 40, 0.7),
    ctx("cloudflare_global_api_key", "cloudflare", HEX, 37, 0.7),
    ctx("fastly_api_token", "fastly", URLSAFE, 32, 0.7),
    ctx("okta_api_token", "okta", URLSAFE, 42, 0.7).check(Check::Custom(okta_shape)),
    ctx("twitch_api_token", "twitch", LOW_ALNUM, 30, 0.65),
    ctx("vercel_token", "vercel", ALNUM, 24, 0.65),
    ctx("algolia_admin_key", "algolia", HEX, 32, 0.7),
    ctx("datadog_api_key", "datadog", HEX, 32, 0.7),
    ctx("datadog_app_key", "datadog", HEX, 40, 0.7),
    ctx("mailgun_api_key", "mailgun", HEX_DASH, 50, 0.75).check(Check::Custom(mailgun_shape)),
    ctx("heroku_api_key", "heroku", HEX_DASH, 36, 0.7).check(Check::Custom(uuid_shape)),
    ctx("snyk_api_token", "snyk", HEX_DASH, 36, 0.7).check(Check::Custom(uuid_shape)),
    ctx("sumologic_access_key", "sumo", ALNUM, 64, 0.7),
    ctx("wandb_api_key", "wandb", HEX, 40, 0.7),
    ctx("deepgram_api_key", "deepgram", HEX, 40, 0.7),
    ctx("slack_signing_secret", "slack", HEX, 32, 0.65),
    ctx("linode_api_token", "linode", HEX, 64, 0.7),
    ctx("netlify_token", "netlify", URLSAFE, 43, 0.65),
    ctx("atlassian_api_token", "atlassian", ALNUM, 24, 0.6),
    ctx("atlassian_api_token", "jira", ALNUM, 24, 0.6),
    ctx("atlassian_api_token", "confluence", ALNUM, 24, 0.6),
    ctx("ibm_cloud_api_key", "ibm", URLSAFE, 44, 0.65),
    ctx("azure_api_key", "azure", HEX, 32, 0.6),
    ctx("twitter_bearer_token", "twitter", PERCENT_B62, 100, 0.8).check(Check::Custom(twitter_shape)),
    ctx("circleci_token", "circleci", HEX, 40, 0.7),
];

/// Where a row matched: the secret's span.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Hit {
    pub start: usize,
    pub end: usize,
}

/// Tries `rule` at an anchor found at `a_start..a_end` of `t`.
pub(crate) fn match_rule(rule: &Rule, t: &[u8], a_start: usize, a_end: usize) -> Option<Hit> {
    let start = match rule.back {
        Some(back) => {
            let mut s = a_start;
            while s > 0 && a_start - s < back.max as usize && has(back.set, t[s - 1]) {
                s -= 1;
            }
            if a_start - s < back.min as usize || (s > 0 && has(back.glue, t[s - 1])) {
                return None;
            }
            s
        }
        None => {
            if a_start > 0 && t[a_start - 1].is_ascii_alphanumeric() {
                return None;
            }
            a_start
        }
    };
    let mut pos = a_end;
    let mut last_set = None;
    for part in rule.parts {
        match *part {
            Lit(lit) => {
                if t.get(pos..pos + lit.len()) != Some(lit.as_bytes()) {
                    return None;
                }
                pos += lit.len();
                last_set = None;
            }
            Run(set, min, max) => {
                let run_start = pos;
                while pos < t.len() && pos - run_start < max as usize && has(set, t[pos]) {
                    pos += 1;
                }
                if pos - run_start < min as usize {
                    return None;
                }
                last_set = Some((set, run_start, min));
            }
        }
    }
    if let Some((set, run_start, min)) = last_set {
        // Longer than the format allows: some other, longer string.
        if pos < t.len() && has(set, t[pos]) {
            return None;
        }
        // A sentence's full stop after a token whose alphabet has dots.
        if has(set, b'.') {
            while pos > run_start && t[pos - 1] == b'.' {
                pos -= 1;
            }
            if pos - run_start < min as usize {
                return None;
            }
        }
    }
    if t.get(pos).is_some_and(|b| b.is_ascii_alphanumeric()) {
        return None;
    }
    let whole = &t[start..pos];
    // The random part: what follows the prefix, or all of it when the anchor sits inside.
    let random = if rule.back.is_some() { whole } else { &t[a_end..pos] };
    let ok = match rule.check {
        Check::None => !looks_fake(random),
        Check::Crc32Base62 => crc32_ok(whole),
        Check::Contains(needle) => memchr::memmem::find(whole, needle.as_bytes()).is_some() && !looks_fake(random),
        Check::Custom(f) => f(whole) && !looks_fake(random),
    };
    ok.then_some(Hit { start: if rule.label_anchor { a_end } else { start }, end: pos })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn membership_by_halves_is_the_bit_of_the_set() {
        for set in [ALNUM, DIGIT, HEX, HEX_ANY, UP_ALNUM, LOW_ALNUM, set(b"+/=_-"), u128::MAX, 1 | 1 << 127, 0] {
            for b in 0..=u8::MAX {
                assert_eq!(has(set, b), b < 128 && (set >> b) & 1 == 1, "{set:#x} {b}");
            }
        }
    }

    #[test]
    fn sets_hold_what_their_spec_says() {
        assert!(has(URLSAFE, b'-') && has(URLSAFE, b'_') && has(URLSAFE, b'z') && !has(URLSAFE, b'.'));
        assert!(has(B32_UP, b'7') && !has(B32_UP, b'8') && !has(B32_UP, b'a'));
        assert!(!has(ALNUM, 200));
        assert!(has(HEX, b'f') && !has(HEX, b'g') && !has(HEX, b'F'));
    }

    #[test]
    fn crc32_base62_pads_and_encodes() {
        // crc32("") == 0; crc32("123456789") == 0xCBF43926, base62 "3jZRME".
        assert_eq!(&crc32_base62(b""), b"000000");
        assert_eq!(&crc32_base62(b"123456789"), b"3jZRME");
    }

    #[test]
    fn every_anchor_is_nonempty_and_ascii() {
        for r in RULES {
            assert!(!r.anchor.is_empty() && r.anchor.is_ascii(), "{}", r.name);
            assert!(r.confidence > 0.0 && r.confidence <= 1.0, "{}", r.name);
        }
        for r in CONTEXT_RULES {
            assert!(r.keyword.bytes().all(|b| b.is_ascii_lowercase()), "{}", r.keyword);
        }
    }
}
