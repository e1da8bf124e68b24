-- Schema version 3: retention (docs/operations.md, "Operations"). Item identities move to `seen`, a
-- small table that is never pruned, so that an item whose text has been
-- pruned from `items` never alerts again. (Shrinking rows in place would
-- not give their pages back: the text has to go with its row.)
CREATE TABLE seen (
    feed_id INTEGER NOT NULL REFERENCES feeds(id),
    key     TEXT NOT NULL,
    link    TEXT,
    PRIMARY KEY (feed_id, key)
) WITHOUT ROWID;
CREATE INDEX seen_by_link ON seen(feed_id, link) WHERE link IS NOT NULL;
INSERT INTO seen(feed_id, key, link) SELECT feed_id, key, link FROM items;
DROP INDEX items_by_link;
CREATE INDEX items_by_fetch ON items(fetched_at);
CREATE INDEX matches_by_item ON matches(item_id);
CREATE INDEX matches_by_outbox ON matches(outbox_id);
