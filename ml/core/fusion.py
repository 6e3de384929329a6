"""Late fusion of any number of branches.

Each branch gives calibrated probabilities ``p_b`` ``[N, C]`` for the rows it can see
(the text branches need text, the image branch a usable photo). The fused
probabilities of a row are the weighted sum over the branches that row has, with
their weights renormalised to sum to 1::

    p = sum_b w_b * p_b / sum_b w_b        (b: the branches available for the row)

The weights are non-negative and sum to 1. :func:`choose_weights` picks them on
held-out rows by weighted F1 over a simplex grid; :func:`stacking_weights` is the
fitted alternative (a non-negative least-log-loss fit), measured beside it.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence

import torch

__all__ = [
    "GRID_STEP",
    "IMAGE_BRANCHES",
    "choose_weights",
    "fuse",
    "restrict",
    "shares",
    "simplex_grid",
    "stacking_weights",
    "weighted_f1_many",
]

#: Step of the simplex grid (0.05: 21 points for 2 branches, 231 for 3, 1,771 for 4,
#: 10,626 for 5).
GRID_STEP = 0.05
#: The branches that read the photo (the others read the text).
IMAGE_BRANCHES = ("image", "image_linear")
_EPS = 1e-12

Probs = Mapping[str, torch.Tensor]
Masks = Mapping[str, torch.Tensor]


def simplex_grid(n: int, step: float = GRID_STEP) -> list[tuple[float, ...]]:
    """Every ``n``-tuple of multiples of ``step`` that sums to 1, in lexicographic
    order."""
    if n < 1:
        raise ValueError("the grid needs at least one branch")
    units = round(1 / step)
    points = []
    for head in itertools.product(range(units + 1), repeat=n - 1):
        rest = units - sum(head)
        if rest >= 0:
            points.append(tuple(round(k / units, 6) for k in (*head, rest)))
    return points


def shares(
    weights: Mapping[str, float], available: Mapping[str, bool]
) -> dict[str, float]:
    """One row's effective weights: the available branches' weights renormalised to
    sum to 1 (equal shares when all of them weigh 0), rounded to 6 decimals;
    unavailable branches get 0."""
    present = [name for name in weights if available.get(name, False)]
    total = sum(float(weights[name]) for name in present)
    result = dict.fromkeys(weights, 0.0)
    for name in present:
        share = float(weights[name]) / total if total > _EPS else 1.0 / len(present)
        result[name] = round(share, 6)
    return result


def fuse(probs: Probs, available: Masks, weights: Mapping[str, float]) -> torch.Tensor:
    """Fuse branch probabilities ``{name: [N, C]}`` row by row.

    ``available[name]`` (bool ``[N]``) says which rows the branch saw; the other
    rows of ``probs[name]`` are ignored. Each row uses the weights of its available
    branches, renormalised (see :func:`shares`); a row with no branch is all zeros.
    """
    names = [name for name in weights if name in probs]
    if not names:
        raise ValueError("fusion needs at least one branch")
    first = probs[names[0]]
    w = torch.tensor([float(weights[name]) for name in names], dtype=torch.float64)
    mask = torch.stack(
        [available[name].to(torch.bool).view(-1) for name in names], dim=1
    ).double()  # [N, B]
    row_w = _row_weights(mask, w)
    stacked = torch.stack([probs[name].double() for name in names], dim=1)  # [N,B,C]
    fused = (row_w.unsqueeze(-1) * stacked).sum(dim=1)
    return fused.to(first.dtype)


def restrict(probs: torch.Tensor, allowed: Sequence[int]) -> torch.Tensor:
    """Restrict probabilities ``[..., C]`` to the classes ``allowed`` (indices): the
    other classes get 0 and the allowed ones are renormalised to sum to 1 (equal
    shares where the allowed classes had no mass at all). A product whose old
    category split into some new ones is predicted over those only."""
    indices = sorted({int(i) for i in allowed})
    if not indices:
        raise ValueError("restrict needs at least one allowed class")
    n_classes = probs.shape[-1]
    if indices[0] < 0 or indices[-1] >= n_classes:
        raise ValueError(f"allowed classes must lie in [0, {n_classes})")
    mask = torch.zeros(n_classes, dtype=probs.dtype)
    mask[indices] = 1.0
    kept = probs * mask
    totals = kept.sum(dim=-1, keepdim=True)
    uniform = mask / len(indices)
    return torch.where(totals > _EPS, kept / totals.clamp_min(_EPS), uniform)


def _row_weights(mask: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """Each row's renormalised branch weights ``[..., N, B]`` for weights ``w``
    ``[..., B]`` and availability ``mask`` ``[N, B]`` (float64): as in :func:`fuse`,
    equal shares where every available branch weighs 0."""
    row_w = mask * w.unsqueeze(-2)
    totals = row_w.sum(dim=-1, keepdim=True)
    equal = mask / mask.sum(dim=-1, keepdim=True).clamp_min(1.0)
    return torch.where(totals > _EPS, row_w / totals.clamp_min(_EPS), equal)


def weighted_f1_many(y: torch.Tensor, predictions: torch.Tensor, n_classes: int):
    """Weighted F1 (sklearn's ``average="weighted"``: per class ``2 tp / (predicted
    + true)``, weighted by support) of each row of ``predictions`` ``[K, N]``
    against ``y`` ``[N]``, from one bincount: ``[K]`` float64."""
    k = predictions.shape[0]
    offsets = torch.arange(k).unsqueeze(1) * n_classes
    predicted = torch.bincount(
        (predictions + offsets).flatten(), minlength=k * n_classes
    ).view(k, n_classes)
    hits = predictions == y
    tp = torch.bincount((predictions + offsets)[hits], minlength=k * n_classes).view(
        k, n_classes
    )
    support = torch.bincount(y, minlength=n_classes).double()
    denominator = predicted.double() + support
    f1 = torch.where(denominator > 0, 2 * tp.double() / denominator.clamp_min(1), 0)
    return (f1 * support).sum(dim=1) / max(int(y.numel()), 1)


#: Grid points scored per vectorised step, at most...
_GRID_CHUNK = 64
#: ...and at most this many fused probabilities (``K * N * C``) at once: 32 MB of
#: float64, whatever the number of rows (64 points of 34,200 rows and 27 classes
#: would be 470 MB).
_GRID_ELEMENTS = 4_000_000


def choose_weights(
    probs: Probs,
    available: Masks,
    y_true: torch.Tensor | Sequence[int],
    *,
    step: float = GRID_STEP,
) -> tuple[dict[str, float], float]:
    """Return ``(weights, weighted_f1)`` of the best point of the simplex grid.

    Branch order is the order of ``probs``. Ties in weighted F1 (common on small
    held-out sets) are broken by the lower log-loss, then by the earlier grid
    point. The grid is scored in chunks of points at once (the fused
    probabilities of up to ``_GRID_CHUNK`` points in one tensor, fewer on many
    rows so that the tensor stays under ``_GRID_ELEMENTS``): the fusion fitted on
    every training row's out-of-fold predictions scores 1,771 points on thousands
    of rows, in memory that does not grow with them.
    """
    names = list(probs)
    y = torch.as_tensor(y_true, dtype=torch.long)
    first = probs[names[0]]
    n_classes = first.shape[1]
    mask = torch.stack(
        [available[name].to(torch.bool).view(-1) for name in names], dim=1
    ).double()  # [N, B]
    stacked = torch.stack([probs[name].double() for name in names], dim=1)  # [N,B,C]
    grid = simplex_grid(len(names), step)
    chunk = max(1, min(_GRID_CHUNK, _GRID_ELEMENTS // max(1, y.numel() * n_classes)))
    best: tuple[float, float] | None = None
    chosen: tuple[float, ...] = grid[0]
    for start in range(0, len(grid), chunk):
        points = grid[start : start + chunk]
        w = torch.tensor(points, dtype=torch.float64)  # [K, B]
        row_w = _row_weights(mask, w)  # [K, N, B]
        fused = torch.einsum("knb,nbc->knc", row_w, stacked).to(first.dtype)
        f1s = weighted_f1_many(y, fused.argmax(dim=2), n_classes).tolist()
        picked = fused.gather(2, y.view(1, -1, 1).expand(len(points), -1, 1))
        nlls = (-picked.squeeze(2).double().clamp_min(_EPS).log().mean(dim=1)).tolist()
        for point, f1, nll in zip(points, f1s, nlls, strict=True):
            key = (round(f1, 12), -round(nll, 12))
            if best is None or key > best:
                best, chosen = key, point
    assert best is not None
    return dict(zip(names, chosen, strict=True)), best[0]


def stacking_weights(
    probs: Probs,
    available: Masks,
    y_true: torch.Tensor | Sequence[int],
    *,
    steps: int = 300,
) -> dict[str, float]:
    """The fitted alternative to the grid: weights on the simplex (a softmax
    parametrisation) that minimise the log-loss of the fused probabilities, by
    Adam from equal weights. Deterministic."""
    names = list(probs)
    y = torch.as_tensor(y_true, dtype=torch.long)
    theta = torch.zeros(len(names), dtype=torch.float64, requires_grad=True)
    mask = torch.stack([available[n].to(torch.bool) for n in names], dim=1).double()
    stacked = torch.stack([probs[n].double() for n in names], dim=1)
    optimizer = torch.optim.Adam([theta], lr=0.05)
    for _ in range(steps):
        row_w = mask * theta.softmax(dim=0)
        row_w = row_w / row_w.sum(dim=1, keepdim=True).clamp_min(_EPS)
        fused = (row_w.unsqueeze(-1) * stacked).sum(dim=1)
        loss = -fused.gather(1, y.view(-1, 1)).clamp_min(_EPS).log().mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    final = theta.detach().softmax(dim=0).tolist()
    return {name: round(float(w), 6) for name, w in zip(names, final, strict=True)}
