"""Helpers for the evidence tests: an installation with flagged posts and cases, and a real web
server on 127.0.0.1 whose pages Chromium photographs."""

from __future__ import annotations

import hashlib
import html
import io
import json
import socket
import threading
import time
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from sqlalchemy import select

from classifier.labels import severity_for
from store.cases import open_or_join_case
from store.classifications import add_classification
from store.config import Settings
from store.files import store_blob
from store.models import Post, Source
from store.posts import NewPost, insert_posts
from store.sources import get_school
from store.types import utcnow
from tests.helpers.fixtures import SCHOOL, Env

SOURCE = "mastodon-verkruisen"
HOSTILE = ('Die juf <script>alert("x")</script> is een <img src=x onerror=alert(1)> <font color=red>heks</font> '
           '<a href="javascript:alert(3)">klik</a> & <b>gek</b> van Verkruisen')


def closed_port_url(path: str = "/bericht") -> str:
    """A URL on 127.0.0.1 where nothing listens (connection refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}{path}"


@dataclass
class Seeded:
    post_id: int
    case_id: int | None


@dataclass
class Installation:
    env: Env
    settings: Settings

    def seed(self, text: str, *, categories: Iterable[str] = ("insult",), sentiment: str = "negative",
             author: str | None = "boze_ouder", name: str | None = "Boze Ouder", url: str | None = None,
             platform: str = "mastodon", created_at: datetime | None = None, raw: bytes | None = None,
             explanations: dict[str, list[dict[str, Any]]] | None = None) -> Seeded:
        """A crawled post with its raw capture, classification and case, as the crawl and the
        classifier job store them."""
        categories = list(categories)
        created = created_at or utcnow() - timedelta(hours=3)
        if raw is None:
            raw = json.dumps({"id": str(time.time_ns()), "content": text, "account": {"acct": author},
                              "created_at": created.isoformat(), "url": url}, ensure_ascii=False).encode("utf-8")
        with self.env.session() as session:
            school = get_school(session, name=SCHOOL["name"])
            source = session.execute(select(Source).where(Source.name == SOURCE)).scalars().one()
            stored = store_blob(self.settings.storage.dir, raw, media_type="application/json")
            external_id = hashlib.sha256(f"{text}|{author}|{time.time_ns()}".encode()).hexdigest()[:24]
            [post_id] = insert_posts(session, posts=[NewPost(
                source_id=source.id, school_id=school.id,  # type: ignore[arg-type]
                platform=platform, external_id=external_id, text=text,
                content_sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(), capture=stored,
                capture_url=url, capture_media_type="application/json", url=url, author_handle=author,
                author_name=name, language="nl", created_at=created, matched_phrase="Verkruisen")])
            post = session.get(Post, post_id)
            assert post is not None
            if explanations is None:
                explanations = {c: [_first_words(text)] for c in categories}
            row = add_classification(
                session, post_id=post_id, model="test", version="1", language="nl", sentiment=sentiment,
                sentiment_score=0.9, scores={c: 0.9 for c in categories}, categories=categories,
                explanations=explanations, severity=severity_for(sentiment, categories))
            case = open_or_join_case(session, post=post, classification=row)
            return Seeded(post_id, case.id if case is not None else None)


def _first_words(text: str) -> dict[str, Any]:
    end = min(len(text), 12)
    return {"start": 0, "end": end, "text": text[:end], "source": "model", "rule": None}


def install(env: Env, **evidence: Any) -> Installation:
    source = {"name": SOURCE, "kind": "mastodon", "base_url": "http://127.0.0.1:9", "hashtags": ["verkruisen"],
              "enabled": False}
    conf = {"allow_private": True, "screenshot_timeout_seconds": 15, **evidence}
    return Installation(env, env.write([source], evidence=conf))


@dataclass
class PageServer:
    """Real HTTP on 127.0.0.1. `/post/<words>` is a post page; `/to/<url>` redirects there;
    `/embed/<url>` is a page that loads an image and a script from <url>; anything else 404."""

    hits: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        hits = self.hits

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                hits.append(self.path)
                if self.path.startswith("/to/"):
                    self.send_response(302)
                    self.send_header("Location", self.path[len("/to/"):])
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if self.path.startswith("/post/"):
                    words = html.escape(self.path[len("/post/"):].replace("-", " "))
                    body = (f"<!doctype html><html lang=nl><head><title>Bericht</title></head><body>"
                            f"<h1>Dorpsforum Muntendam</h1><p class=post>{words}</p></body></html>")
                    self._answer(200, body)
                elif self.path.startswith("/embed/"):
                    target = html.escape(self.path[len("/embed/"):], quote=True)
                    self._answer(200, f"<!doctype html><html><body><p>ingesloten</p><img src=\"{target}/plaatje.png\">"
                                      f"<script src=\"{target}/script.js\"></script></body></html>")
                else:
                    self._answer(404, "<h1>Niet gevonden</h1>")

            def _answer(self, status: int, body: str) -> None:
                data = body.encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def zip_members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def rewrite_zip(source: Path, target: Path, members: dict[str, bytes]) -> None:
    """A copy of a bundle with other members (to tamper with it the way a person would)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    target.write_bytes(buffer.getvalue())
