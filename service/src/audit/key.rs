//! The checkpoint signing key: a file holding a C2SP signed-note Ed25519 private key,
//! created on first start with mode 0600. Its contents never appear in logs or errors.

use modelgate_audit::checkpoint::{CheckpointSigner, generate_key};
use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read the audit signing key {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot create the audit signing key {path}: {source}")]
    Create {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "the audit signing key {path} is not a signed-note Ed25519 private key (PRIVATE+KEY+…)"
    )]
    Invalid { path: PathBuf },
    #[error(
        "the audit signing key {path} is readable by other users (mode {mode:o}); run chmod 600 on it"
    )]
    Exposed { path: PathBuf, mode: u32 },
}

/// Reads an existing key file.
pub fn read_key(path: &Path) -> Result<CheckpointSigner, KeyError> {
    let meta = std::fs::metadata(path).map_err(|e| KeyError::Read {
        path: path.into(),
        source: e,
    })?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(KeyError::Exposed {
            path: path.into(),
            mode,
        });
    }
    let text = std::fs::read_to_string(path).map_err(|e| KeyError::Read {
        path: path.into(),
        source: e,
    })?;
    CheckpointSigner::new(text.trim()).map_err(|_| KeyError::Invalid { path: path.into() })
}

/// Reads the key file, or creates it (mode 0600) with a new key when there is none. Safe
/// when several processes start at once: the key is written to a private temporary file and
/// linked into place, and whoever loses the race reads the winner's key.
pub fn load_or_create_key(path: &Path) -> Result<CheckpointSigner, KeyError> {
    if path.exists() {
        return read_key(path);
    }
    let create = |e| KeyError::Create {
        path: path.into(),
        source: e,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(create)?;
    }
    let mut suffix = [0u8; 4];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut suffix);
    let name = format!("modelgate-audit-log/{}", hex::encode(suffix));
    let (skey, _vkey) = generate_key(&mut rand_core::OsRng, &name);
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(create)?;
    let written = f
        .write_all(format!("{skey}\n").as_bytes())
        .and_then(|()| f.sync_all());
    drop(f);
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(create(e));
    }
    let linked = std::fs::hard_link(&tmp, path);
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => {
            tracing::info!(path = %path.display(), key = %name, "created the audit log signing key");
            read_key(path)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => read_key(path),
        Err(e) => Err(create(e)),
    }
}
