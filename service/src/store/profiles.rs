//! Use profiles, versioned by name.

use super::*;

impl Store {
    /// Creates or updates a named use context; each update bumps its version.
    #[tracing::instrument(name = "store.put_profile", skip_all, fields(backend = self.backend().as_str(), tenant = tenant, profile = name))]
    pub async fn put_profile(
        &self,
        tenant: &str,
        name: &str,
        description: Option<&str>,
        context_json: &str,
        now: i64,
    ) -> Result<Profile> {
        in_tenant!(self, tenant, |c| {
            sqlx::query(
            "INSERT INTO profiles (tenant, name, description, context, version, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, 1, $5, $5) \
             ON CONFLICT (tenant, name) DO UPDATE SET description = excluded.description, \
             context = excluded.context, version = profiles.version + 1, updated_at = excluded.updated_at"
        )
        .bind(tenant)
        .bind(name)
        .bind(description)
        .bind(context_json)
        .bind(now)
        .execute(&mut *c)
        .await?;
            Ok(())
        })?;
        self.get_profile(tenant, name)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("profile {name} vanished after writing")))
    }

    #[tracing::instrument(name = "store.get_profile", skip_all, fields(backend = self.backend().as_str(), tenant = tenant, profile = name))]
    pub async fn get_profile(&self, tenant: &str, name: &str) -> Result<Option<Profile>> {
        in_tenant!(self, tenant, |c| {
            let row = sqlx::query(
                "SELECT name, description, context, version, created_at, updated_at FROM profiles \
             WHERE tenant = $1 AND name = $2",
            )
            .bind(tenant)
            .bind(name)
            .fetch_optional(&mut *c)
            .await?;
            row.map(|r| decode(&r)).transpose()
        })
    }

    #[tracing::instrument(name = "store.list_profiles", skip_all, fields(backend = self.backend().as_str(), tenant = tenant))]
    pub async fn list_profiles(&self, tenant: &str) -> Result<Vec<Profile>> {
        in_tenant!(self, tenant, |c| {
            let rows = sqlx::query(
                "SELECT name, description, context, version, created_at, updated_at FROM profiles \
             WHERE tenant = $1 ORDER BY name",
            )
            .bind(tenant)
            .fetch_all(&mut *c)
            .await?;
            rows.iter().map(decode).collect()
        })
    }
}
