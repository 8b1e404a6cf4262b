"""Does a post mention the school? (DESIGN.md, Matching)

Both the school's terms and the post are normalised the same way: case-folded, diacritics
removed, camel-cased hashtags and handles split (`#BMVerkruisen` -> `bm verkruisen`),
punctuation turned into spaces. A term then matches with any spacing between its words
(`BM Verkruisen`, `bmverkruisen`, `B.M. Verkruisen`), with one typo in a long word
(`Verkruizen`), or inside a compound hashtag (`#verkruisenmuntendam`). An exclusion phrase
anywhere in the post vetoes the match.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import cached_property

import regex

# Words this long tolerate one typo; shorter ones would match too many ordinary words.
FUZZY_MIN_LENGTH = 8
# A compacted term this long may match inside a compound hashtag or handle.
COMPOUND_MIN_LENGTH = 6

_CAMEL_BOUNDARY = regex.compile(r"(?<=\p{Ll})(?=\p{Lu})|(?<=\p{Lu})(?=\p{Lu}\p{Ll})")
_TAG = regex.compile(r"[#@]([\p{L}\p{N}_.]+)")
_NON_WORD = regex.compile(r"[^\p{L}\p{N}]+")


def strip_diacritics(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def normalise(text: str) -> str:
    """Lower-case words separated by single spaces; hashtags and handles split on case."""
    text = unicodedata.normalize("NFKC", text)
    text = _TAG.sub(lambda m: " " + _CAMEL_BOUNDARY.sub(" ", m.group(1)) + " ", text)
    text = strip_diacritics(text).casefold()
    return _NON_WORD.sub(" ", text).strip()


def _compact(text: str) -> str:
    return normalise(text).replace(" ", "")


def _word_pattern(word: str) -> str:
    if len(word) <= 3 and word.isalpha():
        # Acronyms are often dotted or spaced: "B.M." / "b m".
        return r"\s?".join(regex.escape(ch) for ch in word)
    escaped = regex.escape(word)
    if len(word) >= FUZZY_MIN_LENGTH:
        return f"(?:{escaped}){{e<=1}}"
    return escaped


@dataclass(frozen=True)
class Match:
    term: str  # the configured alias or watched name
    found: str  # the words in the post that matched (normalised)


@dataclass(frozen=True)
class SchoolMatcher:
    aliases: tuple[str, ...]
    watch_names: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()

    @cached_property
    def _terms(self) -> list[tuple[str, regex.Pattern[str], str]]:
        terms = []
        for term in (*self.aliases, *self.watch_names):
            words = normalise(term).split()
            if not words:
                continue
            body = r"\s?".join(_word_pattern(word) for word in words)
            pattern = regex.compile(rf"(?<![\p{{L}}\p{{N}}])(?:{body})(?![\p{{L}}\p{{N}}])",
                                    regex.BESTMATCH)
            terms.append((term, pattern, "".join(words)))
        return terms

    @cached_property
    def _exclusions(self) -> list[regex.Pattern[str]]:
        patterns = []
        for phrase in self.exclude:
            words = normalise(phrase).split()
            if words:
                body = r"\s?".join(regex.escape(w) for w in words)
                patterns.append(regex.compile(rf"(?<![\p{{L}}\p{{N}}]){body}(?![\p{{L}}\p{{N}}])"))
        return patterns

    def match(self, text: str) -> Match | None:
        """The first term the text mentions, or None (also when an exclusion applies)."""
        normalised = normalise(text)
        if any(p.search(normalised) for p in self._exclusions):
            return None
        for term, pattern, _compact_term in self._terms:
            found = pattern.search(normalised)
            if found:
                return Match(term=term, found=found.group(0))
        tags = [_compact(tag) for tag in _TAG.findall(text)]
        for term, _pattern, compact in self._terms:
            if len(compact) >= COMPOUND_MIN_LENGTH:
                for tag in tags:
                    if compact in tag:
                        return Match(term=term, found=tag)
        return None


__all__ = ["Match", "SchoolMatcher", "normalise", "strip_diacritics"]
