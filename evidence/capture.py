"""An image of every flagged post, made soon after it is flagged (the `evidence` scheduler job)
and at the latest when its case is exported.

A post with a public web page gets a real screenshot in Chromium (`evidence.screenshot`); a post
read through a platform API whose page shows nothing without a login, a post without a web
address, and any page that cannot be reached get Schoolwacht's own rendering
(`evidence.render`). Each image is a `Capture` (kind `screenshot` or `rendering`, PNG, SHA-256,
capture time, URL) stored content-addressed under `screenshots/` in the storage dir, and how it
came about (and why there is no screenshot) is a `evidence_capture` event on the post's cases,
so the report and the case page show it.

No transaction is open while the browser works: a page may take `screenshot_timeout_seconds`,
and SQLite allows one writer at a time. Each image is committed in its own short transaction.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.engine import Engine
from sqlmodel import Session

from evidence.render import render_post
from evidence.screenshot import ScreenshotFailed, Screenshotter, Shot, refusal
from store.config import Settings
from store.db import make_engine, session_scope
from store.evidence import IMAGE_KINDS, cases_of_post, image_captures, posts_needing_image
from store.files import store_blob
from store.models import Capture, CaseEvent, Post
from store.posts import captures_of
from store.types import utcnow
from store.workflow import is_web_url

logger = logging.getLogger("schoolwacht.evidence")

# Platforms read through an API whose web page shows the post only after a login (or, for a
# YouTube comment, not at all): a screenshot would show a login wall, so the post is rendered.
API_PLATFORMS = {
    "x": "X", "facebook": "Facebook", "instagram": "Instagram", "whatsapp": "WhatsApp", "tiktok": "TikTok",
    "linkedin": "LinkedIn", "email": "e-mail", "youtube": "YouTube",
}


@dataclass(frozen=True)
class ImageOutcome:
    post_id: int
    method: str  # chromium | rendering | existing | failed
    capture_id: int | None = None
    reason: str = ""  # Dutch: why there is no real screenshot


@dataclass(frozen=True)
class CaptureReport:
    screenshots: int = 0
    renderings: int = 0
    failed: int = 0


@dataclass(frozen=True)
class _Todo:
    post: Post
    raw: Capture | None
    skip_browser: str  # why no screenshot is tried ("" = try one)


def platform_name(platform: str) -> str:
    from alerts.digest import PLATFORM_NL

    return PLATFORM_NL.get(platform, platform)


def browser_refusal(settings: Settings, post: Post) -> str:
    """Why no screenshot is tried for `post` (Dutch), or "" when one is."""
    if post.platform in API_PLATFORMS:
        return (f"bericht van {API_PLATFORMS[post.platform]}: de webpagina toont het niet zonder inloggen, "
                "daarom een weergave van de opgeslagen gegevens")
    if not post.url or not is_web_url(post.url):
        return "het bericht heeft geen openbaar webadres"
    if not settings.evidence.screenshots:
        return "schermafbeeldingen staan uit in de instellingen ([evidence] screenshots = false)"
    return ""


def _todo(session: Session, settings: Settings, post_ids: list[int]) -> list[_Todo]:
    todo: list[_Todo] = []
    for post_id in post_ids:
        post = session.get(Post, post_id)
        if post is None or image_captures(session, post_id=post_id):
            continue
        raw = next((c for c in captures_of(session, post_id=post_id) if c.kind not in IMAGE_KINDS), None)
        todo.append(_Todo(post=post, raw=raw, skip_browser=browser_refusal(settings, post)))
    return todo


def ensure_images(settings: Settings, engine: Engine, *, post_ids: list[int], actor: str = "systeem"
                  ) -> list[ImageOutcome]:
    """Give each of these posts an image capture unless it has one; never inside a transaction."""
    with session_scope(engine) as session:
        todo = _todo(session, settings, post_ids)
    if not todo:
        return [ImageOutcome(post_id, "existing") for post_id in post_ids]
    shots: dict[int, Shot | str] = {}
    browser_wanted = [t for t in todo if not t.skip_browser]
    if browser_wanted:
        shots = _screenshots(settings, [t.post for t in browser_wanted])
    outcomes = {post_id: ImageOutcome(post_id, "existing") for post_id in post_ids}
    for item in todo:
        result = shots.get(item.post.id, item.skip_browser)  # type: ignore[arg-type]
        try:
            outcome = _store(settings, engine, item, result, actor=actor)
        except Exception as exc:  # one bad post must not keep the others from their image
            logger.exception("evidence: no image for post %s", item.post.id)
            outcome = ImageOutcome(item.post.id, "failed", reason=f"{type(exc).__name__}: {exc}")  # type: ignore[arg-type]
        outcomes[item.post.id] = outcome  # type: ignore[index]
    return list(outcomes.values())


def _screenshots(settings: Settings, posts: list[Post]) -> dict[int, Shot | str]:
    """A screenshot or the reason there is none (Dutch), per post id; one browser for all."""
    conf = settings.evidence
    results: dict[int, Shot | str] = {}
    for post in posts:  # refused addresses need no browser
        refused = refusal(post.url or "", allow_private=conf.allow_private)
        if refused is not None:
            results[post.id] = f"pagina niet vast te leggen: {refused}"  # type: ignore[index]
    posts = [p for p in posts if p.id not in results]
    if not posts:
        return results
    try:
        with Screenshotter(chromium=conf.chromium, timeout_seconds=conf.screenshot_timeout_seconds,
                           allow_private=conf.allow_private) as shooter:
            for post in posts:
                try:
                    results[post.id] = shooter.shoot(post.url or "")  # type: ignore[index]
                except ScreenshotFailed as exc:
                    results[post.id] = f"pagina niet vast te leggen: {exc}"  # type: ignore[index]
    except ScreenshotFailed as exc:
        for post in posts:
            results.setdefault(post.id, f"geen schermafbeelding mogelijk: {exc}")  # type: ignore[arg-type]
    return results


def _store(settings: Settings, engine: Engine, item: _Todo, result: Shot | str, *, actor: str) -> ImageOutcome:
    post = item.post
    now = utcnow()
    if isinstance(result, Shot):
        kind, method, data, url, reason = "screenshot", "chromium", result.data, result.url, ""
        now = result.taken_at
    else:
        data = render_post(post, raw=item.raw, platform=platform_name(post.platform),
                           zone=settings.schedule.timezone)
        kind, method, url, reason = "rendering", "rendering", post.url, result
    stored = store_blob(settings.storage.dir, data, media_type="image/png", folder="screenshots")
    with session_scope(engine) as session:
        if image_captures(session, post_id=post.id):  # type: ignore[arg-type]  # made meanwhile (export vs job)
            return ImageOutcome(post.id, "existing")  # type: ignore[arg-type]
        capture = Capture(post_id=post.id, kind=kind, path=stored.path, sha256=stored.sha256,  # type: ignore[arg-type]
                          size=stored.size, media_type="image/png", captured_at=now, url=url)
        session.add(capture)
        session.flush()
        _events(session, post_id=post.id, capture=capture, method=method, reason=reason, actor=actor, now=now)  # type: ignore[arg-type]
        return ImageOutcome(post.id, method, capture.id, reason)  # type: ignore[arg-type]


def _events(session: Session, *, post_id: int, capture: Capture, method: str, reason: str, actor: str,
            now: datetime) -> None:
    if method == "chromium":
        note = (f"Schermafbeelding van bericht {post_id} gemaakt met Chromium ({capture.url}); "
                f"SHA-256 {capture.sha256}.")
    else:
        note = (f"Geen schermafbeelding van bericht {post_id}: {reason}. Weergave door Schoolwacht gemaakt; "
                f"SHA-256 {capture.sha256}.")
    data = {"post_id": post_id, "capture_id": capture.id, "method": method, "reason": reason,
            "url": capture.url, "sha256": capture.sha256}
    # Not a workflow step: the case's `updated_at` (the overdue clock) stays as it is.
    for case_id in cases_of_post(session, post_id=post_id):
        session.add(CaseEvent(case_id=case_id, at=now, actor=actor[:320], action="evidence_capture", note=note,
                              data=data))


def capture_pending(settings: Settings, *, engine: Engine | None = None, limit: int | None = None) -> CaptureReport:
    """The scheduler job: images for flagged posts that have none yet, at most `max_per_run`."""
    own = engine is None
    engine = engine or make_engine(settings.database.url)
    try:
        with session_scope(engine) as session:
            post_ids = posts_needing_image(session, limit=limit or settings.evidence.max_per_run)
        outcomes = ensure_images(settings, engine, post_ids=post_ids) if post_ids else []
    finally:
        if own:
            engine.dispose()
    return CaptureReport(screenshots=sum(o.method == "chromium" for o in outcomes),
                         renderings=sum(o.method == "rendering" for o in outcomes),
                         failed=sum(o.method == "failed" for o in outcomes))


__all__ = ["API_PLATFORMS", "CaptureReport", "ImageOutcome", "browser_refusal", "capture_pending", "ensure_images",
           "platform_name"]
