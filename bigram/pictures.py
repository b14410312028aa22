"""Seeing a model: the lecture's grid of bigrams as a PNG or in the terminal, training curves.

matplotlib is imported only here, and only when a picture is drawn, with the
Agg backend so that it works without a screen.
"""

import math

import numpy as np

WHAT = ("counts", "probs", "logprobs")
LABELLED_LIMIT = 40   # above this many tokens the PNG drops per-cell labels


def grid_values(saved, what):
    """The V x V matrix to show: training counts, probabilities or natural-log probabilities."""
    if what == "counts":
        return saved.data_counts["train"].dense()
    if what == "probs":
        return saved.model.probabilities
    with np.errstate(divide="ignore"):
        return np.log(saved.model.probabilities.astype(np.float64))


def cell_text(value, what):
    """A cell's value as the figure prints it."""
    if what == "counts":
        return str(int(value))
    if what == "probs":
        return f"{value:.2f}"
    return "-inf" if value == -math.inf else f"{value:.1f}"


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_grid(saved, what, output, title=None):
    """The lecture's figure: one Blues cell per bigram, labelled with its two tokens and value."""
    plt = _pyplot()
    values = np.asarray(grid_values(saved, what), dtype=np.float64)
    labels = saved.vocabulary.labels()
    size = len(labels)
    shown = np.where(np.isfinite(values), values, np.nan)
    labelled = size <= LABELLED_LIMIT
    figure, axes = plt.subplots(figsize=(16, 16) if labelled else (12, 11))
    image = axes.imshow(shown, cmap="Blues")
    if labelled:
        low, high = np.nanmin(shown), np.nanmax(shown)
        dark = np.nan_to_num((shown - low) / (high - low) if high > low else shown * 0) > 0.6
        # One text pair per cell: matplotlib draws text objects one by one.
        for i in range(size):
            for j in range(size):
                ink = "white" if dark[i, j] else "gray"
                axes.text(j, i, labels[i] + labels[j], ha="center", va="bottom", color=ink,
                          fontsize=9)
                axes.text(j, i, cell_text(values[i, j], what), ha="center", va="top",
                          color=ink, fontsize=8)
        axes.axis("off")
    else:
        step = max(1, size // 40)
        ticks = np.arange(0, size, step)
        axes.set_xticks(ticks, [labels[t] for t in ticks], fontsize=7)
        axes.set_yticks(ticks, [labels[t] for t in ticks], fontsize=7)
        axes.set_xlabel("next token")
        axes.set_ylabel("previous token")
    figure.colorbar(image, ax=axes, shrink=0.75, label=what)
    axes.set_title(title or f"{what} of {size} x {size} bigrams", fontsize=14)
    figure.tight_layout()
    _save(figure, output)
    plt.close(figure)


def plot_training_curve(losses, floor, output, title="neural bigram model: training loss"):
    """Loss per step, with the count model's loss as the floor the network approaches."""
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(8, 5))
    axes.plot(np.arange(len(losses)), losses, color="tab:blue", label="loss (with L2 term)")
    axes.axhline(floor, color="tab:orange", linestyle="--",
                 label=f"count model, no smoothing: {floor:.4f}")
    axes.set_xlabel("step")
    axes.set_ylabel("mean negative log-likelihood (nats)")
    axes.set_title(title)
    axes.legend()
    axes.grid(alpha=0.3)
    figure.tight_layout()
    _save(figure, output)
    plt.close(figure)


def _save(figure, output):
    from .files import atomic_write

    atomic_write(output, lambda stream: figure.savefig(stream, format="png", dpi=80,
                                                       bbox_inches="tight"))


def sparkline(values, width=40):
    """A one-line picture of a series: ▁▂▃▄▅▆▇█ scaled from its minimum to its maximum."""
    values = np.asarray(values, dtype=np.float64)
    if len(values) > width:
        values = values[np.linspace(0, len(values) - 1, width).round().astype(int)]
    low, high = values.min(), values.max()
    levels = np.zeros(len(values), dtype=int) if high == low else \
        np.round((values - low) / (high - low) * 7).astype(int)
    return "".join(np.array(list("▁▂▃▄▅▆▇█"))[levels])


# ---------------------------------------------------------------------- terminal grid

# ColorBrewer's Blues, the colour map of the lecture's figure, from light to dark.
_BLUES = np.array([[247, 251, 255], [222, 235, 247], [198, 219, 239], [158, 202, 225],
                   [107, 174, 214], [66, 146, 198], [33, 113, 181], [8, 81, 156],
                   [8, 48, 107]], dtype=np.float64)


def blues(fractions):
    """RGB colours along the Blues map for values in [0, 1]."""
    position = np.clip(np.asarray(fractions, dtype=np.float64), 0, 1) * (len(_BLUES) - 1)
    low = np.floor(position).astype(int)
    high = np.minimum(low + 1, len(_BLUES) - 1)
    mix = (position - low)[..., None]
    return np.round(_BLUES[low] * (1 - mix) + _BLUES[high] * mix).astype(int)


def _compact(value, what):
    """A value in at most two characters, for an 80-column grid."""
    if what == "counts":
        value = int(value)
        if value < 100:
            return str(value)
        return f"{value / 1000:.1f}"[1:] if value < 1000 else (
            f"{value // 1000}k" if value < 10000 else "∞")
    if what == "probs":
        percent = round(value * 100)
        return "··" if value > 0 and percent == 0 else str(min(percent, 99))
    return "-∞" if value == -math.inf else str(max(round(value), -9))


def terminal_grid(saved, what, separated=False):
    """The grid as a rich Table: coloured cells with two-character values, labelled headers.

    In colour, cells sit side by side (27 tokens take 56 columns) and their
    backgrounds tell them apart; `separated` puts a space between cells for
    output without colour (a file or a pipe), 83 columns for 27 tokens.
    """
    from rich.table import Table
    from rich.text import Text

    values = np.asarray(grid_values(saved, what), dtype=np.float64)
    labels = saved.vocabulary.labels()
    finite = np.where(np.isfinite(values), values, np.nan)
    low, high = np.nanmin(finite), np.nanmax(finite)
    fractions = np.nan_to_num((finite - low) / (high - low) if high > low else finite * 0)
    colours = blues(fractions)
    table = Table(box=None, padding=(0, 1 if separated else 0), pad_edge=False,
                  show_edge=False, collapse_padding=True)
    table.add_column("", justify="right", width=3, no_wrap=True)
    for label in labels:
        table.add_column(label[:2], justify="right", width=2, no_wrap=True)
    for i, label in enumerate(labels):
        cells = []
        for j in range(len(labels)):
            r, g, b = colours[i, j]
            ink = "white" if fractions[i, j] > 0.55 else "black"
            cells.append(Text(f"{_compact(values[i, j], what):>2}",
                              style=f"{ink} on rgb({r},{g},{b})"))
        table.add_row(Text(label[:3], style="bold"), *cells)
    legend = {"counts": "counts (.5 = 500, 4k = 4000)",
              "probs": "P(next | previous) in per cent (·· below 0.5%)",
              "logprobs": "ln P(next | previous), rounded"}[what]
    table.caption = f"rows: previous token, columns: next; {legend}"
    return table
