"""Run a Jupyter notebook's code cells in order on PyTorch or on bigram.tensor, and
write what each cell printed, so the two engines can be compared cell by cell.

    python scripts/run_notebook.py notebooks/makemore_part1_bigrams.ipynb --engine bigram --out runs/bigram
    python scripts/run_notebook.py notebooks/makemore_part1_bigrams.ipynb --engine torch --out runs/torch
    diff -r runs/torch runs/bigram

The repository ships part 1's code cells in notebooks/; the other parts are in
github.com/karpathy/nn-zero-to-hero, lectures/makemore/ (docs/engine.md).

With `--engine bigram`, `import torch` and `import torch.nn.functional as F` in
the notebook resolve to `bigram.tensor` and its `functional` module; nothing in
the notebook is edited except IPython magics (`%matplotlib inline`), which are
dropped, and the literal substitutions asked for with `--replace OLD NEW`
(e.g. `--replace 'max_steps = 200000' 'max_steps = 2000'` for a short run).
Both engines seed their default generator randomly at start-up; `--seed N`
seeds it first so that cells drawing from it (`torch.randn((27, 2))`) agree.

Each code cell k writes `cell_KKK.txt` in the output directory: its stdout, then
the repr of its last expression (as Jupyter shows it), or the exception it
raised as `Type: message`; a failing cell does not stop the run. Figures go to
`cell_KKK_figN.png` with `--figures`. Object addresses (`at 0x7f...`) are
masked so that outputs diff cleanly. The notebook runs in the output directory,
where `names.txt` is linked from the repository's data/ if it is missing.
"""

import argparse
import ast
import contextlib
import io
import json
import os
import re
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


def use_engine(engine, threads):
    """Make `import torch` (and torch.nn, torch.nn.functional) load the chosen engine."""
    if engine == "torch":
        import torch

        if threads:
            torch.set_num_threads(threads)
        return torch
    sys.path.insert(0, str(ROOT))
    import bigram.tensor as engine_module
    import bigram.tensor.nn
    import bigram.tensor.nn.functional

    if threads:
        engine_module.set_num_threads(threads)  # numpy's BLAS, as torch's own threads above

    for name in [m for m in sys.modules if m == "torch" or m.startswith("torch.")]:
        del sys.modules[name]
    sys.modules["torch"] = engine_module
    sys.modules["torch.nn"] = bigram.tensor.nn
    sys.modules["torch.nn.functional"] = bigram.tensor.nn.functional
    return engine_module


def code_cells(path):
    """The source of every code cell, in order, with its index among code cells."""
    notebook = json.loads(Path(path).read_text())
    cells = [c for c in notebook["cells"] if c.get("cell_type") == "code"]
    return ["".join(c["source"]) if isinstance(c["source"], list) else c["source"]
            for c in cells]


def prepare(source, replacements):
    """Apply the literal replacements and drop IPython magics and shell escapes."""
    for old, new in replacements:
        source = source.replace(old, new)
    lines = [line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))]
    return "\n".join(lines)


def run_cell(source, scope, name):
    """Execute one cell; return its stdout plus the display of its last expression."""
    buffer = io.StringIO()
    try:
        tree = ast.parse(source, filename=name)
    except SyntaxError as error:
        return f"SyntaxError: {error}\n"
    display = None
    if tree.body and isinstance(tree.body[-1], ast.Expr) and not source.rstrip().endswith(";"):
        display = ast.Expression(tree.body.pop().value)
    try:
        with contextlib.redirect_stdout(buffer):
            exec(compile(tree, name, "exec"), scope)  # noqa: S102 - the notebook's own code
            if display is not None:
                value = eval(compile(display, name, "eval"), scope)  # noqa: S307
                if value is not None:
                    print(repr(value))
    except Exception as error:  # noqa: BLE001 - a failing cell is recorded, not fatal
        frames = traceback.extract_tb(error.__traceback__)
        where = next((f"line {f.lineno}" for f in reversed(frames) if f.filename == name), "")
        buffer.write(f"{type(error).__name__}: {error}" + (f" ({where})" if where else "") + "\n")
    return ADDRESS.sub(" at 0x…", buffer.getvalue())


def save_figures(out, index):
    import matplotlib.pyplot as plt

    for n, number in enumerate(plt.get_fignums()):
        plt.figure(number).savefig(out / f"cell_{index:03d}_fig{n}.png", dpi=60)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebook", type=Path, help="the .ipynb file")
    parser.add_argument("--engine", choices=("bigram", "torch"), default="bigram",
                        help="what `import torch` loads (default: bigram)")
    parser.add_argument("--out", type=Path, required=True, help="directory for cell outputs")
    parser.add_argument("--replace", action="append", default=[], nargs=2,
                        metavar=("OLD", "NEW"),
                        help="replace text in every cell before running it (repeatable)")
    parser.add_argument("--figures", action="store_true", help="save each cell's figures")
    parser.add_argument("--seed", type=int, default=None,
                        help="torch.manual_seed(SEED) before the first cell, so that cells "
                             "using the default generator are comparable across engines")
    parser.add_argument("--threads", type=int, default=1,
                        help="threads for matrix products, either engine (default 1, as "
                             "the benchmarks)")
    args = parser.parse_args(argv)
    replacements = [tuple(pair) for pair in args.replace]

    cells = code_cells(args.notebook)
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("MPLBACKEND", "Agg")
    engine = use_engine(args.engine, args.threads)
    if args.seed is not None:
        engine.manual_seed(args.seed)
    import matplotlib.pyplot as plt

    names = out / "names.txt"
    if not names.exists():
        names.symlink_to(ROOT / "data" / "names.txt")
    os.chdir(out)
    scope = {"__name__": "__main__"}
    for index, source in enumerate(cells):
        start = time.perf_counter()
        text = run_cell(prepare(source, replacements), scope, f"<cell {index}>")
        elapsed = time.perf_counter() - start
        (out / f"cell_{index:03d}.txt").write_text(text)
        if args.figures:
            save_figures(out, index)
        plt.close("all")
        status = "error" if re.search(r"^\w+(Error|Exception): ", text, re.M) else "ok"
        print(f"cell {index:3d}  {elapsed:8.2f} s  {status}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
