"""How far a model's validation figures can be trusted: each figure with its sample
size (n), "not enough data" below a minimum, and a 95 % interval on small samples. A
pure function of the stored metrics (``ModelVersion.metrics``: ``{"fused", "text",
"image"}``, each ``classification_metrics`` output or None) and the thresholds; the
models read the thresholds from the settings (``ML_MIN_VALIDATION_PRODUCTS``,
``ML_VALIDATION_INTERVAL_BELOW``)."""

from ml.core.metrics import wilson_interval

BRANCHES = ("fused", "text", "image")
CONFIDENCE = 0.95


def validation_figure(
    metrics: dict | None, *, min_products: int, interval_below: int
) -> dict | None:
    """One branch's figures: ``n`` (None when not recorded), ``enough_data`` (n known
    and at least ``min_products``), ``weighted_f1``, ``accuracy`` (the stored numbers,
    always kept) and their 95 % Wilson intervals (``weighted_f1_interval``,
    ``accuracy_interval``: ``(low, high)``) when ``n`` is under ``interval_below``,
    None otherwise. None for a branch that was not measured."""
    if not metrics:
        return None
    n = metrics.get("n")
    n = int(n) if isinstance(n, int | float) else None
    figure = {
        "n": n,
        "enough_data": n is not None and n >= min_products,
        "min_products": min_products,
        "weighted_f1": metrics.get("weighted_f1"),
        "accuracy": metrics.get("accuracy"),
        "weighted_f1_interval": None,
        "accuracy_interval": None,
    }
    if n is not None and 0 < n < interval_below:
        for key in ("weighted_f1", "accuracy"):
            if figure[key] is not None:
                figure[f"{key}_interval"] = wilson_interval(
                    figure[key], n, confidence=CONFIDENCE
                )
    return figure


def validation_figures(
    metrics: dict | None, *, min_products: int, interval_below: int
) -> dict:
    """``{"fused", "text", "image"}``: :func:`validation_figure` of each branch, plus
    ``n`` and ``enough_data`` of the fused (headline) figures (n None and
    enough_data False when the run recorded no fused figures)."""
    metrics = metrics or {}
    figures = {
        branch: validation_figure(
            metrics.get(branch),
            min_products=min_products,
            interval_below=interval_below,
        )
        for branch in BRANCHES
    }
    fused = figures["fused"] or {}
    figures["n"] = fused.get("n")
    figures["enough_data"] = bool(fused.get("enough_data"))
    figures["min_products"] = min_products
    return figures


def too_few_validation_products_warning(n: int | None, *, min_products: int) -> str:
    """The warning a model validated on fewer than ``min_products`` products carries
    ("" when it has enough)."""
    if n is not None and n >= min_products:
        return ""
    count = "an unknown number of" if n is None else str(n)
    noun = "product" if n == 1 else "products"
    return (
        f"validated on {count} {noun} only (fewer than {min_products}): its "
        "F1 and accuracy say little"
    )


def figure_text(figure: dict | None, key: str) -> str:
    """One figure as staff read it: ``"0.812 (95 % CI 0.701–0.889, n=45)"`` on a small
    sample, ``"0.812 (n=1,234)"`` on a large one, ``"not enough data (n=1)"`` under
    the minimum (never the number), ``"—"`` when not measured."""
    if not figure or figure.get(key) is None:
        return "—"
    n = figure["n"]
    n_text = "n unknown" if n is None else f"n={n:,}"
    if not figure["enough_data"]:
        return f"not enough data ({n_text})"
    interval = figure.get(f"{key}_interval")
    if interval is not None:
        low, high = interval
        return f"{figure[key]:.3f} (95 % CI {low:.3f}–{high:.3f}, {n_text})"
    return f"{figure[key]:.3f} ({n_text})"
