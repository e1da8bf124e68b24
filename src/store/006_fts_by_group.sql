-- Schema version 6: the archive's FTS5 index is filled by the store, one
-- INSERT … SELECT per group of stored feeds, no longer by a trigger per row.
-- A statement that writes to an FTS5 table inside a transaction opens a
-- savepoint, and FTS5 writes its pending index to disk as a new segment at
-- every savepoint: through the trigger, every item became a segment of its
-- own, and merging them was most of a first poll's time (docs/performance.md,
-- "Performance"). The delete trigger stays (retention deletes in bulk).
DROP TRIGGER items_fts_insert;
