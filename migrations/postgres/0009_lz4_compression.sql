-- The large columns of decisions and model versions (documents, records, contexts,
-- decisions: kilobytes each) are compressed with LZ4 instead of pglz where the server
-- supports it: pglz was the first item of PostgreSQL's CPU profile under recorded
-- evaluations and under `audit verify`. Only new values are affected; a server built
-- without LZ4 keeps pglz.
DO $$
BEGIN
    IF 'lz4' = ANY (SELECT unnest(enumvals) FROM pg_settings WHERE name = 'default_toast_compression') THEN
        ALTER TABLE decisions
            ALTER COLUMN document SET COMPRESSION lz4,
            ALTER COLUMN record SET COMPRESSION lz4,
            ALTER COLUMN context SET COMPRESSION lz4,
            ALTER COLUMN decision SET COMPRESSION lz4;
        ALTER TABLE model_versions
            ALTER COLUMN document SET COMPRESSION lz4,
            ALTER COLUMN record SET COMPRESSION lz4;
    END IF;
END
$$;
