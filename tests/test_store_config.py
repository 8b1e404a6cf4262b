"""Config validation: one clear line naming the key, secrets from the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from schoolwacht.errors import ConfigError
from store.config import load_settings, settings_from_dict

ROOT = Path(__file__).resolve().parent.parent
SCHOOL = {"name": "obs BM Verkruisen", "aliases": ["Verkruisen"]}


def _error(data: dict) -> str:
    with pytest.raises(ConfigError) as info:
        settings_from_dict(data)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_example_config_is_valid() -> None:
    settings = load_settings(ROOT / "schoolwacht.example.toml", environ={})
    assert settings.schools[0].name == "obs BM Verkruisen"
    assert {s.kind for s in settings.sources} >= {"mastodon", "rss", "bluesky", "reddit",
                                                   "youtube", "web", "x", "facebook_page"}
    facebook = settings.source("facebook-pagina")
    assert facebook.match is False  # the school's own page keeps every comment


def test_defaults_are_embedded() -> None:
    settings = settings_from_dict({"schools": [SCHOOL]})
    assert settings.database.url == "sqlite:///schoolwacht.db"
    assert settings.dashboard.port == 8000
    assert settings.classifier.model == "builtin"
    assert settings.crawl.max_download_bytes == 5 * 1024 * 1024


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({}, "schools: required key missing"),
        ({"schools": [{"name": "X"}]}, "schools[0]: a school needs at least one alias"),
        ({"schools": [SCHOOL], "databse": {}}, "databse: unknown key"),
        ({"schools": [SCHOOL], "database": {"url": "mysql://x"}}, "database.url"),
        ({"schools": [SCHOOL], "sources": [{"name": "a", "kind": "tiktok", "school": SCHOOL["name"]}]},
         "sources[0].kind: unknown source kind 'tiktok'"),
        ({"schools": [SCHOOL], "sources": [{"name": "a", "kind": "mastodon", "school": SCHOOL["name"],
                                            "base_url": "not a url"}]},
         "sources[0].base_url: not an http(s) URL"),
        ({"schools": [SCHOOL], "sources": [{"name": "a", "kind": "rss", "school": SCHOOL["name"],
                                            "url": "https://x.example/feed", "hashtags": []}]},
         "sources[0].hashtags: unknown key"),
        ({"schools": [SCHOOL], "sources": [{"name": "a", "kind": "rss", "school": "Other",
                                            "url": "https://x.example/feed"}]},
         "unknown school 'Other'"),
        ({"schools": [SCHOOL], "sources": [{"name": "a", "kind": "rss", "school": SCHOOL["name"]}]},
         "needs `url` or `urls`"),
        ({"schools": [SCHOOL], "dashboard": {"port": 70000}}, "dashboard.port"),
    ],
)
def test_bad_config_names_the_key(data: dict, expected: str) -> None:
    assert expected in _error(data)


def test_invalid_toml_and_missing_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[database\nurl=", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(bad, environ={})
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "missing.toml", environ={})


def test_config_path_from_environment(tmp_path: Path) -> None:
    file = tmp_path / "sw.toml"
    file.write_text('[[schools]]\nname = "A"\naliases = ["a"]\n', encoding="utf-8")
    settings = load_settings(None, environ={"SCHOOLWACHT_CONFIG": str(file)})
    assert settings.schools[0].name == "A"
    assert settings.config_file == file.resolve()


def test_secrets_come_only_from_named_environment_variables() -> None:
    data = {"schools": [SCHOOL], "mail": {"password_env": "SW_SMTP_PW"}}
    settings = settings_from_dict(data, environ={"SW_SMTP_PW": "geheim"})
    assert settings.secret(settings.mail.password_env) == "geheim"
    assert settings.secret("UNSET_VAR") is None
    assert "geheim" not in repr(settings)
