"""What the token-based API spiders (Bluesky, X, Facebook) share for failed requests.

Scrapy hands a non-2xx response to the errback as an `HttpError`; the platforms explain
the refusal in a JSON body (`{"error", "message"}` for Bluesky's XRPC, RFC 7807 problem
details for X, `{"error": {...}}` for the Graph API). These helpers read that body so the
operator sees the platform's reason, and keep secrets out of every message.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

from scrapy.http import Response
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

MAX_DETAIL = 300


def http_error(failure: Failure) -> tuple[Response, Any] | None:
    """The refused response and its decoded JSON body (None when not JSON), or None when
    the failure is no HTTP error at all (timeout, refused connection, ...)."""
    error = failure.value
    if not isinstance(error, HttpError):
        return None
    response: Response = error.response
    try:
        body = json.loads(response.body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        body = None
    return response, body


def text_field(data: Any, *keys: str) -> str:
    """The first non-empty string among `data[key]`, shortened; "" when none is."""
    if not isinstance(data, dict):
        return ""
    for key in keys:
        value = data.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()[:MAX_DETAIL]
    return ""


def scrub(message: str, secrets: Iterable[str | None]) -> str:
    """The message with every secret (as is, and as it reads in a URL) replaced by ***."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            for form in {secret, quote(secret, safe=""), quote(secret)}:
                message = message.replace(form, "***")
    return message


def hide_in_logs(secrets: Iterable[str | None]) -> None:
    """Scrub these secrets from every log record this (one-crawl) process creates.

    Scrapy and our back-off middleware log request URLs on retries and failures, and the
    Graph API takes its token as a URL parameter. A record factory catches every such line
    whoever logs it; a handler filter would not, as Scrapy replaces the root handler after
    the spider is created.
    """
    kept = [s for s in secrets if s and len(s) >= 4]
    if not kept:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            return record  # a broken format string: logging reports that itself
        cleaned = scrub(message, kept)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return record

    logging.setLogRecordFactory(factory)


__all__ = ["hide_in_logs", "http_error", "scrub", "text_field"]
