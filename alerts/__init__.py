"""E-mail to the director: the outbox (`alerts.outbox`), immediate alerts (`alerts.notify`) and
the weekly digest. Mails are Dutch; times are shown in the school's zone."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

DEFAULT_ZONE = "Europe/Amsterdam"
_DAYS = ("ma", "di", "wo", "do", "vr", "za", "zo")
_MONTHS = ("jan", "feb", "mrt", "apr", "mei", "jun", "jul", "aug", "sep", "okt", "nov", "dec")


def dutch_time(moment: datetime, zone: str = DEFAULT_ZONE) -> str:
    """`moment` in the school's zone, the way people read it: "ma 23 nov 2026 14:05"."""
    local = moment.astimezone(ZoneInfo(zone or DEFAULT_ZONE))
    # Formatted by hand, not with strftime: pages show dozens of these.
    return (f"{_DAYS[local.weekday()]} {local.day} {_MONTHS[local.month - 1]} {local.year} "
            f"{local.hour:02d}:{local.minute:02d}")


# The mail templates (alerts/templates): HTML escaped, plain text verbatim, unknown names an error.
MAIL_TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False, default=False),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)

__all__ = ["DEFAULT_ZONE", "MAIL_TEMPLATES", "dutch_time"]
