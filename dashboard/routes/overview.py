"""The overview page (`/`): per school this week's mentions and flagged posts, and what needs doing.

`/chart.png` is the 12-week chart (alerts/chart.py), rendered at most once a minute per process
and served from memory in between. Staff see only the numbers of cases assigned to them.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session

from alerts.chart import ChartSeries, render_weekly_chart
from alerts.digest import NEXT_STEP_NL, SEVERITY_NL, STATUS_NL, Week, format_date_nl, week_starting
from dashboard.app import DB, render, viewer
from dashboard.auth import Viewer
from dashboard.cache import VersionedCache
from store import overview as queries
from store.config import Settings
from store.types import utcnow

router = APIRouter()

CHART_WEEKS = 12
CHART_TTL_SECONDS = 60
_chart_lock = threading.Lock()


def current_week(now: datetime, zone: str) -> Week:
    """The ISO week (Monday 00:00 local time onwards) that `now` falls in."""
    tz = ZoneInfo(zone)
    local = now.astimezone(tz).date()
    return week_starting(local - timedelta(days=local.weekday()), tz)


@dataclass(frozen=True)
class SchoolNumbers:
    name: str
    mentions: int
    mentions_last_week: int
    flagged: int
    flagged_last_week: int
    open_by_status: list[tuple[str, str, int]]  # (status, Dutch name, count) in workflow order
    open_total: int

    @staticmethod
    def difference(now: int, before: int) -> str:
        delta = now - before
        return f"+{delta}" if delta > 0 else ("±0" if delta == 0 else str(delta))


def _school_names(settings: Settings, ids: dict[str, int]) -> list[tuple[str, int]]:
    """Configured schools first (in config order), then any others still in the database."""
    ordered = [(s.name, ids[s.name]) for s in settings.schools if s.name in ids]
    seen = {name for name, _ in ordered}
    return ordered + sorted((name, i) for name, i in ids.items() if name not in seen)


@dataclass(frozen=True)
class Snapshot:
    """What the overview shows, computed at one moment for one audience (see `_snapshot`)."""

    schools: list[SchoolNumbers]
    stale: list[queries.DueCase]
    stale_total: int
    deadlines: list[queries.DueCase]
    deadlines_total: int
    days_left: dict[int, int]
    school_of: dict[int, str]


def _snapshot(session: Session, settings: Settings, now: datetime, own: int | None) -> Snapshot:
    tz = ZoneInfo(settings.schedule.timezone)
    week = current_week(now, settings.schedule.timezone)
    last = week.previous()
    schools = _school_names(settings, queries.school_ids_by_name(session))
    counts = queries.weekly_counts(session, school_ids=[i for _, i in schools],
                                   boundaries=[last.start_utc, week.start_utc, week.end_utc])
    open_counts = queries.open_cases_by_status(session, assignee_id=own)
    numbers = []
    for name, school_id in schools:
        previous, this = counts[school_id]
        by_status = open_counts.get(school_id, {})
        ordered = [(s, STATUS_NL.get(s, s), by_status[s]) for s in STATUS_NL if by_status.get(s)]
        ordered += [(s, s, n) for s, n in sorted(by_status.items()) if s not in STATUS_NL]
        numbers.append(SchoolNumbers(name=name, mentions=this.total, mentions_last_week=previous.total,
                                     flagged=this.flagged, flagged_last_week=previous.flagged,
                                     open_by_status=ordered, open_total=sum(by_status.values())))
    stale, stale_total = queries.stale_cases(session, now=now, assignee_id=own)
    deadlines, deadlines_total = queries.complaint_deadlines_due(session, now=now, assignee_id=own)
    days_left = {c.id: (c.deadline.astimezone(tz).date() - now.astimezone(tz).date()).days
                 for c in deadlines if c.deadline is not None}
    return Snapshot(schools=numbers, stale=stale, stale_total=stale_total, deadlines=deadlines,
                    deadlines_total=deadlines_total, days_left=days_left,
                    school_of={i: name for name, i in schools})


@router.get("/", response_class=HTMLResponse)
def overview(request: Request, who: Viewer = Depends(viewer), session: Session = DB) -> HTMLResponse:
    settings: Settings = request.app.state.settings
    now = utcnow()
    tz = ZoneInfo(settings.schedule.timezone)
    week = current_week(now, settings.schedule.timezone)
    own = who.id if who.role == "staff" else None
    # Keyed by the minute as well: "this week" and the overdue lists move with the clock.
    key = ("overview", own, int(now.timestamp() // 60))
    cache: VersionedCache = request.app.state.page_cache
    snap = cache.get(key, queries.data_version(session), lambda: _snapshot(session, settings, now, own))
    numbers = snap.schools
    errors = queries.sources_with_errors(session) if who.can("admin", "director") else []
    alt = "Grafiek van de vermeldingen per week over de laatste 12 weken, per school, naar sentiment. " + " ".join(
        f"{n.name}: deze week {n.mentions} vermeldingen, waarvan {n.flagged} gemarkeerd." for n in numbers)
    return render(request, "overview.html", {
        "title": "Overzicht", "schools": numbers, "week_start": format_date_nl(week.start, tz),
        "week_number": week.iso_week, "stale": snap.stale, "stale_total": snap.stale_total,
        "deadlines": snap.deadlines, "deadlines_total": snap.deadlines_total, "days_left": snap.days_left,
        "school_of": snap.school_of, "many_schools": len(numbers) > 1, "source_errors": errors,
        "own_cases_only": own is not None, "STATUS_NL": STATUS_NL, "NEXT_STEP_NL": NEXT_STEP_NL,
        "SEVERITY_NL": SEVERITY_NL, "stale_days": queries.STALE_AFTER.days, "warn_days": queries.DEADLINE_WARNING.days,
        "chart_alt": alt,
    })


def chart_png(session: Session, settings: Settings, now: datetime) -> bytes:
    """The 12-week chart: one panel per school, the current (incomplete) week last."""
    week = current_week(now, settings.schedule.timezone)
    weeks = [week.previous(n) for n in range(CHART_WEEKS - 1, -1, -1)]
    schools = _school_names(settings, queries.school_ids_by_name(session))
    counts = queries.weekly_counts(session, school_ids=[i for _, i in schools],
                                   boundaries=[w.start_utc for w in weeks] + [week.end_utc])
    labels = [f"wk {w.iso_week}" for w in weeks]
    labels[-1] += "*"
    panels = [ChartSeries(title=f"{name}: vermeldingen per week (* = deze week, tot nu)", week_labels=labels,
                          counts={k: [c.by_sentiment[k] for c in counts[school_id]] for k in queries.SENTIMENT_KEYS})
              for name, school_id in schools]
    return render_weekly_chart(panels)


@router.get("/chart.png")
def chart(request: Request, who: Viewer = Depends(viewer), session: Session = DB) -> Response:
    state = request.app.state
    minute = int(time.time() // CHART_TTL_SECONDS)
    with _chart_lock:  # one render a minute, however many people open the overview at once
        cached: tuple[int, bytes] | None = getattr(state, "overview_chart", None)
        if cached is None or cached[0] != minute:
            cached = (minute, chart_png(session, state.settings, utcnow()))
            state.overview_chart = cached
    return Response(cached[1], media_type="image/png",
                    headers={"Cache-Control": f"private, max-age={CHART_TTL_SECONDS}"})
