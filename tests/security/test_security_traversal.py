"""Path traversal on every route that sends a file: the static files, the evidence download
(POST /cases/{id}/evidence) and the chart. Requests go over a real socket to uvicorn with the
path exactly as typed (`..`, percent-encoded, double-encoded, backslashes, absolute paths): each
answers 404 (or 400/403/405), never a file from outside the place it serves from.

Manual-report screenshots and other stored captures are not served by the dashboard at all;
the only way out of the storage dir is the evidence bundle, which reads through
`store.files.resolve` and refuses a capture path that leaves it.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from urllib.parse import urlencode

import pytest
from sqlalchemy import select

from dashboard import auth
from store.models import Capture
from tests.e2e.conftest import DIRECTOR, Live
from tests.helpers.evidence import install
from tests.helpers.fixtures import ROOT, Env
from tests.helpers.web import PASSWORD
from tests.security.helpers import TOKEN, RawResponse, add_users, raw_request

# Secrets outside the served places, and how to recognise them in a response.
OUTSIDE = {
    "app.py": b"def create_app",  # dashboard/app.py, beside dashboard/static
    "config.py": b"class EvidenceSettings",  # store/config.py
    "passwd": b"root:x:0:0",  # /etc/passwd
    "storage": b"GEHEIM-OPSLAG",  # a file in the storage dir
    "database": b"SQLite format 3",
}
STATIC_ATTACKS = [
    "/static/../app.py", "/static/../../store/config.py", "/static/%2e%2e/app.py", "/static/%2E%2E/app.py",
    "/static/..%2fapp.py", "/static/..%2Fapp.py", "/static/%2e%2e%2f%2e%2e%2fstore%2fconfig.py",
    "/static/%252e%252e/app.py", "/static/%252e%252e%252fapp.py", "/static/..%5capp.py", "/static/..\\app.py",
    "/static/%5c..%5c..%5cstore%5cconfig.py", "/static//etc/passwd", "/static/%2fetc%2fpasswd",
    "/static/..%2f..%2f..%2f..%2f..%2f..%2f..%2f..%2fetc%2fpasswd", "/static/....//app.py",
    "/static/..;/app.py", "/static/%c0%ae%c0%ae/app.py", "/static/%e0%80%ae%e0%80%ae/app.py",
    "/static/style.css/../../app.py", "/static/style.css%00../../app.py", "/static/.%2e/app.py",
    "/static/%2e./app.py", "/static/./../app.py", "/../dashboard/app.py", "/%2e%2e/dashboard/app.py",
    "/static/..%252f..%252fetc%252fpasswd", "/static/%u002e%u002e/app.py",
]


def _assert_nothing_leaked(response: RawResponse, where: str, secrets: dict[str, bytes]) -> None:
    for name, marker in secrets.items():
        assert marker not in response.body, f"{where}: the response holds {name}"
    assert "application/zip" not in response.headers.get("content-type", ""), where


def _login(live: Live, email: str) -> tuple[str, str]:
    """(session cookie header, CSRF token) for `email`, through the real login form."""
    page = raw_request(live.url, "GET", "/login")
    login_cookie = re.search(rf"{auth.LOGIN_CSRF_COOKIE}=([^;]+)", page.headers["set-cookie"])
    token = TOKEN.search(page.body.decode())
    assert login_cookie and token
    body = urlencode({"email": email, "password": PASSWORD, "csrf_token": token.group(1), "next": "/"}).encode()
    response = raw_request(live.url, "POST", "/login", body=body, headers={
        "Content-Type": "application/x-www-form-urlencoded",
        "Cookie": f"{auth.LOGIN_CSRF_COOKIE}={login_cookie.group(1)}"})
    session = re.search(rf"{auth.COOKIE}=([^;]+)", response.headers["set-cookie"])
    assert response.status == 303 and session
    cookie = f"{auth.COOKIE}={session.group(1)}"
    home = raw_request(live.url, "GET", "/", headers={"Cookie": cookie})
    csrf = TOKEN.search(home.body.decode())
    assert csrf
    return cookie, csrf.group(1)


def _secrets(live: Live) -> dict[str, bytes]:
    storage = live.settings.storage.dir
    storage.mkdir(parents=True, exist_ok=True)
    (storage / "geheim.txt").write_bytes(OUTSIDE["storage"])
    return OUTSIDE


def test_static_files_never_leave_the_static_dir(live: Live) -> None:
    secrets = _secrets(live)
    assert (ROOT / "dashboard" / "app.py").read_bytes().count(secrets["app.py"])  # the markers are real
    style = raw_request(live.url, "GET", "/static/style.css")
    assert style.status == 200 and style.body  # the mount itself works
    storage = live.settings.storage.dir
    attacks = [*STATIC_ATTACKS, f"/static/{storage}/geheim.txt", f"/static/..{storage}/geheim.txt",
               "/static/" + "../" * 12 + str(storage).lstrip("/") + "/geheim.txt"]
    for target in attacks:
        response = raw_request(live.url, "GET", target)
        assert response.status in (400, 403, 404, 405), f"{target}: HTTP {response.status}"
        _assert_nothing_leaked(response, target, secrets)
    # Logged in changes nothing.
    cookie, _ = _login(live, DIRECTOR)
    for target in attacks:
        response = raw_request(live.url, "GET", target, headers={"Cookie": cookie})
        assert response.status in (400, 403, 404, 405), f"{target}: HTTP {response.status}"
        _assert_nothing_leaked(response, target, secrets)


def test_evidence_download_and_chart_take_no_path_from_the_request(live: Live) -> None:
    secrets = _secrets(live)
    seeded = live.seed_post("De juf van Verkruisen is een heks")
    cookie, token = _login(live, DIRECTOR)
    form = {"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"}
    body = urlencode({"csrf_token": token}).encode()
    case_ids = ["..", "%2e%2e", "..%2f..%2f..%2fetc%2fpasswd", "../../../../etc/passwd", f"{seeded.case_id}%2f..",
                f"{seeded.case_id}/..", "%2fetc%2fpasswd", "..%5c..%5cstore%5cconfig.py", f"{seeded.case_id}%00",
                "-1", "0x1", "1e0", "%EF%BC%91", "9" * 40, f"{seeded.case_id}.zip", "*", "%2a"]
    for case_id in case_ids:
        target = f"/cases/{case_id}/evidence"
        response = raw_request(live.url, "POST", target, body=body, headers=form)
        assert response.status in (400, 403, 404, 405), f"{target}: HTTP {response.status}"
        _assert_nothing_leaked(response, target, secrets)
    for target in ("/chart.png/../../etc/passwd", "/chart.png%2f..%2f..%2fetc%2fpasswd",
                   "/chart.png?path=../../../../etc/passwd", "/chart.png?file=%2fetc%2fpasswd",
                   "/chart.png/..%2fapp.py"):
        response = raw_request(live.url, "GET", target, headers={"Cookie": cookie})
        assert response.status in (200, 400, 404), f"{target}: HTTP {response.status}"
        if response.status == 200:  # the query is ignored: it is the chart, nothing else
            assert response.body.startswith(b"\x89PNG\r\n\x1a\n") and target.startswith("/chart.png?")
        _assert_nothing_leaked(response, target, secrets)
    # No stored capture is reachable by its storage path (manual-report screenshots included).
    with live.env.session() as session:
        stored = session.execute(select(Capture.path).limit(1)).scalar_one()
    for target in (f"/{stored}", f"/storage/{stored}", f"/captures/{stored.split('/', 1)[1]}",
                   f"/static/../../{stored}", f"/screenshots/{stored.rsplit('/', 1)[1]}"):
        response = raw_request(live.url, "GET", target, headers={"Cookie": cookie})
        assert response.status == 404, f"{target}: HTTP {response.status}"


def test_a_capture_path_that_leaves_the_storage_dir_is_never_exported(env: Env, tmp_path: Path) -> None:
    """A poisoned capture row (a tampered or badly restored database) cannot smuggle a file from
    outside the storage dir into the evidence bundle."""
    from evidence.bundle import export_case
    from schoolwacht.errors import StorageError

    inst = install(env, screenshots=False)
    add_users(env, {DIRECTOR: "director"})
    seeded = inst.seed("De juf van Verkruisen is een heks")
    outside = tmp_path / "buiten-de-opslag.txt"
    outside.write_bytes(b"GEHEIM-BUITEN")
    digest = hashlib.sha256(outside.read_bytes()).hexdigest()
    relative = "../" + outside.name  # the storage dir is tmp_path/storage
    assert (inst.settings.storage.dir / relative).resolve() == outside.resolve()
    with env.session() as session:
        session.add(Capture(post_id=seeded.post_id, kind="raw", path=relative, sha256=digest, size=13,
                            media_type="text/plain"))
    out = tmp_path / "bewijs.zip"
    with pytest.raises(StorageError, match="leaves the storage directory"):
        export_case(inst.settings, case_id=seeded.case_id, out=out, actor=DIRECTOR)  # type: ignore[arg-type]
    assert not out.exists() and not list(tmp_path.glob("*.zip"))
