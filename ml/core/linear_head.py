"""A linear head on frozen vectors: a multinomial logistic regression (scikit-learn)
kept as a weight matrix and a bias, so that serving is one matrix product.

Two branches use it: the sentence branch on the sentence encoder's embeddings
(:mod:`ml.core.sentence`) and the linear image branch on the backbone's pooled
features (``image_linear``, beside the specification's MLP head). Its margins are
calibrated with a temperature like every branch's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression

__all__ = ["UNKNOWN_MARGIN", "LinearHead", "fit_linear_head"]

#: The margin of a class the head never saw (below every known one).
UNKNOWN_MARGIN = -10.0


@dataclass
class LinearHead:
    """``logits = vectors @ weight + bias``."""

    labels: list[str]
    weight: np.ndarray  # [D, n_classes]
    bias: np.ndarray  # [n_classes]

    def logits(self, vectors: np.ndarray) -> torch.Tensor:
        if len(vectors) == 0:
            return torch.zeros(0, len(self.labels))
        return torch.from_numpy(
            (np.asarray(vectors, dtype=np.float32) @ self.weight + self.bias).astype(
                np.float32
            )
        )

    def resized(self, labels: Sequence[str]) -> LinearHead:
        """The head for ``labels``: a label it knows keeps its column, a new one has
        no evidence (zero weights, :data:`UNKNOWN_MARGIN`)."""
        column = {label: i for i, label in enumerate(self.labels)}
        weight = np.zeros((self.weight.shape[0], len(labels)), dtype=np.float32)
        bias = np.full(len(labels), UNKNOWN_MARGIN, dtype=np.float32)
        for k, label in enumerate(labels):
            if label in column:
                weight[:, k] = self.weight[:, column[label]]
                bias[k] = self.bias[column[label]]
        return LinearHead(labels=list(labels), weight=weight, bias=bias)

    def to_state(self) -> dict[str, torch.Tensor]:
        return {
            "weight": torch.from_numpy(self.weight),
            "bias": torch.from_numpy(self.bias),
        }

    @classmethod
    def from_state(
        cls, labels: list[str], state: dict[str, torch.Tensor]
    ) -> LinearHead:
        weight, bias = state["weight"].numpy(), state["bias"].numpy()
        if weight.shape[1:] != (len(labels),) or bias.shape != (len(labels),):
            raise ValueError("the linear head does not fit the labels")
        return cls(labels=list(labels), weight=weight, bias=bias)


def fit_linear_head(
    vectors: np.ndarray,
    y: Sequence[int],
    labels: Sequence[str],
    *,
    c: float = 10.0,
    seed: int = 0,
) -> LinearHead:
    """Logistic regression (balanced class weights, ``C=c``) on ``vectors``.
    Classes without rows get :data:`UNKNOWN_MARGIN` (never chosen over a known
    one)."""
    y_array = np.asarray(y, dtype=np.int64)
    weight = np.zeros((vectors.shape[1], len(labels)), dtype=np.float32)
    bias = np.full(len(labels), UNKNOWN_MARGIN, dtype=np.float32)
    present = np.unique(y_array)
    if len(present) == 1:
        bias[present[0]] = 0.0
    else:
        model = LogisticRegression(
            C=c, max_iter=500, class_weight="balanced", random_state=seed
        )
        model.fit(vectors, y_array)
        classes = model.classes_
        if len(classes) == 2:
            weight[:, classes[1]] = model.coef_[0] / 2
            weight[:, classes[0]] = -model.coef_[0] / 2
            bias[classes[1]] = model.intercept_[0] / 2
            bias[classes[0]] = -model.intercept_[0] / 2
        else:
            weight[:, classes] = model.coef_.T
            bias[classes] = model.intercept_
    return LinearHead(labels=list(labels), weight=weight, bias=bias)
