"""Training within a memory budget: `bigram train --memory 1G` against `lmplz -S 1G`.

Order-5 modified Kneser-Ney on words, whole processes side by side (bigram, then lmplz,
on each corpus), each measured for wall time, peak resident memory (the child's
ru_maxrss) and the most temporary disk in use (the temporary folder polled every 0.2 s).

Corpora (made here, seeded, in --folder):
* zipf-<size>: sentences of 5 to 40 words drawn from 200,000 Zipf-weighted word types
  (seed 7): almost every 5-gram is new;
* real-<size>: real English sentences whose n-grams repeat: the sentences of the
  documentation strings and comments of the Python standard library (the one this
  script runs on) and of this repository's Markdown, shuffled copies (seed 11) up to
  the size.

    python scripts/bench_budget.py --folder /tmp/budget zipf-320M real-100M
    python scripts/bench_budget.py --folder /tmp/budget zipf-160M zipf-320M zipf-1280M

Prints one Markdown row per tool and corpus.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_scoring import zipf_sentences  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
LMPLZ = Path("/root/.cache/kenlm/build/bin/lmplz")


def zipf_corpus(path, target_bytes, seed=7):
    """Sentences of 5 to 40 words over 200,000 Zipf-weighted word types of 2 to 8 letters
    (bench_scoring.zipf_sentences, with a larger vocabulary than scoring's)."""
    zipf_sentences(path, target_bytes, seed, types=200_000, word_lengths=(2, 8), batch=20_000)


def real_sentences():
    """Sentences of real English: the standard library's docstrings and comments, and this
    repository's Markdown, one sentence per line, 4 to 60 words."""
    texts = []
    library = Path(sysconfig.get_paths()["stdlib"])
    for path in sorted(library.rglob("*.py")):
        if "test" in path.parts or "site-packages" in path.parts:
            continue
        try:
            source = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        texts.extend(re.findall(r"\"\"\"(.*?)\"\"\"", source, re.DOTALL))
        texts.extend(line.strip()[1:] for line in source.splitlines()
                     if line.strip().startswith("#"))
    for path in sorted(ROOT.rglob("*.md")):
        texts.append(path.read_text(encoding="utf-8"))
    sentences = []
    for text in texts:
        for sentence in re.split(r"(?<=[.!?])\s+", " ".join(text.split())):
            words = sentence.split()
            if 4 <= len(words) <= 60 and all(w not in ("<s>", "</s>", "<unk>") for w in words):
                sentences.append(" ".join(words))
    return sentences


def real_corpus(path, target_bytes, seed=11):
    """Shuffled copies of the real sentences up to `target_bytes`."""
    sentences = np.array(real_sentences(), dtype=object)
    rng = np.random.default_rng(seed)
    with open(path, "w", encoding="utf-8") as out:
        written = 0
        while written < target_bytes:
            text = "\n".join(sentences[rng.permutation(len(sentences))]) + "\n"
            text = text[:max(text.rfind("\n", 0, target_bytes - written) + 1, 1)]
            out.write(text)
            written += len(text)
    return len(sentences)


def parse_size(text):
    """'320M' -> 320,000,000 bytes (corpus sizes are decimal)."""
    number, unit = re.fullmatch(r"(\d+)([MG])", text).groups()
    return int(number) * (10**6 if unit == "M" else 10**9)


def corpus(folder, name):
    """The corpus file of `name` (kind-size), made if missing."""
    path = folder / f"{name}.txt"
    if not path.exists():
        kind, size = name.split("-")
        (zipf_corpus if kind == "zipf" else real_corpus)(path, parse_size(size))
    return path


def descendants(pid):
    """The process ids below `pid`."""
    found, todo = [], [pid]
    while todo:
        try:
            children = Path(f"/proc/{todo.pop()}/task").glob("*/children")
            for child in children:
                ids = [int(c) for c in child.read_text().split()]
                found.extend(ids)
                todo.extend(ids)
        except OSError:
            continue
    return found


def disk_used(folder, pid):
    """Bytes of the files under `folder` now, and of files there that the processes
    under `pid` hold open after deleting them (lmplz unlinks its temporary files)."""
    total = 0
    for root, _, files in os.walk(folder):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                pass
    for child in descendants(pid):
        for fd in Path(f"/proc/{child}/fd").glob("*"):
            try:
                target = os.readlink(fd)
                if target.startswith(str(folder)) and target.endswith(" (deleted)"):
                    total += os.stat(fd).st_size
            except OSError:
                pass
    return total


def timed(command):
    """The command under /usr/bin/time, for its own CPU time and peak RSS."""
    return ["/usr/bin/time", "-f", "%U %S %M", *command]


def measure(command, temp):
    """(wall s, CPU s, peak RSS bytes, peak temp disk bytes) of one whole process."""
    shutil.rmtree(temp, ignore_errors=True)
    temp.mkdir(parents=True)
    peak = [0]
    done = threading.Event()

    def poll(pid):
        while not done.wait(0.2):
            peak[0] = max(peak[0], disk_used(temp, pid))

    start = time.perf_counter()
    process = subprocess.Popen(timed(command), stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(ROOT)})
    watcher = threading.Thread(target=poll, args=(process.pid,))
    watcher.start()
    _, err = process.communicate()
    wall = time.perf_counter() - start
    done.set()
    watcher.join()
    shutil.rmtree(temp, ignore_errors=True)
    err = err.decode()
    if process.returncode:
        raise RuntimeError(f"{command[0]} failed: {err[-800:]}")
    user, system, rss_kb = err.strip().splitlines()[-1].split()
    return wall, float(user) + float(system), int(rss_kb) * 1024, peak[0]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("corpora", nargs="+", help="kind-size: zipf-320M, real-100M, ...")
    parser.add_argument("--folder", default="/tmp/bench-budget", type=Path)
    parser.add_argument("--memory", default="1G")
    parser.add_argument("--tools", default="bigram,lmplz", help="which to run, in order")
    parser.add_argument("--rounds", type=int, default=1,
                        help="interleaved rounds of the tools per corpus; more than one adds "
                        "a row of medians per tool")
    parser.add_argument("--lmplz-arpa", help="where lmplz writes its ARPA file (default: "
                        "the folder); /dev/null when the disk cannot hold it beside lmplz's "
                        "temporary files (lmplz then skips writing it: a gain for lmplz)")
    args = parser.parse_args()
    folder = args.folder
    folder.mkdir(parents=True, exist_ok=True)
    print("| corpus | tool | time | CPU (user + sys) | peak RSS | temp disk (peak) | output |")
    print("|---|---|---|---|---|---|---|")
    for name in args.corpora:
        path = corpus(folder, name)
        size = path.stat().st_size
        temp = folder / "temp"
        ours = [sys.executable, "-m", "bigram", "train", str(path), "--unit", "word",
                "--order", "5", "--smoothing-method", "modified-kneser-ney", "--test-size",
                "0", "--memory", args.memory, "--temp-dir", str(temp), "--force",
                "-o", str(folder / "model.npz")]
        theirs = [str(LMPLZ), "-o", "5", "-S", args.memory, "-T", str(temp),
                  "--discount_fallback", "--text",
                  str(path), "--arpa", args.lmplz_arpa or str(folder / "model.arpa")]
        runs = {"bigram": ("bigram --memory " + args.memory, ours),
                "lmplz": (f"lmplz -S {args.memory}", theirs)}
        seen = {}
        for _ in range(args.rounds):
            for tool, command in (runs[t] for t in args.tools.split(",")):
                wall, cpu, rss, disk = measure(command, temp)
                output = folder / "model.npz" if tool.startswith("bigram") else \
                    Path(args.lmplz_arpa or folder / "model.arpa")
                written = output.stat().st_size if output.is_file() else 0
                seen.setdefault(tool, []).append((wall, cpu, rss, disk, written))
                print(f"| {name} ({size / 1e6:.0f} MB) | {tool} | {wall:.1f} s | {cpu:.1f} s | "
                      f"{rss / 1e9:.2f} GB | {disk / 1e6:.0f} MB | {written / 1e6:.0f} MB |",
                      flush=True)
                if output.is_file():
                    output.unlink()   # large corpora: the disk holds one tool's output at a time
        if args.rounds > 1:
            for tool, rows in seen.items():
                wall, cpu, rss, disk, written = (float(np.median(c)) for c in zip(*rows))
                print(f"| {name}, median of {len(rows)} | {tool} | {wall:.1f} s | "
                      f"{cpu:.1f} s | {rss / 1e9:.2f} GB | {disk / 1e6:.0f} MB | "
                      f"{written / 1e6:.0f} MB |", flush=True)


if __name__ == "__main__":
    main()
