-- The web dashboard (issue 13).
--
-- 1. Each model version's licence as its record declares it (the record's
--    `license_expression`, else its first declared licence as written), so the status board filters by licence in SQL and still returns
--    full pages. Versions stored before this migration are filled from their records.
ALTER TABLE model_versions ADD COLUMN license TEXT;
UPDATE model_versions SET license = COALESCE(
    NULLIF(record::jsonb ->> 'license_expression', ''),
    record::jsonb -> 'licenses' -> 0 ->> 'value');

-- 2. Sessions of people signed in to the dashboard. The browser holds a random session id
--    in a cookie; the table holds its SHA-256 (a stolen table opens no session), the key it
--    was opened with (the key's role and revocation apply to every page), the form token
--    (CSRF) and the expiry. Looked up by id hash before the tenant is known, like API keys.
CREATE TABLE web_sessions (
    id_hash    TEXT   NOT NULL PRIMARY KEY,
    tenant     TEXT   NOT NULL,
    key_id     TEXT   NOT NULL,
    csrf       TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX web_sessions_by_expiry ON web_sessions (expires_at);
GRANT SELECT, INSERT, DELETE ON web_sessions TO modelgate_app;
ALTER TABLE web_sessions ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON web_sessions
    USING (tenant = current_setting('modelgate.tenant', true))
    WITH CHECK (tenant = current_setting('modelgate.tenant', true));
