"""Benchmark of kenlm's per-call interface and of word sampling (issue 25).

1. `Model.score(sentence)` in a Python loop, sentence by sentence, beside the same loop
   over `kenlm.Model(binary).score` (the kenlm module, `pip install kenlm`), on the same
   lmplz model (bigram reads the ARPA file, kenlm the binary build_binary made of it),
   and `Model.score_lines` (the block path) on the same lines. Repeats interleaved,
   medians; loading is not timed. Models: order-5 lmplz models of real text (the
   comments and docstrings of Python's standard library, ~2 MB, and its reference docs,
   ~0.35 MB: scripts/stdlib_corpus.py), and of generated text (the test fixture's Zipf
   words).
2. `bigram sample -m MODEL -n N` as a whole process (wall and CPU seconds), for an
   order-5 modified Kneser-Ney word model that bigram trains on the ~2 MB real text,
   N = 100 and 10,000; and in-process, the same 20 items drawn from full rows (the
   sampler before the back-off chain) and by the back-off chain.

    python scripts/bench_kenlm_calls.py [--work DIR] [--repeats 3] [--json out.json]
        [--score-only]

Loops are timed in wall and CPU seconds (both single-threaded; on a shared machine the
CPU times are the steadier); ratios of medians.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KENLM_BIN = Path.home() / ".cache" / "kenlm" / "build" / "bin"


def run(command, **kwargs):
    return subprocess.run(command, check=True, capture_output=True, **kwargs)


def prepare(work):
    """The corpora, lmplz models (ARPA and binary) and bigram's own word model."""
    work.mkdir(parents=True, exist_ok=True)
    if not (work / "comments.train.txt").exists():
        run([sys.executable, str(ROOT / "scripts" / "stdlib_corpus.py"), str(work)])
    for name in ("comments", "docs"):
        arpa = work / f"{name}.o5.arpa"
        if not arpa.exists():
            with open(work / f"{name}.train.txt", "rb") as text, open(arpa, "wb") as out:
                subprocess.run([str(KENLM_BIN / "lmplz"), "-o", "5", "-S", "1G", "-T",
                                str(work), "--discount_fallback"], stdin=text, stdout=out,
                               stderr=subprocess.DEVNULL, check=True)
            run([str(KENLM_BIN / "build_binary"), str(arpa), str(work / f"{name}.o5.binary")])
    words = work / "words.o5.arpa"
    if not words.exists():
        import gzip

        words.write_bytes(gzip.decompress((ROOT / "tests" / "fixtures" / "kenlm" /
                                           "words.o5.arpa.gz").read_bytes()))
        run([str(KENLM_BIN / "build_binary"), str(words), str(work / "words.o5.binary")])
    model = work / "comments.o5.npz"
    if not model.exists():
        run([sys.executable, "-m", "bigram", "train", "--unit", "word", "--order", "5",
             "--smoothing-method", "modified-kneser-ney", "--test-size", "0",
             str(work / "comments.train.txt"), "-o", str(model)], cwd=ROOT)
    return work


def score_loops(work, repeats):
    """Seconds per loop over the test sentences: kenlm, bigram score, bigram score_lines."""
    import kenlm

    import bigram

    cases = {
        "real: stdlib comments (2.07 MB train), its test+dev sentences":
            ("comments", ["comments.test.txt", "comments.dev.txt"], None),
        "real: stdlib docs (0.34 MB train), its test+dev sentences":
            ("docs", ["docs.test.txt", "docs.dev.txt"], None),
        "real: stdlib docs, the same sentences cut to their first 6 words, x 4":
            ("docs", ["docs.test.txt", "docs.dev.txt"], 6),
        "generated: fixture Zipf words, held-out sentences x 200": ("words", None, None),
    }
    results = {}
    for label, (name, files, cut) in cases.items():
        if files:
            lines = [line for f in files for line in
                     (work / f).read_text(encoding="utf-8").splitlines()]
            if cut:
                lines = [" ".join(line.split()[:cut]) for line in lines] * 4
        else:
            lines = (ROOT / "tests" / "fixtures" / "kenlm" /
                     "words.heldout.txt").read_text().splitlines() * 200
        theirs = kenlm.Model(str(work / f"{name}.o5.binary"))
        ours = bigram.load(work / f"{name}.o5.arpa")
        ours.score(lines[0])   # the per-call tables are made on the first call
        calls = {"kenlm score loop": lambda m=theirs, x=lines: [m.score(line) for line in x],
                 "bigram score loop": lambda m=ours, x=lines: [m.score(line) for line in x],
                 "bigram score_lines": lambda m=ours, x=lines: [s.log10prob for s in
                                                              m.score_lines(x)]}
        times = {k: [] for k in calls}
        cpu = {k: [] for k in calls}
        worst = 0.0
        for _ in range(repeats):
            values = []
            for key, call in calls.items():
                start, start_cpu = time.perf_counter(), time.process_time()
                values.append(call())
                times[key].append(time.perf_counter() - start)
                cpu[key].append(time.process_time() - start_cpu)
            a, b, c = values
            worst = max(worst, max(abs(x - y) for x, y in zip(a, b)),
                        max(abs(x - y) for x, y in zip(b, c)))
        medians = {k: statistics.median(v) for k, v in times.items()}
        cpu_medians = {k: statistics.median(v) for k, v in cpu.items()}
        tokens = sum(len(line.split()) + 1 for line in lines)
        results[label] = {"lines": len(lines), "tokens": tokens, "seconds": medians,
                          "cpu_seconds": cpu_medians,
                          "ratio_score_to_kenlm": medians["bigram score loop"] /
                          medians["kenlm score loop"],
                          "cpu_ratio_score_to_kenlm": cpu_medians["bigram score loop"] /
                          cpu_medians["kenlm score loop"],
                          "microseconds_per_call": {
                              k: v / len(lines) * 1e6 for k, v in cpu_medians.items()},
                          "largest_sentence_difference_log10": worst}
    return results


def timed(command):
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                               cwd=ROOT)
    lines = sum(chunk.count(b"\n") for chunk in iter(lambda: process.stdout.read(1 << 16),
                                                      b""))
    _, status, usage = os.wait4(process.pid, 0)
    if status:
        raise RuntimeError(f"{command} failed")
    return time.perf_counter() - start, usage.ru_utime + usage.ru_stime, lines


def sampling(work, repeats):
    """Whole-process sampling times, and in-process rows vs back-off chain."""
    model = work / "comments.o5.npz"
    out = {}
    for n in (100, 10_000):
        runs = [timed([sys.executable, "-m", "bigram", "sample", "-m", str(model), "-n",
                       str(n), "--seed", "1"]) for _ in range(repeats)]
        assert all(lines == n for _, _, lines in runs)
        out[f"bigram sample -n {n} (whole process)"] = {
            "wall": statistics.median(r[0] for r in runs),
            "cpu": statistics.median(r[1] for r in runs)}
    import bigram
    from bigram.models.backoff_chain import BackoffChain
    from bigram.models.sampling import LazyChain, boundary_limit, sample
    from bigram.tensor.random import Generator

    loaded = bigram.load(model).saved.model
    start_state = loaded.start_state()
    chain = BackoffChain(loaded)
    chain.boundary_limit = boundary_limit(loaded, 1.0)
    for name, made in (("full rows (before)", LazyChain(loaded)), ("back-off chain", chain)):
        begin = time.perf_counter()
        drawn = sample(made, 20, Generator().manual_seed(1), start_state, 100)
        out[f"20 items in-process, {name}"] = {"wall": time.perf_counter() - begin,
                                               "tokens": int(drawn.offsets[-1])}
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/bench-kenlm-calls"))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--score-only", action="store_true",
                        help="time the score loops only (not sampling)")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    work = prepare(args.work)
    results = {"score": score_loops(work, args.repeats)}
    if not args.score_only:
        results["sampling"] = sampling(work, args.repeats)
    for label, row in results["score"].items():
        s, us = row["seconds"], row["microseconds_per_call"]
        print(f"{label}: {row['lines']:,} lines, {row['tokens']:,} tokens; kenlm "
              f"{s['kenlm score loop']:.3f} s, bigram score {s['bigram score loop']:.3f} s "
              f"({row['ratio_score_to_kenlm']:.1f}x; CPU {row['cpu_ratio_score_to_kenlm']:.1f}x, "
              f"{us['kenlm score loop']:.2f} vs {us['bigram score loop']:.2f} us a call), "
              f"score_lines {s['bigram score_lines']:.3f} s; largest difference "
              f"{row['largest_sentence_difference_log10']:.1e}")
    for label, row in results.get("sampling", {}).items():
        print(f"{label}: " + ", ".join(f"{k} {v:.2f}" if isinstance(v, float) else f"{k} {v}"
                                       for k, v in row.items()))
    print(f"load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
