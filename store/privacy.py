"""Requests of data subjects (AVG art. 15 and 17): what is stored about an author, and erasing it.

A data subject is an author handle, optionally on one platform. Handles match whatever their
case, a leading `@` and Reddit's `u/` prefix: `@Ouder3`, `ouder3` and `u/ouder3` are one
person on a platform. A handle is matched whole: `ouder3` does not match the Mastodon account
`ouder3@school.social` on another instance (that is another person).

Erasure (`erase_subject`) removes each post with its classifications, feedback, captures and
links to cases, the mails about it that were not sent yet, and the bodies of the sent ones;
capture files go once no capture row refers to them any more (files are content-addressed and
shared: `store.files`, `store.retention`). It refuses, per post, what the school may keep under
art. 17(3)(e) AVG (establishment, exercise or defence of legal claims):

- a post in a case with status `reported`: a police report was filed; the post is evidence;
- a post in an open case of severity `criminal` or `urgent`: the school may still report it.

Either may be asked again once the case is closed. Case events are append-only history: they
stay, and the case gets an `erasure` event; a case left without posts is closed. The audit
entry names the subject by the SHA-256 of the normalised handle, never the erased text.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from classifier.labels import CATEGORY_NAMES_NL
from schoolwacht.errors import InputError, SchoolwachtError, StorageError
from store import audit
from store.config import Settings
from store.db import make_engine, session_scope
from store.files import resolve
from store.models import Capture, Case, CaseEvent, CasePost, Classification, Feedback, Outbox, Post
from store.types import utcnow
from store.workflow import DONE, ActionInput, change_status

logger = logging.getLogger(__name__)

ERASED_NOTE = "gewist na verzoek van betrokkene"
ERASED_MAIL = ("[Inhoud gewist: deze e-mail ging over een bericht dat op verzoek van de betrokkene is gewist "
               "(art. 17 AVG).]")
LEGAL_CLAIMS = "art. 17 lid 3 onder e AVG: instellen, uitoefenen of onderbouwen van een rechtsvordering"
EVIDENCE_SEVERITIES = ("criminal", "urgent")
# A digest quotes a post as `"<first words>..."`; this many characters of it identify the quote.
QUOTE_CHARS = 40
_CHUNK = 500
STATUS_NL = {
    "new": "nieuw", "triaged": "beoordeeld", "addressed": "schrijver aangesproken",
    "removal_requested": "verwijdering gevraagd", "removed": "verwijderd", "corrected": "rectificatie geplaatst",
    "closed": "gesloten", "dismissed": "vals alarm", "reported": "aangifte gedaan",
}


def handle_key(handle: str) -> str:
    """The form two handles of one person share: no spaces, `@` or `u/` in front, case-folded."""
    key = handle.strip()
    for prefix in ("@", "/u/", "u/"):
        if key.casefold().startswith(prefix):
            key = key[len(prefix):]
            break
    return key.strip().casefold()


@dataclass(frozen=True)
class Subject:
    handle: str  # as given, trimmed
    platform: str | None = None

    @classmethod
    def parse(cls, handle: str, platform: str | None = None) -> Subject:
        if not handle_key(handle or ""):
            raise InputError("Geef de handle (gebruikersnaam) van de betrokkene op, bijvoorbeeld @ouder3.")
        chosen = (platform or "").strip().lower() or None
        return cls(handle=handle.strip(), platform=chosen)

    @property
    def key(self) -> str:
        return handle_key(self.handle)

    @property
    def fingerprint(self) -> str:
        """Names the subject in the audit log without the handle itself (hash it again to check)."""
        return hashlib.sha256(self.key.encode("utf-8")).hexdigest()

    def describe(self) -> str:
        where = f"op {self.platform}" if self.platform else "op alle platforms"
        return f"auteur {self.handle!r} {where}"


def _chunks(ids: Sequence[int]) -> Iterable[list[int]]:
    for start in range(0, len(ids), _CHUNK):
        yield list(ids[start:start + _CHUNK])


def subject_posts(session: Session, *, subject: Subject) -> list[Post]:
    """The subject's posts, oldest id first.

    The handles are compared in Python, after one pass over the distinct handles: SQLite's
    `lower()` folds ASCII only, and a YouTube handle or a name typed in a manual report need not be.
    """
    handles = select(Post.author_handle).where(Post.author_handle.is_not(None)).distinct()  # type: ignore[union-attr]
    if subject.platform:
        handles = handles.where(Post.platform == subject.platform)
    wanted = [h for h in session.execute(handles).scalars() if handle_key(h) == subject.key]
    if not wanted:
        return []
    statement = select(Post).where(Post.author_handle.in_(wanted))  # type: ignore[union-attr]
    if subject.platform:
        statement = statement.where(Post.platform == subject.platform)
    return list(session.execute(statement.order_by(Post.id)).scalars())


def cases_by_post(session: Session, *, post_ids: Sequence[int]) -> dict[int, list[Case]]:
    """The cases each post belongs to (usually one)."""
    found: dict[int, list[Case]] = {}
    for chunk in _chunks(post_ids):
        rows = session.execute(select(CasePost.post_id, Case).join(Case, Case.id == CasePost.case_id)
                               .where(CasePost.post_id.in_(chunk)).order_by(Case.id))  # type: ignore[attr-defined]
        for post_id, case in rows:
            found.setdefault(post_id, []).append(case)
    return found


def mentioned_posts(data: dict[str, Any]) -> set[int]:
    """Post ids a case event's data refers to (`post_id`, `posts` as ids or as {post_id: ...})."""
    found: set[int] = set()
    if isinstance(data.get("post_id"), int):
        found.add(data["post_id"])
    for item in data.get("posts") or []:
        if isinstance(item, int):
            found.add(item)
        elif isinstance(item, dict) and isinstance(item.get("post_id"), int):
            found.add(item["post_id"])
    return found


# -- the refusal rule -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Kept:
    """A post that is not erased, and why (Dutch, for the school and the data subject)."""

    post_id: int
    platform: str
    created_at: datetime
    case_id: int
    status: str
    code: str  # reported | open_evidence
    reason: str


def _day(moment: datetime, zone: str) -> str:
    return f"{moment.astimezone(ZoneInfo(zone)):%d-%m-%Y}"


def refusal(case: Case, *, zone: str = "Europe/Amsterdam") -> tuple[str, str] | None:
    """(code, Dutch explanation) when the case's posts must be kept; None when they may go."""
    status = STATUS_NL.get(case.status, case.status)
    if case.status == "reported":
        filed = ""
        if case.police_reference or case.reported_at:
            parts = [f"kenmerk {case.police_reference}" if case.police_reference else "",
                     f"op {_day(case.reported_at, zone)}" if case.reported_at else ""]
            filed = f" ({', '.join(p for p in parts if p)})"
        return "reported", (
            f"dossier {case.id}, status '{status}': de school heeft aangifte gedaan{filed} en het bericht is "
            f"bewijs in die strafzaak. Het blijft bewaard zolang dat nodig is ({LEGAL_CLAIMS}). Het verzoek "
            f"kan opnieuw worden gedaan zodra de school het dossier heeft gesloten.")
    if case.status not in DONE and case.severity in EVIDENCE_SEVERITIES:
        names = ", ".join(CATEGORY_NAMES_NL.get(c, c) for c in case.categories) or "mogelijk strafbaar"
        deadline = ""
        if case.deadline is not None:
            deadline = (f" De termijn om aangifte te doen van een klachtdelict loopt af op "
                        f"{_day(case.deadline, zone)}.")
        return "open_evidence", (
            f"dossier {case.id}, status '{status}': het dossier is nog open en het bericht is mogelijk strafbaar "
            f"({names}). De school kan nog aangifte doen en heeft het bericht dan als bewijs nodig "
            f"({LEGAL_CLAIMS}).{deadline} Het verzoek kan opnieuw worden gedaan zodra het dossier is gesloten.")
    return None


@dataclass
class ErasurePlan:
    subject: Subject
    erase: list[Post] = field(default_factory=list)
    kept: list[Kept] = field(default_factory=list)


def plan_erasure(session: Session, *, subject: Subject, zone: str = "Europe/Amsterdam") -> ErasurePlan:
    plan = ErasurePlan(subject=subject)
    posts = subject_posts(session, subject=subject)
    cases = cases_by_post(session, post_ids=[p.id for p in posts])  # type: ignore[misc]
    for post in posts:
        for case in cases.get(post.id, []):  # type: ignore[arg-type]
            refused = refusal(case, zone=zone)
            if refused is not None:
                plan.kept.append(Kept(post_id=post.id, platform=post.platform, created_at=post.created_at,  # type: ignore[arg-type]
                                      case_id=case.id, status=case.status, code=refused[0],  # type: ignore[arg-type]
                                      reason=refused[1]))
                break
        else:
            plan.erase.append(post)
    return plan


# -- erasing --------------------------------------------------------------------------------------

@dataclass
class ErasureCounts:
    posts: int = 0
    classifications: int = 0
    feedback: int = 0
    captures: int = 0
    mails_deleted: int = 0
    mails_blanked: int = 0
    digests_deleted: list[str] = field(default_factory=list)  # recipients of unsent digests taken out
    cases_touched: list[int] = field(default_factory=list)
    cases_closed: list[int] = field(default_factory=list)
    paths: set[str] = field(default_factory=set)  # capture files the erased rows used


def digest_quote(text: str) -> str:
    """How the weekly digest starts its quote of a post (`alerts.digest`: `"<excerpt>"`)."""
    return '"' + " ".join(text.split())[:QUOTE_CHARS]


def mails_about(session: Session, *, posts: Sequence[Post]) -> list[Outbox]:
    """Mails about these posts: alerts linked to them, and weekly digests that quote them."""
    ids = sorted(p.id for p in posts if p.id is not None)
    rows = {row.id: row for chunk in _chunks(ids)
            for row in session.execute(select(Outbox).where(Outbox.post_id.in_(chunk))).scalars()}  # type: ignore[union-attr]
    quotes = [digest_quote(p.text) for p in posts if len(" ".join(p.text.split())) >= 8]
    if quotes:
        for digest in session.execute(select(Outbox).where(Outbox.kind == "digest")).scalars():
            if any(q in digest.body_text for q in quotes):
                rows[digest.id] = digest
    return [rows[key] for key in sorted(rows)]  # type: ignore[type-var]


def _mails(session: Session, posts: Sequence[Post], counts: ErasureCounts) -> None:
    """Unsent mails about the posts are deleted; sent ones keep their log line, not their body."""
    for row in mails_about(session, posts=posts):
        if row.sent_at is None:
            if row.kind == "digest":
                counts.digests_deleted.append(row.recipient)
            session.delete(row)
            counts.mails_deleted += 1
        else:
            row.body_text, row.body_html, row.attachments, row.post_id = ERASED_MAIL, "", [], None
            session.add(row)
            counts.mails_blanked += 1
    session.flush()


def _cases(session: Session, ids: list[int], counts: ErasureCounts, *, actor: str, actor_id: int | None,
           now: datetime) -> None:
    per_case: dict[int, int] = {}
    for chunk in _chunks(ids):
        for (case_id,) in session.execute(select(CasePost.case_id).where(CasePost.post_id.in_(chunk))):  # type: ignore[attr-defined]
            per_case[case_id] = per_case.get(case_id, 0) + 1
        session.execute(delete(CasePost).where(CasePost.post_id.in_(chunk)),  # type: ignore[attr-defined]
                        execution_options={"synchronize_session": False})
    for case_id, erased in sorted(per_case.items()):
        case = session.get(Case, case_id)
        assert case is not None
        counts.cases_touched.append(case_id)
        session.add(CaseEvent(case_id=case_id, at=now, actor=actor[:320], actor_id=actor_id, action="erasure",
                              note=f"{erased} bericht(en) {ERASED_NOTE} (art. 17 AVG).", data={"erased_posts": erased}))
        left = session.execute(select(CasePost.post_id).where(CasePost.case_id == case_id).limit(1)).first()
        if left is None:
            case.thread_key = None  # it names the author; no later post may join an emptied case
            if case.status not in DONE:
                change_status(session, case, to="closed", form=ActionInput(note=f"Gesloten: alle berichten "
                              f"{ERASED_NOTE}."), actor=actor, actor_id=actor_id, now=now)
                counts.cases_closed.append(case_id)
        case.updated_at = now
        session.add(case)
    session.flush()


def erase_posts(session: Session, *, posts: Sequence[Post], actor: str, actor_id: int | None = None,
                now: datetime | None = None) -> ErasureCounts:
    """Delete these posts and everything that hangs on them, in the caller's transaction.

    The capture files are not touched here: `delete_unused_files` after the commit.
    """
    now = now or utcnow()
    counts = ErasureCounts()
    ids = sorted(p.id for p in posts if p.id is not None)
    if not ids:
        return counts
    plain = {"synchronize_session": False}
    _mails(session, posts, counts)
    _cases(session, ids, counts, actor=actor, actor_id=actor_id, now=now)
    for chunk in _chunks(ids):
        counts.paths |= set(session.execute(select(Capture.path).where(Capture.post_id.in_(chunk))).scalars())  # type: ignore[attr-defined]
        classifications = select(Classification.id).where(Classification.post_id.in_(chunk))  # type: ignore[attr-defined]
        # Feedback on another post that points at one of these classifications keeps its verdict.
        session.execute(update(Feedback).where(Feedback.classification_id.in_(classifications),  # type: ignore[union-attr]
                                               Feedback.post_id.notin_(chunk)).values(classification_id=None),  # type: ignore[attr-defined]
                        execution_options=plain)
        counts.feedback += session.execute(delete(Feedback).where(Feedback.post_id.in_(chunk)),  # type: ignore[attr-defined]
                                           execution_options=plain).rowcount  # type: ignore[attr-defined]
        counts.classifications += session.execute(delete(Classification).where(
            Classification.post_id.in_(chunk)), execution_options=plain).rowcount  # type: ignore[attr-defined]
        counts.captures += session.execute(delete(Capture).where(Capture.post_id.in_(chunk)),  # type: ignore[attr-defined]
                                           execution_options=plain).rowcount  # type: ignore[attr-defined]
        counts.posts += session.execute(delete(Post).where(Post.id.in_(chunk)),  # type: ignore[union-attr]
                                        execution_options=plain).rowcount  # type: ignore[attr-defined]
    for post in posts:
        if post in session:
            session.expunge(post)
    return counts


def unused_paths(session: Session, *, paths: Iterable[str]) -> set[str]:
    """The paths among these that no capture row refers to."""
    wanted = sorted(set(paths))
    used: set[str] = set()
    for start in range(0, len(wanted), _CHUNK):
        used |= set(session.execute(select(Capture.path).where(
            Capture.path.in_(wanted[start:start + _CHUNK]))).scalars())  # type: ignore[attr-defined]
    return set(wanted) - used


def delete_unused_files(engine: Engine, settings: Settings, *, paths: Iterable[str]) -> tuple[int, list[str]]:
    """Unlink the files no capture row refers to (checked again now, after the commit).

    Returns (deleted, problems). A file gone already counts as deleted; one that cannot be
    deleted is named in `problems` (Dutch) so the operator can remove it by hand.
    """
    with session_scope(engine) as session:
        unused = unused_paths(session, paths=paths)
    deleted, problems = 0, []
    for relative in sorted(unused):
        try:
            resolve(settings.storage.dir, relative).unlink(missing_ok=True)
            deleted += 1
        except StorageError:
            problems.append(f"{relative}: ligt buiten de opslagmap; niet verwijderd")
        except OSError as exc:
            logger.error("privacy: could not delete %s: %s", relative, exc)
            problems.append(f"{relative}: kon niet worden verwijderd ({exc.strerror or exc})")
    return deleted, problems


@dataclass
class ErasureReport:
    subject: Subject
    applied: bool
    erase: list[tuple[int, str, datetime]]  # (post id, platform, created_at)
    kept: list[Kept]
    counts: ErasureCounts = field(default_factory=ErasureCounts)
    files: int = 0
    file_problems: list[str] = field(default_factory=list)

    def lines(self, zone: str = "Europe/Amsterdam") -> list[str]:
        """What the operator reads (Dutch): what was (or would be) erased, and what is kept and why."""
        out = [f"Verzoek tot wissen: {self.subject.describe()}."]
        if not self.erase and not self.kept:
            return [*out, "Er zijn geen berichten van deze auteur opgeslagen; er is niets te wissen."]
        ids = ", ".join(str(p) for p, _, _ in self.erase) or "geen"
        if not self.applied:
            out.append(f"Proefrun, er is niets gewist. Zou worden gewist: {len(self.erase)} bericht(en) ({ids}).")
        else:
            c = self.counts
            out.append(f"Gewist: {c.posts} bericht(en) ({ids}), {c.classifications} classificatie(s), "
                       f"{c.feedback} beoordeling(en), {c.captures} opname(s) en {self.files} bestand(en); "
                       f"{c.mails_deleted} onverzonden e-mail(s) verwijderd, van {c.mails_blanked} verzonden "
                       f"e-mail(s) de inhoud gewist.")
            if c.cases_touched:
                closed = f"; gesloten omdat er geen berichten meer in zitten: {', '.join(map(str, c.cases_closed))}" \
                    if c.cases_closed else ""
                out.append(f"Dossiers aangepast: {', '.join(map(str, c.cases_touched))}{closed}.")
            if c.digests_deleted:
                out.append(f"Een nog niet verzonden weekoverzicht noemde een gewist bericht en is verwijderd "
                           f"({', '.join(sorted(set(c.digests_deleted)))}); maak het opnieuw met "
                           f"`schoolwacht digest --send`.")
            out += [f"Let op: {problem}" for problem in self.file_problems]
            if c.posts:
                out.append("Let op: een bericht dat nog online staat, kan een volgende zoekronde opnieuw ophalen; "
                           "controleer dat met `schoolwacht privacy export` na de volgende ronde.")
        if self.kept:
            out.append(f"Bewaard: {len(self.kept)} bericht(en), en waarom:")
            out += [f"- bericht {k.post_id} ({k.platform}, {_day(k.created_at, zone)}): {k.reason}" for k in self.kept]
        if not self.applied and self.erase:
            out.append("Voer de opdracht opnieuw uit met --yes om te wissen.")
        return out


def _audit_detail(report: ErasureReport, *, files_unused: int) -> dict[str, Any]:
    counts = report.counts
    return {"subject_sha256": report.subject.fingerprint, "platform": report.subject.platform,
            "applied": report.applied, "erased_posts": [p for p, _, _ in report.erase],
            "kept": [{"post_id": k.post_id, "case_id": k.case_id, "reason": k.code} for k in report.kept],
            "classifications": counts.classifications, "feedback": counts.feedback, "captures": counts.captures,
            "files": files_unused, "mails_deleted": counts.mails_deleted, "mails_blanked": counts.mails_blanked,
            "cases": counts.cases_touched, "cases_closed": counts.cases_closed}


def erase_subject(settings: Settings, *, subject: Subject, apply: bool, actor: str = "cli",
                  actor_id: int | None = None, now: datetime | None = None) -> ErasureReport:
    """Erase what may be erased of the subject's posts (`apply`), or only say what would happen."""
    now = now or utcnow()
    engine = make_engine(settings.database.url)
    try:
        report = _erase_rows(engine, settings, subject=subject, apply=apply, actor=actor, actor_id=actor_id, now=now)
        # Committed: only now may the files go.
        if apply:
            report.files, report.file_problems = delete_unused_files(engine, settings, paths=report.counts.paths)
    finally:
        engine.dispose()
    return report


def _erase_rows(engine: Engine, settings: Settings, *, subject: Subject, apply: bool, actor: str,
                actor_id: int | None, now: datetime) -> ErasureReport:
    try:
        with session_scope(engine) as session:
            plan = plan_erasure(session, subject=subject, zone=settings.schedule.timezone)
            report = ErasureReport(subject=subject, applied=apply, kept=plan.kept,
                                   erase=[(p.id, p.platform, p.created_at) for p in plan.erase])  # type: ignore[misc]
            unused: set[str] = set()
            if apply:
                report.counts = erase_posts(session, posts=plan.erase, actor=actor, actor_id=actor_id, now=now)
                unused = unused_paths(session, paths=report.counts.paths)
            audit.record(session, actor=actor, actor_id=actor_id,
                         action="privacy_erase" if apply else "privacy_erase_preview",
                         object_type="subject", object_id=subject.fingerprint,
                         detail=_audit_detail(report, files_unused=len(unused)), now=now)
    except IntegrityError:
        # A crawl or the classifier added a row for one of these posts meanwhile; nothing was changed.
        raise SchoolwachtError("Er is tegelijk iets aan deze berichten veranderd; er is niets gewist. "
                               "Voer de opdracht opnieuw uit.") from None
    return report


__all__ = ["ERASED_NOTE", "ErasureCounts", "ErasurePlan", "ErasureReport", "Kept", "Subject", "cases_by_post",
           "delete_unused_files", "digest_quote", "erase_posts", "erase_subject", "handle_key", "mails_about",
           "mentioned_posts", "plan_erasure", "refusal", "subject_posts", "unused_paths"]
