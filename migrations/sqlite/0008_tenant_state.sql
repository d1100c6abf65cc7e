-- A tenant's state generation (see migrations/postgres/0008): increased by trigger on
-- every waiver created or revoked and every rule pack activation. A recorded decision is
-- inserted only under the generation it was evaluated with. No row: generation 0.
CREATE TABLE tenant_state (
    tenant     TEXT    NOT NULL PRIMARY KEY,
    generation INTEGER NOT NULL
);

CREATE TRIGGER waivers_insert_bump_tenant_state AFTER INSERT ON waivers
BEGIN
    INSERT OR IGNORE INTO tenant_state (tenant, generation) VALUES (NEW.tenant, 0);
    UPDATE tenant_state SET generation = generation + 1 WHERE tenant = NEW.tenant;
END;
CREATE TRIGGER waivers_update_bump_tenant_state AFTER UPDATE ON waivers
BEGIN
    INSERT OR IGNORE INTO tenant_state (tenant, generation) VALUES (NEW.tenant, 0);
    UPDATE tenant_state SET generation = generation + 1 WHERE tenant = NEW.tenant;
END;
CREATE TRIGGER pack_activations_bump_tenant_state AFTER INSERT ON pack_activations
BEGIN
    INSERT OR IGNORE INTO tenant_state (tenant, generation) VALUES (NEW.tenant, 0);
    UPDATE tenant_state SET generation = generation + 1 WHERE tenant = NEW.tenant;
END;
