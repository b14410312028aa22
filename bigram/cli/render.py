"""Rich renderings of the toolkit's results: summary, loss, score and info tables."""

import math

from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text

from bigram.models.language_models import order_name


def _number(x, digits=5):
    if isinstance(x, float) and not math.isfinite(x):
        return "inf" if x > 0 else ("nan" if x != x else "-inf")
    return f"{x:.{digits}f}" if isinstance(x, float) else f"{x:,}"


def training_summary(saved, reports, path):
    """Vocabulary, items and n-grams per split, and the loss on each split (its Report)."""
    model = saved.model
    table = Table(box=box.SIMPLE_HEAD)
    table.add_column("")
    splits = [r.name for r in reports if r.items]
    for split in splits:
        table.add_column(split, justify="right")
    by_split = {r.name: r for r in reports}
    table.add_row("items", *[_number(by_split[s].items) for s in splits])
    table.add_row("predicted tokens", *[_number(by_split[s].tokens) for s in splits])
    table.add_row("loss (nats)", *[_number(by_split[s].nll) for s in splits])
    table.add_row(f"bits/{unit_name(model)}", *[_number(by_split[s].bits_per_token, 4)
                                                for s in splits])
    table.add_row("perplexity", *[_number(by_split[s].perplexity, 3) for s in splits])
    lines = [Text(f"vocabulary: {len(model.vocabulary):,} tokens   {model.describe()}",
                  overflow="fold")]
    losses = getattr(model, "losses", None)
    if losses:
        from bigram.cli.pictures import sparkline

        lines.append(Text(f"training loss: {losses[0]:.4f} {sparkline(losses)} "
                          f"{losses[-1]:.4f}"))
    title = Text(f"{model.kind} {order_name(model.order)} model → {path}", style="bold")
    return Group(title, table, *lines)


def unit_name(model):
    """'char' or 'word', as loss tables label bits per token."""
    return "word" if model.vocabulary.unit == "word" else "char"


def loss_table(reports, unit="char"):
    """One row per split or file: items, tokens, NLL, bits per token, perplexity, OOV."""
    table = Table(box=box.SIMPLE_HEAD)
    for name, justify in [("data", "left"), ("items", "right"), ("tokens", "right"),
                          ("nll", "right"), (f"bits/{unit}", "right"), ("perplexity", "right"),
                          ("oov", "right")]:
        table.add_column(name, justify=justify)
    for r in reports:
        table.add_row(r.name, _number(r.items), _number(r.tokens), _number(r.nll),
                      _number(r.bits_per_token, 4), _number(r.perplexity, 3), _number(r.oov))
    return table


def score_table(item_score, order=2):
    """The lecture's walk-through: each n-gram, its probability and log-probability."""
    table = Table(title=repr(item_score.item), box=box.SIMPLE_HEAD, title_justify="left")
    table.add_column(order_name(order))
    table.add_column("prob", justify="right")
    table.add_column("log prob", justify="right")
    for ngram, prob, logprob in item_score.ngrams:
        table.add_row(ngram, f"{prob:.4f}", _number(logprob, 4))
    totals = (f"log-likelihood {_number(item_score.log_likelihood, 4)}   "
              f"nll {_number(item_score.nll, 4)} over {item_score.tokens:,} "
              "predicted tokens")
    if item_score.oov_tokens:
        totals += f"   unknown: {item_score.oov_listing}"
    return Group(table, Text(totals), Text(""))


def score_json(scores):
    """Scores as JSON-ready dictionaries."""
    from bigram.models.evaluation import json_number

    return [{"item": s.item, "log_likelihood": json_number(s.log_likelihood),
             "nll": json_number(s.nll), "tokens": s.tokens,
             "oov_tokens": list(s.oov_tokens),
             "ngrams": [{"ngram": g, "prob": p, "log_prob": json_number(lp)}
                        for g, p, lp in s.ngrams]} for s in scores]


def info_table(saved, path):
    """What a model file holds."""
    meta = saved.meta
    vocabulary = saved.vocabulary
    table = Table(title=str(path), box=box.SIMPLE_HEAD, show_header=False, title_justify="left")
    table.add_column("", style="bold")
    table.add_column("")
    padding = {"sentence": ", one <s> per item as KenLM reads text",
               "makemore": ""}.get(meta.get("padding"), "")
    table.add_row("kind", f"{meta['kind']} (order {meta.get('order', 2)})")
    table.add_row("unit", f"{vocabulary.unit}s{padding}")
    labels = vocabulary.labels()
    shown = labels if len(labels) <= 60 else labels[:60] + [f"... {len(labels) - 60:,} more"]
    table.add_row("vocabulary", f"{len(vocabulary):,} tokens: " + " ".join(shown))
    control = meta.get("vocabulary_control") or {}
    if control.get("min_count") or control.get("max_vocab"):
        table.add_row("vocabulary control", f"min count {control.get('min_count') or 1}, max "
                      f"vocab {control.get('max_vocab') or 'none'}; "
                      f"{control.get('unk_types', 0):,} token types became <unk>")
    if meta.get("kind") == "arpa":
        table.add_row("source", str(meta.get("source")))
        for order, n in (meta.get("ngrams") or {}).items():
            table.add_row(f"{order}-grams", f"{n:,} distinct")
        table.add_row("modified", str(meta.get("modified", "")))
        return table
    described = saved.model.describe()
    smoothed = described.startswith("smoothing: ")
    for key, value in (meta.get("hyperparameters") or {}).items():
        # Unset values, and those the smoothing line says with what was estimated, are left
        # to that line.
        if value is not None and not (smoothed and key in ("smoothing", "discounts")):
            table.add_row(key, _setting(value))
    if smoothed:
        table.add_row("smoothing", described[len("smoothing: "):])
    data = meta.get("data", {})
    table.add_row("trained on", ", ".join(data.get("sources", [])))
    table.add_row("sha256", str(data.get("sha256", "")))
    table.add_row("bytes", _number(int(data.get("bytes", 0))))
    for split, items in (data.get("items") or {}).items():
        tokens = (data.get("tokens") or data.get("bigrams") or {}).get(split, 0)
        table.add_row(split, f"{items:,} items, {tokens:,} predicted tokens")
    split = meta.get("split") or {}
    if split.get("method") == "makemore":
        table.add_row("split", f"makemore (seed {split.get('seed')}, test size "
                               f"{split.get('test_size')})")
    elif split.get("method") == "percent":
        table.add_row("split", f"train/dev/test {split.get('shares')} (seed {split.get('seed')})")
    elif split:
        table.add_row("split", str(split.get("method")))
    table.add_row("created", f"{meta.get('created', '')} by bigram "
                             f"{meta.get('bigram_version', '')}")
    table.add_row("novel check", "available" if saved.train_items is not None else "not kept")
    return table


def _setting(value):
    """A hyperparameter as `bigram info` shows it: numbers in one format, lists spaced."""
    if isinstance(value, (list, tuple)):
        return " ".join(_setting(v) for v in value)
    if isinstance(value, float):
        return f"{value:g}"
    return _number(value) if isinstance(value, int) and not isinstance(value, bool) \
        else str(value)


def training_json(saved, reports, path):
    """What `bigram train` prints, as JSON-ready values: the model file, its kind, order,
    unit, vocabulary and settings, the training data, and the loss on each split."""
    from bigram.models.evaluation import json_number

    model = saved.model
    meta = saved.meta
    out = {"model_file": str(path), "kind": model.kind, "order": model.order,
           "unit": model.vocabulary.unit, "vocabulary_size": len(model.vocabulary),
           "settings": {**model.hyperparameters(), **model.estimated_settings()}, "data": meta.get("data", {}),
           "split": meta.get("split", {}),
           "splits": {r.name: r.as_dict() for r in reports if r.items}}
    losses = getattr(model, "losses", None)
    if losses:
        out["training_loss"] = [json_number(float(x)) for x in losses]
    return out


def strength_text(method, strength):
    """A tuned strength as people read it."""
    if strength is None:
        return "auto"
    return f"{strength:g}"


def setting_text(trial):
    """A trial's strength, or for modified Kneser-Ney where its discounts came from."""
    if trial.discounts is not None:
        return "tuned on dev" if trial.searched else "estimated"
    return strength_text(trial.method, trial.strength)


def tuning_table(tuning):
    """Every setting's train and dev loss, the chosen one marked, and its test loss."""
    table = Table(box=box.SIMPLE_HEAD)
    for name, justify in [("order", "right"), ("model", "left"), ("strength", "right"),
                          ("train NLL", "right"), ("dev NLL", "right"), ("", "left")]:
        table.add_column(name, justify=justify)
    for trial in tuning.trials:
        mark = "← chosen" if trial is tuning.chosen else ""
        style = "bold" if trial is tuning.chosen else None
        table.add_row(str(trial.order), trial.method, setting_text(trial),
                      _number(trial.train), _number(trial.dev), mark, style=style)
    chosen = tuning.chosen
    test = "no test split" if chosen.test is None else f"test NLL {_number(chosen.test)}"
    summary = (f"chosen on dev: order {chosen.order}, {chosen.method} "
               f"{setting_text(chosen)}; dev NLL "
               f"{_number(chosen.dev)}, {test} (reported once, for this setting only)")
    if chosen.discounts is not None:
        from bigram.training.tune import format_discounts

        summary += f"\ndiscounts (as train's --discounts): {format_discounts(chosen.discounts)}"
    return Group(table, Text(summary))


def cut_warning(numbers, max_len, shown=10):
    """The warning for sampled items cut at --max-len, naming them by number (from 1)."""
    listed = ", ".join(map(str, numbers[:shown])) + (", ..." if len(numbers) > shown else "")
    if len(numbers) == 1:
        return f"warning: item {listed} reached --max-len {max_len:,} and was cut short"
    return (f"warning: {len(numbers):,} items reached --max-len {max_len:,} and were cut "
            f"short: items {listed}")
