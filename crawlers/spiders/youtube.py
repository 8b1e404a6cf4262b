"""YouTube: channel feeds (no key) and comment threads from the Data API v3 (SOURCES.md).

Videos come from `{feed_base_url}/feeds/videos.xml?channel_id=UC…` (the newest 15 per
channel). With an API key, `commentThreads.list` is read for every configured video, every
video in those feeds, and `allThreadsRelatedToChannelId` for every channel (1 quota unit
per page). The key travels in the `X-Goog-Api-Key` header that Google's API platform
accepts in place of `key=`: a URL ends up in Scrapy's own log lines, a header does not.
API requests never follow redirects, so the header cannot be handed to another host.

Incremental: `order=time` lists the newest threads first, so paging stops at the first
comment older than the endpoint's high-water mark (`comments:video:<id>`,
`comments:channel:<id>`); a video feed keeps its own under `channel:<id>`. A top-level
comment edited after that mark is not re-read; replies (`part=replies`) are not read.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlencode

from lxml import etree
from scrapy.http import Response

from crawlers.items import PostItem, RawCapture
from crawlers.spiders.api_errors import hide_in_logs, scrub
from crawlers.spiders.base import SourceSpider, parse_time, redact
from crawlers.spiders.feeds import HighWater, entry_times, load_feed
from crawlers.text import strip_tags
from schoolwacht.errors import FetchError
from store.config import YoutubeSource

PAGE_LIMIT = 100
_CHANNEL_ID = re.compile(r"^UC[A-Za-z0-9_-]{22}$")
_VIDEO_ID = re.compile(r"^[A-Za-z0-9_-]{11}$")
_NS = {"a": "http://www.w3.org/2005/Atom", "yt": "http://www.youtube.com/xml/schemas/2015",
       "media": "http://search.yahoo.com/mrss/"}
# Statuses whose Google error JSON says more than the status line; 429/5xx go to back-off.
_API_ERROR_STATUSES = [400, 401, 403, 404]
# "forbidden" alone also means a private video; only these reasons (or a message naming
# the API key) say the key itself is refused.
_KEY_REASONS = {"keyInvalid", "keyExpired", "API_KEY_INVALID", "API_KEY_SERVICE_BLOCKED",
                "API_KEY_HTTP_REFERRER_BLOCKED", "API_KEY_IP_ADDRESS_BLOCKED"}
_QUOTA_REASONS = {"quotaExceeded", "dailyLimitExceeded", "rateLimitExceeded"}


def watch_url(video_id: str) -> str:
    return f"https://www.youtube.com/watch?v={video_id}"


def descriptions(body: bytes) -> dict[str, str]:
    """`media:description` per video id, exactly as typed.

    feedparser takes the description for HTML and re-escapes or drops parts of it
    (`&` in URLs, anything tag-like); a description is plain text, and it is evidence.
    """
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    try:
        root = etree.fromstring(body, parser)
    except etree.XMLSyntaxError:
        return {}
    found = {}
    for entry in root.iterfind("a:entry", _NS):
        video_id = entry.findtext("yt:videoId", namespaces=_NS)
        if video_id:
            found[video_id] = entry.findtext("media:group/media:description", "", _NS)
    return found


def google_error(response: Response) -> tuple[str, set[str]]:
    """The message and reasons of a Google API error body (empty when it has none)."""
    try:
        error = json.loads(response.body).get("error") or {}
    except (ValueError, AttributeError, UnicodeDecodeError):
        return "", set()
    if not isinstance(error, dict):
        return "", set()
    reasons = {str(e.get("reason")) for e in error.get("errors") or [] if isinstance(e, dict)}
    reasons |= {str(d.get("reason")) for d in error.get("details") or [] if isinstance(d, dict)}
    return strip_tags(str(error.get("message") or "")), reasons - {"None"}


class YoutubeSpider(SourceSpider):
    kind = "youtube"
    platform = "youtube"
    source: YoutubeSource

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.api_key = self.settings_obj.secret(self.source.api_key_env)
        hide_in_logs([self.api_key])  # the key is never in a URL; this guards the rest
        self._comment_targets: set[str] = set()  # each video's comments once per crawl

    def configured_urls(self) -> list[str]:
        return [self.source.base_url, self.source.feed_base_url]

    def initial_requests(self) -> list[Any]:
        source = self.source
        if not source.channel_ids and not source.video_ids:
            self.record_error("geen channel_ids of video_ids ingesteld")
        if source.api_key_env and not self.api_key:
            self.record_error(f"API-sleutel ontbreekt: omgevingsvariabele {source.api_key_env} "
                              f"is leeg of niet gezet; alleen de kanaalfeeds zijn gelezen")
        elif source.video_ids and not source.api_key_env:
            self.record_error("video_ids kunnen alleen met een API-sleutel gelezen worden "
                              "(api_key_env)")
        feed_base = source.feed_base_url.rstrip("/")
        requests = []
        for channel in source.channel_ids:
            if not _CHANNEL_ID.match(channel):
                self.record_error(f"kanaal-id {channel!r} is ongeldig (verwacht UC + 22 tekens)")
                continue
            url = f"{feed_base}/feeds/videos.xml?{urlencode({'channel_id': channel})}"
            requests.append(self.request(url, self.parse_feed, cb_kwargs={"channel": channel}))
            if self.api_key:
                requests.append(self.comments("allThreadsRelatedToChannelId", channel))
        for video in source.video_ids:
            if not _VIDEO_ID.match(video):
                self.record_error(f"video-id {video!r} is ongeldig (verwacht 11 tekens)")
            elif self.api_key and video not in self._comment_targets:
                self._comment_targets.add(video)
                requests.append(self.comments("videoId", video))
        return requests

    # -- channel feeds ------------------------------------------------------------------
    def parse_feed(self, response: Response, channel: str) -> Any:
        parsed = load_feed(response)
        capture = self.capture(response)
        typed = descriptions(response.body)
        key = f"channel:{channel}"
        mark = HighWater.from_state(self.state, key)
        for entry in parsed.entries:
            video_id = str(entry.get("yt_videoid") or "")
            if not _VIDEO_ID.match(video_id):
                continue
            # Old videos get new comments: their threads are read whatever the mark says.
            if self.api_key and video_id not in self._comment_targets:
                self._comment_targets.add(video_id)
                yield self.comments("videoId", video_id)
            created, changed = entry_times(entry)
            mark.see(changed)
            if mark.is_old(changed):
                continue
            title = (entry.get("title") or "").strip()
            description = typed.get(video_id, entry.get("summary") or "").strip()
            author = entry.get("author_detail") or {}
            yield PostItem(
                platform=self.platform,
                external_id=f"video:{video_id}",
                text=f"{title}\n\n{description}" if description else title,
                capture=capture,
                url=watch_url(video_id),
                author_handle=str(entry.get("yt_channelid") or channel),
                author_name=(author.get("name") or "").strip() or None,
                created_at=created,
            )
        if mark.value():
            self.state_updates[key] = mark.value()

    # -- comment threads ----------------------------------------------------------------
    def comments(self, param: str, ident: str, *, page: int = 1, token: str | None = None,
                 mark: HighWater | None = None) -> Any:
        endpoint = f"comments:{'video' if param == 'videoId' else 'channel'}:{ident}"
        query = {"part": "snippet", param: ident, "maxResults": str(PAGE_LIMIT),
                 "order": "time", "textFormat": "plainText"}
        if token:
            query["pageToken"] = token
        url = f"{self.source.base_url.rstrip('/')}/youtube/v3/commentThreads?{urlencode(query)}"
        assert self.api_key is not None
        return self.request(
            url, self.parse_comments,
            headers={"X-Goog-Api-Key": self.api_key, "Accept": "application/json"},
            meta={"handle_httpstatus_list": _API_ERROR_STATUSES, "dont_redirect": True},
            cb_kwargs={"param": param, "ident": ident, "endpoint": endpoint, "page": page,
                       "mark": mark or HighWater.from_state(self.state, endpoint)})

    def parse_comments(self, response: Response, param: str, ident: str, endpoint: str,
                       page: int, mark: HighWater) -> Any:
        if response.status >= 400:
            self.api_error(response)
            return
        data = self.load_json(response)
        self.expect(isinstance(data, dict) and isinstance(data.get("items"), list), response,
                    "geen items")
        capture = self.capture(response)
        reached_mark = False
        for thread in data["items"]:
            comment = ((thread or {}).get("snippet") or {}).get("topLevelComment") or {}
            published = parse_time((comment.get("snippet") or {}).get("publishedAt"))
            mark.see(published)
            if mark.is_old(published):
                reached_mark = True  # newest first: everything after this was read before
                continue
            item = self.parse_comment(comment, thread, capture)
            if item is not None:
                yield item
        token = data.get("nextPageToken")
        if token and not reached_mark and page < self.max_pages:
            yield self.comments(param, ident, page=page + 1, token=str(token), mark=mark)
            return
        if token and not reached_mark:
            self.logger.info("%s: stopped after %d pages", endpoint, page)
        if mark.value():
            self.state_updates[endpoint] = mark.value()

    def parse_comment(self, comment: dict[str, Any], thread: dict[str, Any],
                      capture: RawCapture) -> PostItem | None:
        snippet = comment.get("snippet") or {}
        comment_id = comment.get("id") or thread.get("id")
        video_id = snippet.get("videoId") or (thread.get("snippet") or {}).get("videoId")
        if not comment_id:
            return None
        name = snippet.get("authorDisplayName") or None
        channel = (snippet.get("authorChannelId") or {}).get("value")
        # Display names are "@handle" since 2023; older ones are free text, so fall back
        # to the author's channel id, which never changes.
        handle = name if name and name.startswith("@") else channel
        return PostItem(
            platform=self.platform,
            external_id=f"comment:{comment_id}",
            # With textFormat=plainText, textDisplay is the text as typed; textOriginal is
            # only promised to the comment's own author.
            text=snippet.get("textDisplay") or snippet.get("textOriginal") or "",
            capture=capture,
            url=f"{watch_url(video_id)}&lc={comment_id}" if video_id else None,
            author_handle=handle,
            author_name=name,
            created_at=parse_time(snippet.get("publishedAt")),
        )

    def api_error(self, response: Response) -> None:
        """A Google error body as a Dutch message; disabled comments are no error."""
        message, reasons = google_error(response)
        message = scrub(message, [self.api_key])  # Google does not echo keys; be sure
        url = redact(response.url)
        status = response.status
        if "commentsDisabled" in reasons:
            self.logger.info("%s: comments are disabled", url)
            return
        detail = f"HTTP {status}{': ' + message if message else ''}"
        if reasons & _KEY_REASONS or "API key" in message:
            raise FetchError(f"{url}: YouTube weigert de API-sleutel ({detail})")
        if reasons & _QUOTA_REASONS:
            raise FetchError(f"{url}: het YouTube API-quotum is op ({detail}); volgende ronde "
                             f"opnieuw")
        if reasons & {"videoNotFound", "channelNotFound"}:
            raise FetchError(f"{url}: video of kanaal niet gevonden ({detail})")
        reason = f" [{', '.join(sorted(reasons))}]" if reasons else ""
        raise FetchError(f"{url}: YouTube Data API antwoordt {detail}{reason}")
