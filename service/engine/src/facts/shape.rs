//! The shape of the facts: each field's kind and description, from the declarations in
//! `facts!`. Pack loading checks every path a rule reads against it, and [`schema`] renders
//! it as the JSON Schema `rules/schemas/facts.schema.json` (a test keeps that file equal to
//! it).

use super::Facts;
use serde_json::{Map, Value, json};

/// What a fact is.
#[derive(Debug, Clone, PartialEq)]
pub enum Shape {
    Str,
    Int,
    Float,
    Bool,
    List(Box<Shape>),
    /// A facts struct, by its Rust name, and its fields in declaration order.
    Object {
        name: &'static str,
        fields: Vec<FieldShape>,
    },
}

/// A field of a facts struct.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldShape {
    pub name: &'static str,
    pub shape: Shape,
    /// The field's doc comment, line by line.
    pub doc: &'static [&'static str],
}

/// A type facts are made of.
pub trait Shaped {
    fn shape() -> Shape;
}

impl Shaped for String {
    fn shape() -> Shape {
        Shape::Str
    }
}
impl Shaped for i64 {
    fn shape() -> Shape {
        Shape::Int
    }
}
impl Shaped for f64 {
    fn shape() -> Shape {
        Shape::Float
    }
}
impl Shaped for bool {
    fn shape() -> Shape {
        Shape::Bool
    }
}
impl<T: Shaped> Shaped for Vec<T> {
    fn shape() -> Shape {
        Shape::List(Box::new(T::shape()))
    }
}

impl Shaped for Facts {
    fn shape() -> Shape {
        use super::*;
        let field = |name, shape| FieldShape {
            name,
            shape,
            doc: &[],
        };
        Shape::Object {
            name: "Facts",
            fields: vec![
                field("model", ModelFacts::shape()),
                field("context", ContextFacts::shape()),
                field("license", LicenseFacts::shape()),
                field("lineage", LineageFacts::shape()),
                field("openness", OpennessFacts::shape()),
                field("now", NowFacts::shape()),
            ],
        }
    }
}

/// The facts as a JSON Schema (2020-12): one `$defs` entry per facts struct, every field
/// required, no others allowed; descriptions from the doc comments.
pub fn schema() -> Value {
    let mut defs = Map::new();
    let Shape::Object { fields, .. } = Facts::shape() else {
        unreachable!("the facts are an object")
    };
    let mut root = object_schema(&fields, &mut defs);
    let top = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://modelgate.dev/schemas/facts.schema.json",
        "title": "Facts visible to rule conditions",
        "description": "Every variable path a rule reads is checked against this schema when \
                        the pack loads. Generated from the engine's facts (service/engine/src/\
                        facts/mod.rs); a test keeps them in step.",
    });
    let mut out = top.as_object().cloned().unwrap_or_default();
    out.append(&mut root);
    out.insert("$defs".into(), Value::Object(defs));
    Value::Object(out)
}

fn object_schema(fields: &[FieldShape], defs: &mut Map<String, Value>) -> Map<String, Value> {
    let mut props = Map::new();
    for f in fields {
        let mut s = shape_schema(&f.shape, defs);
        let doc: Vec<&str> = f.doc.iter().map(|l| l.trim()).collect();
        if !doc.is_empty()
            && let Some(o) = s.as_object_mut()
        {
            o.insert("description".into(), Value::from(doc.join(" ")));
        }
        props.insert(f.name.to_string(), s);
    }
    let mut out = Map::new();
    out.insert("type".into(), "object".into());
    out.insert("additionalProperties".into(), false.into());
    let required = fields.iter().map(|f| Value::from(f.name)).collect();
    out.insert("required".into(), Value::Array(required));
    out.insert("properties".into(), Value::Object(props));
    out
}

fn shape_schema(shape: &Shape, defs: &mut Map<String, Value>) -> Value {
    match shape {
        Shape::Str => json!({"type": "string"}),
        Shape::Int => json!({"type": "integer"}),
        Shape::Float => json!({"type": "number"}),
        Shape::Bool => json!({"type": "boolean"}),
        Shape::List(item) => json!({"type": "array", "items": shape_schema(item, defs)}),
        Shape::Object { name, fields } => {
            // Described once, after the structs it holds (the facts do not recurse).
            if !defs.contains_key(*name) {
                let s = object_schema(fields, defs);
                defs.insert(name.to_string(), Value::Object(s));
            }
            json!({"$ref": format!("#/$defs/{name}")})
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The built-in pack's `schemas/facts.schema.json` is this schema, byte for byte
    /// (`MODELGATE_WRITE_SCHEMA=1` writes it).
    #[test]
    fn the_builtin_packs_facts_schema_is_the_engines() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../rules/schemas/facts.schema.json"
        );
        let made = serde_json::to_string_pretty(&schema()).unwrap() + "\n";
        if std::env::var_os("MODELGATE_WRITE_SCHEMA").is_some() {
            std::fs::write(path, &made).unwrap();
        }
        let file = std::fs::read_to_string(path).unwrap();
        assert!(
            file == made,
            "{path} is not the engine's facts schema; rerun with MODELGATE_WRITE_SCHEMA=1"
        );
    }
}
