"""The message catalogue holds every word the reports need, in both languages."""

from __future__ import annotations

import re

from orchestrator.adapters import render
from orchestrator.core import lifecycle as lc
from orchestrator.core.ids import ENVIRONMENTS
from orchestrator.core.quota.policy import MEASURES
from orchestrator.core.report import CHANGE_EVENTS

CODES = (
    "server-shutoff",
    "volume-unattached",
    "container-empty",
    "over-provisioned",
    "near-limit",
    "over-limit",
    "deadline-missed",
    "capacity-expand",
)  #: the table in orchestrator/core/advice.py


def test_every_message_is_in_chinese_and_english():
    for key, texts in render.catalogue().items():
        assert set(texts) == {"zh", "en"}, key
        assert sorted(re.findall(r"{(\w+)}", texts["zh"])) == sorted(re.findall(r"{(\w+)}", texts["en"])), key


def test_every_code_the_core_produces_has_its_words():
    keys = set(render.catalogue())
    needed = {f"state.{s}" for s in lc.STATES} | {f"deadline.{d}" for d in lc.DEADLINE_RULES}
    needed |= {f"env.{e}" for e in ENVIRONMENTS} | {f"measure.{m}" for m in MEASURES}
    needed |= {f"event.{e}" for e in CHANGE_EVENTS} | {f"advice.{c}" for c in CODES}
    needed |= {f"candidate.{c}" for c in CODES[:4]}
    needed |= {f"envstatus.{s}" for s in ("live", "approved", "declared", "expired", "reclaimed")}
    assert needed - keys == set()


def test_no_chinese_in_the_python_of_the_reports():
    from pathlib import Path

    root = Path(render.__file__).resolve().parents[1]
    for path in (
        "core/report.py",
        "core/assessment.py",
        "core/usage.py",
        "core/advice.py",
        "services/report.py",
        "adapters/render.py",
        "adapters/charts.py",
        "cli/report.py",
    ):
        assert not re.search(r"[\u4e00-\u9fff]", (root / path).read_text(encoding="utf-8")), path


def test_locale_formatting():
    assert (render.number(4800, "en"), render.number(4800, "zh")) == ("4,800", "4,800")
    assert (render.number(0.05, "en"), render.number(None, "en")) == ("0.1", "-")
    assert (render.percent(62.5, "en"), render.percent(None, "zh")) == ("62.5%", "-")
    assert (render.date("2026-04-20", "zh"), render.date("2026-04-20", "en")) == ("2026年4月20日", "Apr 20, 2026")
