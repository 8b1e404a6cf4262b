"""Counter-speech and negated group claims: where the model's group-hate score is not evidence.

A bag of n-grams reads "Turkse kinderen zijn niet dommer", "ik heb niks tegen moslims" and
"walgelijk dat mensen schrijven dat moslimkinderen hier niet horen" as the hate they deny or
condemn: the words are the same. These cues mark such posts; `predict.py` then caps the model's
discrimination score, so that only a rule (which has its own guards and reports its span) can
still flag the post. A cue followed by a contrast in the same sentence ("ik heb niks tegen
moslims, maar ...") is no counter-speech: the contrast is where the claim usually comes.

The patterns run on `rules_view.lite` text (lower case, no diacritics) and are linear.
"""

from __future__ import annotations

import re

from classifier.rules_view import lite

_ADV = r"(?:(?:echt|absoluut|helemaal|gewoon|heus|zeker|natuurlijk|ook|dus|toch)\s+){0,2}"
# What group hate says about a group, denied: "zijn niet dommer", "zijn geen tuig", "geen gevaar".
_DENIED = (r"(?:tuig|uitschot|gespuis|ratten|beesten|apen|parasieten|criminelen|terroristen|dieven|"
           r"minderwaardig|gevaar|bedreiging|last|probleem|ziekte|ziek|zielig|raar|eng|vies|"
           r"sukkel|idioot|debiel|heks|trut|loser|eikel|"
           r"\w{2,}er\b(?=(?:\s+\S+){0,3}?\s+(?:dan|als)\b)|minder\b(?:\s+\w+)?)")
_HATE = (r"(?:racisme|racistische?|discriminatie|antisemitisme|moslimhaat|jodenhaat|homohaat|transhaat|haat|"
         r"haatzaaien|xenofobie)")
_SAY = (r"(?:schrijven|schrijft|schreef|zeggen|zegt|zei|roepen|roept|beweren|beweert|posten|post|denken|denkt|"
        r"vinden|vindt|noemen|noemt)")
COUNTER_CUES: dict[str, str] = {
    "nothing_wrong": r"\b(?:niks|niets)\s+mis\s+met\b",
    "nothing_against": r"\b(?:heb|hebben|had|hadden)\s+" + _ADV + r"(?:niks|niets)\s+tegen\b",
    "hate_denied": r"\b(?:ik|wij|we)\s+(?:haat|haten|háát)\s+(?:\S+\s+){1,3}?niet\b",
    "claim_denied": r"\b(?:zijn|is)\s+" + _ADV + r"(?:niet|geen)\s+" + _ADV + r"(?:een\s+)?" + _DENIED,
    "belong": r"\bhoren\s+(?:er\s+)?" + _ADV + r"bij(?:\s+(?:ons|onze|de\s+klas|iedereen))?\s*(?:[.,!]|$)",
    "not_excluded": r"\b(?:horen|hoort|mogen|moeten)\s+niet\s+(?:te\s+worden\s+)?(?:weggestopt|buitengesloten|"
                    r"uitgesloten|weggezet|apart\s+gezet|gepest|weggepest|geweerd)\b",
    "people_who_say": r"\b(?:mensen|iedereen|types|lui|jullie|degenen)\s+die\s+(?:hier\s+)?(?:\w+\s+){0,2}?"
                      + _SAY + r"\b",
    "whoever_calls": r"\bwie\s+[^.!?\n]{1,60}?\s+(?:noemt|uitscheldt|zegt)\s*,?\s+(?:moet|mag|kan|is)\b",
    "condemned_claim": r"\b(?:walgelijk|schandalig|triest|beschamend|erg|verschrikkelijk|afschuwelijk|ziek|treurig)"
                       r"\s+dat\s+(?:mensen|iemand|sommigen|sommige\s+\w+|jullie|ze|er\s+mensen)\s+(?:\w+\s+){0,3}?"
                       + _SAY + r"\b",
    "stop_hate": r"\bstop\s+(?:nou\s+|toch\s+|eens\s+|alsjeblieft\s+)?met\s+"
                 r"(?:die\s+|de\s+|al\s+die\s+|dat\s+|deze\s+|dit\s+)?(?:haat|racis|discrimin|vooroordel|gescheld|hetze)",
    "not_in_our_name": r"\bniet\s+in\s+(?:onze|mijn)\s+naam\b",
    "for_everyone": r"\bis\s+van\s+iedereen\b",
    "named_hate": r"\b(?:dat|dit|het)\s+is\s+(?:gewoon\s+|pure?\s+|echt\s+|regelrechte?\s+)?" + _HATE + r"\b",
    "not_tolerated": r"\b(?:pikken|accepteren|tolereren|dulden)\s+(?:we|wij)\s+niet\b"
                     r"|\b(?:we|wij)\s+(?:pikken|accepteren|tolereren|dulden)\s+(?:dat|dit|geen)\b",
    "hate_unwelcome": r"\b" + _HATE + r"\s+(?:hoort|hoor|horen|is)\s+(?:hier\s+)?(?:niet|nergens|geen)\b",
    "myth": r"\bis\s+" + _ADV + r"(?:een\s+)?(?:fabeltje|fabel|mythe|vooroordeel|broodje\s+aap)\b",
    "report_it": r"\bblokkeren\s+en\s+melden\b|\bmeld\s+(?:het|dit|ze|die\s+\w+)\s+bij\b",
}
_CUES = re.compile("|".join(f"(?P<{name}>{source})" for name, source in COUNTER_CUES.items()))
# A contrast after the cue in the same sentence takes the denial back.
_CONTRAST = re.compile(r"\b(?:maar|alleen|echter|toch|behalve)\b")
_SENTENCE_END = re.compile(r"[.!?\n]")
# Cues that deny a negative claim (rather than condemn someone else's): in the training data such
# posts are positive or neutral unless a contrast follows, anywhere after the cue ("niks mis met
# autisten. Wél met scholen die ...").
DENIALS = frozenset({"nothing_wrong", "nothing_against", "hate_denied", "claim_denied", "not_excluded", "belong"})
_LATER_CONTRAST = re.compile(r"\b(?:maar|wel|alleen|echter|behalve)\b")


def counter_speech(text: str) -> str | None:
    """The name of the first counter-speech or negation cue not taken back by a contrast, or None."""
    clean = lite(text).text
    for match in _CUES.finditer(clean):
        rest = clean[match.end(): match.end() + 200]
        end = _SENTENCE_END.search(rest)
        rest = rest[: end.start()] if end else rest
        if not _CONTRAST.search(rest):
            return match.lastgroup
    return None


def denial(text: str) -> bool:
    """Whether the post denies a negative claim about a group or person, with no contrast after it."""
    clean = lite(text).text
    for match in _CUES.finditer(clean):
        if match.lastgroup in DENIALS and not _LATER_CONTRAST.search(clean, match.end(), match.end() + 200):
            return True
    return False


__all__ = ["COUNTER_CUES", "DENIALS", "counter_speech", "denial"]
