-- Schema version 8: the last full integrity check (PRAGMA quick_check) the
-- daemon ran, at start and daily, so that `status` can say the database is
-- damaged and how to recover even when the damage is where a command's own
-- queries do not look. One row; problems NULL when the check passed.
CREATE TABLE integrity (
    checked_at INTEGER NOT NULL,
    problems   TEXT
);
