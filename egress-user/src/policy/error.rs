//! Policy errors carrying file, line, column and key path.

use std::fmt;

/// An error in a policy file, displayed as `file:line:column: path: message` (the `path: `
/// part is left out when the error concerns the document as a whole). Lines and columns are
/// 1-based; an error the YAML parser could not place is reported at 1:1.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    /// Key path such as `tools[1].action`; empty for the document root.
    pub path: String,
    pub message: String,
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: ", self.file, self.line, self.column)?;
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for PolicyError {}

impl PolicyError {
    /// Converts a `serde_yaml_ng` error. Its `Display` is `PATH: MESSAGE at line L column C`
    /// (no `PATH: ` at the root); the location comes from `Error::location`, and path and
    /// message are split back out of the text.
    pub(super) fn from_yaml(file: &str, text: &str, err: &serde_yaml_ng::Error) -> Self {
        let (line, column) = err.location().map_or((1, 1), |l| (l.line().max(1), l.column().max(1)));
        let mut full = err.to_string();
        let suffix = format!(" at line {line} column {column}");
        if let Some(i) = full.find(&suffix) {
            full.replace_range(i..i + suffix.len(), "");
        }
        let (path, message) = split_path(&full);
        if let Some((key, message)) = message.strip_prefix(KEY_MARK).and_then(|rest| rest.split_once(KEY_MARK)) {
            // An error about a mapping key (see `at_key`): serde_yaml_ng reports it with the
            // mapping's path; name the key.
            return PolicyError {
                file: file.to_owned(),
                line,
                column,
                path: join_path(path, key),
                message: message.to_owned(),
            };
        }
        let mut error =
            PolicyError { file: file.to_owned(), line, column, path: path.to_owned(), message: message.to_owned() };
        // serde names the key in the message but reports the enclosing mapping's path; make
        // the path name the key itself.
        for prefix in ["unknown field `", "missing field `", "duplicate field `"] {
            if let Some(key) = message.strip_prefix(prefix).and_then(|rest| rest.split_once('`')).map(|(key, _)| key) {
                error.path = join_path(path, key);
                if prefix == "duplicate field `" {
                    // Reported at the start of the mapping; point at the second occurrence.
                    if let Some((l, c)) = find_second_key(text, line, column, key) {
                        error.line = l;
                        error.column = c;
                    }
                }
                break;
            }
        }
        error
    }
}

/// Marks the key an error message is about; see [`at_key`].
const KEY_MARK: char = '\u{1f}';

/// The message of an error raised while deserializing a mapping key. serde_yaml_ng places
/// the error at the key but gives the mapping's path; [`PolicyError::from_yaml`] takes the
/// key back out of the message and adds it to the path.
pub(super) fn at_key(key: &str, message: impl fmt::Display) -> String {
    let key = key.replace(KEY_MARK, "?");
    format!("{KEY_MARK}{key}{KEY_MARK}{message}")
}

fn split_path(full: &str) -> (&str, &str) {
    if let Some((path, message)) = full.split_once(": ") {
        let is_path = !path.is_empty()
            && path.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '[' | ']' | '?'));
        if is_path {
            return (path, message);
        }
    }
    ("", full)
}

pub(super) fn join_path(parent: &str, key: &str) -> String {
    if parent.is_empty() { key.to_owned() } else { format!("{parent}.{key}") }
}

/// Best-effort search for the second occurrence of mapping key `key`, starting at the
/// mapping's position (1-based `line`/`column`). The second occurrence must sit at the same
/// column as the first (block style) or on the same line (flow style); the search stops
/// where a block mapping ends (a content line indented left of the mapping).
fn find_second_key(text: &str, line: usize, column: usize, key: &str) -> Option<(usize, usize)> {
    let mut first: Option<(usize, usize)> = None;
    for (idx, line_text) in text.lines().enumerate().skip(line.saturating_sub(1)) {
        let line_no = idx + 1;
        let chars: Vec<char> = line_text.chars().collect();
        let indent = chars.iter().take_while(|c| **c == ' ').count();
        let content = &chars[indent..];
        if line_no > line && !content.is_empty() && content[0] != '#' && indent + 1 < column {
            break;
        }
        let from = if line_no == line { column - 1 } else { 0 };
        for col0 in key_positions(&chars, from, key) {
            match first {
                None => first = Some((line_no, col0 + 1)),
                Some((first_line, first_col)) => {
                    if first_line == line_no || first_col == col0 + 1 {
                        return Some((line_no, col0 + 1));
                    }
                }
            }
        }
    }
    None
}

/// Character columns (0-based) in `chars` at or after `from` where `key` (plain or quoted)
/// stands as a mapping key: after start, whitespace, `{` or `,`, and followed by `:`.
fn key_positions(chars: &[char], from: usize, key: &str) -> Vec<usize> {
    let key: Vec<char> = key.chars().collect();
    let mut found = Vec::new();
    let mut i = from;
    while i < chars.len() {
        if chars[i] == '#' && (i == 0 || chars[i - 1].is_whitespace()) {
            break; // comment
        }
        let boundary = i == 0 || matches!(chars[i - 1], ' ' | '\t' | '{' | ',');
        if boundary {
            for quote in [None, Some('"'), Some('\'')] {
                let mut j = i;
                if let Some(q) = quote {
                    if chars.get(j) != Some(&q) {
                        continue;
                    }
                    j += 1;
                }
                if chars.get(j..j + key.len()) != Some(&key[..]) {
                    continue;
                }
                j += key.len();
                if let Some(q) = quote {
                    if chars.get(j) != Some(&q) {
                        continue;
                    }
                    j += 1;
                }
                while chars.get(j) == Some(&' ') {
                    j += 1;
                }
                if chars.get(j) == Some(&':') && chars.get(j + 1).is_none_or(|c| c.is_whitespace()) {
                    found.push(i);
                    break;
                }
            }
        }
        i += 1;
    }
    found
}
