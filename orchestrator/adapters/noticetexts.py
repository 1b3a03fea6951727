"""Texts of notice digests from ``templates/notices/`` (Jinja2), Chinese or English, in three formats.

Stored text (reasons, names, anything from the ledger) is escaped for the format before it reaches
a template: ``text`` (plain e-mail part, Feishu text) drops control and bidirectional-override
characters; ``markdown`` (WeCom, DingTalk) also backslash-escapes markdown's active characters;
``html`` (the e-mail's HTML part) renders with autoescape on. Values never carry a line break, so
they cannot start a markdown block of their own.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from orchestrator.adapters.templates import TEMPLATES_DIR
from orchestrator.core import notices as nt

FORMATS = ("text", "markdown", "html")
#: C0 and C1 controls (line breaks and tabs too), bidirectional overrides and isolates, zero-width joiners' kin.
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
_MARKDOWN = re.compile(r"([\\`*_\[\]<>|~#!])")


def plain(value: str) -> str:
    """``value`` with every control character a space (one line, nothing hidden or reordered)."""
    return _CONTROLS.sub(" ", value)


def markdown(value: str) -> str:
    """``value`` as literal markdown text: controls dropped, active characters backslash-escaped."""
    return _MARKDOWN.sub(r"\\\1", plain(value))


_ESCAPE = {"text": plain, "markdown": markdown, "html": plain}  # html: autoescape does the rest


def cleaned(value: Any, fmt: str) -> Any:
    """Every string inside ``value`` escaped for ``fmt``; numbers, booleans and None as they are."""
    if isinstance(value, str):
        return _ESCAPE[fmt](value)
    if isinstance(value, dict):
        return {str(k): cleaned(v, fmt) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [cleaned(v, fmt) for v in value]
    return value


def view(q: nt.Queued) -> dict[str, Any]:
    """What a template sees of one notice (times cut to the minute)."""
    payload = dict(q.payload)
    for key in ("at", "expires"):
        if isinstance(payload.get(key), str):
            payload[key] = payload[key][:16].replace("T", " ")
    return {
        "kind": q.kind,
        "topic": q.topic,
        "application": q.application,
        "unit": q.unit,
        "environment": q.environment,
        "due": q.due.isoformat(),
        "payload": payload,
    }


@dataclass(frozen=True)
class Digest:
    """One message: its subject and its body in each format."""

    subject: str
    text: str
    markdown: str
    html: str


@functools.cache
def _environment(autoescape: bool) -> Any:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)),
        undefined=jinja2.StrictUndefined,
        autoescape=autoescape,  # noqa: S701 (HTML escaped; text and Markdown by cleaned())
        trim_blocks=True,
        keep_trailing_newline=True,
    )


def render(fmt: str, notices: Iterable[nt.Queued], lang: str) -> str:
    """The digest of ``notices`` in format ``fmt`` and language ``lang``."""
    items = [cleaned(view(q), fmt) for q in notices]
    name = {"text": "digest.txt.j2", "markdown": "digest.md.j2", "html": "digest.html.j2"}[fmt]
    return _environment(fmt == "html").get_template(f"notices/{name}").render(notices=items, lang=lang)


def digest(notices: list[nt.Queued], lang: str) -> Digest:
    """The digest of ``notices`` for one recipient, in every format."""
    env = _environment(False)
    module = env.get_template(f"notices/lines.{lang}.j2").module
    subject = plain(str(module.subject(len(notices)))).strip()
    return Digest(
        subject, render("text", notices, lang), render("markdown", notices, lang), render("html", notices, lang)
    )
