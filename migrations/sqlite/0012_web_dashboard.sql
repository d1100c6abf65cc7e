-- The web dashboard (issue 13); see migrations/postgres/0012 for the reasons.
ALTER TABLE model_versions ADD COLUMN license TEXT;
UPDATE model_versions SET license = COALESCE(
    NULLIF(json_extract(record, '$.license_expression'), ''),
    json_extract(record, '$.licenses[0].value'));

CREATE TABLE web_sessions (
    id_hash    TEXT   NOT NULL PRIMARY KEY,
    tenant     TEXT   NOT NULL,
    key_id     TEXT   NOT NULL,
    csrf       TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX web_sessions_by_expiry ON web_sessions (expires_at);
