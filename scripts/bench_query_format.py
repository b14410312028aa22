"""Benchmark of query files (`bigram convert`) beside KenLM's binary formats, whole processes.

Two models, each built by bigram (modified Kneser-Ney, order 5, words) and by lmplz:

* zipf: generated Zipf words (scripts/bench_scoring.zipf_sentences), --mb megabytes of
  text; file sizes of the query file (float32 and --quantize 8) beside lmplz's ARPA and
  build_binary's probing, trie and `trie -q 8 -b 8`; scoring 2 MB of other Zipf text
  line by line (`bigram score --file` vs `query -v sentence`), time and peak memory;
  start-up plus ten lines on the query file;
* stdlib: ~2 MB of real text (lines of the Python standard library's sources, which
  repeat a lot), scoring 24 MB (another 2 MB of them, twelve times) vs `query` on the
  probing binary.

Converting lmplz's ARPA file (`bigram convert`) is timed beside build_binary. Runs of one
kind are interleaved and repeated (--repeats); medians. Peak memory from GNU time.

    PYTHONPATH=$PWD python scripts/bench_query_format.py [--mb 40] [--json out.json]
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_scoring import zipf_sentences
from bench_vocabularies import kenlm_bin

ROOT = Path(__file__).resolve().parent.parent
BIGRAM = [sys.executable, "-m", "bigram"]
STDLIB = Path("/root/.pyenv/versions/3.11.7/lib/python3.11")


def stdlib_text(train, test, size=2_000_000):
    """Two disjoint texts of `size` bytes: non-blank lines of the standard library's .py
    files (sorted paths, site-packages left out), stripped."""
    parts, written, which = [[], []], 0, 0
    for path in sorted(STDLIB.rglob("*.py")):
        if "site-packages" in path.parts:
            continue
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (UnicodeDecodeError, OSError):
            continue
        text = "".join(s.strip() + "\n" for s in lines if s.strip())
        parts[which].append(text)
        written += len(text.encode())
        if written >= size:
            which, written = which + 1, 0
            if which == 2:
                break
    Path(train).write_text("".join(parts[0]), encoding="utf-8")
    Path(test).write_text("".join(parts[1]), encoding="utf-8")


def run_measured(command, stdin=None):
    """(wall seconds, CPU seconds, peak MB) of a whole process, its output to /dev/null; the
    peak from GNU time (a child of this process would start with its pages counted), the
    CPU time (user + system) from wait4: a busy machine inflates it less than wall time."""
    source = open(stdin, "rb") if stdin else subprocess.DEVNULL   # noqa: SIM115
    start = time.perf_counter()
    try:
        process = subprocess.Popen(["/usr/bin/time", "-f", "PEAK_KB %M"] + command,
                                   stdin=source, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE)
        error = process.stderr.read().decode(errors="replace")
        _, status, usage = os.wait4(process.pid, 0)
    finally:
        if stdin:
            source.close()
    wall = time.perf_counter() - start
    process.stderr.close()
    if status != 0:
        raise RuntimeError(f"{command} failed: {error[-500:]}")
    peak = [s for s in error.splitlines() if s.startswith("PEAK_KB ")]
    return wall, usage.ru_utime + usage.ru_stime, int(peak[-1].split()[1]) // 1024


def _medians(runs):
    return {"s": statistics.median(r[0] for r in runs),
            "cpu_s": statistics.median(r[1] for r in runs),
            "peak_mb": statistics.median(r[2] for r in runs)}


def measured(command, stdin=None, repeats=1):
    """Median wall seconds, CPU seconds and peak MB of `repeats` runs."""
    return _medians([run_measured(command, stdin) for _ in range(repeats)])


def interleaved(commands, repeats):
    """{label: medians} of commands {label: (command, stdin)}, run in turn."""
    runs = {label: [] for label in commands}
    for _ in range(repeats):
        for label, (command, stdin) in commands.items():
            runs[label].append(run_measured(command, stdin))
    return {label: _medians(rs) for label, rs in runs.items()}


def build(folder, name, text, kenlm, repeats, quantized=True):
    """bigram's model and query files, lmplz's ARPA and build_binary's files, timed."""
    out = {"sizes": {}, "build": {}}
    model, arpa = folder / f"{name}.npz", folder / f"{name}.arpa"
    out["build"]["bigram train"] = measured(
        BIGRAM + ["train", str(text), "--unit", "word", "--order", "5", "--smoothing-method",
                  "modified-kneser-ney", "--test-size", "0", "-o", str(model), "--force"])
    with open(text, "rb") as source, open(arpa, "wb") as sink:
        start = time.perf_counter()
        done = subprocess.run(["/usr/bin/time", "-f", "PEAK_KB %M", str(kenlm / "lmplz"), "-o",
                               "5", "-S", "1G", "--discount_fallback"], stdin=source,
                              stdout=sink, stderr=subprocess.PIPE, check=True)
        peak = [s for s in done.stderr.decode().splitlines() if s.startswith("PEAK_KB")]
        out["build"]["lmplz"] = {"s": time.perf_counter() - start,
                                 "peak_mb": int(peak[-1].split()[1]) // 1024}
    files = {"lmplz ARPA": arpa, "bigram model file (.npz)": model}
    converts = {
        "build_binary probing": ([str(kenlm / "build_binary"), "probing", str(arpa),
                                  str(folder / f"{name}.probing")], folder / f"{name}.probing"),
        "build_binary trie": ([str(kenlm / "build_binary"), "trie", str(arpa),
                               str(folder / f"{name}.trie")], folder / f"{name}.trie"),
        "bigram convert ARPA": (BIGRAM + ["convert", str(arpa), "-o", str(folder / f"{name}"
                                          ".arpa.bq"), "--force"], folder / f"{name}.arpa.bq"),
        "bigram convert model file": (BIGRAM + ["convert", str(model), "-o",
                                                str(folder / f"{name}.bq"), "--force"],
                                      folder / f"{name}.bq"),
    }
    if quantized:
        converts["build_binary trie -q 8 -b 8"] = (
            [str(kenlm / "build_binary"), "-q", "8", "-b", "8", "trie", str(arpa),
             str(folder / f"{name}.q8.trie")], folder / f"{name}.q8.trie")
        converts["bigram convert --quantize 8"] = (
            BIGRAM + ["convert", str(model), "-o", str(folder / f"{name}.q8.bq"),
                      "--quantize", "8", "--force"], folder / f"{name}.q8.bq")
    for label, (command, path) in converts.items():
        out["build"][label] = measured(command, repeats=repeats)
        files[label.replace("build_binary", "KenLM").replace("bigram convert", "query file")
              .replace("model file", "(from .npz)").replace("ARPA", "(from ARPA)")] = path
    out["sizes"] = {label: path.stat().st_size for label, path in files.items()}
    out["paths"] = {label: str(path) for label, path in files.items()}
    return out


def scoring(folder, name, text, kenlm, repeats, quantized=True):
    """Scoring `text` line by line with each format, interleaved."""
    commands = {
        "query trie": ([str(kenlm / "query"), "-v", "sentence", str(folder / f"{name}.trie")],
                       text),
        "query probing": ([str(kenlm / "query"), "-v", "sentence",
                           str(folder / f"{name}.probing")], text),
        "bigram query file": (BIGRAM + ["score", "--file", "-", "-m",
                                        str(folder / f"{name}.bq")], text),
        "bigram model file": (BIGRAM + ["score", "--file", "-", "-m",
                                        str(folder / f"{name}.npz")], text),
    }
    if quantized:
        commands["bigram query file -q 8"] = (BIGRAM + ["score", "--file", "-", "-m",
                                                        str(folder / f"{name}.q8.bq")], text)
    return interleaved(commands, repeats)


def perplexities(folder, name, heldout):
    """Held-out perplexity of the model file and its quantized query file (`bigram eval`)."""
    out = {}
    for label, path in (("model file", f"{name}.npz"), ("query file", f"{name}.bq"),
                        ("query file -q 8", f"{name}.q8.bq")):
        done = subprocess.run(BIGRAM + ["eval", str(heldout), "-m", str(folder / path),
                                        "--json"], capture_output=True, text=True, check=True)
        out[label] = next(iter(json.loads(done.stdout).values()))["perplexity"]
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=40, help="megabytes of Zipf text")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--folder", type=Path, help="keep the files here")
    args = parser.parse_args()
    kenlm = kenlm_bin()
    if kenlm is None:
        sys.exit("KenLM's programs are needed (KENLM_BIN or ~/.cache/kenlm/build/bin)")
    os.environ["PYTHONPATH"] = str(ROOT)
    folder = args.folder or Path(tempfile.mkdtemp(prefix="bench-query-"))
    folder.mkdir(exist_ok=True)
    result = {"mb": args.mb, "repeats": args.repeats}

    # Real text first (small), then Zipf.
    train, test = folder / "stdlib.train.txt", folder / "stdlib.test.txt"
    stdlib_text(train, test)
    big = folder / "stdlib.test24.txt"
    big.write_bytes(test.read_bytes() * 12)
    result["stdlib"] = build(folder, "stdlib", train, kenlm, args.repeats)
    result["stdlib"]["perplexity"] = perplexities(folder, "stdlib", test)
    result["stdlib"]["score 24 MB"] = scoring(folder, "stdlib", big, kenlm, args.repeats)
    print(json.dumps(result["stdlib"], indent=1), flush=True)

    text, other = folder / "zipf.txt", folder / "zipf.score.txt"
    zipf_sentences(text, int(args.mb * 1e6), seed=1)
    zipf_sentences(other, 2_000_000, seed=2)
    ten = folder / "ten.txt"
    ten.write_text("".join(other.read_text().splitlines(keepends=True)[:10]))
    result["zipf"] = build(folder, "zipf", text, kenlm, 1)
    result["zipf"]["perplexity"] = perplexities(folder, "zipf", other)
    result["zipf"]["score 2 MB"] = scoring(folder, "zipf", other, kenlm, args.repeats)
    result["zipf"]["start-up and ten lines"] = interleaved({
        "bigram query file": (BIGRAM + ["score", "--file", "-", "-m",
                                        str(folder / "zipf.bq")], ten),
        "query trie": ([str(kenlm / "query"), "-v", "sentence", str(folder / "zipf.trie")],
                       ten)}, 5)
    print(json.dumps(result["zipf"], indent=1), flush=True)
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
