"""Scores for texts: the model's probabilities combined with the rules' evidence."""

from __future__ import annotations

from typing import Any

import numpy as np


def score_texts(model: Any, tokenizer: Any, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    from classifier.train import predict_scores

    return predict_scores(model, tokenizer, texts)
