"""The case page's "Bewijsmap downloaden (ZIP)": the director's alone, with CSRF, answering the ZIP
as a download; a case without a flagged post goes back to the page with the reason."""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import select

from evidence import verify_bundle
from store.audit import verify_chain
from store.models import AuditEntry, Case
from tests.helpers import web
from tests.helpers.evidence import HOSTILE, closed_port_url, install
from tests.helpers.fixtures import Env

DIRECTOR = "directeur@school.example"
ADMIN = "beheer@school.example"
STAFF = "juf@school.example"
BUTTON = "Bewijsmap downloaden (ZIP)"


def _as(env: Env, email: str) -> web.TestClient:
    client = web.client(env.settings())
    web.login(client, email)
    return client


def test_the_director_downloads_the_bundle(env: Env, tmp_path: Path) -> None:
    inst = install(env)
    seeded = inst.seed(HOSTILE, url=closed_port_url())
    web.make_user(env, DIRECTOR, "director")
    client = _as(env, DIRECTOR)
    page = client.get(f"/cases/{seeded.case_id}").text
    assert BUTTON in page and f'action="/cases/{seeded.case_id}/evidence"' in page
    token = web.csrf(client, f"/cases/{seeded.case_id}")
    response = client.post(f"/cases/{seeded.case_id}/evidence", data={"csrf_token": token},
                           follow_redirects=False)
    assert response.status_code == 200, response.text[:300]
    assert response.headers["content-type"] == "application/zip"
    disposition = response.headers["content-disposition"]
    assert disposition.startswith("attachment;")
    assert re.search(rf"bewijsmap-dossier-{seeded.case_id}-\d{{8}}T\d{{6}}Z\.zip", disposition)
    assert "default-src 'self'" in response.headers["content-security-policy"]
    target = tmp_path / "download.zip"
    target.write_bytes(response.content)
    assert verify_bundle(target).ok
    assert not [p for p in (inst.settings.storage.dir / "exports").iterdir()]  # the temporary file is gone
    with env.session() as session:
        assert verify_chain(session).ok
        entry = session.execute(select(AuditEntry).where(AuditEntry.action == "evidence_export")).scalars().one()
        assert entry.actor == DIRECTOR and entry.object_id == str(seeded.case_id)
    timeline = client.get(f"/cases/{seeded.case_id}").text
    assert "bewijsmap geëxporteerd" in timeline and "bewijs vastgelegd" in timeline
    assert "verbinding geweigerd" in timeline  # why there is a rendering, not a screenshot


def test_admin_and_staff_get_no_button_and_403(env: Env) -> None:
    inst = install(env)
    seeded = inst.seed("Die directeur van Verkruisen is een oplichter", categories=["defamation"])
    web.make_user(env, DIRECTOR, "director")
    web.make_user(env, ADMIN, "admin")
    staff_id = web.make_user(env, STAFF, "staff")
    with env.session() as session:
        case = session.get(Case, seeded.case_id)
        case.assignee_id = staff_id  # type: ignore[union-attr]  # staff see the case itself
    for email in (ADMIN, STAFF):
        client = _as(env, email)
        page = client.get(f"/cases/{seeded.case_id}")
        assert page.status_code == 200 and BUTTON not in page.text
        token = web.csrf(client, f"/cases/{seeded.case_id}")
        refused = client.post(f"/cases/{seeded.case_id}/evidence", data={"csrf_token": token})
        assert refused.status_code == 403 and "Geen toegang" in refused.text
    director = _as(env, DIRECTOR)
    without_token = director.post(f"/cases/{seeded.case_id}/evidence", data={})
    assert without_token.status_code == 403 and "Formulier verlopen" in without_token.text
    with env.session() as session:
        assert not session.execute(select(AuditEntry).where(AuditEntry.action == "evidence_export")).all()


def test_a_case_without_flagged_posts_goes_back_with_the_reason(env: Env) -> None:
    inst = install(env)
    negative = inst.seed("Verkruisen is geen goede school", categories=[])
    web.make_user(env, DIRECTOR, "director")
    client = _as(env, DIRECTOR)
    assert BUTTON not in client.get(f"/cases/{negative.case_id}").text
    token = web.csrf(client, f"/cases/{negative.case_id}")
    response = client.post(f"/cases/{negative.case_id}/evidence", data={"csrf_token": token})
    assert response.status_code == 200
    assert "Geen bewijsmap gemaakt" in response.text and "mogelijk strafbaar of dringend" in response.text
    assert not response.content.startswith(b"PK")
    assert client.post("/cases/999/evidence", data={"csrf_token": token}).status_code == 404
