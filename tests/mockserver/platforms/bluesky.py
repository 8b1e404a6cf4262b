"""Bluesky XRPC (docs.bsky.app: com.atproto.server.createSession, app.bsky.feed.searchPosts,
app.bsky.feed.getAuthorFeed), with the real auth rules and paging.

Scenarios: `n<N>` = N search hits and N author-feed items (default 30). Search needs a
session; the author feed is public. Both order by sortAt = min(createdAt, indexedAt).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

from tests.mockserver.server import Reply, Request, hit, hostile, platform

HANDLE = "bmverkruisen-monitor.bsky.social"
APP_PASSWORD = "vk7q-2m9x-pp3r-t8zw"
ACCESS_JWT = "eyJ0eXAiOiJhdCtqd3QiLCJhbGciOiJFUzI1NksifQ.eyJzY29wZSI6ImNvbS5hdHByb3RvLmFwcFBhc3MifQ.c2lnbmF0dXJl"
START = datetime(2026, 9, 1, 8, 0, tzinfo=UTC)
JUF = {"did": "did:plc:jufanna4v3xk2qzq7hm5wbty", "handle": "juf-anna.bsky.social",
       "displayName": "Juf Anna 🍎"}
TEXTS = [
    "Wat een mooie kerstmarkt op obs BM Verkruisen vandaag!",
    "Gewoon een post over het weer in Muntendam, niks over school.",
    "De communicatie van #BMVerkruisen is echt waardeloos, alweer geen nieuwsbrief.",
]
S32 = "234567abcdefghijklmnopqrstuvwxyz"


def tid(micros: int) -> str:
    """A record key in the TID format: 13 base32-sortable characters of a timestamp."""
    value = micros << 10
    return "".join(S32[(value >> (5 * k)) & 31] for k in reversed(range(13)))


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parent(i: int) -> dict:
    return {"did": f"did:plc:ouder{i % 4}xq7rjv2m3kz5nw6d", "handle": f"ouder{i % 4}.bsky.social",
            "displayName": f"Ouder {i % 4}"}


def post_view(i: int, author: dict, *, created: datetime, text: str) -> dict:
    rkey = tid(int(created.timestamp() * 1_000_000) + i)
    record: dict = {"$type": "app.bsky.feed.post", "text": text, "createdAt": iso(created),
                    "langs": ["nl"]}
    view: dict = {
        "uri": f"at://{author['did']}/app.bsky.feed.post/{rkey}",
        "cid": f"bafyreib{rkey}{i:06d}qz4kj3",
        "author": {**author, "avatar": f"https://cdn.bsky.app/img/avatar/plain/{author['did']}/x@jpeg",
                   "labels": [], "createdAt": "2024-02-01T10:00:00.000Z"},
        "record": record,
        "replyCount": i % 3, "repostCount": 0, "likeCount": i % 7, "quoteCount": 0,
        "indexedAt": iso(created + timedelta(seconds=2)),
        "labels": [],
    }
    return view


def search_post(i: int) -> dict:
    created = START + timedelta(minutes=i)
    view = post_view(i, parent(i), created=created, text=TEXTS[i % len(TEXTS)])
    if i == 2:
        # A client clock years ahead: Bluesky sorts it by indexedAt, and so must the spider.
        view["record"]["createdAt"] = "2030-01-01T00:00:00.000Z"
    if i == 3:
        # createdAt is written by the client, in its own offset.
        view["record"]["createdAt"] = (created + timedelta(hours=2)).isoformat(
            timespec="milliseconds").replace("+00:00", "+02:00")
    if i == 4:
        view["embed"] = {"$type": "app.bsky.embed.external#view", "external": {
            "uri": "https://www.rtvnoord.nl/nieuws/1234/nieuwe-directeur",
            "title": "Nieuwe directeur voor obs BM Verkruisen in Muntendam",
            "description": "De fusieschool krijgt een nieuwe directeur.",
        }}
    if i == 5:
        view["record"]["reply"] = {
            "root": {"uri": "at://did:plc:x/app.bsky.feed.post/3kaaaaaaaaaa2", "cid": "bafyrei1"},
            "parent": {"uri": "at://did:plc:x/app.bsky.feed.post/3kaaaaaaaaaa2", "cid": "bafyrei1"},
        }
    return view


def feed_item(i: int) -> dict:
    when = START + timedelta(minutes=i, seconds=30)
    if i % 5 == 0:
        # A repost by the actor of an old post by someone else (mentions the school).
        original = post_view(10_000 + i, parent(i), created=START - timedelta(days=30),
                             text="Herinnering: ouderavond BM Verkruisen")
        return {"post": original, "reason": {"$type": "app.bsky.feed.defs#reasonRepost",
                                             "by": JUF, "indexedAt": iso(when)}}
    return {"post": post_view(i, JUF, created=when, text=TEXTS[i % len(TEXTS)])}


def sort_key(view: dict) -> datetime:
    created = datetime.fromisoformat(view["record"]["createdAt"].replace("Z", "+00:00"))
    indexed = datetime.fromisoformat(view["indexedAt"].replace("Z", "+00:00"))
    return min(created, indexed)


def _count(scenario: str) -> int:
    match = re.search(r"n(\d+)", scenario)
    return int(match.group(1)) if match else 30


def error(status: int, name: str, message: str) -> Reply:
    return Reply.json({"error": name, "message": message}, status=status)


def _limit(req: Request, default: int) -> int | Reply:
    raw = req.arg("limit", str(default)) or str(default)
    if not raw.isdigit() or not 1 <= int(raw) <= 100:
        return error(400, "InvalidRequest", "limit must be between 1 and 100")
    return int(raw)


def create_session(req: Request) -> Reply:
    if req.method != "POST":
        return error(400, "InvalidRequest", "Incorrect HTTP method (GET) expected POST")
    if "application/json" not in req.headers.get("content-type", ""):
        return error(400, "InvalidRequest", "Wrong request encoding (Content-Type)")
    body = json.loads(req.body or b"{}")
    if body.get("identifier") != HANDLE or body.get("password") != APP_PASSWORD:
        return error(401, "AuthenticationRequired", "Invalid identifier or password")
    return Reply.json({"did": "did:plc:monitor7r2kq5xw3j", "handle": HANDLE,
                       "email": "ict@bmverkruisen.example", "emailConfirmed": True,
                       "accessJwt": ACCESS_JWT, "refreshJwt": ACCESS_JWT + ".refresh",
                       "active": True})


def search_posts(req: Request) -> Reply:
    if req.headers.get("authorization") != f"Bearer {ACCESS_JWT}":
        return error(401, "AuthMissing", "Authentication Required")
    if not req.arg("q"):
        return error(400, "InvalidRequest", 'Error: Params must have the property "q"')
    limit = _limit(req, 25)
    if isinstance(limit, Reply):
        return limit
    since = req.arg("since")
    hit(f"bluesky:{req.scenario}:search:since={since}")
    posts = sorted((search_post(i) for i in range(1, _count(req.scenario) + 1)),
                   key=sort_key, reverse=True)
    if since:  # inclusive, on sortAt
        floor = datetime.fromisoformat(since.replace("Z", "+00:00"))
        posts = [p for p in posts if sort_key(p) >= floor]
    offset = int(req.arg("cursor") or 0)
    chosen = posts[offset:offset + limit]
    data: dict = {"hitsTotal": len(posts), "posts": chosen}
    if offset + limit < len(posts):
        data["cursor"] = str(offset + limit)
    return Reply.json(data)


def author_feed(req: Request) -> Reply:
    if req.arg("actor") not in (JUF["handle"], JUF["did"]):
        return error(400, "InvalidRequest", "Profile not found")
    limit = _limit(req, 50)
    if isinstance(limit, Reply):
        return limit
    cursor = req.arg("cursor")
    hit(f"bluesky:{req.scenario}:feed:cursor={cursor}")
    items = [feed_item(i) for i in range(_count(req.scenario), 0, -1)]

    def feed_time(item: dict) -> str:
        return item["reason"]["indexedAt"] if "reason" in item else iso(sort_key(item["post"]))

    if cursor:  # the cursor is the feed time of the last item served; strictly older follows
        items = [item for item in items if feed_time(item) < cursor]
    chosen = items[:limit]
    data: dict = {"feed": chosen}
    if len(items) > limit:
        data["cursor"] = feed_time(chosen[-1])
    return Reply.json(data)


@platform("bluesky")
def bluesky(req: Request) -> Reply:
    reply = hostile(req, "application/json; charset=utf-8")
    if reply is not None:
        return reply
    if req.path == "/xrpc/com.atproto.server.createSession":
        return create_session(req)
    if req.path == "/xrpc/app.bsky.feed.searchPosts":
        return search_posts(req)
    if req.path == "/xrpc/app.bsky.feed.getAuthorFeed":
        return author_feed(req)
    return error(501, "MethodNotImplemented", "Method Not Implemented")
