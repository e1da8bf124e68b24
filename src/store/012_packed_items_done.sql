-- Schema 12: `items_packed` (011), filled, becomes `items`. Run with
-- foreign keys off (the old table goes while `matches` refers to it by
-- name; the new one has the same row ids).
DROP TABLE items;
ALTER TABLE items_packed RENAME TO items;
CREATE INDEX items_by_time ON items(coalesce(published, fetched_at));
CREATE INDEX items_by_fetch ON items(fetched_at);
CREATE INDEX items_by_feed ON items(feed_id);
CREATE TRIGGER items_fts_delete AFTER DELETE ON items BEGIN
    INSERT INTO items_fts(items_fts, rowid, title, summary, author, category, feed)
    VALUES ('delete', old.id, old.title, old.summary, old.author, old.category, old.feed);
END;
