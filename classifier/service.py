"""Classification jobs over the store: pending posts, JSONL files."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from alerts.notify import queue_alerts
from classifier import Classifier, load_classifier
from store.cases import open_or_join_case
from store.classifications import add_classification, pending_posts
from store.config import Settings
from store.db import make_engine, session_scope

logger = logging.getLogger(__name__)


@dataclass
class ClassifyStats:
    classified: int = 0
    by_severity: dict[str, int] = field(default_factory=dict)
    cases_touched: set[int] = field(default_factory=set)
    alerts_queued: int = 0


def classify_pending(settings: Settings, *, classifier: Classifier | None = None,
                     limit: int | None = None) -> ClassifyStats:
    """Classify every unclassified post in batches; each batch commits with its cases."""
    classifier = classifier or load_classifier(settings.classifier.model,
                                               batch_size=settings.classifier.batch_size,
                                               allow_download=settings.classifier.allow_download)
    batch = settings.classifier.batch_size * 4
    stats = ClassifyStats()
    engine = make_engine(settings.database.url)
    try:
        while limit is None or stats.classified < limit:
            size = batch if limit is None else min(batch, limit - stats.classified)
            with session_scope(engine) as session:
                posts = pending_posts(session, limit=size)
                if not posts:
                    break
                results = classifier.classify([p.text for p in posts])
                for post, result in zip(posts, results, strict=True):
                    row = add_classification(
                        session, post_id=post.id, model=result.model, version=result.version,  # type: ignore[arg-type]
                        language=result.language, sentiment=result.sentiment,
                        sentiment_score=result.sentiment_score, scores=result.scores,
                        categories=result.categories, explanations=result.explanations_json(),
                        severity=result.severity)
                    if post.language is None:
                        post.language = result.language
                        session.add(post)
                    case = open_or_join_case(session, post=post, classification=row)
                    if case is not None:
                        stats.cases_touched.add(case.id)  # type: ignore[arg-type]
                        # Queued in the same transaction as the classification: a crash
                        # cannot leave a flagged post without its alert, or alert it twice.
                        stats.alerts_queued += queue_alerts(session, settings, post=post,
                                                            classification=row, case=case)
                    stats.by_severity[result.severity] = stats.by_severity.get(result.severity, 0) + 1
                stats.classified += len(posts)
            logger.info("classified %d posts", stats.classified)
    finally:
        engine.dispose()
    return stats


@dataclass
class JsonlErrors:
    lines: list[str] = field(default_factory=list)


def read_jsonl(handle: IO[str], errors: JsonlErrors) -> Iterator[dict[str, Any]]:
    """Objects with `id` and `text`; a bad line is reported by number and skipped."""
    for number, line in enumerate(handle, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            errors.lines.append(f"line {number}: invalid JSON ({exc.msg})")
            continue
        if not isinstance(row, dict) or not isinstance(row.get("text"), str) or "id" not in row:
            errors.lines.append(f"line {number}: needs an object with `id` and a string `text`")
            continue
        yield row


def classify_jsonl(source: IO[str], target: IO[str], classifier: Classifier, *,
                   batch_size: int = 256) -> JsonlErrors:
    errors = JsonlErrors()
    rows: list[dict[str, Any]] = []

    def flush() -> None:
        for row, result in zip(rows, classifier.classify([r["text"] for r in rows]), strict=True):
            out = {**row, "sentiment": result.sentiment, "categories": result.categories,
                   "severity": result.severity, "scores": result.scores,
                   "language": result.language, "explanations": result.explanations_json()}
            target.write(json.dumps(out, ensure_ascii=False) + "\n")
        rows.clear()

    for row in read_jsonl(source, errors):
        rows.append(row)
        if len(rows) >= batch_size:
            flush()
    if rows:
        flush()
    return errors
