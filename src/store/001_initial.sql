-- Schema version 1: feeds, items with their FTS5 index, matches, outbox.
-- Times are unix seconds (UTC).

CREATE TABLE feeds (
    id                 INTEGER PRIMARY KEY,
    name               TEXT NOT NULL UNIQUE,
    url                TEXT NOT NULL,
    etag               TEXT,
    last_modified      TEXT,
    first_fetch_at     INTEGER,           -- NULL until the first successful fetch (backfill)
    last_fetch_at      INTEGER,
    last_status        INTEGER,
    last_error         TEXT,
    consecutive_errors INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE items (
    id         INTEGER PRIMARY KEY,
    feed_id    INTEGER NOT NULL REFERENCES feeds(id),
    key        TEXT NOT NULL,             -- our identity within the feed (docs/digests.md, "What is new")
    link       TEXT,                      -- canonical link
    title      TEXT NOT NULL,
    summary    TEXT NOT NULL,
    author     TEXT NOT NULL,
    category   TEXT NOT NULL,
    feed       TEXT NOT NULL,             -- feed name, indexed for `feed:` queries
    published  INTEGER,
    fetched_at INTEGER NOT NULL,
    UNIQUE (feed_id, key)
);
CREATE INDEX items_by_link ON items(feed_id, link) WHERE link IS NOT NULL;
CREATE INDEX items_by_time ON items(coalesce(published, fetched_at));

-- External-content FTS5 index over items: the text is stored once, in items.
CREATE VIRTUAL TABLE items_fts USING fts5(
    title, summary, author, category, feed,
    content = 'items', content_rowid = 'id',
    tokenize = 'porter unicode61 remove_diacritics 2'
);
CREATE TRIGGER items_fts_insert AFTER INSERT ON items BEGIN
    INSERT INTO items_fts(rowid, title, summary, author, category, feed)
    VALUES (new.id, new.title, new.summary, new.author, new.category, new.feed);
END;
CREATE TRIGGER items_fts_delete AFTER DELETE ON items BEGIN
    INSERT INTO items_fts(items_fts, rowid, title, summary, author, category, feed)
    VALUES ('delete', old.id, old.title, old.summary, old.author, old.category, old.feed);
END;

CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    digest          TEXT NOT NULL,
    message_id      TEXT NOT NULL UNIQUE, -- fixed when the row is written
    env_from        TEXT NOT NULL,
    recipients      TEXT NOT NULL,        -- JSON array of addresses
    message         BLOB NOT NULL,        -- the complete RFC 5322 message
    created_at      INTEGER NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    sent_at         INTEGER
);
CREATE INDEX outbox_unsent ON outbox(next_attempt_at) WHERE sent_at IS NULL;

CREATE TABLE matches (
    id         INTEGER PRIMARY KEY,
    item_id    INTEGER NOT NULL REFERENCES items(id),
    rule       TEXT NOT NULL,
    digest     TEXT NOT NULL,
    snippet    TEXT NOT NULL,             -- matched words between \x02 and \x03
    created_at INTEGER NOT NULL,
    outbox_id  INTEGER REFERENCES outbox(id), -- NULL while pending
    UNIQUE (item_id, rule)
);
CREATE INDEX matches_pending ON matches(digest) WHERE outbox_id IS NULL;
