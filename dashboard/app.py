"""The dashboard: FastAPI with server-rendered Jinja2 pages in Dutch (DESIGN.md, Case workflow).

`create_app(settings)` builds the app; pages live in `dashboard/routes/`, one module each.
Every page but the login needs a session (`viewer` dependency); every form needs the CSRF
token (`form_viewer`); pages limited to roles use `role(...)`. No inline scripts or styles
anywhere, so the Content-Security-Policy can forbid them.
"""

from __future__ import annotations

import gc
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Depends, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy.engine import Engine
from sqlmodel import Session
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from alerts import dutch_time
from dashboard import auth
from dashboard.auth import CsrfFailed, Forbidden, LoginRequired, Viewer
from dashboard.cache import VersionedCache
from store import audit
from store.config import Settings, load_settings
from store.db import make_engine, session_scope

logger = logging.getLogger("schoolwacht.dashboard")
HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
# Templates ship with the package and do not change while it runs: no stat() of every template and
# include on every render (a review page includes its item template fifty times).
templates.env.auto_reload = False
templates.env.filters["tijd"] = lambda value, zone="Europe/Amsterdam": dutch_time(value, zone) if value else "–"
templates.env.globals["ROLE_NAMES_NL"] = auth.ROLE_NAMES_NL

# Responses per keep-alive connection when several worker processes serve (see KeepAliveLimit):
# a busy browser tab reconnects about once a second (a reconnect costs ~0.1 ms on a LAN), so the
# load spreads over the processes within a second or two (bench/dashboard.py: 10 and 25 did equally
# well, 100 left one process with twice the other's work for most of a 10 s run).
KEEPALIVE_REQUESTS = 25

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'")
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


class SecurityHeaders:
    """Adds `SECURITY_HEADERS` to every response (a plain ASGI middleware: Starlette's
    BaseHTTPMiddleware costs a task and a stream per request)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # Pages about children and parents stay out of shared caches and the back button.
        no_store = not scope["path"].startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    if name not in headers:
                        headers[name] = value
                if no_store and "cache-control" not in headers:
                    headers["Cache-Control"] = "no-store"
            await send(message)

        await self.app(scope, receive, send_with_headers)


class KeepAliveLimit:
    """Closes a keep-alive connection after `max_requests` responses, as nginx
    (`keepalive_requests`) and Apache (`MaxKeepAliveRequests`) do.

    With several worker processes a connection stays with the process that accepted it, and a
    browser keeps its connection open for as long as it is used: a few busy users could pin
    themselves to one process while the other idles. The reconnect goes to whichever process
    accepts first, the least busy one, so the load spreads again. HTTP/1.1 requests of one
    connection come one after another and this runs on the event loop: no lock is needed.
    """

    def __init__(self, app: ASGIApp, max_requests: int = KEEPALIVE_REQUESTS, remembered: int = 4096) -> None:
        self.app = app
        self.max_requests = max_requests
        self.remembered = remembered
        # Requests so far per client (address, port), i.e. per open connection; the oldest are
        # forgotten first (a forgotten connection merely starts counting again).
        self._counts: OrderedDict[tuple[Any, ...], int] = OrderedDict()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = scope.get("client")
        if scope["type"] != "http" or not client:
            await self.app(scope, receive, send)
            return
        key = tuple(client)
        count = self._counts.pop(key, 0) + 1
        if count < self.max_requests:
            self._counts[key] = count
            if len(self._counts) > self.remembered:
                self._counts.popitem(last=False)
            await self.app(scope, receive, send)
            return

        async def send_closing(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)["connection"] = "close"
            await send(message)

        await self.app(scope, receive, send_closing)


class DutchTooLarge:
    """Starlette's body limit (`max_body_size` on a route) answers a bare English "Content Too
    Large" before any exception handler runs; this turns that answer into the Dutch error page."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        replaced = False

        async def send_dutch(message: Message) -> None:
            nonlocal replaced
            if message["type"] == "http.response.start" and message["status"] == 413:
                headers = MutableHeaders(scope=message)
                if headers.get("content-type", "").startswith("text/plain"):
                    replaced = True
                    await too_large_page(Request(scope))(scope, receive, send)
                    return
            if not replaced:
                await send(message)

        await self.app(scope, receive, send_dutch)


# -- dependencies -------------------------------------------------------------------------------
def db(request: Request) -> Iterator[Session]:
    """One session per request; commits when the handler returns without error.

    Always used as `DB`: the commit must happen before the response
    leaves, or a fast browser asks for the next page before the new session row (or the action
    it was redirected after) is visible, and a failed commit would follow a success page.

    The user of the request's session cookie is looked up here too, in the same worker-thread
    hop (see `viewer`): a hop costs more than the indexed query, and nearly every request
    needs both.
    """
    with session_scope(request.app.state.engine) as session:
        request.state.session_user = auth.viewer_for(session, request.cookies.get(auth.COOKIE))
        yield session


# The request's database session (see `db`).
DB = Depends(db, scope="function")


def _signed_in(request: Request, found: Viewer | None) -> Viewer:
    """The viewer of this request (kept for `render`), or LoginRequired."""
    if found is None:
        raise LoginRequired
    request.state.viewer = found
    return found


async def viewer(request: Request, session: Session = DB) -> Viewer:
    """The logged-in user, or LoginRequired. `db` (resolved first: this depends on it) looked the
    session up; async, so no second trip to a worker thread."""
    return _signed_in(request, request.state.session_user)


@contextmanager
def page_session(request: Request) -> Iterator[tuple[Session, Viewer]]:
    """`DB` and `viewer` in one, for a page whose whole work runs in a single worker-thread hop
    (an `async def` route that hands one function to `run_in_threadpool`): the case page, the
    busiest. FastAPI would take four hops for the same (the session's start and end, the login
    check, the page), each costing more than a query. Commits before the page leaves, like `db`."""
    with session_scope(request.app.state.engine) as session:
        yield session, _signed_in(request, auth.viewer_for(session, request.cookies.get(auth.COOKIE)))


def role(*roles: str) -> Callable[..., Viewer]:
    """Dependency: a logged-in user with one of `roles`."""

    async def check(request: Request, who: Viewer = Depends(viewer)) -> Viewer:
        if not who.can(*roles):
            raise Forbidden
        return who

    return check


async def form_viewer(request: Request, who: Viewer = Depends(viewer)) -> Viewer:
    """Dependency for every POST: the session's CSRF token must come with the form."""
    form = await request.form()
    token = form.get("csrf_token")
    auth.check_csrf(who, token if isinstance(token, str) else None)
    return who


def record(session: Session, who: Viewer | None, action: str, object_type: str = "",
           object_id: str | int = "", **detail: Any) -> None:
    """An audit entry for what `who` saw or did (committed with the request's transaction)."""
    audit.record(session, actor=who.label if who else "anoniem", actor_id=who.id if who else None,
                 action=action, object_type=object_type, object_id=object_id, detail=detail)


def record_view(session: Session, who: Viewer, action: str, object_type: str = "",
                object_id: str | int = "", **detail: Any) -> None:
    """An audit entry for what `who` saw, in a short transaction of its own after the request's.

    Call it last, after the page rendered: a view that failed to render was not seen.
    """
    audit.record_committed(session, actor=who.label, actor_id=who.id, action=action,
                           object_type=object_type, object_id=object_id, detail=detail)


def render(request: Request, template: str, context: dict[str, Any] | None = None, *,
           status_code: int = 200) -> HTMLResponse:
    who: Viewer | None = getattr(request.state, "viewer", None)
    base = {"viewer": who, "csrf_token": who.csrf_token if who else "",
            "settings": request.app.state.settings, "notice": request.query_params.get("melding", "")}
    return templates.TemplateResponse(request, template, {**base, **(context or {})}, status_code=status_code)


def redirect(url: str, notice: str = "") -> RedirectResponse:
    if notice:
        url += ("&" if "?" in url else "?") + "melding=" + quote(notice)
    return RedirectResponse(url, status_code=303)


def too_large_page(request: Request) -> HTMLResponse:
    return render(request, "error.html", {"title": "Bestand te groot",
                                          "message": "Wat u verstuurde is groter dan 10 MB. Kies een "
                                                     "kleinere schermafbeelding."}, status_code=413)


def secure_cookies(request: Request) -> bool:
    base = request.app.state.settings.dashboard.base_url or ""
    return request.url.scheme == "https" or base.startswith("https://")


# -- the app ------------------------------------------------------------------------------------
def create_app(settings: Settings, *, engine: Engine | None = None) -> FastAPI:
    from dashboard.routes import ROUTERS

    app = FastAPI(title="Schoolwacht", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.settings = settings
    app.state.engine = engine or make_engine(settings.database.url)
    app.state.throttle = auth.IpThrottle()
    # Overview numbers and review-queue pages, recomputed when the data changes (dashboard/cache.py).
    app.state.page_cache = VersionedCache(ttl_seconds=30)
    app.add_middleware(DutchTooLarge)
    app.add_middleware(SecurityHeaders)  # outside DutchTooLarge, so the Dutch 413 page gets the headers too
    if settings.dashboard.workers > 1:
        app.add_middleware(KeepAliveLimit)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    @app.exception_handler(LoginRequired)
    async def _login(request: Request, _exc: LoginRequired) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        response = RedirectResponse(f"/login?next={quote(target)}", status_code=303)
        response.delete_cookie(auth.COOKIE)
        return response

    @app.exception_handler(Forbidden)
    async def _forbidden(request: Request, _exc: Forbidden) -> Response:
        return render(request, "error.html", {"title": "Geen toegang",
                                              "message": "Uw rol geeft geen toegang tot deze pagina."},
                      status_code=403)

    @app.exception_handler(CsrfFailed)
    async def _csrf(request: Request, _exc: CsrfFailed) -> Response:
        return render(request, "error.html", {"title": "Formulier verlopen",
                                              "message": "Het formulier was verlopen of kwam niet van deze "
                                                         "site. Ga terug, herlaad de pagina en probeer opnieuw."},
                      status_code=403)

    @app.exception_handler(413)
    async def _too_large(request: Request, _exc: Exception) -> Response:
        return too_large_page(request)

    @app.exception_handler(404)
    async def _missing(request: Request, _exc: Exception) -> Response:
        return render(request, "error.html", {"title": "Niet gevonden",
                                              "message": "Deze pagina of dit dossier bestaat niet."},
                      status_code=404)

    @app.get("/login", response_class=HTMLResponse)
    def login_page(request: Request, next: str = "/") -> Response:
        token = request.cookies.get(auth.LOGIN_CSRF_COOKIE) or auth.secrets.token_urlsafe(32)
        response = render(request, "login.html", {"next": _safe_next(next), "login_csrf": token, "error": ""})
        response.set_cookie(auth.LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict",
                            secure=secure_cookies(request))
        return response

    @app.post("/login")
    def login(request: Request, email: str = Form(""), password: str = Form(""), next: str = Form("/"),
              csrf_token: str = Form(""), session: Session = DB) -> Response:
        auth.check_login_csrf(request, csrf_token)
        ip = auth.client_ip(request)
        throttle: auth.IpThrottle = request.app.state.throttle
        if throttle.blocked(ip):
            return render(request, "login.html", {"next": _safe_next(next), "login_csrf": csrf_token,
                                                  "error": "Te veel mislukte pogingen vanaf dit adres. "
                                                           "Probeer het later opnieuw."}, status_code=429)
        user, reason = auth.authenticate(session, email, password[:1024])
        if user is None:
            throttle.failed(ip)
            audit.record(session, actor=email.strip().lower()[:320] or "anoniem", action="login_failed",
                         detail={"ip": ip})
            return render(request, "login.html", {"next": _safe_next(next), "login_csrf": csrf_token,
                                                  "error": reason, "email": email}, status_code=401)
        # A fresh session on every login: a token planted before login is worthless after it.
        auth.end_session(session, request.cookies.get(auth.COOKIE))
        token = auth.start_session(session, user, ip)
        audit.record(session, actor=user.email, actor_id=user.id, action="login", detail={"ip": ip})
        response = RedirectResponse(_safe_next(next), status_code=303)
        response.set_cookie(auth.COOKIE, token, httponly=True, samesite="lax", secure=secure_cookies(request),
                            max_age=int(auth.ABSOLUTE.total_seconds()))
        response.delete_cookie(auth.LOGIN_CSRF_COOKIE)
        return response

    @app.post("/logout")
    def logout(request: Request, who: Viewer = Depends(form_viewer), session: Session = DB) -> Response:
        record(session, who, "logout")
        auth.end_session(session, request.cookies.get(auth.COOKIE))
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(auth.COOKIE)
        return response

    for router in ROUTERS:
        app.include_router(router)
    return app


def _safe_next(target: str) -> str:
    """Only local paths: `next=//evil.example` or `https://…` would be an open redirect."""
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


# -- serving ------------------------------------------------------------------------------------
def freeze_startup_objects() -> None:
    """For a process that only serves the dashboard, once its app is built: what start-up made
    (modules, templates, SQLAlchemy's mappers) lives as long as the process, so it is moved out of
    the garbage collector's way, and a full collection under load does not walk it all again (a
    pause of tens of milliseconds, seen as the benchmark's slowest pages). Garbage is collected
    first, so none of it is frozen."""
    gc.collect()
    gc.freeze()


def app_from_config_env() -> FastAPI:
    """App factory for uvicorn's worker processes: each loads the config file that the
    `SCHOOLWACHT_CONFIG` environment variable names (set by `schoolwacht serve`)."""
    app = create_app(load_settings())
    freeze_startup_objects()
    return app


def serve_in_thread(settings: Settings) -> Callable[[], None]:
    """Run the dashboard with uvicorn in a daemon thread; returns a function that stops it."""
    import uvicorn

    config = uvicorn.Config(create_app(settings), host=settings.dashboard.host, port=settings.dashboard.port,
                            log_level="warning", access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]  # the service owns signals
    config.load()
    sockets = [config.bind_socket()]  # binding here: a taken port fails now, in the caller
    thread = threading.Thread(target=server.run, kwargs={"sockets": sockets}, daemon=True)
    thread.start()

    def stop() -> None:
        server.should_exit = True
        thread.join(timeout=10)

    return stop
