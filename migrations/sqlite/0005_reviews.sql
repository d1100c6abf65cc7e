-- Reviews (DESIGN §1): a human approve/reject of a `review` verdict, with justification and
-- optional conditions. Append-only (a review is an audit log entry); one per decision.
CREATE TABLE reviews (
    id            TEXT   NOT NULL PRIMARY KEY, -- UUIDv7
    tenant        TEXT   NOT NULL,
    decision_id   TEXT   NOT NULL,
    model_ref     TEXT   NOT NULL,
    profile       TEXT   NOT NULL DEFAULT '',
    outcome       TEXT   NOT NULL CHECK (outcome IN ('approve', 'reject')),
    justification TEXT   NOT NULL,
    conditions    TEXT, -- JSON array of strings
    reviewer      TEXT   NOT NULL, -- the approver's key id
    created_at    BIGINT NOT NULL
);
CREATE UNIQUE INDEX reviews_by_decision ON reviews (tenant, decision_id);
CREATE TRIGGER reviews_no_update BEFORE UPDATE ON reviews
BEGIN SELECT RAISE(ABORT, 'modelgate: reviews is append-only (UPDATE refused)'); END;
CREATE TRIGGER reviews_no_delete BEFORE DELETE ON reviews
BEGIN SELECT RAISE(ABORT, 'modelgate: reviews is append-only (DELETE refused)'); END;
