"""The Dutch adjective polarity lexicon (De Smedt & Daelemans, Pattern; see lexicons/).

Each adjective a post uses becomes an extra model feature (`lex:neg2` ... `lex:pos2`), so the
model starts from 3,900 adjectives' known polarity instead of learning each from a few posts.
A preceding "niet"/"geen"/"nooit" flips the polarity ("niet leuk").
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from functools import lru_cache
from pathlib import Path

from crawlers.matching import strip_diacritics

LEXICON_FILE = Path(__file__).parent / "lexicons" / "nl-sentiment.xml"
NEGATORS = frozenset({"niet", "geen", "nooit", "allerminst", "nauwelijks"})


@lru_cache(maxsize=1)
def polarities() -> dict[str, float]:
    """Word form (lower-case, no diacritics, also with the inflected -e) -> mean polarity."""
    sums: dict[str, list[float]] = {}
    for word in ET.parse(LEXICON_FILE).getroot().iter("word"):
        form = strip_diacritics(word.get("form", "")).lower()
        if not form or " " in form:
            continue
        polarity = float(word.get("polarity", "0"))
        for variant in (form, form + "e", form + "er", form + "ste"):
            sums.setdefault(variant, []).append(polarity)
    return {form: sum(v) / len(v) for form, v in sums.items()}


def _bucket(polarity: float) -> str | None:
    if polarity <= -0.5:
        return "neg2"
    if polarity <= -0.1:
        return "neg1"
    if polarity >= 0.5:
        return "pos2"
    if polarity >= 0.1:
        return "pos1"
    return None


def lexicon_features(tokens: list[str]) -> list[str]:
    table = polarities()
    found = []
    for i, token in enumerate(tokens):
        polarity = table.get(token)
        if polarity is None:
            continue
        if (i and tokens[i - 1] in NEGATORS) or (i > 1 and tokens[i - 2] in NEGATORS):
            polarity = -polarity
        bucket = _bucket(polarity)
        if bucket:
            found.append(f"lex:{bucket}")
    return found
