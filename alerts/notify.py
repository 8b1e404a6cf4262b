"""Immediate alerts: an `urgent` or `criminal` post e-mails the director(s) at once.

`queue_alerts` only writes outbox rows (in the caller's transaction, next to the
classification and the case); `alerts.outbox.flush` sends them. The dedup key
`alert:post:{post_id}:{recipient}` makes a post alerted once per recipient, whatever restarts,
re-classifications or repeated runs happen.

The mail is Dutch, HTML with a plain-text alternative. Everything from the post (text, author,
URL) is untrusted: the HTML template autoescapes it, a link is only made of an http(s) URL, and
nothing from the post goes into a header.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlmodel import Session

from alerts import DEFAULT_ZONE, MAIL_TEMPLATES, dutch_time
from classifier.labels import ARTICLES, CATEGORIES, CATEGORY_NAMES_NL, COMPLAINT_OFFENCES
from store.cases import complaint_deadline
from store.config import Settings
from store.models import Case, Classification, Post, School
from store.outbox import enqueue, header_safe
from store.types import utcnow

logger = logging.getLogger(__name__)

# Longer posts are cut in the mail; the whole text is in the dashboard and the evidence export.
MAX_TEXT_CHARS = 5000

SUBJECTS = {
    "urgent": "[Schoolwacht] URGENT: mogelijke bedreiging over {school}",
    "criminal": "[Schoolwacht] Mogelijk strafbaar bericht over {school}",
    "negative": "[Schoolwacht] Negatief bericht over {school}",
}
SEVERITY_NL = {
    "urgent": "een mogelijke bedreiging",
    "criminal": "mogelijk strafbaar",
    "negative": "negatief",
}
PLATFORM_NAMES = {
    "mastodon": "Mastodon", "bluesky": "Bluesky", "reddit": "Reddit", "youtube": "YouTube",
    "x": "X (Twitter)", "twitter": "X (Twitter)", "facebook": "Facebook", "facebook_page": "Facebook",
    "instagram": "Instagram", "whatsapp": "WhatsApp", "tiktok": "TikTok", "rss": "nieuwsfeed (RSS)",
    "web": "website", "manual": "handmatig gemeld", "other": "anders",
}
POLICE_LINE = ("Bel de politie: 112 bij acuut gevaar, anders 0900-8844. "
               "Zorg eerst voor de veiligheid van leerlingen en medewerkers.")
# Categories that are offences in the Criminal Code (Sr): a police report (aangifte) is possible.
POLICE_CATEGORIES = ("insult", "defamation", "threat", "harassment", "doxing", "discrimination")

_environment = MAIL_TEMPLATES


@dataclass(frozen=True)
class Segment:
    """A piece of the post text; `mark` when a category's explaining span covers it."""

    text: str
    mark: bool


@dataclass(frozen=True)
class CategoryView:
    key: str
    name: str
    article: str
    score: str | None
    spans: list[str]


@dataclass(frozen=True)
class RenderedMail:
    subject: str
    text: str
    html: str


def case_url(settings: Settings, case_id: int) -> str:
    """The dashboard page of a case, for links in mails."""
    base = settings.dashboard.base_url or f"http://{settings.dashboard.host}:{settings.dashboard.port}"
    return f"{base.rstrip('/')}/cases/{case_id}"


def _safe_link(url: str | None) -> str | None:
    """Only http(s) URLs become links; anything else (javascript:, data:) is shown as text."""
    if not url:
        return None
    parts = urlsplit(url.strip())
    return url.strip() if parts.scheme in ("http", "https") and parts.netloc else None


def _author(post: Post) -> str:
    handle = header_safe(post.author_handle or "", limit=200)
    name = header_safe(post.author_name or "", limit=200)
    if handle and name and name != handle:
        return f"{name} ({handle})"
    return name or handle or "onbekend"


def _spans(classification: Classification, category: str, text: str) -> list[tuple[int, int, str]]:
    found: list[tuple[int, int, str]] = []
    for span in (classification.explanations or {}).get(category) or []:
        if not isinstance(span, dict):
            continue
        start, end = span.get("start"), span.get("end")
        quoted = str(span.get("text") or "")
        if isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(text):
            found.append((start, end, text[start:end]))
        elif quoted:
            found.append((-1, -1, quoted))
    return found


def _segments(text: str, ranges: list[tuple[int, int]]) -> list[Segment]:
    merged: list[list[int]] = []
    for start, end in sorted(r for r in ranges if 0 <= r[0] < r[1] <= len(text)):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    segments: list[Segment] = []
    position = 0
    for start, end in merged:
        if start > position:
            segments.append(Segment(text[position:start], False))
        segments.append(Segment(text[start:end], True))
        position = end
    if position < len(text):
        segments.append(Segment(text[position:], False))
    return segments


def next_steps(categories: list[str], *, deadline: datetime | None, zone: str = DEFAULT_ZONE) -> list[str]:
    """What protocol rule 4 asks of the school now, in Dutch, for these categories."""
    steps = [
        "Ga niet in discussie op social media (protocolregel 4).",
        "Spreek de schrijver aan (als directeur of via een medewerker) en spreek af dat het bericht "
        "wordt verwijderd.",
        "Vraag de schrijver om een correctie op het eerdere bericht te plaatsen.",
    ]
    police = [CATEGORY_NAMES_NL[c] for c in categories if c in POLICE_CATEGORIES]
    if police:
        steps.append(f"Overweeg aangifte bij de politie ({', '.join(police)}). Leg eerst het bewijs vast: "
                     "exporteer het dossier in het dashboard (bericht, schermafbeelding, tijdlijn).")
    complaint = [CATEGORY_NAMES_NL[c] for c in categories if c in COMPLAINT_OFFENCES]
    if complaint:
        when = f", uiterlijk {_dutch_date(deadline, zone)}" if deadline else ""
        names = complaint[0] if len(complaint) == 1 else f"{', '.join(complaint[:-1])} en {complaint[-1]}"
        verb = "is een klachtdelict" if len(complaint) == 1 else "zijn klachtdelicten"
        steps.append(f"Let op: {names} {verb}. De politie vervolgt alleen na een "
                     "klacht van het slachtoffer (bij een leerling: de ouders), binnen 3 maanden nadat het "
                     f"bericht bekend werd{when}.")
    if "confidential" in categories:
        steps.append("Vertrouwelijke schoolinformatie (protocolregel 3): vraag om directe verwijdering en ga na "
                     "of er sprake is van een datalek (melden bij de Autoriteit Persoonsgegevens binnen 72 uur).")
    steps.append("Leg elke stap vast in het dossier in het dashboard.")
    return steps


def _dutch_date(moment: datetime, zone: str) -> str:
    return dutch_time(moment, zone).rsplit(" ", 1)[0]


def alert_context(session: Session, settings: Settings, *, post: Post, classification: Classification,
                  case: Case | None) -> dict[str, Any]:
    """Everything the alert templates show."""
    school = session.get(School, post.school_id)
    school_name = header_safe(school.name if school is not None else "de school", limit=200)
    zone = (school.timezone if school is not None else None) or DEFAULT_ZONE
    severity = classification.severity
    # Threat first: it is what the director must act on before anything else.
    categories = sorted((c for c in CATEGORIES if c in set(classification.categories or [])),
                        key=lambda c: (c != "threat", CATEGORIES.index(c)))
    text = post.text or ""
    shown = text[:MAX_TEXT_CHARS]
    views: list[CategoryView] = []
    marks: list[tuple[int, int]] = []
    for category in categories:
        spans = _spans(classification, category, text)
        marks.extend((s, e) for s, e, _ in spans if s >= 0)
        quoted = list(dict.fromkeys(" ".join(t.split()) for _, _, t in spans if t.strip()))
        score = (classification.scores or {}).get(category)
        views.append(CategoryView(key=category, name=CATEGORY_NAMES_NL.get(category, category),
                                  article=ARTICLES.get(category, ""),
                                  score=f"{float(score):.0%}" if isinstance(score, int | float) else None,
                                  spans=quoted))
    deadline = None
    if case is not None:
        deadline = case.deadline or complaint_deadline(case.learned_at, categories)
    elif categories:
        deadline = complaint_deadline(post.fetched_at or utcnow(), categories)
    platform = PLATFORM_NAMES.get(post.platform, post.platform)
    return {
        "subject": SUBJECTS.get(severity, SUBJECTS["criminal"]).format(school=school_name),
        "urgent": severity == "urgent",
        "police_line": POLICE_LINE,
        "severity": severity,
        "severity_nl": SEVERITY_NL.get(severity, severity),
        "school": school_name,
        "platform": platform,
        "author": _author(post),
        "posted": dutch_time(post.created_at, zone) if post.created_at else "onbekend",
        "found": dutch_time(post.fetched_at, zone) if post.fetched_at else None,
        "post_url": (post.url or "").strip() or None,
        "post_link": _safe_link(post.url),
        "text": shown,
        "text_cut": len(text) > len(shown),
        "text_lines": shown.splitlines() or [""],
        "segments": _segments(shown, marks),
        "categories": views,
        "steps": next_steps(categories, deadline=deadline, zone=zone),
        "case_id": case.id if case is not None else None,
        "case_url": case_url(settings, case.id) if case is not None and case.id is not None else None,
        "removed": post.removed_at is not None,
    }


def render_alert(context: dict[str, Any]) -> RenderedMail:
    html = _environment.get_template("alert.html").render(**context)
    text = _environment.get_template("alert.txt").render(**context)
    return RenderedMail(subject=header_safe(context["subject"]), text=text, html=html)


def alert_dedup_key(post_id: int, recipient: str) -> str:
    return f"alert:post:{post_id}:{recipient.strip().lower()}"


def queue_alerts(session: Session, settings: Settings, *, post: Post, classification: Classification,
                 case: Case | None) -> int:
    """Queue the alert mail for each director when the severity calls for one; returns how many
    mails were new (0 when this post was alerted before)."""
    if classification.severity not in settings.alerts.immediate:
        return 0
    recipients: dict[str, str] = {}  # one mail per address, whatever its case in the config
    for address in settings.mail.director:
        if address.strip():
            recipients.setdefault(address.strip().lower(), address.strip())
    if not recipients:
        logger.warning("alerts: post %s is %s, but [mail] director lists no recipients; no alert queued",
                       post.id, classification.severity)
        return 0
    mail = render_alert(alert_context(session, settings, post=post, classification=classification, case=case))
    added = 0
    for recipient in recipients.values():
        added += enqueue(session, dedup_key=alert_dedup_key(post.id, recipient), kind="alert",  # type: ignore[arg-type]
                         recipient=recipient, subject=mail.subject, body_text=mail.text, body_html=mail.html,
                         post_id=post.id, case_id=case.id if case is not None else None)
    if added:
        logger.info("alerts: queued %d alert mails for post %s (%s)", added, post.id, classification.severity)
    return added


__all__ = ["POLICE_LINE", "SUBJECTS", "RenderedMail", "alert_context", "alert_dedup_key", "case_url",
           "next_steps", "queue_alerts", "render_alert"]
