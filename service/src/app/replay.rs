//! Replay: a recorded decision evaluated again from its stored input, with its stored pack
//! (by digest), at its recorded time and with the waivers it used, through the one
//! evaluation path ([`super::evaluate::decide`]).

use super::evaluate::{Decide, decide};
use super::packs::PackError;
use super::{App, Corrupt};
use crate::store::{DecisionRow, StoreError};
use modelgate_engine::context::UseContext;
use modelgate_engine::{Decision, Format, IngestError, ParseOptions};
use serde_json::Value;

/// Why a decision could not be replayed.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("the decision's rule pack {0} is not stored")]
    PackUnavailable(String),
    #[error("the stored document no longer parses: {0}")]
    NoLongerParses(IngestError),
    #[error("the stored document describes no model")]
    NoModel,
    #[error("the stored Hub fetch no longer builds: {0}")]
    StoredFetch(crate::hub::HubError),
    #[error(transparent)]
    Pack(#[from] PackError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Corrupt(#[from] Corrupt),
}

/// The decision evaluated again, and its JSON (compared byte for byte with the recorded).
pub struct Replayed {
    pub decision: Decision,
    pub json: String,
}

/// Evaluates the recorded decision `row` of `tenant` again.
pub async fn replay(app: &App, tenant: &str, row: &DecisionRow) -> Result<Replayed, ReplayError> {
    let pack = app
        .packs
        .get(&app.store, tenant, &row.pack_digest)
        .await?
        .ok_or_else(|| ReplayError::PackUnavailable(row.pack_digest.clone()))?;
    let recorded_record: Value =
        serde_json::from_str(&row.record).map_err(|e| Corrupt::new("stored record", e))?;
    let want_id = recorded_record["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let (record, records) = if row.format == super::hub::STORED_FORMAT {
        super::hub::rebuild(&pack, &row.document).map_err(ReplayError::StoredFetch)?
    } else {
        let mut records = pack
            .parse_all(
                &row.document,
                Format::parse(&row.format),
                &ParseOptions::with_model_ref(&row.model_ref),
            )
            .map_err(ReplayError::NoLongerParses)?;
        let at = records
            .iter()
            .position(|r| r.id == want_id)
            .unwrap_or_default();
        if records.is_empty() {
            return Err(ReplayError::NoModel);
        }
        let record = records.swap_remove(at);
        (record, records)
    };
    let ctx: UseContext =
        serde_json::from_str(&row.context).map_err(|e| Corrupt::new("stored context", e))?;
    // The waivers the recorded decision used, as they were then.
    let recorded: Value =
        serde_json::from_str(&row.decision).map_err(|e| Corrupt::new("stored decision", e))?;
    let ids: Vec<String> = recorded["findings"]
        .as_array()
        .map(|fs| {
            fs.iter()
                .filter_map(|f| f["waiver"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let waivers: Vec<modelgate_engine::waiver::Waiver> = app
        .store
        .waivers_by_id(tenant, &ids)
        .await?
        .iter()
        .map(|w| w.to_engine())
        .collect();
    let decision = decide(&Decide {
        pack: &pack,
        record: &record,
        ancestors: &records,
        model_ref: &row.model_ref,
        profile: row.profile.as_deref(),
        context: &ctx,
        input_digest: &row.input_digest,
        waivers: &waivers,
        now: crate::time::second_of(row.created_at),
    });
    let json = serde_json::to_string(&decision).map_err(|e| Corrupt::new("decision", e))?;
    Ok(Replayed { decision, json })
}
