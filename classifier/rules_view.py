"""The text as `classifier.rules` sees it: normalised, mapped back to the original, indexed by word.

`lite()` lower-cases and strips diacritics; `deob()` also undoes the disguises of abuse (`k@nker`,
`t r u t`, `truuuut`). Both keep, per character, the span of the original text it came from, so a
rule that matches the normalised text still reports the exact original span.

Python's `re` costs a few milliseconds per pass over 100 KB, and the rules have dozens of
patterns. `Scanner` therefore tokenises once and tries a pattern only where a token starts with
one of the pattern's literal prefixes (derived from the pattern itself), and the personal-data
patterns run only in windows around digits and "@": a whole 100 KB post takes some 60 ms.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator
from functools import lru_cache

from classifier import rules_lexicon as lex

try:  # the pattern parser, to find literal prefixes; without it every pattern scans the whole text
    from re import _constants as sre_constants
    from re import _parser as sre_parse
except ImportError:  # pragma: no cover - other Python versions
    sre_parse = sre_constants = None  # type: ignore[assignment]

_CHAR_FIX = {"\u2019": "'", "\u2018": "'", "`": "'", "\u00b4": "'", "\u201c": '"', "\u201d": '"', "\u201e": '"',
             "\u00ab": '"', "\u00bb": '"', "\u00df": "ss"}
# Cyrillic look-alikes are a disguise in a Dutch post ("kаnker" with a Cyrillic a).
_CHAR_FIX.update(zip("аеорсухікмтнАЕОРСХІКМТН", "aeopcyxikmthaeopcxikmth", strict=True))


def _fold(ch: str) -> str:
    """One character lower-cased without diacritics; '' for invisible format characters."""
    if ch in _CHAR_FIX:
        return _CHAR_FIX[ch]
    code = ord(ch)
    for first in (0x1F130, 0x1F150, 0x1F170, 0x1F1E6):  # squared, circled and flag letters: 🅺🅰🅽🅺🅴🆁
        if first <= code < first + 26:
            return chr(ord("a") + code - first)
    if unicodedata.category(ch) in ("Cf", "Mn", "Me"):  # zero-width joiners, soft hyphens, RTL marks
        return ""
    return "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c)).lower()


class _FoldTable(dict[int, str]):
    """str.translate table that folds lazily; `single` keeps a character whose fold is not one char."""

    irregular: set[int] = set()  # characters whose fold is not one character (shared by both tables)

    def __init__(self, single: bool) -> None:
        super().__init__()
        self.single = single

    def __missing__(self, code: int) -> str:
        folded = _fold(chr(code))
        if len(folded) != 1:
            self.irregular.add(code)
        value = chr(code) if self.single and len(folded) != 1 else folded
        if len(self) < 65536:  # bounded: a text of random code points cannot grow it forever
            self[code] = value
        return value


_FOLD_ONE, _FOLD_ALL = _FoldTable(single=True), _FoldTable(single=False)
_irregular_rx: tuple[int, re.Pattern[str] | None] = (0, None)


def _irregular() -> re.Pattern[str]:
    """A character class of every character seen so far whose fold vanishes or expands."""
    global _irregular_rx
    codes = _FoldTable.irregular
    if _irregular_rx[0] != len(codes) or _irregular_rx[1] is None:
        _irregular_rx = (len(codes), re.compile("[" + "".join(re.escape(chr(c)) for c in sorted(codes)) + "]"
                                                if codes else "(?!)"))
    return _irregular_rx[1]  # type: ignore[return-value]


class View:
    """A normalised text and a sparse map back to its parent (the original text at the root).

    `segs` are (index, parent_start, parent_end) from `index` on: parent_end None means one parent
    character per character (parent_start + offset), otherwise every character of the segment comes
    from parent[parent_start:parent_end] (an expanded "ﬁ", a collapsed "uuuu"). Only the places where
    characters vanish, expand or collapse need a segment, so building a view is cheap.
    """

    __slots__ = ("_index", "_src", "parent", "segs", "text")

    def __init__(self, text: str, segs: list[tuple[int, int, int | None]], parent: View | None = None) -> None:
        self.text, self.segs, self.parent = text, segs, parent
        self._index = [seg[0] for seg in segs]
        self._src = [seg[1] for seg in segs]

    def _local(self, i: int, end: bool) -> int:
        seg = self.segs[bisect_right(self._index, i) - 1]
        if seg[2] is None:
            return seg[1] + i - seg[0] + end
        return seg[2] if end else seg[1]

    def span(self, a: int, b: int) -> tuple[int, int]:
        """The original span of view characters [a, b)."""
        a = min(max(a, 0), len(self.text) - 1)
        start, end = self._local(a, False), self._local(max(a, min(b, len(self.text)) - 1), True)
        return self.parent.span(start, end) if self.parent else (start, end)

    def index(self, pos: int) -> int:
        """The first view character that starts at or after original offset pos."""
        p = self.parent.index(pos) if self.parent else pos
        j = bisect_right(self._src, p) - 1
        if j < 0:
            return 0
        first, src, src_end = self.segs[j]
        after = self._index[j + 1] if j + 1 < len(self.segs) else len(self.text)
        offset = p - src
        if src_end is None:
            return first + offset if first + offset < after else after
        return first if offset == 0 else after

    def rewrite(self, matches: Iterable[re.Match[str]], keep: re.Pattern[str] | None) -> tuple[View, list[int]]:
        """Replace each match by the characters matching `keep`, or (keep=None) by its first character
        alone, spanning the whole match. Returns the new view and the new positions of replacements."""
        out: list[str] = []
        segs: list[tuple[int, int, int | None]] = []
        marks: list[int] = []
        pos = size = 0
        for m in matches:
            a, b = m.span()
            if a > pos:
                segs.append((size, pos, None))
                out.append(self.text[pos:a])
                size += a - pos
            if keep is None:  # "uuuu" -> "u"
                marks.append(size)
                segs.append((size, a, b))
                out.append(self.text[a])
                size += 1
            else:
                for k in range(a, b):
                    if keep.match(self.text, k):
                        segs.append((size, k, None))
                        out.append(self.text[k])
                        size += 1
            pos = b
        if not segs:
            return self, marks
        segs.append((size, pos, None))
        out.append(self.text[pos:])
        return View("".join(out), segs, self), marks


def lite(text: str) -> View:
    """Lower case, no diacritics, look-alike letters folded, invisible characters dropped."""
    one = text.translate(_FOLD_ONE)  # also records every irregular character of this text
    irregular = _irregular()
    if not irregular.search(text):  # every character folded to exactly one: offsets unchanged
        return View(one, [(0, 0, None)])
    out: list[str] = []
    segs: list[tuple[int, int, int | None]] = [(0, 0, None)]
    pos = size = 0
    for m in irregular.finditer(text):  # only characters that vanish or expand need a segment
        i = m.start()
        folded = _FOLD_ALL[ord(text[i])]
        out.append(one[pos:i])
        size += i - pos
        out.append(folded)
        segs.append((size, i, i + 1))
        size += len(folded)
        segs.append((size, i + 1, None))
        pos = i + 1
    out.append(one[pos:])
    return View("".join(out), segs)


_LEET = str.maketrans("0134578@$€!|", "oieastbaseil")
_LEET_RUN = re.compile(r"[0134578@$€!|]{1,4}(?=[a-z])")  # bounded: "0000...0" stays linear
# Three or more single letters with one separator between ("t r u t", "k.u.t"), or "k.k.hoer".
_SPACED = re.compile(r"[a-z](?<![a-z0-9][a-z])(?:[ ._\-][a-z](?![a-z0-9])){2,}|[a-z](?<![a-z0-9][a-z])"
                     r"(?:\.[a-z](?![a-z0-9]))+\.[a-z]{2,}(?![a-z0-9])")
_SPACED_HINT = re.compile(r"[ ._\-][a-z][ ._\-]")
_LETTER = re.compile(r"[a-z]")
_STRETCH = re.compile(r"([a-z])\1{2,}")


def _unleet(m: re.Match[str]) -> str:
    run, text, a = m.group(), m.string, m.start()
    inside = a > 0 and "a" <= text[a - 1] <= "z"  # "h03r", "k@nker"; a leading "$let" too
    leading = run == "$" and (a == 0 or not text[a - 1].isalnum()) and text[m.end():m.end() + 2].isalpha()
    return run.translate(_LEET) if inside or leading else run


def deob(base: View) -> tuple[View, list[int]]:
    """Leetspeak inside words undone, spaced-out letters joined, stretched letters collapsed to one.

    Returns the view and the positions of collapsed letters (for a second lexicon lookup).
    """
    text = _LEET_RUN.sub(_unleet, base.text)  # same length: the same map
    spaced: list[re.Match[str]] = []
    end = -1
    for hint in _SPACED_HINT.finditer(text):  # the full pattern only where single letters stand apart
        if hint.start() >= end:
            found = _SPACED.search(text, max(0, hint.start() - 1), hint.end() + 400)
            if found and found.start() <= hint.end():
                spaced.append(found)
                end = found.end()
    view, _ = View(text, base.segs, base.parent).rewrite(spaced, _LETTER)
    return view.rewrite(_STRETCH.finditer(view.text), None)


# -- lexicon lookup --------------------------------------------------------------------------------
def _variants(tok: str) -> Iterator[str]:
    yield tok
    for suffix in ("'s", "tjes", "jes", "tje", "je", "en", "s", "e"):
        if tok.endswith(suffix) and len(tok) - len(suffix) >= 3:
            stem = tok[: -len(suffix)]
            yield stem
            if suffix == "en" and stem[-1] == stem[-2]:
                yield stem[:-1]  # "kwallen" -> "kwal"


def _in(tok: str, words: frozenset[str]) -> bool:
    return any(v in words for v in _variants(tok))


_TAILS = lex.PERSON_TAILS | lex.INSULT_STRONG | lex.INSULT_WEAK
_GROUPS = lex.GROUP_TERMS | lex.GROUP_SLURS
_DOUBLE = re.compile(r"([a-z])\1")


@lru_cache(maxsize=32768)
def tags(tok: str) -> frozenset[str]:
    """Lexicon tags of one normalised token: strong, weak, curse, slur, group, weapon, person."""
    if "*" in tok:  # masked vowels: "k*nker", "k*tw*jf"
        if tok.count("*") > 3:
            return frozenset()
        return next((found for v in _unmask(tok) if (found := tags(v))), frozenset())
    tok = tok.strip("-'")
    found = set()
    if _in(tok, lex.INSULT_STRONG) or (tok.endswith(lex.INSULT_SUFFIXES) and len(tok) > 6):
        found.add("strong")
    elif _in(tok, lex.INSULT_WEAK):
        found.add("weak")
    if tok in lex.CURSE_PREFIXES:
        found.add("curse")
    for prefix in lex.CURSE_PREFIXES:  # "kankerlijer", "kutmarokkaan", "tering-invaller"
        rest = tok[len(prefix):].lstrip("-") if tok.startswith(prefix) else ""
        if len(rest) >= 3 and _in(rest, _GROUPS):
            found.update(("slur", "strong"))
        elif len(rest) >= 2 and (_in(rest, _TAILS) or rest.endswith(lex.PERSON_SUFFIXES)):
            found.add("strong")
    if _in(tok, lex.GROUP_SLURS):
        found.add("slur")
    if _in(tok, lex.GROUP_TERMS) or any(
            tok.startswith(stem) and tok[len(stem):].lstrip("-e") in lex.GROUP_HEADS for stem in lex.GROUP_STEMS):
        found.add("group")
    if _in(tok, lex.WEAPONS):
        found.add("weapon")
    if tok in lex.PERSON_WORDS or tok.endswith(lex.PERSON_SUFFIXES):
        found.add("person")
    return frozenset(found)


_INSULT_WORDS = lex.INSULT_STRONG | lex.INSULT_WEAK


def plural(tok: str) -> bool:
    """Whether a token is the plural of a slur ("heksen", "kutwijven", "klootzakken")."""
    for suffix in ("'s", "tjes", "jes", "en", "s"):
        if tok.endswith(suffix) and len(tok) - len(suffix) >= 3:
            stem = tok[: -len(suffix)]
            if any(v in _INSULT_WORDS or v.endswith(lex.INSULT_SUFFIXES) for v in (stem, stem[:-1], stem[:-1] + "f")):
                return True
    return False


def tags_stretched(tok: str) -> frozenset[str]:
    """Tags of a token whose letters were stretched ("truuuut" -> "truut" -> "trut")."""
    return tags(tok) or tags(_DOUBLE.sub(r"\1", tok))


def _unmask(tok: str) -> Iterator[str]:
    variants = [""]
    for ch in tok:
        variants = [v + c for v in variants for c in ("aeiou" if ch == "*" else ch)]
    yield from variants


# -- text helpers ---------------------------------------------------------------------------------
def near(positions: list[int], low: int, high: int) -> bool:
    """Whether a sorted list of positions holds one in [low, high)."""
    i = bisect_left(positions, low)
    return i < len(positions) and positions[i] < high


def reach(text: str, a: int, b: int, pattern: re.Pattern[str], width: int = 80) -> bool:
    """Whether pattern occurs within `width` characters of text[a:b]."""
    return bool(pattern.search(text, max(0, a - width), b + width))


def clause_start(text: str, a: int, stops: str = ".!?;,\n", width: int = 200) -> int:
    """Start of the clause (by default commas included) that holds position a, at most `width` back."""
    low = max(0, a - width)
    return max(low - 1, *(text.rfind(c, low, a) for c in stops)) + 1


def clause_end(text: str, b: int, stops: str = ".!?;\n", width: int = 200) -> int:
    """End of the clause that holds position b, at most `width` ahead."""
    ends = [i for i in (text.find(c, b, b + width) for c in stops) if i >= 0]
    return min(ends, default=min(len(text), b + width))


def windows(text: str, anchors: Iterable[tuple[int, int]], before: int, after: int) -> list[tuple[int, int]]:
    """Merged windows around anchors: patterns then scan a few hundred characters, not the whole text."""
    merged: list[tuple[int, int]] = []
    for a, b in anchors:
        lo, hi = max(0, a - before), min(len(text), b + after)
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(hi, merged[-1][1]))
        else:
            merged.append((lo, hi))
    return merged


# -- word-anchored scanning ------------------------------------------------------------------------
def _prefixes(items: list[tuple[object, object]]) -> set[str] | None:
    """Literal prefixes one of which every match of this parsed pattern starts with; None if unknown."""
    prefix = ""
    for op, av in items:
        if op is sre_constants.AT and not prefix:
            continue  # \b
        if op is sre_constants.LITERAL:
            prefix += chr(av)  # type: ignore[arg-type]
            continue
        if not prefix and op in (sre_constants.SUBPATTERN, sre_constants.BRANCH):
            branches = [av[3]] if op is sre_constants.SUBPATTERN else av[1]  # type: ignore[index]
            found: set[str] = set()
            for branch in branches:
                sub = _prefixes(list(branch))
                if not sub:
                    return None
                found |= sub
            return found
        break
    return {prefix} if prefix else None


class Anchored:
    """A compiled pattern and the literal prefixes its matches start with (None: scan everything)."""

    __slots__ = ("prefixes", "rx")

    def __init__(self, source: str) -> None:
        self.rx = re.compile(source)
        try:
            self.prefixes = _prefixes(list(sre_parse.parse(source))) if sre_parse else None
        except Exception:  # an unexpected parse tree only costs speed
            self.prefixes = None


_TOKEN = re.compile(r"[a-z*]+(?:['\-][a-z*]+)*")
_BREAK = re.compile(r"[!?;\n]|\.(?!\d)")


class Scanner:
    """Tokens of a normalised text, their clauses, and anchored pattern search."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = [(m.group(), m.start(), m.end()) for m in _TOKEN.finditer(text)]
        self.by2: dict[str, list[int]] = {}
        for tok, a, _ in self.tokens:
            self.by2.setdefault(tok[:2], []).append(a)
        self.breaks = [m.start() for m in _BREAK.finditer(text)]

    def clauses(self) -> Iterator[list[tuple[str, int, int]]]:
        """Tokens grouped by clause (sentence punctuation, ';' and line breaks end a clause)."""
        group: list[tuple[str, int, int]] = []
        breaks, k = self.breaks, 0
        for tok in self.tokens:
            if k < len(breaks) and breaks[k] < tok[1]:
                if group:
                    yield group
                group = []
                k = bisect_left(breaks, tok[1], k)
            group.append(tok)
        if group:
            yield group

    def _starts(self, prefix: str) -> Iterator[int]:
        keys = [prefix[:2]] if len(prefix) >= 2 else [k for k in self.by2 if k.startswith(prefix)]
        for key in keys:
            for pos in self.by2.get(key, ()):
                if self.text.startswith(prefix, pos):
                    yield pos

    def finditer(self, pattern: Anchored) -> list[re.Match[str]]:
        """Non-overlapping matches, leftmost first, like re.finditer (but only starting at a token)."""
        prefixes = pattern.prefixes
        if prefixes is None or sum(len(self.by2.get(p[:2], ())) for p in prefixes) > len(self.text) // 8:
            return list(pattern.rx.finditer(self.text))  # a full scan is cheaper than that many tries
        found, last = [], -1
        for pos in sorted({p for prefix in prefixes for p in self._starts(prefix)}):
            if pos >= last and (m := pattern.rx.match(self.text, pos)):
                found.append(m)
                last = max(m.end(), pos + 1)
        return found
