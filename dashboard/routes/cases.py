"""Cases (protocol rule 4): the list (`/cases`), the case page and its workflow actions.

Directors and admins see every case and act on it; staff see only the cases assigned to them
(any other id answers 404, so a case's existence does not leak) and may add notes to those.
Every case view and every action is an audit entry. The rules of the workflow live in
`store.workflow`; this module turns forms into calls and results into pages.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from markupsafe import Markup, escape
from sqlmodel import Session
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from alerts.digest import NEXT_STEP_NL, PLATFORM_NL, SEVERITY_NL, STATUS_NL
from classifier.labels import ARTICLES, CATEGORY_NAMES_NL
from dashboard.app import DB, form_viewer, page_session, record, record_view, redirect, render, viewer
from dashboard.auth import Forbidden, Viewer
from evidence.bundle import prepare_case, write_bundle
from schoolwacht.errors import InputError, StorageError
from store import workflow
from store.evidence import FLAGGED
from store.models import Case, CaseEvent, Classification, Post, User
from store.types import utcnow

router = APIRouter()
ACTORS = ("admin", "director")
EXPORTERS = ("director",)  # the evidence bundle for the police: the director's decision (protocol rule 4)
MAX_SPANS = 200
# The button / heading of each target status on the case page.
ACTION_NL = {
    "triaged": "Beoordeeld",
    "addressed": "Schrijver aangesproken",
    "removal_requested": "Verwijdering gevraagd",
    "removed": "Verwijderd (handmatig vastgelegd)",
    "corrected": "Rectificatie geplaatst",
    "closed": "Dossier sluiten",
    "dismissed": "Vals alarm",
    "reported": "Aangifte gedaan",
}
EVENT_NL = {
    "opened": "dossier geopend",
    "post_added": "bericht toegevoegd",
    "status": "status gewijzigd",
    "removed_detected": "verwijdering vastgesteld",
    "assigned": "toewijzing",
    "note": "notitie",
    "recheck": "opnieuw opgehaald",
    "evidence_capture": "bewijs vastgelegd",
    "evidence_export": "bewijsmap geëxporteerd",
}


def _zone(request: Request) -> str:
    return str(request.app.state.settings.schedule.timezone)


def _categories(categories: list[str]) -> list[tuple[str, str]]:
    return [(CATEGORY_NAMES_NL.get(c, c), ARTICLES.get(c, "")) for c in categories]


# -- the list -------------------------------------------------------------------------------------

@router.get("/cases", response_class=HTMLResponse)
def case_list(request: Request, status: str = "open", ernst: str = "", school: str = "", toegewezen: str = "",
              zoek: str = "", te_laat: str = "", pagina: str = "1", who: Viewer = Depends(viewer),
              session: Session = DB) -> HTMLResponse:
    staff = not who.can(*ACTORS)
    query = workflow.CaseQuery(
        status=status if status in ("open", "all", *workflow.STATUSES) else "open",
        severity=ernst if ernst in SEVERITY_NL else "",
        school_id=int(school) if school.isdigit() else None,
        assignee_id=who.id if staff or toegewezen == "mij" else (int(toegewezen) if toegewezen.isdigit() else None),
        unassigned=toegewezen == "geen",
        text=zoek[:200],
        overdue=bool(te_laat),
    )
    now = utcnow()
    page = workflow.find_cases(session, query=query, now=now,
                               page=int(pagina) if pagina.isascii() and pagina.isdigit() and len(pagina) < 7 else 1)
    zone = _zone(request)
    rows = [{
        "row": row,
        "status_nl": STATUS_NL.get(row.case.status, row.case.status),
        "severity_nl": SEVERITY_NL.get(row.case.severity, row.case.severity),
        "categories": _categories(row.case.categories),
        "next_step": NEXT_STEP_NL.get(row.case.status, "–"),
        "deadline": workflow.deadline_of(row.case, now=now, zone=zone),
        "overdue": workflow.is_overdue(row.case, now=now),
    } for row in page.rows]
    filters = {"status": query.status, "ernst": query.severity, "school": school if query.school_id else "",
               "toegewezen": toegewezen if not staff else "", "zoek": query.text,
               "te_laat": "1" if query.overdue else ""}
    kept = urlencode({k: v for k, v in filters.items() if v})
    return render(request, "cases.html", {
        "title": "Dossiers", "rows": rows, "page": page, "filters": filters, "staff": staff, "kept": kept,
        "statuses": [(s, STATUS_NL.get(s, s)) for s in workflow.STATUSES],
        "severities": [(s, SEVERITY_NL[s]) for s in ("urgent", "criminal", "negative")],
        "schools": workflow.school_names(session) if not staff else {},
        "users": [] if staff else workflow.assignable_users(session),
    })


# -- the case page --------------------------------------------------------------------------------

def _case(session: Session, who: Viewer, case_id: str) -> Case:
    """The case for this viewer; 404 for junk ids, missing cases and (staff) other people's cases alike."""
    if not (case_id.isascii() and case_id.isdigit()) or len(case_id) > 9:
        raise HTTPException(status_code=404)
    found = workflow.visible_case(session, case_id=int(case_id), viewer_id=who.id,
                                  assigned_only=not who.can(*ACTORS))
    if found is None:
        raise HTTPException(status_code=404)
    return found


def highlight(text: str, explanations: dict[str, Any] | None) -> Markup:
    """The post text, escaped, with the spans that explain a category inside <mark>."""
    marks: list[tuple[int, int, set[str]]] = []
    for category, spans in (explanations or {}).items():
        for span in spans if isinstance(spans, list) else []:
            if len(marks) >= MAX_SPANS or not isinstance(span, dict):
                continue
            start, end, snippet = span.get("start"), span.get("end"), span.get("text")
            if not (isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(text)
                    and (not isinstance(snippet, str) or text[start:end] == snippet)):
                # Offsets that do not fit the stored text: fall back to the span's own words.
                start = text.find(snippet) if isinstance(snippet, str) and snippet else -1
                if start < 0:
                    continue
                end = start + len(snippet)  # type: ignore[arg-type]
            marks.append((start, end, {CATEGORY_NAMES_NL.get(str(category), str(category))}))
    merged: list[tuple[int, int, set[str]]] = []
    for start, end, names in sorted(marks, key=lambda m: (m[0], m[1])):
        if merged and start < merged[-1][1]:
            last = merged[-1]
            merged[-1] = (last[0], max(last[1], end), last[2] | names)
        else:
            merged.append((start, end, names))
    out = Markup("")
    position = 0
    for start, end, names in merged:
        out += escape(text[position:start])
        out += Markup('<mark title="{}">{}</mark>').format(", ".join(sorted(names)), text[start:end])
        position = end
    return out + escape(text[position:])


@dataclass(frozen=True)
class PostView:
    post: Post
    platform: str
    author: str
    link: str | None
    categories: list[tuple[str, str]]
    text: Markup
    spans: list[tuple[str, str]]  # (category name, explaining words)


def _post_view(post: Post, classification: Classification | None) -> PostView:
    categories = list(classification.categories) if classification else []
    explanations = classification.explanations if classification else {}
    spans = [(CATEGORY_NAMES_NL.get(c, c), str(s.get("text", ""))) for c, found in (explanations or {}).items()
             if isinstance(found, list) for s in found[:20] if isinstance(s, dict) and s.get("text")]
    author = " ".join(x for x in (post.author_name, f"@{post.author_handle}" if post.author_handle else None) if x)
    return PostView(post=post, platform=PLATFORM_NL.get(post.platform, post.platform), author=author or "onbekend",
                    link=post.url if workflow.is_web_url(post.url) else None, categories=_categories(categories),
                    text=highlight(post.text, explanations), spans=spans)


@dataclass(frozen=True)
class EventView:
    event: CaseEvent
    what: str
    link: str | None


def _event_view(event: CaseEvent) -> EventView:
    data = event.data or {}
    what = EVENT_NL.get(event.action, event.action)
    if event.action == "status":
        before, after = str(data.get("from", "")), str(data.get("to", ""))
        what = f"status: {STATUS_NL.get(before, before)} → {STATUS_NL.get(after, after)}"
        if after == "reported":
            what += f" (aangifte op {data.get('reported_on', '?')}, kenmerk {data.get('reference', '?')})"
    link = data.get("url") if event.action in ("status", "removed_detected") else None
    if event.action == "removed_detected":
        link = data.get("post_url")
    return EventView(event=event, what=what, link=link if isinstance(link, str) and workflow.is_web_url(link) else None)


@router.get("/cases/{case_id}", response_class=HTMLResponse)
async def case_page(request: Request, case_id: str, fout: str = "") -> HTMLResponse:
    """The busiest page: login check, page and audit entry in one worker-thread hop."""
    return await run_in_threadpool(_case_page, request, case_id, fout)


def _case_page(request: Request, case_id: str, fout: str) -> HTMLResponse:
    with page_session(request) as (session, who):
        return _render_case_page(request, session, who, case_id, fout)


def _render_case_page(request: Request, session: Session, who: Viewer, case_id: str, fout: str) -> HTMLResponse:
    case = _case(session, who, case_id)
    zone = _zone(request)
    posts = workflow.case_posts(session, case_id=case.id)
    school_name = workflow.school_name(session, case.school_id)
    actor = who.can(*ACTORS)
    users = workflow.assignable_users(session) if actor else []
    assignee = next((u for u in users if u.id == case.assignee_id), None)
    if assignee is None and case.assignee_id:  # staff, or an account that was deactivated since
        assignee = session.get(User, case.assignee_id)
    message = mailto = None
    if actor and case.status in ("new", "triaged", "addressed", "removal_requested", "reported"):
        message = workflow.removal_message(case, [p for p, _ in posts], school=school_name,
                                           sender=who.name or who.email, platform_names=PLATFORM_NL, zone=zone)
        mailto = "mailto:?" + urlencode({"subject": f"Verzoek om een bericht over {school_name} te verwijderen",
                                         "body": message}, quote_via=quote)
    page = render(request, "case.html", {
        "title": f"Dossier {case.id}", "case": case, "school": school_name, "assignee": assignee, "error": fout[:300],
        "status_nl": STATUS_NL.get(case.status, case.status),
        "severity_nl": SEVERITY_NL.get(case.severity, case.severity),
        "categories": _categories(case.categories), "next_step": NEXT_STEP_NL.get(case.status, "–"),
        "deadline": workflow.deadline_of(case, now=utcnow(), zone=zone),
        "posts": [_post_view(p, c) for p, c in posts],
        "events": [_event_view(e) for e in workflow.case_events(session, case_id=case.id)],
        "actor": actor, "targets": [(t, ACTION_NL[t]) for t in workflow.allowed_targets(case.status)] if actor else [],
        "users": users,
        "can_recheck": actor and case.status in workflow.OPEN,
        "message": message, "mailto": mailto, "note_required": workflow.NOTE_REQUIRED,
        "can_export": who.can(*EXPORTERS) and case.severity in FLAGGED,
    })
    record_view(session, who, "case_view", "case", case.id)  # type: ignore[arg-type]
    return page


# -- actions --------------------------------------------------------------------------------------

def _back(case_id: int | None, *, notice: str = "", error: str = "") -> RedirectResponse:
    if error:
        return RedirectResponse(f"/cases/{case_id}?fout={quote(error)}#acties", status_code=303)
    return redirect(f"/cases/{case_id}", notice)


def _actor(who: Viewer) -> Viewer:
    if not who.can(*ACTORS):
        raise Forbidden
    return who


@router.post("/cases/{case_id}/status")
def change_status(request: Request, case_id: str, to: str = Form(""), note: str = Form(""), url: str = Form(""),
                  reported_on: str = Form(""), reference: str = Form(""), who: Viewer = Depends(form_viewer),
                  session: Session = DB) -> Response:
    _actor(who)
    case = _case(session, who, case_id)
    before = case.status
    form = workflow.ActionInput(note=note, url=url, reported_on=reported_on, reference=reference)
    try:
        event = workflow.change_status(session, case, to=to, form=form, actor=who.email, actor_id=who.id,
                                       zone=_zone(request))
    except InputError as exc:
        session.rollback()
        if to not in workflow.allowed_targets(before):
            return _back(case.id, error=f"Niet opgeslagen: een dossier met status '{STATUS_NL.get(before, before)}' "
                                        f"kan niet naar '{STATUS_NL.get(to, to)[:40]}'.")
        return _back(case.id, error=f"Niet opgeslagen: {exc}")
    detail: dict[str, Any] = {"from": before, "to": to, "event_id": event.id}
    detail.update({k: event.data[k] for k in ("url", "reported_on", "reference") if k in event.data})
    record(session, who, "case_status", "case", case.id, **detail)
    return _back(case.id, notice=f"Status gewijzigd: {STATUS_NL.get(to, to)}.")


@router.post("/cases/{case_id}/assign")
def assign(case_id: str, assignee: str = Form(""), who: Viewer = Depends(form_viewer),
           session: Session = DB) -> Response:
    _actor(who)
    case = _case(session, who, case_id)
    try:
        event = workflow.assign(session, case, assignee_id=int(assignee) if assignee.isdigit() else None,
                                actor=who.email, actor_id=who.id)
    except InputError as exc:
        session.rollback()
        return _back(case.id, error=f"Niet opgeslagen: {exc}")
    record(session, who, "case_assign", "case", case.id, assignee_id=case.assignee_id, event_id=event.id)
    return _back(case.id, notice=f"{event.note}.")


@router.post("/cases/{case_id}/note")
def add_note(case_id: str, note: str = Form(""), who: Viewer = Depends(form_viewer),
             session: Session = DB) -> Response:
    case = _case(session, who, case_id)  # staff: only their own cases (404 otherwise)
    try:
        event = workflow.add_note(session, case, note=note, actor=who.email, actor_id=who.id)
    except InputError as exc:
        session.rollback()
        return _back(case.id, error=f"Niet opgeslagen: {exc}")
    record(session, who, "case_note", "case", case.id, event_id=event.id)
    return _back(case.id, notice="Notitie toegevoegd.")


@router.post("/cases/{case_id}/recheck")
def recheck(request: Request, case_id: str, who: Viewer = Depends(form_viewer),
            session: Session = DB) -> Response:
    _actor(who)
    case = _case(session, who, case_id)
    if case.status not in workflow.OPEN:
        return _back(case.id, error="Niet opgeslagen: een gesloten dossier wordt niet meer gecontroleerd.")
    # The re-check records removals in transactions of its own: nothing of ours may hold a write lock.
    session.commit()
    result = workflow.recheck_case(request.app.state.settings, request.app.state.engine, case_id=case.id)
    session.refresh(case)
    event = workflow.record_recheck(session, case, result, actor=who.email, actor_id=who.id)
    record(session, who, "case_recheck", "case", case.id, event_id=event.id, removed=result.count("removed"),
           online=result.count("online"), unknown=result.count("unknown"))
    return _back(case.id, notice=f"Opnieuw opgehaald: {result.summary()}")


@router.post("/cases/{case_id}/evidence")
def export_evidence(request: Request, case_id: str, who: Viewer = Depends(form_viewer),
                    session: Session = DB) -> Response:
    """The evidence bundle (ZIP) of the case as a download; missing screenshots are made first."""
    if not who.can(*EXPORTERS):
        raise Forbidden
    case = _case(session, who, case_id)
    settings = request.app.state.settings
    # Screenshots are stored in transactions of their own: nothing of ours may hold a write lock.
    session.commit()
    name = f"bewijsmap-dossier-{case.id}-{utcnow():%Y%m%dT%H%M%SZ}.zip"
    target = settings.storage.dir / "exports" / f".{secrets.token_hex(8)}-{name}"
    try:
        prepare_case(settings, request.app.state.engine, case_id=case.id, actor=who.email)  # type: ignore[arg-type]
        write_bundle(session, settings, case_id=case.id, out=target, actor=who.email, actor_id=who.id)  # type: ignore[arg-type]
    except (InputError, StorageError) as exc:
        session.rollback()
        target.unlink(missing_ok=True)
        return _back(case.id, error=f"Geen bewijsmap gemaakt: {exc}")
    return FileResponse(target, media_type="application/zip", filename=name,
                        background=BackgroundTask(target.unlink, missing_ok=True))
