//! `on_findings` maps (finding category, optionally `category.detector`, to an action) and
//! an llm_provider tool's `parts` (message part to such a map).
//!
//! Keys are checked inside the key's own deserializer, so an unknown category, an unknown
//! detector or a repeated key is reported at the key's line and column, with the key added
//! to the error's path (see [`super::error::at_key`]).

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};

use super::error::at_key;
use super::{Action, MessagePart};
use crate::detect::{self, Category};

/// Every finding category, in the order error messages list them.
pub const CATEGORIES: [Category; 6] =
    [Category::Pii, Category::Secret, Category::Document, Category::Dictionary, Category::Edm, Category::Taint];

// A category added to `detect::Category` must be added to `CATEGORIES` too: this match stops
// compiling until it is.
const _: fn(Category) = |c| match c {
    Category::Pii | Category::Secret | Category::Document | Category::Dictionary | Category::Edm | Category::Taint => {}
};

fn parse_category(s: &str) -> Option<Category> {
    CATEGORIES.into_iter().find(|c| c.as_str() == s)
}

fn list<T: fmt::Display>(items: impl IntoIterator<Item = T>) -> String {
    items.into_iter().map(|i| i.to_string()).collect::<Vec<_>>().join(", ")
}

/// An `on_findings` key: a whole category (`pii`) or one detector of it
/// (`secret.aws_access_key_id`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct FindingKey {
    pub category: Category,
    pub detector: Option<String>,
}

impl FindingKey {
    /// Parses a key, checking the category and, when given, the detector name against the
    /// detectors this build knows ([`detect::is_known_detector`]).
    pub fn parse(key: &str) -> Result<Self, String> {
        let (category_name, detector) = match key.split_once('.') {
            Some((c, d)) => (c, Some(d)),
            None => (key, None),
        };
        let Some(category) = parse_category(category_name) else {
            return Err(format!(
                "unknown finding category `{category_name}` (known: {})",
                list(CATEGORIES.iter().map(|c| c.as_str()))
            ));
        };
        let Some(detector) = detector else {
            return Ok(Self { category, detector: None });
        };
        if detector.is_empty() {
            return Err(format!("empty detector name after `{category_name}.`"));
        }
        if !detect::is_known_detector(category, detector) {
            let known = detect::known_detectors(category);
            return Err(if known.is_empty() {
                format!(
                    "unknown {category_name} detector `{detector}` (this build names no {category_name} detectors; use the key `{category_name}` for the whole category)"
                )
            } else {
                format!("unknown {category_name} detector `{detector}` (known: {})", list(known))
            });
        }
        Ok(Self { category, detector: Some(detector.to_owned()) })
    }
}

impl fmt::Display for FindingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.category.as_str())?;
        if let Some(detector) = &self.detector {
            write!(f, ".{detector}")?;
        }
        Ok(())
    }
}

/// An `on_findings` map.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FindingRules {
    rules: BTreeMap<FindingKey, Action>,
}

impl FindingRules {
    /// The rule for a finding: the `category.detector` key if present, else the `category`
    /// key.
    pub fn lookup(&self, category: Category, detector: &str) -> Option<(&FindingKey, Action)> {
        let specific = FindingKey { category, detector: Some(detector.to_owned()) };
        let general = FindingKey { category, detector: None };
        self.rules.get_key_value(&specific).or_else(|| self.rules.get_key_value(&general)).map(|(k, a)| (k, *a))
    }

    pub fn iter(&self) -> impl Iterator<Item = (&FindingKey, Action)> {
        self.rules.iter().map(|(k, a)| (k, *a))
    }

    pub fn len(&self) -> usize {
        self.rules.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }
}

impl FromIterator<(FindingKey, Action)> for FindingRules {
    fn from_iter<I: IntoIterator<Item = (FindingKey, Action)>>(iter: I) -> Self {
        Self { rules: iter.into_iter().collect() }
    }
}

/// Deserializes a mapping key as a string, parses it with `parse`, and refuses one already
/// in `seen`; every error is raised inside the key's own deserializer.
struct KeySeed<'a, K, V> {
    seen: &'a BTreeMap<K, V>,
    expecting: &'static str,
    parse: fn(&str) -> Result<K, String>,
}

impl<'de, K: Ord, V> DeserializeSeed<'de> for KeySeed<'_, K, V> {
    type Value = K;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<K, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<K: Ord, V> Visitor<'_> for KeySeed<'_, K, V> {
    type Value = K;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(self.expecting)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<K, E> {
        let key = (self.parse)(v).map_err(|message| E::custom(at_key(v, message)))?;
        if self.seen.contains_key(&key) {
            return Err(E::custom(at_key(v, format!("duplicate key `{v}`"))));
        }
        Ok(key)
    }
}

impl<'de> Deserialize<'de> for FindingRules {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = FindingRules;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a map from finding category (or `category.detector`) to action")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<FindingRules, A::Error> {
                let mut rules = BTreeMap::new();
                loop {
                    let seed = KeySeed { seen: &rules, expecting: "a finding category", parse: FindingKey::parse };
                    let Some(key) = map.next_key_seed(seed)? else { break };
                    let action: Action = map.next_value()?;
                    rules.insert(key, action);
                }
                Ok(FindingRules { rules })
            }
        }
        deserializer.deserialize_map(V)
    }
}

fn parse_part(s: &str) -> Result<MessagePart, String> {
    MessagePart::parse(s).ok_or_else(|| {
        format!("unknown message part `{s}` (known: {})", list(MessagePart::ALL.map(MessagePart::as_str)))
    })
}

/// An llm_provider tool's `parts`.
pub(super) fn deserialize_parts<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<BTreeMap<MessagePart, FindingRules>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = BTreeMap<MessagePart, FindingRules>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a map from message part to an on_findings map")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut parts = BTreeMap::new();
            loop {
                let seed = KeySeed { seen: &parts, expecting: "a message part", parse: parse_part };
                let Some(part) = map.next_key_seed(seed)? else { break };
                let rules: FindingRules = map.next_value()?;
                parts.insert(part, rules);
            }
            Ok(parts)
        }
    }
    deserializer.deserialize_map(V)
}
