//! The web dashboard: server-rendered pages at `/` and `/ui/...` for the people who check,
//! review and approve models. Pages call the same application code as the API (`app::`);
//! they differ only in how they answer: HTML for people, problems rendered in place.
//!
//! - [`session`]: sign in with an API key (a server-side session; the cookie holds a random
//!   id, never the key), CSRF tokens on every form, the role deciding what is shown;
//! - [`pages`]: the pages;
//! - [`view`]: what the templates (`service/templates/ui/`) read.
//!
//! Every answer carries a Content-Security-Policy without `unsafe-inline`; the one style
//! sheet and script are served from `/ui/static/` (nothing external: works offline).

mod pages;
mod session;
mod view;

use super::problem::Problem;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{StatusCode, header};
use actix_web::middleware::Next;
use actix_web::{HttpResponse, ResponseError, web};
use askama::Template;

/// Security headers of every dashboard answer.
const CSP: &str = "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; \
    form-action 'self'; frame-ancestors 'none'; base-uri 'none'; connect-src 'self'";

/// Adds the dashboard's routes (under one scope, with its own 404 page).
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(pages::board)).service(
        web::scope("/ui")
            .wrap(actix_web::middleware::from_fn(headers))
            .route("/static/{file}", web::get().to(asset))
            .route("/signin", web::get().to(session::signin_page))
            .route("/signin", web::post().to(session::signin))
            .route("/signout", web::post().to(session::signout))
            .route("/models", web::get().to(pages::board))
            .route("/models.csv", web::get().to(pages::board_csv))
            .route("/models/{model_ref:.+}", web::get().to(pages::model))
            .route("/check", web::get().to(pages::check_page))
            .route("/check", web::post().to(pages::check))
            .route("/decisions/{id}", web::get().to(pages::decision))
            .route("/decisions/{id}/evidence", web::get().to(pages::evidence))
            .route("/decisions/{id}/replay", web::post().to(pages::replay))
            .route("/reviews", web::get().to(pages::reviews))
            .route("/reviews", web::post().to(pages::review))
            .route("/waivers", web::get().to(pages::waivers))
            .route("/waivers", web::post().to(pages::create_waiver))
            .route("/waivers/{id}/revoke", web::post().to(pages::revoke_waiver))
            .route("/packs", web::get().to(pages::packs))
            .route("/packs", web::post().to(pages::upload_pack))
            .route("/packs/{digest}/impact", web::post().to(pages::impact))
            .route("/packs/{digest}/activate", web::post().to(pages::activate))
            .route("/audit", web::get().to(pages::audit))
            .default_service(web::to(not_found)),
    );
}

/// The headers every dashboard page carries (the home page `/` sets them itself).
async fn headers<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<B>, actix_web::Error> {
    let mut res = next.call(req).await?;
    secure(res.headers_mut());
    Ok(res)
}

fn secure(h: &mut actix_web::http::header::HeaderMap) {
    use actix_web::http::header::HeaderValue;
    let set =
        |h: &mut actix_web::http::header::HeaderMap, k: header::HeaderName, v: &'static str| {
            if !h.contains_key(&k) {
                h.insert(k, HeaderValue::from_static(v));
            }
        };
    set(h, header::CONTENT_SECURITY_POLICY, CSP);
    set(h, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(h, header::X_FRAME_OPTIONS, "DENY");
    set(h, header::REFERRER_POLICY, "same-origin");
    set(h, header::CACHE_CONTROL, "no-store");
}

/// The style sheet and the script, compiled in.
async fn asset(path: web::Path<String>) -> HttpResponse {
    let (body, kind): (&'static str, &str) = match path.as_str() {
        "app.css" => (
            include_str!("../../../static/app.css"),
            "text/css; charset=utf-8",
        ),
        "favicon.svg" => (include_str!("../../../static/favicon.svg"), "image/svg+xml"),
        "app.js" => (
            include_str!("../../../static/app.js"),
            "text/javascript; charset=utf-8",
        ),
        _ => return UiError::not_found("there is no such file").error_response(),
    };
    HttpResponse::Ok()
        .content_type(kind)
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(body)
}

async fn not_found(req: actix_web::HttpRequest) -> HttpResponse {
    UiError::not_found(format!("there is no page {}", req.path())).error_response()
}

/// A page that could not be shown: a problem, rendered for people (or, for a request
/// without a valid session, the way to the sign-in page).
#[derive(Debug)]
pub enum UiError {
    /// No session (or it ended): go to the sign-in page, then come back to `next`.
    SignIn {
        next: String,
    },
    Problem(Problem),
}

impl UiError {
    pub fn not_found(detail: impl Into<String>) -> UiError {
        UiError::Problem(Problem::not_found(detail))
    }
    pub fn forbidden(detail: impl Into<String>) -> UiError {
        UiError::Problem(Problem::new(super::problem::ProblemType::Forbidden, detail))
    }
    pub fn bad_request(detail: impl Into<String>) -> UiError {
        UiError::Problem(Problem::bad_request(detail))
    }
}

impl<E: Into<Problem>> From<E> for UiError {
    fn from(e: E) -> UiError {
        UiError::Problem(e.into())
    }
}

impl std::fmt::Display for UiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UiError::SignIn { .. } => f.write_str("sign in"),
            UiError::Problem(p) => p.fmt(f),
        }
    }
}

impl ResponseError for UiError {
    fn status_code(&self) -> StatusCode {
        match self {
            UiError::SignIn { .. } => StatusCode::SEE_OTHER,
            UiError::Problem(p) => p.status_code(),
        }
    }
    fn error_response(&self) -> HttpResponse {
        match self {
            UiError::SignIn { next } => HttpResponse::SeeOther()
                .insert_header((
                    header::LOCATION,
                    format!("/ui/signin?next={}", view::urlencode(next)),
                ))
                .finish(),
            UiError::Problem(p) => {
                let page = view::ErrorPage::new(p);
                let mut r = HttpResponse::build(p.status_code());
                for (k, v) in &p.headers {
                    if k != header::WWW_AUTHENTICATE {
                        r.insert_header((k.clone(), v.clone()));
                    }
                }
                let mut res = r
                    .content_type("text/html; charset=utf-8")
                    .body(page.render().unwrap_or_else(|e| e.to_string()));
                secure(res.headers_mut());
                res
            }
        }
    }
}

/// A rendered page (200).
pub fn html(t: &impl Template) -> Result<HttpResponse, UiError> {
    let body = t.render().map_err(Problem::internal)?;
    let mut res = HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(body);
    secure(res.headers_mut());
    Ok(res)
}

/// After a form: go to `to` (303, so a reload does not post again).
pub fn see_other(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, to.to_string()))
        .finish()
}

pub type Page = Result<HttpResponse, UiError>;
