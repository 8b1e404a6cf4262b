"""Labelled examples: loading, validation, and the fixed train/dev split."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from classifier.labels import CATEGORIES, SENTIMENTS
from schoolwacht.errors import InputError

DATA_DIR = Path(__file__).parent / "data"
# Share of examples held out for calibration and evaluation, chosen by a hash of the id so
# that the split never changes when files are added or reordered.
DEV_PERCENT = 20


@dataclass(frozen=True)
class Example:
    id: str
    text: str
    sentiment: str
    categories: tuple[str, ...]
    platform: str = ""
    source_file: str = ""


def is_dev(example_id: str) -> bool:
    digest = hashlib.sha256(example_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:4], "big") % 100 < DEV_PERCENT


def load_examples(paths: Iterable[Path]) -> list[Example]:
    examples: list[Example] = []
    seen: set[str] = set()
    for path in paths:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                example = Example(id=row["id"], text=row["text"], sentiment=row["sentiment"],
                                  categories=tuple(row.get("categories") or ()),
                                  platform=row.get("platform", ""), source_file=path.name)
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                raise InputError(f"{path}:{number}: not a labelled example ({exc})") from None
            if example.sentiment not in SENTIMENTS or not set(example.categories) <= set(CATEGORIES):
                raise InputError(f"{path}:{number}: unknown label")
            if example.id in seen:
                raise InputError(f"{path}:{number}: duplicate id {example.id}")
            seen.add(example.id)
            examples.append(example)
    return examples


def training_files(data_dir: Path = DATA_DIR) -> list[Path]:
    return sorted(data_dir.glob("*.jsonl"))


def data_hash(paths: Iterable[Path]) -> str:
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def split(examples: list[Example]) -> tuple[list[Example], list[Example]]:
    train = [e for e in examples if not is_dev(e.id)]
    dev = [e for e in examples if is_dev(e.id)]
    return train, dev
