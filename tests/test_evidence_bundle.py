"""The evidence bundle of a case (`evidence.bundle`): what the ZIP and its PDF report hold, that two
exports hold the same captures, and that bad input (unknown case, nothing flagged, a capture file
missing or altered on disk) is refused without writing a bundle."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from PIL import Image
from pypdf import PdfReader
from sqlalchemy import func, select

from classifier.labels import severity_for
from crawlers.manual import ManualReport, submit_report
from evidence import export_case, verify_bundle
from evidence.bundle import MANIFEST, REPORT, SUMS, TIMELINE
from schoolwacht.errors import InputError, NotFoundError, StorageError
from store import workflow
from store.audit import verify_chain
from store.cases import open_or_join_case
from store.classifications import add_classification
from store.models import AuditEntry, Capture, Case, CaseEvent
from store.types import utcnow
from tests.helpers.evidence import HOSTILE, PageServer, closed_port_url, install, zip_members
from tests.helpers.fixtures import Env

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


@pytest.fixture
def pages() -> Iterator[PageServer]:
    server = PageServer()
    yield server
    server.close()


def pdf_text(data: bytes) -> str:
    """The report's text as a reader sees it, whitespace normalised (lines break anywhere)."""
    return " ".join(" ".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages).split())


def _manifest(members: dict[str, bytes]) -> dict:  # type: ignore[type-arg]
    return json.loads(members[MANIFEST])


def _post_day(moment: datetime) -> str:
    return moment.astimezone(AMSTERDAM).strftime("%H:%M")


# -- what the bundle holds ------------------------------------------------------------------------

def test_export_holds_report_captures_timeline_manifest_and_sums(env_any_db: Env, pages: PageServer,
                                                                 tmp_path: Path) -> None:
    inst = install(env_any_db)
    posted = datetime(2026, 3, 2, 21, 15, 30, tzinfo=UTC)  # 22:15 in Amsterdam (CET)
    page_url = f"{pages.base}/post/De-juf-van-groep-5-is-een-achterlijke-heks"
    first = inst.seed("De juf van groep 5 op Verkruisen is een achterlijke heks", author="boze_buurman",
                      name="Bert Buurman", url=page_url, created_at=posted,
                      explanations={"insult": [{"start": 41, "end": 56, "text": "achterlijke heks"}]})
    hostile = inst.seed(HOSTILE, author="boze_buurman", name="Bert Buurman", url=closed_port_url())
    assert hostile.case_id == first.case_id  # same author: joins the open case
    case_id = first.case_id
    assert case_id is not None
    with env_any_db.session() as session:
        case = session.get(Case, case_id)
        workflow.add_note(session, case, note="Ouder gebeld, wil niet verwijderen.", actor="directeur@school.example",
                          actor_id=None)  # type: ignore[arg-type]

    out = tmp_path / "bewijs" / "dossier.zip"
    result = export_case(inst.settings, case_id=case_id, out=out, actor="directeur@school.example")
    assert result.path == out and out.is_file()
    members = zip_members(out)
    names = list(members)
    assert names[0] == REPORT and names[-3:] == [TIMELINE, MANIFEST, SUMS]
    captures = [n for n in names if n.startswith("captures/")]
    assert {n.split("/")[1] for n in captures} == {f"post-{first.post_id}", f"post-{hostile.post_id}"}
    kinds = sorted(n.split("/")[2].split("-")[0] for n in captures)
    assert kinds == ["raw", "raw", "rendering", "screenshot"]  # the closed port got a rendering

    # captures/: the originals byte for byte, as stored
    with env_any_db.session() as session:
        rows = list(session.execute(select(Capture).where(Capture.post_id.in_([first.post_id, hostile.post_id])))
                    .scalars())
    by_sha = {hashlib.sha256(members[n]).hexdigest(): n for n in captures}
    for row in rows:
        stored = (inst.settings.storage.dir / row.path).read_bytes()
        assert members[by_sha[row.sha256]] == stored
    screenshot = next(n for n in captures if "/screenshot-" in n)
    assert members[screenshot].startswith(b"\x89PNG\r\n\x1a\n")

    # manifest.json: each file, the exporter, the time, the version
    manifest = _manifest(members)
    assert manifest["case_id"] == case_id and manifest["school"] == "obs BM Verkruisen"
    assert manifest["exported_by"] == "directeur@school.example" and manifest["schoolwacht_version"] == "0.1.0"
    assert datetime.fromisoformat(manifest["exported_at"]) > utcnow() - timedelta(minutes=5)
    listed = {f["path"]: f for f in manifest["files"]}
    assert set(listed) == set(names) - {MANIFEST, SUMS}
    for path, entry in listed.items():
        assert entry["size"] == len(members[path]) and entry["sha256"] == hashlib.sha256(members[path]).hexdigest()
    assert listed[screenshot]["source_url"] == page_url and listed[screenshot]["captured_at"].endswith("Z")
    raw_first = next(p for p in captures if p.startswith(f"captures/post-{first.post_id}/raw-"))
    assert listed[raw_first]["captured_at"] and listed[raw_first]["post_ids"] == [first.post_id]

    # SHA256SUMS: what `sha256sum -c` reads, checked by the real tool
    extracted = tmp_path / "uitgepakt"
    with zipfile.ZipFile(out) as archive:
        archive.extractall(extracted)
    check = subprocess.run(["sha256sum", "-c", SUMS], cwd=extracted, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    assert check.stdout.count(": OK") == len(names) - 1
    assert verify_bundle(out).ok

    # timeline.json: who did what when
    timeline = json.loads(members[TIMELINE])
    actions = [e["action"] for e in timeline["events"]]
    assert actions[:3] == ["opened", "post_added", "note"] and actions.count("evidence_capture") == 2
    note = timeline["events"][2]
    assert note["actor"] == "directeur@school.example" and note["note"] == "Ouder gebeld, wil niet verwijderen."
    assert note["at"].endswith("Z") and note["at_local"].endswith(("+01:00", "+02:00"))

    # rapport.pdf: the fields the police ask for
    text = pdf_text(members[REPORT])
    for expected in ("Bewijsmap voor de politie", f"Dossier #{case_id}", "obs BM Verkruisen", "Samenvatting",
                     "Mastodon", page_url, "@boze_buurman", "Bert Buurman",
                     "2026-03-02 21:15:30 UTC", "ma 2 mrt 2026 22:15 (Europe/Amsterdam)",
                     "De juf van groep 5 op Verkruisen is een achterlijke heks", "belediging, art. 266 Sr",
                     "«achterlijke heks»", "Tijdlijn van het dossier", "Ouder gebeld, wil niet verwijderen.",
                     "directeur@school.example", "Klachttermijn", "klachtdelict", "Schermafbeelding gemaakt door "
                     "Schoolwacht met de browser Chromium", "WEERGAVE door Schoolwacht", "verbinding geweigerd",
                     "Bestanden in deze bewijsmap", "sha256sum -c SHA256SUMS", "Schoolwacht-versie 0.1.0"):
        assert expected in text, expected
    for path in [*captures, TIMELINE]:
        assert path in text and hashlib.sha256(members[path]).hexdigest() in text
    # the capture time of each post, in UTC and in Amsterdam
    raw_time = datetime.fromisoformat(listed[raw_first]["captured_at"])
    assert raw_time.strftime("%Y-%m-%d %H:%M:%S UTC") in text and _post_day(raw_time) in text
    # hostile HTML is literal text in the report, in full: no link, no script, no annotation
    assert " ".join(HOSTILE.split()) in text
    assert b"/JavaScript" not in members[REPORT] and b"/URI" not in members[REPORT]
    assert all("/Annots" not in page for page in PdfReader(io.BytesIO(members[REPORT])).pages)

    # the export is an audit entry and a timeline event, with the hashes of what was handed out
    with env_any_db.session() as session:
        assert verify_chain(session).ok
        [entry] = session.execute(select(AuditEntry).where(AuditEntry.action == "evidence_export")).scalars()
        assert entry.actor == "directeur@school.example" and entry.object_id == str(case_id)
        assert entry.detail["zip_sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
        assert entry.detail["sha256sums_sha256"] == hashlib.sha256(members[SUMS]).hexdigest()
        [event] = session.execute(select(CaseEvent).where(CaseEvent.action == "evidence_export")).scalars()
        assert event.case_id == case_id and result.sha256 in event.note


def test_two_exports_hold_identical_captures(env: Env, pages: PageServer, tmp_path: Path) -> None:
    inst = install(env)
    one = inst.seed("Verkruisen heeft de slechtste juffen", url=f"{pages.base}/post/slechtste-juffen")
    inst.seed("En de meester van Verkruisen is een loser", url=None)
    first = zip_members(export_case(inst.settings, case_id=one.case_id, out=tmp_path / "a.zip").path)  # type: ignore[arg-type]
    second = zip_members(export_case(inst.settings, case_id=one.case_id, out=tmp_path / "b.zip").path)  # type: ignore[arg-type]
    captures = sorted(n for n in first if n.startswith("captures/"))
    assert len(captures) == 4 and captures == sorted(n for n in second if n.startswith("captures/"))
    assert {n: first[n] for n in captures} == {n: second[n] for n in captures}
    hashes = [{f["path"]: f["sha256"] for f in _manifest(m)["files"] if f["path"].startswith("captures/")}
              for m in (first, second)]
    assert hashes[0] == hashes[1]
    with zipfile.ZipFile(tmp_path / "a.zip") as a, zipfile.ZipFile(tmp_path / "b.zip") as b:
        for name in captures:  # the entries' timestamps too: the capture time, not the export time
            assert a.getinfo(name).date_time == b.getinfo(name).date_time
            assert a.getinfo(name).CRC == b.getinfo(name).CRC
    with env.session() as session:  # the second export made no new images
        images = session.execute(select(func.count()).select_from(Capture)
                                 .where(Capture.kind.in_(["screenshot", "rendering"]))).scalar_one()
    assert images == 2


def test_many_posts_and_a_long_timeline(env: Env, tmp_path: Path) -> None:
    inst = install(env, screenshots=False)
    start = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
    long_text = "Verkruisen " + " ".join(f"woord{i}" for i in range(4000)) + " " + "x" * 3000 + " EINDE"
    seeded = [inst.seed(f"Bericht {i} over de juf van Verkruisen: wat een heks", author="stalker",
                        url=f"https://forum.example/t/{i}", created_at=start + timedelta(days=i),
                        categories=["insult", "harassment"]) for i in range(11)]
    seeded.append(inst.seed(long_text, author="stalker", url=None, created_at=start + timedelta(days=20)))
    case_id = seeded[0].case_id
    assert {s.case_id for s in seeded} == {case_id}
    with env.session() as session:
        case = session.get(Case, case_id)
        for i in range(150):
            workflow.add_note(session, case, note=f"Notitie {i}: " + "gesprek gevoerd " * (i % 7 + 1),  # type: ignore[arg-type]
                              actor="juf@school.example", actor_id=None, now=start + timedelta(hours=i))
    result = export_case(inst.settings, case_id=case_id, out=tmp_path / "lang.zip")  # type: ignore[arg-type]
    members = zip_members(result.path)
    timeline = json.loads(members[TIMELINE])["events"]
    assert sum(e["action"] == "note" for e in timeline) == 150 and len(timeline) == 1 + 11 + 150 + 12
    text = pdf_text(members[REPORT])
    assert "Bericht 12 van 12" in text and "Notitie 0:" in text and "Notitie 149:" in text
    assert "woord3999" in text and text.count("EINDE") == 1  # the long post in full
    assert "belaging, art. 285b Sr" in text and "screenshots = false" in text
    assert len(PdfReader(io.BytesIO(members[REPORT])).pages) > 10
    assert verify_bundle(result.path).ok


def test_a_manual_report_keeps_its_uploaded_screenshot(env: Env, tmp_path: Path) -> None:
    inst = install(env)
    image = Image.new("RGB", (320, 200), (200, 30, 30))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    upload = buffer.getvalue()
    with env.session() as session:
        post = submit_report(session, inst.settings, ManualReport(
            school="obs BM Verkruisen", text="In de ouder-app: die juf van Verkruisen is een slet",
            platform="whatsapp", author="moeder_k", created_at=datetime(2026, 2, 1, 9, 30, tzinfo=UTC),
            screenshot=upload))
        row = add_classification(session, post_id=post.id, model="test", version="1", language="nl",  # type: ignore[arg-type]
                                 sentiment="negative", sentiment_score=0.9, scores={}, categories=["insult"],
                                 explanations={}, severity=severity_for("negative", ["insult"]))
        case = open_or_join_case(session, post=post, classification=row)
        assert case is not None
        case_id = case.id
    members = zip_members(export_case(inst.settings, case_id=case_id, out=tmp_path / "melding.zip").path)  # type: ignore[arg-type]
    images = [n for n in members if "/screenshot-" in n or "/rendering-" in n]
    assert len(images) == 1 and "/screenshot-" in images[0] and members[images[0]] == upload
    text = pdf_text(members[REPORT])
    assert "Schermafbeelding die bij de melding is aangeleverd" in text and "WhatsApp" in text
    assert "@moeder_k" in text and "2026-02-01 09:30:00 UTC" in text and "zo 1 feb 2026 10:30" in text


# -- bad input ------------------------------------------------------------------------------------

def test_unknown_case_and_case_without_flagged_posts_are_refused(env: Env, tmp_path: Path) -> None:
    inst = install(env)
    with pytest.raises(NotFoundError, match="dossier 999 bestaat niet"):
        export_case(inst.settings, case_id=999, out=tmp_path / "x.zip")
    negative = inst.seed("Ik vind Verkruisen echt een slechte school", categories=[])
    with pytest.raises(InputError, match="geen bericht dat mogelijk strafbaar of dringend is"):
        export_case(inst.settings, case_id=negative.case_id, out=tmp_path / "x.zip")  # type: ignore[arg-type]
    assert not list(tmp_path.glob("*.zip")) and not list(tmp_path.glob(".bewijsmap-*"))
    with env.session() as session:
        assert session.execute(select(func.count()).select_from(AuditEntry)
                               .where(AuditEntry.action == "evidence_export")).scalar_one() == 0


@pytest.mark.parametrize("damage", ["missing", "altered"])
def test_a_capture_file_missing_or_altered_on_disk_stops_the_export(env: Env, tmp_path: Path, damage: str) -> None:
    inst = install(env, screenshots=False)
    seeded = inst.seed("De directeur van Verkruisen is een oplichter", categories=["defamation"])
    with env.session() as session:
        raw = session.execute(select(Capture).where(Capture.post_id == seeded.post_id)).scalars().one()
    stored = inst.settings.storage.dir / raw.path
    out = tmp_path / "dossier.zip"
    out.write_bytes(b"an earlier export")
    if damage == "missing":
        stored.unlink()
        expected = f"{raw.path} \\(raw\\) van bericht {seeded.post_id} ontbreekt"
    else:
        stored.write_bytes(stored.read_bytes() + b" ")
        expected = f"{raw.path} \\(raw\\) van bericht {seeded.post_id} komt niet meer overeen"
    with pytest.raises(StorageError, match=expected):
        export_case(inst.settings, case_id=seeded.case_id, out=out)  # type: ignore[arg-type]
    assert out.read_bytes() == b"an earlier export"  # nothing half-written, nothing replaced
    assert not list(tmp_path.glob(".bewijsmap-*"))
    with env.session() as session:
        assert session.execute(select(func.count()).select_from(AuditEntry)
                               .where(AuditEntry.action == "evidence_export")).scalar_one() == 0
