"""Undoing the disguises of Dutch social-media text before the model sees it.

`k@nker`, `t r u t`, `h00r`, `truuuut`, `#KutSchool`, `@juf_anja`, URLs and emoji all become
plain lower-case words, so that the model and the rules recognise the word underneath.
"""

from __future__ import annotations

import re
import unicodedata

from crawlers.matching import strip_diacritics

_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_HANDLE = re.compile(r"(?<![\w@])@[\w.]{2,30}")
_HASHTAG = re.compile(r"#(\w+)")
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
# Leetspeak inside words: only in tokens that also hold letters (not in "06-12345678").
_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a",
                       "$": "s", "€": "e", "!": "i", "|": "l"})
_LEET_TOKEN = re.compile(r"(?<![\w@$€!|])(?=[\w@$€!|]*[a-zA-Z])(?=[\w@$€!|]*[013457@$€!|])"
                         r"[\w@$€!|]{3,}")
# Three or more single letters separated by single spaces, dots, dashes or underscores.
_SPACED = re.compile(r"(?<![\w])(?:[a-zA-Z][ ._\-]){2,}[a-zA-Z](?![\w])")
_REPEATS = re.compile(r"([a-z])\1{2,}")
_MASK = re.compile(r"(?<=[a-z])[*#]+(?=[a-z])")
_WORD = re.compile(r"[a-z]+|[0-9]+|[^\sa-z0-9\W]|[\U0001F000-\U0001FAFF\u2600-\u27BF]")


def _unleet(match: re.Match[str]) -> str:
    token = match.group(0)
    if token.isdigit():
        return token
    # Trailing "!!!" is emphasis, not a disguised "i".
    stem = token.rstrip("!|")
    return stem.translate(_LEET) + " " * (len(token) - len(stem))


def deobfuscate(text: str) -> str:
    """The text with disguises removed, lower-cased, diacritics stripped, one line."""
    text = unicodedata.normalize("NFKC", text)
    text = _URL.sub(" url ", text)
    text = _HANDLE.sub(" usermention ", text)
    text = _HASHTAG.sub(lambda m: " " + _CAMEL.sub(" ", m.group(1)) + " ", text)
    text = _SPACED.sub(lambda m: re.sub(r"[ ._\-]", "", m.group(0)), text)
    text = _LEET_TOKEN.sub(_unleet, text)
    text = strip_diacritics(text).lower()
    text = _MASK.sub("", text)
    text = _REPEATS.sub(r"\1\1", text)
    return " ".join(text.split())


def words(text: str) -> list[str]:
    """Word tokens of already deobfuscated text (letters, numbers, emoji)."""
    return _WORD.findall(text)


__all__ = ["deobfuscate", "words"]
