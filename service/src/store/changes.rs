//! Notifications of changes other processes make (PostgreSQL, migration 0010).

use super::*;

/// A change another process made to something servers cache (see migration 0010).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// An API key was updated (revoked).
    Key(String),
    /// A tenant's waivers or active pack changed.
    Tenant(String),
    /// Notifications may have been missed (the listening connection was lost): drop all.
    Unknown,
}

/// Notifications of [`Change`]s, on PostgreSQL.
pub struct ChangeListener {
    listener: sqlx::postgres::PgListener,
}

impl ChangeListener {
    /// The next change. After a lost connection it reconnects and yields
    /// [`Change::Unknown`] once.
    pub async fn next(&mut self) -> Result<Change> {
        match self.listener.try_recv().await? {
            None => Ok(Change::Unknown),
            Some(n) => Ok(match n.payload().split_once(':') {
                Some(("key", id)) => Change::Key(id.to_string()),
                Some(("tenant", t)) => Change::Tenant(t.to_string()),
                _ => Change::Unknown,
            }),
        }
    }
}

impl Store {
    /// Listens for changes made by any process (PostgreSQL); `None` on SQLite, where the
    /// one server makes every change itself.
    pub async fn listen_changes(&self) -> Result<Option<ChangeListener>> {
        match &self.pool {
            Pool::Sqlite(_) => Ok(None),
            Pool::Postgres(p, _) => {
                // Its own connection, outside the pool the requests use.
                let own = PgPoolOptions::new()
                    .max_connections(1)
                    .connect_lazy_with((*p.connect_options()).clone());
                let mut listener = sqlx::postgres::PgListener::connect_with(&own).await?;
                listener.listen("modelgate_changes").await?;
                Ok(Some(ChangeListener { listener }))
            }
        }
    }
}
