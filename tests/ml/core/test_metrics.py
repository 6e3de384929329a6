"""Weighted F1, accuracy, per-class metrics and confusion matrix."""

import pytest

from ml.core.metrics import classification_metrics, wilson_interval


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


# --- Wilson interval ---


@pytest.mark.parametrize(
    ("proportion", "n", "expected"),
    [
        # Newcombe (1998), Statistics in Medicine 17, table I (Wilson score, 95 %)
        (0.8, 10, (0.4902, 0.9433)),
        (0.0, 5, (0.0, 0.4345)),
        (1.0, 1, (0.2065, 1.0)),  # one product, right: no better than "0.21 to 1"
        (0.5, 100, (0.4038, 0.5962)),
        (0.9, 50, (0.7864, 0.9565)),
    ],
)
def test_wilson_interval_known_values(proportion, n, expected):
    low, high = wilson_interval(proportion, n)
    assert (round(low, 4), round(high, 4)) == expected


def test_wilson_interval_of_nothing_and_other_levels():
    assert wilson_interval(0.7, 0) == (0.0, 1.0)
    # a 99 % interval is wider than the 95 % one
    low95, high95 = wilson_interval(0.8, 10)
    low99, high99 = wilson_interval(0.8, 10, confidence=0.99)
    assert (round(low99, 4), round(high99, 4)) == (0.4008, 0.9599)
    assert low99 < low95 and high99 > high95
