"""Regenerate the README's pictures and tables from real runs on names.txt.

    python scripts/make_docs.py

Writes docs/bigram-counts.png, docs/training-curve.png, docs/show.svg, and
prints the smoothing table (default split) for the README.
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rich.console import Console  # noqa: E402

from bigram.evaluation import evaluate_splits  # noqa: E402
from bigram.pictures import plot_grid, plot_training_curve, terminal_grid  # noqa: E402
from bigram.training import best_bigram_loss, train_model  # noqa: E402

DOCS = ROOT / "docs"


def main():
    DOCS.mkdir(exist_ok=True)
    everything = train_model([], "counts", test_size=0)
    plot_grid(everything.saved, "counts", DOCS / "bigram-counts.png",
              title="names.txt: counts of the 27 x 27 bigrams")
    console = Console(record=True, force_terminal=True, width=80, color_system="truecolor",
                      file=open("/dev/null", "w"))
    console.print(terminal_grid(everything.saved, "probs"))
    console.save_svg(str(DOCS / "show.svg"), title="bigram show")
    neural = train_model([], "neural")
    plot_training_curve(neural.saved.model.losses, best_bigram_loss(neural.data),
                        DOCS / "training-curve.png")
    print("| smoothing | strength | train NLL | test NLL |")
    print("|---|---|---|---|")
    for method in ("add-k", "witten-bell", "kneser-ney"):
        result = train_model([], "counts", method=method)
        reports = {r.name: r for r in evaluate_splits(result.saved)}
        print(f"| {method} | {result.saved.model.smoothing:.4g} | {reports['train'].nll:.5f} "
              f"| {reports['test'].nll:.5f} |")


if __name__ == "__main__":
    main()
