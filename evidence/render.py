"""Schoolwacht's own image of a post, for API posts and when the page cannot be photographed.

The image is drawn from the stored `Post` and its raw capture, with a banner saying plainly that
it is a rendering and not a screenshot of the website. The post text is drawn as literal glyphs,
so HTML or script in it can do nothing. The output depends only on what is stored: the same post
gives the same PNG bytes (no "now" anywhere), so exporting twice gives the same hashes.
"""

from __future__ import annotations

import io
import unicodedata
from datetime import datetime
from functools import cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from alerts import dutch_time
from store.models import Capture, Post

WIDTH = 1000
MARGIN = 36
MAX_HEIGHT = 8000
BANNER = "WEERGAVE DOOR SCHOOLWACHT — GEEN SCHERMAFBEELDING VAN DE WEBSITE"
BANNER_SUB = ("Opgebouwd uit de gegevens die Schoolwacht bij het ophalen opsloeg; "
              "de ruwe opname staat in de bewijsmap (captures/).")
TRUNCATED = ("… (tekst ingekort in deze weergave; de volledige tekst staat in rapport.pdf "
             "en in de ruwe opname)")
_BANNER_BG = (146, 64, 14)
_TEXT = (17, 24, 39)
_MUTED = (75, 85, 99)
_RULE = (209, 213, 219)
# Bidirectional controls would reorder the text invisibly: shown as a visible marker instead.
_BIDI = {chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F, 0x061C)}


def font_path(bold: bool = False, mono: bool = False) -> Path:
    """DejaVu, shipped inside matplotlib: every Latin, Greek and Cyrillic letter, no system fonts."""
    import matplotlib

    name = "DejaVuSansMono.ttf" if mono else ("DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf")
    return Path(matplotlib.get_data_path()) / "fonts" / "ttf" / name


@cache
def _font(size: int, bold: bool = False, mono: bool = False) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(font_path(bold, mono)), size)


def visible_text(text: str) -> str:
    """Text as it may be drawn or typeset: controls shown as markers, never interpreted."""
    out: list[str] = []
    for char in text:
        if char in ("\n", "\t"):
            out.append("\n" if char == "\n" else "    ")
        elif char in _BIDI:
            out.append(f"[U+{ord(char):04X}]")
        elif unicodedata.category(char) in ("Cc", "Cs", "Co", "Cn"):
            out.append("\ufffd")
        else:
            out.append(char)
    return "".join(out).replace("\r", "")


def _longest_prefix(word: str, font: ImageFont.FreeTypeFont, width: int) -> int:
    """How many characters of `word` fit in `width` (at least one)."""
    low, high = 1, len(word)
    while low < high:
        middle = (low + high + 1) // 2
        if font.getlength(word[:middle]) <= width:
            low = middle
        else:
            high = middle - 1
    return low


def _wrap(text: str, font: ImageFont.FreeTypeFont, width: int) -> list[str]:
    lines: list[str] = []
    for paragraph in text.split("\n"):
        line = ""
        for word in paragraph.split(" "):
            candidate = f"{line} {word}" if line else word
            if font.getlength(candidate) <= width:
                line = candidate
                continue
            if line:
                lines.append(line)
            while font.getlength(word) > width:  # a word longer than a line: break it
                cut = _longest_prefix(word, font, width)
                lines.append(word[:cut])
                word = word[cut:]
            line = word
        lines.append(line)
    return lines


def _utc(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


LABEL_WIDTH = 150


def _meta_rows(post: Post, raw: Capture | None, platform: str, zone: str) -> list[tuple[str, str]]:
    """(label, value) lines of the facts above the text, values wrapped to the column."""
    author = " ".join(x for x in (post.author_name, f"@{post.author_handle}" if post.author_handle else None) if x)
    facts = [
        ("Platform", platform),
        ("Auteur", author or "onbekend"),
        ("Geplaatst", f"{_utc(post.created_at)} ({dutch_time(post.created_at, zone)}, {zone})"),
        ("Adres", post.url or "geen openbaar webadres"),
        ("Bericht-id", f"{post.platform}:{post.external_id}"),
    ]
    if raw is not None:
        facts.append(("Opgehaald", f"{_utc(raw.captured_at)} ({dutch_time(raw.captured_at, zone)}, {zone})"))
    rows: list[tuple[str, str]] = []
    for label, value in facts:
        for index, part in enumerate(_wrap(visible_text(value), _font(17), WIDTH - 2 * MARGIN - LABEL_WIDTH)):
            rows.append((f"{label}:" if index == 0 else "", part))
    return rows


def _footer_rows(post: Post, raw: Capture | None) -> list[str]:
    rows = [f"SHA-256 tekst:        {post.content_sha256}"]
    if raw is not None:
        rows.append(f"SHA-256 ruwe opname:  {raw.sha256}")
    return rows


def render_post(post: Post, *, raw: Capture | None, platform: str, zone: str = "Europe/Amsterdam") -> bytes:
    """The PNG rendering of one post (deterministic: same stored data, same bytes)."""
    inner = WIDTH - 2 * MARGIN
    body_font, line_height = _font(21), 30
    meta, footer = _meta_rows(post, raw, platform, zone), _footer_rows(post, raw)
    top, bottom = _banner_height(), _banner_height(short=True)
    fixed = top + 20 + len(meta) * 26 + 50 + len(footer) * 22 + 30 + bottom
    text_lines = _wrap(visible_text(post.text), body_font, inner)
    room = max(3, (MAX_HEIGHT - fixed) // line_height)
    if len(text_lines) > room:
        text_lines = [*text_lines[: room - 2], *_wrap(TRUNCATED, body_font, inner)[:2]]
    height = fixed + len(text_lines) * line_height
    image = Image.new("RGB", (WIDTH, height), "white")
    draw = ImageDraw.Draw(image)
    _banner(draw, 0)
    y = top + 20
    for label, value in meta:
        draw.text((MARGIN, y), label, font=_font(17, bold=True), fill=_TEXT)
        draw.text((MARGIN + LABEL_WIDTH, y), value, font=_font(17), fill=_TEXT)
        y += 26
    y += 14
    draw.line([(MARGIN, y), (WIDTH - MARGIN, y)], fill=_RULE, width=2)
    y += 20
    for text in text_lines:
        draw.text((MARGIN, y), text, font=body_font, fill=_TEXT)
        y += line_height
    y += 16
    draw.line([(MARGIN, y), (WIDTH - MARGIN, y)], fill=_RULE, width=2)
    y += 14
    for row in footer:
        draw.text((MARGIN, y), row, font=_font(14, mono=True), fill=_MUTED)
        y += 22
    _banner(draw, height - bottom, short=True)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def _banner_lines(short: bool) -> list[tuple[str, ImageFont.FreeTypeFont]]:
    width = WIDTH - 2 * MARGIN
    lines = [(line, _font(22, bold=True)) for line in _wrap(BANNER, _font(22, bold=True), width)]
    if not short:
        lines += [(line, _font(16)) for line in _wrap(BANNER_SUB, _font(16), width)]
    return lines


def _banner_height(short: bool = False) -> int:
    return 28 + sum(30 if font.size > 20 else 24 for _, font in _banner_lines(short))


def _banner(draw: ImageDraw.ImageDraw, top: int, *, short: bool = False) -> None:
    draw.rectangle([(0, top), (WIDTH, top + _banner_height(short))], fill=_BANNER_BG)
    y = top + 14
    for line, font in _banner_lines(short):
        draw.text((MARGIN, y), line, font=font, fill="white")
        y += 30 if font.size > 20 else 24


__all__ = ["BANNER", "font_path", "render_post", "visible_text"]
