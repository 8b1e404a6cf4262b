"""The answer to a request for access (inzage, AVG art. 15): everything stored about an author.

`schoolwacht privacy export --author HANDLE --out FILE` writes one JSON document (keys in
English, the explanation in Dutch) with the subject's posts, their classifications, reviewers'
verdicts, captures, the cases they are in with the events that concern them, and the mails
about them. With `--out FILE.zip` the ZIP holds that document as `export.json` and the capture
files themselves under `files/`.

The capture files go in only on request (the ZIP) and always with a warning: a raw capture is
the platform's whole answer (a search page holds other people's posts too) and a screenshot may
show other people's replies; the school screens them before handing anything over (art. 15(4)).
Reviewer and staff accounts are left out: they are not the subject's data. Events of a case
are included whole when every post in the case is the subject's, else only the events that
name one of the subject's posts.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from schoolwacht.errors import InputError, StorageError
from store import audit
from store.config import Settings
from store.db import make_engine, session_scope
from store.files import read_verified
from store.models import Capture, Case, CaseEvent, CasePost, Classification, Feedback, Post, School, Source
from store.privacy import Subject, cases_by_post, mails_about, mentioned_posts, subject_posts
from store.types import utcnow

EXPLANATION = (
    "Dit overzicht bevat alle gegevens die Schoolwacht van de school bewaart over berichten van {who}, "
    "gemaakt op {when} voor een verzoek om inzage (art. 15 AVG). Per bericht staan erin: de tekst en gegevens "
    "zoals opgehaald van het platform, de beoordelingen door het classificatiemodel en door medewerkers, de "
    "opgeslagen opnames (bestanden met hun SHA-256) en de dossiers waarin het bericht is opgenomen, met de "
    "gebeurtenissen in die dossiers die over deze berichten gaan; daarnaast de e-mails die Schoolwacht over "
    "deze berichten heeft verstuurd of nog moet versturen. Schoolwacht verwerkt deze gegevens om het protocol "
    "sociale media van de school uit te voeren (regel 4: aanspreken, laten verwijderen, rectificatie; bij "
    "strafbare inhoud eventueel aangifte). Controleer dit bestand vóór u het verstrekt: een ruwe opname is het "
    "volledige antwoord van het platform en kan berichten van anderen bevatten, een schermafbeelding kan "
    "reacties van anderen tonen en een notitie in een dossier kan anderen noemen. Scherm die gegevens af "
    "(art. 15 lid 4 AVG) en verstrek het overzicht binnen een maand na het verzoek (art. 12 lid 3 AVG)."
)
NOTHING = " Er zijn geen berichten van deze auteur opgeslagen."


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z") if moment else None


def _rows(session: Session, model: Any, column: Any, ids: list[int]) -> dict[int, list[Any]]:
    grouped: dict[int, list[Any]] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        for row in session.execute(select(model).where(column.in_(chunk)).order_by(model.id)).scalars():
            grouped.setdefault(getattr(row, column.key), []).append(row)
    return grouped


def _shared_paths(session: Session, paths: set[str], ids: list[int]) -> set[str]:
    """Capture paths that posts of other people refer to as well."""
    shared: set[str] = set()
    wanted = sorted(paths)
    for start in range(0, len(wanted), 500):
        shared |= set(session.execute(select(Capture.path).where(
            Capture.path.in_(wanted[start:start + 500]), Capture.post_id.notin_(ids))).scalars())  # type: ignore[attr-defined]
    return shared


def _capture(row: Capture, shared: set[str], with_files: bool) -> dict[str, Any]:
    return {"id": row.id, "kind": row.kind, "path": row.path, "sha256": row.sha256, "size": row.size,
            "media_type": row.media_type, "captured_at": _iso(row.captured_at), "url": row.url,
            "shared_with_other_posts": row.path in shared,
            "file": f"files/{row.path}" if with_files else None}


def _post(post: Post, *, names: dict[str, dict[int, str]], classifications: list[Classification],
          feedback: list[Feedback], captures: list[dict[str, Any]], case_ids: list[int]) -> dict[str, Any]:
    return {
        "id": post.id, "platform": post.platform, "external_id": post.external_id, "url": post.url,
        "author_handle": post.author_handle, "author_name": post.author_name, "text": post.text,
        "language": post.language, "created_at": _iso(post.created_at), "fetched_at": _iso(post.fetched_at),
        "removed_at": _iso(post.removed_at), "matched_phrase": post.matched_phrase,
        "content_sha256": post.content_sha256, "school": names["school"].get(post.school_id),
        "source": names["source"].get(post.source_id), "reported_by_staff": post.reported_by is not None,
        "classifications": [
            {"id": c.id, "model": c.model, "version": c.version, "language": c.language, "sentiment": c.sentiment,
             "sentiment_score": c.sentiment_score, "scores": c.scores, "categories": c.categories,
             "explanations": c.explanations, "severity": c.severity, "created_at": _iso(c.created_at)}
            for c in classifications],
        "feedback": [{"id": f.id, "verdict": f.verdict, "sentiment": f.sentiment, "categories": f.categories,
                      "note": f.note, "created_at": _iso(f.created_at)} for f in feedback],
        "captures": captures,
        "case_ids": case_ids,
    }


def _cases(session: Session, cases: dict[int, Case], ids: list[int]) -> list[dict[str, Any]]:
    own = set(ids)
    members: dict[int, set[int]] = {}
    events: dict[int, list[CaseEvent]] = {}
    if cases:
        for case_id, post_id in session.execute(select(CasePost.case_id, CasePost.post_id)
                                                .where(CasePost.case_id.in_(sorted(cases)))):  # type: ignore[attr-defined]
            members.setdefault(case_id, set()).add(post_id)
        events = _rows(session, CaseEvent, CaseEvent.case_id, sorted(cases))
    result = []
    for case_id, case in sorted(cases.items()):
        whole = members.get(case_id, set()) <= own
        result.append({
            "id": case.id, "status": case.status, "severity": case.severity, "categories": case.categories,
            "articles": case.articles, "opened_at": _iso(case.opened_at), "learned_at": _iso(case.learned_at),
            "closed_at": _iso(case.closed_at), "deadline": _iso(case.deadline),
            "reported_at": _iso(case.reported_at), "police_reference": case.police_reference,
            "only_posts_of_this_author": whole,
            "events": [{"id": e.id, "at": _iso(e.at), "action": e.action, "note": e.note, "data": e.data}
                       for e in events.get(case_id, []) if whole or mentioned_posts(e.data) & own],
        })
    return result


def build_export(session: Session, *, subject: Subject, with_files: bool,
                 now: datetime | None = None) -> dict[str, Any]:
    """The export document (JSON-ready)."""
    now = now or utcnow()
    posts = subject_posts(session, subject=subject)
    ids = [p.id for p in posts if p.id is not None]
    names = {"school": dict(session.execute(select(School.id, School.name)).all()),
             "source": dict(session.execute(select(Source.id, Source.name)).all())}
    classifications = _rows(session, Classification, Classification.post_id, ids)
    feedback = _rows(session, Feedback, Feedback.post_id, ids)
    captures = _rows(session, Capture, Capture.post_id, ids)
    shared = _shared_paths(session, {c.path for rows in captures.values() for c in rows}, ids)
    cases_of = cases_by_post(session, post_ids=ids)
    cases = {c.id: c for found in cases_of.values() for c in found}
    mails = mails_about(session, posts=posts)
    who = subject.describe()
    return {
        "explanation": EXPLANATION.format(who=who, when=f"{now:%Y-%m-%d}") + ("" if posts else NOTHING),
        "generated_at": _iso(now),
        "request": {"handle": subject.handle, "platform": subject.platform},
        "summary": {"posts": len(posts), "cases": len(cases), "captures": sum(len(v) for v in captures.values()),
                    "mails": len(mails)},
        "posts": [_post(p, names=names, classifications=classifications.get(p.id, []),  # type: ignore[arg-type]
                        feedback=feedback.get(p.id, []),  # type: ignore[arg-type]
                        captures=[_capture(c, shared, with_files) for c in captures.get(p.id, [])],  # type: ignore[arg-type]
                        case_ids=[c.id for c in cases_of.get(p.id, [])])  # type: ignore[misc,arg-type]
                  for p in posts],
        "cases": _cases(session, cases, ids),  # type: ignore[arg-type]
        "mails": [{"id": m.id, "kind": m.kind, "subject": m.subject, "created_at": _iso(m.created_at),
                   "sent_at": _iso(m.sent_at), "failed_at": _iso(m.failed_at)} for m in mails],
    }


def _write(out: Path, document: dict[str, Any], files: dict[str, bytes]) -> tuple[str, str]:
    """Write to a temporary file beside `out`; (its path, its SHA-256)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=out.parent, prefix=".privacy-", suffix=".tmp")
    data = json.dumps(document, ensure_ascii=False, indent=1, sort_keys=False).encode("utf-8")
    try:
        with os.fdopen(fd, "wb") as handle:
            if out.suffix.lower() == ".zip":
                with zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_DEFLATED) as archive:
                    archive.writestr("export.json", data)
                    for name, body in sorted(files.items()):
                        archive.writestr(name, body)
            else:
                handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        return temporary, hashlib.sha256(Path(temporary).read_bytes()).hexdigest()
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _files(settings: Settings, document: dict[str, Any]) -> dict[str, bytes]:
    """The capture files for the ZIP; a missing or altered file is noted in the document instead."""
    files: dict[str, bytes] = {}
    for post in document["posts"]:
        for capture in post["captures"]:
            if capture["file"] in files:
                continue
            try:
                files[capture["file"]] = read_verified(settings.storage.dir, capture["path"], capture["sha256"])
            except StorageError as exc:
                capture["file"], capture["file_problem"] = None, str(exc)
    return files


@dataclass(frozen=True)
class ExportResult:
    path: Path
    posts: int
    cases: int
    files: int
    sha256: str


def export_subject(settings: Settings, *, subject: Subject, out: Path, actor: str = "cli",
                   actor_id: int | None = None, now: datetime | None = None) -> ExportResult:
    """Write the export to `out` (JSON, or a ZIP with the files when it ends in .zip); audit-logged."""
    if out.exists():
        raise InputError(f"{out} bestaat al; kies een nieuwe bestandsnaam (er wordt niets overschreven)")
    now = now or utcnow()
    with_files = out.suffix.lower() == ".zip"
    engine = make_engine(settings.database.url)
    temporary = None
    try:
        with session_scope(engine) as session:
            document = build_export(session, subject=subject, with_files=with_files, now=now)
            files = _files(settings, document) if with_files else {}
            temporary, digest = _write(out, document, files)
            detail = {"subject_sha256": subject.fingerprint, "platform": subject.platform,
                      "sha256": digest, "posts": [p["id"] for p in document["posts"]],
                      "cases": [c["id"] for c in document["cases"]], "files": len(files)}
            audit.record(session, actor=actor, actor_id=actor_id, action="privacy_export", object_type="subject",
                         object_id=subject.fingerprint, detail=detail, now=now)
        # Recorded: only now does the file appear under its name.
        os.replace(temporary, out)
        temporary = None
    finally:
        if temporary is not None:
            Path(temporary).unlink(missing_ok=True)
        engine.dispose()
    return ExportResult(path=out, posts=len(document["posts"]), cases=len(document["cases"]), files=len(files),
                        sha256=digest)


__all__ = ["ExportResult", "build_export", "export_subject"]
