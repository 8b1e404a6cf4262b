"""The HTTP core: routing by platform prefix, generic hostile scenarios, request log."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit


@dataclass
class Request:
    method: str
    path: str  # path below the platform and scenario: "/api/v1/timelines/tag/x"
    scenario: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    base: str  # absolute URL of this platform+scenario root, for Link headers

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    # Special behaviours for hostile scenarios.
    stall: float = 0.0  # sleep before answering
    dribble: float = 0.0  # seconds between single bytes of the body

    @classmethod
    def json(cls, data: object, status: int = 200, **kwargs: object) -> Reply:
        return cls(status=status, body=json.dumps(data).encode(), **kwargs)  # type: ignore[arg-type]


Handler = Callable[[Request], Reply]
PLATFORMS: dict[str, Handler] = {}
HITS: Counter[str] = Counter()
HITS_LOCK = threading.Lock()
# When each request arrived, per "platform/scenario", as (unix time, path?query): lets a test
# prove from the server side how long a client waited between retries.
TIMES: dict[str, list[tuple[float, str]]] = {}


def platform(name: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        PLATFORMS[name] = handler
        return handler
    return register


def hit(key: str) -> int:
    """Count a request (per scenario key) and return how many came before it."""
    with HITS_LOCK:
        count = HITS[key]
        HITS[key] += 1
        return count


def hostile(req: Request, content_type: str) -> Reply | None:
    """Scenarios every platform shares; None when the scenario is not one of them."""
    s = req.scenario
    if s == "garbage":
        return Reply(body=b"\x00\xff{<<not json or xml>>\xfe" * 10, content_type=content_type)
    if s == "truncated":
        # Valid UTF-8 that stops mid-document: malformed JSON (or XML), not bad bytes.
        return Reply(body=b'[{"id": "1", "content": "<p>BM Verkruisen is gesloten',
                     content_type=content_type)
    if s == "badutf8":
        return Reply(body=b'[{"id": "1", "content": "caf\xe9 \xff"}]', content_type=content_type)
    if s == "wrongtype":
        return Reply(body=b"<html><body>Even geduld...</body></html>", content_type="text/html")
    if s == "huge":
        return Reply(body=b"[" + b'"x",' * (5 * 1024 * 1024) + b'"x"]', content_type=content_type)
    if s == "stall":
        return Reply(stall=3600, content_type=content_type)
    if s == "dribble":
        return Reply(body=b"[" + b" " * 600 + b"]", dribble=1.0, content_type=content_type)
    if s == "ratelimited":
        if hit(f"{s}{req.path}?{sorted(req.query.items())}") == 0:
            return Reply(status=429, headers={"Retry-After": "1"}, body=b"{}")
        return None
    if s == "ratelimitedlong":
        return Reply(status=429, headers={"Retry-After": "86400"}, body=b"{}")
    if s == "flaky":
        if hit(f"{s}{req.path}?{sorted(req.query.items())}") < 2:
            return Reply(status=503, body=b"{}")
        return None
    if s == "down":
        return Reply(status=500, body=b"{}")
    if s.startswith("redirect-"):
        # Clients percent-encode the brackets of "[::1]" in the path.
        target = unquote(s.removeprefix("redirect-")).replace("_", ":")
        return Reply(status=302, headers={"Location": f"http://{target}/"}, body=b"")
    return None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "mockserver"
    # Headers and body are written separately: without this, Nagle + delayed ACK add ~40 ms
    # to every response on a kept-alive connection.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _serve(self) -> None:
        parts = urlsplit(self.path)
        segments = parts.path.split("/")
        if parts.path == "/robots.txt" and "_robots" in PLATFORMS:
            # Crawlers look for robots.txt at the root, outside any platform prefix.
            segments = ["", "_robots", "", "robots.txt"]
        if len(segments) < 3 or segments[1] not in PLATFORMS:
            self._send(Reply(status=404, body=b'{"error":"unknown platform"}'))
            return
        name, scenario = segments[1], segments[2]
        rest = "/" + "/".join(segments[3:])
        length = int(self.headers.get("Content-Length") or 0)
        host = self.headers.get("Host", f"127.0.0.1:{self.server.server_address[1]}")
        req = Request(method=self.command, path=rest, scenario=scenario,
                      query=parse_qs(parts.query, keep_blank_values=True),
                      headers={k.lower(): v for k, v in self.headers.items()},
                      body=self.rfile.read(length) if length else b"",
                      base=f"http://{host}/{name}/{scenario}")
        hit(f"count:{name}/{scenario}")
        with HITS_LOCK:
            TIMES.setdefault(f"{name}/{scenario}", []).append((time.time(), self.path))
        try:
            reply = PLATFORMS[name](req)
        except Exception as exc:  # a bug in a fixture must show, not hang the test
            reply = Reply(status=599, body=f"fixture error: {exc!r}".encode(), content_type="text/plain")
        self._send(reply)

    def _send(self, reply: Reply) -> None:
        if reply.stall:
            time.sleep(reply.stall)
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        for key, value in reply.headers.items():
            self.send_header(key, value)
        self.end_headers()
        if reply.dribble:
            for byte in reply.body:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(reply.dribble)
        else:
            self.wfile.write(reply.body)

    do_GET = _serve
    do_POST = _serve


@platform("_stats")
def _stats(req: Request) -> Reply:
    """Request counts, so tests can prove what a crawl did (or did not) fetch."""
    with HITS_LOCK:
        return Reply.json(dict(HITS))


@platform("_times")
def _times(req: Request) -> Reply:
    """Arrival times of requests per platform/scenario (see TIMES)."""
    with HITS_LOCK:
        return Reply.json({key: list(value) for key, value in TIMES.items()})


def serve(port: int = 0) -> None:
    from tests.mockserver import platforms  # noqa: F401  (registers every platform)

    server = ThreadingHTTPServer(("127.0.0.1", port), _Handler)
    server.daemon_threads = True
    print(f"http://127.0.0.1:{server.server_address[1]}", flush=True)
    server.serve_forever()
