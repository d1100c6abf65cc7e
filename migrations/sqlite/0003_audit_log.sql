-- The audit log (DESIGN §6): an append-only RFC 6962 Merkle log of every decision and every
-- event that changes what is approved, with signed C2SP checkpoints.
--
-- A request writes its decision (or event) and a queue row in one transaction; the sequencer
-- moves queued rows into log_entries in batches, assigning contiguous indices, and stores the
-- tree's hashes (log_hashes, keyed by the tlog stored-hash index). log_state is the one-row
-- fence the sequencer locks. Triggers make every audit table append-only: a queue row may
-- only be deleted once it is in the log, and the log size only grows.

-- Each decision carries the hash of its log leaf; inserting it queues it (trigger below), so a
-- decision and its queue row are written by one statement.
ALTER TABLE decisions ADD COLUMN leaf_hash BLOB;

CREATE TABLE log_events (
    id         TEXT   NOT NULL PRIMARY KEY, -- UUIDv7
    tenant     TEXT   NOT NULL,
    kind       TEXT   NOT NULL,
    leaf_hash  BLOB  NOT NULL,
    leaf       BLOB   NOT NULL, -- "<kind>/v1\n" + RFC 8785 JSON of the event
    created_at BIGINT NOT NULL
);

CREATE TABLE log_queue (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant    TEXT   NOT NULL,
    kind      TEXT   NOT NULL, -- 'decision' (ref_id = decisions.id) or an event kind (ref_id = log_events.id)
    ref_id    TEXT   NOT NULL,
    leaf_hash BLOB   NOT NULL,
    queued_at BIGINT NOT NULL
);
CREATE INDEX log_queue_by_ref ON log_queue (kind, ref_id);

CREATE TABLE log_entries (
    idx          BIGINT NOT NULL PRIMARY KEY,
    tenant       TEXT   NOT NULL,
    kind         TEXT   NOT NULL,
    ref_id       TEXT   NOT NULL,
    leaf_hash    BLOB   NOT NULL,
    queue_id     BIGINT NOT NULL UNIQUE,
    queued_at    BIGINT NOT NULL,
    sequenced_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX log_entries_by_ref ON log_entries (kind, ref_id);

CREATE TABLE log_hashes (
    id   BIGINT NOT NULL PRIMARY KEY, -- tlog stored-hash index
    hash BLOB   NOT NULL
);

CREATE TABLE log_state (
    id         INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    size       BIGINT  NOT NULL,
    root       BLOB    NOT NULL,
    updated_at BIGINT  NOT NULL
);
-- The empty tree: size 0, root SHA-256("").
INSERT INTO log_state (id, size, root, updated_at)
VALUES (1, 0, X'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', 0);

CREATE TABLE log_checkpoints (
    size         BIGINT NOT NULL PRIMARY KEY,
    root         BLOB   NOT NULL,
    note         TEXT   NOT NULL, -- the signed note, as served
    verifier_key TEXT   NOT NULL,
    created_at   BIGINT NOT NULL
);

-- Queueing: a decision or event row and its queue row are one atomic statement.
CREATE TRIGGER decisions_queue AFTER INSERT ON decisions WHEN NEW.leaf_hash IS NOT NULL
BEGIN
    INSERT INTO log_queue (tenant, kind, ref_id, leaf_hash, queued_at)
    VALUES (NEW.tenant, 'decision', NEW.id, NEW.leaf_hash, NEW.created_at);
END;
CREATE TRIGGER log_events_queue AFTER INSERT ON log_events
BEGIN
    INSERT INTO log_queue (tenant, kind, ref_id, leaf_hash, queued_at)
    VALUES (NEW.tenant, NEW.kind, NEW.id, NEW.leaf_hash, NEW.created_at);
END;

-- Guards: append-only audit tables.
CREATE TRIGGER decisions_no_update BEFORE UPDATE ON decisions
BEGIN SELECT RAISE(ABORT, 'modelgate: decisions are append-only (UPDATE refused)'); END;
CREATE TRIGGER decisions_no_delete BEFORE DELETE ON decisions
BEGIN SELECT RAISE(ABORT, 'modelgate: decisions are append-only (DELETE refused)'); END;
CREATE TRIGGER log_events_no_update BEFORE UPDATE ON log_events
BEGIN SELECT RAISE(ABORT, 'modelgate: log_events is append-only (UPDATE refused)'); END;
CREATE TRIGGER log_events_no_delete BEFORE DELETE ON log_events
BEGIN SELECT RAISE(ABORT, 'modelgate: log_events is append-only (DELETE refused)'); END;
CREATE TRIGGER log_entries_no_update BEFORE UPDATE ON log_entries
BEGIN SELECT RAISE(ABORT, 'modelgate: log_entries is append-only (UPDATE refused)'); END;
CREATE TRIGGER log_entries_no_delete BEFORE DELETE ON log_entries
BEGIN SELECT RAISE(ABORT, 'modelgate: log_entries is append-only (DELETE refused)'); END;
CREATE TRIGGER log_hashes_no_update BEFORE UPDATE ON log_hashes
BEGIN SELECT RAISE(ABORT, 'modelgate: log_hashes is append-only (UPDATE refused)'); END;
CREATE TRIGGER log_hashes_no_delete BEFORE DELETE ON log_hashes
BEGIN SELECT RAISE(ABORT, 'modelgate: log_hashes is append-only (DELETE refused)'); END;
CREATE TRIGGER log_checkpoints_no_update BEFORE UPDATE ON log_checkpoints
BEGIN SELECT RAISE(ABORT, 'modelgate: log_checkpoints is append-only (UPDATE refused)'); END;
CREATE TRIGGER log_checkpoints_no_delete BEFORE DELETE ON log_checkpoints
BEGIN SELECT RAISE(ABORT, 'modelgate: log_checkpoints is append-only (DELETE refused)'); END;
CREATE TRIGGER log_queue_no_update BEFORE UPDATE ON log_queue
BEGIN SELECT RAISE(ABORT, 'modelgate: log_queue rows cannot be changed (UPDATE refused)'); END;
CREATE TRIGGER log_queue_delete_only_sequenced BEFORE DELETE ON log_queue
WHEN NOT EXISTS (SELECT 1 FROM log_entries WHERE queue_id = OLD.id)
BEGIN SELECT RAISE(ABORT, 'modelgate: a queued log entry can only be removed once it is in the log'); END;
CREATE TRIGGER log_state_no_delete BEFORE DELETE ON log_state
BEGIN SELECT RAISE(ABORT, 'modelgate: log_state cannot be deleted'); END;
CREATE TRIGGER log_state_only_grows BEFORE UPDATE ON log_state
WHEN NEW.size < OLD.size OR NEW.id <> OLD.id
BEGIN SELECT RAISE(ABORT, 'modelgate: the log size can only grow'); END;
