//! Parsers: metadata documents in their original bytes -> [`ModelRecord`].

pub mod hf_card;
pub mod native;

use crate::record::ModelRecord;
use serde::Serialize;
use std::fmt;

/// A metadata format modelgate reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    HfCard,
    Native,
}

impl Format {
    /// The names accepted on the command line and in the API (`auto` aside).
    pub const NAMES: &'static [&'static str] = &["hf-card", "native"];

    pub fn as_str(self) -> &'static str {
        match self {
            Format::HfCard => "hf-card",
            Format::Native => "native",
        }
    }

    pub fn parse(s: &str) -> Option<Format> {
        match s {
            "hf-card" => Some(Format::HfCard),
            "native" => Some(Format::Native),
            _ => None,
        }
    }

    /// Detects the format from the content: JSON objects are native records,
    /// anything else is read as a Hugging Face model card (Markdown, optional front matter).
    pub fn detect(bytes: &[u8]) -> Format {
        let first = bytes
            .iter()
            .copied()
            .find(|b| !(b.is_ascii_whitespace() || *b == 0xEF || *b == 0xBB || *b == 0xBF));
        match first {
            Some(b'{') => Format::Native,
            _ => Format::HfCard,
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where in the document a problem is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Location {
    LineColumn { line: usize, column: usize },
    Pointer { pointer: String },
}

/// Malformed input: the format, where, what was wrong and what was expected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
pub struct IngestError {
    pub format: Format,
    pub location: Option<Location>,
    pub message: String,
    pub expected: Option<String>,
}

impl fmt::Display for IngestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.format)?;
        match &self.location {
            Some(Location::LineColumn { line, column }) => {
                write!(f, "line {line}, column {column}: ")?
            }
            Some(Location::Pointer { pointer }) => write!(f, "at {pointer}: ")?,
            None => {}
        }
        f.write_str(&self.message)?;
        if let Some(e) = &self.expected {
            write!(f, " (expected {e})")?;
        }
        Ok(())
    }
}

impl IngestError {
    pub fn new(format: Format, message: impl Into<String>) -> IngestError {
        IngestError {
            format,
            location: None,
            message: message.into(),
            expected: None,
        }
    }
    pub fn at_line(mut self, line: usize, column: usize) -> IngestError {
        self.location = Some(Location::LineColumn { line, column });
        self
    }
    pub fn at_pointer(mut self, pointer: impl Into<String>) -> IngestError {
        self.location = Some(Location::Pointer {
            pointer: pointer.into(),
        });
        self
    }
    pub fn expected(mut self, e: impl Into<String>) -> IngestError {
        self.expected = Some(e.into());
        self
    }
}

/// What the caller knows besides the document.
#[derive(Debug, Clone, Default)]
pub struct ParseOptions {
    /// `hf:<org>/<name>[@<revision>]` or `<name>@<version>`; names the model when the
    /// document does not.
    pub model_ref: Option<String>,
}

/// Splits a model reference into id and revision: `hf:org/name@rev` -> (`org/name`, `rev`).
pub fn split_model_ref(r: &str) -> (String, Option<String>) {
    let r = r.trim();
    let r = r.strip_prefix("hf:").unwrap_or(r);
    match r.rsplit_once('@') {
        Some((id, rev)) if !id.is_empty() && !rev.is_empty() => {
            (id.to_string(), Some(rev.to_string()))
        }
        _ => (r.to_string(), None),
    }
}

/// Decodes UTF-8, reporting the line and column of the first invalid byte.
pub(crate) fn utf8(format: Format, bytes: &[u8]) -> Result<&str, IngestError> {
    std::str::from_utf8(bytes).map_err(|e| {
        let valid = &bytes[..e.valid_up_to()];
        let line = valid.iter().filter(|&&b| b == b'\n').count() + 1;
        let column = valid.iter().rev().take_while(|&&b| b != b'\n').count() + 1;
        IngestError::new(format, "the document is not valid UTF-8")
            .at_line(line, column)
            .expected("UTF-8 text")
    })
}

pub(crate) type ParseResult = Result<ModelRecord, IngestError>;

/// Drops the " at line N column M" suffix of a parser message (the location is reported
/// separately).
pub(crate) fn strip_location(s: &str) -> String {
    match s.find(" at line ") {
        Some(i) => s[..i].to_string(),
        None => s.to_string(),
    }
}
