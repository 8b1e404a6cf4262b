"""X: recent search (`GET /2/tweets/search/recent`) with an app's Bearer token (SOURCES.md).

Incremental: the newest post id seen is kept as `since_id`; the next crawl asks only for
newer posts and follows `meta.next_token` downwards until the pages run out (X stops at
since_id by itself). Author names come from the `includes.users` expansion.
"""

from __future__ import annotations

import html
from typing import Any
from urllib.parse import urlencode

from scrapy.http import Response
from twisted.python.failure import Failure

from crawlers.items import PostItem, RawCapture
from crawlers.spiders.api_errors import hide_in_logs, http_error, scrub, text_field
from crawlers.spiders.base import SourceSpider, describe_failure, newest_id, parse_time
from store.config import XSource

PAGE_LIMIT = 100
TWEET_FIELDS = "created_at,lang,author_id,conversation_id"
USER_FIELDS = "username,name"


class XSpider(SourceSpider):
    kind = "x"
    platform = "x"
    source: XSource

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        hide_in_logs([self._token()])

    def _token(self) -> str | None:
        return self.settings_obj.secret(self.source.bearer_token_env)

    def record_error(self, message: str) -> None:
        super().record_error(scrub(message, [self._token()]))

    def initial_requests(self) -> list[Any]:
        token = self._token()
        if not token:
            self.record_error(f"X: geen bearer-token; vul de omgevingsvariabele "
                              f"{self.source.bearer_token_env} (bearer_token_env)")
            return []
        return [self._search_request(token, next_token=None, page=1,
                                     newest=self.state.get("since_id"))]

    def _search_request(self, token: str, *, next_token: str | None, page: int,
                        newest: str | None) -> Any:
        query = {"query": self.source.query, "max_results": str(PAGE_LIMIT),
                 "expansions": "author_id", "tweet.fields": TWEET_FIELDS,
                 "user.fields": USER_FIELDS}
        since_id = self.state.get("since_id")
        if isinstance(since_id, str) and since_id.isdigit():
            query["since_id"] = since_id
        if next_token:
            query["next_token"] = next_token
        url = f"{self.source.base_url.rstrip('/')}/2/tweets/search/recent?{urlencode(query)}"
        return self.request(url, self.parse_page,
                            headers={"Authorization": f"Bearer {token}"},
                            cb_kwargs={"token": token, "page": page, "newest": newest})

    def parse_page(self, response: Response, token: str, page: int, newest: str | None) -> Any:
        data = self.load_json(response)
        self.expect(isinstance(data, dict) and isinstance(data.get("meta"), dict), response,
                    "geen meta")
        tweets = data.get("data") or []  # absent when nothing new: {"meta":{"result_count":0}}
        self.expect(isinstance(tweets, list), response, "data is geen lijst")
        includes = data.get("includes") if isinstance(data.get("includes"), dict) else {}
        users = {str(u.get("id")): u for u in includes.get("users") or [] if isinstance(u, dict)}
        capture = self.capture(response)
        for tweet in tweets:
            if not isinstance(tweet, dict) or not str(tweet.get("id") or "").isdigit():
                continue
            newest = newest_id(newest, str(tweet["id"]))
            item = self.tweet_item(tweet, users.get(str(tweet.get("author_id"))) or {}, capture)
            if item is not None:
                yield item
        next_token = data["meta"].get("next_token")
        if isinstance(next_token, str) and next_token and tweets and page < self.max_pages:
            yield self._search_request(token, next_token=next_token, page=page + 1,
                                       newest=newest)
            return
        if next_token and tweets:
            self.logger.info("search: stopped after %d pages", page)
        if newest:
            self.state_updates["since_id"] = newest

    def tweet_item(self, tweet: dict[str, Any], user: dict[str, Any],
                   capture: RawCapture) -> PostItem:
        tweet_id = str(tweet["id"])
        username = user.get("username") if isinstance(user.get("username"), str) else None
        # Without the author (suspended, or left out of includes) X still resolves this form.
        url = (f"https://x.com/{username}/status/{tweet_id}" if username
               else f"https://x.com/i/web/status/{tweet_id}")
        lang = tweet.get("lang")
        return PostItem(
            platform=self.platform,
            external_id=tweet_id,
            # X escapes &, < and > in post text; the stored text is what the poster typed.
            text=html.unescape(tweet.get("text") or ""),
            capture=capture,
            url=url,
            author_handle=username,
            author_name=user.get("name") if isinstance(user.get("name"), str) else None,
            created_at=parse_time(tweet.get("created_at")),
            # "und", "qme" and "zxx" are X's codes for undetermined, emoji-only, no text.
            language=lang if isinstance(lang, str) and len(lang) <= 16 else None,
        )

    def on_error(self, failure: Failure) -> None:
        refused = http_error(failure)
        if refused is None:
            super().on_error(failure)
            return
        response, body = refused
        # RFC 7807 problem details; a 400 lists what is wrong in errors[].message.
        errors = body.get("errors") if isinstance(body, dict) else None
        first = errors[0] if isinstance(errors, list) and errors else None
        title = text_field(body, "title")
        explained = text_field(body, "detail") or text_field(first, "message")
        reason = title if explained in ("", title) else f"{title}: {explained}".lstrip(": ")
        detail = f" ({reason})" if reason else ""
        message = f"{describe_failure(failure)}{detail}"
        if response.status in (401, 403):
            message += (f": X weigert het bearer-token; controleer "
                        f"{self.source.bearer_token_env} en het abonnement van de app")
        elif response.status == 429 and not response.meta.get("retry_after_too_long"):
            message += ": X-limiet bereikt; volgende ronde opnieuw"
        self.record_error(message)
