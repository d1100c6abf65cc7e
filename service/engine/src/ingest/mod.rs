//! Parsers: metadata documents in their original bytes -> [`ModelRecord`].
//!
//! Formats: Hugging Face model cards ([`hf_card`]), modelgate's native JSON record
//! ([`native`]), CycloneDX 1.5–1.7 ML-BOMs in JSON ([`cyclonedx`]), SPDX 3.0 JSON-LD with
//! the AI profile ([`spdx3`]) and Model Openness Framework YAML ([`mof`]). A document may
//! describe several models (a BOM with several model components); each becomes a record.

pub mod cyclonedx;
pub mod hf_card;
pub mod mof;
pub mod native;
pub mod spdx3;

use crate::record::ModelRecord;
use serde::Serialize;
use serde_json::Value;
use std::fmt;

/// The JSON Schemas the parsers check documents against: the native record, and the parts
/// of the other formats that the parsers read.
pub struct Schemas {
    pub model: jsonschema::Validator,
    pub cyclonedx: jsonschema::Validator,
    pub spdx3: jsonschema::Validator,
    pub mof: jsonschema::Validator,
}

/// Parses a document that describes one model. `format: None` (or
/// [`Format::Auto`]) detects it from the content. A document describing several
/// models is an error: use [`parse_all`].
pub fn parse(
    bytes: &[u8],
    format: Option<Format>,
    opts: &ParseOptions,
    schemas: &Schemas,
) -> Result<ModelRecord, IngestError> {
    let mut recs = parse_all(bytes, format, opts, schemas)?;
    if recs.len() == 1
        && let Some(rec) = recs.pop()
    {
        return Ok(rec);
    }
    let format = recs
        .first()
        .and_then(|r| Format::parse(&r.source_format))
        .unwrap_or(Format::Auto);
    let ids: Vec<&str> = recs.iter().map(|r| r.id.as_str()).collect();
    Err(IngestError::new(
        format,
        format!(
            "the document describes {} models ({}); evaluate each one: ingest::parse_all (Pack::parse_all), \
             or `modelgate check`, which gives one decision per model",
            recs.len(),
            ids.join(", ")
        ),
    )
    .expected("a document describing one model"))
}

/// Parses a document into one record per model it describes (a CycloneDX BOM or an
/// SPDX 3 document may describe several). `format: None` (or [`Format::Auto`])
/// detects the format from the content. Documents over `opts.max_bytes` are refused
/// before anything is parsed.
pub fn parse_all(
    bytes: &[u8],
    format: Option<Format>,
    opts: &ParseOptions,
    schemas: &Schemas,
) -> Result<Vec<ModelRecord>, IngestError> {
    let named = format.filter(|f| *f != Format::Auto);
    if bytes.len() as u64 > opts.max_bytes {
        return Err(IngestError::new(
            named.unwrap_or(Format::Auto),
            format!(
                "the document is {} bytes, over the limit of {} bytes",
                bytes.len(),
                opts.max_bytes
            ),
        )
        .expected(format!("a document of at most {} bytes", opts.max_bytes)));
    }
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(
            IngestError::new(named.unwrap_or(Format::Auto), "the document is empty")
                .expected(FORMATS_READ),
        );
    }
    let (format, value) = match named {
        Some(f) => (f, None),
        None => sniff(bytes)?,
    };
    let recs = match (format, value) {
        (Format::HfCard, _) => vec![hf_card::parse(bytes, opts)?],
        (Format::Native, Some(v)) => {
            vec![native::from_value(v, opts, &schemas.model)?]
        }
        (Format::Native, None) => vec![native::parse(bytes, opts, &schemas.model)?],
        (Format::Cyclonedx, Some(v)) => cyclonedx::from_value(v, opts, &schemas.cyclonedx)?,
        (Format::Cyclonedx, None) => cyclonedx::parse(bytes, opts, &schemas.cyclonedx)?,
        (Format::Spdx3, Some(v)) => spdx3::from_value(v, opts, &schemas.spdx3)?,
        (Format::Spdx3, None) => spdx3::parse(bytes, opts, &schemas.spdx3)?,
        (Format::Mof, _) => vec![mof::parse(bytes, opts, &schemas.mof)?],
        (Format::Auto, _) => {
            return Err(
                IngestError::new(Format::Auto, "the format could not be detected")
                    .expected(FORMATS_READ),
            );
        }
    };
    if recs.is_empty() {
        return Err(
            IngestError::new(format, "the document describes no model").expected(FORMATS_READ)
        );
    }
    for rec in &recs {
        check_id_length(format, &rec.id)?;
    }
    Ok(recs)
}

/// The longest model id, in characters: `model.schema.json`'s `maxLength`, and the longest
/// model reference the service stores.
pub const MAX_ID_CHARS: usize = 512;

/// Refuses an id (taken from the document's name for its model, or from the model
/// reference) longer than [`MAX_ID_CHARS`]: such a record would not be a valid native
/// record, nor a model reference.
fn check_id_length(format: Format, id: &str) -> Result<(), IngestError> {
    let n = id.chars().count();
    if n <= MAX_ID_CHARS {
        return Ok(());
    }
    let start: String = id.chars().take(40).collect();
    Err(IngestError::new(
        format,
        format!(
            "the model's id `{start}…` (from the document's name for the model, or from the \
             model reference) is {n} characters long; an id is at most {MAX_ID_CHARS}"
        ),
    )
    .expected(format!(
        "a model name of at most {MAX_ID_CHARS} characters, or a model reference that names the model"
    )))
}

/// Validates a native record given as a JSON value.
pub fn record_from_json(
    value: serde_json::Value,
    opts: &ParseOptions,
    schemas: &Schemas,
) -> Result<ModelRecord, IngestError> {
    native::from_value(value, opts, &schemas.model)
}

/// A metadata format modelgate reads. `Auto` stands for "detect from the content"; it is
/// also the format named by errors of detection itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    HfCard,
    Native,
    Cyclonedx,
    Spdx3,
    Mof,
    Auto,
}

/// What modelgate reads, for messages that list the formats.
pub const FORMATS_READ: &str = "a Hugging Face model card (hf-card: Markdown with optional YAML front matter), \
a CycloneDX 1.5, 1.6 or 1.7 ML-BOM in JSON (cyclonedx), an SPDX 3.0 JSON-LD document with the AI profile (spdx3), \
a Model Openness Framework YAML file (mof), or a modelgate model record in JSON (native)";

impl Format {
    /// The names accepted on the command line and in the API (`auto` aside).
    pub const NAMES: &'static [&'static str] = &["hf-card", "native", "cyclonedx", "spdx3", "mof"];

    pub fn as_str(self) -> &'static str {
        match self {
            Format::HfCard => "hf-card",
            Format::Native => "native",
            Format::Cyclonedx => "cyclonedx",
            Format::Spdx3 => "spdx3",
            Format::Mof => "mof",
            Format::Auto => "auto",
        }
    }

    /// A format name; `auto` gives [`Format::Auto`] (detect from the content).
    pub fn parse(s: &str) -> Option<Format> {
        match s {
            "hf-card" => Some(Format::HfCard),
            "native" => Some(Format::Native),
            "cyclonedx" => Some(Format::Cyclonedx),
            "spdx3" => Some(Format::Spdx3),
            "mof" => Some(Format::Mof),
            "auto" => Some(Format::Auto),
            _ => None,
        }
    }

    /// Detects the format from the content: a CycloneDX BOM in JSON (`bomFormat`), an
    /// SPDX 3 JSON-LD document (`@context` of SPDX 3), a native record (any other JSON
    /// object), a MOF YAML file (top-level `framework:` and `release:` keys), or else a
    /// Hugging Face model card (Markdown, optional front matter).
    ///
    /// Content modelgate does not read is an error that lists the formats it does: a JSON
    /// array or scalar, an XML document (CycloneDX XML, SPDX RDF/XML), SPDX 2.x JSON or
    /// tag-value, JSON-LD that is not SPDX 3, binary data.
    pub fn detect(bytes: &[u8]) -> Result<Format, IngestError> {
        sniff(bytes).map(|(f, _)| f)
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error of detection: `what` the content is, and the formats modelgate reads.
fn unsupported(what: &str) -> IngestError {
    IngestError::new(
        Format::Auto,
        format!("{what} is not a metadata format modelgate reads"),
    )
    .expected(FORMATS_READ)
}

/// Bytes skipped before the first meaningful character: whitespace and a UTF-8 BOM.
fn first_byte(bytes: &[u8]) -> Option<(usize, u8)> {
    bytes
        .iter()
        .copied()
        .enumerate()
        .find(|(_, b)| !(b.is_ascii_whitespace() || *b == 0xEF || *b == 0xBB || *b == 0xBF))
}

/// Detection. A JSON document that parses is returned with its value, so that it is not
/// parsed twice; one that does not parse is classified by its text, and the parser of
/// that format reports where it breaks.
pub(crate) fn sniff(bytes: &[u8]) -> Result<(Format, Option<Value>), IngestError> {
    // Binary: NUL bytes or invalid UTF-8.
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            let (line, column) = line_col(bytes, e.valid_up_to());
            return Err(
                unsupported("binary data (or text in an encoding other than UTF-8)")
                    .at_line(line, column),
            );
        }
    };
    if let Some(i) = bytes.iter().position(|&b| b == 0) {
        let (line, column) = line_col(bytes, i);
        return Err(unsupported("binary data (a NUL byte)").at_line(line, column));
    }
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let trimmed = text.trim_start();
    match first_byte(trimmed.as_bytes()).map(|(_, b)| b) {
        Some(b'{') => match serde_json::from_str::<Value>(trimmed) {
            Ok(v) => classify_json(&v).map(|f| (f, Some(v))),
            Err(_) => classify_broken_json(trimmed).map(|f| (f, None)),
        },
        Some(b'[') => match serde_json::from_str::<Value>(trimmed) {
            Ok(_) => Err(unsupported("a JSON array").at_line(1, 1)),
            // `[` also starts Markdown (`[![badge](...)](...)`): only what reads as a broken
            // JSON array is refused.
            Err(_) if looks_like_json_array(trimmed) => {
                Err(unsupported("a JSON array (and not even valid JSON)").at_line(1, 1))
            }
            Err(_) => Ok((Format::HfCard, None)),
        },
        Some(b'<') if is_xml(trimmed) => Err(unsupported(&xml_kind(trimmed)).at_line(1, 1)),
        _ => {
            if is_spdx2_tag_value(trimmed) {
                return Err(unsupported(
                    "an SPDX 2.x tag-value document (modelgate reads SPDX 3.0 JSON-LD)",
                ));
            }
            if is_json_scalar(trimmed) {
                return Err(unsupported("a JSON scalar (not an object)"));
            }
            if is_mof_yaml(trimmed) {
                return Ok((Format::Mof, None));
            }
            Ok((Format::HfCard, None))
        }
    }
}

fn classify_json(v: &Value) -> Result<Format, IngestError> {
    let Some(obj) = v.as_object() else {
        return Err(unsupported("a JSON value that is not an object"));
    };
    if obj.contains_key("bomFormat")
        || obj
            .get("$schema")
            .and_then(Value::as_str)
            .is_some_and(|s| s.contains("cyclonedx.org"))
    {
        return Ok(Format::Cyclonedx);
    }
    if obj.contains_key("@context") || obj.contains_key("@graph") {
        let ctx = obj
            .get("@context")
            .map(|c| c.to_string())
            .unwrap_or_default();
        if ctx.contains("spdx.org/rdf/3") {
            return Ok(Format::Spdx3);
        }
        return Err(unsupported(&format!(
            "a JSON-LD document whose @context ({}) is not SPDX 3.0",
            truncate(&ctx, 80)
        ))
        .at_pointer("/@context"));
    }
    if let Some(version) = obj.get("spdxVersion") {
        return Err(unsupported(&format!(
            "an SPDX 2.x JSON document (spdxVersion {version}; modelgate reads SPDX 3.0 JSON-LD)"
        ))
        .at_pointer("/spdxVersion"));
    }
    Ok(Format::Native)
}

/// A JSON object that does not parse: its format by the keys it mentions.
fn classify_broken_json(text: &str) -> Result<Format, IngestError> {
    if text.contains("\"bomFormat\"") {
        Ok(Format::Cyclonedx)
    } else if text.contains("\"@context\"") || text.contains("\"@graph\"") {
        if text.contains("spdx.org/rdf/3") {
            Ok(Format::Spdx3)
        } else {
            Err(unsupported("a JSON-LD document that is not SPDX 3.0"))
        }
    } else if text.contains("\"spdxVersion\"") {
        Err(unsupported(
            "an SPDX 2.x JSON document (modelgate reads SPDX 3.0 JSON-LD)",
        ))
    } else {
        Ok(Format::Native)
    }
}

fn looks_like_json_array(text: &str) -> bool {
    let after = text.get(1..).unwrap_or("").trim_start();
    matches!(after.as_bytes().first(), Some(b'{' | b'[' | b']' | b'"'))
}

fn is_json_scalar(text: &str) -> bool {
    let t = text.trim();
    (t.len() >= 2 && t.starts_with('"') && t.ends_with('"') && !t[1..t.len() - 1].contains('"'))
        || (t.starts_with(|c: char| c.is_ascii_digit() || c == '-')
            && t.parse::<f64>().is_ok_and(f64::is_finite))
        || matches!(t, "true" | "false" | "null")
}

fn is_xml(text: &str) -> bool {
    let head = text.get(..text.len().min(5)).unwrap_or("");
    head.eq_ignore_ascii_case("<?xml") || text.starts_with("<bom") || text.starts_with("<rdf:RDF")
}

fn xml_kind(text: &str) -> String {
    let head = text.get(..text.len().min(4096)).unwrap_or(text);
    if head.contains("cyclonedx.org/schema/bom") {
        "an XML CycloneDX BOM (modelgate reads CycloneDX JSON; convert it, e.g. `cyclonedx convert --output-format json`)".into()
    } else if head.contains("spdx.org") {
        "an SPDX RDF/XML document (modelgate reads SPDX 3.0 JSON-LD)".into()
    } else {
        "an XML document".into()
    }
}

fn is_spdx2_tag_value(text: &str) -> bool {
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .is_some_and(|l| l.starts_with("SPDXVersion:"))
}

/// A MOF YAML file: top-level `framework:` and `release:` keys, and not a card whose front
/// matter happens to hold them.
fn is_mof_yaml(text: &str) -> bool {
    let mut framework = false;
    let mut release = false;
    let mut fences = 0;
    for line in text.lines() {
        let t = line.trim_end();
        if t == "---" {
            fences += 1;
        }
        let key = |k: &str| {
            t.strip_prefix(k).is_some_and(|rest| {
                rest.is_empty() || rest.starts_with(' ') || rest.starts_with('#')
            })
        };
        framework |= key("framework:");
        release |= key("release:");
    }
    // A `---` that opens and another that closes make front matter: that is a card.
    framework && release && fences < 2
}

fn truncate(s: &str, n: usize) -> String {
    match s.char_indices().nth(n) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

/// At most about `n` characters of `s`: its start and its end around an ellipsis, so that
/// a schema message quoting a long value still ends with what is wrong with it.
fn shorten_middle(s: &str, n: usize) -> String {
    let len = s.chars().count();
    if len <= n {
        return s.to_string();
    }
    let head: String = s.chars().take(n * 2 / 3).collect();
    let tail: String = s.chars().skip(len - n / 3).collect();
    format!("{head}…{tail}")
}

/// Line and column (1-based) of a byte offset.
pub(crate) fn line_col(bytes: &[u8], offset: usize) -> (usize, usize) {
    let before = bytes.get(..offset).unwrap_or(bytes);
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let column = before.iter().rev().take_while(|&&b| b != b'\n').count() + 1;
    (line, column)
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

/// Default limit on the size of a document: 10 MiB.
pub const DEFAULT_MAX_BYTES: u64 = 10 * 1024 * 1024;

/// What the caller knows besides the document.
#[derive(Debug, Clone)]
pub struct ParseOptions {
    /// `hf:<org>/<name>[@<revision>]` or `<name>@<version>`; names the model when the
    /// document does not.
    pub model_ref: Option<String>,
    /// Documents larger than this are refused before parsing.
    pub max_bytes: u64,
}

impl Default for ParseOptions {
    fn default() -> ParseOptions {
        ParseOptions {
            model_ref: None,
            max_bytes: DEFAULT_MAX_BYTES,
        }
    }
}

impl ParseOptions {
    /// Default options naming the model.
    pub fn with_model_ref(model_ref: impl Into<String>) -> ParseOptions {
        ParseOptions {
            model_ref: Some(model_ref.into()),
            ..ParseOptions::default()
        }
    }
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
        let (line, column) = line_col(bytes, e.valid_up_to());
        IngestError::new(format, "the document is not valid UTF-8")
            .at_line(line, column)
            .expected("UTF-8 text")
    })
}

/// Parses JSON text, reporting syntax errors (a trailing comma, say) by line and column.
pub(crate) fn parse_json(format: Format, bytes: &[u8], what: &str) -> Result<Value, IngestError> {
    let text = utf8(format, bytes)?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    serde_json::from_str(text).map_err(|e| {
        IngestError::new(
            format,
            format!("invalid JSON: {}", strip_location(&e.to_string())),
        )
        .at_line(e.line().max(1), e.column().max(1))
        .expected(what.to_string())
    })
}

/// Validates a parsed document against one of the pack's format schemas; the first
/// violation is reported with its JSON pointer.
pub(crate) fn validate(
    format: Format,
    value: &Value,
    schema: &jsonschema::Validator,
    what: &str,
) -> Result<(), IngestError> {
    match schema.iter_errors(value).next() {
        None => Ok(()),
        Some(err) => {
            let pointer = err.instance_path().to_string();
            Err(
                IngestError::new(format, shorten_middle(&err.to_string(), 300))
                    .at_pointer(if pointer.is_empty() {
                        "/".to_string()
                    } else {
                        pointer
                    })
                    .expected(what.to_string()),
            )
        }
    }
}

/// A trimmed, non-empty string value.
pub(crate) fn text_of(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// How much prose (descriptions) a record keeps for lineage inference.
pub(crate) const PROSE_LIMIT: usize = 64 * 1024;

/// Appends a paragraph to a record's prose, up to [`PROSE_LIMIT`].
pub(crate) fn add_prose(rec: &mut ModelRecord, text: &str) {
    if rec.prose.len() >= PROSE_LIMIT || text.trim().is_empty() {
        return;
    }
    if !rec.prose.is_empty() {
        rec.prose.push_str("\n\n");
    }
    let room = PROSE_LIMIT - rec.prose.len().min(PROSE_LIMIT);
    let mut end = text.len().min(room);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    rec.prose.push_str(&text[..end]);
}

/// A Hugging Face model id from a purl, a Hub URL or an `org/name` string:
/// `pkg:huggingface/org/name@rev` -> (`org/name`, `rev`),
/// `https://huggingface.co/org/name/tree/rev` -> (`org/name`, `rev`).
pub(crate) fn hf_id(s: &str) -> Option<(String, Option<String>)> {
    let s = s.trim();
    if let Some(p) = purl(s) {
        if p.ty.eq_ignore_ascii_case("huggingface") {
            let id = match &p.namespace {
                Some(ns) => format!("{ns}/{}", p.name),
                None => p.name.clone(),
            };
            return Some((id, p.version));
        }
        return None;
    }
    let rest = s
        .strip_prefix("https://huggingface.co/")
        .or_else(|| s.strip_prefix("http://huggingface.co/"))
        .or_else(|| s.strip_prefix("https://www.huggingface.co/"))?;
    let rest = rest.split(['?', '#']).next().unwrap_or("");
    let mut parts = rest.split('/').filter(|p| !p.is_empty());
    let first = parts.next()?;
    if matches!(first, "datasets" | "spaces") {
        return None;
    }
    let id = match parts.next() {
        Some(second) if !matches!(second, "tree" | "blob" | "resolve") => {
            format!("{first}/{second}")
        }
        _ => first.to_string(),
    };
    let rev = match (parts.next(), parts.next()) {
        (Some("tree" | "blob" | "resolve"), Some(r)) => Some(r.to_string()),
        _ => None,
    };
    Some((id, rev))
}

/// A package URL (`pkg:type/namespace/name@version?qualifiers#subpath`), percent-decoded.
pub(crate) struct Purl {
    pub ty: String,
    pub namespace: Option<String>,
    pub name: String,
    pub version: Option<String>,
}

pub(crate) fn purl(s: &str) -> Option<Purl> {
    let rest = s.trim().strip_prefix("pkg:")?;
    let rest = rest.trim_start_matches('/');
    let rest = rest.split('#').next().unwrap_or("");
    let rest = rest.split('?').next().unwrap_or("");
    let (path, version) = match rest.rsplit_once('@') {
        Some((p, v)) if !v.is_empty() => (p, Some(percent_decode(v))),
        Some((p, _)) => (p, None),
        None => (rest, None),
    };
    let mut segs: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    if segs.len() < 2 {
        return None;
    }
    let ty = segs.remove(0).to_string();
    let name = percent_decode(segs.pop()?);
    let namespace = (!segs.is_empty()).then(|| {
        segs.iter()
            .map(|s| percent_decode(s))
            .collect::<Vec<_>>()
            .join("/")
    });
    (!name.is_empty()).then_some(Purl {
        ty,
        namespace,
        name,
        version,
    })
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && let (Some(h), Some(l)) = (
                b.get(i + 1).and_then(|c| (*c as char).to_digit(16)),
                b.get(i + 2).and_then(|c| (*c as char).to_digit(16)),
            )
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Input/output modalities from free-text data formats (`string`, `image/png`, `audio`...).
pub(crate) fn modality_of_format(f: &str) -> Option<&'static str> {
    let f = f.to_ascii_lowercase();
    let has = |ws: &[&str]| ws.iter().any(|w| f.contains(w));
    if has(&["image", "png", "jpeg", "jpg", "pixel", "picture", "photo"]) {
        Some("image")
    } else if has(&["video", "mp4"]) {
        Some("video")
    } else if has(&["audio", "speech", "wav", "mp3", "flac", "sound"]) {
        Some("audio")
    } else if has(&["string", "text", "token", "prompt", "char", "json"]) {
        Some("text")
    } else {
        None
    }
}

/// Applies the caller's model reference to a record that the document does not name.
pub(crate) fn fill_from_model_ref(rec: &mut ModelRecord, opts: &ParseOptions) {
    if let Some(r) = &opts.model_ref
        && rec.id.trim().is_empty()
    {
        let (id, rev) = split_model_ref(r);
        rec.id = id;
        if rec.revision.is_none() {
            rec.revision = rev;
        }
    }
    if rec.id.trim().is_empty() {
        rec.id = "unnamed-model".to_string();
    }
}

pub(crate) type ParseResult = Result<ModelRecord, IngestError>;
pub(crate) type ParseAllResult = Result<Vec<ModelRecord>, IngestError>;

/// Drops the " at line N column M" suffix of a parser message (the location is reported
/// separately).
pub(crate) fn strip_location(s: &str) -> String {
    match s.find(" at line ") {
        Some(i) => s[..i].to_string(),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hugging_face_ids_from_purls_and_urls() {
        let id = hf_id;
        assert_eq!(
            id("pkg:huggingface/meta-llama/Llama-3.1-8B@d04e592"),
            Some(("meta-llama/Llama-3.1-8B".into(), Some("d04e592".into())))
        );
        assert_eq!(id("pkg:huggingface/gpt2"), Some(("gpt2".into(), None)));
        assert_eq!(
            id("pkg:huggingface/acme/m%40x@v1?download_url=x#sub"),
            Some(("acme/m@x".into(), Some("v1".into())))
        );
        assert_eq!(id("pkg:pypi/torch@2.0"), None);
        assert_eq!(
            id("https://huggingface.co/org/name/tree/abc123"),
            Some(("org/name".into(), Some("abc123".into())))
        );
        assert_eq!(
            id("https://huggingface.co/org/name?x=1"),
            Some(("org/name".into(), None))
        );
        assert_eq!(id("https://huggingface.co/datasets/org/d"), None);
        assert_eq!(id("https://example.com/org/name"), None);
        assert_eq!(id("pkg:"), None);
        assert_eq!(id("pkg:huggingface/"), None);
    }

    #[test]
    fn purls_are_percent_decoded() {
        let p = purl("pkg:generic/acme/a%20b@1%2B2").unwrap();
        assert_eq!(p.ty, "generic");
        assert_eq!(p.namespace.as_deref(), Some("acme"));
        assert_eq!(p.name, "a b");
        assert_eq!(p.version.as_deref(), Some("1+2"));
        assert_eq!(purl("pkg:generic/x%").unwrap().name, "x%");
    }

    #[test]
    fn modalities_of_data_formats() {
        assert_eq!(modality_of_format("string"), Some("text"));
        assert_eq!(modality_of_format("image/png"), Some("image"));
        assert_eq!(modality_of_format("audio/wav"), Some("audio"));
        assert_eq!(modality_of_format("byte[]"), None);
    }

    #[test]
    fn json_scalars_are_not_cards_but_words_are() {
        assert!(is_json_scalar("42"));
        assert!(is_json_scalar("-1.5e3"));
        assert!(is_json_scalar("\"x\""));
        assert!(!is_json_scalar("inf"));
        assert!(!is_json_scalar("NaN"));
        assert!(!is_json_scalar("# 42"));
    }
}
