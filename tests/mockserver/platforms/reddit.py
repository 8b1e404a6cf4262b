"""Reddit's anonymous Atom listing `/r/{sub}/new/.rss` (the format www.reddit.com serves).

Entries: `<id>t3_…</id>`, `<author><name>/u/…</name><uri>…</uri></author>`, the permalink as
`<link href>`, `<content type="html">` holding the self text in `<div class="md">` followed
by Reddit's "submitted by … [link] [comments]" footer (link posts carry a thumbnail table
instead). Scenarios: `normal`, `growing-<id>` (a new post on top from the second fetch
on), `malformed`, and the shared hostile ones. Unknown subreddits answer 404.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html import escape

from tests.mockserver.server import Reply, Request, hit, hostile, platform

START = datetime(2026, 9, 1, 8, 0, tzinfo=UTC)
ATOM = "application/atom+xml; charset=UTF-8"

# (id, author, title, self text HTML or None for a link post, outbound link, minutes)
POSTS = {
    "groningen": [
        ("1f0k2a1", "ouder_uit_muntendam", "Ervaringen met BM Verkruisen?",
         "<p>Wij overwegen onze zoon in te schrijven. Hoe is de school?</p>", None, 0),
        ("1f0k2a2", "veendammer", "Nieuwe rotonde in Veendam", None,
         "https://www.rtvnoord.nl/nieuws/1002/rotonde", 5),
        ("1f0k2a3", "bezorgde_mama", "Vraagje over basisscholen in de Oldambt",
         "<p>De juf van groep 3 op Verkruisen reageert nooit op mail.</p>"
         "<blockquote><p>Bellen helpt ook niet.</p></blockquote>", None, 10),
        ("1f0k2a4", "nieuwsjager", "BM Verkruisen in het nieuws", None,
         "https://dvhn.nl/groningen/kerstmarkt-op-obs-bm-verkruisen-28431.html", 15),
    ],
    "veendam": [
        ("1f0m7b1", "fietser", "Wie weet waarom de fusieschool Muntendam dicht is?",
         "<p>Staan hier met de kinderen voor een dichte deur &#39;s ochtends.</p>", None, 20),
        ("1f0m7b2", "fietser", "Gevonden: blauwe fiets", "<p>Bij het station.</p>", None, 25),
    ],
}
NEWER = ("1f0k2a9", "ouder_uit_muntendam", "Update over BM Verkruisen",
         "<p>Het gesprek met de directeur was goed.</p>", None, 24 * 60)


def _iso(minutes: int) -> str:
    return (START + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def entry(sub: str, post: tuple) -> str:
    post_id, author, title, selftext, outbound, minutes = post
    permalink = f"https://www.reddit.com/r/{sub}/comments/{post_id}/{title.lower()[:20].replace(' ', '_')}/"
    user = f"https://www.reddit.com/user/{author}"
    footer = (f' &#32; submitted by &#32; <a href="{user}"> /u/{author} </a> <br/> '
              f'<span><a href="{outbound or permalink}">[link]</a></span> &#32; '
              f'<span><a href="{permalink}">[comments]</a></span>')
    if selftext is not None:
        html = f'<!-- SC_OFF --><div class="md">{selftext}</div><!-- SC_ON -->{footer}'
    else:
        html = (f'<table> <tr><td> <a href="{permalink}"> <img src="https://b.thumbs.redditmedia.com/x.jpg"'
                f' alt="{escape(title)}" title="{escape(title)}" /> </a> </td><td>{footer} </td></tr></table>')
    return (
        f"<entry><author><name>/u/{author}</name><uri>{user}</uri></author>"
        f'<category term="{sub}" label="r/{sub}"/>'
        f'<content type="html">{escape(html)}</content>'
        f"<id>t3_{post_id}</id>"
        f'<link href="{permalink}" />'
        f"<updated>{_iso(minutes)}</updated><published>{_iso(minutes)}</published>"
        f"<title>{escape(title)}</title></entry>"
    )


def listing(req: Request, sub: str, posts: list[tuple]) -> str:
    newest_first = sorted(posts, key=lambda p: p[5], reverse=True)
    return (
        '<?xml version="1.0" encoding="UTF-8"?><feed xmlns="http://www.w3.org/2005/Atom" '
        'xmlns:media="http://search.yahoo.com/mrss/">'
        f'<category term="{sub}" label="r/{sub}"/><updated>{_iso(60)}</updated>'
        '<icon>https://www.redditstatic.com/icon.png/</icon>'
        f"<id>/r/{sub}/new/.rss?limit=100</id>"
        f'<link rel="self" href="https://www.reddit.com/r/{sub}/new/.rss?limit=100" '
        'type="application/atom+xml" />'
        f'<link rel="alternate" href="https://www.reddit.com/r/{sub}/new/" type="text/html" />'
        f"<title>newest submissions : {sub}</title>"
        + "".join(entry(sub, p) for p in newest_first) + "</feed>"
    )


@platform("reddit")
def reddit(req: Request) -> Reply:
    s = req.scenario
    if s == "malformed":
        # Cut off mid-document, before the first entry.
        return Reply(body=b'<?xml version="1.0" encoding="UTF-8"?><feed xmlns="http://www.w3.org/'
                          b'2005/Atom"><category term="groningen" label="r/groningen"/><upd',
                     content_type=ATOM)
    reply = hostile(req, ATOM)
    if reply is not None:
        return reply
    match = re.fullmatch(r"/r/([A-Za-z0-9_]+)/new/\.rss", req.path)
    if match is None or match.group(1).lower() not in POSTS:
        return Reply(status=404, body=b"<html><body>page not found</body></html>",
                     content_type="text/html; charset=UTF-8")
    sub = match.group(1).lower()
    posts = list(POSTS[sub])
    if s.startswith("growing") and sub == "groningen" and hit(f"{s}{req.path}") > 0:
        posts.append(NEWER)
    return Reply(body=listing(req, sub, posts).encode(), content_type=ATOM)
