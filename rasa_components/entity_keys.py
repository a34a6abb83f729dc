"""The rules that turn a typed entity into the value a slot uses, without Rasa.

Kept apart from ``entity_values.py`` (the Rasa component) so the rules can be unit
tested from our own environment: "Infirmières" and "infirmier" share one loose key,
and a synonym only counts for the entity it was written for.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping

from rasa_components.normalise import strip_accents

#: Feminine and other endings folded to one form on both sides of the comparison.
ENDINGS = (("euse", "eur"), ("trice", "teur"), ("ienne", "ien"), ("iere", "ier"), ("ere", "er"), ("ee", "e"),
           ("nte", "nt"))
WORDS = re.compile(r"[\s\-'’.]+")

#: entity -> {loose key -> value}
Table = dict[str, dict[str, str]]


def loose_key(text: str) -> str:
    """``"Infirmières"`` -> ``"infirmier"``; ``"agents d'entretien"`` -> ``"agent d entretien"``."""
    words = []
    for word in WORDS.split(strip_accents(text.lower()).strip(" ,;:!?")):
        if len(word) > 3 and word[-1] in "sx":
            word = word[:-1]
        for ending, replacement in ENDINGS:
            if word.endswith(ending) and len(word) > len(ending) + 1:
                word = word[: -len(ending)] + replacement
                break
        if word:
            words.append(word)
    return " ".join(words)


def build_table(annotated: Iterable[tuple[str, str, str]], synonyms: Mapping[str, str],
                lookups: Mapping[str, list[str]]) -> Table:
    """Known values per entity, from annotated examples ``(entity, surface, value)``,
    synonyms ``{surface: value}`` and lookup tables ``{entity: [surface, ...]}``.

    Rasa's synonyms do not say which entity they belong to. A synonym goes to the
    entity that has its value; when several have it ("3" is a diploma level and a
    contract year), to those whose lookup table lists the synonym, else to those
    without a lookup table: "cap" stays a diploma, "3e" a contract year.
    """
    table: Table = {}
    for name, surface, value in annotated:
        values = table.setdefault(name, {})
        values.setdefault(loose_key(value), value)
        values.setdefault(loose_key(surface), value)
    listed = {name: {loose_key(element) for element in elements} for name, elements in lookups.items()}
    for surface, value in synonyms.items():
        owners = [name for name, values in table.items() if values.get(loose_key(value)) == value]
        if len(owners) > 1:
            owners = ([name for name in owners if loose_key(surface) in listed.get(name, set())]
                      or [name for name in owners if name not in listed])
        for name in owners:
            table[name].setdefault(loose_key(surface), value)
    return table


def known_value(values: Mapping[str, str], typed: str, typo_cutoff: float) -> str | None:
    """The value ``typed`` stands for, by loose key, else by a very close key (a typo;
    never for keys of four letters or less, where one letter changes the word)."""
    key = loose_key(typed)
    if key in values:
        return values[key]
    if len(key) > 4:
        close = difflib.get_close_matches(key, list(values), n=1, cutoff=typo_cutoff)
        if close:
            return values[close[0]]
    return None
