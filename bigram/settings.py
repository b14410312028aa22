"""The settings of one training run: built once at the edge (the CLI, `bigram.train`,
`bigram tune`), checked there, carried down as one object, and written into the model
file's metadata as they are.

KenLM's `PipelineConfig` and makemore's `ModelConfig` are the pattern: a stage reads the
fields it needs from the one object it is handed, so a new option is one field here and
one use where it matters, not a parameter threaded through five signatures. The parts
below (text, ngrams, cluster) never import this module's checks; they only read fields.
"""

import dataclasses
from dataclasses import dataclass, field

# makemore's permutation seed for the train/dev/test split (`torch.Generator().manual_seed(3407)`).
DEFAULT_SPLIT_SEED = 3407
# The neural model's initialisation seed in the lecture (`manual_seed(2147483647)`).
DEFAULT_SEED = 2147483647


@dataclass(frozen=True)
class Reading:
    """How the training text becomes tokens and splits."""

    unit: str = "char"                 # 'char' or 'word' tokens
    split: str | None = None           # None or 'makemore' (hold out test_size items), or
                                       # shares such as '80/10/10' ('hash:80/10/10' on Dask)
    test_size: int | None = None       # makemore split: items held out (None: min(1000, 10%))
    split_seed: int = DEFAULT_SPLIT_SEED
    min_count: int | None = None       # tokens seen fewer times become <unk>
    max_vocab: int | None = None       # keep the most frequent tokens, the rest become <unk>
    encoding_errors: str = "strict"    # 'strict', 'replace' or 'ignore' on invalid UTF-8
    block_bytes: int | None = None     # bytes read (or sent to a Dask task) at a time
    skip_symbols: bool = False         # words <s>, </s>, <unk> read as spaces (lmplz's flag)


@dataclass(frozen=True)
class Estimation:
    """Which model is estimated from the counts, and how."""

    kind: str = "counts"               # 'counts' (smoothed n-grams) or 'neural'
    order: int = 2                     # context length + 1
    method: str = "add-k"              # add-k, witten-bell, kneser-ney, modified-kneser-ney
    smoothing: float | None = None     # the method's strength (None: its default)
    prune: tuple | None = None         # modified KN: lmplz's --prune thresholds per order
    discounts: dict | None = None      # modified KN: {order: (D1, D2, D3+)} instead of estimated

    @property
    def padding(self):
        """How items are padded: modified Kneser-Ney reads sentences as KenLM does (one
        <s>); every other model pads N-1 boundaries, as the lecture does."""
        return "sentence" if self.kind == "counts" and self.method == "modified-kneser-ney" \
            else "makemore"


@dataclass(frozen=True)
class Neural:
    """Gradient descent for the one-layer neural model."""

    steps: int = 100
    lr: float = 50.0
    reg: float = 0.01                  # L2 strength on the weights
    seed: int = DEFAULT_SEED           # the weights' initialisation


@dataclass(frozen=True)
class Cluster:
    """Where counting runs: one process (address None) or a Dask cluster."""

    address: str | None = None         # 'tcp://host:8786', or 'local' for a LocalCluster
    workers: int | None = None         # processes of a LocalCluster (None: one per core)
    timeout: float | None = None       # seconds a scheduler has to answer (None: a few)


@dataclass(frozen=True)
class Resources:
    """What counting may use of this machine (docs/memory-budget.md)."""

    memory: int | None = None          # bytes counting may hold (None: half of physical memory)
    temp_dir: str | None = None        # where sorted runs spill (None: the system's temp folder)


@dataclass(frozen=True)
class TrainingSettings:
    """Every setting of a training run, by concern."""

    reading: Reading = field(default_factory=Reading)
    estimation: Estimation = field(default_factory=Estimation)
    neural: Neural = field(default_factory=Neural)
    cluster: Cluster = field(default_factory=Cluster)
    resources: Resources = field(default_factory=Resources)

    @classmethod
    def of(cls, **options):
        """Settings from flat keywords (`order=3, unit="word", dask="local"`), as the CLI
        and the API name them; an unknown name raises TypeError."""
        renamed = {"model": "kind", "dask": "address", "dask_workers": "workers",
                   "dask_timeout": "timeout"}
        parts = {name: {} for name in _PARTS}
        for name, value in options.items():
            key = renamed.get(name, name)
            owner = _OWNER.get(key)
            if owner is None:
                raise TypeError(f"unknown training setting {name!r}")
            parts[owner][key] = value
        return cls(**{name: _PARTS[name](**values) for name, values in parts.items()})

    def replace(self, **options):
        """A copy with some flat keywords changed (as `of`)."""
        flat = {key: value for part in _PARTS for key, value in
                dataclasses.asdict(getattr(self, part)).items()}
        renamed = {"model": "kind", "dask": "address", "dask_workers": "workers",
                   "dask_timeout": "timeout"}
        flat.update({renamed.get(k, k): v for k, v in options.items()})
        return TrainingSettings.of(**flat)

    @property
    def padding(self):
        """The estimation's padding (see Estimation.padding)."""
        return self.estimation.padding

    def as_meta(self):
        """The settings as plain JSON values, for the model file's metadata."""
        meta = dataclasses.asdict(self)
        discounts = meta["estimation"]["discounts"]
        if discounts:
            meta["estimation"]["discounts"] = {str(k): list(v) for k, v in discounts.items()}
        if meta["resources"]["temp_dir"] is not None:
            meta["resources"]["temp_dir"] = str(meta["resources"]["temp_dir"])
        if meta["estimation"]["prune"] is not None:
            meta["estimation"]["prune"] = list(meta["estimation"]["prune"])
        return meta


_PARTS = {"reading": Reading, "estimation": Estimation, "neural": Neural, "cluster": Cluster,
          "resources": Resources}
_OWNER = {f.name: part for part, cls in _PARTS.items() for f in dataclasses.fields(cls)}
