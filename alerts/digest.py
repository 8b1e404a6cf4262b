"""The weekly digest (DESIGN.md flow step 4, issue 4): mentions, a 12-week chart, cases to act on.

The digest covers one ISO week in the school's time zone (`[schedule] timezone`, by default
Europe/Amsterdam): a digest sent on Monday 07:30 covers the previous Monday 00:00 up to this
Monday 00:00 local time. The boundaries are local midnights converted to UTC, so a week with a
DST change has 167 or 169 hours, as it should.

`build_digest` only reads; `queue_digest` puts one mail per director into the outbox, keyed by
the ISO week, so a digest that is built again after a restart is sent once, never twice.
"""

from __future__ import annotations

import base64
import bisect
import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, or_, select
from sqlmodel import Session

from alerts import MAIL_TEMPLATES, dutch_time
from alerts.chart import ChartSeries, render_weekly_chart
from classifier.labels import ARTICLES, CATEGORY_NAMES_NL, COMPLAINT_OFFENCES, SEVERITIES
from store.cases import CLOSED_STATUSES, complaint_deadline
from store.config import Settings
from store.models import Case, CasePost, Classification, Outbox, Post, School
from store.types import utcnow

log = logging.getLogger(__name__)

CHART_WEEKS = 12
CHART_CID = "weekoverzicht-grafiek@schoolwacht"
WARN_DAYS = 14  # complaint period: warn when fewer days than this are left
MAX_LISTED_POSTS = 50
EXCERPT_CHARS = 200

SENTIMENT_KEYS = ("negative", "neutral", "positive", "unrated")
SENTIMENT_NL = {
    "negative": "negatief",
    "neutral": "neutraal",
    "positive": "positief",
    "unrated": "nog niet beoordeeld",
}
STATUS_NL = {
    "new": "nieuw",
    "triaged": "beoordeeld",
    "addressed": "schrijver aangesproken",
    "removal_requested": "verwijdering gevraagd",
    "removed": "verwijderd",
    "corrected": "rectificatie geplaatst",
    "closed": "gesloten",
    "dismissed": "vals alarm",
    "reported": "aangifte gedaan",
}
# Protocol rule 4: what the director does next for a case in each status.
NEXT_STEP_NL = {
    "new": "beoordelen",
    "triaged": "schrijver aanspreken",
    "addressed": "verwijdering vragen",
    "removal_requested": "controleren of het weg is",
    "removed": "rectificatie vragen",
    "corrected": "afsluiten",
    "reported": "wacht op politie",
}
SEVERITY_NL = {
    "urgent": "dringend (bedreiging)",
    "criminal": "mogelijk strafbaar",
    "negative": "negatief",
    "none": "geen",
}
PLATFORM_NL = {
    "rss": "nieuws en blogs (RSS)",
    "web": "websites",
    "mastodon": "Mastodon",
    "bluesky": "Bluesky",
    "reddit": "Reddit",
    "youtube": "YouTube",
    "x": "X (Twitter)",
    "facebook": "Facebook",
    "instagram": "Instagram",
    "whatsapp": "WhatsApp",
    "tiktok": "TikTok",
    "manual": "handmatig gemeld",
    "other": "overig",
}
_WEEKDAYS_NL = ("ma", "di", "wo", "do", "vr", "za", "zo")
_MONTHS_NL = ("jan", "feb", "mrt", "apr", "mei", "jun", "jul", "aug", "sep", "okt", "nov", "dec")

_TEMPLATES = MAIL_TEMPLATES


# --- the week --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Week:
    """One ISO week in a time zone; `start`/`end` are aware local datetimes, end exclusive."""

    iso_year: int
    iso_week: int
    start: datetime
    end: datetime

    @property
    def start_utc(self) -> datetime:
        return self.start.astimezone(UTC)

    @property
    def end_utc(self) -> datetime:
        return self.end.astimezone(UTC)

    @property
    def key(self) -> str:
        return f"{self.iso_year}-W{self.iso_week:02d}"

    @property
    def label(self) -> str:
        """"week 47 (16 t/m 22 nov 2026)", spelling out months and years only where they differ."""
        first, last = self.start.date(), (self.end - timedelta(days=1)).date()
        if first.year != last.year:
            span = f"{_day_month(first)} {first.year} t/m {_day_month(last)} {last.year}"
        elif first.month != last.month:
            span = f"{_day_month(first)} t/m {_day_month(last)} {last.year}"
        else:
            span = f"{first.day} t/m {_day_month(last)} {last.year}"
        return f"week {self.iso_week} ({span})"

    def previous(self, weeks: int = 1) -> Week:
        return week_starting(self.start.date() - timedelta(weeks=weeks), self.start.tzinfo)  # type: ignore[arg-type]


def week_starting(monday: date, tz: ZoneInfo) -> Week:
    """The ISO week that starts on `monday`, from local midnight to the next Monday's midnight."""
    iso = monday.isocalendar()
    start = datetime.combine(monday, time(0), tzinfo=tz)
    end = datetime.combine(monday + timedelta(days=7), time(0), tzinfo=tz)
    return Week(iso_year=iso.year, iso_week=iso.week, start=start, end=end)


def digest_week(now: datetime, tz: ZoneInfo | str = "Europe/Amsterdam") -> Week:
    """The last complete ISO week before `now` (aware), in time zone `tz`."""
    zone = ZoneInfo(tz) if isinstance(tz, str) else tz
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    local = now.astimezone(zone).date()
    this_monday = local - timedelta(days=local.weekday())
    return week_starting(this_monday - timedelta(days=7), zone)


# --- formatting ------------------------------------------------------------------------------

def _day_month(day: date) -> str:
    return f"{day.day} {_MONTHS_NL[day.month - 1]}"


def format_date_nl(value: datetime | date, tz: ZoneInfo | None = None) -> str:
    """"ma 23 nov 2026"."""
    day = value.astimezone(tz).date() if isinstance(value, datetime) else value
    return f"{_WEEKDAYS_NL[day.weekday()]} {_day_month(day)} {day.year}"


def format_datetime_nl(value: datetime, tz: ZoneInfo) -> str:
    """"ma 23 nov 2026 14:05" in the given zone (the format of every Schoolwacht mail)."""
    return dutch_time(value, tz.key)


def _difference(now: int, before: int) -> str:
    delta = now - before
    return f"+{delta}" if delta > 0 else str(delta)


def _excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    cut = flat[:limit].rsplit(" ", 1)[0] if " " in flat[:limit] else flat[:limit]
    return cut.rstrip(" ,.;:") + "…"


def _safe_url(url: str | None) -> str | None:
    """Only http(s) links are shown: a post's URL comes from outside (no `javascript:` links)."""
    if url and url.lower().startswith(("http://", "https://")):
        return url
    return None


def platform_name(platform: str) -> str:
    return PLATFORM_NL.get(platform, platform)


def _dashboard_base(settings: Settings) -> str:
    base = settings.dashboard.base_url or f"http://{settings.dashboard.host}:{settings.dashboard.port}"
    return base.rstrip("/")


# --- what the digest shows -------------------------------------------------------------------

@dataclass(frozen=True)
class Counts:
    """Mentions in one week: total, by sentiment (incl. "unrated") and by platform."""

    total: int = 0
    by_sentiment: dict[str, int] = field(default_factory=dict)
    by_platform: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Row:
    """A table row: this week vs. last week."""

    label: str
    this_week: int
    last_week: int

    @property
    def difference(self) -> str:
        return _difference(self.this_week, self.last_week)


@dataclass(frozen=True)
class CaseLine:
    id: int
    status: str
    status_nl: str
    severity: str
    severity_nl: str
    categories: list[tuple[str, str]]  # (Dutch name, article)
    next_step: str
    opened: str
    url: str
    posts: int
    deadline: str | None = None
    days_left: int | None = None
    complaint_note: str | None = None
    warning: bool = False


@dataclass(frozen=True)
class PostLine:
    id: int
    platform: str
    author: str
    when: str
    excerpt: str
    url: str | None
    severity_nl: str
    case_url: str | None


@dataclass(frozen=True)
class SchoolWeek:
    name: str
    this_week: Counts
    last_week: Counts
    sentiment_rows: list[Row]
    platform_rows: list[Row]
    weekly: list[dict[str, int]]  # CHART_WEEKS entries, oldest first, keys of SENTIMENT_KEYS
    weekly_labels: list[str]
    new_cases: list[CaseLine]
    open_cases: list[CaseLine]
    negative_posts: list[PostLine]
    negative_more: int = 0


@dataclass(frozen=True)
class Digest:
    subject: str
    text: str
    html_mail: str  # the chart as `cid:` + CHART_CID, sent as an inline related part
    html_file: str  # the chart as a data: URI, so a saved file is self-contained
    chart_png: bytes
    week_label: str
    iso_year: int
    iso_week: int
    week_start: datetime  # local, inclusive
    week_end: datetime  # local, exclusive
    schools: list[SchoolWeek]
    chart_cid: str = CHART_CID

    def attachment(self) -> dict[str, str]:
        """The chart as an outbox attachment (inline image, `Content-ID: <chart_cid>`)."""
        return {"cid": self.chart_cid, "content_type": "image/png",
                "filename": f"weekoverzicht-{self.iso_year}-W{self.iso_week:02d}.png",
                "data": base64.b64encode(self.chart_png).decode("ascii")}


# --- queries ---------------------------------------------------------------------------------

def _latest_classification_ids() -> Any:
    return (select(Classification.post_id, func.max(Classification.id).label("cid"))
            .group_by(Classification.post_id).subquery())


def _mentions(session: Session, school_ids: list[int], start: datetime, end: datetime
              ) -> list[tuple[int, str, datetime, str | None]]:
    """(school_id, platform, created_at, latest sentiment or None) for posts created in [start, end)."""
    if not school_ids:
        return []
    latest = _latest_classification_ids()
    statement = (
        select(Post.school_id, Post.platform, Post.created_at, Classification.sentiment)
        .outerjoin(latest, latest.c.post_id == Post.id)
        .outerjoin(Classification, Classification.id == latest.c.cid)
        .where(Post.school_id.in_(school_ids), Post.created_at >= start,  # type: ignore[attr-defined]
               Post.created_at < end)
    )
    return [(row[0], row[1], row[2], row[3]) for row in session.execute(statement)]


def _unalerted_flagged_posts(session: Session, school_id: int, week: Week
                             ) -> list[tuple[Post, Classification, int | None]]:
    """Posts new this week (created or found) whose latest classification is flagged and that were
    not mailed at once: no alert for them in the outbox, or only alerts that failed for good."""
    latest = _latest_classification_ids()
    alerted = (select(Outbox.id).where(Outbox.kind == "alert", Outbox.post_id == Post.id,
                                       Outbox.failed_at.is_(None))  # type: ignore[union-attr]
               .exists())
    in_week = or_(and_(Post.created_at >= week.start_utc, Post.created_at < week.end_utc),
                  and_(Post.fetched_at >= week.start_utc, Post.fetched_at < week.end_utc))
    flagged = [s for s in SEVERITIES if s != "none"]
    case_of = (select(func.min(CasePost.case_id)).where(CasePost.post_id == Post.id)
               .correlate(Post).scalar_subquery())
    statement = (
        select(Post, Classification, case_of)
        .join(latest, latest.c.post_id == Post.id)
        .join(Classification, Classification.id == latest.c.cid)
        .where(Post.school_id == school_id, in_week,
               Classification.severity.in_(flagged), ~alerted)  # type: ignore[attr-defined]
        .order_by(Post.created_at, Post.id)
    )
    return [(row[0], row[1], row[2]) for row in session.execute(statement)]


def _complaint(case: Case, now: datetime, tz: ZoneInfo) -> tuple[str | None, int | None, str | None, bool]:
    """(deadline as text, days left, note, warning) for the 3-month complaint period, if it applies."""
    if not set(case.categories) & set(COMPLAINT_OFFENCES):
        return None, None, None, False
    deadline = case.deadline or complaint_deadline(case.learned_at, list(case.categories))
    if deadline is None:
        return None, None, None, False
    shown = format_date_nl(deadline, tz)
    if case.status == "reported":
        note = "aangifte gedaan"
        if case.reported_at is not None:
            note += f" op {format_date_nl(case.reported_at, tz)}"
        if case.police_reference:
            note += f" (kenmerk {case.police_reference})"
        return shown, None, note, False
    days = (deadline.astimezone(tz).date() - now.astimezone(tz).date()).days
    if now >= deadline:
        return shown, min(days, 0), f"de termijn om aangifte te doen is verstreken (op {shown})", True
    if days == 0:
        note = f"vandaag ({shown}) is de laatste dag om aangifte te doen"
    elif days == 1:
        note = f"nog 1 dag om aangifte te doen (tot {shown})"
    else:
        note = f"nog {days} dagen om aangifte te doen (tot {shown})"
    return shown, days, note, days < WARN_DAYS


def _case_line(case: Case, posts: int, base: str, now: datetime, tz: ZoneInfo) -> CaseLine:
    deadline, days, note, warning = _complaint(case, now, tz)
    categories = [(CATEGORY_NAMES_NL.get(c, c), ARTICLES.get(c, "")) for c in case.categories]
    return CaseLine(
        id=case.id,  # type: ignore[arg-type]
        status=case.status, status_nl=STATUS_NL.get(case.status, case.status),
        severity=case.severity, severity_nl=SEVERITY_NL.get(case.severity, case.severity),
        categories=categories, next_step=NEXT_STEP_NL.get(case.status, "-"),
        opened=format_datetime_nl(case.opened_at, tz), url=f"{base}/cases/{case.id}", posts=posts,
        deadline=deadline, days_left=days, complaint_note=note, warning=warning,
    )


def _case_sort_key(line: CaseLine) -> tuple[int, int, int]:
    rank = SEVERITIES.index(line.severity) if line.severity in SEVERITIES else 0
    days = line.days_left if line.days_left is not None else 10**6
    return (-rank, days, line.id)


def _counts(rows: list[tuple[int, str, datetime, str | None]]) -> Counts:
    sentiments: Counter[str] = Counter()
    platforms: Counter[str] = Counter()
    for _school, platform, _created, sentiment in rows:
        sentiments[sentiment if sentiment in SENTIMENT_NL else "unrated"] += 1
        platforms[platform] += 1
    return Counts(total=len(rows), by_sentiment={k: sentiments.get(k, 0) for k in SENTIMENT_KEYS},
                  by_platform=dict(platforms))


# --- building --------------------------------------------------------------------------------

def build_digest(session: Session, settings: Settings, *, now: datetime | None = None) -> Digest:
    """The digest of the last complete ISO week before `now` (default: the current time)."""
    now = now or utcnow()
    tz = ZoneInfo(settings.schedule.timezone)
    week = digest_week(now, tz)
    previous = week.previous()
    weeks = [week.previous(n) for n in range(CHART_WEEKS - 1, -1, -1)]  # oldest first
    boundaries = [w.start_utc for w in weeks] + [week.end_utc]
    base = _dashboard_base(settings)

    rows_by_name = {s.name: s for s in session.execute(select(School)).scalars()}
    school_ids = [rows_by_name[s.name].id for s in settings.schools if s.name in rows_by_name]
    mentions = _mentions(session, school_ids, weeks[0].start_utc, week.end_utc)  # type: ignore[arg-type]

    schools: list[SchoolWeek] = []
    for configured in settings.schools:
        row = rows_by_name.get(configured.name)
        school_id = row.id if row is not None else None
        own = [m for m in mentions if m[0] == school_id]
        buckets: list[list[tuple[int, str, datetime, str | None]]] = [[] for _ in weeks]
        for mention in own:
            index = bisect.bisect_right(boundaries, mention[2]) - 1
            if 0 <= index < len(weeks):
                buckets[index].append(mention)
        this_counts, last_counts = _counts(buckets[-1]), _counts(buckets[-2])
        sentiment_rows = [Row(SENTIMENT_NL[k], this_counts.by_sentiment[k], last_counts.by_sentiment[k])
                          for k in SENTIMENT_KEYS]
        platforms = sorted(set(this_counts.by_platform) | set(last_counts.by_platform),
                           key=lambda p: (-this_counts.by_platform.get(p, 0),
                                          -last_counts.by_platform.get(p, 0), platform_name(p)))
        platform_rows = [Row(platform_name(p), this_counts.by_platform.get(p, 0),
                             last_counts.by_platform.get(p, 0)) for p in platforms]
        weekly = [_counts(bucket).by_sentiment for bucket in buckets]

        new_cases: list[CaseLine] = []
        open_cases: list[CaseLine] = []
        negative_posts: list[PostLine] = []
        more = 0
        if school_id is not None:
            post_counts = dict(session.execute(
                select(CasePost.case_id, func.count()).join(Case, Case.id == CasePost.case_id)
                .where(Case.school_id == school_id).group_by(CasePost.case_id)).all())
            cases = session.execute(
                select(Case).where(Case.school_id == school_id, or_(
                    Case.status.notin_(CLOSED_STATUSES),  # type: ignore[attr-defined]
                    and_(Case.opened_at >= week.start_utc, Case.opened_at < week.end_utc)))
                .order_by(Case.id)).scalars().all()
            for case in cases:
                line = _case_line(case, int(post_counts.get(case.id, 0)), base, now, tz)
                if week.start_utc <= case.opened_at < week.end_utc:
                    new_cases.append(line)
                else:
                    open_cases.append(line)
            new_cases.sort(key=_case_sort_key)
            open_cases.sort(key=_case_sort_key)
            flagged = _unalerted_flagged_posts(session, school_id, week)
            more = max(0, len(flagged) - MAX_LISTED_POSTS)
            for post, classification, case_id in flagged[:MAX_LISTED_POSTS]:
                negative_posts.append(PostLine(
                    id=post.id,  # type: ignore[arg-type]
                    platform=platform_name(post.platform),
                    author=post.author_name or post.author_handle or "onbekend",
                    when=format_datetime_nl(post.created_at, tz), excerpt=_excerpt(post.text),
                    url=_safe_url(post.url),
                    severity_nl=SEVERITY_NL.get(classification.severity, classification.severity),
                    case_url=f"{base}/cases/{case_id}" if case_id is not None else None))

        schools.append(SchoolWeek(
            name=configured.name, this_week=this_counts, last_week=last_counts,
            sentiment_rows=sentiment_rows, platform_rows=platform_rows, weekly=weekly,
            weekly_labels=[f"wk {w.iso_week}" for w in weeks], new_cases=new_cases,
            open_cases=open_cases, negative_posts=negative_posts, negative_more=more))

    chart_png = render_weekly_chart([
        ChartSeries(title=f"{s.name}: vermeldingen per week", week_labels=s.weekly_labels,
                    counts={k: [w[k] for w in s.weekly] for k in SENTIMENT_KEYS})
        for s in schools])
    subject = f"Schoolwacht weekoverzicht {week.label}"
    context = {
        "subject": subject, "week": week, "week_label": week.label, "schools": schools,
        "previous_label": previous.label, "dashboard": base, "chart_weeks": CHART_WEEKS,
        "generated": format_datetime_nl(now, tz), "warn_days": WARN_DAYS,
        "quiet": all(s.this_week.total == 0 and not s.new_cases and not s.open_cases for s in schools),
    }
    html = _TEMPLATES.get_template("digest.html")
    data_uri = "data:image/png;base64," + base64.b64encode(chart_png).decode("ascii")
    return Digest(
        subject=subject,
        text=_TEMPLATES.get_template("digest.txt").render(**context),
        html_mail=html.render(**context, chart_src=f"cid:{CHART_CID}"),
        html_file=html.render(**context, chart_src=data_uri),
        chart_png=chart_png, week_label=week.label, iso_year=week.iso_year, iso_week=week.iso_week,
        week_start=week.start, week_end=week.end, schools=schools,
    )


def digest_dedup_key(iso_year: int, iso_week: int, recipient: str) -> str:
    return f"digest:{iso_year}-W{iso_week:02d}:{recipient.lower()}"


def queue_digest(session: Session, settings: Settings, *, now: datetime | None = None,
                 digest: Digest | None = None) -> int:
    """Queue the digest for every director (`[mail] director`); returns how many mails were new.

    Keyed by ISO week and recipient, so queueing the same week again (a restart, a second
    scheduler, `schoolwacht digest --send` run twice) adds nothing.
    """
    from store.outbox import enqueue

    recipients = list(dict.fromkeys(r.strip() for r in settings.mail.director if r.strip()))
    if not recipients:
        log.warning("weekly digest not queued: no director address in [mail] director")
        return 0
    digest = digest or build_digest(session, settings, now=now)
    queued = 0
    for recipient in recipients:
        queued += bool(enqueue(
            session, dedup_key=digest_dedup_key(digest.iso_year, digest.iso_week, recipient),
            kind="digest", recipient=recipient, subject=digest.subject, body_text=digest.text,
            body_html=digest.html_mail, attachments=[digest.attachment()]))
    log.info("weekly digest %s-W%02d: %d of %d mails queued", digest.iso_year, digest.iso_week,
             queued, len(recipients))
    return queued


__all__ = ["CHART_CID", "NEXT_STEP_NL", "STATUS_NL", "CaseLine", "Counts", "Digest", "PostLine",
           "SchoolWeek", "Week", "build_digest", "digest_dedup_key", "digest_week", "format_date_nl",
           "format_datetime_nl", "queue_digest", "week_starting"]
