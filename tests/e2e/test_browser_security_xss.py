"""In a real browser: the XSS corpus (`tests/security/xss_payloads.txt`, one payload a line)
through every place a stranger's words reach a page.

Channels: post text (with explanation spans cutting through the payload), author handle and
name, post URL, the manual report form (stored, and reflected after a validation error), source
error messages, account names, the audit log (a failed login's e-mail address), the case search.
Pages: review queue, case page, case list, overview, report form, sources, users, audit log.

On every page: no script ran (`window.__xss` undefined, no dialog; the `page` fixture also
fails on any CSP report or 4xx image/stylesheet load from our origin), the DOM holds no element
or attribute a payload could have brought (`SUSPICIOUS`), every link is http(s), relative or
mailto:, and each payload reads back as exactly the text that was stored.
"""

from __future__ import annotations

import time
from urllib.parse import quote

from playwright.sync_api import Page, expect
from sqlalchemy import select, update

from dashboard.routes.review import safe_link
from store import audit, workflow
from store.models import Case, CasePost, Post, Source
from tests.e2e.conftest import ADMIN, DIRECTOR, SOURCE_NAME, Live, Watch, assert_no_inline
from tests.security.helpers import payloads

CORPUS = payloads()
LINK_BASE = "https://ouders.example/bericht?q="

# Everything the dashboard's own templates never contain, and a payload would bring along.
SUSPICIOUS = r"""() => {
  const bad = [];
  const show = el => el.outerHTML.slice(0, 160);
  const never = new Set(['script', 'iframe', 'frame', 'frameset', 'object', 'embed', 'svg', 'math', 'base',
    'video', 'audio', 'source', 'track', 'template', 'style', 'applet', 'marquee', 'xmp', 'noscript', 'portal',
    'dialog', 'picture', 'canvas', 'font']);
  for (const el of document.querySelectorAll('*')) {
    const tag = el.tagName.toLowerCase();
    if (never.has(tag)) bad.push(show(el));
    if (tag === 'meta' && el.hasAttribute('http-equiv')) bad.push(show(el));
    if (tag === 'link' && !['/static/style.css', 'data:,'].includes(el.getAttribute('href'))) bad.push(show(el));
    if (tag === 'img' && el.getAttribute('src') !== '/chart.png') bad.push(show(el));
    if (tag === 'form' && !/^\/[a-z]/.test(el.getAttribute('action') || '')) bad.push(show(el));
    if (tag === 'input' && (el.getAttribute('type') || '').toLowerCase() === 'image') bad.push(show(el));
    if (tag === 'a' && el.hasAttribute('href')
        && !/^(https?:\/\/[^\s"'<>]+|\/[^\/\\]|\/$|#|mailto:\?)/i.test(el.getAttribute('href'))) bad.push(show(el));
    for (const attr of el.attributes) {
      const name = attr.name.toLowerCase();
      const inline = name.startsWith('on') || (name === 'style' && attr.value.trim());
      if (inline || ['srcdoc', 'formaction', 'xlink:href', 'background', 'dynsrc', 'lowsrc'].includes(name)
          || name.includes(':') || ((name === 'id' || name === 'name') && attr.value.includes('__xss'))) {
        bad.push(show(el));
      }
    }
  }
  if (typeof window.__xss !== 'undefined') bad.push('window.__xss is defined: ' + String(window.__xss));
  return bad;
}"""


def assert_inert(page: Page, where: str) -> None:
    found = page.evaluate(SUSPICIOUS)
    assert not found, f"{where} ({page.url}): {found[:5]}"
    assert_no_inline(page)


def _seed_corpus(live: Live) -> list[tuple[int, int, str, str, str, str]]:
    """(post id, case id, text, handle, name, url) for each payload, each its own case."""
    seeded = []
    for index, payload in enumerate(CORPUS):
        text = f"Verkruisen melding {index}: {payload} (einde)"
        start = text.index(payload)
        spans = [{"start": start, "end": start + len(payload), "text": payload, "source": "model", "rule": None},
                 {"start": start + len(payload) // 2, "end": len(text), "text": None, "source": "model"},
                 {"start": 0, "end": 3, "text": payload, "source": "model"}]  # offsets that do not fit
        url = payload if index % 2 == 0 else LINK_BASE + payload
        result = live.seed_post(text, author=payload, url=url, explanations={"insult": spans[:1], "threat": spans[1:]},
                                categories=["insult", "threat"])
        assert result.case_id is not None
        seeded.append((result.post_id, result.case_id, text, payload, f"Naam {payload}", url))
    with live.env.session() as session:
        for post_id, _case, _text, _handle, name, _url in seeded:
            session.execute(update(Post).where(Post.id == post_id).values(author_name=name))
    return seeded


def _seed_elsewhere(live: Live, case_ids: list[int]) -> list[int]:
    """Payloads as a source's error, as account names (assigned cases) and in the audit log."""
    from tests.helpers.web import make_user

    with live.env.session() as session:
        session.execute(update(Source).where(Source.name == SOURCE_NAME).values(last_error="\n".join(CORPUS)))
        for payload in CORPUS:  # what a failed login with this e-mail address records
            audit.record(session, actor=payload, action="login_failed", detail={"ip": payload, "url": payload})
    named = [make_user(live.env, f"collega{i}@school.example", "staff", name=CORPUS[i]) for i in (0, 11, 28)]
    with live.env.session() as session:
        for user_id, case_id in zip(named, case_ids, strict=False):
            case = session.get(Case, case_id)
            workflow.assign(session, case, assignee_id=user_id, actor=DIRECTOR, actor_id=None)  # type: ignore[arg-type]
    return named


def test_the_xss_corpus_renders_inert_on_every_page(page: Page, live: Live, watch: Watch) -> None:
    assert len(CORPUS) >= 50
    started = time.monotonic()
    seeded = _seed_corpus(live)
    _seed_elsewhere(live, [case_id for _post, case_id, *_ in seeded])
    live.login(page, DIRECTOR)

    # Review queue: every item, on every page of the queue.
    found = 0
    page.goto("/review")
    while True:
        assert_inert(page, "review queue")
        for post_id, _case_id, text, handle, name, url in seeded:
            item = page.locator(f"#bericht-{post_id}")
            if not item.count():
                continue
            found += 1
            assert item.locator(".post-text").evaluate("e => e.textContent") == text
            assert f"{name} ({handle})" in item.locator(".review-meta").evaluate("e => e.textContent")
            link = item.get_by_role("link", name="bericht openen")
            if safe_link(url):  # http(s) with a host, quotes and brackets and all
                assert link.get_attribute("href") == safe_link(url)
            else:
                expect(link).to_have_count(0)
        following = page.get_by_role("link", name="volgende")
        if not following.count():
            break
        following.first.click()
    assert found == len(seeded)

    # Each case page: text, author and link as stored, and nothing else.
    for post_id, case_id, text, handle, name, url in seeded:
        page.goto(f"/cases/{case_id}")
        post = page.locator(".case-post")
        assert post.locator(".post-text").evaluate("e => e.textContent") == text
        assert post.locator(".case-post-meta strong").evaluate("e => e.textContent") == f"{name} @{handle}"
        links = post.locator(".case-post-meta a")
        if workflow.is_web_url(url):
            assert links.get_attribute("href") == url and links.evaluate("e => e.textContent") == url
        else:
            expect(links).to_have_count(0)
        assert_inert(page, f"case {case_id} (post {post_id})")

    # The case list, searched for each payload (the query comes back in the search box).
    for payload in CORPUS:
        page.goto(f"/cases?status=all&zoek={quote(payload)}")
        expect(page.locator("input[name=zoek]")).to_have_value(payload[:200])
        assert_inert(page, f"case search {payload!r}")
    page.goto("/cases?status=all")
    assert_inert(page, "case list")
    page.goto("/")
    assert page.locator(".ov-error").evaluate("e => e.textContent") == "\n".join(CORPUS)
    assert_inert(page, "overview")
    assert not watch.dialogs
    assert time.monotonic() - started < 240


def test_the_xss_corpus_through_the_report_form_and_admin_pages(page: Page, live: Live, watch: Watch) -> None:
    live.login(page, DIRECTOR)
    text = "De juf van Verkruisen is een heks en een leugenaar.\n" + "\n".join(CORPUS)
    author, url = CORPUS[1], LINK_BASE + quote(CORPUS[0])

    # A validation error sends everything typed back into the form: as values, not markup.
    page.goto("/report")
    form = page.locator("form[action='/report']")
    form.evaluate("f => f.noValidate = true")  # the browser's own URL check would stop us first
    form.locator("textarea[name=text]").fill(text)
    form.locator("input[name=author]").fill(author)
    form.locator("input[name=url]").fill("javascript:window.__xss=1//" + CORPUS[3])
    form.locator("select[name=platform]").select_option("forum")
    form.get_by_role("button", name="Melding versturen").click()
    expect(page.get_by_role("alert").first).to_contain_text("nog niet opgeslagen")
    assert form.locator("textarea[name=text]").input_value() == text
    assert form.locator("input[name=author]").input_value() == author
    assert form.locator("input[name=url]").input_value() == "javascript:window.__xss=1//" + CORPUS[3]
    assert_inert(page, "report form after an error")

    # Stored, classified, shown on its case page (opened by the model, or by hand if it judged otherwise).
    form.evaluate("f => f.noValidate = true")
    form.locator("input[name=url]").fill(url)
    form.get_by_role("button", name="Melding versturen").click()
    expect(page.get_by_role("status")).to_contain_text("Melding opgeslagen", timeout=60_000)
    with live.env.session() as session:
        post = session.execute(select(Post).where(Post.url == url)).scalars().one()
        case_id = session.execute(select(CasePost.case_id).where(CasePost.post_id == post.id)).scalar()
        assert post.text == text and post.author_handle == author
    if case_id is None:
        case_id = live.seed_post("Verkruisen", author=author).case_id
    page.goto(f"/cases/{case_id}")
    shown = page.locator(".case-post .post-text").evaluate_all("els => els.map(e => e.textContent)")
    assert text in shown
    assert page.locator(f'.case-post a[href="{url}"]').count() == 1
    assert_inert(page, "case page of the manual report")

    # A failed login whose e-mail address is a payload, through the real form.
    page.get_by_role("button", name="Uitloggen").click()
    login = page.locator("form[action='/login']")
    login.evaluate("f => f.noValidate = true")
    login.locator("input[name=email]").fill(CORPUS[6])
    login.locator("input[name=password]").fill("fout-wachtwoord")
    login.get_by_role("button", name="Inloggen").click()
    expect(page.get_by_role("alert")).to_contain_text("Onjuist e-mailadres of wachtwoord")
    assert login.locator("input[name=email]").input_value() == CORPUS[6]
    assert_inert(page, "login form after an error")

    live.login(page, ADMIN)
    page.goto("/admin/audit?actie=manual_report")
    assert_inert(page, "audit log (manual report)")
    page.goto("/admin/audit?actie=login_failed")
    expect(page.locator("main")).to_contain_text(CORPUS[6])
    assert_inert(page, "audit log (failed logins)")
    for path in ("/admin/users", "/sources", "/"):
        page.goto(path)
        assert_inert(page, path)
    assert not watch.dialogs
