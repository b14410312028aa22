"""`train --dask local --memory SIZE`: the client's own peak memory and time when a cluster's
counts are merged on its disk, against the combined counts read whole (no --memory) and
against one process within the same budget.

Order-3 modified Kneser-Ney on generated Zipf words (bench_budget.zipf_corpus), a
LocalCluster of 2 workers, whole processes one after the other. The client's peak is its
own ru_maxrss (RUSAGE_SELF, printed by the wrapper below as it exits): the workers are
other processes, with memory of their own. The model files are compared array by array.

    python scripts/bench_dask_budget.py --folder /tmp/dask-budget zipf-20M zipf-40M
"""

import argparse
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_budget import parse_size, zipf_corpus

ROOT = Path(__file__).resolve().parents[1]
# Runs the CLI and prints this process's own peak resident memory (KiB) last on stderr.
WRAPPER = ("import resource, sys\n"
           "from bigram.cli.app import main\n"
           "try:\n    main(sys.argv[1:])\n"
           "finally:\n"
           "    print('peak', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "
           "file=sys.stderr)\n")


def run(arguments):
    """(wall seconds, the client's peak bytes) of `bigram ARGUMENTS`."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", WRAPPER, *arguments], check=False, cwd=ROOT,
                          capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(done.stderr)
    peak = int(done.stderr.strip().splitlines()[-1].split()[1]) * 1024
    return wall, peak


def same_arrays(a, b):
    with np.load(a) as x, np.load(b) as y:
        names = [n for n in x.files if n not in ("meta", "train_items")]
        return all(np.array_equal(x[n], y[n], equal_nan=x[n].dtype.kind == "f") for n in names)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpora", nargs="+", help="zipf-<size>: zipf-20M, ...")
    parser.add_argument("--folder", type=Path, required=True)
    parser.add_argument("--memory", default="256M")
    args = parser.parse_args()
    args.folder.mkdir(parents=True, exist_ok=True)
    print("| corpus | run | wall | client peak RSS | same model |")
    print("|---|---|---|---|---|")
    for name in args.corpora:
        path = args.folder / f"{name}.txt"
        if not path.exists():
            zipf_corpus(path, parse_size(name.split("-", 1)[1]))
        common = ["train", str(path), "--unit", "word", "--order", "3", "--smoothing-method",
                  "modified-kneser-ney", "--test-size", "0"]
        cluster = ["--dask", "local", "--dask-workers", "2"]
        budget = ["--memory", args.memory, "--temp-dir", str(args.folder)]
        runs = {"--dask, combined counts read whole": cluster,
                f"--dask --memory {args.memory}": cluster + budget,
                f"one process --memory {args.memory}": budget}
        reference = None
        for number, (label, extra) in enumerate(runs.items()):
            out = args.folder / f"{name}-{number}.npz"
            wall, peak = run(common + extra + ["-o", str(out), "--force"])
            same = "" if reference is None else ("yes" if same_arrays(reference, out) else "NO")
            reference = reference or out
            print(f"| {name} | {label} | {wall:.1f} s | {peak / 2**20:.0f} MiB | {same} |",
                  flush=True)


if __name__ == "__main__":
    main()
