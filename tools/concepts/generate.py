#!/usr/bin/env python3
"""Writes src/lexicon/concepts.tsv, the concept lexicon feedwatch's rules
expand their words with (README, "Concepts"), from three reviewed inputs:

- curated.tsv: concepts written by hand for the news domain (inflections,
  spellings, abbreviations, synonyms), which win where they say a language;
- cldr/*.json: Unicode CLDR's names of every country and of some cities
  (exemplar cities of time zones) in the seven languages (Unicode License
  v3, cldr/LICENSE.txt; extracted from unicode-org/cldr-json at the commit
  each file names);
- demonyms.tsv: English adjectives and demonyms of countries and cities
  (ODbL-1.0 and hand-written, sources in its header).

For a country that is not curated, each language gets CLDR's name, and in
the languages that inflect names (uk, ru, pl) a prefix of its stem: the
Snowball stem where Snowball has the language (Russian) and keeps the
root, otherwise the case endings stripped. A stem shorter than MIN_STEM, or
one that cuts more than two letters off the name (Snowball's Иран → ира),
is not used: the name stays exact. Latin-script languages other than Polish
get the exact name only (a prefix of "Francia" would find Francisco).

Run: pip install snowballstemmer==2.2.0 && python3 tools/concepts/generate.py
The output is deterministic; a test keeps it equal to what this writes.
"""

import json
import os
import sys
import unicodedata

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "..", "src", "lexicon", "concepts.tsv")
LANGS = ["en", "uk", "ru", "de", "fr", "es", "pl"]
MIN_STEM = 4

# Uk and ru case endings (src/rules/fold.rs has the same list), Polish ones.
ENDINGS = {
    "uk": ["ами", "ями", "ові", "ою", "ею", "ії", "ія", "ію", "ом", "ем", "ах", "ях", "а", "я", "у", "ю", "і", "и", "ь"],
    "ru": ["ами", "ями", "ией", "ии", "ия", "ию", "ой", "ей", "ом", "ем", "ах", "ях", "а", "я", "у", "ю", "е", "ы", "и", "ь"],
    "pl": ["ami", "ach", "iej", "ią", "ię", "ii", "ia", "em", "ie", "ą", "ę", "a", "y", "i", "u"],
}

# CLDR territory codes that are not countries (regions, groupings, test
# codes), left out.
NOT_COUNTRIES = {"EU", "EZ", "UN", "QO", "XA", "XB", "ZZ", "AQ", "AC", "CP", "DG", "EA", "IC", "TA", "BV", "HM", "UM", "IO"}


def snowball(lang, word):
    try:
        import snowballstemmer
    except ImportError:
        sys.exit("pip install snowballstemmer==2.2.0 (the Snowball stemmers)")
    names = {"ru": "russian"}
    if lang not in names:
        return None
    return snowballstemmer.stemmer(names[lang]).stemWord(word)


def stem(lang, name):
    """A prefix that finds the name's inflected forms, or None."""
    if lang not in ENDINGS or " " in name or "-" in name:
        return None
    word = name.lower()
    s = snowball(lang, word)
    if s is None or len(s) < len(word) - 2:
        s = word
        for e in ENDINGS[lang]:
            if word.endswith(e) and len(word) - len(e) >= MIN_STEM:
                s = word[: -len(e)]
                break
    if len(s) < MIN_STEM or len(s) < len(word) - 2:
        return None
    # A Latin prefix passes through the index's porter stemmer, which may
    # cut it further (gwatemal* → gwatem*): only long ones (a test checks).
    if lang == "pl" and (len(s) < 6 or s[-2:] in ("al", "ic", "er")):
        return None
    return s + "*" if s != word else word + "*"


def read_tsv(path):
    rows = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line.strip() or line.startswith("#"):
                continue
            cells = line.split("\t")
            rows.append(cells)
    return rows


def main():
    concepts = {}  # id -> {lang: [forms]}
    order = []

    # `!form` in curated.tsv: a form the open data gives that must not be
    # used (CLDR's Газа is also the genitive of Russian газ, gas).
    never = set()

    def add(cid, lang, forms):
        if cid not in concepts:
            concepts[cid] = {}
            order.append(cid)
        have = concepts[cid].setdefault(lang, [])
        for f in forms:
            f = f.strip()
            if f.startswith("!"):
                never.add((cid, lang, f[1:].strip()))
            elif f and f not in have and (cid, lang, f) not in never:
                have.append(f)

    curated = set()
    for cid, lang, forms in read_tsv(os.path.join(HERE, "curated.tsv")):
        add(cid, lang, forms.split("|"))
        curated.add((cid, lang))

    cldr = {}
    for lang in LANGS:
        with open(os.path.join(HERE, "cldr", f"{lang}.json"), encoding="utf-8") as f:
            cldr[lang] = json.load(f)

    def concept_id(english):
        plain = "".join(
            c for c in unicodedata.normalize("NFD", english.lower()) if not unicodedata.combining(c)
        )
        return plain.replace(" & ", " and ").replace(" ", "-")

    # Countries: CLDR names.
    en = cldr["en"]["territories"]
    for code in sorted(en):
        if len(code) != 2 or not code.isalpha() or code in NOT_COUNTRIES:
            continue
        cid = concept_id(en.get(f"{code}-alt-short", en[code]))
        for lang in LANGS:
            t = cldr[lang]["territories"]
            names = [t[k] for k in (code, f"{code}-alt-short", f"{code}-alt-variant") if k in t]
            forms = []
            for name in names:
                if "(" in name or "," in name:
                    continue
                forms.append(name.lower())
                if (cid, lang) not in curated:
                    s = stem(lang, name)
                    if s:
                        forms.append(s)
            add(cid, lang, forms)

    # Cities: CLDR exemplar cities; the English name from the zone id
    # where CLDR gives none.
    for zone in sorted({z for lang in LANGS for z in cldr[lang]["exemplarCity"]}):
        english = cldr["en"]["exemplarCity"].get(zone, zone.split("/")[-1].replace("_", " "))
        cid = concept_id(english)
        add(cid, "en", [english.lower()])
        for lang in LANGS[1:]:
            name = cldr[lang]["exemplarCity"].get(zone)
            if name:
                forms = [name.lower()]
                if (cid, lang) not in curated:
                    s = stem(lang, name)
                    if s:
                        forms.append(s)
                add(cid, lang, forms)

    # English adjectives and demonyms.
    for cells in read_tsv(os.path.join(HERE, "demonyms.tsv")):
        name, forms = cells[0], [c for c in cells[1:] if c.strip()]
        cid = name if name in concepts else next(
            (c for c in order if name in concepts[c].get("en", [])), name
        )
        add(cid, "en", [name] + forms)

    with open(OUT, "w", encoding="utf-8") as out:
        out.write(HEADER)
        for cid in order:
            for lang in ["see", "all"] + LANGS:
                forms = concepts[cid].get(lang)
                if forms:
                    out.write(f"{cid}\t{lang}\t{' | '.join(forms)}\n")


HEADER = """\
# feedwatch's concept lexicon (README, "Concepts"): a plain rule word that
# names a concept below finds every form of it, in every language.
# GENERATED by tools/concepts/generate.py from the files beside it: do not
# edit; edit tools/concepts/curated.tsv and run the generator.
#
# Sources and licences
#   tools/concepts/curated.tsv: written by hand for feedwatch (MIT OR Apache-2.0).
#   Unicode CLDR (cldr-json, names of countries and exemplar cities in en uk ru
#     de fr es pl): Unicode License v3, tools/concepts/cldr/LICENSE.txt.
#   tools/concepts/demonyms.tsv: English adjectives and demonyms; countries from
#     mledoze/countries (ODbL-1.0), cities by hand; this file, a derived database
#     of them, is shared under ODbL-1.0 as well.
#
# Format: <concept> TAB <lang> TAB <form> | <form> … (see curated.tsv).
"""

if __name__ == "__main__":
    main()
