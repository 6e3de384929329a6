"""Training runs: create and queue one, execute it on a worker (progress, heartbeat,
failure, skip) and register its result as a model version. The pure core under
``ml/core`` does the numerical work; this module moves data between it and the
database."""

import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from audit.services import audit_event_record
from ml.metrics import training_run_observe
from ml.models import (
    ModelVersion,
    TrainingRun,
)
from ml.options import training_options_clean, training_options_defaults
from ml.selectors.model_versions import model_version_get_active
from ml.services.gate import model_version_gate_apply, model_version_gate_score
from ml.services.mlflow_mirror import mlflow_mirror_enqueue_on_commit
from ml.services.model_versions import model_version_activate
from ml.services.training_data import training_samples_confirmed
from ml.services.training_queue import training_run_enqueue_on_commit
from ml.validation import too_few_validation_products_warning
from rakuten.exceptions import ApplicationError

logger = logging.getLogger(__name__)


HEARTBEAT_SECONDS = 5.0


# The heartbeat thread's period; keep it well under ML_STALE_RUN_SECONDS.
HEARTBEAT_THREAD_SECONDS = 30.0


class TrainingFailedError(ApplicationError):
    code = "training_failed"


def artifacts_dir(*parts: str) -> Path:
    path = Path(settings.ML_ARTIFACTS_DIR, *parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def training_run_create(
    *,
    parameters: dict,
    kind: str = TrainingRun.Kind.FULL,
    created_by=None,
    enqueue: bool = True,
    force: bool = False,
) -> TrainingRun:
    """Record a training run; queue it on the ``ml`` queue once the row is committed
    (``enqueued_at`` stays empty if the broker was unreachable: it is sent later).

    A person (``created_by``) may not queue a full run while another full run is
    queued or running, unless ``force``: a full run takes the worker for hours, and a
    second one is far more often a double click or a script gone wrong than a need."""
    parameters = training_options_clean(parameters)
    with transaction.atomic():
        if kind == TrainingRun.Kind.FULL and created_by is not None and not force:
            _full_run_in_flight_refuse()
        run = TrainingRun.objects.create(
            parameters=parameters, kind=kind, created_by=created_by
        )
        if enqueue:
            # The outbox: sent once committed; if the broker is unreachable the run
            # stays queued (no ``enqueued_at``) and the watchdog sends it later.
            training_run_enqueue_on_commit(run_id=run.pk)
    if enqueue and not transaction.get_connection().in_atomic_block:
        run.refresh_from_db(fields=["enqueued_at", "celery_task_id"])
    return run


def _full_run_in_flight_refuse() -> None:
    in_flight = (
        TrainingRun.objects.select_for_update()
        .filter(
            kind=TrainingRun.Kind.FULL,
            status__in=[TrainingRun.Status.QUEUED, TrainingRun.Status.RUNNING],
        )
        .order_by("pk")
        .first()
    )
    if in_flight is not None:
        raise ApplicationError(
            f"Full training run #{in_flight.pk} is already {in_flight.status}: wait "
            "for it to finish, or force a second one.",
            extra={"force": ["Tick to queue a second full run anyway."]},
        )


def training_run_execute(
    *, run_id: int, log: Callable[[str], None] | None = None, worker: str = ""
):
    """Train for a queued run and register the result as a ready model version. Safe to
    call twice: a run that already finished is left alone. ``worker`` names the
    worker node executing it ("celery@host"), recorded with this process's id. A full
    run trains under torchrun when ``ML_TRAIN_PROCESSES`` is above 1
    (:mod:`ml.services.training_distributed`); the rest is the same."""
    from ml.core.bundles import load_bundle, save_bundle
    from ml.core.config import TrainingConfig
    from ml.core.errors import MLError
    from ml.core.features import FeatureCache
    from ml.core.finetune import finetune_model
    from ml.core.pipeline import train_model

    with transaction.atomic():
        run = TrainingRun.objects.select_for_update().get(pk=run_id)
        if run.status != TrainingRun.Status.QUEUED:
            # Finished, or running on another worker (a second delivery of the same
            # message). A run whose worker died is queued again by the watchdog or
            # its restarted worker (``training_runs_recover``), never taken over here.
            return run
        run.status = TrainingRun.Status.RUNNING
        run.started_at = run.started_at or timezone.now()
        run.heartbeat_at = timezone.now()
        run.worker = f"{worker or 'in-process'} {os.getpid()}"
        run.save(update_fields=["status", "started_at", "heartbeat_at", "worker"])
        audit_event_record(
            verb="training_run.started",
            obj=run,
            actor=run.created_by,
            message=f"Training run #{run.pk} ({run.kind}) started",
            data={"attempts": run.attempts},
        )

    started = time.monotonic()
    params = run.parameters
    data = training_samples_confirmed(
        kind=run.kind, exclude_eval_slice=True, seed=params.get("seed", 0)
    )
    if data.base is not None and data.n_new == 0:
        skipped = _training_run_skip(
            run.pk,
            f"nothing to learn: no product confirmed since {data.base} was trained "
            "(the evaluation slice excepted)",
        )
        training_run_observe(
            kind=run.kind, outcome="skipped", seconds=time.monotonic() - started
        )
        return skipped
    backbone = None if params.get("text_only") else params.get("backbone")
    defaults = training_options_defaults()  # for runs stored before an option existed
    config = TrainingConfig(
        backbone=backbone,
        epochs=params.get("epochs", defaults["epochs"]),
        allow_random_backbone=params.get(
            "allow_random_backbone", defaults["allow_random_backbone"]
        ),
        # The local weights file setting is torchvision's VGG16 (nothing downloads).
        backbone_weights_path=(
            settings.ML_VGG16_WEIGHTS_PATH or None if backbone == "vgg16" else None
        ),
        seed=params.get("seed", 0),
        linear_max_rows=settings.ML_TRAIN_LINEAR_MAX_ROWS or None,
    )
    reporter = _ProgressReporter(run.pk, log)
    extra_metadata = {"training_run": run.pk, "is_demo": params.get("is_demo")}
    bundle = None  # written by the run's own process, unless under torchrun
    common = {
        "work_dir": artifacts_dir("runs", str(run.pk)),
        "feature_cache": FeatureCache(artifacts_dir("features")),
        "progress": reporter,
        "log_dir": artifacts_dir("runs", str(run.pk), "tensorboard"),
    }
    try:
        with _Heartbeat(run.pk, attempts=run.attempts):
            if data.base is not None:  # incremental: fine-tune the active model's heads
                base = load_bundle(
                    Path(data.base.bundle_path),
                    expected_sha256=data.base.bundle_sha256,
                )
                result = finetune_model(
                    data.samples,
                    base,
                    config,
                    labels=data.labels,
                    new=data.new,
                    **common,
                )
            elif settings.ML_TRAIN_PROCESSES > 1:  # a full run, under torchrun
                from ml.services.training_distributed import (
                    training_distributed_train,
                )

                result, bundle = training_distributed_train(
                    samples=data.samples,
                    config=config,
                    processes=settings.ML_TRAIN_PROCESSES,
                    bundles_dir=artifacts_dir("bundles"),
                    features_dir=artifacts_dir("features"),
                    work_dir=common["work_dir"],
                    log_dir=common["log_dir"],
                    extra_metadata=extra_metadata,
                    progress=reporter,
                )
            else:
                result = train_model(data.samples, config, **common)
            if bundle is None:
                bundle = save_bundle(
                    result,
                    root=artifacts_dir("bundles"),
                    extra_metadata=extra_metadata,
                )
    except MLError as exc:
        if _training_run_fail(run.pk, str(exc), attempts=run.attempts):
            training_run_observe(
                kind=run.kind, outcome="failed", seconds=time.monotonic() - started
            )
        raise TrainingFailedError(str(exc)) from exc
    except BaseException as exc:
        # Record the failure on the run before the error goes on (worker logs it).
        if _training_run_fail(
            run.pk, f"{type(exc).__name__}: {exc}", attempts=run.attempts
        ):
            training_run_observe(
                kind=run.kind, outcome="failed", seconds=time.monotonic() - started
            )
        raise
    replaced = model_version_get_active()
    with transaction.atomic():
        # One transaction: nobody sees the run succeeded before the model it asked
        # to activate is active.
        version = _model_version_register(run, result, bundle, params)
        if version is None:  # queued again meanwhile: the new attempt owns the run
            return TrainingRun.objects.get(pk=run.pk)
        if params.get("activate"):
            model_version_activate(
                version=version, user=run.created_by, reason=f"training run #{run.pk}"
            )
    training_run_observe(
        kind=run.kind, outcome="succeeded", seconds=time.monotonic() - started
    )
    # Every finished run gets the gate's verdict: applied (promoted when it passes)
    # only for a run that asked for the gate (a scheduled one); otherwise scored and
    # stored, the model left as the run asked (activated at once, then scored against
    # the model it replaced; or ready for staff).
    if params.get("activate"):
        model_version_gate_score(candidate=version, active=replaced)
    elif params.get("gate"):
        model_version_gate_apply(candidate=version)
    else:
        model_version_gate_score(candidate=version)
    mlflow_mirror_enqueue_on_commit()  # with the gate's decision
    return TrainingRun.objects.get(pk=run.pk)


class _ProgressReporter:
    """Progress callback for the core: stores progress and a heartbeat at most every
    few seconds (and at stage changes), and appends to the run's log."""

    def __init__(self, run_id: int, log: Callable[[str], None] | None) -> None:
        self.run_id = run_id
        self.log = log
        self.last = 0.0
        self.stage = ""

    def __call__(self, event: dict) -> None:
        now = time.monotonic()
        stage = event.get("stage", "")
        line = _progress_line(event)
        if self.log and line:
            self.log(line)
        if not line and stage == self.stage and now - self.last < HEARTBEAT_SECONDS:
            return
        self.stage, self.last = stage, now
        TrainingRun.objects.filter(pk=self.run_id).update(
            progress=float(event.get("fraction", 0.0)),
            stage=stage[:40],
            heartbeat_at=timezone.now(),
            log=_concat_log(line),
        )


def _progress_line(event: dict) -> str:
    if "epoch" not in event:
        return ""
    f1 = event.get("val_weighted_f1")
    f1_text = f" val weighted F1 {f1:.4f}" if f1 is not None else ""
    return f"{event.get('stage')} epoch {event['epoch']}/{event.get('epochs')}{f1_text}"


def _concat_log(line: str):
    from django.db.models import Value
    from django.db.models.functions import Concat

    return Concat(F("log"), Value(f"{line}\n")) if line else F("log")


class _Heartbeat:
    """Beats for a run from a thread while the core trains, so that a long epoch (the
    core reports progress once per epoch) never looks like a dead worker. Only the
    attempt that owns the run beats for it."""

    def __init__(self, run_id: int, *, attempts: int) -> None:
        self.run_id, self.attempts = run_id, attempts
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._beat, daemon=True)

    def __enter__(self) -> "_Heartbeat":
        self.thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stopped.set()
        self.thread.join(timeout=10)

    def _beat(self) -> None:
        from django.db import DatabaseError, connection

        try:
            while not self.stopped.wait(HEARTBEAT_THREAD_SECONDS):
                try:
                    TrainingRun.objects.filter(
                        pk=self.run_id,
                        status=TrainingRun.Status.RUNNING,
                        attempts=self.attempts,
                    ).update(heartbeat_at=timezone.now())
                except DatabaseError:
                    logger.warning("heartbeat of run %s not stored", self.run_id)
        finally:
            connection.close()


def _training_run_fail(run_id: int, error: str, *, attempts: int | None = None) -> bool:
    """Mark the run failed, unless (``attempts`` given) a newer attempt owns it.
    Returns whether it was marked."""
    runs = TrainingRun.objects.filter(pk=run_id)
    if attempts is not None:
        runs = runs.filter(status=TrainingRun.Status.RUNNING, attempts=attempts)
    if not runs.update(
        status=TrainingRun.Status.FAILED, error=error[:5000], finished_at=timezone.now()
    ):
        return False
    mlflow_mirror_enqueue_on_commit()
    audit_event_record(
        verb="training_run.failed",
        obj_type="TrainingRun",
        obj_id=run_id,
        message=f"Training run #{run_id} failed: {error[:200]}",
    )
    return True


def _training_run_skip(run_id: int, reason: str) -> TrainingRun:
    """End a run that has nothing to train on: skipped (not failed), with the reason
    in its log and the audit log; the active model stays as it is."""
    TrainingRun.objects.filter(pk=run_id).update(
        status=TrainingRun.Status.SKIPPED,
        stage="skipped",
        progress=1.0,
        log=_concat_log(reason),
        finished_at=timezone.now(),
    )
    audit_event_record(
        verb="training_run.skipped",
        obj_type="TrainingRun",
        obj_id=run_id,
        message=f"Training run #{run_id} skipped: {reason}",
    )
    mlflow_mirror_enqueue_on_commit()
    return TrainingRun.objects.get(pk=run_id)


@transaction.atomic
def _model_version_register(run, result, bundle, params: dict) -> ModelVersion | None:
    """Register the trained bundle, unless the run was queued again while this attempt
    trained (its worker looked dead): then the bundle stays unreferenced on disk and
    None is returned, so a run never yields two versions."""
    current = TrainingRun.objects.select_for_update().get(pk=run.pk)
    if current.status != TrainingRun.Status.RUNNING or current.attempts != run.attempts:
        return None
    provenance = result.backbone_provenance or {}
    backbone = provenance.get("backbone") or ""
    n_validation = (result.metrics.get("fused") or {}).get("n")
    warnings = [
        *result.warnings,
        too_few_validation_products_warning(
            n_validation, min_products=settings.ML_MIN_VALIDATION_PRODUCTS
        ),
    ]
    version = ModelVersion.objects.create(
        name=params.get("name")
        or _version_name(
            params,
            backbone=backbone,
            finetuned=result.lineage.get("mode") == "finetune",
        ),
        status=ModelVersion.Status.READY,
        bundle_path=str(bundle.path),
        bundle_sha256=bundle.sha256,
        backbone=backbone,
        is_demo=bool(params.get("is_demo")),
        label_codes=list(result.labels),
        fusion_weight=result.fusion_weight,
        metrics=result.metrics,
        lineage=result.lineage,
        warning=" ".join(_sentence(warning) for warning in warnings if warning),
    )
    TrainingRun.objects.filter(pk=run.pk).update(
        status=TrainingRun.Status.SUCCEEDED,
        model_version=version,
        progress=1.0,
        metrics=version.metrics,
        finished_at=timezone.now(),
    )
    audit_event_record(
        verb="training_run.succeeded",
        obj=run,
        message=f"Training run #{run.pk} produced {version}",
        data={"model_version": version.pk, "weighted_f1": version.weighted_f1},
    )
    return version


def _sentence(warning: str) -> str:
    """``warning`` ending with a full stop, so that joined warnings read apart."""
    warning = warning.strip()
    return warning if warning.endswith((".", "!", "?")) else f"{warning}."


def _version_name(params: dict, *, backbone: str = "", finetuned: bool = False) -> str:
    """What the model is: ``text`` or ``text+<backbone>`` from the trained model's
    own backbone (``backbone``, "" for a text-only model), never from the options
    asked for (an incremental run keeps its base model's architecture whatever the
    options say), then "fine-tuned" for an incremental run, and the time."""
    kind = f"text+{backbone}" if backbone else "text"
    prefix = "demo " if params.get("is_demo") else ""
    suffix = " fine-tuned" if finetuned else ""
    return f"{prefix}{kind}{suffix} {timezone.now():%Y-%m-%d %H:%M}"
