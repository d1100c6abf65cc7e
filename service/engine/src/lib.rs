//! modelgate-engine: the pure, synchronous, deterministic heart of modelgate.
//!
//! Bytes in, values out: no file system, network or clock (time is passed in).
//! [`rules::Pack::load`] loads a rule pack from its files, [`rules::Pack::parse`] turns a
//! metadata document into a [`record::ModelRecord`] ([`rules::Pack::parse_all`] into one
//! per model, for documents such as BOMs that describe several), and [`evaluate`] of an
//! [`Evaluation`] returns a [`decision::Decision`]: the one evaluation entry point.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod context;
pub mod decision;
pub mod digest;
pub mod facts;
pub mod ingest;
pub mod license;
pub mod lineage;
pub mod openness;
pub mod record;
pub mod rules;
pub mod time;
pub mod waiver;

pub use context::UseContext;
pub use decision::{Decision, Verdict};
pub use digest::Digest;
pub use ingest::{Format, IngestError, ParseOptions};
pub use record::ModelRecord;
pub use rules::{ENGINE_VERSION, Evaluation, Pack, PackError, PackFile, evaluate};
pub use time::Timestamp;

use sha2::{Digest as _, Sha256};

/// Digest of an evaluation's input: SHA-256 over the document bytes, a NUL, and the
/// canonical JSON of the (normalized) use context.
pub fn input_digest(document: &[u8], context: &UseContext) -> Digest {
    let mut ctx = context.clone();
    ctx.normalize();
    let mut h = Sha256::new();
    h.update(document);
    h.update([0]);
    h.update(serde_json::to_vec(&ctx).unwrap_or_default());
    Digest::finish(h)
}
