"""scripts/run_notebook.py runs a notebook's code cells on bigram.tensor (or torch) and
writes each cell's output; checked on a small notebook made here, in the lectures' style."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "run_notebook.py"
RNG = np.load(Path(__file__).parent / "fixtures" / "rng.npz")

CELLS = [
    "import torch\nimport torch.nn.functional as F\nimport matplotlib.pyplot as plt\n"
    "%matplotlib inline",
    "g = torch.Generator().manual_seed(2147483647)\nW = torch.randn((27, 27), generator=g)\n"
    "W.shape",
    "print(W[0, :3].tolist())\nF.softmax(W, dim=1).sum(1).allclose(torch.ones(27))",
    "x = 1 / 0",
    "plt.plot(W[0]);",
    "words = open('names.txt', 'r').read().splitlines()\nlen(words)",
    "max_steps = 200000\nlossi = []\nfor i in range(max_steps):\n"
    "    lossi.append(torch.tensor(2.0).log10().item())\nlen(lossi)",
]


def make_notebook(folder):
    cells = [{"cell_type": "markdown", "metadata": {}, "source": ["# a lecture"]}]
    cells += [{"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [],
               "source": source.splitlines(keepends=True)} for source in CELLS]
    path = folder / "lecture.ipynb"
    path.write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4,
                                "nbformat_minor": 5}))
    return path


def run(notebook, engine, out):
    result = subprocess.run(
        [sys.executable, str(SCRIPT), str(notebook), "--engine", engine, "--out", str(out),
         "--replace", "max_steps = 200000", "max_steps = 20", "--figures"],
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return [(out / f"cell_{k:03d}.txt").read_text() for k in range(len(CELLS))]


def test_cells_run_in_order_on_the_engine(tmp_path):
    outputs = run(make_notebook(tmp_path), "bigram", tmp_path / "out")
    expected_row = RNG["lecture_W|0"][0, :3].tolist()  # PyTorch's draws for this seed
    assert outputs[0] == ""
    assert outputs[1] == "torch.Size([27, 27])\n"
    assert outputs[2] == f"{expected_row}\nTrue\n"
    assert outputs[3] == "ZeroDivisionError: division by zero (line 1)\n"
    assert outputs[4] == ""  # a trailing ';' hides the value, as in Jupyter
    assert (tmp_path / "out" / "cell_004_fig0.png").stat().st_size > 0
    assert outputs[5] == f"{len((ROOT / 'data' / 'names.txt').read_text().splitlines())}\n"
    assert outputs[6] == "20\n"  # --replace shortened the loop


def test_both_engines_print_the_same(tmp_path):
    pytest.importorskip("torch")
    notebook = make_notebook(tmp_path)
    assert run(notebook, "torch", tmp_path / "torch") == run(notebook, "bigram",
                                                              tmp_path / "bigram")
