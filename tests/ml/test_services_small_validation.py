"""Issue #11, part 3: what staff see of a run validated on a handful of products, and
of every finished run's gate verdict, through the real services (a real incremental
fine-tune of the session's text-only model), the pages, the API and the admin."""

import random
from datetime import timedelta

import pytest
from django.utils import timezone
from django.utils.html import escape

from ml.models import ModelVersion, TrainingRun
from ml.services.training_data import EVAL_SLICE_MODULO
from ml.services.training_runs import training_run_create, training_run_execute
from tests.factories import (
    ModelVersionFactory,
    ProductFactory,
    confirmed_catalogue,
    product_text,
)

pytestmark = pytest.mark.django_db


def new_products(categories, codes, *, seed: int) -> None:
    """One product confirmed after the active model was made for each code of
    ``codes``, none of them in the evaluation slice (a slice product is made again)."""
    rng, later = random.Random(seed), timezone.now() + timedelta(seconds=1)
    for code in codes:
        while True:
            title, description = product_text(code, rng)
            product = ProductFactory(
                title=title,
                description=description,
                category=categories[code],
                confirmed_at=later,
            )
            if product.pk % EVAL_SLICE_MODULO:
                break


@pytest.fixture
def run_on_four_new_products(
    artifacts, active_model, training_categories, api_as, staff_user, monkeypatch
):
    """An incremental run started from the API (its options, as the API's defaults
    have them, say "text + efficientnet_lite0"), on 4 new products: 2 of one
    category (the only one that can be split), so it is validated on 1 product."""
    from ml.tasks import training_run_execute_task

    monkeypatch.setattr(training_run_execute_task, "delay", lambda *args: None)
    confirmed_catalogue(training_categories, per_category=8, seed=2)
    new_products(training_categories, ["9101", "9101", "9102", "9103"], seed=5)
    response = api_as(staff_user).post(
        "/api/v1/training-runs/", {"kind": "incremental", "epochs": 2}, format="json"
    )
    assert response.status_code == 202
    assert response.json()["parameters"]["text_only"] is False
    return training_run_execute(run_id=response.json()["id"])


def test_a_run_validated_on_one_product_shows_no_f1_anywhere(
    run_on_four_new_products, active_model, api_as, staff_user, client_logged_in_as
):
    run = run_on_four_new_products
    version = run.model_version
    # Given the run, validated on one product
    assert run.status == "succeeded"
    assert version.metrics["fused"]["n"] == 1
    # Then the model carries the warning, and a name that says what it is
    assert version.warning == (
        "too few validation samples to keep early stopping and fusion apart: both "
        "used all of them. validated on 1 product only (fewer than 30): its F1 and "
        "accuracy say little."
    )
    assert version.name.startswith("text fine-tuned ")
    assert version.backbone == ""
    client = client_logged_in_as(staff_user)

    # The training page: "not enough data", the full warning, no F1
    training = client.get("/staff/training/").content.decode()
    assert (
        '<strong class="not-enough-data">not enough data</strong>'
        '<div class="text-muted">validated on 1 product, fewer than 30</div>'
    ) in training
    assert f"warning: {escape(version.warning)}</span>" in training
    [cell] = [
        part.split("</td>")[0]
        for part in training.split('<td class="small validation">')[1:]
    ]
    assert "1.000" not in cell and "0.000" not in cell
    assert "acc. " not in training
    # (the gate's own figures, on its tiny evaluation slice, say so)
    assert "fewer than 30: not enough data, these F1 figures say little" in training

    # The models page (table and comparison) and the badge
    models = client.get("/staff/models/", {"compare": [version.pk]}).content.decode()
    not_enough = (
        '<span class="not-enough-data text-muted" title="validated on 1 products, '
        'fewer than 30: the figure says little">not enough data (n=1)</span>'
    )
    assert f'<td class="text-end">{not_enough}</td>' in models
    assert f'<td class="fw-semibold">{not_enough}</td>' in models
    assert ">not enough data (n=1)</span>" in models  # the badge
    assert 'class="badge text-bg-secondary not-enough-data"' in models
    figures = models.split('class="card mb-3 gate-decision"')[0]
    assert "1.000" not in figures and "0.000" not in figures
    # (the gate's card quotes its rules' figures, flagged as not enough data)
    assert "fewer than 30: not enough data, these F1 figures say little" in models

    # The API: the numbers, with n, "enough_data": false and the warning
    api = api_as(staff_user)
    detail = api.get(f"/api/v1/training-runs/{run.pk}/").json()
    assert (detail["validation_n"], detail["enough_data"]) == (1, False)
    assert detail["warning"] == version.warning
    assert detail["metrics"]["fused"]["n"] == 1
    [listed] = [
        v
        for v in api.get("/api/v1/model-versions/").json()["results"]
        if v["id"] == version.pk
    ]
    assert (listed["validation_n"], listed["enough_data"]) == (1, False)
    assert listed["warning"] == version.warning
    assert listed["weighted_f1"] == version.weighted_f1  # kept, for integrators

    # The admin
    staff_user.is_superuser = True
    staff_user.save()
    admin = client_logged_in_as(staff_user).get("/admin/ml/modelversion/")
    html = admin.content.decode()
    assert ">not enough data (n=1)</span>" in html
    assert '<td class="field-weighted_f1_display">not enough data (n=1)</td>' in html


def test_a_manual_run_is_scored_by_the_gate_but_not_promoted(
    run_on_four_new_products, active_model, api_as, staff_user, client_logged_in_as
):
    run = run_on_four_new_products
    version = ModelVersion.objects.get(pk=run.model_version_id)
    # Then the gate's verdict is stored, marked as not applied
    assert version.gate["applied"] is False
    assert version.gate["active_version"] == active_model.pk
    assert version.gate["reasons"][0].startswith("evaluation slice: weighted F1")
    # And the model was not promoted, whatever the verdict
    assert version.status == ModelVersion.Status.READY
    active_model.refresh_from_db()
    assert active_model.status == ModelVersion.Status.ACTIVE
    # The training page lists the verdict and its reasons
    verdict = "promote" if version.gate["promote"] else "hold"
    html = client_logged_in_as(staff_user).get("/staff/training/").content.decode()
    assert (
        f'">{verdict}</strong> <span class="text-muted">(scored only, not applied)'
        "</span>"
    ) in html
    assert f"<li>{escape(version.gate['reasons'][0])}</li>" in html
    # And the API gives it, on the run and on the model
    api = api_as(staff_user)
    gate = api.get(f"/api/v1/training-runs/{run.pk}/").json()["gate"]
    assert (gate["promote"], gate["applied"], gate["reasons"]) == (
        version.gate["promote"],
        False,
        version.gate["reasons"],
    )
    listed = api.get("/api/v1/model-versions/").json()["results"]
    assert [v["gate"]["applied"] for v in listed if v["id"] == version.pk] == [False]


def test_a_gate_that_cannot_score_leaves_the_run_a_success(
    artifacts, trained_bundle, training_categories
):
    # Given an active model whose bundle is gone, and products to train on
    ModelVersionFactory(status="active", active_marker=True)
    confirmed_catalogue(training_categories, per_category=8, seed=4)
    run = training_run_create(
        parameters={"text_only": True, "epochs": 1}, enqueue=False
    )
    # When a manual full run finishes
    run = training_run_execute(run_id=run.pk)
    # Then it succeeded, and its gate verdict says why it holds
    assert run.status == TrainingRun.Status.SUCCEEDED
    gate = run.model_version.gate
    assert (gate["promote"], gate["applied"]) == (False, False)
    assert gate["reasons"][0].startswith("the gate could not score this model: ")
    # And a text-only full run is named "text", without a backbone
    assert run.model_version.name.startswith("text 20")


def test_a_run_that_activates_its_model_is_scored_against_the_one_it_replaced(
    artifacts, active_model, training_categories
):
    confirmed_catalogue(training_categories, per_category=8, seed=6)
    run = training_run_create(
        parameters={"text_only": True, "epochs": 1, "activate": True}, enqueue=False
    )
    run = training_run_execute(run_id=run.pk)
    # Then its model is active, and the gate's verdict compares it with the old one
    version = run.model_version
    assert version.status == ModelVersion.Status.ACTIVE
    assert (version.gate["applied"], version.gate["active_version"]) == (
        False,
        active_model.pk,
    )
    assert version.gate["reasons"][0].startswith("evaluation slice: weighted F1")


def test_the_first_model_is_scored_with_no_model_to_compare_with(
    artifacts, training_categories
):
    confirmed_catalogue(training_categories, per_category=8, seed=7)
    run = training_run_create(
        parameters={"text_only": True, "epochs": 1, "activate": True}, enqueue=False
    )
    version = training_run_execute(run_id=run.pk).model_version
    assert version.status == ModelVersion.Status.ACTIVE
    assert (version.gate["reasons"], version.gate["applied"]) == (
        ["no model is active"],
        False,
    )
