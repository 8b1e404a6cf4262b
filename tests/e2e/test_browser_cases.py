"""In a real browser: walking a case from new to closed with the case page's buttons (rule 4),
reporting to the police, assigning, and what staff may see."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Locator, Page, expect
from sqlalchemy import select

from store.models import AuditEntry, Case, CaseEvent
from tests.e2e.conftest import DIRECTOR, OTHER_STAFF, STAFF, Live, assert_no_inline

Shot = Callable[[Page, str], Path]


def _action(page: Page, label: str) -> Locator:
    """The workflow form whose button reads `label`."""
    return page.locator("form.case-action").filter(has=page.get_by_role("button", name=label, exact=True))


def _status(page: Page) -> Locator:
    return page.locator(".case-facts dt:text-is('Status') + dd")


def test_a_case_walks_from_new_to_closed(page: Page, live: Live, shot: Shot) -> None:
    seeded = live.seed_post("De juf van groep 5 op Verkruisen is een achterlijke heks", categories=["insult"],
                            author="boze_buurman", url="https://mastodon.example/@boze_buurman/9")
    case_id = seeded.case_id
    live.login(page, DIRECTOR)
    page.get_by_role("navigation").get_by_role("link", name="Dossiers").click()
    expect(page.locator("table.cases tbody tr")).to_have_count(1)
    assert_no_inline(page)
    shot(page, "cases")
    page.get_by_role("link", name=f"#{case_id}").click()
    expect(page).to_have_url(f"{live.url}/cases/{case_id}")
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Dossier #{case_id}")
    expect(_status(page)).to_have_text("nieuw")
    expect(page.locator(".case-post .post-text")).to_have_text(
        "De juf van groep 5 op Verkruisen is een achterlijke heks")
    # Insult is a complaint offence: the 3-month deadline is on the page.
    expect(page.locator(".case-deadline")).to_contain_text("Klachtdelict")
    expect(page.locator(".case-message")).to_contain_text("Verkruisen")  # the ready removal request
    assert_no_inline(page)
    shot(page, "case")

    steps = [
        ("Beoordeeld", "beoordeeld", {}),
        ("Schrijver aangesproken", "schrijver aangesproken",
         {"note": "Telefonisch gesproken met de schrijver; hij haalt het weg."}),
        ("Verwijdering gevraagd", "verwijdering gevraagd", {}),
        ("Verwijderd (handmatig vastgelegd)", "verwijderd", {"note": "Zelf gekeken: het bericht is weg."}),
        ("Rectificatie geplaatst", "rectificatie geplaatst", {"url": "https://mastodon.example/@boze_buurman/10"}),
        ("Dossier sluiten", "gesloten", {}),
    ]
    for label, status, fields in steps:
        form = _action(page, label)
        expect(form).to_have_count(1)
        if "note" in fields and form.locator("textarea[name=note][required]").count():
            # The browser refuses the empty required note: nothing is sent.
            form.get_by_role("button", name=label, exact=True).click()
            assert form.locator("textarea[name=note]").evaluate("e => e.validity.valueMissing")
            expect(_status(page)).not_to_have_text(status)
        for name, value in fields.items():
            form.locator(f"[name={name}]").fill(value)
        form.get_by_role("button", name=label, exact=True).click()
        expect(page.get_by_role("status")).to_have_text(f"Status gewijzigd: {status}.")
        expect(_status(page)).to_have_text(status)
    expect(page.locator("form.case-action").filter(has=page.get_by_role("button", name="Dossier sluiten"))) \
        .to_have_count(0)
    expect(page.locator(".case-facts")).to_contain_text("Afgesloten")
    timeline = page.locator("table.case-timeline tbody")
    expect(timeline).to_contain_text("status: nieuw → beoordeeld")
    expect(timeline).to_contain_text("status: rectificatie geplaatst → gesloten")
    expect(timeline).to_contain_text("Telefonisch gesproken met de schrijver")
    expect(timeline.get_by_role("link", name="https://mastodon.example/@boze_buurman/10")).to_be_visible()
    shot(page, "case-closed")

    with live.env.session() as session:
        case = session.get(Case, case_id)
        assert case is not None and case.status == "closed" and case.closed_at is not None
        moves = [(e.data["from"], e.data["to"], e.actor) for e in session.execute(
            select(CaseEvent).where(CaseEvent.case_id == case_id, CaseEvent.action == "status")
            .order_by(CaseEvent.id)).scalars()]
        assert moves == [("new", "triaged", DIRECTOR), ("triaged", "addressed", DIRECTOR),
                         ("addressed", "removal_requested", DIRECTOR), ("removal_requested", "removed", DIRECTOR),
                         ("removed", "corrected", DIRECTOR), ("corrected", "closed", DIRECTOR)]
        audited = [a.action for a in session.execute(
            select(AuditEntry).where(AuditEntry.object_type == "case", AuditEntry.object_id == str(case_id))
            .order_by(AuditEntry.id)).scalars()]
        assert audited.count("case_status") == 6 and audited.count("case_view") >= 7


def test_a_case_reported_to_the_police_shows_date_and_reference(page: Page, live: Live) -> None:
    seeded = live.seed_post("Ik weet waar die meester van Verkruisen woont, Dorpsstraat 12", categories=["doxing"])
    live.login(page, DIRECTOR)
    page.goto(f"/cases/{seeded.case_id}")
    form = _action(page, "Aangifte gedaan")
    form.locator("input[name=reported_on]").fill("2026-11-20")
    form.locator("input[name=reference]").fill("PL0100-2026123456")
    form.get_by_role("button", name="Aangifte gedaan").click()
    expect(page.get_by_role("status")).to_have_text("Status gewijzigd: aangifte gedaan.")
    expect(page.locator(".case-facts")).to_contain_text("kenmerk PL0100-2026123456")
    expect(page.locator("table.case-timeline")).to_contain_text("kenmerk PL0100-2026123456")


def test_staff_see_only_the_cases_assigned_to_them(page: Page, live: Live) -> None:
    mine = live.seed_post("Verkruisen is een waardeloze school met rotleraren", categories=["insult"], author="a1")
    other = live.seed_post("Die directeur van Verkruisen is een oplichter", categories=["defamation"], author="a2")
    live.login(page, DIRECTOR)
    page.goto(f"/cases/{mine.case_id}")
    assign = page.locator("form[action$='/assign']")
    assign.locator("select[name=assignee]").select_option(label="Juf Janna (medewerker)")
    assign.get_by_role("button", name="Toewijzen").click()
    expect(page.locator(".case-facts dt:text-is('Toegewezen aan') + dd")).to_have_text("Juf Janna")
    page.get_by_role("button", name="Uitloggen").click()

    live.login(page, STAFF)
    page.goto("/cases")
    expect(page.locator("table.cases tbody tr")).to_have_count(1)
    page.get_by_role("link", name=f"#{mine.case_id}").click()
    expect(page.locator("form.case-action")).to_have_count(0)  # staff add notes, they do not move cases
    page.locator("form[action$='/note'] textarea[name=note]").fill("Ouder gebeld, volgt morgen.")
    page.get_by_role("button", name="Notitie opslaan").click()
    expect(page.get_by_role("status")).to_have_text("Notitie toegevoegd.")
    expect(page.locator("table.case-timeline")).to_contain_text("Ouder gebeld, volgt morgen.")
    response = page.goto(f"/cases/{other.case_id}")
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", name="Niet gevonden")).to_be_visible()
    page.get_by_role("button", name="Uitloggen").click()

    live.login(page, OTHER_STAFF)
    response = page.goto(f"/cases/{mine.case_id}")
    assert response is not None and response.status == 404


def test_a_form_without_its_csrf_token_is_refused(page: Page, live: Live) -> None:
    seeded = live.seed_post("De juf van Verkruisen is een sukkel", categories=["insult"])
    live.login(page, DIRECTOR)
    page.goto(f"/cases/{seeded.case_id}")
    form = _action(page, "Dossier sluiten")
    form.locator("input[name=csrf_token]").evaluate("input => input.remove()")
    form.get_by_role("button", name="Dossier sluiten").click()
    expect(page.get_by_role("heading", name="Formulier verlopen")).to_be_visible()

    # A page of another site that posts the same form: the session cookie (SameSite=Lax) stays home.
    attack = (f'<form method="post" action="{live.url}/cases/{seeded.case_id}/status">'
              '<input name="to" value="closed"><button>go</button></form>')
    page.route("http://aanvaller.example/**", lambda route: route.fulfill(content_type="text/html", body=attack))
    page.goto("http://aanvaller.example/")
    with page.expect_navigation():
        page.get_by_role("button", name="go").click()
    assert page.url.startswith(f"{live.url}/login"), page.url
    with live.env.session() as session:
        assert session.get(Case, seeded.case_id).status == "new"  # type: ignore[union-attr]
