"""Veiled and indirect Dutch threats: idioms that threaten without a kill verb or a weapon.

"je hebt de langste tijd gehad", "zou zonde zijn als je kinderen iets overkwam", "kijk maar goed uit". Each
entry is (rule, strength, needs, pattern) like `rules_lexicon.THREAT_PHRASES` and runs through the same guards
(news, quoted and condemned, negation before the phrase, harmless contexts). Strengths stay at 0.6-0.8: the
forms are indirect, so a rule hit alone should not outweigh a calibrated model that disagrees strongly.
"""

from __future__ import annotations

_WHO = r"(?:je|jij|jullie|hij|ze|zij|u|die\s+\w+|de\s+\w+)"
_DAT = r"(?:\S+\s+){0,3}?"

VEILED_PHRASES = (
    # "meester Ruben, je hebt de langste tijd gehad"
    ("veiled", 0.8, "any", r"\b(?:hebt|heb|heeft|hebben)\s+(?:\S+\s+)?de\s+langste\s+tijd\s+gehad\b"),
    # "zou zonde zijn als je kinderen iets overkwam", "... als er niks meer staat"
    ("veiled", 0.75, "any", r"\bzou\s+(?:toch\s+)?(?:zonde|jammer|erg|naar)\s+zijn\s+als\s+(?:\S+\s+){0,5}?(?:iets|wat)"
                            r"\s+(?:\S+\s+)?(?:overkwam|overkomt|gebeurt|gebeurde|zou\s+(?:overkomen|gebeuren))\b|"
                            r"\bzou\s+(?:toch\s+)?(?:zonde|jammer)\s+zijn\s+als\s+(?:\S+\s+){0,6}?er\s+(?:\S+\s+)?"
                            r"(?:niks|niets)\s+meer\s+(?:staat|over\s+is)\b"),
    # "ongelukjes gebeuren snel, juf"
    ("veiled", 0.65, "target", r"\bongelukjes?\s+(?:\S+\s+)?(?:gebeuren|gebeurt|zijn\s+snel\s+gebeurd)\b"),
    # "X moet maar hopen dat ...", "kan maar beter oppassen", "ik zou maar uitkijken", "moet maar goed haar deur op
    # slot doen"
    ("veiled", 0.7, "target", r"\b(?:moet|moeten|kan|kunnen|zou|zouden)\s+" + _DAT + r"maar\s+(?:beter\s+|goed\s+)?"
                              r"(?:\S+\s+)?(?:hopen\s+dat|uitkijken|oppassen|(?:haar|zijn|z'n|je|jullie|de)\s+deur"
                              r"\s+op\s+slot)"),
    # "kijk maar goed uit als je vanavond naar huis fietst", not "kijk uit, het is glad" (see MILD)
    ("veiled", 0.65, "target", r"\bkijk\s+(?:\S+\s+)?maar\s+(?:goed\s+)?uit\b|\bkijk\s+(?:\S+\s+){0,2}?goed\s+om\s+je"
                               r"\s+heen\b"),
    # "is niet veilig meer over straat", "als je gezin niet veilig is"
    ("veiled", 0.75, "any", r"\bniet\s+(?:meer\s+)?veilig\s+meer\s+(?:over|op)\s+straat\b|\b(?:gezin|kinderen|kind|"
                            r"vrouw|man)\s+niet\s+(?:meer\s+)?veilig\s+(?:is|zijn|meer)\b"),
    # "we weten waar jullie wonen", "ik weet om hoe laat je klaar bent", "ik weet welk raam je slaapkamer is"
    ("veiled", 0.75, "any", r"\b(?:ik|we|wij)\s+(?:weet|weten)\s+(?:precies\s+|heus\s+)?(?:waar|(?:om\s+)?hoe\s+laat|"
                           r"wanneer|welk\s+raam)\s+(?:je|jij|jullie|u|hij|ze|zij|\w+\s+\w+)\s+(?:\S+\s+)?"
                           r"(?:woont|wonen|woon|slaapt|slapen|slaapkamer|klaar\s+bent|klaar\s+is|alleen|thuis|"
                           r"fietst|loopt|parkeert)\b|\b(?:ik|we|wij)\s+(?:weet|weten)\s+(?:jou|jullie|hem|haar|"
                           r"u)\s+te\s+vinden\b"),
    # "sta ik met vier man bij je voordeur", "wij staan er met twintig man"
    ("veiled", 0.7, "both", r"\b(?:sta|staan)\s+(?:ik|we|wij)?\s*(?:\S+\s+){0,4}?met\s+(?:\w+\s+man|de\s+jongens|"
                            r"vrienden|z'n\s+allen)\b"),
    # "regelen wij het zelf", "wij regelen dat", "regel ik het zelf, met mijn vuisten"
    ("veiled", 0.6, "both", r"\bregel(?:en)?\s+(?:ik|we|wij)\s+(?:het|dat)\s+zelf\b|\b(?:ik|we|wij)\s+regel(?:en)?\s+"
                            r"(?:het|dat)\s+(?:zelf|wel)\s*[.!]"),
    ("veiled", 0.7, "actor", r"\bmet\s+(?:mijn|m'n|mn|onze|ons)\s+(?:blote\s+)?vuisten\b"),
    # "we nemen wat mee" (not a present: see MILD)
    ("veiled", 0.6, "both", r"\b(?:we|wij|ik)\s+(?:nemen|neem)\s+(?:wel\s+)?(?:wat|iets)\s+mee\b"),
    # "moeten allemaal afgemaakt worden" (the passive with the participle first)
    ("veiled", 0.8, "target", r"\b(?:moet|moeten)\s+(?:\S+\s+){0,3}?(?:afgemaakt|afgeknald|vermoord|vergast|"
                              r"doodgeschoten|neergeschoten|opgehangen|afgeslacht|in\s+elkaar\s+geslagen)\s+worden\b"),
    ("veiled", 0.75, "any", r"\bdood\s+aan\s+(?:de|het|die|alle|al\s+die)\s+\w+"),
    ("arson", 0.75, "target", r"\bin\s+lichterlaaie\b|\bmet\s+benzine\s+(?:\S+\s+)?overgoten\b|\bbrandt\s+als\s+een\s+"
                              r"(?:fakkel|lier)\b"),
    # "je gaat spijt krijgen." but not "spijt krijgen dat je de musical mist"
    ("veiled", 0.65, "both", r"\b(?:gaat|gaan|ga|zal|zult|zullen)\s+(?:\S+\s+){0,2}?spijt\s+(?:van\s+)?krijgen"
                             r"(?!\s+(?:dat|als|van|om)\b)"),
    # "ik zou maar een andere baan zoeken voordat er iets gebeurt"
    ("veiled", 0.7, "target", r"\b(?:zou|kan|kun|moet|moeten)\s+" + _DAT + r"(?:maar|beter)\s+(?:\S+\s+){0,6}?"
                              r"voordat\s+er\s+(?:\S+\s+)?(?:iets|wat)\s+(?:ergs\s+)?gebeurt\b"),
    # "wacht maar op het juiste moment", "wacht maar tot na schooltijd"
    ("veiled", 0.7, "target", r"\bwacht\s+(?:maar\s+)?(?:op\s+het\s+(?:juiste|goede)\s+moment|tot\s+(?:na\s+"
                              r"(?:schooltijd|school)|het\s+donker|je\s+alleen))\b"),
    # conditional with a violent consequence: "als ... nog één keer ..., dan sla ik jou"
    ("veiled", 0.75, "any", r"\bdan\s+sla\s+(?:ik|we)\s+(?:jou|je|hem|haar|jullie)\b|\b(?:dan|straks|morgen)\s+(?:ligt|"
                            r"liggen|lig)\s+(?:\S+\s+){0,3}?in\s+het\s+ziekenhuis\b|\b(?:hij|je|jij|ze|zij|jullie)\s+"
                            r"(?:is|bent|zijn)\s+dood\s+als\b|\bniet\s+verantwoordelijk\s+(?:ben\s+|is\s+)?voor\s+"
                            r"(?:mijn\s+daden|wat\s+(?:ik|mijn|er))|\bdan\s+gebeurt\s+er\s+(?:ook\s+)?(?:iets|wat)\s+"
                            r"met\s+(?:jullie|je|jouw|uw|zijn|haar|hun)\b"),
    ("veiled", 0.8, "any", r"\bniet\s+(?:meer\s+)?levend\s+(?:thuis|naar\s+huis|terug|weg|buiten)|"
                           r"\bkomt\s+er\s+bloed\b|\bkopje\s+kleiner\b|\bklap\s+(?:\S+\s+){0,2}?verkopen\b|\bklap\s+voor\s+(?:je|z'n|zijn|"
                           r"haar|hun|de)\s+(?:kop|hoofd|bek|harses)\b|\bpak\s+rammel\b|\bmet\s+geweld\s+als\s+het\s+"
                           r"moet\b|\bkop\s+tegen\s+(?:de|het)\s+(?:muur|bord|deur|paal|raam)\b"),
    ("veiled", 0.75, "target", r"\bverdien\w*\s+(?:\S+\s+){0,4}?(?:een\s+)?(?:kogel|bom)\b|"
                               r"\b(?:straks|morgen|binnenkort)\s+(?:\S+\s+){0,4}?in\s+puin\b|\bgaat\s+(?:\S+\s+)?(?:het|dit)\s+niet\s+overleven\b|"
                               r"\bgaat\s+er\s+(?:iets|wat)\s+kapot\b"),
    ("veiled", 0.7, "any", r"\bniet\s+om\s+(?:koffie|thee)\s+te\s+drinken\b|\bniet\s+om\s+te\s+praten\b|\bniet\s+het\s+"
                           r"leuke\s+soort\b|\b(?:weet|weten)\s+niet\s+wat\s+(?:hem|haar|je|jullie|u)\s+te\s+wachten\s+"
                           r"staat\b|\bwie\s+(?:mijn|ons)\s+(?:kind|zoon|dochter)\s+(?:\S+\s+){0,4}?(?:raak|sla|pak)\s+"
                           r"ik\b"),
)
# Near a veiled phrase these make it everyday advice, an offer or a joke about a treat, not a threat.
MILD = (r"glad\w*|spiegelglad|ijzel|braderie|kraam|reservekleding|kleuter\w*|plassen|kado\w*|verrassing|"
        r"sneeuw|verkeer\b|oversteken|zebrapad|luizen|griep|waterpokken|mazelen|hitte\b|"
        r"zonnebrand|onweer|gratis|korting|aanbieding|koffie\s+en|cake\b|traktatie|cadeau\w*|lekkers|bloemen|hapjes|"
        r"lampion\w*|lichtjes|lichtshow|musical|mist\b|missen|loterij|weerbericht|regen\b|droog\b|mooi\s+weer|"
        r"fiets\s+op\s+slot|diefstal|inbrekers")
