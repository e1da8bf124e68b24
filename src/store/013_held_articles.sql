-- Schema version 13: a full_text feed's items are stored before their
-- articles are read (docs/fetching.md, "Full text").
--
-- A new item that may alert and links to an article is stored at once,
-- with the feed's text, and held here unmatched until its article is read
-- (or fails): then the article joins its text and it is matched. A row
-- left behind by a crash or a stop is finished by the next poll. The
-- attempt is recorded before the page is parsed, so that a page that
-- crashed the reader is never parsed again.
CREATE TABLE held (
    item_id      INTEGER PRIMARY KEY REFERENCES items(id) ON DELETE CASCADE,
    held_at      INTEGER NOT NULL,
    attempted_at INTEGER
);

-- Hosts of articles that answered 429 or 503: left alone until then, by
-- every process (a `poll` run by cron too).
CREATE TABLE article_hosts (
    host       TEXT PRIMARY KEY,
    hold_until INTEGER NOT NULL
);
