"""Splits: the helper that splits one labelled set, the checks run on what load_data returns, and
inputs of every kind (arrays, lists, dicts of arrays)."""

from __future__ import annotations

import numpy as np
import pytest

from sweeper.tasks import DataRequest, Splits
from sweeper.errors import TaskError
from sweeper.tasks.data import length, take


def test_split_is_stratified_seeded_and_keeps_test_apart() -> None:
    y = np.repeat(np.arange(4), 50)
    x = np.arange(200, dtype=np.float32)[:, None]
    splits = Splits.split(x, y, DataRequest(val_fraction=0.25, seed=7), test_fraction=0.2)
    assert splits.sizes() == {"train": 120, "validation": 40, "test": 40}
    assert np.bincount(splits.y_test).tolist() == [10] * 4 and np.bincount(splits.y_val).tolist() == [10] * 4
    seen = np.concatenate([splits.x_train, splits.x_val, splits.x_test]).ravel()
    assert sorted(seen.tolist()) == list(range(200))  # a partition: no sample twice, none lost
    assert splits.num_classes == 4
    again = Splits.split(x, y, DataRequest(val_fraction=0.25, seed=7))
    assert (again.x_test == splits.x_test).all()
    other = Splits.split(x, y, DataRequest(val_fraction=0.25, seed=8))
    assert not (other.x_test == splits.x_test).all()
    small = Splits.split(x, y, DataRequest(val_fraction=0.25, seed=7, train_size=40))
    assert np.bincount(small.y_train).tolist() == [10] * 4 and (small.x_test == splits.x_test).all()


def test_split_without_stratification_for_a_regression_target() -> None:
    x = np.arange(100, dtype=np.float32)[:, None]
    y = x.ravel() * 0.5
    splits = Splits.split(x, y, DataRequest(val_fraction=0.2, seed=0), stratify=False)
    assert splits.sizes() == {"train": 64, "validation": 16, "test": 20} and splits.num_classes is None
    assert (splits.y_train == splits.x_train.ravel() * 0.5).all()


def test_inputs_of_every_kind() -> None:
    texts = [f"review {i}" for i in range(10)]
    multi = {"a": np.arange(10), "b": np.arange(10) * 2}
    assert length(texts) == length(multi) == length((np.zeros(10), np.ones(10))) == 10
    assert take(texts, np.array([3, 1])) == ["review 3", "review 1"]
    assert take(multi, slice(0, 2))["b"].tolist() == [0, 2]
    splits = Splits.split(multi, np.repeat([0, 1], 5), DataRequest(val_fraction=0.25, seed=0), test_fraction=0.2)
    assert length(splits.x_train) == len(splits.y_train) and (splits.x_train["b"] == splits.x_train["a"] * 2).all()
    evaluation = splits.for_evaluation()
    assert length(evaluation.x_train) == len(splits.y_train) + len(splits.y_val)


def test_problems_name_the_split() -> None:
    x = np.zeros((10, 2))
    assert Splits(x, np.zeros(10), x[:3], np.zeros(3), x[:2], np.zeros(2)).problems() == []
    assert Splits(x, np.zeros(9), x[:3], np.zeros(3), x[:2], np.zeros(2)).problems() == [
        "the training split has 10 inputs but 9 labels"]
    assert Splits(x, np.zeros(10), x[:0], np.zeros(0), x[:2], np.zeros(3)).problems() == [
        "the validation split is empty", "the test split has 2 inputs but 3 labels"]
    assert "is not a sequence of samples" in Splits(3, np.zeros(3), x, np.zeros(10), x, np.zeros(10)).problems()[0]
    with pytest.raises(Exception, match="120 inputs but 119 labels"):
        Splits.split(np.zeros((120, 2)), np.zeros(119, dtype=int), DataRequest())


def test_a_continuous_target_is_split_as_asked_without_the_keyword() -> None:
    """scikit-learn's diabetes progression: 442 samples, a float target (and as whole numbers)."""
    from sklearn.datasets import load_diabetes

    x, y = load_diabetes(return_X_y=True)
    for target in (y, y.astype(int)):
        splits = Splits.split(x, target, DataRequest(val_fraction=0.2, seed=0))
        # 20% test, 20% of the rest validation, as for class labels: not 29% test (stratifying by
        # every distinct value held out one of each pair), and not "347 classes".
        assert splits.sizes() == {"train": 283, "validation": 71, "test": 88}
        assert splits.num_classes is None
        assert abs(splits.y_test.mean() - splits.y_train.mean()) < 10  # the old split: 148.9 vs 158.3
    with pytest.raises(TaskError, match=r"stratify=True\) needs class labels.*214 distinct values among 442 samples"):
        Splits.split(x, y, DataRequest(), stratify=True)


def test_class_labels_stay_stratified_also_as_floats() -> None:
    from sklearn.datasets import load_breast_cancer

    x, y = load_breast_cancer(return_X_y=True)
    splits = Splits.split(x, y.astype("float32"), DataRequest(seed=0))  # a sigmoid output's labels
    assert splits.num_classes == 2
    shares = [float(np.mean(part)) for part in (splits.y_train, splits.y_val, splits.y_test)]
    assert max(shares) - min(shares) < 0.01


def test_train_size_is_exact() -> None:
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    splits = Splits.split(x, y, DataRequest(train_size=400, seed=0))
    assert splits.sizes()["train"] == 400  # was 402: each class's share rounded up on its own
    assert np.bincount(splits.y_train).min() >= 38


def test_non_finite_inputs_and_labels_are_named() -> None:
    x = np.ones((20, 3), dtype="float32")
    x[2, 1] = np.nan
    x[5, 0] = np.inf
    y = np.zeros(20)
    y_val = np.array([0.0, np.nan, 1.0])
    problems = Splits(x, y, np.zeros((3, 3)), y_val, np.zeros((2, 3)), y[:2]).problems()
    assert problems == ["NaN or infinite values in x_train (2), y_val (1): drop or impute them in load_data"]
    assert Splits({"a": x}, y, {"a": np.zeros((3, 3))}, y[:3], {"a": np.zeros((2, 3))}, y[:2]).problems() == [
        "NaN or infinite values in x_train (2): drop or impute them in load_data"]


def test_string_class_labels_become_sorted_class_numbers_with_their_names_kept() -> None:
    """Issue 27: docs/tasks.md says Splits.split takes string labels; Keras cannot train on them."""
    x = np.arange(300, dtype="float32").reshape(100, 3)
    y = np.array(["dog", "cat", "cat", "bird"] * 25, dtype=object)
    splits = Splits.split(x, y, DataRequest(train_size=40, seed=3))
    assert splits.meta["classes"] == ["bird", "cat", "dog"] and splits.num_classes == 3
    for xs, ys in ((splits.x_train, splits.y_train), (splits.x_val, splits.y_val), (splits.x_test, splits.y_test)):
        assert ys.dtype == np.int32
        # Each input keeps its own label: row i of x was labelled y[i].
        assert [splits.meta["classes"][k] for k in ys] == [y[int(row[0]) // 3] for row in xs]
    assert np.bincount(splits.y_train).tolist() == [10, 20, 10]  # stratified: 1 : 2 : 1


def test_one_hot_labels_are_classes_stratified_by_their_row_and_kept_one_hot() -> None:
    y = np.eye(4, dtype="float32")[np.arange(200) % 4]
    splits = Splits.split(np.zeros((200, 2), "float32"), y, DataRequest(train_size=80))
    assert splits.num_classes == 4 and splits.y_train.shape == (80, 4)
    assert splits.y_train.sum(axis=0).tolist() == [20, 20, 20, 20]
    assert splits.y_val.sum(axis=0).tolist() == [8, 8, 8, 8]
    from sweeper.tasks.data import describe_labels, is_one_hot

    assert is_one_hot(y) and describe_labels(y, 4) == "one-hot labels of 4 classes"
    assert not is_one_hot(np.full((10, 4), 0.25))  # probabilities, not one-hot
