-- Schema version 9: what digests remember, and facts about the database.
--
-- The stories each digest reported, so that a later copy in another feed
-- is listed as already reported instead of as new (docs/digests.md, "What is new").
-- One row per copy the message carried, with the text's fingerprint
-- (little-endian u64 shingle hashes, sorted). Rows go after `retention`.
CREATE TABLE sent_stories (
    id       INTEGER PRIMARY KEY,
    digest   TEXT NOT NULL,
    sent_at  INTEGER NOT NULL,
    feed     TEXT NOT NULL,
    title    TEXT NOT NULL,
    link     TEXT,
    shingles BLOB NOT NULL,
    lede     BLOB NOT NULL
);
CREATE INDEX sent_stories_by_digest ON sent_stories(digest, sent_at);

-- When each problem of the "feeds that need attention" section was last
-- shown: an immediate digest shows each problem at most once a day (the
-- scheduled ones always show them). A problem is a key such as
-- "failing:kyiv-post".
CREATE TABLE attention_shown (
    problem  TEXT PRIMARY KEY,
    shown_at INTEGER NOT NULL
) WITHOUT ROWID;

-- Small facts about the database itself, such as the version of the link
-- canonicalisation rules its stored links were made with (`link_rules`):
-- when the rules change, stored link identities are made again with the
-- new ones, so that an item identified by its link never alerts twice.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;

-- A match keeps its item's title with the matched words marked (FTS5's
-- highlight()), so that a digest marks them in the headline too.
ALTER TABLE matches ADD COLUMN title_marked TEXT;
