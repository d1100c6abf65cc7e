//! Model Openness Framework (MOF) YAML, as written by the Model Openness Tool
//! (`framework:` + `release:` with `components:`).
//!
//! The released components become the record's openness components, each with the
//! licence that applies to it: its own `license`, else the release's licence for its
//! content type (`release.license.code|data|document`), else the distribution licence
//! (`release.license.distribution`). `unlicensed`, `pending` or an empty licence mean
//! "not openly released": the component is listed without a licence. The licence of the
//! model parameters (or the distribution licence) is the record's declared licence.

use super::{
    Format, IngestError, ParseOptions, ParseResult, fill_from_model_ref, hf_id, strip_location,
    text_of, utf8, validate,
};
use crate::record::{DatasetRef, DeclaredLicense, LicenseScope, ModelRecord, OpennessComponent};
use serde_json::{Map, Value};

const F: Format = Format::Mof;
const WHAT: &str = "a MOF YAML file (framework, release with components), as described by rules/schemas/mof.schema.json";

/// What kind of content a component is; the release may give a licence per kind.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Code,
    Data,
    Document,
}

impl Kind {
    fn key(self) -> &'static str {
        match self {
            Kind::Code => "code",
            Kind::Data => "data",
            Kind::Document => "document",
        }
    }
}

/// MOF component display names -> the component ids of [`crate::openness::COMPONENTS`].
const COMPONENTS: &[(&str, &str, Kind)] = &[
    ("model architecture", "model_architecture", Kind::Code),
    (
        "model parameters (final)",
        "model_parameters_final",
        Kind::Data,
    ),
    ("model card", "model_card", Kind::Document),
    ("data card", "data_card", Kind::Document),
    ("technical report", "technical_report", Kind::Document),
    ("evaluation results", "evaluation_results", Kind::Document),
    (
        "sample model outputs",
        "sample_model_outputs",
        Kind::Document,
    ),
    ("training code", "training_code", Kind::Code),
    ("inference code", "inference_code", Kind::Code),
    ("evaluation code", "evaluation_code", Kind::Code),
    ("evaluation data", "evaluation_data", Kind::Data),
    (
        "supporting libraries and tools",
        "supporting_libraries",
        Kind::Code,
    ),
    ("datasets", "datasets", Kind::Data),
    (
        "data preprocessing code",
        "data_preprocessing_code",
        Kind::Code,
    ),
    (
        "model parameters (intermediate)",
        "model_parameters_intermediate",
        Kind::Data,
    ),
    ("research paper", "research_paper", Kind::Document),
    ("model metadata", "model_metadata", Kind::Data),
];

/// A component display name (or id) -> (component id, content kind).
fn component(name: &str) -> Option<(&'static str, Kind)> {
    let n = name.trim().to_ascii_lowercase();
    COMPONENTS
        .iter()
        .find(|(display, id, _)| *display == n || *id == n)
        .map(|(_, id, kind)| (*id, *kind))
}

pub fn parse(bytes: &[u8], opts: &ParseOptions, schema: &jsonschema::Validator) -> ParseResult {
    let text = utf8(F, bytes)?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let value: Value = serde_norway::from_str(text).map_err(|e| {
        let (line, column) = e
            .location()
            .map(|l| (l.line(), l.column()))
            .unwrap_or((1, 1));
        IngestError::new(
            F,
            format!("invalid YAML: {}", strip_location(&e.to_string())),
        )
        .at_line(line.max(1), column.max(1))
        .expected("a MOF YAML file (framework:, release:)")
    })?;
    from_value(&value, opts, schema)
}

/// A licence value as the file gives it: `None` when absent (the next licence in line
/// applies); `Some(None)` when it says the component is not openly licensed.
fn license_text(v: Option<&Value>) -> Option<Option<String>> {
    let s = match v {
        None | Some(Value::Null) => return None,
        Some(Value::Object(o)) => return license_text(o.get("name")),
        Some(Value::String(s)) => s.trim(),
        Some(_) => return None,
    };
    if s.is_empty() || s.eq_ignore_ascii_case("unlicensed") || s.eq_ignore_ascii_case("pending") {
        Some(None)
    } else {
        Some(Some(s.to_string()))
    }
}

/// The release's licence for a key (`distribution`, `code`, `data`, `document`).
fn release_license(lic: Option<&Map<String, Value>>, key: &str) -> Option<Option<String>> {
    license_text(lic?.get(key))
}

fn link_of(v: Option<&Value>) -> Option<String> {
    text_of(v).filter(|l| l.contains("://") || l.contains('/'))
}

pub fn from_value(
    value: &Value,
    opts: &ParseOptions,
    schema: &jsonschema::Validator,
) -> ParseResult {
    if !value.is_object() {
        return Err(IngestError::new(F, "the document is not a YAML mapping")
            .at_pointer("/")
            .expected(WHAT));
    }
    validate(F, value, schema, WHAT)?;
    let fmt = F.as_str();
    let release = value.get("release").and_then(Value::as_object);
    let Some(release) = release else {
        return Err(IngestError::new(F, "the document has no release")
            .at_pointer("/release")
            .expected(WHAT));
    };
    let mut rec = ModelRecord {
        source_format: fmt.to_string(),
        ..ModelRecord::default()
    };
    rec.name = text_of(release.get("name"));
    rec.revision = text_of(release.get("version"));
    rec.parameter_count = rec.revision.as_deref().and_then(parameter_count);
    if let Some((id, rev)) = text_of(release.get("huggingface")).and_then(|h| {
        hf_id(&h).or_else(|| {
            // A bare `org/name`.
            let parts: Vec<&str> = h.split('/').collect();
            (parts.len() == 2 && parts.iter().all(|p| !p.is_empty() && !p.contains(':')))
                .then(|| (h.clone(), None))
        })
    }) {
        rec.id = id;
        if rev.is_some() {
            rec.revision = rev;
        }
        rec.note("id", fmt, "/release/huggingface");
    } else if let Some(n) = &rec.name {
        rec.id = n.clone();
        rec.note("id", fmt, "/release/name");
    }
    if let Some(p) = text_of(release.get("producer")) {
        rec.publisher = Some(p);
        rec.note("publisher", fmt, "/release/producer");
    }
    rec.architecture = text_of(release.get("architecture"));

    let lic = release.get("license").and_then(Value::as_object);
    // `license: <name>` is the distribution licence.
    let distribution = match release.get("license") {
        Some(Value::String(_)) => license_text(release.get("license")).flatten(),
        _ => release_license(lic, "distribution").flatten(),
    };
    let distribution_link = lic
        .and_then(|l| l.get("distribution"))
        .and_then(|d| link_of(d.get("path")));

    let mut weights: Option<(Option<String>, Option<String>, String)> = None;
    for (i, c) in release
        .get("components")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let ptr = format!("/release/components/{i}");
        let name = c.get("name").and_then(Value::as_str).unwrap_or("");
        let Some((id, kind)) = component(name) else {
            return Err(
                IngestError::new(F, format!("unknown MOF component `{name}`"))
                    .at_pointer(format!("{ptr}/name"))
                    .expected(format!(
                        "one of the 17 MOF components: {}",
                        COMPONENTS
                            .iter()
                            .map(|(d, _, _)| *d)
                            .collect::<Vec<_>>()
                            .join(", ")
                    )),
            );
        };
        // Component licence, then the release's licence for its kind, then distribution.
        let (license, from) = match license_text(c.get("license")) {
            Some(l) => (l, format!("{ptr}/license")),
            None => match release_license(lic, kind.key()) {
                Some(l) => (l, format!("/release/license/{}", kind.key())),
                None => (
                    distribution.clone(),
                    "/release/license/distribution".to_string(),
                ),
            },
        };
        if rec.openness.iter().any(|o| o.name == id) {
            continue;
        }
        rec.openness.push(OpennessComponent {
            name: id.to_string(),
            license: license.clone(),
        });
        match id {
            "model_parameters_final" => {
                let link = link_of(c.get("license_path")).or_else(|| distribution_link.clone());
                weights = Some((license, link, from));
            }
            "datasets" => {
                if let Some(path) = text_of(c.get("component_path")) {
                    let did = path
                        .strip_prefix("https://huggingface.co/datasets/")
                        .map(|s| s.trim_end_matches('/').to_string())
                        .unwrap_or(path);
                    rec.datasets.push(DatasetRef {
                        id: did,
                        license: license_text(c.get("license")).flatten(),
                        sensitive_data: false,
                    });
                    rec.note("datasets", fmt, &ptr);
                }
                rec.sections.training_data = true;
            }
            "data_card" => rec.sections.training_data = true,
            "evaluation_results" => rec.sections.evaluation = true,
            _ => {}
        }
    }
    if !rec.openness.is_empty() {
        rec.note("openness", fmt, "/release/components");
    }

    // The declared licence: that of the model parameters, else the distribution licence.
    let declared = match weights {
        Some((l, link, from)) => l.map(|l| (l, link, from)),
        None => distribution.clone().map(|l| {
            (
                l,
                distribution_link.clone(),
                "/release/license/distribution".to_string(),
            )
        }),
    };
    if let Some((value, link, from)) = declared {
        rec.licenses.push(DeclaredLicense {
            value,
            license_name: None,
            license_link: link,
            scope: LicenseScope::Weights,
            source: Some(from.clone()),
        });
        rec.note("licenses", fmt, &from);
    }
    fill_from_model_ref(&mut rec, opts);
    if rec.publisher.is_none()
        && let Some((org, _)) = rec.id.split_once('/')
    {
        rec.publisher = Some(org.to_string());
    }
    Ok(rec)
}

/// `7B`, `2.7B`, `366B`, `125M` -> a parameter count.
fn parameter_count(v: &str) -> Option<i64> {
    let v = v.trim();
    let (num, mult) = match v.chars().last()?.to_ascii_uppercase() {
        'B' => (&v[..v.len() - 1], 1e9),
        'M' => (&v[..v.len() - 1], 1e6),
        'T' => (&v[..v.len() - 1], 1e12),
        _ => return None,
    };
    let n: f64 = num.trim().parse().ok()?;
    (n.is_finite() && n > 0.0 && n < 1e6).then(|| (n * mult).round() as i64)
}
