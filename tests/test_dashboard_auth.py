"""Dashboard logins: sessions, CSRF, throttling, fixation, headers; the audit chain and `user add`."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from dashboard import auth
from store.audit import verify_chain
from store.models import AuditEntry, User, WebSession
from tests.helpers.fixtures import ROOT, Env
from tests.helpers.web import PASSWORD, client, login, make_user

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def app_client(env_any_db: Env) -> TestClient:
    settings = env_any_db.write([])
    make_user(env_any_db, "directeur@school.example", "director")
    make_user(env_any_db, "juf@school.example", "staff")
    return client(settings)


def _login_form(c: TestClient) -> str:
    return TOKEN.search(c.get("/login").text).group(1)  # type: ignore[union-attr]


def test_pages_need_a_session_and_login_lands_where_asked(app_client: TestClient) -> None:
    response = app_client.get("/cases?status=new", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login?next=/cases%3Fstatus%3Dnew"
    token = _login_form(app_client)
    response = app_client.post("/login", data={"email": "Directeur@School.example ", "password": PASSWORD,
                                               "csrf_token": token, "next": "/cases?status=new"},
                               follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/cases?status=new"
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("Lax", "lax")
    assert "Secure" not in cookie  # plain http on 127.0.0.1; behind https it is set (next test)
    assert app_client.get("/").status_code == 200


def test_cookie_is_secure_behind_https(env_any_db: Env) -> None:
    settings = env_any_db.write([], dashboard={"base_url": "https://schoolwacht.school.example"})
    make_user(env_any_db, "directeur@school.example", "director")
    c = client(settings)
    c.base_url = "https://testserver"  # type: ignore[assignment]  # the browser talks https to the proxy
    token = _login_form(c)
    response = c.post("/login", data={"email": "directeur@school.example", "password": PASSWORD,
                                      "csrf_token": token}, follow_redirects=False)
    assert "Secure" in response.headers["set-cookie"]


def test_open_redirects_are_refused(app_client: TestClient) -> None:
    for target in ("//evil.example/x", "https://evil.example", "/\\evil.example"):
        token = _login_form(app_client)
        response = app_client.post("/login", data={"email": "juf@school.example", "password": PASSWORD,
                                                   "csrf_token": token, "next": target}, follow_redirects=False)
        assert response.headers["location"] == "/"


def test_login_without_its_csrf_cookie_is_refused(app_client: TestClient) -> None:
    token = _login_form(app_client)
    app_client.cookies.clear()
    response = app_client.post("/login", data={"email": "juf@school.example", "password": PASSWORD,
                                               "csrf_token": token})
    assert response.status_code == 403 and "Formulier verlopen" in response.text


def test_wrong_passwords_lock_the_account_and_are_audited(app_client: TestClient, env_any_db: Env) -> None:
    for _ in range(auth.MAX_FAILURES):
        token = _login_form(app_client)
        response = app_client.post("/login", data={"email": "juf@school.example", "password": "fout",
                                                   "csrf_token": token})
        assert response.status_code == 401 and "Onjuist e-mailadres of wachtwoord" in response.text
    token = _login_form(app_client)
    response = app_client.post("/login", data={"email": "juf@school.example", "password": PASSWORD,
                                               "csrf_token": token})
    assert response.status_code == 401 and "Te veel mislukte pogingen" in response.text
    with env_any_db.session() as session:
        failed = session.exec(select(AuditEntry).where(AuditEntry.action == "login_failed")).all()
        assert len(failed) == auth.MAX_FAILURES + 1
        assert verify_chain(session).ok


def test_one_address_is_throttled_across_accounts(app_client: TestClient) -> None:
    app_client.app.state.throttle = auth.IpThrottle(limit=3)  # type: ignore[attr-defined]
    for i in range(3):
        token = _login_form(app_client)
        app_client.post("/login", data={"email": f"x{i}@school.example", "password": "fout", "csrf_token": token})
    token = _login_form(app_client)
    response = app_client.post("/login", data={"email": "directeur@school.example", "password": PASSWORD,
                                               "csrf_token": token})
    assert response.status_code == 429 and "vanaf dit adres" in response.text


def test_a_planted_session_token_is_worthless_after_login(app_client: TestClient, env_any_db: Env) -> None:
    # Session fixation: whatever cookie the browser had before login, login issues a new one.
    app_client.cookies.set(auth.COOKIE, "planted-by-attacker")
    login(app_client, "directeur@school.example")
    issued = [c.value for c in app_client.cookies.jar if c.name == auth.COOKIE and c.value != "planted-by-attacker"]
    assert len(issued) == 1
    attacker = TestClient(app_client.app)
    attacker.cookies.set(auth.COOKIE, "planted-by-attacker")
    assert attacker.get("/", follow_redirects=False).status_code == 303


def test_logout_revokes_the_session_server_side(app_client: TestClient, env_any_db: Env) -> None:
    login(app_client, "directeur@school.example")
    stolen = app_client.cookies.get(auth.COOKIE)
    token = TOKEN.search(app_client.get("/").text).group(1)  # type: ignore[union-attr]
    assert app_client.post("/logout", data={"csrf_token": token}, follow_redirects=False).status_code == 303
    replay = TestClient(app_client.app)
    replay.cookies.set(auth.COOKIE, stolen)
    assert replay.get("/", follow_redirects=False).status_code == 303
    with env_any_db.session() as session:
        assert session.exec(select(WebSession)).all() == []


def test_logout_without_csrf_token_is_refused(app_client: TestClient) -> None:
    login(app_client, "directeur@school.example")
    response = app_client.post("/logout", data={})
    assert response.status_code == 403
    assert app_client.get("/", follow_redirects=False).status_code == 200  # still logged in


def test_deactivated_users_lose_their_session(app_client: TestClient, env_any_db: Env) -> None:
    login(app_client, "juf@school.example")
    with env_any_db.session() as session:
        user = session.exec(select(User).where(User.email == "juf@school.example")).one()
        user.active = False
        session.add(user)
    assert app_client.get("/", follow_redirects=False).status_code == 303


def test_security_headers_on_every_page(app_client: TestClient) -> None:
    for path in ("/login", "/", "/static/style.css", "/bestaat-niet"):
        headers = app_client.get(path).headers
        csp = headers["content-security-policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
        assert headers["x-frame-options"] == "DENY" and headers["referrer-policy"] == "same-origin"
        assert headers["x-content-type-options"] == "nosniff"
    assert app_client.get("/login").headers["cache-control"] == "no-store"


def test_login_page_has_no_inline_script_or_style(app_client: TestClient) -> None:
    page = app_client.get("/login").text
    assert "<script" not in page and "style=" not in page and " on" not in re.sub(r"\s+", " ", page).replace(
        " one", "")


def test_audit_verify_detects_a_changed_or_removed_entry(env_any_db: Env) -> None:
    settings = env_any_db.write([])
    make_user(env_any_db, "directeur@school.example", "director")
    c = client(settings)
    for _ in range(3):
        login(c, "directeur@school.example")

    def verify() -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "schoolwacht.cli", "--config", str(env_any_db.config_file),
                               "audit", "verify"], cwd=ROOT, capture_output=True, text=True, check=False)

    result = verify()
    assert result.returncode == 0 and "audit log intact: 3 entries" in result.stdout
    with env_any_db.session() as session:
        second = session.exec(select(AuditEntry).order_by(AuditEntry.id).offset(1)).first()
        second.detail = {"ip": "10.0.0.66"}  # type: ignore[union-attr]
        session.add(second)
        second_id = second.id  # type: ignore[union-attr]
    result = verify()
    assert result.returncode == 1 and f"entry {second_id}" in result.stderr and "changed" in result.stderr
    with env_any_db.session() as session:
        session.delete(session.get(AuditEntry, second_id))
    result = verify()
    assert result.returncode == 1 and "removed or inserted" in result.stderr


def test_user_add_from_stdin_and_its_errors(env: Env) -> None:
    env.write([])

    def add(*args: str, stdin: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "schoolwacht.cli", "--config", str(env.config_file),
                               "user", "add", *args, "--password-stdin"], input=stdin, cwd=ROOT,
                              capture_output=True, text=True, check=False)

    ok = add("Directeur@School.example", "--role", "director", "--name", "Anja", stdin="lang-genoeg-wachtwoord\n")
    assert ok.returncode == 0, ok.stderr
    short = add("juf@school.example", "--role", "staff", stdin="kort\n")
    assert short.returncode == 1 and "password too short" in short.stderr
    bad_role = add("juf@school.example", "--role", "root", stdin="lang-genoeg-wachtwoord\n")
    assert bad_role.returncode == 2
    with env.session() as session:
        user = session.exec(select(User)).one()
        assert user.email == "directeur@school.example" and user.name == "Anja" and user.role == "director"
        assert user.password_hash.startswith("$argon2id$") and "lang-genoeg" not in user.password_hash
