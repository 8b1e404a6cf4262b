"""Session fixation, revocation and cookie flags, against the dashboard on a real port (uvicorn,
as `schoolwacht run` serves it) where the transport matters, in-process where it does not."""

from __future__ import annotations

import re
from http.cookies import SimpleCookie
from urllib.parse import urlencode

from sqlalchemy import select

from dashboard import auth
from store.models import WebSession
from tests.e2e.conftest import Live
from tests.helpers.fixtures import Env
from tests.helpers.web import PASSWORD
from tests.helpers.web import client as web_client
from tests.security.helpers import DIRECTOR, STAFF, TOKEN, Site, add_users, login, raw_request


def _cookies(headers: dict[str, str]) -> dict[str, str]:
    """Each Set-Cookie header line, by cookie name."""
    found: dict[str, str] = {}
    for line in headers.get("set-cookie", "").split("\n"):
        name = line.split("=", 1)[0].strip()
        if name:
            found[name] = line
    return found


def _raw_login(live: Live, email: str, *, session_cookie: str | None = None,
               headers: dict[str, str] | None = None) -> tuple[int, dict[str, str]]:
    page = raw_request(live.url, "GET", "/login", headers=headers)
    login_cookie = SimpleCookie(_cookies(page.headers)[auth.LOGIN_CSRF_COOKIE]).get(auth.LOGIN_CSRF_COOKIE)
    assert login_cookie is not None
    match = TOKEN.search(page.body.decode())
    assert match is not None
    cookie = f"{auth.LOGIN_CSRF_COOKIE}={login_cookie.value}"
    if session_cookie:
        cookie += f"; {auth.COOKIE}={session_cookie}"
    body = urlencode({"email": email, "password": PASSWORD, "csrf_token": match.group(1), "next": "/"}).encode()
    response = raw_request(live.url, "POST", "/login", body=body, headers={
        **(headers or {}), "Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie})
    return response.status, _cookies(response.headers)


def _session_value(line: str) -> str:
    morsel = SimpleCookie(line).get(auth.COOKIE)
    assert morsel is not None
    return morsel.value


def test_cookie_flags_over_plain_http_and_behind_an_https_proxy(live: Live) -> None:
    status, cookies = _raw_login(live, DIRECTOR)
    assert status == 303
    session = cookies[auth.COOKIE].lower()
    assert "httponly" in session and "samesite=lax" in session and "path=/" in session and "max-age=" in session
    assert "secure" not in session  # http://127.0.0.1: a Secure cookie would never come back
    login_cookie = _cookies(raw_request(live.url, "GET", "/login").headers)[auth.LOGIN_CSRF_COOKIE].lower()
    assert "httponly" in login_cookie and "samesite=strict" in login_cookie and "secure" not in login_cookie

    # Behind a TLS-terminating proxy on the same machine (uvicorn trusts X-Forwarded-* from
    # 127.0.0.1 only), the scheme is https and both cookies are Secure.
    proxied = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.7"}
    status, cookies = _raw_login(live, DIRECTOR, headers=proxied)
    assert status == 303
    assert "secure" in cookies[auth.COOKIE].lower()
    login_cookie = _cookies(raw_request(live.url, "GET", "/login", headers=proxied).headers)[auth.LOGIN_CSRF_COOKIE]
    assert "secure" in login_cookie.lower()


def test_base_url_with_https_makes_cookies_secure_even_when_the_proxy_speaks_http(env: Env) -> None:
    # A proxy that terminates TLS and forwards plain http without X-Forwarded-Proto: the
    # configured public address decides.
    settings = env.write([], dashboard={"base_url": "https://schoolwacht.school.example"})
    add_users(env, {DIRECTOR: "director"})
    client = web_client(settings)
    assert str(client.base_url).startswith("http://")
    page = client.get("/login")
    login_cookie = _cookies({"set-cookie": page.headers["set-cookie"]})[auth.LOGIN_CSRF_COOKIE]
    assert "secure" in login_cookie.lower()
    token = TOKEN.search(page.text).group(1)  # type: ignore[union-attr]
    value = SimpleCookie(login_cookie)[auth.LOGIN_CSRF_COOKIE].value
    # The browser (on https) sends the Secure cookie back; the proxy passes it on.
    response = client.post("/login", data={"email": DIRECTOR, "password": PASSWORD, "csrf_token": token},
                           headers={"Cookie": f"{auth.LOGIN_CSRF_COOKIE}={value}"}, follow_redirects=False)
    assert response.status_code == 303 and "secure" in response.headers["set-cookie"].lower()


def test_a_session_planted_before_login_is_replaced_and_ended(site: Site) -> None:
    # Fixation: the attacker logs in, plants their own valid session cookie in the victim's
    # browser, and waits for the victim to log in on it.
    attacker = site.client(STAFF)
    planted = attacker.cookies.get(auth.COOKIE)
    assert planted and attacker.get("/").status_code == 200
    victim = site.client()
    victim.cookies.set(auth.COOKIE, planted, domain="testserver.local")
    login(victim, DIRECTOR)
    issued = [c.value for c in victim.cookies.jar if c.name == auth.COOKIE and c.value != planted]
    assert len(issued) == 1
    assert victim.get("/").status_code == 200
    # The planted session was ended by the login: the attacker holds nothing now.
    response = attacker.get("/")
    assert response.status_code == 303 and response.headers["location"].startswith("/login")
    with site.env.session() as session:
        owners = session.execute(select(WebSession.user_id)).scalars().all()
        assert owners == [site.users[DIRECTOR]]
    # A made-up token planted before login is not adopted either.
    other = site.client()
    other.cookies.set(auth.COOKIE, "door-de-aanvaller-gekozen", domain="testserver.local")
    login(other, DIRECTOR)
    assert [c.value for c in other.cookies.jar if c.name == auth.COOKIE and c.value != "door-de-aanvaller-gekozen"]
    stranger = site.client()
    stranger.cookies.set(auth.COOKIE, "door-de-aanvaller-gekozen")
    assert stranger.get("/").status_code == 303


def test_logout_ends_the_session_on_the_server(live: Live) -> None:
    status, cookies = _raw_login(live, STAFF)
    assert status == 303
    token = _session_value(cookies[auth.COOKIE])
    cookie = {"Cookie": f"{auth.COOKIE}={token}"}
    home = raw_request(live.url, "GET", "/", headers=cookie)
    assert home.status == 200
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', home.body.decode())
    assert csrf is not None
    out = raw_request(live.url, "POST", "/logout", body=urlencode({"csrf_token": csrf.group(1)}).encode(),
                      headers={**cookie, "Content-Type": "application/x-www-form-urlencoded"})
    assert out.status == 303 and out.headers["location"] == "/login"
    assert 'sw_session=""' in out.headers.get("set-cookie", "")
    # A copy of the old cookie (kept by the browser, a proxy log, malware) is worthless now.
    for method, path in (("GET", "/"), ("GET", "/cases"), ("POST", "/report")):
        replay = raw_request(live.url, method, path, headers=cookie)
        assert replay.status == 303 and replay.headers["location"].startswith("/login"), path
