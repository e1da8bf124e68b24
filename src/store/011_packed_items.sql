-- Schema 11 (docs/performance.md, "Performance": the archive at rest), first half: the
-- new shape of `items`, which the store fills from the old table in
-- resumable steps (`compact`), then 012 swaps in.
--
-- - The summary is stored packed (`codec`: a zstd frame, or short text as
--   is) in `packed`; `summary` is a virtual column that unpacks it, so the
--   archive's FTS5 index (content = 'items') and every query read plain
--   text as before.
-- - No `key` and no UNIQUE (feed_id, key): identities live in `seen`
--   (schema 3), and that index was a second copy of every key. Counting a
--   feed's items (`status`) has a narrow index of its own.
CREATE TABLE items_packed (
    id         INTEGER PRIMARY KEY,
    feed_id    INTEGER NOT NULL REFERENCES feeds(id),
    link       TEXT,                      -- canonical link
    title      TEXT NOT NULL,
    packed     BLOB NOT NULL,             -- the summary, codec::pack
    summary    TEXT GENERATED ALWAYS AS (unpack_text(packed)) VIRTUAL,
    author     TEXT NOT NULL,
    category   TEXT NOT NULL,
    feed       TEXT NOT NULL,             -- feed name, indexed for `feed:` queries
    published  INTEGER,
    fetched_at INTEGER NOT NULL
);
