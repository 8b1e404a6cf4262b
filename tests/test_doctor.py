"""`schoolwacht doctor` against real parts: an aiosmtpd server (and a closed port), the fake
platforms of tests/mockserver, SQLite and PostgreSQL, broken configs and a missing storage dir."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from schoolwacht.doctor import FAIL, OK, WARN, DiskThresholds, Report, check_disk, check_model, run_checks
from store import leases
from store.db import make_engine
from store.migrate import upgrade
from store.types import utcnow
from tests.helpers.fixtures import ROOT, SCHOOL, Env
from tests.helpers.smtp import SmtpServer, free_port, self_signed_cert

# The model is loaded by one test of its own; the others skip it (it takes seconds).
FAST = ("model",)


def _install(env: Env, *, mail_port: int, sources: list[dict[str, Any]] | None = None, **sections: Any) -> None:
    mail = {"host": "127.0.0.1", "port": mail_port, "director": ["directeur@school.example"],
            **sections.pop("mail", {})}
    env.write(sources or [], mail=mail, **sections)
    (env.path / "storage").mkdir(exist_ok=True)


def _run(env: Env, **kwargs: Any) -> Report:
    kwargs.setdefault("skip", FAST)
    kwargs.setdefault("timeout", 5)
    return run_checks(env.config_file, environ={**os.environ, **env.extra_env}, **kwargs)


def _by_name(report: Report) -> dict[str, Any]:
    return {c.name: c for c in report.checks}


def _cli(env: Env, *args: str, config: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "schoolwacht.cli", "--config", str(config or env.config_file),
                           "doctor", *args], cwd=ROOT, capture_output=True, text=True, timeout=180,
                          env={**os.environ, **env.extra_env})


def test_healthy_installation_any_database(env_any_db: Env, smtp_server: SmtpServer, mockserver: str) -> None:
    feed = f"{mockserver}/rss/ok/rss/index.xml"
    _install(env_any_db, mail_port=smtp_server.port, sources=[
        {"name": "nieuws", "kind": "rss", "url": feed},
        {"name": "mastodon", "kind": "mastodon", "base_url": f"{mockserver}/mastodon/ok", "hashtags": ["x"]},
        {"name": "uit", "kind": "rss", "url": "http://127.0.0.1:9/nooit.xml", "enabled": False},
    ])
    report = _run(env_any_db)
    checks = _by_name(report)
    assert report.ok, report.lines()
    assert [c.name for c in report.checks] == ["config", "secrets", "database", "storage", "disk", "smtp",
                                                "source:nieuws", "source:mastodon", "chromium", "scheduler",
                                                "jobs", "outbox"]
    for name in ("config", "secrets", "database", "storage", "disk", "smtp", "source:nieuws", "source:mastodon",
                 "jobs", "outbox"):
        assert checks[name].status == OK, checks[name].line()
    backend = "postgresql" if env_any_db.database_url.startswith("postgresql") else "sqlite"
    assert backend in checks["database"].message and "schema 0003 (actueel)" in checks["database"].message
    assert f"127.0.0.1:{smtp_server.port} antwoordt (EHLO gelukt; geen mail verstuurd)" in checks["smtp"].message
    assert checks["source:nieuws"].message == f"{feed} bereikbaar (HTTP 200)"
    # No service runs on this database: a warning that does not fail the doctor.
    assert checks["scheduler"].status == WARN and "systemctl start schoolwacht" in (checks["scheduler"].advice or "")
    assert smtp_server.envelopes == []  # the doctor never sends mail

    lines = report.lines()
    assert lines[0].startswith("OK           Configuratie: ")
    assert lines[-1] == f"Samenvatting: {len(report.checks) - 1} OK, 1 waarschuwing, 0 fouten."


def test_cli_exit_codes_and_json(env: Env, smtp_server: SmtpServer) -> None:
    _install(env, mail_port=smtp_server.port)
    good = _cli(env, "--skip", "model", "--json")
    assert good.returncode == 0, good.stdout + good.stderr
    data = json.loads(good.stdout)
    assert data["ok"] is True and data["counts"]["FOUT"] == 0
    assert {c["name"]: c["status"] for c in data["checks"]}["smtp"] == "OK"

    smtp_server.stop()  # the mail server goes down: FOUT, exit 1, the other checks still run
    bad = _cli(env, "--skip", "model", "--skip", "chromium")
    assert bad.returncode == 1
    lines = bad.stdout.splitlines()
    smtp = next(line for line in lines if "E-mailserver" in line)
    assert smtp.startswith("FOUT ") and "weigert de verbinding" in smtp and "— oplossing: " in smtp
    assert any(line.startswith("OK           Database") for line in lines)
    assert lines[-1].endswith("1 fout.")
    assert bad.stderr == ""


def test_closed_smtp_port_and_starttls(env: Env, smtp_server_factory: Any, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    _install(env, mail_port=free_port())
    smtp = _by_name(_run(env, skip=("model", "sources", "chromium")))["smtp"]
    assert smtp.status == FAIL and "weigert de verbinding" in smtp.message
    assert "[mail] host en port" in (smtp.advice or "")

    cert = self_signed_cert(tmp_path / "tls")
    server: SmtpServer = smtp_server_factory(tls_cert=cert, credentials=("schoolwacht", "geheim"))
    env.extra_env = {"SW_USER": "schoolwacht", "SW_PASS": "geheim"}
    _install(env, mail_port=server.port, mail={"starttls": True, "username_env": "SW_USER", "password_env": "SW_PASS"})
    # Not trusted yet: the TLS failure is named.
    untrusted = _by_name(_run(env, skip=("model", "sources", "chromium")))["smtp"]
    assert untrusted.status == FAIL and "TLS" in untrusted.message and "certificaat" in (untrusted.advice or "")
    monkeypatch.setenv("SSL_CERT_FILE", str(cert[0]))
    trusted = _by_name(_run(env, skip=("model", "sources", "chromium")))["smtp"]
    assert trusted.status == OK and "EHLO, STARTTLS, inloggen gelukt" in trusted.message
    assert server.auth_attempts and server.envelopes == []

    env.extra_env["SW_PASS"] = "fout"
    wrong = _by_name(_run(env, skip=("model", "sources", "chromium")))["smtp"]
    assert wrong.status == FAIL and "weigert de inlog" in wrong.message


@pytest.mark.parametrize("content, expected", [
    ("[database\nurl = 1", "not valid TOML"),
    ('[[schools]]\nname = "x"\naliases = ["x"]\n[mail]\nhots = "a"\n', "mail.hots: unknown key"),
])
def test_broken_config_stops_at_the_first_check(env: Env, content: str, expected: str) -> None:
    env.config_file.write_text(content, encoding="utf-8")
    result = _cli(env)
    assert result.returncode == 1
    first, summary = result.stdout.splitlines()
    assert first.startswith("FOUT         Configuratie: ") and expected in first
    assert "herstel de genoemde sleutel" in first
    assert summary == "Samenvatting: 0 OK, 0 waarschuwingen, 1 fout."


def test_missing_config_file(env: Env) -> None:
    result = _cli(env, config=env.path / "weg.toml")
    assert result.returncode == 1
    assert "niet gevonden" in result.stdout or "not found" in result.stdout
    assert "kopieer schoolwacht.example.toml" in result.stdout


def test_missing_storage_dir_and_database(env: Env, smtp_server: SmtpServer) -> None:
    _install(env, mail_port=smtp_server.port)
    shutil.rmtree(env.path / "storage")
    checks = _by_name(_run(env, skip=("model", "sources", "chromium")))
    assert checks["storage"].status == FAIL and "bestaat niet" in checks["storage"].message
    assert not (env.path / "storage").exists()  # the doctor creates nothing

    (env.path / "sw.db").unlink()
    report = _run(env, skip=("model", "sources", "chromium"))
    checks = _by_name(report)
    assert checks["database"].status == FAIL and "schoolwacht init" in (checks["database"].advice or "")
    assert "scheduler" not in checks and "outbox" not in checks  # nothing to read them from
    assert not (env.path / "sw.db").exists() and not report.ok


def test_storage_not_a_directory_or_not_writable(env: Env, smtp_server: SmtpServer) -> None:
    _install(env, mail_port=smtp_server.port)
    storage = env.path / "storage"
    storage.rmdir()
    storage.write_text("geen map")
    check = _by_name(_run(env, skip=("model", "sources", "chromium")))["storage"]
    assert check.status == FAIL and "is geen map" in check.message
    storage.unlink()
    storage.mkdir(mode=0o500)
    if os.geteuid() == 0:
        return  # root writes everywhere
    try:
        check = _by_name(_run(env, skip=("model", "sources", "chromium")))["storage"]
    finally:
        storage.chmod(0o700)
    assert check.status == FAIL and "niet schrijfbaar" in check.message and "ReadWritePaths" in (check.advice or "")


def test_database_schema_behind_and_unreachable(env_any_db: Env, smtp_server: SmtpServer) -> None:
    data = {"database": {"url": env_any_db.database_url}, "storage": {"dir": str(env_any_db.path / "storage")},
            "mail": {"port": smtp_server.port, "director": ["d@school.example"]}, "schools": [SCHOOL]}
    env_any_db.config_file.write_text(tomli_w.dumps(data), encoding="utf-8")
    (env_any_db.path / "storage").mkdir()
    engine = make_engine(env_any_db.database_url)
    upgrade(engine, "0002")
    engine.dispose()
    report = _run(env_any_db, skip=("model", "sources", "chromium"))
    database = _by_name(report)["database"]
    assert database.status == WARN and "schema 0002, deze versie verwacht 0003" in database.message
    assert "schoolwacht backup" in (database.advice or "") and report.ok

    if env_any_db.database_url.startswith("postgresql"):
        data["database"]["url"] = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/nergens"
    else:
        data["database"]["url"] = f"sqlite:///{env_any_db.path / 'leeg.db'}"
        (env_any_db.path / "leeg.db").write_bytes(b"dit is geen database" * 100)
    env_any_db.config_file.write_text(tomli_w.dumps(data), encoding="utf-8")
    database = _by_name(_run(env_any_db, skip=("model", "sources", "chromium")))["database"]
    assert database.status == FAIL and "niet bereikbaar" in database.message, database.line()


def test_sources_through_the_address_guard(env: Env, smtp_server: SmtpServer, mockserver: str) -> None:
    guarded = mockserver.replace("127.0.0.1", "localhost")  # same server, but not the configured host
    _install(env, mail_port=smtp_server.port, sources=[
        {"name": "ontbreekt", "kind": "rss", "url": f"{mockserver}/rss/ok/bestaat/niet.xml"},
        {"name": "storing", "kind": "rss", "url": f"{mockserver}/rss/down/rss/index.xml"},
        {"name": "metadata", "kind": "web", "urls": [f"{mockserver}/rss/redirect-169.254.169.254/x"]},
        {"name": "dicht", "kind": "rss", "url": f"http://127.0.0.1:{free_port()}/feed.xml"},
        {"name": "openbaar", "kind": "rss", "url": f"{guarded}/rss/ok/rss/index.xml", "allow_private": False},
        {"name": "traag", "kind": "rss", "url": f"{mockserver}/rss/stall/rss/index.xml"},
    ])
    report = _run(env, skip=("model", "chromium", "scheduler", "outbox"), timeout=1.5)
    checks = _by_name(report)
    assert checks["source:ontbreekt"].status == WARN and "HTTP 404" in checks["source:ontbreekt"].message
    assert checks["source:storing"].status == WARN and "HTTP 500" in checks["source:storing"].message
    refused = checks["source:metadata"]
    assert refused.status == FAIL and "169.254.169.254" in refused.message and "allow_private" in (refused.advice or "")
    assert checks["source:dicht"].status == FAIL and "verbinding geweigerd" in checks["source:dicht"].message
    public_only = checks["source:openbaar"]
    assert public_only.status == FAIL and "niet-openbare adres" in public_only.message
    assert checks["source:traag"].status == FAIL and "tijdslimiet" in checks["source:traag"].message
    assert not report.ok


def test_secrets_named_in_the_config(env: Env, smtp_server: SmtpServer, mockserver: str) -> None:
    sources = [{"name": "x", "kind": "x", "base_url": f"{mockserver}/x/ok", "query": "Verkruisen",
                "bearer_token_env": "SW_X_TOKEN"},
               {"name": "yt", "kind": "youtube", "base_url": f"{mockserver}/youtube/ok",
                "feed_base_url": f"{mockserver}/youtube/ok", "channel_ids": ["UC1"], "api_key_env": "SW_YT_KEY"}]
    _install(env, mail_port=smtp_server.port, sources=sources)
    secrets = _by_name(_run(env, skip=("model", "sources", "chromium")))["secrets"]
    assert secrets.status == FAIL and "SW_X_TOKEN (bron x bearer_token_env)" in secrets.message
    assert "EnvironmentFile" in (secrets.advice or "")
    env.extra_env = {"SW_X_TOKEN": "t"}
    secrets = _by_name(_run(env, skip=("model", "sources", "chromium")))["secrets"]
    assert secrets.status == WARN and secrets.details == {"missing": ["SW_YT_KEY"]}


def test_scheduler_and_job_state(env_any_db: Env, smtp_server: SmtpServer) -> None:
    _install(env_any_db, mail_port=smtp_server.port)
    engine = make_engine(env_any_db.database_url)
    try:
        assert leases.acquire(engine, "scheduler", 300, holder="schoolhost:4242:abc")
        assert leases.acquire(engine, "job:crawl:nieuws", 300, holder="schoolhost:4242:abc")
        leases.release(engine, "job:crawl:nieuws", holder="schoolhost:4242:abc", error="FetchError: HTTP 503")
        checks = _by_name(_run(env_any_db, skip=("model", "sources", "chromium")))
        assert checks["scheduler"].status == OK and "schoolhost:4242:abc" in checks["scheduler"].message
        assert checks["jobs"].status == WARN and "crawl:nieuws: FetchError: HTTP 503" in checks["jobs"].message
        leases.release(engine, "scheduler", holder="schoolhost:4242:abc", now=utcnow() - timedelta(seconds=1))
        assert _by_name(_run(env_any_db, skip=("model", "sources", "chromium")))["scheduler"].status == WARN
    finally:
        engine.dispose()


def test_chromium_missing_is_a_warning(env: Env, smtp_server: SmtpServer) -> None:
    _install(env, mail_port=smtp_server.port, evidence={"chromium": str(env.path / "geen-chromium")})
    report = _run(env, skip=("model", "sources"))
    chromium = _by_name(report)["chromium"]
    assert chromium.status == WARN and "apt install chromium" in (chromium.advice or "")
    assert report.ok
    _install(env, mail_port=smtp_server.port)
    chromium = _by_name(_run(env, skip=("model", "sources")))["chromium"]
    assert chromium.status == OK and "Chromium" in chromium.message


def test_disk_space_thresholds(env: Env, smtp_server: SmtpServer) -> None:
    _install(env, mail_port=smtp_server.port)
    settings = env.settings()
    assert check_disk(settings, DiskThresholds(warn_bytes=1, warn_fraction=0.0, fail_bytes=0)).status == OK
    warn = check_disk(settings, DiskThresholds(warn_bytes=1 << 60, fail_bytes=0))
    assert warn.status == WARN and "vrij van" in warn.message and "maak ruimte vrij" in (warn.advice or "")
    assert check_disk(settings, DiskThresholds(fail_bytes=1 << 60)).status == FAIL


def test_model_load(env: Env, smtp_server: SmtpServer) -> None:
    _install(env, mail_port=smtp_server.port)
    model = check_model(env.settings())
    assert model.status == OK and "builtin" in model.message and " geladen in " in model.message
    assert 0 < model.details["load_seconds"] <= model.details["first_result_seconds"]
    _install(env, mail_port=smtp_server.port, classifier={"model": str(env.path / "geen-model")})
    broken = check_model(env.settings())
    assert broken.status == FAIL and "laden mislukt" in broken.message and "[classifier] model" in (broken.advice or "")
