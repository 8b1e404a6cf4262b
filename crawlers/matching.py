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


class _StripTable(dict[int, str]):
    """Per-character `strip_diacritics`, filled on first use (for `str.translate`).

    Decomposition works character by character, and canonical reordering only moves
    combining marks, which are all dropped: so stripping each character on its own gives the
    same string as stripping the whole text, at a fraction of the cost per post.
    """

    def __missing__(self, code: int) -> str:
        decomposed = unicodedata.normalize("NFKD", chr(code))
        stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
        self[code] = stripped
        return stripped


_STRIP_TABLE = _StripTable()


def strip_diacritics(text: str) -> str:
    if text.isascii():
        return text  # nothing to decompose
    return text.translate(_STRIP_TABLE)


def normalise(text: str) -> str:
    """Lower-case words separated by single spaces; hashtags and handles split on case."""
    text = unicodedata.normalize("NFKC", text)
    text = _TAG.sub(lambda m: " " + _CAMEL_BOUNDARY.sub(" ", m.group(1)) + " ", text)
    text = strip_diacritics(text).casefold()
    return _NON_WORD.sub(" ", text).strip()


def _compact(text: str) -> str:
    return normalise(text).replace(" ", "")


def _word_pattern(word: str, *, fuzzy: bool) -> str:
    if len(word) <= 3 and word.isalpha():
        # Acronyms are often dotted or spaced: "B.M." / "b m".
        return r"\s?".join(regex.escape(ch) for ch in word)
    escaped = regex.escape(word)
    if fuzzy and len(word) >= FUZZY_MIN_LENGTH:
        return f"(?:{escaped}){{e<=1}}"
    return escaped


def _term_pattern(word_patterns: list[str], flags: int = 0) -> regex.Pattern[str]:
    body = r"\s?".join(word_patterns)
    return regex.compile(rf"(?<![\p{{L}}\p{{N}}])(?:{body})(?![\p{{L}}\p{{N}}])", flags)


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
    def _terms(self) -> list[tuple[str, regex.Pattern[str], regex.Pattern[str] | None, str]]:
        """(term, exact pattern, fuzzy pattern or None, compacted term) per term."""
        terms = []
        for term in (*self.aliases, *self.watch_names):
            words = normalise(term).split()
            if not words:
                continue
            exact = _term_pattern([_word_pattern(word, fuzzy=False) for word in words])
            fuzzy = None
            if any(len(word) >= FUZZY_MIN_LENGTH for word in words):
                fuzzy = _term_pattern([_word_pattern(word, fuzzy=True) for word in words],
                                      regex.BESTMATCH)
            terms.append((term, exact, fuzzy, "".join(words)))
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
        for term, exact, fuzzy, _compact_term in self._terms:
            # The exact pattern first: it is several times cheaper than the fuzzy one, and
            # when it matches, the best fuzzy match is that same zero-typo match.
            found = exact.search(normalised) or (fuzzy.search(normalised) if fuzzy else None)
            if found:
                return Match(term=term, found=found.group(0))
        tags = [_compact(tag) for tag in _TAG.findall(text)]
        for term, _exact, _fuzzy, compact in self._terms:
            if len(compact) >= COMPOUND_MIN_LENGTH:
                for tag in tags:
                    if compact in tag:
                        return Match(term=term, found=tag)
        return None


__all__ = ["Match", "SchoolMatcher", "normalise", "strip_diacritics"]
