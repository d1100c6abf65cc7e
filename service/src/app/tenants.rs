//! What a tenant's evaluations depend on besides their input — the active rule pack and
//! the waivers in force — kept in memory so that an evaluation costs no query for them.
//!
//! Correctness does not rest on the cache being fresh:
//! - each state carries the tenant's *generation* (`Store::tenant_generation`), read
//!   before the pack and waivers, which database triggers increase on every waiver created
//!   or revoked and every pack activation, whoever makes the change;
//! - a recorded decision is inserted only while that generation is still current
//!   (`NewDecision::generation`); otherwise the evaluation reloads the state and runs
//!   again. A stale cache never reaches a recorded decision, on any replica.
//! - Changes made through this process drop its cached state at once; on PostgreSQL,
//!   changes made through any other process do too, within milliseconds, by notification
//!   (`spawn_change_listener`). Without notifications (a lost listening connection) a dry
//!   run, which records nothing, may use a state changed elsewhere up to [`MAX_AGE`] ago.

use super::App;
use super::packs::{PackError, active_pack};
use crate::store::StoreError;
use crate::time::now_micros;
use modelgate_engine::Pack;
use modelgate_engine::waiver::Waiver;
use moka::future::Cache;
use std::sync::Arc;
use std::time::Duration;

/// How long a cached state is used without asking the database again.
pub const MAX_AGE: Duration = Duration::from_secs(1);

/// A tenant's evaluation state at one generation.
pub struct TenantState {
    pub generation: i64,
    pub pack: Arc<Pack>,
    /// Waivers in force when the state was read (each is checked again against the time
    /// of the evaluation).
    pub waivers: Vec<Waiver>,
}

/// Tenants whose state is kept.
const TENANTS: u64 = 100_000;

/// The cached states, by tenant, each for at most [`MAX_AGE`]. Concurrent requests of a
/// tenant whose state is not cached wait for one read (single flight).
pub struct TenantStates {
    map: Cache<String, Arc<TenantState>>,
}

impl Default for TenantStates {
    fn default() -> TenantStates {
        TenantStates {
            map: Cache::builder()
                .max_capacity(TENANTS)
                .time_to_live(MAX_AGE)
                .build(),
        }
    }
}

impl TenantStates {
    /// Drops the tenant's cached state (after a change made through this process).
    pub async fn forget(&self, tenant: &str) {
        self.map.invalidate(tenant).await;
    }

    /// Drops every cached state.
    pub fn forget_all(&self) {
        self.map.invalidate_all();
    }
}

/// The tenant's state: the cached one unless `fresh` or too old, else read from the store.
pub async fn tenant_state(
    app: &App,
    tenant: &str,
    fresh: bool,
) -> Result<Arc<TenantState>, PackError> {
    if fresh {
        // Not joined with a read already under way: that one may predate the change that
        // made the caller ask for a fresh state.
        let s = load(app, tenant).await?;
        app.tenants.map.insert(tenant.to_string(), s.clone()).await;
        return Ok(s);
    }
    app.tenants
        .map
        .try_get_with_by_ref(tenant, load(app, tenant))
        .await
        .map_err(PackError::unshare)
}

async fn load(app: &App, tenant: &str) -> Result<Arc<TenantState>, PackError> {
    // The generation first: a change committed after this read makes it stale.
    let generation = app.store.tenant_generation(tenant).await?;
    let pack = active_pack(app, tenant).await?;
    let waivers = engine_waivers(app, tenant, now_micros()).await?;
    Ok(Arc::new(TenantState {
        generation,
        pack,
        waivers,
    }))
}

/// The tenant's waivers in force at `now` (Unix microseconds), as the engine reads them.
pub async fn engine_waivers(app: &App, tenant: &str, now: i64) -> Result<Vec<Waiver>, StoreError> {
    Ok(app
        .store
        .list_waivers(tenant, Some(now))
        .await?
        .iter()
        .map(crate::store::WaiverRow::to_engine)
        .collect())
}
