"""In a real browser: filing a manual report with a screenshot through the form's file input.

The report is classified by the real builtin model inside the request, so a threat opens a case
and the director lands on it."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from PIL import Image, ImageDraw
from playwright.sync_api import Page, expect
from sqlalchemy import select

from store.files import read_verified
from store.models import Capture, Case, CasePost, Classification, Post
from tests.e2e.conftest import DIRECTOR, Live, assert_no_inline

Shot = Callable[[Page, str], Path]
THREAT = ("Als die directeur van Verkruisen morgen weer op het plein staat, sla ik hem in elkaar. "
          "Ik weet waar hij woont.")


def _screenshot_png(path: Path) -> bytes:
    """A small picture of a chat message (made here, no fixture file)."""
    image = Image.new("RGB", (360, 200), "#ece5dd")
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((16, 40, 340, 150), radius=12, fill="#ffffff")
    draw.text((30, 60), "Groepsapp ouders groep 6", fill="#075e54")
    draw.text((30, 90), "sla ik hem in elkaar", fill="#000000")
    image.save(path, format="PNG")
    return path.read_bytes()


def test_director_files_a_report_with_a_screenshot(page: Page, live: Live, shot: Shot, tmp_path: Path) -> None:
    png = _screenshot_png(tmp_path / "whatsapp.png")
    yesterday = (datetime.now(ZoneInfo("Europe/Amsterdam")) - timedelta(days=1)).date().isoformat()
    live.login(page, DIRECTOR)
    page.get_by_role("navigation").get_by_role("link", name="Bericht melden").click()
    expect(page.get_by_role("heading", name="Bericht melden")).to_be_visible()
    form = page.locator("form[action='/report']")
    form.get_by_label("Tekst van het bericht").fill(THREAT)
    form.get_by_label("Schrijver (naam of account)").fill("vader van Sem")
    form.get_by_label("Platform").select_option("whatsapp")
    form.locator("input[name=date]").fill(yesterday)
    form.locator("input[name=time]").fill("19:45")
    form.locator("input[type=file][name=screenshot]").set_input_files(str(tmp_path / "whatsapp.png"))
    assert_no_inline(page)
    shot(page, "report")
    form.get_by_role("button", name="Melding versturen").click()

    # Classified at once (the builtin model loads in the request: allow for it).
    expect(page).to_have_url(_case_url(live), timeout=60_000)
    notice = page.get_by_role("status")
    expect(notice).to_contain_text("Melding opgeslagen. Beoordeeld als dringend (bedreiging): dossier")
    expect(page.locator(".case-post .post-text")).to_have_text(THREAT)
    expect(page.locator(".case-post-meta")).to_contain_text("vader van Sem")
    expect(page.locator(".case-post-meta")).to_contain_text("WhatsApp")
    shot(page, "report-case")

    case_id = int(urlsplit(page.url).path.rsplit("/", 1)[1])
    with live.env.session() as session:
        post = session.execute(select(Post).where(Post.reported_by == live.users[DIRECTOR])).scalars().one()
        assert (post.platform, post.text, post.author_handle) == ("whatsapp", THREAT, "vader van Sem")
        assert post.created_at.astimezone(ZoneInfo("Europe/Amsterdam")).strftime("%Y-%m-%d %H:%M") \
            == f"{yesterday} 19:45"
        capture = session.execute(select(Capture).where(Capture.post_id == post.id, Capture.kind == "screenshot")
                                  ).scalars().one()
        assert capture.sha256 == hashlib.sha256(png).hexdigest() and capture.media_type == "image/png"
        assert read_verified(live.settings.storage.dir, capture.path, capture.sha256) == png
        classification = session.execute(select(Classification).where(Classification.post_id == post.id)
                                         ).scalars().one()
        assert classification.severity == "urgent" and "threat" in classification.categories
        assert session.get(CasePost, (case_id, post.id)) is not None
        assert session.get(Case, case_id).severity == "urgent"  # type: ignore[union-attr]


def _case_url(live: Live) -> object:
    import re

    return re.compile(re.escape(live.url) + r"/cases/\d+(\?melding=.*)?$")


def test_a_file_that_is_not_an_image_is_refused_in_dutch(page: Page, live: Live, tmp_path: Path) -> None:
    fake = tmp_path / "schermafbeelding.png"
    fake.write_bytes(b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>")
    live.login(page, DIRECTOR)
    page.goto("/report")
    form = page.locator("form[action='/report']")
    form.get_by_label("Tekst van het bericht").fill("De conciërge van Verkruisen is een sukkel")
    form.locator("input[type=file][name=screenshot]").set_input_files(str(fake))
    form.get_by_role("button", name="Melding versturen").click()
    expect(page.locator(".field-error")).to_have_text("De schermafbeelding moet een PNG- of JPEG-afbeelding zijn.")
    expect(page.locator("p.error")).to_contain_text("De melding is nog niet opgeslagen")
    # What was typed is kept.
    expect(page.locator("textarea[name=text]")).to_have_value("De conciërge van Verkruisen is een sukkel")
    with live.env.session() as session:
        assert session.execute(select(Post)).first() is None
