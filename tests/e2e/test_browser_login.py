"""In a real browser: logging in and out, the overview, and the security headers of every page."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.e2e.conftest import ADMIN, DIRECTOR, STAFF, Live, Watch, assert_no_inline
from tests.helpers.web import PASSWORD

Shot = Callable[[Page, str], Path]


def test_wrong_password_shows_the_dutch_error_and_the_right_one_lands_on_the_overview(
        page: Page, live: Live, shot: Shot) -> None:
    page.goto("/")
    expect(page).to_have_url(f"{live.url}/login?next=/")
    expect(page.get_by_role("heading", name="Inloggen")).to_be_visible()
    assert_no_inline(page)
    shot(page, "login")

    live.login(page, DIRECTOR, "niet-het-wachtwoord")
    expect(page.get_by_role("alert")).to_have_text("Onjuist e-mailadres of wachtwoord.")
    expect(page.locator("input[name=email]")).to_have_value(DIRECTOR)  # kept, the password is not
    expect(page.locator("input[name=password]")).to_have_value("")
    assert "/login" in page.url
    shot(page, "login-error")

    live.login(page, DIRECTOR, PASSWORD)
    expect(page).to_have_url(f"{live.url}/")
    expect(page.get_by_role("heading", name="Overzicht", exact=True)).to_be_visible()
    expect(page.locator(".who")).to_contain_text("Dirk Directeur (directeur)")
    assert_no_inline(page)
    shot(page, "overview")


def test_login_returns_to_the_page_asked_for(page: Page, live: Live) -> None:
    page.goto("/?week=1")
    expect(page).to_have_url(f"{live.url}/login?next=/%3Fweek%3D1")
    live.login(page, STAFF)
    expect(page).to_have_url(f"{live.url}/?week=1")


def test_navigation_follows_the_role(page: Page, live: Live) -> None:
    live.login(page, STAFF)
    nav = page.locator("header nav")
    expect(nav.get_by_role("link", name="Bericht melden")).to_be_visible()
    for hidden in ("Te beoordelen", "Bronnen", "Gebruikers", "Logboek"):
        expect(nav.get_by_role("link", name=hidden)).to_have_count(0)

    page.context.clear_cookies()
    live.login(page, ADMIN)
    nav = page.locator("header nav")
    for shown in ("Overzicht", "Te beoordelen", "Dossiers", "Bericht melden", "Bronnen", "Gebruikers", "Logboek"):
        expect(nav.get_by_role("link", name=shown)).to_be_visible()


def test_logout_ends_the_session_on_the_server(page: Page, live: Live) -> None:
    live.login(page, DIRECTOR)
    cookies = page.context.cookies()
    session = [c for c in cookies if c["name"] == "sw_session"]
    assert session and session[0]["httpOnly"] and session[0]["sameSite"] == "Lax"

    page.get_by_role("button", name="Uitloggen").click()
    expect(page).to_have_url(f"{live.url}/login")
    assert not [c for c in page.context.cookies() if c["name"] == "sw_session"]

    # The old cookie, replayed, is worthless: logout deleted the session, not only the cookie.
    page.context.add_cookies(session)  # type: ignore[arg-type]
    page.goto("/")
    expect(page).to_have_url(f"{live.url}/login?next=/")


def test_security_headers_on_pages_and_static_files(page: Page, live: Live) -> None:
    for path in ("/login", "/static/style.css"):
        response = page.goto(path)
        assert response is not None and response.ok, path
        headers = response.headers
        csp = headers["content-security-policy"]
        assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp, csp
        assert "frame-ancestors 'none'" in csp
        assert headers["x-frame-options"] == "DENY"
        assert headers["referrer-policy"] == "same-origin"
        assert headers["x-content-type-options"] == "nosniff"
    live.login(page, DIRECTOR)
    response = page.goto("/")
    assert response is not None and response.headers["cache-control"] == "no-store"
    # The stylesheet applied (CSP allows our own file): the header is laid out as a flex row.
    assert page.evaluate("() => getComputedStyle(document.querySelector('header.top')).display") == "flex"


def test_the_dashboard_refuses_to_be_framed(page: Page, live: Live, watch: Watch) -> None:
    """A page of another origin that frames the dashboard gets an empty frame (clickjacking)."""
    page.set_content(f'<iframe id="f" src="{live.url}/login" width="600" height="400"></iframe>')
    page.wait_for_timeout(500)
    frame = page.frame_locator("#f")
    expect(frame.get_by_role("heading", name="Inloggen")).to_have_count(0)
    # Chromium reports the refusal; it is the point of this test, not a problem of our pages.
    refused = [p for p in watch.problems if "frame-ancestors 'none'" in p and "The request has been blocked" in p]
    assert refused, watch.problems
    for problem in refused:
        watch.problems.remove(problem)
