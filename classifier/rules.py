"""Rules that add what the statistical model is weak at, with the exact spans that carry them.

The model scores a truncated, deobfuscated copy of a post; it cannot say *where* a post threatens
or doxes someone, and it misses rare but unmistakable forms (a phone number after "bel haar maar",
"k a n k e r h o e r"). Each rule returns the span of the ORIGINAL text that carries its category,
so the director sees why a post was flagged, and a strength: how sure the rule alone is (the
combiner takes max(model, strength)). Rules aim at precision and leave recall to the model, so each
is guarded against the usual false alarms: news about a threat, quoted and condemned abuse,
negation, counter-speech, harmless uses ("botermes", "ik maak je af met fifa").

Word rules run on `rules_view.deob` (disguises undone, offsets kept); personal data runs on the
original text around digits and "@". Every pattern is linear (bounded windows), so the whole text is
scanned, however long.
"""

from __future__ import annotations

import logging
import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterator
from dataclasses import dataclass

from classifier import rules_lexicon as lex
from classifier.rules_veiled import EMOJI_THREATS, MILD, VEILED_PHRASES
from classifier.rules_view import (
    Anchored,
    Scanner,
    clause_end,
    clause_start,
    deob,
    lite,
    near,
    plural,
    reach,
    tags,
    tags_stretched,
    windows,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RuleHit:
    category: str  # one of classifier.labels.CATEGORIES
    start: int  # offsets into the original text
    end: int
    text: str  # text[start:end]
    rule: str  # short rule name, e.g. "postcode", "kill_verb", "slur"
    strength: float  # 0..1: how sure the rule alone is that the category applies


def _cue(source: str) -> Anchored:
    return Anchored(r"\b(?:" + source + r")")


_CUES = {"news": _cue(lex.NEWS), "reported": _cue(lex.REPORTED), "condemn": _cue(lex.CONDEMN),
         "counter": _cue(lex.COUNTER), "intimidate": _cue(lex.INTIMIDATE), "public": _cue(lex.PUBLIC),
         "harmless": _cue(lex.HARMLESS_NEAR), "mild": _cue(MILD)}
_QUOTES = (re.compile(r'"[^"\n]{1,300}"'), re.compile(r"'(?<!\w')[^'\n]{1,200}'(?!\w)"))


class _Context:
    """The text, its normalised view and, lazily, where each kind of context cue occurs (original offsets)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.deob, self.stretched = deob(lite(text))
        self.scan = Scanner(self.deob.text)
        self._cues: dict[str, list[int]] = {}
        quotes = sorted(self.deob.span(*m.span()) for rx in _QUOTES for m in rx.finditer(self.deob.text))
        self.quote_starts = [a for a, _ in quotes]
        self.quote_ends = [b for _, b in quotes]

    def cue(self, name: str, start: int, end: int, before: int = 150, after: int = 150) -> bool:
        """Whether a cue of this kind starts in [start - before, end + after) of the original text."""
        if name not in self._cues:
            self._cues[name] = [self.deob.span(m.start(), m.end())[0] for m in self.scan.finditer(_CUES[name])]
        return near(self._cues[name], start - before, end + after)

    def quoted(self, start: int, end: int) -> bool:
        i = bisect_right(self.quote_starts, start) - 1
        return i >= 0 and self.quote_ends[i] >= end

    def retold(self, start: int, end: int) -> bool:
        """Someone else's words: reported, quoted and condemned, or a news item."""
        sentence = clause_start(self.text, start, ".!?:;\n", 200)
        return (self.cue("reported", start, end, start - sentence, 60) or self.cue("news", start, end, 200, 200)
                or (self.quoted(start, end) and self.cue("condemn", start, end, 200, 200)))

    def hit(self, a: int, b: int, category: str, rule: str, strength: float) -> RuleHit:
        """A hit for characters [a, b) of the normalised view."""
        start, end = self.deob.span(a, b)
        return RuleHit(category, start, end, self.text[start:end], rule, round(min(max(strength, 0.0), 1.0), 2))


# -- words: insult and group slurs -----------------------------------------------------------------
_HANDLE = re.compile(r"@\w")
_Tok = tuple[str, int, int, frozenset[str]]
_WORTH = frozenset({"strong", "weak", "curse", "slur", "group"})


def _frame(before: list[str]) -> tuple[bool, str | None]:
    """Whether an insulting adjective stands right before a slur, and the determiner before those adjectives
    ("een vieze ouwe heks": True, "een"; "aanbidden koeien": False, None)."""
    adj = False
    for word in reversed(before[-4:]):
        if word in lex.DETERMINERS:
            return adj, word
        if not (word in lex.INSULT_ADJ or word in lex.FILLERS or word.endswith("e")):
            return adj, None
        adj = adj or word in lex.INSULT_ADJ
    return adj, None


def _clauses(ctx: _Context) -> Iterator[tuple[list[_Tok], bool]]:
    """Tagged tokens of each clause that holds a slur or group term, and whether it tags someone (@name)."""
    masked, marks = 0, ctx.stretched
    for clause in ctx.scan.clauses():
        toks, worth = [], False
        for tok, a, b in clause:
            if "*" in tok:
                masked += 1
                if masked > 64:
                    continue  # unmasking is combinatorial: a text full of stars gets no more of it
            found = tags(tok)
            if not found and marks:
                i = bisect_left(marks, a)
                if i < len(marks) and marks[i] < b:
                    found = tags_stretched(tok)
            worth = worth or bool(found & _WORTH)
            toks.append((tok, a, b, found))
        if worth:  # most clauses of most posts hold nothing abusive
            yield toks, bool(_HANDLE.search(ctx.deob.text, clause[0][1] - 1, clause[-1][2]))


def _insults(ctx: _Context, toks: list[_Tok], handle: bool) -> Iterator[RuleHit]:
    """Slurs aimed at a person: framed ("X is een ...", "vuile ...", "... van een X") or next to a person."""
    person = handle or any("person" in t[3] for t in toks)
    single = handle or any("person" in t[3] and t[0] not in lex.PLURAL_PERSONS for t in toks)
    for i, (tok, a, b, found) in enumerate(toks):
        nxt = toks[i + 1] if i + 1 < len(toks) else None
        if "curse" in found and nxt and {"person", "strong", "weak"} & nxt[3]:
            found, b = frozenset({"strong"}), nxt[2]  # "kk juf", "kanker hoer", "tering zwerver"
        elif not {"strong", "weak"} & found or "group" in found or (i and "curse" in toks[i - 1][3]):
            continue  # not abuse, a group (see _slurs), or already taken with the curse word before it
        if (nxt and "group" in nxt[3]) or (not single and plural(tok)):
            continue  # "gestoorde autistjes", "meiden zijn allemaal sletten": a group, not a person
        before = [t[0] for t in toks[max(0, i - 5): i]]
        if "geen" in before[-3:] or before[-1:] == ["niet"] or lex.SELF & set(before) \
                or ("ik" in before and lex.COPULAS & set(before)):
            continue  # "hij is geen idioot"; "ik ben echt een sukkel", "hij voelt zich een loser"
        adj, det = _frame(before)
        van = nxt is not None and nxt[0] == "van" and i + 2 < len(toks) and toks[i + 2][0] in ("een", "die", "dat")
        equals = "=" in ctx.deob.text[max(0, a - 40): a]
        if "strong" in found:
            framed = adj or det or lex.COPULAS & set(before) or van or equals
            strength = 0.9 if person and framed else 0.85 if framed or person else 0.6
        elif (adj and det in lex.VOCATIVE_DET) or van or (person and (
                equals or det in lex.VOCATIVE_DET[1:] or (lex.COPULAS & set(before) and (det or adj)))):
            strength = 0.8  # a weak word ("aap", "heks") only in an insulting frame, not "een boek over een heks"
        else:
            continue
        if i and toks[i - 1][0] in lex.INSULT_ADJ and toks[i - 1][2] + 1 >= a:
            a = toks[i - 1][1]  # show "vuile trut", not just "trut"
        start, end = ctx.deob.span(a, b)
        if not ctx.retold(start, end):  # "iemand noemde juf Sanne een hoer, schandalig!"
            yield ctx.hit(a, b, "insult", "slur", 0.3 if ctx.quoted(start, end) else strength)


_GROUP_BEFORE = re.compile(r"(?:weg met|vieze|smerige|vuile|stomme|rot|kut)(?: \w+)?$")
_GROUP_AFTER = re.compile(r"(?:\w+ )?(?:voor|op|in|bij)\b")


def _slurs(ctx: _Context, toks: list[_Tok]) -> Iterator[RuleHit]:
    for i, (_, a, b, found) in enumerate(toks):
        if "slur" in found:
            rule, strength = "group_slur", 0.85
        elif "group" in found:  # "weg met de X", "vieze X", "geen X voor de klas"
            before = " ".join(t[0] for t in toks[max(0, i - 3): i])
            after = " ".join(t[0] for t in toks[i + 1: i + 4])
            lead = _GROUP_BEFORE.search(before)
            if not (lead or (before.endswith("geen") and _GROUP_AFTER.match(after))):
                continue
            rule, strength = "group_dehumanise", 0.8
            a = toks[i - len(lead.group().split())][1] if lead else toks[i - 1][1]  # "weg met de homo's"
        else:
            continue
        start, end = ctx.deob.span(a, b)
        if not (ctx.cue("counter", start, end, 120, 80) or ctx.retold(start, end)):
            yield ctx.hit(a, b, "discrimination", rule, strength)


_PREDICATE = Anchored(lex.GROUP_PREDICATE)
_STANDALONE = Anchored(lex.STANDALONE_DISCRIMINATION)
_DEMONYM_GROUP = Anchored(r"\b(?:" + "|".join(lex.GROUP_DEMONYMS) + r")\s+(?:" + "|".join(lex.GROUP_HEADS)
                          + r")\b|\bkinderen\s+met\s+(?:autisme|down|adhd|een\s+(?:\w+\s+)?(?:beperking|handicap))\b")


def _group_predicates(ctx: _Context, groups: list[tuple[int, int]], threats: list[RuleHit]) -> Iterator[RuleHit]:
    """A group term followed within 120 characters by a dehumanising or exclusion predicate, or next to a threat
    (threatening people for their religion or origin is also art. 137d)."""
    groups = sorted(groups + [m.span() for m in ctx.scan.finditer(_DEMONYM_GROUP)])
    ends = [b for _, b in groups]
    for threat in threats:
        a = ctx.deob.index(threat.start)
        i = bisect_right(ends, a + 100) - 1
        if i >= 0 and groups[i][1] >= a - 100 and ctx.deob.text[slice(*groups[i])] not in lex.GENERIC_GROUPS:
            yield ctx.hit(*groups[i], "discrimination", "group_threat", 0.8)
    for m in ctx.scan.finditer(_PREDICATE):
        i = bisect_right(ends, m.start()) - 1
        if i >= 0 and m.start() - ends[i] <= 120:
            start, end = ctx.deob.span(groups[i][0], m.end())
            if not (ctx.cue("counter", start, end, 120, 80) or ctx.retold(start, end)):
                yield ctx.hit(groups[i][0], m.end(), "discrimination", "group_dehumanise", 0.85)
    for m in ctx.scan.finditer(_STANDALONE):  # "ga terug naar je eigen land"
        start, end = ctx.deob.span(*m.span())
        if not (ctx.cue("counter", start, end, 120, 80) or ctx.retold(start, end)):
            yield ctx.hit(*m.span(), "discrimination", "group_dehumanise", 0.75)


# -- threat ----------------------------------------------------------------------------------------
_THREATS = [(rule, strength, needs, Anchored(source))
            for rule, strength, needs, source in lex.THREAT_PHRASES + VEILED_PHRASES]
_TARGET = re.compile(lex.TARGET)
_ACTOR = re.compile(r"\b(?:ik|we|wij|k|kzweer|kzeg|je|jij|jullie)\b")
_NEGATED = re.compile(r"\b(?:niet|geen|nooit|niemand|niks|niets)\s+(?:\S+\s+)?$")
# "geen gesprek maar een kogel" is contrast, not negation
_NEGATED_INSIDE = re.compile(r"\b(?:niemand|niks|niets|geen)\b(?!\s+(?:\S+\s+){0,2}?maar\b)")
_SELF_OBJECT = re.compile(r"\b(?:me|mij|ons)\s+(?:\S+\s+)?$")
_WEAPON = Anchored(r"\b(?:" + "|".join(sorted(lex.WEAPONS, key=len, reverse=True)) + r")\b")
_MEE = re.compile(r"(?:\s+\S+){0,2}?\s+mee\b")
_EMOJI = re.compile("[" + lex.WEAPON_EMOJI + "]+")
_EMOJI_THREATS = [(rule, strength, needs, re.compile(source)) for rule, strength, needs, source in EMOJI_THREATS]
_FUTURE = re.compile(r"\b(?:morgen|vanavond|straks|binnenkort|ligt|gaat|komt|moet|wie\s+doet\s+mee)\b")


def _threat_ok(ctx: _Context, a: int, b: int) -> bool:
    start, end = ctx.deob.span(a, b)
    return not (ctx.retold(start, end) or ctx.cue("harmless", start, end, 60, 60))


def _threats(ctx: _Context) -> Iterator[RuleHit]:
    text = ctx.deob.text
    for rule, strength, needs, pattern in _THREATS:
        for m in ctx.scan.finditer(pattern):
            a, b = m.span()
            before = text[clause_start(text, a):a]
            if _NEGATED.search(before) or _NEGATED_INSIDE.search(m.group()) or _SELF_OBJECT.search(before):
                continue  # "ik ga niemand iets aandoen", "mijn moeder gaat me vermoorden"
            actor, target = reach(text, a, b, _ACTOR), reach(text, a, b, _TARGET)
            if strength < 0.8 and ctx.cue("mild", *ctx.deob.span(a, b), 80, 80):
                continue  # "kijk maar uit, het is glad", "je gaat spijt krijgen: gratis koffie en cake"
            if {"any": actor or target, "actor": actor, "target": target, "both": actor and target}[needs] \
                    and _threat_ok(ctx, a, b):
                yield ctx.hit(a, b, "threat", rule, strength if actor else strength - 0.1)
    for m in ctx.scan.finditer(_WEAPON):
        a, b = m.span()
        tokens = ctx.scan.tokens
        low = bisect_left(tokens, max(clause_start(text, a), a - 60), key=lambda t: t[1])
        toks = [(t, p) for t, p, _ in tokens[low:bisect_left(tokens, a, lo=low, key=lambda t: t[1])]]
        words = {w for w, _ in toks}
        if words & lex.NEGATORS or not _threat_ok(ctx, a, b):
            continue  # "ik neem geen mes mee", "botermes" never gets here (whole words only)
        first = next((p for w, p in toks if w in lex.BRING_VERBS or w in lex.FIRST_PERSON), None)
        if first is not None and (words & lex.FIRST_PERSON or "mee" in words or _MEE.match(text, b)):
            yield ctx.hit(first, b, "threat", "weapon", 0.9)  # "ik kom morgen met een mes"
        elif reach(text, a, b, _TARGET, 40) and _FUTURE.search(text, max(0, a - 60), b + 40):
            yield ctx.hit(a, b, "threat", "weapon", 0.7)
    for rule, strength, needs, pattern in _EMOJI_THREATS:
        for m in pattern.finditer(text):
            a, b = m.span()
            actor, target = reach(text, a, b, _ACTOR), reach(text, a, b, _TARGET)
            if {"any": actor or target, "target": target}[needs] and _threat_ok(ctx, a, b):
                yield ctx.hit(a, b, "threat", rule, strength if actor else strength - 0.1)
    for m in _EMOJI.finditer(text):  # 🔪🔫💣 next to a person or the school
        a, b = m.span()
        if reach(text, a, b, _TARGET) and _threat_ok(ctx, a, b):
            yield ctx.hit(a, b, "threat", "weapon", 0.85 if reach(text, a, b, _ACTOR) else 0.75)


# -- doxing: personal data, on the original text around digits and "@" ----------------------------
_DATA = {rule: re.compile(source, re.ASCII if rule == "phone" else 0) for rule, source in lex.PERSONAL_DATA.items()}
_EMAIL = re.compile(lex.EMAIL, re.ASCII)
_TITLE_BEFORE = re.compile(r"(?i:juf|meester|mevrouw|meneer|collega|directeur)\s$")
_STAFF_CHILD = re.compile(lex.STAFF_CHILD)
_ROUTINE = Anchored(lex.ROUTINE)
_ROUTINE_SELF = re.compile(r"\b(?:ik|we|wij|z'n\s+allen|wie\s+doet\s+mee)\b")
_NAMED = re.compile(lex.NAMED)
_OWN_CHILD = re.compile(lex.OWN_CHILD)
_OWN_BEFORE = re.compile(r"\b(?:mijn|m'n|mn|onze|ons)\s+(?:(?:zoon|dochter|kind|zoontje|dochtertje|meisje|jongen|"
                         r"kleine|lieve)\s*,?\s+)?$")
_DIGITS = re.compile(r"[0-9]+")


def _data(ctx: _Context) -> Iterator[tuple[str, int, int]]:
    text = ctx.text
    for lo, hi in windows(text, (m.span() for m in _DIGITS.finditer(text)), 80, 50):
        for rule, pattern in _DATA.items():
            for m in pattern.finditer(text, lo, hi):
                group = 1 if rule == "partial_plate" else 0
                if rule == "partial_plate" and _DATA["licence_plate"].fullmatch(m.group(1)):
                    continue
                if rule == "child_class" and (m.group(1).split()[0] in lex.NOT_NAMES
                                              or _TITLE_BEFORE.search(text, max(0, m.start() - 12), m.start())):
                    continue
                yield rule.replace("partial_plate", "licence_plate").replace("street_after", "street_number"), \
                    *m.span(group)
    at = (m.span() for m in re.finditer("@", text))
    for lo, hi in windows(text, at, 70, 270):
        for m in _EMAIL.finditer(text, lo, hi):
            if m.group(1).lower() not in lex.ROLE_MAIL:
                yield "email", *m.span()
    for m in ctx.scan.finditer(_ROUTINE):
        yield "routine", *ctx.deob.span(*m.span())


def _doxing(ctx: _Context) -> Iterator[RuleHit]:
    base = {"licence_plate": 0.55, "postcode": 0.5, "phone": 0.5, "email": 0.5, "street_number": 0.5}
    seen = set()
    for rule, start, end in _data(ctx):
        if (rule, start, end) in seen:
            continue
        seen.add((rule, start, end))
        intimidating = ctx.cue("intimidate", start, end, 200, 200)
        a, b = ctx.deob.index(start), ctx.deob.index(end)
        text = ctx.deob.text
        if rule == "child_class":  # a name and a class is mostly a proud parent: only with intent or a staff child
            if _OWN_BEFORE.search(text, max(0, a - 30), a):
                continue  # "onze Noor uit groep 8", "mijn dochter Fenne, groep 5"
            strength = 0.9 if intimidating else 0.6 if reach(text, a, b, _STAFF_CHILD, 80) else 0.0
        elif rule == "routine":  # someone's whereabouts, not the poster's own plan ("ik bel elke avond")
            strength = 0.85 if intimidating and not _ROUTINE_SELF.search(text, max(0, a - 80), b) else 0.0
        elif intimidating:
            strength = 0.9
        elif ctx.cue("public", start, end, 200, 200):
            continue  # the school's own address or phone number in an announcement
        else:
            strength = 0.8 if reach(text, a, b, _NAMED, 100) else base[rule]
        if strength:
            yield RuleHit("doxing", start, end, ctx.text[start:end], rule, strength)


# -- harassment, defamation, confidential ---------------------------------------------------------
_HARASS = [(rule, strength, Anchored(source)) for rule, strength, source in lex.HARASS_PHRASES]
_COUNTS = re.compile(lex.HARASS_COUNTS)
_FREQ = Anchored(lex.HARASS_FREQ)
_FIRST = re.compile(r"\b(?:ik|we|wij|k)\b")
_TARGET_PERSON = re.compile(r"\b(?:je|jou|jouw|u|uw|haar|hem|juf|meester|directeur|directrice|huis)\b|@\w")
_DEFAMATION = Anchored(lex.DEFAMATION)
_STAFF = re.compile(lex.STAFF)
_HEDGE = re.compile(lex.HEDGE)
_CONFIDENTIAL = Anchored(lex.CONFIDENTIAL)
_PUPIL = re.compile(lex.PUPIL)
_SECRET = re.compile(lex.SECRET)


def _harassment(ctx: _Context) -> Iterator[RuleHit]:
    text = ctx.deob.text
    spans = [(m.span(), rule, strength) for rule, strength, p in _HARASS for m in ctx.scan.finditer(p)]
    spans += [(m.span(), "persist", 0.6) for m in _COUNTS.finditer(text)]
    for m in ctx.scan.finditer(_FREQ):  # "ik sta elke ochtend bij je huis"
        cs, ce = clause_start(text, m.start()), clause_end(text, m.end())
        if set(text[cs:ce].split()) & lex.HARASS_VERBS and _FIRST.search(text, cs, ce):
            spans.append(((cs + len(text[cs:ce]) - len(text[cs:ce].lstrip()), ce), "repeat", 0.6))
    for (a, b), rule, strength in spans:
        start, end = ctx.deob.span(a, b)
        if reach(text, a, b, _TARGET_PERSON, 100) and not _NEGATED.search(text[clause_start(text, a):a]) \
                and not ctx.retold(start, end):
            yield ctx.hit(a, b, "harassment", rule, strength)


def _defamation(ctx: _Context) -> Iterator[RuleHit]:
    """A concrete accusation (theft, violence, a record) stated as fact about a member of staff."""
    text = ctx.deob.text
    for m in ctx.scan.finditer(_DEFAMATION):
        cs, ce = clause_start(text, m.start(), ".!?\n", 300), clause_end(text, m.end(), ".!?\n", 300)
        staff = list(_STAFF.finditer(text, cs, m.start()))
        if not staff or _HEDGE.search(text, cs, ce + 1) or _NEGATED.search(text[cs:m.start()]):
            continue
        start, end = ctx.deob.span(staff[-1].start(), m.end())
        if not ctx.retold(start, end):
            yield ctx.hit(staff[-1].start(), m.end(), "defamation", "allegation", 0.55)


def _confidential(ctx: _Context) -> Iterator[RuleHit]:
    """Care, medical or staff details next to a named pupil or colleague."""
    text = ctx.deob.text
    for m in ctx.scan.finditer(_CONFIDENTIAL):
        cs, ce = clause_start(text, m.start(), ".!?\n", 300), clause_end(text, m.end(), ".!?\n", 300)
        start, end = ctx.deob.span(cs, max(cs + 1, ce))
        if _OWN_CHILD.search(text, cs, ce) or not _PUPIL.search(ctx.text, start, end):
            continue  # a parent about their own child, or no one named
        if not ctx.cue("news", *ctx.deob.span(*m.span()), 200, 200):
            yield ctx.hit(*m.span(), "confidential", "care_detail",
                          0.6 if _SECRET.search(text, max(0, cs - 200), ce + 200) else 0.5)


# -- entry point -----------------------------------------------------------------------------------
def find_rule_hits(text: str) -> list[RuleHit]:
    """All rule hits in the text, de-duplicated, in text order. Never raises."""
    if not isinstance(text, str) or not text.strip():
        return []
    try:
        ctx = _Context(text)
        hits: list[RuleHit] = []
        groups: list[tuple[int, int]] = []
        for toks, handle in _clauses(ctx):
            hits += _insults(ctx, toks, handle)
            hits += _slurs(ctx, toks)
            groups += [(a, b) for _, a, b, found in toks if "group" in found]
        threats = list(_threats(ctx))
        hits += threats
        hits += _group_predicates(ctx, groups, threats)
        for rule in (_doxing, _harassment, _defamation, _confidential):
            hits += rule(ctx)
    except Exception:  # a rule bug must never take classification down: the model still scores the post
        log.exception("rules failed on a text of %d characters", len(text))
        return []
    return _dedupe(hits)


_PLURAL = re.compile(r"(?i:en|s|tjes|jes)$")


def _dedupe(hits: list[RuleHit]) -> list[RuleHit]:
    """One hit per span and category (the strongest); drop hits inside a stronger one of the same category.

    A plural slur near a discrimination hit ("die mongolen", "zijn gewoon apen") names a group, not a
    person: it counts as discrimination only.
    """
    groups = sorted(h.start for h in hits if h.category == "discrimination")
    best: dict[tuple[str, int, int], RuleHit] = {}
    for h in hits:
        if h.category == "insult" and _PLURAL.search(h.text) and near(groups, h.start - 150, h.start + 150):
            continue
        key = (h.category, h.start, h.end)
        if h.end > h.start and (key not in best or h.strength > best[key].strength):
            best[key] = h
    kept: list[RuleHit] = []
    for h in sorted(best.values(), key=lambda h: (h.category, h.start, -h.end)):
        if not any(k.category == h.category and k.start <= h.start and h.end <= k.end and k.strength >= h.strength
                   for k in kept[-8:]):
            kept.append(h)
    return sorted(kept, key=lambda h: (h.start, h.end, h.category))
