-- Schema version 2: when a feed started failing, so a digest can name the
-- feeds that have been failing for a day (docs/digests.md, "Delivery"). NULL while healthy.
ALTER TABLE feeds ADD COLUMN failing_since INTEGER;
