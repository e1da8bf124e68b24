#!/usr/bin/env python3
"""Oracle: how many DISTINCT entries feedparser finds in each corpus file.

Run by hand (never by CI), from the repository root:

    pip install feedparser==6.0.14
    python3 tests/corpus/oracle.py

It walks tests/corpus/feedparser/ recursively, takes the files whose extension
is xml, json, rdf, atom or rss (the selection of tests/it/corpus.rs), sorted by
path, parses each with feedparser and writes tests/corpus/feedparser-entries.tsv:
`#` header lines, then `<path relative to tests/corpus/feedparser/>\t<count>`.
The output holds no date, so two runs with the same feedparser version give
the same bytes.

Identity rule (two entries are the same when their identities are equal):
  1. the entry's `id`, if non-empty;
  2. else its `link`, if non-empty;
  3. else the pair (title, published string, or updated string if no published),
     if at least one of the two is non-empty;
  4. else (no id, link, title or date) the entry counts as distinct on its own.
Values are compared after stripping surrounding whitespace (a blank id is empty).
"""

import io
import sys
from pathlib import Path

import feedparser

HERE = Path(__file__).resolve().parent        # tests/corpus/
CORPUS = HERE / "feedparser"
OUTPUT = HERE / "feedparser-entries.tsv"
EXTENSIONS = {"xml", "json", "rdf", "atom", "rss"}


def field(entry, name):
    """A string field of an entry, stripped; '' when absent or not a string."""
    value = entry.get(name)
    return value.strip() if isinstance(value, str) else ""


def identity(entry):
    """The entry's identity by the rule above, or None if it has none."""
    if field(entry, "id"):
        return ("id", field(entry, "id"))
    if field(entry, "link"):
        return ("link", field(entry, "link"))
    title = field(entry, "title")
    date = field(entry, "published") or field(entry, "updated")
    if title or date:
        return ("title+date", title, date)
    return None


def count_distinct(data):
    """Distinct entries feedparser finds in `data` (bytes).

    The bytes are wrapped in a BytesIO: given a bytes/str argument, feedparser
    first tries it as a URL or a file name; a stream is read as-is, so no
    network, file or file-URL access can happen. No `response_headers` are
    set: without HTTP headers feedparser sniffs the encoding from the BOM and
    the XML declaration, which is what a file on disk offers (an invented
    Content-Type would override the encodings these tests exercise).
    """
    result = feedparser.parse(io.BytesIO(data))
    seen, count = set(), 0
    for entry in result.entries:
        key = identity(entry)
        if key is None:          # rule 4: no identity at all, distinct
            count += 1
        elif key not in seen:
            seen.add(key)
            count += 1
    return count


def main():
    files = sorted(
        (p for p in CORPUS.rglob("*")
         if p.is_file() and p.suffix[1:] in EXTENSIONS),
        key=lambda p: p.relative_to(CORPUS).as_posix(),
    )
    rows, failures = [], []
    for path in files:
        rel = path.relative_to(CORPUS).as_posix()
        try:
            count = count_distinct(path.read_bytes())
        except Exception as e:   # never expected; record 0 and report it
            failures.append(f"{rel}: {type(e).__name__}: {e}")
            count = 0
        rows.append((rel, count))

    header = [
        "# Oracle: number of DISTINCT entries the Python feed parser feedparser",
        "# finds in each file of tests/corpus/feedparser/ (xml, json, rdf, atom, rss).",
        f"# feedparser version: {feedparser.__version__}",
        "# Identity: the entry's id if non-empty, else its link if non-empty, else",
        "# the pair (title, published or else updated string) if either is non-empty;",
        "# entries with none of these count as distinct each. Values are stripped.",
        "# Files feedparser raised an exception on are recorded as 0.",
        "# Regenerate from the repository root:",
        f"#   pip install feedparser=={feedparser.__version__}",
        "#   python3 tests/corpus/oracle.py",
        "# Columns: path relative to tests/corpus/feedparser/ <TAB> distinct entries",
    ]
    lines = header + [f"{rel}\t{count}" for rel, count in rows]
    with open(OUTPUT, "w", encoding="utf-8", newline="\n") as out:
        out.write("\n".join(lines) + "\n")

    print(f"files:                      {len(rows)}")
    print(f"files with >= 1 entry:      {sum(1 for _, c in rows if c > 0)}")
    print(f"total distinct entries:     {sum(c for _, c in rows)}")
    print(f"files feedparser raised on: {len(failures)} (recorded as 0)")
    for failure in failures:
        print(f"  {failure}")
    print(f"written: {OUTPUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
