//! Licences: the catalog, resolution of declared values, expressions.

pub mod catalog;
pub mod mentions;
pub mod resolve;

pub use catalog::{Catalog, Category, Commercial, LicenseTerms};
pub use resolve::{Expr, ExprError, Resolution, Term, parse_expression, resolve_term};
