"""The XSS corpus in the evidence bundle's PDF report: every payload (post text, author handle
and name, URL, explanation spans) is printed as the text it is. reportlab reads a mini-HTML in
its paragraphs (`<img src>`, `<a href>`, `<font name>`): unescaped, a post could make the
report load a local file or carry a link or script; the PDF must hold none of that."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image
from pypdf import PdfReader
from pypdf.generic import DictionaryObject, IndirectObject

from evidence.bundle import export_case
from evidence.render import visible_text
from tests.helpers.evidence import install, zip_members
from tests.helpers.fixtures import Env
from tests.security.helpers import payloads

REPORT = "rapport.pdf"


def _squeeze(text: str) -> str:
    """Without white space (lines wrap) and without fullwidth forms, which DejaVu Sans cannot
    draw (they come out as a missing glyph, read back as NUL)."""
    return "".join(ch for ch in "".join(text.split()) if ch != "\x00" and not "\uff00" <= ch <= "\uffef")


def _objects(reader: PdfReader) -> list[DictionaryObject]:
    """Every dictionary object of the file (page trees, fonts, images, annotations, actions)."""
    numbers = [(n, g) for g, ids in reader.xref.items() for n in ids] + [(n, 0) for n in reader.xref_objStm]
    found = [reader.get_object(IndirectObject(n, g, reader)) for n, g in numbers]
    return [obj for obj in found if isinstance(obj, DictionaryObject)]


def test_the_corpus_is_literal_text_in_the_evidence_report(env: Env, tmp_path: Path) -> None:
    # A picture on disk that reportlab's <img src> would load: it must not end up in the report.
    secret = tmp_path / "geheim.png"
    Image.new("RGB", (7, 13), "red").save(secret)
    corpus = [*payloads(), f'<img src="{secret}" width="7" height="13"/>', f"<img src='{secret}'/>"]
    inst = install(env, screenshots=False)
    text = "Bericht over Verkruisen met:\n" + "\n".join(corpus)
    first = inst.seed(text, author="aanvaller", name="Aanvaller", url="javascript:app.alert(1)",
                      explanations={"insult": [{"start": text.index(p), "end": text.index(p) + len(p), "text": p}
                                               for p in corpus[:25]]})
    # Author handles and names from the corpus, each post joining the same case (same author).
    for index, payload in enumerate(corpus[::16]):
        inst.seed(f"Nog een bericht over Verkruisen {index}", author="aanvaller", name=payload,
                  url=f"https://ouders.example/p?q={payload}")
    out = tmp_path / "bewijs.zip"
    export_case(inst.settings, case_id=first.case_id, out=out, actor="directeur@school.example")  # type: ignore[arg-type]
    pdf = zip_members(out)[REPORT]
    reader = PdfReader(io.BytesIO(pdf))
    extracted = _squeeze("".join(page.extract_text() or "" for page in reader.pages))
    missing = [p for p in corpus if _squeeze(visible_text(p)) not in extracted]
    assert not missing, f"not printed as text: {missing[:5]}"

    # No link, script, launch action, embedded file or form in the PDF; no image but the renderings.
    assert all("/Annots" not in page for page in reader.pages)
    catalog = reader.trailer["/Root"]
    assert "/OpenAction" not in catalog and "/AA" not in catalog and "/AcroForm" not in catalog
    assert "/JavaScript" not in catalog.get("/Names", {})
    objects = _objects(reader)
    assert len(objects) > 20
    for obj in objects:
        kind = obj.get("/S")
        assert kind not in ("/JavaScript", "/Launch", "/URI", "/SubmitForm", "/ImportData"), obj
        assert obj.get("/Type") not in ("/EmbeddedFile", "/Filespec"), obj
    for forbidden in (b"/JavaScript", b"/JS ", b"/Launch", b"/URI", b"/EmbeddedFile"):
        assert forbidden not in pdf, forbidden
    # The <img src> payloads are text: no 7x13 picture in the report.
    sizes = {Image.open(io.BytesIO(image.data)).size for page in reader.pages for image in page.images}
    assert sizes and (7, 13) not in sizes
