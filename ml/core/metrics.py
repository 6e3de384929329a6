"""Classification metrics: weighted F1 (the headline metric) and accuracy beside it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
)

__all__ = ["classification_metrics", "weighted_f1"]


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
