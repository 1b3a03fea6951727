"""What a worker keeps of the ledger's reads (``common.Reads``): kept only while the ledger's version
stays the same, so a write by anyone (another worker, the CLI) is seen on the next page; and what is
kept is the same for every reader, each page filtering it for its own."""

from __future__ import annotations

import re

from orchestrator.adapters.ledger import Ledger
from orchestrator.core.lifecycle import EGOV, UNIT, Actor
from orchestrator.portal.common import Reads
from orchestrator.services.lifecycle import Lifecycle, beijing_now

from .conftest import EXAMPLES
from .test_pages import sign_in


class Counted:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> int:
        self.calls += 1
        return self.calls


def test_kept_while_the_version_stays_and_read_again_after_a_write():
    reads, read = Reads(), Counted()
    assert reads.get("v1", ("queue",), read) == 1
    assert reads.get("v1", ("queue",), read) == 1 and read.calls == 1
    assert reads.get("v2", ("queue",), read) == 2  # written meanwhile: read again
    assert reads.get("v1", ("queue",), read) == 3  # a ledger restored to an older version: nothing kept holds
    assert reads.get(None, ("queue",), read) == 4 and reads.get(None, ("queue",), read) == 5  # no version: no keeping


def test_an_answer_read_while_the_version_changed_is_not_kept_under_the_newer_one():
    reads = Reads()

    def written_meanwhile() -> str:
        reads.get("v2", ("other",), lambda: "v2's")  # another thread saw the write first
        return "read at v1 or later"

    assert reads.get("v1", ("queue",), written_meanwhile) == "read at v1 or later"
    assert reads.get("v2", ("queue",), lambda: "read at v2") == "read at v2"


def test_the_most_recently_used_are_kept():
    reads = Reads(limit=2)
    for key in ("a", "b", "a", "c"):  # c pushes out b, the least recently used
        reads.get("v", (key,), lambda key=key: key)
    assert reads.get("v", ("a",), lambda: "again") == "a" and reads.get("v", ("c",), lambda: "again") == "c"
    assert reads.get("v", ("b",), lambda: "again") == "again"


def test_a_write_elsewhere_is_on_the_next_page_and_a_unit_sees_only_its_own(dev_app, database_url):
    cli = Ledger.open(database_url)  # the CLI, or another worker: not this app's ledger object
    try:
        service = Lifecycle(cli)
        service.submit(EXAMPLES / "social-security.yaml", Actor("zhaogang", UNIT, "rsj"), beijing_now())
        sign_in(dev_app, "zhang", "egov-office", "egov")
        listed = {"X-Govcloud-As": "zhang", "X-Govcloud-Role": "egov-office", "X-Govcloud-Unit": "egov"}
        assert 'data-state="submitted"' in dev_app.get("/queue").text
        assert [i["state"] for i in dev_app.get("/api/v1/applications", headers=listed).json()["items"]] == [
            "submitted"
        ]
        assert "accepted" not in dev_app.get("/applications/social-security").text

        service.accept("social-security", Actor("wang", EGOV, "egov"), beijing_now())
        assert 'data-state="accepted"' in dev_app.get("/queue").text
        assert [i["state"] for i in dev_app.get("/api/v1/applications", headers=listed).json()["items"]] == ["accepted"]
        page = dev_app.get("/applications/social-security").text
        assert re.search(r"accepted", page) and 'name="version" value="2"' in page

        accepted = '<strong data-event="accepted">{}</strong>'
        assert accepted.format("accepted") in dev_app.get("/applications/social-security").text
        sign_in(dev_app, "zhang", "egov-office", "egov", lang="zh")  # what is kept is kept per language
        assert 'data-state="accepted">已受理<' in dev_app.get("/queue").text
        assert accepted.format("受理") in dev_app.get("/applications/social-security").text

        sign_in(dev_app, "zhaogang", "unit", "rsj")  # the office's queue is kept: a unit sees its own of it
        assert 'href="/applications/social-security"' in dev_app.get("/queue").text
        sign_in(dev_app, "liming", "unit", "zwb")  # and another unit none of it
        assert "social-security" not in dev_app.get("/queue").text
        assert dev_app.get("/applications/social-security").status_code == 404
        zwb = {"X-Govcloud-As": "liming", "X-Govcloud-Role": "unit", "X-Govcloud-Unit": "zwb"}
        assert dev_app.get("/api/v1/applications", headers=zwb).json() == {
            "items": [],
            "total": 0,
            "limit": 50,
            "offset": 0,
        }
    finally:
        cli.close()
