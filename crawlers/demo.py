"""A local stand-in for Mastodon and a news site, for `schoolwacht run --demo`.

`DemoServer` answers the real Mastodon tag-timeline API and an RSS 2.0 feed from the invented
posts in `demo_posts.jsonl`, on 127.0.0.1, so a newcomer sees crawling, classification,
alerts and cases work without any account. Posts with `minutes_ago` are there from the start;
the others appear one by one, every `interval` seconds, in `delay_seconds` order (the file's
delays are written for the default 20 s pace), so new posts keep arriving while one watches.
"""

from __future__ import annotations

import html
import json
import re
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode
from xml.sax.saxutils import escape

POSTS_FILE = Path(__file__).with_name("demo_posts.jsonl")
DEFAULT_INTERVAL = 20.0
# Where the invented accounts live. URIs (the posts' identity) use these fixed names, not the
# server's random port, so a demo restarted on the same database does not store posts twice.
INSTANCE = "toot.muntendam.example"
NEWS_SITE = "dorpskrant-muntendam.example"
SCHOOL = "obs BM Verkruisen"
_HASHTAG = re.compile(r"(?<![\w&])#(\w+)")  # `&` excludes escaped entities such as &#x27;


@dataclass(frozen=True)
class DemoPost:
    key: str  # the id in demo_posts.jsonl: stable across runs
    kind: str  # "mastodon" | "rss"
    author: str  # acct: "user" on INSTANCE or "user@other.example"
    author_name: str
    text: str
    title: str | None
    appears_at: float  # epoch seconds; the post's created_at
    status_id: int  # Mastodon-style snowflake: ordered like appears_at

    @property
    def username(self) -> str:
        return self.author.split("@")[0]

    @property
    def domain(self) -> str:
        return self.author.split("@")[1] if "@" in self.author else INSTANCE

    @property
    def created(self) -> datetime:
        return datetime.fromtimestamp(self.appears_at, UTC)


def load_posts(start: float, interval: float, path: Path = POSTS_FILE) -> list[DemoPost]:
    raw = [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]
    posts = []
    for index, row in enumerate(raw):
        if row.get("minutes_ago") is not None:
            appears = start - float(row["minutes_ago"]) * 60
        else:
            appears = start + float(row["delay_seconds"]) / DEFAULT_INTERVAL * interval
        # Mastodon ids are (milliseconds << 16) + sequence; newer posts get larger ids.
        status_id = (int(appears * 1000) << 16) + index
        posts.append(DemoPost(str(row["id"]), row["kind"], row["author"], row["author_name"],
                              row["text"], row.get("title"), appears, status_id))
    return sorted(posts, key=lambda p: p.status_id)


def _content(text: str) -> str:
    """The HTML Mastodon serves: typed text escaped, paragraphs, hashtags as links."""
    paragraphs = []
    for para in text.split("\n\n"):
        body = html.escape(para).replace("\n", "<br />")
        body = _HASHTAG.sub(
            lambda m: f'<a href="https://{INSTANCE}/tags/{m.group(1).lower()}" '
                      f'class="mention hashtag" rel="tag">#<span>{m.group(1)}</span></a>', body)
        paragraphs.append(f"<p>{body}</p>")
    return "".join(paragraphs)


class DemoServer:
    """The demo platforms in a daemon thread: `start()`, `url`, `stop()`."""

    def __init__(self, interval: float = DEFAULT_INTERVAL, *, posts_file: Path = POSTS_FILE,
                 clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.posts = load_posts(clock(), interval, posts_file)
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("demo server not started")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> str:
        handler = type("Handler", (_Handler,), {"demo": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)  # daemon threads
        threading.Thread(target=self._server.serve_forever, name="schoolwacht-demo",
                         daemon=True).start()
        return self.url

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def visible(self, kind: str | None = None) -> list[DemoPost]:
        """Posts that have appeared by now, oldest first."""
        now = self.clock()
        return [p for p in self.posts if p.appears_at <= now and kind in (None, p.kind)]

    def status(self, post: DemoPost) -> dict[str, Any]:
        account_id = str(zlib.crc32(post.author.encode()))
        profile = f"https://{post.domain}/@{post.username}"
        tags = sorted({t.lower() for t in _HASHTAG.findall(post.text)})
        return {
            "id": str(post.status_id),
            "created_at": post.created.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "in_reply_to_id": None, "in_reply_to_account_id": None,
            "sensitive": False, "spoiler_text": "", "visibility": "public", "language": "nl",
            "uri": f"https://{post.domain}/users/{post.username}/statuses/{post.key}",
            "url": f"{self.url}/@{post.author}/{post.status_id}",
            "replies_count": 0, "reblogs_count": 0, "favourites_count": 0, "edited_at": None,
            "content": _content(post.text), "reblog": None, "application": None,
            "account": {
                "id": account_id, "username": post.username, "acct": post.author,
                "display_name": post.author_name, "locked": False, "bot": False,
                "created_at": "2023-05-01T00:00:00.000Z", "note": "", "url": profile,
                "avatar": f"https://{INSTANCE}/avatars/original/missing.png",
                "followers_count": 12, "following_count": 30, "statuses_count": 80,
            },
            "media_attachments": [], "mentions": [], "emojis": [], "card": None, "poll": None,
            "tags": [{"name": t, "url": f"https://{INSTANCE}/tags/{t}"} for t in tags],
        }

    def timeline(self, path: str, query: dict[str, str]) -> tuple[list[dict[str, Any]], str]:
        """One page of the tag timeline and its `Link` header, paged like Mastodon."""
        try:
            limit = max(1, min(int(query.get("limit") or 20), 40))
            max_id, since_id, min_id = (int(query.get(k) or 0) for k in
                                        ("max_id", "since_id", "min_id"))
        except ValueError:
            limit, max_id, since_id, min_id = 20, 0, 0, 0
        # Every tag shows the whole demo timeline: the demo has one school to watch.
        chosen = [p for p in self.visible("mastodon")
                  if (not max_id or p.status_id < max_id) and p.status_id > max(since_id, min_id)]
        # min_id: the page just above min_id (taken oldest-first); otherwise the newest page.
        chosen = chosen[:limit][::-1] if min_id else chosen[::-1][:limit]
        link = ""
        if chosen:
            keep = {k: v for k, v in query.items() if k not in ("max_id", "min_id", "since_id")}
            base = f"{self.url}{path}?"
            link = (f'<{base}{urlencode({**keep, "max_id": chosen[-1].status_id})}>; rel="next", '
                    f'<{base}{urlencode({**keep, "min_id": chosen[0].status_id})}>; rel="prev"')
        return [self.status(p) for p in chosen], link

    def rss(self) -> str:
        items = []
        for post in reversed(self.visible("rss")):
            items.append(
                f"<item><title>{escape(post.title or '')}</title>"
                f"<link>{self.url}/nieuws/{post.key}</link>"
                f'<guid isPermaLink="false">https://{NEWS_SITE}/artikel/{post.key}</guid>'
                f"<pubDate>{format_datetime(post.created, usegmt=True)}</pubDate>"
                f"<dc:creator>{escape(post.author_name)}</dc:creator>"
                f"<description>{escape(post.text)}</description></item>")
        built = format_datetime(datetime.fromtimestamp(self.clock(), UTC), usegmt=True)
        return ('<?xml version="1.0" encoding="UTF-8"?>\n'
                '<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>'
                f"<title>Dorpskrant Muntendam (demo)</title><link>{self.url}/</link>"
                "<description>Verzonnen nieuws voor de Schoolwacht-demo</description>"
                f"<language>nl</language><lastBuildDate>{built}</lastBuildDate>"
                + "".join(items) + "</channel></rss>\n")

    def page(self, key: str) -> str | None:
        """A minimal permalink page, so links in the dashboard lead somewhere."""
        for post in self.visible():
            if key in (post.key, str(post.status_id)):
                title = html.escape(post.title or post.author_name)
                return (f'<!doctype html><html lang="nl"><meta charset="utf-8"><title>{title}'
                        f"</title><h1>{title}</h1><p>{html.escape(post.author)}</p>"
                        f"{_content(post.text)}</html>")
        return None


class _Handler(BaseHTTPRequestHandler):
    demo: DemoServer

    def do_GET(self) -> None:
        path, _, raw_query = self.path.partition("?")
        query = {k: v[0] for k, v in parse_qs(raw_query).items()}
        if path.startswith("/api/v1/timelines/tag/"):
            statuses, link = self.demo.timeline(path, query)
            self._send(200, "application/json; charset=utf-8",
                       json.dumps(statuses, ensure_ascii=False), {"Link": link} if link else {})
        elif path == "/rss.xml":
            self._send(200, "application/rss+xml; charset=utf-8", self.demo.rss())
        elif (match := re.fullmatch(r"/(?:@[^/]+|nieuws)/(\d+)", path)) and (
                body := self.demo.page(match.group(1))) is not None:
            self._send(200, "text/html; charset=utf-8", body)
        else:
            self._send(404, "application/json; charset=utf-8", '{"error":"Record not found"}')

    def _send(self, status: int, ctype: str, body: str,
              headers: dict[str, str] | None = None) -> None:
        data = body.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # the crawl log says enough
        pass


def demo_config(workdir: Path, server_url: str, *, mail_port: int = 8025, dashboard_port: int = 8000
                ) -> dict[str, Any]:
    """A complete config (the TOML structure of store/config.py) for the demo installation."""
    school = {"name": SCHOOL, "aliases": ["BM Verkruisen", "Verkruisen", "fusieschool Muntendam"],
              "watch_names": [], "exclude": ["Verkruisen Transport"],
              "timezone": "Europe/Amsterdam"}
    return {
        "database": {"url": f"sqlite:///{(workdir / 'schoolwacht-demo.db').as_posix()}"},
        "storage": {"dir": str(workdir / "schoolwacht-data")},
        "dashboard": {"host": "127.0.0.1", "port": dashboard_port},
        # Lively for a newcomer: new posts are classified and mailed within seconds.
        "schedule": {"classify_every_seconds": 10, "outbox_every_seconds": 10},
        # The demo catches its own mail (alerts.mailcatcher): files in the demo directory.
        "mail": {"host": "127.0.0.1", "port": mail_port, "sender": "schoolwacht@verkruisen.example",
                 "director": ["directeur@verkruisen.example"]},
        "schools": [school],
        "sources": [
            {"name": "demo-mastodon", "kind": "mastodon", "school": SCHOOL,
             "base_url": server_url, "hashtags": ["verkruisen"], "interval_minutes": 1,
             "allow_private": True},
            {"name": "demo-nieuws", "kind": "rss", "school": SCHOOL,
             "url": f"{server_url.rstrip('/')}/rss.xml", "interval_minutes": 1,
             "allow_private": True},
        ],
    }
