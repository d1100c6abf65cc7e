//! Rule packs: loading, CEL compilation and checking, evaluation, pack tests.

pub mod celval;
pub mod check;
pub mod def;
pub mod eval;
pub mod pack;
pub mod template;
pub mod testing;

pub use def::{Effect, RuleCategory, RuleResult, Severity};
pub use pack::{Pack, PackError, PackFile, Problem};
