"""Evaluation figures: per-category P/R/F1, macro-F1, sentiment accuracy, severity matrix."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from classifier.labels import CATEGORIES, SENTIMENTS, SEVERITIES, severity_for


def _prf(tp: int, fp: int, fn: int) -> dict[str, float]:
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4),
            "support": tp + fn}


def evaluate(gold_sentiments: Sequence[str], gold_categories: Sequence[Sequence[str]],
             pred_sentiments: Sequence[str], pred_categories: Sequence[Sequence[str]]
             ) -> dict[str, Any]:
    per_category = {}
    for category in CATEGORIES:
        tp = fp = fn = 0
        for gold, pred in zip(gold_categories, pred_categories, strict=True):
            g, p = category in gold, category in pred
            tp += g and p
            fp += p and not g
            fn += g and not p
        per_category[category] = _prf(tp, fp, fn)
    macro = sum(m["f1"] for m in per_category.values()) / len(CATEGORIES)
    correct = sum(g == p for g, p in zip(gold_sentiments, pred_sentiments, strict=True))
    matrix = {g: dict.fromkeys(SEVERITIES, 0) for g in SEVERITIES}
    for gs, gc, ps, pc in zip(gold_sentiments, gold_categories, pred_sentiments,
                              pred_categories, strict=True):
        matrix[severity_for(gs, gc)][severity_for(ps, pc)] += 1
    sentiment_confusion = {g: dict.fromkeys(SENTIMENTS, 0) for g in SENTIMENTS}
    for g, p in zip(gold_sentiments, pred_sentiments, strict=True):
        sentiment_confusion[g][p] += 1
    return {
        "examples": len(gold_sentiments),
        "categories": per_category,
        "macro_f1": round(macro, 4),
        "min_category_f1": min(m["f1"] for m in per_category.values()),
        "sentiment_accuracy": round(correct / len(gold_sentiments), 4) if gold_sentiments else 0.0,
        "sentiment_confusion": sentiment_confusion,
        "severity_confusion": matrix,
    }
