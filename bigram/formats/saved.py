"""What a trained model is saved as, whatever the file: the model, its counts per split, its
metadata and training items (SavedModel), and the metadata every file states.

Model files (modelfile.py) and ARPA files (arpa_model.py) both load into a SavedModel;
this module is what they share, so neither needs the other.
"""

from dataclasses import dataclass, field
from datetime import datetime, timezone

from bigram.version import __version__

FORMAT = "bigram-model"
FORMAT_VERSION = 2
SPLITS = ("train", "dev", "test")


@dataclass
class SavedModel:
    """A model with what it was trained on: counts per split, metadata, training items."""

    model: object
    data_counts: dict                      # split -> NgramIndex of that split's counts
    meta: dict = field(default_factory=dict)
    train_items: str | None = None          # training items joined by newlines, if kept

    @property
    def vocabulary(self):
        """The model's vocabulary."""
        return self.model.vocabulary

    def training_items(self):
        """The set of training items, or None if the file does not keep them."""
        if self.train_items is None:
            return None
        from bigram.text.sources import items_of_text

        return set(items_of_text(self.train_items))


def tokens_of(index):
    """Predictions counted in an index (each scored once, by its whole window)."""
    return index.predictions()


def model_meta(model):
    """What every model file states about its model."""
    vocabulary = model.vocabulary
    return {"format": FORMAT, "format_version": FORMAT_VERSION, "kind": model.kind,
            "order": model.order, "unit": vocabulary.unit, "unk": vocabulary.unk,
            "padding": model.padding, "vocabulary_size": len(vocabulary),
            "hyperparameters": model.hyperparameters()}


def build_meta(model, data, extra=None):
    """Metadata for a freshly trained model."""
    meta = {
        **model_meta(model),
        "vocabulary_control": data.vocabulary_control,
        "data": {
            "sources": data.sources,
            "sha256": data.sha256,
            "bytes": data.bytes_read,
            "items": {s: int(n) for s, n in data.items.items()},
            "tokens": {s: tokens_of(index) for s, index in data.counts.items()},
        },
        "split": data.split,
    }
    meta.update(extra or {})
    return stamp(meta)


def stamp(meta):
    """Record when, and by which bigram, a model file's metadata was made."""
    meta["created"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    meta["bigram_version"] = __version__
    return meta
