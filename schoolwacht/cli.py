"""The `schoolwacht` command: parses arguments and calls one function of the owning package."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import datetime
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click

from schoolwacht.errors import SchoolwachtError
from store.config import CONFIG_ENV, Settings, load_settings

F = TypeVar("F", bound=Callable[..., Any])


class _Group(click.Group):
    """Turns any SchoolwachtError into one line on stderr and exit code 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except SchoolwachtError as exc:
            raise click.ClickException(str(exc)) from None


def _settings(ctx: click.Context) -> Settings:
    obj = ctx.ensure_object(dict)
    if "settings" not in obj:
        obj["settings"] = load_settings(obj.get("config_path"))
    settings: Settings = obj["settings"]
    return settings


def with_settings(func: F) -> F:
    @click.pass_context
    @wraps(func)
    def wrapper(ctx: click.Context, *args: Any, **kwargs: Any) -> Any:
        return ctx.invoke(func, _settings(ctx), *args, **kwargs)

    return wrapper  # type: ignore[return-value]


@click.group(cls=_Group)
@click.option("--config", "config_path", type=click.Path(path_type=Path), envvar=CONFIG_ENV,
              help=f"Config file (default: ./schoolwacht.toml; env {CONFIG_ENV}).")
@click.version_option(package_name="schoolwacht")
@click.pass_context
def cli(ctx: click.Context, config_path: Path | None) -> None:
    """Schoolwacht: watch public posts about a school and act on them (protocol rule 4)."""
    ctx.ensure_object(dict)["config_path"] = config_path


@cli.command()
@with_settings
def init(settings: Settings) -> None:
    """Create or migrate the database and sync schools and sources from the config."""
    from store.setup import prepare

    revision = prepare(settings)
    click.echo(f"database ready (schema {revision}); storage in {settings.storage.dir}")


@cli.command()
@click.option("--source", "source_name", help="Crawl only this source.")
@with_settings
def crawl(settings: Settings, source_name: str | None) -> None:
    """Crawl sources now, each in its own process."""
    from crawlers.process import run_crawl_process
    from store.setup import prepare

    prepare(settings)
    if source_name:
        names = [settings.source(source_name).name]
    else:
        names = [s.name for s in settings.sources if s.enabled and s.kind != "manual"]
    if not names:
        raise SchoolwachtError("no enabled sources to crawl in the config")
    failed = 0
    for name in names:
        result = run_crawl_process(settings, name)
        click.echo(result.output or f"{name}: exit {result.returncode}")
        failed += result.returncode != 0
    if failed:
        raise SchoolwachtError(f"{failed} of {len(names)} sources had errors "
                               "(see `schoolwacht sources`)")


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@with_settings
def posts(settings: Settings, as_json: bool) -> None:
    """Print stored posts."""
    from store.db import make_engine, session_scope
    from store.posts import iter_posts_for_listing

    engine = make_engine(settings.database.url)
    with session_scope(engine) as session:
        for row in iter_posts_for_listing(session):
            if as_json:
                click.echo(json.dumps(row, ensure_ascii=False))
            else:
                text = " ".join(row["text"].split())
                click.echo(f"{row['id']:>6}  {row['created_at'][:16]}  {row['platform']:<10} "
                           f"{(row['author'] or '-')[:20]:<20} {text[:80]}")


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@with_settings
def sources(settings: Settings, as_json: bool) -> None:
    """Sources with their last run, posts collected and last error."""
    from store.db import make_engine, session_scope
    from store.setup import prepare
    from store.sources import source_statuses

    prepare(settings)
    engine = make_engine(settings.database.url)
    with session_scope(engine) as session:
        statuses = source_statuses(session)
    for s in statuses:
        last_run = s.last_run_at.isoformat(timespec="seconds") if s.last_run_at else None
        if as_json:
            click.echo(json.dumps({"name": s.name, "kind": s.kind, "school": s.school,
                                   "enabled": s.enabled, "last_run": last_run,
                                   "posts": s.posts, "last_error": s.last_error},
                                  ensure_ascii=False))
        else:
            state = "" if s.enabled else " (uit)"
            click.echo(f"{s.name:<28} {s.kind:<14} {last_run or 'nooit':<25} {s.posts:>7}  "
                       f"{s.last_error or 'ok'}{state}")


def _parse_date(value: str | None) -> datetime | None:
    if value is None:
        return None
    from zoneinfo import ZoneInfo

    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"not an ISO date/time: {value!r}") from None
    # A date typed by a Dutch user without a zone means Dutch time.
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=ZoneInfo("Europe/Amsterdam"))


@cli.command()
@click.option("--school", required=True)
@click.option("--text", required=True, help="The text of the post as seen.")
@click.option("--url", default=None)
@click.option("--author", default=None)
@click.option("--platform", default="other", show_default=True)
@click.option("--date", "date_", default=None, help="When it was posted (ISO; Dutch time).")
@click.option("--screenshot", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@with_settings
def report(settings: Settings, school: str, text: str, url: str | None, author: str | None,
           platform: str, date_: str | None, screenshot: Path | None) -> None:
    """Store a post from a private group (WhatsApp, closed Facebook group) by hand."""
    from crawlers.manual import ManualReport, submit_report
    from store.db import make_engine, session_scope
    from store.setup import prepare

    prepare(settings)
    data = None
    if screenshot is not None:
        if screenshot.stat().st_size > 10 * 1024 * 1024:
            raise SchoolwachtError("screenshot is larger than 10 MB")
        data = screenshot.read_bytes()
    engine = make_engine(settings.database.url)
    with session_scope(engine) as session:
        post = submit_report(session, settings, ManualReport(
            school=school, text=text, url=url, author=author, platform=platform,
            created_at=_parse_date(date_), screenshot=data))
        click.echo(f"stored post {post.id}")


@cli.command()
@click.option("--pending", is_flag=True, help="Classify stored posts that have no classification.")
@click.option("--input", "input_file", type=click.File("r", encoding="utf-8"),
              help="JSONL with `id` and `text` per line ('-' for stdin).")
@click.option("--output", "output_file", type=click.File("w", encoding="utf-8"), default="-",
              help="Where --input results go (default stdout).")
@click.pass_context
def classify(ctx: click.Context, pending: bool, input_file: Any, output_file: Any) -> None:
    """Classify posts: sentiment, legal categories with explaining spans, severity."""
    if pending == bool(input_file):
        raise click.UsageError("give exactly one of --pending or --input")
    if input_file is not None:
        from classifier import load_classifier
        from classifier.service import classify_jsonl

        obj = ctx.ensure_object(dict)
        model = "builtin"
        if obj.get("config_path") is not None or Path("schoolwacht.toml").exists():
            model = _settings(ctx).classifier.model
        errors = classify_jsonl(input_file, output_file, load_classifier(model))
        for line in errors.lines:
            click.echo(line, err=True)
        if errors.lines:
            raise SchoolwachtError(f"{len(errors.lines)} input lines could not be classified")
        return
    from classifier.service import classify_pending
    from store.setup import prepare

    settings = _settings(ctx)
    prepare(settings)
    stats = classify_pending(settings)
    summary = ", ".join(f"{k} {v}" for k, v in sorted(stats.by_severity.items())) or "none"
    click.echo(f"classified {stats.classified} posts ({summary}); "
               f"{len(stats.cases_touched)} cases opened or joined")


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@with_settings
def cases(settings: Settings, as_json: bool) -> None:
    """Cases (protocol rule 4) with their status, severity and posts."""
    from store.cases import list_cases
    from store.db import make_engine, session_scope

    engine = make_engine(settings.database.url)
    with session_scope(engine) as session:
        rows = list_cases(session)
    for case in rows:
        data = {"id": case.id, "status": case.status, "severity": case.severity,
                "categories": case.categories, "posts": case.posts,
                "opened_at": case.opened_at.isoformat(),
                "deadline": case.deadline.isoformat() if case.deadline else None}
        if as_json:
            click.echo(json.dumps(data, ensure_ascii=False))
        else:
            click.echo(f"{case.id:>5}  {case.status:<18} {case.severity:<9} "
                       f"{','.join(case.categories) or '-':<30} posts {case.posts}")


@cli.command()
@click.option("--html", "html_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the digest as one self-contained HTML file.")
@click.option("--send", is_flag=True, help="Queue the digest for the directors and send the outbox.")
@with_settings
def digest(settings: Settings, html_file: Path | None, send: bool) -> None:
    """The weekly digest of last week; printed as text unless --html or --send is given."""
    from alerts.digest import build_digest, queue_digest
    from store.db import make_engine, session_scope
    from store.setup import prepare

    prepare(settings)
    engine = make_engine(settings.database.url)
    try:
        with session_scope(engine) as session:
            result = build_digest(session, settings)
            queued = queue_digest(session, settings, digest=result) if send else 0
    finally:
        engine.dispose()
    if html_file is not None:
        html_file.write_text(result.html_file, encoding="utf-8")
        click.echo(f"digest {result.week_label} written to {html_file}")
    if send:
        from alerts.outbox import flush

        if not settings.mail.director:
            raise SchoolwachtError("no director address in [mail] director: digest not queued")
        report = flush(settings)
        click.echo(f"digest {result.week_label}: {queued} new mails queued, {report.sent} mails sent")
        if report.config_error or report.error:
            raise SchoolwachtError(f"mail not sent yet (stays in the outbox): "
                                   f"{report.config_error or report.error}")
    if html_file is None and not send:
        click.echo(result.text, nl=False)


@cli.group()
def alerts() -> None:
    """E-mail alerts: the outbox of mails to the director."""


@alerts.command("flush")
@with_settings
def alerts_flush(settings: Settings) -> None:
    """Send the mails that are due now (exit 0 also when the mail server is down: they wait)."""
    from alerts.outbox import flush, outbox_status, status_lines
    from store.setup import prepare

    prepare(settings)
    report = flush(settings)
    if report.busy:
        click.echo("een ander Schoolwacht-proces verstuurt de mail al; niets gedaan")
    click.echo(f"verzonden {report.sent}, opnieuw te proberen {report.retried}, mislukt {report.failed}")
    for line in status_lines(outbox_status(settings)):
        click.echo(line)
    if report.config_error:
        raise SchoolwachtError(report.config_error)


@alerts.command("status")
@click.option("--json", "as_json", is_flag=True, help="One JSON object.")
@with_settings
def alerts_status(settings: Settings, as_json: bool) -> None:
    """Mails waiting, sent and failed, the oldest waiting mail and the last error."""
    from alerts.outbox import outbox_status, status_lines
    from store.setup import prepare

    prepare(settings)
    status = outbox_status(settings)
    if as_json:
        click.echo(json.dumps({k: v.isoformat() if isinstance(v, datetime) else v for k, v in status.items()},
                              ensure_ascii=False))
        return
    for line in status_lines(status):
        click.echo(line)


@cli.group()
def user() -> None:
    """Dashboard accounts."""


@user.command("add")
@click.argument("email")
@click.option("--role", type=click.Choice(["admin", "director", "staff"]), required=True)
@click.option("--name", default="", help="Name shown in the dashboard and the case timeline.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input (first line).")
@with_settings
def user_add(settings: Settings, email: str, role: str, name: str, password_stdin: bool) -> None:
    """Create an account, or reset the role, name and password of an existing one."""
    from store.db import make_engine, session_scope
    from store.setup import prepare
    from store.users import set_user

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Wachtwoord", hide_input=True, confirmation_prompt=True)
    prepare(settings)
    engine = make_engine(settings.database.url)
    try:
        with session_scope(engine) as session:
            account = set_user(session, email=email, role=role, password=password, name=name)
            from store import audit

            audit.record(session, actor="cli", action="user_set", object_type="user", object_id=account.id or "",
                         detail={"email": account.email, "role": role})
    finally:
        engine.dispose()
    click.echo(f"user {account.email} ({role}) saved")


@cli.group("audit")
def audit_group() -> None:
    """The hash-chained audit log."""


@audit_group.command("verify")
@with_settings
def audit_verify(settings: Settings) -> None:
    """Check the audit log's hash chain; exit 1 naming the first entry that does not fit."""
    from store.audit import verify_chain
    from store.db import make_engine, session_scope
    from store.setup import prepare

    prepare(settings)
    engine = make_engine(settings.database.url)
    try:
        with session_scope(engine) as session:
            report = verify_chain(session)
    finally:
        engine.dispose()
    if not report.ok:
        raise SchoolwachtError(f"audit log broken at entry {report.first_bad_id}: {report.reason} "
                               f"({report.entries} entries before it are intact)")
    click.echo(f"audit log intact: {report.entries} entries")


@cli.group()
def feedback() -> None:
    """Reviewers' verdicts from the dashboard's review queue (training data)."""


@feedback.command("export")
@click.option("--jsonl", "as_jsonl", is_flag=True, help="JSON Lines in the format of classifier/data (required).")
@click.option("--out", "out_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write to this file instead of standard output.")
@with_settings
def feedback_export(settings: Settings, as_jsonl: bool, out_file: Path | None) -> None:
    """Export the latest verdict of every reviewed post as a training example."""
    from store.db import make_engine, session_scope
    from store.feedback import export_jsonl
    from store.setup import prepare

    if not as_jsonl:
        raise click.UsageError("choose the format: --jsonl")
    prepare(settings)
    engine = make_engine(settings.database.url)
    try:
        with session_scope(engine) as session:
            if out_file is None:
                export_jsonl(session, sys.stdout, target="-")
                return
            with out_file.open("w", encoding="utf-8", newline="\n") as stream:
                count = export_jsonl(session, stream, target=str(out_file))
    finally:
        engine.dispose()
    click.echo(f"{count} training examples written to {out_file}", err=True)


@cli.group()
def evidence() -> None:
    """Evidence bundles for a police report (aangifte)."""


@evidence.command("export")
@click.argument("case_id", type=int)
@click.option("--out", "out_file", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The ZIP file to write.")
@click.option("--user", "user_email", default=None, help="E-mail of the account exporting (default: cli).")
@with_settings
def evidence_export(settings: Settings, case_id: int, out_file: Path, user_email: str | None) -> None:
    """Export a case: PDF report, captures, screenshots, timeline, manifest.json and SHA256SUMS."""
    from evidence import export_case
    from store.db import make_engine, session_scope
    from store.setup import prepare
    from store.users import find_user

    prepare(settings)
    actor, actor_id = "cli", None
    if user_email is not None:
        engine = make_engine(settings.database.url)
        try:
            with session_scope(engine) as session:
                account = find_user(session, user_email)
                if account is None or not account.active:
                    raise SchoolwachtError(f"onbekende of uitgeschakelde gebruiker {user_email!r}")
                actor, actor_id = account.email, account.id
        finally:
            engine.dispose()
    result = export_case(settings, case_id=case_id, out=out_file, actor=actor, actor_id=actor_id)
    click.echo(f"bewijsmap van dossier {case_id} geschreven naar {result.path} ({result.files} bestanden, "
               f"SHA-256 {result.sha256})")


@evidence.command("verify")
@click.argument("zip_file", type=click.Path(dir_okay=False, path_type=Path))
def evidence_verify(zip_file: Path) -> None:
    """Check a bundle: exit 0 only when every file is present and matches its SHA-256."""
    from evidence import verify_bundle

    report = verify_bundle(zip_file)
    for line in report.lines():
        click.echo(line)
    if not report.ok:
        counts = [(len(report.missing), "ontbreekt"), (len(report.extra), "extra"), (len(report.changed), "gewijzigd"),
                  (len(report.unsafe), "onveilige naam"), (len(report.problems), "ander probleem")]
        summary = ", ".join(f"{n} {what}" for n, what in counts if n)
        raise SchoolwachtError(f"bewijsmap {zip_file} klopt niet: {summary}")
    click.echo(f"bewijsmap in orde: {report.checked} bestanden komen overeen met hun SHA-256")


@cli.group()
def privacy() -> None:
    """Requests of data subjects (AVG): access (export) and erasure of an author's posts."""


_AUTHOR_HELP = "The author's handle (case-insensitive; a leading @ or u/ is ignored)."
_PLATFORM_HELP = "Only posts on this platform (mastodon, bluesky, x, reddit, youtube, ...)."


@privacy.command("export")
@click.option("--author", required=True, help=_AUTHOR_HELP)
@click.option("--platform", default=None, help=_PLATFORM_HELP)
@click.option("--out", "out_file", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="JSON file to write; a name ending in .zip also holds the capture files.")
@with_settings
def privacy_export(settings: Settings, author: str, platform: str | None, out_file: Path) -> None:
    """Everything stored about an author (inzage, AVG article 15); recorded in the audit log."""
    from store.privacy import Subject
    from store.privacy_export import export_subject
    from store.setup import prepare

    prepare(settings)
    subject = Subject.parse(author, platform)
    result = export_subject(settings, subject=subject, out=out_file, actor="cli")
    click.echo(f"inzage voor {subject.describe()} geschreven naar {result.path}: {result.posts} bericht(en), "
               f"{result.cases} dossier(s), {result.files} bestand(en); SHA-256 {result.sha256}")


@privacy.command("erase")
@click.option("--author", required=True, help=_AUTHOR_HELP)
@click.option("--platform", default=None, help=_PLATFORM_HELP)
@click.option("--yes", is_flag=True, help="Really erase; without it, only show what would happen.")
@with_settings
def privacy_erase(settings: Settings, author: str, platform: str | None, yes: bool) -> None:
    """Erase an author's posts (AVG article 17), except evidence a police report or open case needs."""
    from store.privacy import Subject, erase_subject
    from store.setup import prepare

    prepare(settings)
    report = erase_subject(settings, subject=Subject.parse(author, platform), apply=yes, actor="cli")
    for line in report.lines(settings.schedule.timezone):
        click.echo(line)
    if report.file_problems:
        raise SchoolwachtError(f"{len(report.file_problems)} bestand(en) konden niet worden verwijderd (zie boven)")


# -- operations: doctor, backup, restore (docs/operations.md) ------------------------------------

@cli.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON object with every check.")
@click.option("--skip", multiple=True, type=click.Choice(["secrets", "database", "storage", "disk", "smtp", "model",
                                                          "sources", "chromium", "scheduler", "outbox"]),
              help="Leave out a check (repeatable).")
@click.option("--timeout", type=click.FloatRange(0.5, 120), default=10.0, show_default=True,
              help="Seconds per network check (database, SMTP, each source).")
@click.pass_context
def doctor(ctx: click.Context, as_json: bool, skip: tuple[str, ...], timeout: float) -> None:
    """Check config, database, storage, disk space, SMTP, model, sources, Chromium and the scheduler;
    exit 1 when any check says FOUT (warnings do not fail)."""
    from schoolwacht.doctor import run_checks

    live = None if as_json else (lambda check: click.echo(check.line()))
    report = run_checks(ctx.ensure_object(dict).get("config_path"), skip=skip, timeout=timeout, on_check=live)
    if as_json:
        click.echo(json.dumps(report.as_dict(), ensure_ascii=False))
    else:
        click.echo(report.lines()[-1])
    ctx.exit(0 if report.ok else 1)


@cli.command()
@click.option("--out", "out_path", required=True, type=click.Path(path_type=Path),
              help="The .tar.gz to write, or a directory for a dated file name.")
@with_settings
def backup(settings: Settings, out_path: Path) -> None:
    """Consistent backup of database + storage dir while the service runs (manifest with SHA-256)."""
    from store.backup import create_backup

    result = create_backup(settings, out=out_path)
    counts = result.counts
    click.echo(f"back-up geschreven naar {result.path}: {result.files} bestanden, {result.size} bytes; "
               f"{counts.get('posts', 0)} bericht(en), {counts.get('cases', 0)} dossier(s) "
               f"({result.backend}, schema {result.revision}); SHA-256 {result.sha256}")
    if result.missing_captures:
        click.echo(f"let op: {len(result.missing_captures)} opnamebestanden ontbraken al in de opslagmap, "
                   f"o.a. {result.missing_captures[0]} (staan in het manifest)", err=True)


@cli.command()
@click.argument("archive", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--into", "into", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="A new, empty directory for database, storage and config.")
@click.option("--database-url", default=None,
              help="PostgreSQL backups only: an existing, empty database to restore into.")
def restore(archive: Path, into: Path, database_url: str | None) -> None:
    """Restore a backup into a fresh directory (never over an installation) and write its config."""
    from store.restore import restore_backup

    result = restore_backup(archive, into=into, database_url=database_url)
    counts = result.counts
    click.echo(f"back-up van {result.created_at} teruggezet in {result.directory}: {counts.get('posts', 0)} "
               f"bericht(en), {counts.get('cases', 0)} dossier(s), {result.files} bestanden (alle SHA-256 kloppen)")
    if result.config_file is not None:
        click.echo(f"configuratie: {result.config_file}; controleer hem met: "
                   f"schoolwacht --config {result.config_file} doctor")
    else:
        click.echo(f"de back-up bevat geen configuratiebestand: schrijf er een met [database] url = "
                   f"\"{result.database_url}\" en [storage] dir = \"{result.directory / 'storage'}\"")
    if result.missing_captures:
        click.echo(f"let op: {len(result.missing_captures)} opnamebestanden ontbraken al bij het maken van de "
                   "back-up (zie backup-manifest.json)", err=True)


@cli.command()
@click.option("--port", type=click.IntRange(1, 65535), default=None, help="Overrides [dashboard] port.")
@click.option("--workers", type=click.IntRange(1, 32), default=None, help="Overrides [dashboard] workers.")
@with_settings
def serve(settings: Settings, port: int | None, workers: int | None) -> None:
    """Run the dashboard only (no scheduler), until Ctrl-C."""
    import os

    import uvicorn

    from dashboard.app import create_app, freeze_startup_objects
    from store.setup import prepare

    prepare(settings)
    workers = workers or settings.dashboard.workers
    # No access log: it would keep every visitor's IP address and every URL; the audit log keeps
    # who saw and did what (privacy by design).
    options: dict[str, Any] = {"host": settings.dashboard.host, "port": port or settings.dashboard.port,
                               "log_level": "info", "access_log": False}
    if workers == 1:
        app = create_app(settings)
        freeze_startup_objects()
        uvicorn.run(app, **options)
        return
    # Worker processes build their own app from the same config file.
    os.environ[CONFIG_ENV] = str(settings.config_file)
    uvicorn.run("dashboard.app:app_from_config_env", factory=True, workers=workers, **options)


@cli.group()
def model() -> None:
    """Train and evaluate the Dutch classifier."""


@model.command("train")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              default=None, help="Where to write the model (default: the shipped builtin dir).")
@click.option("--epochs", type=int, default=None)
def model_train(out_dir: Path | None, epochs: int | None) -> None:
    """Train the model reproducibly; writes weights, thresholds and a model card."""
    from classifier.predict import BUILTIN_DIR
    from classifier.train import TrainParams, main_train

    params = TrainParams() if epochs is None else TrainParams(epochs=epochs)
    report = main_train(out_dir or BUILTIN_DIR, params)
    dev = report["dev"]
    click.echo(f"dev: macro-F1 {dev['macro_f1']:.3f}, sentiment accuracy "  # type: ignore[index]
               f"{dev['sentiment_accuracy']:.3f}, threat recall "  # type: ignore[index]
               f"{dev['categories']['threat']['recall']:.3f}; written to {out_dir or BUILTIN_DIR}")  # type: ignore[index]


@model.command("eval")
@click.option("--data", "data_file", required=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Labelled JSONL (label-guide format).")
@click.option("--model", "model_name", default="builtin", show_default=True)
@click.option("--json", "as_json", is_flag=True)
def model_eval(data_file: Path, model_name: str, as_json: bool) -> None:
    """Per-category precision/recall/F1, macro-F1, sentiment accuracy, severity matrix."""
    from classifier import load_classifier
    from classifier.evaluate import evaluate_file, format_report

    report = evaluate_file(load_classifier(model_name), data_file)
    click.echo(json.dumps(report, indent=1) if as_json else format_report(report))


@cli.command()
@click.option("--demo", is_flag=True, help="Add a local demo source with Dutch sample posts.")
@click.option("--demo-dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("schoolwacht-demo"), show_default=True,
              help="Where the demo keeps its config, database and storage.")
@click.option("--port", type=click.IntRange(1, 65535), default=None,
              help="Dashboard port (overrides [dashboard] port).")
@click.pass_context
def run(ctx: click.Context, demo: bool, demo_dir: Path, port: int | None) -> None:
    """Run the service: the scheduler (crawls, classification, mail, digest) and the dashboard,
    until SIGTERM or Ctrl-C."""
    import logging
    import threading

    from dashboard.app import serve_in_thread
    from scheduler import install_signal_handlers, run_service
    from store.setup import prepare

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    stop = threading.Event()
    install_signal_handlers(stop)
    stoppers: list[Any] = []
    if demo:
        settings = _start_demo(demo_dir, port, stoppers)
    else:
        settings = _settings(ctx)
        if port is not None:
            dashboard = settings.dashboard.model_copy(update={"port": port})
            settings = settings.model_copy(update={"dashboard": dashboard})
    try:
        prepare(settings)
        try:
            if settings.dashboard.workers == 1:
                stoppers.append(serve_in_thread(settings))
            else:
                stoppers.append(_serve_in_processes(settings))
        except OSError as exc:
            raise SchoolwachtError(f"cannot listen on {settings.dashboard.host}:"
                                   f"{settings.dashboard.port}: {exc.strerror}") from None
        click.echo(f"Dashboard: http://{settings.dashboard.host}:{settings.dashboard.port}/")
        run_service(settings, stop=stop)
    finally:
        for stopper in reversed(stoppers):
            stopper()


def _serve_in_processes(settings: Settings) -> Callable[[], None]:
    """`schoolwacht serve` as a child process (with its worker processes); returns its stopper."""
    import socket
    import subprocess

    with socket.socket() as probe:  # a taken port fails now, in the caller, as with the thread
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((settings.dashboard.host, settings.dashboard.port))
    child = subprocess.Popen([sys.executable, "-c", "from schoolwacht.cli import main; main()",
                              "--config", str(settings.config_file), "serve", "--port", str(settings.dashboard.port)])

    def stop() -> None:
        child.terminate()
        try:
            child.wait(timeout=15)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()

    return stop


def _start_demo(demo_dir: Path, port: int | None, stoppers: list[Any]) -> Any:
    """The demo installation: sample posts on a local server, a local mail catcher, a login."""
    import secrets

    import tomli_w

    from alerts.mailcatcher import MailCatcher
    from crawlers.demo import DemoServer, demo_config
    from store.db import make_engine, session_scope
    from store.setup import prepare
    from store.users import set_user

    server = DemoServer()
    server.start()
    stoppers.append(server.stop)
    demo_dir.mkdir(parents=True, exist_ok=True)
    mailbox = MailCatcher(demo_dir.resolve() / "mail")
    mailbox.start()
    stoppers.append(mailbox.stop)
    config_file = demo_dir / "schoolwacht.toml"
    config = demo_config(demo_dir.resolve(), server.url, mail_port=mailbox.port, dashboard_port=port or 8000)
    config_file.write_text(tomli_w.dumps(config), encoding="utf-8")
    settings = load_settings(config_file)
    prepare(settings)
    password = secrets.token_urlsafe(9)
    engine = make_engine(settings.database.url)
    try:
        with session_scope(engine) as session:
            set_user(session, email=settings.mail.director[0], role="director", password=password,
                     name="Directeur (demo)")
    finally:
        engine.dispose()
    click.echo(f"Demo-bron met voorbeeldberichten: {server.url} (config: {config_file})")
    click.echo(f"Demo-login: {settings.mail.director[0]} / {password}")
    click.echo(f"E-mail van de demo (meldingen, weekoverzicht): {mailbox.directory}")
    return settings


def main(argv: list[str] | None = None) -> None:
    cli.main(args=argv, prog_name="schoolwacht")


if __name__ == "__main__":
    main(sys.argv[1:])
