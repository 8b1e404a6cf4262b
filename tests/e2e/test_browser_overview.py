"""In a real browser: the overview's figures, chart, overdue steps and failing sources."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from playwright.sync_api import Page, expect
from sqlalchemy import select

from store.models import Source
from store.types import utcnow
from tests.e2e.conftest import DIRECTOR, SOURCE_NAME, STAFF, Live, assert_no_inline

Shot = Callable[[Page, str], Path]


def test_overview_counts_this_week_and_lists_what_needs_doing(page: Page, live: Live, shot: Shot) -> None:
    now = utcnow()
    local = now.astimezone(ZoneInfo("Europe/Amsterdam"))
    week_start = (local - timedelta(days=local.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)
    this_week = now - min(timedelta(hours=2), (local - week_start) / 2)
    last_week = week_start - timedelta(days=3)
    live.seed_post("Die juf van Verkruisen is een sukkel", categories=["insult"], author="a", created_at=this_week)
    live.seed_post("Ik sla die meester van Verkruisen in elkaar", categories=["threat"], author="b",
                   created_at=this_week)
    live.seed_post("Mooie musical op Verkruisen!", categories=[], sentiment="positive", author="c",
                   created_at=this_week)
    live.seed_post("De directeur van Verkruisen is een leugenaar", categories=["defamation"], author="d",
                   created_at=last_week)
    with live.env.session() as session:
        source = session.execute(select(Source).where(Source.name == SOURCE_NAME)).scalars().one()
        source.last_error, source.last_error_at = "HTTP 503 van mastodon.example", now - timedelta(hours=1)
        source.last_run_at = source.last_error_at
        session.add(source)

    live.login(page, DIRECTOR)
    school = page.locator("article.ov-school")
    figures = school.locator(".ov-figures dd")
    expect(figures.nth(0)).to_contain_text("3")
    expect(figures.nth(0)).to_contain_text("vorige week 1 (+2)")
    expect(figures.nth(1)).to_contain_text("2")
    expect(figures.nth(1)).to_contain_text("vorige week 1 (+1)")
    expect(figures.nth(2)).to_have_text("3")  # three open cases (the positive post has none)
    expect(school.locator("table.ov-status tbody tr")).to_have_count(1)
    expect(school.locator("table.ov-status")).to_contain_text("nieuw")
    # The 12-week chart is a real PNG that the browser decoded.
    chart = page.locator("img.ov-chart")
    expect(chart).to_have_attribute("alt", "Grafiek van de vermeldingen per week over de laatste 12 weken, per "
                                           "school, naar sentiment. obs BM Verkruisen: deze week 3 vermeldingen, "
                                           "waarvan 2 gemarkeerd.")
    assert chart.evaluate("img => img.complete && img.naturalWidth > 0")
    errors = page.locator("section", has=page.get_by_role("heading", name="Bronnen met fouten"))
    expect(errors).to_contain_text(SOURCE_NAME)
    expect(errors).to_contain_text("HTTP 503 van mastodon.example")
    assert_no_inline(page)
    shot(page, "overview-with-data")

    page.get_by_role("link", name="nieuw").click()
    expect(page).to_have_url(f"{live.url}/cases?status=new")
    expect(page.locator("table.cases tbody tr")).to_have_count(3)


def test_staff_overview_counts_only_their_cases_and_hides_sources(page: Page, live: Live) -> None:
    live.seed_post("Die juf van Verkruisen is een sukkel", categories=["insult"])
    live.login(page, STAFF)
    expect(page.get_by_text("Uw open dossiers")).to_be_visible()
    expect(page.locator(".ov-figures dd").nth(2)).to_have_text("0")
    expect(page.get_by_role("heading", name="Bronnen met fouten")).to_have_count(0)
