"""How far validation figures can be trusted (``ml.validation``): pure functions,
no database."""

import pytest

from ml.validation import (
    figure_text,
    too_few_validation_products_warning,
    validation_figure,
    validation_figures,
)

RULES = {"min_products": 30, "interval_below": 200}


def test_one_product_is_not_enough_data_whatever_its_score():
    figures = validation_figures(
        {"fused": {"n": 1, "weighted_f1": 1.0, "accuracy": 1.0}, "text": None}, **RULES
    )
    assert (figures["n"], figures["enough_data"]) == (1, False)
    assert figures["text"] is None and figures["image"] is None
    fused = figures["fused"]
    # The numbers are kept (the API gives them), with their interval
    assert (fused["weighted_f1"], fused["accuracy"]) == (1.0, 1.0)
    assert [round(x, 4) for x in fused["accuracy_interval"]] == [0.2065, 1.0]
    # But they are never shown as a figure
    assert figure_text(fused, "weighted_f1") == "not enough data (n=1)"
    assert figure_text(fused, "accuracy") == "not enough data (n=1)"


def test_a_small_sample_shows_its_interval_and_a_large_one_only_its_n():
    small = validation_figure(
        {"n": 45, "weighted_f1": 0.8123, "accuracy": 0.9}, **RULES
    )
    large = validation_figure(
        {"n": 1234, "weighted_f1": 0.8123, "accuracy": 0.9}, **RULES
    )
    assert small["enough_data"] and large["enough_data"]
    assert figure_text(small, "weighted_f1") == "0.812 (95 % CI 0.676–0.900, n=45)"
    assert figure_text(small, "accuracy") == "0.900 (95 % CI 0.779–0.958, n=45)"
    assert large["accuracy_interval"] is None
    assert figure_text(large, "weighted_f1") == "0.812 (n=1,234)"


@pytest.mark.parametrize(
    ("n", "enough"), [(29, False), (30, True), (None, False), (0, False)]
)
def test_the_minimum_is_inclusive_and_an_unknown_n_is_not_enough(n, enough):
    metrics = {"weighted_f1": 0.5, "accuracy": 0.5}
    if n is not None:
        metrics["n"] = n
    figure = validation_figure(metrics, **RULES)
    assert figure["enough_data"] is enough
    if n is None:
        assert figure_text(figure, "accuracy") == "not enough data (n unknown)"


def test_no_figures_without_metrics():
    assert validation_figure(None, **RULES) is None
    assert figure_text(None, "weighted_f1") == "—"
    figures = validation_figures({}, **RULES)
    assert (figures["n"], figures["enough_data"], figures["fused"]) == (
        None,
        False,
        None,
    )


def test_the_warning_of_a_model_validated_on_too_few_products():
    assert too_few_validation_products_warning(1, min_products=30) == (
        "validated on 1 product only (fewer than 30): its F1 and accuracy say little"
    )
    assert too_few_validation_products_warning(4, min_products=30).startswith(
        "validated on 4 products only"
    )
    assert too_few_validation_products_warning(30, min_products=30) == ""
