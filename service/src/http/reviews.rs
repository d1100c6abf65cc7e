//! `POST /v1/reviews`: an approver approves or rejects a `review` verdict.

use super::AppState;
use super::auth::principal;
use super::request::{JsonBody, Reply};
use crate::app::reviews::{self, NewReview};
use crate::store::ReviewRow;
use crate::time::{Rfc3339, now_micros};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use serde_json::Value;

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
    let review = NewReview {
        decision_id: &body.decision_id,
        outcome: &body.outcome,
        justification: &body.justification,
        conditions: body.conditions.as_deref(),
    };
    let row = reviews::review(&st, &me.tenant, &me.key_id, &review, now_micros()).await?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/v1/decisions/{}", row.decision_id)))
        .json(review_body(&row)))
}
