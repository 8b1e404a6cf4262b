"""`schoolwacht model eval`: a classifier measured on a labelled JSONL file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from classifier.dataset import load_examples
from classifier.labels import CATEGORIES, SEVERITIES
from classifier.metrics import evaluate


def evaluate_file(classifier: Any, path: Path) -> dict[str, Any]:
    examples = load_examples([path])
    results = classifier.classify([e.text for e in examples])
    report = evaluate([e.sentiment for e in examples], [e.categories for e in examples],
                      [r.sentiment for r in results], [r.categories for r in results])
    report["model"] = f"{classifier.name} {classifier.version}"
    return report


def format_report(report: dict[str, Any]) -> str:
    lines = [f"model {report['model']} on {report['examples']} examples", "",
             f"{'category':<16}{'precision':>10}{'recall':>10}{'f1':>8}{'support':>9}"]
    for category in CATEGORIES:
        m = report["categories"][category]
        lines.append(f"{category:<16}{m['precision']:>10.3f}{m['recall']:>10.3f}{m['f1']:>8.3f}"
                     f"{m['support']:>9}")
    lines += ["", f"macro-F1 {report['macro_f1']:.3f}   lowest category F1 "
              f"{report['min_category_f1']:.3f}   sentiment accuracy {report['sentiment_accuracy']:.3f}",
              "", "severity (rows: gold, columns: predicted)",
              " " * 10 + "".join(f"{s:>10}" for s in SEVERITIES)]
    for gold in SEVERITIES:
        row = report["severity_confusion"][gold]
        lines.append(f"{gold:<10}" + "".join(f"{row[p]:>10}" for p in SEVERITIES))
    return "\n".join(lines)
