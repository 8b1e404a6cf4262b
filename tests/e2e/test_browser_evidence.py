"""In a real browser: the director clicks "Bewijsmap downloaden (ZIP)" on a case, the ZIP arrives
as a download and verifies; staff and admin see no such button."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Page, expect
from pypdf import PdfReader

from evidence import verify_bundle
from tests.e2e.conftest import ADMIN, DIRECTOR, STAFF, Live, assert_no_inline
from tests.helpers.evidence import PageServer, zip_members

Shot = Callable[[Page, str], Path]
BUTTON = "Bewijsmap downloaden (ZIP)"


def test_the_director_downloads_a_bundle_that_verifies(page: Page, live: Live, shot: Shot, tmp_path: Path) -> None:
    site = PageServer()
    try:
        url = f"{site.base}/post/Ik-weet-waar-die-meester-woont"
        seeded = live.seed_post("Ik weet waar die meester van Verkruisen woont, Dorpsstraat 12, ik kom eraan",
                                categories=["threat", "doxing"], author="dreiger", url=url)
        live.login(page, DIRECTOR)
        page.goto(f"/cases/{seeded.case_id}")
        section = page.locator("section.case-evidence")
        expect(section.get_by_role("button", name=BUTTON)).to_be_visible()
        assert_no_inline(page)
        shot(page, "case-evidence")
        with page.expect_download() as info:
            section.get_by_role("button", name=BUTTON).click()
        download = info.value
        assert re.fullmatch(rf"bewijsmap-dossier-{seeded.case_id}-\d{{8}}T\d{{6}}Z\.zip", download.suggested_filename)
        target = tmp_path / download.suggested_filename
        download.save_as(target)
        report = verify_bundle(target)
        assert report.ok, report.lines()
        text = " ".join(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(zip_members(target)["rapport.pdf"]))
                                 .pages).split())
        assert "Dorpsstraat 12" in text and "bedreiging, art. 285 Sr" in text and "doxing, art. 285d Sr" in text
        # The live installation does not allow private addresses: the page on 127.0.0.1 is refused
        # by the SSRF guard before the browser asks for it, and the report says so.
        assert "WEERGAVE door Schoolwacht" in text and "niet-openbare adres 127.0.0.1" in text
        assert site.hits == []
        page.reload()
        expect(page.locator("table.case-timeline")).to_contain_text("bewijsmap geëxporteerd")
    finally:
        site.close()


def test_staff_and_admin_see_no_button(page: Page, live: Live) -> None:
    seeded = live.seed_post("Die juf van Verkruisen is een heks", categories=["insult"], author="ouder_z")
    live.login(page, DIRECTOR)
    page.goto(f"/cases/{seeded.case_id}")
    assign = page.locator("form[action$='/assign']")
    assign.locator("select[name=assignee]").select_option(label="Juf Janna (medewerker)")
    assign.get_by_role("button", name="Toewijzen").click()
    expect(page.get_by_role("button", name=BUTTON)).to_be_visible()
    page.get_by_role("button", name="Uitloggen").click()
    for email in (STAFF, ADMIN):
        live.login(page, email)
        page.goto(f"/cases/{seeded.case_id}")
        expect(page.get_by_role("heading", level=1)).to_contain_text(f"Dossier #{seeded.case_id}")
        expect(page.get_by_role("button", name=BUTTON)).to_have_count(0)
        page.get_by_role("button", name="Uitloggen").click()
