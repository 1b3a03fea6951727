"""Whether mock runs take the SDK shortcuts of :mod:`~orchestrator.adapters.pulumimock.patches`.

The shortcuts replace private functions of one SDK version. The version is checked before
anything of theirs is imported: on any other version runs take the stock SDK path (same plans,
slower) and say so once, so that upgrading the Pulumi SDK costs speed, never correctness.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.metadata import version

#: The SDK versions the shortcuts were written against (prefix of the installed distribution's).
SDK_VERSION = "3.272."


class StockSdkWarning(RuntimeWarning):
    """The installed SDK is not the one the shortcuts were written for: plans take the stock path."""


def _sdk_version() -> str:
    return version("pulumi")


@functools.cache
def supported() -> bool:
    """Whether the installed SDK is the one the shortcuts replace functions of."""
    return _sdk_version().startswith(SDK_VERSION)


def available() -> bool:
    """:func:`supported`, saying once per process (forked workers inherit it) why not."""
    if supported():
        return True
    _warn_once()
    return False


@functools.cache
def _warn_once() -> None:
    warnings.warn(
        f"pulumi {_sdk_version()} is not the SDK version the plan shortcuts were written for "
        f"({SDK_VERSION}*): planning with the stock SDK, slower, same plans",
        StockSdkWarning,
        stacklevel=2,
    )


def preload() -> None:
    """Import the shortcuts (before a fork), or give the warning (once, in the parent)."""
    if available():
        from orchestrator.adapters.pulumimock import patches  # only after the version check

        patches.replacements()


@contextmanager
def installed() -> Iterator[None]:
    """Install the shortcuts for the duration of the block (nothing when the SDK is another)."""
    if not available():
        yield
        return
    from orchestrator.adapters.pulumimock.patches import replacements  # only after the version check

    patches = replacements()
    saved = [(owner, name, vars(owner)[name]) for owner, name, _ in patches]  # a staticmethod as such
    for owner, name, value in patches:
        setattr(owner, name, value)
    try:
        yield
    finally:
        for owner, name, value in reversed(saved):
            setattr(owner, name, value)
