"""`schoolwacht run --demo`: the README's run command works on a fresh directory.

A newcomer starts it, logs in with the printed demo login, sees posts flow in, get classified
and open cases, and finds the alert mails in the demo's mail folder.
"""

from __future__ import annotations

import http.cookiejar
import os
import re
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

from alerts.mailcatcher import free_port
from tests.helpers.fixtures import ROOT

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def test_run_demo_crawls_classifies_serves_and_mails_then_stops_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "run.log"
    with log.open("w", encoding="utf-8") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "schoolwacht.cli", "run", "--demo", "--port", str(port)],
            cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT, text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"},
        )
    base = f"http://127.0.0.1:{port}"
    browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    try:
        deadline = time.monotonic() + 90
        login = None
        while time.monotonic() < deadline and login is None:
            login = re.search(r"Demo-login: (\S+) / (\S+)", log.read_text(encoding="utf-8"))
            time.sleep(0.5)
        assert login, log.read_text(encoding="utf-8")[-2000:]
        page = ""
        while time.monotonic() < deadline:
            try:
                page = browser.open(f"{base}/login", timeout=5).read().decode("utf-8")
                break
            except OSError:
                time.sleep(1)
        form = urllib.parse.urlencode({"email": login.group(1), "password": login.group(2),
                                       "csrf_token": TOKEN.search(page).group(1), "next": "/cases"}).encode()  # type: ignore[union-attr]
        with browser.open(f"{base}/login", data=form, timeout=10) as response:
            assert response.url.endswith("/cases")
            assert "script-src 'self'" in response.headers["Content-Security-Policy"]
        # Posts flow in, are classified and open cases within a minute or two.
        cases = ""
        deadline = time.monotonic() + 150
        while time.monotonic() < deadline:
            cases = browser.open(f"{base}/cases", timeout=10).read().decode("utf-8")
            if "/cases/1" in cases:
                break
            time.sleep(3)
        assert "/cases/1" in cases, cases[-2000:]
        case_page = browser.open(f"{base}/cases/1", timeout=10).read().decode("utf-8")
        assert "<script>" not in case_page.replace('<script src="/static/', "")
        # Flagged demo posts reach the demo's own mail server as alerts.
        mail_dir = tmp_path / "schoolwacht-demo" / "mail"
        while time.monotonic() < deadline + 60 and not list(mail_dir.glob("*.eml")):
            time.sleep(1)
        mails = sorted(mail_dir.glob("*.eml"))
        assert mails, "no alert mail from the demo"
        assert b"Schoolwacht" in mails[0].read_bytes()
        assert (tmp_path / "schoolwacht-demo" / "schoolwacht.toml").exists()
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
    output = log.read_text(encoding="utf-8")
    assert process.returncode == 0, output[-2000:]
    assert f"Dashboard: http://127.0.0.1:{port}/" in output
    assert "Demo-login: directeur@verkruisen.example / " in output
