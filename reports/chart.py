"""The documents' charts, as SVG drawn by matplotlib: the outcomes-and-payments chart
(outcomes approved per month as bars, money paid per month as a line), which the statement
prints and the web UI shows; the funnel plot of a comparison; and a contract's lines
(achieved against target, rate against baseline) for its effect report.

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


# Effect: the funnel plot of a comparison and a contract's lines --------------------------

OWN, OTHER, POOLED, LIMIT = "#1f6f5c", "#4c78a8", "#1d2a2f", "#8a9aa0"


def _percent_axis(axis, lang: str) -> None:
    from reports.effect import percent

    axis.set_major_formatter(FuncFormatter(lambda v, _: percent(v, lang, 0)))


def _count_axis(axis, lang: str) -> None:
    from reports.effect import count

    axis.set_major_locator(MaxNLocator(integer=True))
    axis.set_major_formatter(FuncFormatter(lambda v, _: count(round(v), lang)))


def _svg(fig: Figure) -> str:
    out = io.StringIO()
    fig.savefig(out, format="svg", metadata={"Date": None})
    return out.getvalue()


def funnel_svg(comparison, curve, lang: str = "en") -> str:
    """SVG text of a comparison's funnel plot (`effect.schemas.Comparison`): each contract a
    point at (participants observed, rate) labelled by its reference, the pooled rate, the
    95 % and 99.8 % limits (`curve`, from `effect.funnel.curve`; none drawn when None), the
    reader's own contracts marked. Contracts whose figures are suppressed are not drawn;
    the note under the chart says how many. Points are never numbered or ranked.

    Each point is the SVG group `funnel-point-N` and its label `funnel-label-N`, N counting
    the contracts shown in the comparison's order (by reference)."""
    from reports.effect import count, percent

    units = comparison.units
    shown = [u for u in units if not u.figures.suppressed and u.figures.observed
             and u.figures.rate is not None]
    hidden = {u.contract_id for u in units if u.figures.suppressed}
    waiting = {u.contract_id for u in units if not u.figures.suppressed
               and not u.figures.observed} - hidden
    references = [u.reference for u in shown]
    fig = Figure(figsize=(7.2, 4.4), dpi=72)
    ax = fig.add_subplot()
    if not shown and curve is None:
        ax.text(0.5, 0.5, "No contract has participants observed yet", ha="center",
                va="center", transform=ax.transAxes, color="#555")
        ax.set_axis_off()
    else:
        top = max([u.figures.rate_high or u.figures.rate for u in shown] or [0.0])
        if curve is not None:
            ax.fill_between(curve["n"], curve["low998"], curve["high998"], color=LIMIT,
                            alpha=0.12, linewidth=0)
            for low, high, style, label in (("low95", "high95", "--", "95 % limits"),
                                            ("low998", "high998", "-", "99.8 % limits")):
                ax.plot(curve["n"], curve[low], style, color=LIMIT, linewidth=1, label=label)
                ax.plot(curve["n"], curve[high], style, color=LIMIT, linewidth=1)
            ax.axhline(comparison.pooled_rate, color=POOLED, linewidth=1,
                       label=f"pooled rate {percent(comparison.pooled_rate, lang)}")
            # Above the widest limit only where a contract sits: the funnel's mouth at one
            # participant would flatten the rest.
            at = curve[curve["n"] >= min([u.figures.observed for u in shown] or [1]) * 0.6]
            top = max(top, float(at["high998"].max()) if len(at) else 0.0)
        labelled = {"own": False, "other": False}
        for i, u in enumerate(shown):
            f = u.figures
            kind = "own" if u.own else "other"
            label = None
            if not labelled[kind]:
                label = "your contracts" if u.own else "other contracts"
                labelled[kind] = True
            ax.plot([f.observed], [f.rate], marker="o" if u.own else "s",
                    markersize=6 if u.own else 5, linestyle="none",
                    markerfacecolor=OWN if u.own else "white",
                    markeredgecolor=OWN if u.own else OTHER, markeredgewidth=1.2,
                    label=label, gid=f"funnel-point-{i}")
            text = u.reference if references.count(u.reference) == 1 \
                else f"{u.reference} · {u.line_code}"
            ax.annotate(text, (f.observed, f.rate), xytext=(5, 3), textcoords="offset points",
                        fontsize=7, color=OWN if u.own else "#1d2a2f",
                        fontweight="bold" if u.own else "normal", gid=f"funnel-label-{i}")
        ax.set_xlim(left=0)
        ax.set_ylim(0, min(1.0, top * 1.15 + 0.02))
        ax.set_xlabel("participants observed")
        ax.set_ylabel("outcome rate")
        _percent_axis(ax.yaxis, lang)
        _count_axis(ax.xaxis, lang)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        ax.legend(loc="lower left", fontsize=7, frameon=False, ncols=5,
                  bbox_to_anchor=(0, 1.0))
    notes = []
    if hidden:
        notes.append(f"{count(len(hidden), lang)} contract{'s' if len(hidden) != 1 else ''} "
                     f"not shown: fewer than {comparison.small_cell_k} people")
    if waiting:
        notes.append(f"{count(len(waiting), lang)} contract{'s' if len(waiting) != 1 else ''}"
                     " not shown: no participant observed yet")
    notes.append("Contracts are labelled by reference and never ranked: the order among "
                 "those inside the limits is noise.")
    fig.tight_layout(rect=(0, 0.04 * len(notes), 1, 1))
    for i, note in enumerate(reversed(notes)):
        fig.text(0.01, 0.012 + 0.04 * i, note, fontsize=7, color="#5b6b72",
                 gid=f"funnel-note-{i}")
    return _svg(fig)


def effect_lines_chart(effect, lang: str = "en") -> str:
    """SVG text of a contract's lines (`effect.schemas.ContractEffect`), in rate card order:
    outcomes achieved against the target (bars), and the rate with its 95 % interval
    beside the baseline rate (points)."""
    from reports.effect import count

    lines = effect.lines
    fig = Figure(figsize=(7.2, 0.9 + 0.42 * max(1, len(lines))), dpi=72)
    if not lines:
        ax = fig.add_subplot()
        ax.text(0.5, 0.5, "The rate card has no lines", ha="center", va="center",
                transform=ax.transAxes, color="#555")
        ax.set_axis_off()
        return _svg(fig)
    bars, rates = fig.subplots(1, 2, sharey=True, gridspec_kw={"width_ratios": (1, 1)})
    ys = list(range(len(lines)))[::-1]
    names = [line.line_code for line in lines]
    targets = [line.total.target or 0 for line in lines]
    achieved = [line.total.achieved or 0 for line in lines]
    bars.barh(ys, targets, height=0.6, color="white", edgecolor=LIMIT, label="target")
    bars.barh(ys, achieved, height=0.36, color=BAR, label="achieved (observed)")
    for y, done, target in zip(ys, achieved, targets, strict=True):
        text = count(done, lang) + (f" of {count(target, lang)}" if target else "")
        bars.annotate(text, (max(done, target), y), xytext=(3, -3),
                      textcoords="offset points", fontsize=7)
    bars.set_yticks(ys, names, fontsize=7)
    bars.set_xlim(0, max([*targets, *achieved, 1]) * 1.35)
    _count_axis(bars.xaxis, lang)
    bars.set_xlabel("outcomes", fontsize=8)
    for y, line in zip(ys, lines, strict=True):
        f = line.total
        if f.rate is not None:
            low = f.rate - (f.rate_low if f.rate_low is not None else f.rate)
            high = (f.rate_high if f.rate_high is not None else f.rate) - f.rate
            rates.errorbar([f.rate], [y], xerr=[[low], [high]], fmt="o", color=BAR,
                           markersize=4, capsize=3, linewidth=1,
                           label="rate, 95 % interval" if y == ys[0] else None)
        if f.baseline_rate is not None:
            rates.plot([f.baseline_rate], [y], marker="|", markersize=12, color=LINE,
                       linestyle="none", markeredgewidth=1.6,
                       label="baseline" if "baseline" not in
                       rates.get_legend_handles_labels()[1] else None)
    highs = [x for line in lines for x in (line.total.rate_high, line.total.baseline_rate)
             if x is not None]
    rates.set_xlim(0, min(1.0, max([*highs, 0.1]) * 1.15))
    _percent_axis(rates.xaxis, lang)
    rates.set_xlabel("rate of observed participants", fontsize=8)
    if not highs:
        rates.text(0.5, 0.5, "no participant observed yet", ha="center", va="center",
                   transform=rates.transAxes, color="#555", fontsize=8)
    for ax in (bars, rates):
        ax.tick_params(labelsize=7)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(loc="lower left", fontsize=7, frameon=False, ncols=2,
                      bbox_to_anchor=(0, 1.0))
    fig.tight_layout()
    return _svg(fig)
