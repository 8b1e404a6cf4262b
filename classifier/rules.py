"""Rules that add what the statistical model is weak at, with the exact spans that carry them.

The model reads a truncated, deobfuscated copy of a post and gives scores; it cannot say *where*
a post threatens or doxes someone, and it misses rare but unmistakable forms (a phone number
after "bel haar maar", "k a n k e r h o e r"). Each rule returns the span of the ORIGINAL text
that carries its category, so the director sees why a post was flagged, and a strength: how sure
the rule alone is (the combiner takes max(model, strength)). Rules aim at precision; recall is the
model's job, so every rule is guarded against the usual false alarms: news about a threat, quoted
and condemned abuse, negation, harmless uses ("botermes", "ik maak je af met fifa").

Matching runs on a normalised copy of the text that keeps, per character, the original span it
came from: lower case, no diacritics, leetspeak inside words undone, spaced-out letters joined,
stretched letters collapsed. Every pattern is linear (bounded windows, no nested quantifiers), so
the whole text is scanned, however long.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from bisect import bisect_left, bisect_right
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache, partial

from classifier import rules_lexicon as lex

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RuleHit:
    category: str  # one of classifier.labels.CATEGORIES
    start: int  # offsets into the original text
    end: int
    text: str  # text[start:end]
    rule: str  # short rule name, e.g. "postcode", "kill_verb", "slur"
    strength: float  # 0..1: how sure the rule alone is that the category applies


# -- normalised view with an offset map ------------------------------------------------------------
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

    def __init__(self, single: bool) -> None:
        super().__init__()
        self.single = single

    def __missing__(self, code: int) -> str:
        folded = _fold(chr(code))
        value = chr(code) if self.single and len(folded) != 1 else folded
        if len(self) < 65536:
            self[code] = value
        return value


_FOLD_ONE, _FOLD_ALL = _FoldTable(single=True), _FoldTable(single=False)


class _View:
    """A normalised text; starts[i]/ends[i] give the original span of normalised character i."""

    __slots__ = ("ends", "starts", "text")

    def __init__(self, text: str, starts: Sequence[int], ends: Sequence[int]) -> None:
        self.text, self.starts, self.ends = text, starts, ends

    def span(self, a: int, b: int) -> tuple[int, int]:
        return self.starts[a], self.ends[max(a, b - 1)]

    def rewrite(self, pattern: re.Pattern[str], repl: re.Pattern[str] | None = None,
                marks: list[int] | None = None) -> _View:
        """Replace each match by its letters (repl=None) or by its first character spanning the whole match."""
        out: list[str] = []
        starts: list[int] = []
        ends: list[int] = []
        pos = 0
        for m in pattern.finditer(self.text):
            a, b = m.span()
            out.append(self.text[pos:a])
            starts.extend(self.starts[pos:a])
            ends.extend(self.ends[pos:a])
            if repl is None:  # one character for the whole run: "uuuu" -> "u"
                if marks is not None:
                    marks.append(len(starts))
                out.append(self.text[a])
                starts.append(self.starts[a])
                ends.append(self.ends[b - 1])
            else:
                for k in (i for i in range(a, b) if repl.match(self.text, i)):
                    out.append(self.text[k])
                    starts.append(self.starts[k])
                    ends.append(self.ends[k])
            pos = b
        if pos == 0:
            return self
        out.append(self.text[pos:])
        starts.extend(self.starts[pos:])
        ends.extend(self.ends[pos:])
        return _View("".join(out), starts, ends)


def _lite(text: str) -> _View:
    one = text.translate(_FOLD_ONE)
    if one == text.translate(_FOLD_ALL):  # every character folded to exactly one: offsets unchanged
        return _View(one, range(len(text)), range(1, len(text) + 1))
    out: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    pos = 0
    for m in _NON_ASCII.finditer(text):  # only the rare characters that vanish or expand need a map
        i = m.start()
        folded = _FOLD_ALL[ord(text[i])]
        if len(folded) != 1:
            out.append(one[pos:i])
            starts.extend(range(pos, i))
            ends.extend(range(pos + 1, i + 1))
            out.append(folded)
            starts.extend([i] * len(folded))
            ends.extend([i + 1] * len(folded))
            pos = i + 1
    out.append(one[pos:])
    starts.extend(range(pos, len(text)))
    ends.extend(range(pos + 1, len(text) + 1))
    return _View("".join(out), starts, ends)


_NON_ASCII = re.compile(r"[^\x00-\x7f]")
_LEET = str.maketrans("0134578@$€!|", "oieastbaseil")
_LEET_RUN = re.compile(r"(?<=[a-z])[0134578@$€!|]+(?=[a-z])|(?<![\w$])\$(?=[a-z]{2})")
_SPACED = re.compile(r"(?<![a-z0-9])[a-z](?:[ ._\-][a-z](?![a-z0-9])){2,}|(?<![a-z0-9])[a-z](?:\.[a-z](?![a-z0-9]))+"
                     r"\.[a-z]{2,}(?![a-z0-9])")
_LETTER = re.compile(r"[a-z]")
_STRETCH = re.compile(r"([a-z])\1{2,}")


def _deob(lite: _View) -> tuple[_View, list[int]]:
    text = _LEET_RUN.sub(lambda m: m.group().translate(_LEET), lite.text)  # same length: offsets unchanged
    view = _View(text, lite.starts, lite.ends).rewrite(_SPACED, _LETTER)
    marks: list[int] = []
    return view.rewrite(_STRETCH, None, marks), marks


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


@lru_cache(maxsize=32768)
def _tags(tok: str) -> frozenset[str]:
    """Lexicon tags of one normalised token: strong/weak insult, curse, slur, group, weapon, person."""
    if "*" in tok:  # masked vowels: "k*nker", "k*tw*jf"
        if tok.count("*") > 3:
            return frozenset()
        for variant in _unmask(tok):
            found = _tags(variant)
            if found:
                return found
        return frozenset()
    tok = tok.strip("-'")
    tags = set()
    if _in(tok, lex.INSULT_STRONG) or (tok.endswith(lex.INSULT_SUFFIXES) and len(tok) > 6):
        tags.add("strong")
    elif _in(tok, lex.INSULT_WEAK):
        tags.add("weak")
    if tok in lex.CURSE_PREFIXES:
        tags.add("curse")
    for prefix in lex.CURSE_PREFIXES:
        rest = tok[len(prefix):].lstrip("-") if tok.startswith(prefix) else ""
        if len(rest) >= 3 and _in(rest, lex.GROUP_TERMS | lex.GROUP_SLURS):
            tags.update(("slur", "strong"))
        elif len(rest) >= 2 and (_in(rest, lex.PERSON_TAILS | lex.INSULT_STRONG | lex.INSULT_WEAK)
                                 or rest.endswith(lex.PERSON_SUFFIXES)):
            tags.add("strong")
    if _in(tok, lex.GROUP_SLURS):
        tags.add("slur")
    if _in(tok, lex.GROUP_TERMS) or any(
            tok.startswith(stem) and tok[len(stem):].lstrip("-e") in lex.GROUP_HEADS for stem in lex.GROUP_STEMS):
        tags.add("group")
    if _in(tok, lex.WEAPONS):
        tags.add("weapon")
    if tok in lex.PERSON_WORDS or tok.endswith(lex.PERSON_SUFFIXES):
        tags.add("person")
    return frozenset(tags)


def _unmask(tok: str) -> Iterator[str]:
    variants = [""]
    for ch in tok:
        variants = [v + c for v in variants for c in ("aeiou" if ch == "*" else ch)]
    yield from variants


# -- context ----------------------------------------------------------------------------------------
def _rx(source: str) -> re.Pattern[str]:
    return re.compile(source)


_TOKEN = _rx(r"[a-z*]+(?:['\-][a-z*]+)*")
_CLAUSE = _rx(r"(?:[^.!?;\n]|\.(?=\d))+")
_QUOTE = _rx(r'"[^"\n]{1,300}"|(?<!\w)\'[^\'\n]{1,200}\'(?!\w)')
_HANDLE = _rx(r"@\w")
_CUES = {name: _rx(r"\b(?:" + source + r")") for name, source in (
    ("news", lex.NEWS), ("reported", lex.REPORTED), ("condemn", lex.CONDEMN), ("counter", lex.COUNTER),
    ("intimidate", lex.INTIMIDATE), ("public", lex.PUBLIC), ("harmless", lex.HARMLESS_NEAR))}


class _Context:
    """The text, its two views and, lazily, where each kind of context cue occurs (original offsets)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.lite = _lite(text)
        self.deob, self.stretched = _deob(self.lite)
        self._cues: dict[str, list[int]] = {}
        quotes = [self.lite.span(*m.span()) for m in _QUOTE.finditer(self.lite.text)]
        self.quote_starts = [a for a, _ in quotes]
        self.quote_ends = [b for _, b in quotes]

    def cue(self, name: str, start: int, end: int, before: int = 150, after: int = 150) -> bool:
        """Whether a cue of this kind starts in [start - before, end + after) of the original text."""
        if name not in self._cues:
            view = self.lite
            self._cues[name] = [view.starts[m.start()] for m in _CUES[name].finditer(view.text)]
        found = self._cues[name]
        i = bisect_left(found, start - before)
        return i < len(found) and found[i] < end + after

    def quoted(self, start: int, end: int) -> bool:
        i = bisect_right(self.quote_starts, start) - 1
        return i >= 0 and self.quote_ends[i] >= end

    def retold(self, start: int, end: int) -> bool:
        """Someone else's words, reported, quoted-and-condemned or in a news item."""
        return (self.cue("reported", start, end, 120, 60) or self.cue("news", start, end, 200, 200)
                or (self.quoted(start, end) and self.cue("condemn", start, end, 200, 200)))

    def hit(self, view: _View, a: int, b: int, category: str, rule: str, strength: float) -> RuleHit:
        start, end = view.span(a, b)
        return RuleHit(category, start, end, self.text[start:end], rule, round(min(max(strength, 0.0), 1.0), 2))


# -- words: insult and group slurs -----------------------------------------------------------------
_DETERMINERS = frozenset("een die dat zo'n zon wat jij je u jullie dit deze".split())
_COPULAS = frozenset("is ben bent zijn was waren blijft blijf lijkt lijken wordt word".split())
_VOCATIVE_DET = (None, "wat", "zo'n", "zon", "die", "dat", "jij", "je")
_SELF = frozenset("zich me mezelf voel voelt voelde voelen".split())
_FILLERS = frozenset("echt gewoon zo heel erg enorm enorme ongelofelijk ongelofelijke complete absolute totale "
                     "regelrechte echte grootste de nog steeds altijd toch".split())


def _determiner(before: list[str]) -> str | None:
    """The determiner right before an insult, adjectives and fillers between ("een vieze ouwe", "zo'n echte")."""
    for word in reversed(before[-4:]):
        if word in _DETERMINERS:
            return word
        if not (word in lex.INSULT_ADJ or word in _FILLERS or word.endswith("e")):
            return None
    return None
_Tok = tuple[str, int, int, frozenset[str]]


def _clauses(ctx: _Context) -> Iterator[tuple[list[_Tok], bool]]:
    """Tokens of each clause of the deobfuscated view, and whether the clause names or tags a person."""
    view, masked = ctx.deob, 0
    for clause in _CLAUSE.finditer(view.text):
        toks = []
        for m in _TOKEN.finditer(view.text, *clause.span()):
            tok = m.group()
            masked += "*" in tok
            if masked > 64 and "*" in tok:
                continue  # unmasking is combinatorial: a text full of stars gets no more of it
            tags = _tags(tok)
            if not tags and _stretched(ctx.stretched, *m.span()):
                tags = _tags(_DOUBLE.sub(r"\1", tok))  # "truuuut" -> "truut" -> "trut"
            toks.append((tok, m.start(), m.end(), tags))
        if toks:
            yield toks, any("person" in t[3] for t in toks) or bool(_HANDLE.search(view.text, *clause.span()))


_DOUBLE = _rx(r"([a-z])\1")


def _stretched(marks: list[int], a: int, b: int) -> bool:
    i = bisect_left(marks, a)
    return i < len(marks) and marks[i] < b


def _insults(ctx: _Context, toks: list[_Tok], person: bool) -> Iterator[RuleHit]:
    view = ctx.deob
    for i, (_, a, b, tags) in enumerate(toks):
        nxt = toks[i + 1] if i + 1 < len(toks) else None
        if "curse" in tags and nxt and {"person", "strong", "weak"} & nxt[3]:
            tags, b = frozenset({"strong"}), nxt[2]  # "kk juf", "kanker hoer", "tering zwerver"
        elif not {"strong", "weak"} & tags or "group" in tags or (i and "curse" in toks[i - 1][3] and "person" not in tags):
            continue  # not abuse, or already taken with the curse word before it
        before = [t[0] for t in toks[max(0, i - 5): i]]
        if "geen" in before[-3:] or before[-1:] == ["niet"] or _SELF & set(before) \
                or ("ik" in before and _COPULAS & set(before)):
            continue  # "hij is geen idioot"; "ik ben echt een sukkel", "hij voelt zich een loser"
        adj = any(w in lex.INSULT_ADJ for w in before[-3:])
        det = _determiner(before)
        van = nxt is not None and nxt[0] == "van" and i + 2 < len(toks) and toks[i + 2][0] in ("een", "die", "dat")
        equals = "=" in view.text[max(0, a - 40): a]
        if "strong" in tags:
            framed = adj or det or _COPULAS & set(before) or van or equals
            strength = 0.9 if person and framed else 0.85 if framed or person else 0.6
        elif (adj and det in _VOCATIVE_DET) or van or (person and (adj or det or equals)):
            strength = 0.8
        else:
            continue
        start, end = view.span(a, b)
        if ctx.retold(start, end):
            continue  # "iemand noemde juf Sanne een hoer, schandalig!"
        yield ctx.hit(view, a, b, "insult", "slur", 0.3 if ctx.quoted(start, end) else strength)


_GROUP_BEFORE = _rx(r"(?:weg met|vieze|smerige|vuile|stomme|rot|kut)(?: \w+)?$")


def _slurs(ctx: _Context, toks: list[_Tok]) -> Iterator[RuleHit]:
    view = ctx.deob
    for i, (_, a, b, tags) in enumerate(toks):
        if "slur" in tags:
            rule, strength = "group_slur", 0.85
        elif "group" in tags:
            before = " ".join(t[0] for t in toks[max(0, i - 3): i])
            after = " ".join(t[0] for t in toks[i + 1: i + 4])
            if not (_GROUP_BEFORE.search(before) or (before.endswith("geen") and re.match(r"(?:voor|op|in|bij)\b", after))):
                continue
            rule, strength = "group_dehumanise", 0.8
        else:
            continue
        start, end = view.span(a, b)
        if not (ctx.cue("counter", start, end, 120, 80) or ctx.retold(start, end)):
            yield ctx.hit(view, a, b, "discrimination", rule, strength)


_PREDICATE = _rx(lex.GROUP_PREDICATE)
_STANDALONE = _rx(lex.STANDALONE_DISCRIMINATION)
_DEMONYM_GROUP = _rx(r"\b(?:" + "|".join(lex.GROUP_DEMONYMS) + r")\s+(?:" + "|".join(lex.GROUP_HEADS) + r")\b|"
                     r"\bkinderen\s+met\s+(?:autisme|down|adhd|een\s+(?:\w+\s+)?(?:beperking|handicap))\b")


def _group_predicates(ctx: _Context, groups: list[tuple[int, int]]) -> Iterator[RuleHit]:
    """A group term followed within 120 characters by a dehumanising or exclusion predicate."""
    view = ctx.deob
    groups = sorted(groups + [m.span() for m in _DEMONYM_GROUP.finditer(view.text)])
    ends = [b for _, b in groups]
    for m in _PREDICATE.finditer(view.text):
        i = bisect_right(ends, m.start()) - 1
        if i < 0 or m.start() - ends[i] > 120:
            continue
        a = groups[i][0]
        start, end = view.span(a, m.end())
        if not (ctx.cue("counter", start, end, 120, 80) or ctx.retold(start, end)):
            yield ctx.hit(view, a, m.end(), "discrimination", "group_dehumanise", 0.85)
    for m in _STANDALONE.finditer(view.text):
        start, end = view.span(*m.span())
        if not (ctx.cue("counter", start, end, 120, 80) or ctx.retold(start, end)):
            yield ctx.hit(view, *m.span(), "discrimination", "group_dehumanise", 0.75)


# -- threat ----------------------------------------------------------------------------------------
_THREATS = [(rule, strength, needs, _rx(source)) for rule, strength, needs, source in lex.THREAT_PHRASES]
_TARGET = _rx(lex.TARGET)
_ACTOR = _rx(r"\b(?:ik|we|wij|k|kzweer|kzeg|je|jij|jullie)\b")
_NEGATED = _rx(r"\b(?:niet|geen|nooit|niemand|niks|niets)\s+(?:\S+\s+)?$")
_NEGATED_INSIDE = _rx(r"\b(?:niemand|niks|niets|geen)\b")
_SELF_OBJECT = _rx(r"\b(?:me|mij|ons)\s+(?:\S+\s+)?$")
_WEAPON = _rx(r"\b(?:" + "|".join(sorted(lex.WEAPONS, key=len, reverse=True)) + r")\b")
_MEE = _rx(r"(?:\s+\S+){0,2}?\s+mee\b")
_EMOJI = _rx("[" + lex.WEAPON_EMOJI + "]+")
_FUTURE = _rx(r"\b(?:morgen|vanavond|straks|binnenkort|ligt|gaat|komt|moet|wie\s+doet\s+mee)\b")


def _reach(text: str, a: int, b: int, pattern: re.Pattern[str], width: int = 80) -> bool:
    return bool(pattern.search(text, max(0, a - width), b + width))


def _clause_start(text: str, a: int) -> int:
    """Start of the clause (commas included) that holds position a."""
    low = max(0, a - 200)
    return max(low - 1, *(text.rfind(c, low, a) for c in ".!?;,\n")) + 1


def _threat_ok(ctx: _Context, a: int, b: int) -> bool:
    start, end = ctx.deob.span(a, b)
    return not (ctx.retold(start, end) or ctx.cue("harmless", start, end, 60, 60))


def _threats(ctx: _Context) -> Iterator[RuleHit]:
    view = ctx.deob
    text = view.text
    for rule, strength, needs, pattern in _THREATS:
        for m in pattern.finditer(text):
            a, b = m.span()
            before = text[_clause_start(text, a):a]
            if _NEGATED.search(before) or _NEGATED_INSIDE.search(m.group()) or _SELF_OBJECT.search(before):
                continue
            actor, target = _reach(text, a, b, _ACTOR), _reach(text, a, b, _TARGET)
            ok = {"any": actor or target, "actor": actor, "target": target, "both": actor and target}[needs]
            if ok and _threat_ok(ctx, a, b):
                yield ctx.hit(view, a, b, "threat", rule, strength if actor else strength - 0.1)
    for m in _WEAPON.finditer(text):
        a, b = m.span()
        toks = [(t.group(), t.start()) for t in _TOKEN.finditer(text, max(_clause_start(text, a), a - 60), a)]
        words = {w for w, _ in toks}
        if words & lex.NEGATORS or not _threat_ok(ctx, a, b):
            continue  # "ik neem geen mes mee"
        first = next((p for w, p in toks if w in lex.BRING_VERBS or w in lex.FIRST_PERSON), None)
        if first is not None and (words & lex.FIRST_PERSON or "mee" in words or _MEE.match(text, b)):
            yield ctx.hit(view, first, b, "threat", "weapon", 0.9)  # "ik kom morgen met een mes"
        elif _reach(text, a, b, _TARGET, 40) and _FUTURE.search(text, max(0, a - 60), b + 40):
            yield ctx.hit(view, a, b, "threat", "weapon", 0.7)
    for m in _EMOJI.finditer(text):
        a, b = m.span()
        if _reach(text, a, b, _TARGET) and _threat_ok(ctx, a, b):
            yield ctx.hit(view, a, b, "threat", "weapon", 0.85 if _reach(text, a, b, _ACTOR) else 0.75)


# -- doxing ----------------------------------------------------------------------------------------
_L, _D = "[A-Z]", "[0-9]"
_SIDECODES = ("LL-DD-DD", "DD-DD-LL", "DD-LL-DD", "LL-DD-LL", "LL-LL-DD", "DD-LL-LL", "DD-LLL-D", "D-LLL-DD",
              "LL-DDD-L", "L-DDD-LL", "LLL-DD-L", "L-DD-LLL", "D-LL-DDD", "DDD-LL-D")
_PLATE = re.compile(r"(?<![\w-])(?:" + "|".join(c.replace("L", _L).replace("D", _D) for c in _SIDECODES) + r")(?![\w-])")
_PARTIAL_PLATE = re.compile(r"(?i:kenteken|nummerbord)[^.\n]{0,40}?(?<![\w-])((?=[A-Z0-9-]*[0-9])(?=[A-Z0-9-]*[A-Z])"
                            r"[A-Z0-9]{1,3}(?:-[A-Z0-9]{1,3}){1,2})(?![\w-])")
_POSTCODE = re.compile(r"(?<![\w-])[1-9][0-9]{3} ?(?!SA|SD|SS)[A-Z]{2}(?![\w-])")
_PHONE = re.compile(r"(?<![\w+])(?<![0-9][ -])(?:(?:\+|00)31[ -]?(?:\(0\))?[ -]?|0)([1-7](?:[ -]?[0-9]){8})"
                    r"(?![ -]?[0-9])", re.ASCII)
_EMAIL = re.compile(r"(?<![\w.+-])([\w.+-]{1,64})@[\w-]{1,63}(?:\.[\w-]{1,63}){1,4}", re.ASCII)
_ROLE_MAIL = frozenset("info administratie admin directie secretariaat contact school noreply no-reply receptie "
                       "ouderraad mr or klachten aanmelden redactie nieuws team".split())
_STREET_NAME = r"[A-Z][a-zà-ÿ'-]{1,30}?(?:" + lex.STREET_SUFFIXES + r")"
_NUMBER = r"[0-9]{1,3}(?:-?[a-zA-Z](?![\w]))?(?![0-9]|[.:,][0-9]|\s?(?:uur|u\b|jaar|keer|min|km|euro|%|dagen|weken))"
_STREET = re.compile(r"(?<![\w-])" + _STREET_NAME + r",?\s(?:(?:huis)?(?:nummer|nr\.?)\s?)?" + _NUMBER)
_STREET_AFTER = re.compile(r"(?i:(?:huis)?(?:nummer|nr\.?))\s?" + _NUMBER + r"\s(?:in|aan|op)\sde\s" + _STREET_NAME
                           + r"(?![\w-])")
_CHILD = re.compile(r"(?<![\w.])([A-Z][a-z]{2,14}(?:\s(?:de\s|"
                    r"van\s(?:de[rn]?\s)?)?[A-Z][a-z]{0,14}\.?)?)(?:\s?\(|,\s?|\s(?:uit|in|van|zit\sin|zit\sop)\s)"
                    r"(?i:groep|gr\.?)\s?[1-8][a-c]?\b")
_NOT_NAMES = frozenset("De Het Een Die Dat Deze Dit Ik Je Jij Wij We Ze Zij Hij Onze Ons Mijn Jullie Alle Trots Voor "
                       "Uit Ouders Kinderen Leerlingen Juf Meester Vandaag Morgen Gisteren Bij Met Naar Ook Nu Hoi "
                       "Hallo Beste Lieve Wie Wat Welke Elke Iedereen Sinds Vanaf Tot Bedankt Dank Groep Klas".split())
_STAFF_CHILD = re.compile(r"(?i:(?:zoon|zoontje|dochter|dochtertje|kind)\s+van\s+(?:de\s+|die\s+)?(?:juf|meester|"
                          r"directeur|directrice)|(?:juf|meester)\s+\w+\s+(?:haar|zijn|z'n)\s+(?:zoon|zoontje|dochter))")
_ROUTINE_SELF = re.compile(r"\b(?:ik|we|wij|z'n\s+allen|wie\s+doet\s+mee)\b")
_TITLE_BEFORE = re.compile(r"(?i:juf|meester|mevrouw|meneer|collega|directeur)\s$")
_ROUTINE = _rx(r"\b(?:elke|iedere|op)\s+(?:dag|ochtend|middag|avond|werkdag|(?:maan|dins|woens|donder|vrij|zater|zon)"
               r"dag(?:avond|ochtend|middag)?)\s+(?:\S+\s+){0,3}?(?:om|vanaf|rond|tussen)\s+(?:[0-9]{1,2}(?:[.:][0-9]{2})?"
               r"(?:\s?(?:uur|u))?|half\s+\w+|kwart\s+(?:over|voor)\s+\w+)")
_NAMED = _rx(r"\b(?:juf|meester|mevrouw|meneer|directeur|directrice|concierge|ib'er|invaller|leerkracht|leraar|"
             r"lerares|vader|moeder|voorzitter|prive)\w*|@\w")


def _doxing(ctx: _Context) -> Iterator[RuleHit]:
    text = ctx.text
    found: list[tuple[re.Match[str], str, float]] = []
    found += [(m, "licence_plate", 0.55) for m in _PLATE.finditer(text)]
    found += [(m, "licence_plate", 0.5) for m in _PARTIAL_PLATE.finditer(text) if not _PLATE.fullmatch(m.group(1))]
    found += [(m, "postcode", 0.5) for m in _POSTCODE.finditer(text)]
    found += [(m, "phone", 0.55 if m.group(1)[0] == "6" else 0.45) for m in _PHONE.finditer(text)]
    found += [(m, "email", 0.5) for m in _EMAIL.finditer(text) if m.group(1).lower() not in _ROLE_MAIL]
    found += [(m, "street_number", 0.5) for m in (*_STREET.finditer(text), *_STREET_AFTER.finditer(text))]
    found += [(m, "child_class", 0.4) for m in _CHILD.finditer(text) if m.group(1).split()[0] not in _NOT_NAMES
              and not _TITLE_BEFORE.search(text, max(0, m.start() - 12), m.start())]
    lite = ctx.lite
    found += [(m, "routine", 0.0) for m in _ROUTINE.finditer(lite.text)]
    for m, rule, strength in found:
        group = 1 if rule == "licence_plate" and m.re is _PARTIAL_PLATE else 0
        start, end = m.span(group) if rule != "routine" else lite.span(*m.span())
        intimidating = ctx.cue("intimidate", start, end, 200, 200)
        a, b = _lite_span(ctx, start, end)
        if rule == "child_class":  # a name and a class is mostly a proud parent: only with intent or a staff child
            if _reach(lite.text, a, b, _OWN_CHILD, 60):
                continue
            strength = 0.9 if intimidating else 0.6 if _reach(text, start, end, _STAFF_CHILD, 80) else 0.0
        elif rule == "routine":  # someone's whereabouts, not the poster's own plan ("ik bel elke avond")
            strength = 0.0 if _ROUTINE_SELF.search(lite.text, max(0, a - 80), b) else 0.85 if intimidating else 0.0
        elif intimidating:
            strength = 0.9
        elif ctx.cue("public", start, end, 200, 200):
            continue  # the school's own address or phone number in an announcement
        elif _reach(lite.text, a, b, _NAMED, 100):
            strength = 0.8
        if strength:
            yield RuleHit("doxing", start, end, text[start:end], rule, strength)


_OWN_CHILD = _rx(lex.OWN_CHILD)


def _lite_span(ctx: _Context, start: int, end: int) -> tuple[int, int]:
    starts = ctx.lite.starts
    return bisect_left(starts, start), bisect_left(starts, end)


# -- harassment, defamation, confidential ---------------------------------------------------------
_HARASS = [(rule, strength, _rx(source)) for rule, strength, source in lex.HARASS_PHRASES]
_FREQ = _rx(lex.HARASS_FREQ)
_FIRST = _rx(r"\b(?:ik|we|wij|k)\b")
_TARGET_PERSON = _rx(r"\b(?:je|jou|jouw|u|uw|haar|hem|juf|meester|directeur|directrice|huis)\b|@\w")
_DEFAMATION = _rx(lex.DEFAMATION)
_STAFF = _rx(r"\b(?:juf|meester|mevrouw|meneer|directeur|directrice|concierge|leraar|gymleraar|leerkracht|ib'er|"
             r"invaller|penningmeester|bestuurder|voorzitter|adjunct|intern\s+begeleider)\b")
_HEDGE = _rx(lex.HEDGE)
_CONFIDENTIAL = _rx(lex.CONFIDENTIAL)
_PUPIL = re.compile(r"\b[A-Z][a-z]{2,14}(?:\s[A-Z]\.)?\s?(?:\(|,\s|\suit\s)(?:(?i:groep|gr\.?)\s?[1-8]|mijn\sgroep)|"
                    r"(?i:juf|meester|collega|leerling)\s[A-Z][a-z]{2,14}")
_SECRET = _rx(r"\b(?:niet\s+(?:door|verder)\s*vertellen|intern|vertrouwelijk|sst|tussen\s+ons|off\s+the\s+record|"
              r"team\w*|zorgoverleg|personeelsapp|hoort\s+nog\s+niemand)\b")


def _harassment(ctx: _Context) -> Iterator[RuleHit]:
    view = ctx.deob
    text = view.text
    spans = [(m.span(), rule, strength) for rule, strength, p in _HARASS for m in p.finditer(text)]
    for m in _FREQ.finditer(text):
        cs = _clause_start(text, m.start())
        ce = min((i for i in (text.find(c, m.end(), m.end() + 200) for c in ".!?;\n") if i >= 0),
                 default=min(len(text), m.end() + 200))
        verbs = {w for w in text[cs:ce].split()} & lex.HARASS_VERBS
        if verbs and _FIRST.search(text, cs, ce):
            spans.append(((cs + len(text[cs:ce]) - len(text[cs:ce].lstrip()), ce), "repeat", 0.6))
    for (a, b), rule, strength in spans:
        start, end = view.span(a, b)
        if _reach(text, a, b, _TARGET_PERSON, 100) and not _NEGATED.search(text[_clause_start(text, a):a]) \
                and not ctx.retold(start, end):
            yield ctx.hit(view, a, b, "harassment", rule, strength)


def _sentence(text: str, a: int, b: int) -> tuple[int, int]:
    low = max(0, a - 300)
    start = max(low - 1, *(text.rfind(c, low, a) for c in ".!?\n")) + 1
    ends = [i for i in (text.find(c, b, b + 300) for c in ".!?\n") if i >= 0]
    return start, min(ends, default=min(len(text), b + 300))


def _defamation(ctx: _Context) -> Iterator[RuleHit]:
    view = ctx.lite
    text = view.text
    for m in _DEFAMATION.finditer(text):
        cs, ce = _sentence(text, *m.span())
        staff = [s for s in _STAFF.finditer(text, cs, m.start())]
        if not staff or _HEDGE.search(text, cs, ce + 1) or _NEGATED.search(text[cs:m.start()]):
            continue
        start, end = view.span(staff[-1].start(), m.end())
        if not ctx.retold(start, end):
            yield ctx.hit(view, staff[-1].start(), m.end(), "defamation", "allegation", 0.55)


def _confidential(ctx: _Context) -> Iterator[RuleHit]:
    view = ctx.lite
    for m in _CONFIDENTIAL.finditer(view.text):
        cs, ce = _sentence(view.text, *m.span())
        start, end = view.span(cs, ce)
        if _OWN_CHILD.search(view.text, cs, ce) or not _PUPIL.search(ctx.text, start, end):
            continue
        a, b = view.span(*m.span())
        if not ctx.cue("news", a, b, 200, 200):
            yield ctx.hit(view, *m.span(), "confidential", "care_detail",
                          0.6 if _SECRET.search(view.text, max(0, cs - 200), ce + 200) else 0.5)


_PLURAL = _rx(r"(?i:en|s|tjes|jes)$")


def _near(positions: list[int], pos: int, width: int) -> bool:
    i = bisect_left(positions, pos - width)
    return i < len(positions) and positions[i] <= pos + width


# -- entry point -----------------------------------------------------------------------------------
def find_rule_hits(text: str) -> list[RuleHit]:
    """All rule hits in the text, de-duplicated, in text order. Never raises."""
    if not isinstance(text, str) or not text.strip():
        return []
    try:
        ctx = _Context(text)
        hits: list[RuleHit] = []
        groups: list[tuple[int, int]] = []
        for toks, person in _clauses(ctx):
            hits += _insults(ctx, toks, person)
            hits += _slurs(ctx, toks)
            groups += [(a, b) for _, a, b, tags in toks if "group" in tags]
        for rule in (partial(_group_predicates, groups=groups), _threats, _doxing, _harassment, _defamation,
                     _confidential):
            hits += rule(ctx)
    except Exception:  # a rule bug must never take classification down: the model still scores the post
        log.exception("rules failed on a text of %d characters", len(text))
        return []
    return _dedupe(hits)


def _dedupe(hits: list[RuleHit]) -> list[RuleHit]:
    """One hit per span and category (the strongest); drop hits inside a stronger one of the same category.

    A plural slur next to a discrimination hit ("die mongolen", "zijn gewoon apen") names a group, not a
    person: it is discrimination only.
    """
    groups = sorted(h.start for h in hits if h.category == "discrimination")
    best: dict[tuple[str, int, int], RuleHit] = {}
    for h in hits:
        if h.category == "insult" and _PLURAL.search(h.text) and _near(groups, h.start, 150):
            continue
        key = (h.category, h.start, h.end)
        if h.end > h.start and (key not in best or h.strength > best[key].strength):
            best[key] = h
    ordered = sorted(best.values(), key=lambda h: (h.category, h.start, -h.end))
    kept: list[RuleHit] = []
    for h in ordered:
        if any(k.category == h.category and k.start <= h.start and h.end <= k.end and k.strength >= h.strength
               for k in kept[-8:]):
            continue
        kept.append(h)
    return sorted(kept, key=lambda h: (h.start, h.end, h.category))
