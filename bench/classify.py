"""Classifier benchmark: the shipped model on 2,000 posts, naive loop against production path.

    python -m bench.classify [--posts 2000] [--json] [--threads N] [--profile FILE] [--dump FILE]

The posts are the texts of `classifier/data/*.jsonl`, shuffled and varied deterministically
(retweet prefix, hashtag, emoji, shouting), plus a few long posts of 5,000 to 50,000 characters.
One run measures, on the same posts:

1. load: in a fresh child process, the wall time of importing torch and transformers ("import")
   and then of `load_classifier("builtin")` ("load"; our own modules and the model files), and
   of the first one-post `classify` (lazy data: language model, lexicon);
2. naive: a transformers `pipeline("text-classification", top_k=None, function_to_apply="none")`
   on the same model directory, called once per post on the text the model reads
   (`model_text`), its logits turned into labels as production does (biased sentiment argmax,
   category thresholds), without rules, language or explanations;
3. batched model: `BuiltinClassifier.model_scores` on all posts plus the same label step: the
   naive loop's work, done the production way (the like-for-like speed-up);
4. production: `BuiltinClassifier.classify(posts)`, everything a stored post gets: batched model
   scores, rules, language, and occlusion explanations for categories no rule explains;
5. peak RSS of this process (`getrusage(RUSAGE_SELF)`: both models loaded, all passes run).

Every pass is warmed up on the first posts first. torch runs `--threads` intra-op threads
(default: the machine's physical cores) in every pass. Targets (a 2-core machine): load < 2 s,
production >= 200 posts/s, the production way of doing the naive loop's work (3.) >= 5x the
naive loop, peak RSS < 1 GB. Full classify is not held to 5x the naive loop: its rules alone
take longer than that whole loop; the ratio is printed. Exit status 0 when all targets are
met, 1 otherwise. Wall times depend on what else the machine runs; CPU time is steadier.
Not a test: pytest never runs it. `--dump` writes production's results as JSON lines (to check
that an optimisation changes no output); the digest line is the SHA-256 of that dump.
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import json
import os
import random
import resource
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # also runnable as `python bench/classify.py`
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from classifier import load_classifier  # noqa: E402
from classifier.labels import CATEGORIES, SENTIMENTS  # noqa: E402
from classifier.predict import BUILTIN_DIR, MAX_FEATURES, BuiltinClassifier, model_text  # noqa: E402

TARGET_LOAD_SECONDS = 2.0
TARGET_POSTS_PER_SECOND = 200.0
TARGET_SPEEDUP = 5.0
TARGET_PEAK_RSS_MB = 1024.0
DATA = ROOT / "classifier" / "data"
SEED = 20261125
WARMUP = 32
LONG_CHARS = (5_000, 12_000, 25_000, 50_000)
# Deterministic disguises of a real post, as reposts and replies look.
VARIANTS = (
    lambda t, i: t,
    lambda t, i: f"RT @ouder_{i % 97}: {t}",
    lambda t, i: f"{t} #Verkruisen #groep{i % 8 + 1}",
    lambda t, i: f"{t} 😡😡" if i % 2 else f"{t} 👍",
    lambda t, i: t.upper() if len(t) < 120 else f"{t[:60].upper()}{t[60:]}",
)
# Run in a fresh interpreter: what a service pays once at start, import and load apart.
LOAD_SCRIPT = """
import json, sys, time
started = time.perf_counter()
import torch, transformers
from transformers import (AutoConfig, AutoModelForSequenceClassification, AutoTokenizer,
                          PreTrainedModel, PreTrainedTokenizer)
from transformers.modeling_outputs import SequenceClassifierOutput
torch.set_num_threads(int(sys.argv[1]))
imported = time.perf_counter()
from classifier import load_classifier
model = load_classifier("builtin")
loaded = time.perf_counter()
model.classify(["Juf Anja van groep 5 is echt een schat, dank voor het mooie schoolreisje!"])
first = time.perf_counter()
print(json.dumps({"import": imported - started, "load": loaded - imported, "first": first - loaded}))
"""


@dataclass(frozen=True)
class Result:
    posts: int
    long_posts: int
    characters: int
    threads: int
    import_seconds: float  # torch + transformers, fresh process
    load_seconds: float  # load_classifier("builtin") after those imports
    first_classify_seconds: float  # first one-post classify: lazy language model and lexicon
    naive_seconds: float
    naive_cpu_seconds: float
    naive_posts_per_second: float
    batched_model_seconds: float
    batched_model_posts_per_second: float
    production_seconds: float
    production_cpu_seconds: float
    production_posts_per_second: float
    speedup: float  # batched model scores over the naive loop: the same work (the target)
    classify_over_naive: float  # full classify over the naive loop, which does far less
    model_label_agreement: int  # posts where naive and batched model give the same labels
    max_probability_difference: float
    posts_flagged: int  # posts with a category in production
    posts_occluded: int  # posts that needed occlusion (a category no rule explains)
    peak_rss_mb: float
    output_digest: str  # SHA-256 of production's results (the --dump lines)

    @property
    def checks(self) -> dict[str, bool]:
        return {
            "load_seconds": self.load_seconds < TARGET_LOAD_SECONDS,
            "production_posts_per_second": self.production_posts_per_second >= TARGET_POSTS_PER_SECOND,
            "speedup": self.speedup >= TARGET_SPEEDUP,
            "peak_rss_mb": self.peak_rss_mb < TARGET_PEAK_RSS_MB,
        }

    @property
    def ok(self) -> bool:
        return all(self.checks.values())


def physical_cores() -> int:
    """Distinct (socket, core) pairs in /proc/cpuinfo: hyper-threads share a core's units."""
    try:
        pairs, physical = set(), "0"
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "physical id":
                physical = value.strip()
            elif key.strip() == "core id":
                pairs.add((physical, value.strip()))
        if pairs:
            return min(len(pairs), len(os.sched_getaffinity(0)))
    except OSError:
        pass
    return os.cpu_count() or 1


def build_posts(count: int) -> list[str]:
    """`count` posts: the training texts shuffled, cycled and varied, with long posts among them."""
    texts = [json.loads(line)["text"] for path in sorted(DATA.glob("*.jsonl"))
             for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    rng = random.Random(SEED)
    rng.shuffle(texts)
    long_posts = [length for length in LONG_CHARS if count >= 20 * len(LONG_CHARS)]
    posts = []
    for i in range(count - len(long_posts)):
        text = texts[i % len(texts)]
        posts.append(VARIANTS[(i + i // len(texts)) % len(VARIANTS)](text, i))
    for n, length in enumerate(long_posts):
        # A long post: a thread of real posts glued together (rules scan all of it).
        parts, size = [], 0
        while size < length:
            parts.append(rng.choice(texts))
            size += len(parts[-1]) + 2
        posts.insert((n + 1) * len(posts) // (len(long_posts) + 1), "\n\n".join(parts)[:length])
    return posts


def measure_load(threads: int) -> dict[str, float]:
    completed = subprocess.run([sys.executable, "-c", LOAD_SCRIPT, str(threads)], cwd=ROOT,
                               capture_output=True, text=True, check=True,
                               env={**os.environ, "PYTHONPATH": str(ROOT)})
    return json.loads(completed.stdout.strip().splitlines()[-1])


class Labeller:
    """Production's label step on model outputs alone (no rules, no language gate)."""

    def __init__(self, model: BuiltinClassifier) -> None:
        self.bias = np.array([model.sentiment_bias.get(s, 0.0) for s in SENTIMENTS])
        self.thresholds = np.array([model.thresholds[c] for c in CATEGORIES])

    def labels(self, sentiments: np.ndarray, categories: np.ndarray) -> list[tuple[str, tuple[str, ...]]]:
        """(sentiment, categories) per row of sentiment probabilities [n, 3], category ones [n, 7]."""
        chosen = (np.log(sentiments + 1e-9) + self.bias).argmax(1)
        flagged = categories >= self.thresholds
        return [(SENTIMENTS[int(s)], tuple(c for c, f in zip(CATEGORIES, row, strict=True) if f))
                for s, row in zip(chosen, flagged, strict=True)]


def naive_pipeline() -> Any:
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, pipeline

    import classifier.model  # noqa: F401  (registers the architecture with transformers)

    tokenizer = AutoTokenizer.from_pretrained(BUILTIN_DIR, local_files_only=True)
    model = AutoModelForSequenceClassification.from_pretrained(BUILTIN_DIR, local_files_only=True,
                                                               dtype=torch.float32)
    return pipeline("text-classification", model=model, tokenizer=tokenizer, top_k=None,
                    function_to_apply="none", device=-1)


def run_naive(pipe: Any, posts: list[str], labeller: Labeller
              ) -> tuple[float, float, list[tuple[str, tuple[str, ...]]], np.ndarray]:
    """One pipeline call a post; logits to probabilities and labels per post, as a loop would."""
    index = {label: i for i, label in pipe.model.config.id2label.items()}
    for post in posts[:WARMUP]:
        pipe(model_text(post), truncation=True, max_length=MAX_FEATURES)
    labels, probabilities = [], []
    wall, cpu = time.perf_counter(), time.process_time()
    for post in posts:
        logits = np.zeros(len(index), dtype=np.float32)
        for item in pipe(model_text(post), truncation=True, max_length=MAX_FEATURES)[0]:
            logits[index[item["label"]]] = item["score"]
        sentiment = np.exp(logits[:3] - logits[:3].max())
        sentiment /= sentiment.sum()
        categories = 1.0 / (1.0 + np.exp(-logits[3:]))
        labels += labeller.labels(sentiment[None], categories[None])
        probabilities.append(np.concatenate([sentiment, categories]))
    return time.perf_counter() - wall, time.process_time() - cpu, labels, np.stack(probabilities)


def result_line(result: Any) -> str:
    payload = asdict(result)
    payload["explanations"] = result.explanations_json()
    return json.dumps(payload, ensure_ascii=False, sort_keys=True)


def benchmark(count: int, threads: int, profile: Path | None, dump: Path | None) -> Result:
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # "Loading weights" bars would bury the figures
    torch.set_num_threads(threads)
    posts = build_posts(count)
    load = measure_load(threads)
    model = load_classifier("builtin")
    assert isinstance(model, BuiltinClassifier)
    labeller = Labeller(model)

    # Production first: its caches start as cold as a fresh service's (warm-up aside).
    model.classify(posts[:WARMUP])
    profiler = cProfile.Profile() if profile else None
    wall, cpu = time.perf_counter(), time.process_time()
    if profiler:
        profiler.enable()
    results = model.classify(posts)
    if profiler:
        profiler.disable()
        profiler.dump_stats(profile)
    production_wall, production_cpu = time.perf_counter() - wall, time.process_time() - cpu
    lines = [result_line(r) for r in results]
    if dump:
        dump.write_text("".join(line + "\n" for line in lines), encoding="utf-8")

    wall = time.perf_counter()
    sentiments, categories = model.model_scores(posts)
    batched_labels = labeller.labels(sentiments, categories)
    batched_wall = time.perf_counter() - wall

    naive_wall, naive_cpu, naive_labels, naive_probabilities = run_naive(naive_pipeline(), posts, labeller)
    difference = np.abs(naive_probabilities - np.concatenate([sentiments, categories], 1)).max()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    # ru_maxrss is in kilobytes on Linux (bytes on macOS).
    peak = usage.ru_maxrss / (1024 * 1024) if sys.platform == "darwin" else usage.ru_maxrss / 1024
    return Result(
        posts=len(posts), long_posts=sum(len(p) >= LONG_CHARS[0] for p in posts),
        characters=sum(map(len, posts)), threads=threads,
        import_seconds=round(load["import"], 3), load_seconds=round(load["load"], 3),
        first_classify_seconds=round(load["first"], 3),
        naive_seconds=round(naive_wall, 3), naive_cpu_seconds=round(naive_cpu, 2),
        naive_posts_per_second=round(len(posts) / naive_wall, 1),
        batched_model_seconds=round(batched_wall, 3),
        batched_model_posts_per_second=round(len(posts) / batched_wall, 1),
        production_seconds=round(production_wall, 3), production_cpu_seconds=round(production_cpu, 2),
        production_posts_per_second=round(len(posts) / production_wall, 1),
        speedup=round(naive_wall / batched_wall, 2), classify_over_naive=round(naive_wall / production_wall, 2),
        model_label_agreement=sum(a == b for a, b in zip(naive_labels, batched_labels, strict=True)),
        max_probability_difference=float(f"{difference:.2g}"),
        posts_flagged=sum(bool(r.categories) for r in results),
        posts_occluded=sum(any(not spans or spans[0].source == "model" for spans in r.explanations.values())
                           for r in results),
        peak_rss_mb=round(peak, 1),
        output_digest=hashlib.sha256("".join(line + "\n" for line in lines).encode()).hexdigest(),
    )


def report(result: Result) -> str:
    checks = result.checks

    def verdict(key: str) -> str:
        return "ok" if checks[key] else "MISSED"

    return "\n".join([
        "Schoolwacht classifier benchmark (shipped model, one process, same posts every pass)",
        f"  posts             {result.posts:>10,}   ({result.long_posts} long, "
        f"{result.characters:,} characters)",
        f"  torch threads     {result.threads:>10}   (physical cores unless --threads; every pass)",
        f"  import            {result.import_seconds:>10.2f} s   (torch + transformers, fresh process)",
        f"  load              {result.load_seconds:>10.2f} s   target < {TARGET_LOAD_SECONDS:g}: "
        f"{verdict('load_seconds')}",
        f"  first classify    {result.first_classify_seconds:>10.2f} s   (one post: lazy data)",
        f"  naive loop        {result.naive_posts_per_second:>10,.0f} posts/s   "
        f"({result.naive_seconds:.2f} s, CPU {result.naive_cpu_seconds:.2f} s; pipeline per post, "
        "model labels only)",
        f"  batched model     {result.batched_model_posts_per_second:>10,.0f} posts/s   "
        f"({result.batched_model_seconds:.2f} s; same work as the naive loop)",
        f"  production        {result.production_posts_per_second:>10,.0f} posts/s   "
        f"target >= {TARGET_POSTS_PER_SECOND:g}: {verdict('production_posts_per_second')}   "
        f"({result.production_seconds:.2f} s, CPU {result.production_cpu_seconds:.2f} s; "
        "model, rules, language, explanations)",
        f"  speed-up          {result.speedup:>10.1f} x   batched model over naive (same work), target >= "
        f"{TARGET_SPEEDUP:g}: {verdict('speedup')}",
        f"  classify / naive  {result.classify_over_naive:>10.1f} x   (classify also runs rules, language, "
        "explanations)",
        f"  label agreement   {result.model_label_agreement:>10,}   naive and batched model "
        f"(largest probability difference {result.max_probability_difference:g})",
        f"  posts flagged     {result.posts_flagged:>10,}   ({result.posts_occluded:,} needed occlusion: "
        "a category no rule explains)",
        f"  peak RSS          {result.peak_rss_mb:>10.1f} MB   target < {TARGET_PEAK_RSS_MB:,.0f}: "
        f"{verdict('peak_rss_mb')}",
        f"  output digest     {result.output_digest[:16]}   (SHA-256 of production's results)",
    ])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.classify", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--posts", type=int, default=2_000, help="posts to classify")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--threads", type=int, default=physical_cores(),
                        help="torch intra-op threads (default: physical cores)")
    parser.add_argument("--profile", type=Path, default=None,
                        help="run the production pass under cProfile and write its stats here")
    parser.add_argument("--dump", type=Path, default=None,
                        help="write production's results here, one JSON object a line")
    args = parser.parse_args(argv)
    if args.posts < WARMUP:
        parser.error(f"--posts must be at least {WARMUP}")
    result = benchmark(args.posts, args.threads, args.profile, args.dump)
    if args.json:
        payload: dict[str, Any] = {**asdict(result), "ok": result.ok, "checks": result.checks,
                                   "targets": {"load_seconds": TARGET_LOAD_SECONDS,
                                               "production_posts_per_second": TARGET_POSTS_PER_SECOND,
                                               "speedup": TARGET_SPEEDUP,
                                               "peak_rss_mb": TARGET_PEAK_RSS_MB}}
        print(json.dumps(payload, indent=2))
    else:
        print(report(result))
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
