//! The JSON Schemas the engine checks pack files and documents against. They are the
//! engine's: a pack cannot loosen how its own files, or the documents it judges, are
//! validated. A pack may carry copies (the built-in pack does, for rule authors: the
//! files are `rules/schemas/`, compiled in from there); a copy that differs is refused.
//! The facts schema is made from the facts themselves (`facts::schema`).

/// Path in a pack, and the schema.
pub const SCHEMAS: &[(&str, &str)] = &[
    (
        "schemas/context.schema.json",
        include_str!("../../../../rules/schemas/context.schema.json"),
    ),
    (
        "schemas/cyclonedx.schema.json",
        include_str!("../../../../rules/schemas/cyclonedx.schema.json"),
    ),
    (
        "schemas/license.schema.json",
        include_str!("../../../../rules/schemas/license.schema.json"),
    ),
    (
        "schemas/model.schema.json",
        include_str!("../../../../rules/schemas/model.schema.json"),
    ),
    (
        "schemas/models.schema.json",
        include_str!("../../../../rules/schemas/models.schema.json"),
    ),
    (
        "schemas/mof.schema.json",
        include_str!("../../../../rules/schemas/mof.schema.json"),
    ),
    (
        "schemas/pack.schema.json",
        include_str!("../../../../rules/schemas/pack.schema.json"),
    ),
    (
        "schemas/policy.schema.json",
        include_str!("../../../../rules/schemas/policy.schema.json"),
    ),
    (
        "schemas/spdx3.schema.json",
        include_str!("../../../../rules/schemas/spdx3.schema.json"),
    ),
    (
        "schemas/test.schema.json",
        include_str!("../../../../rules/schemas/test.schema.json"),
    ),
];

/// The engine's schema for a pack path, as JSON.
pub fn schema(path: &str) -> Option<serde_json::Value> {
    let (_, text) = SCHEMAS.iter().find(|(p, _)| *p == path)?;
    serde_json::from_str(text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_schema_parses_and_compiles() {
        for (path, _) in SCHEMAS {
            let s = schema(path).unwrap_or_else(|| panic!("{path} is not JSON"));
            assert!(jsonschema::options().build(&s).is_ok(), "{path}");
        }
    }
}
