"""Pictures: PNG figures of the grid and the training curve, and the grid in the terminal."""

import struct

import numpy as np
import pytest

from bigram.cli.pictures import sparkline
from bigram.formats.modelfile import load


def png_size(path):
    """(width, height) from a PNG's IHDR chunk, after checking the signature."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


@pytest.mark.parametrize("what", ["counts", "probs", "logprobs"])
def test_plot_writes_a_lecture_sized_png(cli, tmp_path, what):
    cli("train")
    result = cli("plot", "--what", what, "-o", "grid.png")
    assert result.code == 0 and result.err == "wrote grid.png\n"
    width, height = png_size(tmp_path / "grid.png")
    assert 900 <= width <= 1600 and 900 <= height <= 1600
    assert 100_000 < (tmp_path / "grid.png").stat().st_size < 3_000_000


def test_plot_of_a_large_vocabulary_drops_labels_keeps_colour_bar(cli, tmp_path):
    letters = [chr(c) for c in range(0x3B1, 0x3CA)] + [chr(c) for c in range(0x61, 0x7B)]
    rng = np.random.default_rng(0)
    items = ["".join(rng.choice(letters, rng.integers(2, 8))) for _ in range(3000)]
    (tmp_path / "greek.txt").write_text("\n".join(items) + "\n")
    cli("train", "greek.txt", "-o", "greek.npz")
    assert cli("plot", "-m", "greek.npz", "-o", "greek.png").code == 0
    width, height = png_size(tmp_path / "greek.png")
    assert width > 600 and height > 600
    # Without 2,500 cell labels the file is far smaller than a labelled one of its size.
    assert (tmp_path / "greek.png").stat().st_size < 400_000


def test_training_curve_png_and_sparkline(cli, tmp_path):
    result = cli("train", "--model", "neural", "--plot", "curve.png")
    assert result.code == 0 and "the training curve to curve.png" in result.err
    width, height = png_size(tmp_path / "curve.png")
    assert width > 400 and height > 250
    losses = load(tmp_path / "bigram.npz").model.losses
    assert f"{losses[0]:.4f} {sparkline(losses)} {losses[-1]:.4f}" in result.out
    refused = cli("train", "--plot", "curve.png")
    assert refused.code == 2 and "--plot draws the training curve of --model neural" in \
        refused.err


def test_sparkline_scales_from_minimum_to_maximum():
    assert sparkline([3, 2, 1, 0]) == "█▆▃▁"
    assert sparkline([5, 5, 5]) == "▁▁▁"
    assert len(sparkline(np.arange(1000), width=40)) == 40


def test_show_prints_the_grid_with_headers_and_values(cli, tmp_path):
    cli("train", "--test-size", "0")
    result = cli("show")
    assert result.code == 0
    lines = result.out.splitlines()
    header = lines[0].split()
    assert header == ["."] + [chr(c) for c in range(ord("a"), ord("z") + 1)]
    model = load(tmp_path / "bigram.npz").model
    row_q = next(line for line in lines if line.split() and line.split()[0] == "q").split()
    q_row = model.next_token_probabilities(model.advance([model.start_state()], [17]))[0]
    qu = round(float(q_row[21]) * 100)
    assert row_q[1 + 21] == str(qu) and qu == 69
    counts = cli("show", "--what", "counts").out.splitlines()
    row_dot = next(line for line in counts[1:] if line.split() and line.split()[0] == ".").split()
    assert row_dot[1:3] == ["0", "4k"]  # '..' never occurs, '.a' 4410 times
    assert all(len(line) <= 84 for line in counts)
