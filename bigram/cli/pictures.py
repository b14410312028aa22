"""Seeing a model: the lecture's grid of bigrams as a PNG or in the terminal, training curves.

matplotlib is imported only here, and only when a picture is drawn, with the
Agg backend so that it works without a screen.
"""

import math
from dataclasses import dataclass

import numpy as np

LABELLED_LIMIT = 40   # above this many tokens the PNG drops per-cell labels
CONTEXT_ROWS = 27     # contexts shown for orders above 2: the most frequent ones
GRID_TOKENS = 64      # a larger vocabulary shows its most frequent tokens only


@dataclass
class Grid:
    """What a grid shows: values (rows x columns) with labels, and what was left out."""

    values: np.ndarray
    row_labels: list
    labels: list
    vocabulary_size: int
    shown_columns: int

    @property
    def note(self):
        """How the grid was chosen, when not every token is shown."""
        if self.shown_columns >= self.vocabulary_size:
            return ""
        return (f"the {self.shown_columns} most frequent of {self.vocabulary_size:,} tokens "
                "(rows and columns)")


def grid_values(saved, what, tokens=GRID_TOKENS):
    """The grid to show: rows are contexts (previous tokens, or for higher orders the most
    frequent contexts), columns next tokens; values are training counts, probabilities or
    natural-log probabilities. A vocabulary larger than `tokens` shows its most frequent
    tokens only, in both directions.
    """
    model = saved.model
    index = saved.data_counts["train"]
    order = model.order
    labels = saved.vocabulary.labels()
    top = index.level(order)
    parent = index.parent(order)
    context_totals = np.bincount(parent, weights=top.count, minlength=len(index.level(order - 1)))
    size = model.size
    columns = np.arange(size)
    if size > tokens:
        frequency = index.level(1).count
        columns = np.sort(np.argsort(-frequency, kind="stable")[:tokens])
    if order == 2:
        contexts = columns
    else:
        limit = min(CONTEXT_ROWS, tokens)
        contexts = np.sort(np.argsort(-context_totals, kind="stable")[:limit])
    context_tokens = index.tokens(order - 1, contexts)
    row_labels = ["".join(labels[t] for t in row) if saved.vocabulary.unit == "char"
                  else " ".join(labels[t] for t in row) for row in context_tokens.tolist()]
    if what == "counts":
        values = np.zeros((len(contexts), size))
        owner, child = index.children(order, contexts)
        values[owner, index.token(order)[child]] = top.count[child]
    else:
        states = model_states(model, index, contexts)
        values = model.next_token_probabilities(states).astype(np.float64)
        if what == "logprobs":
            with np.errstate(divide="ignore"):
                values = np.log(values)
    return Grid(values[:, columns], row_labels, [labels[c] for c in columns], size,
                len(columns))


def model_states(model, index, contexts):
    """The model's sampling states for contexts given as rows of the training index's
    level order-1."""
    tokens = index.tokens(model.order - 1, contexts)
    if hasattr(model, "backoff"):
        from bigram.formats.arpa_model import lookup

        rows = lookup(model.backoff.index, tokens)
        return model.backoff.offsets[model.order - 1] + rows
    powers = model.size ** np.arange(model.order - 2, -1, -1, dtype=np.int64)
    return (tokens * powers).sum(axis=1)


def cell_text(value, what):
    """A cell's value as the figure prints it."""
    if what == "counts":
        return str(int(value))
    if what == "probs":
        return f"{value:.2f}"
    return "-inf" if value == -math.inf else f"{value:.1f}"


def _pyplot():
    import warnings

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # A label in a script the font lacks (CJK, say) is drawn as a box: a picture, not an
    # error, so not a warning per glyph on stderr.
    warnings.filterwarnings("ignore", message="Glyph .* missing from", category=UserWarning)
    return plt


def plot_grid(saved, what, output, title=None):
    """The lecture's figure: one Blues cell per bigram, labelled with its two tokens and value."""
    plt = _pyplot()
    grid = grid_values(saved, what)
    values, row_labels, labels = grid.values, grid.row_labels, grid.labels
    size = len(labels)
    shown = np.where(np.isfinite(values), values, np.nan)
    labelled = size <= LABELLED_LIMIT
    figure, axes = plt.subplots(figsize=(16, 16 * len(row_labels) / size) if labelled
                                else (12, 11))
    image = axes.imshow(shown, cmap="Blues")
    if labelled:
        low, high = np.nanmin(shown), np.nanmax(shown)
        dark = np.nan_to_num((shown - low) / (high - low) if high > low else shown * 0) > 0.6
        # One text pair per cell: matplotlib draws text objects one by one.
        for i in range(len(row_labels)):
            for j in range(size):
                ink = "white" if dark[i, j] else "gray"
                axes.text(j, i, row_labels[i] + labels[j], ha="center", va="bottom",
                          color=ink, fontsize=9 if len(row_labels[i]) < 3 else 7)
                axes.text(j, i, cell_text(values[i, j], what), ha="center", va="top",
                          color=ink, fontsize=8)
        axes.axis("off")
    else:
        step = max(1, size // 40)
        ticks = np.arange(0, size, step)
        axes.set_xticks(ticks, [labels[t] for t in ticks], fontsize=7)
        rows = np.arange(0, len(row_labels), max(1, len(row_labels) // 40))
        axes.set_yticks(rows, [row_labels[t] for t in rows], fontsize=7)
        axes.set_xlabel("next token")
        axes.set_ylabel("previous token" if saved.model.order == 2 else "context")
    figure.colorbar(image, ax=axes, shrink=0.75, label=what)
    if title is None:
        title = (f"{what} of {size} x {size} bigrams" if saved.model.order == 2 else
                 f"{what} after the {len(row_labels)} most frequent contexts "
                 f"(order {saved.model.order})")
        if grid.note:
            title += f"\n{grid.note}"
    axes.set_title(title, fontsize=14)
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


def plot_tuning(trials, output):
    """Dev loss against the strength, one line per order and method (log scale)."""
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(8, 5))
    series = {}
    for trial in trials:
        if trial.strength is None:
            continue
        series.setdefault((trial.order, trial.method), []).append((trial.strength, trial.dev))
    for (order, method), points in sorted(series.items()):
        points.sort()
        axes.plot([p for p, _ in points], [d for _, d in points], marker="o",
                  label=f"order {order}, {method}")
    axes.set_xscale("log")
    axes.set_xlabel("strength (k, multiplier, discount or reg)")
    axes.set_ylabel("dev NLL (nats)")
    axes.set_title("dev loss of each setting")
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8)
    figure.tight_layout()
    _save(figure, output)
    plt.close(figure)


def _save(figure, output):
    from bigram.formats.files import atomic_write

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

    grid = grid_values(saved, what)
    values, row_labels, labels = grid.values, grid.row_labels, grid.labels
    finite = np.where(np.isfinite(values), values, np.nan)
    low, high = np.nanmin(finite), np.nanmax(finite)
    fractions = np.nan_to_num((finite - low) / (high - low) if high > low else finite * 0)
    colours = blues(fractions)
    table = Table(box=None, padding=(0, 1 if separated else 0), pad_edge=False,
                  show_edge=False, collapse_padding=True)
    width = max(3, max(len(r) for r in row_labels))
    table.add_column("", justify="right", width=width, no_wrap=True)
    for label in labels:
        table.add_column(label[:2], justify="right", width=2, no_wrap=True)
    for i, label in enumerate(row_labels):
        cells = []
        for j in range(len(labels)):
            r, g, b = colours[i, j]
            ink = "white" if fractions[i, j] > 0.55 else "black"
            cells.append(Text(f"{_compact(values[i, j], what):>2}",
                              style=f"{ink} on rgb({r},{g},{b})"))
        table.add_row(Text(label, style="bold"), *cells)
    legend = {"counts": "counts (.5 = 500, 4k = 4000)",
              "probs": "P(next | previous) in per cent (·· below 0.5%)",
              "logprobs": "ln P(next | previous), rounded"}[what]
    rows = "previous token" if saved.model.order == 2 else "context (the most frequent)"
    table.caption = f"rows: {rows}, columns: next; {legend}"
    if grid.note:
        table.caption += f"; {grid.note}"
    return table
