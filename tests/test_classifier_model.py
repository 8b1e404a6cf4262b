"""The shipped model: offline loading, robustness, reproducible training, dev figures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from classifier import load_classifier
from classifier.dataset import is_dev, load_examples, split, training_files
from classifier.predict import BUILTIN_DIR
from classifier.train import TrainParams, train_model
from schoolwacht.cli import cli


@pytest.fixture(scope="module")
def clf():
    return load_classifier("builtin")


def test_shipped_model_is_small_and_transformers_loadable() -> None:
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    import classifier.model  # noqa: F401

    total = sum(f.stat().st_size for f in BUILTIN_DIR.iterdir())
    assert total <= 50 * 1024 * 1024
    tokenizer = AutoTokenizer.from_pretrained(BUILTIN_DIR, local_files_only=True)
    model = AutoModelForSequenceClassification.from_pretrained(BUILTIN_DIR, local_files_only=True)
    encoded = tokenizer(["die juf is een trut"], return_tensors="pt")
    assert model(**encoded).logits.shape == (1, 10)
    assert (BUILTIN_DIR / "MODEL_CARD.md").exists()


def test_dev_figures_reproduce_the_model_card(clf) -> None:
    """Re-evaluating the dev split gives exactly the figures the card reports."""
    from classifier.metrics import evaluate

    _, dev = split(load_examples(training_files()))
    results = clf.classify([e.text for e in dev])
    report = evaluate([e.sentiment for e in dev], [e.categories for e in dev],
                      [r.sentiment for r in results], [r.categories for r in results])
    card = json.loads((BUILTIN_DIR / "metrics.json").read_text(encoding="utf-8"))
    assert report["macro_f1"] == card["dev"]["macro_f1"]
    assert report["sentiment_accuracy"] == card["dev"]["sentiment_accuracy"]
    assert report["categories"] == card["dev"]["categories"]


def test_dev_split_is_fixed_by_id_hash() -> None:
    assert is_dev("tr-a-0003") == is_dev("tr-a-0003")
    examples = load_examples(training_files())
    train, dev = split(examples)
    assert not {e.id for e in train} & {e.id for e in dev}
    assert 0.15 < len(dev) / len(examples) < 0.25


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("Ik kom morgen met een mes naar het schoolplein, juf Anja.", "threat"),
        ("Die juf van groep 5 is een vuile k@nker trut", "insult"),
        ("Juf Anja woont op de Kerkstraat 12 in Muntendam, ga maar eens langs", "doxing"),
    ],
)
def test_clear_cases_are_flagged_with_spans(clf, text: str, category: str) -> None:
    result = clf.classify([text])[0]
    assert category in result.categories
    spans = result.explanations[category]
    assert spans and all(text[s.start:s.end] == s.text for s in spans)
    assert result.articles[category]


@pytest.mark.parametrize(
    "text",
    [
        "De communicatie van deze school is echt waardeloos",
        "kut, school weer dicht door de sneeuw",
        "Iemand noemde juf Sanne een hoer op fb, schandalig!",
        "Politie onderzoekt dreigbrief aan basisschool in Muntendam",
    ],
)
def test_lawful_criticism_quotes_profanity_and_news_are_not_criminal(clf, text: str) -> None:
    assert clf.classify([text])[0].severity in ("none", "negative")


def test_bad_input_never_raises(clf) -> None:
    long_text = ("Mooie dag op school. " * 5000) + "Juf Anja woont op de Kerkstraat 12, 9649 AB."
    texts = ["", "   ", "\x00\x01\x1b[31m", "😀" * 50, long_text,
             "This school is great, the teachers are lovely and kind."]
    results = clf.classify(texts)
    assert len(results) == len(texts)
    assert results[0].categories == [] and results[0].severity == "none"
    # Rules scan the whole 100 KB text even though the model reads only part of it.
    assert any(s.text.startswith("Kerkstraat") for spans in results[4].explanations.values()
               for s in spans) or "doxing" in results[4].scores
    assert results[5].language == "en" and results[5].categories == []


def test_training_is_reproducible(tmp_path: Path) -> None:
    examples = load_examples(training_files())[:300]
    params = TrainParams(epochs=2, num_buckets=2**12)
    first, _ = train_model(examples, params)
    second, _ = train_model(examples, params)
    for (name, a), (_, b) in zip(first.state_dict().items(), second.state_dict().items(), strict=True):
        assert (a == b).all(), name


def test_model_eval_command(tmp_path: Path) -> None:
    data = tmp_path / "eval.jsonl"
    rows = [
        {"id": "e1", "platform": "x", "text": "Ik steek die school morgen in de fik", "sentiment": "negative",
         "categories": ["threat"], "note": ""},
        {"id": "e2", "platform": "x", "text": "Wat een mooie kerstmarkt op de Verkruisen!",
         "sentiment": "positive", "categories": [], "note": ""},
    ]
    data.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    result = CliRunner().invoke(cli, ["model", "eval", "--data", str(data), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["examples"] == 2
    assert set(report["categories"]) == {"insult", "defamation", "threat", "harassment", "doxing",
                                         "discrimination", "confidential"}
    assert report["severity_confusion"]["urgent"]["urgent"] + report["severity_confusion"]["urgent"]["criminal"] \
        + report["severity_confusion"]["urgent"]["negative"] + report["severity_confusion"]["urgent"]["none"] == 1
    text = CliRunner().invoke(cli, ["model", "eval", "--data", str(data)])
    assert "macro-F1" in text.output


def test_tokenizer_fast_path_equals_the_transformers_path_with_the_separator() -> None:
    from classifier.model import SEP_ID, NgramTokenizer

    tokenizer = NgramTokenizer(num_buckets=2**12, separator=True)
    for text in ["Die juf is een vuile k@nker trut!", "Polen zijn geen tuig.", "😀 ok"]:
        fast = tokenizer.encode_fast(text, 2048)
        assert fast == tokenizer(text)["input_ids"]
        assert fast.count(SEP_ID) == 1
    legacy = NgramTokenizer(num_buckets=2**12)
    assert SEP_ID not in legacy.encode_fast("Polen zijn geen tuig.", 2048)


def test_linear_sentiment_part_reads_only_the_word_level_features() -> None:
    import torch

    from classifier.model import SEP_ID, NgramConfig, NgramForSequenceClassification

    model = NgramForSequenceClassification(NgramConfig(num_buckets=2**10, embedding_dim=8, hidden_dim=8,
                                                       sentiment_mix=0.85))
    network = model.members[0]
    assert network.sentiment_linear is not None
    torch.nn.init.normal_(network.sentiment_linear.weight)
    words_then_chars = torch.tensor([[11, 12, 13, SEP_ID, 50, 51, 52, 0]])
    other_chars = torch.tensor([[11, 12, 13, SEP_ID, 70, 71, 0, 0]])
    first = network.linear_sentiment(words_then_chars, (words_then_chars != 0).long())
    second = network.linear_sentiment(other_chars, (other_chars != 0).long())
    assert torch.allclose(first, second)
    assert model(input_ids=words_then_chars).logits.shape == (1, 10)
    # A model without the linear part (saved before it existed) has no such table.
    assert NgramForSequenceClassification(NgramConfig(num_buckets=2**10, embedding_dim=8)).members[0] \
        .sentiment_linear is None


def test_only_a_confident_category_makes_the_stance_negative() -> None:
    import numpy as np

    from classifier.labels import CATEGORIES
    from classifier.predict import stance_negative

    scores = np.zeros(len(CATEGORIES))
    scores[CATEGORIES.index("threat")] = 0.2  # flagged for recall, not a judgement of the stance
    assert not stance_negative(["threat"], scores)
    scores[CATEGORIES.index("threat")] = 0.8
    assert stance_negative(["threat"], scores)
    scores[CATEGORIES.index("confidential")] = 0.9
    assert not stance_negative(["confidential"], scores)
