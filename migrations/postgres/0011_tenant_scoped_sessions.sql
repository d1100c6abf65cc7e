-- The service's own queries under row-level security (DESIGN §6 "Access"). Every
-- tenant-scoped store call runs on a connection that switched to the role modelgate_app
-- when it connected (SET ROLE modelgate_app), after declaring its tenant
--     SELECT set_config('modelgate.tenant', '<tenant>', false)
-- or, for a transaction, BEGIN; SET LOCAL modelgate.tenant = '<tenant>'
-- so the policies below hold its reads and writes to that tenant's rows whatever its
-- WHERE clauses say. Work that spans tenants by nature (authentication by key id, the
-- sequencer, checkpoints, `modelgate audit verify`, `keys list`) keeps the connecting
-- user's own rights.
--
-- Policies now fail closed: a session of a role subject to them (any member of
-- modelgate_app that does not own the tables) sees no row until it declares a tenant.
-- Before this migration, a session that declared none saw every tenant.
DO $$
DECLARE
    t TEXT;
BEGIN
    FOREACH t IN ARRAY ARRAY['packs', 'pack_activations', 'profiles', 'model_versions',
                             'decisions', 'log_events', 'api_keys', 'reviews', 'waivers',
                             'tenant_state'] LOOP
        EXECUTE format('DROP POLICY tenant_isolation ON %I', t);
        EXECUTE format(
            'CREATE POLICY tenant_isolation ON %I '
            'USING (tenant = current_setting(''modelgate.tenant'', true)) '
            'WITH CHECK (tenant = current_setting(''modelgate.tenant'', true))', t);
    END LOOP;
END
$$;
-- SET ROLE needs membership, unless the user is a superuser. A user without the right to
-- grant it is told at start (`GRANT modelgate_app TO <user>`) rather than failing here.
DO $$
BEGIN
    IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
        EXECUTE format('GRANT modelgate_app TO %I', current_user);
    END IF;
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'cannot grant modelgate_app to %: %', current_user, SQLERRM;
END
$$;
