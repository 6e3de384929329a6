"""The fusion stage of a training run: per-branch temperatures, the fusion weights
and the fused temperature, fitted on held-out rows, with honest figures.

Everything is fitted on the run's fusion rows (never used for early stopping). The
reported validation figures are cross-fitted: the rows are cut in two, everything is
fitted on one half and scored on the other, and the other way round, so that no
figure comes from weights chosen on the rows it is measured on. The stored
temperatures and weights are then fitted on all the fusion rows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from ml.core.calibration import (
    apply_temperature,
    expected_calibration_error,
    fit_temperature,
    precision_curve,
)
from ml.core.fusion import GRID_STEP, choose_weights, fuse, stacking_weights
from ml.core.metrics import weighted_f1

__all__ = ["BranchScores", "FusionFit", "calibrated", "fit_fusion"]


@dataclass(frozen=True)
class BranchScores:
    """One branch on the fusion rows: probabilities (or margins: ``logits=True``)
    ``[N, C]`` and which rows it saw (bool ``[N]``)."""

    values: torch.Tensor
    available: torch.Tensor
    logits: bool = False


@dataclass
class FusionFit:
    """What the bundle stores (``weights``, ``temperatures``, ``fused_temperature``)
    and the cross-fitted figures of the fusion rows."""

    weights: dict[str, float]
    temperatures: dict[str, float]
    fused_temperature: float
    probs: torch.Tensor  # cross-fitted calibrated fused probabilities [N, C]
    branch_probs: dict[str, torch.Tensor]  # cross-fitted calibrated, per branch
    report: dict[str, Any] = field(default_factory=dict)

    def as_metadata(self) -> dict[str, Any]:
        return {
            "branches": list(self.weights),
            "weights": dict(self.weights),
            "temperatures": dict(self.temperatures),
            "fused_temperature": self.fused_temperature,
        }


def calibrated(
    branches: Mapping[str, BranchScores], temperatures: Mapping[str, float]
) -> dict[str, torch.Tensor]:
    """Each branch's probabilities after its temperature."""
    return {
        name: apply_temperature(b.values, temperatures.get(name, 1.0), logits=b.logits)
        for name, b in branches.items()
    }


def _fit(
    branches: Mapping[str, BranchScores], y: torch.Tensor, rows: torch.Tensor
) -> tuple[dict[str, float], dict[str, float], float]:
    temperatures = {}
    for name, b in branches.items():
        seen = rows & b.available
        temperatures[name] = fit_temperature(b.values[seen], y[seen], logits=b.logits)
    probs = calibrated(branches, temperatures)
    sub = {name: p[rows] for name, p in probs.items()}
    available = {name: b.available[rows] for name, b in branches.items()}
    weights, _ = choose_weights(sub, available, y[rows], step=GRID_STEP)
    fused = fuse(sub, available, weights)
    return weights, temperatures, fit_temperature(fused, y[rows])


def _apply(
    branches: Mapping[str, BranchScores],
    weights: Mapping[str, float],
    temperatures: Mapping[str, float],
    fused_temperature: float,
) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
    """(raw fused, calibrated fused, calibrated branches) on every row."""
    available = {name: b.available for name, b in branches.items()}
    raw = fuse(calibrated(branches, {}), available, weights)  # every T = 1
    probs = calibrated(branches, temperatures)
    fused = apply_temperature(fuse(probs, available, weights), fused_temperature)
    return raw, fused, probs


def _halves(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    first = torch.zeros(n, dtype=torch.bool)
    first[order[: n // 2]] = True
    return first, ~first


def fit_fusion(
    branches: Mapping[str, BranchScores],
    y_true: torch.Tensor | Sequence[int],
    *,
    seed: int = 0,
) -> FusionFit:
    """Fit temperatures and weights on all rows; cross-fit them for the figures.

    ``report`` holds ``weighted_f1`` (grid weights, cross-fitted),
    ``stacking_weighted_f1`` (the fitted alternative, cross-fitted the same way),
    ``ece_before`` (fused without any temperature) and ``ece_after`` (calibrated),
    both on 15 bins, and ``precision_curve`` (``calibration.precision_curve`` of the
    cross-fitted fused probabilities).
    """
    y = torch.as_tensor(y_true, dtype=torch.long)
    n = y.numel()
    every = torch.ones(n, dtype=torch.bool)
    weights, temperatures, fused_t = _fit(branches, y, every)
    names = list(branches)
    num_classes = next(iter(branches.values())).values.shape[1]
    raw = torch.zeros(n, num_classes)
    cross = torch.zeros(n, num_classes)
    stacked = torch.zeros(n, num_classes)
    cross_branches = {name: torch.zeros(n, num_classes) for name in names}
    first, second = _halves(n, seed)
    if n >= 4 and bool(first.any()) and bool(second.any()):
        folds = [(first, second), (second, first)]
    else:  # too few rows to cut: in-sample figures
        folds = [(every, every)]
    for fit_rows, score_rows in folds:
        w, t, ft = _fit(branches, y, fit_rows)
        r, fused, probs = _apply(branches, w, t, ft)
        raw[score_rows], cross[score_rows] = r[score_rows], fused[score_rows]
        for name in names:
            cross_branches[name][score_rows] = probs[name][score_rows]
        available = {name: b.available for name, b in branches.items()}
        sw = stacking_weights(
            {name: p[fit_rows] for name, p in probs.items()},
            {name: a[fit_rows] for name, a in available.items()},
            y[fit_rows],
        )
        stacked[score_rows] = fuse(probs, available, sw)[score_rows]
    report = {
        "weighted_f1": weighted_f1(y.tolist(), cross.argmax(dim=1).tolist()),
        "stacking_weighted_f1": weighted_f1(y.tolist(), stacked.argmax(dim=1).tolist()),
        "ece_before": expected_calibration_error(raw, y),
        "ece_after": expected_calibration_error(cross, y),
        "cross_fitted": len(folds) == 2,
        # Precision and coverage of the calibrated fused top-1 by threshold, for
        # routing by confidence (``calibration.threshold_for_precision``).
        "precision_curve": precision_curve(cross, y),
    }
    return FusionFit(
        weights=weights,
        temperatures=temperatures,
        fused_temperature=fused_t,
        probs=cross,
        branch_probs=cross_branches,
        report=report,
    )
