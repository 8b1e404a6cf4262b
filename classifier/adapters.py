"""Any transformers sequence-classification model (a local path or a hub id) as a classifier.

A hub model has its own labels ("toxic", "Negative", "ABU", ...). A `LabelAdapter` turns its
logits into Schoolwacht's: sentiment probabilities [n, 3] and scores for the categories the
model knows (zero for the others, which the rules alone then decide). Known hub models have an
adapter in `KNOWN_ADAPTERS`; any other model must use Schoolwacht's label names or plain
negative/neutral/positive, else loading fails with a ConfigError naming the labels.

Nothing is downloaded unless `allow_download` is set, and a model's own code never runs
(`trust_remote_code` stays off): a config file must not be able to execute anything.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from classifier.labels import ARTICLES, CATEGORIES, SENTIMENTS, severity_for
from classifier.language import detect_language, is_dutch
from classifier.predict import ClassificationResult, Span, combine, model_text, occlusion_spans
from classifier.rules import RuleHit, find_rule_hits
from schoolwacht.errors import ConfigError

DEFAULT_THRESHOLD = 0.5
# RoBERTa-style models number positions from padding_idx + 1, so two positions are unusable.
_POSITION_OFFSET = {"roberta": 2, "xlm-roberta": 2, "camembert": 2, "longformer": 2}
_SNAPSHOT = re.compile(r"snapshots/([0-9a-f]{40})/")
NEGATIVE, NEUTRAL = SENTIMENTS.index("negative"), SENTIMENTS.index("neutral")

@dataclass(frozen=True)
class LabelAdapter:
    """Logits [n, labels] -> (sentiment probabilities [n, 3], category scores [n, 7])."""

    name: str
    map: Callable[[torch.Tensor], tuple[np.ndarray, np.ndarray]]
    provides: tuple[str, ...] = ()  # the categories the model itself scores
    neutral_below: float = 0.0  # a top sentiment probability below this reads as neutral
    thresholds: dict[str, float] = field(default_factory=dict)

    def threshold(self, category: str) -> float:
        return self.thresholds.get(category, DEFAULT_THRESHOLD)


def _labels(id2label: dict[int, str]) -> list[str]:
    return [id2label[i].strip().lower().replace("_", "-") for i in sorted(id2label)]


def _find(labels: list[str], names: set[str], what: str) -> int:
    found = [i for i, label in enumerate(labels) if label in names]
    if len(found) != 1:
        raise ConfigError(f"Modellabels {labels} passen niet bij de adapter: geen eenduidig label voor {what}.")
    return found[0]


def _columns(n: int, values: dict[int, np.ndarray], width: int) -> np.ndarray:
    out = np.zeros((n, width), dtype=np.float32)
    for column, value in values.items():
        out[:, column] = value
    return out


def _harm_adapter(name: str, harmful: Callable[[np.ndarray], np.ndarray], clean: int) -> LabelAdapter:
    """A toxicity-style model: harm -> "insult"; anything but the clean label is negative evidence."""
    def mapping(logits: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        probs = torch.softmax(logits, -1).numpy()
        negative = 1.0 - probs[:, clean]
        sentiment = _columns(len(probs), {NEGATIVE: negative, NEUTRAL: probs[:, clean]}, len(SENTIMENTS))
        return sentiment, _columns(len(probs), {CATEGORIES.index("insult"): harmful(probs)}, len(CATEGORIES))
    return LabelAdapter(name, mapping, provides=("insult",))


def toxic_adapter(id2label: dict[int, str]) -> LabelAdapter:
    """ml6team/robbert-dutch-base-toxic-comments: non-toxic/toxic (or LABEL_0/LABEL_1), softmax."""
    labels = _labels(id2label)
    toxic = _find(labels, {"toxic", "label-1"}, "toxic")
    clean = _find(labels, {"non-toxic", "not-toxic", "nontoxic", "label-0"}, "non-toxic")
    return _harm_adapter("toxic", lambda probs: probs[:, toxic], clean)


# DALC v2.0 (Ruitenbeek et al. 2022): NOT, abusive (ABU, or its explicitness EXP/IMP), offensive (OFF).
_DALC_CLEAN = {"not", "non-abusive", "not-abusive", "label-0"}
_DALC_ABUSIVE = {"abu", "abusive", "exp", "imp", "explicit", "implicit", "abu-exp", "abu-imp"}
_DALC_OFFENSIVE = {"off", "offensive"}


def abusive_adapter(id2label: dict[int, str]) -> LabelAdapter:
    """GroNLP/bert_dutch_base_abusive_language: abusive -> insult. With anonymous LABEL_k names,
    LABEL_0 is NOT (DALC lists it first) and every other label is an abusive class; offensive
    language without a target (OFF) is negative, not an insult."""
    labels = _labels(id2label)
    clean = _find(labels, _DALC_CLEAN, "NOT")
    abusive = [i for i, label in enumerate(labels)
               if label in _DALC_ABUSIVE or (label.startswith("label-") and i != clean)]
    unknown = [label for i, label in enumerate(labels) if i != clean and i not in abusive
               and label not in _DALC_OFFENSIVE]
    if not abusive or unknown:
        raise ConfigError(f"Modellabels {labels} passen niet bij de DALC-adapter (verwacht NOT/ABU/OFF).")
    return _harm_adapter("dalc-abusive", lambda probs: probs[:, abusive].sum(1), clean)


def polarity_adapter(id2label: dict[int, str]) -> LabelAdapter:
    """DTAI-KULeuven/robbert-v2-dutch-sentiment: Negative/Positive (or LABEL_0/LABEL_1), softmax;
    the generic adapter already reads an unsure (< 0.6) two-way sentiment as neutral."""
    labels = _labels(id2label)
    named = {_find(labels, {"negative", "label-0"}, "Negative"): "negative",
             _find(labels, {"positive", "label-1"}, "Positive"): "positive"}
    if len(labels) != 2:
        raise ConfigError(f"Modellabels {labels} passen niet bij de adapter: verwacht Negative/Positive.")
    return replace(generic_adapter(named), name="polarity")


_TOXIC, _ABUSIVE = "ml6team/robbert-dutch-base-toxic-comments", "GroNLP/bert_dutch_base_abusive_language"
KNOWN_ADAPTERS: dict[str, Callable[[dict[int, str]], LabelAdapter]] = {
    _TOXIC: toxic_adapter,
    "DTAI-KULeuven/robbert-v2-dutch-sentiment": polarity_adapter,
    _ABUSIVE: abusive_adapter,
}
# Label sets that identify a known model under another name (a renamed local copy).
_FINGERPRINTS = {frozenset(labels.split()): key for key, labels in (
    (_TOXIC, "non-toxic toxic"), (_ABUSIVE, "not abu"), (_ABUSIVE, "not abu off"), (_ABUSIVE, "not exp imp"))}
_OWN_LABELS = {f"sentiment:{s}" for s in SENTIMENTS} | set(CATEGORIES)


def generic_adapter(id2label: dict[int, str]) -> LabelAdapter:
    """Labels named like Schoolwacht's ("sentiment:negative", "threat", ...; categories sigmoid,
    sentiments softmax) or plain negative/neutral/positive."""
    lowered = {i: id2label[i].strip().lower() for i in sorted(id2label)}
    canonical = {i: label if label in _OWN_LABELS else f"sentiment:{label}" for i, label in lowered.items()}
    unknown = [id2label[i] for i, name in canonical.items() if name not in _OWN_LABELS]
    if unknown:
        raise ConfigError(f"Het model heeft labels die Schoolwacht niet kent: {', '.join(unknown)}; verwacht "
                          f"negative/neutral/positive of {', '.join(sorted(_OWN_LABELS))}.")
    if len(set(canonical.values())) != len(canonical):
        raise ConfigError(f"Het model heeft dubbele labels: {', '.join(id2label.values())}.")
    sentiments = {SENTIMENTS.index(n.split(":")[1]): i for i, n in canonical.items() if n.startswith("sentiment:")}
    categories = {CATEGORIES.index(n): i for i, n in canonical.items() if n in CATEGORIES}

    def mapping(logits: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        n = len(logits)
        sentiment = _columns(n, {NEUTRAL: np.ones(n, dtype=np.float32)}, len(SENTIMENTS))
        if len(sentiments) > 1:
            probs = torch.softmax(logits[:, list(sentiments.values())], -1).numpy()
            sentiment = _columns(n, {s: probs[:, k] for k, s in enumerate(sentiments)}, len(SENTIMENTS))
        elif sentiments and NEUTRAL not in sentiments:  # one yes/no sentiment logit: the rest is neutral
            ((column, index),) = sentiments.items()
            p = torch.sigmoid(logits[:, index]).numpy()
            sentiment = _columns(n, {NEUTRAL: 1.0 - p, column: p}, len(SENTIMENTS))
        scores = _columns(n, {c: torch.sigmoid(logits[:, i]).numpy() for c, i in categories.items()},
                          len(CATEGORIES))
        return sentiment, scores
    # Without a neutral class a binary model is forced to pick a side: unsure reads as neutral.
    neutral_below = 0.6 if len(sentiments) == 2 and NEUTRAL not in sentiments else 0.0
    return LabelAdapter("generic", mapping, provides=tuple(CATEGORIES[c] for c in sorted(categories)),
                        neutral_below=neutral_below)


def _known_key(model: str, config: Any) -> str | None:
    path = Path(model)
    names = [model, getattr(config, "schoolwacht_adapter", None), getattr(config, "_name_or_path", None)]
    for key in KNOWN_ADAPTERS:
        cache_dir = "models--" + key.replace("/", "--")
        if key in names or path.name == key.split("/")[1] or cache_dir in path.parts:
            return key
    labels = frozenset(_labels({int(k): str(v) for k, v in config.id2label.items()}))
    return _FINGERPRINTS.get(labels)


def choose_adapter(model: str, config: Any, adapter: str | LabelAdapter | None = None) -> LabelAdapter:
    if isinstance(adapter, LabelAdapter):
        return adapter
    id2label = {int(k): str(v) for k, v in config.id2label.items()}
    key = adapter or _known_key(model, config)
    if key is None:
        return generic_adapter(id2label)
    if key not in KNOWN_ADAPTERS:
        raise ConfigError(f"Onbekende adapter {key!r}; bekend zijn: {', '.join(KNOWN_ADAPTERS)}.")
    return KNOWN_ADAPTERS[key](id2label)


def _unavailable(model: str, allow_download: bool, error: Exception) -> str:
    reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
    if Path(model).exists():
        return f"Model {model!r} kon niet worden geladen: {reason}"
    if not allow_download:
        return (f"Model {model!r} is niet offline beschikbaar: geen map met dat pad en niet in de "
                f"Hugging Face-cache. Download het eerst of geef het pad naar een lokale kopie.")
    return f"Model {model!r} kon niet worden gedownload of geladen: {reason}"


def _max_length(tokenizer: Any, config: Any) -> int:
    limits = []
    if isinstance(tokenizer.model_max_length, int) and tokenizer.model_max_length <= 100_000:
        limits.append(tokenizer.model_max_length)  # larger is transformers' "not set" sentinel
    positions = getattr(config, "max_position_embeddings", None)
    if isinstance(positions, int) and positions > 0:
        limits.append(positions - _POSITION_OFFSET.get(config.model_type, 0))
    return min(limits) if limits else 512  # BERT's length, when neither says


def _version(model: str, config: Any) -> str:
    """The hub commit: a model read from the cache (or a path into it) sits in snapshots/<commit>/."""
    from huggingface_hub import try_to_load_from_cache

    local = Path(model).exists()  # else a hub id that just loaded, so a valid one
    where = str(Path(model).resolve() / "config.json") if local else try_to_load_from_cache(model, "config.json")
    found = _SNAPSHOT.search(where.replace("\\", "/")) if isinstance(where, str) else None
    return getattr(config, "_commit_hash", None) or (found.group(1) if found else "local")


class HubClassifier:
    """A transformers sequence-classification model, read through a label adapter."""

    def __init__(self, model: str, *, batch_size: int = 64, allow_download: bool = False,
                 adapter: str | LabelAdapter | None = None) -> None:
        from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer

        offline = not allow_download
        try:
            config = AutoConfig.from_pretrained(model, local_files_only=offline)
            # Labels first: an unusable model fails before its weights are read.
            self.adapter = choose_adapter(model, config, adapter)
            self.tokenizer = AutoTokenizer.from_pretrained(model, local_files_only=offline)
            self.model = AutoModelForSequenceClassification.from_pretrained(
                model, config=config, local_files_only=offline, dtype=torch.float32)
        except ConfigError:
            raise
        except Exception as error:  # corrupt weights, odd configs: the user must fix the model setting
            raise ConfigError(_unavailable(model, allow_download, error)) from error
        self.model.eval()
        if self.tokenizer.pad_token is None and self.tokenizer.eos_token is not None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        if self.model.config.pad_token_id is None:
            self.model.config.pad_token_id = self.tokenizer.pad_token_id
        # Without a padding token texts cannot share a batch.
        self.batch_size = batch_size if self.tokenizer.pad_token is not None else 1
        self.max_length = _max_length(self.tokenizer, config)
        self.name = model
        self.version = _version(model, config)

    @torch.inference_mode()
    def model_scores(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Sentiment probabilities [n, 3] and category scores [n, 7] (zero where the model has none)."""
        prepared = [model_text(t) for t in texts]
        sentiments = np.zeros((len(texts), len(SENTIMENTS)), dtype=np.float32)
        sentiments[:, NEUTRAL] = 1.0  # blank texts are not run through the model
        categories = np.zeros((len(texts), len(CATEGORIES)), dtype=np.float32)
        # Texts of similar length share a batch, so little padding is computed.
        order = sorted((i for i, t in enumerate(prepared) if t.strip()), key=lambda i: len(prepared[i]))
        for start in range(0, len(order), self.batch_size):
            chunk = order[start:start + self.batch_size]
            encoded = self.tokenizer([prepared[i] for i in chunk], truncation=True, max_length=self.max_length,
                                     padding=True, return_tensors="pt")
            inputs = {k: v for k, v in encoded.items() if k in ("input_ids", "attention_mask", "token_type_ids")}
            sentiments[chunk], categories[chunk] = self.adapter.map(self.model(**inputs).logits.float())
        return sentiments, categories

    def classify(self, texts: Sequence[str]) -> list[ClassificationResult]:
        sentiments, categories = self.model_scores(texts)
        hits = [find_rule_hits(t) for t in texts]  # whole texts: the rules are not limited to what the model reads
        return [self._result(t, sentiments[i], combine(categories[i], hits[i]), hits[i]) for i, t in enumerate(texts)]

    def _result(self, text: str, sentiment_probs: np.ndarray, scores: np.ndarray,
                hits: list[RuleHit]) -> ClassificationResult:
        """Mirrors BuiltinClassifier._result; only thresholds and the neutral rule come from the adapter.
        The builtin model's counter-speech cap, denial rule and stance threshold (tuned to its scores)
        are not applied: a hub model's scores mean something else."""
        language = detect_language(text)
        top = int(sentiment_probs.argmax())
        sentiment = SENTIMENTS[top] if sentiment_probs[top] >= self.adapter.neutral_below else "neutral"
        all_scores = {f"sentiment:{s}": round(float(p), 4) for s, p in zip(SENTIMENTS, sentiment_probs, strict=True)}
        all_scores.update({c: round(float(s), 4) for c, s in zip(CATEGORIES, scores, strict=True)})
        categories: list[str] = []
        explanations: dict[str, list[Span]] = {}
        if not text.strip() or not is_dutch(language):
            sentiment = "neutral"  # the models read Dutch only: no guessing in other languages
        else:
            categories = [c for c, s in zip(CATEGORIES, scores, strict=True) if s >= self.adapter.threshold(c)]
            for category in categories:
                spans = [Span(h.start, h.end, h.text, "rule", h.rule) for h in hits if h.category == category]
                explanations[category] = spans or occlusion_spans(
                    text, category, float(scores[CATEGORIES.index(category)]),
                    lambda variants: self.model_scores(variants)[1])
            if set(categories) - {"confidential"} and sentiment != "negative":
                sentiment = "negative"  # insulting or threatening someone is never a positive stance
        return ClassificationResult(
            sentiment=sentiment, sentiment_score=round(float(sentiment_probs[top]), 4),
            scores=all_scores, categories=categories, explanations=explanations,
            severity=severity_for(sentiment, categories), language=language, model=self.name,
            version=self.version, articles={c: ARTICLES[c] for c in categories})


__all__ = ["KNOWN_ADAPTERS", "HubClassifier", "LabelAdapter", "abusive_adapter", "choose_adapter",
           "generic_adapter", "polarity_adapter", "toxic_adapter"]
