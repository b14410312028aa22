"""Benchmark row: a word corpus counted at order 3 on a LocalCluster of 2 workers, against one
process, as whole `bigram train` processes.

    python scripts/bench_dask.py            # 1 GB (written to /tmp, removed afterwards)
    python scripts/bench_dask.py --quick    # 8 MB
    python scripts/bench.py --dask          # the same, as part of the benchmark

The corpus is generated: 20,000 made-up words, each sentence a walk in which every
word is followed by one of its 32 successors (Zipf-weighted), 3 to 20 words a line,
so the distinct trigrams grow with the text as in real text, not as fast as
independent draws would make them. Peak memory is the largest sum of the resident
memory of the command and all its child processes (the workers), sampled every
0.5 s. The two model files are compared array by array afterwards.
"""

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

WORDS, SUCCESSORS = 20_000, 32


def make_word_corpus(path, size, seed=0):
    """About `size` bytes of generated sentences (see the module docstring)."""
    rng = np.random.default_rng(seed)
    letters = np.frombuffer(b"abcdefghijklmnopqrstuvwxyz", dtype=np.uint8)
    lengths = rng.integers(2, 10, size=WORDS)
    pool = letters[rng.integers(0, 26, size=int(lengths.sum()))]
    starts = np.concatenate([[0], np.cumsum(lengths)])
    successors = rng.integers(0, WORDS, size=(WORDS, SUCCESSORS))
    weights = 1.0 / np.arange(1, SUCCESSORS + 1)
    weights /= weights.sum()
    written = 0
    with open(path, "wb") as out:
        while written < size:
            n = 100_000
            width = rng.integers(3, 21, size=n)
            walk = np.zeros((n, 20), dtype=np.int64)
            walk[:, 0] = rng.integers(0, WORDS, size=n)
            choice = rng.choice(SUCCESSORS, size=(n, 19), p=weights)
            for j in range(1, 20):
                walk[:, j] = successors[walk[:, j - 1], choice[:, j - 1]]
            tokens = walk[np.arange(20)[None, :] < width[:, None]]
            # Each token is its letters and one separator: a space, or a newline at the end.
            size_of = lengths[tokens] + 1
            end_of = np.cumsum(size_of)
            data = np.full(int(end_of[-1]), ord(" "), dtype=np.uint8)
            data[end_of[np.cumsum(width) - 1] - 1] = ord("\n")
            within = np.arange(int(size_of.sum())) - np.repeat(end_of - size_of, size_of)
            letters_at = within < np.repeat(lengths[tokens], size_of)
            source = np.repeat(starts[tokens], size_of) + within
            data[letters_at] = pool[source[letters_at]]
            remaining = size - written
            full = len(data) <= remaining
            if not full:   # end on the last whole line that fits
                breaks = np.flatnonzero(data[:remaining] == ord("\n"))
                data = data[: int(breaks[-1]) + 1 if len(breaks) else 0]
            out.write(data.tobytes())
            written += len(data)
            if not full:
                break


def peak_of_tree(process, samples):
    """Sample the resident memory of `process` and its descendants until it ends."""
    import psutil

    try:
        root = psutil.Process(process.pid)
        while process.poll() is None:
            total = 0
            for p in [root, *root.children(recursive=True)]:
                try:
                    total += p.memory_info().rss
                except psutil.Error:
                    pass
            samples.append(total)
            time.sleep(0.5)
    except psutil.Error:
        pass


def run_train(arguments):
    """Wall time, peak memory of the process tree (MB) and stderr of `bigram train ...`."""
    samples = []
    start = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "bigram", "train", *arguments],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    watcher = threading.Thread(target=peak_of_tree, args=(process, samples))
    watcher.start()
    out, err = process.communicate()
    seconds = time.perf_counter() - start
    watcher.join()
    if process.returncode != 0:
        raise RuntimeError(err)
    return seconds, max(samples, default=0) // (1 << 20), out


def same_models(first, second):
    """Whether two model files hold the same arrays and vocabulary. The cluster's file keeps
    no training text (for `sample --novel`): that member, and the metadata, are left out."""
    import zipfile

    with zipfile.ZipFile(first) as a, zipfile.ZipFile(second) as b:
        names = sorted(set(a.namelist()) - {"meta.npy", "train_items.npy"})
        if names != sorted(set(b.namelist()) - {"meta.npy"}):
            return False
        return all(a.read(n) == b.read(n) for n in names)


def measure(quick, folder):
    """The row: one process and a LocalCluster of 2 workers on the same corpus."""
    size = (8 << 20) if quick else (1 << 30)
    corpus = Path(folder) / "words.txt"
    made = time.perf_counter()
    make_word_corpus(corpus, size)
    made = time.perf_counter() - made
    common = [str(corpus), "--unit", "word", "--order", "3", "--test-size", "0",
              "--smoothing-method", "kneser-ney"]
    one = Path(folder) / "one.npz"
    cluster = Path(folder) / "cluster.npz"
    t_one, peak_one, out_one = run_train([*common, "-o", str(one)])
    t_dask, peak_dask, out_dask = run_train([*common, "--dask", "local", "--dask-workers", "2",
                                             "-o", str(cluster)])
    row = {"bytes": size, "generate_s": made, "one_process_s": t_one,
           "one_process_peak_mb": peak_one, "cluster_s": t_dask, "cluster_peak_mb": peak_dask,
           "identical": same_models(one, cluster),
           "summary": out_one.strip().splitlines()[-3:]}
    corpus.unlink()
    return row


def print_rows(row):
    label = f"{row['bytes'] >> 30} GB" if row["bytes"] >= 1 << 30 else f"{row['bytes'] >> 20} MB"
    print()
    print("| word corpus, order 3, Kneser-Ney | one process | LocalCluster, 2 workers | "
          "models identical |")
    print("|---|---|---|---|")
    print(f"| {label} | {row['one_process_s']:.1f} s, {row['one_process_peak_mb']:,} MB | "
          f"{row['cluster_s']:.1f} s, {row['cluster_peak_mb']:,} MB (all processes) | "
          f"{'yes' if row['identical'] else 'NO'} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="8 MB instead of 1 GB")
    parser.add_argument("--json", type=Path, help="write the row as JSON here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir="/tmp") as folder:
        row = measure(args.quick, folder)
    print_rows(row)
    if args.json:
        args.json.write_text(json.dumps(row, indent=1) + "\n")


if __name__ == "__main__":
    main()
