//! modelgate: the service crate. All IO lives here; the engine is pure.

pub mod app;
pub mod audit;
pub mod auth;
pub mod cli;
pub mod http;
pub mod hub;
pub mod output;
pub mod packdir;
pub mod serve;
pub mod store;
pub mod telemetry;
pub mod time;

pub use modelgate_engine as engine;
