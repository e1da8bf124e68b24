-- Schema version 4: per-feed backoff (docs/fetching.md, "Fetching"). A failing feed is not
-- fetched again before next_fetch_at (exponential, capped at a day, then a
-- daily probe; Retry-After honoured; 410 Gone probed daily). NULL: any time.
ALTER TABLE feeds ADD COLUMN next_fetch_at INTEGER;
