"""``govcloud report monthly`` and ``govcloud report assessment``."""

from __future__ import annotations

import json

import pytest


@pytest.fixture
def run(run_cli, ledger, monkeypatch):
    monkeypatch.setenv("GOVCLOUD_DATABASE_URL", ledger.engine.url.render_as_string(hide_password=False))
    monkeypatch.delenv("OS_CLOUD", raising=False)
    return run_cli


def test_monthly_json_without_a_cloud(run):
    result = run("report", "monthly", "--month", "2026-04", "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["usage_known"], data["cloud_error"]) == (False, "no cloud named (--cloud or OS_CLOUD)")
    assert [u["unit"] for u in data["units"]] == ["rsj", "sjj", "zjj", "zwb"]


def test_monthly_into_a_directory(run, tmp_path):
    result = run(
        "report",
        "monthly",
        "--month",
        "2026-04",
        "--unit",
        "zwb",
        "--lang",
        "en",
        "--format",
        "md",
        "--out",
        str(tmp_path / "out"),
    )
    path = tmp_path / "out" / "govcloud-report-2026-04-zwb.en.md"
    assert result.exit_code == 0 and result.stdout.strip() == str(path)
    text = path.read_text(encoding="utf-8")
    assert "Period: 2026-04 · Unit: zwb" in text
    assert "## Unit zwb" in text and "## Unit rsj" not in text
    assert "| zwb | 1 / 32 (3.1%) |" in text


def test_monthly_html_to_stdout_is_chinese_by_default(run):
    result = run("report", "monthly", "--month", "2026-04", "--unit", "zjj")
    assert result.exit_code == 0
    assert '<html lang="zh-CN">' in result.stdout and "资源回收" in result.stdout
    assert result.stdout.count('src="data:image/png;base64,') == 2  # allocation and compliance; no capacity known


@pytest.mark.parametrize("month", ["April", "9999-12", "2026-13"])
def test_a_bad_month_exits_2(run, month):
    result = run("report", "monthly", "--month", month)
    assert result.exit_code == 2 and "--month must be YYYY-MM" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("year", ["0", "9999", "99999999999999999999999"])
def test_a_year_off_the_calendar_exits_2(run, year):
    result = run("report", "assessment", "--year", year)
    assert result.exit_code == 2 and "--year must be a year from 1 to 9998" in result.stderr


def test_assessment_json_and_table(run):
    data = json.loads(run("report", "assessment", "--year", "2026", "--output", "json").stdout)
    assert {u["unit"]: u["deadlines_met_percent"] for u in data["units"]} == {
        "rsj": 100.0,
        "sjj": 0.0,
        "zjj": 83.3,
        "zwb": 25.0,
    }
    zh = run("report", "assessment", "--year", "2026").stdout
    en = run("report", "assessment", "--year", "2026", "--lang", "en").stdout
    assert "单位 rsj" in zh and "上云率: 1 / 1 (100%)" in zh and "高风险问题: 未记录" in zh
    assert "Deadlines met: 5 / 6 (83.3%)" in en and "High-risk findings: not recorded" in en


def test_the_unit_filter_is_a_unit_id(run):
    """``--unit ' ZWB'`` is unit zwb (as for an actor); a malformed one exits 2 naming --unit."""
    result = run("report", "monthly", "--month", "2026-04", "--unit", " ZWB", "--format", "json")
    assert result.exit_code == 0 and [u["unit"] for u in json.loads(result.stdout)["units"]] == ["zwb"]
    bad = run("report", "monthly", "--month", "2026-04", "--unit", "z w b")
    assert bad.exit_code == 2 and "--unit 'z w b' is not a unit id" in bad.stderr
