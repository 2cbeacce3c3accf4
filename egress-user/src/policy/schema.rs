//! A tool's JSON Schema for its request body (`schema:` inline, or `schema_file:`), compiled
//! once when the policy is loaded, and the violations reported for a body.
//!
//! Schemas are compiled with the `jsonschema` crate: draft 2020-12 unless the schema's
//! `$schema` names another draft. No `$ref` is ever fetched (no network, no file system):
//! a schema must be self-contained (`$defs`).

use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::paths::LocationSegment;
use serde::Serialize;
use serde::de::{self, Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::Value;

use super::context;

/// At most this many violations are reported for one body.
pub const MAX_VIOLATIONS: usize = 32;

/// Stands for a body property name in a pointer when the name is neither declared in the
/// schema nor shaped like a field name (it may be data: a key can carry a secret too).
pub const WITHHELD: &str = "<withheld>";

/// One way a body broke its tool's schema, as written to the audit log. Never carries a
/// value from the body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SchemaViolation {
    /// JSON pointer (RFC 6901) into the body: the offending value, or for `required` the
    /// missing property, or for `additionalProperties` the unexpected property. Property
    /// names the schema does not declare and that do not look like identifiers are replaced
    /// by [`WITHHELD`].
    pub pointer: String,
    /// The schema keyword that failed: `required`, `type`, `additionalProperties`, ...
    pub keyword: String,
    /// A short description built from the keyword and the schema, never from body values.
    pub message: String,
}

/// A compiled schema. Cloning is cheap (shared); two schemas are equal when their source
/// documents (and files) are.
#[derive(Clone)]
pub struct ToolSchema {
    inner: Arc<Compiled>,
}

struct Compiled {
    source: Value,
    file: Option<PathBuf>,
    validator: jsonschema::Validator,
    /// Property names the schema mentions (`properties`, `required`, ...): shown in
    /// pointers as they are.
    declared: HashSet<String>,
}

impl PartialEq for ToolSchema {
    fn eq(&self, other: &Self) -> bool {
        self.inner.source == other.inner.source && self.inner.file == other.inner.file
    }
}

impl Eq for ToolSchema {}

impl fmt::Debug for ToolSchema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ToolSchema").field("file", &self.inner.file).field("source", &self.inner.source).finish()
    }
}

/// Refuses every external `$ref`: a policy's schemas must not make egress fetch anything.
struct NoRetrieval;

impl jsonschema::Retrieve for NoRetrieval {
    fn retrieve(&self, uri: &jsonschema::Uri<String>) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        Err(format!("external reference `{uri}` is not fetched; put the definition under `$defs`").into())
    }
}

impl ToolSchema {
    /// Compiles a schema document (`file`: where it was read from, for display).
    pub fn compile(source: Value, file: Option<PathBuf>) -> Result<Self, String> {
        let validator = jsonschema::options().with_retriever(NoRetrieval).build(&source).map_err(|e| {
            let at = e.instance_path().as_str();
            let at = if at.is_empty() { String::new() } else { format!(" at {at}") };
            format!("invalid JSON Schema{at}: {e}")
        })?;
        let mut declared = HashSet::new();
        collect_declared(&source, &mut declared);
        Ok(Self { inner: Arc::new(Compiled { source, file, validator, declared }) })
    }

    /// The schema document.
    pub fn source(&self) -> &Value {
        &self.inner.source
    }

    /// The absolute path of `schema_file`, for a schema read from a file.
    pub fn file(&self) -> Option<&Path> {
        self.inner.file.as_deref()
    }

    /// The ways `body` breaks the schema (empty when it conforms), at most
    /// [`MAX_VIOLATIONS`].
    pub fn validate(&self, body: &Value) -> Vec<SchemaViolation> {
        let mut out = Vec::new();
        for error in self.inner.validator.iter_errors(body) {
            if out.len() >= MAX_VIOLATIONS {
                break;
            }
            let base = self.pointer(error.instance_path().iter());
            let keyword = error.kind().keyword().to_owned();
            let mut push = |pointer: String, message: String| {
                out.push(SchemaViolation { pointer, keyword: keyword.clone(), message })
            };
            match error.kind() {
                ValidationErrorKind::Required { property } => {
                    let name = property.as_str().unwrap_or_default();
                    push(format!("{base}/{}", self.segment(name)), "required property is missing".into());
                }
                ValidationErrorKind::AdditionalProperties { unexpected }
                | ValidationErrorKind::UnevaluatedProperties { unexpected } => {
                    for name in unexpected {
                        push(format!("{base}/{}", self.segment(name)), "property is not allowed by the schema".into());
                    }
                }
                kind => push(base, describe(kind, error.instance())),
            }
            out.truncate(MAX_VIOLATIONS);
        }
        out
    }

    /// A pointer built from an error's instance location, withholding undeclared names.
    fn pointer<'a>(&self, segments: impl Iterator<Item = LocationSegment<'a>>) -> String {
        let mut pointer = String::new();
        for segment in segments {
            pointer.push('/');
            match segment {
                LocationSegment::Property(name) => pointer.push_str(&self.segment(&name)),
                LocationSegment::Index(i) => pointer.push_str(&i.to_string()),
            }
        }
        pointer
    }

    /// One pointer segment for a body property name: escaped (RFC 6901) when it may be
    /// shown, [`WITHHELD`] otherwise.
    fn segment(&self, name: &str) -> String {
        if self.inner.declared.contains(name) || identifier_like(name) {
            name.replace('~', "~0").replace('/', "~1")
        } else {
            WITHHELD.to_owned()
        }
    }
}

/// The shape of a field name, not of a token or an identifier number: `[a-z_][A-Za-z0-9_]*`
/// (snake_case or camelCase), at most 32 characters, at most 2 digits, and at most a third
/// of the letters uppercase. A heuristic: it keeps `AKIA...`, `sk-live-...` and long ids
/// out of the audit log, at the price of withholding some odd but harmless names.
fn identifier_like(name: &str) -> bool {
    let bytes = name.as_bytes();
    let count = |f: fn(&u8) -> bool| bytes.iter().filter(|b| f(b)).count();
    !bytes.is_empty()
        && bytes.len() <= 32
        && (bytes[0].is_ascii_lowercase() || bytes[0] == b'_')
        && bytes.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'_')
        && count(u8::is_ascii_digit) <= 2
        && count(u8::is_ascii_uppercase) * 3 <= count(u8::is_ascii_alphabetic)
}

/// Every property name a schema mentions, at any depth.
fn collect_declared(schema: &Value, out: &mut HashSet<String>) {
    match schema {
        Value::Object(map) => {
            for (key, value) in map {
                match (key.as_str(), value) {
                    ("properties" | "dependentRequired" | "dependentSchemas", Value::Object(props)) => {
                        out.extend(props.keys().cloned());
                    }
                    ("required", Value::Array(names)) => {
                        out.extend(names.iter().filter_map(Value::as_str).map(str::to_owned));
                    }
                    _ => {}
                }
                collect_declared(value, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_declared(v, out)),
        _ => {}
    }
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// A message for a violation made of the keyword's parameters (from the schema) and the
/// type of the instance, never the instance's value.
fn describe(kind: &ValidationErrorKind, instance: &Value) -> String {
    use ValidationErrorKind as K;
    match kind {
        K::Type { kind } => {
            let expected = match kind {
                TypeKind::Single(t) => t.to_string(),
                TypeKind::Multiple(set) => set.iter().map(|t| t.to_string()).collect::<Vec<_>>().join(" or "),
            };
            format!("expected {expected}, got {}", json_type(instance))
        }
        K::Enum { .. } => "value is not one of the allowed values".into(),
        K::Constant { .. } => "value is not the required constant".into(),
        K::MinLength { limit } => format!("shorter than {limit} characters"),
        K::MaxLength { limit } => format!("longer than {limit} characters"),
        K::Minimum { limit } => format!("less than the minimum {limit}"),
        K::Maximum { limit } => format!("greater than the maximum {limit}"),
        K::ExclusiveMinimum { limit } => format!("not greater than {limit}"),
        K::ExclusiveMaximum { limit } => format!("not less than {limit}"),
        K::MultipleOf { .. } => "not a multiple of the required factor".into(),
        K::MinItems { limit } => format!("fewer than {limit} items"),
        K::MaxItems { limit } => format!("more than {limit} items"),
        K::MinProperties { limit } => format!("fewer than {limit} properties"),
        K::MaxProperties { limit } => format!("more than {limit} properties"),
        K::UniqueItems => "items are not unique".into(),
        K::Pattern { pattern } => format!("does not match the pattern `{pattern}`"),
        K::Format { format } => format!("not a valid `{format}`"),
        K::FalseSchema => "no value is allowed here".into(),
        K::AnyOf { .. } => "matches none of the `anyOf` alternatives".into(),
        K::OneOfNotValid { .. } => "matches none of the `oneOf` alternatives".into(),
        K::OneOfMultipleValid { .. } => "matches more than one of the `oneOf` alternatives".into(),
        K::Not { .. } => "matches a schema it must not match".into(),
        K::Contains => "no item matches `contains`".into(),
        K::PropertyNames { .. } => "a property name is not allowed by `propertyNames`".into(),
        K::Referencing(_) => "a `$ref` could not be resolved".into(),
        other => format!("fails `{}`", other.keyword()),
    }
}

/// `schema:` given inline: a mapping (or `true`/`false`), compiled in place, so a schema
/// that does not compile is reported at the mapping.
pub(super) struct InlineSchema(pub ToolSchema);

impl<'de> Deserialize<'de> for InlineSchema {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = InlineSchema;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON Schema (a mapping, or true/false)")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<InlineSchema, E> {
                ToolSchema::compile(Value::Bool(v), None).map(InlineSchema).map_err(E::custom)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<InlineSchema, A::Error> {
                let mut object = serde_json::Map::new();
                while let Some((key, value)) = map.next_entry::<String, Value>()? {
                    object.insert(key, value);
                }
                ToolSchema::compile(Value::Object(object), None).map(InlineSchema).map_err(de::Error::custom)
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// `schema_file:` read (relative to the policy file's directory), parsed (JSON for `.json`,
/// YAML otherwise) and compiled inside the path's own deserializer, so every problem is
/// reported at the path.
pub(super) fn deserialize_schema_file<'de, D: Deserializer<'de>>(deserializer: D) -> Result<ToolSchema, D::Error> {
    struct V;
    impl Visitor<'_> for V {
        type Value = ToolSchema;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("the path of a JSON Schema file")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<ToolSchema, E> {
            load_schema_file(v).map_err(E::custom)
        }
    }
    deserializer.deserialize_str(V)
}

fn load_schema_file(written: &str) -> Result<ToolSchema, String> {
    let path = context::resolve_path(written)?;
    let text =
        std::fs::read_to_string(&path).map_err(|e| format!("cannot read schema file {}: {e}", path.display()))?;
    let is_json = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("json"));
    let source: Value = if is_json {
        serde_json::from_str(&text).map_err(|e| format!("schema file {} is not valid JSON: {e}", path.display()))?
    } else {
        serde_yaml_ng::from_str(&text).map_err(|e| format!("schema file {} is not valid YAML: {e}", path.display()))?
    };
    ToolSchema::compile(source, Some(path.clone())).map_err(|e| format!("schema file {}: {e}", path.display()))
}
