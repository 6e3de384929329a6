"""The MLflow mirror (``ml.services.mlflow_mirror``) against a real MLflow store (a
SQLite file): a training run's parameters, history, validation figures and bundle
hashes; the registered version; the alias following activation and rollback; an
unreachable MLflow that fails nothing and is caught up later; and no mlflow import at
all while ``MLFLOW_TRACKING_URI`` is unset."""

import json
import socket
import sys
from pathlib import Path

import pytest
from django.core.cache import cache
from django_celery_beat.models import PeriodicTask
from mlflow import MlflowClient

from ml.models import ModelActivation, ModelVersion, TrainingRun
from ml.services.mlflow_mirror import LOCK_KEY
from ml.services.model_versions import model_version_activate, model_version_rollback
from ml.services.training_runs import training_run_create, training_run_execute
from ml.tasks import mlflow_mirror_sync_task
from rakuten.celery import app
from tests.factories import confirmed_catalogue

MODEL = "rakuten-categoriser"


@pytest.fixture
def eager():
    """Tasks run in-process when sent (the mirror pass the services queue)."""
    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = before


@pytest.fixture
def mlflow_store(settings, tmp_path):
    """A real MLflow tracking store and registry in a SQLite file; the mirror on."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    settings.MLFLOW_TRACKING_URI = uri
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def _train(*, activate: bool) -> TrainingRun:
    run = training_run_create(
        parameters={"text_only": True, "epochs": 2, "activate": activate},
        enqueue=False,
    )
    return training_run_execute(run_id=run.pk)


def _version(sha: str) -> ModelVersion:
    return ModelVersion.objects.create(
        name=f"version {sha}",
        status=ModelVersion.Status.READY,
        bundle_path=f"/nonexistent/{sha}",
        bundle_sha256=sha * 64,
    )


def _alias(client) -> str:
    return str(client.get_model_version_by_alias(MODEL, "active").version)


@pytest.mark.django_db
def test_a_training_run_is_mirrored_with_its_figures_and_registered_version(
    artifacts,
    training_categories,
    mlflow_store,
    eager,
    django_capture_on_commit_callbacks,
):
    # Given a catalogue and the mirror on
    confirmed_catalogue(training_categories, per_category=12, seed=0)
    # When a run trains and activates its model (the services queue the mirror)
    with django_capture_on_commit_callbacks(execute=True):
        run = _train(activate=True)
    # Then the run is marked mirrored, its version registered as version 1
    run.refresh_from_db()
    version = run.model_version
    assert run.status == TrainingRun.Status.SUCCEEDED
    assert run.mlflow_synced_at is not None
    assert version.mlflow_version == "1"
    # and MLflow holds one run, with its parameters and outcome
    experiment = mlflow_store.get_experiment_by_name("rakuten-training")
    (mirrored,) = mlflow_store.search_runs([experiment.experiment_id])
    assert mirrored.info.run_id == run.mlflow_run_id
    assert mirrored.info.status == "FINISHED"
    assert mirrored.info.run_name == f"training run #{run.pk}"
    params = mirrored.data.params
    assert (params["kind"], params["epochs"], params["text_only"]) == (
        "full",
        "2",
        "True",
    )
    assert params["activate"] == "True"
    # its per-epoch history, exactly as the bundle recorded it
    bundle = json.loads((Path(version.bundle_path) / "bundle.json").read_text())
    history = bundle["training"]["history"]
    assert history  # at least one stage trained
    for stage, records in history.items():
        logged = mlflow_store.get_metric_history(
            run.mlflow_run_id, f"{stage}/val_weighted_f1"
        )
        assert [(m.step, m.value) for m in logged] == [
            (r["epoch"], pytest.approx(r["val_weighted_f1"])) for r in records
        ]
    # its final validation figures and the gate's decision
    metrics = mirrored.data.metrics
    assert metrics["val/fused/weighted_f1"] == pytest.approx(
        version.metrics["fused"]["weighted_f1"]
    )
    assert metrics["val/fused/accuracy"] == pytest.approx(version.accuracy)
    tags = mirrored.data.tags
    assert tags["platform.training_run"] == str(run.pk)
    assert tags["platform.status"] == "succeeded"
    assert tags["gate.promote"] == str(version.gate["promote"]).lower()
    assert tags["gate.reasons"] == "; ".join(version.gate["reasons"])
    # the bundle's hashes (its sha256 and each file's) and lineage
    manifest = json.loads((Path(version.bundle_path) / "MANIFEST.json").read_text())
    assert tags["bundle.sha256"] == version.bundle_sha256
    assert {
        key.removeprefix("bundle.file."): value
        for key, value in tags.items()
        if key.startswith("bundle.file.")
    } == manifest["files"]
    assert json.loads(tags["lineage"]) == json.loads(json.dumps(version.lineage))
    # and the registry holds the version, from that run, under the "active" alias
    registered = mlflow_store.get_model_version(MODEL, "1")
    assert registered.run_id == run.mlflow_run_id
    assert registered.tags["platform.model_version"] == str(version.pk)
    assert registered.tags["bundle.sha256"] == version.bundle_sha256
    assert registered.source == Path(version.bundle_path).resolve().as_uri()
    assert _alias(mlflow_store) == "1"


@pytest.mark.django_db
def test_the_alias_follows_activation_and_rollback(
    mlflow_store, eager, django_capture_on_commit_callbacks
):
    # Given two ready versions, the first activated: both are registered, the alias
    # on the first
    first, second = _version("a"), _version("b")
    with django_capture_on_commit_callbacks(execute=True):
        model_version_activate(version=first, reason="first")
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.mlflow_version, second.mlflow_version) == ("1", "2")
    assert _alias(mlflow_store) == "1"
    # When the second is activated
    with django_capture_on_commit_callbacks(execute=True):
        model_version_activate(version=second, reason="second")
    # Then the alias moves to it
    assert _alias(mlflow_store) == "2"
    # When staff roll back
    with django_capture_on_commit_callbacks(execute=True):
        model_version_rollback()
    # Then the alias is back on the first version, every activation mirrored
    assert _alias(mlflow_store) == "1"
    assert not ModelActivation.objects.filter(mlflow_synced_at=None).exists()
    # and nothing was registered twice
    registered = mlflow_store.search_model_versions(f"name = '{MODEL}'")
    assert sorted(str(v.version) for v in registered) == ["1", "2"]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.django_db
def test_an_unreachable_mlflow_fails_nothing_and_is_mirrored_later(
    artifacts,
    training_categories,
    settings,
    tmp_path,
    monkeypatch,
    eager,
    django_capture_on_commit_callbacks,
):
    # Given a tracking server that does not answer (MLflow asked not to retry)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "5")
    settings.MLFLOW_TRACKING_URI = f"http://127.0.0.1:{_closed_port()}"
    confirmed_catalogue(training_categories, per_category=12, seed=0)
    # When a run trains and activates its model
    with django_capture_on_commit_callbacks(execute=True):
        run = _train(activate=True)
    # Then the run succeeded and its model is active, the mirror left pending
    run.refresh_from_db()
    assert run.status == TrainingRun.Status.SUCCEEDED
    assert run.model_version.status == ModelVersion.Status.ACTIVE
    assert (run.mlflow_run_id, run.mlflow_synced_at) == ("", None)
    assert run.model_version.mlflow_version == ""
    assert ModelActivation.objects.get().mlflow_synced_at is None
    # When MLflow is back and beat's pass runs
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    settings.MLFLOW_TRACKING_URI = uri
    outcome = mlflow_mirror_sync_task()
    # Then the run, its version and the alias are mirrored
    version = run.model_version
    assert outcome == {
        "runs": [run.pk],
        "versions": [version.pk],
        "alias": version.pk,
        "error": "",
    }
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    run.refresh_from_db()
    assert client.get_run(run.mlflow_run_id).data.tags["platform.training_run"] == (
        str(run.pk)
    )
    assert _alias(client) == "1"
    # and a second pass finds nothing left to do
    assert mlflow_mirror_sync_task() == {
        "runs": [],
        "versions": [],
        "alias": None,
        "error": "",
    }


@pytest.mark.django_db
def test_without_a_tracking_uri_nothing_imports_mlflow(
    artifacts,
    training_categories,
    settings,
    monkeypatch,
    eager,
    django_capture_on_commit_callbacks,
):
    # Given no tracking URI, and mlflow not loaded in this process
    settings.MLFLOW_TRACKING_URI = ""
    for name in [m for m in sys.modules if m == "mlflow" or m.startswith("mlflow.")]:
        monkeypatch.delitem(sys.modules, name)
    confirmed_catalogue(training_categories, per_category=12, seed=0)
    # When a run trains, its model is activated, rolled back and beat's pass runs
    with django_capture_on_commit_callbacks(execute=True):
        first = _train(activate=True)
        second = _version("c")
        model_version_activate(version=second)
        model_version_rollback()
        outcome = mlflow_mirror_sync_task()
    # Then nothing was mirrored, nothing marked, and mlflow was never imported
    assert outcome == {}
    assert first.model_version.status == ModelVersion.Status.ACTIVE
    assert TrainingRun.objects.get().mlflow_synced_at is None
    assert "mlflow" not in sys.modules


@pytest.mark.django_db
def test_beat_sends_the_mirror_pass_every_ten_minutes():
    task = PeriodicTask.objects.get(name="mlflow: mirror pending runs and versions")
    assert (task.task, task.args, task.queue, task.enabled) == (
        "ml.tasks.mlflow_mirror_sync",
        "[]",
        "ml",
        True,
    )
    assert str(task.interval) == "every 10 minutes"


@pytest.mark.django_db
def test_one_mirror_pass_at_a_time(mlflow_store):
    # Given a ready version, and a mirror pass already running (its lock held)
    version = _version("d")
    cache.add(LOCK_KEY, True, timeout=60)
    # When another pass starts, it mirrors nothing
    assert mlflow_mirror_sync_task() == {
        "runs": [],
        "versions": [],
        "alias": None,
        "error": "another mirror pass is running",
    }
    version.refresh_from_db()
    assert version.mlflow_version == ""
    # Once the running pass is over, the next pass registers the version
    cache.delete(LOCK_KEY)
    assert mlflow_mirror_sync_task()["versions"] == [version.pk]
    assert cache.get(LOCK_KEY) is None
