-- Schema version 5: permanent redirects (docs/fetching.md, "Fetching"). Where a feed's URL now
-- redirects permanently, and how many fetches in a row confirmed it.
ALTER TABLE feeds ADD COLUMN moved_to TEXT;
ALTER TABLE feeds ADD COLUMN moved_count INTEGER NOT NULL DEFAULT 0;
