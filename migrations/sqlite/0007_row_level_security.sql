-- Row-level security exists on PostgreSQL only (see migrations/postgres/0007): SQLite is
-- one process's embedded database, where the service's tenant-scoped queries are the
-- isolation. This migration keeps the version numbers of both folders in step.
SELECT 1;
