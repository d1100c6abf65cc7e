-- Change notifications exist on PostgreSQL only (see migrations/postgres/0010): an SQLite
-- database has one server, which drops its caches itself. This migration keeps the
-- version numbers of both folders in step.
SELECT 1;
