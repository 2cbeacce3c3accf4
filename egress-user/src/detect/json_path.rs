//! A finding's JSON path, held inline when it is short.

use std::{fmt, ops::Deref};

use serde::Serialize;

/// Paths up to this many bytes are held inline: the paths of chat requests
/// (`$.messages[1234].content[0].text`) fit.
const INLINE: usize = 46;

/// A JSON path (`$.messages[3].content`). A payload can have thousands of findings, and a
/// string allocated and freed for each one's path cost about as much as finding them.
#[derive(Clone)]
pub struct JsonPath(Repr);

#[derive(Clone)]
enum Repr {
    Inline { len: u8, bytes: [u8; INLINE] },
    Heap(Box<str>),
}

impl JsonPath {
    pub fn new(path: &str) -> Self {
        if path.len() > INLINE {
            return Self(Repr::Heap(path.into()));
        }
        let mut bytes = [0; INLINE];
        bytes[..path.len()].copy_from_slice(path.as_bytes());
        Self(Repr::Inline { len: path.len() as u8, bytes })
    }

    pub fn as_str(&self) -> &str {
        match &self.0 {
            // SAFETY: the bytes are a copy of a `str`, whole.
            Repr::Inline { len, bytes } => unsafe { std::str::from_utf8_unchecked(&bytes[..usize::from(*len)]) },
            Repr::Heap(path) => path,
        }
    }
}

impl Deref for JsonPath {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl From<&str> for JsonPath {
    fn from(path: &str) -> Self {
        Self::new(path)
    }
}

impl PartialEq for JsonPath {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for JsonPath {}

impl fmt::Debug for JsonPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for JsonPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for JsonPath {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_of_every_length_read_back_whole() {
        // ASCII and multi-byte characters, across the inline limit.
        for len in 0..=2 * INLINE {
            for filler in ["a", "é", "…"] {
                let text: String = "$.".chars().chain(filler.chars().cycle()).take(len).collect();
                let path = JsonPath::new(&text);
                assert_eq!(path.as_str(), text);
                assert_eq!(&*path, text.as_str());
                assert_eq!(path, JsonPath::from(text.as_str()));
                assert_eq!(format!("{path}"), text);
                assert_eq!(format!("{path:?}"), format!("{text:?}"));
                assert_eq!(serde_json::to_string(&path).expect("json"), serde_json::to_string(&text).expect("json"));
            }
        }
        assert_ne!(JsonPath::new("$.a"), JsonPath::new("$.b"));
    }
}
