"""Benchmark: `bigram convert FILE.arpa` (streamed a level at a time) beside KenLM's
`build_binary trie` on the same lmplz ARPA file, whole processes, at two sizes.

Zipf words (bench_scoring.zipf_sentences) -> `lmplz -o 5` -> ARPA; then, interleaved and
repeated, `build_binary trie ARPA out` and `bigram convert ARPA -o out` (and with
--quantize 8 beside `build_binary -q 8 -b 8 trie`). Reports wall and CPU seconds
(user + system, from wait4) and peak MB (GNU time), medians, the ratios of the medians,
and the output files' sizes.

    PYTHONPATH=$PWD python scripts/bench_convert_arpa.py [--mb 1 22] [--repeats 3 1]
        [--stdlib REPEATS]

--stdlib adds lmplz's ARPA of ~2 MB of standard-library lines (bench_query_format's
stdlib model, 27.8 MB of ARPA with 644,000 n-grams). The load average is printed with
each size, as the machine may be shared.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_query_format import run_measured, stdlib_text
from bench_scoring import zipf_sentences
from bench_vocabularies import kenlm_bin

BIGRAM = [sys.executable, "-m", "bigram"]


def arpa_of(folder, mb, kenlm):
    """lmplz's order-5 ARPA file of `mb` megabytes of Zipf text."""
    text, arpa = folder / f"zipf-{mb}.txt", folder / f"zipf-{mb}.arpa"
    zipf_sentences(text, int(mb * 1e6), seed=12)
    with open(text, "rb") as source, open(arpa, "wb") as out:
        subprocess.run([str(kenlm / "lmplz"), "-o", "5", "-S", "2G", "--discount_fallback"],
                       stdin=source, stdout=out, stderr=subprocess.DEVNULL, check=True)
    text.unlink()
    return arpa


def stdlib_arpa(folder, kenlm):
    """lmplz's order-5 ARPA file of bench_query_format's stdlib text."""
    text, arpa = folder / "stdlib.txt", folder / "stdlib.arpa"
    stdlib_text(text, folder / "stdlib.test.txt")
    with open(text, "rb") as source, open(arpa, "wb") as out:
        subprocess.run([str(kenlm / "lmplz"), "-o", "5", "-S", "1G", "--discount_fallback"],
                       stdin=source, stdout=out, stderr=subprocess.DEVNULL, check=True)
    return arpa


def measure(folder, arpa, kenlm, repeats):
    """Median (wall, CPU, peak MB) per command, interleaved; and the output sizes."""
    commands = {
        "build_binary trie": [str(kenlm / "build_binary"), "trie", str(arpa),
                              str(folder / "k.trie")],
        "bigram convert": BIGRAM + ["convert", str(arpa), "-o", str(folder / "b.bq")],
        "build_binary -q 8 -b 8 trie": [str(kenlm / "build_binary"), "-q", "8", "-b", "8",
                                        "trie", str(arpa), str(folder / "k.q8.trie")],
        "bigram convert --quantize 8": BIGRAM + ["convert", str(arpa), "-o",
                                                 str(folder / "b.q8.bq"), "--quantize", "8"],
    }
    runs = {name: [] for name in commands}
    for _ in range(repeats):
        for name, command in commands.items():
            runs[name].append(run_measured(command))
    out = {name: [statistics.median(r[i] for r in results) for i in range(3)]
           for name, results in runs.items()}
    sizes = {name: (folder / path).stat().st_size for name, path in (
        ("KenLM trie", "k.trie"), ("query file", "b.bq"), ("KenLM trie -q 8 -b 8",
                                                           "k.q8.trie"),
        ("query file --quantize 8", "b.q8.bq"))}
    return out, sizes


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, nargs="+", default=[1, 22],
                        help="megabytes of Zipf text per size")
    parser.add_argument("--repeats", type=int, nargs="+", default=[3, 1])
    parser.add_argument("--stdlib", type=int, default=0, metavar="REPEATS",
                        help="also the stdlib model's ARPA file, this many repeats")
    parser.add_argument("--json", help="write the results here too")
    args = parser.parse_args()
    kenlm = kenlm_bin()
    if kenlm is None:
        sys.exit("KenLM's programs not found (KENLM_BIN)")
    results = []
    cases = [("stdlib", args.stdlib)] if args.stdlib else []
    for mb, repeats in [*cases, *zip(args.mb, args.repeats)]:
        with tempfile.TemporaryDirectory(prefix="bench-convert-") as folder:
            folder = Path(folder)
            arpa = stdlib_arpa(folder, kenlm) if mb == "stdlib" else arpa_of(folder, mb, kenlm)
            times, sizes = measure(folder, arpa, kenlm, repeats)
            results.append({"mb": mb, "arpa_mb": arpa.stat().st_size / 1e6,
                            "repeats": repeats, "times": times, "sizes": sizes,
                            "load": os.getloadavg()})
        row = results[-1]
        text = "stdlib text" if mb == "stdlib" else f"{mb} MB of text"
        print(f"\n{text}, ARPA {row['arpa_mb']:.1f} MB, {repeats} repeats, load "
              f"{row['load'][0]:.2f} (wall s / CPU s / peak MB, medians)")
        for name, (wall, cpu, peak) in times.items():
            print(f"  {name:30s} {wall:8.2f} {cpu:8.2f} {peak:8.0f}")
        for ours, theirs in (("bigram convert", "build_binary trie"),
                             ("bigram convert --quantize 8", "build_binary -q 8 -b 8 trie")):
            print(f"  {ours} / {theirs}: wall {times[ours][0] / times[theirs][0]:.2f}x, "
                  f"CPU {times[ours][1] / times[theirs][1]:.2f}x")
        for name, size in sizes.items():
            print(f"  {name:30s} {size:,} bytes")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
