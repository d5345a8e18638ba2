"""Charts as PNG: stacked horizontal bars (e.g. how many gave 1, 2, ... 5 per rating question),
a note beside each bar. matplotlib is imported on first use (the Agg backend, no display), so a
bot that never draws a chart never loads it."""
from __future__ import annotations

import io
import threading

_DRAWING = threading.Lock()  # one chart at a time (matplotlib's first import and font cache are shared)
_COLOURS = ("#c0392b", "#e67e22", "#f1c40f", "#7fb77e", "#27ae60")


def stacked_bars(title: str, rows: list[list[int]], labels: list[str], legend: list[str],
                 notes: list[str]) -> bytes:
    """A PNG with one bar per row, stacked from its counts (at most five parts, named by `legend`);
    `labels` name the bars, `notes` go beside them as the reader writes them ("gemiddeld 3,8").
    Takes a good part of a second of CPU: call it in a worker thread."""
    with _DRAWING:
        return _draw(title, rows, labels, legend, notes)


def _draw(title: str, rows: list[list[int]], labels: list[str], legend: list[str], notes: list[str]) -> bytes:
    import matplotlib  # noqa: PLC0415 - lazily: start-up does not pay for it

    matplotlib.use("Agg")
    from matplotlib.figure import Figure  # noqa: PLC0415

    height = 1.4 + 0.7 * max(len(rows), 1)  # inches: 0.7 per bar, and fixed room for title and legend
    fig = Figure(figsize=(8, height), dpi=100)
    ax = fig.add_subplot()
    y = list(range(len(rows)))[::-1]
    left = [0] * len(rows)
    for score in range(len(legend)):
        widths = [r[score] if len(r) > score else 0 for r in rows]
        ax.barh(y, widths, left=left, color=_COLOURS[score], label=legend[score], height=0.6)
        left = [a + b for a, b in zip(left, widths)]
    ax.set_yticks(y, labels=labels)
    for row_y, note, total in zip(y, notes, left):
        ax.text(total, row_y, "  " + note, va="center", fontsize=9)
    ax.set_xlim(0, max(left + [1]) * 1.3)
    ax.set_title(title, fontsize=11)
    fig.legend(ncol=5, loc="lower center", bbox_to_anchor=(0.5, 0.0), fontsize=8, frameon=False)
    fig.subplots_adjust(left=0.24, right=0.97, top=1 - 0.4 / height, bottom=0.7 / height)  # no second draw
    out = io.BytesIO()
    fig.savefig(out, format="png")
    return out.getvalue()
