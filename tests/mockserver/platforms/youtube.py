"""YouTube: the channel Atom feed and Data API v3 `commentThreads.list`.

`/feeds/videos.xml?channel_id=UC…` is www.youtube.com's keyless feed (`yt:videoId`,
`yt:channelId`, `media:group` with `media:title` and `media:description`).
`/youtube/v3/commentThreads` answers like googleapis.com: an API key (`key=` parameter or
`X-Goog-Api-Key` header) or Google's error JSON (400 API_KEY_INVALID, 403 forbidden),
`part` required, `videoId` or `allThreadsRelatedToChannelId`, `order=time` newest first,
`maxResults` 1-100 (default 20), opaque `nextPageToken`. One video has its comments
disabled (403 commentsDisabled), unknown videos are 404 videoNotFound.
Scenarios: `normal`, `growing-<id>` (two newer comments on the big video from the second
crawl on), and the shared hostile ones.
"""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime, timedelta
from html import escape

from tests.mockserver.server import Reply, Request, hit, hostile, platform

API_KEY = "AIzaSyD-schoolwacht-TEST-key-0123456789"
CHANNEL = "UCVk3rU1sEn_BMverkruisen"
OTHER_CHANNEL = "UCdvhnNieuwsGroningen001"
START = datetime(2026, 9, 1, 8, 0, tzinfo=UTC)
FEED_TYPE = "application/atom+xml; charset=UTF-8"

# (video id, title, description, minutes after START)
VIDEOS = [
    ("kErStMaRkT1", "Kerstmarkt obs BM Verkruisen 2026",
     "Een impressie van de kerstmarkt op obs BM Verkruisen.\nMet dank aan alle ouders!", 0),
    ("sPoRtDaG026", "Sportdag groep 5 t/m 8", "Alle kinderen deden mee aan de sportdag.", 60),
    ("oPeNdAg2026", "Open dag", "Kom kijken op de fusieschool Muntendam op 12 oktober.", 120),
]
DISABLED = "oPeNdAg2026"
EXTRA_VIDEO = "dVhNrEpOrT1"  # a news channel's video, configured by id
COMMENT_TEXTS = [
    "Wat een mooie kerstmarkt bij BM Verkruisen!",
    "Leuk gedaan allemaal 👏",
    "Verkruisen is echt de slechtste school van Muntendam",
]
# video id -> number of top-level comments in the `normal` scenario
COMMENT_COUNTS = {"kErStMaRkT1": 250, "sPoRtDaG026": 5, EXTRA_VIDEO: 3}
GROWN = 2


def _iso(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def _feed_time(minutes: int) -> str:
    return (START + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def video_feed(channel: str) -> str:
    entries = []
    for video_id, title, description, minutes in reversed(VIDEOS):
        entries.append(f"""
 <entry>
  <id>yt:video:{video_id}</id>
  <yt:videoId>{video_id}</yt:videoId>
  <yt:channelId>{channel}</yt:channelId>
  <title>{escape(title)}</title>
  <link rel="alternate" href="https://www.youtube.com/watch?v={video_id}"/>
  <author>
   <name>obs BM Verkruisen</name>
   <uri>https://www.youtube.com/channel/{channel}</uri>
  </author>
  <published>{_feed_time(minutes)}</published>
  <updated>{_feed_time(minutes + 30)}</updated>
  <media:group>
   <media:title>{escape(title)}</media:title>
   <media:content url="https://www.youtube.com/v/{video_id}?version=3"
    type="application/x-shockwave-flash" width="640" height="390"/>
   <media:thumbnail url="https://i2.ytimg.com/vi/{video_id}/hqdefault.jpg" width="480" height="360"/>
   <media:description>{escape(description)}</media:description>
   <media:community>
    <media:starRating count="12" average="5.00" min="1" max="5"/>
    <media:statistics views="345"/>
   </media:community>
  </media:group>
 </entry>""")
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns:yt="http://www.youtube.com/xml/schemas/2015" xmlns:media="http://search.yahoo.com/mrss/" xmlns="http://www.w3.org/2005/Atom">
 <link rel="self" href="http://www.youtube.com/feeds/videos.xml?channel_id={channel}"/>
 <id>yt:channel:{channel}</id>
 <yt:channelId>{channel}</yt:channelId>
 <title>obs BM Verkruisen</title>
 <link rel="alternate" href="https://www.youtube.com/channel/{channel}"/>
 <author>
  <name>obs BM Verkruisen</name>
  <uri>https://www.youtube.com/channel/{channel}</uri>
 </author>
 <published>2019-03-04T09:12:00+00:00</published>{"".join(entries)}
</feed>
"""


def comment_thread(video_id: str, k: int) -> dict:
    """Comment k (1 = oldest) on a video; published k minutes after the video."""
    prefix = re.sub(r"[^A-Za-z]", "", video_id)[:4]
    comment_id = f"Ugz{prefix}{k:05d}x4AaABAg"
    video_minutes = next((m for v, _, _, m in VIDEOS if v == video_id), 0)
    published = _iso(START + timedelta(minutes=video_minutes + k))
    author = f"ouder{k % 7}"
    text = COMMENT_TEXTS[k % 3]
    snippet = {
        "channelId": OTHER_CHANNEL if video_id == EXTRA_VIDEO else CHANNEL,
        "videoId": video_id,
        "textDisplay": text,
        "textOriginal": text,
        "authorDisplayName": f"@{author}",
        "authorProfileImageUrl": f"https://yt3.ggpht.com/ytc/{author}=s48-c-k-c0x00ffffff-no-rj",
        "authorChannelUrl": f"http://www.youtube.com/@{author}",
        "authorChannelId": {"value": f"UC{author:0>22}"[:24]},
        "canRate": True,
        "viewerRating": "none",
        "likeCount": k % 4,
        "publishedAt": published,
        "updatedAt": published,
    }
    return {
        "kind": "youtube#commentThread",
        "etag": f"etag-{comment_id}",
        "id": comment_id,
        "snippet": {
            "channelId": snippet["channelId"],
            "videoId": video_id,
            "topLevelComment": {"kind": "youtube#comment", "etag": f"e-{comment_id}",
                                "id": comment_id, "snippet": snippet},
            "canReply": True,
            "totalReplyCount": k % 2,
            "isPublic": True,
        },
    }


def google_error(code: int, message: str, reason: str, domain: str = "global",
                 status: str = "", detail_reason: str | None = None) -> Reply:
    error: dict = {"code": code, "message": message,
                   "errors": [{"message": message, "domain": domain, "reason": reason}]}
    if status:
        error["status"] = status
    if detail_reason:
        error["details"] = [{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
                             "reason": detail_reason, "domain": "googleapis.com",
                             "metadata": {"service": "youtube.googleapis.com"}}]
    return Reply.json({"error": error}, status=code)


def _token(grown: int, offset: int) -> str:
    return base64.urlsafe_b64encode(f"{grown}:{offset}".encode()).decode().rstrip("=")


def _untoken(token: str) -> tuple[int, int]:
    grown, offset = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode().split(":")
    return int(grown), int(offset)


def _generation(req: Request) -> int:
    """How many newer comments the big video has in this crawl (kept across its pages)."""
    token = req.arg("pageToken")
    if token:
        return _untoken(token)[0]
    if req.scenario.startswith("growing"):
        key = f"{req.scenario}:{req.arg('videoId') or req.arg('allThreadsRelatedToChannelId')}"
        return GROWN if hit(key) > 0 else 0
    return 0


def _threads(video_ids: list[str], grown: int) -> list[dict]:
    threads = []
    for video_id in video_ids:
        total = COMMENT_COUNTS.get(video_id, 0) + (grown if video_id == "kErStMaRkT1" else 0)
        threads += [comment_thread(video_id, k) for k in range(1, total + 1)]
    threads.sort(key=lambda t: t["snippet"]["topLevelComment"]["snippet"]["publishedAt"],
                 reverse=True)
    return threads


def comment_threads(req: Request) -> Reply:
    key = req.arg("key") or req.headers.get("x-goog-api-key")
    if not key:
        return google_error(403, "The request is missing a valid API key.", "forbidden",
                            status="PERMISSION_DENIED")
    if key != API_KEY:
        return google_error(400, "API key not valid. Please pass a valid API key.", "badRequest",
                            status="INVALID_ARGUMENT", detail_reason="API_KEY_INVALID")
    if "snippet" not in (req.arg("part") or "").split(","):
        return google_error(400, "Required parameter: part", "required",
                            status="INVALID_ARGUMENT")
    video, channel = req.arg("videoId"), req.arg("allThreadsRelatedToChannelId")
    if bool(video) == bool(channel):
        return google_error(400, "Exactly one filter parameter must be specified.",
                            "invalidFilters", domain="youtube.parameter")
    hit(f"api:{req.scenario}:{video or channel}:{'next' if req.arg('pageToken') else 'first'}")
    if video == DISABLED:
        return google_error(403, 'The video identified by the <code><a href="/youtube/v3/docs/'
                            'commentThreads/list#videoId">videoId</a></code> parameter has '
                            "disabled comments.", "commentsDisabled",
                            domain="youtube.commentThread")
    if video and video not in COMMENT_COUNTS:
        return google_error(404, "The video identified by the <code><a href=\"/youtube/v3/docs/"
                            "commentThreads/list#videoId\">videoId</a></code> parameter could "
                            "not be found.", "videoNotFound", domain="youtube.commentThread")
    if channel and channel != CHANNEL:
        return google_error(404, "The channel could not be found.", "channelNotFound",
                            domain="youtube.commentThread")
    token = req.arg("pageToken")
    offset = _untoken(token)[1] if token else 0
    grown = _generation(req)
    threads = _threads([video] if video else [v for v, _, _, _ in VIDEOS], grown)
    limit = max(1, min(int(req.arg("maxResults", "20") or 20), 100))
    page = threads[offset:offset + limit]
    body: dict = {"kind": "youtube#commentThreadListResponse", "etag": f"list-{offset}"}
    if offset + limit < len(threads):
        body["nextPageToken"] = _token(grown, offset + limit)
    body["pageInfo"] = {"totalResults": len(page), "resultsPerPage": limit}
    body["items"] = page
    return Reply.json(body)


@platform("youtube")
def youtube(req: Request) -> Reply:
    if req.path == "/youtube/v3/commentThreads":
        reply = hostile(req, "application/json; charset=UTF-8")
        return reply if reply is not None else comment_threads(req)
    reply = hostile(req, FEED_TYPE)
    if reply is not None:
        return reply
    if req.path == "/feeds/videos.xml":
        channel = req.arg("channel_id") or ""
        if channel != CHANNEL:
            return Reply(status=404, body=b"<html><body>404 Not Found</body></html>",
                         content_type="text/html; charset=utf-8")
        return Reply(body=video_feed(channel).encode(), content_type=FEED_TYPE)
    return Reply(status=404, body=b"<html><body>404 Not Found</body></html>",
                 content_type="text/html; charset=utf-8")
