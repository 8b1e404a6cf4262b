"""Matching posts to the school: hits and near-misses."""

from __future__ import annotations

import pytest

from crawlers.matching import SchoolMatcher, normalise

MATCHER = SchoolMatcher(
    aliases=("BM Verkruisen", "Verkruisen", "fusieschool Muntendam"),
    watch_names=("Anja de Vries",),
    exclude=("Verkruisen Transport",),
)


@pytest.mark.parametrize(
    ("text", "term"),
    [
        ("Wat een mooie musical op obs BM Verkruisen!", "BM Verkruisen"),
        ("#BMVerkruisen doet het weer goed", "BM Verkruisen"),
        ("#bmverkruisen", "BM Verkruisen"),
        ("@bm_verkruisen bedankt!", "BM Verkruisen"),
        ("B.M. Verkruisen", "BM Verkruisen"),
        ("OBS  BM\tVERKRUISEN", "BM Verkruisen"),
        ("de VERKRUÏSEN", "Verkruisen"),
        ("Verkruizen is een puinhoop", "Verkruisen"),  # one typo in a long word
        ("#verkruisenmuntendam", "Verkruisen"),  # inside a compound hashtag
        ("fusieschool-Muntendam", "fusieschool Muntendam"),
        ("de fusieschool, Muntendam", "fusieschool Muntendam"),
        ("juf Anja de Vries is ziek", "Anja de Vries"),
        ("ANJA DEVRIES", "Anja de Vries"),
    ],
)
def test_mentions_match(text: str, term: str) -> None:
    match = MATCHER.match(text)
    assert match is not None and match.term == term


@pytest.mark.parametrize(
    "text",
    [
        "",
        "Mooi weer in Muntendam vandaag",
        "De fusieschool in Muntendam",  # words apart: no mention of the alias
        "verkruising van twee wegen",  # two edits away
        "Verkruisenstraat 4",  # a street name, not the school
        "Verkruisen Transport BV levert op tijd",  # exclusion phrase
        "Anja Vries",
        "kruisen",
        "bmv",
    ],
)
def test_near_misses_do_not_match(text: str) -> None:
    assert MATCHER.match(text) is None


def test_exclusion_vetoes_even_with_another_alias() -> None:
    assert MATCHER.match("BM Verkruisen en Verkruisen Transport") is None


def test_normalise_folds_case_diacritics_and_tags() -> None:
    assert normalise("Café #BMVerkruisen @Juf_Anja!!") == "cafe bm verkruisen juf anja"
