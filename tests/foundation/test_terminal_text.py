"""One escaping function for text people read on a terminal (``core.text.printable``), and rich
output that cannot be restyled by the text it shows (issue 15: history forging)."""

from __future__ import annotations

import io

import pytest

from orchestrator.core.text import printable

CASES = {
    "newline": ("a\nb", "a\\nb"),
    "carriage return": ("a\rb", "a\\rb"),
    "CSI erase line": ("a\x1b[2Kb", "a\\x1b[2Kb"),
    "OSC title": ("\x1b]0;pwned\x07", "\\x1b]0;pwned\\x07"),
    "C1 CSI": ("a\x9b31mb", "a\\x9b31mb"),
    "DEL": ("a\x7fb", "a\\x7fb"),
    "bidi override": ("abc\u202edcba", "abc\\u202edcba"),
    "bidi isolate": ("\u2066x\u2069", "\\u2066x\\u2069"),
    "line separator": ("a\u2028b", "a\\u2028b"),
    "zero-width joiner": ("a\u200db", "a\\u200db"),
}


@pytest.mark.parametrize("raw, shown", CASES.values(), ids=CASES.keys())
def test_printable_escapes_what_would_move_or_restyle_the_terminal(raw, shown):
    assert printable(raw) == shown
    assert printable(raw).isprintable()


def test_printable_keeps_ordinary_text():
    for text in ("社会保障业务系统", "a b\u00a0c", "[red]x[/]", "emoji 🙂", ""):
        assert printable(text) == text


def _console_output(print_with) -> str:
    from rich.console import Console

    buffer = io.StringIO()
    print_with(Console(file=buffer, force_terminal=True, color_system="standard", highlight=False))
    return buffer.getvalue()


def test_engine_progress_shows_markup_and_escapes_as_text():
    from orchestrator.adapters.engine import Progress
    from orchestrator.cli.engine import ProgressPrinter

    printer = ProgressPrinter()

    def show(console) -> None:
        printer.console = console
        printer(Progress("message", message="[blink]boom[/blink]\nforged line\x1b[2J", severity="error"))
        printer(Progress("done", op="create", type="openstack:compute/instance:Instance", name="[bold]web\x1b]0;t\x07"))

    out = _console_output(show)
    assert "[blink]boom[/blink]\\nforged line\\x1b[2J" in out
    assert "[bold]web\\x1b]0;t\\x07" in out
    assert "\x1b[2J" not in out and "\x1b]0" not in out and "\x1b[5m" not in out  # no blink, clear or title
    assert len(out.strip().splitlines()) == 2
