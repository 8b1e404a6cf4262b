"""Dutch classifier: sentiment, legal categories with explaining spans, severity.

Other packages use `load_classifier(...)` and the result types; the rest is private.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from classifier.labels import ARTICLES, CATEGORIES, SENTIMENTS, SEVERITIES, severity_for

if TYPE_CHECKING:
    from classifier.predict import ClassificationResult, Span


class Classifier(Protocol):
    name: str
    version: str

    def classify(self, texts: list[str]) -> list[ClassificationResult]: ...


def load_classifier(model: str = "builtin", *, batch_size: int = 64,
                    allow_download: bool = False) -> Classifier:
    """The shipped model ("builtin"), a model trained by `schoolwacht model train` (a path),
    or any transformers sequence-classification model (a path or a hub id) via an adapter."""
    from classifier.predict import BUILTIN_DIR, BuiltinClassifier

    if model == "builtin":
        return BuiltinClassifier(BUILTIN_DIR, batch_size=batch_size)
    path = Path(model)
    if (path / "thresholds.json").exists():
        return BuiltinClassifier(path, batch_size=batch_size)
    from classifier.adapters import HubClassifier

    return HubClassifier(model, batch_size=batch_size, allow_download=allow_download)


def __getattr__(name: str) -> Any:
    # The result types live beside torch-heavy code: import it only when asked for.
    if name in ("ClassificationResult", "Span"):
        from classifier import predict

        return getattr(predict, name)
    raise AttributeError(name)


__all__ = ["ARTICLES", "CATEGORIES", "SENTIMENTS", "SEVERITIES", "ClassificationResult",
           "Classifier", "Span", "load_classifier", "severity_for"]
