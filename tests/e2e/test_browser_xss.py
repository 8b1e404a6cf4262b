"""In a real browser: hostile post texts, authors, links and form input render inert.

A post's text, author and URL come from strangers. Each page that shows them must show the
payload as text: no script runs (`window.__xss` stays undefined), no dialog opens (the `page`
fixture fails the test on any), no element or attribute of the payload exists in the DOM, and
no `javascript:` URL becomes a link. The same holds for what users type (notes, search) and for
values reflected from the query string.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

from playwright.sync_api import Page, expect

from tests.e2e.conftest import DIRECTOR, Live, Watch, assert_no_inline

Shot = Callable[[Page, str], Path]
SCRIPT = "<script>window.__xss=1</script>"
IMG = '<img src=x onerror="window.__xss=1">'
LINK = '<a href="javascript:window.__xss=1">klik hier</a>'
TEXT = f"Kijk wat ze op Verkruisen doen {SCRIPT} en {IMG} en {LINK} en alert(document.cookie)"


def assert_inert(page: Page, *, where: str = "") -> None:
    assert page.evaluate("() => typeof window.__xss") == "undefined", f"a payload ran on {page.url} {where}"
    injected = page.evaluate("""() => [
        ...document.querySelectorAll('img[src="x"], script:not([src]), a[href^="javascript:" i], [onerror]')
    ].map(e => e.outerHTML)""")
    assert not injected, f"payload elements in the DOM of {page.url}: {injected}"
    assert_no_inline(page)


def test_hostile_post_renders_inert_on_every_page(page: Page, live: Live, watch: Watch, shot: Shot) -> None:
    seeded = live.seed_post(
        TEXT, categories=["insult"], author=IMG, url="javascript:window.__xss=1",
        explanations={"insult": [{"start": TEXT.index(IMG), "end": TEXT.index(IMG) + len(IMG), "text": IMG,
                                  "source": "model", "rule": None},
                                 {"start": 0, "end": 4, "text": SCRIPT, "source": "model", "rule": None}]})
    live.login(page, DIRECTOR)

    page.goto("/review")
    item = page.locator(f"#bericht-{seeded.post_id}")
    text = item.locator(".post-text")
    for payload in (SCRIPT, IMG, LINK):
        expect(text).to_contain_text(payload)  # shown as text, angle brackets and all
    # The explaining spans are highlighted, still as text (the second one by its words: its offsets are wrong).
    expect(text.locator("mark")).to_have_text([SCRIPT, IMG])
    expect(item.get_by_role("link", name="bericht openen")).to_have_count(0)  # javascript: is no link
    expect(item).to_contain_text("javascript:window.__xss=1")
    expect(item.locator(".review-meta")).to_contain_text(IMG)
    assert_inert(page, where="review queue")
    shot(page, "xss-review")

    page.goto(f"/cases/{seeded.case_id}")
    post = page.locator(".case-post")
    for payload in (SCRIPT, IMG, LINK):
        expect(post.locator(".post-text")).to_contain_text(payload)
    expect(post.locator(".case-post-meta")).to_contain_text(IMG)
    expect(page.locator(".case-message")).to_contain_text("Verkruisen")
    assert_inert(page, where="case page")
    # Clicking every link of the case page runs nothing either (a mailto: link is left alone).
    for link in post.get_by_role("link").all():
        link.click(modifiers=["Control"])
    assert_inert(page, where="case page after clicks")
    shot(page, "xss-case")

    # What users type comes back escaped too: a note on the timeline, a search on the list.
    page.locator("form[action$='/note'] textarea[name=note]").fill(f"Notitie {SCRIPT} {IMG}")
    page.get_by_role("button", name="Notitie opslaan").click()
    expect(page.get_by_role("status")).to_have_text("Notitie toegevoegd.")
    expect(page.locator("table.case-timeline")).to_contain_text(f"Notitie {SCRIPT} {IMG}")
    assert_inert(page, where="timeline note")

    page.goto(f"/cases?status=all&zoek={quote(IMG)}")
    expect(page.locator("input[name=zoek]")).to_have_value(IMG)
    assert_inert(page, where="case search")

    page.goto("/")
    assert_inert(page, where="overview")
    assert not watch.dialogs


def test_reflected_query_values_render_inert(page: Page, live: Live) -> None:
    live.login(page, DIRECTOR)
    page.goto(f"/?melding={quote(SCRIPT + IMG)}")
    expect(page.get_by_role("status")).to_have_text(SCRIPT + IMG)
    assert_inert(page, where="notice")

    page.goto(f"/review?ernst={quote(IMG)}&school={quote(SCRIPT)}&pagina={quote(IMG)}")
    assert_inert(page, where="review filters")

    page.get_by_role("button", name="Uitloggen").click()
    page.goto(f"/login?next={quote('javascript:window.__xss=1')}")
    expect(page.locator("input[name=next]")).to_have_value("/")
    assert_inert(page, where="login next")
