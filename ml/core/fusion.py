"""Late fusion of the text and image branches.

``p = w * p_text + (1 - w) * p_image`` where both branches are available; a
product without a (usable) photo gets ``p_text``, one without text ``p_image``.
``w`` is chosen on the validation split by weighted F1.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ml.core.metrics import weighted_f1

__all__ = ["DEFAULT_GRID", "fuse", "choose_fusion_weight"]

#: 0.0, 0.05, ..., 1.0
DEFAULT_GRID: tuple[float, ...] = tuple(round(i * 0.05, 2) for i in range(21))


def fuse(
    p_text: torch.Tensor,
    p_image: torch.Tensor | None,
    w: float,
    has_text: torch.Tensor,
    has_image: torch.Tensor,
) -> torch.Tensor:
    """Combine branch probabilities ``[N, C]`` row by row.

    Rows with text and image: ``w * p_text + (1 - w) * p_image``; image only:
    ``p_image``; otherwise (text only, or neither): ``p_text``.
    """
    if p_image is None:
        return p_text.clone()
    has_text = has_text.to(torch.bool).view(-1, 1)
    has_image = has_image.to(torch.bool).view(-1, 1)
    both = w * p_text + (1.0 - w) * p_image
    fused = torch.where(has_image, both, p_text)
    return torch.where(has_image & ~has_text, p_image, fused)


def choose_fusion_weight(
    p_text: torch.Tensor,
    p_image: torch.Tensor,
    y_true: torch.Tensor | Sequence[int],
    *,
    grid: Sequence[float] = DEFAULT_GRID,
    has_text: torch.Tensor | None = None,
    has_image: torch.Tensor | None = None,
) -> tuple[float, float]:
    """Return ``(w, weighted_f1)`` of the best weight in ``grid``.

    Rows are fused with :func:`fuse` (``has_text`` / ``has_image`` default to
    all true). Ties in weighted F1 (common on small validation sets) are broken
    by the lower validation log-loss, then by the smaller ``w``.
    """
    y = torch.as_tensor(y_true, dtype=torch.long)
    n = y.numel()
    has_text = torch.ones(n, dtype=torch.bool) if has_text is None else has_text
    has_image = torch.ones(n, dtype=torch.bool) if has_image is None else has_image
    best: tuple[float, float, float] | None = None  # (f1, -nll, -w)
    for w in grid:
        probs = fuse(p_text, p_image, float(w), has_text, has_image)
        f1 = weighted_f1(y.tolist(), probs.argmax(dim=1).tolist())
        picked = probs.gather(1, y.view(-1, 1)).clamp_min(1e-12)
        nll = float(-picked.log().mean()) if n else 0.0
        key = (round(f1, 12), -round(nll, 12), -float(w))
        if best is None or key > best:
            best = key
    assert best is not None, "grid must not be empty"
    return -best[2], best[0]
