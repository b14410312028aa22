"""Benchmarks: bigram against what people would otherwise run, side by side in one process.

    python scripts/bench.py                 # every workload, with the peers that are installed
    python scripts/bench.py --json out.json # also write the table as JSON
    python scripts/bench.py --scale         # time and memory of `bigram train` from 1 MB to 1 GB
    python scripts/bench.py --quick         # a fast smoke run (what CI does)

Peers, used when importable: PyTorch (the makemore lecture's loops) and NLTK's
`nltk.lm`. Workloads run interleaved (ours, then each peer, per repeat) and the
table shows medians and the ratio peer time / our time (for sampling, our rate
/ peer rate). These are measurements for a README, never pass/fail tests.
"""

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import lecture  # noqa: E402
from lecture import stoi_of, words  # noqa: E402

from bigram.models.evaluation import evaluate_text_sources  # noqa: E402
from bigram.models.language_models import CountModel, NeuralModel  # noqa: E402
from bigram.models.sampling import chain_for, sample  # noqa: E402
from bigram.ngrams.training_data import load_training_data  # noqa: E402
from bigram.settings import Reading, TrainingSettings
from bigram.tensor.random import Generator  # noqa: E402

NAMES = ROOT / "data" / "names.txt"


def optional(module):
    try:
        return __import__(module)
    except ImportError:
        return None


torch = optional("torch")
nltk = optional("nltk")


def machine():
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        cpu = platform.processor() or cpu
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "numpy": np.__version__, "torch": getattr(torch, "__version__", None),
            "nltk": getattr(nltk, "__version__", None), "platform": platform.platform()}


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


# ---------------------------------------------------------------------- workloads


def ours_count():
    data = load_training_data([str(NAMES)], Reading(test_size=0))
    return data.counts["train"]


def torch_count_loop():
    """The lecture: a Python loop with N[ix1, ix2] += 1 on a torch tensor."""
    ws = words()
    stoi = stoi_of(ws)
    N = torch.zeros((27, 27), dtype=torch.int32)
    for w in ws:
        chs = ["."] + list(w) + ["."]
        for ch1, ch2 in zip(chs, chs[1:]):
            N[stoi[ch1], stoi[ch2]] += 1
    return N.numpy()


def nltk_fit():
    from nltk.lm import Laplace
    from nltk.lm.preprocessing import padded_everygram_pipeline

    train, vocab = padded_everygram_pipeline(2, [list(w) for w in words()])
    model = Laplace(2)
    model.fit(train, vocab)
    return model


def ours_eval(model):
    return evaluate_text_sources(model, str(NAMES)).nll


def torch_eval_loop(P):
    """The lecture: sum log P over every bigram in a Python loop."""
    ws = words()
    stoi = stoi_of(ws)
    log_likelihood, n = 0.0, 0
    for w in ws:
        chs = ["."] + list(w) + ["."]
        for ch1, ch2 in zip(chs, chs[1:]):
            log_likelihood += torch.log(P[stoi[ch1], stoi[ch2]])
            n += 1
    return (-log_likelihood / n).item()


def nltk_eval(model):
    from nltk.lm.preprocessing import pad_both_ends
    from nltk.util import bigrams

    test = [bg for w in words() for bg in bigrams(pad_both_ends(list(w), n=2))]
    return model.entropy(test) * np.log(2)  # nltk reports bits per bigram


def ours_train(counts, vocabulary, steps):
    return NeuralModel.fit(vocabulary, counts, steps=steps, lr=50, reg=0.01,
                           seed=2147483647).losses[-1]


def torch_train_loop(steps):
    """The lecture's neural bigram: one_hot @ W, softmax, mean NLL, backward, W.data += -50*grad."""
    return lecture.training_losses(torch, steps=steps)[-1]


def ours_sample(model, n):
    chain = chain_for(model, draws=16 * n)
    result = sample(chain, n, Generator().manual_seed(2147483647), model.start_state())
    return len(result.offsets) - 1


def torch_sample_loop(P, n):
    """The lecture's sampler: one torch.multinomial call per character."""
    g = torch.Generator().manual_seed(2147483647)
    Pt = torch.tensor(P)
    for _ in range(n):
        ix = 0
        while True:
            ix = torch.multinomial(Pt[ix], num_samples=1, replacement=True, generator=g).item()
            if ix == 0:
                break
    return n


def startup(args, repeats):
    exe = shutil.which("bigram")
    command = [exe] if exe else [sys.executable, "-m", "bigram"]
    times = []
    with tempfile.TemporaryDirectory() as folder:
        subprocess.run(command + ["train", "--test-size", "0", "-o", "m.npz"], cwd=folder,
                       check=True, capture_output=True)
        for _ in range(repeats):
            full = command + [a.replace("MODEL", "m.npz") for a in args]
            t, _ = timed(lambda: subprocess.run(full, cwd=folder, check=True,
                                                capture_output=True))
            times.append(t)
    return statistics.median(times)


# ---------------------------------------------------------------------- the run


def run(quick):
    repeats = 1 if quick else 5
    data = load_training_data([str(NAMES)], Reading(test_size=0))
    counts, vocabulary = data.counts["train"], data.vocabulary
    model = CountModel.fit(vocabulary, counts, 1.0)
    # The lecture's 27 x 27 matrix, row i = P(next | previous token i), for the peers' loops.
    P32 = model.next_token_probabilities(model.advance(np.zeros(model.size, np.int64),
                                                       np.arange(model.size)))
    steps = 10 if quick else 100
    n_names = 2000 if quick else 100_000
    n_peer_names = 500 if quick else 2000
    have_torch, have_nltk = torch is not None and not quick, nltk is not None and not quick

    workloads = {
        "count names.txt": {"ours": ours_count},
        "evaluate NLL on names.txt": {"ours": lambda: ours_eval(model)},
        f"train neural, {steps} steps": {"ours": lambda: ours_train(counts, vocabulary, steps)},
        f"sample {n_names:,} names": {"ours": lambda: ours_sample(model, n_names)},
    }
    if have_torch:
        P_torch = torch.tensor(P32)
        workloads["count names.txt"]["torch loop"] = torch_count_loop
        workloads["evaluate NLL on names.txt"]["torch loop"] = lambda: torch_eval_loop(P_torch)
        workloads[f"train neural, {steps} steps"]["torch loop"] = lambda: torch_train_loop(steps)
        workloads[f"sample {n_names:,} names"]["torch loop"] = \
            lambda: torch_sample_loop(P32, n_peer_names)
    if have_nltk:
        workloads["count names.txt"]["nltk.lm"] = nltk_fit
        fitted = nltk_fit()
        workloads["evaluate NLL on names.txt"]["nltk.lm"] = lambda: nltk_eval(fitted)

    times = {w: {k: [] for k in impls} for w, impls in workloads.items()}
    values = {w: {} for w in workloads}
    for _ in range(repeats):
        for name, impls in workloads.items():
            for impl, fn in impls.items():
                t, value = timed(fn)
                times[name][impl].append(t)
                values[name][impl] = value
    rows = []
    for name, impls in times.items():
        median = {impl: statistics.median(ts) for impl, ts in impls.items()}
        row = {"workload": name, "median_s": median, "ratio": {}}
        for impl, t in median.items():
            if impl == "ours":
                continue
            if name.startswith("sample"):
                ours_rate = n_names / median["ours"]
                peer_rate = n_peer_names / t
                row["ratio"][impl] = ours_rate / peer_rate
            else:
                row["ratio"][impl] = t / median["ours"]
        if name.startswith("sample"):
            row["names_per_second"] = n_names / median["ours"]
        if name.startswith("train"):
            row["final_loss"] = {k: float(v) for k, v in values[name].items()}
        if name.startswith("evaluate"):
            row["nll"] = {k: float(v) for k, v in values[name].items()}
        rows.append(row)
    start = {"bigram sample -n 10": startup(["sample", "-m", "MODEL", "-n", "10", "--seed", "1"],
                                            3 if quick else 15),
             "bigram --help": startup(["--help"], 3 if quick else 15)}
    return {"machine": machine(), "quick": quick, "workloads": rows, "startup_s": start,
            "orders": orders(quick), "sample_output": sample_output(quick)}


# ---------------------------------------------------------------------- sampling to a file


def sample_output(quick):
    """`bigram sample -n N > file`, the whole process: drawing, writing and start-up.

    Median wall time of the runs and items per second, and the median CPU time (user +
    system) of the process, which a machine busy with other work inflates less. The file's
    line count is checked so a run that stopped early cannot look fast.
    """
    import resource

    exe = shutil.which("bigram")
    command = [exe] if exe else [sys.executable, "-m", "bigram"]
    n = 100_000 if quick else 1_000_000
    times, cpu = [], []
    with tempfile.TemporaryDirectory() as folder:
        subprocess.run(command + ["train", "--test-size", "0", "-o", "m.npz"], cwd=folder,
                       check=True, capture_output=True)
        out = Path(folder) / "samples.txt"
        for _ in range(3 if quick else 7):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            with open(out, "wb") as stream:
                t, _ = timed(lambda: subprocess.run(
                    command + ["sample", "-m", "m.npz", "-n", str(n), "--seed", "1"],
                    cwd=folder, check=True, stdout=stream))
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            times.append(t)
            cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
            lines = out.read_bytes().count(b"\n")
            if lines != n:
                raise RuntimeError(f"bigram sample wrote {lines} lines, not {n}")
    median = statistics.median(times)
    return {"items": n, "median_s": median, "items_per_second": n / median,
            "median_cpu_s": statistics.median(cpu)}


# ---------------------------------------------------------------------- higher orders


def orders(quick):
    """Train (Kneser-Ney), evaluate on dev and sample 10,000 names at each order."""
    from bigram.models.sampling import sample_names
    from bigram.training.train import train_model

    rows = []
    for order in ((2, 3) if quick else (2, 3, 4, 5, 6)):
        t_train, result = timed(lambda: train_model([str(NAMES)], TrainingSettings.of(method="kneser-ney", order=order, split="80/10/10")))
        model = result.saved.model
        t_eval, total = timed(lambda: model.log_likelihood(result.data.counts["dev"]))
        t_sample, _ = timed(lambda: sample_names(model, 10_000, Generator().manual_seed(1)))
        rows.append({"order": order, "train_s": t_train, "eval_dev_s": t_eval,
                     "sample_10k_s": t_sample,
                     "dev_nll": -total[0] / total[1]})
    return rows


# ---------------------------------------------------------------------- scale


def make_corpus(path, size, accented):
    """About `size` bytes of whole lines of names.txt (vowels accented for non-ASCII)."""
    text = NAMES.read_bytes() + b"\n"
    if accented:
        text = text.decode().translate(str.maketrans("aeiou", "áéíóú")).encode()
    with open(path, "wb") as f:
        written = 0
        while written < size:
            chunk = text[: size - written]
            chunk = chunk[: chunk.rfind(b"\n") + 1] or text[: text.find(b"\n") + 1]
            f.write(chunk)
            written += len(chunk)


def measure_train(path, folder):
    probe = ("import sys\nfrom bigram.cli.app import main\n"
             "try:\n    main(sys.argv[1:])\nfinally:\n"
             "    peak = [l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')]\n"
             "    sys.stderr.write(f'PEAK {peak[0]}\\n')\n")
    command = [sys.executable, "-c", probe, "train", str(path), "--test-size", "0", "-o",
               str(Path(folder) / "m.npz")]
    t, done = timed(lambda: subprocess.run(command, capture_output=True, text=True))
    if done.returncode != 0:
        raise RuntimeError(done.stderr)
    peak = int(done.stderr.split("PEAK ")[1].split()[0]) // 1024
    return t, peak


def scale(quick):
    sizes = [1 << 20, 10 << 20] if quick else [1 << 20, 10 << 20, 100 << 20, 1 << 30]
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for accented in (False, True):
            for size in sizes:
                if accented and size > (100 << 20):
                    continue
                path = Path(folder) / f"corpus-{size}-{int(accented)}.txt"
                make_corpus(path, size, accented)
                t, peak = measure_train(path, folder)
                rows.append({"bytes": size, "text": "non-ASCII" if accented else "ASCII",
                             "seconds": t, "mb_per_s": size / t / 1e6, "peak_mb": peak})
                path.unlink()
    return rows


# ---------------------------------------------------------------------- makemore part 2


def bench_makemore_mlp(quick):
    """makemore part 2's training loop (block 3, C 27x10, W1 30x200, W2 200x27,
    minibatches of 32, lr 0.1) on bigram.tensor and on PyTorch, each on one thread: the
    same seed and number of steps for both, rounds interleaved, median time per step.
    Prints its own table row and returns the numbers for the JSON."""
    import bigram.tensor as engine

    steps, rounds = (50, 1) if quick else (1000, 5)
    engines = {"bigram.tensor": (engine, engine.functional)}
    if torch is not None and not quick:
        engines["PyTorch"] = (torch, torch.nn.functional)
    # One thread each: PyTorch's own, and numpy's BLAS under bigram.tensor.
    threads = {m: m.get_num_threads() for m in (engine, torch) if m is not None}
    for module in threads:
        module.set_num_threads(1)
    try:
        ws = words()
        state = {}
        for name, (module, F) in engines.items():
            X, Y = lecture.mlp_dataset(module, ws)
            parameters, g = lecture.mlp_parameters(module)
            lecture.mlp_training_steps(module, F, parameters, g, X, Y, 10)  # warm-up
            state[name] = (module, F, parameters, g, X, Y)
        per_step = {name: [] for name in engines}
        losses = {}
        for _ in range(rounds):
            for name, (module, F, parameters, g, X, Y) in state.items():
                t, losses[name] = timed(lambda: lecture.mlp_training_steps(
                    module, F, parameters, g, X, Y, steps))
                per_step[name].append(t / steps)
    finally:
        for module, n in threads.items():
            module.set_num_threads(n)
    result = {"steps_per_round": steps, "rounds": rounds,
              "per_step_s": {k: statistics.median(v) for k, v in per_step.items()},
              "all_per_step_s": per_step, "final_loss": losses}
    times = ", ".join(f"{k} {v * 1e6:.0f} us" for k, v in result["per_step_s"].items())
    print(f"makemore part 2 MLP training step ({steps} steps x {rounds} rounds, median): "
          f"{times}; last loss " + ", ".join(f"{k} {v:.4f}" for k, v in losses.items()))
    return result


# ---------------------------------------------------------------------- printing


def fmt_time(t):
    return f"{t * 1000:.1f} ms" if t < 1 else f"{t:.2f} s"


def print_table(result):
    m = result["machine"]
    print(f"machine: {m['cpu']}, {m['cores']} cores, Python {m['python']}, numpy {m['numpy']}"
          f", torch {m['torch']}, nltk {m['nltk']}")
    print()
    print("| workload | bigram | PyTorch (lecture loop) | NLTK nltk.lm | ratio peer/ours |")
    print("|---|---|---|---|---|")
    for row in result["workloads"]:
        med = row["median_s"]
        ratios = ", ".join(f"{k}: {v:,.0f}x" for k, v in row["ratio"].items()) or "—"
        extra = ""
        if "names_per_second" in row:
            extra = f" ({row['names_per_second']:,.0f} names/s)"
        print(f"| {row['workload']} | {fmt_time(med['ours'])}{extra} | "
              f"{fmt_time(med['torch loop']) if 'torch loop' in med else '—'} | "
              f"{fmt_time(med['nltk.lm']) if 'nltk.lm' in med else '—'} | {ratios} |")
    for row in result["workloads"]:
        for key in ("final_loss", "nll"):
            if key in row:
                print(f"{row['workload']}: {key} " + ", ".join(f"{k} {v:.6f}"
                                                             for k, v in row[key].items()))
    for name, t in result["startup_s"].items():
        print(f"start-up, `{name}`: {t:.3f} s (median wall time of a whole process)")
    if result.get("sample_output"):
        row = result["sample_output"]
        print(f"`bigram sample -n {row['items']:,} > file`, whole process: "
              f"{fmt_time(row['median_s'])} ({row['items_per_second']:,.0f} items/s), "
              f"CPU time {fmt_time(row['median_cpu_s'])}")
    print()
    print("| order | train (read, split, count, smooth) | evaluate dev | sample 10,000 names |"
          " dev NLL |")
    print("|---|---|---|---|---|")
    for row in result["orders"]:
        print(f"| {row['order']} | {fmt_time(row['train_s'])} | {fmt_time(row['eval_dev_s'])} | "
              f"{fmt_time(row['sample_10k_s'])} | {row['dev_nll']:.4f} |")
    if result.get("scale"):
        print()
        print("| input | text | time | throughput | peak memory |")
        print("|---|---|---|---|---|")
        for row in result["scale"]:
            size = row["bytes"]
            label = f"{size >> 30} GB" if size >= 1 << 30 else f"{size >> 20} MB"
            print(f"| {label} | {row['text']} | {row['seconds']:.2f} s | "
                  f"{row['mb_per_s']:.0f} MB/s | {row['peak_mb']} MB |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, one repeat, no peers")
    parser.add_argument("--scale", action="store_true", help="also measure 1 MB to 1 GB inputs")
    parser.add_argument("--dask", action="store_true", help="also count a word corpus (1 GB; "
                        "8 MB with --quick) on a LocalCluster of 2 workers against one process")
    parser.add_argument("--json", type=Path, help="write the results as JSON here")
    args = parser.parse_args()
    result = run(args.quick)
    if args.scale:
        result["scale"] = scale(args.quick)
    print_table(result)
    result["makemore_mlp"] = bench_makemore_mlp(args.quick)
    if not args.quick:   # whole processes on corpora of tens of megabytes, beside lmplz
        import bench_vocabularies

        with tempfile.TemporaryDirectory() as folder:
            result["vocabularies"] = bench_vocabularies.measure(False, folder)
        bench_vocabularies.print_rows(result["vocabularies"])
    if not args.quick:   # each line of tens of megabytes scored, beside KenLM's query
        import bench_scoring

        with tempfile.TemporaryDirectory() as folder:
            result["scoring"] = bench_scoring.measure(False, folder)
        bench_scoring.print_rows(result["scoring"])
    if args.dask:   # needs pip install 'bigram[dask]'
        import bench_dask

        with tempfile.TemporaryDirectory(dir="/tmp") as folder:
            result["dask"] = bench_dask.measure(args.quick, folder)
        bench_dask.print_rows(result["dask"])
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
