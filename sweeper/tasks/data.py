"""What a task's ``load_data`` is asked for (``DataRequest``) and what it returns (``Splits``).

Inputs may be a NumPy array, a list (texts, say), or a dict or tuple of arrays for a model with
several inputs; ``length`` and ``take`` treat all of them alike, so neither the training loop nor
the checks care which.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sweeper.errors import TaskError


@dataclass(frozen=True)
class DataRequest:
    """Everything the prepared data depends on; equal requests share one loaded copy per process.

    ``options`` are the task's declared options, validated and with their defaults filled in.
    ``files`` maps each archive the task declared (``Task.archives``) to its local path, fetched
    and verified by sweeper (from ``SWEEPER_DATA_MIRROR`` or the official origin); ``cache_dir`` is
    a folder shared by the worker processes of this machine for anything derived from them.
    """

    train_size: int | None = None
    val_fraction: float = 0.2
    seed: int = 0
    options: Mapping[str, Any] = field(default_factory=dict)
    files: Mapping[str, Path] = field(default_factory=dict, compare=False)
    cache_dir: Path = field(default=Path(".sweeper-cache"), compare=False)

    def __hash__(self) -> int:
        return hash((self.train_size, self.val_fraction, self.seed, tuple(sorted(self.options.items()))))

    def file(self, filename: str) -> Path:
        """The local path of a declared archive, by its file name."""
        try:
            return self.files[filename]
        except KeyError:
            raise TaskError(
                f"load_data asked for {filename!r}, which the task's archives() does not declare "
                f"(declared: {', '.join(self.files) or 'none'}): return it from archives()"
            ) from None


def length(x: Any) -> int:
    """Number of samples in an input or label collection."""
    if isinstance(x, Mapping):
        return length(next(iter(x.values()))) if x else 0
    if isinstance(x, tuple):
        return length(x[0]) if x else 0
    return len(x)


def take(x: Any, index: np.ndarray | slice) -> Any:
    """The samples of ``x`` at ``index`` (an index array or a slice), keeping its kind."""
    if isinstance(x, Mapping):
        return {k: take(v, index) for k, v in x.items()}
    if isinstance(x, tuple):
        return tuple(take(v, index) for v in x)
    if isinstance(x, np.ndarray) or hasattr(x, "__array__") and not isinstance(x, list):
        return x[index]
    if isinstance(index, slice):
        return list(x[index])
    return [x[int(i)] for i in index]


def concat(a: Any, b: Any) -> Any:
    if isinstance(a, Mapping):
        return {k: concat(a[k], b[k]) for k in a}
    if isinstance(a, tuple):
        return tuple(concat(x, y) for x, y in zip(a, b))
    if isinstance(a, np.ndarray):
        return np.concatenate([a, b])
    return list(a) + list(b)


def non_finite(x: Any) -> int:
    """How many NaN or infinite values a numeric input or label collection holds (texts: 0)."""
    if isinstance(x, Mapping):
        return sum(non_finite(v) for v in x.values())
    if isinstance(x, tuple):
        return sum(non_finite(v) for v in x)
    if not hasattr(x, "dtype") or getattr(x.dtype, "kind", "") not in "fc":
        return 0
    return int(np.size(x) - np.count_nonzero(np.isfinite(np.asarray(x))))


def shape_of(x: Any) -> str:
    """E.g. ``(1149, 64) float32``, ``1149 items`` or ``{a: (10, 3) float32, ...}``."""
    if isinstance(x, Mapping):
        return "{" + ", ".join(f"{k}: {shape_of(v)}" for k, v in x.items()) + "}"
    if isinstance(x, tuple):
        return "(" + ", ".join(shape_of(v) for v in x) + ")"
    if hasattr(x, "shape") and hasattr(x, "dtype"):
        return f"{tuple(int(d) for d in x.shape)} {x.dtype}"
    return f"{len(x)} items"


@dataclass
class Splits:
    """Train, validation and test inputs with their labels. Trials train on train and are scored on
    validation; ``sweeper evaluate`` re-trains on train + validation and scores on test."""

    x_train: Any
    y_train: Any
    x_val: Any
    y_val: Any
    x_test: Any
    y_test: Any
    # Number of classes, for a classifier's output layer (None for other targets).
    num_classes: int | None = None
    # Anything else the task's model or extra metrics need, e.g. the utterance of each window.
    meta: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def split(
        cls,
        x: Any,
        y: Any,
        request: DataRequest,
        *,
        test_fraction: float = 0.2,
        stratify: bool | None = None,
        num_classes: int | None = None,
        meta: dict[str, Any] | None = None,
    ) -> Splits:
        """Train / validation / test from one labelled set: ``test_fraction`` of it is the test
        split and ``request.val_fraction`` of the rest validation, shuffled with ``request.seed``;
        the training split is then subsampled to exactly ``request.train_size``.

        Class labels are stratified (every split keeps the class proportions); a continuous
        target (a regression: fractional values, or so many distinct values that most occur once)
        is split at random. ``stratify`` overrides that guess: ``False`` for a random split of class
        labels; ``True`` on a continuous target is an error."""
        from sweeper.tasks.archives import stratified_split, stratified_subsample

        if not 0 < test_fraction < 1:
            raise ValueError(f"test_fraction must be between 0 and 1, got {test_fraction}")
        labels = np.asarray(y)
        n = length(x)
        if len(labels) != n:
            raise TaskError(f"load_data has {n} inputs but {len(labels)} labels: give one label per input")
        meta = dict(meta or {})
        names = None
        if labels.ndim == 1 and labels.dtype.kind in "USO" and n:
            # Keras trains on numbers: class names become 0..K-1 in sorted order, and the names
            # travel in meta["classes"] (class k is meta["classes"][k]).
            names, labels = encode_class_names(labels)
            meta.setdefault("classes", names)
        # One-hot rows are stratified by their class (and kept one-hot, for a categorical loss).
        one_hot = is_one_hot(labels)
        strata = labels.argmax(axis=1) if one_hot else labels
        classes = are_class_labels(strata)
        if stratify and not classes:
            raise TaskError(
                f"Splits.split(stratify=True) needs class labels, but y looks like a continuous target "
                f"({_describe_target(labels)}): leave stratify out (a continuous target is split at random)"
            )
        if stratify is None:
            stratify = classes
        if stratify:
            rest, test = stratified_split(strata, test_fraction, request.seed)
            train_pos, val_pos = stratified_split(strata[rest], request.val_fraction, request.seed + 1)
            keep = stratified_subsample(strata[rest[train_pos]], request.train_size, request.seed)
        else:
            order = np.random.default_rng(request.seed).permutation(n)
            n_test = max(1, int(round(n * test_fraction)))
            test, rest = order[:n_test], order[n_test:]
            n_val = max(1, int(round(len(rest) * request.val_fraction)))
            val_pos, train_pos = np.arange(n_val), np.arange(n_val, len(rest))
            keep = np.arange(min(len(train_pos), request.train_size or len(train_pos)))
        train, val = rest[train_pos][keep], rest[val_pos]
        if num_classes is None and names is not None:
            num_classes = len(names)
        elif num_classes is None and one_hot:
            num_classes = labels.shape[1]
        elif num_classes is None and classes and labels.dtype.kind in "biuf" and n:
            num_classes = int(labels.max()) + 1
        return cls(
            x_train=take(x, train), y_train=labels[train],
            x_val=take(x, val), y_val=labels[val],
            x_test=take(x, test), y_test=labels[test],
            num_classes=num_classes, meta=meta,
        )

    def problems(self) -> list[str]:
        """What is wrong with these splits, as short phrases (empty when they are usable)."""
        found, non_finite_in = [], []
        for split in ("train", "val", "test"):
            x, y = getattr(self, f"x_{split}"), getattr(self, f"y_{split}")
            try:
                n_x, n_y = length(x), length(y)
            except TypeError:
                found.append(f"x_{split} or y_{split} is not a sequence of samples ({type(x).__name__}, {type(y).__name__})")
                continue
            if n_x != n_y:
                found.append(f"the {_SPLIT_NAMES[split]} split has {n_x} inputs but {n_y} labels")
            elif n_x == 0 and split != "test":
                found.append(f"the {_SPLIT_NAMES[split]} split is empty")
            for name, values in ((f"x_{split}", x), (f"y_{split}", y)):
                bad = non_finite(values)
                if bad:
                    non_finite_in.append(f"{name} ({bad})")
        if non_finite_in:
            found.append(f"NaN or infinite values in {', '.join(non_finite_in)}: drop or impute them in load_data")
        return found

    def for_evaluation(self) -> Splits:
        """Train on train + validation and score on the test split (``sweeper evaluate``): the
        configuration is already chosen, so the test split selects nothing."""
        return Splits(
            x_train=concat(self.x_train, self.x_val),
            y_train=concat(np.asarray(self.y_train), np.asarray(self.y_val)),
            x_val=self.x_test,
            y_val=self.y_test,
            x_test=self.x_test,
            y_test=self.y_test,
            num_classes=self.num_classes,
            meta={**self.meta, "evaluation": True},
        )

    def sizes(self) -> dict[str, int]:
        return {"train": length(self.y_train), "validation": length(self.y_val), "test": length(self.y_test)}


_SPLIT_NAMES = {"train": "training", "val": "validation", "test": "test"}
# Above this share of samples whose value occurs only once, integer values are a quantity (a
# count, a price in whole units), not classes: no class of one sample can be split.
_SINGLETON_SHARE = 0.05


def are_class_labels(labels: np.ndarray) -> bool:
    """Whether ``labels`` look like classes (to stratify by) rather than a continuous target: one
    label per sample, whole numbers (or strings, booleans), most values seen more than once."""
    if labels.ndim != 1 or len(labels) == 0:
        return labels.ndim == 1
    if labels.dtype.kind == "f":
        if not np.isfinite(labels).all() or not (labels == np.round(labels)).all():
            return False
    elif labels.dtype.kind not in "biuUSO":
        return False
    _, counts = np.unique(labels, return_counts=True)
    return len(counts) <= len(labels) / 2 and (counts == 1).sum() <= _SINGLETON_SHARE * len(labels)


def encode_class_names(labels: np.ndarray) -> tuple[list[Any], np.ndarray]:
    """(the sorted class names, each label as its class's index, int32)."""
    try:
        names, codes = np.unique(labels, return_inverse=True)
    except TypeError:  # an object array mixing kinds (strings and numbers): compare as text
        names, codes = np.unique(labels.astype(str), return_inverse=True)
    return [n.item() if hasattr(n, "item") else n for n in names], codes.astype("int32").reshape(-1)


def is_one_hot(labels: np.ndarray) -> bool:
    """Whether ``labels`` are one-hot rows: 2-D, at least two columns, each row 0s and one 1."""
    if labels.ndim != 2 or labels.shape[1] < 2 or not len(labels) or labels.dtype.kind not in "biuf":
        return False
    return bool(np.isin(labels, (0, 1)).all() and (labels.sum(axis=1) == 1).all())


def describe_labels(labels: np.ndarray, num_classes: int | None) -> str:
    """How ``sweeper check`` names the labels: classes, one-hot classes, or a continuous target."""
    if is_one_hot(labels):
        return f"one-hot labels of {labels.shape[1]} classes"
    if num_classes:
        return f"{num_classes} classes"
    return "class labels" if are_class_labels(labels) else "a continuous target"


def _describe_target(labels: np.ndarray) -> str:
    if labels.ndim != 1:
        return f"shape {labels.shape}"
    return f"{len(np.unique(labels))} distinct values among {len(labels)} samples"


def describe_inputs(splits: Splits) -> Sequence[str]:
    """One line per split: its input shape and label count (``sweeper check``)."""
    return [
        f"{name:<10} x {shape_of(getattr(splits, 'x_' + key))}, y {shape_of(getattr(splits, 'y_' + key))}"
        for name, key in (("train", "train"), ("validation", "val"), ("test", "test"))
    ]
