"""A read-only placeholder page until the dashboard lands: the latest posts, escaped."""

from __future__ import annotations

import html
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from store.config import Settings
from store.db import make_engine, session_scope
from store.posts import iter_posts_for_listing

PAGE = """<!doctype html><html lang="nl"><head><meta charset="utf-8">
<title>Schoolwacht</title></head><body style="font-family:sans-serif;max-width:60em;margin:2em auto">
<h1>Schoolwacht</h1><p>Het dashboard volgt. Opgeslagen berichten: <b>{count}</b>
(deze pagina ververst zichzelf niet; herlaad om nieuwe berichten te zien).</p>
<table border="1" cellpadding="4" style="border-collapse:collapse">
<tr><th>Tijd (UTC)</th><th>Platform</th><th>Auteur</th><th>Bericht</th></tr>{rows}</table>
</body></html>"""


def render(settings: Settings, limit: int = 50) -> str:
    engine = make_engine(settings.database.url)
    try:
        with session_scope(engine) as session:
            posts = list(iter_posts_for_listing(session))
    finally:
        engine.dispose()
    rows = "".join(
        f"<tr><td>{html.escape(p['created_at'][:16])}</td><td>{html.escape(p['platform'])}</td>"
        f"<td>{html.escape(p['author'] or '-')}</td><td>{html.escape(p['text'])}</td></tr>"
        for p in reversed(posts[-limit:])
    )
    return PAGE.format(count=len(posts), rows=rows)


def serve_placeholder(settings: Settings) -> ThreadingHTTPServer:
    """Start the placeholder on the configured host and port, in a daemon thread."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            body = render(settings).encode("utf-8")
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer((settings.dashboard.host, settings.dashboard.port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
