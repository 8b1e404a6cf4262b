"""`evidence.render`: Schoolwacht's image of a post is labelled as a rendering, draws hostile HTML
as the literal text it is, and depends only on what is stored (same post, same bytes)."""

from __future__ import annotations

import io
from datetime import UTC, datetime

from PIL import Image

from evidence.render import BANNER, MAX_HEIGHT, WIDTH, _font, _wrap, render_post, visible_text
from store.models import Capture, Post
from tests.helpers.evidence import HOSTILE


def _post(text: str, **fields: object) -> Post:
    values: dict[str, object] = {
        "id": 7, "source_id": 1, "school_id": 1, "platform": "mastodon", "external_id": "1122",
        "url": "https://social.example/@ouder/1122", "author_handle": "ouder", "author_name": "Olga Ouder",
        "text": text, "created_at": datetime(2026, 3, 1, 12, 0, tzinfo=UTC),
        "fetched_at": datetime(2026, 3, 1, 12, 5, tzinfo=UTC), "content_sha256": "a" * 64, **fields}
    return Post(**values)


RAW = Capture(id=3, post_id=7, kind="raw", path="captures/aa/x.json", sha256="b" * 64, size=10,
              captured_at=datetime(2026, 3, 1, 12, 5, tzinfo=UTC))


def _image(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def test_same_post_same_bytes() -> None:
    first = render_post(_post("De juf van Verkruisen is een heks"), raw=RAW, platform="Mastodon")
    second = render_post(_post("De juf van Verkruisen is een heks"), raw=RAW, platform="Mastodon")
    assert first == second and first.startswith(b"\x89PNG\r\n\x1a\n")
    image = _image(first)
    assert image.format == "PNG" and image.width == WIDTH
    assert image.getpixel((5, 5)) == (146, 64, 14)  # the banner: it says this is a rendering
    assert image.getpixel((5, image.height - 5)) == (146, 64, 14)  # at the bottom too
    # Stored facts go into the image; the time of rendering does not.
    other_zone = render_post(_post("De juf van Verkruisen is een heks"), raw=RAW, platform="Mastodon",
                             zone="UTC")
    assert other_zone != first
    assert render_post(_post("De juf van Verkruisen is een heks!"), raw=RAW, platform="Mastodon") != first


def test_hostile_html_is_drawn_as_literal_text() -> None:
    # Every character of the text reaches the image as a glyph: nothing parsed, nothing dropped.
    lines = _wrap(visible_text(HOSTILE), _font(21), WIDTH - 72)
    assert " ".join(lines) == HOSTILE
    hostile = render_post(_post(HOSTILE, author_name="<img src=x onerror=alert(2)>"), raw=RAW, platform="Mastodon")
    stripped = render_post(_post("Die juf is een heks klik & gek van Verkruisen"), raw=RAW, platform="Mastodon")
    assert _image(hostile).height > _image(stripped).height  # the tags take room: they are drawn


def test_controls_are_visible_and_long_text_is_cut_with_a_note() -> None:
    assert visible_text("a\u202eb\x00c\td") == "a[U+202E]b\ufffdc    d"
    long = render_post(_post("woord " * 60_000), raw=None, platform="Mastodon")
    image = _image(long)
    assert image.height <= MAX_HEIGHT
    unbroken = render_post(_post("x" * 5000), raw=RAW, platform="Mastodon")
    assert _image(unbroken).width == WIDTH  # a word longer than a line is broken, not cut off
    assert BANNER.startswith("WEERGAVE DOOR SCHOOLWACHT") and "GEEN SCHERMAFBEELDING" in BANNER
