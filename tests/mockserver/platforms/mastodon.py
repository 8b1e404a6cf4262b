"""Mastodon REST API (docs.joinmastodon.org: timelines/tag, accounts/:id/statuses)."""

from __future__ import annotations

import html
import re
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from tests.mockserver.server import Reply, Request, hostile, platform

BASE_ID = 109_000_000_000_000_000
START = datetime(2026, 9, 1, 8, 0, tzinfo=UTC)
TEXTS = [
    "Wat een mooie kerstmarkt op obs BM Verkruisen vandaag! 🎄",
    "Gewoon een post over het weer in Muntendam, niks over school.",
    "De communicatie van #BMVerkruisen is echt waardeloos, alweer geen nieuwsbrief.",
]
# Posts the classifier flags: the scheduler and alert tests need something to alert on.
THREATS = [
    "Ik kom morgen met een mes naar het schoolplein van de Verkruisen, meester {i}.",
    "Die juf van BM Verkruisen is een vuile kankerhoer, post {i}",
    "Mooie kerstmarkt op de Verkruisen vandaag, groet {i}",
]
HOSTILE = [
    '<script>alert("xss")</script> Verkruisen',
    '<img src=x onerror="alert(1)"> BM Verkruisen is top',
    "Verkruisen \"quotes\" & 'apostrof' <b>vet</b>",
]


def status(i: int, *, account_id: str = "7", texts: list[str] = TEXTS) -> dict:
    sid = str(BASE_ID + i)
    created = START + timedelta(minutes=i)
    typed = texts[i % len(texts)].replace("{i}", str(i))
    # Mastodon serves `content` as sanitised HTML: text a user typed arrives escaped.
    tag = f'<a href="https://school.social/tags/post{i}" class="mention hashtag" rel="tag">#<span>post{i}</span></a>'
    content = f"<p>{html.escape(typed)} {tag}</p>"
    return {
        "id": sid,
        "created_at": created.isoformat().replace("+00:00", ".000Z"),
        "in_reply_to_id": None,
        "in_reply_to_account_id": None,
        "sensitive": False,
        "spoiler_text": "",
        "visibility": "public",
        "language": "nl",
        "uri": f"https://school.social/users/ouder{account_id}/statuses/{sid}",
        "url": f"https://school.social/@ouder{account_id}/{sid}",
        "replies_count": 0,
        "reblogs_count": 0,
        "favourites_count": i % 5,
        "edited_at": None,
        "content": content,
        "reblog": None,
        "application": None,
        "account": {
            "id": account_id,
            "username": f"ouder{account_id}",
            "acct": f"ouder{account_id}@school.social",
            "display_name": f"Ouder {account_id} 🍎",
            "locked": False,
            "bot": False,
            "created_at": "2024-01-01T00:00:00.000Z",
            "url": f"https://school.social/@ouder{account_id}",
            "avatar": "https://school.social/avatars/original/missing.png",
            "followers_count": 3,
            "following_count": 4,
            "statuses_count": 100,
        },
        "media_attachments": [],
        "mentions": [],
        "tags": [{"name": f"post{i}", "url": f"https://school.social/tags/post{i}"}],
        "emojis": [],
        "card": None,
        "poll": None,
    }


def _count(scenario: str, default: int) -> int:
    match = re.search(r"n(\d+)", scenario)
    return int(match.group(1)) if match else default


def page(req: Request, ids: list[int], make) -> Reply:
    """Apply max_id/since_id/min_id/limit like Mastodon and add the Link header."""
    limit = min(int(req.arg("limit", "20") or 20), 40)
    max_id, since_id, min_id = req.arg("max_id"), req.arg("since_id"), req.arg("min_id")
    chosen = sorted(ids, reverse=True)
    if max_id:
        chosen = [i for i in chosen if BASE_ID + i < int(max_id)]
    if since_id:
        chosen = [i for i in chosen if BASE_ID + i > int(since_id)]
    if min_id:
        # min_id: the page immediately newer than min_id (oldest first, then shown newest first)
        chosen = sorted(i for i in chosen if BASE_ID + i > int(min_id))[:limit]
        chosen.sort(reverse=True)
    else:
        chosen = chosen[:limit]
    headers = {}
    if chosen:
        path = req.base + req.path
        keep = {k: v[0] for k, v in req.query.items() if k not in ("max_id", "min_id", "since_id")}
        nxt = f"{path}?{urlencode({**keep, 'max_id': BASE_ID + chosen[-1]})}"
        prev = f"{path}?{urlencode({**keep, 'min_id': BASE_ID + chosen[0]})}"
        headers["Link"] = f'<{nxt}>; rel="next", <{prev}>; rel="prev"'
    return Reply.json([make(i) for i in chosen], headers=headers)


@platform("mastodon")
def mastodon(req: Request) -> Reply:
    reply = hostile(req, "application/json; charset=utf-8")
    if reply is not None:
        return reply
    if "auth" in req.scenario and req.headers.get("authorization") != "Bearer sekrit":
        return Reply.json({"error": "This API requires an authenticated user"}, status=401)
    if "slow" in req.scenario:
        time.sleep(0.3)  # a long crawl that a test can kill halfway
    texts = HOSTILE if "hostile" in req.scenario else THREATS if "threats" in req.scenario else TEXTS
    if req.path.startswith("/api/v1/timelines/tag/"):
        total = _count(req.scenario, 100)
        return page(req, list(range(1, total + 1)), lambda i: status(i, texts=texts))
    if req.path == "/api/v1/accounts/lookup":
        if req.arg("acct") == "juf@school.social":
            return Reply.json({"id": "42", "username": "juf", "acct": "juf@school.social"})
        return Reply.json({"error": "Record not found"}, status=404)
    match = re.fullmatch(r"/api/v1/accounts/(\d+)/statuses", req.path)
    if match:
        account = match.group(1)
        # Account statuses use their own id range so they never collide with the tag's.
        ids = list(range(500_001, 500_001 + 45))
        return page(req, ids, lambda i: status(i, account_id=account, texts=texts))
    return Reply.json({"error": "Record not found"}, status=404)
