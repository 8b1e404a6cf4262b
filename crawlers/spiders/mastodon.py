"""Mastodon: public hashtag timelines and account statuses (SOURCES.md).

Incremental: the newest status id seen is kept per endpoint and asked for with `min_id`,
following the `Link: rel="prev"` pages upwards until an empty page. A first crawl reads the
newest page and follows `rel="next"` pages downwards, up to `crawl.max_pages`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

from scrapy.http import Response

from crawlers.items import PostItem, RawCapture
from crawlers.spiders.base import SourceSpider, newest_id, parse_time
from crawlers.text import html_to_text
from store.config import MastodonSource

PAGE_LIMIT = 40


def link_header(response: Response) -> dict[str, str]:
    """The `Link` header as {rel: url}."""
    links: dict[str, str] = {}
    for raw in response.headers.getlist(b"Link"):
        for part in raw.decode("latin-1").split(","):
            if ";" not in part:
                continue
            url_part, *params = part.split(";")
            url = url_part.strip().strip("<>")
            for param in params:
                key, _, value = param.strip().partition("=")
                if key == "rel":
                    links[value.strip('"')] = url
    return links



class MastodonSpider(SourceSpider):
    kind = "mastodon"
    platform = "mastodon"
    source: MastodonSource

    def _headers(self) -> dict[str, str]:
        token = self.settings_obj.secret(self.source.token_env)
        return {"Authorization": f"Bearer {token}"} if token else {}

    def initial_requests(self) -> list[Any]:
        base = self.source.base_url.rstrip("/")
        requests = []
        for tag in self.source.hashtags:
            tag = tag.lstrip("#")
            endpoint = f"tag:{tag.lower()}"
            url = f"{base}/api/v1/timelines/tag/{quote(tag)}"
            requests.append(self._first(endpoint, url, {}))
        for account in self.source.accounts:
            if account.isdigit():
                requests.append(self._account(account))
            else:
                lookup = f"{base}/api/v1/accounts/lookup?{urlencode({'acct': account.lstrip('@')})}"
                requests.append(self.request(lookup, self.parse_lookup, headers=self._headers()))
        return requests

    def _account(self, account_id: str) -> Any:
        base = self.source.base_url.rstrip("/")
        url = f"{base}/api/v1/accounts/{account_id}/statuses"
        return self._first(f"account:{account_id}", url, {"exclude_reblogs": "true"})

    def _first(self, endpoint: str, url: str, params: dict[str, str]) -> Any:
        cursor = self.state.get(endpoint)
        query = {**params, "limit": str(PAGE_LIMIT)}
        if cursor:
            query["min_id"] = cursor
        direction = "prev" if cursor else "next"
        return self.request(f"{url}?{urlencode(query)}", self.parse_page, headers=self._headers(),
                            cb_kwargs={"endpoint": endpoint, "direction": direction,
                                       "page": 1, "newest": cursor})

    def parse_lookup(self, response: Response) -> Any:
        account = self.load_json(response)
        self.expect(isinstance(account, dict) and "id" in account, response, "geen account-id")
        yield self._account(str(account["id"]))

    def parse_page(self, response: Response, endpoint: str, direction: str, page: int,
                   newest: str | None) -> Any:
        statuses = self.load_json(response)
        self.expect(isinstance(statuses, list), response, "geen lijst van statussen")
        capture = self.capture(response)
        for status in statuses:
            if not isinstance(status, dict) or not status.get("id"):
                continue
            newest = newest_id(newest, str(status["id"]))
            item = self.parse_status(status, capture)
            if item is not None:
                yield item
        next_url = link_header(response).get(direction) if statuses else None
        if next_url and page < self.max_pages:
            yield self.request(next_url, self.parse_page, headers=self._headers(),
                               cb_kwargs={"endpoint": endpoint, "direction": direction,
                                          "page": page + 1, "newest": newest})
        else:
            if next_url:
                self.logger.info("%s: stopped after %d pages", endpoint, page)
            if newest:
                self.state_updates[endpoint] = newest

    def parse_status(self, status: dict[str, Any], capture: RawCapture) -> PostItem | None:
        if status.get("reblog"):
            return None  # a boost repeats someone else's post; the original is its own item
        account = status.get("account") or {}
        text = html_to_text(status.get("content") or "")
        warning = (status.get("spoiler_text") or "").strip()
        if warning:
            text = f"{warning}\n\n{text}"
        return PostItem(
            platform=self.platform,
            # The URI is the same on every instance; the numeric id is only local.
            external_id=str(status.get("uri") or status["id"]),
            text=text,
            capture=capture,
            url=status.get("url") or status.get("uri"),
            author_handle=account.get("acct"),
            author_name=account.get("display_name") or None,
            created_at=parse_time(status.get("created_at")),
            language=status.get("language"),
        )
