"""`schoolwacht evidence export` and `schoolwacht evidence verify` as a user runs them (a real process)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select

from store.models import AuditEntry
from tests.helpers.evidence import closed_port_url, install, rewrite_zip, zip_members
from tests.helpers.fixtures import ROOT, Env
from tests.helpers.web import make_user


def _run(env: Env, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "schoolwacht.cli", "--config", str(env.config_file), *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=180, env=dict(os.environ))


def test_export_then_verify_then_tamper(env: Env, tmp_path: Path) -> None:
    inst = install(env)
    seeded = inst.seed("Die juf van Verkruisen is een achterlijke heks", url=closed_port_url())
    make_user(env, "directeur@school.example", "director", name="Dirk Directeur")
    out = tmp_path / "dossier.zip"

    export = _run(env, "evidence", "export", str(seeded.case_id), "--out", str(out),
                  "--user", "Directeur@School.example")
    assert export.returncode == 0, export.stderr
    assert f"bewijsmap van dossier {seeded.case_id} geschreven naar {out}" in export.stdout
    with env.session() as session:
        entry = session.execute(select(AuditEntry).where(AuditEntry.action == "evidence_export")).scalars().one()
        assert entry.actor == "directeur@school.example" and entry.actor_id is not None

    verify = _run(env, "evidence", "verify", str(out))
    assert verify.returncode == 0 and "bewijsmap in orde" in verify.stdout, verify.stdout + verify.stderr

    members = zip_members(out)
    capture = next(n for n in members if n.startswith("captures/") and "/raw-" in n)
    members[capture] = members[capture][:-1] + bytes([members[capture][-1] ^ 1])
    members["extra.txt"] = b"toegevoegd"
    del members["timeline.json"]
    tampered = tmp_path / "gewijzigd.zip"
    rewrite_zip(out, tampered, members)
    bad = _run(env, "evidence", "verify", str(tampered))
    assert bad.returncode == 1
    assert bad.stdout.splitlines() == ["ontbreekt: timeline.json", "extra: extra.txt", f"gewijzigd: {capture}"]
    errors = bad.stderr.strip().splitlines()
    assert len(errors) == 1 and "1 ontbreekt, 1 extra, 1 gewijzigd" in errors[0]


def test_bad_input_is_one_line_and_nonzero(env: Env, tmp_path: Path) -> None:
    inst = install(env)
    negative = inst.seed("Verkruisen is geen goede school", categories=[])
    cases = [
        (["evidence", "export", "999", "--out", str(tmp_path / "a.zip")], "dossier 999 bestaat niet"),
        (["evidence", "export", str(negative.case_id), "--out", str(tmp_path / "a.zip")],
         "geen bericht dat mogelijk strafbaar of dringend is"),
        (["evidence", "export", str(negative.case_id), "--out", str(tmp_path / "a.zip"), "--user", "nie@mand.nl"],
         "onbekende of uitgeschakelde gebruiker"),
        (["evidence", "verify", str(tmp_path / "weg.zip")], "bestaat niet"),
    ]
    for args, message in cases:
        result = _run(env, *args)
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 1 and len(lines) == 1 and message in lines[0], (args, result.stderr)
    assert not (tmp_path / "a.zip").exists()
