//! State shared by the deserializers of one `from_yaml` call.
//!
//! serde's derive offers no way to hand state down from a sequence to a field of its
//! elements, short of writing each visitor by hand, so what the field deserializers need
//! (names seen so far, the directory relative paths start from, the index of the tool being
//! read, and an error to raise at a given tool's field) lives in a thread-local for the
//! duration of one parse (serde_yaml_ng deserializes on the calling thread).
//!
//! The injected error is how checks that involve two keys of a tool (say `destinations` on
//! a tool whose `class` is not `code_exec`, where `class` may come after `destinations`) get
//! the line and column of the offending value: the first pass parses the whole file, the
//! checks run on the result, and if one fails, a second pass over the same text raises that
//! error from inside the offending value's deserializer, where serde_yaml_ng attaches its
//! position and key path.

use std::cell::RefCell;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::{self, Deserializer, Visitor};

thread_local! {
    static CONTEXT: RefCell<Option<ParseContext>> = const { RefCell::new(None) };
}

struct ParseContext {
    base_dir: PathBuf,
    tool_names: Vec<String>,
    source_names: Vec<String>,
    current_tool: Option<usize>,
    inject: Option<Injection>,
}

/// A tool key that an error can be injected at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum ToolField {
    SchemaFile,
    Destinations,
    Programs,
    Parts,
    OnSchemaViolation,
}

impl ToolField {
    pub(super) fn key(self) -> &'static str {
        match self {
            Self::SchemaFile => "schema_file",
            Self::Destinations => "destinations",
            Self::Programs => "programs",
            Self::Parts => "parts",
            Self::OnSchemaViolation => "on_schema_violation",
        }
    }
}

/// An error to raise at `tools[tool].<field>` during the second pass.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Injection {
    pub tool: usize,
    pub field: ToolField,
    pub message: String,
}

/// Installs a fresh context for one parse and restores the previous one when dropped.
pub(super) struct Scope(Option<ParseContext>);

impl Scope {
    pub(super) fn enter(base_dir: PathBuf, inject: Option<Injection>) -> Self {
        let fresh =
            ParseContext { base_dir, tool_names: Vec::new(), source_names: Vec::new(), current_tool: None, inject };
        Self(CONTEXT.with(|c| c.borrow_mut().replace(fresh)))
    }
}

impl Drop for Scope {
    fn drop(&mut self) {
        let previous = self.0.take();
        CONTEXT.with(|c| *c.borrow_mut() = previous);
    }
}

fn with<R>(f: impl FnOnce(&mut ParseContext) -> R) -> Option<R> {
    CONTEXT.with(|c| c.borrow_mut().as_mut().map(f))
}

/// Which list of names a name is checked for uniqueness in.
#[derive(Clone, Copy)]
pub(super) enum NameList {
    Tools,
    Sources,
}

/// Records `name`; on a duplicate, returns the index of its first use. Outside a parse
/// (no context) nothing is checked.
pub(super) fn note_name(list: NameList, name: &str) -> Result<(), usize> {
    with(|c| {
        let names = match list {
            NameList::Tools => &mut c.tool_names,
            NameList::Sources => &mut c.source_names,
        };
        if let Some(index) = names.iter().position(|n| n == name) {
            return Err(index);
        }
        names.push(name.to_owned());
        Ok(())
    })
    .unwrap_or(Ok(()))
}

pub(super) fn set_current_tool(index: Option<usize>) {
    with(|c| c.current_tool = index);
}

/// The message to raise at `field` of the tool being read, if the second pass wants one
/// there.
pub(super) fn injected(field: ToolField) -> Option<String> {
    with(|c| match &c.inject {
        Some(inject) if Some(inject.tool) == c.current_tool && inject.field == field => {
            c.inject.take().map(|i| i.message)
        }
        _ => None,
    })
    .flatten()
}

/// The directory relative paths in the policy start from: the policy file's directory, or
/// the current directory outside a parse.
pub(super) fn base_dir() -> PathBuf {
    with(|c| c.base_dir.clone()).unwrap_or_else(|| std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")))
}

/// Resolves a path written in the policy against [`base_dir`]; the result is absolute.
pub(super) fn resolve_path(written: &str) -> Result<PathBuf, String> {
    if written.trim().is_empty() {
        return Err("path must not be empty".into());
    }
    let path = Path::new(written);
    let joined = if path.is_absolute() { path.to_path_buf() } else { base_dir().join(path) };
    std::path::absolute(&joined).map_err(|e| format!("cannot make `{written}` absolute: {e}"))
}

/// Fails with `message` from inside the value the deserializer is at, whatever its shape,
/// so that serde_yaml_ng places the error at that value.
pub(super) fn fail_here<'de, D: Deserializer<'de>, T>(deserializer: D, message: String) -> Result<T, D::Error> {
    struct Fail(String);
    impl Fail {
        fn err<E: de::Error, T>(self) -> Result<T, E> {
            Err(E::custom(self.0))
        }
    }
    impl<'de> Visitor<'de> for Fail {
        type Value = std::convert::Infallible;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("nothing")
        }
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            self.err()
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
            self.err()
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
            self.err()
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            self.err()
        }
        fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
            self.err()
        }
        fn visit_bytes<E: de::Error>(self, _: &[u8]) -> Result<Self::Value, E> {
            self.err()
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            self.err()
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            self.err()
        }
        fn visit_some<D: Deserializer<'de>>(self, _: D) -> Result<Self::Value, D::Error> {
            self.err()
        }
        fn visit_newtype_struct<D: Deserializer<'de>>(self, _: D) -> Result<Self::Value, D::Error> {
            self.err()
        }
        fn visit_seq<A: de::SeqAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
            self.err()
        }
        fn visit_map<A: de::MapAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
            self.err()
        }
        fn visit_enum<A: de::EnumAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
            self.err()
        }
    }
    match deserializer.deserialize_any(Fail(message))? {}
}
