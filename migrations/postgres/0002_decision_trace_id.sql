-- The OpenTelemetry trace id of the request that made a decision (null when traces are not
-- exported), so that a decision and its trace can be found from each other.
ALTER TABLE decisions ADD COLUMN trace_id TEXT;
