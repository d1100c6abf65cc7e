-- API keys (DESIGN §6 "Access"): a key is `mg_<id>_<secret>`; `id` (16 hex digits) is public
-- and names the key, only the SHA-256 of the whole key is stored. The key's tenant and role
-- decide what a request may see and do.
CREATE TABLE api_keys (
    id          TEXT   NOT NULL PRIMARY KEY,
    tenant      TEXT   NOT NULL,
    role        TEXT   NOT NULL,
    secret_hash BYTEA  NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT,
    revoked_at  BIGINT,
    created_by  TEXT
);
CREATE INDEX api_keys_by_tenant ON api_keys (tenant, created_at);
GRANT SELECT, INSERT, UPDATE ON api_keys TO modelgate_app;
