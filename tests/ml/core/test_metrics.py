"""Weighted F1, accuracy, per-class metrics and confusion matrix."""

import pytest

from ml.core.metrics import classification_metrics


def test_classification_metrics_exact_values():
    y_true = ["a", "a", "a", "b", "b", "c"]
    y_pred = ["a", "a", "b", "b", "b", "a"]

    metrics = classification_metrics(y_true, y_pred, labels=["a", "b", "c"])

    assert metrics["n"] == 6
    assert metrics["accuracy"] == pytest.approx(4 / 6)
    # f1: a = 2/3, b = 0.8, c = 0 -> weighted (3*2/3 + 2*0.8 + 0) / 6
    assert metrics["weighted_f1"] == pytest.approx((2 + 1.6) / 6)
    assert metrics["per_class"]["a"] == pytest.approx(
        {"f1": 2 / 3, "precision": 2 / 3, "recall": 2 / 3, "support": 3}
    )
    assert metrics["per_class"]["c"]["support"] == 1
    assert metrics["confusion_matrix"] == [[2, 1, 0], [0, 2, 0], [1, 0, 0]]
    assert metrics["labels"] == ["a", "b", "c"]


def test_classification_metrics_of_nothing():
    metrics = classification_metrics([], [], labels=["a", "b"])

    assert metrics["n"] == 0
    assert metrics["weighted_f1"] == 0.0
    assert metrics["confusion_matrix"] == [[0, 0], [0, 0]]
