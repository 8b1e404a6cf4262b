"""One crawl of one source, in its own process: `python -m crawlers.run SOURCE`.

Twisted's reactor cannot be restarted inside a long-lived process, so the scheduler and the
CLI start this module as a subprocess for every crawl (DESIGN.md, flow step 1).
Exit codes: 0 crawled cleanly, 1 crawled with errors (see `schoolwacht sources`), 2 bad
config or unknown source, 3 the database could not be reached (a restart): the outcome is not
recorded and the cursor stays, so the next crawl fetches the same posts again.
"""

from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import dataclass

from scrapy.crawler import CrawlerProcess
from sqlalchemy.exc import SQLAlchemyError

from crawlers.settings import scrapy_settings
from crawlers.spiders import spider_for
from schoolwacht.errors import SchoolwachtError
from store.config import Settings, load_settings
from store.db import make_engine, session_scope
from store.sources import get_source, record_crawl, sync_config
from store.types import utcnow


@dataclass(frozen=True)
class CrawlOutcome:
    source: str
    new_posts: int
    error: str | None


def crawl_source(settings: Settings, name: str) -> CrawlOutcome:
    """Crawl one configured source now, in this process (which it may do only once)."""
    configured = settings.source(name)
    if configured.kind == "manual":
        raise SchoolwachtError(f"source {name!r} is manual: it is filled by reports, not crawled")
    engine = make_engine(settings.database.url)
    with session_scope(engine) as session:
        sync_config(session, settings=settings)
        row = get_source(session, name=name)
        source_id, school_id, state = row.id, row.school_id, dict(row.state)
    started_at = utcnow()
    process = CrawlerProcess(scrapy_settings(settings, configured), install_root_handler=True)
    crawler = process.create_crawler(spider_for(configured.kind))
    process.crawl(crawler, source=configured, source_id=source_id, school_id=school_id,
                  school=settings.school(configured.school), state=state, settings_obj=settings)
    process.start()

    spider = crawler.spider
    reason = crawler.stats.get_value("finish_reason") if crawler.stats else None
    errors: list[str] = list(getattr(spider, "errors", ["crawl kon niet starten"]))
    state_updates = dict(getattr(spider, "state_updates", {}))
    if reason not in (None, "finished"):
        errors.append(f"crawl gestopt: {reason}")
        state_updates = {}
    error = None
    if errors:
        error = errors[0] + (f" (+{len(errors) - 1} andere fouten)" if len(errors) > 1 else "")
    new_posts = int(getattr(spider, "new_posts", 0))
    with session_scope(engine) as session:
        record_crawl(session, source_id=source_id, started_at=started_at,
                     state_updates=state_updates, error=error, new_posts=new_posts)
    engine.dispose()
    return CrawlOutcome(source=name, new_posts=new_posts, error=error)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m crawlers.run")
    parser.add_argument("source")
    parser.add_argument("--config", default=None)
    args = parser.parse_args(argv)
    try:
        settings = load_settings(args.config)
        outcome = crawl_source(settings, args.source)
    except SchoolwachtError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except SQLAlchemyError as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
        print(f"error: database niet bereikbaar: {first}", file=sys.stderr)
        return 3
    logging.getLogger(__name__).info("%s: %d new posts", outcome.source, outcome.new_posts)
    print(f"{outcome.source}: {outcome.new_posts} new posts"
          + (f"; error: {outcome.error}" if outcome.error else ""))
    return 1 if outcome.error else 0


if __name__ == "__main__":
    sys.exit(main())
