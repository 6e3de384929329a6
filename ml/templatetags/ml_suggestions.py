"""The model's part of pages that other apps own, the Sell page above all: which
model suggests, how it has done lately, and the suggestions panel. Template tags, so
that catalog's views and templates never import ml."""

from django import template

from ml.selectors.model_versions import model_version_get_active
from ml.selectors.monitoring import model_status_get
from ml.selectors.predictions import prediction_get_unused

register = template.Library()


@register.simple_tag
def model_active():
    """The active model version, or None: ``{% model_active as active_model %}``."""
    return model_version_get_active()


@register.inclusion_tag("ml/_model_summary.html")
def model_summary(active_model):
    """Which model suggests, and how many of the last listings it got right; with no
    model active, the progress of the run that will activate one (polled)."""
    return model_status_get(active_model=active_model)


@register.inclusion_tag("ml/_suggestion_panel.html", takes_context=True)
def suggestion_panel(context, form):
    """The suggestions of the listing ``form``: those shown before, again, when the
    form comes back with an error; otherwise asked for as soon as the page loads if a
    title is there (a proposed product)."""
    prediction = None
    try:
        pk = int(form["prediction"].value())
    except (TypeError, ValueError):
        pass
    else:
        prediction = prediction_get_unused(pk=pk, user=context["request"].user)
    return {
        "prediction": prediction,
        "selected": _selected_suggestion(form),
        "load_now": bool(form["title"].value()) and prediction is None,
    }


def _selected_suggestion(form) -> str:
    """Which suggestion radio to tick when the form comes back: the seller's choice
    (a suggestion's category), or "other" when they chose from the list ("": the
    first one)."""
    if not form.is_bound:
        return ""
    source = form["choice_source"].value()
    if source == "suggestion":
        return str(form["choice_category"].value() or "")
    if source == "list":
        return "other"
    return str(form["category"].value() or "other")
