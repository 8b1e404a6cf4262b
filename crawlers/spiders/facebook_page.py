"""Facebook: the school's own Page, its posts and their comments, via the Graph API
(`/{page-id}/feed`, `/{post-id}/comments`) with a Page access token (SOURCES.md).

Every post and comment is kept (`match = false` by default): a comment such as "wat een
waardeloze school" on the school's page never names the school. Posts without text
(photos only) are not stored, but their comments are read like any other.

Incremental: `since` (unix seconds) is the newest post or comment time seen. People keep
commenting on a post for days, so the feed is asked for posts from `comment_window_days`
before that, and each post's comments are read newest first until they reach it. The mark
moves only when the whole crawl went without errors, so a failed comment page is read again.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

from scrapy.http import Response
from twisted.python.failure import Failure

from crawlers.items import PostItem, RawCapture
from crawlers.spiders.api_errors import hide_in_logs, http_error, scrub, text_field
from crawlers.spiders.base import SourceSpider, describe_failure, parse_time
from store.config import FacebookPageSource

PAGE_LIMIT = 100
POST_FIELDS = "id,message,created_time,permalink_url,from"
COMMENT_FIELDS = "id,message,created_time,from,permalink_url"
# Graph error codes ("Handling Errors"): 190 (102, 463, 467) a bad or expired token and
# 4/17/32/613 rate limits; any other OAuthException (10, 200-299: a missing permission)
# also needs a new token.
TOKEN_CODES = {190, 102, 463, 467}
LIMIT_CODES = {4, 17, 32, 613}


class FacebookPageSpider(SourceSpider):
    kind = "facebook_page"
    platform = "facebook"
    source: FacebookPageSource

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        hide_in_logs([self._token()])
        since = self.state.get("since")
        self.since: int | None = since if isinstance(since, int) else None
        self.newest: int | None = self.since
        self.feed_done = False

    def _token(self) -> str | None:
        return self.settings_obj.secret(self.source.token_env)

    def record_error(self, message: str) -> None:
        # Graph echoes a malformed token in its error message ("Malformed access token ...").
        super().record_error(scrub(message, [self._token()]))

    def _url(self, path: str, params: dict[str, str]) -> str:
        return f"{self.source.base_url.rstrip('/')}/{quote(path)}?{urlencode(params)}"

    def initial_requests(self) -> list[Any]:
        token = self._token()
        if not token:
            self.record_error(f"Facebook: geen paginatoken; vul de omgevingsvariabele "
                              f"{self.source.token_env} (token_env)")
            return []
        params = {"fields": POST_FIELDS, "limit": str(PAGE_LIMIT), "access_token": token}
        if self.since is not None:
            params["since"] = str(max(0, self.since - self.source.comment_window_days * 86400))
        return [self.request(self._url(f"{self.source.page_id}/feed", params), self.parse_feed,
                             cb_kwargs={"page": 1})]

    def _seen(self, when: int | None) -> None:
        if when is not None and (self.newest is None or when > self.newest):
            self.newest = when

    def parse_feed(self, response: Response, page: int) -> Any:
        posts, next_url = self._page(response)
        capture = self.capture(response)
        token = self._token() or ""
        for post in posts:
            if not isinstance(post, dict) or not isinstance(post.get("id"), str):
                continue
            item = self.graph_item(post, capture, fallback_url=None)
            if item is not None:
                self._seen(_unix(item))
                if item.text.strip():
                    yield item
            params = {"filter": "stream", "order": "reverse_chronological",
                      "fields": COMMENT_FIELDS, "limit": str(PAGE_LIMIT), "access_token": token}
            yield self.request(self._url(f"{post['id']}/comments", params), self.parse_comments,
                               cb_kwargs={"post_url": _text(post.get("permalink_url")),
                                          "page": 1})
        if next_url and page < self.max_pages:
            yield self.request(next_url, self.parse_feed, cb_kwargs={"page": page + 1})
            return
        if next_url:
            self.logger.info("feed: stopped after %d pages", page)
        self.feed_done = True

    def parse_comments(self, response: Response, post_url: str | None, page: int) -> Any:
        comments, next_url = self._page(response)
        capture = self.capture(response)
        reached_seen = False
        for comment in comments:
            if not isinstance(comment, dict) or not isinstance(comment.get("id"), str):
                continue
            item = self.graph_item(comment, capture, fallback_url=post_url)
            if item is None:
                continue
            when = _unix(item)
            self._seen(when)
            if self.since is not None and when is not None and when < self.since:
                reached_seen = True  # newest first: the rest was read by an earlier crawl
            if item.text.strip():
                yield item
        if next_url and not reached_seen and page < self.max_pages:
            yield self.request(next_url, self.parse_comments,
                               cb_kwargs={"post_url": post_url, "page": page + 1})

    def closed(self, reason: str) -> None:
        # Runs after the pipelines closed: an error anywhere (a comment page, storing) keeps
        # the old mark so that the next crawl reads the same window again.
        if self.feed_done and not self.errors and self.newest is not None:
            self.state_updates["since"] = self.newest

    def _page(self, response: Response) -> tuple[list[Any], str | None]:
        """The page's items and `paging.next` (the documented way on; absent at the end)."""
        body = self.load_json(response)
        self.expect(isinstance(body, dict) and isinstance(body.get("data"), list), response,
                    "geen lijst data")
        data: list[Any] = body["data"]
        paging = body.get("paging") if isinstance(body.get("paging"), dict) else {}
        next_url = _text(paging.get("next"))
        # Graph may send an empty page with a next link (privacy filtering) and documents
        # following it until none comes; max_pages bounds that.
        return data, next_url

    def graph_item(self, node: dict[str, Any], capture: RawCapture,
                   fallback_url: str | None) -> PostItem | None:
        """A post or comment; its text is empty for photo-only posts and stickers."""
        created = parse_time(_text(node.get("created_time")))  # "2026-09-01T08:00:00+0000"
        if created is None:
            return None
        author = node.get("from") if isinstance(node.get("from"), dict) else {}
        return PostItem(
            platform=self.platform,
            external_id=node["id"],
            text=_text(node.get("message")) or "",
            capture=capture,
            url=_text(node.get("permalink_url")) or fallback_url,
            # People have no handle on Facebook; the (app-scoped) id is what identifies them.
            author_handle=_text(author.get("id")),
            author_name=_text(author.get("name")),
            created_at=created,
        )

    def on_error(self, failure: Failure) -> None:
        refused = http_error(failure)
        if refused is None:
            super().on_error(failure)
            return
        _, body = refused
        error = body.get("error") if isinstance(body, dict) else None
        if not isinstance(error, dict):
            super().on_error(failure)
            return
        code = error.get("code")
        kind = text_field(error, "type") or "fout"
        message = (f"{describe_failure(failure)} (Graph API {kind}, code {code}: "
                   f"{text_field(error, 'message')})")
        if code in TOKEN_CODES or (kind == "OAuthException" and code not in LIMIT_CODES):
            message += (f": Facebook weigert het paginatoken; vraag een nieuw token aan en zet "
                        f"het in {self.source.token_env}")
        elif code in LIMIT_CODES:
            message += ": Facebook-limiet bereikt; volgende ronde opnieuw"
        self.record_error(message)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _unix(item: PostItem) -> int | None:
    return int(item.created_at.timestamp()) if item.created_at is not None else None

