"""`rapport.pdf`: the Dutch report of an evidence bundle (reportlab).

Everything that comes from outside (post text, names, handles, URLs, notes) goes through `_esc`
before it reaches a reportlab `Paragraph`, which would otherwise read `<font>`, `<a href>` or
`<img>` in it as its own markup: hostile HTML comes out as the literal text it is. Fonts are the
DejaVu TTFs that ship inside matplotlib, embedded in the PDF, so any Unicode text shows.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from datetime import UTC, datetime
from functools import cache
from typing import Any
from xml.sax.saxutils import escape

from PIL import Image as PILImage
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Flowable, KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
from reportlab.platypus import Image as PdfImage

from alerts import dutch_time
from alerts.digest import STATUS_NL
from classifier.labels import ARTICLES, CATEGORY_NAMES_NL, COMPLAINT_OFFENCES
from evidence.bundle import MANIFEST, SUMS, BundleFile, CaseEvidence, Image, PostEvidence
from evidence.capture import platform_name
from evidence.render import font_path, visible_text
from store.models import CaseEvent
from store.workflow import deadline_of

SEVERITY_NL = {"urgent": "dringend (bedreiging)", "criminal": "mogelijk strafbaar", "negative": "negatief",
               "none": "geen"}
EVENT_NL = {
    "opened": "dossier geopend", "post_added": "bericht toegevoegd", "removed_detected": "verwijdering vastgesteld",
    "assigned": "toewijzing", "note": "notitie", "recheck": "opnieuw opgehaald",
    "evidence_capture": "bewijs vastgelegd", "evidence_export": "bewijsmap geëxporteerd",
}
PAGE = A4
FRAME_WIDTH = PAGE[0] - 36 * mm
IMAGE_MAX_HEIGHT = 190 * mm
TEXT_BLOCK = 2500  # characters per paragraph of a long post: reportlab splits short paragraphs faster
MARK = "#fde68a"


# -- fonts and styles -----------------------------------------------------------------------------

@cache
def _fonts() -> None:
    pdfmetrics.registerFont(TTFont("DejaVuSans", str(font_path())))
    pdfmetrics.registerFont(TTFont("DejaVuSans-Bold", str(font_path(bold=True))))
    pdfmetrics.registerFont(TTFont("DejaVuSansMono", str(font_path(mono=True))))
    pdfmetrics.registerFontFamily("DejaVuSans", normal="DejaVuSans", bold="DejaVuSans-Bold",
                                  italic="DejaVuSans", boldItalic="DejaVuSans-Bold")


@cache
def _styles() -> dict[str, ParagraphStyle]:
    _fonts()
    base = ParagraphStyle("base", fontName="DejaVuSans", fontSize=9.5, leading=13, splitLongWords=True)
    return {
        "body": base,
        "title": ParagraphStyle("title", parent=base, fontName="DejaVuSans-Bold", fontSize=17, leading=22,
                                spaceAfter=4),
        "h2": ParagraphStyle("h2", parent=base, fontName="DejaVuSans-Bold", fontSize=13, leading=17, spaceBefore=10,
                             spaceAfter=5),
        "h3": ParagraphStyle("h3", parent=base, fontName="DejaVuSans-Bold", fontSize=10.5, leading=14,
                             spaceBefore=6, spaceAfter=3),
        "label": ParagraphStyle("label", parent=base, fontName="DejaVuSans-Bold"),
        "text": ParagraphStyle("text", parent=base, fontSize=10.5, leading=15, backColor=colors.HexColor("#f3f4f6"),
                               borderPadding=4, spaceAfter=2),
        "small": ParagraphStyle("small", parent=base, fontSize=8, leading=10.5),
        "mono": ParagraphStyle("mono", parent=base, fontName="DejaVuSansMono", fontSize=7.5, leading=10),
        "caption": ParagraphStyle("caption", parent=base, fontSize=8.5, leading=11, spaceBefore=2, spaceAfter=6,
                                  textColor=colors.HexColor("#374151")),
    }


def _esc(value: object) -> str:
    """Literal text for a Paragraph: markup characters escaped, controls made visible, lines kept."""
    return escape(visible_text(str(value))).replace("\n", "<br/>")


def _p(value: object, style: str = "body") -> Paragraph:
    return Paragraph(_esc(value), _styles()[style])


def _utc(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if moment else "–"


def _both(moment: datetime | None, zone: str) -> str:
    """A time in UTC and in the school's zone, both written out."""
    if moment is None:
        return "–"
    return f"{_utc(moment)} — {dutch_time(moment, zone)} ({zone})"


def _facts(rows: Iterable[tuple[str, object]]) -> Table:
    data = [[_p(label, "label"), value if isinstance(value, Flowable) else _p(value)] for label, value in rows]
    table = Table(data, colWidths=[45 * mm, FRAME_WIDTH - 45 * mm], hAlign="LEFT")
    table.setStyle(TableStyle([
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.HexColor("#d1d5db")),
        ("TOPPADDING", (0, 0), (-1, -1), 2), ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
        ("LEFTPADDING", (0, 0), (-1, -1), 0),
    ]))
    return table


# -- pieces of the report -------------------------------------------------------------------------

def describe_event(event: CaseEvent) -> str:
    """What an event on the timeline means, in Dutch (as the case page says it)."""
    data = event.data or {}
    if event.action == "status":
        before, after = str(data.get("from", "")), str(data.get("to", ""))
        text = f"status: {STATUS_NL.get(before, before)} → {STATUS_NL.get(after, after)}"
        if after == "reported":
            text += f" (aangifte op {data.get('reported_on', '?')}, kenmerk {data.get('reference', '?')})"
        return text
    return EVENT_NL.get(event.action, event.action)


def _categories(categories: Iterable[str]) -> str:
    found = [f"{CATEGORY_NAMES_NL.get(c, c)} ({ARTICLES.get(c, '')})" for c in categories]
    return "; ".join(found) if found else "geen"


def _marked_text(text: str, explanations: dict[str, Any] | None) -> list[Paragraph]:
    """The full post text, the words that explain a category highlighted, in blocks that split."""
    marks = [False] * len(text)
    for spans in (explanations or {}).values():
        for span in spans if isinstance(spans, list) else []:
            if not isinstance(span, dict):
                continue
            start, end, snippet = span.get("start"), span.get("end"), span.get("text")
            if not (isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(text)
                    and (not isinstance(snippet, str) or text[start:end] == snippet)):
                start = text.find(snippet) if isinstance(snippet, str) and snippet else -1
                if start < 0:
                    continue
                end = start + len(snippet)  # type: ignore[arg-type]
            for index in range(start, end):
                marks[index] = True
    blocks: list[Paragraph] = []
    start = 0
    while start < len(text) or not blocks:
        end = _block_end(text, start)
        pieces, position = [], start
        while position < end:
            run = position
            while run < end and marks[run] == marks[position]:
                run += 1
            piece = _esc(text[position:run])
            pieces.append(f'<font backColor="{MARK}">{piece}</font>' if marks[position] else piece)
            position = run
        blocks.append(Paragraph("".join(pieces) or "(leeg)", _styles()["text"]))
        start = end
        if start >= len(text):
            break
    return blocks


def _block_end(text: str, start: int) -> int:
    if len(text) - start <= TEXT_BLOCK:
        return len(text)
    cut = max(text.rfind("\n", start, start + TEXT_BLOCK), text.rfind(" ", start, start + TEXT_BLOCK))
    return cut + 1 if cut > start else start + TEXT_BLOCK


def _spans(explanations: dict[str, Any] | None) -> list[Paragraph]:
    lines = []
    for category, spans in (explanations or {}).items():
        words = [str(s.get("text", "")) for s in (spans if isinstance(spans, list) else [])[:30]
                 if isinstance(s, dict) and s.get("text")]
        if words:
            quoted = ", ".join(f"«{w}»" for w in words)
            lines.append(_p(f"{CATEGORY_NAMES_NL.get(category, category)} ({ARTICLES.get(category, '')}): {quoted}"))
    return lines


def _image_flowables(data: bytes) -> list[Flowable]:
    """The image scaled to the page width; a tall one cut into slices that each fit a page."""
    try:
        with PILImage.open(io.BytesIO(data)) as source:
            source.load()
            image = source.convert("RGB")
    except Exception as exc:  # Pillow raises many types for a broken file
        return [_p(f"(de afbeelding kon niet worden getoond: {type(exc).__name__}; het bestand zelf zit in de map)",
                   "caption")]
    scale = min(1.0, FRAME_WIDTH / image.width)
    slice_height = max(1, int(IMAGE_MAX_HEIGHT / scale))
    out: list[Flowable] = []
    for top in range(0, image.height, slice_height):
        part = image.crop((0, top, image.width, min(image.height, top + slice_height)))
        buffer = io.BytesIO()
        part.save(buffer, format="PNG")
        buffer.seek(0)
        out.append(PdfImage(buffer, width=part.width * scale, height=part.height * scale, hAlign="LEFT"))
    return out


def _caption(image: Image, zone: str) -> str:
    capture = image.capture
    if image.method == "chromium":
        return (f"Schermafbeelding gemaakt door Schoolwacht met de browser Chromium op "
                f"{_both(capture.captured_at, zone)} van {capture.url or '–'}. Bestand {image.file.path}, "
                f"SHA-256 {capture.sha256}.")
    if image.method == "rendering":
        reason = f" Reden: {image.reason}." if image.reason else ""
        return (f"WEERGAVE door Schoolwacht op basis van de opgeslagen gegevens — GEEN schermafbeelding van de "
                f"website.{reason} Gemaakt op {_both(capture.captured_at, zone)}. Bestand {image.file.path}, "
                f"SHA-256 {capture.sha256}.")
    return (f"Schermafbeelding die bij de melding is aangeleverd, opgeslagen op {_both(capture.captured_at, zone)}. "
            f"Bestand {image.file.path}, SHA-256 {capture.sha256}.")


def _post_section(item: PostEvidence, number: int, total: int, zone: str) -> list[Flowable]:
    post, classification = item.post, item.classification
    raw = next((f for f in item.files if f.kind not in ("screenshot", "rendering")), None)
    rows: list[tuple[str, object]] = [
        ("Platform", platform_name(post.platform)),
        ("Adres (URL)", post.url or "geen openbaar webadres"),
        ("Auteur (account)", f"@{post.author_handle}" if post.author_handle else "onbekend"),
        ("Auteur (naam)", post.author_name or "onbekend"),
        ("Geplaatst", _both(post.created_at, zone)),
        ("Vastgelegd", _both(raw.captured_at if raw else post.fetched_at, zone)),
        ("Bericht-id", f"{post.platform}:{post.external_id} (Schoolwacht-nr. {post.id})"),
    ]
    if post.removed_at is not None:
        rows.append(("Niet meer online", f"vastgesteld {_both(post.removed_at, zone)}"))
    if classification is not None:
        rows += [("Ernst", SEVERITY_NL.get(classification.severity, classification.severity)),
                 ("Categorieën", _categories(classification.categories)),
                 ("Beoordeling", f"automatisch, model {classification.model} {classification.version}, "
                                 f"{_utc(classification.created_at)}")]
    out: list[Flowable] = [Paragraph(f"Bericht {number} van {total}", _styles()["h2"]), _facts(rows),
                           Paragraph("Volledige tekst", _styles()["h3"]),
                           *_marked_text(post.text, classification.explanations if classification else None)]
    spans = _spans(classification.explanations if classification else None)
    if spans:
        out += [Paragraph("Woorden die de categorie dragen (gemarkeerd in de tekst)", _styles()["h3"]), *spans]
    for image in item.images:
        out += [Paragraph("Afbeelding van het bericht", _styles()["h3"]), *_image_flowables(image.file.data),
                _p(_caption(image, zone), "caption")]
    if not item.images:
        out.append(_p("Geen afbeelding van dit bericht beschikbaar.", "caption"))
    out.append(Paragraph("Bestanden van dit bericht", _styles()["h3"]))
    out += [_p(f"{f.path} — {f.kind}, {f.size} bytes, SHA-256 {f.sha256}", "small") for f in item.files]
    return out


def _timeline(evidence: CaseEvidence, zone: str) -> list[Flowable]:
    out: list[Flowable] = [Paragraph("Tijdlijn van het dossier (wie deed wat wanneer)", _styles()["h2"])]
    if not evidence.events:
        out.append(_p("Geen gebeurtenissen."))
    for event in evidence.events:
        head = (f"<b>{_esc(dutch_time(event.at, zone))}</b> ({_esc(_utc(event.at))}) — {_esc(event.actor)} — "
                f"{_esc(describe_event(event))}")
        note = f"<br/>{_esc(event.note)}" if event.note else ""
        out.append(Paragraph(head + note, _styles()["body"]))
        out.append(Spacer(1, 3))
    return out


def _deadline(evidence: CaseEvidence, now: datetime, zone: str) -> str | None:
    deadline = deadline_of(evidence.case, now=now, zone=zone)
    if deadline is None:
        return None
    offences = ", ".join(CATEGORY_NAMES_NL[c] for c in COMPLAINT_OFFENCES if c in evidence.case.categories)
    state = "De termijn is verstreken." if deadline.passed else f"Nog {deadline.days_left} dag(en)."
    if evidence.case.status == "reported":
        state = "Aangifte is gedaan."
    return (f"{offences.capitalize()} is een klachtdelict (art. 64 en 66 Sr): vervolging alleen op klacht, binnen "
            f"3 maanden nadat de school het bericht kende ({dutch_time(evidence.case.learned_at, zone)}). "
            f"Uiterlijk {dutch_time(deadline.at, zone)} ({_utc(deadline.at)}). {state}")


def _summary(evidence: CaseEvidence, zone: str) -> str:
    posts = [p.post for p in evidence.posts]
    authors = sorted({p.author_name or p.author_handle or "onbekend" for p in posts})
    platforms = sorted({platform_name(p.platform) for p in posts})
    first, last = min(p.created_at for p in posts), max(p.created_at for p in posts)
    when = (f"op {dutch_time(first, zone)}" if first == last
            else f"tussen {dutch_time(first, zone)} en {dutch_time(last, zone)}")
    return (f"Dit dossier van {evidence.school} bevat {len(posts)} bericht(en) van {', '.join(authors)} op "
            f"{', '.join(platforms)}, geplaatst {when} ({zone}). Categorieën volgens Schoolwacht: "
            f"{_categories(evidence.case.categories)}. Status van het dossier: "
            f"{STATUS_NL.get(evidence.case.status, evidence.case.status)}.")


def _case_facts(evidence: CaseEvidence, *, exported_by: str, exported_at: datetime, zone: str,
                version: str) -> Table:
    case = evidence.case
    rows: list[tuple[str, object]] = [
        ("School", evidence.school), ("Dossiernummer", f"#{case.id}"),
        ("Status", STATUS_NL.get(case.status, case.status)), ("Ernst", SEVERITY_NL.get(case.severity, case.severity)),
        ("Categorieën", _categories(case.categories)), ("Geopend", _both(case.opened_at, zone)),
        ("School kende het bericht", _both(case.learned_at, zone)),
        ("Toegewezen aan", evidence.assignee or "niemand"),
    ]
    if case.police_reference:
        rows.append(("Aangifte", f"gedaan {_both(case.reported_at, zone)}, kenmerk {case.police_reference}"))
    rows += [("Geëxporteerd door", exported_by), ("Geëxporteerd op", _both(exported_at, zone)),
             ("Schoolwacht-versie", version)]
    return _facts(rows)


def _files(listed: list[BundleFile]) -> list[Flowable]:
    out: list[Flowable] = [Paragraph("Bestanden in deze bewijsmap", _styles()["h2"]), _p(
        f"Elk bestand met grootte en SHA-256. De SHA-256 van dit rapport zelf staat in {MANIFEST} en {SUMS}. "
        f"Controleren: pak het ZIP-bestand uit en voer in die map `sha256sum -c {SUMS}` uit (of `schoolwacht "
        f"evidence verify` op het ZIP-bestand); elk bestand moet OK geven.")]
    for file in listed:
        when = f", vastgelegd {_utc(file.captured_at)}" if file.captured_at else ""
        source = f", bron {file.source_url}" if file.source_url else ""
        out.append(KeepTogether([_p(f"{file.path} ({file.kind}, {file.size} bytes{when}{source})", "small"),
                                 _p(f"SHA-256 {file.sha256}", "mono"), Spacer(1, 2)]))
    return out


def build_report(evidence: CaseEvidence, *, listed: list[BundleFile], exported_by: str, exported_at: datetime,
                 zone: str, version: str) -> bytes:
    """The PDF report of the bundle; `listed` are the files it names with their hashes."""
    styles = _styles()
    story: list[Flowable] = [
        Paragraph("Bewijsmap voor de politie", styles["title"]),
        _p(f"Dossier #{evidence.case.id} — {evidence.school}", "h3"),
        _case_facts(evidence, exported_by=exported_by, exported_at=exported_at, zone=zone, version=version),
        Paragraph("Samenvatting", styles["h2"]), _p(_summary(evidence, zone)),
    ]
    deadline = _deadline(evidence, exported_at, zone)
    if deadline:
        story += [Paragraph("Klachttermijn", styles["h2"]), _p(deadline)]
    story += [Paragraph("Over deze bewijsmap", styles["h2"]), _p(
        "Schoolwacht bewaart elk bericht zoals het van het platform is opgehaald (de ruwe opname, byte voor byte, "
        "in de map captures/) met de SHA-256 en het tijdstip van ophalen. Van een bericht op een openbare "
        "webpagina maakt Schoolwacht een schermafbeelding met de browser Chromium. Kan dat niet (geen openbare "
        "pagina, of de pagina is niet bereikbaar), dan staat er een weergave van de opgeslagen gegevens, duidelijk "
        "gemarkeerd als WEERGAVE. De categorieën zijn een automatische inschatting, geen juridisch oordeel. "
        "Tijden staan in UTC en in de tijd van de school.")]
    for number, item in enumerate(evidence.posts, start=1):
        story += _post_section(item, number, len(evidence.posts), zone)
    story += _timeline(evidence, zone)
    story += _files(listed)
    buffer = io.BytesIO()
    footer = f"Bewijsmap dossier #{evidence.case.id} — {evidence.school} — geëxporteerd {_utc(exported_at)}"

    def on_page(canvas: Any, document: Any) -> None:
        canvas.saveState()
        canvas.setFont("DejaVuSans", 7.5)
        canvas.setFillColor(colors.HexColor("#4b5563"))
        canvas.drawString(18 * mm, 10 * mm, visible_text(footer)[:150])
        canvas.drawRightString(PAGE[0] - 18 * mm, 10 * mm, f"pagina {document.page}")
        canvas.restoreState()

    document = SimpleDocTemplate(buffer, pagesize=PAGE, leftMargin=18 * mm, rightMargin=18 * mm, topMargin=16 * mm,
                                 bottomMargin=18 * mm, title=f"Bewijsmap dossier {evidence.case.id}",
                                 author="Schoolwacht", subject="Bewijsmap voor een aangifte", lang="nl-NL")
    document.build(story, onFirstPage=on_page, onLaterPages=on_page)
    return buffer.getvalue()


__all__ = ["EVENT_NL", "build_report", "describe_event"]
