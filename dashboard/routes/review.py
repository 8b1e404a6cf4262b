"""The review queue (`/review`): flagged posts nobody has judged yet, and the verdicts on them.

Admins and directors confirm a classification, dismiss it as a false alarm (which closes a case
that holds nothing else flagged and that nobody acted on yet), or correct its labels. Every
verdict is a `Feedback` row (training data, `schoolwacht feedback export --jsonl`) and an audit
entry. Post texts come from strangers: they are escaped piece by piece around the highlighted
spans, never marked safe as a whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup, escape
from sqlmodel import Session

from alerts.digest import PLATFORM_NL, SENTIMENT_NL, SEVERITY_NL
from classifier.labels import ARTICLES, CATEGORIES, CATEGORY_NAMES_NL, SENTIMENTS
from dashboard.app import DB, form_viewer, record, redirect, render, role, templates
from dashboard.auth import Forbidden, Viewer
from dashboard.cache import VersionedCache
from store.feedback import add_feedback
from store.models import Classification, Post
from store.overview import data_version
from store.review import FLAGGED, QueuePage, case_of_post, dismiss_lone_case, post_for_review, review_queue, schools

router = APIRouter()
SENTIMENT_CHOICES = [(s, SENTIMENT_NL[s]) for s in SENTIMENTS]
CATEGORY_CHOICES = [(c, CATEGORY_NAMES_NL[c]) for c in CATEGORIES]
# Stands in for the CSRF field in the cached item list; post texts are escaped, so no post can
# contain it as markup.
CSRF_PLACEHOLDER = "<!--csrf-field-->"
REVIEWERS = ("admin", "director")
reviewer = role(*REVIEWERS)


# -- presentation helpers -----------------------------------------------------------------------
def _ranges(text: str, explanations: Any) -> list[tuple[int, int, str]]:
    """(start, end, category) of every usable span; spans whose offsets do not fit the text are
    looked up by their quoted text instead, and dropped when that is not found either."""
    found: list[tuple[int, int, str]] = []
    if not isinstance(explanations, dict):
        return found
    for category, spans in explanations.items():
        if not isinstance(spans, list):
            continue
        for span in spans:
            if not isinstance(span, dict):
                continue
            start, end, quoted = span.get("start"), span.get("end"), span.get("text")
            if (isinstance(start, int) and isinstance(end, int) and not isinstance(start, bool)
                    and 0 <= start < end <= len(text)
                    and (not isinstance(quoted, str) or not quoted or text[start:end] == quoted)):
                found.append((start, end, str(category)))
            elif isinstance(quoted, str) and quoted and (at := text.find(quoted)) >= 0:
                found.append((at, at + len(quoted), str(category)))
    return found


def highlight(text: str, explanations: Any) -> Markup:
    """The post's text as HTML: every piece escaped, the explaining spans wrapped in <mark>.

    Overlapping or touching spans are merged into one <mark> (its title names all their
    categories), so marks never nest or cross and the markup stays well-formed."""
    merged: list[list[Any]] = []  # [start, end, {categories}]
    for start, end, category in sorted(_ranges(text, explanations)):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
            merged[-1][2].add(category)
        else:
            merged.append([start, end, {category}])
    parts: list[Markup] = []
    position = 0
    for start, end, categories in merged:
        parts.append(escape(text[position:start]))
        names = ", ".join(CATEGORY_NAMES_NL.get(c, c) for c in sorted(categories))
        parts.append(Markup('<mark class="review-span" title="{}">{}</mark>').format(names, text[start:end]))
        position = end
    parts.append(escape(text[position:]))
    return Markup("").join(parts)


def safe_link(url: str | None) -> str | None:
    """Only http(s) URLs with a host become links; javascript:, data: and the like do not."""
    if not url:
        return None
    candidate = url.strip()
    try:
        parts = urlsplit(candidate)
    except ValueError:
        return None
    return candidate if parts.scheme.lower() in ("http", "https") and parts.netloc else None


def author_of(post: Post) -> str:
    handle, name = (post.author_handle or "").strip(), (post.author_name or "").strip()
    if handle and name and handle != name:
        return f"{name} ({handle})"
    return name or handle or "onbekend"


@dataclass(frozen=True)
class Category:
    code: str
    name: str
    article: str


@dataclass(frozen=True)
class Item:
    post_id: int
    text_html: Markup
    platform: str
    author: str
    created_at: Any
    link: str | None
    url_text: str | None
    severity: str
    severity_nl: str
    sentiment: str
    sentiment_nl: str
    categories: list[Category]
    case_id: int | None

    @property
    def codes(self) -> set[str]:
        return {c.code for c in self.categories}


def _item(post: Post, classification: Classification, case_id: int | None) -> Item:
    categories = [Category(c, CATEGORY_NAMES_NL.get(c, c), ARTICLES.get(c, "")) for c in classification.categories]
    link = safe_link(post.url)
    return Item(post_id=int(post.id),  # type: ignore[arg-type]
                text_html=highlight(post.text, classification.explanations), platform=PLATFORM_NL.get(
                    post.platform, post.platform), author=author_of(post), created_at=post.created_at,
                link=link, url_text=None if link else (post.url or None), severity=classification.severity,
                severity_nl=SEVERITY_NL.get(classification.severity, classification.severity),
                sentiment=classification.sentiment,
                sentiment_nl=SENTIMENT_NL.get(classification.sentiment, classification.sentiment),
                categories=categories, case_id=case_id)


def _filters(school: str, ernst: str) -> tuple[int | None, str | None]:
    school_id = int(school) if school.isdigit() and len(school) < 10 else None
    return school_id, (ernst if ernst in FLAGGED else None)


def _queue_url(school_id: int | None, severity: str | None, page: int = 1) -> str:
    query = {k: v for k, v in (("school", school_id), ("ernst", severity), ("pagina", page if page > 1 else None))
             if v is not None}
    return "/review" + (f"?{urlencode(query)}" if query else "")


# -- the queue ----------------------------------------------------------------------------------
@router.get("/review", response_class=HTMLResponse)
def review(request: Request, pagina: str = "1", school: str = "", ernst: str = "",
           who: Viewer = Depends(reviewer), session: Session = DB) -> HTMLResponse:
    school_id, severity = _filters(school, ernst)
    page = int(pagina) if pagina.isdigit() and len(pagina) < 7 else 1
    def compute() -> tuple[QueuePage, list[Item], str]:
        found = review_queue(session, school_id=school_id, severity=severity, page=page)
        items = [_item(i.post, i.classification, i.case_id) for i in found.items]
        html = templates.get_template("review_items.html").render({
            "items": items, "csrf_field": Markup(CSRF_PLACEHOLDER), "school_id": school_id, "severity": severity,
            "page": found.page, "sentiments": SENTIMENT_CHOICES, "all_categories": CATEGORY_CHOICES})
        return found, items, html

    # The items of a page change only when the data does (dashboard/cache.py): rendered once,
    # with a placeholder where each viewer's own CSRF token goes.
    cache: VersionedCache = request.app.state.page_cache
    result, items, html = cache.get(("review", school_id, severity, page), data_version(session), compute)
    csrf_field = str(Markup('<input type="hidden" name="csrf_token" value="{}">').format(who.csrf_token))
    return render(request, "review.html", {
        "title": "Te beoordelen", "items": items, "items_html": Markup(html.replace(CSRF_PLACEHOLDER, csrf_field)),
        "total": result.total, "page": result.page,
        "pages": result.pages, "schools": schools(session), "school_id": school_id, "severity": severity,
        "severities": [(s, SEVERITY_NL[s]) for s in FLAGGED],
        "prev_url": _queue_url(school_id, severity, result.page - 1) if result.page > 1 else None,
        "next_url": _queue_url(school_id, severity, result.page + 1) if result.page < result.pages else None,
    })


# -- verdicts -----------------------------------------------------------------------------------
def reviewer_form(who: Viewer = Depends(form_viewer)) -> Viewer:
    """A POST with a valid CSRF token from an admin or director."""
    if not who.can(*REVIEWERS):
        raise Forbidden
    return who


def _target(session: Session, post_id: int) -> tuple[Post, Classification]:
    found = post_for_review(session, post_id)
    if found is None:
        raise HTTPException(status_code=404)
    return found


def _back(school: str, ernst: str, pagina: str, notice: str) -> Response:
    school_id, severity = _filters(school, ernst)
    page = int(pagina) if pagina.isdigit() and len(pagina) < 7 else 1
    return redirect(_queue_url(school_id, severity, page), notice)


@router.post("/review/{post_id}/confirm")
def confirm(post_id: int, note: str = Form(""), school: str = Form(""), ernst: str = Form(""),
            pagina: str = Form("1"), who: Viewer = Depends(reviewer_form),
            session: Session = DB) -> Response:
    post, classification = _target(session, post_id)
    row = add_feedback(session, post_id=post_id, classification=classification, user_id=who.id,
                       verdict="confirmed", note=note)
    case = case_of_post(session, post_id)
    record(session, who, "review_confirm", "post", post_id, feedback_id=row.id, classification_id=classification.id,
           severity=classification.severity, categories=list(classification.categories),
           case_id=case.id if case else None)
    return _back(school, ernst, pagina, f"Bericht {post.id} bevestigd: de markering klopt.")


@router.post("/review/{post_id}/dismiss")
def dismiss(post_id: int, note: str = Form(""), school: str = Form(""), ernst: str = Form(""),
            pagina: str = Form("1"), who: Viewer = Depends(reviewer_form),
            session: Session = DB) -> Response:
    post, classification = _target(session, post_id)
    row = add_feedback(session, post_id=post_id, classification=classification, user_id=who.id,
                       verdict="dismissed", note=note)
    closed = dismiss_lone_case(session, post_id=post_id, actor=who.label, actor_id=who.id)
    case = closed or case_of_post(session, post_id)
    record(session, who, "review_dismiss", "post", post_id, feedback_id=row.id, classification_id=classification.id,
           severity=classification.severity, case_id=case.id if case else None)
    notice = f"Bericht {post.id} gemarkeerd als vals alarm."
    if closed is not None:
        record(session, who, "case_status", "case", int(closed.id), status="dismissed",  # type: ignore[arg-type]
               note="Vals alarm (beoordeling)", post_id=post_id)
        notice += f" Dossier {closed.id} is gesloten als vals alarm."
    return _back(school, ernst, pagina, notice)


@router.post("/review/{post_id}/correct")
def correct(request: Request, post_id: int, sentiment: str = Form(""), categories: list[str] = Form([]),
            note: str = Form(""), school: str = Form(""), ernst: str = Form(""), pagina: str = Form("1"),
            who: Viewer = Depends(reviewer_form), session: Session = DB) -> Response:
    post, classification = _target(session, post_id)
    if sentiment not in SENTIMENTS or not set(categories) <= set(CATEGORIES):
        return render(request, "error.html", {"title": "Correctie niet opgeslagen",
                                              "message": "Kies een sentiment en alleen bekende categorieën."},
                      status_code=400)
    row = add_feedback(session, post_id=post_id, classification=classification, user_id=who.id,
                       verdict="corrected", sentiment=sentiment, categories=categories, note=note)
    case = case_of_post(session, post_id)
    record(session, who, "review_correct", "post", post_id, feedback_id=row.id, classification_id=classification.id,
           before={"sentiment": classification.sentiment, "categories": list(classification.categories)},
           after={"sentiment": row.sentiment, "categories": list(row.categories)},
           case_id=case.id if case else None)
    names = ", ".join(CATEGORY_NAMES_NL[c] for c in row.categories) or "geen categorie"
    return _back(school, ernst, pagina, f"Labels van bericht {post.id} gecorrigeerd: "
                                        f"{SENTIMENT_NL[sentiment]}, {names}.")
