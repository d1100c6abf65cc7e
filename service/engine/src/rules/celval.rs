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

/// Converts a value into a tree whose maps and lists are [`Shared`]; scalars stay plain.
pub fn shared(v: Value) -> Box<dyn Val> {
    match v {
        Value::List(items) => {
            let items: Vec<Box<dyn Val>> = Arc::unwrap_or_clone(items)
                .into_iter()
                .map(shared)
                .collect();
            Box::new(Shared(Arc::new(CelList::from(items))))
        }
        Value::Map(m) => {
            let entries: HashMap<CelMapKey<'static>, Box<dyn Val>> = Arc::unwrap_or_clone(m.map)
                .into_iter()
                .map(|(k, v)| (k.into(), shared(v)))
                .collect();
            Box::new(Shared(Arc::new(CelMap::from(entries))))
        }
        other => match Box::<dyn Val>::try_from(other) {
            Ok(b) => b,
            Err(_) => Box::new(types::CelNull),
        },
    }
}
