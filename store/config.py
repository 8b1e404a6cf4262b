"""The settings object: `schoolwacht.toml` parsed and validated once (DESIGN.md, Contracts).

Nothing else in Schoolwacht reads `os.environ`: secrets are named in the file
(`password_env = "..."`) and resolved here through `Settings.secret`.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from schoolwacht.errors import ConfigError

CONFIG_ENV = "SCHOOLWACHT_CONFIG"
DEFAULT_CONFIG_FILE = "schoolwacht.toml"


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) URL: {value!r}")
    return value


HttpUrl = Annotated[str, AfterValidator(_http_url)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DatabaseSettings(_Strict):
    url: str = "sqlite:///schoolwacht.db"

    @field_validator("url")
    @classmethod
    def _known_backend(cls, value: str) -> str:
        if not value.startswith(("sqlite:", "postgresql:", "postgresql+")):
            raise ValueError("must start with sqlite:/// or postgresql+psycopg://")
        return value


class StorageSettings(_Strict):
    dir: Path = Path("schoolwacht-data")


class DashboardSettings(_Strict):
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    # Worker processes serving the dashboard. 1: a thread of `schoolwacht run` (enough for a
    # school's few users); more: separate processes (`serve`, or started by `run`), one per core.
    workers: int = Field(default=1, ge=1, le=32)
    base_url: str | None = None  # public URL used in e-mail links


class MailSettings(_Strict):
    host: str = "127.0.0.1"
    port: int = Field(default=25, ge=1, le=65535)
    sender: str = "schoolwacht@school.example"
    director: list[str] = Field(default_factory=list)
    username_env: str | None = None
    password_env: str | None = None
    starttls: bool = False
    timeout_seconds: float = Field(default=30, gt=0)


class ClassifierSettings(_Strict):
    model: str = "builtin"
    batch_size: int = Field(default=64, ge=1, le=4096)
    # A hub id may be fetched from the Hugging Face hub (needs internet); off by default.
    allow_download: bool = False


class CrawlSettings(_Strict):
    """Politeness and limits every spider shares (SOURCES.md, Scrapy notes)."""

    user_agent: str = "Schoolwacht/0.1 (+https://github.com/schoolwacht; monitoring for a school)"
    max_download_bytes: int = Field(default=5 * 1024 * 1024, ge=1024)
    timeout_seconds: float = Field(default=30, gt=0)
    retries: int = Field(default=3, ge=0, le=10)
    backoff_seconds: float = Field(default=2.0, ge=0)
    max_retry_after_seconds: float = Field(default=300, ge=0)
    max_pages: int = Field(default=500, ge=1)  # per crawl and endpoint; a first crawl stops here
    process_timeout_seconds: float = Field(default=900, gt=0)


_CLOCK = r"^(?:[01][0-9]|2[0-3]):[0-5][0-9]$"
_WEEKDAYS = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


class ScheduleSettings(_Strict):
    """When the scheduler runs its jobs (crawls run on each source's own interval)."""

    timezone: str = "Europe/Amsterdam"
    digest_day: _WEEKDAYS = "mon"
    digest_time: str = Field(default="07:30", pattern=_CLOCK)
    classify_every_seconds: int = Field(default=60, ge=5)
    outbox_every_seconds: int = Field(default=60, ge=5)
    recheck_time: str = Field(default="03:00", pattern=_CLOCK)  # daily: are flagged posts still online?
    retention_time: str = Field(default="03:30", pattern=_CLOCK)  # daily: delete what is kept too long
    # A job holds a lease in the database while it runs, so two `schoolwacht run` processes on one
    # database never run it twice; a crashed holder's lease expires after this long.
    lease_seconds: int = Field(default=300, ge=10)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value


class RetentionSettings(_Strict):
    """How long data is kept (AVG: no longer than the school needs it)."""

    # Posts that never became part of a case, with their captures and classifications.
    unflagged_days: int = Field(default=30, ge=1)
    # Cases closed or dismissed this long ago, with their timeline and their posts (a post that is
    # also in a case still kept stays); cases once reported to the police use `reported_case_days`.
    closed_case_days: int = Field(default=365, ge=1)
    reported_case_days: int = Field(default=1825, ge=1)


class AlertSettings(_Strict):
    # Severities mailed at once; `negative` waits for the weekly digest.
    immediate: list[Literal["urgent", "criminal", "negative"]] = Field(default_factory=lambda: ["urgent", "criminal"])
    max_attempts: int = Field(default=12, ge=1)  # then the mail stays in the outbox as failed
    retry_base_seconds: float = Field(default=60, ge=1)  # back-off: base * 2**attempts, capped
    retry_max_seconds: float = Field(default=3600, ge=1)


class EvidenceSettings(_Strict):
    """Evidence for a police report (`evidence/`): screenshots of flagged posts and the export."""

    # Real screenshots of public post pages in Debian's Chromium (Playwright never downloads one);
    # off, or when a page cannot be reached, the post is rendered from the stored data instead.
    screenshots: bool = True
    chromium: Path = Path("/usr/bin/chromium")
    screenshot_timeout_seconds: float = Field(default=20, gt=0, le=300)
    # The scheduler's `evidence` job: screenshots of new criminal/urgent posts, at most this many a run.
    every_seconds: int = Field(default=300, ge=30)
    max_per_run: int = Field(default=20, ge=1, le=1000)
    # Lets the browser open a post page on a private/loopback address (an intranet forum; tests).
    # Only the post's own host is trusted; what the page loads or redirects to must be public.
    allow_private: bool = False


class SchoolSettings(_Strict):
    name: str = Field(min_length=1)
    aliases: list[str] = Field(default_factory=list)
    watch_names: list[str] = Field(default_factory=list)
    exclude: list[str] = Field(default_factory=list)
    timezone: str = "Europe/Amsterdam"

    @model_validator(mode="after")
    def _has_terms(self) -> SchoolSettings:
        if not [t for t in [*self.aliases, *self.watch_names] if t.strip()]:
            raise ValueError("a school needs at least one alias or watch name")
        return self


class _SourceBase(_Strict):
    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    school: str
    interval_minutes: int = Field(default=60, ge=1)
    enabled: bool = True
    match: bool = True
    # Lets a source reach hosts on private/loopback addresses (an intranet page; tests).
    allow_private: bool = False

    def settings_json(self) -> dict[str, Any]:
        """Kind-specific settings as stored in `Source.settings`."""
        common = {"name", "school", "interval_minutes", "enabled", "match", "kind"}
        return self.model_dump(mode="json", exclude=common)


class RssSource(_SourceBase):
    kind: Literal["rss"]
    url: HttpUrl | None = None
    urls: list[HttpUrl] = Field(default_factory=list)

    @model_validator(mode="after")
    def _has_url(self) -> RssSource:
        if not self.url and not self.urls:
            raise ValueError("an rss source needs `url` or `urls`")
        return self

    def feed_urls(self) -> list[str]:
        return ([self.url] if self.url else []) + list(self.urls)


class MastodonSource(_SourceBase):
    kind: Literal["mastodon"]
    base_url: HttpUrl
    hashtags: list[str] = Field(default_factory=list)
    accounts: list[str] = Field(default_factory=list)  # numeric ids or acct handles
    token_env: str | None = None


class BlueskySource(_SourceBase):
    kind: Literal["bluesky"]
    base_url: HttpUrl = "https://bsky.social"
    # getAuthorFeed is served by the public AppView, not by the PDS that hosts sessions.
    public_base_url: HttpUrl = "https://public.api.bsky.app"
    query: str | None = None
    handle: str | None = None
    password_env: str | None = None
    actors: list[str] = Field(default_factory=list)


class RedditSource(_SourceBase):
    kind: Literal["reddit"]
    base_url: HttpUrl = "https://www.reddit.com"
    subreddits: list[str] = Field(min_length=1)


class YoutubeSource(_SourceBase):
    kind: Literal["youtube"]
    base_url: HttpUrl = "https://www.googleapis.com"
    feed_base_url: HttpUrl = "https://www.youtube.com"
    channel_ids: list[str] = Field(default_factory=list)
    video_ids: list[str] = Field(default_factory=list)
    api_key_env: str | None = None


class WebSource(_SourceBase):
    kind: Literal["web"]
    urls: list[HttpUrl] = Field(min_length=1)


class XSource(_SourceBase):
    kind: Literal["x"]
    base_url: HttpUrl = "https://api.x.com"
    query: str
    bearer_token_env: str


class FacebookPageSource(_SourceBase):
    kind: Literal["facebook_page"]
    base_url: HttpUrl = "https://graph.facebook.com/v21.0"
    page_id: str
    token_env: str
    match: bool = False  # the school's own page concerns the school by definition
    # Posts this many days older than the newest item seen are read again for new comments:
    # people keep commenting on a post for days after it appeared.
    comment_window_days: int = Field(default=14, ge=0, le=365)


class ManualSource(_SourceBase):
    kind: Literal["manual"]
    match: bool = False  # staff decided it concerns the school


SourceSettings = Annotated[
    RssSource
    | MastodonSource
    | BlueskySource
    | RedditSource
    | YoutubeSource
    | WebSource
    | XSource
    | FacebookPageSource
    | ManualSource,
    Field(discriminator="kind"),
]

SOURCE_KINDS = ("rss", "mastodon", "bluesky", "reddit", "youtube", "web", "x", "facebook_page",
                "manual")


class Settings(_Strict):
    database: DatabaseSettings = DatabaseSettings()
    storage: StorageSettings = StorageSettings()
    dashboard: DashboardSettings = DashboardSettings()
    mail: MailSettings = MailSettings()
    classifier: ClassifierSettings = ClassifierSettings()
    crawl: CrawlSettings = CrawlSettings()
    schedule: ScheduleSettings = ScheduleSettings()
    retention: RetentionSettings = RetentionSettings()
    alerts: AlertSettings = AlertSettings()
    evidence: EvidenceSettings = EvidenceSettings()
    schools: list[SchoolSettings] = Field(min_length=1)
    sources: list[SourceSettings] = Field(default_factory=list)

    # Environment the secrets are read from, and the file read; set by `load_settings`.
    environ: Mapping[str, str] = Field(default_factory=dict, exclude=True, repr=False)
    config_file: Path | None = Field(default=None, exclude=True)

    @model_validator(mode="after")
    def _cross_references(self) -> Settings:
        schools = [s.name for s in self.schools]
        if len(set(schools)) != len(schools):
            raise ValueError("two schools have the same name")
        names = [s.name for s in self.sources]
        if len(set(names)) != len(names):
            raise ValueError("two sources have the same name")
        for index, source in enumerate(self.sources):
            if source.school not in schools:
                raise ValueError(f"sources[{index}].school: unknown school {source.school!r}")
        return self

    def school(self, name: str) -> SchoolSettings:
        for school in self.schools:
            if school.name == name:
                return school
        raise ConfigError(f"unknown school {name!r}")

    def source(self, name: str) -> SourceSettings:
        for source in self.sources:
            if source.name == name:
                return source
        raise ConfigError(f"unknown source {name!r}")

    def secret(self, env_name: str | None) -> str | None:
        """The value of the environment variable the config names, or None."""
        if not env_name:
            return None
        value = self.environ.get(env_name)
        return value if value else None


def config_path(explicit: str | os.PathLike[str] | None, environ: Mapping[str, str]) -> Path:
    if explicit:
        return Path(explicit)
    if environ.get(CONFIG_ENV):
        return Path(environ[CONFIG_ENV])
    return Path(DEFAULT_CONFIG_FILE)


def load_settings(
    path: str | os.PathLike[str] | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Read and validate the TOML config; raise `ConfigError` with one clear line."""
    env = dict(os.environ if environ is None else environ)
    file = config_path(path, env)
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            f"config file {str(file)!r} not found (copy schoolwacht.example.toml, or set "
            f"--config / {CONFIG_ENV})"
        ) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{file}: not valid TOML: {exc}") from None
    settings = settings_from_dict(data, environ=env, origin=str(file))
    return settings.model_copy(update={"config_file": file.resolve()})


def settings_from_dict(
    data: dict[str, Any], *, environ: Mapping[str, str] | None = None, origin: str = "config"
) -> Settings:
    data = _check_source_kinds(data, origin)
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{origin}: {_first_error(exc)}") from None
    env = dict(os.environ if environ is None else environ)
    return settings.model_copy(update={"environ": env})


def _check_source_kinds(data: dict[str, Any], origin: str) -> dict[str, Any]:
    # Pydantic's message for a bad discriminator lists internals; name the key ourselves.
    for index, source in enumerate(data.get("sources") or []):
        if isinstance(source, dict) and source.get("kind") not in SOURCE_KINDS:
            raise ConfigError(
                f"{origin}: sources[{index}].kind: unknown source kind {source.get('kind')!r} "
                f"(one of {', '.join(SOURCE_KINDS)})"
            )
    return data


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    location = ""
    for part in error["loc"]:
        if isinstance(part, int):
            location += f"[{part}]"
        elif part in SOURCE_KINDS and location.startswith("sources"):
            continue  # the discriminator tag pydantic inserts into the path
        else:
            location += f".{part}" if location else str(part)
    message = error["msg"]
    if error["type"] == "extra_forbidden":
        message = "unknown key"
    elif error["type"] == "missing":
        message = "required key missing"
    message = message.removeprefix("Value error, ")
    extra = f" ({len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
    return f"{location}: {message}{extra}" if location else f"{message}{extra}"
