"""The MLflow mirror: training runs, model versions and which version is active,
copied to an MLflow tracking server and model registry (``MLFLOW_TRACKING_URI``).

The platform's database stays the source of truth; MLflow only mirrors it. Nothing
here runs, and ``mlflow`` is never imported, while ``MLFLOW_TRACKING_URI`` is unset.
The services queue :func:`mlflow_mirror_sync` (``ml.tasks.mlflow_mirror_sync``, ml
queue) after a run ends and after an activation commits; beat sends it every ten
minutes too. Each pass mirrors whatever is pending:

- a finished run with no ``mlflow_synced_at``: an MLflow run with its parameters, its
  per-epoch history (read from the bundle's ``bundle.json``), its final validation
  metrics, the gate's decision and the bundle's hashes and lineage (tags);
- a model version with no ``mlflow_version``: a version of the registered model
  ``MLFLOW_REGISTERED_MODEL`` pointing at the bundle folder and at its run;
- an activation (or rollback) with no ``mlflow_synced_at``: the alias
  ``MLFLOW_ACTIVE_ALIAS`` moved to the active version.

An unreachable MLflow ends the pass with a warning: nothing fails, what is left stays
pending, and the next pass mirrors it. Each step is safe to repeat: a run or a version
already in MLflow (found by its ``platform.*`` tag) is reused, never duplicated."""

import json
import logging
from pathlib import Path

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError

from ml.models import ModelActivation, ModelVersion, TrainingRun
from rakuten.queueing import task_get

logger = logging.getLogger(__name__)

MIRROR_TASK = "ml.tasks.mlflow_mirror_sync"
# One pass at a time (in the shared cache): two passes at once could both find a run
# missing in MLflow and create it twice. Longer than the task's time limit.
LOCK_KEY = "ml:mlflow-mirror-pass"
LOCK_SECONDS = 15 * 60
RUN_TAG = "platform.training_run"
VERSION_TAG = "platform.model_version"
# MLflow's limits on a parameter's and a tag's value.
PARAM_MAX = 6000
TAG_MAX = 8000
BATCH_LIMITS = {"metrics": 1000, "params": 100, "tags": 100}
_RUN_STATUS = {
    TrainingRun.Status.SUCCEEDED: "FINISHED",
    TrainingRun.Status.FAILED: "FAILED",
    TrainingRun.Status.SKIPPED: "KILLED",
}


def mlflow_mirror_enabled() -> bool:
    return bool(settings.MLFLOW_TRACKING_URI)


def mlflow_mirror_enqueue_on_commit() -> None:
    """Queue a mirror pass once the current transaction commits (nothing when the
    mirror is off)."""
    if mlflow_mirror_enabled():
        transaction.on_commit(_mirror_send)


def _mirror_send() -> None:
    # An unreachable broker must not fail what just committed (a run, an
    # activation): beat's pass mirrors it within ten minutes.
    try:
        task_get(MIRROR_TASK).delay()
    except (BrokerError, OSError) as exc:
        logger.warning("MLflow mirror pass not queued (%s): beat's pass will", exc)


def mlflow_mirror_sync() -> dict:
    """Mirror everything pending to MLflow. Returns what was mirrored:
    ``{"runs": [run ids], "versions": [version ids], "alias": version id or None,
    "error": ""}`` (``error``: why the pass stopped early; the rest stays pending);
    ``{}`` when the mirror is off."""
    if not mlflow_mirror_enabled():
        return {}
    outcome = {"runs": [], "versions": [], "alias": None, "error": ""}
    try:
        from mlflow.exceptions import MlflowException
    except ImportError as exc:  # a deployment without mlflow-skinny installed
        outcome["error"] = f"mlflow is not installed: {exc}"
        logger.warning("MLflow mirror: %s", outcome["error"])
        return outcome
    if not cache.add(LOCK_KEY, True, timeout=LOCK_SECONDS):
        # what this pass would have found is the running pass's, or beat's next one
        outcome["error"] = "another mirror pass is running"
        return outcome
    try:
        _mirror_pending(outcome)
    except (MlflowException, OSError, _requests_error()) as exc:
        outcome["error"] = f"{type(exc).__name__}: {exc}"[:500]
        logger.warning(
            "MLflow mirror stopped (%s); what is left is mirrored at the next pass",
            outcome["error"],
        )
    finally:
        cache.delete(LOCK_KEY)
    return outcome


def _mirror_pending(outcome: dict) -> None:
    """Runs first (a version links to its run), then versions, then the alias (on a
    registered version); ``outcome`` grows as each is mirrored."""
    client = _client()
    for run in _runs_pending():
        _run_mirror(client, run)
        outcome["runs"].append(run.pk)
    for version in _versions_pending():
        _version_mirror(client, version)
        outcome["versions"].append(version.pk)
    outcome["alias"] = _alias_mirror(client)


def _requests_error() -> type[Exception]:
    import requests

    return requests.RequestException


def _client():
    from mlflow import MlflowClient

    uri = settings.MLFLOW_TRACKING_URI
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def _runs_pending():
    return (
        TrainingRun.objects.filter(
            mlflow_synced_at__isnull=True, status__in=list(_RUN_STATUS)
        )
        .select_related("model_version")
        .order_by("pk")
    )


def _versions_pending():
    return (
        ModelVersion.objects.filter(mlflow_version="")
        .exclude(status=ModelVersion.Status.TRAINING)
        .exclude(bundle_sha256=None)
        .order_by("pk")
    )


# --- Runs -----------------------------------------------------------------------------


def _experiment_id(client) -> str:
    name = settings.MLFLOW_EXPERIMENT_NAME
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        return experiment.experiment_id
    return client.create_experiment(name)


def _run_mirror(client, run: TrainingRun) -> None:
    from mlflow.entities import Metric, Param, RunTag

    experiment_id = _experiment_id(client)
    found = client.search_runs(
        [experiment_id], filter_string=f"tags.`{RUN_TAG}` = '{run.pk}'", max_results=1
    )
    start = _ms(run.started_at or run.created_at)
    end = _ms(run.finished_at or run.started_at or run.created_at)
    if found:
        run_id = found[0].info.run_id
    else:
        run_id = client.create_run(
            experiment_id,
            start_time=start,
            tags={RUN_TAG: str(run.pk)},
            run_name=f"training run #{run.pk}",
        ).info.run_id
    params = {"kind": run.kind, **_flat(run.parameters)}
    metrics = [Metric(key, value, end, step) for key, value, step in _run_metrics(run)]
    tags = {
        "platform.status": run.status,
        "platform.attempts": str(run.attempts),
        **({"platform.error": run.error[:TAG_MAX]} if run.error else {}),
        **_version_tags(run.model_version),
    }
    _log_batches(
        client,
        run_id,
        metrics=metrics,
        params=[Param(key, str(value)[:PARAM_MAX]) for key, value in params.items()],
        tags=[RunTag(key, value) for key, value in tags.items()],
    )
    client.set_terminated(run_id, status=_RUN_STATUS[run.status], end_time=end)
    TrainingRun.objects.filter(pk=run.pk).update(
        mlflow_run_id=run_id, mlflow_synced_at=timezone.now()
    )


def _log_batches(client, run_id: str, **entries: list) -> None:
    """``log_batch`` within MLflow's limits per call (metrics, params, tags)."""
    for kind, size in BATCH_LIMITS.items():
        items = entries[kind]
        for start in range(0, len(items), size):
            client.log_batch(run_id, **{kind: items[start : start + size]})


def _run_metrics(run: TrainingRun) -> list[tuple[str, float, int]]:
    """(key, value, step): each stage's per-epoch history (``<stage>/<figure>`` at
    step = epoch), then the final validation figures (``val/<branch>/<figure>``) and
    the gate's figures (``gate/...``) at step 0."""
    version = run.model_version
    metrics = []
    for stage, records in _bundle_history(version).items():
        for record in records:
            step = int(record.get("epoch", 0))
            metrics += [
                (f"{stage}/{key}", float(value), step)
                for key, value in record.items()
                if key != "epoch" and _is_number(value)
            ]
    figures = version.metrics if version is not None else run.metrics
    metrics += [(f"val/{key}", value, 0) for key, value in _numbers(figures).items()]
    if version is not None and version.gate:
        gate = {key: value for key, value in version.gate.items() if key != "promote"}
        metrics += [(f"gate/{key}", value, 0) for key, value in _numbers(gate).items()]
    return metrics


def _bundle_history(version: ModelVersion | None) -> dict:
    """The per-epoch history the bundle recorded (``{stage: [records]}``); empty for
    a run without a version, or a bundle folder no longer on this machine."""
    if version is None or not version.bundle_path:
        return {}
    try:
        metadata = json.loads((Path(version.bundle_path) / "bundle.json").read_text())
    except (OSError, ValueError):
        return {}
    history = (metadata.get("training") or {}).get("history") or {}
    return history if isinstance(history, dict) else {}


# --- Versions and the alias -----------------------------------------------------------


def _version_tags(version: ModelVersion | None) -> dict[str, str]:
    """What identifies a version's bundle: its sha256, the hash of each file, its
    lineage, and the gate's decision."""
    if version is None:
        return {}
    tags = {
        "platform.model_version": str(version.pk),
        "bundle.sha256": version.bundle_sha256 or "",
        "bundle.path": version.bundle_path,
        "lineage": json.dumps(version.lineage, sort_keys=True, default=str)[:TAG_MAX],
    }
    for name, sha256 in _bundle_files(version).items():
        tags[f"bundle.file.{name}"] = sha256
    if version.gate:
        tags["gate.promote"] = str(bool(version.gate.get("promote"))).lower()
        tags["gate.reasons"] = "; ".join(version.gate.get("reasons") or [])[:TAG_MAX]
    return tags


def _bundle_files(version: ModelVersion) -> dict[str, str]:
    from ml.core.bundles import MANIFEST

    try:
        manifest = json.loads((Path(version.bundle_path) / MANIFEST).read_text())
    except (OSError, ValueError):
        return {}
    return dict(manifest.get("files") or {})


def _version_mirror(client, version: ModelVersion) -> None:
    from mlflow.exceptions import MlflowException

    name = settings.MLFLOW_REGISTERED_MODEL
    try:
        client.create_registered_model(name)
    except MlflowException as exc:
        if exc.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
    found = client.search_model_versions(
        f"name = '{name}' and tags.`{VERSION_TAG}` = '{version.pk}'"
    )
    if found:
        number = found[0].version
    else:
        run = TrainingRun.objects.filter(model_version=version).first()
        number = client.create_model_version(
            name,
            source=Path(version.bundle_path).resolve().as_uri(),
            run_id=(run.mlflow_run_id or None) if run is not None else None,
            tags={"name": version.name[:TAG_MAX], **_version_tags(version)},
            description=version.name,
        ).version
    ModelVersion.objects.filter(pk=version.pk).update(mlflow_version=str(number))


def _alias_mirror(client) -> int | None:
    """Point the alias at the active version when an activation is pending; returns
    the active version's id when the alias was moved (``None``: nothing to do, or no
    version is active and the alias was removed)."""
    from mlflow.exceptions import MlflowException

    pending = list(
        ModelActivation.objects.filter(mlflow_synced_at__isnull=True).values_list(
            "pk", flat=True
        )
    )
    if not pending:
        return None
    name, alias = settings.MLFLOW_REGISTERED_MODEL, settings.MLFLOW_ACTIVE_ALIAS
    active = ModelVersion.objects.filter(status=ModelVersion.Status.ACTIVE).first()
    if active is not None and not active.mlflow_version:
        return None  # registered at the next pass, the alias with it
    if active is not None:
        client.set_registered_model_alias(name, alias, active.mlflow_version)
    else:
        try:
            client.delete_registered_model_alias(name, alias)
        except MlflowException as exc:
            if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
                raise
    ModelActivation.objects.filter(pk__in=pending).update(
        mlflow_synced_at=timezone.now()
    )
    return active.pk if active is not None else None


# --- Shaping ------------------------------------------------------------------------


def _ms(moment) -> int:
    return int(moment.timestamp() * 1000)


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _flat(values: dict, prefix: str = "") -> dict:
    """``{"a": {"b": 1}}`` as ``{"a.b": 1}``."""
    flat = {}
    for key, value in (values or {}).items():
        if isinstance(value, dict):
            flat.update(_flat(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _numbers(values: dict) -> dict[str, float]:
    """The numeric leaves of ``values`` as ``{"fused/weighted_f1": 0.8}``; the
    per-category tables and lists are left out (MLflow charts figures, not tables)."""
    return {
        key.replace(".", "/"): float(value)
        for key, value in _flat(
            {k: v for k, v in (values or {}).items() if k != "per_class"}
        ).items()
        if _is_number(value) and ".per_class." not in f".{key}."
    }
