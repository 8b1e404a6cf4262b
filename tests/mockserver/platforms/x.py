"""X API v2 recent search (docs.x.com: GET /2/tweets/search/recent), with Bearer auth,
since_id / next_token paging, the author expansion and X's problem-details errors.

Scenarios: `n<N>` = N matching posts (default 30); `ratelimit` answers 429 with
`x-rate-limit-reset` two seconds ahead (and no Retry-After) until that second has passed;
`ratelimitlong` answers 429 with a reset a day ahead.
"""

from __future__ import annotations

import html
import re
import threading
import time
from datetime import UTC, datetime, timedelta

from tests.mockserver.server import Reply, Request, hit, hostile, platform

# App-only bearer tokens look like this, percent-escapes included.
BEARER = ("AAAAAAAAAAAAAAAAAAAAAMLheAAAAAAA0%2BuSeid%2BULvsea4JtiGRiSDSJSI%3D"
          "EUifiRBkKG5E2XzMDjRfl76ZC9Ub0wnz4XsNiRVBChTYbJcE3F")
BASE_ID = 1_830_000_000_000_000_000
START = datetime(2026, 9, 1, 8, 0, tzinfo=UTC)
USERS = [
    {"id": "1501", "name": "Moeder van Sem 🌷", "username": "moedervansem"},
    {"id": "1502", "name": "Gemeente Midden-Groningen", "username": "MiddenGroningen"},
    {"id": "1503", "name": "Jan Bakker", "username": "jbakker_mtd"},
]
TEXTS = [
    "Ouders & leerkrachten van BM Verkruisen: vergadering vanavond om 19:30 > aula",
    "Verkruisen Transport zoekt chauffeurs in Muntendam",  # the school's exclusion phrase
    "Waarom reageert fusieschool Muntendam nooit op mails? <boos>",
]
_RESETS: dict[str, int] = {}
_LOCK = threading.Lock()


def tweet(i: int) -> dict:
    tid = str(BASE_ID + i * 1000)
    user = USERS[i % len(USERS)]
    return {
        "id": tid,
        "edit_history_tweet_ids": [tid],
        # X escapes &, < and > in post text.
        "text": html.escape(TEXTS[i % len(TEXTS)], quote=False) + f" #{i}",
        "author_id": user["id"],
        "conversation_id": tid,
        "created_at": (START + timedelta(minutes=i)).isoformat(timespec="milliseconds")
        .replace("+00:00", "Z"),
        "lang": "nl",
    }


def problem(status: int, title: str, detail: str, **headers: str) -> Reply:
    return Reply.json({"title": title, "type": "about:blank", "status": status, "detail": detail},
                      status=status, content_type="application/problem+json", headers=headers)


def invalid(message: str, parameter: str) -> Reply:
    return Reply.json({"errors": [{"parameters": {parameter: []}, "message": message}],
                       "title": "Invalid Request",
                       "detail": "One or more parameters to your request was invalid.",
                       "type": "https://api.twitter.com/2/problems/invalid-request"}, status=400)


def _rate_limited(req: Request) -> Reply | None:
    now = time.time()
    if "ratelimitlong" in req.scenario:
        reset = int(now) + 86400
    elif "ratelimit" in req.scenario:
        with _LOCK:
            reset = _RESETS.setdefault(req.scenario, int(now) + 2)
        if now >= reset:
            return None
    else:
        return None
    return problem(429, "Too Many Requests", "Too Many Requests",
                   **{"x-rate-limit-limit": "60", "x-rate-limit-remaining": "0",
                      "x-rate-limit-reset": str(reset)})


def search_recent(req: Request) -> Reply:
    if req.headers.get("authorization") != f"Bearer {BEARER}":
        return problem(401, "Unauthorized", "Unauthorized")
    limited = _rate_limited(req)
    if limited is not None:
        return limited
    if not req.arg("query"):
        return invalid("The `query` query parameter can not be empty", "query")
    max_results = int(req.arg("max_results", "10") or 10)
    if not 10 <= max_results <= 100:
        return invalid(f"The `max_results` query parameter value [{max_results}] is not "
                       "between 10 and 100", "max_results")
    since_id = req.arg("since_id")
    hit(f"x:{req.scenario}:since_id={since_id}")
    match = re.search(r"n(\d+)", req.scenario)
    ids = range(int(match.group(1)) if match else 30, 0, -1)
    tweets = [tweet(i) for i in ids if not since_id or BASE_ID + i * 1000 > int(since_id)]
    offset = int((req.arg("next_token") or "b0").removeprefix("b"))  # opaque to clients
    chosen = tweets[offset:offset + max_results]
    if not chosen:
        return Reply.json({"meta": {"result_count": 0}})
    meta: dict = {"newest_id": chosen[0]["id"], "oldest_id": chosen[-1]["id"],
                  "result_count": len(chosen)}
    if offset + max_results < len(tweets):
        meta["next_token"] = f"b{offset + max_results}"
    data: dict = {"data": chosen, "meta": meta}
    if "author_id" in (req.arg("expansions") or "").split(","):
        authors = {t["author_id"] for t in chosen}
        data["includes"] = {"users": [u for u in USERS if u["id"] in authors]}
    return Reply.json(data)


@platform("x")
def x_api(req: Request) -> Reply:
    reply = hostile(req, "application/json; charset=utf-8")
    if reply is not None:
        return reply
    if req.path == "/2/tweets/search/recent":
        return search_recent(req)
    return problem(404, "Not Found Error", f"Could not find resource {req.path}")
