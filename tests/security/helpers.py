"""Helpers for the security suite: the app's routes, an installation with accounts and cases,
a database snapshot to prove that a refused request changed nothing, a canary HTTP server that
counts the requests that reach it, raw HTTP for paths no client library would send as typed,
and the XSS corpus (`xss_payloads.txt`)."""

from __future__ import annotations

import functools
import re
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import MetaData, select
from sqlmodel import SQLModel

from dashboard.app import create_app
from store import workflow
from store.config import Settings
from store.db import make_engine
from store.models import Case, User
from store.setup import prepare
from store.users import hash_password
from tests.helpers.evidence import Installation, install
from tests.helpers.fixtures import Env
from tests.helpers.web import PASSWORD

HERE = Path(__file__).parent
PAYLOADS_FILE = HERE / "xss_payloads.txt"
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
CSRF_REFUSED = "Formulier verlopen"
FORBIDDEN = "Geen toegang"

ADMIN = "beheer@school.example"
DIRECTOR = "directeur@school.example"
STAFF = "juf@school.example"
OTHER_STAFF = "meester@school.example"
ROLES = {ADMIN: "admin", DIRECTOR: "director", STAFF: "staff", OTHER_STAFF: "staff"}
SOURCE = "mastodon-verkruisen"
# Paths that need no session: the login form and the stylesheet.
PUBLIC = {("GET", "/login"), ("POST", "/login")}
PUBLIC_PREFIXES = ("/static",)


def payloads() -> list[str]:
    """The XSS corpus: every line that is not empty and not a comment ("# ..."), verbatim."""
    lines = PAYLOADS_FILE.read_text(encoding="utf-8").split("\n")
    return [line for line in lines if line and not line.startswith("# ")]


# -- routes ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Route:
    method: str
    path: str  # the template, e.g. /cases/{case_id}
    name: str

    def url(self, values: dict[str, Any]) -> str:
        return re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: str(values[m.group(1)]), self.path)

    @property
    def params(self) -> list[str]:
        return re.findall(r"\{(\w+)(?::\w+)?\}", self.path)


def app_routes(app: FastAPI) -> tuple[list[Route], list[str]]:
    """Every (method, path) of the app, and the path of every mount (static files).

    FastAPI 0.16x keeps included routers nested (`_IncludedRouter`); `iter_route_contexts`
    flattens them the way the OpenAPI generator does. Older versions list them flat."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # pragma: no cover - older FastAPI: app.routes is flat
        contexts: Any = app.routes
    else:
        contexts = iter_route_contexts(app.routes)
    routes: list[Route] = []
    mounts: list[str] = []
    for context in contexts:
        methods = getattr(context, "methods", None)
        path = getattr(context, "path", None) or ""
        if methods is None:
            mounts.append(path)
            continue
        routes.extend(Route(m, path, getattr(context, "name", "") or "") for m in sorted(methods) if m != "HEAD")
    return routes, mounts


def protected(routes: list[Route]) -> list[Route]:
    return [r for r in routes if (r.method, r.path) not in PUBLIC and not r.path.startswith(PUBLIC_PREFIXES)]


# -- an installation --------------------------------------------------------------------------------
@dataclass
class Site:
    """An installation with an admin, a director and two staff members, a case for each staff
    member (assigned to them), a flagged post in the review queue and one app shared by the
    clients of all users (each with its own cookies)."""

    env: Env
    inst: Installation
    app: FastAPI
    users: dict[str, int]
    own_case: int  # assigned to STAFF
    other_case: int  # assigned to OTHER_STAFF
    review_post: int  # flagged, not yet reviewed (its case is own_case)

    @property
    def settings(self) -> Settings:
        return self.inst.settings

    def client(self, email: str | None = None) -> TestClient:
        """A new client on the shared app, logged in as `email` through the real login form."""
        client = TestClient(self.app, follow_redirects=False)
        if email is not None:
            login(client, email)
        return client

    def classify_with_shared_model(self) -> None:
        """Give the app the builtin classifier loaded once per test process (the report form
        classifies in the request; loading the model per app would cost seconds each time)."""
        self.app.state.classifier = shared_classifier()

    def values(self) -> dict[str, Any]:
        """Path parameters under which each route would really act."""
        return {"case_id": self.own_case, "post_id": self.review_post, "user_id": self.users[OTHER_STAFF],
                "name": SOURCE}


@functools.cache
def shared_classifier() -> Any:
    from classifier import load_classifier

    return load_classifier("builtin", batch_size=16, allow_download=False)


def login(client: TestClient, email: str, password: str = PASSWORD) -> None:
    token = form_token(client, "/login")
    response = client.post("/login", data={"email": email, "password": password, "csrf_token": token, "next": "/"},
                           follow_redirects=False)
    assert response.status_code == 303, response.text[:500]


def form_token(client: TestClient, path: str = "/") -> str:
    match = TOKEN.search(client.get(path, follow_redirects=False).text)
    assert match, f"no csrf_token on {path}"
    return match.group(1)


def add_users(env: Env, roles: dict[str, str], names: dict[str, str] | None = None) -> dict[str, int]:
    """Accounts with the password PASSWORD (hashed once: argon2 is slow on purpose)."""
    names = names or {}
    password_hash = hash_password(PASSWORD)
    with env.session() as session:
        rows = [User(email=email, role=role, name=names.get(email, email.split("@")[0].capitalize()),
                     password_hash=password_hash) for email, role in roles.items()]
        session.add_all(rows)
        session.flush()
        return {row.email: int(row.id) for row in rows}  # type: ignore[arg-type]


def build_site(env: Env, **evidence: Any) -> Site:
    inst = install(env, **evidence)
    users = add_users(env, ROLES)
    own = inst.seed("De juf van Verkruisen is een heks", author="ouder_a")
    other = inst.seed("De meester van Verkruisen is een sukkel", author="ouder_b")
    assert own.case_id is not None and other.case_id is not None
    with env.session() as session:
        for case_id, email in ((own.case_id, STAFF), (other.case_id, OTHER_STAFF)):
            case = session.get(Case, case_id)
            assert case is not None
            workflow.assign(session, case, assignee_id=users[email], actor=DIRECTOR, actor_id=users[DIRECTOR])
    prepare(inst.settings)
    return Site(env=env, inst=inst, app=create_app(inst.settings), users=users, own_case=own.case_id,
                other_case=other.case_id, review_post=own.post_id)


# -- the database, before and after ----------------------------------------------------------------
# Columns that change on any request of a logged-in user (the session's idle clock).
_VOLATILE = {"last_seen_at"}


def snapshot(settings: Settings) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table (minus the idle clock): equal snapshots mean nothing was written."""
    engine = make_engine(settings.database.url)
    try:
        metadata: MetaData = SQLModel.metadata
        with engine.connect() as connection:
            out: dict[str, list[tuple[Any, ...]]] = {}
            for table in metadata.sorted_tables:
                columns = [c for c in table.columns if c.name not in _VOLATILE]
                rows = connection.execute(select(*columns)).all()
                out[table.name] = sorted((tuple(row) for row in rows), key=repr)
            return out
    finally:
        engine.dispose()


def files_under(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()} if folder.exists() else set()


# -- a canary: a real server that must never be reached ----------------------------------------------
@dataclass
class Canary:
    """HTTP on 127.0.0.1 (and on [::1] where the machine has IPv6): records every request."""

    hits: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        hits = self.hits

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                hits.append(f"{self.headers.get('Host')} {self.path}")
                body = b"<html><body>Verkruisen intern: geheim</body></html>"
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_HEAD = do_GET

        self.servers: list[ThreadingHTTPServer] = []
        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.servers.append(server)
        self.port = int(server.server_address[1])
        self.v6_port: int | None = None
        if socket.has_ipv6:
            class V6Server(ThreadingHTTPServer):
                address_family = socket.AF_INET6

            try:
                v6 = V6Server(("::1", self.port), Handler)
            except OSError:
                try:
                    v6 = V6Server(("::1", 0), Handler)
                except OSError:
                    v6 = None  # type: ignore[assignment]
            if v6 is not None:
                self.servers.append(v6)
                self.v6_port = int(v6.server_address[1])
        for each in self.servers:
            each.daemon_threads = True
            threading.Thread(target=each.serve_forever, daemon=True).start()

    def close(self) -> None:
        for each in self.servers:
            each.shutdown()
            each.server_close()


# -- raw HTTP ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes


def raw_request(base: str, method: str, target: str, *, headers: dict[str, str] | None = None,
                body: bytes = b"") -> RawResponse:
    """One HTTP/1.1 request with the request target exactly as given (no client normalises it)."""
    host, port = base.removeprefix("http://").split(":")
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}:{port}", "Connection: close",
             f"Content-Length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    data = b"".join(chunks)
    head, _, rest = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    parsed: dict[str, str] = {}
    for line in header_lines:
        key, _, value = line.partition(":")
        parsed[key.strip().lower()] = (parsed.get(key.strip().lower(), "") + "\n" + value.strip()).strip()
    if "chunked" in parsed.get("transfer-encoding", ""):
        rest = _unchunk(rest)
    return RawResponse(int(status_line.split()[1]), parsed, rest)


def _unchunk(data: bytes) -> bytes:
    out = bytearray()
    while data:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0] or b"0", 16)
        if size == 0:
            break
        out += data[:size]
        data = data[size + 2:]
    return bytes(out)
