"""What reading a compressed corpus costs: `bigram train` on the same text plain and
compressed (gzip, zstd, and bzip2 and xz), whole processes, interleaved, medians.

Corpora (made here, seeded):
* about 50 MB of words (200,000 Zipf-distributed types, sentences of 5 to 40:
  bench_vocabularies.zipf_words), trained at order 3 with modified Kneser-Ney;
* 22.8 MB of real names whose lines repeat (100 shuffled copies of names.txt), trained
  as character bigrams (the fastest path: reading is most of its time).

The compressed files are made by the gzip, zstd, bzip2 and xz tools at their default
levels. Each row gives the median wall time, CPU time (user + system) and peak memory
of `repeats` runs, and the ratio of the median wall and CPU times to the plain file's.

Before them, reading alone: the CPU time of bigram's reader (text/compressed.py and a
plain file) over the words, beside the codec's own tool decompressing to /dev/null.

    python scripts/bench_compressed.py [--repeats 3] [--json out.json] [--reading-only]
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_vocabularies import shuffled_names, zipf_words

ROOT = Path(__file__).resolve().parent.parent
TOOLS = {".gz": ["gzip", "-k"], ".zst": ["zstd", "-q", "-k"], ".bz2": ["bzip2", "-k"],
         ".xz": ["xz", "-k", "-T1"]}


def measure(command):
    """Wall seconds, CPU seconds and peak MB of a command, from GNU time."""
    start = time.perf_counter()
    done = subprocess.run(["/usr/bin/time", "-f", "MEASURED %M %U %S", *command],
                          check=False, capture_output=True, text=True, env={**os.environ,
                                                               "PYTHONPATH": str(ROOT)})
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-500:])
    line = [x for x in done.stderr.splitlines() if x.startswith("MEASURED ")][-1]
    peak_kb, user, system = line.split()[1:]
    return wall, float(user) + float(system), int(peak_kb) // 1024


def compressed_copies(plain):
    """The plain file and its compressed copies that the tools on this machine can make."""
    files = {"plain": plain}
    for suffix, tool in TOOLS.items():
        if shutil.which(tool[0]):
            subprocess.run([*tool, str(plain)], check=True)
            files[suffix] = Path(f"{plain}{suffix}")
    return files


def bench(name, files, options, repeats, folder):
    runs = {kind: [] for kind in files}
    for _ in range(repeats):
        for kind, path in files.items():   # interleaved: load changes hit every kind alike
            runs[kind].append(measure([sys.executable, "-m", "bigram", "train", str(path),
                                       *options, "-o", str(Path(folder) / "m.npz")]))
    base_wall = statistics.median(r[0] for r in runs["plain"])
    base_cpu = statistics.median(r[1] for r in runs["plain"])
    rows = []
    for kind, measured in runs.items():
        wall = statistics.median(r[0] for r in measured)
        cpu = statistics.median(r[1] for r in measured)
        rows.append({"corpus": name, "input": kind, "file_mb": files[kind].stat().st_size / 1e6,
                     "wall_s": wall, "cpu_s": cpu, "peak_mb": max(r[2] for r in measured),
                     "wall_ratio": wall / base_wall, "cpu_ratio": cpu / base_cpu})
    return rows


def reading(files, repeats):
    """CPU seconds to read each file's text through bigram's reader alone (1 MiB reads),
    and the codec's own tool decompressing it to /dev/null, in a child process each."""
    probe = ("import sys, time\nfrom bigram.text.compressed import open_decompressed\n"
             "with open(sys.argv[1], 'rb') as raw:\n"
             "    stream = open_decompressed(raw, sys.argv[1])\n"
             "    start = time.process_time()\n"
             "    while stream.read(1 << 20):\n        pass\n"
             "print(time.process_time() - start)\n")
    tools = {".gz": ["gzip", "-dc"], ".zst": ["zstd", "-dcq"], ".bz2": ["bzip2", "-dc"],
             ".xz": ["xz", "-dc"]}
    rows = []
    for kind, path in files.items():
        ours, theirs = [], []
        for _ in range(repeats):
            done = subprocess.run([sys.executable, "-c", probe, str(path)], check=True,
                                  capture_output=True, text=True,
                                  env={**os.environ, "PYTHONPATH": str(ROOT)})
            ours.append(float(done.stdout))
            if kind in tools:
                with open(os.devnull, "wb") as sink:
                    theirs.append(measure_cpu([*tools[kind], str(path)], sink))
        text_mb = files["plain"].stat().st_size / 1e6
        rows.append({"input": kind, "bigram_cpu_s": statistics.median(ours),
                     "bigram_mb_per_s": text_mb / statistics.median(ours),
                     "tool_cpu_s": statistics.median(theirs) if theirs else None})
    return rows


def measure_cpu(command, sink):
    """CPU seconds (user + system) of a command, from wait4."""
    process = subprocess.Popen(command, stdout=sink)
    _, status, usage = os.wait4(process.pid, 0)
    if status:
        raise RuntimeError(f"{command} failed")
    return usage.ru_utime + usage.ru_stime


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json")
    parser.add_argument("--reading-only", action="store_true",
                        help="only the reading table (seconds instead of minutes)")
    args = parser.parse_args()
    rows, read_rows = [], []
    with tempfile.TemporaryDirectory() as folder:
        words = Path(folder) / "words.txt"
        zipf_words(words, target_bytes=50_000_000)
        word_files = compressed_copies(words)
        read_rows = reading(word_files, args.repeats)
        if not args.reading_only:
            names, spaced = Path(folder) / "names.txt", Path(folder) / "spaced.txt"
            shuffled_names(names, spaced)
            spaced.unlink()
            rows += bench("50 MB Zipf words, order 3 modified KN", word_files,
                          ["--unit", "word", "--order", "3", "--smoothing-method",
                           "modified-kneser-ney", "--test-size", "0"], args.repeats, folder)
            rows += bench("22.8 MB shuffled names, char bigrams", compressed_copies(names),
                          ["--test-size", "0"], args.repeats, folder)
    print("| 50 MB of words | bigram's reader, CPU s | MB of text / CPU s | the codec's tool "
          "(`-dc`), CPU s |")
    print("|---|---:|---:|---:|")
    for r in read_rows:
        tool = "" if r["tool_cpu_s"] is None else f"{r['tool_cpu_s']:.2f}"
        print(f"| {r['input']} | {r['bigram_cpu_s']:.2f} | {r['bigram_mb_per_s']:.0f} | "
              f"{tool} |")
    print()
    if not rows:
        return
    print("| corpus | input | file MB | wall s | CPU s | peak MB | wall / plain | CPU / plain |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['corpus']} | {r['input']} | {r['file_mb']:.1f} | {r['wall_s']:.2f} | "
              f"{r['cpu_s']:.2f} | {r['peak_mb']} | {r['wall_ratio']:.2f} | "
              f"{r['cpu_ratio']:.2f} |")
    if args.json:
        Path(args.json).write_text(json.dumps({"train": rows, "reading": read_rows},
                                              indent=1) + "\n")


if __name__ == "__main__":
    main()
