-- Schema version 10: full text of teaser feeds (docs/fetching.md, "Full text").
--
-- A match found only in the article a `full_text` feed's item links to,
-- not in what the feed itself gave: the digest says so.
ALTER TABLE matches ADD COLUMN in_article INTEGER NOT NULL DEFAULT 0;

-- Articles fetched for a feed's items, the ones that could not be (each
-- such item was matched on the feed's text instead), and the last reason.
ALTER TABLE feeds ADD COLUMN articles_fetched INTEGER NOT NULL DEFAULT 0;
ALTER TABLE feeds ADD COLUMN articles_failed INTEGER NOT NULL DEFAULT 0;
ALTER TABLE feeds ADD COLUMN last_article_error TEXT;
