"""Identifiers that name things across govcloud (units, applications, environments): one rule,
one place. Pure.

A unit id is what a manifest's ``metadata.unit.id`` may be (:data:`SLUG_PATTERN`); an actor's
unit from ``--unit``, ``GOVCLOUD_UNIT`` or a token's unit claim goes through :func:`unit_id`
before it is compared with an application's unit, so ``" zjj"`` and ``"ZJJ"`` are unit ``zjj``
and nothing else passes as a unit.
"""

from __future__ import annotations

import re
from enum import StrEnum

from orchestrator.errors import UsageError


class Environment(StrEnum):
    """The three environments of Art. 13-14, in the order they open (``str()`` is the value)."""

    TEST = "test"
    TRIAL = "trial"
    PRODUCTION = "production"


#: Every environment, in the order they open: the one list manifests, commands and the ledger use.
ENVIRONMENTS: tuple[Environment, ...] = tuple(Environment)

#: Lowercase slug used inside every identifier (stack, project, resource names): the manifest's rule.
SLUG_PATTERN = r"^[a-z][a-z0-9-]{0,30}[a-z0-9]$"
_SLUG = re.compile(SLUG_PATTERN)


def unit_id(value: str, field: str = "unit") -> str:
    """``value`` as a unit id: surrounding whitespace dropped and ASCII letters lowercased, then it
    must be a slug; :class:`UsageError` naming ``field`` otherwise.

    >>> unit_id(" ZJJ ")
    'zjj'
    >>> unit_id("zj j", "--unit")
    Traceback (most recent call last):
    ...
    orchestrator.errors.UsageError: --unit 'zj j' is not a unit id: 2-32 lowercase letters, digits and '-', starting with a letter (as metadata.unit.id of a manifest)
    """  # noqa: E501 (a doctest's expected message is one line)
    text = value.strip()
    if text.isascii():  # only ASCII is folded: "\u212a" (Kelvin sign) must not become "k"
        text = text.lower()
    if not _SLUG.fullmatch(text):
        raise UsageError(
            f"{field} {value!r} is not a unit id: 2-32 lowercase letters, digits and '-', starting with a letter"
            " (as metadata.unit.id of a manifest)"
        )
    return text
