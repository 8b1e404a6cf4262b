"""Which language is a post in? Only Dutch posts get categories (Flemish, Gronings count)."""

from __future__ import annotations

import re
from functools import lru_cache

import py3langid.langid as langid

DUTCH_LIKE = {"nl", "af", "fy", "li"}  # Afrikaans/Frisian/Limburgish: langid's Dutch confusions
MIN_CONFIDENCE = 0.75
_DUTCH_WORDS = frozenset(
    # Words that are Dutch and not also common English/German/French words.
    "de het een niet van ik je jij die dat met voor zijn maar wat naar ook nog wel geen "
    "heb hebben kan moet weer juf meester kinderen ouders groep deze onze jullie echt gewoon ".split()
)
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)


@lru_cache(maxsize=1)
def _identifier() -> langid.LanguageIdentifier:
    return langid.LanguageIdentifier.from_model_file(langid.MODEL_FILE, norm_probs=True)


def detect_language(text: str) -> str:
    """ISO 639-1 code; "nl" for Dutch and its regional forms, "und" when there is too little text."""
    words = _WORD.findall(text[:2000].lower())
    if len(words) < 2:
        return "und"
    dutch_hits = sum(w in _DUTCH_WORDS for w in words)
    if dutch_hits >= 2 or (dutch_hits and len(words) <= 4):
        return "nl"
    code, confidence = _identifier().classify(text[:2000])
    if code in DUTCH_LIKE or confidence < MIN_CONFIDENCE:
        return "nl"
    return str(code)


def is_dutch(language: str) -> bool:
    return language in ("nl", "und")
