"""A Mastodon whose faults a test switches on and off between crawls (tests/faults/).

`/faulty/<token>/...` serves the Mastodon API of `mastodon.py` (100 tag statuses, or
`?total=N` on the switch) until a test switches a fault on with
`/faulty/<token>/_fault?mode=MODE&from_page=P`: requests for page P and later (page 1 is the
request without `max_id`) then get the fault, until `mode=ok` again. Each test uses its own
token, so the faults of one test never reach another. Modes:

- `garbage`, `huge` (20 MB), `dribble` (one byte a second): the shared hostile replies;
- `loop`: a redirect to the same page with `hop` one higher, for ever;
- `redirect:HOST_PORT`: a redirect to `http://HOST:PORT/faulty/<token>/geheim` (`_` for `:`);
- `retry-after:N`: HTTP 429 with `Retry-After: N` once per URL, then the page;
- `slow:S`: the page, after S seconds (a crawl that a test can interrupt).

`/faulty/<token>/geheim` is what a redirect must never reach; requests to it show up in the
request log like every other (`/_times/log`, key `faulty/<token>`).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, replace
from urllib.parse import urlencode

from tests.mockserver.platforms.mastodon import mastodon
from tests.mockserver.server import Reply, Request, hit, hostile, platform

JSON = "application/json; charset=utf-8"


@dataclass
class _Fault:
    mode: str = "ok"
    from_page: int = 1
    total: int = 100


_FAULTS: dict[str, _Fault] = {}
_LOCK = threading.Lock()


def _switch(req: Request) -> Reply:
    fault = _Fault(mode=req.arg("mode", "ok") or "ok", from_page=int(req.arg("from_page", "1") or 1),
                   total=int(req.arg("total", "100") or 100))
    with _LOCK:
        previous = _FAULTS.get(req.scenario)
        if previous is not None and req.arg("total") is None:
            fault.total = previous.total
        _FAULTS[req.scenario] = fault
    return Reply.json({"token": req.scenario, "mode": fault.mode, "from_page": fault.from_page,
                       "total": fault.total})


def _fault_reply(req: Request, fault: _Fault) -> Reply | None:
    mode, _, arg = fault.mode.partition(":")
    if mode in ("garbage", "huge", "dribble"):
        return hostile(replace(req, scenario=mode), JSON)
    if mode == "loop":
        hop = int(req.arg("hop", "0") or 0) + 1
        query = {k: v[0] for k, v in req.query.items() if k != "hop"}
        return Reply(status=302, headers={"Location": f"{req.base}{req.path}?{urlencode({**query, 'hop': hop})}"})
    if mode == "redirect":
        target = arg.replace("_", ":")
        return Reply(status=302, headers={"Location": f"http://{target}/faulty/{req.scenario}/geheim"})
    if mode == "retry-after":
        if hit(f"faulty:{req.scenario}:{req.path}?{sorted(req.query.items())}") == 0:
            return Reply(status=429, headers={"Retry-After": arg}, body=b"{}")
        return None
    if mode == "slow":
        time.sleep(float(arg))
        return None
    return None


@platform("faulty")
def faulty(req: Request) -> Reply:
    if req.path == "/_fault":
        return _switch(req)
    if req.path == "/geheim":
        return Reply(body=b"<html><body><p>BM Verkruisen geheim</p></body></html>", content_type="text/html")
    with _LOCK:
        fault = _FAULTS.get(req.scenario) or _Fault()
    page = 1 if req.arg("max_id") is None else 2
    if fault.mode != "ok" and page >= fault.from_page:
        reply = _fault_reply(req, fault)
        if reply is not None:
            return reply
    return mastodon(replace(req, scenario=f"n{fault.total}"))
