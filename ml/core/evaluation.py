"""Scoring a trained model on labelled products it has not seen: the fused prediction
and each branch on its own, plus a confusion-matrix picture. No Django here."""

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ml.core.inference import Predictor
from ml.core.metrics import classification_metrics


def evaluate_items(
    predictor: Predictor,
    items: Sequence[Mapping[str, Any]],
    *,
    batch_size: int = 64,
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Predict every item (``title``, ``description``, ``image``, ``label``) and
    return ``{"n", "accuracy", "weighted_f1", "per_class", "confusion_matrix",
    "labels", "branches": {"text": {...}, "image": {...}, ...}}``: every branch of the
    bundle (``text`` and ``image`` always, empty when absent). A branch is scored on
    the items it could see (the image branch on items with a photo only)."""
    y_true: list[str] = []
    fused: list[str] = []
    branch_true: dict[str, list[str]] = {"text": [], "image": []}
    branch_pred: dict[str, list[str]] = {"text": [], "image": []}
    for start in range(0, len(items), batch_size):
        chunk = items[start : start + batch_size]
        for item, result in zip(
            chunk,
            predictor.predict_batch(chunk, top_k=1, all_branches=True),
            strict=True,
        ):
            label = str(item["label"])
            y_true.append(label)
            fused.append(result.top[0][0])
            for name, best in result.branch_top.items():
                branch_true.setdefault(name, [])
                branch_pred.setdefault(name, [])
                if best:
                    branch_true[name].append(label)
                    branch_pred[name].append(best[0])
        if progress:
            progress(len(chunk))
    labels = sorted(set(predictor.labels) | set(y_true))
    report = classification_metrics(y_true, fused, labels=labels)
    report["branches"] = {
        name: _branch(branch_true[name], branch_pred[name], labels)
        for name in branch_true
    }
    return report


def _branch(y_true: list[str], y_pred: list[str], labels: list[str]) -> dict[str, Any]:
    metrics = classification_metrics(y_true, y_pred, labels=labels)
    return {
        "n": metrics["n"],
        "accuracy": metrics["accuracy"],
        "weighted_f1": metrics["weighted_f1"],
        "per_class": metrics["per_class"],
    }


def confusion_matrix_png(
    report: Mapping[str, Any], path: Path, *, names: Mapping[str, str] | None = None
) -> Path:
    """Draw the report's confusion matrix (rows true, columns predicted) as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = report["labels"]
    ticks = [(names or {}).get(label, label) for label in labels]
    matrix = report["confusion_matrix"]
    size = max(6.0, 0.35 * len(labels) + 3)
    fig, ax = plt.subplots(figsize=(size, size))
    ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(labels)), ticks, rotation=90, fontsize=7)
    ax.set_yticks(range(len(labels)), ticks, fontsize=7)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(
        f"n={report['n']}  accuracy={report['accuracy']:.3f}  "
        f"weighted F1={report['weighted_f1']:.3f}"
    )
    for i, row in enumerate(matrix):
        for j, value in enumerate(row):
            if value:
                ax.text(j, i, str(value), ha="center", va="center", fontsize=6)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
