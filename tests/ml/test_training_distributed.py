"""A full training run under torchrun (``ML_TRAIN_PROCESSES`` > 1): two real gloo CPU
ranks train it, rank 0's bundle becomes the run's model version, and a failed launch
fails the run with one line."""

from pathlib import Path

import pytest

from ml.core.bundles import load_bundle
from ml.models import ModelVersion, TrainingRun
from ml.services.training_distributed import _error_line
from ml.services.training_runs import (
    TrainingFailedError,
    training_run_create,
    training_run_execute,
)
from tests.factories import CategoryFactory, ProductFactory, confirmed_catalogue

TEXT_ONLY = {"text_only": True, "epochs": 1, "activate": False}


@pytest.mark.django_db
def test_a_full_run_trains_in_two_processes_and_registers_rank_0s_bundle(
    artifacts, settings, training_categories
):
    # Given a small confirmed catalogue and workers that train in two processes
    confirmed_catalogue(training_categories, per_category=10, seed=0)
    settings.ML_TRAIN_PROCESSES = 2
    run = training_run_create(parameters=TEXT_ONLY, enqueue=False)
    # When the run is executed
    run = training_run_execute(run_id=run.pk)
    # Then it succeeded with one version: rank 0's bundle, trained by two ranks
    assert (run.status, run.progress, run.error) == ("succeeded", 1.0, "")
    version = ModelVersion.objects.get()
    assert run.model_version == version
    assert version.status == ModelVersion.Status.READY
    assert version.label_codes == ["9101", "9102", "9103"]
    assert version.backbone == ""
    assert version.name.startswith("text 20")
    bundle = load_bundle(
        Path(version.bundle_path), expected_sha256=version.bundle_sha256
    )
    assert bundle.metadata["extra"] == {
        "training_run": run.pk,
        "is_demo": None,
        "world_size": 2,
    }
    assert version.metrics == run.metrics == bundle.metadata["metrics"]
    assert bundle.metadata["training"]["config"]["epochs"] == 1
    # only one bundle was written, and the run's log has rank 0's progress
    assert [p.name for p in (artifacts / "bundles").iterdir()] == [
        version.bundle_sha256
    ]
    assert run.log.startswith("text epoch 1/1 val weighted F1 ")
    work = artifacts / "runs" / str(run.pk)
    assert (work / "train.csv").read_text().count("\n") == 1 + 27  # 3 in the slice


@pytest.mark.django_db
def test_a_failed_launch_fails_the_run_with_one_line_and_no_version(
    artifacts, settings
):
    # Given a catalogue with one category only (no model can be trained on it)
    category = CategoryFactory(code="seul")
    ProductFactory.create_batch(6, category=category, seller=None)
    settings.ML_TRAIN_PROCESSES = 2
    run = training_run_create(parameters=TEXT_ONLY, enqueue=False)
    # When the run is executed, then it fails with the first rank's error
    message = (
        "Training under torchrun (2 processes) failed: "
        "TrainingDataError: training needs at least two categories"
    )
    with pytest.raises(TrainingFailedError) as excinfo:
        training_run_execute(run_id=run.pk)
    assert excinfo.value.message == message
    run.refresh_from_db()
    assert (run.status, run.error) == (TrainingRun.Status.FAILED, message)
    assert ModelVersion.objects.count() == 0
    assert list((artifacts / "bundles").iterdir()) == []


def test_when_no_rank_started_the_error_is_torchruns_own_last_line():
    stderr = (
        "usage: run.py [-h] [--nnodes NNODES]\n"
        "run.py: error: argument --nproc_per_node: invalid value\n"
    )
    assert _error_line(stderr) == (
        "run.py: error: argument --nproc_per_node: invalid value"
    )
    assert _error_line("=====\n\n") == ""
