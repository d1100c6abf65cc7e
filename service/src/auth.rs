//! API keys and roles (DESIGN §6 "Access").
//!
//! A key is `mg_<id>_<secret>`: `id` is 16 hex digits, public, and names the key in lists,
//! logs and decisions; `secret` is 32 random bytes (256 bits) in unpadded base64url. Only
//! the SHA-256 of the whole key is stored, and it is compared in constant time. A key
//! belongs to one tenant and has one role; every request's tenant is its key's.

/// The tenant of the first admin key, and of keys made without naming one.
pub const DEFAULT_TENANT: &str = "default";

use base64::Engine as _;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

/// What a role may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Permission {
    /// Read decisions, models, profiles, packs, licences, the log's checkpoint and keys.
    Read,
    /// Evaluate (and record) a model; register model metadata.
    Evaluate,
    /// Approve or reject a `review` verdict.
    Review,
    /// Replay decisions, fetch evidence bundles, read log entries.
    Audit,
    /// Manage keys, profiles and packs.
    Admin,
}

/// A key's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    Viewer,
    Evaluator,
    Approver,
    Auditor,
    Admin,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Viewer,
        Role::Evaluator,
        Role::Approver,
        Role::Auditor,
        Role::Admin,
    ];

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Evaluator => "evaluator",
            Role::Approver => "approver",
            Role::Auditor => "auditor",
            Role::Admin => "admin",
        }
    }

    /// viewer: read; evaluator: + evaluations; approver: + reviews; auditor: read +
    /// replay, evidence, log; admin: all.
    pub fn allows(self, p: Permission) -> bool {
        match p {
            Permission::Read => true,
            Permission::Evaluate => {
                matches!(self, Role::Evaluator | Role::Approver | Role::Admin)
            }
            Permission::Review => matches!(self, Role::Approver | Role::Admin),
            Permission::Audit => matches!(self, Role::Auditor | Role::Admin),
            Permission::Admin => self == Role::Admin,
        }
    }
}

/// A new key: the secret is shown once and never stored.
pub struct GeneratedKey {
    pub id: String,
    pub key: String,
    pub hash: [u8; 32],
}

impl std::fmt::Debug for GeneratedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeneratedKey")
            .field("id", &self.id)
            .field("key", &"<secret>")
            .finish()
    }
}

pub fn hash_key(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

/// A fresh key from the operating system's random source.
pub fn generate_key() -> GeneratedKey {
    use rand_core::RngCore as _;
    let mut id = [0u8; 8];
    let mut secret = [0u8; 32];
    rand_core::OsRng.fill_bytes(&mut id);
    rand_core::OsRng.fill_bytes(&mut secret);
    let id = hex::encode(id);
    let key = format!(
        "mg_{id}_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret)
    );
    GeneratedKey {
        hash: hash_key(&key),
        id,
        key,
    }
}

/// The public id of a well-formed key (`None` for anything else).
pub fn key_id(key: &str) -> Option<&str> {
    let rest = key.strip_prefix("mg_")?;
    let (id, secret) = rest.split_once('_')?;
    let ok_id = id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit());
    let ok_secret = secret.len() == 43
        && secret
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    (ok_id && ok_secret).then_some(id)
}

/// The key matches the stored hash (constant time).
pub fn matches(stored_hash: &[u8], key: &str) -> bool {
    stored_hash.len() == 32 && bool::from(hash_key(key).as_slice().ct_eq(stored_hash))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_parse_and_match_only_themselves() {
        let a = generate_key();
        let b = generate_key();
        assert_eq!(key_id(&a.key), Some(a.id.as_str()));
        assert!(matches(&a.hash, &a.key));
        assert!(!matches(&a.hash, &b.key));
        assert!(!matches(&a.hash[..31], &a.key));
        assert_ne!(a.key, b.key);
        // 256 bits of secret.
        // After `mg_<16 hex>_`; the secret itself may hold `_` (base64url).
        let secret = &a.key[20..];
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(secret)
            .unwrap();
        assert_eq!(bytes.len(), 32);
        assert!(!format!("{a:?}").contains(secret));
    }

    #[test]
    fn malformed_keys_have_no_id() {
        for k in [
            "",
            "mg_",
            "mg_0123456789abcdef",
            "mg_0123456789abcdef_short",
            "xx_0123456789abcdef_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "mg_0123456789abcdeg_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "mg_0123456789abcdef_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        ] {
            assert_eq!(key_id(k), None, "{k}");
        }
    }

    #[test]
    fn role_matrix() {
        use Permission::*;
        let table = [
            (Role::Viewer, [true, false, false, false, false]),
            (Role::Evaluator, [true, true, false, false, false]),
            (Role::Approver, [true, true, true, false, false]),
            (Role::Auditor, [true, false, false, true, false]),
            (Role::Admin, [true, true, true, true, true]),
        ];
        for (role, want) in table {
            let got = [Read, Evaluate, Review, Audit, Admin].map(|p| role.allows(p));
            assert_eq!(got, want, "{role:?}");
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert_eq!(Role::parse("root"), None);
    }
}

/// Creates a key for `tenant` with `role` (and its audit event); returns the key, whose
/// secret is shown once. Also bootstraps nothing: a tenant's first request activates the
/// built-in pack.
pub async fn create_key(
    store: &crate::store::Store,
    tenant: &str,
    role: Role,
    expires_at: Option<i64>,
    created_by: Option<&str>,
    now: i64,
) -> Result<(GeneratedKey, crate::store::KeyRow), KeyCreateError> {
    let (g, row, event) = new_key(tenant, role, expires_at, created_by, now)?;
    store.insert_key(&row, Some(&event)).await?;
    Ok((g, row))
}

/// Creates an admin key for the default tenant only if the database holds no key at all
/// (the first start), atomically: of several processes starting at once, one creates it.
/// `None` when a key existed.
pub async fn create_first_admin_key(
    store: &crate::store::Store,
    now: i64,
) -> Result<Option<(GeneratedKey, crate::store::KeyRow)>, KeyCreateError> {
    let (g, row, event) = new_key(DEFAULT_TENANT, Role::Admin, None, None, now)?;
    Ok(store
        .insert_first_key(&row, &event)
        .await?
        .then_some((g, row)))
}

/// A new key, its row and its `key_created` audit event.
fn new_key(
    tenant: &str,
    role: Role,
    expires_at: Option<i64>,
    created_by: Option<&str>,
    now: i64,
) -> Result<(GeneratedKey, crate::store::KeyRow, crate::store::NewEvent), KeyCreateError> {
    if !valid_tenant(tenant) {
        return Err(KeyCreateError::Tenant(tenant.to_string()));
    }
    if expires_at.is_some_and(|e| e <= now) {
        return Err(KeyCreateError::Expiry);
    }
    let g = generate_key();
    let row = crate::store::KeyRow {
        id: g.id.clone(),
        tenant: tenant.to_string(),
        role: role.as_str().to_string(),
        secret_hash: g.hash.to_vec(),
        created_at: now,
        expires_at,
        revoked_at: None,
        created_by: created_by.map(str::to_string),
    };
    let event = crate::audit::event(
        "key_created",
        tenant,
        now,
        serde_json::json!({
            "key_id": row.id,
            "role": row.role,
            "expires_at": expires_at.map(crate::time::rfc3339_micros),
            "created_by": created_by,
        }),
    )?;
    Ok((g, row, event))
}

/// Revokes the tenant's key `id` (with its audit event). False when there is none.
pub async fn revoke_key(
    store: &crate::store::Store,
    tenant: &str,
    id: &str,
    revoked_by: Option<&str>,
    now: i64,
) -> Result<bool, KeyCreateError> {
    let event = crate::audit::event(
        "key_revoked",
        tenant,
        now,
        serde_json::json!({"key_id": id, "revoked_by": revoked_by}),
    )?;
    Ok(store.revoke_key(tenant, id, now, Some(&event)).await?)
}

/// A tenant name: 1 to 64 of `a-z 0-9 - _ .`.
pub fn valid_tenant(t: &str) -> bool {
    (1..=64).contains(&t.len())
        && t.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.".contains(&b))
}

#[derive(Debug, thiserror::Error)]
pub enum KeyCreateError {
    #[error("`{0}` is not a tenant name (1 to 64 of a-z, 0-9, -, _ and .)")]
    Tenant(String),
    #[error("`expires_at` must be in the future")]
    Expiry,
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error("audit log entry: {0}")]
    Audit(#[from] modelgate_audit::AuditError),
}
