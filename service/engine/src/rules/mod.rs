//! Rule packs: loading, CEL compilation and checking, evaluation, pack tests.

pub mod celval;
pub mod check;
pub mod compiled;
pub mod def;
pub mod fast;
pub mod pack;
pub mod run;
pub mod schemas;
pub mod scope;
pub mod template;
pub mod testing;
pub mod text;
pub mod value;

pub use def::{Effect, RuleCategory, RuleResult, Severity};
pub use pack::{Pack, PackError, PackFile, Problem};
pub use run::{ENGINE_VERSION, Evaluation, evaluate};
