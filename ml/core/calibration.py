"""Calibration: temperature scaling (Guo et al., 2017) and the expected calibration
error that measures it.

A branch's probabilities ``p`` become ``softmax(log(p) / T)``; ``T > 1`` softens
over-confident probabilities, ``T < 1`` sharpens timid ones (a linear SVM's margins,
for instance). ``T`` minimises the negative log-likelihood of held-out rows. The
ranking of the categories never changes, so neither does the argmax.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

__all__ = [
    "precision_curve",
    "threshold_for_precision",
    "ECE_BINS",
    "apply_temperature",
    "expected_calibration_error",
    "fit_temperature",
]

#: Bins of the reported expected calibration error.
ECE_BINS = 15
_LOW, _HIGH = 0.02, 50.0  # the temperatures searched
_EPS = 1e-12


def _log(probs_or_logits: torch.Tensor, *, logits: bool) -> torch.Tensor:
    values = probs_or_logits.double()
    return values if logits else values.clamp_min(_EPS).log()


def apply_temperature(
    probs: torch.Tensor, temperature: float, *, logits: bool = False
) -> torch.Tensor:
    """``softmax(log(probs) / T)`` (``logits=True``: ``softmax(probs / T)``), as
    float32. ``T == 1`` returns the probabilities unchanged (renormalised)."""
    scaled = _log(probs, logits=logits) / float(temperature)
    return scaled.softmax(dim=-1).float()


def _nll(log_values: torch.Tensor, y: torch.Tensor, temperature: float) -> float:
    scaled = (log_values / temperature).log_softmax(dim=-1)
    return float(-scaled.gather(1, y.view(-1, 1)).mean())


def fit_temperature(
    probs: torch.Tensor,
    y_true: torch.Tensor | Sequence[int],
    *,
    logits: bool = False,
) -> float:
    """Return the temperature that minimises the NLL of ``y_true`` under ``probs``.

    A log-spaced grid over [0.02, 50] finds the bracket, then a golden-section
    search refines it (the NLL is unimodal in ``log T``). Deterministic; 1.0 when
    there are no rows.
    """
    y = torch.as_tensor(y_true, dtype=torch.long)
    if y.numel() == 0:
        return 1.0
    values = _log(probs, logits=logits)
    grid = torch.logspace(math.log10(_LOW), math.log10(_HIGH), 61).tolist()
    losses = [_nll(values, y, t) for t in grid]
    best = min(range(len(grid)), key=lambda i: (losses[i], abs(math.log(grid[i]))))
    low = math.log(grid[max(best - 1, 0)])
    high = math.log(grid[min(best + 1, len(grid) - 1)])
    ratio = (math.sqrt(5) - 1) / 2
    a, b = low + (1 - ratio) * (high - low), low + ratio * (high - low)
    fa, fb = _nll(values, y, math.exp(a)), _nll(values, y, math.exp(b))
    for _ in range(40):
        if fa <= fb:
            high, b, fb = b, a, fa
            a = low + (1 - ratio) * (high - low)
            fa = _nll(values, y, math.exp(a))
        else:
            low, a, fa = a, b, fb
            b = low + ratio * (high - low)
            fb = _nll(values, y, math.exp(b))
    return round(math.exp((low + high) / 2), 6)


def expected_calibration_error(
    probs: torch.Tensor, y_true: torch.Tensor | Sequence[int], *, bins: int = ECE_BINS
) -> float:
    """Top-label ECE: rows binned by their top probability into ``bins`` equal-width
    bins over (0, 1]; the support-weighted mean of ``|accuracy - confidence|``.
    0.0 when there are no rows."""
    y = torch.as_tensor(y_true, dtype=torch.long)
    n = y.numel()
    if n == 0:
        return 0.0
    confidence, predicted = probs.double().max(dim=1)
    correct = (predicted == y).double()
    # bin i holds confidences in (i/bins, (i+1)/bins]
    index = (confidence * bins).ceil().long().clamp(1, bins) - 1
    total = 0.0
    for i in range(bins):
        rows = index == i
        count = int(rows.sum())
        if count:
            gap = float(correct[rows].mean() - confidence[rows].mean())
            total += count / n * abs(gap)
    return total


def precision_curve(
    probs: torch.Tensor, y_true: torch.Tensor, *, step: float = 0.01
) -> list[list[float]]:
    """``[threshold, precision, coverage]`` for thresholds 0, step, ... < 1: among the
    rows whose top probability is at least the threshold (their share: coverage), the
    share whose top category is right (precision; 1.0 when no row is covered)."""
    top, predicted = probs.max(dim=1)
    correct = predicted.eq(torch.as_tensor(y_true, dtype=torch.long))
    n = max(int(top.numel()), 1)
    curve = []
    for i in range(round(1 / step)):
        threshold = round(i * step, 4)
        kept = top >= threshold
        count = int(kept.sum())
        precision = float(correct[kept].float().mean()) if count else 1.0
        curve.append([threshold, round(precision, 4), round(count / n, 4)])
    return curve


def threshold_for_precision(
    curve: list[list[float]], target: float, *, default: float = 1.0
) -> float:
    """The lowest threshold of ``curve`` (``precision_curve``) whose precision reaches
    ``target`` with some coverage; ``default`` when none does."""
    for threshold, precision, coverage in curve:
        if coverage > 0 and precision >= target:
            return float(threshold)
    return default
