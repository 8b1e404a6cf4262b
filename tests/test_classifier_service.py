"""`schoolwacht classify`: stored posts get one Classification each and open or join cases."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import select

from crawlers.manual import ManualReport, submit_report
from schoolwacht.cli import cli
from store.models import Case, CaseEvent, CasePost, Classification
from tests.helpers.fixtures import SCHOOL, Env


def _report(env: Env, settings, text: str, author: str) -> int:
    with env.session() as session:
        return submit_report(session, settings, ManualReport(
            school=SCHOOL["name"], text=text, author=author, platform="facebook")).id


def test_classify_pending_opens_and_joins_cases(env_any_db: Env) -> None:
    settings = env_any_db.write([])
    threat = _report(env_any_db, settings, "Ik kom morgen met een mes naar BM Verkruisen, juf Anja.", "boos123")
    insult = _report(env_any_db, settings, "Juf Anja van de Verkruisen is een vuile kankertrut", "boos123")
    praise = _report(env_any_db, settings, "Wat een mooie kerstmarkt op obs BM Verkruisen, dank juffen!", "blij")
    runner = CliRunner()
    args = ["--config", str(env_any_db.config_file)]
    result = runner.invoke(cli, [*args, "classify", "--pending"])
    assert result.exit_code == 0, result.output
    assert "classified 3 posts" in result.output

    with env_any_db.session() as session:
        rows = {c.post_id: c for c in session.execute(select(Classification)).scalars()}
        assert set(rows) == {threat, insult, praise}
        assert rows[threat].severity == "urgent"
        assert rows[threat].explanations["threat"]
        assert rows[praise].severity == "none"
        cases = session.execute(select(Case)).scalars().all()
        links = session.execute(select(CasePost)).scalars().all()
        events = [e.action for e in session.execute(select(CaseEvent).order_by(CaseEvent.id)).scalars()]
    # The same author's two posts share one case; praise opens none.
    assert len(cases) == 1 and {link.post_id for link in links} == {threat, insult}
    assert cases[0].severity == "urgent" and "threat" in cases[0].categories
    assert cases[0].deadline is not None  # insult is prosecuted only on complaint: 3 months
    assert events == ["opened", "post_added"]

    again = runner.invoke(cli, [*args, "classify", "--pending"])
    assert "classified 0 posts" in again.output
    listing = runner.invoke(cli, [*args, "cases", "--json"])
    case = json.loads(listing.output.splitlines()[0])
    assert case["status"] == "new" and case["severity"] == "urgent"
    assert sorted(case["posts"]) == sorted([threat, insult])


def test_classify_jsonl_reports_bad_lines_and_continues(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    target = tmp_path / "out.jsonl"
    source.write_text(
        '{"id": 1, "text": "Ik steek die school in de fik"}\n'
        "{not json\n"
        '{"id": 2}\n'
        '{"id": 3, "text": "Fijne vakantie allemaal!"}\n', encoding="utf-8")
    result = CliRunner().invoke(cli, ["classify", "--input", str(source), "--output", str(target)])
    assert result.exit_code != 0
    assert "line 2: invalid JSON" in result.output and "line 3:" in result.output
    rows = [json.loads(line) for line in target.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in rows] == [1, 3]
    for row in rows:
        assert row["sentiment"] in ("positive", "neutral", "negative")
        assert row["severity"] in ("none", "negative", "criminal", "urgent")
        assert set(row["scores"]) >= {"threat", "insult"}
    assert rows[0]["severity"] == "urgent"
