//! modelgate: the service crate. All IO lives here; the engine is pure.

pub mod cli;
pub mod hub;
pub mod output;
pub mod packdir;

pub use modelgate_engine as engine;
