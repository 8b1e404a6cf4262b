"""Our own Dutch functional tests (tests/data/functional_nl.jsonl), written independently of
the training data: group hate on every ground of art. 137c, threats against groups and
people, counter-speech, negation, quoted-and-condemned abuse, obfuscated slurs, news, lawful
criticism, profanity, neutral group mentions and non-Dutch text."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pytest

from classifier import load_classifier

CASES = [json.loads(line) for line in
         (Path(__file__).parent / "data" / "functional_nl.jsonl").read_text(encoding="utf-8").splitlines()
         if line.strip()]
# Every functionality must pass at this rate; the whole suite at OVERALL.
PER_FUNCTIONALITY = 0.75
OVERALL = 0.80


@pytest.fixture(scope="module")
def outcomes() -> dict[str, list[tuple[dict, bool, str]]]:
    classifier = load_classifier("builtin")
    results = classifier.classify([c["text"] for c in CASES])
    by_functionality: dict[str, list[tuple[dict, bool, str]]] = defaultdict(list)
    for case, result in zip(CASES, results, strict=True):
        problems = []
        predicted = set(result.categories)
        if "expect_categories" in case and predicted != set(case["expect_categories"]):
            problems.append(f"categories {sorted(predicted)} != {case['expect_categories']}")
        if "expect_includes" in case and not set(case["expect_includes"]) <= predicted:
            problems.append(f"categories {sorted(predicted)} lack {case['expect_includes']}")
        if "expect_severity" in case and result.severity != case["expect_severity"]:
            problems.append(f"severity {result.severity} != {case['expect_severity']}")
        if "expect_sentiment" in case and result.sentiment != case["expect_sentiment"]:
            problems.append(f"sentiment {result.sentiment} != {case['expect_sentiment']}")
        if "expect_language" in case and result.language != case["expect_language"]:
            problems.append(f"language {result.language} != {case['expect_language']}")
        by_functionality[case["functionality"]].append((case, not problems, "; ".join(problems)))
    return by_functionality


FUNCTIONALITIES = sorted({c["functionality"] for c in CASES})


# Negation and counter-speech were known gaps of a bag of n-grams; rules now cover them
# (classifier/rules_counter.py: the model's discrimination score is capped in counter-speech, and
# a denial is no negative stance). Those rules were written with these cases in view, so for these
# two groups this is a regression test, not an independent measure. Intimidating doxing was also
# flagged as threat while the threat threshold sat at 0.03; it is no longer that low.
@pytest.mark.parametrize("functionality", FUNCTIONALITIES)
def test_functionality(outcomes: dict, functionality: str) -> None:
    rows = outcomes[functionality]
    passed = sum(ok for _, ok, _ in rows)
    failures = "\n".join(f"  {c['id']}: {c['text'][:70]!r}: {why}" for c, ok, why in rows if not ok)
    assert passed / len(rows) >= PER_FUNCTIONALITY, f"{passed}/{len(rows)} passed\n{failures}"


def test_overall_pass_rate(outcomes: dict) -> None:
    rows = [row for group in outcomes.values() for row in group]
    passed = sum(ok for _, ok, _ in rows)
    assert passed / len(rows) >= OVERALL, f"{passed}/{len(rows)} functional cases passed"
