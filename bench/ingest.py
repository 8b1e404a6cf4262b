"""Ingest benchmark: one real crawl of 20,000 Mastodon statuses into SQLite.

    python -m bench.ingest [--posts 20000] [--json] [--profile crawl.prof]

A fake Mastodon API (the test mock server's core and its Mastodon paging, on 127.0.0.1 port
0, in a thread of this process) serves one hashtag timeline of `--posts` statuses, 40 a page
with real `Link` headers. Every status mentions the school, so every one must be stored. The
crawl runs exactly as in production, `python -m crawlers.run SOURCE --config FILE`, in a child
process. Measured: its wall time, the posts it stored (counted in the database), posts/s, its
CPU time and peak RSS (`getrusage(RUSAGE_CHILDREN)`, which is why the server is a thread and
not a second child: its memory would be counted too). Checked: every post's raw capture is
the page that held it.

Targets (a 2-core machine): >= 1,000 posts/s and < 300 MB peak RSS. Exit status 0 when the
crawl stored every post with its own page and met both targets, 1 otherwise. Wall time
depends on what else the machine runs; CPU time is the steadier figure. Not a test: pytest
never runs it. `--profile` runs the crawl under cProfile (slower; compare profiles only).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import asdict, dataclass
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # also runnable as `python bench/ingest.py`
    sys.path.insert(0, str(ROOT))

import tomli_w  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from crawlers.spiders.mastodon import PAGE_LIMIT  # noqa: E402
from store.config import load_settings  # noqa: E402
from store.db import make_engine, session_scope  # noqa: E402
from store.files import read_verified  # noqa: E402
from store.migrate import upgrade  # noqa: E402
from store.models import Capture, Post, Source  # noqa: E402
from store.sources import sync_config  # noqa: E402
from tests.mockserver import server as mock  # noqa: E402
from tests.mockserver.platforms import mastodon as fake_mastodon  # noqa: E402

TARGET_POSTS_PER_SECOND = 1_000.0
TARGET_PEAK_RSS_MB = 300.0
PLATFORM = "bench-mastodon"
SOURCE = "bench"
SCHOOL = {
    "name": "obs BM Verkruisen",
    "aliases": ["BM Verkruisen", "Verkruisen", "fusieschool Muntendam"],
    "watch_names": [],
    "exclude": ["Verkruisen Transport"],
}
# Every text mentions the school, in the forms real posts use: the full name, a camel-cased
# hashtag, the second alias, and a typo that only the fuzzy pattern catches (about 1 in 6).
TEXTS = [
    "Wat een mooie kerstmarkt op obs BM Verkruisen vandaag! Dank aan alle ouders die hebben "
    "geholpen met de kraampjes en de chocolademelk. Volgend jaar weer? ({i})",
    "De communicatie van #BMVerkruisen is echt waardeloos, alweer geen nieuwsbrief over de "
    "fusie. Weet iemand wanneer de nieuwe schooltijden ingaan? #{i}",
    "Morgen is de informatieavond over de fusieschool Muntendam in de aula, om 19:30. Er is "
    "koffie en er komt iemand van het bestuur vragen beantwoorden. Post {i}",
    "Juf Anja van de Verkruizen heeft vandaag de hele groep 5 meegenomen naar het bos. Ze "
    "kwamen moe maar blij thuis, met modder tot aan de knieën 🌲 ({i})",
    "Parkeren bij de Verkruisen is elke ochtend weer chaos. Kan de gemeente hier niet eens iets "
    "aan doen voordat er een kind wordt aangereden? {i}",
    "Schoolreisje van BM Verkruisen naar de Efteling was een succes! Wel jammer dat de bus een "
    "uur te laat was. #schoolreis #{i}",
]


@dataclass(frozen=True)
class Result:
    posts_served: int
    posts_stored: int
    captures_stored: int
    capture_mismatches: int  # posts whose raw capture is not the page that held them
    pages_served: int
    wall_seconds: float
    fetch_seconds: float  # first request to last request, as the server saw them
    posts_per_second: float
    cpu_seconds: float  # user + system time of the crawl process
    peak_rss_mb: float
    exit_code: int
    last_error: str | None

    @property
    def ok(self) -> bool:
        return (self.exit_code == 0 and self.posts_stored == self.posts_served
                and self.capture_mismatches == 0
                and self.posts_per_second >= TARGET_POSTS_PER_SECOND
                and self.peak_rss_mb < TARGET_PEAK_RSS_MB)


class _Clock:
    """When the server saw the crawl's first and last request."""

    def __init__(self) -> None:
        self.first: float | None = None
        self.last: float | None = None
        self.pages = 0
        self.lock = threading.Lock()

    def tick(self) -> None:
        now = time.perf_counter()
        with self.lock:
            self.first = self.first if self.first is not None else now
            self.last = now
            self.pages += 1


CLOCK = _Clock()


@mock.platform(PLATFORM)
def _bench_platform(req: mock.Request) -> mock.Reply:
    """A hashtag timeline of `n<count>` statuses, paged like Mastodon (test mock's paging)."""
    if not req.path.startswith("/api/v1/timelines/tag/"):
        return mock.Reply.json({"error": "Record not found"}, status=404)
    total = int(req.scenario.removeprefix("n"))
    return fake_mastodon.page(req, list(range(1, total + 1)),
                              lambda i: fake_mastodon.status(i, texts=TEXTS))


class _FastHandler(mock._Handler):  # the mock core's handler, private but reused on purpose
    """The mock server's handler, tuned so that the fake server is not what gets measured.

    TCP_NODELAY: the handler writes headers and body separately, and on a keep-alive
    connection Nagle's algorithm then holds the body until the client's delayed ACK (about
    40 ms a page); real servers set it. Pages are rendered once in a warm-up pass and served
    from memory, as a real server's cache would: building 40 statuses and paging through
    20,000 ids took a few ms a page, on the same two cores as the crawl.
    """

    disable_nagle_algorithm = True
    rendered: ClassVar[dict[str, mock.Reply]] = {}

    def _serve(self) -> None:
        CLOCK.tick()
        reply = self.rendered.get(self.path)
        if reply is None:
            super()._serve()
        else:
            self._send(reply)

    do_GET = _serve


class _RenderingHandler(mock._Handler):
    """Warm-up: answers like the mock server and keeps each reply for `_FastHandler`."""

    def _send(self, reply: mock.Reply) -> None:
        _FastHandler.rendered[self.path] = reply
        super()._send(reply)


def start_server() -> tuple[ThreadingHTTPServer, str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _RenderingHandler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="fake-mastodon", daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def prerender(server: ThreadingHTTPServer, first_url: str) -> int:
    """Fetch every page once, as the spider will (following `rel="next"`); then serve fast."""
    url: str | None = first_url
    pages = 0
    while url:
        with urllib.request.urlopen(url, timeout=30) as response:
            links = response.headers.get("Link") or ""
            statuses = json.loads(response.read())
        pages += 1
        nxt = re.search(r'<([^>]+)>; rel="next"', links)
        url = nxt.group(1) if statuses and nxt else None
    server.RequestHandlerClass = _FastHandler
    return pages


def write_config(workdir: Path, base_url: str, posts: int) -> Path:
    config = {
        "database": {"url": f"sqlite:///{workdir / 'bench.db'}"},
        "storage": {"dir": str(workdir / "storage")},
        # Enough pages for every status (40 a page) with room to spare.
        "crawl": {"max_pages": posts // PAGE_LIMIT + 10, "timeout_seconds": 30},
        "schools": [SCHOOL],
        "sources": [{"name": SOURCE, "kind": "mastodon", "school": SCHOOL["name"],
                     "base_url": base_url, "hashtags": ["verkruisen"], "allow_private": True}],
    }
    path = workdir / "schoolwacht.toml"
    path.write_text(tomli_w.dumps(config), encoding="utf-8")
    settings = load_settings(path, environ={})
    engine = make_engine(settings.database.url)
    upgrade(engine)
    with session_scope(engine) as session:
        sync_config(session, settings=settings)
    engine.dispose()
    return path


def run_crawl(config: Path, profile: Path | None) -> tuple[int, float, str]:
    command = [sys.executable]
    if profile is not None:
        command += ["-m", "cProfile", "-o", str(profile)]
    command += ["-m", "crawlers.run", SOURCE, "--config", str(config)]
    started = time.perf_counter()
    completed = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False,
                               env={**os.environ, "PYTHONPATH": str(ROOT)})
    wall = time.perf_counter() - started
    return completed.returncode, wall, completed.stderr


def check_store(config: Path) -> tuple[int, int, int, str | None]:
    """Posts and captures stored, posts whose capture lacks them, and the source's error."""
    settings = load_settings(config, environ={})
    engine = make_engine(settings.database.url)
    try:
        with session_scope(engine) as session:
            posts = session.execute(select(func.count()).select_from(Post)).scalar_one()
            rows = session.execute(
                select(Post.external_id, Capture.path, Capture.sha256)
                .join(Capture, Capture.post_id == Post.id)
            ).all()
            source = session.execute(select(Source).where(Source.name == SOURCE)).scalar_one()
            last_error = source.last_error
    finally:
        engine.dispose()
    pages: dict[str, set[str]] = {}
    mismatches = 0
    for external_id, path, sha256 in rows:
        if path not in pages:
            body = json.loads(read_verified(settings.storage.dir, path, sha256))
            pages[path] = {status["uri"] for status in body}
        mismatches += external_id not in pages[path]
    return int(posts), len(rows), mismatches, last_error


def child_usage() -> tuple[float, float]:
    """CPU seconds and peak RSS in MB of the (only) child process, the crawl."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    # ru_maxrss is in kilobytes on Linux (bytes on macOS).
    peak = usage.ru_maxrss / (1024 * 1024) if sys.platform == "darwin" else usage.ru_maxrss / 1024
    return usage.ru_utime + usage.ru_stime, peak


def benchmark(posts: int, profile: Path | None) -> tuple[Result, str]:
    server, url = start_server()
    base_url = f"{url}/{PLATFORM}/n{posts}"
    try:
        # The spider's first request (mastodon.py `_first`), lower-cased tag included.
        prerender(server, f"{base_url}/api/v1/timelines/tag/verkruisen?"
                          f"{urlencode({'limit': str(PAGE_LIMIT)})}")
        with tempfile.TemporaryDirectory(prefix="schoolwacht-bench-") as tmp:
            config = write_config(Path(tmp), base_url, posts)
            exit_code, wall, stderr = run_crawl(config, profile)
            stored, captures, mismatches, last_error = check_store(config)
    finally:
        server.shutdown()
        server.server_close()
    cpu, peak_rss = child_usage()
    fetch = (CLOCK.last - CLOCK.first) if CLOCK.first is not None and CLOCK.last else 0.0
    result = Result(
        posts_served=posts, posts_stored=stored, captures_stored=captures,
        capture_mismatches=mismatches,
        pages_served=CLOCK.pages, wall_seconds=round(wall, 3), fetch_seconds=round(fetch, 3),
        posts_per_second=round(stored / wall, 1) if wall else 0.0,
        cpu_seconds=round(cpu, 2), peak_rss_mb=round(peak_rss, 1), exit_code=exit_code,
        last_error=last_error,
    )
    return result, stderr


def report(result: Result) -> str:
    def verdict(good: bool) -> str:
        return "ok" if good else "MISSED"

    return "\n".join([
        "Schoolwacht ingest benchmark (one Mastodon crawl, SQLite)",
        f"  posts served      {result.posts_served:>10,}",
        f"  posts stored      {result.posts_stored:>10,}"
        f"   {verdict(result.posts_stored == result.posts_served)}",
        f"  captures stored   {result.captures_stored:>10,}",
        f"  wrong captures    {result.capture_mismatches:>10,}"
        f"   {verdict(result.capture_mismatches == 0)}",
        f"  pages fetched     {result.pages_served:>10,}",
        f"  wall time         {result.wall_seconds:>10.2f} s   (process start to exit)",
        f"  fetch phase       {result.fetch_seconds:>10.2f} s   (first to last request)",
        f"  throughput        {result.posts_per_second:>10,.0f} posts/s"
        f"   target >= {TARGET_POSTS_PER_SECOND:,.0f}: "
        f"{verdict(result.posts_per_second >= TARGET_POSTS_PER_SECOND)}",
        f"  CPU (crawl)       {result.cpu_seconds:>10.2f} s",
        f"  peak RSS (crawl)  {result.peak_rss_mb:>10.1f} MB"
        f"   target < {TARGET_PEAK_RSS_MB:,.0f}: "
        f"{verdict(result.peak_rss_mb < TARGET_PEAK_RSS_MB)}",
        f"  exit code         {result.exit_code:>10}",
        f"  last error        {result.last_error or '-':>10}",
    ])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ingest", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--posts", type=int, default=20_000, help="statuses on the timeline")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--profile", type=Path, default=None,
                        help="run the crawl under cProfile and write its stats here")
    args = parser.parse_args(argv)
    result, stderr = benchmark(args.posts, args.profile)
    if args.json:
        payload: dict[str, Any] = {**asdict(result), "ok": result.ok,
                                   "targets": {"posts_per_second": TARGET_POSTS_PER_SECOND,
                                               "peak_rss_mb": TARGET_PEAK_RSS_MB}}
        print(json.dumps(payload, indent=2))
    else:
        print(report(result))
    if result.exit_code != 0:
        print(stderr[-3000:], file=sys.stderr)
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
