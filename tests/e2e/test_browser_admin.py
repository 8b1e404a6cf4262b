"""In a real browser: the admin pages (sources, users, audit log) and who may reach them."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.e2e.conftest import ADMIN, DIRECTOR, SOURCE_NAME, STAFF, Live, assert_no_inline

Shot = Callable[[Page, str], Path]


def test_admin_switches_a_source_on_and_runs_it_now(page: Page, live: Live, shot: Shot) -> None:
    live.login(page, ADMIN)
    page.get_by_role("navigation").get_by_role("link", name="Bronnen").click()
    row = page.locator(f"tr#bron-{SOURCE_NAME}")
    expect(row.locator("td").nth(3)).to_have_text("uit")
    row.get_by_role("button", name="Aanzetten").click()
    expect(page.get_by_role("status")).to_have_text(f"Bron {SOURCE_NAME} staat nu aan.")
    expect(row.locator("td").nth(3)).to_have_text("aan")

    # The source points at a closed port: the crawl fails and the page says so.
    row.get_by_role("button", name="Nu ophalen").click()
    expect(page.get_by_role("status")).to_contain_text(f"Ophalen van bron {SOURCE_NAME} is gestart.")
    deadline = time.monotonic() + 90
    while row.locator("td").nth(4).inner_text() != "fout" and time.monotonic() < deadline:
        time.sleep(1)
        page.goto("/sources")
    expect(row.locator(".src-error-text")).not_to_have_text("–")
    shot(page, "sources")
    # The crawl (a process of its own, which syncs the config first) keeps the dashboard's switch.
    expect(row.locator("td").nth(3)).to_have_text("aan")
    expect(row.locator("td").nth(4)).to_have_text("fout")
    assert_no_inline(page)

    row.get_by_role("button", name="Uitzetten").click()
    expect(page.get_by_role("status")).to_have_text(f"Bron {SOURCE_NAME} staat nu uit.")


def test_admin_adds_and_deactivates_a_user(page: Page, live: Live, shot: Shot) -> None:
    live.login(page, ADMIN)
    page.get_by_role("navigation").get_by_role("link", name="Gebruikers").click()
    form = page.locator("form[action='/admin/users']")
    form.get_by_label("E-mailadres").fill("stagiair@school.example")
    form.get_by_label("Naam").fill("Sam Stagiair")
    form.get_by_label("Rol").select_option("staff")
    form.locator("input[name=password]").fill("een-lang-genoeg-wachtwoord")
    form.get_by_role("button", name="Opslaan").click()
    expect(page.get_by_role("status")).to_have_text("Gebruiker stagiair@school.example toegevoegd als medewerker.")
    row = page.locator("table.ad-users tr", has_text="stagiair@school.example")
    expect(row).to_contain_text("Sam Stagiair")
    assert_no_inline(page)
    shot(page, "admin-users")

    # The new account works ...
    other = page.context.browser.new_context(base_url=live.url)  # type: ignore[union-attr]
    try:
        staff_page = other.new_page()
        live.login(staff_page, "stagiair@school.example", "een-lang-genoeg-wachtwoord")
        expect(staff_page.locator(".who")).to_contain_text("Sam Stagiair (medewerker)")
        # ... until an admin switches it off: the open session ends at once.
        row.get_by_role("button", name="Uitschakelen").click()
        expect(page.get_by_role("status")).to_have_text(
            "Gebruiker stagiair@school.example is uitgeschakeld en overal uitgelogd.")
        staff_page.goto("/")
        expect(staff_page).to_have_url(f"{live.url}/login?next=/")
    finally:
        other.close()


def test_audit_log_shows_an_intact_chain(page: Page, live: Live, shot: Shot) -> None:
    seeded = live.seed_post("De directeur van Verkruisen is een idioot")
    live.login(page, DIRECTOR)
    page.goto(f"/cases/{seeded.case_id}")
    page.get_by_role("button", name="Uitloggen").click()
    live.login(page, ADMIN)
    page.get_by_role("navigation").get_by_role("link", name="Logboek").click()
    expect(page.get_by_role("status")).to_contain_text("De keten van het logboek is intact")
    table = page.locator("table.ad-audit")
    expect(table).to_contain_text("case_view")
    expect(table).to_contain_text(DIRECTOR)
    page.locator("select[name=actie]").select_option("case_view")
    page.get_by_role("button", name="Tonen").click()
    expect(table.locator("tbody tr")).to_have_count(1)
    expect(table.locator("tbody tr")).to_contain_text(f"case {seeded.case_id}")
    assert_no_inline(page)
    shot(page, "admin-audit")


def test_staff_and_director_cannot_reach_admin_pages(page: Page, live: Live) -> None:
    for email, paths in ((STAFF, ("/sources", "/admin/users", "/admin/audit", "/review")),
                         (DIRECTOR, ("/sources", "/admin/users", "/admin/audit"))):
        live.login(page, email)
        for path in paths:
            response = page.goto(path)
            assert response is not None and response.status == 403, (email, path)
            expect(page.get_by_role("heading", name="Geen toegang")).to_be_visible()
        page.get_by_role("button", name="Uitloggen").click()
