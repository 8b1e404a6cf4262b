"""Classifying posts: model scores + rule evidence -> sentiment, categories, spans, severity.

The production path is batched and length-bucketed (posts of similar feature counts share a
batch, so little padding is computed), runs under `torch.inference_mode`, and tokenises with
the tokenizer's fast path. Rules always scan the whole text; the model sees at most
`MODEL_CHARS` characters (the start and the end of a very long post).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from classifier.labels import ARTICLES, CATEGORIES, SENTIMENTS, severity_for
from classifier.language import detect_language, is_dutch
from classifier.rules import RuleHit, find_rule_hits
from classifier.rules_counter import counter_speech, denial

BUILTIN_DIR = Path(__file__).parent / "models" / "builtin"
MODEL_CHARS = 4000
MAX_FEATURES = 2048
# Model attributions: words whose removal lowers a category's score at least this much.
ATTRIBUTION_DROP = 0.05
ATTRIBUTION_WORDS = 60
_TOKEN = re.compile(r"\S+")
# A flagged category makes the stance negative only when its score is at least this: the threat
# threshold is set very low for recall, and a 5 % threat flag says nothing about the author's stance.
NEGATIVE_STANCE_MIN = 0.5
# The model's discrimination score in counter-speech (rules_counter.py) is at most this.
COUNTER_CAP = 0.1
_DISCRIMINATION = CATEGORIES.index("discrimination")


@dataclass(frozen=True, slots=True)
class Span:
    start: int
    end: int
    text: str
    source: str  # "rule" or "model"
    rule: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"start": self.start, "end": self.end, "text": self.text, "source": self.source,
                "rule": self.rule}


@dataclass
class ClassificationResult:
    sentiment: str
    sentiment_score: float
    scores: dict[str, float]
    categories: list[str]
    explanations: dict[str, list[Span]]
    severity: str
    language: str
    model: str
    version: str
    articles: dict[str, str] = field(default_factory=dict)

    def explanations_json(self) -> dict[str, list[dict[str, Any]]]:
        return {c: [s.as_dict() for s in spans] for c, spans in self.explanations.items()}


def model_text(text: str) -> str:
    """What the model reads of a long post: its start and its end."""
    if len(text) <= MODEL_CHARS:
        return text
    return text[: MODEL_CHARS * 3 // 4] + " … " + text[-MODEL_CHARS // 4:]


def combine(model_scores: np.ndarray, hits: Sequence[RuleHit]) -> np.ndarray:
    """A category's score: the model's probability, raised to the strongest rule's strength."""
    scores = model_scores.copy()
    for hit in hits:
        index = CATEGORIES.index(hit.category)
        scores[index] = max(scores[index], hit.strength)
    return scores


def occlusion_spans(text: str, category: str, base: float,
                    category_scores: Callable[[list[str]], np.ndarray]) -> list[Span]:
    """The model's explanation: the (at most 3) words whose removal lowers the category's score
    most. `category_scores` gives the model's category probabilities [n, 7] for texts."""
    tokens = [m for m in _TOKEN.finditer(text[:MODEL_CHARS])][:ATTRIBUTION_WORDS]
    if not tokens:
        return []
    variants = [text[: m.start()] + text[m.end():] for m in tokens]
    scores = category_scores(variants)
    index = CATEGORIES.index(category)
    drops = [(base - float(scores[i, index]), m) for i, m in enumerate(tokens)]
    best = sorted((d for d in drops if d[0] >= ATTRIBUTION_DROP), key=lambda d: -d[0])[:3]
    return sorted((Span(m.start(), m.end(), m.group(0), "model") for _, m in best), key=lambda s: s.start)


# Categories a post can quote without committing them.
REPORTABLE = ("insult", "discrimination", "threat")
# Single quotes only where they open and close words: Dutch "'s ochtends", "zo'n" are no quotes.
_QUOTED = re.compile(
    r"(?<![\w])'(?![snt]\s)[^'\n]{3,300}?'(?![\w])"
    r'|"[^"\n]{3,300}"|“[^”\n]{3,300}”|‘[^’\n]{3,300}’|„[^”“\n]{3,300}[”“]'
)


def quoted_ranges(text: str) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for m in _QUOTED.finditer(text)]


def _inside(span: Span, ranges: list[tuple[int, int]]) -> bool:
    return any(start <= span.start and span.end <= end for start, end in ranges)


def stance_negative(categories: Sequence[str], scores: np.ndarray) -> bool:
    """Whether the flagged categories make the post's sentiment negative whatever the sentiment
    head says: a category other than confidential, flagged with a score of at least 0.5."""
    return any(c != "confidential" and scores[CATEGORIES.index(c)] >= NEGATIVE_STANCE_MIN for c in categories)


class BuiltinClassifier:
    """The shipped model (or any model trained by `schoolwacht model train`)."""

    def __init__(self, path: Path = BUILTIN_DIR, *, batch_size: int = 64) -> None:
        from transformers import AutoModelForSequenceClassification, AutoTokenizer
        from transformers.utils import logging as hf_logging

        import classifier.model  # noqa: F401  (registers the architecture with transformers)

        # No progress bars or chatter in CLI output and service logs.
        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()
        self.path = path
        self.batch_size = batch_size
        self.tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        self.model = AutoModelForSequenceClassification.from_pretrained(
            path, local_files_only=True, dtype=torch.float32)
        self.model.eval()
        meta = json.loads((path / "thresholds.json").read_text(encoding="utf-8"))
        self.thresholds: dict[str, float] = meta["thresholds"]
        self.sentiment_bias: dict[str, float] = meta.get("sentiment_bias", {})
        self.name = meta.get("name", "schoolwacht-builtin")
        self.version = meta.get("version", "0")

    # -- model scores -------------------------------------------------------------------
    @torch.inference_mode()
    def model_scores(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Sentiment probabilities [n, 3] and category probabilities [n, 7]."""
        ids = [self.tokenizer.encode_fast(model_text(t), MAX_FEATURES) for t in texts]
        sentiments = np.zeros((len(ids), len(SENTIMENTS)), dtype=np.float32)
        categories = np.zeros((len(ids), len(CATEGORIES)), dtype=np.float32)
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        for start in range(0, len(order), self.batch_size):
            chunk = order[start:start + self.batch_size]
            width = max(len(ids[i]) for i in chunk)
            # Rows copied into one numpy array: a tensor per row (or torch.tensor on nested
            # lists) cost more than the model itself.
            padded = np.zeros((len(chunk), width), dtype=np.int64)
            for row, i in enumerate(chunk):
                padded[row, : len(ids[i])] = ids[i]
            input_ids = torch.from_numpy(padded)
            logits = self.model(input_ids=input_ids, attention_mask=(input_ids != 0).long()).logits
            sentiments[chunk] = torch.softmax(logits[:, :3], -1).numpy()
            categories[chunk] = torch.sigmoid(logits[:, 3:]).numpy()
        return sentiments, categories

    def scores_with_rules(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray, list[list[RuleHit]]]:
        sentiments, categories = self.model_scores(texts)
        hits = [find_rule_hits(t) for t in texts]
        for i, text in enumerate(texts):
            if counter_speech(text):
                # Counter-speech or a denied group claim: the model's group-hate score only echoes
                # the words; a discrimination rule (guarded against these forms) can still fire.
                categories[i, _DISCRIMINATION] = min(categories[i, _DISCRIMINATION], COUNTER_CAP)
        combined = np.stack([combine(categories[i], hits[i]) for i in range(len(texts))]) \
            if texts else categories
        return sentiments, combined, hits

    # -- explanations -------------------------------------------------------------------
    def _attributions(self, text: str, category: str, base: float,
                      memo: dict[tuple[str, ...], np.ndarray]) -> list[Span]:
        """Occlusion spans; `memo` keeps the variants' scores for the post's next category
        (every category of a post occludes the same variants)."""
        def category_scores(variants: list[str]) -> np.ndarray:
            key = tuple(variants)
            if key not in memo:
                memo[key] = self.model_scores(variants)[1]
            return memo[key]

        return occlusion_spans(text, category, base, category_scores)

    # -- public -------------------------------------------------------------------------
    def classify(self, texts: Sequence[str]) -> list[ClassificationResult]:
        texts = list(texts)
        if not texts:
            return []
        sentiments, combined, hits = self.scores_with_rules(texts)
        results = []
        for i, text in enumerate(texts):
            results.append(self._result(text, sentiments[i], combined[i], hits[i]))
        return results

    def _result(self, text: str, sentiment_probs: np.ndarray, scores: np.ndarray,
                hits: list[RuleHit]) -> ClassificationResult:
        language = detect_language(text)
        bias = np.array([self.sentiment_bias.get(s, 0.0) for s in SENTIMENTS])
        sentiment_index = int((np.log(sentiment_probs + 1e-9) + bias).argmax())
        sentiment = SENTIMENTS[sentiment_index]
        all_scores = {f"sentiment:{s}": round(float(p), 4) for s, p in zip(SENTIMENTS, sentiment_probs, strict=True)}
        all_scores.update({c: round(float(s), 4) for c, s in zip(CATEGORIES, scores, strict=True)})
        categories: list[str] = []
        explanations: dict[str, list[Span]] = {}
        occluded: dict[tuple[str, ...], np.ndarray] = {}
        if not text.strip():
            sentiment = "neutral"
        elif not is_dutch(language):
            sentiment = "neutral"  # the model reads Dutch only: no guessing in other languages
        else:
            categories = [c for c, s in zip(CATEGORIES, scores, strict=True) if s >= self.thresholds[c]]
            quotes = quoted_ranges(text)
            for category in list(categories):
                spans = [Span(h.start, h.end, h.text, "rule", h.rule) for h in hits if h.category == category]
                if not spans:
                    spans = self._attributions(text, category, float(scores[CATEGORIES.index(category)]),
                                               occluded)
                if category in REPORTABLE and spans and all(_inside(s, quotes) for s in spans):
                    # Everything that carries the category is inside quotation marks: the post
                    # reports or condemns someone else's words ("iemand noemde juf X een 'trut'").
                    categories.remove(category)
                    continue
                explanations[category] = spans
            if not categories and sentiment == "negative" and denial(text):
                # "Polen zijn geen tuig", "ik heb niks tegen moslims": the negative words are the
                # ones denied. The better of neutral and positive.
                sentiment_index = int((np.log(sentiment_probs + 1e-9) + bias)[1:].argmax()) + 1
                sentiment = SENTIMENTS[sentiment_index]
            if stance_negative(categories, scores) and sentiment != "negative":
                # Insulting or threatening someone is never a positive stance; a leak of
                # confidential details can come with praise ("trots op Sarah na haar diagnose").
                sentiment = "negative"
        return ClassificationResult(
            sentiment=sentiment, sentiment_score=round(float(sentiment_probs[sentiment_index]), 4),
            scores=all_scores, categories=categories, explanations=explanations,
            severity=severity_for(sentiment, categories), language=language, model=self.name,
            version=self.version, articles={c: ARTICLES[c] for c in categories})


__all__ = ["BUILTIN_DIR", "BuiltinClassifier", "ClassificationResult", "Span", "combine", "model_text",
           "occlusion_spans"]
