//! Reviews: an approver approves or rejects a decision whose verdict is `review`. The API
//! (`POST /v1/reviews`) and the web review queue both call [`review`].

use super::{App, Corrupt};
use crate::store::{ReviewRow, StoreError};
use serde_json::json;

/// What an approver says of a decision.
#[derive(Debug, Clone)]
pub struct NewReview<'a> {
    pub decision_id: &'a str,
    /// `approve` or `reject`.
    pub outcome: &'a str,
    pub justification: &'a str,
    /// Conditions of an approval (none for a rejection).
    pub conditions: Option<&'a [String]>,
}

#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    /// The review itself is malformed (outcome, justification, conditions).
    #[error("{0}")]
    Invalid(String),
    #[error("there is no decision {0}")]
    UnknownDecision(String),
    #[error("decision {id} has the verdict `{verdict}`; only a `review` verdict is reviewed")]
    NotReviewable { id: String, verdict: String },
    #[error("the key that requested the evaluation cannot review it; use another approver's key")]
    OwnRequest,
    #[error("decision {0} has been reviewed already")]
    AlreadyReviewed(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Corrupt(#[from] Corrupt),
}

/// The longest justification, in bytes.
pub const MAX_JUSTIFICATION: usize = 10_000;

/// Checks the review's own fields (before anything is read).
fn check(r: &NewReview<'_>) -> Result<(), ReviewError> {
    let invalid = |s: &str| Err(ReviewError::Invalid(s.to_string()));
    if !["approve", "reject"].contains(&r.outcome) {
        return Err(ReviewError::Invalid(format!(
            "`outcome` must be approve or reject, got `{}`",
            r.outcome
        )));
    }
    let justification = r.justification.trim();
    if justification.is_empty() || justification.len() > MAX_JUSTIFICATION {
        return invalid("`justification` must say why, in 1 to 10,000 characters");
    }
    if r.conditions
        .is_some_and(|c| c.is_empty() || c.len() > 100 || c.iter().any(|x| x.trim().is_empty()))
    {
        return invalid("`conditions`, when given, must be 1 to 100 non-empty strings");
    }
    if r.outcome == "reject" && r.conditions.is_some() {
        return invalid("a rejection has no `conditions`");
    }
    Ok(())
}

/// Records `reviewer`'s review of a `review` verdict (never one the same key requested),
/// with its audit-log event.
pub async fn review(
    app: &App,
    tenant: &str,
    reviewer: &str,
    r: &NewReview<'_>,
    now: i64,
) -> Result<ReviewRow, ReviewError> {
    check(r)?;
    let unknown = || ReviewError::UnknownDecision(r.decision_id.to_string());
    if uuid::Uuid::parse_str(r.decision_id).is_err() {
        return Err(unknown());
    }
    let d = app
        .store
        .get_decision(tenant, r.decision_id)
        .await?
        .ok_or_else(unknown)?;
    if d.verdict != "review" {
        return Err(ReviewError::NotReviewable {
            id: d.id,
            verdict: d.verdict,
        });
    }
    if d.requested_by.as_deref() == Some(reviewer) {
        return Err(ReviewError::OwnRequest);
    }
    let row = ReviewRow {
        id: uuid::Uuid::now_v7().to_string(),
        tenant: tenant.to_string(),
        decision_id: d.id.clone(),
        model_ref: d.model_ref.clone(),
        profile: d.profile.clone().unwrap_or_default(),
        outcome: r.outcome.to_string(),
        justification: r.justification.trim().to_string(),
        conditions: r
            .conditions
            .map(|c| serde_json::to_string(c).unwrap_or_default()),
        reviewer: reviewer.to_string(),
        created_at: now,
    };
    let event = crate::audit::event(
        "review",
        tenant,
        now,
        json!({
            "review_id": row.id,
            "decision_id": row.decision_id,
            "model_ref": row.model_ref,
            "profile": row.profile,
            "outcome": row.outcome,
            "justification": row.justification,
            "conditions": r.conditions,
            "reviewer": row.reviewer,
        }),
    )
    .map_err(|e| Corrupt::new("audit event", e))?;
    if !app.store.insert_review(&row, &event).await? {
        return Err(ReviewError::AlreadyReviewed(d.id));
    }
    app.log.wake();
    Ok(row)
}
