"""Per-category thresholds calibrated on the dev split, and the model card."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from classifier.dataset import Example
from classifier.labels import CATEGORIES, SENTIMENTS
from classifier.metrics import evaluate

# Missing a threat is the costliest error: its threshold must keep recall at this level.
THREAT_MIN_RECALL = 0.95
GRID = [round(x, 2) for x in np.arange(0.02, 0.96, 0.01)]


# Thresholds whose dev F1 is within this of the best count as equally good; of those the one
# nearest 0.5 is kept, so that a lucky extreme threshold on a small dev set is not chosen.
F1_TOLERANCE = 0.005


def best_threshold(scores: np.ndarray, gold: np.ndarray, min_recall: float = 0.0) -> float:
    positives = gold.sum()
    candidates: list[tuple[float, float]] = []
    for threshold in GRID:
        predicted = scores >= threshold
        tp = float((predicted & gold).sum())
        recall = tp / positives if positives else 1.0
        if recall < min_recall:
            continue
        precision = tp / predicted.sum() if predicted.sum() else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        candidates.append((threshold, f1))
    if not candidates:
        # No threshold reaches the recall floor: keep the highest recall any threshold
        # reaches, and among those thresholds the best F1.
        recalls = [float(((scores >= t) & gold).sum()) / positives for t in GRID]
        return best_threshold(scores, gold, min_recall=max(recalls) - 1e-9)
    top = max(f1 for _, f1 in candidates)
    good = [t for t, f1 in candidates if f1 >= top - F1_TOLERANCE]
    return min(good, key=lambda t: abs(t - 0.5))


def calibrate(category_scores: np.ndarray, dev: list[Example]) -> dict[str, float]:
    thresholds = {}
    for index, category in enumerate(CATEGORIES):
        gold = np.array([category in e.categories for e in dev])
        min_recall = THREAT_MIN_RECALL if category == "threat" else 0.0
        thresholds[category] = best_threshold(category_scores[:, index], gold, min_recall)
    return thresholds


# Sentiment offsets tried (log-prior added to neutral and to positive).
OFFSETS = np.round(np.arange(-1.0, 3.01, 0.1), 2)


def calibrate_sentiment(sentiment_probs: np.ndarray, dev: list[Example],
                        forced_negative: np.ndarray | None = None) -> dict[str, float]:
    """Log-prior offsets per sentiment that maximise dev accuracy (the model leans to the
    majority class, negative, because most training posts are negative).

    The accuracy of an offset pair is averaged with its neighbours (±0.1 on each offset), so
    that a narrow spike, a few dev posts that happen to flip at one offset, is not chosen.
    `forced_negative` marks the posts whose categories make the classifier say negative
    whatever the sentiment head says (predict.py): the offsets are fitted to what is left.
    """
    gold = np.array([SENTIMENTS.index(e.sentiment) for e in dev])
    logp = np.log(sentiment_probs + 1e-9)
    forced = np.zeros(len(dev), dtype=bool) if forced_negative is None else forced_negative
    negative = SENTIMENTS.index("negative")
    accuracy = np.zeros((len(OFFSETS), len(OFFSETS)))
    for i, neutral in enumerate(OFFSETS):
        for j, positive in enumerate(OFFSETS):
            predicted = np.where(forced, negative, (logp + np.array([0.0, neutral, positive])).argmax(1))
            accuracy[i, j] = float((predicted == gold).mean())
    padded = np.pad(accuracy, 1, mode="edge")
    smoothed = sum(padded[1 + di: 1 + di + len(OFFSETS), 1 + dj: 1 + dj + len(OFFSETS)]
                   for di in (-1, 0, 1) for dj in (-1, 0, 1)) / 9
    i, j = np.unravel_index(int(smoothed.argmax()), smoothed.shape)  # the first best: smallest offsets
    return {"negative": 0.0, "neutral": round(float(OFFSETS[i]), 2), "positive": round(float(OFFSETS[j]), 2)}


def calibrate_and_report(model: Any, tokenizer: Any, dev: list[Example], out_dir: Path,
                         **info: Any) -> dict[str, Any]:
    """Save the model, calibrate its thresholds on dev (model + rules), write card and figures."""
    from classifier.card import write_model_card
    from classifier.predict import NEGATIVE_STANCE_MIN, BuiltinClassifier

    out_dir.mkdir(parents=True, exist_ok=True)
    # fp16 halves the shipped size; the loader computes in fp32.
    model.half().save_pretrained(out_dir)
    model.float()
    tokenizer.save_pretrained(out_dir)
    version = f"{str(info['data_sha256'])[:8]}-{info['params_hash']}"
    meta: dict[str, Any] = {"name": "schoolwacht-builtin", "version": version,
                            "thresholds": dict.fromkeys(CATEGORIES, 0.5)}
    (out_dir / "thresholds.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")

    classifier = BuiltinClassifier(out_dir)
    texts = [e.text for e in dev]
    sentiment_probs, category_scores, _ = classifier.scores_with_rules(texts)
    meta["thresholds"] = calibrate(category_scores, dev)
    confidential = CATEGORIES.index("confidential")
    fires = category_scores >= np.maximum([meta["thresholds"][c] for c in CATEGORIES], NEGATIVE_STANCE_MIN)
    fires[:, confidential] = False
    meta["sentiment_bias"] = calibrate_sentiment(sentiment_probs, dev, forced_negative=fires.any(1))
    (out_dir / "thresholds.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
    classifier.thresholds = meta["thresholds"]
    classifier.sentiment_bias = meta["sentiment_bias"]
    results = classifier.classify(texts)
    report = evaluate([e.sentiment for e in dev], [e.categories for e in dev],
                      [r.sentiment for r in results], [r.categories for r in results])
    # The shared examples alone: our own added files grow the dev set too, so this is the
    # figure that stays comparable between versions of the data.
    shared = [i for i, e in enumerate(dev) if e.source_file.startswith("train_")]
    shared_report = evaluate([dev[i].sentiment for i in shared], [dev[i].categories for i in shared],
                             [results[i].sentiment for i in shared], [results[i].categories for i in shared])
    figures = {"version": version, "dev": report, "dev_shared": shared_report, "thresholds": meta["thresholds"],
               **{k: v for k, v in info.items() if k != "files"}}
    (out_dir / "metrics.json").write_text(json.dumps(figures, indent=1, default=str),
                                          encoding="utf-8")
    write_model_card(out_dir, figures, files=info.get("files", []))
    return figures
