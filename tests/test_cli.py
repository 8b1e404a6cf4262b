"""The `schoolwacht` command as a user runs it (a real process), on the contracts of DESIGN.md."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.helpers.fixtures import ROOT, Env


def _run(env: Env, *args: str, extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "schoolwacht.cli", "--config", str(env.config_file), *args],
        cwd=ROOT, capture_output=True, text=True, timeout=180,
        env={**os.environ, **(extra_env or {})},
    )


def test_init_crawl_posts_and_sources(env: Env, mockserver: str) -> None:
    env.write([
        {"name": "kapot", "kind": "mastodon", "base_url": f"{mockserver}/mastodon/garbage",
         "hashtags": ["verkruisen"]},
        {"name": "goed", "kind": "mastodon", "base_url": f"{mockserver}/mastodon/n10",
         "hashtags": ["verkruisen"]},
    ])
    assert _run(env, "init").returncode == 0

    crawl = _run(env, "crawl")
    # One source failed, the other still finished; the command reports failure.
    assert crawl.returncode == 1
    assert "1 of 2 sources had errors" in crawl.stderr
    assert "goed: 6 new posts" in crawl.stdout

    posts = _run(env, "posts", "--json")
    assert posts.returncode == 0
    rows = [json.loads(line) for line in posts.stdout.splitlines()]
    assert len(rows) == 6
    for key in ("id", "platform", "external_id", "url", "author", "text", "created_at",
                "school", "source"):
        assert key in rows[0]
    assert rows[0]["school"] == "obs BM Verkruisen" and rows[0]["source"] == "goed"

    sources = _run(env, "sources", "--json")
    by_name = {row["name"]: row for row in map(json.loads, sources.stdout.splitlines())}
    assert by_name["goed"]["posts"] == 6 and by_name["goed"]["last_error"] is None
    assert by_name["goed"]["last_run"] is not None
    assert "ongeldige UTF-8" in by_name["kapot"]["last_error"]
    assert by_name["kapot"]["posts"] == 0

    table = _run(env, "sources")
    assert "kapot" in table.stdout and "ongeldige UTF-8" in table.stdout

    only = _run(env, "crawl", "--source", "goed")
    assert only.returncode == 0 and "goed: 0 new posts" in only.stdout


def test_errors_are_one_line_and_nonzero(env: Env) -> None:
    env.config_file.write_text('[[schools]]\nname = "A"\naliases = ["a"]\n[[sources]]\n'
                               'name = "s"\nkind = "telegram"\nschool = "A"\n', encoding="utf-8")
    result = _run(env, "init")
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "sources[0].kind: unknown source kind 'telegram'" in lines[0]

    missing = subprocess.run([sys.executable, "-m", "schoolwacht.cli", "posts"], cwd=ROOT,
                             capture_output=True, text=True,
                             env={**os.environ, "SCHOOLWACHT_CONFIG": str(env.path / "none.toml")})
    assert missing.returncode != 0 and "not found" in missing.stderr


def test_crawl_unknown_source(env: Env) -> None:
    env.write([])
    result = _run(env, "crawl", "--source", "nope")
    assert result.returncode != 0 and "unknown source 'nope'" in result.stderr
