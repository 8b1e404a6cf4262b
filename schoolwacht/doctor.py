"""`schoolwacht doctor`: is this installation ready to run? (issue 7, Operations.)

Each check is a small function returning a `Check`: a status (OK, WAARSCHUWING, FOUT), a Dutch
message and, on a problem, what to do about it. `run_checks` runs them in order; a FOUT in the
configuration stops there (nothing else can be checked), a database that cannot be read skips the
checks that read it (scheduler, outbox). Warnings never fail the doctor: exit 1 means a FOUT.

Nothing here changes the installation: no migration, no directory created, no mail sent. The
only side effects are a probe file in the storage dir (deleted at once), one SMTP session that
stops after EHLO/STARTTLS/AUTH, and one GET per enabled source through the crawlers' address
guard (`crawlers.recheck.Fetcher`: private addresses refused unless the source has
`allow_private = true`, redirects checked hop by hop).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine, make_url

from schoolwacht.errors import ConfigError
from store.config import Settings, config_path, load_settings

OK, WARN, FAIL = "OK", "WAARSCHUWING", "FOUT"
# Checks that `--skip` may leave out (the configuration is always checked).
SKIPPABLE = ("secrets", "database", "storage", "disk", "smtp", "model", "sources", "chromium", "scheduler",
             "outbox")
GIB = 1024**3
MIB = 1024**2


@dataclass(frozen=True)
class Check:
    name: str  # stable id for scripts: "config", "database", "source:rtv-noord", ...
    title: str  # Dutch label
    status: str  # OK | WAARSCHUWING | FOUT
    message: str  # Dutch: what was found
    advice: str | None = None  # Dutch: what to do (on a problem)
    details: dict[str, Any] = field(default_factory=dict)

    def line(self) -> str:
        text = f"{self.status:<12} {self.title}: {self.message}"
        return f"{text} — oplossing: {self.advice}" if self.advice and self.status != OK else text


@dataclass
class Report:
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(c.status == FAIL for c in self.checks)

    def counts(self) -> dict[str, int]:
        return {status: sum(c.status == status for c in self.checks) for status in (OK, WARN, FAIL)}

    def lines(self) -> list[str]:
        counts = self.counts()
        warnings, errors = counts[WARN], counts[FAIL]
        warned = "waarschuwing" if warnings == 1 else "waarschuwingen"
        summary = f"Samenvatting: {counts[OK]} OK, {warnings} {warned}, {errors} {'fout' if errors == 1 else 'fouten'}."
        return [c.line() for c in self.checks] + [summary]

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "counts": self.counts(), "checks": [asdict(c) for c in self.checks]}


@dataclass(frozen=True)
class DiskThresholds:
    warn_bytes: int = GIB  # warn below 1 GiB free ...
    warn_fraction: float = 0.05  # ... or below 5 % free
    fail_bytes: int = 100 * MIB  # a crawl that cannot write its capture loses nothing, but stops


def _size(n: float) -> str:
    """Bytes the Dutch way: "12,3 GB"."""
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if n < 1024 or unit == "TB":
            return f"{n:.1f} {unit}".replace(".", ",") if unit != "B" else f"{int(n)} B"
        n /= 1024
    raise AssertionError  # unreachable


def _seconds(n: float) -> str:
    return f"{n:.1f} s".replace(".", ",")


# -- configuration -------------------------------------------------------------------------------

def check_config(path: str | os.PathLike[str] | None, environ: Mapping[str, str]) -> tuple[Check, Settings | None]:
    file = config_path(path, environ)
    try:
        settings = load_settings(path, environ=environ)
    except ConfigError as exc:
        advice = ("maak het bestand (kopieer schoolwacht.example.toml) of geef het pad met --config"
                  if not file.exists() else "herstel de genoemde sleutel in het configuratiebestand")
        return Check("config", "Configuratie", FAIL, str(exc), advice), None
    enabled = [s for s in settings.sources if s.enabled]
    schools = f"{len(settings.schools)} {'school' if len(settings.schools) == 1 else 'scholen'}"
    message = f"{settings.config_file} is geldig ({schools}, {len(enabled)} van {len(settings.sources)} bronnen aan)"
    if not settings.mail.director:
        advice = "zet het e-mailadres van de directeur in [mail] director, anders gaan meldingen naar niemand"
        return Check("config", "Configuratie", WARN, message + ", maar [mail] director is leeg", advice), settings
    return Check("config", "Configuratie", OK, message), settings


def _secret_names(settings: Settings) -> list[tuple[str, str, bool]]:
    """(where, env var, required) for every secret the config names."""
    names: list[tuple[str, str, bool]] = []
    mail = settings.mail
    for key in ("username_env", "password_env"):
        value = getattr(mail, key)
        if value:
            names.append((f"[mail] {key}", value, True))
    for source in settings.sources:
        if not source.enabled:
            continue
        for key in ("token_env", "password_env", "api_key_env", "bearer_token_env"):
            value = getattr(source, key, None)
            if value:
                # X and Facebook read nothing without their token; the others fall back to what
                # is public (Mastodon, YouTube feeds) or fail only that part of the crawl.
                names.append((f"bron {source.name} {key}", value, source.kind in ("x", "facebook_page")))
    return names


def check_secrets(settings: Settings) -> Check:
    missing = [(where, name, required) for where, name, required in _secret_names(settings)
               if settings.secret(name) is None]
    if not missing:
        named = len(_secret_names(settings))
        return Check("secrets", "Geheimen", OK, f"alle {named} genoemde omgevingsvariabelen zijn gezet" if named
                     else "de configuratie noemt geen geheimen")
    listed = ", ".join(f"{name} ({where})" for where, name, _ in missing)
    status = FAIL if any(required for *_, required in missing) else WARN
    return Check("secrets", "Geheimen", status, f"niet gezet: {listed}",
                 "zet ze in het environment-bestand van de dienst (EnvironmentFile=, zie docs/operations.md)",
                 {"missing": [name for _, name, _ in missing]})


# -- database and storage ------------------------------------------------------------------------

def _sqlite_path(url: str) -> Path | None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database)


def _engine(settings: Settings, timeout: float) -> Engine:
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    from store.db import make_engine

    url = settings.database.url
    if make_url(url).get_backend_name() == "sqlite":
        return make_engine(url)
    # make_engine has no connect timeout: an unreachable host would hold the doctor for minutes.
    return create_engine(url, poolclass=NullPool, connect_args={"connect_timeout": max(1, int(timeout))})


def check_database(settings: Settings, timeout: float) -> tuple[Check, Engine | None]:
    from alembic.script import ScriptDirectory
    from alembic.util.exc import CommandError

    from store.migrate import alembic_config, current_revision, head_revision

    url = make_url(settings.database.url)
    shown = url.render_as_string(hide_password=True)
    title = "Database"
    path = _sqlite_path(settings.database.url)
    if path is not None:
        if not path.is_file():
            return Check("database", title, FAIL, f"databasebestand {path} bestaat niet",
                         "nieuwe installatie: `schoolwacht init`; anders: controleer [database] url of zet een "
                         "back-up terug (`schoolwacht restore`)"), None
        if not os.access(path.parent, os.W_OK) or not os.access(path, os.W_OK):
            return Check("database", title, FAIL, f"{path} (of de map) is niet schrijfbaar",
                         "geef de gebruiker van de dienst schrijfrechten op het bestand en de map (SQLite schrijft "
                         "-wal/-shm-bestanden ernaast)"), None
    engine = _engine(settings, timeout)
    try:
        revision = current_revision(engine)
        with engine.connect() as connection:
            server = f"{connection.dialect.name} {'.'.join(map(str, connection.dialect.server_version_info or ()))}"
    except Exception as exc:  # any driver error: the message says which
        engine.dispose()
        reason = " ".join(str(getattr(exc, "orig", None) or exc).split())[:300]
        return Check("database", title, FAIL, f"{shown} niet bereikbaar: {reason}",
                     "controleer [database] url, of de databaseserver draait en of de gebruiker mag inloggen"), None
    head = head_revision()
    where = str(path) if path is not None else shown
    details = {"revision": revision, "head": head, "server": server.strip()}
    if revision == head:
        return Check("database", title, OK, f"{where} ({server.strip()}), schema {revision} (actueel)",
                     details=details), engine
    if revision is None:
        return Check("database", title, FAIL, f"{where} is leeg (geen schema)", "`schoolwacht init`",
                     details), engine
    try:
        ScriptDirectory.from_config(alembic_config()).get_revision(revision)
    except CommandError:
        return Check("database", title, FAIL, f"{where} heeft schema {revision}, dat deze versie niet kent "
                     f"(nieuwste bekende: {head})", "installeer de Schoolwacht-versie die bij deze database hoort, "
                     "of zet een back-up terug", details), engine
    return Check("database", title, WARN, f"{where} heeft schema {revision}, deze versie verwacht {head}",
                 "wordt bijgewerkt bij de volgende start; maak eerst een back-up (`schoolwacht backup`), dan "
                 "`schoolwacht init`", details), engine


def check_storage(settings: Settings) -> Check:
    directory = settings.storage.dir
    title = "Opslagmap"
    if not directory.exists():
        return Check("storage", title, FAIL, f"{directory} bestaat niet",
                     "nieuwe installatie: `schoolwacht init` maakt hem aan; bestaat de installatie al, controleer "
                     "[storage] dir en of de schijf gekoppeld is (of zet een back-up terug)")
    if not directory.is_dir():
        return Check("storage", title, FAIL, f"{directory} is geen map", "controleer [storage] dir")
    try:
        fd, probe = tempfile.mkstemp(dir=directory, prefix=".tmp-doctor-")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        return Check("storage", title, FAIL, f"{directory} is niet schrijfbaar ({exc.strerror or exc})",
                     "geef de gebruiker van de dienst schrijfrechten (chown schoolwacht) en controleer "
                     "ReadWritePaths= in de systemd-unit")
    return Check("storage", title, OK, f"{directory.resolve()} bestaat en is schrijfbaar")


def _existing(path: Path) -> Path:
    path = path.absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def check_disk(settings: Settings, thresholds: DiskThresholds = DiskThresholds()) -> Check:
    places = [settings.storage.dir]
    db = _sqlite_path(settings.database.url)
    if db is not None:
        places.append(db.parent)
    seen: dict[int, Path] = {}
    for place in places:
        existing = _existing(place)
        seen.setdefault(existing.stat().st_dev, existing)
    worst, parts, details = OK, [], {}
    for path in seen.values():
        usage = shutil.disk_usage(path)
        fraction = usage.free / usage.total if usage.total else 0.0
        details[str(path)] = {"free": usage.free, "total": usage.total}
        parts.append(f"{_size(usage.free)} vrij van {_size(usage.total)} ({fraction:.0%}) op {path}")
        if usage.free < thresholds.fail_bytes:
            worst = FAIL
        elif (usage.free < thresholds.warn_bytes or fraction < thresholds.warn_fraction) and worst == OK:
            worst = WARN
    advice = None
    if worst != OK:
        advice = (f"maak ruimte vrij of vergroot de schijf (waarschuwing onder {_size(thresholds.warn_bytes)} of "
                  f"{thresholds.warn_fraction:.0%} vrij); oude back-ups en [retention] unflagged_days helpen")
    return Check("disk", "Schijfruimte", worst, "; ".join(parts), advice, details)


# -- network: mail and sources -------------------------------------------------------------------

def check_smtp(settings: Settings, timeout: float) -> Check:
    # The outbox's own connect/EHLO/STARTTLS/AUTH, so the doctor tests exactly what sending does;
    # the session ends with QUIT before any MAIL FROM.
    from alerts.outbox import _close, _open, _Problem

    mail = settings.mail.model_copy(update={"timeout_seconds": min(settings.mail.timeout_seconds, timeout)})
    probe = settings.model_copy(update={"mail": mail})
    where = f"{mail.host}:{mail.port}"
    try:
        smtp = _open(probe)
    except _Problem as problem:
        if problem.config:
            advice = "zet de variabele in het environment-bestand van de dienst"
        elif "TLS" in problem.nl or "STARTTLS" in problem.nl:
            advice = "controleer [mail] starttls en het certificaat van de mailserver"
        elif "inlog" in problem.nl or "AUTH" in problem.nl:
            advice = f"controleer de gebruikersnaam en het wachtwoord ({mail.username_env} / {mail.password_env})"
        else:
            advice = "controleer of de mailserver draait, [mail] host en port, en of een firewall de poort blokkeert"
        return Check("smtp", "E-mailserver", FAIL, problem.nl, advice)
    steps = ["EHLO"] + (["STARTTLS"] if mail.starttls else []) + (["inloggen"] if mail.username_env else [])
    _close(smtp)
    return Check("smtp", "E-mailserver", OK, f"{where} antwoordt ({', '.join(steps)} gelukt; geen mail verstuurd)")


def _probe_url(source: Any) -> tuple[str, bool]:
    """The URL to fetch for a source and whether it is a page/feed (so 4xx means a wrong URL)."""
    if source.kind == "rss":
        return source.feed_urls()[0], True
    if source.kind == "web":
        return source.urls[0], True
    return source.base_url, False


def check_source(settings: Settings, source: Any, timeout: float, last_error: str | None = None) -> Check:
    from crawlers.recheck import AddressRefused, CheckFailed, Fetcher, trusted_hosts

    name, title = f"source:{source.name}", f"Bron {source.name}"
    crawl = settings.crawl.model_copy(update={"timeout_seconds": min(settings.crawl.timeout_seconds, timeout),
                                              "max_download_bytes": 64 * 1024})
    fetcher = Fetcher(settings.model_copy(update={"crawl": crawl}))
    url, exact = _probe_url(source)
    conf = {**source.settings_json(), "allow_private": source.allow_private}
    started = time.monotonic()
    try:
        answer = fetcher.get(url, trusted=trusted_hosts(conf))
    except AddressRefused as exc:
        return Check(name, title, FAIL, str(exc), "een niet-openbaar adres mag alleen voor een bron op het eigen "
                     "netwerk: zet dan allow_private = true bij deze bron")
    except CheckFailed as exc:
        return Check(name, title, FAIL, str(exc), "controleer de URL en of deze server het internet op mag "
                     "(firewall, proxy, DNS)")
    details = {"url": answer.url, "status": answer.status, "seconds": round(time.monotonic() - started, 3)}
    if answer.status >= 500 or (exact and answer.status >= 400):
        advice = ("de server heeft een storing; probeer het later opnieuw" if answer.status >= 500
                  else "controleer de URL in de configuratie")
        return Check(name, title, WARN, f"{answer.url} antwoordt HTTP {answer.status}", advice, details)
    message = f"{answer.url} bereikbaar (HTTP {answer.status})"
    if last_error:
        return Check(name, title, WARN, f"{message}, maar de laatste crawl gaf een fout: {last_error[:200]}",
                     "zie `schoolwacht sources` en het logboek van de dienst", details)
    return Check(name, title, OK, message, details=details)


def check_sources(settings: Settings, timeout: float, last_errors: Mapping[str, str | None]) -> list[Check]:
    sources = [s for s in settings.sources if s.enabled and s.kind != "manual"]
    if not sources:
        return []
    with ThreadPoolExecutor(max_workers=min(8, len(sources))) as pool:
        return list(pool.map(lambda s: check_source(settings, s, timeout, last_errors.get(s.name)), sources))


# -- model, browser, scheduler -------------------------------------------------------------------

def check_model(settings: Settings) -> Check:
    from classifier import load_classifier

    conf = settings.classifier
    started = time.monotonic()
    try:
        model = load_classifier(conf.model, batch_size=conf.batch_size, allow_download=conf.allow_download)
        loaded = time.monotonic() - started
        model.classify(["Test van schoolwacht doctor over BM Verkruisen"])
    except Exception as exc:  # torch, transformers and file errors alike: show which
        return Check("model", "Classificatiemodel", FAIL, f"{conf.model!r} laden mislukt: "
                     f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}",
                     "controleer [classifier] model (\"builtin\", een lokaal pad of een hub-id die lokaal in de "
                     "cache staat; downloaden alleen met allow_download = true)")
    total = time.monotonic() - started
    return Check("model", "Classificatiemodel", OK, f"{conf.model} ({model.name} {model.version}) geladen in "
                 f"{_seconds(loaded)}, eerste classificatie na {_seconds(total)}",
                 details={"load_seconds": round(loaded, 3), "first_result_seconds": round(total, 3)})


def check_chromium(settings: Settings) -> Check:
    evidence = settings.evidence
    title = "Chromium (screenshots)"
    if not evidence.screenshots:
        return Check("chromium", title, OK, "screenshots staan uit ([evidence] screenshots = false); bewijs wordt "
                     "uit de opgeslagen gegevens getekend")
    advice = ("installeer Debians chromium (apt install chromium) of zet [evidence] chromium; zonder browser wordt "
              "bewijs uit de opgeslagen gegevens getekend")
    if not evidence.chromium.is_file() or not os.access(evidence.chromium, os.X_OK):
        return Check("chromium", title, WARN, f"{evidence.chromium} niet gevonden of niet uitvoerbaar", advice)
    try:
        result = subprocess.run([str(evidence.chromium), "--version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Check("chromium", title, WARN, f"{evidence.chromium} start niet: {exc}", advice)
    version = " ".join(result.stdout.split()) or f"exit {result.returncode}"
    if result.returncode != 0:
        return Check("chromium", title, WARN, f"{evidence.chromium} --version mislukt: {version}", advice)
    return Check("chromium", title, OK, f"{version} ({evidence.chromium})")


def _aware(when: datetime | None) -> datetime | None:
    return when.replace(tzinfo=UTC) if when is not None and when.tzinfo is None else when


def check_scheduler(engine: Engine, now: datetime | None = None) -> list[Check]:
    from scheduler import SCHEDULER_LEASE
    from store.db import session_scope
    from store.leases import lease_states

    now = now or datetime.now(UTC)
    with session_scope(engine) as session:
        states = lease_states(session)
    leader = next((s for s in states if s.name == SCHEDULER_LEASE), None)
    expires = _aware(leader.expires_at) if leader is not None else None
    if leader is not None and expires is not None and expires > now:
        planner = Check("scheduler", "Planner", OK, f"actief ({leader.holder})")
    else:
        planner = Check("scheduler", "Planner", WARN, "de planner draait niet (geen actieve `schoolwacht run` op "
                        "deze database)", "start de dienst: systemctl start schoolwacht")
    failed = [s for s in states if s.name.startswith("job:") and s.last_error]
    if failed:
        listed = "; ".join(f"{s.name.removeprefix('job:')}: {' '.join(s.last_error.split())[:120]}"  # type: ignore[union-attr]
                           for s in failed)
        jobs = Check("jobs", "Taken", WARN, f"laatste run mislukt: {listed}", "zie het logboek van de dienst "
                     "(journalctl -u schoolwacht)", {"failed": [s.name for s in failed]})
    else:
        done = sum(1 for s in states if s.name.startswith("job:") and s.last_finished_at)
        jobs = Check("jobs", "Taken", OK, f"{done} taken liepen, geen fout bij de laatste run" if done
                     else "nog geen taken gelopen")
    return [planner, jobs]


def check_outbox(engine: Engine, now: datetime | None = None) -> Check:
    from store.db import session_scope
    from store.outbox import status

    now = now or datetime.now(UTC)
    with session_scope(engine) as session:
        state = status(session)
    oldest = _aware(state["oldest_pending_at"])
    message = f"{state['sent']} verzonden, {state['pending']} in de wachtrij, {state['failed']} mislukt"
    if state["failed"]:
        return Check("outbox", "E-mailwachtrij", WARN, message, "zie `schoolwacht alerts status` voor de fout")
    if oldest is not None and now - oldest > timedelta(hours=1):
        return Check("outbox", "E-mailwachtrij", WARN, f"{message}; de oudste wacht sinds {oldest:%Y-%m-%d %H:%M} UTC",
                     "controleer de e-mailserver en `schoolwacht alerts status`")
    return Check("outbox", "E-mailwachtrij", OK, message)


# -- the whole run -------------------------------------------------------------------------------

def _last_errors(engine: Engine) -> dict[str, str | None]:
    from store.db import session_scope
    from store.sources import source_statuses

    with session_scope(engine) as session:
        return {s.name: s.last_error for s in source_statuses(session)}


def run_checks(path: str | os.PathLike[str] | None = None, *, environ: Mapping[str, str] | None = None,
               skip: Iterable[str] = (), timeout: float = 10.0, disk: DiskThresholds = DiskThresholds(),
               on_check: Callable[[Check], None] | None = None) -> Report:
    """Every check in order; `on_check` sees each as soon as it is done (for live CLI output)."""
    env = dict(os.environ if environ is None else environ)
    skipped = set(skip)
    report = Report()

    def add(*checks: Check) -> None:
        for check in checks:
            report.checks.append(check)
            if on_check is not None:
                on_check(check)

    config, settings = check_config(path, env)
    add(config)
    if settings is None:
        return report
    engine: Engine | None = None
    try:
        if "secrets" not in skipped:
            add(check_secrets(settings))
        if "database" not in skipped:
            database, engine = check_database(settings, timeout)
            add(database)
            if database.status == FAIL and engine is not None and database.details.get("revision") is None:
                engine.dispose()
                engine = None  # an empty schema has no tables to read
        if "storage" not in skipped:
            add(check_storage(settings))
        if "disk" not in skipped:
            add(check_disk(settings, disk))
        if "smtp" not in skipped:
            add(check_smtp(settings, timeout))
        if "sources" not in skipped:
            add(*check_sources(settings, timeout, _safe(lambda: _last_errors(engine), {}) if engine else {}))
        if "model" not in skipped:
            add(check_model(settings))
        if "chromium" not in skipped:
            add(check_chromium(settings))
        if engine is not None and "scheduler" not in skipped:
            add(*_safe(lambda: check_scheduler(engine), []))
        if engine is not None and "outbox" not in skipped:
            add(*_safe(lambda: [check_outbox(engine)], []))
    finally:
        if engine is not None:
            engine.dispose()
    return report


def _safe(func: Callable[[], Any], default: Any) -> Any:
    # An older schema may lack a table these read; the database check already said so.
    try:
        return func()
    except Exception:
        return default


__all__ = ["FAIL", "OK", "SKIPPABLE", "WARN", "Check", "DiskThresholds", "Report", "check_chromium", "check_config",
           "check_database", "check_disk", "check_model", "check_outbox", "check_scheduler", "check_secrets",
           "check_smtp", "check_source", "check_sources", "check_storage", "run_checks"]
