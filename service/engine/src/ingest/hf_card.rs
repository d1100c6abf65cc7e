//! Hugging Face model cards: `README.md` with optional YAML front matter.

use super::{
    Format, IngestError, ParseOptions, ParseResult, split_model_ref, strip_location, utf8,
};
use crate::record::{
    BaseModelRef, DatasetRef, DeclaredLicense, EvalResult, LicenseScope, ModelRecord, Relation,
};
use aho_corasick::AhoCorasick;
use serde_json::{Map, Value};
use std::sync::OnceLock;

const F: Format = Format::HfCard;
/// How much prose is kept for lineage inference.
const PROSE_LIMIT: usize = 64 * 1024;
/// How much of the licence sections is kept (evidence of conflicting declarations).
const LICENSE_TEXT_LIMIT: usize = 4 * 1024;

pub fn parse(bytes: &[u8], opts: &ParseOptions) -> ParseResult {
    let text = utf8(F, bytes)?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let Split { front, body } = split_front_matter(text)?;
    let meta = match front {
        Some((yaml, first_line)) => parse_yaml(yaml, first_line)?,
        None => Map::new(),
    };
    let mut rec = ModelRecord {
        source_format: F.as_str().to_string(),
        ..ModelRecord::default()
    };
    read_meta(&meta, &mut rec)?;
    let title = read_body(body, &mut rec);
    name_record(&meta, title, opts, &mut rec);
    Ok(rec)
}

/// A card split into its front matter (YAML text and its first line number) and body.
struct Split<'a> {
    front: Option<(&'a str, usize)>,
    body: &'a str,
}

/// Splits off the front matter. Blank lines before the opening `---` are tolerated.
fn split_front_matter(text: &str) -> Result<Split<'_>, IngestError> {
    let mut offset = 0;
    let mut line_no = 1;
    for line in text.split_inclusive('\n') {
        if line.trim().is_empty() {
            offset += line.len();
            line_no += 1;
            continue;
        }
        if line.trim_end() != "---" {
            return Ok(Split {
                front: None,
                body: text,
            });
        }
        let start = offset + line.len();
        let open_line = line_no;
        let mut pos = start;
        let rest = text.get(start..).unwrap_or("");
        for inner in rest.split_inclusive('\n') {
            let t = inner.trim_end();
            if t == "---" || t == "..." {
                let yaml = text.get(start..pos).unwrap_or("");
                let body = text.get(pos + inner.len()..).unwrap_or("");
                return Ok(Split {
                    front: Some((yaml, open_line + 1)),
                    body,
                });
            }
            pos += inner.len();
        }
        return Err(IngestError::new(
            F,
            format!("front matter opened by `---` on line {open_line} is never closed"),
        )
        .at_line(open_line, 1)
        .expected("a closing `---` line after the YAML metadata"));
    }
    Ok(Split {
        front: None,
        body: text,
    })
}

fn parse_yaml(yaml: &str, first_line: usize) -> Result<Map<String, Value>, IngestError> {
    let value: Value = serde_norway::from_str(yaml).map_err(|e| {
        let (line, column) = e
            .location()
            .map(|l| (l.line() + first_line - 1, l.column()))
            .unwrap_or((first_line, 1));
        IngestError::new(
            F,
            format!(
                "invalid YAML front matter: {}",
                strip_location(&e.to_string())
            ),
        )
        .at_line(line, column)
        .expected("YAML key: value metadata between `---` lines")
    })?;
    match value {
        Value::Object(m) => Ok(m),
        Value::Null => Ok(Map::new()),
        other => Err(IngestError::new(
            F,
            format!("front matter is a {}, not a mapping", kind(&other)),
        )
        .at_line(first_line, 1)
        .expected("a mapping of metadata keys (license, base_model, tags, ...)")),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        Value::Object(_) => "mapping",
    }
}

/// A scalar as a string (numbers and booleans too); `None` for null or empty.
fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A string or a list of scalars, as a list. A mapping is an error naming the key.
fn string_list(meta: &Map<String, Value>, key: &str) -> Result<Vec<String>, IngestError> {
    match meta.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => Ok(items.iter().filter_map(scalar).collect()),
        Some(Value::Object(_)) => Err(IngestError::new(F, format!("`{key}` is a mapping"))
            .at_pointer(format!("/{key}"))
            .expected("a string or a list of strings")),
        Some(v) => Ok(scalar(v).into_iter().collect()),
    }
}

fn string(meta: &Map<String, Value>, key: &str) -> Option<String> {
    meta.get(key).and_then(scalar)
}

fn read_meta(meta: &Map<String, Value>, rec: &mut ModelRecord) -> Result<(), IngestError> {
    // Licences.
    let values = string_list(meta, "license")?;
    let name = string(meta, "license_name");
    let link = string(meta, "license_link");
    let many = values.len() > 1;
    for (i, v) in values.iter().enumerate() {
        let is_other = v.eq_ignore_ascii_case("other");
        rec.licenses.push(DeclaredLicense {
            value: v.clone(),
            license_name: if is_other { name.clone() } else { None },
            license_link: link.clone(),
            scope: LicenseScope::Whole,
            source: Some(if many {
                format!("/license/{i}")
            } else {
                "/license".to_string()
            }),
        });
    }
    // `license_name` beside a licence other than `other` is a second declaration.
    if let Some(n) = &name {
        let declared_other = values.iter().any(|v| v.eq_ignore_ascii_case("other"));
        if !declared_other {
            rec.licenses.push(DeclaredLicense {
                value: n.clone(),
                license_name: None,
                license_link: link.clone(),
                scope: LicenseScope::Whole,
                source: Some("/license_name".to_string()),
            });
        }
    }
    if !rec.licenses.is_empty() {
        rec.note("licenses", F.as_str(), "/license");
    }
    if let Some(l) = &link
        && !l.contains("://")
    {
        rec.files.push(l.trim_start_matches("./").to_string());
    }

    // Lineage.
    let bases = string_list(meta, "base_model")?;
    let relation = string(meta, "base_model_relation").map(|r| Relation::parse(&r));
    let tags = string_list(meta, "tags")?;
    let quantized = meta.contains_key("quantized_by")
        || tags.iter().any(|t| {
            matches!(
                t.to_ascii_lowercase().as_str(),
                "gguf" | "gptq" | "awq" | "quantized"
            )
        });
    let relation = relation.unwrap_or(if bases.len() > 1 {
        Relation::Merge
    } else if quantized {
        Relation::Quantized
    } else if tags
        .iter()
        .any(|t| t.eq_ignore_ascii_case("lora") || t.eq_ignore_ascii_case("peft"))
    {
        Relation::Adapter
    } else {
        Relation::Finetune
    });
    for b in bases {
        let (id, _) = split_model_ref(&b);
        rec.base_models.push(BaseModelRef { id, relation });
    }
    if !rec.base_models.is_empty() {
        rec.note("base_models", F.as_str(), "/base_model");
    }

    for d in string_list(meta, "datasets")? {
        rec.datasets.push(DatasetRef {
            id: d,
            license: None,
            sensitive_data: false,
        });
    }
    if !rec.datasets.is_empty() {
        rec.note("datasets", F.as_str(), "/datasets");
    }
    rec.languages = string_list(meta, "language")?;
    rec.task = string(meta, "pipeline_tag");
    if rec.task.is_some() {
        rec.note("task", F.as_str(), "/pipeline_tag");
    }
    rec.library = string(meta, "library_name");
    rec.architecture = string(meta, "model_type");
    rec.tags = tags;
    if !rec.tags.is_empty() {
        rec.note("tags", F.as_str(), "/tags");
    }
    let (mi, mo) = modalities(rec.task.as_deref(), &rec.tags);
    rec.modalities_in = mi;
    rec.modalities_out = mo;

    // Gating.
    let gated = match meta.get("gated") {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => !matches!(s.as_str(), "false" | "no" | ""),
        _ => false,
    };
    rec.gating.gated = gated || meta.keys().any(|k| k.starts_with("extra_gated_"));
    rec.gating.eu_disallowed = matches!(
        meta.get("extra_gated_eu_disallowed"),
        Some(Value::Bool(true))
    );
    if let Some(Value::Object(fields)) = meta.get("extra_gated_fields") {
        rec.gating.fields = fields.keys().cloned().collect();
    }
    if rec.gating.gated {
        rec.note("gating", F.as_str(), "/extra_gated_prompt");
    }

    // Evaluation results (model-index).
    if let Some(Value::Array(models)) = meta.get("model-index") {
        for m in models {
            let results = m.get("results").and_then(Value::as_array);
            for r in results.into_iter().flatten() {
                let task = r.pointer("/task/type").and_then(scalar);
                let dataset = r
                    .pointer("/dataset/name")
                    .or_else(|| r.pointer("/dataset/type"))
                    .and_then(scalar);
                for metric in r
                    .get("metrics")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    rec.eval_results.push(EvalResult {
                        task: task.clone(),
                        dataset: dataset.clone(),
                        metric: metric.get("type").and_then(scalar),
                        value: metric.get("value").and_then(Value::as_f64),
                        verified: metric.get("verifyToken").and_then(scalar).is_some(),
                    });
                }
            }
        }
        rec.note("eval_results", F.as_str(), "/model-index");
    }
    if !rec.eval_results.is_empty() {
        rec.sections.evaluation = true;
    }
    if meta.contains_key("co2_eq_emissions") {
        rec.sections.environmental_impact = true;
    }
    Ok(())
}

/// Input and output modalities from the pipeline tag (and tags as a fallback).
fn modalities(task: Option<&str>, tags: &[String]) -> (Vec<String>, Vec<String>) {
    let v = |xs: &[&str]| xs.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let task = task.map(str::to_ascii_lowercase).or_else(|| {
        tags.iter()
            .map(|t| t.to_ascii_lowercase())
            .find(|t| modality_of(t).is_some())
    });
    match task.as_deref().and_then(modality_of) {
        Some((i, o)) => (v(i), v(o)),
        None => (Vec::new(), Vec::new()),
    }
}

pub(crate) fn modality_of(
    task: &str,
) -> Option<(&'static [&'static str], &'static [&'static str])> {
    const T: &[&str] = &["text"];
    const I: &[&str] = &["image"];
    const TI: &[&str] = &["text", "image"];
    const A: &[&str] = &["audio"];
    const V: &[&str] = &["video"];
    Some(match task {
        "text-generation"
        | "text2text-generation"
        | "conversational"
        | "summarization"
        | "translation"
        | "question-answering"
        | "fill-mask"
        | "text-classification"
        | "token-classification"
        | "feature-extraction"
        | "sentence-similarity"
        | "zero-shot-classification"
        | "table-question-answering"
        | "causal-lm" => (T, T),
        "text-to-image" => (T, I),
        "image-to-image" => (I, I),
        "image-to-text" | "image-classification" | "object-detection" | "image-segmentation" => {
            (I, T)
        }
        "image-text-to-text" | "visual-question-answering" | "document-question-answering" => {
            (TI, T)
        }
        "text-to-speech" | "text-to-audio" => (T, A),
        "automatic-speech-recognition" | "audio-classification" => (A, T),
        "text-to-video" => (T, V),
        "image-to-video" => (I, V),
        _ => return None,
    })
}

/// Card sections from Markdown headings (ATX `#` and setext), outside code fences,
/// the text of the licence sections, the title (the first level-1 heading), and the
/// prose kept for lineage inference.
fn read_body(body: &str, rec: &mut ModelRecord) -> Option<String> {
    let mut fence: Option<&str> = None;
    let mut prev: Option<&str> = None;
    let mut title: Option<String> = None;
    // Inside a licence section (until the next heading).
    let mut in_license = false;
    let mut license = String::new();
    // The licence text's length before the previous line was added to it, when it was.
    let mut before_prev: Option<usize> = None;
    for line in body.lines() {
        let t = line.trim_start();
        let mut added = None;
        let in_fence = if let Some(f) = fence {
            if t.starts_with(f) {
                fence = None;
            }
            true
        } else if let Some(f) = ["```", "~~~"].into_iter().find(|f| t.starts_with(f)) {
            fence = Some(f);
            true
        } else {
            false
        };
        if in_fence {
            // No setext heading underlines a fenced line.
            prev = None;
            before_prev = None;
            continue;
        }
        let heading = if let Some(h) = t.strip_prefix('#') {
            let level1 = !h.starts_with('#');
            let h = h.trim_start_matches('#');
            (h.is_empty() || h.starts_with(' ')).then_some((h, level1, false))
        } else if !t.is_empty() && (t.bytes().all(|b| b == b'=') || t.bytes().all(|b| b == b'-')) {
            // A setext heading underlines the previous line; that line was taken as text.
            prev.map(|p| (p, t.starts_with('='), true))
        } else {
            html_heading(t).map(|h| {
                (
                    h,
                    t.get(..3).is_some_and(|x| x.eq_ignore_ascii_case("<h1")),
                    false,
                )
            })
        };
        if let Some((h, level1, setext)) = heading {
            classify_heading(h, &mut rec.sections);
            if let Some(keep) = before_prev.filter(|_| setext) {
                // The underlined line is the new heading, not licence text.
                license.truncate(keep);
            }
            in_license = is_license_heading(h);
            if level1 && title.is_none() {
                let c = clean_heading(h);
                if !c.is_empty() {
                    title = Some(c);
                }
            }
        } else if in_license
            && !t.is_empty()
            && !t.bytes().all(|b| b == b'-')
            && license.len() < LICENSE_TEXT_LIMIT
        {
            // (A line of dashes under no text is a thematic break, not licence text.)
            added = Some(license.len());
            license.push_str(t.trim_end());
            license.push('\n');
        }
        before_prev = added;
        prev = if t.is_empty() { None } else { Some(t) };
    }
    if !license.trim().is_empty() {
        let mut end = license.len().min(LICENSE_TEXT_LIMIT);
        while !license.is_char_boundary(end) {
            end -= 1;
        }
        license.truncate(end);
        rec.license_text = Some(license.trim_end().to_string());
        rec.note("license_text", F.as_str(), "/body (licence section)");
    }
    let mut end = body.len().min(PROSE_LIMIT);
    while !body.is_char_boundary(end) {
        end -= 1;
    }
    rec.prose = body.get(..end).unwrap_or("").to_string();
    title
}

/// A heading that opens a licence section ("License", "Licence", "Licensing", "Terms of
/// use"); not a longer heading that only mentions licences in passing.
fn is_license_heading(h: &str) -> bool {
    let contains = |needle: &str| {
        h.as_bytes()
            .windows(needle.len())
            .any(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
    };
    h.trim().len() <= 60 && (contains("licen") || contains("terms of use"))
}

/// The text of an HTML heading line (`<h2>Uses</h2>`); checked without allocating,
/// as it runs on every line of the card.
fn html_heading(t: &str) -> Option<&str> {
    let b = t.as_bytes();
    if b.first() == Some(&b'<')
        && b.get(1).is_some_and(|c| c.eq_ignore_ascii_case(&b'h'))
        && b.get(2).is_some_and(u8::is_ascii_digit)
    {
        let start = t.find('>')? + 1;
        let end = t.rfind("</")?;
        t.get(start..end)
    } else {
        None
    }
}

/// Longest text taken as a heading: a longer "heading" is a paragraph above a `---`
/// rule, and searching it for every keyword would cost more than the rest of parsing.
const MAX_HEADING: usize = 160;

/// Heading keywords and the section each one marks.
const HEADING_KEYWORDS: &[(&str, Section)] = &[
    ("out-of-scope", Section::OutOfScope),
    ("out of scope", Section::OutOfScope),
    ("misuse", Section::OutOfScope),
    ("prohibited use", Section::OutOfScope),
    ("not intended", Section::OutOfScope),
    ("intended use", Section::Intended),
    ("intended purpose", Section::Intended),
    ("uses", Section::Intended),
    ("use case", Section::Intended),
    ("direct use", Section::Intended),
    ("downstream use", Section::Intended),
    ("applications", Section::Intended),
    ("limitation", Section::Limitations),
    ("bias", Section::BiasRisks),
    ("risk", Section::BiasRisks),
    ("ethic", Section::BiasRisks),
    ("safety", Section::BiasRisks),
    ("harm", Section::BiasRisks),
    ("fairness", Section::BiasRisks),
    ("evaluation", Section::Evaluation),
    ("results", Section::Evaluation),
    ("benchmark", Section::Evaluation),
    ("performance", Section::Evaluation),
    ("training data", Section::TrainingData),
    ("training dataset", Section::TrainingData),
    ("pretraining data", Section::TrainingData),
    ("pre-training data", Section::TrainingData),
    ("training corpus", Section::TrainingData),
    ("data card", Section::TrainingData),
    ("dataset", Section::TrainingData),
    ("environmental", Section::Environmental),
    ("carbon", Section::Environmental),
    ("co2", Section::Environmental),
    ("emission", Section::Environmental),
    ("energy", Section::Environmental),
];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Section {
    OutOfScope,
    Intended,
    Limitations,
    BiasRisks,
    Evaluation,
    TrainingData,
    Environmental,
}

/// One automaton for every keyword, built once: setting up a substring search per
/// keyword per heading cost more than parsing the YAML.
fn heading_matcher() -> Option<&'static AhoCorasick> {
    static M: OnceLock<Option<AhoCorasick>> = OnceLock::new();
    M.get_or_init(|| {
        AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .build(HEADING_KEYWORDS.iter().map(|(k, _)| k))
            .ok()
    })
    .as_ref()
}

fn classify_heading(h: &str, s: &mut crate::record::Sections) {
    if h.len() > MAX_HEADING {
        return;
    }
    let Some(m) = heading_matcher() else { return };
    let mut out_of_scope = false;
    let mut intended = false;
    for found in m.find_overlapping_iter(h) {
        match HEADING_KEYWORDS
            .get(found.pattern().as_usize())
            .map(|(_, sec)| *sec)
        {
            Some(Section::OutOfScope) => out_of_scope = true,
            Some(Section::Intended) => intended = true,
            Some(Section::Limitations) => s.limitations = true,
            Some(Section::BiasRisks) => s.bias_risks = true,
            Some(Section::Evaluation) => s.evaluation = true,
            Some(Section::TrainingData) => s.training_data = true,
            Some(Section::Environmental) => s.environmental_impact = true,
            None => {}
        }
    }
    // "Out-of-scope uses" is not an intended-use section.
    if out_of_scope {
        s.out_of_scope_uses = true;
    } else if intended {
        s.intended_uses = true;
    }
}

/// Names the record: `model_name`, else the card's title (its first level-1 heading),
/// else the name of its first `model-index` entry. The id is the model reference given,
/// else that name.
fn name_record(
    meta: &Map<String, Value>,
    title: Option<String>,
    opts: &ParseOptions,
    rec: &mut ModelRecord,
) {
    let indexed = || {
        meta.get("model-index")
            .and_then(Value::as_array)
            .and_then(|a| a.first())
            .and_then(|m| m.get("name"))
            .and_then(scalar)
    };
    rec.name = string(meta, "model_name").or(title).or_else(indexed);
    if let Some(r) = &opts.model_ref {
        let (id, rev) = split_model_ref(r);
        rec.id = id;
        rec.revision = rev;
    } else if let Some(n) = &rec.name {
        rec.id = n.clone();
    }
    if rec.id.trim().is_empty() {
        rec.id = "unnamed-model".to_string();
    }
    if let Some(c) = string(meta, "model_creator") {
        rec.publisher = Some(c);
    } else if let Some((org, _)) = rec.id.split_once('/') {
        rec.publisher = Some(org.to_string());
    }
}

/// Strips Markdown emphasis and HTML tags from a heading.
fn clean_heading(h: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for ch in h.chars() {
        match ch {
            '<' => in_tag = true,
            '>' => in_tag = false,
            '*' | '_' | '`' if !in_tag => {}
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.trim().to_string()
}
