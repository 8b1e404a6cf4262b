"""Manual reports: validated, stored once, screenshot hashed; CLI and function."""

from __future__ import annotations

import hashlib
import io
import zlib
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image
from sqlalchemy import select

from crawlers.manual import ManualReport, submit_report, validate_screenshot
from schoolwacht.cli import cli
from schoolwacht.errors import InputError, UploadError
from store.models import Capture, Post
from tests.helpers.fixtures import SCHOOL, Env


def _png(size: tuple[int, int] = (40, 20)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, "white").save(buffer, format="PNG")
    return buffer.getvalue()


def _jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (30, 30), "red").save(buffer, format="JPEG")
    return buffer.getvalue()


def _png_bomb(width: int = 20000, height: int = 20000) -> bytes:
    """A tiny file that decodes to 400 megapixels (an IHDR claiming huge dimensions)."""
    import struct

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = zlib.compress(b"\x00" * (width + 1) * 10)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", raw) + chunk(b"IEND", b""))


def test_png_and_jpeg_accepted_by_content() -> None:
    assert validate_screenshot(_png()).media_type == "image/png"
    assert validate_screenshot(_jpeg()).media_type == "image/jpeg"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"GIF89a" + b"\x00" * 100, "PNG or JPEG"),
        (b"<svg onload=alert(1)>", "PNG or JPEG"),
        (b"\x89PNG\r\n\x1a\n" + b"garbage" * 10, "not a valid image"),
        (b"\xff\xd8\xff" + b"\x00" * (10 * 1024 * 1024 + 1), "at most 10 MB"),
    ],
)
def test_bad_screenshots_refused(data: bytes, message: str) -> None:
    with pytest.raises(UploadError, match=message):
        validate_screenshot(data)


def test_decompression_bomb_refused() -> None:
    with pytest.raises(UploadError, match="too large"):
        validate_screenshot(_png_bomb())


def test_report_stored_once_with_screenshot_capture(env_any_db: Env) -> None:
    settings = env_any_db.write([])
    screenshot = _png()
    report = ManualReport(school=SCHOOL["name"], text="Juf X is een <b>trut</b>", platform="whatsapp",
                          author="Ouder in groep 5", url="https://chat.whatsapp.com/abc",
                          screenshot=screenshot)
    with env_any_db.session() as session:
        first = submit_report(session, settings, report).id
    with env_any_db.session() as session:
        second = submit_report(session, settings, report).id
        posts = session.execute(select(Post)).scalars().all()
        captures = session.execute(select(Capture).order_by(Capture.kind)).scalars().all()
    assert first == second and len(posts) == 1
    assert posts[0].text == "Juf X is een <b>trut</b>"
    assert posts[0].platform == "whatsapp"
    assert [c.kind for c in captures] == ["raw", "screenshot"]
    shot = captures[1]
    assert shot.sha256 == hashlib.sha256(screenshot).hexdigest()
    assert (settings.storage.dir / shot.path).read_bytes() == screenshot


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"text": "   "}, "needs the text"),
        ({"platform": "myspace"}, "unknown platform"),
        ({"url": "javascript:alert(1)"}, "not an http"),
        ({"url": "file:///etc/passwd"}, "not an http"),
    ],
)
def test_bad_reports_refused(env: Env, kwargs: dict, message: str) -> None:
    settings = env.write([])
    fields = {"school": SCHOOL["name"], "text": "Verkruisen", **kwargs}
    with pytest.raises(InputError, match=message), env.session() as session:
        submit_report(session, settings, ManualReport(**fields))
    with env.session() as session:
        assert session.execute(select(Post)).first() is None


def test_report_command(env: Env, tmp_path: Path) -> None:
    env.write([])
    shot = tmp_path / "shot.png"
    shot.write_bytes(_png())
    runner = CliRunner()
    args = ["--config", str(env.config_file), "report", "--school", SCHOOL["name"],
            "--text", "Meester Bram is een debiel", "--platform", "facebook",
            "--author", "Piet", "--date", "2026-11-20T21:15", "--screenshot", str(shot)]
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "stored post" in result.output
    with env.session() as session:
        post = session.execute(select(Post)).scalars().one()
    assert post.author_handle == "Piet"
    assert post.created_at.isoformat() == "2026-11-20T20:15:00+00:00"  # Dutch time -> UTC

    not_image = tmp_path / "shot.png.exe"
    not_image.write_bytes(b"MZ\x90\x00")
    result = runner.invoke(cli, [*args[:-1], str(not_image)])
    assert result.exit_code != 0
    assert "PNG or JPEG" in result.output
