"""The daily re-check: are the posts of open cases still online? (DESIGN.md, flow step 6.)

Every post not yet known to be removed, of a case that is not closed or dismissed, is
fetched once more, through the platform's API for a single post where it has one, or else
through the post's own URL:

- Mastodon: `GET {base_url}/api/v1/statuses/{id}` (404/410: deleted); the instance-local id
  comes from the stored raw capture, or from the post's URL on that instance.
- Bluesky: `app.bsky.feed.getPosts` on the public AppView (an empty list: deleted).
- X: `GET {base_url}/2/tweets/{id}` with the bearer token ("resource-not-found": deleted).
- YouTube: `videos.list` / `comments.list` with the API key (no items: deleted or private);
  a video without a key through `{feed_base_url}/oembed` (404: deleted).
- Facebook page: the Graph object (error 100/33: deleted), trusted only after the page itself
  was read with the same token, so a token that lost its rights never "removes" anything.
- Anything else (RSS, web, Reddit, manual): the post URL, 404 or 410 meaning removed.

Only a definite answer acts: 200 leaves the post alone (and writes nothing to the timeline);
401/403/429/5xx, timeouts, refused addresses and unreadable answers are "unknown": logged and
counted, never taken for a removal. A removed post gets `removed_at`, and each open case it
belongs to a `removed_detected` event with the evidence (URL, status code, time, the answer);
a case whose posts are all gone moves to status `removed`.

The same SSRF guard as the crawlers (`crawlers.middlewares`): every hop, redirects included,
must resolve to public addresses only, except the hosts configured for a source with
`allow_private = true`; the connection goes to the address that was checked (no second DNS
lookup that could answer differently).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import socket
import ssl
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal
from urllib.parse import quote, urlencode, urljoin, urlsplit
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.engine import Engine

from crawlers.middlewares import IPAddress, host_port, is_public_address, resolve_addresses
from crawlers.spiders.base import redact
from schoolwacht.errors import ConfigError, StorageError
from store.config import Settings
from store.db import make_engine, session_scope
from store.files import read_verified
from store.models import Capture, Case, CaseEvent, CasePost, Post, Source
from store.types import utcnow

logger = logging.getLogger(__name__)

# Case statuses whose posts are no longer checked. A `removed` case is still looked at: its
# removed posts are skipped anyway, but a later post by the same author joins it
# (`store.cases.open_or_join_case` joins any case that is not closed or dismissed), and that
# post must be checked too.
DONE_STATUSES = ("closed", "dismissed")
# Statuses that move on to `removed` once every post is gone; `corrected` comes after
# `removed` in the workflow and stays where it is.
ADVANCES_TO_REMOVED = ("new", "triaged", "addressed", "removal_requested", "reported")
MAX_REDIRECTS = 5
EXCERPT_CHARS = 500
REDIRECT_STATUSES = (301, 302, 303, 307, 308)
REMOVED_STATUSES = (404, 410)
_PATH_SAFE = "/%:@!$&'()*+,;=-._~"
_QUERY_SAFE = _PATH_SAFE + "?"

Verdict = Literal["removed", "online", "unknown"]

_DAYS_NL = ("ma", "di", "wo", "do", "vr", "za", "zo")
_MONTHS_NL = ("jan", "feb", "mrt", "apr", "mei", "jun", "jul", "aug", "sep", "okt", "nov", "dec")


def format_local(when: datetime, zone: str = "Europe/Amsterdam") -> str:
    """A time as people at the school read it: "ma 23 nov 2026 14:05"."""
    local = when.astimezone(ZoneInfo(zone))
    return (f"{_DAYS_NL[local.weekday()]} {local.day} {_MONTHS_NL[local.month - 1]} "
            f"{local.year} {local:%H:%M}")


@dataclass(frozen=True)
class RecheckReport:
    checked: int = 0
    removed: int = 0
    still_online: int = 0
    errors: int = 0  # unknown answers: refused, timed out, 401/403/429/5xx, unreadable


# -- fetching -------------------------------------------------------------------------------

class CheckFailed(Exception):
    """No usable answer (Dutch message): the post's state stays unknown."""


class AddressRefused(CheckFailed):
    """A URL (or a redirect) pointed at a private, loopback or link-local address."""


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    url: str  # the URL that gave this answer, after redirects
    truncated: bool = False

    def json(self) -> Any:
        if self.truncated:
            return None
        try:
            return json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            return None


class _PinnedConnection(http.client.HTTPConnection):
    """An HTTP(S) connection to addresses resolved (and checked) beforehand."""

    def __init__(self, host: str, port: int, *, addresses: list[IPAddress], timeout: float,
                 tls: ssl.SSLContext | None) -> None:
        super().__init__(host, port, timeout=timeout)
        self._addresses = addresses
        self._tls = tls

    def connect(self) -> None:
        error: OSError | None = None
        for address in self._addresses:
            try:
                sock = socket.create_connection((str(address), self.port), self.timeout)
                break
            except OSError as exc:
                error = exc
        else:
            raise error or OSError("geen adres")
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self._tls is not None:
            try:
                sock = self._tls.wrap_socket(sock, server_hostname=self.host)
            except BaseException:
                sock.close()
                raise
        self.sock = sock


def _origin(url: str) -> tuple[str, str, int]:
    host, port = host_port(url)
    return urlsplit(url).scheme.lower(), host, port


class Fetcher:
    """GET with the crawl settings: user agent, timeout, body cap, SSRF guard, redirects."""

    def __init__(self, settings: Settings) -> None:
        crawl = settings.crawl
        self.user_agent = crawl.user_agent
        self.timeout = crawl.timeout_seconds
        self.max_bytes = crawl.max_download_bytes
        self._tls = ssl.create_default_context()

    def get(self, url: str, *, trusted: set[tuple[str, int]], headers: dict[str, str] | None = None
            ) -> Answer:
        """The final answer (after redirects); `CheckFailed` when there is none.

        `headers` (tokens) go only to the origin of `url`, never to a redirect elsewhere.
        """
        first = _origin(url)
        current = url
        for _ in range(MAX_REDIRECTS + 1):
            extra = headers if _origin(current) == first else None
            answer, location = self._hop(current, trusted=trusted, headers=extra or {})
            if location is None:
                return answer
            current = urljoin(current, location)
        raise CheckFailed(f"{redact(url)}: meer dan {MAX_REDIRECTS} doorverwijzingen")

    def _hop(self, url: str, *, trusted: set[tuple[str, int]], headers: dict[str, str]
             ) -> tuple[Answer, str | None]:
        parts = urlsplit(url)
        shown = redact(url)
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            raise AddressRefused(f"geweigerd: {shown} is geen http(s)-adres")
        host, port = host_port(url)
        try:
            addresses = resolve_addresses(host)
        except (OSError, UnicodeError):
            raise CheckFailed(f"{shown}: onbekende host") from None
        if not addresses:
            raise CheckFailed(f"{shown}: onbekende host")
        if (host, port) not in trusted:
            for address in addresses:
                if not is_public_address(address):
                    raise AddressRefused(f"geweigerd: {shown} wijst naar het niet-openbare adres {address}")
        try:
            host_ascii = host.encode("idna").decode("ascii")
        except UnicodeError:
            raise CheckFailed(f"{shown}: ongeldige hostnaam") from None
        tls = self._tls if parts.scheme.lower() == "https" else None
        conn = _PinnedConnection(host_ascii, port, addresses=addresses, timeout=self.timeout, tls=tls)
        # Percent-encode what a pasted URL may hold raw (spaces, "é"); existing escapes stay.
        path = quote(parts.path or "/", safe=_PATH_SAFE)
        if parts.query:
            path += "?" + quote(parts.query, safe=_QUERY_SAFE)
        request_headers = {
            "User-Agent": self.user_agent,
            "Accept": "application/json, text/html;q=0.9, */*;q=0.8",
            "Accept-Encoding": "identity",
            "Connection": "close",
            **headers,
        }
        # The socket timeout bounds each read; this bounds the whole answer, so a server that
        # dribbles one byte at a time cannot hold the re-check for ever.
        expired = threading.Event()
        watchdog = threading.Timer(self.timeout, _abort, args=(conn, expired))
        watchdog.daemon = True
        watchdog.start()
        try:
            conn.request("GET", path, headers=request_headers)
            response = conn.getresponse()
            if response.status in REDIRECT_STATUSES and response.getheader("Location"):
                return Answer(response.status, b"", shown), response.getheader("Location")
            body, truncated = self._read(response)
            if expired.is_set():
                raise TimeoutError
            return Answer(response.status, body, shown, truncated), None
        except (TimeoutError, http.client.HTTPException, OSError) as exc:
            if expired.is_set() or isinstance(exc, TimeoutError):
                raise CheckFailed(f"{shown}: geen antwoord binnen de tijdslimiet") from None
            if isinstance(exc, ConnectionRefusedError):
                raise CheckFailed(f"{shown}: verbinding geweigerd") from None
            if isinstance(exc, ssl.SSLError):
                raise CheckFailed(f"{shown}: TLS-fout ({exc.reason or exc})") from None
            if isinstance(exc, http.client.HTTPException):
                raise CheckFailed(f"{shown}: ongeldig HTTP-antwoord ({type(exc).__name__})") from None
            raise CheckFailed(f"{shown}: {exc.strerror or exc}") from None
        finally:
            watchdog.cancel()
            conn.close()

    def _read(self, response: http.client.HTTPResponse) -> tuple[bytes, bool]:
        chunks: list[bytes] = []
        total = 0
        while True:
            chunk = response.read1(65536)
            if not chunk:
                return b"".join(chunks), False
            chunks.append(chunk)
            total += len(chunk)
            if total > self.max_bytes:
                return b"".join(chunks)[: self.max_bytes], True


def _abort(conn: http.client.HTTPConnection, expired: threading.Event) -> None:
    expired.set()
    sock = conn.sock
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


# -- what to check per platform --------------------------------------------------------------

@dataclass
class Target:
    """One post to check, read from the database before any network traffic."""

    post_id: int
    platform: str
    external_id: str
    url: str | None
    source_name: str
    kind: str
    conf: dict[str, Any]  # the source's settings (config file first, else the stored copy)
    case_ids: list[int] = field(default_factory=list)
    api_id: str | None = None  # Mastodon: the status id on the configured instance


@dataclass(frozen=True)
class Outcome:
    verdict: Verdict
    reason: str  # Dutch, for the timeline and the log
    url: str | None = None
    status_code: int | None = None
    answer: str = ""


def excerpt(body: bytes, secrets: Iterable[str | None] = ()) -> str:
    text = " ".join(body.decode("utf-8", "replace").split())
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text[:EXCERPT_CHARS] + ("…" if len(text) > EXCERPT_CHARS else "")


def _configured_urls(conf: dict[str, Any]) -> list[str]:
    urls = [conf[key] for key in ("base_url", "public_base_url", "feed_base_url", "url")
            if isinstance(conf.get(key), str)]
    urls += [u for u in conf.get("urls") or [] if isinstance(u, str)]
    return urls


def trusted_hosts(conf: dict[str, Any]) -> set[tuple[str, int]]:
    """The hosts a source with `allow_private = true` may reach on private addresses."""
    if not conf.get("allow_private"):
        return set()
    return {host_port(url) for url in _configured_urls(conf)}


class Checker:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.fetcher = Fetcher(settings)
        self._facebook_ok: dict[str, Outcome | None] = {}

    def check(self, target: Target) -> Outcome | None:
        """The verdict on one post; None when it has neither an API id nor a URL to check."""
        trusted = trusted_hosts(target.conf)
        method = getattr(self, f"_check_{target.kind}", None)
        try:
            if method is not None:
                outcome = method(target, trusted)
                if outcome is not None:
                    return outcome
            if target.url:
                return self._check_url(target.url, trusted)
            return None
        except CheckFailed as exc:
            return Outcome("unknown", str(exc))
        except Exception as exc:  # one odd post must not stop the re-check of the others
            logger.exception("post %s: re-check failed", target.post_id)
            return Outcome("unknown", f"controle mislukt: {type(exc).__name__}")

    def _secret(self, conf: dict[str, Any], key: str) -> str | None:
        name = conf.get(key)
        return self.settings.secret(name) if isinstance(name, str) else None

    def _check_url(self, url: str, trusted: set[tuple[str, int]]) -> Outcome:
        answer = self.fetcher.get(url, trusted=trusted)
        if answer.status in REMOVED_STATUSES:
            return _outcome("removed", f"de pagina geeft HTTP {answer.status}", answer)
        if 200 <= answer.status < 300:
            return _outcome("online", f"de pagina geeft HTTP {answer.status}", answer)
        return _outcome("unknown", f"{answer.url}: HTTP {answer.status}", answer)

    def _check_mastodon(self, target: Target, trusted: set[tuple[str, int]]) -> Outcome | None:
        if not target.api_id or not isinstance(target.conf.get("base_url"), str):
            return None
        token = self._secret(target.conf, "token_env")
        url = f"{target.conf['base_url'].rstrip('/')}/api/v1/statuses/{quote(target.api_id)}"
        answer = self.fetcher.get(url, trusted=trusted,
                                  headers={"Authorization": f"Bearer {token}"} if token else None)
        secrets = [token]
        if answer.status in REMOVED_STATUSES:
            return _outcome("removed", f"de Mastodon-API meldt dat het bericht niet (meer) bestaat "
                                       f"(HTTP {answer.status})", answer, secrets)
        data = answer.json()
        if answer.status == 200 and isinstance(data, dict) and data.get("id"):
            return _outcome("online", "de Mastodon-API geeft het bericht", answer, secrets)
        return _outcome("unknown", f"{answer.url}: HTTP {answer.status}", answer, secrets)

    def _check_bluesky(self, target: Target, trusted: set[tuple[str, int]]) -> Outcome | None:
        uri = target.external_id
        base = target.conf.get("public_base_url")
        if not uri.startswith("at://") or not isinstance(base, str):
            return None
        url = f"{base.rstrip('/')}/xrpc/app.bsky.feed.getPosts?{urlencode({'uris': uri})}"
        answer = self.fetcher.get(url, trusted=trusted, headers={"Accept": "application/json"})
        data = answer.json()
        posts = data.get("posts") if isinstance(data, dict) else None
        if answer.status == 200 and isinstance(posts, list):
            if not posts:
                return _outcome("removed", "Bluesky geeft het bericht niet meer terug (lege lijst)", answer)
            return _outcome("online", "Bluesky geeft het bericht", answer)
        return _outcome("unknown", f"{answer.url}: HTTP {answer.status}", answer)

    def _check_x(self, target: Target, trusted: set[tuple[str, int]]) -> Outcome | None:
        token = self._secret(target.conf, "bearer_token_env")
        if not target.external_id.isdigit() or not isinstance(target.conf.get("base_url"), str):
            return None
        if not token:
            # x.com is a script page that answers 200 for any address: only the API can tell.
            return Outcome("unknown", "X: geen bearer-token, het bericht kan niet gecontroleerd worden")
        url = f"{target.conf['base_url'].rstrip('/')}/2/tweets/{target.external_id}"
        answer = self.fetcher.get(url, trusted=trusted, headers={"Authorization": f"Bearer {token}"})
        data = answer.json()
        if answer.status in (200, 404) and isinstance(data, dict):
            if isinstance(data.get("data"), dict):
                return _outcome("online", "de X-API geeft het bericht", answer, [token])
            errors = data.get("errors") if isinstance(data.get("errors"), list) else []
            if any(isinstance(e, dict) and str(e.get("type", "")).endswith("/resource-not-found")
                   for e in errors):
                return _outcome("removed", "de X-API meldt dat het bericht niet (meer) bestaat",
                                answer, [token])
        return _outcome("unknown", f"{answer.url}: HTTP {answer.status}", answer, [token])

    def _check_youtube(self, target: Target, trusted: set[tuple[str, int]]) -> Outcome | None:
        kind, _, item_id = target.external_id.partition(":")
        if kind not in ("video", "comment") or not item_id:
            return None
        key = self._secret(target.conf, "api_key_env")
        base = target.conf.get("base_url")
        if key and isinstance(base, str):
            resource = "videos" if kind == "video" else "comments"
            url = f"{base.rstrip('/')}/youtube/v3/{resource}?{urlencode({'part': 'id', 'id': item_id})}"
            answer = self.fetcher.get(url, trusted=trusted,
                                      headers={"X-Goog-Api-Key": key, "Accept": "application/json"})
            data = answer.json()
            items = data.get("items") if isinstance(data, dict) else None
            if answer.status == 200 and isinstance(items, list):
                if not items:
                    return _outcome("removed", "de YouTube-API geeft het bericht niet meer terug "
                                               "(verwijderd of privé)", answer, [key])
                return _outcome("online", "de YouTube-API geeft het bericht", answer, [key])
            return _outcome("unknown", f"{answer.url}: HTTP {answer.status}", answer, [key])
        feed_base = target.conf.get("feed_base_url")
        if kind == "video" and isinstance(feed_base, str):
            watch = f"https://www.youtube.com/watch?v={item_id}"
            url = f"{feed_base.rstrip('/')}/oembed?{urlencode({'url': watch, 'format': 'json'})}"
            answer = self.fetcher.get(url, trusted=trusted)
            if answer.status == 404:
                return _outcome("removed", "YouTube kent de video niet meer (oEmbed HTTP 404)", answer)
            if answer.status == 200:
                return _outcome("online", "YouTube geeft de video (oEmbed)", answer)
            return _outcome("unknown", f"{answer.url}: HTTP {answer.status}", answer)
        # The watch page answers 200 for deleted videos and comments alike.
        return Outcome("unknown", "YouTube: zonder API-sleutel kan een reactie niet gecontroleerd worden")

    def _check_facebook_page(self, target: Target, trusted: set[tuple[str, int]]) -> Outcome | None:
        token = self._secret(target.conf, "token_env")
        base = target.conf.get("base_url")
        if not isinstance(base, str):
            return None
        if not token:
            return Outcome("unknown", "Facebook: geen paginatoken, het bericht kan niet gecontroleerd worden")
        base = base.rstrip("/")
        refused = self._facebook_control(target, base, token, trusted)
        if refused is not None:
            return refused
        url = f"{base}/{quote(target.external_id)}?{urlencode({'fields': 'id', 'access_token': token})}"
        answer = self.fetcher.get(url, trusted=trusted)
        data = answer.json()
        if answer.status == 200 and isinstance(data, dict) and data.get("id"):
            return _outcome("online", "de Graph-API geeft het bericht", answer, [token])
        error = data.get("error") if isinstance(data, dict) else None
        if (answer.status in (400, 404) and isinstance(error, dict) and error.get("code") == 100
                and error.get("error_subcode") == 33):
            return _outcome("removed", "de Graph-API meldt dat het bericht niet (meer) bestaat "
                                       "(fout 100/33), terwijl de pagina zelf leesbaar is", answer, [token])
        return _outcome("unknown", f"{answer.url}: HTTP {answer.status}", answer, [token])

    def _facebook_control(self, target: Target, base: str, token: str,
                          trusted: set[tuple[str, int]]) -> Outcome | None:
        """None when the page itself is readable with the token (read once per source)."""
        if target.source_name not in self._facebook_ok:
            page = str(target.conf.get("page_id") or "")
            url = f"{base}/{quote(page)}?{urlencode({'fields': 'id', 'access_token': token})}"
            try:
                answer = self.fetcher.get(url, trusted=trusted)
                data = answer.json()
                ok = answer.status == 200 and isinstance(data, dict) and bool(data.get("id"))
                self._facebook_ok[target.source_name] = None if ok else _outcome(
                    "unknown", f"Facebook: de pagina zelf is met dit token niet leesbaar (HTTP {answer.status})",
                    answer, [token])
            except CheckFailed as exc:
                self._facebook_ok[target.source_name] = Outcome("unknown", f"Facebook: {exc}")
        return self._facebook_ok[target.source_name]


def _outcome(verdict: Verdict, reason: str, answer: Answer, secrets: Iterable[str | None] = ()) -> Outcome:
    return Outcome(verdict, reason, url=answer.url, status_code=answer.status,
                   answer=excerpt(answer.body, secrets))


# -- reading the work list ------------------------------------------------------------------

def _source_conf(settings: Settings, source: Source) -> dict[str, Any]:
    try:
        configured = settings.source(source.name)
    except ConfigError:
        return {**source.settings, "kind": source.kind}
    return configured.model_dump(mode="json")


def mastodon_local_id(target: Target, captures: list[Capture], settings: Settings) -> str | None:
    """The status id on the configured instance: from the raw API answer, else from the URL."""
    for capture in captures:
        if capture.kind != "raw" or "json" not in (capture.media_type or "json"):
            continue
        try:
            data = json.loads(read_verified(settings.storage.dir, capture.path, capture.sha256))
        except (StorageError, UnicodeDecodeError, json.JSONDecodeError):
            continue
        statuses = data if isinstance(data, list) else [data]
        for status in statuses:
            if (isinstance(status, dict) and target.external_id in (status.get("uri"), str(status.get("id")))
                    and str(status.get("id") or "").isdigit()):
                return str(status["id"])
    base = target.conf.get("base_url")
    base_host = host_port(base)[0] if isinstance(base, str) else None
    for candidate in (target.url, target.external_id):
        if not candidate:
            continue
        if candidate.isdigit():
            return candidate
        if base_host and host_port(candidate)[0] == base_host:
            last = urlsplit(candidate).path.rstrip("/").rsplit("/", 1)[-1]
            if last.isdigit():
                return last
    return None


def load_targets(engine: Engine, settings: Settings) -> list[Target]:
    with session_scope(engine) as session:
        rows = session.execute(
            select(Post, Source, CasePost.case_id)
            .join(CasePost, CasePost.post_id == Post.id)
            .join(Case, Case.id == CasePost.case_id)
            .join(Source, Source.id == Post.source_id)
            .where(Case.status.notin_(DONE_STATUSES), Post.removed_at.is_(None))  # type: ignore[attr-defined,union-attr]
            .order_by(Post.id, CasePost.case_id)
        ).all()
        targets: dict[int, Target] = {}
        for post, source, case_id in rows:
            target = targets.get(post.id)
            if target is None:
                target = Target(post_id=post.id, platform=post.platform, external_id=post.external_id,
                                url=post.url, source_name=source.name, kind=source.kind,
                                conf=_source_conf(settings, source))
                if source.kind == "mastodon":
                    captures = list(session.execute(
                        select(Capture).where(Capture.post_id == post.id).order_by(Capture.id)).scalars())
                    target.api_id = mastodon_local_id(target, captures, settings)
                targets[post.id] = target
            target.case_ids.append(case_id)
    return list(targets.values())


# -- acting on an answer ----------------------------------------------------------------------

def record_removal(engine: Engine, target: Target, outcome: Outcome, *, at: datetime, zone: str) -> bool:
    """Mark the post removed with its evidence; False when someone else already did."""
    shown = format_local(at, zone)
    with session_scope(engine) as session:
        post = session.get(Post, target.post_id)
        if post is None or post.removed_at is not None:
            return False
        post.removed_at = at
        session.add(post)
        evidence = {
            "post_id": post.id,
            "post_url": post.url,
            "url": outcome.url,
            "status_code": outcome.status_code,
            "checked_at": at.isoformat(),
            "answer": outcome.answer,
            "reason": outcome.reason,
        }
        cases = session.execute(
            select(Case).join(CasePost, CasePost.case_id == Case.id)
            .where(CasePost.post_id == post.id, Case.status.notin_(DONE_STATUSES))  # type: ignore[attr-defined]
            .order_by(Case.id)
        ).scalars().all()
        for case in cases:
            session.add(CaseEvent(case_id=case.id, at=at, actor="systeem", action="removed_detected",  # type: ignore[arg-type]
                                  note=f"Bericht niet meer online: {outcome.reason} (gecontroleerd {shown})",
                                  data=evidence))
            case.updated_at = at
            remaining = session.execute(
                select(Post.id).join(CasePost, CasePost.post_id == Post.id)
                .where(CasePost.case_id == case.id, Post.removed_at.is_(None), Post.id != post.id)  # type: ignore[union-attr]
                .limit(1)
            ).first()
            if remaining is None and case.status in ADVANCES_TO_REMOVED:
                session.add(CaseEvent(case_id=case.id, at=at, actor="systeem", action="status",  # type: ignore[arg-type]
                                      note=f"Bericht niet meer online (gecontroleerd {shown})",
                                      data={"from": case.status, "to": "removed", "post_id": post.id}))
                case.status = "removed"
            session.add(case)
    return True


def recheck_flagged(settings: Settings, *, now: datetime | None = None) -> RecheckReport:
    """Check every post of an open case once; act only on a definite "removed"."""
    engine = make_engine(settings.database.url)
    zone = settings.schedule.timezone
    checked = removed = online = errors = 0
    try:
        checker = Checker(settings)
        for target in load_targets(engine, settings):
            outcome = checker.check(target)
            if outcome is None:
                logger.debug("post %s: no URL or API id, not checked", target.post_id)
                continue
            at = now or utcnow()
            checked += 1
            if outcome.verdict == "removed":
                removed += 1
                if record_removal(engine, target, outcome, at=at, zone=zone):
                    logger.info("post %s (%s) removed: %s", target.post_id, target.source_name, outcome.reason)
            elif outcome.verdict == "online":
                online += 1
            else:
                errors += 1
                logger.warning("post %s (%s): state unknown: %s", target.post_id, target.source_name,
                               outcome.reason)
    finally:
        engine.dispose()
    report = RecheckReport(checked=checked, removed=removed, still_online=online, errors=errors)
    logger.info("re-check: %d checked, %d removed, %d still online, %d unknown",
                report.checked, report.removed, report.still_online, report.errors)
    return report


__all__ = ["AddressRefused", "CheckFailed", "Fetcher", "RecheckReport", "format_local", "recheck_flagged",
           "trusted_hosts"]
