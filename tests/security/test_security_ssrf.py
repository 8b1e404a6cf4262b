"""SSRF: a manual report's URL and a `web` source's URLs never make Schoolwacht reach a private,
loopback or link-local address, however the address is spelled or whatever name resolves to it.

Three things fetch a URL someone else chose: the re-check of flagged posts (`crawlers.recheck`,
also the "opnieuw ophalen" button of a case), the evidence screenshot (`evidence.screenshot`,
Chromium) and the crawl of a `web` source (`crawlers.middlewares.AddressGuardMiddleware`). The
report form itself only stores the URL. A canary server on 127.0.0.1 (and [::1]) counts every
request that reaches it: it must count zero, and each refusal says why.

Names are resolved with `socket.getaddrinfo`; tests map made-up names (`*.schoolwacht.test`) to
the addresses under attack by replacing it, in this process for the re-check and the screenshot
guard, and through a `sitecustomize` module in the crawl's own process.
"""

from __future__ import annotations

import ipaddress
import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from crawlers.middlewares import is_public_address
from crawlers.recheck import Fetcher
from evidence.capture import capture_pending
from store.models import CaseEvent, Post, Source
from tests.helpers.fixtures import Env
from tests.security.helpers import DIRECTOR, Canary, Site, build_site, form_token

PUBLIC = "93.184.216.34"  # a globally routable address (never connected to here)
HOSTS: dict[str, list[str]] = {
    "intranet.schoolwacht.test": ["127.0.0.1"],
    "metadata.schoolwacht.test": ["169.254.169.254"],
    "router.schoolwacht.test": ["192.168.1.1"],
    "v6.schoolwacht.test": ["::1"],
    "mapped.schoolwacht.test": ["::ffff:127.0.0.1"],
    "nat64.schoolwacht.test": ["64:ff9b::7f00:1"],
    "linklocal6.schoolwacht.test": ["fe80::1"],
    "mixed.schoolwacht.test": [PUBLIC, "127.0.0.1"],  # one bad answer among good ones is enough
}
THREAT = "Ik steek die school van Verkruisen in de fik, let maar op"


def attack_urls(canary: Canary) -> list[str]:
    port, port6 = canary.port, canary.v6_port or canary.port
    return [
        f"http://127.0.0.1:{port}/bericht", f"http://localhost:{port}/bericht", f"http://LocalHost:{port}/bericht",
        f"http://localhost.:{port}/bericht", f"http://forum.localhost:{port}/bericht",
        f"http://2130706433:{port}/bericht", f"http://0177.0.0.1:{port}/bericht", f"http://0x7f.0.0.1:{port}/bericht",
        f"http://0x7f000001:{port}/bericht", f"http://127.1:{port}/bericht", f"http://017700000001:{port}/bericht",
        f"http://0.0.0.0:{port}/bericht", f"http://0:{port}/bericht", f"http://[::ffff:127.0.0.1]:{port}/bericht",
        f"http://[::ffff:7f00:1]:{port}/bericht", f"http://[::1]:{port6}/bericht", f"http://[::]:{port6}/bericht",
        f"http://[0:0:0:0:0:0:0:1]:{port6}/bericht", f"http://ouders.example@127.0.0.1:{port}/bericht",
        f"http://127.0.0.1:{port}#@ouders.example/bericht", f"https://127.0.0.1:{port}/bericht",
        f"http://intranet.schoolwacht.test:{port}/bericht", f"http://INTRANET.schoolwacht.test.:{port}/bericht",
        f"http://v6.schoolwacht.test:{port6}/bericht", f"http://mapped.schoolwacht.test:{port}/bericht",
        f"http://mixed.schoolwacht.test:{port}/bericht", f"http://nat64.schoolwacht.test:{port}/bericht",
        "http://169.254.169.254/latest/meta-data/", "http://metadata.schoolwacht.test/latest/meta-data/",
        "http://[fd00:ec2::254]/latest/meta-data/", "http://[fe80::1]/", "http://[fe80::1%25lo]/",
        "http://linklocal6.schoolwacht.test/", "http://10.0.0.1/", "http://172.16.0.1/", "http://192.168.1.1/",
        "http://router.schoolwacht.test/", "http://100.64.0.1/", "http://[fd00::1]/", "http://224.0.0.1/",
        # IPv4 addresses embedded in IPv6 (NAT64, 6to4, IPv4-compatible, IPv4-translated)
        f"http://[64:ff9b::7f00:1]:{port}/", "http://[64:ff9b::a9fe:a9fe]/", "http://[64:ff9b:1::a00:1]/",
        "http://[2002:7f00:1::]/", "http://[2002:a9fe:a9fe::1]/", f"http://[::127.0.0.1]:{port}/",
        "http://[::ffff:0:127.0.0.1]/",
    ]


# -- name resolution under test control -------------------------------------------------------------
def _fake_getaddrinfo(real: Any) -> Any:
    def getaddrinfo(host: Any, port: Any, family: int = 0, type: int = 0, proto: int = 0, flags: int = 0) -> Any:
        name = (host.decode() if isinstance(host, bytes) else str(host or "")).lower().rstrip(".")
        if name not in HOSTS:
            return real(host, port, family, type, proto, flags)
        number = int(port) if isinstance(port, int | str) and str(port).isdigit() else 0
        return [(socket.AF_INET6, socket.SOCK_STREAM, 6, "", (a, number, 0, 0)) if ":" in a
                else (socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, number)) for a in HOSTS[name]]

    return getaddrinfo


@pytest.fixture
def resolver(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket, "getaddrinfo", _fake_getaddrinfo(socket.getaddrinfo))


SITECUSTOMIZE = '''"""Test-only name resolution for a crawl process (tests/security/test_security_ssrf.py)."""
import json
import os
import socket

_HOSTS = json.loads(os.environ["SCHOOLWACHT_TEST_HOSTS"])
_REBIND = json.loads(os.environ.get("SCHOOLWACHT_TEST_REBIND", "{}"))
_real_getaddrinfo, _real_gethostbyname = socket.getaddrinfo, socket.gethostbyname


def _name(host):
    return (host.decode() if isinstance(host, bytes) else str(host or "")).lower().rstrip(".")


def getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):
    addresses = _HOSTS.get(_name(host))
    if addresses is None:
        return _real_getaddrinfo(host, port, family, type, proto, flags)
    number = int(port) if str(port).isdigit() else 0
    return [(socket.AF_INET6, socket.SOCK_STREAM, 6, "", (a, number, 0, 0)) if ":" in a
            else (socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, number)) for a in addresses]


def gethostbyname(host):
    name = _name(host)
    if name in _REBIND:  # a second lookup of the name answers differently (DNS rebinding)
        return _REBIND[name]
    addresses = [a for a in _HOSTS.get(name, []) if ":" not in a]
    return addresses[0] if addresses else _real_gethostbyname(host)


socket.getaddrinfo = getaddrinfo
socket.gethostbyname = gethostbyname
'''


def _with_hosts(env: Env, tmp_path: Path, rebind: dict[str, str] | None = None) -> None:
    folder = tmp_path / "resolver"
    folder.mkdir(exist_ok=True)
    (folder / "sitecustomize.py").write_text(SITECUSTOMIZE, encoding="utf-8")
    env.extra_env.update({"PYTHONPATH": str(folder), "SCHOOLWACHT_TEST_HOSTS": json.dumps(HOSTS),
                          "SCHOOLWACHT_TEST_REBIND": json.dumps(rebind or {})})


# -- the guard itself -------------------------------------------------------------------------------
@pytest.mark.parametrize("address", [
    "127.0.0.1", "10.1.2.3", "169.254.169.254", "100.64.0.1", "0.0.0.0", "::1", "::", "fe80::1", "fd00::1",
    "::ffff:127.0.0.1", "::ffff:169.254.169.254", "64:ff9b::7f00:1", "64:ff9b::a00:1", "64:ff9b::a9fe:a9fe",
    "64:ff9b:1::a00:1", "2002:7f00:1::", "2002:a00:1::1", "2002:a9fe:a9fe::", "::7f00:1", "::a00:1",
    "::ffff:0:7f00:1", "::ffff:0:a00:1", "2001:db8::1", "224.0.0.1", "ff02::1",
])
def test_private_addresses_are_not_public_however_they_are_written(address: str) -> None:
    assert not is_public_address(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", [PUBLIC, "2606:2800:220:1:248:1893:25c8:1946", "64:ff9b::5db8:d822",
                                     "2002:5db8:d822::1", "::ffff:93.184.216.34"])
def test_public_addresses_stay_public(address: str) -> None:
    assert is_public_address(ipaddress.ip_address(address))


# -- manual reports: stored, then re-checked and photographed --------------------------------------
@pytest.fixture
def ssrf_site(env: Env) -> Iterator[Site]:
    # Screenshots on, and no private address allowed for them (the default).
    site = build_site(env, allow_private=False, screenshots=True, screenshot_timeout_seconds=10)
    site.classify_with_shared_model()
    yield site


def _report(site: Site, client: Any, token: str, url: str) -> int:
    response = client.post("/report", data={"csrf_token": token, "text": THREAT, "url": url, "platform": "forum",
                                            "author": "boze_buurman", "school": "obs BM Verkruisen"})
    assert response.status_code == 303, (url, response.text[:1000])
    with site.env.session() as session:
        return int(session.execute(select(Post.id).where(Post.url == url)).scalar_one())


def test_manual_report_urls_are_stored_but_never_fetched(ssrf_site: Site, canary: Canary, resolver: None) -> None:
    site = ssrf_site
    urls = attack_urls(canary)
    # The canary and the name mapping work: a fetch that trusts the host does reach it.
    control = Fetcher(site.settings).get(f"http://intranet.schoolwacht.test:{canary.port}/controle",
                                         trusted={("intranet.schoolwacht.test", canary.port)})
    assert control.status == 200 and canary.hits == [f"intranet.schoolwacht.test:{canary.port} /controle"]
    canary.hits.clear()

    director = site.client(DIRECTOR)
    token = form_token(director, "/report")
    post_ids = [_report(site, director, token, url) for url in urls]
    assert canary.hits == []  # storing a report fetches nothing
    with site.env.session() as session:
        case_ids = set(session.execute(select(CaseEvent.case_id).where(CaseEvent.action == "post_added")).scalars())
        case_ids |= set(session.execute(select(CaseEvent.case_id).where(CaseEvent.action == "opened")).scalars())

    # The re-check, as the case page's button runs it: every URL refused, the reason recorded.
    checked: dict[int, str] = {}
    for case_id in sorted(case_ids):
        response = director.post(f"/cases/{case_id}/recheck", data={"csrf_token": form_token(director)})
        assert response.status_code == 303, response.text[:500]
        with site.env.session() as session:
            event = session.execute(select(CaseEvent).where(CaseEvent.case_id == case_id,
                                                            CaseEvent.action == "recheck")
                                    .order_by(CaseEvent.id.desc())).scalars().first()  # type: ignore[union-attr]
            assert event is not None
            checked.update({p["post_id"]: p["reason"] for p in event.data["posts"]})
            assert all(p["verdict"] == "unknown" for p in event.data["posts"]), event.data
    for post_id, url in zip(post_ids, urls, strict=True):
        reason = checked[post_id]
        assert "niet-openbare adres" in reason or "onbekende host" in reason, (url, reason)
    assert canary.hits == []

    # The evidence job: no screenshot of any of them (Chromium is not even started), a rendering
    # instead, and the reason in the case's timeline.
    report = capture_pending(site.settings, limit=len(urls) + 5)
    assert report.screenshots == 0 and report.renderings >= len(urls) and report.failed == 0
    with site.env.session() as session:
        notes = {e.data["post_id"]: e.note for e in session.execute(
            select(CaseEvent).where(CaseEvent.action == "evidence_capture")).scalars()}
    for post_id, url in zip(post_ids, urls, strict=True):
        assert "Geen schermafbeelding" in notes[post_id], url
        assert "niet-openbare adres" in notes[post_id] or "onbekende host" in notes[post_id], (url, notes[post_id])
    assert canary.hits == []


# -- web sources: the crawl in its own process -----------------------------------------------------
def test_web_source_urls_towards_private_addresses_are_refused(env: Env, tmp_path: Path, canary: Canary) -> None:
    _with_hosts(env, tmp_path)
    # A zone id ("%25lo") is no valid URL to the config's own check: that refusal is enough.
    urls = [u for u in attack_urls(canary) if "%25" not in u]
    env.write([
        {"name": "web-intern", "kind": "web", "urls": urls, "allow_private": False},
        # Control: the same canary, configured with allow_private, is reached (resolver and canary work).
        {"name": "web-toegestaan", "kind": "web", "urls": [f"http://intranet.schoolwacht.test:{canary.port}/mag"],
         "allow_private": True},
    ])
    control = env.crawl("web-toegestaan")
    assert any(hit.startswith(f"intranet.schoolwacht.test:{canary.port} /mag") for hit in canary.hits), (
        canary.hits, control.stderr[-2000:])
    canary.hits.clear()

    result = env.crawl("web-intern")
    assert canary.hits == [], canary.hits
    assert result.returncode == 1, result.stderr[-3000:]
    with env.session() as session:
        source = session.execute(select(Source).where(Source.name == "web-intern")).scalars().one()
        configured = source.settings["urls"]  # as the config check wrote them (2130706433 -> 127.0.0.1)
        assert source.last_error and source.last_error.startswith("geweigerd: ")
        assert "niet-openbare adres" in source.last_error and "andere fouten" in source.last_error
    lines = result.stderr.lower().splitlines()
    for url in configured:  # every page refused by name with the reason; names that resolve nowhere fail
        url = url.lower()
        assert any(f"geweigerd: {url} wijst naar het niet-openbare adres" in line for line in lines) or (
            url.startswith(("http://localhost.:", "http://forum.localhost:"))
            and f"{url}: onbekende host" in result.stderr), url


def test_a_name_that_resolves_differently_for_the_download_is_refused(env: Env, tmp_path: Path,
                                                                      canary: Canary) -> None:
    """DNS rebinding: the guard's lookup answers a public address, the downloader's own lookup a
    moment later answers 127.0.0.1. The address actually connected to must be checked too."""
    HOSTS["rebind.schoolwacht.test"] = [PUBLIC]
    try:
        _with_hosts(env, tmp_path, rebind={"rebind.schoolwacht.test": "127.0.0.1"})
        env.write([{"name": "web-rebind", "kind": "web", "allow_private": False,
                    "urls": [f"http://rebind.schoolwacht.test:{canary.port}/pagina"]}])
        result = env.crawl("web-rebind")
    finally:
        del HOSTS["rebind.schoolwacht.test"]
    assert canary.hits == [], canary.hits
    with env.session() as session:
        source = session.execute(select(Source).where(Source.name == "web-rebind")).scalars().one()
        assert source.last_error and "niet-openbare adres 127.0.0.1" in source.last_error, (
            source.last_error, result.stderr[-2000:])


def test_a_refused_request_never_shows_the_token_in_its_url(env: Env, canary: Canary) -> None:
    """The Graph API takes its token in the query string; a refusal of such a URL is shown on the
    overview and in the log, never with the token."""
    env.extra_env["SCHOOLWACHT_TEST_FB_TOKEN"] = "GEHEIM-PAGINATOKEN-123"
    env.write([{"name": "fb-intern", "kind": "facebook_page", "base_url": f"http://127.0.0.1:{canary.port}/v21.0",
                "page_id": "verkruisen", "token_env": "SCHOOLWACHT_TEST_FB_TOKEN", "allow_private": False}])
    result = env.crawl("fb-intern")
    assert canary.hits == []
    with env.session() as session:
        source = session.execute(select(Source).where(Source.name == "fb-intern")).scalars().one()
    assert source.last_error and "niet-openbare adres 127.0.0.1" in source.last_error
    assert "GEHEIM-PAGINATOKEN-123" not in source.last_error + result.stdout + result.stderr
