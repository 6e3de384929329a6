"""The incremental retraining through the real services: it fine-tunes the active
model's heads on the products confirmed since it was made (plus a replay), and is
skipped when there is nothing new."""

import random
from datetime import timedelta

import pytest
import torch
from django.core.management import call_command
from django.utils import timezone

from audit.models import AuditEvent
from catalog.models import Product
from ml.core.bundles import load_bundle
from ml.models import ModelVersion, TrainingRun
from ml.services.scheduling import training_run_scheduled_execute
from tests.factories import (
    CategoryFactory,
    ProductFactory,
    confirmed_catalogue,
    product_text,
)

pytestmark = pytest.mark.django_db

# A category the active model never saw, in letters its tokenizer knows.
GARDEN_WORDS = ["tondeuse", "arrosoir", "graines", "rateau", "sarcloir"]


def test_an_incremental_run_fine_tunes_the_active_model(
    artifacts, active_model, training_categories
):
    # Given older products, then products confirmed since the active model was made,
    # some of them in a new category
    confirmed_catalogue(training_categories, per_category=8, seed=2)
    garden = CategoryFactory(code="9200", name="Jardin")
    rng, later = random.Random(3), timezone.now() + timedelta(seconds=1)
    for _ in range(24):
        ProductFactory(
            title=" ".join(rng.sample(GARDEN_WORDS, 3)),
            description=" ".join(rng.sample(GARDEN_WORDS, 2)),
            category=garden,
            confirmed_at=later,
        )
    for code, category in training_categories.items():
        for _ in range(4):
            title, description = product_text(code, rng)
            ProductFactory(
                title=title,
                description=description,
                category=category,
                confirmed_at=later,
            )
    # When this week's incremental retraining runs
    run = training_run_scheduled_execute(kind="incremental", schedule_key="week")
    # Then it produced a fine-tuned version of the active model that knows the new
    # category, and the gate judged it on the slice and its recent window
    assert (run.status, run.kind) == ("succeeded", "incremental")
    version = ModelVersion.objects.get(pk=run.model_version_id)
    assert version.lineage["mode"] == "finetune"
    assert version.lineage["base_sha256"] == active_model.bundle_sha256
    assert "9200" in version.label_codes
    assert set(active_model.label_codes) < set(version.label_codes)
    assert "fine-tuned" in version.name
    # validated on new products only (36 new, the evaluation slice's excepted)
    new_outside_slice = sum(
        1
        for pk in Product.objects.filter(confirmed_at=later).values_list(
            "pk", flat=True
        )
        if pk % 10
    )
    assert version.lineage["n_new"] == new_outside_slice
    assert 0 < version.lineage["n_val"] < new_outside_slice
    assert {"promote", "reasons", "recent"} <= set(version.gate)
    assert version.gate["recent"]["n"] > 0
    # its embedding and GRUs are the active model's; only the heads were trained
    tuned = load_bundle(version.bundle_path).text_net.state_dict()
    base = load_bundle(active_model.bundle_path).text_net.state_dict()
    assert torch.equal(tuned["embedding.weight"], base["embedding.weight"])
    assert torch.equal(
        tuned["gru_forward.weight_hh_l0"], base["gru_forward.weight_hh_l0"]
    )
    assert not torch.equal(tuned["classifier.bias"][:3], base["classifier.bias"])


def test_an_incremental_run_with_nothing_new_is_skipped(
    artifacts, active_model, training_categories
):
    # Given products all confirmed before the active model was made
    confirmed_catalogue(training_categories, per_category=8, seed=2)
    # When the weekly incremental retraining runs
    run = training_run_scheduled_execute(kind="incremental", schedule_key="week")
    # Then it is skipped (not failed), says why, and nothing else changes
    assert run.status == TrainingRun.Status.SKIPPED
    assert run.model_version is None and run.error == ""
    assert "no product confirmed since" in run.log
    assert ModelVersion.objects.get() == active_model
    assert AuditEvent.objects.filter(verb="training_run.skipped").count() == 1
    # and a second delivery of the same window does nothing more
    again = training_run_scheduled_execute(kind="incremental", schedule_key="week")
    assert again.pk == run.pk and TrainingRun.objects.count() == 1


def test_the_command_reports_a_skipped_incremental_run(
    artifacts, active_model, training_categories, capsys
):
    confirmed_catalogue(training_categories, per_category=8, seed=2)

    call_command("train_model", kind="incremental", text_only=True, epochs=2)

    out = capsys.readouterr().out
    assert "skipped: nothing to learn" in out
    assert TrainingRun.objects.get().status == "skipped"
