//! Facts as CEL values that are cheap to clone.
//!
//! The interpreter clones a value whenever it binds it to a variable, e.g. each element
//! of `license.terms` in `license.terms.exists(t, ...)`. Its built-in maps and lists
//! clone deeply, so a rule iterating licence terms copied every term (a map of ~40
//! entries) on every step. [`Shared`] wraps a value in an `Arc` and delegates every
//! operation to it: cloning is a reference-count increment.

use cel::Value;
use cel::common::traits::{
    Adder, Comparer, Container, Divider, Indexer, Iterable, Modder, Multiplier, Negator, Sizer,
    Subtractor, Zeroer,
};
use cel::common::types::{self, CelList, CelMap, CelMapKey, Type};
use cel::common::value::{Builtin, BuiltinRef, Val};
use std::any::Any;
use std::collections::HashMap;
use std::sync::Arc;

#[derive(Debug, Clone)]
pub struct Shared(Arc<dyn Val>);

static DYN: Type = types::DYN_TYPE;

impl Val for Shared {
    fn get_type(&self) -> &Type {
        self.0.get_type()
    }
    fn cel_type() -> &'static Type {
        &DYN
    }
    fn as_adder<'b, 'v>(&'b self) -> Option<&'b (dyn Adder + 'v)>
    where
        Self: 'v,
    {
        self.0.as_adder()
    }
    fn as_comparer(&self) -> Option<&dyn Comparer> {
        self.0.as_comparer()
    }
    fn as_container(&self) -> Option<&dyn Container> {
        self.0.as_container()
    }
    fn as_divider<'b, 'v>(&'b self) -> Option<&'b (dyn Divider + 'v)>
    where
        Self: 'v,
    {
        self.0.as_divider()
    }
    fn as_indexer<'b, 'v>(&'b self) -> Option<&'b (dyn Indexer + 'v)>
    where
        Self: 'v,
    {
        self.0.as_indexer()
    }
    fn into_indexer<'v>(self: Box<Self>) -> Option<Box<dyn Indexer + 'v>>
    where
        Self: 'v,
    {
        self.0.clone_as_boxed().into_indexer()
    }
    fn as_iterable<'b, 'v>(&'b self) -> Option<&'b (dyn Iterable + 'v)>
    where
        Self: 'v,
    {
        self.0.as_iterable()
    }
    fn as_modder<'b, 'v>(&'b self) -> Option<&'b (dyn Modder + 'v)>
    where
        Self: 'v,
    {
        self.0.as_modder()
    }
    fn as_multiplier<'b, 'v>(&'b self) -> Option<&'b (dyn Multiplier + 'v)>
    where
        Self: 'v,
    {
        self.0.as_multiplier()
    }
    fn as_negator<'b, 'v>(&'b self) -> Option<&'b (dyn Negator + 'v)>
    where
        Self: 'v,
    {
        self.0.as_negator()
    }
    fn as_sizer(&self) -> Option<&dyn Sizer> {
        self.0.as_sizer()
    }
    fn as_subtractor<'b, 'v>(&'b self) -> Option<&'b (dyn Subtractor + 'v)>
    where
        Self: 'v,
    {
        self.0.as_subtractor()
    }
    fn as_zeroer(&self) -> Option<&dyn Zeroer> {
        self.0.as_zeroer()
    }
    fn equals(&self, other: &dyn Val) -> bool {
        self.0.equals(other)
    }
    fn clone_as_boxed<'v>(&self) -> Box<dyn Val + 'v>
    where
        Self: 'v,
    {
        Box::new(self.clone())
    }
    fn as_any(&self) -> Option<&dyn Any> {
        self.0.as_any()
    }
    fn as_builtin<'b, 'v>(&'b self) -> BuiltinRef<'b, 'v>
    where
        Self: 'v,
    {
        self.0.as_builtin()
    }
    fn into_builtin<'v>(self: Box<Self>) -> Option<Builtin<'v>>
    where
        Self: 'v,
    {
        self.0.clone_as_boxed().into_builtin()
    }
}

/// Serializes a value straight into CEL values (maps and lists [`Shared`]), without the
/// intermediate `cel::Value` tree.
pub fn to_val<T: serde::Serialize + ?Sized>(v: &T) -> Result<Box<dyn Val>, SerError> {
    v.serialize(ValSerializer)
}

#[derive(Debug, thiserror::Error)]
#[error("cannot express facts as CEL values: {0}")]
pub struct SerError(String);

impl serde::ser::Error for SerError {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        SerError(msg.to_string())
    }
}

struct ValSerializer;

fn boxed(v: impl Val + 'static) -> Result<Box<dyn Val>, SerError> {
    Ok(Box::new(v))
}

/// Field names are `'static`: the key borrows them, no allocation.
fn key(s: &'static str) -> CelMapKey<'static> {
    s.into()
}

fn list(items: Vec<Box<dyn Val>>) -> Box<dyn Val> {
    Box::new(Shared(Arc::new(CelList::from(items))))
}

fn map(entries: HashMap<CelMapKey<'static>, Box<dyn Val>>) -> Box<dyn Val> {
    Box::new(Shared(Arc::new(CelMap::from(entries))))
}

pub struct SeqBuilder(Vec<Box<dyn Val>>);
pub struct MapBuilder {
    entries: HashMap<CelMapKey<'static>, Box<dyn Val>>,
    key: Option<CelMapKey<'static>>,
}

impl serde::Serializer for ValSerializer {
    type Ok = Box<dyn Val>;
    type Error = SerError;
    type SerializeSeq = SeqBuilder;
    type SerializeTuple = SeqBuilder;
    type SerializeTupleStruct = SeqBuilder;
    type SerializeTupleVariant = serde::ser::Impossible<Box<dyn Val>, SerError>;
    type SerializeMap = MapBuilder;
    type SerializeStruct = MapBuilder;
    type SerializeStructVariant = serde::ser::Impossible<Box<dyn Val>, SerError>;

    fn serialize_bool(self, v: bool) -> Result<Self::Ok, SerError> {
        boxed(types::CelBool::from(v))
    }
    fn serialize_i8(self, v: i8) -> Result<Self::Ok, SerError> {
        self.serialize_i64(i64::from(v))
    }
    fn serialize_i16(self, v: i16) -> Result<Self::Ok, SerError> {
        self.serialize_i64(i64::from(v))
    }
    fn serialize_i32(self, v: i32) -> Result<Self::Ok, SerError> {
        self.serialize_i64(i64::from(v))
    }
    fn serialize_i64(self, v: i64) -> Result<Self::Ok, SerError> {
        boxed(types::CelInt::from(v))
    }
    fn serialize_u8(self, v: u8) -> Result<Self::Ok, SerError> {
        self.serialize_u64(u64::from(v))
    }
    fn serialize_u16(self, v: u16) -> Result<Self::Ok, SerError> {
        self.serialize_u64(u64::from(v))
    }
    fn serialize_u32(self, v: u32) -> Result<Self::Ok, SerError> {
        self.serialize_u64(u64::from(v))
    }
    fn serialize_u64(self, v: u64) -> Result<Self::Ok, SerError> {
        boxed(types::CelUInt::from(v))
    }
    fn serialize_f32(self, v: f32) -> Result<Self::Ok, SerError> {
        self.serialize_f64(f64::from(v))
    }
    fn serialize_f64(self, v: f64) -> Result<Self::Ok, SerError> {
        boxed(types::CelDouble::from(v))
    }
    fn serialize_char(self, v: char) -> Result<Self::Ok, SerError> {
        self.serialize_str(&v.to_string())
    }
    fn serialize_str(self, v: &str) -> Result<Self::Ok, SerError> {
        boxed(types::CelString::from(v.to_string()))
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<Self::Ok, SerError> {
        boxed(types::CelBytes::from(v.to_vec()))
    }
    fn serialize_none(self) -> Result<Self::Ok, SerError> {
        boxed(types::CelNull)
    }
    fn serialize_some<T: serde::Serialize + ?Sized>(self, v: &T) -> Result<Self::Ok, SerError> {
        v.serialize(self)
    }
    fn serialize_unit(self) -> Result<Self::Ok, SerError> {
        boxed(types::CelNull)
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<Self::Ok, SerError> {
        boxed(types::CelNull)
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<Self::Ok, SerError> {
        self.serialize_str(variant)
    }
    fn serialize_newtype_struct<T: serde::Serialize + ?Sized>(
        self,
        _: &'static str,
        v: &T,
    ) -> Result<Self::Ok, SerError> {
        v.serialize(self)
    }
    fn serialize_newtype_variant<T: serde::Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        v: &T,
    ) -> Result<Self::Ok, SerError> {
        let mut m = HashMap::with_capacity(1);
        m.insert(key(variant), v.serialize(ValSerializer)?);
        Ok(map(m))
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<SeqBuilder, SerError> {
        Ok(SeqBuilder(Vec::with_capacity(len.unwrap_or(0))))
    }
    fn serialize_tuple(self, len: usize) -> Result<SeqBuilder, SerError> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(self, _: &'static str, len: usize) -> Result<SeqBuilder, SerError> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        name: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, SerError> {
        Err(SerError(format!(
            "tuple variants ({name}) are not supported"
        )))
    }
    fn serialize_map(self, len: Option<usize>) -> Result<MapBuilder, SerError> {
        Ok(MapBuilder {
            entries: HashMap::with_capacity(len.unwrap_or(0)),
            key: None,
        })
    }
    fn serialize_struct(self, _: &'static str, len: usize) -> Result<MapBuilder, SerError> {
        self.serialize_map(Some(len))
    }
    fn serialize_struct_variant(
        self,
        name: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, SerError> {
        Err(SerError(format!(
            "struct variants ({name}) are not supported"
        )))
    }
}

impl serde::ser::SerializeSeq for SeqBuilder {
    type Ok = Box<dyn Val>;
    type Error = SerError;
    fn serialize_element<T: serde::Serialize + ?Sized>(&mut self, v: &T) -> Result<(), SerError> {
        self.0.push(v.serialize(ValSerializer)?);
        Ok(())
    }
    fn end(self) -> Result<Box<dyn Val>, SerError> {
        Ok(list(self.0))
    }
}

impl serde::ser::SerializeTuple for SeqBuilder {
    type Ok = Box<dyn Val>;
    type Error = SerError;
    fn serialize_element<T: serde::Serialize + ?Sized>(&mut self, v: &T) -> Result<(), SerError> {
        serde::ser::SerializeSeq::serialize_element(self, v)
    }
    fn end(self) -> Result<Box<dyn Val>, SerError> {
        Ok(list(self.0))
    }
}

impl serde::ser::SerializeTupleStruct for SeqBuilder {
    type Ok = Box<dyn Val>;
    type Error = SerError;
    fn serialize_field<T: serde::Serialize + ?Sized>(&mut self, v: &T) -> Result<(), SerError> {
        serde::ser::SerializeSeq::serialize_element(self, v)
    }
    fn end(self) -> Result<Box<dyn Val>, SerError> {
        Ok(list(self.0))
    }
}

impl serde::ser::SerializeMap for MapBuilder {
    type Ok = Box<dyn Val>;
    type Error = SerError;
    fn serialize_key<T: serde::Serialize + ?Sized>(&mut self, k: &T) -> Result<(), SerError> {
        let k = match cel::to_value(k).map_err(|e| SerError(e.to_string()))? {
            Value::String(s) => cel::objects::Key::String(s),
            Value::Int(i) => cel::objects::Key::Int(i),
            Value::UInt(u) => cel::objects::Key::Uint(u),
            Value::Bool(b) => cel::objects::Key::Bool(b),
            other => return Err(SerError(format!("unsupported map key {other:?}"))),
        };
        self.key = Some(k.into());
        Ok(())
    }
    fn serialize_value<T: serde::Serialize + ?Sized>(&mut self, v: &T) -> Result<(), SerError> {
        let k = self
            .key
            .take()
            .ok_or_else(|| SerError("map value without a key".into()))?;
        self.entries.insert(k, v.serialize(ValSerializer)?);
        Ok(())
    }
    fn end(self) -> Result<Box<dyn Val>, SerError> {
        Ok(map(self.entries))
    }
}

impl serde::ser::SerializeStruct for MapBuilder {
    type Ok = Box<dyn Val>;
    type Error = SerError;
    fn serialize_field<T: serde::Serialize + ?Sized>(
        &mut self,
        name: &'static str,
        v: &T,
    ) -> Result<(), SerError> {
        self.entries.insert(key(name), v.serialize(ValSerializer)?);
        Ok(())
    }
    fn end(self) -> Result<Box<dyn Val>, SerError> {
        Ok(map(self.entries))
    }
}
/// CEL value -> JSON, for evidence.
pub fn cel_to_json(v: &cel::Value) -> serde_json::Value {
    use cel::Value as V;
    use serde_json::Value as J;
    match v {
        V::Null => J::Null,
        V::Bool(b) => J::Bool(*b),
        V::Int(i) => J::from(*i),
        V::UInt(u) => J::from(*u),
        V::Float(f) => serde_json::Number::from_f64(*f)
            .map(J::Number)
            .unwrap_or(J::Null),
        V::String(s) => J::String(s.to_string()),
        V::List(items) => J::Array(items.iter().map(cel_to_json).collect()),
        V::Map(m) => {
            let mut entries: Vec<(String, J)> = m
                .map
                .iter()
                .map(|(k, v)| {
                    let key = match k {
                        cel::objects::Key::String(s) => s.to_string(),
                        cel::objects::Key::Int(i) => i.to_string(),
                        cel::objects::Key::Uint(u) => u.to_string(),
                        cel::objects::Key::Bool(b) => b.to_string(),
                    };
                    (key, cel_to_json(v))
                })
                .collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            J::Object(entries.into_iter().collect())
        }
        other => J::String(format!("{other:?}")),
    }
}
