"""Charts of the monthly report: matplotlib (Agg backend) to PNG, returned as ``data:`` URIs.

Chinese labels need a CJK font (Debian: ``fonts-wqy-microhei`` or ``fonts-noto-cjk``);
:func:`cjk_font` finds one, and the service labels the charts in English when there is none rather
than drawing empty boxes. Labels come from the caller (the report's message catalogue).
"""

from __future__ import annotations

import base64
import contextlib
import functools
import io
from collections.abc import Mapping, Sequence
from typing import Any

#: Font families that cover Chinese, in order of preference.
CJK_FAMILIES = (
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei",
    "AR PL UMing CN",
    "SimHei",
    "Microsoft YaHei",
)
COLORS = {"ok": "#2b5797", "warn": "#b00020", "met": "#17803d", "missed": "#b00020", "open": "#9e9e9e"}
#: The allocation chart shows at most this many units (the most loaded); the table shows all.
MAX_UNITS = 25


@functools.cache
def cjk_font() -> str | None:
    """The first installed font family of :data:`CJK_FAMILIES`, or ``None``.

    matplotlib caches the system's font list on first use (``~/.cache/matplotlib``): a CJK font
    installed after that is not in the list, so on a miss the fonts it does not know are added.
    """
    from matplotlib import font_manager

    manager = font_manager.fontManager
    found = _first_cjk(manager)
    if found is None:
        known = {f.fname for f in manager.ttflist}
        for path in font_manager.findSystemFonts():
            if path not in known:
                with contextlib.suppress(Exception):  # a font file matplotlib cannot read: skip it
                    manager.addfont(path)
        found = _first_cjk(manager)
    return found


def _first_cjk(manager: Any) -> str | None:
    installed = {f.name for f in manager.ttflist}
    return next((family for family in CJK_FAMILIES if family in installed), None)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    font = cjk_font()
    if font:
        matplotlib.rcParams["font.sans-serif"] = [font, "DejaVu Sans"]
    matplotlib.rcParams["axes.unicode_minus"] = False
    return pyplot


def _data_uri(figure: Any) -> str:
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png", dpi=96)
    _pyplot().close(figure)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def capacity(rows: Sequence[tuple[str, float]], threshold: float, text: Mapping[str, str]) -> str:
    """Horizontal bars: percent of capacity in use per resource, with the threshold line."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(rows) + 1.2))
    names = [name for name, _ in rows]
    values = [value for _, value in rows]
    colors = [COLORS["warn"] if v >= threshold * 100 else COLORS["ok"] for v in values]
    ax.barh(names, values, color=colors)
    ax.axvline(threshold * 100, color=COLORS["warn"], linestyle="--", label=text["chart.threshold"])
    for y, v in enumerate(values):
        ax.text(v + 1, y, f"{v:g}%", va="center", fontsize=8)
    ax.set_xlim(0, max(100, *values) + 10)
    ax.invert_yaxis()
    ax.set_xlabel(text["chart.percent"])
    ax.set_title(text["chart.capacity"])
    ax.legend(loc="lower right", fontsize=8)
    return _data_uri(fig)


def allocation(rows: Sequence[tuple[str, float | None, float | None, float | None]], text: Mapping[str, str]) -> str:
    """Grouped bars per unit: vCPU, RAM and block storage allocated, in percent of the unit's limit."""
    plt = _pyplot()
    shown = sorted(rows, key=lambda r: -max(v or 0 for v in r[1:]))[:MAX_UNITS]
    fig, ax = plt.subplots(figsize=(max(6, 0.5 * len(shown) + 2), 3.6))
    width = 0.27
    for i, key in enumerate(("measure.vcpu", "measure.ram_gb", "measure.volume_gb")):
        xs = [n + (i - 1) * width for n in range(len(shown))]
        ax.bar(xs, [r[i + 1] or 0 for r in shown], width, label=text[key])
    ax.axhline(100, color=COLORS["warn"], linestyle="--", linewidth=1)
    ax.set_xticks(
        range(len(shown)),
        [r[0] for r in shown],
        rotation=45 if len(shown) > 8 else 0,
        ha="right" if len(shown) > 8 else "center",
    )
    ax.set_ylabel(text["chart.percent"])
    ax.set_title(text["chart.allocation"])
    ax.legend(loc="upper right", fontsize=8)
    return _data_uri(fig)


def compliance(met: int, missed: int, open_: int, text: Mapping[str, str]) -> str:
    """One stacked bar: deadlines met, missed and still open."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 1.8))
    left = 0
    for key, value in (("met", met), ("missed", missed), ("open", open_)):
        if value:
            ax.barh([0], [value], left=left, color=COLORS[key], label=f"{text['status.' + key]} {value}")
            ax.text(left + value / 2, 0, str(value), ha="center", va="center", color="white", fontsize=9)
            left += value
    ax.set_yticks([])
    ax.set_title(text["chart.compliance"])
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.25), ncol=3, fontsize=8)
    return _data_uri(fig)
