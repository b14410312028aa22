"""Regenerate the guides' pictures and tables from real runs on names.txt.

    python scripts/make_docs.py

Writes docs/bigram-counts.png, docs/training-curve.png, docs/show.svg (shown in
docs/pictures.md), and prints the smoothing tables of docs/training.md.
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rich.console import Console  # noqa: E402

from bigram.cli.pictures import plot_grid, plot_training_curve, terminal_grid  # noqa: E402
from bigram.models.evaluation import evaluate_splits  # noqa: E402
from bigram.settings import TrainingSettings
from bigram.training.train import best_bigram_loss, train_model  # noqa: E402
from bigram.training.tune import tune  # noqa: E402

DOCS = ROOT / "docs"


def main():
    DOCS.mkdir(exist_ok=True)
    everything = train_model([], TrainingSettings.of(model="counts", test_size=0))
    plot_grid(everything.saved, "counts", DOCS / "bigram-counts.png",
              title="names.txt: counts of the 27 x 27 bigrams")
    console = Console(record=True, force_terminal=True, width=80, color_system="truecolor",
                      file=open("/dev/null", "w"))
    console.print(terminal_grid(everything.saved, "probs"))
    console.save_svg(str(DOCS / "show.svg"), title="bigram show")
    neural = train_model([], TrainingSettings.of(model="neural"))
    plot_training_curve(neural.saved.model.losses,
                        best_bigram_loss(neural.data.counts["train"]), DOCS / "training-curve.png")
    print("| smoothing | strength | train NLL | test NLL |")
    print("|---|---|---|---|")
    for method in ("add-k", "witten-bell", "kneser-ney"):
        result = train_model([], TrainingSettings.of(model="counts", method=method))
        reports = {r.name: r for r in evaluate_splits(result.saved)}
        model = result.saved.model
        strength = (f"{model.smoothing:.4g}" if model.smoothing is not None else
                    f"{model.distribution.discounts[2]:.3g} (estimated)")
        print(f"| {method} | {strength} | {reports['train'].nll:.5f} | "
              f"{reports['test'].nll:.5f} |")
    orders_table()


GRIDS = {"add-k": [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0],
         "witten-bell": [0.3, 0.5, 1.0, 2.0, 3.0, 5.0, 8.0, 12.0],
         "kneser-ney": [None, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0]}


def orders_table():
    """Orders 2 to 6, each method at its dev-tuned strength, on the 80/10/10 split."""
    print()
    print("| order | smoothing | strength (tuned on dev) | train NLL | dev NLL | test NLL |")
    print("|---|---|---|---|---|---|")
    for order in range(2, 7):
        for method, grid in GRIDS.items():
            result = tune([], [order], "counts", [method], grid)
            chosen = result.chosen
            strength = "estimated" if chosen.strength is None else f"{chosen.strength:g}"
            print(f"| {order} | {method} | {strength} | {chosen.train:.4f} | {chosen.dev:.4f} "
                  f"| {chosen.test:.4f} |")
    best = tune([], [2, 3, 4, 5, 6], "counts", None, None)
    print(f"\n`bigram tune --order 2,3,4,5,6` (default grids) chooses order {best.chosen.order}, "
          f"{best.chosen.method} {best.chosen.strength}: dev {best.chosen.dev:.4f}, "
          f"test {best.chosen.test:.4f}")
    neural = tune([], [2, 3], "neural", regs=[0.001, 0.01, 0.1])
    print(f"neural, order 2 and 3, reg 0.001/0.01/0.1, 100 steps: chooses order "
          f"{neural.chosen.order}, reg {neural.chosen.strength}: dev {neural.chosen.dev:.4f}, "
          f"test {neural.chosen.test:.4f}")


if __name__ == "__main__":
    main()
