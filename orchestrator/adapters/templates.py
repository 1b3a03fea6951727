"""Jinja2 templates from the repository's ``templates/`` directory.

Templates render with ``StrictUndefined``: a missing value is an error, never an empty string.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from orchestrator.core.manifest import UserData

#: ``templates/`` beside the ``orchestrator`` package in the repository checkout.
TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "templates"


@lru_cache(maxsize=1)
def _environment() -> Any:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,  # noqa: S701 (cloud-init and Markdown, not HTML: values pass the md/code filters)
    )
    env.filters.update(md=markdown_text, code=markdown_code)
    return env


#: Markdown punctuation that could start emphasis, code, a link, a table cell or a heading inline;
#: ``&`` and ``<`` become entities (no HTML gets through).
_MARKDOWN = str.maketrans({"&": "&amp;", "<": "&lt;", **{c: "\\" + c for c in "\\`*_[]#|~"}})


def markdown_text(value: Any) -> str:
    """``value`` as plain text inside a Markdown line: no HTML, no Markdown, one line."""
    return " ".join(str(value).split()).translate(_MARKDOWN)


def markdown_code(value: Any) -> str:
    """``value`` as an inline code span that nothing inside can end (backticks become quotes)."""
    return "`" + " ".join(str(value).replace("`", "'").split()) + "`"


def render(name: str, **context: Any) -> str:
    """Render ``templates/<name>`` with ``context``."""
    return _environment().get_template(name).render(**context)


#: Where a server finds its authentication-platform client (mode 0600, owner root).
OIDC_ENV_PATH = "/etc/govcloud/oidc.env"


def cloud_init(hostname: str, labels: dict[str, str], extras: UserData, oidc: Mapping[str, str] | None = None) -> str:
    """A server's cloud-init user data: base hardening plus the application's extras.

    ``oidc`` (``issuer``, ``client_id``, ``client_secret``) becomes :data:`OIDC_ENV_PATH`; user
    data holding it must be passed on as a Pulumi secret.
    """
    return render(
        "cloud-init/user-data.yaml.j2",
        hostname=hostname,
        labels=labels,
        extras=extras,
        oidc=oidc,
        oidc_env_path=OIDC_ENV_PATH,
    )
