"""The digest chart: mentions per week (last 12 weeks) by sentiment, as a small PNG.

Rendered with matplotlib's Agg canvas on a `Figure` of its own (no pyplot, no global state),
so it is safe inside the scheduler's threads and needs no display.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

# Stack order bottom to top, with Dutch legend labels and colours (colour-blind friendly).
SERIES: tuple[tuple[str, str, str], ...] = (
    ("negative", "negatief", "#d55e00"),
    ("neutral", "neutraal", "#999999"),
    ("positive", "positief", "#009e73"),
    ("unrated", "nog niet beoordeeld", "#cfd8e3"),
)


@dataclass(frozen=True)
class ChartSeries:
    """One panel: a school's mentions per week, oldest week first."""

    title: str
    week_labels: Sequence[str]
    counts: dict[str, Sequence[int]]  # key of SERIES -> one count per week


def render_weekly_chart(panels: Sequence[ChartSeries]) -> bytes:
    """A PNG with one stacked-bar panel per school; an all-zero panel says so instead of failing."""
    if not panels:
        panels = [ChartSeries(title="Vermeldingen", week_labels=[], counts={})]
    height = 2.3 + 2.1 * (len(panels) - 1)
    figure = Figure(figsize=(7.0, height), dpi=90)
    FigureCanvasAgg(figure)
    axes_list = figure.subplots(len(panels), 1, squeeze=False)[:, 0]
    for axes, panel in zip(axes_list, panels, strict=True):
        positions = list(range(len(panel.week_labels)))
        bottom = [0] * len(positions)
        total = 0
        for key, label, colour in SERIES:
            values = [int(v) for v in panel.counts.get(key, [0] * len(positions))]
            total += sum(values)
            if key == "unrated" and not any(values):
                continue  # no legend entry for an empty "not rated yet" series
            axes.bar(positions, values, bottom=bottom, color=colour, label=label, width=0.7)
            bottom = [b + v for b, v in zip(bottom, values, strict=True)]
        axes.set_title(panel.title, fontsize=10, loc="left")
        axes.set_ylabel("Vermeldingen", fontsize=8)
        axes.set_xticks(positions)
        axes.set_xticklabels(list(panel.week_labels), fontsize=7)
        axes.tick_params(axis="y", labelsize=7)
        axes.yaxis.get_major_locator().set_params(integer=True)
        axes.set_ylim(0, max([*bottom, 1]) * 1.1)
        axes.spines[["top", "right"]].set_visible(False)
        if total == 0:
            axes.text(0.5, 0.5, "Geen vermeldingen in deze 12 weken", transform=axes.transAxes,
                      ha="center", va="center", fontsize=9, color="#555555")
        else:
            axes.legend(fontsize=7, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    axes_list[-1].set_xlabel("Week", fontsize=8)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()


__all__ = ["SERIES", "ChartSeries", "render_weekly_chart"]
