"""The manual report form (`/report`): a post someone saw where no spider can read.

The report is stored by `crawlers.manual.submit_report` (the same path as a crawled post: a
`Post` of the school's manual source with its raw capture and the screenshot), committed, and
classified at once with the classifier cached on `app.state`, so a flagged report opens or
joins a case just like a crawled post. Every field the user typed comes back with the Dutch
error next to it when something is wrong.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session

from alerts.digest import PLATFORM_NL, SEVERITY_NL
from crawlers.manual import (
    MAX_SCREENSHOT_BYTES,
    MAX_TEXT_CHARS,
    PLATFORMS,
    ManualReport,
    submit_report,
    validate_screenshot,
)
from dashboard.app import DB, form_viewer, record, redirect, render, viewer
from dashboard.auth import Viewer
from schoolwacht.errors import InputError, UploadError
from store import leases
from store import overview as queries
from store.config import Settings
from store.db import session_scope
from store.types import utcnow

logger = logging.getLogger("schoolwacht.dashboard.report")
router = APIRouter()

# Posts classified in the request at most; a larger backlog is left to the scheduler's job.
CLASSIFY_LIMIT = 500
# How long the request waits for the scheduler's classify job to finish before giving up.
CLASSIFY_WAIT_SECONDS = 10.0
# Distinct from the scheduler's holder even when both run in one process (`schoolwacht run`).
LEASE_HOLDER = f"{leases.HOLDER}:dashboard"
# The whole form: the screenshot plus room for the text (100,000 characters) and the other fields.
# A larger request is cut off with 413 while it streams in, before anything is parsed or spooled.
MAX_BODY_BYTES = MAX_SCREENSHOT_BYTES + 1024 * 1024
MAX_URL_CHARS = 2000
MAX_AUTHOR_CHARS = 512
PLATFORM_LABELS = {**{p: PLATFORM_NL.get(p, p) for p in PLATFORMS}, "linkedin": "LinkedIn",
                   "forum": "forum", "news_comment": "reactie onder een nieuwsbericht", "email": "e-mail",
                   "other": "anders"}
_classifier_lock = threading.Lock()


@dataclass
class FormState:
    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


def _form_page(request: Request, state: FormState, *, status_code: int = 200) -> HTMLResponse:
    settings: Settings = request.app.state.settings
    schools = [s.name for s in settings.schools]
    values = {"platform": "whatsapp", "school": schools[0] if schools else "", **state.values}
    return render(request, "report.html", {
        "title": "Bericht melden", "values": values, "errors": state.errors, "schools": schools,
        "platforms": [(p, PLATFORM_LABELS.get(p, p)) for p in PLATFORMS],
        "max_mb": MAX_SCREENSHOT_BYTES // (1024 * 1024), "max_text": MAX_TEXT_CHARS,
    }, status_code=status_code)


@router.get("/report", response_class=HTMLResponse)
def report_form(request: Request, who: Viewer = Depends(viewer)) -> HTMLResponse:
    return _form_page(request, FormState())


def screenshot_error_nl(error: UploadError) -> str:
    """The Dutch message for a refused screenshot (crawlers.manual raises English ones)."""
    message = str(error)
    if "10 MB" in message:
        return f"De schermafbeelding is groter dan {MAX_SCREENSHOT_BYTES // (1024 * 1024)} MB."
    if "PNG or JPEG" in message:
        return "De schermafbeelding moet een PNG- of JPEG-afbeelding zijn."
    if "too large" in message:
        return ("De schermafbeelding heeft te veel beeldpunten (mogelijk een zogeheten decompressiebom) "
                "en is geweigerd.")
    return "Dit bestand is geen geldige PNG- of JPEG-afbeelding."


def _read_upload(upload: UploadFile | None) -> bytes | None:
    """At most the limit plus one byte: enough to know the file is too large without reading it all."""
    if upload is None:
        return None
    data = upload.file.read(MAX_SCREENSHOT_BYTES + 1)
    return data or None


def check_url(url: str) -> str | None:
    """A Dutch error for anything but an http(s) URL with a host, else None."""
    if len(url) > MAX_URL_CHARS:
        return f"Het webadres is langer dan {MAX_URL_CHARS} tekens."
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return "Dit is geen geldig webadres."
    if parts.scheme.lower() not in ("http", "https") or not host:
        return "Alleen een webadres dat begint met http:// of https:// is toegestaan."
    if any(ch.isspace() or ord(ch) < 32 for ch in url):
        return "Een webadres mag geen spaties of stuurtekens bevatten."
    return None


def parse_moment(day: str, clock: str, zone: str, now: datetime) -> tuple[datetime | None, str | None]:
    """The post's time from the form (local time of the school), or a Dutch error."""
    if not day:
        return None, ("Vul ook de datum in, of laat de tijd leeg." if clock else None)
    try:
        date_part = datetime.strptime(day, "%Y-%m-%d")
        clock_part = datetime.strptime(clock, "%H:%M") if clock else date_part.replace(hour=12)
    except ValueError:
        return None, "Geef de datum als dd-mm-jjjj en de tijd als uu:mm."
    moment = date_part.replace(hour=clock_part.hour, minute=clock_part.minute, tzinfo=ZoneInfo(zone))
    if moment > now + timedelta(hours=1):
        return None, "De datum ligt in de toekomst."
    if moment.year < 2000:
        return None, "Deze datum is te ver in het verleden."
    return moment, None


def _validate(settings: Settings, values: dict[str, str], screenshot: bytes | None,
              now: datetime) -> tuple[dict[str, str], datetime | None]:
    errors: dict[str, str] = {}
    text = values["text"].strip()
    if not text:
        errors["text"] = "Vul de tekst van het bericht in."
    elif len(text) > MAX_TEXT_CHARS:
        errors["text"] = f"De tekst is langer dan {MAX_TEXT_CHARS} tekens."
    if values["url"]:
        problem = check_url(values["url"])
        if problem:
            errors["url"] = problem
    if len(values["author"]) > MAX_AUTHOR_CHARS:
        errors["author"] = f"De naam van de schrijver is langer dan {MAX_AUTHOR_CHARS} tekens."
    if values["platform"] not in PLATFORMS:
        errors["platform"] = "Kies een platform uit de lijst."
    if values["school"] not in [s.name for s in settings.schools]:
        errors["school"] = "Kies een school uit de lijst."
    moment, problem = parse_moment(values["date"], values["time"], settings.schedule.timezone, now)
    if problem:
        errors["date"] = problem
    if screenshot is not None:
        try:
            validate_screenshot(screenshot)
        except UploadError as exc:
            errors["screenshot"] = screenshot_error_nl(exc)
    return errors, moment


@router.post("/report", max_body_size=MAX_BODY_BYTES)
def submit(request: Request, who: Viewer = Depends(form_viewer), session: Session = DB,
           text: str = Form(""), url: str = Form(""), author: str = Form(""), platform: str = Form("other"),
           date: str = Form(""), time_of_day: str = Form("", alias="time"), school: str = Form(""),
           screenshot: UploadFile | None = File(None)) -> Response:
    settings: Settings = request.app.state.settings
    if not school and len(settings.schools) == 1:
        school = settings.schools[0].name
    values = {"text": text, "url": url.strip(), "author": author.strip(), "platform": platform,
              "date": date.strip(), "time": time_of_day.strip(), "school": school}
    data = _read_upload(screenshot)
    errors, moment = _validate(settings, values, data, utcnow())
    if data is not None and errors and "screenshot" not in errors:
        errors["screenshot"] = "Kies de schermafbeelding opnieuw (een browser bewaart die niet na een fout)."
    if errors:
        return _form_page(request, FormState(values, errors), status_code=400)

    started = utcnow()  # a report sent twice is one post (older than this request); the notice says so
    try:
        post = submit_report(session, settings, ManualReport(
            school=school, text=text, url=values["url"] or None, author=values["author"] or None,
            platform=platform, created_at=moment, screenshot=data, reporter_id=who.id))
    except InputError as exc:  # the form checks the same rules; this is a safety net
        logger.warning("manual report refused: %s", exc)
        return _form_page(request, FormState(values, {"text": "De melding kon niet worden opgeslagen. "
                                                              "Controleer de velden en probeer opnieuw."}),
                          status_code=400)
    duplicate = post.fetched_at < started
    post_id = int(post.id)  # type: ignore[arg-type]
    record(session, who, "manual_report", "post", post_id, platform=platform, school=school,
           screenshot=data is not None, url=values["url"] or None, duplicate=duplicate)
    session.commit()  # the post must be visible to the classifier, which uses its own connection

    classified = classify_now(request, post_id)
    prefix = "Deze melding was al eerder gedaan. " if duplicate else "Melding opgeslagen. "
    if not classified:
        return redirect("/", prefix + "De automatische beoordeling volgt binnen enkele minuten.")
    severity = queries.latest_severity(session, post_id=post_id) or "none"
    found = queries.post_case_id(session, post_id=post_id)
    if found is None:
        return redirect("/", prefix + "De beoordeling vond niets dat om actie vraagt; er is geen dossier geopend.")
    case_id, assignee_id = found
    judged = f"Beoordeeld als {SEVERITY_NL.get(severity, severity)}: dossier {case_id}."
    if who.role == "staff" and assignee_id != who.id:
        return redirect("/", prefix + judged + " De directie ziet het dossier en handelt het af.")
    return redirect(f"/cases/{case_id}", prefix + judged)


def _classifier(request: Request) -> Any:
    """The classifier of this app, loaded on first use (a few seconds) and kept on app.state."""
    state = request.app.state
    with _classifier_lock:
        if getattr(state, "classifier", None) is None:
            from classifier import load_classifier

            c = state.settings.classifier
            state.classifier = load_classifier(c.model, batch_size=c.batch_size, allow_download=c.allow_download)
        return state.classifier


def classify_now(request: Request, post_id: int) -> bool:
    """Classify pending posts now (under the scheduler's `job:classify` lease, so the two never
    classify the same post twice); True when `post_id` has a classification afterwards."""
    from classifier.service import classify_pending

    settings: Settings = request.app.state.settings
    engine = request.app.state.engine

    def done() -> bool:
        with session_scope(engine) as check:
            return queries.latest_severity(check, post_id=post_id) is not None

    try:
        classifier = _classifier(request)
        deadline = time.monotonic() + CLASSIFY_WAIT_SECONDS
        while True:
            with leases.held(engine, "job:classify", settings.schedule.lease_seconds, holder=LEASE_HOLDER) as mine:
                if mine:
                    classify_pending(settings, classifier=classifier, limit=CLASSIFY_LIMIT)
                    return done()
            # The scheduler is classifying right now: it may well take this post along.
            if done():
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.5)
    except Exception:  # the report is stored; the scheduler classifies it later
        logger.exception("classifying manual report %s failed", post_id)
        return False
