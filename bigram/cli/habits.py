"""KenLM users' habits on bigram's command line: caught where they would silently go wrong,
and `--kenlm`, the short form of "a word model as lmplz makes it".

lmplz's `-o` is the order and its `--prune` takes its thresholds as separate words;
bigram's `-o` is the output file and `--prune` one value (`0,1,1`). `-o 5` would write
a bigram model to a file named `5`, and `--prune 0 1 1` read the `1`s as files: both are
refused with the spelling bigram wants.
"""

from pathlib import Path

from bigram.errors import OptionError

# What `--kenlm` sets, unless the command line gives it: lmplz's model of words (its
# default order 5 as in KenLM's documentation, interpolated modified Kneser-Ney), trained
# on everything (lmplz holds nothing out).
KENLM_PRESET = {"unit": "word", "order": 5, "smoothing_method": "modified-kneser-ney",
                "test_size": 0}


def check_output_name(output):
    """Refuse an `-o` that is only digits: lmplz's `-o N` is the order."""
    if output is not None and str(output).isdigit():
        raise OptionError(f"-o is the output file, not the order as in lmplz: for a "
                          f"{output}-gram model give --order {output} (to write a file named "
                          f"{output}, give -o ./{output})")


def check_prune_spelling(prune, files):
    """Refuse `--prune 0 1 1`: the thresholds after the first were read as FILES."""
    if not prune or not files:
        return
    strays = [name for name in files
              if name.isascii() and name.isdigit() and not Path(name).exists()]
    if strays:
        given = ",".join([*prune, *strays])
        raise OptionError(f"--prune takes its thresholds as one value, comma-separated: "
                          f"--prune {given} (the {' '.join(strays)} after --prune "
                          f"{','.join(prune)} were read as files)")


def kenlm_settings(given, explicit):
    """The values of train's options with `--kenlm`: KENLM_PRESET's where the command line
    left the option at its default (`explicit` holds the names it gave), `given` elsewhere.
    The held-out size stays unset when the user chose a split of their own."""
    settings = dict(given)
    for name, value in KENLM_PRESET.items():
        if name in explicit or (name == "test_size" and "split" in explicit):
            continue
        settings[name] = value
    return settings
