//! The `detection:` section: what the content detectors load (registered documents,
//! dictionaries, exact-data-match tables) and how far they go. Paths are relative to the
//! policy file's directory; they are resolved to absolute paths and checked to exist when
//! the policy is loaded, so a wrong path is reported at its line and column.

use std::fmt;
use std::path::PathBuf;

use serde::Deserialize;
use serde::de::{self, Deserializer, SeqAccess, Visitor};

use super::context;
use super::pattern::deserialize_via_parse;

pub const DEFAULT_MIN_SHARE: f64 = 0.3;
pub const DEFAULT_TAINT_TTL_SECONDS: u64 = 3600;
pub const MAX_TAINT_TTL_SECONDS: u64 = 7 * 24 * 3600;
pub const DEFAULT_MAX_FINGERPRINTS: usize = 200_000;
pub const MAX_MAX_FINGERPRINTS: usize = 100_000_000;
pub const DEFAULT_MAX_DECODE_DEPTH: u8 = 3;
pub const MAX_MAX_DECODE_DEPTH: u8 = 8;

/// The `detection:` section, with every default filled in.
#[derive(Clone, Debug, PartialEq)]
pub struct DetectionSettings {
    pub documents: Option<DocumentSettings>,
    /// Dictionary files (internal terminology), absolute.
    pub dictionaries: Vec<PathBuf>,
    pub edm: Vec<EdmSettings>,
    pub taint: TaintSettings,
    /// How many layers of encoding (base64, hex, percent, JSON-in-string) are decoded.
    pub max_decode_depth: u8,
}

impl Default for DetectionSettings {
    fn default() -> Self {
        Self {
            documents: None,
            dictionaries: Vec::new(),
            edm: Vec::new(),
            taint: TaintSettings::default(),
            max_decode_depth: DEFAULT_MAX_DECODE_DEPTH,
        }
    }
}

/// Registered confidential documents: every file under `dir` is fingerprinted.
#[derive(Clone, Debug, PartialEq)]
pub struct DocumentSettings {
    /// Absolute; an existing directory.
    pub dir: PathBuf,
    /// The share of a document's fingerprints a payload must contain to match, in (0, 1].
    pub min_share: f64,
}

/// One exact-data-match table (CSV with a header row).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EdmSettings {
    /// Absolute; an existing file.
    pub file: PathBuf,
    /// Columns whose values alone identify a record (at least one).
    pub primary: Vec<String>,
    /// Columns that must appear near a primary value to count.
    pub corroborating: Vec<String>,
}

/// Taint tracking: data read from `sources` is fingerprinted and followed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TaintSettings {
    pub ttl_seconds: u64,
    pub max_fingerprints: usize,
}

impl Default for TaintSettings {
    fn default() -> Self {
        Self { ttl_seconds: DEFAULT_TAINT_TTL_SECONDS, max_fingerprints: DEFAULT_MAX_FINGERPRINTS }
    }
}

impl<'de> Deserialize<'de> for DetectionSettings {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let file = DetectionFile::deserialize(deserializer)?;
        Ok(Self {
            documents: file.documents.map(|d| DocumentSettings { dir: d.dir.0, min_share: d.min_share }),
            dictionaries: file.dictionaries.into_iter().map(|f| f.0).collect(),
            edm: file
                .edm
                .into_iter()
                .map(|e| EdmSettings {
                    file: e.file.0,
                    primary: e.primary,
                    corroborating: e.corroborating.into_iter().map(|c| c.0).collect(),
                })
                .collect(),
            taint: file.taint.map_or_else(TaintSettings::default, |t| TaintSettings {
                ttl_seconds: t.ttl_seconds,
                max_fingerprints: t.max_fingerprints,
            }),
            max_decode_depth: file.max_decode_depth,
        })
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DetectionFile {
    #[serde(default)]
    documents: Option<DocumentsFile>,
    #[serde(default)]
    dictionaries: Vec<ExistingFile>,
    #[serde(default)]
    edm: Vec<EdmFile>,
    #[serde(default)]
    taint: Option<TaintFile>,
    #[serde(default = "default_max_decode_depth", deserialize_with = "deserialize_max_decode_depth")]
    max_decode_depth: u8,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DocumentsFile {
    dir: ExistingDir,
    #[serde(default = "default_min_share", deserialize_with = "deserialize_min_share")]
    min_share: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EdmFile {
    file: ExistingFile,
    #[serde(deserialize_with = "deserialize_primary")]
    primary: Vec<String>,
    #[serde(default)]
    corroborating: Vec<ColumnName>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TaintFile {
    #[serde(default = "default_ttl", deserialize_with = "deserialize_ttl")]
    ttl_seconds: u64,
    #[serde(default = "default_max_fingerprints", deserialize_with = "deserialize_max_fingerprints")]
    max_fingerprints: usize,
}

fn default_min_share() -> f64 {
    DEFAULT_MIN_SHARE
}
fn default_ttl() -> u64 {
    DEFAULT_TAINT_TTL_SECONDS
}
fn default_max_fingerprints() -> usize {
    DEFAULT_MAX_FINGERPRINTS
}
fn default_max_decode_depth() -> u8 {
    DEFAULT_MAX_DECODE_DEPTH
}

/// A path that must name an existing directory.
struct ExistingDir(PathBuf);
/// A path that must name an existing regular file.
struct ExistingFile(PathBuf);

impl ExistingDir {
    fn parse(s: &str) -> Result<Self, String> {
        let path = context::resolve_path(s)?;
        match std::fs::metadata(&path) {
            Ok(m) if m.is_dir() => Ok(Self(path)),
            Ok(_) => Err(format!("{} is not a directory", path.display())),
            Err(e) => Err(format!("cannot use directory {}: {e}", path.display())),
        }
    }
}

impl ExistingFile {
    fn parse(s: &str) -> Result<Self, String> {
        let path = context::resolve_path(s)?;
        match std::fs::metadata(&path) {
            Ok(m) if m.is_file() => Ok(Self(path)),
            Ok(_) => Err(format!("{} is not a regular file", path.display())),
            Err(e) => Err(format!("cannot use file {}: {e}", path.display())),
        }
    }
}

/// A column name of an EDM table: not empty.
struct ColumnName(String);

impl ColumnName {
    fn parse(s: &str) -> Result<Self, String> {
        if s.trim().is_empty() {
            return Err("column name must not be empty".into());
        }
        Ok(Self(s.to_owned()))
    }
}

deserialize_via_parse!(ExistingDir, "a directory path");
deserialize_via_parse!(ExistingFile, "a file path");
deserialize_via_parse!(ColumnName, "a column name");

fn deserialize_primary<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Vec<String>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a list of column names")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<String>, A::Error> {
            let mut columns = Vec::new();
            while let Some(ColumnName(c)) = seq.next_element()? {
                columns.push(c);
            }
            if columns.is_empty() {
                return Err(de::Error::custom("at least one primary column is needed"));
            }
            Ok(columns)
        }
    }
    deserializer.deserialize_seq(V)
}

fn deserialize_min_share<'de, D: Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
    struct V;
    impl V {
        fn check<E: de::Error>(v: f64) -> Result<f64, E> {
            if v > 0.0 && v <= 1.0 {
                Ok(v)
            } else {
                Err(E::custom(format!("must be greater than 0 and at most 1, got {v}")))
            }
        }
    }
    impl Visitor<'_> for V {
        type Value = f64;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a share between 0 and 1")
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<f64, E> {
            Self::check(v)
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<f64, E> {
            Self::check(v as f64)
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<f64, E> {
            Self::check(v as f64)
        }
    }
    deserializer.deserialize_f64(V)
}

/// Deserializes an unsigned integer and checks its range inside the visitor.
fn deserialize_in_range<'de, D: Deserializer<'de>>(
    deserializer: D,
    expecting: &'static str,
    min: u64,
    max: u64,
) -> Result<u64, D::Error> {
    struct V {
        expecting: &'static str,
        min: u64,
        max: u64,
    }
    impl Visitor<'_> for V {
        type Value = u64;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str(self.expecting)
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<u64, E> {
            if (self.min..=self.max).contains(&v) {
                Ok(v)
            } else {
                Err(E::custom(format!("must be between {} and {}, got {v}", self.min, self.max)))
            }
        }
    }
    deserializer.deserialize_u64(V { expecting, min, max })
}

fn deserialize_ttl<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    deserialize_in_range(deserializer, "a number of seconds", 1, MAX_TAINT_TTL_SECONDS)
}

fn deserialize_max_fingerprints<'de, D: Deserializer<'de>>(deserializer: D) -> Result<usize, D::Error> {
    let v = deserialize_in_range(deserializer, "a number of fingerprints", 1, MAX_MAX_FINGERPRINTS as u64)?;
    Ok(usize::try_from(v).unwrap_or(MAX_MAX_FINGERPRINTS))
}

fn deserialize_max_decode_depth<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u8, D::Error> {
    let v = deserialize_in_range(deserializer, "a decoding depth", 0, u64::from(MAX_MAX_DECODE_DEPTH))?;
    Ok(u8::try_from(v).unwrap_or(MAX_MAX_DECODE_DEPTH))
}
