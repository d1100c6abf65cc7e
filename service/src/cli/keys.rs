//! `modelgate keys create | list | revoke`: API keys, against the configured database.

use super::{Failure, exit};
use crate::serve::{DbArgs, database_of};
use clap::Subcommand;
use std::io::Write;

#[derive(Subcommand, Debug)]
pub enum KeysCommand {
    /// Create an API key and print it (the last line is the key alone; it is shown once).
    ///
    /// Exit codes: 0 created, 64 bad role, tenant, expiry or configuration, 69 the database
    /// cannot be opened.
    Create {
        #[command(flatten)]
        db: DbArgs,
        /// The tenant whose rows the key reads and writes.
        #[arg(long, default_value = "default")]
        tenant: String,
        /// viewer, evaluator, approver, auditor or admin.
        #[arg(long)]
        role: String,
        /// When the key stops working (RFC 3339, or a date).
        #[arg(long, value_name = "TIME")]
        expires_at: Option<String>,
    },
    /// List the keys (id, tenant, role, created, expires, revoked; never a secret).
    List {
        #[command(flatten)]
        db: DbArgs,
    },
    /// Revoke a key by its id. Exit codes: 0 revoked, 1 no such active key.
    Revoke {
        #[command(flatten)]
        db: DbArgs,
        /// The key's id (the 16 hex digits after `mg_`).
        id: String,
        /// The key's tenant.
        #[arg(long, default_value = "default")]
        tenant: String,
    },
}

impl KeysCommand {
    /// The database settings.
    pub(super) fn db_args_mut(&mut self) -> Option<&mut DbArgs> {
        match self {
            KeysCommand::Create { db, .. }
            | KeysCommand::List { db }
            | KeysCommand::Revoke { db, .. } => Some(db),
        }
    }
}

fn io(e: std::io::Error) -> Failure {
    Failure::new(exit::INTERNAL, e.to_string())
}

pub fn run(
    cmd: &KeysCommand,
    env: &dyn Fn(&str) -> Option<String>,
    out: &mut dyn Write,
) -> Result<i32, Failure> {
    let db = match cmd {
        KeysCommand::Create { db, .. }
        | KeysCommand::List { db }
        | KeysCommand::Revoke { db, .. } => db,
    };
    let database = database_of(db, env).map_err(|e| Failure::new(exit::USAGE, e))?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::new(exit::INTERNAL, e.to_string()))?;
    rt.block_on(async {
        let store = database
            .open(&crate::store::PoolConfig::default())
            .await
            .map_err(|e| Failure::new(exit::UNAVAILABLE, format!("{}: {e}", database.describe())))?;
        store
            .migrate()
            .await
            .map_err(|e| Failure::new(exit::UNAVAILABLE, format!("{}: {e}", database.describe())))?;
        let now = crate::time::now_micros();
        let result = match cmd {
            KeysCommand::Create {
                tenant,
                role,
                expires_at,
                ..
            } => {
                let role = crate::auth::Role::parse(role).ok_or_else(|| {
                    Failure::new(
                        exit::USAGE,
                        format!("--role must be viewer, evaluator, approver, auditor or admin, got `{role}`"),
                    )
                })?;
                let expires = match expires_at {
                    None => None,
                    Some(t) => Some(crate::time::parse_rfc3339_micros(t).ok_or_else(|| {
                        Failure::new(exit::USAGE, format!("--expires-at must be an RFC 3339 time or a date, got `{t}`"))
                    })?),
                };
                match crate::auth::create_key(&store, tenant, role, expires, Some("cli"), now).await {
                    Ok((key, row)) => {
                        writeln!(out, "# key {} for tenant {} with role {} (shown once):", row.id, row.tenant, row.role).map_err(io)?;
                        writeln!(out, "{}", key.key).map_err(io)?;
                        Ok(0)
                    }
                    Err(crate::auth::KeyCreateError::Store(e)) => Err(Failure::new(exit::UNAVAILABLE, e.to_string())),
                    Err(e) => Err(Failure::new(exit::USAGE, e.to_string())),
                }
            }
            KeysCommand::List { .. } => {
                let keys = store
                    .all_keys()
                    .await
                    .map_err(|e| Failure::new(exit::UNAVAILABLE, e.to_string()))?;
                writeln!(out, "id\ttenant\trole\tcreated_at\texpires_at\trevoked_at").map_err(io)?;
                let t = |v: Option<i64>| v.map_or_else(|| "-".to_string(), crate::time::rfc3339_micros);
                for k in keys {
                    writeln!(
                        out,
                        "{}\t{}\t{}\t{}\t{}\t{}",
                        k.id,
                        k.tenant,
                        k.role,
                        crate::time::rfc3339_micros(k.created_at),
                        t(k.expires_at),
                        t(k.revoked_at)
                    )
                    .map_err(io)?;
                }
                Ok(0)
            }
            KeysCommand::Revoke { id, tenant, .. } => {
                match crate::auth::revoke_key(&store, tenant, id, Some("cli"), now).await {
                    Ok(true) => {
                        writeln!(out, "revoked key {id}").map_err(io)?;
                        Ok(0)
                    }
                    Ok(false) => {
                        writeln!(out, "no active key {id} in tenant {tenant}").map_err(io)?;
                        Ok(1)
                    }
                    Err(e) => Err(Failure::new(exit::UNAVAILABLE, e.to_string())),
                }
            }
        };
        store.close().await;
        result
    })
}
