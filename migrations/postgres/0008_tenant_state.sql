-- A tenant's state generation: a counter that every change to what an evaluation depends
-- on besides its input (a waiver created or revoked, a rule pack activated) increases, by
-- trigger, whoever makes the change. Servers keep the active pack and the waivers in
-- memory; a recorded decision is inserted only if the generation it was evaluated under is
-- still the current one (else the server reloads and evaluates again), so a stale cache
-- never reaches a recorded decision. A tenant without a row is at generation 0.
CREATE TABLE tenant_state (
    tenant     TEXT   NOT NULL PRIMARY KEY,
    generation BIGINT NOT NULL
);
GRANT SELECT, INSERT, UPDATE ON tenant_state TO modelgate_app;
ALTER TABLE tenant_state ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tenant_state USING (
    COALESCE(current_setting('modelgate.tenant', true), '') = ''
    OR tenant = current_setting('modelgate.tenant', true)) WITH CHECK (
    COALESCE(current_setting('modelgate.tenant', true), '') = ''
    OR tenant = current_setting('modelgate.tenant', true));

CREATE FUNCTION modelgate_bump_tenant_state() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO tenant_state (tenant, generation) VALUES (NEW.tenant, 1)
        ON CONFLICT (tenant) DO UPDATE SET generation = tenant_state.generation + 1;
    RETURN NULL;
END
$$;
CREATE TRIGGER waivers_bump_tenant_state AFTER INSERT OR UPDATE ON waivers
    FOR EACH ROW EXECUTE FUNCTION modelgate_bump_tenant_state();
CREATE TRIGGER pack_activations_bump_tenant_state AFTER INSERT ON pack_activations
    FOR EACH ROW EXECUTE FUNCTION modelgate_bump_tenant_state();
ALTER TABLE waivers ENABLE ALWAYS TRIGGER waivers_bump_tenant_state;
ALTER TABLE pack_activations ENABLE ALWAYS TRIGGER pack_activations_bump_tenant_state;
