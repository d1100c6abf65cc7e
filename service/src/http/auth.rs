//! Authentication and authorisation of every request: `Authorization: Bearer <API key>`,
//! the key's role against the route's permission, the key's tenant for everything the
//! request reads or writes, and a rate limit per key. `/healthz`, `/readyz`, `/metrics`
//! and `/openapi.yaml` need no key.

use super::problem::{Problem, ProblemType};
use super::{AppState, routes};
use crate::auth::{Role, key_id, matches};
use crate::store::{KeyRow, Store, StoreError};
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{HttpMessage, ResponseError, web};
use governor::clock::{Clock, DefaultClock};
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};
use moka::future::Cache;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

/// How long a key read from the database is trusted before it is read again (a key
/// revoked through another replica stops working within this time; through this process,
/// at once).
const KEY_TTL: Duration = Duration::from_secs(5);

/// Who is asking: from the key, never from the request.
#[derive(Debug, Clone)]
pub struct Principal {
    pub key_id: String,
    pub tenant: String,
    pub role: Role,
}

type Limiter = RateLimiter<String, DefaultKeyedStateStore<String>, DefaultClock>;

/// Keys recently read (each for at most [`KEY_TTL`]; concurrent requests with a key not
/// yet read wait for one read), and the per-key rate limiter.
pub struct Access {
    keys: Cache<String, KeyRow>,
    limiter: Option<Limiter>,
    /// Requests in flight per key id.
    in_flight: std::sync::Mutex<std::collections::HashMap<String, usize>>,
}

/// Keys kept.
const KEYS: u64 = 10_000;

/// Why a key read found no key.
enum KeyMiss {
    Unknown,
    Store(Arc<StoreError>),
}

impl Access {
    /// `per_second` requests per key and second (bursts of twice that); 0: no limit.
    pub fn new(per_second: u32) -> Access {
        let limiter = NonZeroU32::new(per_second).map(|n| {
            let burst = n.saturating_mul(NonZeroU32::MIN.saturating_add(1));
            RateLimiter::keyed(Quota::per_second(n).allow_burst(burst))
        });
        Access {
            keys: Cache::builder()
                .max_capacity(KEYS)
                .time_to_live(KEY_TTL)
                .build(),
            limiter,
            in_flight: Default::default(),
        }
    }

    async fn key(&self, store: &Store, id: &str) -> Result<Option<KeyRow>, StoreError> {
        let read = self
            .keys
            .try_get_with_by_ref(id, async {
                match store.key_by_id(id).await {
                    Ok(Some(k)) => Ok(k),
                    Ok(None) => Err(KeyMiss::Unknown),
                    Err(e) => Err(KeyMiss::Store(Arc::new(e))),
                }
            })
            .await;
        match read {
            Ok(k) => Ok(Some(k)),
            Err(miss) => match &*miss {
                KeyMiss::Unknown => Ok(None),
                KeyMiss::Store(e) => Err(StoreError::Shared(e.clone())),
            },
        }
    }

    /// Forgets a key (after it was revoked here, or elsewhere: `spawn_change_listener`).
    pub async fn forget(&self, id: &str) {
        self.keys.invalidate(id).await;
    }

    /// Forgets every key read so far.
    pub fn forget_all(&self) {
        self.keys.invalidate_all();
    }

    /// Takes one of the key's `max` places for requests in flight (0: no bound); 429 when
    /// they are all taken — a client that holds connections open (slow bodies, a stuck
    /// loop) cannot take the whole server.
    pub(super) fn enter(&self, key_id: &str, max: usize) -> Result<Slot<'_>, Problem> {
        let mut m = self.in_flight.lock().unwrap_or_else(|e| e.into_inner());
        let n = m.entry(key_id.to_string()).or_insert(0);
        if max > 0 && *n >= max {
            return Err(Problem::new(
                ProblemType::RateLimited,
                format!(
                    "the key {key_id} has {max} requests in flight already, the most one key \
                     may have; wait for their answers"
                ),
            )
            .header(header::RETRY_AFTER, "1"));
        }
        *n += 1;
        Ok(Slot {
            access: self,
            key: key_id.to_string(),
        })
    }

    /// `Err(wait)` when the key is over its rate.
    fn admit(&self, key_id: &str) -> Result<(), Duration> {
        match &self.limiter {
            None => Ok(()),
            Some(l) => l
                .check_key(&key_id.to_string())
                .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now())),
        }
    }
}

fn unauthorized(detail: impl Into<String>) -> Problem {
    Problem::new(ProblemType::Unauthorized, detail).header(header::WWW_AUTHENTICATE, "Bearer")
}

/// Checks the request's key and the route's permission; 401, 403 or 429 as problem+json.
async fn check(req: &ServiceRequest, st: &AppState) -> Result<Option<Principal>, Problem> {
    let pattern = req.match_pattern().unwrap_or_default();
    let needed = match routes::permission(&pattern, req.method().as_str()) {
        Some(None) => return Ok(None),
        Some(Some(p)) => Some(p),
        // A method the route does not serve: authenticate, then let it answer 405.
        None => None,
    };
    let Some(value) = req.headers().get(header::AUTHORIZATION) else {
        return Err(unauthorized(
            "this route needs an API key: send `Authorization: Bearer <key>`",
        ));
    };
    let key = value
        .to_str()
        .ok()
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .ok_or_else(|| unauthorized("the Authorization header must be `Bearer <key>`"))?;
    let (id, role, tenant) = key_principal(st, key).await?;
    if let Some(p) = needed
        && !role.allows(p)
    {
        return Err(Problem::new(
            ProblemType::Forbidden,
            format!(
                "the role `{}` may not {} {}",
                role.as_str(),
                req.method(),
                pattern
            ),
        ));
    }
    admit(st, id)?;
    Ok(Some(Principal {
        key_id: id.to_string(),
        tenant,
        role,
    }))
}

/// The id, role and tenant of a key given in full (a bearer token, or the key a person
/// signs in to the dashboard with): 401 unless it is a key of this server in force.
pub(super) async fn key_principal<'k>(
    st: &AppState,
    key: &'k str,
) -> Result<(&'k str, Role, String), Problem> {
    let id = key_id(key).ok_or_else(|| {
        unauthorized("the bearer token is not a modelgate API key (mg_<id>_<secret>)")
    })?;
    let row = st
        .access
        .key(&st.store, id)
        .await
        .map_err(Problem::from)?
        .filter(|k| matches(&k.secret_hash, key))
        .ok_or_else(|| unauthorized("the API key is not valid"))?;
    let (role, tenant) = in_force(row, id)?;
    Ok((id, role, tenant))
}

/// The principal of a key known by its id (a dashboard session holds only the id): 401
/// once the key is revoked, expired or gone, 429 over its rate like the API.
pub(super) async fn key_id_principal(st: &AppState, id: &str) -> Result<Principal, Problem> {
    let row = st
        .access
        .key(&st.store, id)
        .await
        .map_err(Problem::from)?
        .ok_or_else(|| unauthorized("the API key is not valid"))?;
    let (role, tenant) = in_force(row, id)?;
    admit(st, id)?;
    Ok(Principal {
        key_id: id.to_string(),
        tenant,
        role,
    })
}

/// The key's role and tenant, unless it was revoked or has expired.
fn in_force(row: KeyRow, id: &str) -> Result<(Role, String), Problem> {
    let now = crate::time::now_micros();
    if row.revoked_at.is_some() {
        return Err(unauthorized(format!("the API key {id} was revoked")));
    }
    if row.expires_at.is_some_and(|e| e <= now) {
        return Err(unauthorized(format!("the API key {id} has expired")));
    }
    let role = Role::parse(&row.role)
        .ok_or_else(|| Problem::internal(format!("key {id} has an unknown role")))?;
    Ok((role, row.tenant))
}

/// 429 when the key is over its rate.
fn admit(st: &AppState, id: &str) -> Result<(), Problem> {
    st.access.admit(id).map_err(|wait| {
        let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        Problem::new(
            ProblemType::RateLimited,
            format!("too many requests with the key {id}; retry in {secs} s"),
        )
        .header(header::RETRY_AFTER, &secs.max(1).to_string())
    })
}

/// The middleware (on every resource).
pub async fn authenticate<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, actix_web::Error> {
    let Some(st) = req.app_data::<web::Data<AppState>>().cloned() else {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_left_body);
    };
    match check(&req, &st).await {
        Ok(principal) => {
            // Held until the handler has answered: a key's requests in flight are bounded.
            let _slot = match &principal {
                Some(p) => match st.access.enter(&p.key_id, st.limits.in_flight_per_key) {
                    Ok(slot) => Some(slot),
                    Err(problem) => {
                        return Ok(req
                            .into_response(problem.error_response())
                            .map_into_right_body());
                    }
                },
                None => None,
            };
            if let Some(p) = principal {
                req.extensions_mut().insert(p);
            }
            next.call(req)
                .await
                .map(ServiceResponse::map_into_left_body)
        }
        Err(p) => Ok(req.into_response(p.error_response()).map_into_right_body()),
    }
}

/// A request in flight with a key; dropping it lets another in.
pub(super) struct Slot<'a> {
    access: &'a Access,
    key: String,
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        let mut m = self
            .access
            .in_flight
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(n) = m.get_mut(&self.key) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                m.remove(&self.key);
            }
        }
    }
}

/// The answer when a handler needs a principal and the request has none.
pub(super) fn no_principal() -> Problem {
    unauthorized("this route needs an API key: send `Authorization: Bearer <key>`")
}

/// A handler argument: the request's principal, or 401 (fails closed).
impl actix_web::FromRequest for Principal {
    type Error = Problem;
    type Future = std::future::Ready<Result<Principal, Problem>>;
    fn from_request(req: &actix_web::HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        std::future::ready(principal(req).ok_or_else(no_principal))
    }
}

/// The request's principal (set by [`authenticate`]).
pub fn principal(req: &actix_web::HttpRequest) -> Option<Principal> {
    req.extensions().get::<Principal>().cloned()
}
