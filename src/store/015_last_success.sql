-- Schema version 15: when each feed was last fetched successfully (a 200 or
-- a 304), for monitoring (docs/operations.md, "Monitoring": `status --prometheus`).
-- last_fetch_at is the last attempt, failed or not. A feed healthy now was
-- last successful at its last fetch; for one failing now it is not known.
ALTER TABLE feeds ADD COLUMN last_success_at INTEGER;
UPDATE feeds SET last_success_at = last_fetch_at WHERE consecutive_errors = 0;
