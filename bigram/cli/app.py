"""The `bigram` command: train, sample, eval, score and inspect bigram language models.

Each command parses its options, calls one library function and renders the
result; results go to stdout, status and progress to stderr. Errors raised
anywhere become one line, `error: ...`, in `main()`, the only handler;
`--debug` or BIGRAM_DEBUG=1 shows the traceback instead.
Heavy modules (numpy, the engine, matplotlib) are imported inside the
commands that need them, so `bigram --help` starts fast.
"""

import enum
import json
import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from bigram.errors import BigramError, OptionError, cli_message
from bigram.version import __version__

DEFAULT_MODEL = "bigram.npz"

app = typer.Typer(
    name="bigram",
    help="n-gram language models of characters or words (bigrams by default, modified "
         "Kneser-Ney as KenLM's lmplz, ARPA in and out): train on text with one item per "
         "line (names.txt by default, or text piped to stdin), sample new items, score text "
         "and report losses.",
    add_completion=True,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)


class Kind(str, enum.Enum):
    counts = "counts"
    neural = "neural"


class SmoothingMethod(str, enum.Enum):
    add_k = "add-k"
    witten_bell = "witten-bell"
    kneser_ney = "kneser-ney"
    modified_kneser_ney = "modified-kneser-ney"


class Unit(str, enum.Enum):
    char = "char"
    word = "word"


class EncodingErrors(str, enum.Enum):
    strict = "strict"
    replace = "replace"
    ignore = "ignore"


class OovPolicy(str, enum.Enum):
    skip = "skip"
    error = "error"


def default_model_path():
    """$BIGRAM_MODEL, or bigram.npz in the current folder."""
    return Path(os.environ.get("BIGRAM_MODEL") or DEFAULT_MODEL)


def _status(text):
    """A status line on stderr ("wrote ...", notes) as it is: one line however long, as logs
    and greps want it; plain print, so that commands which draw nothing skip importing
    rich (a live progress display has sys.stderr redirected, and keeps its place)."""
    print(text, file=sys.stderr, flush=True)


def _stderr():
    from rich.console import Console

    # No markup or emoji codes: names and paths are printed as they are ("[x]", ":a:");
    # a status line stays one line (soft_wrap), however long, as logs and greps want it.
    return Console(stderr=True, highlight=False, markup=False, emoji=False, soft_wrap=True)


def _show(renderable):
    """A table or summary on stdout: drawn for a terminal, plain and complete otherwise."""
    from bigram.cli.plain import show

    show(renderable)


def _stdout():
    from bigram.cli.streams import console

    return console(highlight=False, markup=False, emoji=False)


ModelOption = Annotated[
    Optional[Path],
    typer.Option("--model-file", "-m", help="Model file to read [default: $BIGRAM_MODEL or "
                 "./bigram.npz].", show_default=False)]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]
ForceOption = Annotated[bool, typer.Option(
    "--force", help="Overwrite the output even if it is not a file of the kind this command "
    "writes, or is one of its inputs.")]
EncodingOption = Annotated[
    EncodingErrors,
    typer.Option("--encoding-errors", help="What to do with bytes that are not UTF-8: stop "
                 "with an error naming the line, replace them with U+FFFD, or ignore them.")]


def _show_version(value):
    if value:
        typer.echo(f"bigram {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show full tracebacks for errors.")]
    = False,
    version: Annotated[bool, typer.Option("--version", help="Show the version and exit.",
                                          callback=_show_version, is_eager=True)] = False,
):
    """Options before the command; `main()` reads --debug itself."""


def _model(path):
    """The model in a model file (or ARPA file), through the Python API as every command
    reads it."""
    from bigram.api import load

    return load(path or default_model_path())


def _load(path):
    """The SavedModel under `_model(path)`, for the commands that draw or merge it."""
    return _model(path).saved


UnitOption = Annotated[Unit, typer.Option(
    "--unit", help="What a token is: a character, or a word (split at spaces and tabs, as "
    "KenLM reads text). Stored in the model; later commands read it from there.")]
MinCountOption = Annotated[Optional[int], typer.Option(
    "--min-count", help="Tokens seen fewer times than this in training become <unk>.",
    show_default=False)]
MaxVocabOption = Annotated[Optional[int], typer.Option(
    "--max-vocab", help="Keep only the N most frequent tokens; the rest become <unk>.",
    show_default=False)]
DaskOption = Annotated[Optional[str], typer.Option(
    "--dask", help="Count on a Dask cluster: a running scheduler (tcp://host:8786) or "
    "'local' (a LocalCluster here). The model is the one of one process; needs "
    "pip install 'bigram[dask]', and --test-size 0 or --split hash:80/10/10.",
    show_default=False)]
DaskTimeoutOption = Annotated[Optional[float], typer.Option(
    "--dask-timeout", help="Seconds a --dask scheduler has to answer (default 5).",
    show_default=False)]
OversubscribeOption = Annotated[bool, typer.Option(
    "--oversubscribe", help="Allow more --threads or --dask-workers than this machine has "
    "cores.")]
DaskWorkersOption = Annotated[Optional[int], typer.Option(
    "--dask-workers", help="Worker processes of --dask local [default: one per core].",
    show_default=False)]


# ---------------------------------------------------------------------- train


@app.command()
def train(
    ctx: typer.Context,
    files: Annotated[Optional[list[str]], typer.Argument(
        help="Text files with one item (name, word, line) per line; globs and '-' (stdin) "
             "work. Default: the text piped to stdin, else the bundled names.txt.",
        show_default=False)] = None,
    kind: Annotated[Kind, typer.Option("--model", help="counts: smoothed bigram counts; "
                                       "neural: one linear layer trained by gradient descent.")]
    = Kind.counts,
    output: Annotated[Optional[Path], typer.Option(
        "--output", "-o", help="Where to write the model [default: $BIGRAM_MODEL or "
        "./bigram.npz].", show_default=False)] = None,
    smoothing_method: Annotated[SmoothingMethod, typer.Option(
        help="counts: add-k, interpolated Witten-Bell, interpolated Kneser-Ney, or modified "
             "Kneser-Ney exactly as KenLM's lmplz estimates it.")]
    = SmoothingMethod.add_k,
    smoothing: Annotated[Optional[float], typer.Option(
        help="counts: the method's strength: k for add-k (default 1, 0 = none), the "
             "multiplier for witten-bell (default 1), the discount D for kneser-ney "
             "(default: estimated from the counts).", show_default=False)] = None,
    prune: Annotated[Optional[list[str]], typer.Option(
        help="modified-kneser-ney: lmplz's --prune, one threshold per order from unigrams "
             "up (non-decreasing, the last repeated): n-grams seen at most that often are "
             "dropped. Give them comma-separated (--prune 0,1,1) or one per --prune.",
        show_default=False)] = None,
    discounts: Annotated[Optional[str], typer.Option(
        help="modified-kneser-ney: the discounts D1,D2,D3+ of some orders instead of the "
             "estimated ones, as 'order:D1,D2,D3' groups separated by ';' (D_j in [0, j]), "
             "such as `bigram tune` prints.", show_default=False)] = None,
    steps: Annotated[int, typer.Option(help="neural: gradient-descent steps.")] = 100,
    lr: Annotated[float, typer.Option(help="neural: learning rate.")] = 50.0,
    reg: Annotated[float, typer.Option(help="neural: L2 regularisation strength.")] = 0.01,
    seed: Annotated[int, typer.Option(help="neural: seed of the weights' initialisation.")]
    = 2147483647,
    order: Annotated[int, typer.Option(help="Context length + 1: 2 for bigrams, 3 for "
                                       "trigrams, ...")] = 2,
    unit: UnitOption = Unit.char,
    min_count: MinCountOption = None,
    max_vocab: MaxVocabOption = None,
    split: Annotated[str, typer.Option(
        help="makemore: hold out --test-size items; or train/dev/test percentages such as "
             "80/10/10.")] = "makemore",
    test_size: Annotated[Optional[int], typer.Option(
        help="makemore split: items held out for testing [default: min(1000, 10%)]; 0 trains "
             "on everything.", show_default=False)] = None,
    split_seed: Annotated[int, typer.Option(help="Seed of the split's permutation.")] = 3407,
    encoding_errors: EncodingOption = EncodingErrors.strict,
    plot: Annotated[Optional[Path], typer.Option(
        help="neural: save the training curve (loss per step) as this PNG.",
        show_default=False)] = None,
    dask: DaskOption = None,
    dask_workers: DaskWorkersOption = None,
    dask_timeout: DaskTimeoutOption = None,
    oversubscribe: OversubscribeOption = False,
    query_file: Annotated[Optional[Path], typer.Option(
        "--query-file", help="counts: also write the model as a query file (as `bigram "
        "convert` does), for scoring.", show_default=False)] = None,
    memory: Annotated[Optional[str], typer.Option(
        "--memory", help="Memory budget of counting, such as 1G, 500M or 40% (of physical "
        "memory); a text too large for it, or words from 16 MiB of text on, is counted "
        "with sorted runs spilled to --temp-dir (default: half of physical memory).",
        show_default=False)] = None,
    temp_dir: Annotated[Optional[Path], typer.Option(
        "--temp-dir", help="Folder for the runs spilled under --memory (default: the "
        "system's temporary folder).", show_default=False)] = None,
    force: ForceOption = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON: the "
                                          "model's settings, data and loss on each split.")]
    = False,
    kenlm: Annotated[bool, typer.Option("--kenlm", help="A word model as KenLM's lmplz makes "
                                        "it: short for --unit word --order 5 "
                                        "--smoothing-method modified-kneser-ney --test-size 0; "
                                        "options given as well win.")] = False,
    skip_symbols: Annotated[bool, typer.Option(
        "--skip-symbols", help="word models: read the words <s>, </s> and <unk> of the text as "
        "spaces, as lmplz --skip_symbols does. Without it the word <unk> is the unknown word "
        "(as SRILM's -unk: its count is said on stderr) and <s> or </s> is refused.")]
    = False,
):
    """Train a bigram model and write it to a model file, with a summary of its losses."""
    from bigram.api import train as train_model
    from bigram.cli.habits import (
        check_output_name,
        check_prune_spelling,
        kenlm_settings,
    )
    from bigram.cli.inputs import files_or_stdin
    from bigram.cluster.dask_counting import check_workers, client_visible
    from bigram.training.budget import check_temp_dir, parse_memory
    from bigram.training.tune import parse_discounts

    check_output_name(output)
    check_prune_spelling(prune, files)
    if kenlm:
        preset = kenlm_settings(
            {"unit": unit.value, "order": order, "test_size": test_size,
             "smoothing_method": smoothing_method.value}, _given_options(ctx))
        unit, smoothing_method = Unit(preset["unit"]), SmoothingMethod(preset["smoothing_method"])
        order, test_size = preset["order"], preset["test_size"]
    files = files_or_stdin(files)
    check_workers(dask_workers, oversubscribe)
    budget = parse_memory(memory) if memory is not None else None
    check_temp_dir(temp_dir)
    out = output or default_model_path()
    inputs = _text_inputs(client_visible(files) if dask else files)
    _check_output_path(out, "model", inputs, force)
    if plot is not None:
        if kind is not Kind.neural:
            raise OptionError("--plot draws the training curve of --model neural; for the "
                              "grid of bigrams use `bigram plot`")
        _check_output_path(plot, "picture", inputs, force)
    if query_file is not None:
        if kind is not Kind.counts:
            raise OptionError("--query-file belongs to --model counts")
        _check_output_path(query_file, "query", inputs + [out], force)
    counting_progress = _budget_progress()
    try:
        model = train_model(
            [Path(f) for f in files] if files else None, model=kind.value, smoothing=smoothing,
            steps=steps, lr=lr, reg=reg, seed=seed, test_size=test_size, split_seed=split_seed,
            encoding_errors=encoding_errors.value,
            progress=_training_progress(steps) if kind is Kind.neural else None,
            method=smoothing_method.value, order=order, split=split, unit=unit.value,
            dask=dask, dask_workers=dask_workers,
            dask_progress=_cluster_progress() if dask else None,
            skip_symbols=skip_symbols, dask_timeout=dask_timeout,
            min_count=min_count, max_vocab=max_vocab, prune=_prune_thresholds(prune),
            discounts=parse_discounts(discounts, order), memory=budget, temp_dir=temp_dir,
            budget_note=_status, budget_progress=counting_progress)
    finally:
        if counting_progress is not None:
            counting_progress.stop()
    replaced = model.save(out, force=force)
    literal_unk = (model.saved.meta.get("vocabulary_control") or {}).get("literal_unk")
    if literal_unk:
        print(f"note: the text holds the word <unk> {literal_unk:,} time(s); it was read as the "
              "unknown word (as SRILM's -unk); lmplz refuses it, or with --skip_symbols reads "
              "it as a space, as --skip-symbols does", file=sys.stderr)
    if query_file is not None:
        from bigram.formats.convert import write_saved

        write_saved(query_file, model.saved, out)
    from bigram.cli.render import training_json, training_summary

    reports = list(model.reports.values())
    if as_json:
        sys.stdout.write(json.dumps(training_json(model.saved, reports, out),
                                    ensure_ascii=False) + "\n")
    else:
        _show(training_summary(model.saved, reports, out))
    note = f"replaced {out}" if replaced else f"wrote {out}"
    if query_file is not None:
        note += f" and the query file {query_file}"
    if plot is not None:
        from bigram.cli.pictures import plot_training_curve
        from bigram.training.train import best_bigram_loss

        plot_training_curve(model.saved.model.losses,
                            best_bigram_loss(model.saved.data_counts["train"]), plot)
        note += f", and the training curve to {plot}"
    _status(note)


def _given_options(ctx):
    """The names of the options the command line gave (not left at their defaults)."""
    # By the source's name: typer may carry its own copy of click, and so of the enum.
    return {name for name in ctx.params
            if getattr(ctx.get_parameter_source(name), "name", "DEFAULT") in ("COMMANDLINE",
                                                                            "ENVIRONMENT")}


def _prune_thresholds(values):
    """--prune's values as whole numbers, however they were given (commas or repeats)."""
    if not values:
        return None
    thresholds = [t for value in values for t in value.replace(",", " ").split()]
    if not thresholds or not all(t.isascii() and t.isdigit() for t in thresholds):
        raise OptionError(f"--prune takes whole numbers 0 or more, not {' '.join(values)!r}")
    return [int(t) for t in thresholds]


def _check_output_path(path, kind, inputs=(), force=False):
    """Refuse (before any long work) an output that cannot be written or would destroy a file."""
    from bigram.formats.files import check_output

    try:
        check_output(path, kind, inputs, force)
    except BigramError as error:
        raise OptionError(cli_message(error)) from None


def _text_inputs(files):
    """The text files a command reads (globs expanded), and stdin's descriptor for '-'."""
    from bigram.text.sources import resolve_sources

    inputs = [source.path for source in resolve_sources(files or []) if source.path]
    if "-" in (files or []):
        try:
            inputs.append(sys.stdin.fileno())
        except (AttributeError, OSError, ValueError):  # stdin replaced by something in memory
            pass
    return inputs


def _training_progress(steps):
    """A rich progress bar with the live loss, as a callback for the training loop."""
    console = _stderr()
    if not console.is_terminal:
        return None
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    progress = Progress(TextColumn("training"), BarColumn(), TextColumn("step {task.completed}"
                        "/{task.total}"), TextColumn("loss {task.fields[loss]:.4f}"),
                        TimeElapsedColumn(), console=console, transient=True)
    task = progress.add_task("train", total=steps, loss=float("nan"))

    def on_step(step, loss):
        if step == 0:
            progress.start()
        progress.update(task, completed=step, loss=loss)
        if step == steps:
            progress.stop()

    return on_step


def _budget_progress():
    """A callback for budgeted counting: each stage as a rich progress line on stderr (only
    when stderr is a terminal)."""
    console = _stderr()
    if not console.is_terminal:
        return None
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    progress = Progress(TextColumn("{task.description}"), BarColumn(),
                        TextColumn("{task.percentage:>3.0f}%"), TimeElapsedColumn(),
                        console=console, transient=True)
    tasks = {}

    def on_stage(stage, done, total):
        if not tasks:
            progress.start()
        if stage not in tasks:
            for task in tasks.values():
                progress.update(task, visible=False)
            tasks[stage] = progress.add_task(stage, total=total)
        progress.update(tasks[stage], completed=done, total=total)

    on_stage.stop = progress.stop
    return on_stage


def _cluster_progress():
    """A callback for bigram.cluster.dask_counting: prints the Dask dashboard's address, then shows the
    blocks counted across the cluster as a rich progress bar."""
    console = _stderr()
    shown = {}

    def on_blocks(done, total, dashboard):
        if not shown:
            console.print(f"Dask dashboard: {dashboard or 'none (the scheduler serves none)'}")
            shown["bar"] = None
            if console.is_terminal and total:
                from rich.progress import (
                    BarColumn,
                    MofNCompleteColumn,
                    Progress,
                    TextColumn,
                    TimeElapsedColumn,
                )

                bar = Progress(TextColumn("counting blocks"), BarColumn(), MofNCompleteColumn(),
                               TimeElapsedColumn(), console=console, transient=True)
                shown["task"] = bar.add_task("count", total=total)
                bar.start()
                shown["bar"] = bar
        if shown["bar"] is not None:
            shown["bar"].update(shown["task"], completed=done)
            if done == total:
                shown["bar"].stop()

    return on_blocks


# ---------------------------------------------------------------------- sample


@app.command()
def sample(
    model_file: ModelOption = None,
    count: Annotated[int, typer.Option("--count", "-n", help="How many items.")] = 10,
    seed: Annotated[Optional[int], typer.Option(
        help="Generator seed; without it one is chosen and printed to stderr.",
        show_default=False)] = None,
    temperature: Annotated[float, typer.Option(
        help="Below 1 sharpens the distribution, above 1 flattens it.")] = 1.0,
    prefix: Annotated[str, typer.Option(help="Start every item with this text.")] = "",
    max_len: Annotated[int, typer.Option(help="Cut items at this many tokens (characters, or "
                                         "words for a word model).")] = 100,
    novel: Annotated[bool, typer.Option("--novel", help="Only items absent from the "
                                        "training data.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print each item as a JSON string, "
                                          "one per line (JSON Lines).")] = False,
):
    """Sample items, one per line on stdout (reproducible with --seed, as PyTorch's multinomial).

    Items are drawn and written in batches, so output starts at once and memory stays
    the same for any --count.
    """
    from bigram.api import check_sampling_options

    check_sampling_options(count, temperature, max_len, seed)   # before the model is read
    model = _model(model_file)
    chosen = seed is None
    if chosen:
        seed = int.from_bytes(os.urandom(4), "little") & 0x7FFFFFFF
    batches = model.sample_batches(count, seed, temperature, prefix, max_len, novel)
    if chosen:
        print(f"seed: {seed}", file=sys.stderr)
    cut = []
    sys.stdout.flush()
    out = sys.stdout.buffer
    try:
        for batch in batches:
            out.write(batch.json_lines() if as_json else batch.lines())
            out.flush()
            cut.extend(batch.cut_items)
    except BrokenPipeError:
        # `bigram sample | head`: the reader has what it wanted; not an error.
        sys.stdout = open(os.devnull, "w")
        return
    if cut:
        from bigram.cli.render import cut_warning

        print(cut_warning(cut, max_len), file=sys.stderr)


# ---------------------------------------------------------------------- eval and score


@app.command("eval")
def evaluate(
    files: Annotated[Optional[list[str]], typer.Argument(
        help="Text files to evaluate (globs and '-' work); default: the text piped to stdin, "
             "else the splits the model was trained and tested on.", show_default=False)]
    = None,
    model_file: ModelOption = None,
    as_json: JsonOption = False,
    oov: Annotated[OovPolicy, typer.Option(
        help="Tokens the model never saw, for models without <unk>: skip the n-grams "
             "touching them (and report them), or stop with an error. Models with <unk> "
             "score them as <unk>.")] = OovPolicy.skip,
    encoding_errors: EncodingOption = EncodingErrors.strict,
):
    """Report the loss (NLL in nats, bits per token, perplexity) per split or per file."""
    from bigram.cli.inputs import files_or_stdin

    files = files_or_stdin(files)
    model = _model(model_file)
    if files:
        reports = [model.evaluate(f, oov.value, encoding_errors.value) for f in files]
    else:
        reports = list(model.reports.values())
    saved = model.saved
    if as_json:
        payload = {r.name: r.as_dict() for r in reports}
        sys.stdout.write(json.dumps(payload, ensure_ascii=False) + "\n")
        return
    from bigram.cli.render import loss_table, unit_name

    _show(loss_table(reports, unit_name(saved.model)))
    unk = saved.vocabulary.unk
    unit = "character(s)" if saved.vocabulary.unit == "char" else "word(s)"
    for report in reports:
        if report.oov:
            what = f"{report.oov} {unit} outside the vocabulary"
            listed = f": {report.oov_listing!r}" if report.oov_tokens else ""
            # One line each, however long: plain print, not rich's wrapping console.
            if unk:
                print(f"note: {report.name}: {what} were scored as <unk>{listed}; perplexity "
                      f"excluding them {report.perplexity_excluding_oov:.3f}", file=sys.stderr)
            else:
                print(f"note: {report.name}: {what} were skipped{listed}", file=sys.stderr)


@app.command()
def score(
    names: Annotated[Optional[list[str]], typer.Argument(
        help="Items (names, words, lines) to score, or '-' for the lines of stdin; with "
             "--file, files (globs and '-' for stdin) to score line by line. Default: the "
             "text piped to stdin.", show_default=False)] = None,
    model_file: ModelOption = None,
    files: Annotated[bool, typer.Option(
        "--file", "-f", help="Score every line of the FILES given as arguments: one result a "
        "line, in order, blank lines included; tab-separated log10 P, ln P, tokens (the end "
        "of the line included), OOVs, perplexity and the line, or JSON Lines with "
        "--json.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON (with --file: one "
                                          "object a line).")] = False,
    oov: Annotated[OovPolicy, typer.Option(help="Unknown tokens (models without <unk>): skip "
                                           "or error.")] = OovPolicy.skip,
    encoding_errors: EncodingOption = EncodingErrors.strict,
    output: Annotated[Optional[Path], typer.Option(
        "--output", "-o", help="With --file: write the results to this file, whole or not "
        "at all (stdout by default).", show_default=False)] = None,
    force: ForceOption = False,
    threads: Annotated[Optional[int], typer.Option(
        "--threads", help="With --file: threads scoring blocks at once [default: one per "
        "core, at most 4; at most the cores unless --oversubscribe].",
        show_default=False)] = None,
    oversubscribe: OversubscribeOption = False,
):
    """Show each n-gram of each item with its probability, and the item's log-likelihood;
    or, with --file, each line's log-probability and perplexity (as KenLM's `query`)."""
    from bigram.cli.inputs import files_or_stdin, items_or_stdin
    from bigram.models.scoring import check_threads

    check_threads(threads, oversubscribe)
    if threads is not None and not files:
        raise OptionError("--threads goes with --file")
    if files:
        names = files_or_stdin(names)
        _score_files(names, model_file, as_json, oov, encoding_errors, output, force, threads)
        return
    if output is not None:
        raise OptionError("--output goes with --file")
    names = items_or_stdin(names, encoding_errors.value)
    if not names:
        raise OptionError("give items to score, or --file and files")
    model = _model(model_file)
    scores = [model.score_item(name, oov.value) for name in names]
    if as_json:
        from bigram.cli.render import score_json

        sys.stdout.write(json.dumps(score_json(scores), ensure_ascii=False) + "\n")
        return
    from rich.console import Group

    from bigram.cli.render import score_table

    _show(Group(*[score_table(item_score, model.order) for item_score in scores]))


def _score_files(files, model_file, as_json, oov, encoding_errors, output, force, threads):
    """`score --file`: results streamed to stdout, or written whole to --output."""
    from bigram.formats.files import check_scores_output
    from bigram.models.scoring import json_lines, render_sources, tsv_lines

    if not files:
        raise OptionError("--file needs files to score (or '-' for stdin)")
    if output is not None:
        check_scores_output(output, _text_inputs(files) + [model_file or default_model_path()],
                            force)
    from bigram.formats.modelfile import load_for_scoring
    from bigram.memory import keep_freed_memory

    keep_freed_memory()   # every block allocates what the one before freed
    model = load_for_scoring(model_file or default_model_path())
    results = render_sources(model, files, json_lines if as_json else tsv_lines, oov.value,
                             encoding_errors.value, threads)
    if output is not None:
        from bigram.formats.files import atomic_write

        atomic_write(output, lambda stream: stream.writelines(results))
        return
    sys.stdout.flush()
    out = sys.stdout.buffer
    try:
        for result in results:
            out.write(result)
        out.flush()
    except BrokenPipeError:
        # `bigram score --file ... | head`: the reader has what it wanted; not an error.
        sys.stdout = open(os.devnull, "w")


@app.command()
def info(model_file: ModelOption = None, as_json: JsonOption = False,
         verify: Annotated[bool, typer.Option(
             "--verify", help="Query files: check every table against its checksum (reads "
             "the whole file; opening checks only the small ones of a large file). Model "
             "files are checked whole whenever they are read.")] = False):
    """Describe a model file: kind, vocabulary, settings, training data and splits."""
    path = model_file or default_model_path()
    if verify:
        from bigram.formats.files import is_query_file
        from bigram.formats.query_file import verify as verify_tables

        if is_query_file(path):
            verify_tables(path)
    model = _model(path)
    if as_json:
        sys.stdout.write(json.dumps(model.info(), ensure_ascii=False) + "\n")
        return
    from bigram.cli.render import info_table

    _show(info_table(model.saved, path))


@app.command("merge")
def merge_models(
    models: Annotated[list[Path], typer.Argument(help="Count model files trained on shards.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write the merged "
                                         "model.")],
    smoothing: Annotated[Optional[float], typer.Option(
        help="Smoothing of the merged model [default: the shards' common value].",
        show_default=False)] = None,
    force: ForceOption = False,
):
    """Sum count models trained on shards of a corpus into the model of the whole corpus."""
    from bigram.formats.modelfile import load, save
    from bigram.training.merge import check_distinct_files, merge, shared_data

    check_distinct_files(models)
    _check_output_path(output, "model", models, force)
    shards = [load(path) for path in models]
    merged = merge(shards, [str(p) for p in models], smoothing)
    for first, second in shared_data(shards, [str(p) for p in models]):
        print(f"warning: {first} and {second} were trained on the same data (the same "
              "sha256): the merged model counts that text twice", file=sys.stderr)
    replaced = save(output, merged)
    from bigram.cli.render import loss_table, unit_name
    from bigram.models.evaluation import evaluate_splits

    _show(loss_table(evaluate_splits(merged), unit_name(merged.model)))
    _status(f"{'replaced' if replaced else 'wrote'} {output}: {len(models)} models, "
            f"{len(merged.vocabulary):,} tokens")


@app.command("interpolate")
def interpolate_models(
    models: Annotated[list[Path], typer.Argument(
        help="Two or more model files (or ARPA files) of one unit.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write the "
                                         "interpolated model.")],
    weights: Annotated[Optional[str], typer.Option(
        "--weights", help="The models' weights, comma-separated, adding up to 1 "
        "(e.g. 0.7,0.3).", show_default=False)] = None,
    tune_on: Annotated[Optional[str], typer.Option(
        "--tune-on", help="Held-out text (one item a line): weights by EM, minimising its "
        "perplexity (SRILM's compute-best-mix).", show_default=False)] = None,
    force: ForceOption = False,
):
    """Mix models trained on different text: P = sum of weight * P_model, exactly, each
    model with its own back-off. The file written holds the models it mixes (it reads
    alone); `export` writes it as one ARPA file, an approximation (SRILM's -write-lm)."""
    import bigram.api as api

    if weights is not None:
        try:
            weights = [float(w) for w in weights.replace(" ", "").split(",")]
        except ValueError:
            raise OptionError(f"--weights takes numbers separated by commas, not "
                              f"{weights!r}") from None
    _check_output_path(output, "model", models, force)
    mixed = api.interpolate(list(models), weights=weights, tune_on=tune_on)
    replaced = mixed.save(output, force=True)
    shown = ", ".join(f"{w:.4f} {p}" for w, p in zip(mixed.settings["weights"], models))
    if mixed.tuning is not None:
        tuning = mixed.tuning
        each = ", ".join(f"{p:.2f}" for p in tuning.component_perplexities)
        _stdout().print(f"EM on {tune_on}: {tuning.predictions:,} predictions, "
                        f"{tuning.rounds} rounds; perplexity {tuning.perplexity:.2f} "
                        f"(the models alone: {each})")
    _status(f"{'replaced' if replaced else 'wrote'} {output}: weights {shown}")


@app.command("export")
def export(
    output: Annotated[Path, typer.Option("--output", "-o", help="The ARPA file to write; "
                                         "'-' writes it to stdout.")],
    model_file: ModelOption = None,
    memory: Annotated[Optional[str], typer.Option(
        "--memory", help="Memory budget, such as 1G, 500M or 40% (of physical memory): a "
        "modified Kneser-Ney model file larger than a quarter of it is exported from disk a "
        "slice at a time, with temporary files in --temp-dir (default: half of physical "
        "memory).", show_default=False)] = None,
    temp_dir: Annotated[Optional[Path], typer.Option(
        "--temp-dir", help="Folder for the temporary files of an export within --memory "
        "(default: the system's temporary folder).", show_default=False)] = None,
    force: ForceOption = False,
):
    """Write the model as an ARPA back-off file (for KenLM, SRILM, speech and OCR decoders).
    An interpolated model is written as SRILM's -mix-lm -write-lm approximation."""
    from bigram.formats.streamed_export import export_streamed, streams
    from bigram.training.budget import check_temp_dir, default_budget, parse_memory

    budget = parse_memory(memory) if memory is not None else default_budget()
    check_temp_dir(temp_dir)
    path = model_file or default_model_path()
    model = None
    try:
        if streams(path, budget):
            _check_output_path(output, "arpa", [path], force)
            counts = export_streamed(path, output, budget, temp_dir)
        else:
            model = _model(model_file)
            _check_output_path(output, "arpa", [path], force)
            counts = model.export_arpa(output, force=force)
    except BrokenPipeError:
        # `bigram export -o - | head`: the reader has what it wanted; not an error.
        sys.stdout = open(os.devnull, "w")
        return
    listed = ", ".join(f"{n:,} distinct {order}-grams" for order, n in counts.items())
    _status(f"wrote {'the ARPA text to stdout' if str(output) == '-' else output}: "
            f"{listed}")
    if model is not None and model.kind == "interpolated":
        _status("note: an interpolated model has no exact back-off form; this file "
                "approximates it as SRILM's -mix-lm -write-lm does: it equals the "
                "mixture on every n-gram it lists, and other continuations follow "
                "its back-off weights")


@app.command("convert")
def convert_model(
    model_file: Annotated[Path, typer.Argument(
        help="A count model file (.npz) or an ARPA file (plain or gzip).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="The query file to write.")],
    quantize: Annotated[Optional[int], typer.Option(
        "--quantize", help="Store adj and back-off sums of the orders above 1 in this many "
        "bits (1-16), bins trained on the model's own values (KenLM's -q/-b); smaller, "
        "slightly less exact.", show_default=False)] = None,
    temp_dir: Annotated[Optional[Path], typer.Option(
        "--temp-dir", help="Folder for the temporary files of a conversion: an ARPA file's "
        "levels, and with --quantize the values of large levels sorted for their bins "
        "(default: the system's temporary folder).", show_default=False)] = None,
    force: ForceOption = False,
):
    """Write a query file: the model as a mapped trie that eval, score and info open in
    milliseconds at any size (see docs/query-format.md)."""
    from bigram.formats.convert import convert
    from bigram.formats.query_file import MAX_QUANTIZE
    from bigram.training.budget import check_temp_dir

    if quantize is not None and not 1 <= quantize <= MAX_QUANTIZE:
        raise OptionError(f"--quantize must be from 1 to {MAX_QUANTIZE} bits, not {quantize}")
    check_temp_dir(temp_dir)
    _check_output_path(output, "query", [model_file], force)
    _, rows = convert(model_file, output, quantize, temp_dir)
    listed = ", ".join(f"{n:,} {order}-grams" for order, n in enumerate(rows, 1))
    _status(f"wrote {output} ({output.stat().st_size:,} bytes): {listed}")


class What(str, enum.Enum):
    counts = "counts"
    probs = "probs"
    logprobs = "logprobs"


@app.command()
def plot(
    model_file: ModelOption = None,
    output: Annotated[Path, typer.Option("--output", "-o", help="PNG file to write.")]
    = Path("bigram.png"),
    what: Annotated[What, typer.Option(help="What the cells show.")] = What.counts,
    force: ForceOption = False,
):
    """Draw the lecture's grid of bigrams (counts, probabilities or log-probabilities) as a PNG."""
    saved = _load(model_file)
    _check_output_path(output, "picture", [model_file or default_model_path()], force)
    from bigram.cli.pictures import plot_grid

    plot_grid(saved, what.value, output)
    _status(f"wrote {output}")


@app.command()
def show(
    model_file: ModelOption = None,
    what: Annotated[What, typer.Option(help="What the cells show.")] = What.probs,
):
    """Show the grid of bigrams in the terminal, in colour."""
    saved = _load(model_file)
    from bigram.cli.pictures import terminal_grid

    console = _stdout()
    separated = not console.is_terminal
    if separated:  # without colour, cells need a space between them: 3 columns each
        from rich.console import Console

        console = Console(highlight=False, markup=False, emoji=False,
                          width=max(80, 3 * len(saved.vocabulary) + 12))
    console.print(terminal_grid(saved, what.value, separated=separated))


@app.command("tune")
def tune_command(
    files: Annotated[Optional[list[str]], typer.Argument(
        help="Text files (default: the text piped to stdin, else the bundled names.txt).",
        show_default=False)] = None,
    kind: Annotated[Kind, typer.Option("--model", help="Tune count models (smoothing) or "
                                       "the neural model (reg).")] = Kind.counts,
    order: Annotated[str, typer.Option(help="Orders to try, comma-separated.")] = "2,3,4,5",
    smoothing_method: Annotated[Optional[str], typer.Option(
        help="counts: methods to try, comma-separated [default: all four].",
        show_default=False)] = None,
    smoothing: Annotated[Optional[str], typer.Option(
        help="counts: strengths to try, comma-separated; 'auto' is Kneser-Ney's estimated "
             "discount [default: a grid per method]. modified-kneser-ney takes none: it "
             "searches its discounts on dev, starting from the estimated ones.",
        show_default=False)] = None,
    reg: Annotated[Optional[str], typer.Option(
        help="neural: regularisation strengths to try [default: 0.001,0.01,0.1].",
        show_default=False)] = None,
    steps: Annotated[int, typer.Option(help="neural: gradient-descent steps.")] = 100,
    lr: Annotated[float, typer.Option(help="neural: learning rate.")] = 50.0,
    unit: UnitOption = Unit.char,
    min_count: MinCountOption = None,
    max_vocab: MaxVocabOption = None,
    split: Annotated[str, typer.Option(help="train/dev/test percentages; with --dask a hash "
                                       "split such as hash:80/10/10.")] = "80/10/10",
    split_seed: Annotated[int, typer.Option(help="Seed of the split's permutation.")] = 3407,
    output: Annotated[Optional[Path], typer.Option(
        "--output", "-o", help="Where to write the chosen model [default: $BIGRAM_MODEL or "
        "./bigram.npz].", show_default=False)] = None,
    plot: Annotated[Optional[Path], typer.Option(help="Save dev loss against the setting as "
                                                 "this PNG.", show_default=False)] = None,
    as_json: JsonOption = False,
    encoding_errors: EncodingOption = EncodingErrors.strict,
    dask: DaskOption = None,
    dask_workers: DaskWorkersOption = None,
    dask_timeout: DaskTimeoutOption = None,
    oversubscribe: OversubscribeOption = False,
    memory: Annotated[Optional[str], typer.Option(
        "--memory", help="Memory budget, such as 1G, 500M or 40% (of physical memory): a text "
        "too large for it is counted on disk once per order and every count model is "
        "estimated and scored within it (--model neural is refused then) (default: half of "
        "physical memory).", show_default=False)] = None,
    temp_dir: Annotated[Optional[Path], typer.Option(
        "--temp-dir", help="Folder for the temporary files of tuning within --memory "
        "(default: the system's temporary folder).", show_default=False)] = None,
    force: ForceOption = False,
):
    """Train every setting on train, choose the best on dev, report its test loss once."""
    from bigram.cli.habits import check_output_name
    from bigram.cli.inputs import files_or_stdin
    from bigram.cluster.dask_counting import check_workers, client_visible
    from bigram.settings import TrainingSettings
    from bigram.training.budget import check_temp_dir, parse_memory
    from bigram.training.tune import discounts_record, parse_list, tune

    check_output_name(output)
    files = files_or_stdin(files)
    check_workers(dask_workers, oversubscribe)
    budget = parse_memory(memory) if memory is not None else None
    check_temp_dir(temp_dir)
    out = output or default_model_path()
    inputs = _text_inputs(client_visible(files) if dask else files)
    _check_output_path(out, "model", inputs, force)
    if plot is not None:
        _check_output_path(plot, "picture", inputs, force)
    methods = None if smoothing_method is None else [
        m.strip() for m in smoothing_method.split(",")]
    settings = TrainingSettings.of(
        model=kind.value, split=split, split_seed=split_seed, encoding_errors=encoding_errors.value,
        steps=steps, lr=lr, unit=unit.value, min_count=min_count, max_vocab=max_vocab,
        dask=dask, dask_workers=dask_workers, dask_timeout=dask_timeout, memory=budget,
        temp_dir=None if temp_dir is None else str(temp_dir))
    result = tune(files or [], parse_list(order, int, "order"), kind.value, methods,
                  parse_list(smoothing, float, "smoothing"), parse_list(reg, float, "reg"),
                  settings, dask_progress=_cluster_progress() if dask else None)
    from bigram.formats.modelfile import save

    replaced = save(out, result.saved)
    if plot is not None:
        from bigram.cli.pictures import plot_tuning

        plot_tuning(result.trials, plot)
    if as_json:
        chosen = result.chosen
        payload = {"trials": [{"order": t.order, "model": t.method, "strength": t.strength,
                               **discounts_record(t), "train": t.train, "dev": t.dev}
                              for t in result.trials],
                   "chosen": {"order": chosen.order, "model": chosen.method,
                              "strength": chosen.strength, **discounts_record(chosen),
                              "dev": chosen.dev, "test": chosen.test}}
        sys.stdout.write(json.dumps(payload) + "\n")
    else:
        from bigram.cli.render import tuning_table

        _show(tuning_table(result))
    _status(f"{'replaced' if replaced else 'wrote'} {out}"
            + (f", and the dev losses to {plot}" if plot else ""))


def _literal_help():
    from bigram.cli.help import literal_help

    literal_help(app)


_literal_help()


# ---------------------------------------------------------------------- entry point


def _one_line(text):
    return " ".join(str(text).split())


def _exception_classes(name):
    """`name` from click and from the copy of click that newer typer versions carry."""
    import importlib

    found = []
    for module in ("typer._click.exceptions", "click.exceptions", "typer"):
        try:
            cls = getattr(importlib.import_module(module), name, None)
        except ImportError:
            continue
        if isinstance(cls, type) and cls not in found:
            found.append(cls)
    return tuple(found)


# Commands that only read models and text: none multiplies matrices (neural models are
# scored by adding rows of W).
_NO_MATRIX_PRODUCTS = {"score", "eval", "sample", "info", "show", "convert", "export"}


def main(argv=None):
    """Run the CLI; every failure ends as one `error: ...` line and a non-zero exit."""
    arguments = sys.argv[1:] if argv is None else list(argv)
    debug = "--debug" in arguments or os.environ.get("BIGRAM_DEBUG") == "1"
    if arguments[:1] and arguments[0] in _NO_MATRIX_PRODUCTS:
        # numpy starts OpenBLAS's thread pool when imported (numpy is not imported yet):
        # a third of a millisecond's work for these commands, which multiply no
        # matrices, costs about 50 ms of a 0.3 s `score` of a few lines. The user's
        # own setting wins; training and tuning keep their threads.
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    from bigram.cli import signals, streams

    streams.utf8_output()
    handlers = signals.install()
    try:
        code = app(args=arguments, prog_name="bigram", standalone_mode=False)
    except signals.Terminated as stop:
        print(f"error: stopped by {stop.name}", file=sys.stderr)
        sys.exit(stop.exit_code)
    except BigramError as error:
        if debug:
            raise
        print(f"error: {_one_line(error.cli_message)}", file=sys.stderr)
        sys.exit(error.exit_code)
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        sys.exit(130)
    except BrokenPipeError:
        # The reader of our output went away (`bigram sample | head`): not an error.
        streams.quiet_broken_pipe()
        sys.exit(0)
    except OSError as error:
        if debug:
            raise
        where = f" {error.filename}" if error.filename else ""
        print(f"error: cannot access{where}: {error.strerror or error}", file=sys.stderr)
        sys.exit(1)
    except MemoryError:
        print("error: out of memory", file=sys.stderr)
        sys.exit(1)
    except Exception as error:
        if isinstance(error, _exception_classes("UsageError")):
            message = _one_line(error.format_message())
            if message.startswith("No such option: --unit"):
                message = ("--unit belongs to train and tune; every other command reads the "
                           "unit from the model file")
            if message:  # (no message: typer already printed the help for a bare `bigram`)
                print(f"error: {message} (see bigram --help)", file=sys.stderr)
            sys.exit(2)
        if isinstance(error, _exception_classes("Abort")):
            print("error: interrupted", file=sys.stderr)
            sys.exit(130)
        if isinstance(error, _exception_classes("Exit")):
            sys.exit(getattr(error, "exit_code", 0))
        if debug:
            raise
        # A bug: still one line, with the way to see more.
        print(f"error: internal error ({type(error).__name__}: {_one_line(error)}); run with "
              "--debug for the traceback", file=sys.stderr)
        sys.exit(1)
    finally:
        signals.restore(handlers)
    if code == 130:  # typer turns Ctrl-C inside a command into a silent exit code 130
        print("error: interrupted", file=sys.stderr)
    sys.exit(code if isinstance(code, int) else 0)
