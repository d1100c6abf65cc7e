-- Column compression exists on PostgreSQL only (see migrations/postgres/0009). This
-- migration keeps the version numbers of both folders in step.
SELECT 1;
