"""The promotion gate (``model_version_gate``, ``model_version_gate_apply``) and
switching the served version while predictions are being made."""

import random
import threading
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from catalog.models import Product
from ml import services
from ml.models import ModelActivation, ModelVersion, Prediction
from ml.services import (
    evaluation_slice_products,
    model_version_activate,
    model_version_gate,
    model_version_rollback,
    prediction_create,
    training_run_create,
    training_run_execute,
    training_run_scheduled_execute,
    training_samples_confirmed,
)
from tests.factories import ProductFactory
from tests.loop.conftest import confirmed_catalogue, product_text
from tests.web.factories import ModelVersionFactory


@pytest.mark.django_db
def test_the_evaluation_slice_is_never_trained_on(training_categories):
    # Given 45 confirmed products
    confirmed_catalogue(training_categories, per_category=15, seed=1)
    # When the training samples are read for a run
    samples = training_samples_confirmed(exclude_eval_slice=True).samples
    # Then the products whose pk is a multiple of 10 are left out, and only them
    all_pks = list(Product.objects.values_list("pk", flat=True))
    pks = sorted(evaluation_slice_products().values_list("pk", flat=True))
    assert pks == [pk for pk in sorted(all_pks) if pk % 10 == 0]
    assert len(samples) == 45 - len(pks)


@pytest.mark.django_db
def test_a_candidate_as_good_as_the_active_model_is_promoted(
    settings, artifacts, active_model, training_categories
):
    # Given an active model and a catalogue
    settings.ML_PROMOTION_MARGIN = 0.0
    confirmed_catalogue(training_categories, per_category=15, seed=1)
    # When this month's full retraining runs
    run = training_run_scheduled_execute(kind="full")
    # Then the candidate is scored on the evaluation slice and promoted by the gate
    candidate = run.model_version
    candidate.refresh_from_db()
    n = evaluation_slice_products().count()
    assert candidate.status == ModelVersion.Status.ACTIVE
    assert candidate.gate["promote"] is True
    assert candidate.gate["active_version"] == active_model.pk
    assert candidate.gate["candidate_metrics"]["n"] == n
    assert (
        candidate.gate["candidate_metrics"]["weighted_f1"]
        >= (candidate.gate["active_metrics"]["weighted_f1"])
    )
    activation = ModelActivation.objects.first()
    assert (activation.version, activation.previous) == (candidate, active_model)
    assert activation.reason.startswith("gate: evaluation slice: weighted F1 ")


@pytest.mark.django_db
def test_a_candidate_below_the_margin_waits_for_staff(
    settings, artifacts, active_model, training_categories
):
    # Given a promotion margin no candidate can meet
    settings.ML_PROMOTION_MARGIN = 0.5
    confirmed_catalogue(training_categories, per_category=15, seed=1)
    # When the retraining runs
    run = training_run_scheduled_execute(kind="full")
    # Then the candidate stays ready, with the reasons; the active model is unchanged
    candidate = ModelVersion.objects.get(pk=run.model_version_id)
    assert candidate.status == ModelVersion.Status.READY
    assert candidate.gate["promote"] is False
    assert " < " in candidate.gate["reasons"][0]
    assert ModelVersion.objects.get(status="active") == active_model


@pytest.mark.django_db
def test_a_category_losing_too_much_f1_blocks_the_promotion(
    settings, monkeypatch, training_categories
):
    # Given a candidate better overall but 0.2 worse on one category
    settings.ML_PROMOTION_MARGIN = 0.0
    ProductFactory(pk=10, category=training_categories["9101"])
    active = ModelVersionFactory(status="active", active_marker=True)
    candidate = ModelVersionFactory()
    scores = {
        active.pk: {
            "n": 1,
            "weighted_f1": 0.80,
            "per_class": {"9101": 0.9, "9102": 0.7},
        },
        candidate.pk: {
            "n": 1,
            "weighted_f1": 0.85,
            "per_class": {"9101": 0.7, "9102": 1.0},
        },
    }
    monkeypatch.setattr(
        services, "_slice_metrics", lambda version, items: scores[version.pk]
    )
    # When the gate decides
    decision = model_version_gate(candidate=candidate)
    # Then it holds the candidate and says why
    assert decision.promote is False
    assert decision.reasons == [
        "evaluation slice: weighted F1 0.850 >= 0.800 (active 0.800 + margin 0.00) "
        "on 1 products",
        "recent window: 0 products, fewer than 20: not checked",
        "category 9101 F1 drops by 0.200",
    ]


@pytest.mark.parametrize(
    ("recent_f1", "promote", "reason"),
    [
        (0.60, False, "recent window: weighted F1 0.600 < 0.700"),
        (0.75, True, "recent window: weighted F1 0.750 >= 0.700"),
    ],
)
@pytest.mark.django_db
def test_the_gate_also_scores_the_recent_window(
    settings, monkeypatch, training_categories, recent_f1, promote, reason
):
    # Given evaluation-slice products: two confirmed before the active model was
    # made, three since (the recent window), and a candidate better on the whole slice
    settings.ML_PROMOTION_MARGIN = 0.0
    settings.ML_GATE_MIN_RECENT_PRODUCTS = 3
    books = training_categories["9101"]
    past = timezone.now() - timedelta(days=1)
    for pk in (10, 20):
        ProductFactory(pk=pk, category=books, confirmed_at=past)
    active = ModelVersionFactory(status="active", active_marker=True)
    later = timezone.now() + timedelta(seconds=1)
    for pk in (30, 40, 50):
        ProductFactory(pk=pk, category=books, confirmed_at=later)
    ProductFactory(pk=31, category=books, confirmed_at=later)  # not in the slice
    candidate = ModelVersionFactory()
    seen = []

    def scores(version, items):
        seen.append((version.pk, len(items)))
        recent = len(items) == 3
        if version.pk == active.pk:
            f1 = 0.70 if recent else 0.80
        else:
            f1 = recent_f1 if recent else 0.85
        return {"n": len(items), "weighted_f1": f1, "per_class": {"9101": f1}}

    monkeypatch.setattr(services, "_slice_metrics", scores)
    # When the gate decides
    decision = model_version_gate(candidate=candidate)
    # Then both models were scored on the slice (5) and its recent window (3), and
    # the recent window's figures decide as well
    assert sorted(seen) == sorted(
        [(active.pk, 5), (candidate.pk, 5), (active.pk, 3), (candidate.pk, 3)]
    )
    assert decision.promote is promote
    assert decision.reasons[1].startswith(reason)
    assert decision.recent["n"] == 3 and decision.recent["checked"] is True
    assert decision.recent["candidate"]["weighted_f1"] == recent_f1


def test_promotion_and_rollback_while_predictions_are_served(
    restore_migration_data,
    transactional_db,
    django_db_serialized_rollback,
    artifacts,
    active_model,
    training_categories,
):
    if connection.vendor == "sqlite":
        pytest.skip("SQLite locks the whole file: run with DATABASE_URL=mysql://...")
    # Given an active model and a second trained one
    confirmed_catalogue(training_categories, per_category=8, seed=1)
    run = training_run_create(
        parameters={"text_only": True, "epochs": 2}, enqueue=False
    )
    new = training_run_execute(run_id=run.pk).model_version
    old = active_model
    stop, errors, served = threading.Event(), [], []

    def serve():
        rng = random.Random(threading.get_ident())
        try:
            while not stop.is_set():
                title, description = product_text("9101", rng)
                prediction = prediction_create(title=title, description=description)
                served.append(prediction.model_version_id)
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    # When three threads predict while the version is promoted and rolled back
    threads = [threading.Thread(target=serve) for _ in range(3)]
    for thread in threads:
        thread.start()
    for _ in range(3):
        model_version_activate(version=new, reason="gate: test")
        model_version_rollback()
    model_version_activate(version=new, reason="gate: test")
    after = len(served)
    deadline = timezone.now() + timedelta(seconds=20)
    while len(served) < after + 6 and timezone.now() < deadline:
        time.sleep(0.05)
    stop.set()
    for thread in threads:
        thread.join(timeout=30)
    # Then no request failed, every prediction names the old or the new version, and
    # the last ones are served by the new version without any restart
    assert errors == []
    assert served and set(served) <= {old.pk, new.pk}
    assert set(served[after + 3 :]) == {new.pk}
    assert set(
        Prediction.objects.values_list("model_version_id", flat=True).distinct()
    ) <= {old.pk, new.pk}
