"""Classification metrics: weighted F1 (the headline metric) and accuracy beside it,
and the Wilson interval that says how far a figure measured on few products can be
trusted."""

from __future__ import annotations

import math
from collections.abc import Sequence
from statistics import NormalDist
from typing import Any

from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
)

__all__ = ["classification_metrics", "weighted_f1", "wilson_interval"]


def weighted_f1(y_true: Sequence[Any], y_pred: Sequence[Any]) -> float:
    """Support-weighted F1 (``sklearn`` ``average="weighted"``); 0.0 when empty."""
    if len(y_true) == 0:
        return 0.0
    return float(f1_score(y_true, y_pred, average="weighted", zero_division=0))


def classification_metrics(
    y_true: Sequence[Any], y_pred: Sequence[Any], *, labels: Sequence[Any]
) -> dict[str, Any]:
    """Return JSON-ready metrics of predictions ``y_pred`` against ``y_true``.

    Keys: ``n``, ``accuracy``, ``weighted_f1``, ``per_class``
    (``{label: {"f1", "precision", "recall", "support"}}``),
    ``confusion_matrix`` (rows = true, columns = predicted, in ``labels`` order)
    and ``labels``. Weighted F1 is averaged over the classes present in
    ``y_true`` (sklearn's definition), so unseen labels do not drag it down.
    """
    labels = list(labels)
    n = len(y_true)
    if n == 0:
        return {
            "n": 0,
            "accuracy": 0.0,
            "weighted_f1": 0.0,
            "per_class": {
                str(label): {"f1": 0.0, "precision": 0.0, "recall": 0.0, "support": 0}
                for label in labels
            },
            "confusion_matrix": [[0] * len(labels) for _ in labels],
            "labels": [str(label) for label in labels],
        }
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=labels, zero_division=0
    )
    matrix = confusion_matrix(y_true, y_pred, labels=labels)
    return {
        "n": n,
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "weighted_f1": weighted_f1(y_true, y_pred),
        "per_class": {
            str(label): {
                "f1": float(f1[i]),
                "precision": float(precision[i]),
                "recall": float(recall[i]),
                "support": int(support[i]),
            }
            for i, label in enumerate(labels)
        },
        "confusion_matrix": matrix.astype(int).tolist(),
        "labels": [str(label) for label in labels],
    }


def wilson_interval(
    proportion: float, n: int, *, confidence: float = 0.95
) -> tuple[float, float]:
    """The Wilson score interval of a proportion measured on ``n`` products.

    Exact for accuracy (the share of right answers). Applied to a weighted F1 it is an
    approximation, as if the F1 were a proportion of ``n`` products: F1 is not a
    binomial share, but the interval has the right width for the sample and, unlike a
    bootstrap of the validation predictions, does not collapse to a point when every
    one of a handful of products is right (1 product right of 1: 0.207 to 1, not
    1 to 1). ``proportion`` is clipped to [0, 1]; ``n`` of 0 gives (0, 1).
    """
    if n <= 0:
        return 0.0, 1.0
    p = min(max(float(proportion), 0.0), 1.0)
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    z2 = z * z
    denominator = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denominator
    lower = 0.0 if p == 0.0 else max(0.0, centre - half)
    upper = 1.0 if p == 1.0 else min(1.0, centre + half)
    return lower, upper
