//! `POST /v1/reviews`: an approver approves or rejects a `review` verdict.

use super::AppState;
use super::auth::principal;
use super::problem::{Problem, ProblemType};
use super::request::{JsonBody, Reply, tenant};
use crate::store::ReviewRow;
use crate::time::{Rfc3339, now_micros};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

type Data = web::Data<AppState>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ReviewIn {
    decision_id: String,
    outcome: String,
    justification: String,
    conditions: Option<Vec<String>>,
}

/// A review as the API shows it.
#[derive(Serialize)]
pub struct ReviewOut<'a> {
    id: &'a str,
    decision_id: &'a str,
    model_ref: &'a str,
    profile: Option<&'a str>,
    outcome: &'a str,
    justification: &'a str,
    conditions: Option<Value>,
    reviewer: &'a str,
    created_at: Rfc3339,
}

pub fn review_body(r: &ReviewRow) -> ReviewOut<'_> {
    ReviewOut {
        id: &r.id,
        decision_id: &r.decision_id,
        model_ref: &r.model_ref,
        profile: (!r.profile.is_empty()).then_some(r.profile.as_str()),
        outcome: &r.outcome,
        justification: &r.justification,
        conditions: r
            .conditions
            .as_deref()
            .and_then(|c| serde_json::from_str(c).ok()),
        reviewer: &r.reviewer,
        created_at: Rfc3339(r.created_at),
    }
}

pub async fn create_review(req: HttpRequest, st: Data, body: JsonBody<ReviewIn>) -> Reply {
    let body: ReviewIn = body.value;
    let me = principal(&req).ok_or_else(super::auth::no_principal)?;
    let tenant = &tenant(&req)?;
    if !["approve", "reject"].contains(&body.outcome.as_str()) {
        return Err(Problem::new(
            ProblemType::InvalidReview,
            format!(
                "`outcome` must be approve or reject, got `{}`",
                body.outcome
            ),
        ));
    }
    let justification = body.justification.trim();
    if justification.is_empty() || justification.len() > 10_000 {
        return Err(Problem::new(
            ProblemType::InvalidReview,
            "`justification` must say why, in 1 to 10,000 characters",
        ));
    }
    if body
        .conditions
        .as_ref()
        .is_some_and(|c| c.is_empty() || c.len() > 100 || c.iter().any(|x| x.trim().is_empty()))
    {
        return Err(Problem::new(
            ProblemType::InvalidReview,
            "`conditions`, when given, must be 1 to 100 non-empty strings",
        ));
    }
    if body.outcome == "reject" && body.conditions.is_some() {
        return Err(Problem::new(
            ProblemType::InvalidReview,
            "a rejection has no `conditions`",
        ));
    }
    let unknown = || {
        Problem::new(
            ProblemType::UnknownDecision,
            format!("there is no decision {}", body.decision_id),
        )
    };
    if uuid::Uuid::parse_str(&body.decision_id).is_err() {
        return Err(unknown());
    }
    let d = st
        .store
        .get_decision(tenant, &body.decision_id)
        .await?
        .ok_or_else(unknown)?;
    if d.verdict != "review" {
        return Err(Problem::new(
            ProblemType::NotReviewable,
            format!(
                "decision {} has the verdict `{}`; only a `review` verdict is reviewed",
                d.id, d.verdict
            ),
        ));
    }
    if d.requested_by.as_deref() == Some(me.key_id.as_str()) {
        return Err(Problem::new(
            ProblemType::SeparationOfDuties,
            "the key that requested the evaluation cannot review it; use another approver's key",
        ));
    }
    let now = now_micros();
    let row = ReviewRow {
        id: uuid::Uuid::now_v7().to_string(),
        tenant: tenant.to_string(),
        decision_id: d.id.clone(),
        model_ref: d.model_ref.clone(),
        profile: d.profile.clone().unwrap_or_default(),
        outcome: body.outcome.clone(),
        justification: justification.to_string(),
        conditions: body
            .conditions
            .as_ref()
            .map(|c| serde_json::to_string(c).unwrap_or_default()),
        reviewer: me.key_id.clone(),
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
            "conditions": body.conditions,
            "reviewer": row.reviewer,
        }),
    )
    .map_err(Problem::internal)?;
    if !st.store.insert_review(&row, &event).await? {
        return Err(Problem::new(
            ProblemType::AlreadyReviewed,
            format!("decision {} has been reviewed already", d.id),
        ));
    }
    st.log.wake();
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/v1/decisions/{}", d.id)))
        .json(review_body(&row)))
}
