//! Signing in and out, the session of each page request, and CSRF tokens.
//!
//! Signing in checks the API key like the API does and opens a server-side session
//! (`store::SessionRow`): the cookie holds 32 random bytes, the table their SHA-256, so
//! neither the key nor a usable session id is stored. The cookie is `HttpOnly`,
//! `SameSite=Strict`, `Path=/`, and `Secure` when the request came over TLS. Every page
//! reads the session, then the key it was opened with: a revoked or expired key ends the
//! session at once, and the key's role decides what the page shows.
//!
//! Every form carries the session's token (`csrf`), compared in constant time; the sign-in
//! form, before there is a session, carries a token that must equal the one in a
//! short-lived `mg_signin` cookie (double submit).

use super::view::{self, Chrome};
use super::{Page, UiError, see_other};
use crate::auth::{Permission, Role};
use crate::http::AppState;
use crate::http::auth::{key_id_principal, key_principal};
use crate::http::problem::{Problem, ProblemType};
use crate::store::SessionRow;
use crate::time::now_micros;
use actix_web::cookie::{Cookie, SameSite};
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use base64::Engine as _;
use serde::Deserialize;
use sha2::{Digest as _, Sha256};
use std::future::Future;
use std::pin::Pin;
use subtle::ConstantTimeEq;

/// The session cookie.
pub const COOKIE: &str = "mg_session";
/// The sign-in form's token cookie.
const SIGNIN_COOKIE: &str = "mg_signin";
/// How long a session lasts (then sign in again).
const SESSION_HOURS: i64 = 12;

/// Who is looking at a page: the key's principal and the session's form token.
pub struct Viewer {
    pub key_id: String,
    pub tenant: String,
    pub role: Role,
    pub csrf: String,
    id_hash: String,
}

impl Viewer {
    pub fn can(&self, p: Permission) -> bool {
        self.role.allows(p)
    }

    /// 403 (rendered) unless the role allows `p`.
    pub fn need(&self, p: Permission, what: &str) -> Result<(), UiError> {
        if self.can(p) {
            Ok(())
        } else {
            Err(UiError::forbidden(format!(
                "the role `{}` may not {what}",
                self.role.as_str()
            )))
        }
    }

    /// What every page's frame shows.
    pub fn chrome(&self, title: impl Into<String>, here: &'static str) -> Chrome {
        Chrome::new(title.into(), here, Some(self))
    }

    /// A form that acts: it must carry this session's token, and the role must allow `p`
    /// (403 otherwise, the token checked first).
    pub fn may(&self, token: Option<&str>, p: Permission, what: &str) -> Result<(), UiError> {
        self.check_csrf(token)?;
        self.need(p, what)
    }

    /// Refuses a form without this session's token (403).
    pub fn check_csrf(&self, sent: Option<&str>) -> Result<(), UiError> {
        if same(sent.unwrap_or_default(), &self.csrf) {
            Ok(())
        } else {
            Err(csrf_refused())
        }
    }
}

fn csrf_refused() -> UiError {
    UiError::Problem(Problem::new(
        ProblemType::Forbidden,
        "the form was refused: it does not carry this session's form token (CSRF). \
         Reload the page and send the form again.",
    ))
}

fn same(a: &str, b: &str) -> bool {
    !b.is_empty() && a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

fn random_token() -> String {
    use rand_core::RngCore as _;
    let mut b = [0u8; 32];
    rand_core::OsRng.fill_bytes(&mut b);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

fn hash(id: &str) -> String {
    hex::encode(Sha256::digest(id.as_bytes()))
}

/// The page to come back to after signing in: a path of this site only.
fn local_path(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n.to_string(),
        _ => "/".to_string(),
    }
}

fn secure_request(req: &HttpRequest) -> bool {
    req.connection_info().scheme() == "https"
}

fn cookie<'c>(req: &HttpRequest, name: &'c str, value: String, path: &'c str) -> Cookie<'c> {
    Cookie::build(name, value)
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure_request(req))
        .path(path)
        .finish()
}

impl FromRequest for Viewer {
    type Error = UiError;
    type Future = Pin<Box<dyn Future<Output = Result<Viewer, UiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let next = req
                .uri()
                .path_and_query()
                .map(|p| p.as_str().to_string())
                .unwrap_or_else(|| "/".into());
            let sign_in = || UiError::SignIn { next: next.clone() };
            let Some(st) = req.app_data::<web::Data<AppState>>() else {
                return Err(UiError::Problem(Problem::internal("no application state")));
            };
            let Some(c) = req.cookie(COOKIE) else {
                return Err(sign_in());
            };
            let id_hash = hash(c.value());
            let Some(s) = st.store.session(&id_hash, now_micros()).await? else {
                return Err(sign_in());
            };
            let p = match key_id_principal(st, &s.key_id).await {
                Ok(p) => p,
                Err(p) if p.status == 401 => return Err(sign_in()),
                Err(p) => return Err(UiError::Problem(p)),
            };
            Ok(Viewer {
                key_id: p.key_id,
                tenant: p.tenant,
                role: p.role,
                csrf: s.csrf,
                id_hash,
            })
        })
    }
}

#[derive(Deserialize)]
pub struct SignInQuery {
    next: Option<String>,
}

/// `GET /ui/signin`.
pub async fn signin_page(req: HttpRequest, q: web::Query<SignInQuery>) -> Page {
    render_signin(&req, local_path(q.next.as_deref()), None)
}

fn render_signin(req: &HttpRequest, next: String, error: Option<String>) -> Page {
    let token = random_token();
    let page = view::SignInPage {
        chrome: Chrome::new("Sign in".into(), "signin", None),
        csrf: token.clone(),
        next,
        error,
    };
    let mut res = super::html(&page)?;
    if page.error.is_some() {
        *res.status_mut() = actix_web::http::StatusCode::UNAUTHORIZED;
    }
    res.add_cookie(&cookie(req, SIGNIN_COOKIE, token, "/ui/signin"))
        .map_err(Problem::internal)?;
    Ok(res)
}

#[derive(Deserialize)]
pub struct SignInForm {
    key: String,
    csrf: Option<String>,
    next: Option<String>,
}

/// `POST /ui/signin`: checks the key, opens a session, goes to `next`.
pub async fn signin(
    req: HttpRequest,
    st: web::Data<AppState>,
    form: web::Form<SignInForm>,
) -> Page {
    let form = form.into_inner();
    let expected = req.cookie(SIGNIN_COOKIE).map(|c| c.value().to_string());
    if !same(
        form.csrf.as_deref().unwrap_or_default(),
        expected.as_deref().unwrap_or_default(),
    ) {
        return Err(csrf_refused());
    }
    let next = local_path(form.next.as_deref());
    let (id, _, tenant) = match key_principal(&st, form.key.trim()).await {
        Ok(p) => p,
        Err(p) if p.status == 401 => {
            return render_signin(
                &req,
                next,
                Some(
                    "That key was not accepted: it is not a modelgate API key in force \
                     (check it was copied whole, and that it is not revoked or expired)."
                        .into(),
                ),
            );
        }
        Err(p) => return Err(UiError::Problem(p)),
    };
    let session = random_token();
    let now = now_micros();
    st.store
        .insert_session(&SessionRow {
            id_hash: hash(&session),
            tenant,
            key_id: id.to_string(),
            csrf: random_token(),
            created_at: now,
            expires_at: now + SESSION_HOURS * 3_600 * 1_000_000,
        })
        .await?;
    let mut res = see_other(&next);
    res.add_cookie(&cookie(&req, COOKIE, session, "/"))
        .map_err(Problem::internal)?;
    let mut gone = cookie(&req, SIGNIN_COOKIE, String::new(), "/ui/signin");
    gone.make_removal();
    res.add_cookie(&gone).map_err(Problem::internal)?;
    Ok(res)
}

#[derive(Deserialize)]
pub struct TokenForm {
    csrf: Option<String>,
}

/// `POST /ui/signout`: ends the session.
pub async fn signout(
    req: HttpRequest,
    st: web::Data<AppState>,
    me: Viewer,
    form: web::Form<TokenForm>,
) -> Page {
    me.check_csrf(form.csrf.as_deref())?;
    st.store.delete_session(&me.tenant, &me.id_hash).await?;
    let mut res: HttpResponse = see_other("/ui/signin");
    let mut gone = cookie(&req, COOKIE, String::new(), "/");
    gone.make_removal();
    res.add_cookie(&gone).map_err(Problem::internal)?;
    Ok(res)
}
