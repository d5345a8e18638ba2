"""The results chart: one stacked bar per rating question (how many gave 1, 2, ... 5), its mean
beside it. matplotlib is imported on first use (the Agg backend, no display), so a bot that never
shows results never loads it."""
from __future__ import annotations

import io
import threading

from commands.feedback.rules import Figures

_DRAWING = threading.Lock()  # one chart at a time (matplotlib's first import and font cache are shared)
_COLOURS = ("#c0392b", "#e67e22", "#f1c40f", "#7fb77e", "#27ae60")


def png(title: str, rows: list[Figures], labels: list[str], legend: list[str], means: list[str]) -> bytes:
    """A PNG of the rating questions' distributions; `labels` name the questions, `legend` the
    scores, `means` the mean beside each bar as the reader writes it ("gemiddeld 3,8"). Called in
    a worker thread (results.chart_png)."""
    with _DRAWING:
        return _draw(title, rows, labels, legend, means)


def _draw(title: str, rows: list[Figures], labels: list[str], legend: list[str], means: list[str]) -> bytes:
    import matplotlib  # noqa: PLC0415 - lazily: start-up does not pay for it

    matplotlib.use("Agg")
    from matplotlib.figure import Figure  # noqa: PLC0415

    height = 1.4 + 0.7 * max(len(rows), 1)  # inches: 0.7 per bar, and fixed room for title and legend
    fig = Figure(figsize=(8, height), dpi=100)
    ax = fig.add_subplot()
    y = list(range(len(rows)))[::-1]
    left = [0] * len(rows)
    for score in range(5):
        widths = [r.counts[score] if len(r.counts) > score else 0 for r in rows]
        ax.barh(y, widths, left=left, color=_COLOURS[score], label=legend[score], height=0.6)
        left = [a + b for a, b in zip(left, widths)]
    ax.set_yticks(y, labels=labels)
    for row_y, mean, total in zip(y, means, left):
        ax.text(total, row_y, "  " + mean, va="center", fontsize=9)
    ax.set_xlim(0, max(left + [1]) * 1.3)
    ax.set_title(title, fontsize=11)
    fig.legend(ncol=5, loc="lower center", bbox_to_anchor=(0.5, 0.0), fontsize=8, frameon=False)
    fig.subplots_adjust(left=0.24, right=0.97, top=1 - 0.4 / height, bottom=0.7 / height)  # no second draw
    out = io.BytesIO()
    fig.savefig(out, format="png")
    return out.getvalue()
