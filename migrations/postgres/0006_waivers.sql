-- Waivers (DESIGN §1): a time-limited exception for (model or model prefix, rule[, profile])
-- with a reason code, justification, ticket, approver and a mandatory expiry. Creating and
-- revoking one are audit log entries; revocation sets revoked_at.
CREATE TABLE waivers (
    id            TEXT   NOT NULL PRIMARY KEY, -- UUIDv7
    tenant        TEXT   NOT NULL,
    model_ref     TEXT   NOT NULL, -- exact, or a prefix ending in '*'
    rule_id       TEXT   NOT NULL,
    profile       TEXT,
    reason        TEXT   NOT NULL,
    justification TEXT   NOT NULL,
    ticket        TEXT,
    approver      TEXT   NOT NULL, -- the approver's key id
    created_at    BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL,
    revoked_at    BIGINT,
    revoked_by    TEXT
);
CREATE INDEX waivers_by_tenant ON waivers (tenant, expires_at);
GRANT SELECT, INSERT, UPDATE ON waivers TO modelgate_app;
