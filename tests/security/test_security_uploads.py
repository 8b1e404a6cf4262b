"""Uploads through the manual report form: anything but a real PNG or JPEG, and decompression
bombs, are refused with a Dutch message next to the field; nothing is stored (no post, no file).

Every file is made here, byte by byte, the way an attacker would make it."""

from __future__ import annotations

import hashlib
import io
import struct
import zlib
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from tests.security.helpers import STAFF, Site, files_under, form_token, snapshot

NOT_AN_IMAGE = "Dit bestand is geen geldige PNG- of JPEG-afbeelding."
WRONG_TYPE = "De schermafbeelding moet een PNG- of JPEG-afbeelding zijn."
BOMB = "De schermafbeelding heeft te veel beeldpunten (mogelijk een zogeheten decompressiebom) en is geweigerd."


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_declaring(width: int, height: int) -> bytes:
    """A PNG of a few hundred bytes whose header claims width x height pixels: the rows that
    follow are one zlib stream of zeros (decoding it would need width*height bytes)."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    rows = zlib.compressobj(9)
    body = rows.compress(b"\x00" * (1024 * 1024)) + rows.flush()
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", body) + _chunk(b"IEND", b"")


def jpeg_declaring(width: int, height: int) -> bytes:
    """A real small JPEG whose frame header (SOF0) is rewritten to claim width x height."""
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), "white").save(buffer, format="JPEG")
    data = bytearray(buffer.getvalue())
    sof = data.index(b"\xff\xc0")
    data[sof + 5:sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def real_png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 20), "#ece5dd").save(buffer, format="PNG")
    return buffer.getvalue()


SVG = (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)">'
       b"<script>alert(document.cookie)</script></svg>")
HTML = b"<!doctype html><html><body><script>alert(document.cookie)</script></body></html>"
PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog/OpenAction<</S/JavaScript/JS(app.alert(1))>>>>endobj\ntrailer<</Root 1 0 R>>"
GIF_JS = b"GIF89a/*\x01\x00\x01\x00\x00\xff\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x00;*/=1;alert(1);//"
UPLOADS = [
    # (name as uploaded, declared content type, bytes, the Dutch message expected)
    ("bericht.png", "image/png", HTML, WRONG_TYPE),
    ("bericht.html", "text/html", HTML, WRONG_TYPE),
    ("bericht.svg", "image/svg+xml", SVG, WRONG_TYPE),
    ("plaatje.png", "image/png", SVG, WRONG_TYPE),
    ("bericht.pdf", "application/pdf", PDF, WRONG_TYPE),
    ("polyglot.gif", "image/gif", GIF_JS, WRONG_TYPE),
    ("polyglot.png", "image/png", GIF_JS, WRONG_TYPE),
    ("tekst.png", "image/png", b"Dit is gewoon tekst, geen plaatje.\n", WRONG_TYPE),
    ("leeg-met-kop.png", "image/png", b"\x89PNG\r\n\x1a\n" + HTML, NOT_AN_IMAGE),
    ("kapot.jpg", "image/jpeg", b"\xff\xd8\xff\xe0" + HTML, NOT_AN_IMAGE),
    ("jpeg-als-png.png", "image/png", b"\xff\xd8\xff" + b"\x00" * 64, NOT_AN_IMAGE),
    ("bomb.png", "image/png", png_declaring(50_000, 50_000), BOMB),
    ("bomb-smal.png", "image/png", png_declaring(1_000_000, 1_000), BOMB),
    ("bomb.jpg", "image/jpeg", jpeg_declaring(60_000, 60_000), BOMB),
    ("../../../../tmp/evil.png", "image/png", HTML, WRONG_TYPE),
]


StaffForm = tuple[Site, TestClient, str]


@pytest.fixture
def staff_form(site: Site) -> StaffForm:
    client = site.client(STAFF)
    return site, client, form_token(client, "/report")


def _fields(token: str, text: str) -> dict[str, str]:
    return {"csrf_token": token, "text": text, "platform": "whatsapp", "school": "obs BM Verkruisen",
            "author": "vader van Sem"}


def test_non_images_and_bombs_are_refused_in_dutch_and_nothing_is_stored(staff_form: StaffForm) -> None:
    site, client, token = staff_form
    assert len(png_declaring(50_000, 50_000)) < 5_000 and len(jpeg_declaring(60_000, 60_000)) < 5_000
    storage = site.settings.storage.dir
    before, files = snapshot(site.settings), files_under(storage)
    for name, media_type, data, message in UPLOADS:
        text = f"De juf van Verkruisen is een heks ({name})"
        response = client.post("/report", data=_fields(token, text), files={"screenshot": (name, data, media_type)})
        assert response.status_code == 400, (name, response.status_code)
        assert message in response.text, (name, response.text[:2000])
        assert "De melding is nog niet opgeslagen" in response.text
        # What the reporter typed is kept for the next try, escaped; the file is not echoed.
        assert f">{text}</textarea>" in response.text.replace("&#39;", "'")
        assert b"alert(" not in response.content
    assert snapshot(site.settings) == before
    assert files_under(storage) == files


def test_an_upload_over_the_size_limit_is_cut_off_and_explained(staff_form: StaffForm) -> None:
    site, client, token = staff_form
    before, files = snapshot(site.settings), files_under(site.settings.storage.dir)
    # A JPEG header and 12 MB after it: the request is cut off while it streams in.
    huge = b"\xff\xd8\xff\xe0" + b"\x00" * (12 * 1024 * 1024)
    response = client.post("/report", data=_fields(token, "De juf van Verkruisen is een heks"),
                           files={"screenshot": ("groot.jpg", huge, "image/jpeg")})
    assert response.status_code == 413 and "Bestand te groot" in response.text and "10 MB" in response.text
    assert snapshot(site.settings) == before and files_under(site.settings.storage.dir) == files


def test_a_real_png_under_a_hostile_name_is_stored_under_its_hash_only(staff_form: StaffForm, tmp_path: Path) -> None:
    site, client, token = staff_form
    site.classify_with_shared_model()
    data = real_png()
    name = "../../../../" + str(tmp_path / "ontsnapt.png").lstrip("/")
    response = client.post("/report", data=_fields(token, "Die juf van Verkruisen is echt een heks"),
                           files={"screenshot": (name, data, "text/html")})
    assert response.status_code == 303, response.text[:500]
    assert not (tmp_path / "ontsnapt.png").exists()
    digest = hashlib.sha256(data).hexdigest()
    stored = [p for p in files_under(site.settings.storage.dir) if p.startswith("screenshots/")]
    assert stored == [f"screenshots/{digest[:2]}/{digest}.png"]
