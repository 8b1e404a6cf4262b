"""HubClassifier: hub models read through label adapters, with tiny BERT models built on disk.

The models are real transformers models saved with `save_pretrained` (no download). A head with
zero weights and a chosen bias gives known probabilities whatever the text; one small model is
trained for a few steps so that a single nonsense word drives its "threat" score (occlusion).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers
from transformers import BertConfig, BertForSequenceClassification, PreTrainedTokenizerFast

from classifier import ARTICLES, CATEGORIES, load_classifier
from classifier.adapters import KNOWN_ADAPTERS, HubClassifier
from schoolwacht.errors import ConfigError

TOXIC = "ml6team/robbert-dutch-base-toxic-comments"
SENTIMENT = "DTAI-KULeuven/robbert-v2-dutch-sentiment"
ABUSIVE = "GroNLP/bert_dutch_base_abusive_language"
OWN_LABELS = ["sentiment:negative", "sentiment:neutral", "sentiment:positive", *CATEGORIES]
WORDS = ["de", "het", "een", "is", "en", "van", "juf", "meester", "school", "kinderen", "ouders", "dag", "leuk",
         "mooie", "morgen", "vandaag", "zorblax", "groep", "wij", "zijn", "naar", "gaan"]
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", *WORDS]
DUTCH = "de juf is leuk en de kinderen van groep zes zijn vandaag naar school"
ENGLISH = "This is a lovely English sentence about the weather and the garden this afternoon"


def _tokenizer(max_length: int | None = None) -> PreTrainedTokenizerFast:
    backend = Tokenizer(models.WordLevel({w: i for i, w in enumerate(VOCAB)}, unk_token="[UNK]"))
    backend.normalizer = normalizers.Lowercase()
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    limit = {"model_max_length": max_length} if max_length else {}  # unset: transformers' huge sentinel
    return PreTrainedTokenizerFast(tokenizer_object=backend, unk_token="[UNK]", pad_token="[PAD]",
                                   cls_token="[CLS]", sep_token="[SEP]", **limit)


def _config(labels: list[str], *, positions: int = 512, marker: str | None = None) -> BertConfig:
    config = BertConfig(vocab_size=len(VOCAB), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=37, max_position_embeddings=positions, hidden_dropout_prob=0.0,
                        attention_probs_dropout_prob=0.0, id2label=dict(enumerate(labels)),
                        label2id={label: i for i, label in enumerate(labels)})
    if marker:
        config.schoolwacht_adapter = marker
    return config


def make_model(path: Path, labels: list[str], bias: list[float], *, positions: int = 512,
               marker: str | None = None, max_length: int | None = None) -> Path:
    """A model whose logits are `bias` for every text (the head's weights are zero)."""
    torch.manual_seed(0)
    model = BertForSequenceClassification(_config(labels, positions=positions, marker=marker))
    with torch.no_grad():
        model.classifier.weight.zero_()
        model.classifier.bias.copy_(torch.tensor(bias))
    model.save_pretrained(path)
    _tokenizer(max_length).save_pretrained(path)
    return path


def sigmoid(x: float) -> float:
    return float(1 / (1 + np.exp(-x)))


@pytest.fixture(autouse=True, scope="module")
def one_thread() -> Iterator[None]:
    """Tiny models gain nothing from threads; on a busy machine two threads spin and stall."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def trigger_model(one_thread: None, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Schoolwacht's labels; the word "zorblax" (and nothing else) raises "threat"."""
    torch.manual_seed(0)
    model = BertForSequenceClassification(_config(OWN_LABELS))
    encode = _tokenizer()
    plain = ["de juf is leuk", "de school is mooie", "wij gaan morgen naar school", "het is een mooie dag",
             "de kinderen van groep zijn leuk", "ouders en meester gaan vandaag"]
    texts = plain + [" ".join([*t.split()[:2], "zorblax", *t.split()[2:]]) for t in plain]
    threat = torch.tensor([0.0] * len(plain) + [1.0] * len(plain))
    batch = encode(texts, padding=True, return_tensors="pt")
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    model.train()
    for _ in range(80):
        logits = model(**batch).logits
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits[:, 3 + CATEGORIES.index("threat")],
                                                                    threat)
        loss = loss + torch.nn.functional.cross_entropy(logits[:, :3], torch.ones(len(texts), dtype=torch.long))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    path = tmp_path_factory.mktemp("trigger")
    model.save_pretrained(path)
    encode.save_pretrained(path)
    return path


def test_known_adapters_are_keyed_by_hub_id() -> None:
    assert set(KNOWN_ADAPTERS) == {TOXIC, SENTIMENT, ABUSIVE}


@pytest.mark.parametrize("how", ["adapter", "marker", "dirname", "labels"])
def test_toxic_model_maps_toxic_to_insult_and_negative(tmp_path: Path, how: str) -> None:
    labels = ["non-toxic", "toxic"] if how == "labels" else ["LABEL_0", "LABEL_1"]
    folder = tmp_path / ("robbert-dutch-base-toxic-comments" if how == "dirname" else "model")
    make_model(folder, labels, [0.0, 3.0], marker=TOXIC if how == "marker" else None)
    classifier = HubClassifier(str(folder), adapter=TOXIC if how == "adapter" else None)
    assert classifier.adapter.name == "toxic"
    (result,) = classifier.classify([DUTCH])
    assert result.scores["insult"] == pytest.approx(sigmoid(3.0), abs=1e-3)
    assert result.categories == ["insult"]
    assert result.sentiment == "negative"
    assert result.scores["sentiment:negative"] == pytest.approx(sigmoid(3.0), abs=1e-3)
    assert result.severity == "criminal"
    assert result.articles == {"insult": ARTICLES["insult"]}
    # A model whose output ignores the text has no word that explains it: no whole-text span.
    assert result.explanations["insult"] == []
    assert result.model == str(folder) and result.version == "local" and result.language == "nl"


def test_toxic_model_clean_text(tmp_path: Path) -> None:
    make_model(tmp_path, ["non-toxic", "toxic"], [3.0, 0.0])
    (result,) = HubClassifier(str(tmp_path)).classify([DUTCH])
    assert result.categories == [] and result.explanations == {}
    assert result.scores["insult"] == pytest.approx(1 - sigmoid(3.0), abs=1e-3)
    assert (result.sentiment, result.severity) == ("neutral", "none")


@pytest.mark.parametrize(("bias", "sentiment", "severity"), [
    ([0.0, 2.0], "positive", "none"),
    ([2.0, 0.0], "negative", "negative"),
    ([0.0, 0.2], "neutral", "none"),  # 0.55 for positive: too unsure to pick a side
])
def test_sentiment_model(tmp_path: Path, bias: list[float], sentiment: str, severity: str) -> None:
    make_model(tmp_path, ["Negative", "Positive"], bias)
    classifier = HubClassifier(str(tmp_path), adapter=SENTIMENT)
    (result,) = classifier.classify([DUTCH])
    assert (result.sentiment, result.severity) == (sentiment, severity)
    assert result.scores["sentiment:positive"] == pytest.approx(sigmoid(bias[1] - bias[0]), abs=1e-3)
    assert result.scores["sentiment:neutral"] == 0.0
    # The model knows no categories: they are all zero and none fires.
    assert all(result.scores[c] == 0.0 for c in CATEGORIES) and result.categories == []


def test_sentiment_model_with_anonymous_labels(tmp_path: Path) -> None:
    make_model(tmp_path, ["LABEL_0", "LABEL_1"], [3.0, 0.0])
    classifier = HubClassifier(str(tmp_path), adapter=SENTIMENT)
    assert classifier.adapter.name == "polarity"
    assert classifier.classify([DUTCH])[0].sentiment == "negative"
    make_model(tmp_path, ["Negative", "Positive", "Mixed"], [0.0, 0.0, 0.0])
    with pytest.raises(ConfigError, match="Negative/Positive"):
        HubClassifier(str(tmp_path), adapter=SENTIMENT)


@pytest.mark.parametrize(("labels", "bias", "insult", "negative"), [
    (["NOT", "ABU"], [0.0, 2.0], sigmoid(2.0), sigmoid(2.0)),
    (["LABEL_0", "LABEL_1", "LABEL_2"], [0.0, 1.0, 1.0], 2 * np.e / (1 + 2 * np.e), 2 * np.e / (1 + 2 * np.e)),
    # Offensive without a target (OFF) is negative but not an insult.
    (["NOT", "ABU", "OFF"], [0.0, -9.0, 2.0], 0.0, sigmoid(2.0)),
])
def test_abusive_model(tmp_path: Path, labels: list[str], bias: list[float], insult: float,
                       negative: float) -> None:
    make_model(tmp_path, labels, bias)
    classifier = HubClassifier(str(tmp_path), adapter=ABUSIVE)
    (result,) = classifier.classify([DUTCH])
    assert result.scores["insult"] == pytest.approx(insult, abs=1e-3)
    assert result.scores["sentiment:negative"] == pytest.approx(negative, abs=1e-3)
    assert ("insult" in result.categories) == (insult >= 0.5)


def test_abusive_model_found_by_its_labels(tmp_path: Path) -> None:
    make_model(tmp_path, ["NOT", "ABU"], [0.0, 2.0])
    assert HubClassifier(str(tmp_path)).adapter.name == "dalc-abusive"


def test_known_adapter_rejects_labels_it_does_not_know(tmp_path: Path) -> None:
    make_model(tmp_path, ["spam", "ham"], [0.0, 0.0])
    with pytest.raises(ConfigError, match="toxic"):
        HubClassifier(str(tmp_path), adapter=TOXIC)
    with pytest.raises(ConfigError, match="Onbekende adapter"):
        HubClassifier(str(tmp_path), adapter="someone/else")


def test_generic_adapter_with_schoolwacht_labels(tmp_path: Path) -> None:
    bias = [-2.0, 2.0, -2.0] + [4.0 if c == "threat" else -4.0 for c in CATEGORIES]
    make_model(tmp_path, OWN_LABELS, bias)
    classifier = HubClassifier(str(tmp_path))
    assert classifier.adapter.name == "generic" and classifier.adapter.provides == CATEGORIES
    (result,) = classifier.classify([DUTCH])
    assert result.scores["threat"] == pytest.approx(sigmoid(4.0), abs=1e-3)
    assert result.categories == ["threat"]
    assert result.severity == "urgent"
    # The model said neutral; a threat is never neutral.
    assert result.sentiment == "negative" and result.scores["sentiment:neutral"] > 0.9


def test_generic_adapter_with_plain_sentiment_labels(tmp_path: Path) -> None:
    make_model(tmp_path, ["positive", "negative", "neutral"], [0.0, 3.0, 0.0])
    (result,) = HubClassifier(str(tmp_path)).classify([DUTCH])
    assert result.sentiment == "negative" and result.severity == "negative"
    assert result.sentiment_score == pytest.approx(np.exp(3) / (np.exp(3) + 2), abs=1e-3)
    assert result.categories == []


def test_generic_adapter_rejects_unknown_labels_before_reading_weights(tmp_path: Path) -> None:
    make_model(tmp_path, ["spam", "negative", "ham"], [0.0, 0.0, 0.0])
    (tmp_path / "model.safetensors").unlink()  # the labels alone decide
    with pytest.raises(ConfigError) as error:
        HubClassifier(str(tmp_path))
    message = str(error.value)
    assert "labels die Schoolwacht niet kent: spam, ham;" in message  # "negative" is known
    assert "\n" not in message


def test_hub_id_not_available_offline_fails_fast(tmp_path: Path) -> None:
    started = time.monotonic()
    with pytest.raises(ConfigError, match="niet offline beschikbaar") as error:
        HubClassifier("schoolwacht-tests/no-such-model")
    assert time.monotonic() - started < 10
    assert "\n" not in str(error.value)
    with pytest.raises(ConfigError, match="niet offline beschikbaar"):
        load_classifier(str(tmp_path / "missing" / "model"))


def test_broken_local_model_is_a_config_error(tmp_path: Path) -> None:
    make_model(tmp_path, ["non-toxic", "toxic"], [0.0, 0.0])
    (tmp_path / "model.safetensors").write_bytes(b"not a model")
    with pytest.raises(ConfigError, match="kon niet worden geladen"):
        HubClassifier(str(tmp_path))


def test_hub_id_from_the_offline_cache(tmp_path: Path) -> None:
    """A hub id whose files are in the Hugging Face cache loads without network, with the
    snapshot's commit as version and the adapter chosen by the id."""
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "hub" / ("models--" + TOXIC.replace("/", "--"))
    make_model(repo / "snapshots" / commit, ["LABEL_0", "LABEL_1"], [0.0, 3.0])
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    script = ("import json; from classifier.adapters import HubClassifier; "
              f"c = HubClassifier({TOXIC!r}); r = c.classify([{DUTCH!r}])[0]; "
              "print(json.dumps([c.adapter.name, c.version, c.name, r.categories]))")
    env = {**os.environ, "HF_HUB_CACHE": str(tmp_path / "hub"), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).parents[1])
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == ["toxic", commit, TOXIC, ["insult"]]


def test_non_dutch_text_gets_no_categories(tmp_path: Path) -> None:
    make_model(tmp_path, ["non-toxic", "toxic"], [0.0, 5.0])
    (english, dutch) = HubClassifier(str(tmp_path)).classify([ENGLISH, DUTCH])
    assert english.language == "en"
    assert (english.categories, english.explanations, english.sentiment, english.severity) == ([], {}, "neutral",
                                                                                                "none")
    assert english.scores["insult"] > 0.9  # the score is kept, but not acted on
    assert dutch.categories == ["insult"]


def test_long_text_is_truncated_for_the_model_but_not_for_the_rules(tmp_path: Path) -> None:
    # 32 positions: a model fed more tokens than that would fail on its position embeddings.
    make_model(tmp_path, OWN_LABELS, [0.0, 2.0, 0.0] + [-4.0] * len(CATEGORIES), positions=32)
    classifier = HubClassifier(str(tmp_path))
    assert classifier.max_length == 32
    tail = "Ze woont op de Dorpsstraat 12, 9681 AB Midwolda, ga maar langs."
    text = (DUTCH + ". ") * (100_000 // (len(DUTCH) + 2)) + tail
    assert len(text) > 100_000
    (result,) = classifier.classify([text])
    assert "doxing" in result.categories
    spans = result.explanations["doxing"]
    assert spans and all(s.source == "rule" and s.start > 99_000 for s in spans)
    assert all(text[s.start:s.end] == s.text for s in spans)


@pytest.mark.parametrize(("positions", "tokenizer_limit", "expected"), [(32, None, 32), (32, 16, 16), (16, 32, 16)])
def test_model_reads_no_more_than_tokenizer_and_positions_allow(tmp_path: Path, positions: int,
                                                              tokenizer_limit: int | None, expected: int) -> None:
    make_model(tmp_path, OWN_LABELS, [0.0] * len(OWN_LABELS), positions=positions, max_length=tokenizer_limit)
    classifier = HubClassifier(str(tmp_path))
    assert classifier.max_length == expected
    classifier.classify([" ".join(WORDS * 10)])  # 220 words: runs only if cut to what the model can read


def test_model_attributions_explain_a_category_without_rule_hits(trigger_model: Path) -> None:
    classifier = HubClassifier(str(trigger_model))
    text = "de juf zorblax is leuk en wij gaan morgen naar school"
    (flagged, plain) = classifier.classify([text, "de juf is leuk en wij gaan morgen naar school"])
    assert "threat" in flagged.categories and "threat" not in plain.categories
    spans = flagged.explanations["threat"]
    assert ("zorblax", "model") in [(s.text, s.source) for s in spans]
    assert all(text[s.start:s.end] == s.text and len(s.text) < len(text) for s in spans)


def test_batches_give_the_same_scores_in_the_same_order(trigger_model: Path) -> None:
    texts = ["de juf zorblax is leuk", "het is een mooie dag", "", "wij gaan morgen naar school zorblax",
             "de kinderen van groep zijn leuk en de ouders gaan vandaag naar de school"]
    one = HubClassifier(str(trigger_model), batch_size=1).classify(texts)
    many = HubClassifier(str(trigger_model), batch_size=64).classify(texts)
    for a, b in zip(one, many, strict=True):
        assert a.categories == b.categories
        assert a.scores == pytest.approx(b.scores, abs=2e-4)
    assert one[2].categories == [] and one[2].sentiment == "neutral"
    assert HubClassifier(str(trigger_model)).classify([]) == []
    assert ["threat" in r.categories for r in many] == [True, False, False, True, False]


def test_load_classifier_picks_the_hub_classifier_for_a_model_folder(tmp_path: Path) -> None:
    make_model(tmp_path, ["non-toxic", "toxic"], [0.0, 3.0])
    classifier = load_classifier(str(tmp_path), batch_size=8)
    assert isinstance(classifier, HubClassifier)
    assert classifier.batch_size == 8
    (result,) = classifier.classify([DUTCH])
    assert result.categories == ["insult"]
