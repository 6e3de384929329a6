"""Writes on the ML side: training runs, model versions (activation, rollback) and
predictions. The pure core under ``ml/`` does the numerical work; this module moves data
between it and the database."""

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from catalog.models import Category, Product
from ml import selectors
from ml.models import (
    Alert,
    AuditEvent,
    DatasetReset,
    MetricSnapshot,
    ModelActivation,
    ModelVersion,
    Prediction,
    TrainingRun,
)
from rakuten.exceptions import ApplicationError, ConflictError

logger = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 5.0
# The heartbeat thread's period; keep it well under ML_STALE_RUN_SECONDS.
HEARTBEAT_THREAD_SECONDS = 30.0


class NoActiveModelError(ApplicationError):
    code = "no_active_model"


class TrainingFailedError(ApplicationError):
    code = "training_failed"


def artifacts_dir(*parts: str) -> Path:
    path = Path(settings.ML_ARTIFACTS_DIR, *parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


# --- Training ------------------------------------------------------------------------


def training_run_create(
    *,
    parameters: dict,
    kind: str = TrainingRun.Kind.FULL,
    created_by=None,
    enqueue: bool = True,
) -> TrainingRun:
    """Record a training run; queue it on the ``ml`` queue once the row is committed."""
    from ml.tasks import training_run_execute_task

    parameters = training_parameters_clean(parameters)
    with transaction.atomic():
        run = TrainingRun.objects.create(
            parameters=parameters, kind=kind, created_by=created_by
        )
        if enqueue:
            transaction.on_commit(lambda: training_run_execute_task.delay(run.pk))
    return run


def training_parameters_clean(parameters: dict) -> dict:
    """Validate the user-facing training options; unknown keys are refused."""
    from ml.core.backbones import BACKBONES

    allowed = {"backbone", "text_only", "epochs", "activate", "allow_random_backbone"}
    unknown = set(parameters) - allowed
    if unknown:
        raise ApplicationError(
            f"Unknown training option(s): {', '.join(sorted(unknown))}"
        )
    clean = {
        "backbone": parameters.get("backbone") or "efficientnet_lite0",
        "text_only": bool(parameters.get("text_only", False)),
        "epochs": int(parameters.get("epochs") or 8),
        "activate": bool(parameters.get("activate", False)),
        "allow_random_backbone": bool(parameters.get("allow_random_backbone", False)),
    }
    if clean["backbone"] not in BACKBONES:
        raise ApplicationError(
            f"Unknown backbone {clean['backbone']!r}: use {', '.join(BACKBONES)}."
        )
    if not 1 <= clean["epochs"] <= 200:
        raise ApplicationError("epochs must be between 1 and 200.")
    return clean


# Confirmed products whose pk falls in this slice are never trained on: the promotion
# gate scores every candidate, and the active model, on them.
EVAL_SLICE_MODULO = 10
# An incremental run replays up to this many older products per new one, and at least
# REPLAY_MIN_PER_LABEL of each label it keeps (so a small category is not forgotten).
REPLAY_FACTOR = 3
REPLAY_MIN_PER_LABEL = 5


@dataclass
class TrainingData:
    """What a run trains on. ``samples`` are core ``Sample`` objects. An incremental
    run with an active model also gets ``base`` (the version it fine-tunes),
    ``labels`` (the label set it will predict) and ``new`` (per sample: confirmed
    since ``base`` was made, rather than replayed)."""

    samples: list
    base: ModelVersion | None = None
    labels: list[str] | None = None
    new: list[bool] | None = None

    @property
    def n_new(self) -> int | None:
        return None if self.new is None else sum(self.new)


def training_samples_confirmed(
    *,
    kind: str = TrainingRun.Kind.FULL,
    exclude_eval_slice: bool = False,
    seed: int = 0,
) -> TrainingData:
    """Products with a confirmed, active category, as core ``Sample`` objects.

    ``full``: all of them. ``incremental``: those confirmed since the active model was
    created, plus a seeded replay sample of older ones (up to ``REPLAY_FACTOR`` times as
    many, topped up to ``REPLAY_MIN_PER_LABEL`` per label) in the label set: the
    active model's labels still active, plus the new products' labels.
    ``exclude_eval_slice`` leaves out the gate's evaluation slice."""
    from ml.core.data import replay_sample

    products = Product.objects.filter(category__isnull=False, category__active=True)
    if exclude_eval_slice:
        products = products.exclude(pk__in=evaluation_slice_products().values("pk"))
    active = selectors.model_version_get_active()
    if kind != TrainingRun.Kind.INCREMENTAL or active is None:
        return TrainingData(samples=_samples(products)[0])
    new = products.filter(confirmed_at__gt=active.created_at)
    new_ids = list(new.order_by("pk").values_list("pk", flat=True))
    active_codes = set(
        Category.objects.filter(active=True).values_list("code", flat=True)
    )
    labels = sorted(
        (set(active.label_codes) & active_codes)
        | set(new.values_list("category__code", flat=True))
    )
    older = list(
        products.exclude(pk__in=new_ids)
        .filter(category__code__in=labels)
        .order_by("pk")
        .values_list("pk", "category__code")
    )
    replay = replay_sample(
        [code for _, code in older],
        REPLAY_FACTOR * len(new_ids),
        min_per_label=REPLAY_MIN_PER_LABEL,
        seed=seed,
    )
    chosen = [older[i][0] for i in replay]
    samples, pks = _samples(products.filter(pk__in=[*new_ids, *chosen]))
    is_new = set(new_ids)
    return TrainingData(
        samples=samples,
        base=active,
        labels=labels,
        new=[pk in is_new for pk in pks],
    )


def _samples(products) -> tuple[list, list[int]]:
    """Core ``Sample`` objects of ``products`` in pk order, and their pks."""
    from ml.core.data import Sample

    media = Path(settings.MEDIA_ROOT)
    rows = products.order_by("pk").values_list(
        "pk", "title", "description", "image", "category__code"
    )
    samples = [
        Sample(
            title=title,
            description=description,
            image=(media / image) if image else None,
            label=code,
        )
        for _, title, description, image, code in rows
    ]
    return samples, [row[0] for row in rows]


def evaluation_slice_products():
    """The gate's fixed evaluation slice: confirmed products whose pk is a multiple of
    ``EVAL_SLICE_MODULO`` (deterministic, and stable as the catalogue grows)."""
    from django.db.models.functions import Mod

    return (
        Product.objects.filter(category__isnull=False, category__active=True)
        .annotate(slice_mod=Mod("pk", EVAL_SLICE_MODULO))
        .filter(slice_mod=0)
    )


def training_run_execute(*, run_id: int, log: Callable[[str], None] | None = None):
    """Train for a queued run and register the result as a ready model version. Safe to
    call twice: a run that already finished is left alone."""
    from ml.core.bundles import load_bundle, save_bundle
    from ml.core.errors import MLError
    from ml.core.features import FeatureCache
    from ml.core.config import TrainingConfig
    from ml.core.finetune import finetune_model
    from ml.core.pipeline import train_model

    with transaction.atomic():
        run = TrainingRun.objects.select_for_update().get(pk=run_id)
        if run.status != TrainingRun.Status.QUEUED:
            # Finished, or running on another worker (a second delivery of the same
            # message). A run whose worker died is queued again by
            # ``training_runs_requeue_stale``, never taken over here.
            return run
        run.status = TrainingRun.Status.RUNNING
        run.started_at = run.started_at or timezone.now()
        run.heartbeat_at = timezone.now()
        run.save(update_fields=["status", "started_at", "heartbeat_at"])
        audit_event_record(
            verb="training_run.started",
            obj=run,
            actor=run.created_by,
            message=f"Training run #{run.pk} ({run.kind}) started",
            data={"attempts": run.attempts},
        )

    params = run.parameters
    data = training_samples_confirmed(
        kind=run.kind, exclude_eval_slice=True, seed=params.get("seed", 0)
    )
    if data.base is not None and data.n_new == 0:
        return _training_run_skip(
            run.pk,
            f"nothing to learn: no product confirmed since {data.base} was trained "
            "(the evaluation slice excepted)",
        )
    backbone = None if params.get("text_only") else params.get("backbone")
    config = TrainingConfig(
        backbone=backbone,
        epochs=params.get("epochs", 8),
        allow_random_backbone=params.get("allow_random_backbone", False),
        # The local weights file setting is torchvision's VGG16 (nothing downloads).
        backbone_weights_path=(
            settings.ML_VGG16_WEIGHTS_PATH or None if backbone == "vgg16" else None
        ),
        seed=params.get("seed", 0),
    )
    reporter = _ProgressReporter(run.pk, log)
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
            else:
                result = train_model(data.samples, config, **common)
            bundle = save_bundle(
                result,
                root=artifacts_dir("bundles"),
                extra_metadata={
                    "training_run": run.pk,
                    "is_demo": params.get("is_demo"),
                },
            )
    except MLError as exc:
        _training_run_fail(run.pk, str(exc), attempts=run.attempts)
        raise TrainingFailedError(str(exc)) from exc
    except BaseException as exc:
        # Record the failure on the run before the error goes on (worker logs it).
        _training_run_fail(
            run.pk, f"{type(exc).__name__}: {exc}", attempts=run.attempts
        )
        raise
    version = _model_version_register(run, result, bundle, params)
    if version is None:  # the run was queued again meanwhile: the new attempt owns it
        return TrainingRun.objects.get(pk=run.pk)
    if params.get("activate"):
        model_version_activate(
            version=version, user=run.created_by, reason=f"training run #{run.pk}"
        )
    elif params.get("gate"):
        model_version_gate_apply(candidate=version)
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


def _training_run_fail(run_id: int, error: str, *, attempts: int | None = None) -> None:
    """Mark the run failed, unless (``attempts`` given) a newer attempt owns it."""
    runs = TrainingRun.objects.filter(pk=run_id)
    if attempts is not None:
        runs = runs.filter(status=TrainingRun.Status.RUNNING, attempts=attempts)
    if not runs.update(
        status=TrainingRun.Status.FAILED, error=error[:5000], finished_at=timezone.now()
    ):
        return
    audit_event_record(
        verb="training_run.failed",
        obj_type="TrainingRun",
        obj_id=run_id,
        message=f"Training run #{run_id} failed: {error[:200]}",
    )


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
    version = ModelVersion.objects.create(
        name=params.get("name")
        or _version_name(params, finetuned=result.lineage.get("mode") == "finetune"),
        status=ModelVersion.Status.READY,
        bundle_path=str(bundle.path),
        bundle_sha256=bundle.sha256,
        backbone=provenance.get("backbone") or "",
        is_demo=bool(params.get("is_demo")),
        label_codes=list(result.labels),
        fusion_weight=result.fusion_weight,
        metrics=result.metrics,
        lineage=result.lineage,
        warning=" ".join(result.warnings),
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


def _version_name(params: dict, *, finetuned: bool = False) -> str:
    kind = "text" if params.get("text_only") else f"text+{params.get('backbone')}"
    prefix = "demo " if params.get("is_demo") else ""
    suffix = " fine-tuned" if finetuned else ""
    return f"{prefix}{kind}{suffix} {timezone.now():%Y-%m-%d %H:%M}"


def starter_model_ensure(*, log: Callable[[str], None] | None = None):
    """When no model is active, train and activate a text-only demo model on the
    confirmed products (``make run`` on a fresh database). Returns the active
    version."""
    active = selectors.model_version_get_active()
    if active is not None:
        return active
    if not Product.objects.filter(category__isnull=False).exists():
        return None
    if log:
        log("No active model: training a text-only demo starter model...")
    run = training_run_create(
        parameters={"text_only": True, "epochs": 10, "activate": True},
        enqueue=False,
    )
    TrainingRun.objects.filter(pk=run.pk).update(
        parameters={**run.parameters, "is_demo": True}
    )
    training_run_execute(run_id=run.pk, log=log)
    return selectors.model_version_get_active()


# --- Activation ----------------------------------------------------------------------


@transaction.atomic
def model_version_activate(
    *, version: ModelVersion, user=None, reason: str = "", is_rollback: bool = False
) -> ModelVersion:
    """Make ``version`` the one active model, atomically: the previous one is retired in
    the same transaction, and the change is recorded in the activation history."""
    version = ModelVersion.objects.select_for_update().get(pk=version.pk)
    if version.status == ModelVersion.Status.TRAINING or not version.bundle_sha256:
        raise ConflictError("This model version has not finished training.")
    if version.status == ModelVersion.Status.ACTIVE:
        return version
    previous = (
        ModelVersion.objects.select_for_update()
        .filter(status=ModelVersion.Status.ACTIVE)
        .first()
    )
    if previous is not None:
        previous.status = ModelVersion.Status.RETIRED
        previous.active_marker = None
        previous.save(update_fields=["status", "active_marker"])
    version.status = ModelVersion.Status.ACTIVE
    version.active_marker = True
    version.activated_at = timezone.now()
    version.save(update_fields=["status", "active_marker", "activated_at"])
    activation = ModelActivation.objects.create(
        version=version,
        previous=previous,
        activated_by=user,
        reason=reason or ("rollback" if is_rollback else "manual activation"),
        is_rollback=is_rollback,
    )
    audit_event_record(
        verb="model_version.rolled_back" if is_rollback else "model_version.activated",
        obj=version,
        actor=user,
        message=f"{version} activated ({activation.reason})",
        data={"previous": previous.pk if previous is not None else None},
    )
    return version


@transaction.atomic
def model_version_rollback(*, user=None) -> ModelVersion:
    """Return to the version that was active before the current one."""
    last = (
        ModelActivation.objects.select_for_update()
        .order_by("-created_at", "-id")
        .first()
    )
    if last is None or last.previous is None:
        raise ConflictError("There is no previous model version to roll back to.")
    return model_version_activate(
        version=last.previous, user=user, reason="rollback", is_rollback=True
    )


# --- Predictions ---------------------------------------------------------------------


def prediction_create(
    *,
    title: str,
    description: str = "",
    image: bytes | None = None,
    user=None,
    top_k: int = 3,
) -> Prediction:
    """Ask the active model for the top-k categories and store the prediction with the
    version that made it."""
    from ml.core.errors import MLError
    from ml.core.inference import get_predictor

    version = selectors.model_version_get_active()
    if version is None:
        raise NoActiveModelError("No model is active yet: choose the category by hand.")
    if not (title or "").strip() and not (description or "").strip() and not image:
        raise ApplicationError("Give a title, a description or a photo.")
    try:
        predictor = get_predictor(version.bundle_path, version.bundle_sha256)
        result = predictor.predict(
            title=title, description=description, image=image, top_k=top_k
        )
    except MLError as exc:
        raise ApplicationError(str(exc)) from exc
    categories = {
        c.code: c for c in Category.objects.filter(code__in=version.label_codes)
    }
    top = [
        _suggestion(categories, label, probability) for label, probability in result.top
    ]
    branches = {
        name: (_suggestion(categories, *best) if best else None)
        for name, best in result.branch_top.items()
    }
    first = categories.get(result.top[0][0]) if result.top else None
    return Prediction.objects.create(
        model_version=version,
        predicted_category=first,
        top_k=top,
        branches=branches,
        used=result.used,
        latency_ms=result.latency_ms,
        requested_by=user if getattr(user, "is_authenticated", False) else None,
    )


def _suggestion(categories: dict[str, Category], code: str, probability: float) -> dict:
    category = categories.get(code)
    return {
        "category_id": category.pk if category else None,
        "code": code,
        "name": category.name if category else code,
        "probability": round(float(probability), 4),
    }


def prediction_attach(*, prediction_id: int, product, user) -> Prediction:
    """Link a stored prediction to the product that confirms it. Only the user who asked
    for the prediction may use it, and only once."""
    prediction = (
        Prediction.objects.select_for_update()
        .filter(pk=prediction_id, requested_by=user, product__isnull=True)
        .first()
    )
    if prediction is None:
        raise ApplicationError(
            "Unknown or already used prediction.",
            extra={"prediction": ["Unknown or already used prediction."]},
        )
    prediction.product = product
    prediction.save(update_fields=["product"])
    return prediction


@transaction.atomic
def listing_create(
    *,
    seller,
    title: str,
    description: str = "",
    category=None,
    image=None,
    prediction_id: int | None = None,
):
    """A seller saves a listing; when it confirms a stored prediction, the prediction is
    linked to the product, so real-versus-predicted accumulates on new products."""
    from catalog.services import product_create

    product = product_create(
        seller=seller,
        title=title,
        description=description,
        category=category,
        image=image,
    )
    if prediction_id is not None:
        prediction_attach(prediction_id=prediction_id, product=product, user=seller)
    return product


# --- Datasets ------------------------------------------------------------------------


@transaction.atomic
def dataset_reset(*, user, confirm: bool) -> DatasetReset:
    """Start counting new products from zero ("reset datasets"). Non-destructive: no
    product is deleted or changed; the reset records how many new products it covered,
    and ``selectors.dataset_new_products`` counts from it."""
    if not confirm:
        raise ApplicationError(
            "Confirm the reset: tick “I understand”.",
            extra={"confirm": ["Tick this box to reset."]},
        )
    reset = DatasetReset.objects.create(
        created_by=user, products_count=selectors.dataset_new_products().count()
    )
    audit_event_record(
        verb="dataset.reset",
        obj=reset,
        actor=user,
        message=f"{reset.products_count} new products marked as seen",
    )
    return reset


# --- Audit log -----------------------------------------------------------------------


def audit_event_record(
    *,
    verb: str,
    obj=None,
    obj_type: str = "",
    obj_id=None,
    actor=None,
    message: str = "",
    data: dict | None = None,
) -> AuditEvent:
    """Append one line to the audit log (inside the caller's transaction, so the event
    and the change it describes are stored together or not at all)."""
    if obj is not None:
        obj_type, obj_id = type(obj).__name__, obj.pk
    return AuditEvent.objects.create(
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        verb=verb,
        object_type=obj_type,
        object_id="" if obj_id is None else str(obj_id),
        message=message,
        data=data or {},
    )


# --- Monitoring: metric snapshots and alerts ------------------------------------------


@transaction.atomic
def metric_snapshot_create(
    *, days: int, model_version: ModelVersion | None = None
) -> MetricSnapshot | None:
    """Freeze the live metrics of ``model_version`` (the active one by default) over the
    last ``days`` days, as computed by ``selectors.model_metrics_window``. None when no
    model is active."""
    metrics = selectors.model_metrics_window(days=days, model_version=model_version)
    if metrics["model_version"] is None:
        return None
    return MetricSnapshot.objects.create(
        model_version_id=metrics["model_version"]["id"],
        window_days=days,
        count=metrics["count"],
        accuracy=metrics["accuracy"],
        weighted_f1=metrics["weighted_f1"],
        top1_kept_rate=metrics["top1_kept_rate"],
        per_category=[
            {key: row[key] for key in ("code", "name", "f1", "support")}
            for row in metrics["per_category"]
        ],
    )


@dataclass(frozen=True)
class _AlertCheck:
    kind: str
    key: str
    value: float
    threshold: float
    message: str
    category_code: str | None = None


def _alert_checks(snapshot: MetricSnapshot) -> tuple[list[_AlertCheck], set[str]]:
    """What the snapshot says, rule by rule: the failing checks, and the keys of the
    checks that had enough products and passed (their alerts may be resolved)."""
    validation = (snapshot.model_version.metrics or {}).get("fused") or {}
    margin = settings.ML_ALERT_MARGIN
    failing, passing = [], set()
    baseline = validation.get("weighted_f1")
    if (
        baseline is not None
        and snapshot.weighted_f1 is not None
        and snapshot.count >= settings.ML_ALERT_MIN_PRODUCTS
    ):
        threshold = baseline - margin
        if snapshot.weighted_f1 < threshold:
            failing.append(
                _AlertCheck(
                    kind=Alert.Kind.GLOBAL,
                    key="global",
                    value=snapshot.weighted_f1,
                    threshold=threshold,
                    message=(
                        f"Weighted F1 over the last {snapshot.window_days} days is "
                        f"{snapshot.weighted_f1:.3f} on {snapshot.count} products, "
                        f"below {threshold:.3f} (validation {baseline:.3f} - "
                        f"{margin:.2f})."
                    ),
                )
            )
        else:
            passing.add("global")
    per_class = validation.get("per_class") or {}
    known = set(snapshot.model_version.label_codes or [])
    for row in snapshot.per_category:
        if (
            row["code"] not in known
            and row["support"] >= settings.ML_ALERT_MIN_CATEGORY_SUPPORT
        ):
            failing.append(_unknown_category_check(snapshot, row))
            continue
        base = (per_class.get(row["code"]) or {}).get("f1")
        if base is None or row["support"] < settings.ML_ALERT_MIN_CATEGORY_SUPPORT:
            continue
        key = f"category:{row['code']}"
        threshold = base - margin
        if row["f1"] < threshold:
            failing.append(
                _AlertCheck(
                    kind=Alert.Kind.CATEGORY,
                    key=key,
                    value=row["f1"],
                    threshold=threshold,
                    category_code=row["code"],
                    message=(
                        f"F1 of {row['name']} ({row['code']}) over the last "
                        f"{snapshot.window_days} days is {row['f1']:.3f} on "
                        f"{row['support']} products, below {threshold:.3f} "
                        f"(validation {base:.3f} - {margin:.2f})."
                    ),
                )
            )
        else:
            passing.add(key)
    return failing, passing


def _unknown_category_check(snapshot: MetricSnapshot, row: dict) -> _AlertCheck:
    """Sellers confirmed products in a category the model cannot predict (added since it
    was trained): only a retraining can learn it. The alert is superseded once a model
    that knows it is active."""
    return _AlertCheck(
        kind=Alert.Kind.UNKNOWN_CATEGORY,
        key=f"unknown:{row['code']}",
        value=row["f1"],
        threshold=0.0,
        category_code=row["code"],
        message=(
            f"{row['support']} products were confirmed as {row['name']} "
            f"({row['code']}) over the last {snapshot.window_days} days, a category "
            f"model #{snapshot.model_version_id} does not know: retrain to learn it."
        ),
    )


@transaction.atomic
def alerts_evaluate(*, snapshot: MetricSnapshot) -> list[Alert]:
    """Open an alert for every rule the snapshot breaks (global weighted F1, and F1 per
    category, each against the model's validation figure minus ``ML_ALERT_MARGIN``;
    products confirmed in a category the model does not know),
    unless one is already unresolved for that rule; resolve the unresolved alerts of
    rules that pass again and those about another (older) model version. Staff are
    e-mailed about the new alerts once the transaction commits. Returns the alerts
    opened."""
    failing, passing = _alert_checks(snapshot)
    opened = []
    for check in failing:
        alert = _alert_open(snapshot=snapshot, check=check)
        if alert is not None:
            opened.append(alert)
    for alert in Alert.objects.filter(open_key__in=passing):
        _alert_close(alert=alert, user=None, reason="metric recovered")
    # Alerts about a model that is no longer the one measured are superseded.
    superseded = Alert.objects.filter(open_key__isnull=False).exclude(
        model_version=snapshot.model_version
    )
    for alert in superseded:
        _alert_close(alert=alert, user=None, reason="superseded by a new model")
    if opened:
        ids = [alert.pk for alert in opened]
        transaction.on_commit(lambda: alert_notify(alert_ids=ids))
        if settings.ML_ALERT_TRIGGERS_RETRAINING:
            from ml.tasks import retraining_scheduled_task

            key = f"alert:{ids[0]}"
            transaction.on_commit(
                lambda: retraining_scheduled_task.delay(
                    TrainingRun.Kind.INCREMENTAL, key
                )
            )
    return opened


def _alert_open(*, snapshot: MetricSnapshot, check: _AlertCheck) -> Alert | None:
    if Alert.objects.filter(open_key=check.key).exists():
        return None
    category = (
        Category.objects.filter(code=check.category_code).first()
        if check.category_code
        else None
    )
    try:
        with transaction.atomic():  # a concurrent evaluation may open it first
            alert = Alert.objects.create(
                kind=check.kind,
                category=category,
                model_version=snapshot.model_version,
                snapshot=snapshot,
                open_key=check.key,
                value=check.value,
                threshold=check.threshold,
                message=check.message,
            )
    except IntegrityError:
        return None
    audit_event_record(
        verb="alert.opened", obj=alert, message=check.message, data={"key": check.key}
    )
    return alert


def alert_notify(*, alert_ids: list[int]) -> int:
    """E-mail the staff about new alerts; returns the number of messages sent."""
    from accounts.selectors import staff_email_list

    alerts = list(Alert.objects.filter(pk__in=alert_ids).order_by("pk"))
    recipients = staff_email_list()
    if not alerts or not recipients:
        return 0
    subject = (
        f"[rakuten] {len(alerts)} model alert{'s' if len(alerts) > 1 else ''}: "
        f"{alerts[0].model_version}"
    )
    body = "\n".join(f"- {alert.message}" for alert in alerts)
    return send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, recipients)


@transaction.atomic
def alert_acknowledge(*, alert: Alert, user) -> Alert:
    """Staff saw the alert. It stays unresolved (no new alert opens for its rule)."""
    alert = Alert.objects.select_for_update().get(pk=alert.pk)
    if alert.status != Alert.Status.OPEN:
        return alert
    alert.status = Alert.Status.ACKNOWLEDGED
    alert.acknowledged_at = timezone.now()
    alert.acknowledged_by = user
    alert.save(update_fields=["status", "acknowledged_at", "acknowledged_by"])
    audit_event_record(verb="alert.acknowledged", obj=alert, actor=user)
    return alert


@transaction.atomic
def alert_resolve(*, alert: Alert, user) -> Alert:
    """Close the alert: the next breach of its rule opens a new one."""
    alert = Alert.objects.select_for_update().get(pk=alert.pk)
    return _alert_close(alert=alert, user=user, reason="resolved by staff")


def _alert_close(*, alert: Alert, user, reason: str) -> Alert:
    if alert.status == Alert.Status.RESOLVED:
        return alert
    alert.status = Alert.Status.RESOLVED
    alert.resolved_at = timezone.now()
    alert.open_key = None
    alert.save(update_fields=["status", "resolved_at", "open_key"])
    audit_event_record(verb="alert.resolved", obj=alert, actor=user, message=reason)
    return alert


def model_monitoring_run(*, days: int | None = None) -> list[Alert]:
    """The daily check: snapshot the active model's live metrics and evaluate the
    alert rules on them. Returns the alerts opened."""
    snapshot = metric_snapshot_create(days=days or settings.ML_METRICS_WINDOW_DAYS)
    if snapshot is None:
        return []
    return alerts_evaluate(snapshot=snapshot)


# --- Scheduled retraining and crash recovery ------------------------------------------


def schedule_key_for(*, kind: str, now: datetime | None = None) -> str:
    """The schedule window a retraining belongs to: the ISO week for incremental runs
    ("incremental:2026-W48"), the month for full ones ("full:2026-11")."""
    now = timezone.localtime(now or timezone.now())
    if kind == TrainingRun.Kind.INCREMENTAL:
        year, week, _ = now.isocalendar()
        return f"incremental:{year}-W{week:02d}"
    return f"full:{now:%Y-%m}"


def training_run_schedule(
    *, kind: str, schedule_key: str | None = None, now: datetime | None = None
) -> tuple[TrainingRun, bool]:
    """The run of this schedule window, created on first call (``created`` True).
    However often it is called, even concurrently, one run exists per key: the
    unique ``schedule_key`` decides, and the loser reads the winner's row."""
    if kind not in TrainingRun.Kind.values:
        raise ApplicationError(f"Unknown retraining kind {kind!r}.")
    key = schedule_key or schedule_key_for(kind=kind, now=now)
    existing = TrainingRun.objects.filter(schedule_key=key).first()
    if existing is not None:
        return existing, False
    # Retrain with the active model's options (its backbone, epochs, ...).
    active = selectors.model_version_get_active()
    active_run = getattr(active, "training_run", None) if active else None
    options = {
        key: value
        for key, value in (active_run.parameters if active_run else {}).items()
        if key in ("backbone", "text_only", "epochs", "allow_random_backbone")
    }
    if not options:
        options = {
            "text_only": active is None or not active.backbone,
            "backbone": (active.backbone if active is not None else "") or None,
        }
    parameters = training_parameters_clean(options)
    parameters["gate"] = True  # promoted by the gate, not unconditionally
    try:
        with transaction.atomic():
            run = TrainingRun.objects.create(
                kind=kind, parameters=parameters, schedule_key=key
            )
            audit_event_record(
                verb="training_run.scheduled", obj=run, message=f"{kind} run {key}"
            )
    except IntegrityError:
        return TrainingRun.objects.get(schedule_key=key), False
    return run, True


def training_run_scheduled_execute(
    *, kind: str, schedule_key: str | None = None
) -> TrainingRun:
    """Beat's retraining: find or create the window's run and execute it here (the
    task already runs on the ``ml`` queue). A second delivery finds the run finished
    or running and does nothing."""
    run, _ = training_run_schedule(kind=kind, schedule_key=schedule_key)
    return training_run_execute(run_id=run.pk)


def training_runs_requeue_stale(*, now: datetime | None = None) -> dict[str, list]:
    """Runs marked running whose heartbeat is older than ``ML_STALE_RUN_SECONDS`` lost
    their worker. Each is queued again once (it resumes from its last checkpoint, as
    the same run id keeps the same work folder); a second staleness marks it failed.
    Returns ``{"requeued": [ids], "failed": [ids]}``."""
    from ml.tasks import training_run_execute_task

    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.ML_STALE_RUN_SECONDS)
    outcome: dict[str, list] = {"requeued": [], "failed": []}
    stale = TrainingRun.objects.filter(
        status=TrainingRun.Status.RUNNING, heartbeat_at__lt=cutoff
    ).values_list("pk", flat=True)
    for run_id in list(stale):
        with transaction.atomic():
            run = TrainingRun.objects.select_for_update().get(pk=run_id)
            if run.status != TrainingRun.Status.RUNNING or run.heartbeat_at >= cutoff:
                continue  # it moved on while we looked
            if run.attempts >= 1:
                run.status = TrainingRun.Status.FAILED
                run.error = "The worker stopped twice (no heartbeat): gave up."
                run.finished_at = now
                run.save(update_fields=["status", "error", "finished_at"])
                outcome["failed"].append(run.pk)
                verb = "training_run.failed"
            else:
                run.status = TrainingRun.Status.QUEUED
                run.attempts += 1
                run.save(update_fields=["status", "attempts"])
                transaction.on_commit(
                    lambda pk=run.pk: training_run_execute_task.delay(pk)
                )
                outcome["requeued"].append(run.pk)
                verb = "training_run.requeued"
            audit_event_record(
                verb=verb,
                obj=run,
                message=f"no heartbeat since {run.heartbeat_at:%Y-%m-%d %H:%M:%S}",
                data={"attempts": run.attempts},
            )
    return outcome


# --- Promotion gate -------------------------------------------------------------------


@dataclass
class GateDecision:
    promote: bool
    reasons: list[str] = field(default_factory=list)
    # on the fixed evaluation slice
    candidate_metrics: dict = field(default_factory=dict)
    active_metrics: dict | None = None
    active_version: int | None = None
    # on the recent window: {"n", "checked", "since", "candidate", "active"}
    recent: dict | None = None

    def as_dict(self) -> dict:
        return asdict(self)


def evaluation_slice_items() -> list[dict]:
    """The evaluation slice as evaluation items (with ``confirmed_at``), in pk order."""
    media = Path(settings.MEDIA_ROOT)
    return [
        {
            "title": title,
            "description": description,
            "image": (media / image) if image else None,
            "label": code,
            "confirmed_at": confirmed_at,
        }
        for title, description, image, code, confirmed_at in evaluation_slice_products()
        .order_by("pk")
        .values_list("title", "description", "image", "category__code", "confirmed_at")
    ]


def _slice_predictions(version: ModelVersion, items: list[dict]) -> list[str]:
    """``version``'s top category for every item."""
    from ml.core.inference import get_predictor

    predictor = get_predictor(version.bundle_path, version.bundle_sha256)
    return [
        result.top[0][0]
        for start in range(0, len(items), 64)
        for result in predictor.predict_batch(items[start : start + 64], top_k=1)
    ]


def _gate_metrics(truth: list[str], predicted: list[str]) -> dict:
    from ml.core.metrics import classification_metrics

    report = classification_metrics(
        truth, predicted, labels=sorted(set(truth) | set(predicted))
    )
    return {
        "n": report["n"],
        "accuracy": report["accuracy"],
        "weighted_f1": report["weighted_f1"],
        "per_class": {
            code: round(float(report["per_class"][code]["f1"]), 4)
            for code in sorted(set(truth))
        },
    }


def _f1_rule(ours: dict, theirs: dict, where: str) -> tuple[bool, str]:
    needed = theirs["weighted_f1"] + settings.ML_PROMOTION_MARGIN
    ok = ours["weighted_f1"] >= needed
    return ok, (
        f"{where}: weighted F1 {ours['weighted_f1']:.3f} {'>=' if ok else '<'} "
        f"{needed:.3f} (active {theirs['weighted_f1']:.3f} + margin "
        f"{settings.ML_PROMOTION_MARGIN:.2f}) on {ours['n']} products"
    )


def model_version_gate(*, candidate: ModelVersion) -> GateDecision:
    """Score ``candidate`` and the active model on the fixed evaluation slice (never
    trained on) and on its recent window (the slice's products confirmed since the
    active model was made, within ``ML_METRICS_WINDOW_DAYS``: the new products). The
    candidate is promoted only if, on both, its weighted F1 is at least the active
    one's plus ``ML_PROMOTION_MARGIN``, and no category loses more than
    ``ML_PROMOTION_MAX_CATEGORY_DROP`` of F1 on the slice (a category with fewer than
    ``ML_GATE_MIN_CATEGORY_SUPPORT`` slice products is not judged on its own; the
    default, 1, judges every one). A recent window of fewer than
    ``ML_GATE_MIN_RECENT_PRODUCTS`` products is reported, not checked. Each model
    predicts the slice once."""
    from ml.core.errors import MLError

    active = selectors.model_version_get_active()
    if active is None:
        return GateDecision(promote=True, reasons=["no model is active"])
    items = evaluation_slice_items()
    if not items:
        return GateDecision(
            promote=False,
            reasons=["the evaluation slice is empty: a staff decision is needed"],
            active_version=active.pk,
        )
    try:
        ours_pred = _slice_predictions(candidate, items)
        theirs_pred = _slice_predictions(active, items)
    except MLError as exc:
        raise ApplicationError(str(exc)) from exc
    truth = [item["label"] for item in items]
    ours, theirs = _gate_metrics(truth, ours_pred), _gate_metrics(truth, theirs_pred)
    f1_ok, reason = _f1_rule(ours, theirs, "evaluation slice")
    reasons = [reason]

    since = max(
        active.created_at,
        timezone.now() - timedelta(days=settings.ML_METRICS_WINDOW_DAYS),
    )
    recent = [
        i
        for i, item in enumerate(items)
        if item["confirmed_at"] is not None and item["confirmed_at"] >= since
    ]
    checked = len(recent) >= settings.ML_GATE_MIN_RECENT_PRODUCTS
    recent_ours = recent_theirs = None
    recent_ok = True
    if checked:
        recent_truth = [truth[i] for i in recent]
        recent_ours = _gate_metrics(recent_truth, [ours_pred[i] for i in recent])
        recent_theirs = _gate_metrics(recent_truth, [theirs_pred[i] for i in recent])
        recent_ok, reason = _f1_rule(recent_ours, recent_theirs, "recent window")
        reasons.append(reason)
    else:
        reasons.append(
            f"recent window: {len(recent)} products, fewer than "
            f"{settings.ML_GATE_MIN_RECENT_PRODUCTS}: not checked"
        )

    support = Counter(truth)
    drops = sorted(
        (theirs["per_class"][code] - f1, code)
        for code, f1 in ours["per_class"].items()
        if theirs["per_class"][code] - f1 > settings.ML_PROMOTION_MAX_CATEGORY_DROP
        and support[code] >= settings.ML_GATE_MIN_CATEGORY_SUPPORT
    )
    for drop, code in reversed(drops):
        reasons.append(f"category {code} F1 drops by {drop:.3f}")
    return GateDecision(
        promote=f1_ok and recent_ok and not drops,
        reasons=reasons,
        candidate_metrics=ours,
        active_metrics=theirs,
        active_version=active.pk,
        recent={
            "n": len(recent),
            "checked": checked,
            "since": since.isoformat(timespec="seconds"),
            "candidate": recent_ours,
            "active": recent_theirs,
        },
    )


def model_version_gate_apply(*, candidate: ModelVersion) -> GateDecision:
    """Run the gate, store its decision on the candidate and promote it when it
    passes (through ``model_version_activate``: atomic, kept in the history); it
    otherwise stays ready for a staff decision."""
    decision = model_version_gate(candidate=candidate)
    with transaction.atomic():
        ModelVersion.objects.filter(pk=candidate.pk).update(gate=decision.as_dict())
        audit_event_record(
            verb="model_version.gated",
            obj=candidate,
            message=("promote: " if decision.promote else "hold: ")
            + "; ".join(decision.reasons),
            data={"promote": decision.promote},
        )
        if decision.promote:
            model_version_activate(
                version=candidate, reason=f"gate: {decision.reasons[0]}"[:200]
            )
    return decision


# --- Taxonomy ------------------------------------------------------------------------


@transaction.atomic
def category_merge(*, source: Category, target: Category, user=None) -> int:
    """Fold ``source`` into ``target``: every product confirmed as ``source`` moves to
    ``target`` and ``source`` is retired (kept, inactive), so the next training run
    learns the merged label set. Predictions keep their predicted category and model
    version: what a model said stays attributable. Returns the products moved. (Here
    rather than in ``catalog.services`` because the change is audited and concerns
    the models' label set.)"""
    if source.pk == target.pk:
        raise ApplicationError("A category cannot be merged into itself.")
    if not target.active:
        raise ApplicationError(f"{target} is retired: merge into an active category.")
    moved = Product.objects.filter(category=source).update(category=target)
    Category.objects.filter(pk=source.pk).update(active=False)
    audit_event_record(
        verb="category.merged",
        obj=source,
        actor=user,
        message=f"{source.code} merged into {target.code} ({moved} products)",
        data={"target": target.code, "products": moved},
    )
    return moved
