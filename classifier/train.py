"""`schoolwacht model train`: reproducible training of the shipped model.

Fixed seed, single-threaded, data hashed: the same data gives the same weights. Thresholds
per category are calibrated on the dev split (never trained on) and stored with the model,
together with a model card that reports the dev figures.
"""

from __future__ import annotations

import hashlib
import logging
import random
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
from torch import nn

from classifier.dataset import Example, data_hash, load_examples, split, training_files
from classifier.labels import CATEGORIES, SENTIMENTS
from classifier.model import NgramConfig, NgramForSequenceClassification, NgramNetwork, NgramTokenizer

logger = logging.getLogger(__name__)
MAX_FEATURES = 2048


@dataclass(frozen=True)
class TrainParams:
    seed: int = 13
    epochs: int = 12
    batch_size: int = 32
    learning_rate: float = 4e-3
    weight_decay: float = 0.0
    num_buckets: int = 2**17
    embedding_dim: int = 40
    hidden_dim: int = 128
    dropout: float = 0.2
    feature_dropout: float = 0.2
    # Positive-class weight = (negatives / positives) ** power: rarer categories weigh more.
    pos_weight_power: float = 0.75
    # Weight of the sentiment loss against the seven category losses.
    sentiment_weight: float = 1.0
    # Label smoothing of the sentiment loss: the neutral/negative line is drawn differently by
    # different annotators, so hard 0/1 targets overfit to the noise.
    sentiment_smoothing: float = 0.0
    # Sentiment class weight = (examples / (3 * examples of the class)) ** power: 0 is plain
    # cross-entropy, 1 weighs the three classes equally (most training posts are negative).
    sentiment_balance: float = 0.0
    # Networks averaged in the shipped model, member i trained with seed + i.
    members: int = 3
    wide: bool = True
    # The linear word-level sentiment part (model.py): its weight in the sentiment mix, and its
    # own short training. Chosen by 5-fold out-of-fold accuracy on the training split.
    sentiment_mix: float = 0.85
    linear_epochs: int = 10
    linear_learning_rate: float = 0.02


def _targets(examples: list[Example]) -> tuple[torch.Tensor, torch.Tensor]:
    sentiment = torch.tensor([SENTIMENTS.index(e.sentiment) for e in examples])
    categories = torch.tensor([[float(c in e.categories) for c in CATEGORIES] for e in examples])
    return sentiment, categories


def _batch(ids: list[list[int]], indices: list[int], drop: float, rng: random.Random
           ) -> tuple[torch.Tensor, torch.Tensor]:
    rows = []
    for i in indices:
        row = ids[i]
        if drop:
            # Dropping features teaches the model not to lean on any single n-gram.
            row = [f for f in row if rng.random() >= drop] or row[:1]
        rows.append(row)
    width = max(len(r) for r in rows)
    input_ids = torch.zeros((len(rows), width), dtype=torch.long)
    for r, row in enumerate(rows):
        input_ids[r, : len(row)] = torch.tensor(row)
    return input_ids, (input_ids != 0).long()


def encode_all(tokenizer: NgramTokenizer, texts: list[str]) -> list[list[int]]:
    return [tokenizer.encode_fast(t, MAX_FEATURES) for t in texts]


def train_model(examples: list[Example], params: TrainParams
                ) -> tuple[NgramForSequenceClassification, NgramTokenizer]:
    if params.members == 1:
        return _train_network(examples, params)
    trained = [_train_network(examples, replace(params, seed=params.seed + i, members=1))
               for i in range(params.members)]
    model = NgramForSequenceClassification(_config(params, members=params.members))
    for target, (single, _) in zip(model.members, trained, strict=True):
        target.load_state_dict(single.members[0].state_dict())
    model.eval()
    return model, trained[0][1]


def _config(params: TrainParams, members: int = 1) -> NgramConfig:
    return NgramConfig(num_buckets=params.num_buckets, embedding_dim=params.embedding_dim,
                       hidden_dim=params.hidden_dim, dropout=params.dropout, members=members,
                       wide=params.wide, sentiment_mix=params.sentiment_mix)


def _train_network(examples: list[Example], params: TrainParams
                   ) -> tuple[NgramForSequenceClassification, NgramTokenizer]:
    random.seed(params.seed)
    np.random.seed(params.seed)
    torch.manual_seed(params.seed)
    torch.set_num_threads(1)  # reproducible sums; the model is small enough
    tokenizer = NgramTokenizer(num_buckets=params.num_buckets, separator=params.sentiment_mix > 0)
    model = NgramForSequenceClassification(_config(params))
    network = model.members[0]
    ids = encode_all(tokenizer, [e.text for e in examples])
    sentiment, categories = _targets(examples)
    positives = categories.sum(0)
    pos_weight = ((len(examples) - positives) / positives.clamp(min=1.0)) ** params.pos_weight_power
    bce = nn.BCEWithLogitsLoss(pos_weight=pos_weight)
    counts = torch.bincount(sentiment, minlength=len(SENTIMENTS)).float().clamp(min=1.0)
    class_weight = (len(examples) / (len(SENTIMENTS) * counts)) ** params.sentiment_balance
    ce = nn.CrossEntropyLoss(weight=class_weight, label_smoothing=params.sentiment_smoothing)
    # Sparse updates touch only the n-grams of a batch: 20x faster than dense Adam here.
    sparse_tables = [network.embeddings] + ([network.wide] if network.wide is not None else [])
    for table in sparse_tables:
        table.sparse = True
    dense = [p for name, p in network.named_parameters() if not name.startswith(("embeddings", "wide"))]
    optimizers = [torch.optim.SparseAdam([t.weight for t in sparse_tables], lr=params.learning_rate),
                  torch.optim.Adam(dense, lr=params.learning_rate, weight_decay=params.weight_decay)]
    rng = random.Random(params.seed)
    order = list(range(len(examples)))
    model.train()
    for epoch in range(params.epochs):
        rng.shuffle(order)
        total = 0.0
        for start in range(0, len(order), params.batch_size):
            chunk = order[start:start + params.batch_size]
            input_ids, mask = _batch(ids, chunk, params.feature_dropout, rng)
            logits = network.network(input_ids, mask)
            loss = params.sentiment_weight * ce(logits[:, :3], sentiment[chunk]) + bce(logits[:, 3:], categories[chunk])
            for optimizer in optimizers:
                optimizer.zero_grad()
            loss.backward()
            for optimizer in optimizers:
                optimizer.step()
            total += float(loss.detach()) * len(chunk)
        logger.info("epoch %d loss %.4f", epoch + 1, total / len(examples))
    for table in sparse_tables:
        table.sparse = False
    if network.sentiment_linear is not None:
        _train_linear(network, ids, sentiment, params)
    model.eval()
    return model, tokenizer


def _train_linear(network: NgramNetwork, ids: list[list[int]], sentiment: torch.Tensor,
                  params: TrainParams) -> None:
    """The linear sentiment part, on its own loss: the word-level features, no feature dropout, few
    epochs, a large step (a network-sized training overfits the topic words)."""
    assert network.sentiment_linear is not None and network.sentiment_linear_bias is not None
    table = network.sentiment_linear
    table.sparse = True
    optimizers = [torch.optim.SparseAdam([table.weight], lr=params.linear_learning_rate),
                  torch.optim.Adam([network.sentiment_linear_bias], lr=params.linear_learning_rate)]
    ce = nn.CrossEntropyLoss()
    rng = random.Random(params.seed)
    order = list(range(len(ids)))
    for _ in range(params.linear_epochs):
        rng.shuffle(order)
        for start in range(0, len(order), params.batch_size):
            chunk = order[start:start + params.batch_size]
            input_ids, mask = _batch(ids, chunk, 0.0, rng)
            loss = ce(network.linear_sentiment(input_ids, mask), sentiment[chunk])
            for optimizer in optimizers:
                optimizer.zero_grad()
            loss.backward()
            for optimizer in optimizers:
                optimizer.step()
    table.sparse = False


def main_train(out_dir: Path, params: TrainParams | None = None) -> dict[str, object]:
    from classifier.calibrate import calibrate_and_report

    params = params or TrainParams()
    files = training_files()
    examples = load_examples(files)
    train, dev = split(examples)
    started = time.monotonic()
    model, tokenizer = train_model(train, params)
    elapsed = time.monotonic() - started
    params_hash = hashlib.sha256(repr(params).encode()).hexdigest()[:6]
    return calibrate_and_report(model, tokenizer, dev, out_dir, params=asdict(params),
                                params_hash=params_hash, data_sha256=data_hash(files),
                                files=[f.name for f in files], n_train=len(train), n_dev=len(dev),
                                train_seconds=round(elapsed, 1))
