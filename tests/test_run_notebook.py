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


def test_shipped_part1_notebook_prints_what_pytorch_prints(tmp_path):
    """notebooks/makemore_part1_bigrams.ipynb (the lecture's code cells) on the engine, cell by
    cell against PyTorch 2.13's run of it (tests/fixtures/makemore_part1_torch.json): the same
    text, except float32 values printed in full, which agree to 1e-6 relative."""
    import re

    fixture = json.loads((ROOT / "tests" / "fixtures" / "makemore_part1_torch.json").read_text())
    out = tmp_path / "bigram"
    result = subprocess.run(
        [sys.executable, str(SCRIPT), str(ROOT / "notebooks" / "makemore_part1_bigrams.ipynb"),
         "--engine", "bigram", "--out", str(out), "--seed", "1"],
        capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    number = re.compile(r"-?\d+\.\d{8,}")
    differing = []
    for cell, torch_text in fixture["cells"].items():
        ours = (out / f"cell_{cell}.txt").read_text()
        if ours == torch_text:
            continue
        differing.append(cell)
        assert number.sub("#", ours) == number.sub("#", torch_text), cell
        for a, b in zip(number.findall(ours), number.findall(torch_text)):
            assert float(a) == pytest.approx(float(b), rel=1e-6), cell
    assert len(fixture["cells"]) == 60 and differing == ["046", "057"]
