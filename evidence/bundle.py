"""The evidence bundle of one case: a ZIP a police officer can check and read without Schoolwacht.

    rapport.pdf                     the Dutch report (`evidence.report`)
    captures/post-<id>/<kind>-<sha>.<ext>   every capture as stored, byte for byte: the raw answer
                                    of the platform, HTML, screenshots and renderings
    timeline.json                   the case timeline (who did what when)
    manifest.json                   every file: path, size, SHA-256, capture time, source URL; the
                                    exporting user, export time, Schoolwacht version
    SHA256SUMS                      `sha256sum -c SHA256SUMS` checks every other file

A capture whose file is missing or no longer matches its recorded SHA-256 stops the export
(`StorageError` naming it): a bundle never silently lacks a file. The ZIP is written to a
temporary file and renamed into place, so a failed export leaves nothing half-written. Captures
keep their capture time as ZIP timestamp, so two exports of one case hold identical captures.
The export is an audit entry and an event on the case's timeline, both carrying the SHA-256 of
the bundle's `SHA256SUMS` and of the ZIP itself.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine
from sqlmodel import Session

from schoolwacht.errors import InputError, NotFoundError, StorageError
from store import audit
from store.config import Settings
from store.evidence import FLAGGED, IMAGE_KINDS, capture_events
from store.files import read_verified, resolve
from store.models import Capture, Case, CaseEvent, Classification, Post, School, User
from store.posts import captures_of
from store.types import utcnow
from store.workflow import case_events, case_posts

FORMAT = "schoolwacht-evidence/1"
SUMS = "SHA256SUMS"
MANIFEST = "manifest.json"
TIMELINE = "timeline.json"
REPORT = "rapport.pdf"
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


def schoolwacht_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("schoolwacht")
    except PackageNotFoundError:
        return "onbekend"


def iso_utc(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z") if moment else None


@dataclass
class BundleFile:
    path: str  # inside the ZIP, forward slashes
    data: bytes
    kind: str  # raw | html | screenshot | rendering | report | timeline | manifest
    media_type: str | None = None
    captured_at: datetime | None = None
    source_url: str | None = None
    post_ids: list[int] = field(default_factory=list)
    capture_ids: list[int] = field(default_factory=list)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def size(self) -> int:
        return len(self.data)


@dataclass(frozen=True)
class Image:
    """An image of a post in the bundle, with what it is (for the report's caption)."""

    file: BundleFile
    capture: Capture
    method: str  # chromium | rendering | upload
    reason: str


@dataclass
class PostEvidence:
    post: Post
    classification: Classification | None
    files: list[BundleFile]
    images: list[Image]


@dataclass
class CaseEvidence:
    case: Case
    school: str
    assignee: str | None
    posts: list[PostEvidence]
    events: list[CaseEvent]
    files: list[BundleFile]  # the captures, each once, in ZIP order


@dataclass(frozen=True)
class ExportResult:
    path: Path
    case_id: int
    files: int
    sha256: str  # of the ZIP
    sums_sha256: str  # of its SHA256SUMS


# -- collecting ---------------------------------------------------------------------------------

def check_exportable(session: Session, *, case_id: int) -> Case:
    """The case, or `NotFoundError` / `InputError` (no criminal or urgent post) in Dutch."""
    case = session.get(Case, case_id)
    if case is None:
        raise NotFoundError(f"dossier {case_id} bestaat niet")
    posts = case_posts(session, case_id=case_id)
    if not any(c is not None and c.severity in FLAGGED for _, c in posts):
        raise InputError(f"dossier {case_id} heeft geen bericht dat mogelijk strafbaar of dringend is; "
                         "een bewijsmap voor de politie is alleen voor zulke berichten")
    return case


def _extension(capture: Capture) -> str:
    suffix = PurePosixPath(capture.path).suffix.lower()
    return suffix if suffix.replace(".", "").isalnum() and len(suffix) <= 6 else ".bin"


def _read(settings: Settings, capture: Capture) -> bytes:
    try:
        return read_verified(settings.storage.dir, capture.path, capture.sha256)
    except StorageError:
        missing = not resolve(settings.storage.dir, capture.path).is_file()
        what = "ontbreekt" if missing else "komt niet meer overeen met de vastgelegde SHA-256"
        raise StorageError(f"bewijsmap niet gemaakt: het opgeslagen bestand {capture.path} ({capture.kind}) van "
                           f"bericht {capture.post_id} {what}; zet het terug uit een back-up") from None


def _image(file: BundleFile, capture: Capture, events: dict[int, dict[str, Any]]) -> Image:
    made = events.get(capture.id or -1, {})
    if capture.kind == "rendering":
        return Image(file, capture, "rendering", str(made.get("reason") or ""))
    return Image(file, capture, "chromium" if made.get("method") == "chromium" else "upload", "")


def collect(session: Session, settings: Settings, *, case_id: int) -> CaseEvidence:
    """Everything the bundle holds, with every capture read and checked against its SHA-256."""
    case = check_exportable(session, case_id=case_id)
    school = session.get(School, case.school_id)
    assignee = session.get(User, case.assignee_id) if case.assignee_id else None
    made = {int(e.data["capture_id"]): e.data for e in capture_events(session, case_id=case_id)
            if isinstance(e.data.get("capture_id"), int)}
    by_sha: dict[str, BundleFile] = {}
    posts: list[PostEvidence] = []
    for post, classification in case_posts(session, case_id=case_id):
        files: list[BundleFile] = []
        images: list[Image] = []
        for capture in captures_of(session, post_id=post.id):  # type: ignore[arg-type]
            file = by_sha.get(capture.sha256)
            if file is None:
                file = BundleFile(
                    path=f"captures/post-{post.id}/{capture.kind}-{capture.sha256[:16]}{_extension(capture)}",
                    data=_read(settings, capture), kind=capture.kind, media_type=capture.media_type,
                    captured_at=capture.captured_at, source_url=capture.url)
                by_sha[capture.sha256] = file
            if post.id not in file.post_ids:
                file.post_ids.append(post.id)  # type: ignore[arg-type]
            file.capture_ids.append(capture.id)  # type: ignore[arg-type]
            files.append(file)
            if capture.kind in IMAGE_KINDS:
                images.append(_image(file, capture, made))
        posts.append(PostEvidence(post=post, classification=classification, files=files, images=images))
    return CaseEvidence(case=case, school=school.name if school else "",
                        assignee=(assignee.name or assignee.email) if assignee else None, posts=posts,
                        events=case_events(session, case_id=case_id),
                        files=sorted(by_sha.values(), key=lambda f: (f.post_ids[0], f.path)))


# -- the files besides the captures ---------------------------------------------------------------

def timeline_json(evidence: CaseEvidence, *, zone: str) -> bytes:
    from evidence.report import describe_event

    tz = ZoneInfo(zone)
    events = [{
        "at": iso_utc(e.at), "at_local": e.at.astimezone(tz).isoformat(), "actor": e.actor, "action": e.action,
        "description": describe_event(e), "note": e.note, "data": e.data,
    } for e in evidence.events]
    document = {"case_id": evidence.case.id, "school": evidence.school, "timezone": zone, "events": events}
    return (json.dumps(document, ensure_ascii=False, indent=2, sort_keys=True, default=str) + "\n").encode("utf-8")


def manifest_json(files: list[BundleFile], evidence: CaseEvidence, *, exported_by: str, exported_at: datetime,
                  zone: str) -> bytes:
    document = {
        "format": FORMAT,
        "case_id": evidence.case.id,
        "school": evidence.school,
        "exported_by": exported_by,
        "exported_at": iso_utc(exported_at),
        "schoolwacht_version": schoolwacht_version(),
        "timezone": zone,
        "posts": [p.post.id for p in evidence.posts],
        "files": [{
            "path": f.path, "size": f.size, "sha256": f.sha256, "kind": f.kind, "media_type": f.media_type,
            "captured_at": iso_utc(f.captured_at), "source_url": f.source_url, "post_ids": f.post_ids,
        } for f in files],
    }
    return (json.dumps(document, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def sums_file(files: list[BundleFile]) -> bytes:
    """`sha256sum` text-mode lines: "<hex>  <path>"."""
    return "".join(f"{f.sha256}  {f.path}\n" for f in files).encode("utf-8")


# -- writing --------------------------------------------------------------------------------------

def _zip_time(moment: datetime | None) -> tuple[int, int, int, int, int, int]:
    if moment is None:
        return _ZIP_EPOCH
    utc = moment.astimezone(UTC)
    if utc.year < 1980:
        return _ZIP_EPOCH
    return (utc.year, utc.month, utc.day, utc.hour, utc.minute, utc.second - utc.second % 2)


def write_zip(target: Path, files: list[BundleFile]) -> str:
    """Write the ZIP atomically (temporary file, then rename); returns its SHA-256."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=".bewijsmap-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            with zipfile.ZipFile(handle, "w") as archive:
                for file in files:
                    info = zipfile.ZipInfo(file.path, date_time=_zip_time(file.captured_at))
                    info.compress_type = zipfile.ZIP_DEFLATED
                    info.external_attr = 0o644 << 16
                    archive.writestr(info, file.data)
            handle.flush()
            os.fsync(handle.fileno())
        digest = hashlib.sha256()
        with open(temporary, "rb") as stream:
            for chunk in iter(lambda: stream.read(1 << 20), b""):
                digest.update(chunk)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return digest.hexdigest()


def write_bundle(session: Session, settings: Settings, *, case_id: int, out: Path, actor: str,
                 actor_id: int | None = None, now: datetime | None = None) -> ExportResult:
    """Export the case to `out` and record the export (audit entry, case event) in `session`.

    Images should exist already (`prepare_case`); a post without one is simply shown without.
    """
    from evidence.report import build_report

    exported_at = now or utcnow()
    zone = settings.schedule.timezone
    evidence = collect(session, settings, case_id=case_id)
    timeline = BundleFile(TIMELINE, timeline_json(evidence, zone=zone), "timeline", "application/json")
    report = BundleFile(REPORT, build_report(evidence, listed=[*evidence.files, timeline], exported_by=actor,
                                             exported_at=exported_at, zone=zone, version=schoolwacht_version()),
                        "report", "application/pdf")
    body = [report, *evidence.files, timeline]
    manifest = BundleFile(MANIFEST, manifest_json(body, evidence, exported_by=actor, exported_at=exported_at,
                                                  zone=zone), "manifest", "application/json")
    sums = BundleFile(SUMS, sums_file([*body, manifest]), "sums", "text/plain")
    zip_sha = write_zip(out, [*body, manifest, sums])
    result = ExportResult(path=out, case_id=case_id, files=len(body) + 2, sha256=zip_sha, sums_sha256=sums.sha256)
    _record(session, evidence, result, actor=actor, actor_id=actor_id, now=exported_at)
    return result


def _record(session: Session, evidence: CaseEvidence, result: ExportResult, *, actor: str, actor_id: int | None,
            now: datetime) -> None:
    detail = {"file": result.path.name, "zip_sha256": result.sha256, "sha256sums_sha256": result.sums_sha256,
              "files": result.files, "posts": [p.post.id for p in evidence.posts]}
    audit.record(session, actor=actor, actor_id=actor_id, action="evidence_export", object_type="case",
                 object_id=evidence.case.id or "", detail=detail, now=now)
    # Not a workflow step: the case's `updated_at` (the overdue clock) stays as it is.
    session.add(CaseEvent(case_id=evidence.case.id, at=now, actor=actor[:320], actor_id=actor_id,  # type: ignore[arg-type]
                          action="evidence_export", data=detail,
                          note=f"Bewijsmap geëxporteerd ({result.files} bestanden); SHA-256 van het ZIP-bestand "
                               f"{result.sha256}, van SHA256SUMS {result.sums_sha256}."))
    session.flush()


# -- the whole export -----------------------------------------------------------------------------

def prepare_case(settings: Settings, engine: Engine, *, case_id: int, actor: str = "systeem") -> None:
    """Check the case can be exported and give each of its posts an image (outside any transaction)."""
    from evidence.capture import ensure_images
    from store.db import session_scope

    with session_scope(engine) as session:
        check_exportable(session, case_id=case_id)
        post_ids = [int(p.id) for p, _ in case_posts(session, case_id=case_id)]  # type: ignore[arg-type]
    failed = [o for o in ensure_images(settings, engine, post_ids=post_ids, actor=actor) if o.method == "failed"]
    if failed:
        raise StorageError(f"bewijsmap niet gemaakt: geen afbeelding van bericht {failed[0].post_id} "
                           f"({failed[0].reason})")


def export_case(settings: Settings, *, case_id: int, out: Path, actor: str = "cli", actor_id: int | None = None,
                engine: Engine | None = None, now: datetime | None = None) -> ExportResult:
    """`schoolwacht evidence export`: images first, then the bundle and its audit entry."""
    from store.db import make_engine, session_scope

    own = engine is None
    engine = engine or make_engine(settings.database.url)
    result: ExportResult | None = None
    try:
        prepare_case(settings, engine, case_id=case_id, actor=actor)
        with session_scope(engine) as session:
            result = write_bundle(session, settings, case_id=case_id, out=out, actor=actor, actor_id=actor_id,
                                  now=now)
        return result
    except BaseException:
        if result is not None:  # written, but its audit entry was not committed: no unrecorded bundle
            result.path.unlink(missing_ok=True)
        raise
    finally:
        if own:
            engine.dispose()


__all__ = ["FORMAT", "MANIFEST", "REPORT", "SUMS", "TIMELINE", "BundleFile", "CaseEvidence", "ExportResult",
           "Image", "PostEvidence", "check_exportable", "collect", "export_case", "prepare_case", "write_bundle"]
