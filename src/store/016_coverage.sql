-- Schema version 16: what each digest covered, and the outages an
-- immediate digest has told its readers of (docs/digests.md, "Coverage and
-- outages").
--
-- Counters on each feed that only grow, from zero at this migration:
-- successful fetches (a 200 or a 304), new items that could alert (each
-- checked against the rules), and articles that could not be read. A
-- digest keeps, per feed it reads, the counters as they were when it was
-- last composed; what it covered is the difference, so no log of polls
-- grows with the number of feeds times polls, and no clock's resolution
-- decides which period a poll belongs to.
ALTER TABLE feeds ADD COLUMN polls_ok INTEGER NOT NULL DEFAULT 0;
ALTER TABLE feeds ADD COLUMN items_checked INTEGER NOT NULL DEFAULT 0;
ALTER TABLE feeds ADD COLUMN articles_unread INTEGER NOT NULL DEFAULT 0;

CREATE TABLE coverage (
    digest          TEXT NOT NULL,
    feed            TEXT NOT NULL,
    polls_ok        INTEGER NOT NULL,
    items_checked   INTEGER NOT NULL,
    articles_unread INTEGER NOT NULL,
    at              INTEGER NOT NULL,     -- when the digest was composed
    PRIMARY KEY (digest, feed)
) WITHOUT ROWID;

-- The feeds an immediate digest said were down, and since when: its next
-- message says when one is back, and a new outage (a later `since`) is
-- told again.
CREATE TABLE outages_told (
    digest TEXT NOT NULL,
    feed   TEXT NOT NULL,
    since  INTEGER NOT NULL,
    PRIMARY KEY (digest, feed)
) WITHOUT ROWID;

-- Each match's snippet with its own rule's words only: the snippet keeps
-- the words of every rule of its digest that matched the item, and a line
-- pointing to the item under another rule shows a fragment with this
-- rule's words (docs/digests.md, "Delivery"). NULL for matches made before.
ALTER TABLE matches ADD COLUMN rule_snippet TEXT;
