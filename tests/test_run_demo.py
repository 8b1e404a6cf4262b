"""`schoolwacht run --demo`: the README's run command works on a fresh directory."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.helpers.fixtures import ROOT


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_run_demo_crawls_and_serves_then_stops_on_sigterm(tmp_path: Path) -> None:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "schoolwacht.cli", "run", "--demo", "--port", str(port)],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        page = ""
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as response:
                    page = response.read().decode("utf-8")
                    csp = response.headers["Content-Security-Policy"]
                if "Opgeslagen berichten: <b>0</b>" not in page:
                    break
            except OSError:
                pass
            time.sleep(1)
        assert "Opgeslagen berichten:" in page and "<b>0</b>" not in page
        assert "default-src 'none'" in csp
        # Hostile demo posts are shown as text, never as markup.
        assert "&lt;script&gt;" in page or "&lt;img" in page
        assert "<script>" not in page
        assert (tmp_path / "schoolwacht-demo" / "schoolwacht.toml").exists()
        # Flagged demo posts reach the demo's own mail server as alerts.
        mail_dir = tmp_path / "schoolwacht-demo" / "mail"
        while time.monotonic() < deadline + 60 and not list(mail_dir.glob("*.eml")):
            time.sleep(1)
        mails = sorted(mail_dir.glob("*.eml"))
        assert mails, "no alert mail from the demo"
        assert b"Schoolwacht" in mails[0].read_bytes()
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=60)
    assert process.returncode == 0, output[-2000:]
    assert "Dashboard: http://127.0.0.1:" in output
    assert "Demo-login: directeur@verkruisen.example / " in output
