"""A platform training run fits the linear text branches (TF-IDF, sentence head) on
at most ``ML_TRAIN_LINEAR_MAX_ROWS`` products; the networks learn from every one."""

from pathlib import Path

import pytest

from ml.core.bundles import load_bundle
from ml.models import ModelVersion
from ml.services.training_runs import training_run_create, training_run_execute
from tests.factories import confirmed_catalogue

TEXT_ONLY = {"text_only": True, "epochs": 1, "activate": False}


def _trained_bundle():
    run = training_run_create(parameters=TEXT_ONLY, enqueue=False)
    run = training_run_execute(run_id=run.pk)
    assert run.status == "succeeded"
    version = ModelVersion.objects.get(pk=run.model_version_id)
    return version, load_bundle(
        Path(version.bundle_path), expected_sha256=version.bundle_sha256
    )


@pytest.mark.django_db
def test_the_setting_bounds_the_rows_of_the_linear_branches(
    artifacts, settings, training_categories
):
    # Given 27 training products (30 confirmed, 3 in the evaluation slice)
    confirmed_catalogue(training_categories, per_category=10, seed=0)
    settings.ML_TRAIN_LINEAR_MAX_ROWS = 12
    # When a run trains, then its linear branches saw 12 of them and nothing warns
    version, bundle = _trained_bundle()
    assert bundle.metadata["training"]["config"]["linear_max_rows"] == 12
    assert bundle.metadata["lineage"]["n_samples"] == 27
    assert bundle.metadata["lineage"]["n_linear_fit"] == 12
    assert "TF-IDF" not in version.warning


@pytest.mark.django_db
def test_zero_fits_the_linear_branches_on_every_product(
    artifacts, settings, training_categories
):
    confirmed_catalogue(training_categories, per_category=10, seed=0)
    settings.ML_TRAIN_LINEAR_MAX_ROWS = 0
    _, bundle = _trained_bundle()
    assert bundle.metadata["training"]["config"]["linear_max_rows"] is None
    assert bundle.metadata["lineage"]["n_linear_fit"] == 27
