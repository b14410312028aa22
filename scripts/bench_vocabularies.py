"""Benchmarks of large vocabularies and of modified Kneser-Ney beside KenLM's lmplz.

Every figure is a whole process (`bigram ...` or `lmplz ...`), timed by wall clock, with
its own peak memory (ru_maxrss from wait4); peers run side by side in the same run. The
corpora are made here, seeded:

* 200,000 items of 2 to 8 characters drawn uniformly from 20,001 CJK characters (U+4E00 on);
* about 40 MB of words: 200,000 word types with Zipf frequencies, sentences of 5 to 40;
* 22.8 MB of characters: 100 shuffled copies of names.txt (lmplz reads it space-separated).

lmplz (built by ../shared/tools/build-kenlm.sh) is used when found ($KENLM_BIN, or the
script's default folder ~/.cache/kenlm/build/bin); without it the rows say so.

    python scripts/bench_vocabularies.py [--quick] [--json out.json]
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
NAMES = ROOT / "data" / "names.txt"


def kenlm_bin():
    """The folder holding lmplz, or None."""
    for folder in (os.environ.get("KENLM_BIN"), Path.home() / ".cache/kenlm/build/bin"):
        if folder and (Path(folder) / "lmplz").exists():
            return Path(folder)
    return None


def run_measured(command, stdin=None, stdout=subprocess.DEVNULL):
    """Run a command; its wall time in seconds and its own peak memory in MB.

    The peak comes from GNU time (`/usr/bin/time -f %M`), a small parent: a child forked
    by this (large) Python process starts with the parent's resident pages counted in its
    ru_maxrss. Without GNU time, wait4's figure is used and may be inflated that way.
    """
    timer = shutil.which("time", path="/usr/bin:/bin")
    prefix = [timer, "-f", "PEAK_KB %M"] if timer else []
    source = open(stdin, "rb") if stdin else None   # noqa: SIM115 - closed below
    start = time.perf_counter()
    try:
        process = subprocess.Popen(prefix + command, stdin=source or subprocess.DEVNULL,
                                   stdout=stdout, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(process.pid, 0)
    finally:
        if source:
            source.close()
    seconds = time.perf_counter() - start
    error = process.stderr.read().decode(errors="replace")
    process.stderr.close()
    if status != 0:
        raise RuntimeError(f"{command[0]} failed: {error[-500:]}")
    peaks = [line for line in error.splitlines() if line.startswith("PEAK_KB ")]
    peak_kb = int(peaks[-1].split()[1]) if peaks else usage.ru_maxrss
    return seconds, peak_kb // 1024


def bigram_command():
    exe = shutil.which("bigram")
    return [exe] if exe else [sys.executable, "-m", "bigram"]


# ---------------------------------------------------------------------- corpora


def cjk_items(path, items=200_000, types=20_001, seed=1):
    """Items of 2 to 8 characters drawn uniformly from `types` CJK characters."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(2, 9, items)
    chars = rng.integers(0x4E00, 0x4E00 + types, int(lengths.sum())).astype(np.uint32)
    newline = np.full(items, 0x0A, dtype=np.uint32)
    out = np.empty(len(chars) + items, dtype=np.uint32)
    ends = np.cumsum(lengths + 1) - 1
    out[ends] = newline
    mask = np.ones(len(out), dtype=bool)
    mask[ends] = False
    out[mask] = chars
    path.write_text(out.astype("<u4").tobytes().decode("utf-32-le"), encoding="utf-8")


def zipf_words(path, target_bytes=40_000_000, types=200_000, seed=2):
    """Sentences of 5 to 40 words whose types have Zipf-distributed frequencies."""
    rng = np.random.default_rng(seed)
    letters = np.frombuffer(b"abcdefghijklmnopqrstuvwxyz", np.uint8)
    lengths = rng.integers(2, 10, types)
    pool = letters[rng.integers(0, 26, int(lengths.sum()))].tobytes().decode()
    ends = np.cumsum(lengths)
    vocabulary = np.array(list(dict.fromkeys(pool[e - n:e] for e, n in
                                             zip(ends.tolist(), lengths.tolist()))),
                          dtype=object)
    weights = 1.0 / np.arange(1, len(vocabulary) + 1)
    weights /= weights.sum()
    with open(path, "w", encoding="utf-8") as out:
        written = 0
        while written < target_bytes:
            sizes = rng.integers(5, 41, 10_000)
            words = vocabulary[rng.choice(len(vocabulary), int(sizes.sum()), p=weights)]
            cuts = np.cumsum(sizes)[:-1]
            text = "\n".join(" ".join(sentence) for sentence in np.split(words, cuts)) + "\n"
            out.write(text)
            written += len(text)


def shuffled_names(path, spaced_path, copies=100, seed=3407):
    """`copies` shuffled copies of names.txt; and the same with characters space-separated."""
    names = np.array([n for n in NAMES.read_text().split("\n") if n], dtype=object)
    rng = np.random.default_rng(seed)
    order = np.concatenate([rng.permutation(len(names)) for _ in range(copies)])
    lines = names[order].tolist()
    path.write_text("\n".join(lines) + "\n")
    spaced_path.write_text("\n".join(" ".join(line) for line in lines) + "\n")


# ---------------------------------------------------------------------- rows


def row(workload, ours, lmplz=None, tokens=None):
    """A result row: (seconds, MB) for bigram and, if measured, lmplz."""
    out = {"workload": workload, "ours_s": ours[0], "ours_mb": ours[1]}
    if tokens:
        out["tokens"] = tokens
        out["ours_tokens_per_s"] = tokens / ours[0]
    if lmplz is not None:
        out["lmplz_s"], out["lmplz_mb"] = lmplz
        out["time_ratio"] = lmplz[0] / ours[0]
        out["memory_ratio"] = ours[1] / lmplz[1]
    return out


def measure(quick, folder):
    folder = Path(folder)
    kenlm = None if quick else kenlm_bin()
    bigram = bigram_command()
    rows = []

    cjk = folder / "cjk.txt"
    cjk_items(cjk, items=20_000 if quick else 200_000)
    model = folder / "cjk.npz"
    rows.append(row("20,001 CJK characters: train", run_measured(
        bigram + ["train", str(cjk), "-o", str(model)])))
    rows.append(row("20,001 CJK characters: sample -n 10", run_measured(
        bigram + ["sample", "-m", str(model), "-n", "10", "--seed", "1"])))
    rows.append(row("20,001 CJK characters: eval", run_measured(
        bigram + ["eval", "-m", str(model)])))

    words = folder / "words.txt"
    zipf_words(words, target_bytes=1_000_000 if quick else 40_000_000)
    n_words = len(words.read_bytes().split())
    for order in (3, 5):
        ours = run_measured(bigram + ["train", str(words), "--unit", "word", "--order",
                                      str(order), "--smoothing-method", "kneser-ney",
                                      "--test-size", "0", "-o", str(folder / "w.npz")])
        theirs = None if kenlm is None else run_measured(
            [str(kenlm / "lmplz"), "-o", str(order), "-S", "1G", "--discount_fallback"],
            stdin=words)
        rows.append(row(f"{words.stat().st_size / 1e6:.0f} MB of words, order {order} "
                        "Kneser-Ney (lmplz: modified)", ours, theirs, n_words))

    chars, spaced = folder / "chars.txt", folder / "chars.spaced.txt"
    shuffled_names(chars, spaced, copies=2 if quick else 100)
    n_chars = len(chars.read_bytes())
    ours = run_measured(bigram + ["train", str(chars), "--order", "5", "--smoothing-method",
                                  "modified-kneser-ney", "--test-size", "0", "-o",
                                  str(folder / "c.npz")])
    theirs = None if kenlm is None else run_measured(
        [str(kenlm / "lmplz"), "-o", "5", "-S", "1G", "--discount_fallback"], stdin=spaced)
    rows.append(row(f"{chars.stat().st_size / 1e6:.1f} MB of characters, order 5 modified "
                    "Kneser-Ney", ours, theirs, n_chars))
    return {"kenlm": str(kenlm) if kenlm else None, "quick": quick, "rows": rows}


def print_rows(result):
    if result.get("quick"):
        print("quick mode: small corpora, lmplz not run")
    elif result["kenlm"] is None:
        print("lmplz not found (build it with ../shared/tools/build-kenlm.sh, or set "
              "KENLM_BIN): the lmplz columns are empty")
    print("| workload | bigram | peak | lmplz | peak | lmplz time / ours | memory ours / lmplz |")
    print("|---|---|---|---|---|---|---|")
    for r in result["rows"]:
        rate = f" ({r['ours_tokens_per_s'] / 1e6:.2f} M tokens/s)" if "tokens" in r else ""
        peer = (f"{r['lmplz_s']:.2f} s | {r['lmplz_mb']} MB | {r['time_ratio']:.2f}x | "
                f"{r['memory_ratio']:.2f}x") if "lmplz_s" in r else "— | — | — | —"
        print(f"| {r['workload']} | {r['ours_s']:.2f} s{rate} | {r['ours_mb']} MB | {peer} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small corpora, no lmplz")
    parser.add_argument("--json", type=Path, help="write the results as JSON here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        result = measure(args.quick, folder)
    print_rows(result)
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
