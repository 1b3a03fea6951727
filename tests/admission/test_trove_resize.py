"""Trove resizes through Trove's REST API (issue 25), against a fake Trove that answers as Trove 18
does (``trove/taskmanager/models.py``): the API sets the task (status ``RESIZE``) at once; the
task manager asks Nova, waits for the guest, confirms, and records the new flavor or size; a
resize that fails (Nova refuses, the guest stays away) is reverted and the instance ends ``ACTIVE``
with its old flavor or size and no fault; a failure before Nova is asked leaves it in ``RESIZE``
for good. The adapter must tell each of these apart from a success."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from orchestrator.adapters.cloud import Cloud
from orchestrator.errors import ExternalError

ENDPOINT = "http://trove/v1.0/p1"
FLAVORS = {"g.2c4g": "f-2c4g", "g.4c8g": "f-4c8g"}


class Answer:
    def __init__(self, body: dict[str, Any]) -> None:
        self.body = body

    def json(self) -> dict[str, Any]:
        return self.body


class FakeTrove:
    """One instance ``ds-benefits`` (flavor g.2c4g, 2 GB) and how its resizes end: ``outcome`` is
    ``done``, ``reverted`` (ACTIVE, unchanged) or ``lost`` (RESIZE for good); a resize takes
    ``polls`` readings."""

    def __init__(self, outcome: str = "done", polls: int = 2, status: str = "ACTIVE") -> None:
        self.outcome, self.polls = outcome, polls
        self.instance = {
            "id": "i-1",
            "name": "ds-benefits",
            "status": status,
            "flavor": {"id": "f-2c4g"},
            "volume": {"size": 2},
        }
        self.posted: list[dict[str, Any]] = []
        self.pending: tuple[int, str, Any] | None = None

    def get(self, url: str, **kwargs: Any) -> Answer:
        if url == f"{ENDPOINT}/instances":
            return Answer({"instances": [dict(self.instance)]})
        assert url == f"{ENDPOINT}/instances/i-1", url
        if self.pending is not None:
            left, what, value = self.pending
            if left > 1 or self.outcome == "lost":
                self.pending = (left - 1, what, value)
            else:
                self.pending = None
                self.instance["status"] = "ACTIVE"
                if self.outcome == "done":
                    if what == "flavor":
                        self.instance["flavor"] = {"id": value}
                    else:
                        self.instance["volume"] = {"size": value}
        return Answer({"instance": dict(self.instance)})

    def post(self, url: str, json: dict[str, Any], **kwargs: Any) -> Answer:
        assert url == f"{ENDPOINT}/instances/i-1/action", url
        if self.instance["status"] != "ACTIVE":  # Trove's API: UnprocessableEntity
            raise RuntimeError(
                f"Instance is not currently available for an action to be performed "
                f"(status was {self.instance['status']}). (HTTP 422)"
            )
        body = json["resize"]
        if "volume" in body and body["volume"]["size"] <= self.instance["volume"]["size"]:
            raise RuntimeError("The new volume 'size' must be larger than the current volume size (HTTP 400)")
        self.posted.append(body)
        self.instance["status"] = "RESIZE"
        what, value = ("flavor", body["flavorRef"]) if "flavorRef" in body else ("size", body["volume"]["size"])
        self.pending = (self.polls, what, value)
        return Answer({})


def cloud(trove: FakeTrove, monkeypatch) -> Cloud:
    project = SimpleNamespace(id="p1", name="rsj-ds-trial")
    scoped = SimpleNamespace(session=trove, endpoint_for=lambda service: ENDPOINT)
    conn = SimpleNamespace(
        identity=SimpleNamespace(find_project=lambda name, domain_id: project if name == project.name else None),
        connect_as_project=lambda p: scoped,
        compute=SimpleNamespace(find_flavor=lambda name, ignore_missing: SimpleNamespace(id=FLAVORS[name])),
    )
    monkeypatch.setattr("time.sleep", lambda seconds: None)
    return Cloud(conn, "local")


def test_a_flavor_resize_waits_for_trove_and_checks_the_new_flavor(monkeypatch):
    trove = FakeTrove()
    done = cloud(trove, monkeypatch).resize_database("rsj-ds-trial", "ds-benefits", flavor="g.4c8g")
    assert done == {"flavor": "g.4c8g"}
    assert trove.posted == [{"flavorRef": "f-4c8g"}]
    assert trove.instance["flavor"]["id"] == "f-4c8g"


def test_trove_is_polled_soon_then_ever_less_often_up_to_the_interval(monkeypatch):
    """A resize Trove finishes in seconds is seen in about as many; a slow one is not polled hard."""
    trove = FakeTrove(polls=12)
    resizer = cloud(trove, monkeypatch)
    slept: list[float] = []
    monkeypatch.setattr("time.sleep", slept.append)
    resizer.resize_database("rsj-ds-trial", "ds-benefits", flavor="g.4c8g", interval=10)
    assert slept[0] == 1.0 and slept == sorted(slept) and max(slept) == 10, slept
    assert sum(slept[:4]) < 10  # the old fixed 10 s interval had polled once by then


def test_flavor_then_volume_each_in_turn(monkeypatch):
    trove = FakeTrove()
    done = cloud(trove, monkeypatch).resize_database("rsj-ds-trial", "ds-benefits", flavor="g.4c8g", size=3)
    assert done == {"flavor": "g.4c8g", "size": 3}
    assert trove.posted == [{"flavorRef": "f-4c8g"}, {"volume": {"size": 3}}]


def test_nothing_is_asked_when_the_instance_has_that_flavor_and_size(monkeypatch):
    trove = FakeTrove()
    assert cloud(trove, monkeypatch).resize_database("rsj-ds-trial", "ds-benefits", flavor="g.2c4g", size=2) == {}
    assert trove.posted == []


@pytest.mark.parametrize(("flavor", "size", "unchanged"), [("g.4c8g", None, "f-2c4g"), (None, 3, "(2)")])
def test_a_reverted_resize_is_a_failure_not_a_success(monkeypatch, flavor, size, unchanged):
    trove = FakeTrove("reverted")
    with pytest.raises(ExternalError, match="ACTIVE but unchanged") as failed:
        cloud(trove, monkeypatch).resize_database("rsj-ds-trial", "ds-benefits", flavor=flavor, size=size)
    assert unchanged in str(failed.value) and "its data kept" in str(failed.value)
    assert len(trove.posted) == 1


def test_an_instance_left_resizing_fails_after_the_timeout_naming_its_status(monkeypatch):
    trove = FakeTrove("lost")
    clock = iter(range(0, 10_000, 60))
    monkeypatch.setattr("time.monotonic", lambda: next(clock))
    with pytest.raises(
        ExternalError, match=r"ds-benefits is RESIZE \d+ s after resizing to flavor g.4c8g.*reset-status"
    ):
        cloud(trove, monkeypatch).resize_database("rsj-ds-trial", "ds-benefits", flavor="g.4c8g", timeout=600)


def test_an_instance_not_active_is_not_resized(monkeypatch):
    trove = FakeTrove(status="RESIZE")
    with pytest.raises(ExternalError, match="is RESIZE, not ACTIVE: Trove resizes only an ACTIVE instance; nothing"):
        cloud(trove, monkeypatch).resize_database("rsj-ds-trial", "ds-benefits", flavor="g.4c8g")
    assert trove.posted == []


def test_trove_refusing_the_request_is_an_outside_failure_naming_it(monkeypatch):
    trove = FakeTrove()
    trove.instance["volume"]["size"] = 5  # Trove refuses anything but a larger volume
    with pytest.raises(ExternalError, match="resizing database instance ds-benefits to 3 GB failed: The new volume"):
        cloud(trove, monkeypatch).resize_database("rsj-ds-trial", "ds-benefits", size=3)
