"""Each stored post's raw capture is the page it was read from, across store batches."""

from __future__ import annotations

import json

from scrapy.crawler import Crawler
from sqlalchemy import select

from crawlers.items import PostItem, RawCapture
from crawlers.pipelines import StorePipeline
from crawlers.settings import scrapy_settings
from crawlers.spiders.mastodon import MastodonSpider
from store.files import read_verified
from store.models import Capture, Post
from store.sources import get_source
from tests.helpers.fixtures import Env


def test_a_batch_boundary_never_reuses_the_previous_page_capture(env: Env) -> None:
    """The store pipeline itself, page after page, each page exactly one batch of posts.

    The pipeline hashes and writes a page once for all its posts. Keyed on id(), that cache
    gave posts the previous page's file whenever a flushed page was freed and the next page's
    bytes were allocated at its address: in `bench/ingest.py`'s 20,000-status crawl, up to
    one post in seven. Small bodies of one size come from CPython's pooled allocator, which hands the
    freed block to the next object of that size, so here the reuse happens every time.
    """
    settings = env.write([{"name": "m", "kind": "mastodon", "base_url": "http://127.0.0.1:9/x",
                           "hashtags": ["verkruisen"]}])
    source = settings.source("m")
    crawler = Crawler(MastodonSpider, scrapy_settings(settings, source))
    with env.session() as session:
        row = get_source(session, name="m")
        source_id, school_id = row.id, row.school_id
    assert source_id is not None
    spider = MastodonSpider.from_crawler(crawler, source=source, source_id=source_id,
                                         school_id=school_id, school=settings.school(source.school),
                                         state={}, settings_obj=settings)
    crawler.spider = spider
    pipeline = StorePipeline.from_crawler(crawler)
    pipeline.open_spider()
    for page in range(8):
        items = [
            PostItem(platform="mastodon", external_id=f"page{page}-post{n}",
                     text=f"BM Verkruisen {page} {n}", content_sha256="0" * 64,
                     capture=capture)
            for capture in [RawCapture(body=b'{"page": "%04d", "pad": "%s"}' % (page, b"x" * 300),
                                       url=f"http://127.0.0.1:9/page/{page}",
                                       media_type="application/json")]
            for n in range(pipeline.batch_size)
        ]
        for item in items:
            pipeline.process_item(item)  # the last one flushes the batch
        assert not pipeline.pending
        del items, item  # the page is now unreferenced, as in a crawl once its posts are stored
    pipeline.close_spider()
    with env.session() as session:
        rows = session.execute(
            select(Post.external_id, Capture.path, Capture.sha256)
            .join(Capture, Capture.post_id == Post.id)
        ).all()
    assert len(rows) == 8 * pipeline.batch_size
    for external_id, path, sha256 in rows:
        page = int(json.loads(read_verified(settings.storage.dir, path, sha256))["page"])
        assert external_id.startswith(f"page{page}-"), f"{external_id} got page {page}'s capture"
