//! modelgate's native JSON: the model record itself, validated by
//! `rules/schemas/model.schema.json`.

use super::{
    Format, IngestError, ParseOptions, ParseResult, split_model_ref, strip_location, utf8,
};
use crate::record::ModelRecord;

const F: Format = Format::Native;

pub fn parse(bytes: &[u8], opts: &ParseOptions, schema: &jsonschema::Validator) -> ParseResult {
    let text = utf8(F, bytes)?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| {
        IngestError::new(
            F,
            format!("invalid JSON: {}", strip_location(&e.to_string())),
        )
        .at_line(e.line().max(1), e.column().max(1))
        .expected("a JSON object (the model record)")
    })?;
    from_value(value, opts, schema)
}

/// Validates and converts an already-parsed JSON value.
pub fn from_value(
    mut value: serde_json::Value,
    opts: &ParseOptions,
    schema: &jsonschema::Validator,
) -> ParseResult {
    if let (Some(r), Some(obj)) = (&opts.model_ref, value.as_object_mut())
        && !obj.contains_key("id")
    {
        let (id, rev) = split_model_ref(r);
        obj.insert("id".into(), id.into());
        if let Some(rev) = rev {
            obj.entry("revision").or_insert(rev.into());
        }
    }
    super::validate(
        F,
        &value,
        schema,
        "a model record as described by rules/schemas/model.schema.json",
    )?;
    let mut rec: ModelRecord = serde_json::from_value(value)
        .map_err(|e| IngestError::new(F, e.to_string()).expected("a model record"))?;
    // The schema only asks for a non-empty id; every other format names a blank one
    // `unnamed-model`, and a native record states its id.
    if rec.id.trim().is_empty() {
        return Err(IngestError::new(F, "the model id is blank")
            .at_pointer("/id")
            .expected("a model id such as `org/name`"));
    }
    rec.source_format = F.as_str().to_string();
    Ok(rec)
}
