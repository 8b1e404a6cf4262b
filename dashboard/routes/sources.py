"""The sources page (`/sources`, admin): status of every source, switch it on or off, crawl it now.

Switching: `Source.enabled` changes at once and the choice is also kept in `Source.state`
(store.overview.set_source_enabled) with the config's `enabled` at that moment, so that the
config sync can keep the dashboard's choice until someone changes `enabled` in the config file.

Run now: the crawl runs as the scheduler runs it (crawlers.process.run_crawl_process: a child
process with a timeout) in a background thread, under the same lease `job:crawl:<name>` as the
scheduled crawl, so a crawl started here never overlaps the scheduled one.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session

from dashboard.app import DB, form_viewer, record, redirect, render, role
from dashboard.auth import Viewer
from schoolwacht.errors import NotFoundError
from store import leases
from store import overview as queries
from store.config import Settings
from store.models import Source
from store.sources import source_statuses

logger = logging.getLogger("schoolwacht.dashboard.sources")
router = APIRouter()
admin = role("admin")

KIND_NL = {"rss": "RSS/Atom", "mastodon": "Mastodon", "bluesky": "Bluesky", "reddit": "Reddit",
           "youtube": "YouTube", "web": "websites", "x": "X (Twitter)", "facebook_page": "Facebookpagina",
           "instagram": "Instagram", "manual": "handmatige meldingen"}


@dataclass(frozen=True)
class SourceRow:
    name: str
    kind: str
    kind_nl: str
    school: str
    enabled: bool
    status: str
    status_class: str
    last_run_at: datetime | None
    last_error: str | None
    posts: int
    next_run: str
    next_run_at: datetime | None
    in_config: bool
    running: bool

    @property
    def manual(self) -> bool:
        return self.kind == "manual"


def _running(request: Request) -> dict[str, threading.Thread]:
    state = request.app.state
    if not hasattr(state, "crawl_threads"):
        state.crawl_threads = {}
    threads: dict[str, threading.Thread] = state.crawl_threads
    for name in [n for n, t in threads.items() if not t.is_alive()]:
        del threads[name]
    return threads


def _next_run(value: str | None) -> tuple[str, datetime | None]:
    if value is None:
        return "–", None
    try:
        return "", datetime.fromisoformat(value)
    except ValueError:
        return value, None  # "gepauzeerd"


@router.get("/sources", response_class=HTMLResponse)
def sources_page(request: Request, who: Viewer = Depends(admin), session: Session = DB) -> HTMLResponse:
    from scheduler import next_runs

    settings: Settings = request.app.state.settings
    configured = {s.name for s in settings.sources}
    upcoming = next_runs(settings)
    running = _running(request)
    rows = []
    for s in source_statuses(session):
        is_running = s.name in running
        if s.kind == "manual":
            text, when = "gevuld door meldingen", None
        elif not s.enabled:
            text, when = "–", None
        else:
            text, when = _next_run(upcoming.get(f"crawl:{s.name}"))
            if not text and when is None:
                text = "–"
        if is_running:
            status, css = "bezig met ophalen", "src-running"
        elif s.kind != "manual" and not s.enabled:
            status, css = "uit", "src-off"
        elif s.last_error:
            status, css = "fout", "src-error"
        elif s.kind == "manual":
            status, css = "in orde", "src-ok"
        elif s.last_run_at is None:
            status, css = "nog niet gedraaid", "src-new"
        else:
            status, css = "in orde", "src-ok"
        rows.append(SourceRow(name=s.name, kind=s.kind, kind_nl=KIND_NL.get(s.kind, s.kind), school=s.school,
                              enabled=s.enabled, status=status, status_class=css, last_run_at=s.last_run_at,
                              last_error=s.last_error, posts=s.posts, next_run=text, next_run_at=when,
                              in_config=s.name in configured, running=is_running))
    return render(request, "sources.html", {"title": "Bronnen", "sources": rows,
                                            "scheduler_known": bool(upcoming)})


def _source_or_404(session: Session, name: str) -> Source:
    try:
        return queries.find_source(session, name)
    except NotFoundError:
        raise HTTPException(status_code=404) from None


@router.post("/sources/{name}/toggle")
def toggle(request: Request, name: str, who: Viewer = Depends(admin), _csrf: Viewer = Depends(form_viewer),
           session: Session = DB) -> Response:
    settings: Settings = request.app.state.settings
    source = _source_or_404(session, name)
    if source.kind == "manual":
        return redirect("/sources", "Handmatige meldingen komen altijd binnen; die bron zet u niet aan of uit.")
    configured = next((s for s in settings.sources if s.name == name), None)
    if configured is None and not source.enabled:
        return redirect("/sources", f"Bron {name} staat niet meer in het configuratiebestand en kan niet aan.")
    enabled = not source.enabled
    queries.set_source_enabled(session, name=name, enabled=enabled,
                               config_enabled=configured.enabled if configured else None, actor=who.email)
    record(session, who, "source_enabled" if enabled else "source_disabled", "source", name,
           config_enabled=configured.enabled if configured else None)
    return redirect("/sources", f"Bron {name} staat nu {'aan' if enabled else 'uit'}.")


def _crawl_in_background(settings: Settings, engine: object, name: str, holder: str) -> None:
    from crawlers.process import run_crawl_process

    error: str | None = None
    try:
        result = run_crawl_process(settings, name)
        logger.info("run now %s: exit %s: %s", name, result.returncode, result.output)
        if result.returncode != 0:
            error = f"exit {result.returncode}: {result.output}"[:2000]
    except Exception as exc:  # never let a thread die silently
        logger.exception("run now %s failed", name)
        error = f"{type(exc).__name__}: {exc}"[:2000]
    finally:
        leases.release(engine, f"job:crawl:{name}", holder=holder, error=error)  # type: ignore[arg-type]


@router.post("/sources/{name}/run")
def run_now(request: Request, name: str, who: Viewer = Depends(admin), _csrf: Viewer = Depends(form_viewer),
            session: Session = DB) -> Response:
    settings: Settings = request.app.state.settings
    source = _source_or_404(session, name)
    if source.kind == "manual":
        return redirect("/sources", "Handmatige meldingen worden niet opgehaald maar gemeld.")
    if not any(s.name == name for s in settings.sources):
        return redirect("/sources", f"Bron {name} staat niet meer in het configuratiebestand.")
    if settings.config_file is None:
        return redirect("/sources", "Ophalen kan alleen als het dashboard met een configuratiebestand draait.")
    running = _running(request)
    holder = f"{leases.HOLDER}:dashboard:{name}"
    seconds = settings.crawl.process_timeout_seconds + 60
    engine = request.app.state.engine
    session.commit()  # the lease is taken on another connection: hold no write lock here (SQLite)
    if name in running or not leases.acquire(engine, f"job:crawl:{name}", seconds, holder=holder):
        return redirect("/sources", f"Bron {name} wordt op dit moment al opgehaald.")
    thread = threading.Thread(target=_crawl_in_background, args=(settings, engine, name, holder),
                              name=f"crawl-now-{name}", daemon=True)
    running[name] = thread
    thread.start()
    record(session, who, "source_run_now", "source", name)
    return redirect("/sources", f"Ophalen van bron {name} is gestart. Vernieuw de pagina om de uitkomst te zien.")
