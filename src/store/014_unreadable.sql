-- Schema 14: stored texts that cannot be read (docs/operations.md, "Bad input"). A
-- summary whose zstd frame is damaged reads as NULL (`codec`: one bad frame
-- fails no query); whoever meets one and can write records it here (a
-- delivery, the full check, which finds them all and keeps this table
-- true), so that `status` can count them without unpacking the archive.
CREATE TABLE unreadable (
    item_id  INTEGER PRIMARY KEY,         -- items.id; the row stays, with its title and link
    found_at INTEGER NOT NULL,
    error    TEXT NOT NULL                -- why the text cannot be read
);
