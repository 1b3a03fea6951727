"""Stored text made safe to show on a terminal: the one escaping function for people's screens. Pure.

Reasons, opinions, actor names and display names are kept in the ledger as given; wherever a
person reads them (``app history``, ``app status``, ``deadlines``, error messages, Markdown and
text reports) they pass through :func:`printable`, so a newline cannot print a fake history line
and an escape sequence cannot move the cursor, recolour or retitle the terminal. HTML is escaped
by Jinja2's autoescape instead; rich output escapes its markup on top (``cli.common.rich_safe``).
"""

from __future__ import annotations

import unicodedata

#: Categories that change how text is laid out instead of showing: controls (C0, DEL, C1: ESC
#: starts CSI and OSC sequences), format characters (bidi overrides and isolates, zero-width
#: joiners, the BOM), the line and paragraph separators, and surrogates (an undecodable byte of
#: a path or an argument, which a terminal could not even be sent).
_HIDDEN = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})


def printable(text: object) -> str:
    """``text`` with every character of :data:`_HIDDEN` written as a Python escape (``\\n``,
    ``\\x1b``, ``\\u202e``); everything else, CJK included, as it is.

    >>> printable("ok\\nzhang #9 approved\\x1b[2K")
    'ok\\\\nzhang #9 approved\\\\x1b[2K'
    >>> printable("审批 \\u202eevil")
    '审批 \\\\u202eevil'
    """
    value = str(text)
    if value.isprintable():  # the common case, quickly (isprintable is False for every hidden one)
        return value
    return "".join(escape(c) if unicodedata.category(c) in _HIDDEN else c for c in value)


def escape(char: str) -> str:
    """One character as a Python escape: ``\\n``, ``\\x1b``, ``\\u202e``; an undecodable byte
    (``surrogateescape``) as the byte it was, ``\\xff``. The one spelling of an escape in govcloud
    (``files.shown`` quotes paths with it)."""
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:
        return f"\\x{code - 0xDC00:02x}"
    return {"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(char) or (
        f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"
    )
