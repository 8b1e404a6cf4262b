"""The rule-4 case workflow (DESIGN.md, Case workflow): allowed transitions, actions, case queries.

    new → triaged → addressed → removal_requested → removed → corrected → closed

Side exits: `dismissed` (false alarm; every post gets a `dismissed` Feedback row, so it feeds back
as training data) and `reported` (aangifte: date and police reference) from any open status;
`closed` from any status. A reported case may still be recorded as `removed`, as the daily
re-check does (`crawlers.recheck`). Every action adds a `CaseEvent` (the timeline) and moves
`Case.updated_at`; the caller adds the audit entry in the same transaction.

A refused action raises `InputError` with a Dutch message and changes nothing.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from sqlalchemy import and_, bindparam, exists, func, or_, select
from sqlalchemy import case as sql_case
from sqlalchemy.engine import Engine
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session

from classifier.labels import COMPLAINT_OFFENCES
from schoolwacht.errors import InputError
from store.config import Settings
from store.db import session_scope
from store.models import Case, CaseEvent, CasePost, Classification, Post, School, Source, User
from store.types import utcnow

FLOW = ("new", "triaged", "addressed", "removal_requested", "removed", "corrected", "closed")
STATUSES = (*FLOW, "dismissed", "reported")
DONE = ("closed", "dismissed")
OPEN = tuple(s for s in STATUSES if s not in DONE)
# Days a next step may wait before the case counts as overdue (`reported` waits for the police).
OVERDUE_DAYS = {"new": 2, "triaged": 3, "addressed": 7, "removal_requested": 7, "removed": 7, "corrected": 3}
WARN_DAYS = 14  # complaint period: warn when fewer days than this are left
NOTE_LIMIT = 5000
REFERENCE_LIMIT = 128
URL_LIMIT = 2000
PER_PAGE = 50
ASSIGNABLE_ROLES = ("staff", "director")
# Target statuses that need a note: what was said, why it was removed by hand, why a false alarm.
NOTE_REQUIRED = {
    "addressed": "Beschrijf kort hoe de schrijver is aangesproken.",
    "removed": "Beschrijf hoe is vastgesteld dat het bericht verwijderd is.",
    "dismissed": "Geef aan waarom dit een vals alarm is.",
}


# -- transitions ----------------------------------------------------------------------------------

def allowed_targets(status: str) -> list[str]:
    """The statuses a case in `status` may move to, in the order the page offers them."""
    targets: list[str] = []
    if status in FLOW[:-1]:
        targets.append(FLOW[FLOW.index(status) + 1])
    if status == "reported":
        targets.append("removed")
    if status in OPEN:
        targets += [s for s in ("reported", "dismissed") if s != status]
    if status != "closed" and "closed" not in targets:
        targets.append("closed")
    return targets


@dataclass(frozen=True)
class ActionInput:
    """The form fields of a status change, as typed (validated by `change_status`)."""

    note: str = ""
    url: str = ""
    reported_on: str = ""
    reference: str = ""


def is_web_url(url: str | None) -> bool:
    """Only http(s) links are ever shown or stored as links (no javascript:, data:, file:)."""
    if not url or len(url) > URL_LIMIT or any(c.isspace() for c in url):
        return False
    parts = urlsplit(url)
    return parts.scheme.lower() in ("http", "https") and bool(parts.hostname)


def _clean_note(note: str) -> str:
    note = note.strip()
    if len(note) > NOTE_LIMIT:
        raise InputError(f"De notitie is te lang (hoogstens {NOTE_LIMIT} tekens).")
    return note


def _report_date(value: str, today: date) -> date:
    try:
        day = date.fromisoformat(value.strip())
    except ValueError:
        raise InputError("Vul de datum van de aangifte in (jjjj-mm-dd).") from None
    if day > today:
        raise InputError("De datum van de aangifte ligt in de toekomst.")
    if day.year < 2000:
        raise InputError("De datum van de aangifte is niet geldig.")
    return day


def _event(session: Session, case: Case, *, actor: str, actor_id: int | None, action: str, note: str,
           data: dict[str, Any], now: datetime) -> CaseEvent:
    row = CaseEvent(case_id=case.id, at=now, actor=actor[:320], actor_id=actor_id, action=action,  # type: ignore[arg-type]
                    note=note, data=data)
    case.updated_at = now
    session.add(case)
    session.add(row)
    session.flush()
    return row


def change_status(session: Session, case: Case, *, to: str, form: ActionInput, actor: str, actor_id: int | None,
                  zone: str = "Europe/Amsterdam", now: datetime | None = None) -> CaseEvent:
    """Move `case` to `to` (an allowed target), with the fields that target needs."""
    from store.feedback import add_feedback  # the review queue's verdicts: one place for Feedback rows

    now = now or utcnow()
    if to not in STATUSES:
        raise InputError("Onbekende status.")
    if to not in allowed_targets(case.status):
        raise InputError("Deze stap is vanuit de huidige status niet toegestaan.")
    note = _clean_note(form.note)
    if to in NOTE_REQUIRED and not note:
        raise InputError(NOTE_REQUIRED[to])
    data: dict[str, Any] = {"from": case.status, "to": to}
    if to == "corrected":
        url = form.url.strip()
        if not is_web_url(url):
            raise InputError("Vul de link naar de rectificatie in (een http- of https-adres).")
        data["url"] = url
    if to == "reported":
        day = _report_date(form.reported_on, now.astimezone(ZoneInfo(zone)).date())
        reference = " ".join(form.reference.split())
        if not reference:
            raise InputError("Vul het kenmerk (registratienummer) van de aangifte in.")
        if len(reference) > REFERENCE_LIMIT or not reference.isprintable():
            raise InputError(f"Het kenmerk is ongeldig (hoogstens {REFERENCE_LIMIT} tekens).")
        # Noon local time: the day stays the same day whatever zone shows it.
        case.reported_at = datetime.combine(day, time(12), ZoneInfo(zone)).astimezone(UTC)
        case.police_reference = reference
        data.update(reported_on=day.isoformat(), reference=reference)
    if to in DONE:
        case.closed_at = now
    if to == "dismissed":
        for post_id, classification in _posts_with_classification(session, case.id):  # type: ignore[arg-type]
            add_feedback(session, post_id=post_id, classification=classification, user_id=actor_id,
                         verdict="dismissed", note=f"dossier {case.id}: {note}")
    case.status = to
    return _event(session, case, actor=actor, actor_id=actor_id, action="status", note=note, data=data, now=now)


def assign(session: Session, case: Case, *, assignee_id: int | None, actor: str, actor_id: int | None,
           now: datetime | None = None) -> CaseEvent:
    """Give the case to a staff member or director (None: nobody)."""
    user = None
    if assignee_id is not None:
        user = session.get(User, assignee_id)
        if user is None or not user.active or user.role not in ASSIGNABLE_ROLES:
            raise InputError("Kies een actieve medewerker of directeur.")
    if assignee_id == case.assignee_id:
        raise InputError("Het dossier is al zo toegewezen.")
    data = {"from": case.assignee_id, "to": assignee_id}
    case.assignee_id = assignee_id
    note = f"Toegewezen aan {user.name or user.email}" if user is not None else "Toewijzing opgeheven"
    return _event(session, case, actor=actor, actor_id=actor_id, action="assigned", note=note, data=data,
                  now=now or utcnow())


def add_note(session: Session, case: Case, *, note: str, actor: str, actor_id: int | None,
             now: datetime | None = None) -> CaseEvent:
    note = _clean_note(note)
    if not note:
        raise InputError("De notitie is leeg.")
    return _event(session, case, actor=actor, actor_id=actor_id, action="note", note=note, data={},
                  now=now or utcnow())


# -- the complaint period -------------------------------------------------------------------------

@dataclass(frozen=True)
class Deadline:
    """The 3-month complaint period of a klachtdelict (art. 66 Sr)."""

    at: datetime
    days_left: int
    passed: bool
    warning: bool


def deadline_of(case: Case, *, now: datetime, zone: str = "Europe/Amsterdam") -> Deadline | None:
    if case.deadline is None or not set(case.categories) & set(COMPLAINT_OFFENCES):
        return None
    tz = ZoneInfo(zone)
    days = (case.deadline.astimezone(tz).date() - now.astimezone(tz).date()).days
    passed = now >= case.deadline
    warning = case.status not in (*DONE, "reported") and (passed or days < WARN_DAYS)
    return Deadline(at=case.deadline, days_left=days, passed=passed, warning=warning)


def overdue_clause(now: datetime) -> ColumnElement[bool]:
    """Open cases whose next step waits too long, or whose complaint period ends within WARN_DAYS."""
    late = [and_(Case.status == status, Case.updated_at < now - timedelta(days=days))  # type: ignore[arg-type,operator]
            for status, days in OVERDUE_DAYS.items()]
    closing = and_(Case.status.in_(OVERDUE_DAYS), Case.deadline.is_not(None),  # type: ignore[attr-defined,union-attr]
                   Case.deadline < now + timedelta(days=WARN_DAYS))  # type: ignore[operator]
    return or_(*late, closing)


def is_overdue(case: Case, *, now: datetime) -> bool:
    days = OVERDUE_DAYS.get(case.status)
    if days is None:
        return False
    return case.updated_at < now - timedelta(days=days) or (
        case.deadline is not None and case.deadline < now + timedelta(days=WARN_DAYS))


# -- queries --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class CaseQuery:
    status: str = "open"  # "open", "all" or one status
    severity: str = ""
    school_id: int | None = None
    assignee_id: int | None = None
    unassigned: bool = False
    text: str = ""
    overdue: bool = False


@dataclass(frozen=True)
class CaseRow:
    case: Case
    posts: int
    school: str
    assignee: str | None


@dataclass(frozen=True)
class CasePage:
    rows: list[CaseRow]
    total: int
    page: int
    pages: int


def _like(text: str) -> str:
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _filters(query: CaseQuery, now: datetime) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if query.status == "open":
        where.append(Case.status.in_(OPEN))  # type: ignore[attr-defined]
    elif query.status in STATUSES:
        where.append(Case.status == query.status)  # type: ignore[arg-type]
    if query.severity:
        where.append(Case.severity == query.severity)  # type: ignore[arg-type]
    if query.school_id is not None:
        where.append(Case.school_id == query.school_id)  # type: ignore[arg-type]
    if query.assignee_id is not None:
        where.append(Case.assignee_id == query.assignee_id)  # type: ignore[arg-type]
    elif query.unassigned:
        where.append(Case.assignee_id.is_(None))  # type: ignore[union-attr]
    text = query.text.strip()
    if text:
        pattern = _like(text)
        found = (exists().where(CasePost.case_id == Case.id, CasePost.post_id == Post.id)
                 .where(or_(func.lower(Post.text).like(pattern, escape="\\"),
                            func.lower(func.coalesce(Post.author_handle, "")).like(pattern, escape="\\"),
                            func.lower(func.coalesce(Post.author_name, "")).like(pattern, escape="\\"))))
        number = text.removeprefix("#")
        where.append(or_(found, Case.id == int(number)) if number.isdigit() and len(number) < 10 else found)
    if query.overdue:
        where.append(overdue_clause(now))
    return where


def find_cases(session: Session, *, query: CaseQuery, now: datetime | None = None, page: int = 1,
               per_page: int = PER_PAGE) -> CasePage:
    """Cases matching `query`, most severe first, then the most recently updated."""
    where = _filters(query, now or utcnow())
    total = int(session.execute(select(func.count()).select_from(Case).where(*where)).scalar_one())
    pages = max(1, math.ceil(total / per_page))
    page = min(max(1, page), pages)
    rank = sql_case((Case.severity == "urgent", 3), (Case.severity == "criminal", 2),  # type: ignore[arg-type]
                    (Case.severity == "negative", 1), else_=0)
    posts = (select(func.count()).where(CasePost.case_id == Case.id).correlate(Case)  # type: ignore[arg-type]
             .scalar_subquery())
    statement = (select(Case, posts, School.name, User.name, User.email)
                 .join(School, School.id == Case.school_id)
                 .outerjoin(User, User.id == Case.assignee_id)
                 .where(*where)
                 .order_by(rank.desc(), Case.updated_at.desc(), Case.id.desc())  # type: ignore[attr-defined,union-attr]
                 .offset((page - 1) * per_page).limit(per_page))
    rows = [CaseRow(case=c, posts=int(n or 0), school=school, assignee=(name or email) if email else None)
            for c, n, school, name, email in session.execute(statement)]
    return CasePage(rows=rows, total=total, page=page, pages=pages)


# The case page's statements are built once: it is the dashboard's busiest page, and on SQLite
# building a statement (and its cache key) costs more than running it.
_CASE = select(Case).where(Case.id == bindparam("case_id"))
_LATEST_CLASSIFICATION = (select(func.max(Classification.id)).where(Classification.post_id == Post.id)
                          .correlate(Post).scalar_subquery())
_CASE_POSTS = (select(Post, Classification)
               .join(CasePost, CasePost.post_id == Post.id)  # type: ignore[arg-type]
               .outerjoin(Classification, Classification.id == _LATEST_CLASSIFICATION)  # type: ignore[arg-type]
               .where(CasePost.case_id == bindparam("case_id"))
               .order_by(Post.created_at, Post.id))
_CASE_EVENTS = (select(CaseEvent).where(CaseEvent.case_id == bindparam("case_id"))
                .order_by(CaseEvent.at, CaseEvent.id))
_ASSIGNABLE = (select(User.id, User.name, User.email, User.role)
               .where(User.role.in_(ASSIGNABLE_ROLES), User.active)  # type: ignore[attr-defined]
               .order_by(User.name, User.email))
_SCHOOL_NAME = select(School.name).where(School.id == bindparam("school_id"))


def visible_case(session: Session, *, case_id: int, viewer_id: int, assigned_only: bool) -> Case | None:
    """The case, or None when it does not exist or (staff) is not assigned to the viewer."""
    case = session.execute(_CASE, {"case_id": case_id}).scalar_one_or_none()
    if case is None or (assigned_only and case.assignee_id != viewer_id):
        return None
    return case


def _posts_with_classification(session: Session, case_id: int) -> list[tuple[int, Classification | None]]:
    return [(post.id, classification) for post, classification in case_posts(session, case_id=case_id)]  # type: ignore[misc]


def case_posts(session: Session, *, case_id: int) -> list[tuple[Post, Classification | None]]:
    """The posts of a case in time order, each with its latest classification."""
    return [(post, classification) for post, classification in session.execute(_CASE_POSTS, {"case_id": case_id})]


def case_events(session: Session, *, case_id: int) -> list[CaseEvent]:
    return list(session.execute(_CASE_EVENTS, {"case_id": case_id}).scalars())


@dataclass(frozen=True)
class UserChoice:
    """An account a case can be assigned to, as the assignment menus show it."""

    id: int
    name: str
    email: str
    role: str


def assignable_users(session: Session) -> list[UserChoice]:
    """Active staff and directors by name (plain columns: no ORM objects, no password hashes)."""
    return [UserChoice(*row) for row in session.connection().execute(_ASSIGNABLE)]


def school_name(session: Session, school_id: int) -> str:
    return session.connection().execute(_SCHOOL_NAME, {"school_id": school_id}).scalar() or ""  # no ORM layer


def school_names(session: Session) -> dict[int, str]:
    return {row[0]: row[1] for row in session.execute(select(School.id, School.name).order_by(School.name))}


# -- re-fetching the posts of one case ------------------------------------------------------------

@dataclass(frozen=True)
class PostCheck:
    post_id: int
    verdict: str  # removed | online | unknown | earlier (removed before this check)
    reason: str


@dataclass(frozen=True)
class CaseRecheck:
    checks: list[PostCheck] = field(default_factory=list)

    def count(self, verdict: str) -> int:
        return sum(1 for c in self.checks if c.verdict == verdict)

    def summary(self) -> str:
        gone = self.count("removed") + self.count("earlier")
        return (f"{len(self.checks)} bericht(en) gecontroleerd: {gone} niet meer online, "
                f"{self.count('online')} nog online, {self.count('unknown')} onbekend.")


def recheck_case(settings: Settings, engine: Engine, *, case_id: int, now: datetime | None = None) -> CaseRecheck:
    """Fetch every post of one case again, the way the daily re-check does (`crawlers.recheck`).

    Each removal is recorded by `record_removal` in its own transaction (post `removed_at`, a
    `removed_detected` event with the evidence, status `removed` once every post is gone), so call
    this outside any transaction that writes.
    """
    # crawlers depends on store: imported here, where the network is needed.
    from crawlers.recheck import Checker, Target, _source_conf, mastodon_local_id, record_removal

    checks: list[PostCheck] = []
    targets: list[Target] = []
    with session_scope(engine) as session:
        rows = session.execute(select(Post, Source).join(CasePost, CasePost.post_id == Post.id)
                               .join(Source, Source.id == Post.source_id)
                               .where(CasePost.case_id == case_id).order_by(Post.id)).all()
        for post, source in rows:
            if post.removed_at is not None:
                checks.append(PostCheck(post.id, "earlier", "al eerder als verwijderd vastgesteld"))
                continue
            target = Target(post_id=post.id, platform=post.platform, external_id=post.external_id, url=post.url,
                            source_name=source.name, kind=source.kind, conf=_source_conf(settings, source),
                            case_ids=[case_id])
            if source.kind == "mastodon":
                from store.posts import captures_of

                target.api_id = mastodon_local_id(target, captures_of(session, post_id=post.id), settings)
            targets.append(target)
    checker = Checker(settings)
    for target in targets:
        outcome = checker.check(target)
        if outcome is None:
            checks.append(PostCheck(target.post_id, "unknown", "geen adres of API-id om te controleren"))
            continue
        if outcome.verdict == "removed":
            record_removal(engine, target, outcome, at=now or utcnow(), zone=settings.schedule.timezone)
        checks.append(PostCheck(target.post_id, outcome.verdict, outcome.reason))
    return CaseRecheck(sorted(checks, key=lambda c: c.post_id))


def record_recheck(session: Session, case: Case, result: CaseRecheck, *, actor: str, actor_id: int | None,
                   now: datetime | None = None) -> CaseEvent:
    data = {"posts": [{"post_id": c.post_id, "verdict": c.verdict, "reason": c.reason} for c in result.checks]}
    return _event(session, case, actor=actor, actor_id=actor_id, action="recheck",
                  note=f"Opnieuw opgehaald: {result.summary()}", data=data, now=now or utcnow())


# -- the removal request (protocol rule 4) --------------------------------------------------------

_MONTHS = ("januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus", "september", "oktober",
           "november", "december")
_OFFENCE_NL = {"insult": "belediging (art. 266 Sr)", "defamation": "smaad of laster (art. 261/262 Sr)",
               "harassment": "belaging (art. 285b Sr)"}
EXCERPT = 280


def _long_date(moment: datetime, zone: str) -> str:
    day = moment.astimezone(ZoneInfo(zone))
    return f"{day.day} {_MONTHS[day.month - 1]} {day.year}"


def removal_message(case: Case, posts: Sequence[Post], *, school: str, sender: str,
                    platform_names: dict[str, str], zone: str = "Europe/Amsterdam") -> str:
    """A polite Dutch request to remove the posts, in the spirit of the school's protocol (rule 4)."""
    shown = [p for p in posts if p.removed_at is None] or list(posts)
    authors = sorted({p.author_name or p.author_handle for p in shown if p.author_name or p.author_handle})
    lines = [f"Beste {authors[0]}," if len(authors) == 1 else "Beste heer/mevrouw,", ""]
    several = len(shown) > 1
    lines.append(f"Wij zagen {'de volgende berichten' if several else 'het volgende bericht'} over {school}:")
    for post in shown:
        text = " ".join(post.text.split())
        excerpt = text[:EXCERPT] + ("…" if len(text) > EXCERPT else "")
        lines += ["", f"- op {platform_names.get(post.platform, post.platform)}, "
                      f"{_long_date(post.created_at, zone)}: \"{excerpt}\""]
        if is_web_url(post.url):
            lines.append(f"  {post.url}")
    lines += [
        "",
        "Wij begrijpen dat u zich ergens zorgen over maakt of ergens ontevreden over bent, en daar gaan wij "
        "graag met u over in gesprek. Social media zijn daarvoor niet de goede plek. In het protocol social "
        f"media van {school} is afgesproken dat medewerkers, ouders en leerlingen niet met elkaar in discussie "
        "gaan op social media, en dat een negatief bericht over personen of gebeurtenissen van de school wordt "
        "verwijderd en dat er een correctie op wordt geplaatst.",
        "",
        f"Wij vragen u daarom vriendelijk {'deze berichten' if several else 'dit bericht'} te verwijderen en een "
        "korte correctie te plaatsen. Wilt u ons laten weten wanneer dat is gebeurd? U kunt altijd contact met "
        "mij opnemen voor een gesprek.",
    ]
    offences = [_OFFENCE_NL[c] for c in case.categories if c in _OFFENCE_NL]
    if offences:
        lines += ["", f"Wij wijzen u er ook op dat de inhoud naar ons oordeel {' of '.join(offences)} in de zin "
                      "van het Wetboek van Strafrecht kan zijn. Volgens ons protocol kan de school in dat geval "
                      "aangifte doen bij de politie. Wij gaan ervan uit dat dit niet nodig zal zijn."]
    lines += ["", "Met vriendelijke groet,", "", sender, school]
    return "\n".join(lines)


__all__ = ["DONE", "FLOW", "OPEN", "OVERDUE_DAYS", "STATUSES", "WARN_DAYS", "ActionInput", "CasePage", "CaseQuery",
           "CaseRecheck", "CaseRow", "Deadline", "PostCheck", "UserChoice", "add_note", "allowed_targets", "assign",
           "assignable_users", "case_events", "case_posts", "change_status", "deadline_of", "find_cases",
           "is_overdue", "is_web_url", "overdue_clause", "recheck_case", "record_recheck", "removal_message",
           "school_names", "visible_case"]
