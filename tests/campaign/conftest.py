"""The hostile-input campaign: Hypothesis profiles, a per-example time bound, and what a clean
answer is.

Profiles (``HYPOTHESIS_PROFILE``): ``ci`` (the default) runs a fixed number of examples per test
with ``derandomize=True``, so every run, CI's included, tries the same inputs; ``explore`` draws
fresh random inputs, ten times as many, for a campaign by hand::

    HYPOTHESIS_PROFILE=explore .venv/bin/python -m pytest -q tests/campaign -p no:randomly

A failing example is printed by Hypothesis (``Falsifying example: ...``) and can be pasted into an
explicit test.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterator

from hypothesis import HealthCheck, settings

SCALE = {"ci": 1, "explore": 10}
_COMMON = dict(
    deadline=None,  # the bound is ours (``bounded``), per example, not Hypothesis's timing
    database=None,  # no example database under the checkout: runs are reproducible by the seed alone
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    print_blob=True,
)
settings.register_profile("ci", derandomize=True, **_COMMON)
settings.register_profile("explore", derandomize=False, **_COMMON)
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
settings.load_profile(PROFILE)


def examples(n: int) -> settings:
    """``n`` examples per test under the ``ci`` profile (scaled under ``explore``)."""
    return settings(max_examples=n * SCALE.get(PROFILE, 1))


class Hang(BaseException):
    """An example ran past its bound (a BaseException: no ``except Exception`` in the code swallows it)."""


@contextlib.contextmanager
def bounded(seconds: float) -> Iterator[None]:
    """Fail the example with :class:`Hang` if its body runs longer than ``seconds`` (SIGALRM: the
    test runs in the main thread of its process; a blocking read is interrupted too)."""

    def expire(_signum, _frame):
        raise Hang(f"no answer within {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
