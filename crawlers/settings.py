"""Scrapy settings for one crawl, derived from the one settings object."""

from __future__ import annotations

from typing import Any

from store.config import Settings, SourceSettings

MIDDLEWARE_PATH = "crawlers.middlewares"


def scrapy_settings(settings: Settings, source: SourceSettings) -> dict[str, Any]:
    crawl = settings.crawl
    return {
        "BOT_NAME": "schoolwacht",
        "USER_AGENT": crawl.user_agent,
        # Only the web kind fetches pages a site owner may have excluded; APIs are not robots'
        # business (their terms and rate limits are honoured instead).
        "ROBOTSTXT_OBEY": source.kind == "web",
        "COOKIES_ENABLED": False,
        "TELNETCONSOLE_ENABLED": False,
        # A development-time lint that re-parses the callback's source for every response
        # (bound methods defeat its cache): ~2 ms a page, a tenth of a crawl's CPU.
        "WARN_ON_GENERATOR_RETURN_VALUE": False,
        "LOG_LEVEL": "INFO",
        "LOG_FORMATTER": "crawlers.logformatter.QuietDropLogFormatter",
        "CONCURRENT_REQUESTS": 8,
        "CONCURRENT_REQUESTS_PER_DOMAIN": 2,
        "AUTOTHROTTLE_ENABLED": True,
        "AUTOTHROTTLE_START_DELAY": 0.1,
        "AUTOTHROTTLE_MAX_DELAY": 30.0,
        "AUTOTHROTTLE_TARGET_CONCURRENCY": 2.0,
        "DOWNLOAD_TIMEOUT": crawl.timeout_seconds,
        "DOWNLOAD_MAXSIZE": crawl.max_download_bytes,
        "DOWNLOAD_WARNSIZE": 0,
        # The built-in retry handles connection failures; HTTP 429/5xx go through our
        # back-off middleware, which honours Retry-After.
        "RETRY_ENABLED": True,
        "RETRY_TIMES": crawl.retries,
        "RETRY_HTTP_CODES": [],
        "REDIRECT_MAX_TIMES": 5,
        # The address guard again, on the address the download connects to (DNS rebinding).
        "TWISTED_DNS_RESOLVER": f"{MIDDLEWARE_PATH}.GuardedResolver",
        "HTTPERROR_ALLOWED_CODES": [],
        "DOWNLOADER_MIDDLEWARES": {
            f"{MIDDLEWARE_PATH}.AddressGuardMiddleware": 50,
            # Replaced by a subclass that fixes concurrent waiters (see the class).
            "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
            f"{MIDDLEWARE_PATH}.RobotsTxtMiddleware": 100,
            f"{MIDDLEWARE_PATH}.BackoffMiddleware": 560,
        },
        "ITEM_PIPELINES": {
            "crawlers.pipelines.NormalizePipeline": 100,
            "crawlers.pipelines.MatchPipeline": 200,
            "crawlers.pipelines.StorePipeline": 300,
        },
        "SCHOOLWACHT_SETTINGS": settings,
        "SCHOOLWACHT_BACKOFF_SECONDS": crawl.backoff_seconds,
        "SCHOOLWACHT_MAX_RETRY_AFTER": crawl.max_retry_after_seconds,
        "SCHOOLWACHT_MAX_PAGES": crawl.max_pages,
        "SCHOOLWACHT_STORE_BATCH": 200,
    }
