"""In a real browser: triaging flagged posts in the review queue (confirm, dismiss, correct)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Page, expect
from sqlalchemy import select

from store.models import Case, Feedback
from tests.e2e.conftest import DIRECTOR, STAFF, Live, assert_no_inline

Shot = Callable[[Page, str], Path]


def _feedback(live: Live) -> dict[int, Feedback]:
    with live.env.session() as session:
        return {f.post_id: f for f in session.execute(select(Feedback)).scalars()}


def test_director_confirms_and_dismisses_posts_in_the_review_queue(page: Page, live: Live, shot: Shot) -> None:
    insult = live.seed_post("Die juf van Verkruisen is een domme trut", categories=["insult"], author="boos_ouder",
                            url="https://mastodon.example/@boos_ouder/1")
    threat = live.seed_post("Ik steek BM Verkruisen morgen in de fik", categories=["threat"], author="anoniem_77",
                            explanations={"threat": [{"start": 4, "end": 9, "text": "steek", "source": "rule",
                                                      "rule": "arson"}]})
    live.login(page, DIRECTOR)
    page.get_by_role("navigation").get_by_role("link", name="Te beoordelen").click()
    expect(page).to_have_url(f"{live.url}/review")
    expect(page.locator(".review-count")).to_have_text("2 berichten te beoordelen.")
    items = page.locator("article.review-item")
    expect(items).to_have_count(2)
    # Urgent (a threat) comes before possibly criminal.
    expect(items.nth(0)).to_have_id(f"bericht-{threat.post_id}")
    first = items.nth(0)
    expect(first.locator(".sev-urgent")).to_have_text("dringend (bedreiging)")
    expect(first.locator("mark")).to_have_text("steek")
    expect(first.locator(".review-categories")).to_contain_text("bedreiging – bedreiging, art. 285 Sr")
    expect(first.get_by_role("link", name=f"dossier {threat.case_id}")).to_be_visible()
    second = page.locator(f"#bericht-{insult.post_id}")
    expect(second.get_by_role("link", name="bericht openen")).to_have_attribute(
        "href", "https://mastodon.example/@boos_ouder/1")
    expect(second).to_contain_text("Mastodon · boos_ouder")
    assert_no_inline(page)
    shot(page, "review")

    second.get_by_role("button", name="Bevestigen").click()
    expect(page.get_by_role("status")).to_have_text(f"Bericht {insult.post_id} bevestigd: de markering klopt.")
    expect(page.locator(f"#bericht-{insult.post_id}")).to_have_count(0)
    expect(page.locator(".review-count")).to_have_text("1 bericht te beoordelen.")

    page.locator(f"#bericht-{threat.post_id}").get_by_role("button", name="Vals alarm").click()
    expect(page.get_by_role("status")).to_have_text(
        f"Bericht {threat.post_id} gemarkeerd als vals alarm. Dossier {threat.case_id} is gesloten als vals alarm.")
    expect(page.get_by_text("Niets te beoordelen.")).to_be_visible()

    feedback = _feedback(live)
    assert feedback[insult.post_id].verdict == "confirmed" and feedback[threat.post_id].verdict == "dismissed"
    assert feedback[insult.post_id].user_id == live.users[DIRECTOR]
    with live.env.session() as session:
        assert session.get(Case, threat.case_id).status == "dismissed"  # type: ignore[union-attr]
        assert session.get(Case, insult.case_id).status == "new"  # type: ignore[union-attr]


def test_director_corrects_the_labels(page: Page, live: Live) -> None:
    post = live.seed_post("De directeur van Verkruisen liegt over het geld van de ouderraad",
                          categories=["insult"], author="kritische_ouder")
    live.login(page, DIRECTOR)
    page.goto("/review")
    item = page.locator(f"#bericht-{post.post_id}")
    item.get_by_text("Labels corrigeren").click()
    form = item.locator("form[action$='/correct']")
    form.get_by_label("belediging").uncheck()
    form.get_by_label("smaad of laster").check()
    form.get_by_label("Toelichting (optioneel)").fill("Een beschuldiging, geen scheldwoord.")
    form.get_by_role("button", name="Correctie opslaan").click()
    expect(page.get_by_role("status")).to_have_text(
        f"Labels van bericht {post.post_id} gecorrigeerd: negatief, smaad of laster.")
    row = _feedback(live)[post.post_id]
    assert (row.verdict, row.sentiment, row.categories) == ("corrected", "negative", ["defamation"])
    assert row.note == "Een beschuldiging, geen scheldwoord."


def test_staff_cannot_open_the_review_queue(page: Page, live: Live) -> None:
    live.seed_post("Die juf van Verkruisen is een domme trut")
    live.login(page, STAFF)
    response = page.goto("/review")
    assert response is not None and response.status == 403
    expect(page.get_by_role("heading", name="Geen toegang")).to_be_visible()
    expect(page.get_by_text("domme trut")).to_have_count(0)
