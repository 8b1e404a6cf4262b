"""The shipped model: a transformers architecture of hashed word and character n-grams.

Why not a BERT: no pretrained Dutch weights can be downloaded here, and a transformer trained
from scratch on a few thousand posts overfits. Hashed character n-grams (fastText's idea) learn
well from little data, survive misspellings and disguises (`k@nker`, `kankr`, `kkr`), and are
fast on two CPU cores. The model is still a regular transformers model: `config.json`,
`model.safetensors` and a tokenizer, loaded with `AutoTokenizer` and
`AutoModelForSequenceClassification` (`local_files_only=True`) once this module is imported,
so the same code path also serves hub models.

Outputs: 3 sentiment logits (softmax) followed by one logit per category (sigmoid).

Sentiment also has a second, linear part that reads only the word-level features (unigrams,
bigrams, lexicon and negation marks: everything before the tokenizer's `[SEP]`): trained briefly
and on its own, it generalises better on the neutral/negative line than the network, which
learns to read topic words (a post about a threat, a slur or a group) as a negative stance.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import zlib
from pathlib import Path
from typing import Any

import torch
from torch import nn
from transformers import (
    AutoConfig,
    AutoModelForSequenceClassification,
    AutoTokenizer,
    PretrainedConfig,
    PreTrainedModel,
    PreTrainedTokenizer,
)
from transformers.modeling_outputs import SequenceClassifierOutput

from classifier.labels import CATEGORIES, SENTIMENTS
from classifier.lexicon import lexicon_features
from classifier.normalize import deobfuscate, words

MODEL_TYPE = "schoolwacht-ngram"
SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]"]
N_SPECIAL = len(SPECIAL_TOKENS)
# Between the word-level features and the character n-grams (tokenizers with `separator`).
SEP_ID = SPECIAL_TOKENS.index("[SEP]")


class NgramConfig(PretrainedConfig):
    model_type = MODEL_TYPE

    def __init__(self, num_buckets: int = 2**17, embedding_dim: int = 64, hidden_dim: int = 128,
                 dropout: float = 0.2, num_sentiments: int = 3, members: int = 1, wide: bool = False,
                 sentiment_mix: float = 0.0, **kwargs: Any) -> None:
        self.num_buckets = num_buckets
        self.embedding_dim = embedding_dim
        self.hidden_dim = hidden_dim
        self.dropout = dropout
        self.num_sentiments = num_sentiments
        # Networks trained with different seeds whose probabilities are averaged: on a few
        # thousand examples one network's sentiment accuracy varies by several points with its seed.
        self.members = members
        # A linear ("wide") part beside the hidden layer: one weight per n-gram and label, the
        # classic strong baseline for sentiment on little data.
        self.wide = wide
        # Weight of the linear word-level sentiment part in each member's sentiment
        # (log-probabilities mixed); 0: the network alone.
        self.sentiment_mix = sentiment_mix
        if "id2label" not in kwargs:
            labels = [f"sentiment:{s}" for s in SENTIMENTS] + list(CATEGORIES)
            kwargs["id2label"] = dict(enumerate(labels))
            kwargs["label2id"] = {label: i for i, label in enumerate(labels)}
        super().__init__(**kwargs)


class NgramNetwork(nn.Module):
    """One member: hashed n-gram embeddings, mean + max pooling, one hidden layer, the heads."""

    def __init__(self, config: NgramConfig) -> None:
        super().__init__()
        self.embeddings = nn.Embedding(config.num_buckets + N_SPECIAL, config.embedding_dim,
                                       padding_idx=0)
        self.norm = nn.LayerNorm(2 * config.embedding_dim)
        self.hidden = nn.Linear(2 * config.embedding_dim, config.hidden_dim)
        self.dropout = nn.Dropout(config.dropout)
        self.classifier = nn.Linear(config.hidden_dim, config.num_labels)
        self.wide = (nn.Embedding(config.num_buckets + N_SPECIAL, config.num_labels, padding_idx=0)
                     if getattr(config, "wide", False) else None)
        self.sentiment_mix = float(getattr(config, "sentiment_mix", 0.0))
        self.num_sentiments = config.num_sentiments
        self.sentiment_linear = (nn.Embedding(config.num_buckets + N_SPECIAL, config.num_sentiments, padding_idx=0)
                                 if self.sentiment_mix > 0 else None)
        self.sentiment_linear_bias = (nn.Parameter(torch.zeros(config.num_sentiments))
                                      if self.sentiment_mix > 0 else None)

    def linear_sentiment(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Sentiment logits of the linear part: word-level features only (the ids before `[SEP]`)."""
        assert self.sentiment_linear is not None and self.sentiment_linear_bias is not None
        sep = input_ids == SEP_ID
        words_only = (sep.long().cumsum(1) == 0) & attention_mask.bool()
        weights = words_only.unsqueeze(-1).to(self.sentiment_linear.weight.dtype)
        total = (self.sentiment_linear(input_ids) * weights).sum(1)
        return total / weights.sum(1).clamp(min=1.0).sqrt() + self.sentiment_linear_bias

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        logits = self.network(input_ids, attention_mask)
        if self.sentiment_linear is None:
            return logits
        k, mix = self.num_sentiments, self.sentiment_mix
        sentiment = (1 - mix) * torch.log_softmax(logits[:, :k], -1) \
            + mix * torch.log_softmax(self.linear_sentiment(input_ids, attention_mask), -1)
        return torch.cat([sentiment, logits[:, k:]], -1)

    def network(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """The network's logits (sentiment and categories); `[SEP]` is no feature."""
        attention_mask = attention_mask * (input_ids != SEP_ID)
        mask = attention_mask.unsqueeze(-1).to(self.embeddings.weight.dtype)
        # In place: [batch, length, dim] is by far the largest tensor, and a fresh one per
        # step cost more than the arithmetic. Autograd allows it: embedding and sum keep no
        # copy of their output, mul_ and masked_fill_ need only the mask for the gradient.
        vectors = self.embeddings(input_ids).mul_(mask)
        counts = mask.sum(1)
        # Mean says what the post is about; max keeps a single strong signal (one slur).
        mean = vectors.sum(1) / counts.clamp(min=1.0)
        peak = vectors.masked_fill_(mask == 0, -1e4).max(1).values
        peak = torch.where(counts > 0, peak, torch.zeros_like(peak))
        hidden = torch.nn.functional.gelu(self.hidden(self.norm(torch.cat([mean, peak], -1))))
        logits = self.classifier(self.dropout(hidden))
        if self.wide is not None:
            wide = self.wide(input_ids) * attention_mask.unsqueeze(-1).to(logits.dtype)
            logits = logits + wide.sum(1) / counts.clamp(min=1.0).sqrt()
        return logits


class NgramForSequenceClassification(PreTrainedModel):
    config_class = NgramConfig
    base_model_prefix = "ngram"
    main_input_name = "input_ids"

    def __init__(self, config: NgramConfig) -> None:
        super().__init__(config)
        self.members = nn.ModuleList(NgramNetwork(config) for _ in range(config.members))
        self.post_init()

    def _init_weights(self, module: nn.Module) -> None:
        if isinstance(module, nn.Embedding) and module.embedding_dim in (self.config.num_labels,
                                                                          self.config.num_sentiments):
            nn.init.zeros_(module.weight)  # the wide and linear parts start as no opinion
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, std=0.05)
            with torch.no_grad():
                module.weight[0].zero_()
        elif isinstance(module, nn.Linear):
            nn.init.xavier_uniform_(module.weight)
            nn.init.zeros_(module.bias)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                labels: torch.Tensor | None = None, **_: Any) -> SequenceClassifierOutput:
        if attention_mask is None:
            attention_mask = (input_ids != 0).long()
        if len(self.members) == 1:
            return SequenceClassifierOutput(logits=self.members[0](input_ids, attention_mask))
        # Average probabilities, then hand back logits that give those probabilities: softmax
        # of log-probabilities for sentiment, the logit of the mean for each category.
        k = self.config.num_sentiments
        sentiment = torch.zeros(0)
        categories = torch.zeros(0)
        for index, member in enumerate(self.members):
            logits = member(input_ids, attention_mask)
            s, c = torch.softmax(logits[:, :k], -1), torch.sigmoid(logits[:, k:])
            sentiment, categories = (s, c) if index == 0 else (sentiment + s, categories + c)
        sentiment, categories = sentiment / len(self.members), categories / len(self.members)
        logits = torch.cat([sentiment.clamp(min=1e-9).log(), torch.logit(categories, eps=1e-6)], -1)
        return SequenceClassifierOutput(logits=logits)


NEGATORS = frozenset({"niet", "geen", "niks", "niets", "nooit", "nergens", "allerminst"})
_CLAUSE = re.compile(r"[.!?;:\n]+|,\s+(?:maar|want|dus|en)\b")


def negation_features(text: str) -> list[str]:
    """Words in a clause that holds a negator, marked as such ("ik haat X niet" is not
    "ik haat X"): a bag of words cannot otherwise tell the two apart."""
    return _negations(deobfuscate(text))


def _negations(clean: str) -> list[str]:
    """`negation_features` of already deobfuscated text."""
    found: list[str] = []
    for clause in _CLAUSE.split(clean):
        tokens = words(clause)
        if any(t in NEGATORS for t in tokens):
            found += [f"n:{t}" for t in tokens if t not in NEGATORS]
    return found


def _bucket(feature: str, buckets: int) -> int:
    return N_SPECIAL + zlib.crc32(feature.encode("utf-8")) % buckets


def _char_ngrams(token: str, min_n: int, max_n: int) -> list[str]:
    if len(token) < 2:
        return []
    padded = f"<{token}>"
    return [f"c:{padded[i:i + n]}" for n in range(min_n, max_n + 1) for i in range(len(padded) - n + 1)]


def features(text: str, *, min_n: int = 3, max_n: int = 5, separator: bool = False) -> list[str]:
    """Word unigrams and bigrams plus character n-grams of every word, after deobfuscation;
    with `separator`, a `[SEP]` between the word-level features and the character n-grams."""
    clean = deobfuscate(text)
    tokens = words(clean)
    found = [f"w:{t}" for t in tokens] + lexicon_features(tokens) + _negations(clean)
    found += [f"b:{a}_{b}" for a, b in itertools.pairwise(tokens)]
    if separator:
        found.append("[SEP]")
    for token in tokens:
        found += _char_ngrams(token, min_n, max_n)
    return found


class _WordIds:
    """Bucket ids of a word's own features (its `w:` unigram, then its character n-grams),
    remembered: posts repeat a small vocabulary, and occlusion explanations encode the same
    post dozens of times. Hashing a feature costs a string build and a CRC each; a hit costs a
    dict lookup. Bounded: emptied when full, so a stream of new words cannot grow it."""

    LIMIT = 1 << 16

    def __init__(self, buckets: int, min_n: int, max_n: int) -> None:
        self.buckets, self.min_n, self.max_n = buckets, min_n, max_n
        self.ids: dict[str, tuple[int, tuple[int, ...]]] = {}

    def __call__(self, token: str) -> tuple[int, tuple[int, ...]]:
        found = self.ids.get(token)
        if found is None:
            if len(self.ids) >= self.LIMIT:
                self.ids.clear()
            found = self.ids[token] = (
                _bucket(f"w:{token}", self.buckets),
                tuple(_bucket(f, self.buckets) for f in _char_ngrams(token, self.min_n, self.max_n)))
        return found


class NgramTokenizer(PreTrainedTokenizer):
    """Turns text into hashed n-gram ids; its vocabulary is the hash space."""

    vocab_files_names = {"vocab_file": "ngram_tokenizer.json"}
    model_input_names = ["input_ids", "attention_mask"]

    def __init__(self, vocab_file: str | None = None, num_buckets: int = 2**17, min_n: int = 3,
                 max_n: int = 5, separator: bool = False, **kwargs: Any) -> None:
        if vocab_file and os.path.exists(vocab_file):
            saved = json.loads(Path(vocab_file).read_text(encoding="utf-8"))
            num_buckets, min_n, max_n = saved["num_buckets"], saved["min_n"], saved["max_n"]
            separator = saved.get("separator", False)  # models saved before the linear part: none
        self.num_buckets = num_buckets
        self.min_n = min_n
        self.max_n = max_n
        self.separator = separator
        self._word_ids = _WordIds(num_buckets, min_n, max_n)
        kwargs.setdefault("pad_token", "[PAD]")
        kwargs.setdefault("unk_token", "[UNK]")
        kwargs.setdefault("model_max_length", 4096)
        super().__init__(**kwargs)

    @property
    def vocab_size(self) -> int:
        return self.num_buckets + N_SPECIAL

    def get_vocab(self) -> dict[str, int]:
        return {token: i for i, token in enumerate(SPECIAL_TOKENS)}

    def _tokenize(self, text: str, **_: Any) -> list[str]:
        return features(text, min_n=self.min_n, max_n=self.max_n, separator=self.separator)

    def _convert_token_to_id(self, token: str) -> int:
        if token in SPECIAL_TOKENS:
            return SPECIAL_TOKENS.index(token)
        return _bucket(token, self.num_buckets)

    def _convert_id_to_token(self, index: int) -> str:
        return SPECIAL_TOKENS[index] if index < N_SPECIAL else f"[H{index}]"

    def convert_tokens_to_string(self, tokens: list[str]) -> str:
        return " ".join(tokens)

    def encode_fast(self, text: str, max_length: int) -> list[int]:
        """Ids without the generic tokenizer machinery (the production path): the ids of
        `features(text)` in the same order, with each word's own ids from a cache."""
        word_ids = self._word_ids
        clean = deobfuscate(text)
        tokens = words(clean)
        known = word_ids.ids.get  # a hit without a method call: most words are known
        per_word = [known(t) or word_ids(t) for t in tokens]
        ids = [w for w, _ in per_word]
        buckets, crc32 = self.num_buckets, zlib.crc32  # `_bucket`, inlined: a call a bigram adds up
        ids += [N_SPECIAL + crc32(f.encode("utf-8")) % buckets
                for f in lexicon_features(tokens) + _negations(clean)]
        ids += [N_SPECIAL + crc32(f"b:{a}_{b}".encode()) % buckets
                for a, b in itertools.pairwise(tokens)]
        if self.separator:
            ids.append(SEP_ID)
        for _, chars in per_word:
            if len(ids) >= max_length:
                break  # the rest would be cut off anyway
            ids += chars
        return ids[:max_length] or [1]

    def save_vocabulary(self, save_directory: str, filename_prefix: str | None = None
                        ) -> tuple[str]:
        name = (filename_prefix + "-" if filename_prefix else "") + "ngram_tokenizer.json"
        path = Path(save_directory) / name
        path.write_text(json.dumps({"num_buckets": self.num_buckets, "min_n": self.min_n,
                                    "max_n": self.max_n, "separator": self.separator}), encoding="utf-8")
        return (str(path),)


def register() -> None:
    """Make the architecture known to transformers' Auto classes (idempotent)."""
    try:
        AutoConfig.register(MODEL_TYPE, NgramConfig)
    except ValueError:
        return  # already registered
    AutoModelForSequenceClassification.register(NgramConfig, NgramForSequenceClassification)
    AutoTokenizer.register(NgramConfig, slow_tokenizer_class=NgramTokenizer)


register()

__all__ = ["MODEL_TYPE", "NgramConfig", "NgramForSequenceClassification", "NgramTokenizer",
           "features", "register"]
