"""Bluesky: post search (needs a session) and public author feeds (SOURCES.md).

Search (`app.bsky.feed.searchPosts`) is closed to anonymous clients, so a crawl first opens
a session with the account's handle and an app password (`com.atproto.server.createSession`)
and sends its `accessJwt` as Bearer token. Author feeds come from the public AppView
(`public_base_url`) without any credentials, so they are read even when search cannot be.

Incremental: Bluesky orders and filters by a post's `sortAt`, the earlier of the
client-declared `createdAt` and the server's `indexedAt` (a client clock in the future must
not hide later posts). The newest `sortAt` seen is kept per endpoint; search asks for it with
`since=` (inclusive, so the boundary post comes again and de-duplication drops it), an author
feed is read page by page until a page reaches it.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from scrapy.http import Response
from twisted.python.failure import Failure

from crawlers.items import PostItem, RawCapture
from crawlers.spiders.api_errors import hide_in_logs, http_error, scrub, text_field
from crawlers.spiders.base import SourceSpider, describe_failure, parse_time
from store.config import BlueskySource

PAGE_LIMIT = 100
POST_COLLECTION = "app.bsky.feed.post"
REPOST = "app.bsky.feed.defs#reasonRepost"
EXTERNAL_EMBED = "app.bsky.embed.external#view"


def permalink(uri: str, handle: str | None) -> str | None:
    """`at://{did}/app.bsky.feed.post/{rkey}` as the bsky.app address people open."""
    parts = uri.removeprefix("at://").split("/")
    if not uri.startswith("at://") or len(parts) != 3 or parts[1] != POST_COLLECTION:
        return None
    did, _, rkey = parts
    # A handle that no longer verifies shows as "handle.invalid"; the DID always resolves.
    who = handle if handle and handle != "handle.invalid" else did
    return f"https://bsky.app/profile/{who}/post/{rkey}"


def sort_at(post: dict[str, Any]) -> datetime | None:
    """The time Bluesky sorts and filters a post by: min(createdAt, indexedAt)."""
    record = post.get("record") if isinstance(post.get("record"), dict) else {}
    times = [t for t in (parse_time(_str(record.get("createdAt"))),
                         parse_time(_str(post.get("indexedAt")))) if t is not None]
    return min(times) if times else None


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _later(a: datetime | None, b: datetime | None) -> datetime | None:
    if a is None or b is None:
        return a or b
    return max(a, b)


class BlueskySpider(SourceSpider):
    kind = "bluesky"
    platform = "bluesky"
    source: BlueskySource

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        hide_in_logs([self._password()])

    def configured_urls(self) -> list[str]:
        return [self.source.base_url, self.source.public_base_url]

    def _password(self) -> str | None:
        return self.settings_obj.secret(self.source.password_env)

    def record_error(self, message: str) -> None:
        # A server may echo what it was sent; the app password must never reach a log.
        super().record_error(scrub(message, [self._password()]))

    def initial_requests(self) -> list[Any]:
        requests = []
        if self.source.query:
            password = self._password()
            if self.source.handle and password:
                requests.append(self._session_request(password))
            else:
                missing = (f"de omgevingsvariabele {self.source.password_env} is leeg"
                           if self.source.handle and self.source.password_env
                           else "stel handle en password_env in")
                rest = "alleen de accounts in actors zijn gelezen" if self.source.actors \
                    else "er is niets gelezen"
                self.record_error(f"Bluesky: zoeken vereist handle en app-wachtwoord ({missing}); "
                                  f"{rest}")
        for actor in self.source.actors:
            actor = actor.strip().lstrip("@")
            requests.append(self._feed_request(actor, cursor=None, page=1,
                                               newest=None, seen=self._seen(f"actor:{actor.lower()}")))
        if not self.source.query and not self.source.actors:
            self.record_error("Bluesky: geen query en geen actors ingesteld; er is niets te lezen")
        return requests

    def _seen(self, key: str) -> datetime | None:
        value = self.state.get(key)
        return parse_time(value) if isinstance(value, str) else None

    # -- search -------------------------------------------------------------------------
    def _session_request(self, password: str) -> Any:
        url = f"{self.source.base_url.rstrip('/')}/xrpc/com.atproto.server.createSession"
        body = json.dumps({"identifier": self.source.handle, "password": password})
        # The response carries session tokens: it is read, never captured as evidence.
        return self.request(url, self.parse_session, method="POST", body=body,
                            headers={"Content-Type": "application/json",
                                     "Accept": "application/json"},
                            meta={"bluesky_session": True})

    def parse_session(self, response: Response) -> Any:
        session = self.load_json(response)
        self.expect(isinstance(session, dict) and isinstance(session.get("accessJwt"), str),
                    response, "geen accessJwt in de sessie")
        hide_in_logs([session["accessJwt"], _str(session.get("refreshJwt"))])
        yield self._search_request(session["accessJwt"], cursor=None, page=1,
                                   newest=self._seen("search"))

    def _search_request(self, token: str, *, cursor: str | None, page: int,
                        newest: datetime | None) -> Any:
        query: dict[str, str] = {"q": self.source.query or "", "sort": "latest",
                                 "limit": str(PAGE_LIMIT)}
        since = self.state.get("search")
        if isinstance(since, str) and since:
            query["since"] = since
        if cursor:
            query["cursor"] = cursor
        url = f"{self.source.base_url.rstrip('/')}/xrpc/app.bsky.feed.searchPosts?{urlencode(query)}"
        return self.request(url, self.parse_search,
                            headers={"Authorization": f"Bearer {token}",
                                     "Accept": "application/json"},
                            cb_kwargs={"token": token, "page": page, "newest": newest})

    def parse_search(self, response: Response, token: str, page: int,
                     newest: datetime | None) -> Any:
        data = self.load_json(response)
        self.expect(isinstance(data, dict) and isinstance(data.get("posts"), list), response,
                    "geen lijst posts")
        capture = self.capture(response)
        for post in data["posts"]:
            if not isinstance(post, dict):
                continue
            newest = _later(newest, sort_at(post))
            item = self.post_item(post, capture)
            if item is not None:
                yield item
        cursor = _str(data.get("cursor"))
        if cursor and data["posts"] and page < self.max_pages:
            yield self._search_request(token, cursor=cursor, page=page + 1, newest=newest)
            return
        if cursor and data["posts"]:
            self.logger.info("search: stopped after %d pages", page)
        if newest is not None:
            self.state_updates["search"] = iso(newest)

    # -- author feeds -------------------------------------------------------------------
    def _feed_request(self, actor: str, *, cursor: str | None, page: int,
                      newest: datetime | None, seen: datetime | None) -> Any:
        query = {"actor": actor, "limit": str(PAGE_LIMIT)}
        if cursor:
            query["cursor"] = cursor
        base = self.source.public_base_url.rstrip("/")
        url = f"{base}/xrpc/app.bsky.feed.getAuthorFeed?{urlencode(query)}"
        return self.request(url, self.parse_feed, headers={"Accept": "application/json"},
                            cb_kwargs={"actor": actor, "page": page, "newest": newest,
                                       "seen": seen})

    def parse_feed(self, response: Response, actor: str, page: int, newest: datetime | None,
                   seen: datetime | None) -> Any:
        data = self.load_json(response)
        self.expect(isinstance(data, dict) and isinstance(data.get("feed"), list), response,
                    "geen lijst feed")
        capture = self.capture(response)
        reached_seen = False
        for entry in data["feed"]:
            post = entry.get("post") if isinstance(entry, dict) else None
            if not isinstance(post, dict):
                continue
            reason = entry.get("reason")
            if isinstance(reason, dict) and reason.get("$type") == REPOST:
                continue  # someone else's post; the feed orders it by repost time, not its own
            when = sort_at(post)
            newest = _later(newest, when)
            # A pinned post sits on top whatever its age: it says nothing about where we are.
            pinned = isinstance(reason, dict) and "reasonPin" in str(reason.get("$type"))
            if seen is not None and when is not None and when <= seen and not pinned:
                reached_seen = True
            item = self.post_item(post, capture)
            if item is not None:
                yield item
        cursor = _str(data.get("cursor"))
        if cursor and data["feed"] and not reached_seen and page < self.max_pages:
            yield self._feed_request(actor, cursor=cursor, page=page + 1, newest=newest,
                                     seen=seen)
            return
        if cursor and data["feed"] and not reached_seen:
            self.logger.info("actor %s: stopped after %d pages", actor, page)
        if newest is not None:
            self.state_updates[f"actor:{actor.lower()}"] = iso(newest)

    # -- mapping ------------------------------------------------------------------------
    def post_item(self, post: dict[str, Any], capture: RawCapture) -> PostItem | None:
        uri = _str(post.get("uri"))
        record = post.get("record")
        if not uri or not uri.startswith("at://") or not isinstance(record, dict):
            return None
        if record.get("$type", POST_COLLECTION) != POST_COLLECTION:
            return None
        author = post.get("author") if isinstance(post.get("author"), dict) else {}
        handle = _str(author.get("handle"))
        text = _str(record.get("text")) or ""
        embed = post.get("embed")
        if isinstance(embed, dict) and embed.get("$type") == EXTERNAL_EMBED:
            # A shared news link often names the school only in its card, not in the post.
            card = embed.get("external") if isinstance(embed.get("external"), dict) else {}
            title = text_field(card, "title")
            if title:
                text = f"{text}\n\n{title}" if text else title
        langs = record.get("langs")
        language = langs[0] if isinstance(langs, list) and langs and isinstance(langs[0], str) \
            and len(langs[0]) <= 16 else None
        return PostItem(
            platform=self.platform,
            external_id=uri,
            text=text,
            capture=capture,
            url=permalink(uri, handle),
            author_handle=handle,
            author_name=_str(author.get("displayName")) or None,
            created_at=parse_time(_str(record.get("createdAt"))) or parse_time(
                _str(post.get("indexedAt"))),
            language=language,
        )

    # -- errors -------------------------------------------------------------------------
    def on_error(self, failure: Failure) -> None:
        refused = http_error(failure)
        if refused is None:
            super().on_error(failure)
            return
        response, body = refused
        reason = ": ".join(p for p in (text_field(body, "error"), text_field(body, "message")) if p)
        detail = f" ({reason})" if reason else ""
        if response.meta.get("bluesky_session") and response.status in (400, 401):
            self.record_error(
                f"{describe_failure(failure)}{detail}: Bluesky-aanmelding als "
                f"{self.source.handle} mislukt; controleer handle en app-wachtwoord "
                f"({self.source.password_env})")
        elif response.status in (401, 403):
            self.record_error(f"{describe_failure(failure)}{detail}: Bluesky weigert de toegang")
        else:
            self.record_error(f"{describe_failure(failure)}{detail}")
