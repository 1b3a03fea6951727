"""Report templates (Jinja2, ``templates/reports/``) with the message catalogue and Babel formatting.

Every word a reader sees comes from the templates or from the message catalogue
(``key: {zh: ..., en: ...}``): ``templates/reports/messages.yaml`` and, for the portal's pages,
``templates/portal/messages.yaml`` (one catalogue, a key in one file only); numbers and dates are
formatted for the reader's locale.
"""

from __future__ import annotations

import datetime as dt
import functools
from pathlib import Path
from typing import Any

TEMPLATES = Path(__file__).resolve().parents[2] / "templates" / "reports"
#: The files of the catalogue: the reports' words, then the portal's (which reuses the reports').
CATALOGUES = (TEMPLATES / "messages.yaml", TEMPLATES.parent / "portal" / "messages.yaml")
LOCALES = {"zh": "zh_CN", "en": "en_US"}


@functools.cache
def catalogue() -> dict[str, dict[str, str]]:
    from ruamel.yaml import YAML

    merged: dict[str, dict[str, str]] = {}
    for path in CATALOGUES:
        part = YAML(typ="safe").load(path.read_text(encoding="utf-8"))
        twice = sorted(set(part) & set(merged))
        if twice:
            raise ValueError(f"{path}: {', '.join(twice)} already in the catalogue")
        merged |= part
    return merged


@functools.cache
def messages(lang: str) -> dict[str, str]:
    """Every message in ``lang`` (English where a message lacks it)."""
    return {key: texts.get(lang) or texts["en"] for key, texts in catalogue().items()}


@functools.lru_cache(maxsize=65536)  # Babel parses its locale and pattern on every call
def number(value: Any, lang: str, digits: int = 1) -> str:
    """A number for the locale; ``-`` for an unknown one."""
    from babel.numbers import format_decimal

    if value is None:
        return "-"
    if isinstance(value, float) and not value.is_integer():
        return format_decimal(round(value, digits), format=f"#,##0.{'#' * digits}", locale=LOCALES[lang])
    return format_decimal(int(value), locale=LOCALES[lang])


@functools.lru_cache(maxsize=65536)
def percent(value: float | None, lang: str) -> str:
    """A percentage given in percent (``70.0`` -> ``70%``)."""
    from babel.numbers import format_percent

    if value is None:
        return "-"
    return format_percent(value / 100, format="#,##0.#%", locale=LOCALES[lang])


@functools.lru_cache(maxsize=4096)
def date(value: dt.date | str | None, lang: str) -> str:
    from babel.dates import format_date

    if value is None:
        return "-"
    if isinstance(value, str):
        value = dt.date.fromisoformat(value[:10])
    return format_date(value, format="long" if lang == "zh" else "medium", locale=LOCALES[lang])


@functools.cache
def _environment():
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=jinja2.select_autoescape(["html.j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )


def translator(lang: str):
    """``t(key, **params)``: the message ``key`` in ``lang``, its placeholders filled."""
    text = messages(lang)

    def t(key: str, **params: Any) -> str:
        return text[key].format(**params) if params else text[key]

    return t


def render(template: str, lang: str, **context: Any) -> str:
    """Render ``template`` in ``lang``: ``t(key, **numbers)``, filters ``num``, ``pct``, ``date``."""
    t = translator(lang)

    def figures(numbers: dict[str, Any]) -> dict[str, str]:
        """Advice numbers formatted: percentages, dates, plain numbers; words as they are."""
        return {k: formatted(k, v, lang) for k, v in numbers.items()}

    env = _environment().overlay(finalize=_shown_md if template.endswith(".md.j2") else _shown)
    env.filters.update(
        num=lambda v, d=1: number(v, lang, d), pct=lambda v: percent(v, lang), date=lambda v: date(v, lang)
    )
    return env.get_template(template).render(t=t, figures=figures, lang=lang, **context)


def _shown(value: Any) -> Any:
    """Every ``{{ value }}``: text escaped for the terminal (stored text cannot add lines or
    escape sequences); HTML templates autoescape on top, Markup (already safe) passes."""
    import markupsafe

    from orchestrator.core.text import printable

    return printable(value) if isinstance(value, str) and not isinstance(value, markupsafe.Markup) else value


def _shown_md(value: Any) -> Any:
    """As :func:`_shown`, and ``|`` escaped: stored text cannot add a Markdown table cell."""
    shown = _shown(value)
    return shown.replace("|", "\\|") if isinstance(shown, str) else shown


def formatted(key: str, value: Any, lang: str) -> str:
    if key in ("percent", "threshold"):
        return percent(value, lang)
    if key == "due":
        return date(value, lang)
    if isinstance(value, (int, float)) or value is None:
        return number(value, lang)
    return str(value)
