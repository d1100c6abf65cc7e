-- modelgate schema v1 (SQLite). Same tables and names as migrations/postgres/0001_init.sql.
-- Times are Unix microseconds (BIGINT); JSON is stored as TEXT, byte for byte as produced,
-- so that a stored decision can be replayed and compared exactly.

CREATE TABLE packs (
    tenant        TEXT    NOT NULL,
    digest        TEXT    NOT NULL,
    name          TEXT    NOT NULL,
    version       TEXT    NOT NULL,
    files         TEXT    NOT NULL, -- JSON array of {"path", "content"}
    builtin       BOOLEAN NOT NULL DEFAULT FALSE,
    registered_at BIGINT  NOT NULL,
    PRIMARY KEY (tenant, digest)
);

CREATE TABLE pack_activations (
    tenant       TEXT   NOT NULL,
    seq          BIGINT NOT NULL,
    digest       TEXT   NOT NULL,
    activated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant, seq),
    FOREIGN KEY (tenant, digest) REFERENCES packs (tenant, digest)
);

CREATE TABLE profiles (
    tenant      TEXT   NOT NULL,
    name        TEXT   NOT NULL,
    description TEXT,
    context     TEXT   NOT NULL, -- JSON use context
    version     BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (tenant, name)
);

CREATE TABLE model_versions (
    tenant          TEXT   NOT NULL,
    model_ref       TEXT   NOT NULL,
    version         BIGINT NOT NULL,
    format          TEXT   NOT NULL,
    document        BLOB   NOT NULL,
    record          TEXT   NOT NULL, -- JSON model record
    document_digest TEXT   NOT NULL,
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (tenant, model_ref, version)
);

CREATE TABLE decisions (
    id              TEXT   NOT NULL PRIMARY KEY, -- UUIDv7: ordered by creation
    tenant          TEXT   NOT NULL,
    model_ref       TEXT   NOT NULL,
    model_version   BIGINT,
    profile         TEXT   NOT NULL DEFAULT '', -- '' = an ad-hoc context
    verdict         TEXT   NOT NULL,
    format          TEXT   NOT NULL,
    document        BLOB   NOT NULL,
    record          TEXT   NOT NULL,
    context         TEXT   NOT NULL,
    decision        TEXT   NOT NULL,
    pack_digest     TEXT   NOT NULL,
    engine_version  TEXT   NOT NULL,
    input_digest    TEXT   NOT NULL,
    created_at      BIGINT NOT NULL,
    requested_by    TEXT,
    idempotency_key TEXT,
    request_digest  TEXT
);

CREATE UNIQUE INDEX decisions_idempotency ON decisions (tenant, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX decisions_by_tenant ON decisions (tenant, id);
CREATE INDEX decisions_by_model ON decisions (tenant, model_ref, profile, id);
