"""Every route of the app, enumerated from `create_app(settings).routes` (a new route is covered
without touching this file): without a session each one sends the browser to the login page,
and every form refuses a request without the session's own CSRF token, changing nothing."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import update

from dashboard import auth
from store.models import WebSession
from store.types import utcnow
from tests.security.helpers import (
    ADMIN,
    CSRF_REFUSED,
    DIRECTOR,
    OTHER_STAFF,
    STAFF,
    Route,
    Site,
    app_routes,
    form_token,
    protected,
    snapshot,
)

# Routes the suite must find; if enumeration silently broke, the tests below would prove nothing.
EXPECTED = {("GET", "/"), ("GET", "/chart.png"), ("GET", "/review"), ("POST", "/review/{post_id}/confirm"),
            ("GET", "/cases/{case_id}"), ("POST", "/cases/{case_id}/evidence"), ("POST", "/report"),
            ("GET", "/admin/users"), ("POST", "/admin/users/{user_id}/deactivate"), ("POST", "/sources/{name}/run"),
            ("POST", "/logout")}


def _routes(site: Site) -> list[Route]:
    routes, mounts = app_routes(site.app)
    found = {(r.method, r.path) for r in routes}
    assert found >= EXPECTED, f"route enumeration missed {EXPECTED - found}"
    assert mounts == ["/static"], mounts
    return protected(routes)


def _send(client: TestClient, route: Route, url: str, data: dict[str, str] | None = None) -> Response:
    if route.method == "GET":
        return client.get(url)
    return client.post(url, data=data or {})


def test_the_only_file_routes_are_the_static_mount_and_the_chart(site: Site) -> None:
    # A new route with a `{x:path}` parameter serves files: it must come with traversal tests.
    routes, _ = app_routes(site.app)
    assert [r.path for r in routes if ":path}" in r.path] == []
    assert {r.path for r in routes if r.path.endswith((".png", ".pdf", ".zip"))} == {"/chart.png"}


def test_every_route_without_a_session_redirects_to_the_login(site: Site) -> None:
    routes = _routes(site)
    before = snapshot(site.settings)
    anonymous = site.client()
    stranger = site.client()
    stranger.cookies.set(auth.COOKIE, "geraden-of-gestolen-token")
    checked = 0
    for route in routes:
        for values in (site.values(), dict.fromkeys(route.params, "999999"), dict.fromkeys(route.params, "abc")):
            url = route.url(values)
            for client in (anonymous, stranger):
                response = _send(client, route, url, {"csrf_token": "x", "note": "n", "to": "closed"})
                assert response.status_code == 303, f"{route.method} {url}: {response.status_code}"
                assert response.headers["location"].startswith("/login?next="), (route, response.headers)
                checked += 1
    assert checked >= len(routes) * 6 and len(routes) >= 20
    assert snapshot(site.settings) == before  # no request of a stranger wrote anything
    assert anonymous.get("/login").status_code == 200  # where they all land
    response = stranger.get("/")
    assert 'sw_session=""' in response.headers.get("set-cookie", "")  # a bad cookie is deleted


def test_an_expired_or_idle_session_redirects_to_the_login(site: Site) -> None:
    routes = _routes(site)
    director = site.client(DIRECTOR)
    idle = site.client(STAFF)
    assert director.get("/").status_code == 200 and idle.get("/").status_code == 200
    with site.env.session() as session:
        session.execute(update(WebSession).where(WebSession.user_id == site.users[DIRECTOR])
                        .values(expires_at=utcnow() - timedelta(seconds=1)))
        session.execute(update(WebSession).where(WebSession.user_id == site.users[STAFF])
                        .values(last_seen_at=utcnow() - auth.IDLE - timedelta(seconds=1)))
    for route in routes:
        for client in (director, idle):
            response = _send(client, route, route.url(site.values()), {"csrf_token": "x"})
            assert response.status_code == 303 and response.headers["location"].startswith("/login"), route


VARIANTS = ("missing", "empty", "wrong", "other_user", "in_query", "in_header", "json")


def _forged(client: TestClient, url: str, fields: dict[str, str], variant: str, own: str, other: str) -> Response:
    if variant == "missing":
        return client.post(url, data=fields)
    if variant == "empty":
        return client.post(url, data={**fields, "csrf_token": ""})
    if variant == "wrong":
        return client.post(url, data={**fields, "csrf_token": own[:-2] + ("xx" if not own.endswith("xx") else "yy")})
    if variant == "other_user":  # a valid token, of someone else's session
        return client.post(url, data={**fields, "csrf_token": other})
    if variant == "in_query":  # only the form body counts
        return client.post(f"{url}?csrf_token={own}", data=fields)
    if variant == "in_header":
        return client.post(url, data=fields, headers={"X-CSRF-Token": own})
    return client.post(url, json={**fields, "csrf_token": own})  # a JSON body is no form


def test_every_form_refuses_a_request_without_its_sessions_csrf_token(site: Site) -> None:
    posts = [r for r in _routes(site) if r.method == "POST"]
    clients = {email: site.client(email) for email in (ADMIN, DIRECTOR, STAFF)}
    tokens = {email: form_token(c) for email, c in clients.items()}
    other_token = form_token(site.client(OTHER_STAFF))
    before = snapshot(site.settings)
    # What each form would need to act: a real case, post, user and source, and its fields.
    fields = {"note": "Gesprek gevoerd", "to": "triaged", "assignee": str(site.users[STAFF]), "email":
              "nieuw@school.example", "role": "admin", "password": "lang-genoeg-wachtwoord", "text":
              "De juf van Verkruisen is een heks", "sentiment": "negative"}
    refused = 0
    for route in posts:
        url = route.url(site.values())
        for variant in VARIANTS:
            reached_csrf_check = []
            for email, client in clients.items():
                response = _forged(client, url, fields, variant, tokens[email], other_token)
                assert response.status_code == 403, f"{variant}: {email} POST {url}: {response.status_code}"
                refused += 1
                if CSRF_REFUSED in response.text:
                    reached_csrf_check.append(email)
            # Someone may act on this route (their role passed), and the token check stopped them.
            assert reached_csrf_check, f"{variant}: POST {route.path}: no role reached the CSRF check"
    assert refused == len(posts) * len(VARIANTS) * len(clients) and len(posts) >= 14
    assert snapshot(site.settings) == before
    for client in clients.values():  # nobody was logged out by a refused /logout
        assert client.get("/").status_code == 200


def test_the_login_form_refuses_a_missing_or_foreign_token(site: Site) -> None:
    victim, attacker = site.client(), site.client()
    victim_token, attacker_token = form_token(victim, "/login"), form_token(attacker, "/login")
    credentials = {"email": DIRECTOR, "password": "correct-horse-battery", "next": "/"}
    before = snapshot(site.settings)
    attempts = [
        (victim, {**credentials}),  # no token
        (victim, {**credentials, "csrf_token": ""}),
        (victim, {**credentials, "csrf_token": "geraden"}),
        (victim, {**credentials, "csrf_token": attacker_token}),  # login CSRF: the attacker's own token
    ]
    for client, data in attempts:
        response = client.post("/login", data=data)
        assert response.status_code == 403 and CSRF_REFUSED in response.text, data
    no_cookie = site.client()
    response = no_cookie.post("/login", data={**credentials, "csrf_token": victim_token})
    assert response.status_code == 403 and CSRF_REFUSED in response.text
    assert snapshot(site.settings) == before  # no session, no audit entry, no failed-login count
    response = victim.post("/login", data={**credentials, "csrf_token": victim_token})
    assert response.status_code == 303 and victim.get("/").status_code == 200  # the real form still works
