"""Actor fields (``--as/--role/--unit``), reasons and opinions, hostile or not, through a walk of the
lifecycle on a fresh SQLite ledger: every step is a clean refusal or recorded, and after every step
the ledger's history is exactly the events the accepted steps returned, with the text as given."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import hypothesis
from hypothesis import given
from hypothesis import strategies as st

from tests.campaign.conftest import examples
from tests.campaign.hostile import NASTY, answer, hostile_text, run
from tests.conftest import EXAMPLES

MANIFEST = str(EXAMPLES / "social-security.yaml")  # unit rsj; test, trial and production
APP = "social-security"
names = st.one_of(st.sampled_from(["zhaogang", "zhang", "王芳", "li.ming"]), hostile_text)
units = st.one_of(st.sampled_from(["rsj", "egov", "zwb", " rsj", "RSJ", "rsj\n", "r\x00sj"]), hostile_text)
roles = st.one_of(st.sampled_from(["unit", "egov-office", "provider"]), st.sampled_from(["Unit", "admin", "", "unit "]))
texts = st.one_of(st.sampled_from(NASTY), hostile_text)


def mostly(right: object, other: st.SearchStrategy) -> st.SearchStrategy:
    """``right`` four times in five, else something from ``other``: walks get far enough to matter."""
    return st.integers(0, 4).flatmap(lambda roll: other if roll == 4 else st.just(right))


@st.composite
def actor(draw, role: str, unit: str) -> dict:
    return {
        "name": draw(names),
        "role": draw(mostly(role, roles)),
        "unit": draw(mostly(unit, st.one_of(st.none(), units))),
    }


@st.composite
def walks(draw) -> list[tuple[list[str], dict, str | None]]:
    """The steps of one walk: (arguments, actor, free text given) in order."""
    steps = [
        (["app", "submit", MANIFEST, "--at", "2026-02-12T10:00"], draw(actor("unit", "rsj")), None),
        (["app", "accept", APP, "--at", "2026-02-13T10:00"], draw(actor("egov-office", "egov")), None),
    ]
    opinion = draw(texts)
    steps.append(
        (
            ["app", "review", APP, f"--opinion={opinion}", "--at", "2026-02-14T10:00"],
            draw(actor("egov-office", "egov")),
            opinion,
        )
    )
    steps.append(
        (["app", "approve", APP, "--env", "test", "--at", "2026-02-15T10:00"], draw(actor("egov-office", "egov")), None)
    )
    reason = draw(texts)
    steps.append(
        (
            ["app", "terminate", APP, f"--reason={reason}", "--at", "2026-02-16T10:00"],
            draw(actor("unit", "rsj")),
            reason,
        )
    )
    return steps


def who(a: dict) -> list[str]:
    args = [f"--as={a['name']}", f"--role={a['role']}"]
    return args + ([f"--unit={a['unit']}"] if a["unit"] is not None else [])


def history(env: dict) -> list[dict]:
    result = answer(run("app", "history", APP, "-o", "json", env=env), allowed=(0, 2))
    if result.exit_code == 2:
        assert "no ledger entries" in result.stderr
        return []
    return json.loads(result.stdout)


FIELDS = ("sequence", "type", "actor", "actor_role", "actor_unit", "reason", "environment", "at", "digest")


@examples(25)
@given(walks())
def test_the_ledger_records_exactly_what_was_accepted(steps):
    with tempfile.TemporaryDirectory(prefix="govcloud-campaign-") as home:
        env = {
            "GOVCLOUD_DATABASE_URL": f"sqlite:///{Path(home) / 'ledger.db'}",
            "GOVCLOUD_ACTOR": None,
            "GOVCLOUD_ROLE": None,
            "GOVCLOUD_UNIT": None,
        }
        recorded: list[dict] = []
        for args, person, text in steps:
            result = answer(run(*args, *who(person), "-o", "json", env=env), allowed=(0, 1, 2))
            if result.exit_code == 0:
                event = json.loads(result.stdout)
                assert event["actor"] == person["name"] and event["actor_role"] == person["role"]
                given_unit = person["unit"]
                assert event["actor_unit"] in (given_unit, (given_unit or "").strip().lower() or None)
                if text is not None:
                    assert event["reason"] == text
                recorded.append({k: event[k] for k in FIELDS})
            hypothesis.event(f"{args[1]} exit {result.exit_code}")
            assert [{k: e[k] for k in FIELDS} for e in history(env)] == recorded, args
