"""The outcomes-and-payments chart: outcomes approved per month (bars) and money paid per
month (line), as SVG drawn by matplotlib. The statement prints it; the web UI shows the
same SVG.

Text stays text (`svg.fonttype = none`), so the chart's labels are searchable in the PDF.
"""

from __future__ import annotations

import io

from babel.numbers import format_decimal
from matplotlib import rcParams
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from reports import formats

rcParams["svg.fonttype"] = "none"
rcParams["svg.hashsalt"] = "virker"  # stable ids: the same data gives the same SVG
rcParams["font.family"] = "DejaVu Sans"

BAR, LINE = "#4c78a8", "#e45756"


def outcomes_chart(monthly: list[tuple[str, int, int]], currency: str, lang: str = "en"
                   ) -> str:
    """SVG text for (YYYY-MM, outcomes approved, amount paid in minor units) per month."""
    fig = Figure(figsize=(7.2, 2.6), dpi=72)
    ax = fig.add_subplot()
    if not monthly:
        ax.text(0.5, 0.5, "No approved outcomes or payments yet", ha="center", va="center",
                transform=ax.transAxes, color="#555")
        ax.set_axis_off()
    else:
        labels = [m for m, _, _ in monthly]
        xs = range(len(labels))
        ax.bar(xs, [n for _, n, _ in monthly], color=BAR, label="outcomes approved")
        ax.set_ylabel("outcomes")
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        step = max(1, len(labels) // 12)
        ax.set_xticks(list(xs)[::step], labels[::step], rotation=45, ha="right", fontsize=7)
        paid = ax.twinx()
        paid.plot(list(xs), [float(formats.major(p, currency)) for _, _, p in monthly],
                  color=LINE, marker="o",
                  markersize=3, label=f"paid ({currency})")
        paid.set_ylabel(f"paid, {currency}")
        paid.set_ylim(bottom=0)
        paid.yaxis.set_major_formatter(FuncFormatter(
            lambda v, _: format_decimal(round(v), format="#,##0",
                                        locale=formats.LOCALES.get(lang, "en_GB"))))
        handles = ax.get_legend_handles_labels()[0] + paid.get_legend_handles_labels()[0]
        ax.legend(handles, [h.get_label() for h in handles], loc="lower left", fontsize=7,
                  frameon=False, ncols=2, bbox_to_anchor=(0, 1.0))
        for side in ("top",):
            ax.spines[side].set_visible(False)
            paid.spines[side].set_visible(False)
    fig.tight_layout()
    out = io.StringIO()
    fig.savefig(out, format="svg", metadata={"Date": None})
    return out.getvalue()
