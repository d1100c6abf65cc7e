//! The dashboard's pages. Each handler reads the session ([`Viewer`]), calls the same
//! application code as the API, and renders a template; a refused form is shown again
//! with the problem in place.

use super::session::Viewer;
use super::view::{Chrome, DecisionView, Notice, model_link, status_words, urlencode, when};
use super::{Page, UiError, html, see_other};
use crate::app::evaluate::{Document, Input, Outcome, Request};
use crate::auth::Permission;
use crate::http::AppState;
use crate::http::problem::Problem;
use crate::store::{
    BoardCursor, BoardFilter, BoardRow, DecisionFilter, DecisionRow, ModelStatus, WaiverRow,
    decode_cursor, encode_cursor,
};
use crate::time::{now_micros, second_of};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use futures_util::StreamExt as _;
use modelgate_engine::Digest;
use serde::Deserialize;
use std::collections::BTreeMap;

type Data = web::Data<AppState>;

/// Board rows per page.
const BOARD_PAGE: u32 = 50;
/// Rows of one CSV export at most.
const CSV_MAX: usize = 100_000;

fn query<T: for<'de> Deserialize<'de>>(req: &HttpRequest) -> Result<T, UiError> {
    web::Query::<T>::from_query(req.query_string())
        .map(web::Query::into_inner)
        .map_err(|e| UiError::bad_request(format!("the address's query is not valid: {e}")))
}

fn empty_none(s: Option<String>) -> Option<String> {
    s.map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
}

// ---- the approved models board -------------------------------------------------------------

#[derive(Deserialize, Default)]
struct BoardQuery {
    status: Option<String>,
    license: Option<String>,
    profile: Option<String>,
    q: Option<String>,
    cursor: Option<String>,
}

impl BoardQuery {
    fn filter(&self) -> Result<BoardFilter, UiError> {
        let status = empty_none(self.status.clone())
            .map(|s| {
                ModelStatus::parse(&s).ok_or_else(|| {
                    UiError::bad_request(format!(
                        "there is no status `{s}`; the statuses are {}",
                        ModelStatus::ALL.join(", ")
                    ))
                })
            })
            .transpose()?;
        Ok(BoardFilter {
            status,
            license: empty_none(self.license.clone()),
            profile: self
                .profile
                .clone()
                .filter(|p| !p.is_empty())
                .map(|p| if p == "(ad hoc)" { String::new() } else { p }),
            search: empty_none(self.q.clone()).map(|q| q.chars().take(200).collect()),
        })
    }

    /// The query string of these filters (without the cursor).
    fn filters(&self) -> String {
        let mut parts = Vec::new();
        for (k, v) in [
            ("status", &self.status),
            ("license", &self.license),
            ("profile", &self.profile),
            ("q", &self.q),
        ] {
            if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
                parts.push(format!("{k}={}", urlencode(v)));
            }
        }
        parts.join("&")
    }
}

/// One line of the board.
pub struct BoardLine {
    pub model_ref: String,
    pub link: String,
    pub status: String,
    pub status_words: &'static str,
    pub license: String,
    pub profile: String,
    pub decided: String,
    pub decision_link: Option<String>,
    pub expiring: Vec<String>,
}

fn board_line(r: &BoardRow, waivers: &[WaiverRow], now: i64) -> BoardLine {
    let profile = (!r.profile.is_empty()).then_some(r.profile.as_str());
    let expiring = crate::app::waivers::expiring_for(waivers, &r.model_ref, profile, now)
        .map(|w| format!("{} until {}", w.rule_id, when(w.expires_at)))
        .collect();
    BoardLine {
        model_ref: r.model_ref.clone(),
        link: model_link(&r.model_ref),
        status: r.status.as_str().to_string(),
        status_words: status_words(r.status.as_str()),
        license: r.license.clone().unwrap_or_default(),
        profile: profile
            .unwrap_or(if r.decision_id.is_some() {
                "(ad hoc)"
            } else {
                ""
            })
            .to_string(),
        decided: r.decided_at.map(when).unwrap_or_default(),
        decision_link: r
            .decision_id
            .as_ref()
            .map(|id| format!("/ui/decisions/{id}")),
        expiring,
    }
}

#[derive(Template)]
#[template(path = "ui/board.html")]
struct BoardPage {
    chrome: Chrome,
    lines: Vec<BoardLine>,
    statuses: Vec<(&'static str, &'static str)>,
    profiles: Vec<String>,
    status: String,
    license: String,
    profile: String,
    q: String,
    next: Option<String>,
    csv: String,
    first: bool,
    filtered: bool,
}

async fn active_digest(st: &AppState, tenant: &str) -> Result<String, UiError> {
    Ok(st
        .store
        .active_pack(tenant)
        .await?
        .map(|a| a.digest)
        .unwrap_or_default())
}

/// `GET /` and `GET /ui/models`: every registered model and where it stands.
pub async fn board(req: HttpRequest, st: Data, me: Viewer) -> Page {
    let q: BoardQuery = query(&req)?;
    let filter = q.filter()?;
    let after: Option<BoardCursor> = q
        .cursor
        .as_deref()
        .map(decode_cursor)
        .transpose()
        .map_err(Problem::from)?;
    let active = active_digest(&st, &me.tenant).await?;
    let mut rows = st
        .store
        .status_board(&me.tenant, &active, &filter, after.as_ref(), BOARD_PAGE + 1)
        .await?;
    let more = rows.len() > BOARD_PAGE as usize;
    rows.truncate(BOARD_PAGE as usize);
    let now = now_micros();
    let waivers = st.store.list_waivers(&me.tenant, Some(now)).await?;
    let filters = q.filters();
    let next = more.then(|| {
        let last = &rows[rows.len() - 1];
        let c = encode_cursor(&BoardCursor {
            model_ref: last.model_ref.clone(),
            profile: last.profile.clone(),
        });
        let sep = if filters.is_empty() { "" } else { "&" };
        format!("/ui/models?{filters}{sep}cursor={c}")
    });
    let profiles = st
        .store
        .list_profiles(&me.tenant)
        .await?
        .into_iter()
        .map(|p| p.name)
        .collect();
    let page = BoardPage {
        chrome: me.chrome("Approved models", "board"),
        lines: rows.iter().map(|r| board_line(r, &waivers, now)).collect(),
        statuses: ModelStatus::ALL
            .iter()
            .map(|s| (*s, status_words(s)))
            .collect(),
        profiles,
        status: q.status.clone().unwrap_or_default(),
        license: q.license.clone().unwrap_or_default(),
        profile: q.profile.clone().unwrap_or_default(),
        q: q.q.clone().unwrap_or_default(),
        next,
        csv: if filters.is_empty() {
            "/ui/models.csv".into()
        } else {
            format!("/ui/models.csv?{filters}")
        },
        first: q.cursor.is_none(),
        filtered: !filters.is_empty(),
    };
    html(&page)
}

/// A CSV cell that a spreadsheet will not run as a formula.
fn cell(s: &str) -> String {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_string()
    }
}

/// `GET /ui/models.csv`: the board, every page, as CSV.
pub async fn board_csv(req: HttpRequest, st: Data, me: Viewer) -> Page {
    let q: BoardQuery = query(&req)?;
    let filter = q.filter()?;
    let active = active_digest(&st, &me.tenant).await?;
    let now = now_micros();
    let waivers = st.store.list_waivers(&me.tenant, Some(now)).await?;
    let mut out = csv::Writer::from_writer(Vec::new());
    let header = [
        "model_ref",
        "status",
        "license",
        "profile",
        "latest_version",
        "verdict",
        "decided_at",
        "decision_id",
        "waivers_expiring",
    ];
    out.write_record(header).map_err(Problem::internal)?;
    let mut after: Option<BoardCursor> = None;
    let mut written = 0;
    loop {
        let rows = st
            .store
            .status_board(&me.tenant, &active, &filter, after.as_ref(), 1000)
            .await?;
        for r in &rows {
            let line = board_line(r, &waivers, now);
            out.write_record([
                cell(&r.model_ref),
                r.status.as_str().to_string(),
                cell(&line.license),
                cell(&r.profile),
                r.latest_version.to_string(),
                r.verdict.clone().unwrap_or_default(),
                r.decided_at
                    .map(crate::time::rfc3339_micros)
                    .unwrap_or_default(),
                r.decision_id.clone().unwrap_or_default(),
                cell(&line.expiring.join("; ")),
            ])
            .map_err(Problem::internal)?;
        }
        written += rows.len();
        match rows.last() {
            Some(last) if rows.len() == 1000 && written < CSV_MAX => {
                after = Some(BoardCursor {
                    model_ref: last.model_ref.clone(),
                    profile: last.profile.clone(),
                });
            }
            _ => break,
        }
    }
    let body = out.into_inner().map_err(Problem::internal)?;
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            actix_web::http::header::CONTENT_DISPOSITION,
            "attachment; filename=\"modelgate-models.csv\"",
        ))
        .body(body))
}

// ---- check a model -----------------------------------------------------------------------

/// The check form's fields, kept to show them again after a refusal.
#[derive(Default, Clone)]
pub struct CheckForm {
    pub content: String,
    pub model_ref: String,
    pub format: String,
    pub basis: String,
    pub profile: String,
    pub purpose: String,
    pub deployment: String,
    pub monthly_active_users: String,
    pub annual_revenue_usd: String,
    pub regions: String,
    pub domicile: String,
    pub domains: String,
    pub modification: String,
    pub distribute_weights: bool,
    pub train_on_outputs: bool,
    pub record: bool,
    pub register: bool,
    csrf: String,
    file: Vec<u8>,
}

#[derive(Template)]
#[template(path = "ui/check.html")]
struct CheckPage {
    chrome: Chrome,
    form: CheckForm,
    profiles: Vec<String>,
    formats: Vec<&'static str>,
    purposes: &'static [&'static str],
    deployments: &'static [&'static str],
    modifications: &'static [&'static str],
    notice: Option<Notice>,
}

async fn check_page_with(
    st: &AppState,
    me: &Viewer,
    form: CheckForm,
    notice: Option<Notice>,
) -> Result<CheckPage, UiError> {
    use modelgate_engine::context::{Deployment, Modification, Purpose};
    let mut formats = vec!["auto"];
    formats.extend_from_slice(modelgate_engine::Format::NAMES);
    Ok(CheckPage {
        chrome: me.chrome("Check a model", "check"),
        form,
        profiles: st
            .store
            .list_profiles(&me.tenant)
            .await?
            .into_iter()
            .map(|p| p.name)
            .collect(),
        formats,
        purposes: Purpose::ALL,
        deployments: Deployment::ALL,
        modifications: Modification::ALL,
        notice,
    })
}

/// `GET /ui/check`.
pub async fn check_page(st: Data, me: Viewer) -> Page {
    me.need(Permission::Evaluate, "evaluate models")?;
    let form = CheckForm {
        format: "auto".into(),
        basis: "profile".into(),
        record: true,
        ..CheckForm::default()
    };
    html(&check_page_with(&st, &me, form, None).await?)
}

/// Reads a `multipart/form-data` (or urlencoded) form of at most `limit` bytes.
async fn read_form(
    req: &HttpRequest,
    payload: web::Payload,
    limit: usize,
) -> Result<BTreeMap<String, Vec<u8>>, UiError> {
    let ct = req
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let mut fields: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let too_large = || {
        UiError::Problem(Problem::new(
            crate::http::problem::ProblemType::BodyTooLarge,
            format!("the form is over the limit of {limit} bytes"),
        ))
    };
    if ct.starts_with("multipart/form-data") {
        let mut mp = actix_multipart::Multipart::new(req.headers(), payload);
        let mut total = 0usize;
        while let Some(field) = mp.next().await {
            let mut field =
                field.map_err(|e| UiError::bad_request(format!("the form is not valid: {e}")))?;
            let name = field.name().unwrap_or_default().to_string();
            let mut value = Vec::new();
            while let Some(chunk) = field.next().await {
                let chunk = chunk
                    .map_err(|e| UiError::bad_request(format!("the form is not valid: {e}")))?;
                total += chunk.len();
                if total > limit {
                    return Err(too_large());
                }
                value.extend_from_slice(&chunk);
            }
            fields.insert(name, value);
        }
    } else {
        let body = payload
            .to_bytes_limited(limit)
            .await
            .map_err(|_| too_large())?
            .map_err(|e| UiError::Problem(crate::http::request::body_read_error(&e)))?;
        let pairs = serde_urlencoded::from_bytes::<Vec<(String, String)>>(&body)
            .map_err(|e| UiError::bad_request(format!("the form is not valid: {e}")))?;
        for (k, v) in pairs {
            fields.insert(k, v.into_bytes());
        }
    }
    Ok(fields)
}

fn text(fields: &BTreeMap<String, Vec<u8>>, name: &str) -> String {
    fields
        .get(name)
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .unwrap_or_default()
}

impl CheckForm {
    fn read(f: &BTreeMap<String, Vec<u8>>) -> CheckForm {
        CheckForm {
            content: text(f, "content"),
            model_ref: text(f, "model_ref").trim().to_string(),
            format: text(f, "format"),
            basis: text(f, "basis"),
            profile: text(f, "profile"),
            purpose: text(f, "purpose"),
            deployment: text(f, "deployment"),
            monthly_active_users: text(f, "monthly_active_users"),
            annual_revenue_usd: text(f, "annual_revenue_usd"),
            regions: text(f, "regions"),
            domicile: text(f, "domicile"),
            domains: text(f, "domains"),
            modification: text(f, "modification"),
            distribute_weights: f.contains_key("distribute_weights"),
            train_on_outputs: f.contains_key("train_on_outputs"),
            record: text(f, "mode") != "dry-run",
            register: f.contains_key("register"),
            csrf: text(f, "csrf"),
            file: f.get("file").cloned().unwrap_or_default(),
        }
    }

    /// The use context the form describes (`None` when it names a profile).
    fn context(&self) -> Result<Option<modelgate_engine::context::UseContext>, String> {
        if self.basis != "context" {
            return Ok(None);
        }
        let number = |name: &str, v: &str| -> Result<i64, String> {
            let v = v.trim().replace([',', '_', ' '], "");
            if v.is_empty() {
                return Ok(0);
            }
            v.parse::<i64>()
                .map_err(|_| format!("{name} must be a whole number, got `{v}`"))
        };
        let list = |v: &str| -> Vec<String> {
            v.split([',', ' ', '\n'])
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect()
        };
        let json = serde_json::json!({
            "purpose": self.purpose,
            "deployment": self.deployment,
            "monthly_active_users": number("Monthly active users", &self.monthly_active_users)?,
            "annual_revenue_usd": number("Annual revenue", &self.annual_revenue_usd)?,
            "regions": list(&self.regions),
            "domicile": empty_none(Some(self.domicile.clone())),
            "domains": list(&self.domains),
            "modification": self.modification,
            "distribute_weights": self.distribute_weights,
            "train_on_outputs": self.train_on_outputs,
        });
        serde_json::from_value(json)
            .map(Some)
            .map_err(|e| format!("the use context is not valid: {e}"))
    }
}

fn refused(p: &Problem) -> Notice {
    let mut text = p.detail.clone();
    for key in ["location", "expected", "field"] {
        if let Some(v) = p.extra.get(key).and_then(|v| v.as_str()) {
            text.push_str(&format!(" ({} {v})", key));
        }
    }
    Notice { error: true, text }
}

/// What a form's use case answered, for the page shown after it: a notice of what was done
/// (200) or of what was wrong with the request (with the problem's status); a failure of
/// the server (or of the session) is the error page instead.
struct Said {
    notice: Notice,
    status: StatusCode,
}

fn said<T, E: Into<Problem>>(
    r: Result<T, E>,
    done: impl FnOnce(T) -> Notice,
) -> Result<Said, UiError> {
    match r {
        Ok(v) => Ok(Said {
            notice: done(v),
            status: StatusCode::OK,
        }),
        Err(e) => {
            let p: Problem = e.into();
            if p.status >= 500 || p.status == 401 {
                return Err(p.into());
            }
            Ok(Said {
                notice: refused(&p),
                status: StatusCode::from_u16(p.status).unwrap_or(StatusCode::BAD_REQUEST),
            })
        }
    }
}

fn done(text: impl Into<String>) -> Notice {
    Notice {
        error: false,
        text: text.into(),
    }
}

/// A rendered page with `status`.
fn html_as(t: &impl Template, status: StatusCode) -> Page {
    let mut res = html(t)?;
    *res.status_mut() = status;
    Ok(res)
}

/// `POST /ui/check`: evaluates (dry run or recorded), as `POST /v1/evaluations` does.
pub async fn check(req: HttpRequest, st: Data, me: Viewer, payload: web::Payload) -> Page {
    let fields = read_form(&req, payload, st.limits.evaluation_body).await?;
    let form = CheckForm::read(&fields);
    me.may(Some(&form.csrf), Permission::Evaluate, "evaluate models")?;
    let r = run_check(&st, &me, &form).await;
    if r.is_ok() {
        return r.map_err(UiError::Problem);
    }
    let Said { notice, status } = said(r, |_| done(""))?;
    let mut again = form;
    again.file.clear();
    html_as(
        &check_page_with(&st, &me, again, Some(notice)).await?,
        status,
    )
}

/// `org/name` of `hf:org/name[@revision]`.
fn hub_repo(reference: &str) -> &str {
    let r = reference.strip_prefix("hf:").unwrap_or(reference);
    r.split('@').next().unwrap_or(r)
}

async fn run_check(st: &AppState, me: &Viewer, form: &CheckForm) -> Result<HttpResponse, Problem> {
    let content = if form.file.is_empty() {
        // Browsers send a text area's line breaks as CRLF whatever was pasted: the document
        // is the text as it was pasted (so a card pasted here and the same file uploaded or
        // registered through the API are the same bytes).
        form.content.replace("\r\n", "\n")
    } else {
        String::from_utf8(form.file.clone()).map_err(|_| {
            Problem::bad_request("the uploaded file is not UTF-8 text (a model card, JSON or YAML)")
        })?
    };
    let document = (!content.trim().is_empty()).then(|| Document {
        format: if form.format.is_empty() {
            "auto".into()
        } else {
            form.format.clone()
        },
        content: content.clone(),
    });
    // `hf:org/name[@revision]` without a document: the model on the Hugging Face Hub.
    // Otherwise the reference names the document's model, or alone a registered model.
    let reference = form.model_ref.trim();
    let hub = (document.is_none() && reference.starts_with("hf:")).then(|| reference.to_string());
    let mut model_ref = empty_none(Some(match &hub {
        Some(h) => hub_repo(h).to_string(),
        None => reference
            .strip_prefix("hf:")
            .unwrap_or(reference)
            .to_string(),
    }));
    let context = form
        .context()
        .map_err(|e| Problem::new(crate::http::problem::ProblemType::InvalidContext, e))?;
    let profile = (form.basis != "context")
        .then(|| empty_none(Some(form.profile.clone())))
        .flatten();
    let mut input = Input {
        document,
        record: None,
        hub,
    };
    if form.register {
        let Some(r) = model_ref.as_deref() else {
            return Err(Problem::bad_request(
                "to register the model, give its model reference",
            ));
        };
        if input.document.is_none() && input.hub.is_none() {
            return Err(Problem::bad_request(
                "to register the model, give its card or file, or its hf:org/name on the Hub",
            ));
        }
        crate::app::models::register(st, &me.tenant, r, &input, now_micros()).await?;
        if input.hub.is_some() {
            // Evaluate the version just registered (one fetch; the decision is linked to it).
            input = Input::default();
        }
    } else if input.hub.is_some() {
        // The decision is recorded under the name the Hub gives the model.
        model_ref = None;
    }
    let digest_of_request = Digest::of(
        serde_json::json!({
            "content": content, "model_ref": model_ref, "format": form.format,
            "profile": profile, "context": context, "record": form.record,
            "hub": input.hub,
        })
        .to_string()
        .as_bytes(),
    );
    let request = Request {
        input,
        context,
        profile,
        model_ref,
        dry_run: !form.record,
        requested_by: Some(me.key_id.clone()),
        idempotency_key: None,
        request_digest: digest_of_request.to_string(),
        trace_id: None,
    };
    let out = crate::app::evaluate::evaluate(st, &me.tenant, &request).await?;
    match out.value {
        Outcome::Recorded { row, .. } => Ok(see_other(&format!("/ui/decisions/{}", row.id))),
        Outcome::Evaluated { decision, profile } => {
            let json = serde_json::to_value(&*decision).map_err(Problem::internal)?;
            let d = DecisionView::from_json(json).map_err(Problem::internal)?;
            let page = DecisionPage {
                chrome: me.chrome("Dry run", "check"),
                title: format!("Dry run: {}", d.model.id),
                d,
                profile: profile.unwrap_or_else(|| "(ad hoc context)".into()),
                recorded: None,
                notice: Some(Notice {
                    error: false,
                    text: "A dry run: nothing was recorded.".into(),
                }),
            };
            html(&page).map_err(|e| match e {
                UiError::Problem(p) => p,
                UiError::SignIn { .. } => Problem::internal("sign-in while rendering"),
            })
        }
    }
}

// ---- a decision ----------------------------------------------------------------------------

/// What a recorded decision adds: its record and its place in the audit log.
pub struct Recorded {
    pub id: String,
    pub model_ref: String,
    pub model_link: String,
    pub created: String,
    pub requested_by: String,
    pub log: Result<LogLine, String>,
    pub review: Option<ReviewLine>,
}

pub struct LogLine {
    pub index: u64,
    pub tree_size: u64,
    pub origin: String,
}

pub struct ReviewLine {
    pub outcome: String,
    pub justification: String,
    pub conditions: Vec<String>,
    pub reviewer: String,
    pub when: String,
}

#[derive(Template)]
#[template(path = "ui/decision.html")]
struct DecisionPage {
    chrome: Chrome,
    title: String,
    d: DecisionView,
    profile: String,
    recorded: Option<Recorded>,
    notice: Option<Notice>,
}

async fn decision_row(st: &AppState, me: &Viewer, id: &str) -> Result<DecisionRow, UiError> {
    let missing = || UiError::not_found(format!("there is no decision {id}"));
    if uuid::Uuid::parse_str(id).is_err() {
        return Err(missing());
    }
    st.store
        .get_decision(&me.tenant, id)
        .await?
        .ok_or_else(missing)
}

async fn decision_page(
    st: &AppState,
    me: &Viewer,
    row: &DecisionRow,
    notice: Option<Notice>,
) -> Result<DecisionPage, UiError> {
    let json: serde_json::Value = serde_json::from_str(&row.decision)
        .map_err(|e| Problem::internal(format!("decision {}: {e}", row.id)))?;
    let d = DecisionView::from_json(json)
        .map_err(|e| Problem::internal(format!("decision {}: {e}", row.id)))?;
    let log = match crate::app::evidence::bundle(st, row, std::time::Duration::from_millis(0)).await {
        Ok(b) => Ok(LogLine {
            index: b.entry.index,
            tree_size: b.entry.tree_size,
            origin: b.log.origin,
        }),
        Err(crate::app::evidence::EvidenceError::NotYetLogged(_)) => Err(
            "not in a signed checkpoint yet (the log signs new entries within a second or two; reload)"
                .to_string(),
        ),
        Err(e @ crate::app::evidence::EvidenceError::Mismatch { .. }) => Err(e.to_string()),
        Err(e) => return Err(Problem::from(e).into()),
    };
    let review = st
        .store
        .review_of(&me.tenant, &row.id)
        .await?
        .map(|r| ReviewLine {
            outcome: r.outcome,
            justification: r.justification,
            conditions: r
                .conditions
                .as_deref()
                .and_then(|c| serde_json::from_str(c).ok())
                .unwrap_or_default(),
            reviewer: r.reviewer,
            when: when(r.created_at),
        });
    Ok(DecisionPage {
        chrome: me.chrome(format!("Decision {}", row.id), "decision"),
        title: format!("{}: {}", row.model_ref, d.verdict),
        profile: row
            .profile
            .clone()
            .unwrap_or_else(|| "(ad hoc context)".into()),
        d,
        recorded: Some(Recorded {
            id: row.id.clone(),
            model_ref: row.model_ref.clone(),
            model_link: model_link(&row.model_ref),
            created: when(row.created_at),
            requested_by: row.requested_by.clone().unwrap_or_default(),
            log,
            review,
        }),
        notice,
    })
}

/// `GET /ui/decisions/{id}`.
pub async fn decision(st: Data, me: Viewer, path: web::Path<String>) -> Page {
    let row = decision_row(&st, &me, &path).await?;
    html(&decision_page(&st, &me, &row, None).await?)
}

/// `GET /ui/decisions/{id}/evidence`: the evidence bundle as a download.
pub async fn evidence(st: Data, me: Viewer, path: web::Path<String>) -> Page {
    me.need(Permission::Audit, "download evidence bundles")?;
    let row = decision_row(&st, &me, &path).await?;
    let bundle = crate::app::evidence::bundle(&st, &row, std::time::Duration::from_secs(3))
        .await
        .map_err(Problem::from)?;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .insert_header((
            actix_web::http::header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"evidence-{}.json\"", row.id),
        ))
        .json(bundle))
}

#[derive(Deserialize)]
pub struct TokenForm {
    csrf: Option<String>,
}

/// `POST /ui/decisions/{id}/replay`: evaluates the decision again and says whether it is
/// the same, byte for byte.
pub async fn replay(
    st: Data,
    me: Viewer,
    path: web::Path<String>,
    form: web::Form<TokenForm>,
) -> Page {
    me.may(form.csrf.as_deref(), Permission::Audit, "replay decisions")?;
    let row = decision_row(&st, &me, &path).await?;
    let r = crate::app::replay::replay(&st, &me.tenant, &row).await;
    let Said { notice, status } = said(r, |r| {
        if r.json == row.decision {
            done("Replayed: the same pack gives the same decision, byte for byte.")
        } else {
            Notice {
                error: true,
                text: "Replayed: the decision made again differs from the recorded one; \
                       POST /v1/decisions/{id}/replay lists the differences."
                    .into(),
            }
        }
    })?;
    html_as(&decision_page(&st, &me, &row, Some(notice)).await?, status)
}

// ---- a model -----------------------------------------------------------------------------

#[derive(Deserialize, Default)]
struct ModelQuery {
    a: Option<String>,
    b: Option<String>,
}

pub struct VersionLine {
    pub version: i64,
    pub format: String,
    pub digest: String,
    pub license: String,
    pub created: String,
}

pub struct HistoryLine {
    pub id: String,
    pub verdict: String,
    pub profile: String,
    pub created: String,
    pub version: String,
    pub reviewed: String,
}

pub struct Diff {
    pub a: String,
    pub b: String,
    pub verdict_a: String,
    pub verdict_b: String,
    pub added: Vec<String>,
    pub removed: Vec<String>,
}

#[derive(Template)]
#[template(path = "ui/model.html")]
struct ModelPage {
    chrome: Chrome,
    model_ref: String,
    lines: Vec<BoardLine>,
    versions: Vec<VersionLine>,
    history: Vec<HistoryLine>,
    waivers: Vec<WaiverLine>,
    diff: Option<Diff>,
    a: String,
    b: String,
}

/// The rules a decision's findings fail (failed or errored, not waived), sorted.
fn failing_rules(decision: &str) -> Vec<String> {
    let v: serde_json::Value = serde_json::from_str(decision).unwrap_or_default();
    let d = DecisionView::from_json(v).unwrap_or_default();
    let mut out: Vec<String> = d
        .findings
        .iter()
        .filter(|f| matches!(f.result.as_str(), "fail" | "error") && !f.waived)
        .map(|f| format!("{} ({})", f.rule_id, f.result))
        .collect();
    out.sort();
    out.dedup();
    out
}

/// `GET /ui/models/{ref}`: the model's decisions (with a diff of any two), versions and
/// waivers.
pub async fn model(req: HttpRequest, st: Data, me: Viewer, path: web::Path<String>) -> Page {
    let model_ref = path.into_inner();
    let q: ModelQuery = query(&req)?;
    let versions = st.store.model_versions(&me.tenant, &model_ref).await?;
    let history = st
        .store
        .list_decisions(
            &me.tenant,
            &DecisionFilter {
                model_ref: Some(model_ref.clone()),
                ..DecisionFilter::default()
            },
            None,
            200,
        )
        .await?;
    if versions.is_empty() && history.is_empty() {
        return Err(UiError::not_found(format!(
            "model `{model_ref}` is neither registered nor evaluated in this tenant"
        )));
    }
    let active = active_digest(&st, &me.tenant).await?;
    let now = now_micros();
    let all_waivers = st.store.list_waivers(&me.tenant, None).await?;
    let in_force: Vec<WaiverRow> = all_waivers
        .iter()
        .filter(|w| crate::app::waivers::state(w, now) == "active")
        .cloned()
        .collect();
    let status = st
        .store
        .model_status(&me.tenant, &active, &model_ref)
        .await?;
    let reviews = st.store.reviews_of_model(&me.tenant, &model_ref).await?;
    let mut lines_h = Vec::new();
    for d in &history {
        let reviewed = if d.verdict == "review" {
            match reviews.iter().find(|r| r.decision_id == d.id) {
                Some(r) => format!("{} by {}", r.outcome, r.reviewer),
                None => "pending".into(),
            }
        } else {
            String::new()
        };
        lines_h.push(HistoryLine {
            id: d.id.clone(),
            verdict: d.verdict.clone(),
            profile: d.profile.clone().unwrap_or_else(|| "(ad hoc)".into()),
            created: when(d.created_at),
            version: d
                .model_version
                .map(|v| v.to_string())
                .unwrap_or_else(|| "inline".into()),
            reviewed,
        });
    }
    let pick = |id: &Option<String>| {
        id.as_deref()
            .and_then(|id| history.iter().find(|d| d.id == id))
    };
    let diff = match (pick(&q.a), pick(&q.b)) {
        (Some(a), Some(b)) => {
            let fa = failing_rules(&a.decision);
            let fb = failing_rules(&b.decision);
            Some(Diff {
                a: a.id.clone(),
                b: b.id.clone(),
                verdict_a: a.verdict.clone(),
                verdict_b: b.verdict.clone(),
                added: fb.iter().filter(|r| !fa.contains(r)).cloned().collect(),
                removed: fa.iter().filter(|r| !fb.contains(r)).cloned().collect(),
            })
        }
        _ => None,
    };
    let page = ModelPage {
        chrome: me.chrome(format!("Model {model_ref}"), "board"),
        lines: status
            .iter()
            .map(|r| board_line(r, &in_force, now))
            .collect(),
        versions: versions
            .iter()
            .rev()
            .map(|v| VersionLine {
                version: v.version,
                format: v.format.clone(),
                digest: v.document_digest.clone(),
                license: v.license.clone().unwrap_or_default(),
                created: when(v.created_at),
            })
            .collect(),
        history: lines_h,
        waivers: all_waivers
            .iter()
            .filter(|w| {
                w.to_engine()
                    .covers(&model_ref, w.profile.as_deref(), second_of(w.created_at))
            })
            .map(|w| waiver_line(w, now, &me))
            .collect(),
        diff,
        a: q.a.unwrap_or_default(),
        b: q.b.unwrap_or_default(),
        model_ref,
    };
    html(&page)
}

// ---- reviews -----------------------------------------------------------------------------

pub struct PendingLine {
    pub id: String,
    pub model_ref: String,
    pub model_link: String,
    pub profile: String,
    pub created: String,
    pub requested_by: String,
    pub own: bool,
    pub reasons: Vec<String>,
}

#[derive(Template)]
#[template(path = "ui/reviews.html")]
struct ReviewsPage {
    chrome: Chrome,
    pending: Vec<PendingLine>,
    notice: Option<Notice>,
}

async fn reviews_page(
    st: &AppState,
    me: &Viewer,
    notice: Option<Notice>,
) -> Result<ReviewsPage, UiError> {
    let rows = st.store.pending_reviews(&me.tenant, 200).await?;
    Ok(ReviewsPage {
        chrome: me.chrome("Review queue", "reviews"),
        pending: rows
            .iter()
            .map(|d| PendingLine {
                id: d.id.clone(),
                model_ref: d.model_ref.clone(),
                model_link: model_link(&d.model_ref),
                profile: d.profile.clone().unwrap_or_else(|| "(ad hoc)".into()),
                created: when(d.created_at),
                requested_by: d.requested_by.clone().unwrap_or_default(),
                own: d.requested_by.as_deref() == Some(me.key_id.as_str()),
                reasons: failing_rules(&d.decision),
            })
            .collect(),
        notice,
    })
}

/// `GET /ui/reviews`: decisions awaiting an approver.
pub async fn reviews(st: Data, me: Viewer) -> Page {
    html(&reviews_page(&st, &me, None).await?)
}

#[derive(Deserialize)]
pub struct ReviewForm {
    csrf: Option<String>,
    decision_id: String,
    outcome: String,
    justification: String,
    #[serde(default)]
    conditions: String,
}

/// `POST /ui/reviews`: approve or reject, as `POST /v1/reviews`.
pub async fn review(st: Data, me: Viewer, form: web::Form<ReviewForm>) -> Page {
    let f = form.into_inner();
    me.may(f.csrf.as_deref(), Permission::Review, "review decisions")?;
    let conditions: Vec<String> = f
        .conditions
        .lines()
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_string)
        .collect();
    let asked = crate::app::reviews::NewReview {
        decision_id: &f.decision_id,
        outcome: &f.outcome,
        justification: &f.justification,
        conditions: (f.outcome == "approve" && !conditions.is_empty())
            .then_some(conditions.as_slice()),
    };
    let r = crate::app::reviews::review(&st, &me.tenant, &me.key_id, &asked, now_micros()).await;
    let Said { notice, status } = said(r, |r| {
        let what = if r.outcome == "approve" {
            "approved"
        } else {
            "rejected"
        };
        done(format!(
            "Decision {} on {} {what}.",
            r.decision_id, r.model_ref
        ))
    })?;
    html_as(&reviews_page(&st, &me, Some(notice)).await?, status)
}

// ---- waivers -----------------------------------------------------------------------------

pub struct WaiverLine {
    pub id: String,
    pub model_ref: String,
    pub rule_id: String,
    pub profile: String,
    pub reason: String,
    pub justification: String,
    pub ticket: String,
    pub approver: String,
    pub expires: String,
    pub state: &'static str,
    pub expiring_soon: bool,
    pub can_revoke: bool,
}

fn waiver_line(w: &WaiverRow, now: i64, me: &Viewer) -> WaiverLine {
    let state = crate::app::waivers::state(w, now);
    WaiverLine {
        id: w.id.clone(),
        model_ref: w.model_ref.clone(),
        rule_id: w.rule_id.clone(),
        profile: w.profile.clone().unwrap_or_else(|| "every profile".into()),
        reason: w.reason.clone(),
        justification: w.justification.clone(),
        ticket: w.ticket.clone().unwrap_or_default(),
        approver: w.approver.clone(),
        expires: when(w.expires_at),
        state,
        expiring_soon: crate::app::waivers::expiring_soon(w, now),
        can_revoke: state == "active" && me.can(Permission::Review),
    }
}

#[derive(Default, Clone, Deserialize)]
#[serde(default)]
pub struct WaiverForm {
    csrf: Option<String>,
    pub model_ref: String,
    pub rule_id: String,
    pub profile: String,
    pub reason: String,
    pub justification: String,
    pub ticket: String,
    pub expires_at: String,
}

#[derive(Template)]
#[template(path = "ui/waivers.html")]
struct WaiversPage {
    chrome: Chrome,
    waivers: Vec<WaiverLine>,
    reasons: &'static [&'static str],
    rules: Vec<String>,
    profiles: Vec<String>,
    form: WaiverForm,
    max_date: String,
    notice: Option<Notice>,
}

async fn waivers_page(
    st: &AppState,
    me: &Viewer,
    form: WaiverForm,
    notice: Option<Notice>,
) -> Result<WaiversPage, UiError> {
    let now = now_micros();
    let rows = st.store.list_waivers(&me.tenant, None).await?;
    let pack = crate::app::packs::active_pack(st, &me.tenant).await?;
    let mut rules: Vec<String> = pack.rules.iter().map(|r| r.def.id.clone()).collect();
    rules.sort();
    let max = now + crate::app::waivers::MAX_DAYS * 86_400 * 1_000_000;
    Ok(WaiversPage {
        chrome: me.chrome("Waivers", "waivers"),
        waivers: rows.iter().rev().map(|w| waiver_line(w, now, me)).collect(),
        reasons: &modelgate_engine::waiver::REASONS,
        rules,
        profiles: st
            .store
            .list_profiles(&me.tenant)
            .await?
            .into_iter()
            .map(|p| p.name)
            .collect(),
        form,
        max_date: crate::time::rfc3339_micros(max)[..10].to_string(),
        notice,
    })
}

/// `GET /ui/waivers`.
pub async fn waivers(st: Data, me: Viewer) -> Page {
    html(&waivers_page(&st, &me, WaiverForm::default(), None).await?)
}

/// `POST /ui/waivers`: grants a waiver, as `POST /v1/waivers`.
pub async fn create_waiver(st: Data, me: Viewer, form: web::Form<WaiverForm>) -> Page {
    let f = form.into_inner();
    me.may(f.csrf.as_deref(), Permission::Review, "grant waivers")?;
    let asked = crate::app::waivers::NewWaiver {
        model_ref: &f.model_ref,
        rule_id: &f.rule_id,
        profile: Some(f.profile.as_str()),
        reason: &f.reason,
        justification: &f.justification,
        ticket: Some(f.ticket.as_str()),
        expires_at: &f.expires_at,
    };
    let r = crate::app::waivers::create(&st, &me.tenant, &me.key_id, &asked, now_micros()).await;
    if r.is_ok() {
        return Ok(see_other("/ui/waivers"));
    }
    let Said { notice, status } = said(r, |_| done(""))?;
    html_as(&waivers_page(&st, &me, f, Some(notice)).await?, status)
}

/// `POST /ui/waivers/{id}/revoke`.
pub async fn revoke_waiver(
    st: Data,
    me: Viewer,
    path: web::Path<String>,
    form: web::Form<TokenForm>,
) -> Page {
    me.may(form.csrf.as_deref(), Permission::Review, "revoke waivers")?;
    crate::app::waivers::revoke(&st, &me.tenant, &path, &me.key_id, now_micros())
        .await
        .map_err(Problem::from)?;
    Ok(see_other("/ui/waivers"))
}

// ---- rule packs ----------------------------------------------------------------------------

pub struct PackLine {
    pub digest: String,
    pub name: String,
    pub version: String,
    pub builtin: bool,
    pub registered: String,
    pub active: bool,
}

pub struct ImpactView {
    pub candidate: String,
    pub evaluated: usize,
    pub changes: Vec<crate::app::packs::Change>,
}

#[derive(Template)]
#[template(path = "ui/packs.html")]
struct PacksPage {
    chrome: Chrome,
    packs: Vec<PackLine>,
    etag: String,
    impact: Option<ImpactView>,
    notice: Option<Notice>,
}

async fn packs_page(
    st: &AppState,
    me: &Viewer,
    impact: Option<ImpactView>,
    notice: Option<Notice>,
) -> Result<PacksPage, UiError> {
    let active = st.store.active_pack(&me.tenant).await?;
    let packs = st.store.list_packs(&me.tenant).await?;
    Ok(PacksPage {
        chrome: me.chrome("Rule packs", "packs"),
        packs: packs
            .iter()
            .map(|p| PackLine {
                digest: p.digest.clone(),
                name: p.name.clone(),
                version: p.version.clone(),
                builtin: p.builtin,
                registered: when(p.registered_at),
                active: active.as_ref().is_some_and(|a| a.digest == p.digest),
            })
            .collect(),
        etag: crate::app::packs::activation_etag(active.map(|a| a.seq)),
        impact,
        notice,
    })
}

/// `GET /ui/packs`.
pub async fn packs(st: Data, me: Viewer) -> Page {
    html(&packs_page(&st, &me, None, None).await?)
}

/// `POST /ui/packs`: a pack upload is done with `modelgate pack` or `POST /v1/packs`.
pub async fn upload_pack(st: Data, me: Viewer, req: HttpRequest, payload: web::Payload) -> Page {
    let fields = read_form(&req, payload, 8 * 1024 * 1024).await?;
    me.may(
        Some(&text(&fields, "csrf")),
        Permission::Admin,
        "upload rule packs",
    )?;
    let raw = fields.get("file").cloned().unwrap_or_default();
    let r = crate::app::packs::upload(&st, &me.tenant, raw, now_micros()).await;
    let Said { notice, status } = said(r, |u| {
        done(format!(
            "Pack {} {} ({}) {}; its {} tests pass.",
            u.name,
            u.version,
            u.digest,
            if u.new {
                "registered"
            } else {
                "was registered already"
            },
            u.passed
        ))
    })?;
    html_as(&packs_page(&st, &me, None, Some(notice)).await?, status)
}

/// `POST /ui/packs/{digest}/impact`: what activating the pack would change.
pub async fn impact(
    st: Data,
    me: Viewer,
    path: web::Path<String>,
    form: web::Form<TokenForm>,
) -> Page {
    me.may(
        form.csrf.as_deref(),
        Permission::Admin,
        "run impact analyses",
    )?;
    let i = crate::app::packs::impact(&st, &me.tenant, &path)
        .await
        .map_err(Problem::from)?;
    let view = ImpactView {
        candidate: i.candidate.digest.to_string(),
        evaluated: i.evaluated,
        changes: i.changes,
    };
    html(&packs_page(&st, &me, Some(view), None).await?)
}

#[derive(Deserialize)]
pub struct ActivateForm {
    csrf: Option<String>,
    etag: String,
}

/// `POST /ui/packs/{digest}/activate`, guarded by the activation the page showed.
pub async fn activate(
    st: Data,
    me: Viewer,
    path: web::Path<String>,
    form: web::Form<ActivateForm>,
) -> Page {
    me.may(
        form.csrf.as_deref(),
        Permission::Admin,
        "activate rule packs",
    )?;
    let r = crate::app::packs::activate(&st, &me.tenant, &path, &form.etag, &me.key_id).await;
    let Said { notice, status } = said(r, |a| {
        done(format!(
            "Pack {path} is active; {} decisions evaluated again.",
            a.reevaluated
        ))
    })?;
    html_as(&packs_page(&st, &me, None, Some(notice)).await?, status)
}

// ---- audit -------------------------------------------------------------------------------

#[derive(Deserialize, Default)]
struct AuditQuery {
    verify: Option<String>,
}

#[derive(Template)]
#[template(path = "ui/audit.html")]
struct AuditPage {
    chrome: Chrome,
    size: u64,
    root: String,
    checkpoint: Option<(u64, String, String)>,
    verifier_key: String,
    verified: Option<Result<String, String>>,
    queued: u64,
}

/// `GET /ui/audit` (`?verify=1`: verify the whole log now).
pub async fn audit(req: HttpRequest, st: Data, me: Viewer) -> Page {
    let q: AuditQuery = query(&req)?;
    let state = st.store.log_state().await?;
    let cp = st.store.latest_checkpoint().await?;
    let verifier_key = st.log.signer().verifier_key();
    let verified = if q.verify.is_some() {
        me.need(Permission::Audit, "verify the audit log")?;
        Some(
            match crate::audit::verify_log(&st.store, std::slice::from_ref(&verifier_key)).await {
                Ok(r) => Ok(format!(
                    "The log verifies: {} entries, {} checkpoints signed by the trusted key, \
                     root {}; {} decisions queued for the log.",
                    r.size, r.checkpoints, r.root, r.queued
                )),
                Err(e) => Err(format!("The log does NOT verify: {e}")),
            },
        )
    } else {
        None
    };
    let page = AuditPage {
        chrome: me.chrome("Audit log", "audit"),
        size: state.size,
        root: hex::encode(state.root),
        checkpoint: cp.map(|c| (c.size, when(c.created_at), c.note)),
        verifier_key,
        verified,
        queued: st.store.queue_len().await?,
    };
    html(&page)
}
