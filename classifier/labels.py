"""Labels, the law behind each category, and the severity rule (DESIGN.md, Labels)."""

from __future__ import annotations

from collections.abc import Iterable

SENTIMENTS = ("negative", "neutral", "positive")
CATEGORIES = ("insult", "defamation", "threat", "harassment", "doxing", "discrimination",
              "confidential")
SEVERITIES = ("none", "negative", "criminal", "urgent")

# What the school must know about each category: the article and its Dutch name.
ARTICLES = {
    "insult": "belediging, art. 266 Sr",
    "defamation": "smaad/laster, art. 261/262 Sr",
    "threat": "bedreiging, art. 285 Sr",
    "harassment": "belaging, art. 285b Sr",
    "doxing": "doxing, art. 285d Sr",
    "discrimination": "groepsbelediging/aanzetten tot haat, art. 137c/137d Sr",
    "confidential": "vertrouwelijke informatie, protocolregel 3",
}
CATEGORY_NAMES_NL = {
    "insult": "belediging",
    "defamation": "smaad of laster",
    "threat": "bedreiging",
    "harassment": "belaging",
    "doxing": "doxing",
    "discrimination": "discriminatie",
    "confidential": "vertrouwelijke informatie",
}
# Prosecuted only on the complaint of the victim, within 3 months (art. 64/66 Sr).
COMPLAINT_OFFENCES = ("insult", "defamation", "harassment")


def severity_for(sentiment: str, categories: Iterable[str]) -> str:
    """threat -> urgent; any other category -> criminal; negative -> negative; else none."""
    found = set(categories)
    if "threat" in found:
        return "urgent"
    if found:
        return "criminal"
    if sentiment == "negative":
        return "negative"
    return "none"


def severity_rank(severity: str) -> int:
    return SEVERITIES.index(severity)


__all__ = ["ARTICLES", "CATEGORIES", "CATEGORY_NAMES_NL", "COMPLAINT_OFFENCES", "SENTIMENTS",
           "SEVERITIES", "severity_for", "severity_rank"]
