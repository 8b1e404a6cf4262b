"""RSS 2.0 and Atom feeds: a regional news site, a blog and a Google Alerts feed.

Paths: `/rss/index.xml` (RSS 2.0, like RTV Noord), `/blog/atom.xml` (Atom 1.0) and
`/alerts/feeds/<user>/<alert>` (Google Alerts: Atom, links wrapped in google.com/url,
`<b>` highlights in title and content). Scenarios: `normal`, `updated` (the same feeds a
day later: new entries on top, plus one backdated entry), `growing-<id>` (`normal` on the
first fetch of each feed, `updated` after that), `bozo` (an undefined entity;
entries still recoverable), `malformed` (a PHP error page where the feed should be),
`badutf8feed` (an invalid byte in a UTF-8 feed), `latin1` (an ISO-8859-1 feed), and the
shared hostile scenarios.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from html import escape
from urllib.parse import quote
from zoneinfo import ZoneInfo

from tests.mockserver.server import Reply, Request, hit, hostile, platform

AMS = ZoneInfo("Europe/Amsterdam")
START = datetime(2026, 9, 1, 8, 0, tzinfo=UTC)
RSS_TYPE = "application/rss+xml; charset=utf-8"
ATOM_TYPE = "application/atom+xml; charset=utf-8"
ALERTS_TYPE = "text/xml; charset=utf-8"  # what google.com/alerts/feeds serves

# (guid or None, guid is permalink, title, description HTML, minutes after START, author)
NEWS = [
    ("https://www.rtvnoord.nl/nieuws/1001/kerstmarkt", True,
     "Kerstmarkt op obs BM Verkruisen trekt honderden bezoekers",
     "<p>De leerlingen van <b>obs BM Verkruisen</b> verkochten zelfgemaakte kerststukjes.</p>",
     0, "redactie@rtvnoord.nl (Redactie RTV Noord)"),
    ("https://www.rtvnoord.nl/nieuws/1002/rotonde", True,
     "Nieuwe rotonde in Veendam geopend",
     "<p>Na maanden werk is de rotonde bij de Beneden Verlaat klaar.</p>", 5, None),
    ("https://www.rtvnoord.nl/nieuws/1003/schoolplein", True,
     "Ouders boos over onveilig schoolplein",
     "<p>Volgens ouders van de fusieschool Muntendam is het plein al weken onveilig.</p>",
     10, None),
    ("48213", False, "Verkruisen viert jubileum",
     "<p>Oud-leerlingen halen herinneringen op.</p>", 15, None),
    (None, False, "Verkruisen zoekt overblijfouders",
     "<p>Aanmelden kan bij de administratie.</p>", 20, None),
]
NEWS_UPDATED = [
    ("https://www.rtvnoord.nl/nieuws/1006/verkeer", True,
     "Verkeersouders bij BM Verkruisen slaan alarm",
     "<p>Er wordt te hard gereden in de Kerkstraat.</p>", 24 * 60, None),
    # Dated before everything seen so far: an incremental crawl skips it.
    ("https://www.rtvnoord.nl/nieuws/0999/archief", True,
     "Archief: BM Verkruisen in 1985", "<p>Een terugblik.</p>", -60, None),
]
BLOG = [
    ("tag:ouderblog.nl,2026:post-17", "Mijn ervaring met BM Verkruisen", "Anouk de Vries",
     "<p>Onze dochter zit sinds dit jaar op <em>BM Verkruisen</em> en we zijn erg tevreden.</p>",
     30),
    ("tag:ouderblog.nl,2026:post-18", "Recept: appeltaart", "Anouk de Vries",
     "<p>Neem zes appels en een kilo geduld.</p>", 40),
]
# (alert id, title HTML, real URL, content HTML, minutes after START)
ALERTS = [
    ("10526432952391935491",
     "Kerstmarkt op obs <b>BM Verkruisen</b> - Dagblad van het Noorden",
     "https://dvhn.nl/groningen/kerstmarkt-op-obs-bm-verkruisen-28431.html",
     "Muntendam De kerstmarkt van obs <b>BM Verkruisen</b> trok zaterdag&nbsp;...", 50),
    ("10526432952391935492",
     "<b>Verkruisen</b> Transport BV neemt nieuwe vrachtwagens in gebruik",
     "https://www.transportonline.nl/verkruisen-transport-nieuwe-trucks",
     "Het Muntendammer transportbedrijf <b>Verkruisen</b> Transport&nbsp;...", 55),
    ("10526432952391935493",
     "Ophef over lerares <b>Verkruisen</b> op Facebook",
     "https://www.oogtv.nl/2026/09/ophef-lerares-verkruisen/?utm_source=alerts&x=1",
     "Op Facebook wordt een lerares van <b>Verkruisen</b> zwartgemaakt&nbsp;...", 58),
]
ALERTS_UPDATED = [
    ("10526432952391935494",
     "Nieuwe directeur voor <b>fusieschool Muntendam</b>",
     "https://www.rtvnoord.nl/nieuws/1007/directeur",
     "De <b>fusieschool Muntendam</b> krijgt per januari een nieuwe directeur&nbsp;...",
     24 * 60 + 30),
]


def _rfc822(minutes: int) -> str:
    # Dutch feeds give local time with an offset; the spider must store UTC.
    return format_datetime((START + timedelta(minutes=minutes)).astimezone(AMS))


def _iso(minutes: int) -> str:
    return (START + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")


def news_feed(req: Request, *, updated: bool = False, extra_title: str = "") -> str:
    items = []
    entries = (NEWS_UPDATED + NEWS) if updated else NEWS
    for guid, permalink, title, description, minutes, author in entries:
        link = guid if permalink else f"https://www.rtvnoord.nl/nieuws/{2000 + minutes}"
        guid_xml = (f'<guid isPermaLink="{str(permalink).lower()}">{escape(guid)}</guid>'
                    if guid else "")
        author_xml = f"<author>{escape(author)}</author>" if author else ""
        items.append(
            f"<item><title>{escape(title)}{extra_title}</title><link>{escape(link)}</link>"
            f"<description><![CDATA[{description}]]></description>{author_xml}"
            f"<pubDate>{_rfc822(minutes)}</pubDate>{guid_xml}"
            f"<category>Regio</category></item>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom">\n<channel>\n'
        "<title>RTV Noord</title><link>https://www.rtvnoord.nl</link>"
        "<description>Nieuws uit Groningen</description><language>nl</language>"
        f'<atom:link href="{escape(req.base + req.path)}" rel="self" type="application/rss+xml"/>'
        f"<lastBuildDate>{_rfc822(60)}</lastBuildDate>\n" + "\n".join(items)
        + "\n</channel>\n</rss>\n"
    )


def blog_feed(req: Request) -> str:
    entries = []
    for entry_id, title, author, content, minutes in BLOG:
        entries.append(
            f"<entry><id>{entry_id}</id><title type=\"text\">{escape(title)}</title>"
            f'<link rel="alternate" type="text/html" href="https://ouderblog.nl/{entry_id[-7:]}"/>'
            f"<author><name>{escape(author)}</name><uri>https://ouderblog.nl/</uri></author>"
            f"<published>{_iso(minutes)}</published><updated>{_iso(minutes + 90)}</updated>"
            f"<summary type=\"text\">{escape(title)}</summary>"
            f'<content type="html">{escape(content)}</content></entry>'
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="nl">'
        "<title>Ouderblog Muntendam</title><id>tag:ouderblog.nl,2026:feed</id>"
        f'<link rel="self" href="{escape(req.base + req.path)}"/>'
        f"<updated>{_iso(130)}</updated>" + "".join(entries) + "</feed>\n"
    )


def alerts_feed(req: Request, *, updated: bool = False) -> str:
    user_alert = req.path.removeprefix("/alerts/feeds/")
    entries = []
    for alert_id, title, real, content, minutes in (ALERTS_UPDATED + ALERTS) if updated else ALERTS:
        wrapped = (f"https://www.google.com/url?rct=j&sa=t&url={quote(real, safe=':/')}"
                   "&ct=ga&cd=CAIyHDk4ZjYxMzRjNTNmYzQ2Mzc6bmw6bmw6Tkw&usg=AOvVaw3k9x1")
        entries.append(
            f"<entry><id>tag:google.com,2013:googlealerts/feed:{alert_id}</id>"
            f'<title type="html">{escape(title)}</title>'
            f'<link href="{escape(wrapped)}"></link>'
            f"<published>{_iso(minutes)}</published><updated>{_iso(minutes)}</updated>"
            f'<content type="html">{escape(content)}</content>'
            "<author><name></name></author></entry>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<feed xmlns="http://www.w3.org/2005/Atom" xmlns:idx="urn:atom-extension:indexing">'
        f"<id>tag:google.com,2005:reader/user/{user_alert.replace('/', '/state/com.google/alerts/')}</id>"
        '<title>Google Alert - Verkruisen</title>'
        f'<link href="https://www.google.com/alerts/feeds/{user_alert}" rel="self"></link>'
        f"<updated>{_iso(60)}</updated>" + "".join(entries) + "</feed>"
    )


MALFORMED = (b'<?xml version="1.0" encoding="UTF-8"?>\n<br />\n<b>Fatal error</b>:  Uncaught '
             b"PDOException: SQLSTATE[HY000] [2002] Connection refused in "
             b"/var/www/html/feed.php:12\n<<< Stack trace: #0 {main} >>>\n")


@platform("rss")
def rss(req: Request) -> Reply:
    s = req.scenario
    if s == "malformed":
        return Reply(body=MALFORMED, content_type=RSS_TYPE)
    if s == "badutf8feed":
        body = news_feed(req).encode().replace(b"trekt honderden", b"trekt \xff honderden")
        return Reply(body=body, content_type=RSS_TYPE)
    if s == "latin1":
        text = news_feed(req).replace('encoding="UTF-8"', 'encoding="ISO-8859-1"')
        text = text.replace("Kerstmarkt op", "Café-avond en kerstmarkt op")
        return Reply(body=text.encode("latin-1"), content_type="application/rss+xml")
    reply = hostile(req, RSS_TYPE)
    if reply is not None:
        return reply
    updated = s == "updated" or (s.startswith("growing") and hit(f"{s}{req.path}") > 0)
    if req.path == "/rss/index.xml":
        extra = " &nbsp;" if s == "bozo" else ""  # undefined in XML: feedparser's bozo
        return Reply(body=news_feed(req, updated=updated, extra_title=extra).encode(),
                     content_type=RSS_TYPE)
    if req.path == "/blog/atom.xml":
        return Reply(body=blog_feed(req).encode(), content_type=ATOM_TYPE)
    if req.path.startswith("/alerts/feeds/"):
        return Reply(body=alerts_feed(req, updated=updated).encode(), content_type=ALERTS_TYPE)
    return Reply(status=404, body=b"<html><body>Niet gevonden</body></html>",
                 content_type="text/html")
