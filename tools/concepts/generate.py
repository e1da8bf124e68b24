#!/usr/bin/env python3
"""Writes src/lexicon/concepts.tsv, the concept lexicon feedwatch's rules
expand their words with (docs/reference.md, "Concepts"), from three reviewed inputs:

- curated.tsv: concepts written by hand for the news domain (inflections,
  spellings, abbreviations, synonyms), which win where they say a language;
- cldr/*.json: Unicode CLDR's names of every country and of some cities
  (exemplar cities of time zones) in the eight languages (Unicode License
  v3, cldr/LICENSE.txt; extracted from unicode-org/cldr-json at the commit
  each file names);
- demonyms.tsv: English adjectives and demonyms of countries and cities
  (ODbL-1.0 and hand-written, sources in its header).

For a country or city that is not curated, each language gets CLDR's name;
in the languages that decline names (uk, ru, pl) its cases too: its stem
as a prefix when the stem is long, its case endings spelled out otherwise
(`declined`). Latin-script languages other than Polish, and Persian, get
the exact name only (a prefix of "Francia" would find Francisco).

Run: python3 tools/concepts/generate.py (standard library only). The output
is deterministic and committed; src/lexicon/tests.rs checks its guards.
"""

import json
import os
import unicodedata

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "..", "src", "lexicon", "concepts.tsv")
LANGS = ["en", "uk", "ru", "de", "fr", "es", "pl", "fa"]
# A generated name's stem is a prefix only from this many letters: shorter
# stems start common words (того, само, груз, дані, суда were prefixes
# once) or other names (австр* finds Австралія).
MIN_PREFIX = 6

# How a name of each ending declines (the endings its cases take), for the
# languages that decline names; the first class whose ending the name has
# applies. A name whose stem is shorter than MIN_PREFIX gets these forms
# spelled out, a longer one the stem as a prefix. Snowball's stemmers were
# tried for this and rejected: they cut into roots (Russian Иран → ира,
# Судан → суда, which finds суда, "ships").
DECLENSION = {
    "uk": [
        ("ія", ["ія", "ії", "ію", "ією"]),
        ("а", ["а", "и", "і", "у", "ою"]),
        ("я", ["я", "і", "ю", "ею"]),
        ("", ["", "у", "а", "і", "ом"]),
    ],
    "ru": [
        ("ия", ["ия", "ии", "ию", "ией"]),
        ("а", ["а", "ы", "и", "е", "у", "ой"]),
        ("я", ["я", "и", "ю", "ей", "е"]),
        ("", ["", "а", "у", "е", "ом"]),
    ],
    "pl": [
        ("ia", ["ia", "ii", "ię", "ią"]),
        ("ja", ["ja", "ji", "ję", "ją"]),
        ("a", ["a", "y", "i", "ę", "ą", "ie"]),
        ("", ["", "u", "em", "ie", "a"]),
    ],
}

VOWELS = "аеєиіїоуюяыэёaeiouyąęó"

# Names this short are left out of the languages that decline names
# (того, "of that", is Togo; мали, "small", is Mali): too many are words.
MIN_NAME = 5

# CLDR territory codes that are not countries (regions, groupings, test
# codes), left out.
NOT_COUNTRIES = {"EU", "EZ", "UN", "QO", "XA", "XB", "ZZ", "AQ", "AC", "CP", "DG", "EA", "IC", "TA", "BV", "HM", "UM", "IO"}


# (concept, language) → a generated name's cases spelled out, for when its
# prefix finds another concept's name (filled by `declined`).
spelled = {}


def declined(lang, name, cid=None):
    """A name's forms in a language that declines names: its stem as a
    prefix, or its cases spelled out; just the name in other languages,
    for names of several words, and names ending in й or ь."""
    word = name.lower()
    if lang not in DECLENSION or " " in word or "-" in word or word[-1] in "йь":
        return [word]
    if len(word) < MIN_NAME:
        return []
    for ending, cases in DECLENSION[lang]:
        stem = word[: len(word) - len(ending)]
        # The ending is the name's only after a consonant: Самоа, Палау,
        # Indie do not decline so.
        if word.endswith(ending) and stem and stem[-1] not in VOWELS:
            # A Latin prefix also passes through the index's porter
            # stemmer, which may cut it further (gwatemal* → gwatem*; a
            # test checks every prefix).
            porter_safe = lang != "pl" or stem[-2:] not in ("al", "ic", "er")
            if len(stem) >= MIN_PREFIX and porter_safe:
                if cid:
                    spelled[(cid, lang)] = [stem + c for c in cases]
                return [word, stem + "*"]
            return [stem + c for c in cases]
    return [word]


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
        # Persian: the hamza above a final he (کرهٔ) is mostly not written,
        # and the index splits the word at it: the name as news writes it.
        if lang == "fa":
            forms = [f.replace("\u0654", "") for f in forms]
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
                # A curated language keeps its own forms, and the name.
                forms.extend([name.lower()] if (cid, lang) in curated else declined(lang, name, cid))
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
                add(cid, lang, [name.lower()] if (cid, lang) in curated else declined(lang, name, cid))

    # English adjectives and demonyms.
    for cells in read_tsv(os.path.join(HERE, "demonyms.tsv")):
        name, forms = cells[0], [c for c in cells[1:] if c.strip()]
        cid = name if name in concepts else next(
            (c for c in order if name in concepts[c].get("en", [])), name
        )
        add(cid, "en", [name] + forms)

    # A generated prefix that starts a name of another concept (Polish
    # dominik*, Dominica, finds Dominikana) is spelled out instead.
    def folded(f):
        return "".join(
            c for c in unicodedata.normalize("NFD", f.lower().rstrip("*")) if not unicodedata.combining(c)
        )

    names = [(cid, folded(f)) for cid in order for forms in concepts[cid].values() for f in forms]
    for (cid, lang), cases in spelled.items():
        stems = [f for f in concepts[cid][lang] if f.endswith("*")]
        for stem in stems:
            if any(other != cid and name.startswith(folded(stem)) for other, name in names):
                forms = concepts[cid][lang]
                forms.remove(stem)
                forms.extend(c for c in cases if c not in forms)

    with open(OUT, "w", encoding="utf-8") as out:
        out.write(HEADER)
        for cid in order:
            for lang in ["see", "all"] + LANGS:
                forms = concepts[cid].get(lang)
                if forms:
                    out.write(f"{cid}\t{lang}\t{' | '.join(forms)}\n")


HEADER = """\
# feedwatch's concept lexicon (docs/reference.md, "Concepts"): a plain rule word that
# names a concept below finds every form of it, in every language.
# GENERATED by tools/concepts/generate.py from the files beside it: do not
# edit; edit tools/concepts/curated.tsv and run the generator.
#
# Sources and licences
#   tools/concepts/curated.tsv: written by hand for feedwatch (MIT OR Apache-2.0).
#   Unicode CLDR (cldr-json, names of countries and exemplar cities in en uk ru
#     de fr es pl fa): Unicode License v3, tools/concepts/cldr/LICENSE.txt.
#   tools/concepts/demonyms.tsv: English adjectives and demonyms; countries from
#     mledoze/countries (ODbL-1.0), cities by hand; this file, a derived database
#     of them, is shared under ODbL-1.0 as well.
#
# Format: <concept> TAB <lang> TAB <form> | <form> … (see curated.tsv).
"""

if __name__ == "__main__":
    main()
