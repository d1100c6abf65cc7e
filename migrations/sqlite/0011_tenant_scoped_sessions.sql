-- Tenant-scoped sessions under row-level security exist on PostgreSQL only (see
-- migrations/postgres/0011). This migration keeps the version numbers of both folders in
-- step.
SELECT 1;
