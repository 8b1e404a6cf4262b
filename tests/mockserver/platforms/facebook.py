"""Facebook Graph API (developers.facebook.com: Page feed, Object comments, Paginated
Results, Handling Errors): access_token checks, `fields` selection, cursor paging with
absolute `paging.next` links (token included, as Graph does), `since` on the feed.

Scenarios: `n<N>` = N page posts, one an hour (default 30); `p<K>` = at most K items a page
(Graph may send fewer than `limit`); `late` adds, on post 1, a comment newer than anything.
"""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from tests.mockserver.server import Reply, Request, hit, hostile, platform

PAGE_ID = "104857600012345"
PAGE_TOKEN = "EAAGm0PX4ZCpsBOZC7testPageTokenZBZAx9ZCq3ZAqR8uZBn2ZCtyLQZDZD"
POST_BASE = 122_100_000_000_000_000
COMMENT_BASE = 883_000_000_000_000
START = datetime(2026, 9, 1, 8, 0, tzinfo=UTC)
POST_TEXTS = [
    "Vandaag startte het nieuwe schooljaar op obs BM Verkruisen!",
    "Morgen is de school gesloten vanwege een studiedag.",
    "Bedankt aan alle ouders voor de hulp bij de kerstmarkt.",
]
COMMENT_TEXTS = [
    "Wat een waardeloze school, alweer geen nieuwsbrief.",
    "Top georganiseerd, dank jullie wel!",
    None,  # a sticker or photo: Graph leaves out `message`
]
LATE_COMMENT = "Ik ben het hier echt niet mee eens, schande dat niemand reageert."


def graph_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S+0000")


def post(i: int) -> dict:
    node: dict = {
        "id": f"{PAGE_ID}_{POST_BASE + i}",
        "created_time": graph_time(START + timedelta(hours=i)),
        "permalink_url": f"https://www.facebook.com/obsbmverkruisen/posts/pfbid0{POST_BASE + i}",
        "from": {"name": "obs BM Verkruisen", "id": PAGE_ID},
    }
    if i % 4:  # every fourth post is a photo without text
        node["message"] = POST_TEXTS[i % len(POST_TEXTS)]
    return node


def comment_count(i: int) -> int:
    return 15 if i == 2 else (2, 1, 0)[i % 3]


def comment(i: int, k: int) -> dict:
    cid = COMMENT_BASE + i * 100 + k
    node: dict = {
        "id": f"{POST_BASE + i}_{cid}",
        "created_time": graph_time(START + timedelta(hours=i, minutes=5 * (k + 1))),
        "from": {"name": f"Ouder {k + 1}", "id": str(7_300_000_000_000 + k)},
    }
    if k % 3 != 1:  # some comments come without a permalink: the post's link stands in
        node["permalink_url"] = (f"https://www.facebook.com/obsbmverkruisen/posts/"
                                 f"pfbid0{POST_BASE + i}?comment_id={cid}")
    if COMMENT_TEXTS[k % 3] is not None:
        node["message"] = COMMENT_TEXTS[k % 3]
    return node


def comments(i: int, scenario: str, n: int) -> list[dict]:
    nodes = [comment(i, k) for k in range(comment_count(i))]
    if i == 1 and "late" in scenario:
        nodes.append({"id": f"{POST_BASE + 1}_{COMMENT_BASE + 99}", "message": LATE_COMMENT,
                      "created_time": graph_time(START + timedelta(hours=n + 5)),
                      "from": {"name": "Boze Ouder", "id": "7300000000999"}})
    return sorted(nodes, key=lambda c: c["created_time"], reverse=True)


def graph_error(message: str, kind: str, code: int, status: int = 400) -> Reply:
    headers = ({"WWW-Authenticate": f'OAuth "Facebook Platform" "invalid_token" "{message}"'}
               if kind == "OAuthException" else {})
    return Reply.json({"error": {"message": message, "type": kind, "code": code,
                                 "fbtrace_id": "AbCdEfGh123"}}, status=status, headers=headers)


def _number(scenario: str, letter: str, default: int) -> int:
    match = re.search(letter + r"(\d+)", scenario)
    return int(match.group(1)) if match else default


def _cursor(offset: int) -> str:
    return base64.b64encode(f"offset:{offset}".encode()).decode()


def paged(req: Request, nodes: list[dict]) -> Reply:
    """Select `fields`, cut a page at `after`, and add Graph's paging object."""
    fields = set((req.arg("fields") or "id").split(","))
    limit = min(int(req.arg("limit") or 25), 100, _number(req.scenario, "p", 100))
    after = req.arg("after")
    offset = int(base64.b64decode(after).decode().removeprefix("offset:")) if after else 0
    chosen = [{k: v for k, v in node.items() if k in fields | {"id"}}
              for node in nodes[offset:offset + limit]]
    body: dict = {"data": chosen}
    if chosen:
        body["paging"] = {"cursors": {"before": _cursor(offset),
                                      "after": _cursor(offset + len(chosen))}}
        if offset + limit < len(nodes):
            query = {k: v[0] for k, v in req.query.items() if k != "after"}
            body["paging"]["next"] = f"{req.base}{req.path}?{urlencode({**query, 'after': _cursor(offset + limit)})}"
    return Reply.json(body)


@platform("facebook")
def facebook(req: Request) -> Reply:
    reply = hostile(req, "application/json; charset=UTF-8")
    if reply is not None:
        return reply
    token = req.arg("access_token")
    if not token:
        return graph_error("An active access token must be used to query information about "
                           "the current user.", "OAuthException", 2500)
    if not token.startswith("EAA"):
        return graph_error(f"Malformed access token {token}", "OAuthException", 190)
    if token != PAGE_TOKEN:
        return graph_error("Invalid OAuth access token.", "OAuthException", 190)
    n = _number(req.scenario, "n", 30)
    if req.path == f"/{PAGE_ID}/feed":
        since = req.arg("since")
        hit(f"facebook:{req.scenario}:feed:since={since}")
        nodes = [post(i) for i in range(n, 0, -1)]
        if since:
            floor = datetime.fromtimestamp(int(since), UTC)
            nodes = [p for p in nodes if p["created_time"] >= graph_time(floor)]
        return paged(req, nodes)
    match = re.fullmatch(rf"/{PAGE_ID}_(\d+)/comments", req.path)
    if match and 1 <= int(match.group(1)) - POST_BASE <= n:
        if req.arg("filter") != "stream" or req.arg("order") != "reverse_chronological":
            return graph_error("fixture expects filter=stream&order=reverse_chronological",
                               "GraphMethodException", 100)
        i = int(match.group(1)) - POST_BASE
        hit(f"facebook:{req.scenario}:comments:{i}")
        return paged(req, comments(i, req.scenario, n))
    return graph_error(f"Unsupported get request. Object with ID '{req.path.strip('/')}' does "
                       "not exist, cannot be loaded due to missing permissions, or does not "
                       "support this operation.", "GraphMethodException", 100)
