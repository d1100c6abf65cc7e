//! The model registry: a model's metadata versions. `PUT /v1/models/{ref}` and the web
//! "check a model" page (when asked to register) both call [`register`].

use super::evaluate::{EvaluateError, Input, read_input};
use super::{App, Corrupt};
use crate::store::{ModelVersion, NewModelVersion};
use modelgate_engine::Digest;

/// The longest model reference, in characters (PostgreSQL indexes it with the tenant and
/// the profile; 512 characters of 4 bytes each stay well inside an index row).
pub const MAX_MODEL_REF: usize = modelgate_engine::ingest::MAX_ID_CHARS;

/// Why `r` cannot be a model reference, or `None`: the one rule for every route (the
/// registry's path, an evaluation's `model_ref`, the name a document gives its model).
/// Spaces inside are fine (`Acme Chat 8B`); control characters, surrounding spaces, an
/// empty name or more than [`MAX_MODEL_REF`] characters are not.
pub fn model_ref_problem(r: &str) -> Option<String> {
    let n = r.chars().count();
    if r.trim().is_empty() {
        Some("a model reference must not be empty".into())
    } else if n > MAX_MODEL_REF {
        Some(format!(
            "a model reference is at most {MAX_MODEL_REF} characters; this one has {n}"
        ))
    } else if r.chars().any(char::is_control) {
        Some("a model reference holds no control characters (such as a line break)".into())
    } else if r.trim() != r {
        Some("a model reference does not begin or end with a space".into())
    } else {
        None
    }
}

/// Records the document (or record) as the model's newest version, unless it is
/// byte-identical to the latest one. `(version, true)` when a version was made.
pub async fn register(
    app: &App,
    tenant: &str,
    model_ref: &str,
    input: &Input,
    now: i64,
) -> Result<(ModelVersion, bool), EvaluateError> {
    if let Some(why) = model_ref_problem(model_ref) {
        return Err(EvaluateError::InvalidModelRef(why));
    }
    let pack = super::packs::active_pack(app, tenant).await?;
    let parsed = read_input(app, &pack, input, Some(model_ref)).await?;
    let record_json =
        serde_json::to_string(&parsed.record).map_err(|e| Corrupt::new("model record", e))?;
    let digest = Digest::of(&parsed.bytes).to_string();
    Ok(app
        .store
        .put_model_version(
            tenant,
            &NewModelVersion {
                model_ref,
                format: &parsed.format,
                document: &parsed.bytes,
                record_json: &record_json,
                document_digest: &digest,
                license: declared_license(&parsed.record),
            },
            now,
        )
        .await?)
}

/// The licence a record declares, as the status board shows and filters it: its licence
/// expression, else its first declared licence as written (migration 0012 fills versions
/// stored before it the same way).
pub fn declared_license(r: &modelgate_engine::ModelRecord) -> Option<&str> {
    r.license_expression
        .as_deref()
        .filter(|e| !e.is_empty())
        .or_else(|| r.licenses.first().map(|l| l.value.as_str()))
}
