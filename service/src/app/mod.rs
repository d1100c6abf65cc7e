//! The application layer: the use cases the API, the CLI and the web pages share. It knows
//! the store and the engine, not HTTP: each use case returns its own error enum, and only
//! `http/problem.rs` turns those into status codes.
//!
//! - [`evaluate`]: the one evaluation path ([`evaluate::decide`]) and the "evaluate and
//!   record" use case ([`evaluate::evaluate`]);
//! - [`packs`]: compiled packs (the cache), a tenant's active pack, the built-in pack's
//!   bootstrap, impact analysis and activation;
//! - [`models`]: the model registry (metadata versions);
//! - [`hub`]: models fetched from the Hugging Face Hub, and their stored fetches;
//! - [`tenants`]: each tenant's evaluation state (active pack and waivers in force);
//! - [`evidence`]: a recorded decision's audit-log evidence, checked;
//! - [`replay`]: a recorded decision evaluated again;
//! - [`reviews`] and [`waivers`]: what approvers decide.

pub mod evaluate;
pub mod evidence;
pub mod hub;
pub mod models;
pub mod packs;
pub mod replay;
pub mod reviews;
pub mod tenants;
pub mod waivers;

use crate::store::{Store, StoreError};

/// What the use cases run on: the store, the caches and the audit log.
pub struct App {
    pub store: Store,
    pub packs: packs::PackCache,
    /// Each tenant's active pack and waivers, for evaluations ([`tenants`]).
    pub tenants: tenants::TenantStates,
    /// The audit log: its signer, and the sequencer's wake-up.
    pub log: crate::audit::Log,
    /// Access to the Hugging Face Hub (`None`: the service does not fetch from it).
    pub hub: Option<hub::HubAccess>,
}

/// A stored value that no longer reads back (a record, a profile, a decision): the store
/// holds what this version cannot use. Never the caller's fault.
#[derive(Debug, thiserror::Error)]
#[error("{what}: {detail}")]
pub struct Corrupt {
    pub what: String,
    pub detail: String,
}

impl Corrupt {
    pub fn new(what: impl Into<String>, detail: impl std::fmt::Display) -> Corrupt {
        Corrupt {
            what: what.into(),
            detail: detail.to_string(),
        }
    }
}

/// Errors every use case may meet besides its own: the store failed, or a stored value is
/// unreadable.
#[derive(Debug, thiserror::Error)]
pub enum Failed {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Corrupt(#[from] Corrupt),
}
