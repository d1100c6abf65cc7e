//! `modelgate audit key | verify | verify-evidence`.

use super::{Failure, exit};
use crate::serve::{DbArgs, database_and_key};
use clap::Subcommand;
use std::io::Write;
use std::path::PathBuf;

#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// Print the verifier key of the audit log's checkpoints (creating the signing key, as
    /// serve would, when there is none). The last line is the key alone.
    ///
    /// Reads the same configuration as serve: --audit-key, else MODELGATE_AUDIT_KEY, else the
    /// --config file's audit_key, else audit-log.key in the data directory.
    /// Exit codes: 0 printed, 64 bad configuration, 69 the key cannot be read or created.
    Key(DbArgs),
    /// Verify the whole audit log in the configured database: every decision is in the log
    /// or queued, indices are contiguous, every leaf matches its decision or event, every
    /// stored tree hash matches, every checkpoint's root and signature verify.
    ///
    /// Exit codes: 0 the log verifies, 1 it does not (the first bad index is printed),
    /// 64 bad configuration, 69 the database or key cannot be opened.
    Verify {
        #[command(flatten)]
        db: DbArgs,
        /// Also trust checkpoints signed by this verifier key (name+id+key, as `modelgate
        /// audit key` prints it); repeatable. The configured signing key is trusted when it
        /// can be read; with --key it need not exist (an auditor verifies with the verifier
        /// key alone).
        #[arg(long = "key", value_name = "VERIFIER_KEY")]
        keys: Vec<String>,
    },
    /// Check an evidence bundle (GET /v1/decisions/{id}/evidence) offline, without server
    /// or database: the checkpoint's signature by the given key, the leaf hash, and the
    /// inclusion proof. Exit codes: 0 valid, 1 invalid (with the reason; also for a key
    /// that is not a verifier key), 66 the file cannot be read.
    VerifyEvidence {
        /// The bundle (JSON).
        file: PathBuf,
        /// The verifier key to trust (name+id+key, as `modelgate audit key` prints it), or a
        /// file holding it.
        #[arg(long, value_name = "VERIFIER_KEY")]
        key: String,
    },
}

impl AuditCommand {
    /// The database settings, for the commands that open the database.
    pub(super) fn db_args_mut(&mut self) -> Option<&mut DbArgs> {
        match self {
            AuditCommand::Key(db) | AuditCommand::Verify { db, .. } => Some(db),
            _ => None,
        }
    }
}

fn io(e: std::io::Error) -> Failure {
    Failure::new(exit::INTERNAL, e.to_string())
}

pub fn run(
    cmd: &AuditCommand,
    env: &dyn Fn(&str) -> Option<String>,
    out: &mut dyn Write,
) -> Result<i32, Failure> {
    match cmd {
        AuditCommand::Key(db) => {
            let (_, path) = database_and_key(db, env).map_err(|e| Failure::new(exit::USAGE, e))?;
            let signer = crate::audit::load_or_create_key(&path)
                .map_err(|e| Failure::new(exit::UNAVAILABLE, e.to_string()))?;
            writeln!(
                out,
                "# audit log {} (signing key {})",
                signer.origin(),
                path.display()
            )
            .map_err(io)?;
            writeln!(out, "{}", signer.verifier_key()).map_err(io)?;
            Ok(0)
        }
        AuditCommand::Verify { db, keys } => verify(db, keys, env, out),
        AuditCommand::VerifyEvidence { file, key } => verify_evidence(file, key, out),
    }
}

fn verify(
    a: &DbArgs,
    extra: &[String],
    env: &dyn Fn(&str) -> Option<String>,
    out: &mut dyn Write,
) -> Result<i32, Failure> {
    let (db, key_path) = database_and_key(a, env).map_err(|e| Failure::new(exit::USAGE, e))?;
    // The signing key is trusted when it can be read. An auditor has no signing key: the
    // verifier keys given with --key are then all that is trusted.
    let mut trusted = match crate::audit::read_key(&key_path) {
        Ok(signer) => vec![signer.verifier_key()],
        Err(e) if extra.is_empty() => {
            return Err(Failure::new(
                exit::UNAVAILABLE,
                format!(
                    "{e} (without the signing key, give the verifier keys to trust with --key)"
                ),
            ));
        }
        Err(_) => {
            writeln!(
                out,
                "no signing key at {}: trusting only the verifier key(s) given with --key",
                key_path.display()
            )
            .map_err(io)?;
            Vec::new()
        }
    };
    trusted.extend(extra.iter().cloned());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::new(exit::INTERNAL, e.to_string()))?;
    let started = std::time::Instant::now();
    let result = rt.block_on(async {
        let store = db
            .open(&crate::store::PoolConfig::default())
            .await
            .map_err(|e| Failure::new(exit::UNAVAILABLE, format!("{}: {e}", db.describe())))?;
        let r = crate::audit::verify_log(&store, &trusted).await;
        store.close().await;
        Ok::<_, Failure>(r)
    })?;
    let secs = started.elapsed().as_secs_f64();
    match result {
        Ok(r) => {
            writeln!(
                out,
                "audit log OK: {} entries, root {}, {} checkpoint(s) verified, {} queued ({:.2} s, {:.0} entries/s)",
                r.size,
                r.root,
                r.checkpoints,
                r.queued,
                secs,
                r.size as f64 / secs.max(1e-9)
            )
            .map_err(io)?;
            Ok(0)
        }
        Err(crate::audit::VerifyError::Store(e)) if e.is_missing_table() => Err(Failure::new(
            exit::UNAVAILABLE,
            format!(
                "{} holds no modelgate database ({e}); point --data-dir or DATABASE_URL at \
                 the service's database, or create one with `modelgate migrate`",
                db.describe()
            ),
        )),
        Err(crate::audit::VerifyError::Store(e)) => Err(Failure::new(
            exit::UNAVAILABLE,
            format!("{}: {e}", db.describe()),
        )),
        Err(e) => {
            writeln!(out, "audit log verification FAILED").map_err(io)?;
            if let Some(i) = e.index() {
                writeln!(out, "first bad index: {i}").map_err(io)?;
            }
            writeln!(out, "reason: {e}").map_err(io)?;
            Ok(1)
        }
    }
}

fn verify_evidence(file: &PathBuf, key: &str, out: &mut dyn Write) -> Result<i32, Failure> {
    let key = match std::fs::read_to_string(key) {
        Ok(text) => text
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or_default()
            .trim()
            .to_string(),
        Err(_) => key.trim().to_string(),
    };
    let bytes = std::fs::read(file).map_err(|e| {
        Failure::new(
            exit::NO_INPUT,
            format!("cannot read {}: {e}", file.display()),
        )
    })?;
    match modelgate_audit::evidence::verify_bundle(&bytes, &key) {
        Ok(v) => {
            writeln!(
                out,
                "valid: decision {} ({}, verdict {}) is entry {} of the log {} (tree size {}, root {}), signed by {}",
                v.decision_id,
                v.model_ref.as_deref().unwrap_or("model not recorded"),
                v.verdict.as_deref().unwrap_or("not recorded"),
                v.index,
                v.origin,
                v.tree_size,
                v.root,
                v.key_name
            )
            .map_err(io)?;
            Ok(0)
        }
        Err(e) => {
            writeln!(out, "invalid: {e}").map_err(io)?;
            Ok(1)
        }
    }
}
