-- The audit log (DESIGN §6): an append-only RFC 6962 Merkle log of every decision and every
-- event that changes what is approved, with signed C2SP checkpoints. Same tables and names as
-- migrations/sqlite/0003_audit_log.sql.
--
-- A request writes its decision (or event) and a queue row in one transaction; the sequencer
-- (the holder of an advisory lock, fenced by a row lock on log_state) moves queued rows into
-- log_entries in batches, assigning contiguous indices, and stores the tree's hashes
-- (log_hashes, keyed by the tlog stored-hash index). Triggers (ENABLE ALWAYS, so they fire even
-- with session_replication_role = replica) make every audit table append-only: a queue row may
-- only be deleted once it is in the log, and the log size only grows. The role modelgate_app
-- holds exactly the grants the service needs; run the service as a member of it.

-- Each decision carries the hash of its log leaf; inserting it queues it (trigger below), so a
-- decision and its queue row are written by one statement.
ALTER TABLE decisions ADD COLUMN leaf_hash BYTEA;

CREATE TABLE log_events (
    id         TEXT   NOT NULL PRIMARY KEY, -- UUIDv7
    tenant     TEXT   NOT NULL,
    kind       TEXT   NOT NULL,
    leaf_hash  BYTEA  NOT NULL,
    leaf       BYTEA  NOT NULL, -- "<kind>/v1\n" + RFC 8785 JSON of the event
    created_at BIGINT NOT NULL
);

CREATE TABLE log_queue (
    id        BIGSERIAL PRIMARY KEY,
    tenant    TEXT   NOT NULL,
    kind      TEXT   NOT NULL, -- 'decision' (ref_id = decisions.id) or an event kind (ref_id = log_events.id)
    ref_id    TEXT   NOT NULL,
    leaf_hash BYTEA  NOT NULL,
    queued_at BIGINT NOT NULL
);
CREATE INDEX log_queue_by_ref ON log_queue (kind, ref_id);

CREATE TABLE log_entries (
    idx          BIGINT NOT NULL PRIMARY KEY,
    tenant       TEXT   NOT NULL,
    kind         TEXT   NOT NULL,
    ref_id       TEXT   NOT NULL,
    leaf_hash    BYTEA  NOT NULL,
    queue_id     BIGINT NOT NULL UNIQUE,
    queued_at    BIGINT NOT NULL,
    sequenced_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX log_entries_by_ref ON log_entries (kind, ref_id);

CREATE TABLE log_hashes (
    id   BIGINT NOT NULL PRIMARY KEY, -- tlog stored-hash index
    hash BYTEA  NOT NULL
);

CREATE TABLE log_state (
    id         INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    size       BIGINT  NOT NULL,
    root       BYTEA   NOT NULL,
    updated_at BIGINT  NOT NULL
);
-- The empty tree: size 0, root SHA-256("").
INSERT INTO log_state (id, size, root, updated_at)
VALUES (1, 0, '\xe3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'::bytea, 0);

CREATE TABLE log_checkpoints (
    size         BIGINT NOT NULL PRIMARY KEY,
    root         BYTEA  NOT NULL,
    note         TEXT   NOT NULL, -- the signed note, as served
    verifier_key TEXT   NOT NULL,
    created_at   BIGINT NOT NULL
);

-- Queueing: a decision or event row and its queue row are one atomic statement.
CREATE FUNCTION modelgate_queue_decision() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.leaf_hash IS NOT NULL THEN
        INSERT INTO log_queue (tenant, kind, ref_id, leaf_hash, queued_at)
        VALUES (NEW.tenant, 'decision', NEW.id, NEW.leaf_hash, NEW.created_at);
    END IF;
    RETURN NULL;
END
$$;
CREATE FUNCTION modelgate_queue_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO log_queue (tenant, kind, ref_id, leaf_hash, queued_at)
    VALUES (NEW.tenant, NEW.kind, NEW.id, NEW.leaf_hash, NEW.created_at);
    RETURN NULL;
END
$$;
CREATE TRIGGER decisions_queue AFTER INSERT ON decisions
    FOR EACH ROW EXECUTE FUNCTION modelgate_queue_decision();
CREATE TRIGGER log_events_queue AFTER INSERT ON log_events
    FOR EACH ROW EXECUTE FUNCTION modelgate_queue_event();
ALTER TABLE decisions ENABLE ALWAYS TRIGGER decisions_queue;
ALTER TABLE log_events ENABLE ALWAYS TRIGGER log_events_queue;

-- Guards.
CREATE FUNCTION modelgate_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'modelgate: % is append-only (% refused)', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE FUNCTION modelgate_queue_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM log_entries WHERE queue_id = OLD.id) THEN
        RAISE EXCEPTION 'modelgate: a queued log entry can only be removed once it is in the log'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN OLD;
END
$$;

CREATE FUNCTION modelgate_log_state_grows() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.size < OLD.size OR NEW.id <> OLD.id THEN
        RAISE EXCEPTION 'modelgate: the log size can only grow'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END
$$;

DO $$
DECLARE
    t TEXT;
BEGIN
    FOREACH t IN ARRAY ARRAY['decisions', 'log_events', 'log_entries', 'log_hashes', 'log_checkpoints'] LOOP
        EXECUTE format('CREATE TRIGGER %I BEFORE UPDATE OR DELETE ON %I FOR EACH ROW EXECUTE FUNCTION modelgate_append_only()', t || '_append_only', t);
        EXECUTE format('CREATE TRIGGER %I BEFORE TRUNCATE ON %I FOR EACH STATEMENT EXECUTE FUNCTION modelgate_append_only()', t || '_no_truncate', t);
        EXECUTE format('ALTER TABLE %I ENABLE ALWAYS TRIGGER %I', t, t || '_append_only');
        EXECUTE format('ALTER TABLE %I ENABLE ALWAYS TRIGGER %I', t, t || '_no_truncate');
    END LOOP;
END
$$;

CREATE TRIGGER log_queue_no_update BEFORE UPDATE ON log_queue
    FOR EACH ROW EXECUTE FUNCTION modelgate_append_only();
CREATE TRIGGER log_queue_no_truncate BEFORE TRUNCATE ON log_queue
    FOR EACH STATEMENT EXECUTE FUNCTION modelgate_append_only();
CREATE TRIGGER log_queue_delete_only_sequenced BEFORE DELETE ON log_queue
    FOR EACH ROW EXECUTE FUNCTION modelgate_queue_delete();
CREATE TRIGGER log_state_no_delete BEFORE DELETE ON log_state
    FOR EACH ROW EXECUTE FUNCTION modelgate_append_only();
CREATE TRIGGER log_state_no_truncate BEFORE TRUNCATE ON log_state
    FOR EACH STATEMENT EXECUTE FUNCTION modelgate_append_only();
CREATE TRIGGER log_state_only_grows BEFORE UPDATE ON log_state
    FOR EACH ROW EXECUTE FUNCTION modelgate_log_state_grows();
ALTER TABLE log_queue ENABLE ALWAYS TRIGGER log_queue_no_update;
ALTER TABLE log_queue ENABLE ALWAYS TRIGGER log_queue_no_truncate;
ALTER TABLE log_queue ENABLE ALWAYS TRIGGER log_queue_delete_only_sequenced;
ALTER TABLE log_state ENABLE ALWAYS TRIGGER log_state_no_delete;
ALTER TABLE log_state ENABLE ALWAYS TRIGGER log_state_no_truncate;
ALTER TABLE log_state ENABLE ALWAYS TRIGGER log_state_only_grows;

-- The application role: what the service needs and no more. Audit tables get no UPDATE or
-- DELETE (except the sequencer's queue delete and log_state update, which the triggers bound).
-- Roles are cluster-wide; another database may have created it already.
DO $$
BEGIN
    CREATE ROLE modelgate_app NOLOGIN;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;
END
$$;
GRANT SELECT, INSERT, UPDATE, DELETE ON packs, pack_activations, profiles, model_versions TO modelgate_app;
GRANT SELECT, INSERT ON decisions, log_events, log_entries, log_hashes, log_checkpoints TO modelgate_app;
GRANT SELECT, INSERT, DELETE ON log_queue TO modelgate_app;
GRANT SELECT, UPDATE ON log_state TO modelgate_app;
GRANT USAGE, SELECT ON SEQUENCE log_queue_id_seq TO modelgate_app;
GRANT SELECT ON _sqlx_migrations TO modelgate_app;
