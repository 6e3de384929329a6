"""``{% validation_figure figure "weighted_f1" %}``: a validation figure with its
sample size and small-sample interval, or "not enough data" (``ml.validation``);
``metrics|as_figure`` makes one of a stored metrics dict (``n``, ``weighted_f1``,
``accuracy``), such as the gate's. ``weights|fusion_shares`` and ``name|branch_name``
show the fusion's branches."""

from django import template
from django.conf import settings
from django.utils.html import format_html

from ml.validation import figure_text
from ml.validation import validation_figure as figure_of

register = template.Library()


@register.simple_tag
def validation_figure(figure: dict | None, key: str) -> str:
    text = figure_text(figure, key)
    if figure and figure.get(key) is not None and not figure["enough_data"]:
        n = figure["n"]
        return format_html(
            '<span class="not-enough-data text-muted" title="validated on {} '
            'products, fewer than {}: the figure says little">{}</span>',
            "an unknown number of" if n is None else n,
            figure["min_products"],
            text,
        )
    value, _, detail = text.partition(" ")
    if not detail:
        return text
    return format_html(
        '{} <span class="figure-n text-muted small">{}</span>', value, detail
    )


#: How the pages name the fusion's branches.
BRANCH_NAMES = {
    "text": "BiGRU text",
    "tfidf": "TF-IDF text",
    "sentence": "sentence encoder",
    "image": "photo",
    "image_linear": "photo (linear)",
}


@register.filter
def branch_name(name: str) -> str:
    return BRANCH_NAMES.get(name, name)


@register.filter
def fusion_shares(weights: dict | None) -> str:
    """``{"text": 0.25, "tfidf": 0.75}`` -> "BiGRU text 25 % · TF-IDF text 75 %"."""
    if not weights:
        return "—"
    return " · ".join(
        f"{branch_name(name)} {round(100 * float(w))} %" for name, w in weights.items()
    )


@register.filter
def as_figure(metrics: dict | None) -> dict | None:
    return figure_of(
        metrics,
        min_products=settings.ML_MIN_VALIDATION_PRODUCTS,
        interval_below=settings.ML_VALIDATION_INTERVAL_BELOW,
    )
