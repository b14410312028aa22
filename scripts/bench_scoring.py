"""Benchmark of `bigram score --file` beside KenLM's `query -v sentence`: per-line scores.

Whole processes, side by side in one run, each given the same text on stdin or as a file
and writing one line per input line to /dev/null; medians of interleaved repeats, wall
time and CPU time (user + system, from wait4: a busy machine inflates it less). Models:

* words: order-5 modified Kneser-Ney trained on 24.5 MB of seeded Zipf words (33,278
  types, sentences of 5 to 40 words, as large as WikiText-2's vocabulary), scoring
  another 24.5 MB (4.8 M words) drawn the same way;
* characters: order-5 modified Kneser-Ney trained on names.txt, scoring 22.8 MB of
  characters (100 shuffled copies of names.txt; KenLM reads them space-separated).

bigram reads its own model file (`bigram train ... -o m.npz`, which stores the query
tables scoring reads); KenLM reads lmplz's ARPA file and the binary file build_binary
makes of it. bigram scores with its default threads (one per core, at most four);
KenLM's query uses one: the CPU column (all threads together) shows what each costs.
Loading alone (an empty input) is measured for each, and bigram loading lmplz's ARPA
file too.

    python scripts/bench_scoring.py [--quick] [--json out.json]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_vocabularies import bigram_command, kenlm_bin, shuffled_names


def run_timed(command, stdin, expected_lines=None):
    """Wall and CPU seconds of a whole process reading `stdin`, its output to a pipe that is
    counted (so a run that stops early cannot look fast)."""
    with open(stdin, "rb") as source:
        start = time.perf_counter()
        process = subprocess.Popen(command, stdin=source, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE)
        lines = 0
        for chunk in iter(lambda: process.stdout.read(1 << 20), b""):
            lines += chunk.count(b"\n")
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - start
    error = process.stderr.read().decode(errors="replace")
    process.stdout.close()
    process.stderr.close()
    if status != 0:
        raise RuntimeError(f"{command[0]} failed: {error[-500:]}")
    if expected_lines is not None and lines < expected_lines:
        raise RuntimeError(f"{command[0]} wrote {lines} lines, not {expected_lines}")
    return wall, usage.ru_utime + usage.ru_stime


def zipf_sentences(path, target_bytes, seed, types=33_278, word_lengths=(2, 6),
                   batch=10_000):
    """Sentences of 5 to 40 words of Zipf-distributed frequencies over a fixed vocabulary of
    `types` words of `word_lengths` letters (seeded apart from the text, so texts of other
    seeds share it), drawn `batch` sentences at a time."""
    vocabulary_rng = np.random.default_rng(0)
    letters = np.frombuffer(b"abcdefghijklmnopqrstuvwxyz", np.uint8)
    lengths = vocabulary_rng.integers(word_lengths[0], word_lengths[1] + 1, types * 2)
    pool = letters[vocabulary_rng.integers(0, 26, int(lengths.sum()))].tobytes().decode()
    ends = np.cumsum(lengths)
    vocabulary = np.array(list(dict.fromkeys(pool[e - n:e] for e, n in
                                             zip(ends.tolist(), lengths.tolist())))[:types],
                          dtype=object)
    weights = 1.0 / np.arange(1, len(vocabulary) + 1)
    weights /= weights.sum()
    rng = np.random.default_rng(seed)
    with open(path, "w", encoding="utf-8") as out:
        written = 0
        while written < target_bytes:
            sizes = rng.integers(5, 41, batch)
            words = vocabulary[rng.choice(len(vocabulary), int(sizes.sum()), p=weights)]
            cuts = np.cumsum(sizes)[:-1]
            text = "\n".join(" ".join(sentence) for sentence in np.split(words, cuts)) + "\n"
            text = text[:max(text.rfind("\n", 0, target_bytes - written) + 1, 1)]
            out.write(text)
            written += len(text)


def measure(quick, folder):
    """Median wall and CPU time of each whole process, per corpus."""
    folder = Path(folder)
    kenlm = kenlm_bin()
    bigram = bigram_command()
    repeats = 1 if quick else 3
    empty = folder / "empty.txt"
    empty.write_bytes(b"")
    corpora = []

    train, words = folder / "train.txt", folder / "words.txt"
    size = 1_000_000 if quick else 24_500_000
    zipf_sentences(train, size, seed=1)
    zipf_sentences(words, size, seed=2)
    corpora.append(("words", train, train, words, words, ["--unit", "word"]))
    chars, spaced = folder / "chars.txt", folder / "chars.spaced.txt"
    shuffled_names(chars, spaced, copies=2 if quick else 100)
    names, names_spaced = folder / "names.txt", folder / "names.spaced.txt"
    shuffled_names(names, names_spaced, copies=1)
    corpora.append(("characters", names, names_spaced, chars, spaced, []))

    result = {"kenlm": str(kenlm) if kenlm else None, "quick": quick, "corpora": []}
    for name, training, kenlm_training, text, kenlm_text, unit in corpora:
        model = folder / f"{name}.npz"
        subprocess.run(bigram + ["train", str(training), *unit, "--order", "5",
                                 "--smoothing-method", "modified-kneser-ney", "--test-size",
                                 "0", "-o", str(model)], check=True, capture_output=True)
        lines = text.read_bytes().count(b"\n")
        runs = {"bigram": (bigram + ["score", "-m", str(model), "--file", "-"], text)}
        loads = {"bigram (model file)": bigram + ["score", "-m", str(model), "--file", "-"]}
        if kenlm is not None:
            arpa, binary = folder / f"{name}.arpa", folder / f"{name}.binary"
            with open(kenlm_training, "rb") as source, \
                    open(arpa, "wb") as out:
                subprocess.run([str(kenlm / "lmplz"), "-o", "5", "-S", "1G",
                                "--discount_fallback"], stdin=source, stdout=out, check=True,
                               capture_output=False, stderr=subprocess.DEVNULL)
            subprocess.run([str(kenlm / "build_binary"), str(arpa), str(binary)], check=True,
                           capture_output=True)
            for label, path in (("query (ARPA)", arpa), ("query (binary)", binary)):
                command = [str(kenlm / "query"), "-v", "sentence", str(path)]
                runs[label] = (command, kenlm_text)
                loads[label] = command
            loads["bigram (lmplz's ARPA)"] = bigram + ["score", "-m", str(arpa), "--file", "-"]
        times = {label: [] for label in runs}
        for _ in range(repeats):
            for label, (command, source) in runs.items():
                times[label].append(run_timed(command, source, lines))
        loading = {label: run_timed(command, empty) for label, command in loads.items()}
        result["corpora"].append({
            "corpus": name, "bytes": text.stat().st_size, "lines": lines,
            "tokens": len(text.read_bytes().split()) if unit else text.stat().st_size - lines,
            "runs": {label: {"wall_s": statistics.median(t[0] for t in ts),
                             "cpu_s": statistics.median(t[1] for t in ts)}
                     for label, ts in times.items()},
            "loading": {label: {"wall_s": w, "cpu_s": c} for label, (w, c) in loading.items()}})
    return result


def print_rows(result):
    if result["kenlm"] is None:
        print("KenLM not found (build it with ../shared/tools/build-kenlm.sh, or set "
              "KENLM_BIN): only bigram is measured")
    print("| scoring each line, order 5 | program | whole process | CPU | lines/s | "
          "loading alone |")
    print("|---|---|---|---|---|---|")
    for corpus in result["corpora"]:
        what = (f"{corpus['bytes'] / 1e6:.1f} MB of {corpus['corpus']}, "
                f"{corpus['lines']:,} lines")
        for label, run in corpus["runs"].items():
            load = corpus["loading"][label if label != "bigram" else "bigram (model file)"]
            print(f"| {what} | {label} | {run['wall_s']:.2f} s | {run['cpu_s']:.2f} s | "
                  f"{corpus['lines'] / run['wall_s']:,.0f} | {load['wall_s']:.2f} s |")
        if "bigram (lmplz's ARPA)" in corpus["loading"]:
            load = corpus["loading"]["bigram (lmplz's ARPA)"]
            print(f"| {what} | bigram -m lmplz's ARPA (loading only) | — | — | — | "
                  f"{load['wall_s']:.2f} s |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="1 MB texts, one repeat")
    parser.add_argument("--json", type=Path, help="write the results as JSON here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        result = measure(args.quick, folder)
    print_rows(result)
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
