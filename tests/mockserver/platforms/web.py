"""Plain web pages for the `web` kind: a forum thread among boilerplate, robots.txt.

Pages live under `/web/<scenario>/...`; robots.txt is served at the server root (where
crawlers look for it) and disallows `/web/<scenario>/private/` for every scenario.
`/web/<scenario>/_version?set=N` switches the content of `/web/<scenario>/changing`, so a
test can change a page between two crawls of the same URL.
"""

from __future__ import annotations

import threading

from tests.mockserver.server import Reply, Request, hostile, platform

HTML = "text/html; charset=utf-8"
ROBOTS_TXT = """\
User-agent: *
Disallow: /web/*/private/
"""

# Boilerplate every page shares; it names the school too, so a test can prove the
# extraction dropped it rather than the matcher never seeing it.
_COOKIE = ('<div id="cookie-banner" class="cookie-consent"><p>Wij gebruiken cookies om het '
           'forum te verbeteren. Ook op de pagina BM Verkruisen.</p>'
           '<button>Accepteren</button></div>')
_NAV = ('<nav class="menu"><ul><li><a href="/">Home</a></li><li><a href="/forum">Forum</a></li>'
        '<li><a href="/scholen/verkruisen">Schoolpagina BM Verkruisen</a></li></ul></nav>')
_FOOTER = ('<footer><p>© 2026 Ouderforum Muntendam · Partners: BM Verkruisen, de bibliotheek · '
           '<a href="/privacy">Privacy</a></p></footer>')

FORUM_POSTS = [
    "Wij twijfelen tussen twee scholen voor onze dochter. Wie heeft ervaring met de scholen hier?",
    "Onze zoon zit op BM Verkruisen en de juf van groep 3 is geweldig, echt een aanrader.",
    "Bij de andere school is het schoolplein erg klein, dat vond ik bij het kennismaken jammer.",
    "Ik hoorde dat de fusieschool Muntendam volgend jaar een nieuw gebouw krijgt, klopt dat?",
]
SCRIPT_POSTS = [
    "Iemand plakte dit: &lt;script&gt;alert(\"xss\")&lt;/script&gt; over Verkruisen.",
    "En dit &lt;img src=x onerror=\"alert(1)\"&gt; stond er ook, bij BM Verkruisen natuurlijk.",
]
CHANGING = {
    "1": "De ouderavond op BM Verkruisen is verplaatst naar donderdag, zegt de nieuwsbrief.",
    "2": "De ouderavond op BM Verkruisen gaat helemaal niet door, er is geen nieuwe datum.",
}
_VERSIONS: dict[str, str] = {}
_VERSIONS_LOCK = threading.Lock()


def page(title: str, posts: list[str], *, published: str | None = None,
         extra_body: str = "") -> bytes:
    meta = (f'<meta property="article:published_time" content="{published}">'
            if published else "")
    items = "".join(f'<div class="post"><p>{text}</p></div>' for text in posts)
    return (
        "<!DOCTYPE html><html lang=\"nl\"><head><meta charset=\"utf-8\">"
        f"<title>{title} - Ouderforum Muntendam</title>{meta}"
        '<script>var tracking = "geheim-trackingscript-verkruisen";</script></head><body>'
        f"{_COOKIE}{_NAV}<main><article><h1>{title}</h1>{items}{extra_body}</article></main>"
        f"{_FOOTER}</body></html>"
    ).encode()


@platform("_robots")
def robots(req: Request) -> Reply:
    """`/robots.txt` at the server root (routed here by the server core)."""
    return Reply(body=ROBOTS_TXT.encode(), content_type="text/plain; charset=utf-8")


@platform("web")
def web(req: Request) -> Reply:
    reply = hostile(req, HTML)
    if reply is not None:
        return reply
    if req.path == "/forum/scholen-muntendam":
        return Reply(body=page("Ervaringen met scholen in Muntendam", FORUM_POSTS,
                               published="2026-09-14T10:00:00+02:00"), content_type=HTML)
    if req.path == "/nieuws/weer":
        weather = ["Morgen wordt het zonnig in Muntendam en omgeving, met weinig wind.",
                   "In het weekend volgt regen, vooral op zondagmiddag en -avond."]
        return Reply(body=page("Het weer in Muntendam", weather), content_type=HTML)
    if req.path == "/forum/script":
        # A real script element (never text) beside posts that quote markup as text.
        script = '<script>document.title = "gehackt Verkruisen";</script>'
        return Reply(body=page("Rare reacties", SCRIPT_POSTS, extra_body=script),
                     content_type=HTML)
    if req.path.startswith("/private/"):
        return Reply(body=page("Besloten", ["Geheim over BM Verkruisen, niet voor robots."]),
                     content_type=HTML)
    if req.path == "/_version":
        with _VERSIONS_LOCK:
            _VERSIONS[req.scenario] = req.arg("set", "1") or "1"
        return Reply(body=b"ok", content_type="text/plain")
    if req.path == "/changing":
        with _VERSIONS_LOCK:
            version = _VERSIONS.get(req.scenario, "1")
        return Reply(body=page("Ouderavond", [CHANGING[version]]), content_type=HTML)
    if req.path == "/feed.json":
        return Reply.json({"posts": ["BM Verkruisen"]})
    if req.path == "/document.pdf":
        return Reply(body=b"%PDF-1.4 BM Verkruisen", content_type="application/pdf")
    return Reply(status=404, body=b"<html><body>Niet gevonden</body></html>", content_type=HTML)
