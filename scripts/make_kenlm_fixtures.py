"""Generate the KenLM reference files the modified Kneser-Ney and ARPA tests compare against.

Runs KenLM's `lmplz` (interpolated modified Kneser-Ney) and `query` on small seeded
corpora and writes everything into tests/fixtures/kenlm/, which is committed, so the
tests never need KenLM. Build the programs first with ../shared/tools/build-kenlm.sh.

    python scripts/make_kenlm_fixtures.py [--kenlm-bin DIR]
    python scripts/make_kenlm_fixtures.py --python-module   # only python_module.json

The second form records what the `kenlm` Python module (`pip install kenlm`) answers on
the ARPA files already written: see `python_module_record`.

DIR defaults to $KENLM_BIN, then to build-kenlm.sh's default ~/.cache/kenlm/build/bin.
Re-running rewrites the same bytes: the corpora are seeded and the gzip headers carry
no time stamp.

What is written:
- `<corpus>.train.txt`, `<corpus>.heldout.txt`: one sentence a line, tokens separated by
  one space (lmplz's own splitting: space, tab, CR, NUL). Corpora: `chars` (names from
  data/names.txt, one character a token, a space inside an item written `<space>`),
  `words` (seeded Zipf-like words with some word-to-word structure) and `fallback` (a
  tiny corpus of repeated lines whose counts-of-counts force `--discount_fallback`), and
  `edge` (blank lines, and a discount of exactly 0 that gives a back-off of -inf), and
  `symbols` (the words corpus with `<unk>`, `<s>`, `</s>` in its text, read by lmplz with
  `--skip_symbols`).
  The held-out files contain out-of-vocabulary tokens and one blank line.
- `<corpus>.o<N>[.prune-<t1>-...].arpa.gz`: `lmplz -o N --discount_fallback [--prune ...]`.
- `manifest.json`: see `model_record` for the schema of each model's entry.
- `python_module.json`: the kenlm module's score/full_scores/perplexity/BaseScore values
  on those files (see `python_module_record`).
"""

import argparse
import gzip
import io
import json
import os
import random
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "kenlm"
SEED = 3407
ORDERS = range(2, 7)
# Corpora lmplz reads with --skip_symbols (their text holds <unk>, <s>, </s>).
SKIP_SYMBOLS = {"symbols"}
# Pruned variants: (corpus, order, thresholds as given to --prune).
PRUNED = [
    ("chars", 3, (0, 1, 1)),
    ("chars", 5, (0, 0, 1)),        # lmplz repeats the last threshold for order 5
    ("chars", 6, (0, 1, 2, 3)),
    ("words", 2, (1, 1)),           # unigram pruning
    ("words", 3, (0, 1)),
    ("words", 4, (0, 0, 1, 2)),
    ("fallback", 3, (0, 1, 1)),
]


# ----------------------------------------------------------------------------
# Corpora

def char_tokens(item):
    """One token per character; a space becomes `<space>` (lmplz splits on spaces)."""
    return " ".join("<space>" if c == " " else c for c in item)


def chars_corpus(rng):
    """Names, some joined into two-word items and some with accented letters."""
    names = (ROOT / "data" / "names.txt").read_text(encoding="utf-8").split()
    picked = rng.sample(names, 340)
    items = []
    for name in picked:
        if rng.random() < 0.1:
            name = f"{name} {rng.choice(names)}"
        items.append(name)
    items[5], items[77], items[150] = "zoë", "josé ann", "renée"
    train, heldout = items[:300], items[300:]
    # Out-of-vocabulary characters (digits, ß, a hyphen) and a blank line.
    heldout += ["ma4ry", "straße", "jean-luc", ""]
    return [char_tokens(i) for i in train], [char_tokens(i) for i in heldout]


def syllable_word(rng):
    return "".join(rng.choice("ptkbdgmnslr") + rng.choice("aeiou")
                   for _ in range(rng.randint(1, 3)))


def words_corpus(rng):
    """Zipf-distributed words where each word also prefers a few successors."""
    vocabulary = sorted({syllable_word(rng) for _ in range(400)})
    rng.shuffle(vocabulary)
    weights = [1.0 / (rank + 1) ** 1.1 for rank in range(len(vocabulary))]
    successors = {w: rng.sample(vocabulary[:60], 4) for w in vocabulary}

    def sentence():
        words = [rng.choices(vocabulary, weights)[0]]
        while len(words) < 14 and rng.random() < 0.8:
            if rng.random() < 0.5:
                words.append(rng.choice(successors[words[-1]]))
            else:
                words.append(rng.choices(vocabulary, weights)[0])
        return " ".join(words)

    train = [sentence() for _ in range(400)]
    heldout = [sentence() for _ in range(30)]
    heldout += ["zzyzx " + heldout[0], heldout[1] + " qwerty", ""]
    return train, heldout


def edge_corpus(rng):
    """Blank lines (lmplz's `<s> </s>`) and, at order 2, D3+ = 0 exactly: every extension of
    `a` has an adjusted count of 3 or more, so its back-off is log10 0 = -inf."""
    text = ("\na a a\na a a b c b a\na\na d a\n\na a b a a\na a\nc b\n\nb a b b a\n\nc\nd a\n"
            "\na b a b b a b\na b d d c b a\na c b c a d a\na b c d b c a\n\na a a a\nb a\n"
            "a a a b\na d\na\na b a a a\na a c\na c\nd b a\na a a\nc c b a a c b\na a a a\n"
            "a b a a a a b\nc")
    return text.split("\n"), ["a b c", "", "z a", "d d a b", "c a a"]


def fallback_corpus(rng):
    """Repeated lines: at several orders a count-of-counts is zero or a discount is out of range."""
    lines = (["p q"] + ["r s"] * 2 + ["t u"] * 3 + ["a b", "c d", "e f", "g h"] * 4
             + ["the cat sat"] * 2 + ["the dog sat"] * 2 + ["a cat ran"] * 2 + ["the cat ran"])
    rng.shuffle(lines)
    return lines, ["the cat sat", "a dog ran", "p q r s", "the bird sat", ""]


def symbols_corpus(rng):
    """The words corpus with lmplz's reserved words written in the text: `<unk>`, `<s>` and
    `</s>`, which lmplz refuses unless `--skip_symbols` makes them whitespace (a line of
    them alone becomes an empty sentence)."""
    train, heldout = words_corpus(rng)
    symbols = ["<unk>", "<s>", "</s>"]
    with_symbols = []
    for line in train[:200]:
        words = line.split()
        for _ in range(rng.randint(0, 2)):
            words.insert(rng.randint(0, len(words)), rng.choice(symbols))
        with_symbols.append(" ".join(words))
    return with_symbols + ["<unk>", "</s> <s>"], heldout


# ----------------------------------------------------------------------------
# Running KenLM

def find_kenlm(explicit):
    """The folder holding lmplz and query: the argument, $KENLM_BIN, or build-kenlm.sh's default."""
    candidates = [explicit, os.environ.get("KENLM_BIN"),
                  str(Path.home() / ".cache" / "kenlm" / "build" / "bin")]
    for folder in filter(None, candidates):
        if (Path(folder) / "lmplz").is_file() and (Path(folder) / "query").is_file():
            return Path(folder)
    sys.exit("lmplz and query not found: pass --kenlm-bin, set KENLM_BIN, or run "
             "../shared/tools/build-kenlm.sh")


_STAT_LINE = re.compile(r"^(\d+) (\d+)(?:/(\d+))? D1=(\S+) D2=(\S+) D3\+=(\S+)$")


def parse_statistics(stderr):
    """lmplz's "Statistics:" block and fallback notices, per order (1-based in the output)."""
    lines = stderr.splitlines()
    start = lines.index("Statistics:")
    orders = []
    for line in lines[start + 1:]:
        match = _STAT_LINE.match(line)
        if not match:
            break
        n, kept, total, d1, d2, d3 = match.groups()
        orders.append({"order": int(n), "kept": int(kept),
                       "total": int(total) if total else int(kept),
                       "discounts": [float(d1), float(d2), float(d3)]})
    # lmplz numbers orders from 0 in this message.
    fallback = sorted(int(m) + 1 for m in
                      re.findall(r"Substituting fallback discounts for order (\d+)", stderr))
    for record in orders:
        record["fallback"] = record["order"] in fallback
    return orders


_WORD_FIELD = re.compile(r"^(.*)=(\d+) (\d+) (\S+)$")
_TOTAL_FIELD = re.compile(r"^Total: (\S+) OOV: (\d+)$")


def parse_query(stdout):
    """query -v word -v sentence -v summary: per sentence its words and total, then the summary."""
    sentences, summary = [], {}
    for line in stdout.splitlines():
        if ":\t" in line:
            key, value = line.split(":\t")
            summary[key] = float(value) if "." in value else int(value)
            continue
        *fields, total = line.split("\t")
        words = []
        for field in fields:
            word, vocab, length, log10prob = _WORD_FIELD.match(field).groups()
            words.append([word, int(vocab), int(length), float(log10prob)])
        total_value, oov = _TOTAL_FIELD.match(total).groups()
        sentences.append({"words": words, "total": float(total_value), "oov": int(oov)})
    return {"sentences": sentences,
            "perplexity_including_oovs": summary["Perplexity including OOVs"],
            "perplexity_excluding_oovs": summary["Perplexity excluding OOVs"],
            "oovs": summary["OOVs"], "tokens": summary["Tokens"]}


def write_gzip(path, data):
    """gzip with no file name or time stamp in the header, so re-runs give the same bytes."""
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0) as stream:
        stream.write(data)
    path.write_bytes(buffer.getvalue())


def model_record(kenlm, work, corpus, order, prune):
    """Run lmplz and query for one model; write its ARPA file and return its manifest entry.

    Entry: name, corpus, order, prune (list of ints as given to --prune, or null),
    arpa (file name), lmplz_args (list), statistics (per order: order, kept, total,
    discounts [D1, D2, D3+], fallback: bool), query (sentences: list of {words: list of
    [token, kenlm vocab id (0 = <unk>), n-gram length used, log10 prob], total: float
    log10, oov: int}, perplexity_including_oovs, perplexity_excluding_oovs, oovs, tokens),
    or query null and query_error (KenLM's message) when query refuses the file.
    """
    name = f"{corpus}.o{order}" + (f".prune-{'-'.join(map(str, prune))}" if prune else "")
    if corpus in SKIP_SYMBOLS:
        name += ".skip-symbols"
    arpa = work / f"{name}.arpa"
    args = ["-o", str(order), "--discount_fallback", "-S", "100M"]
    if corpus in SKIP_SYMBOLS:
        args.append("--skip_symbols")
    if prune:
        args += ["--prune", *map(str, prune)]
    run = subprocess.run([str(kenlm / "lmplz"), *args, "-T", f"{work}/", "--text",
                          str(FIXTURES / f"{corpus}.train.txt"), "--arpa", str(arpa)],
                         capture_output=True, text=True, check=True)
    record = {"name": name, "corpus": corpus, "order": order,
              "prune": list(prune) if prune else None, "arpa": f"{name}.arpa.gz",
              "lmplz_args": args, "statistics": parse_statistics(run.stderr)}
    heldout = (FIXTURES / f"{corpus}.heldout.txt").read_bytes()
    query = subprocess.run([str(kenlm / "query"), "-v", "word", "-v", "sentence", "-v",
                            "summary", str(arpa)], input=heldout, capture_output=True,
                           check=False)
    write_gzip(FIXTURES / f"{name}.arpa.gz", arpa.read_bytes())
    if query.returncode:
        # query refuses some files lmplz writes (a back-off of -inf): keep its reason.
        reason = query.stderr.decode("utf-8", "replace").strip().splitlines()[-2:]
        return record | {"query": None, "query_error": " ".join(reason)}
    return record | {"query": parse_query(query.stdout.decode("utf-8"))}


def python_module_record(kenlm_module, record):
    """What `kenlm.Model` answers on one fixture model, for each held-out sentence: per
    (bos, eos) its full_scores ([log10 p, n-gram length, oov] per token) and score; the
    sentence's perplexity; the BaseScore of each word and `</s>` walked from
    BeginSentenceWrite and from NullContextWrite (the state carried along); and whether
    the model contains a few words. Entry: name, sentences (list of {sentence, scores:
    {"TT"/"TF"/"FT"/"FF" (bos, eos as T/F): {full: [...], total}}, perplexity, begin,
    null}), contains ({word: bool})."""
    model = kenlm_module.Model(str(FIXTURES / record["arpa"]))
    lines = (FIXTURES / f"{record['corpus']}.heldout.txt").read_text(encoding="utf-8")
    sentences = []
    for line in lines.splitlines():
        scores = {}
        for bos in (True, False):
            for eos in (True, False):
                full = [[round(p, 7), n, oov] for p, n, oov in model.full_scores(line, bos, eos)]
                scores[f"{'TF'[not bos]}{'TF'[not eos]}"] = {
                    "full": full, "total": round(model.score(line, bos, eos), 7)}
        walks = {}
        for name, start in (("begin", model.BeginSentenceWrite),
                            ("null", model.NullContextWrite)):
            state, out, values = kenlm_module.State(), kenlm_module.State(), []
            start(state)
            for word in line.split() + ["</s>"]:
                values.append(round(model.BaseScore(state, word, out), 7))
                state, out = out, state
            walks[name] = values
        sentences.append({"sentence": line, "scores": scores,
                          "perplexity": model.perplexity(line), **walks})
    words = sorted({w for line in lines.split() for w in line.split()})[:12]
    contains = {w: w in model for w in words + ["<s>", "</s>", "<unk>", "zzyzx"]}
    return {"name": record["name"], "sentences": sentences, "contains": contains}


def write_python_module_fixtures():
    """python_module.json: the kenlm module's answers on every fixture model it loads."""
    import kenlm as kenlm_module

    manifest = json.loads((FIXTURES / "manifest.json").read_text(encoding="utf-8"))
    records = [python_module_record(kenlm_module, r) for r in manifest["models"]
               if r["query"] is not None]
    out = {"kenlm": "kenlm Python module 0.3.0 (pip install kenlm)", "models": records}
    (FIXTURES / "python_module.json").write_text(json.dumps(out, ensure_ascii=False) + "\n",
                                                 encoding="utf-8")
    print(f"wrote {len(records)} models' kenlm module values to python_module.json")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kenlm-bin", help="folder holding lmplz and query")
    parser.add_argument("--python-module", action="store_true",
                        help="only record the kenlm Python module's values")
    args = parser.parse_args()
    if args.python_module:
        write_python_module_fixtures()
        return
    kenlm = find_kenlm(args.kenlm_bin)
    FIXTURES.mkdir(parents=True, exist_ok=True)
    makers = {"chars": chars_corpus, "words": words_corpus, "fallback": fallback_corpus,
              "edge": edge_corpus, "symbols": symbols_corpus}
    for corpus, make in makers.items():
        train, heldout = make(random.Random(SEED))
        (FIXTURES / f"{corpus}.train.txt").write_text("\n".join(train) + "\n", encoding="utf-8")
        (FIXTURES / f"{corpus}.heldout.txt").write_text("\n".join(heldout) + "\n",
                                                        encoding="utf-8")
    models = [(corpus, order, None) for corpus in makers if corpus not in SKIP_SYMBOLS
              for order in ORDERS] + PRUNED + [("symbols", 3, None)]
    with tempfile.TemporaryDirectory() as folder:
        records = [model_record(kenlm, Path(folder), *model) for model in models]
    for stale in set(FIXTURES.glob("*.arpa.gz")) - {FIXTURES / r["arpa"] for r in records}:
        stale.unlink()
    manifest = {"kenlm": "kenlm-0.3.0 lmplz and query", "seed": SEED, "models": records}
    (FIXTURES / "manifest.json").write_text(json.dumps(manifest, indent=1, ensure_ascii=False)
                                            + "\n", encoding="utf-8")
    size = sum(p.stat().st_size for p in FIXTURES.iterdir())
    print(f"wrote {len(records)} models to {FIXTURES} ({size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
