-- Row-level security (DESIGN §6 "Access"): every tenant-owned table is visible, to a
-- session that declares its tenant (SET modelgate.tenant = '…', or set_config), only for
-- that tenant — reads, updates and inserts alike. A session that declares none (the
-- service, which scopes every query by the tenant of the request's key; the sequencer;
-- `modelgate audit verify`) is not restricted by these policies. Policies apply to roles
-- that do not own the tables, such as members of modelgate_app; owners and superusers
-- bypass them.
DO $$
DECLARE
    t TEXT;
BEGIN
    FOREACH t IN ARRAY ARRAY['packs', 'pack_activations', 'profiles', 'model_versions',
                             'decisions', 'log_events', 'api_keys', 'reviews', 'waivers'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format(
            'CREATE POLICY tenant_isolation ON %I USING ('
            'COALESCE(current_setting(''modelgate.tenant'', true), '''') = '''' '
            'OR tenant = current_setting(''modelgate.tenant'', true)) WITH CHECK ('
            'COALESCE(current_setting(''modelgate.tenant'', true), '''') = '''' '
            'OR tenant = current_setting(''modelgate.tenant'', true))', t);
    END LOOP;
END
$$;
