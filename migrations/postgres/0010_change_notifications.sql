-- Change notifications: servers keep API keys (5 s) and each tenant's active pack and
-- waivers (1 s) in memory. These triggers announce, at commit, a key updated (revoked) and
-- a tenant's state generation moved (waiver granted or revoked, pack activated), on the
-- channel `modelgate_changes` with the payload `key:<id>` or `tenant:<tenant>`, whoever
-- makes the change; every server listening drops what it cached at once instead of
-- waiting for the time limit.
CREATE FUNCTION modelgate_notify_key() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('modelgate_changes', 'key:' || NEW.id);
    RETURN NULL;
END
$$;
CREATE TRIGGER api_keys_notify AFTER UPDATE ON api_keys
    FOR EACH ROW EXECUTE FUNCTION modelgate_notify_key();
ALTER TABLE api_keys ENABLE ALWAYS TRIGGER api_keys_notify;

CREATE FUNCTION modelgate_notify_tenant() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('modelgate_changes', 'tenant:' || NEW.tenant);
    RETURN NULL;
END
$$;
CREATE TRIGGER tenant_state_notify AFTER INSERT OR UPDATE ON tenant_state
    FOR EACH ROW EXECUTE FUNCTION modelgate_notify_tenant();
ALTER TABLE tenant_state ENABLE ALWAYS TRIGGER tenant_state_notify;
