"""Writes on the ML side: training runs, model versions (activation, rollback) and
predictions. The pure core under ``ml/`` does the numerical work; this module moves data
between it and the database."""

import logging
import time
from collections.abc import Callable
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from catalog.models import Category, Product
from ml import selectors
from ml.models import (
    DatasetReset,
    ModelActivation,
    ModelVersion,
    Prediction,
    TrainingRun,
)
from rakuten.exceptions import ApplicationError, ConflictError

logger = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 5.0


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
    from ml.backbones import BACKBONES

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


def training_samples_confirmed() -> tuple[list, dict[str, str]]:
    """Every product with a confirmed, active category, as core ``Sample`` objects."""
    from ml.datasets import Sample

    rows = (
        Product.objects.filter(category__isnull=False, category__active=True)
        .order_by("pk")
        .values_list("title", "description", "image", "category__code")
    )
    media = Path(settings.MEDIA_ROOT)
    samples = [
        Sample(
            title=title,
            description=description,
            image=(media / image) if image else None,
            label=code,
        )
        for title, description, image, code in rows
    ]
    names = dict(Category.objects.values_list("code", "name"))
    return samples, names


def training_run_execute(*, run_id: int, log: Callable[[str], None] | None = None):
    """Train for a queued run and register the result as a ready model version. Safe to
    call twice: a run that already finished is left alone."""
    from ml.bundles import save_bundle
    from ml.errors import MLError
    from ml.features import FeatureCache
    from ml.training import TrainingConfig, train_model

    with transaction.atomic():
        run = TrainingRun.objects.select_for_update().get(pk=run_id)
        if run.status in (TrainingRun.Status.SUCCEEDED, TrainingRun.Status.FAILED):
            return run
        run.status = TrainingRun.Status.RUNNING
        run.started_at = run.started_at or timezone.now()
        run.heartbeat_at = timezone.now()
        run.save(update_fields=["status", "started_at", "heartbeat_at"])

    params = run.parameters
    samples, _ = training_samples_confirmed()
    config = TrainingConfig(
        backbone=None if params.get("text_only") else params.get("backbone"),
        epochs=params.get("epochs", 8),
        allow_random_backbone=params.get("allow_random_backbone", False),
        backbone_weights_path=settings.ML_VGG16_WEIGHTS_PATH or None,
        seed=params.get("seed", 0),
    )
    reporter = _ProgressReporter(run.pk, log)
    try:
        result = train_model(
            samples,
            config,
            work_dir=artifacts_dir("runs", str(run.pk)),
            feature_cache=FeatureCache(artifacts_dir("features")),
            progress=reporter,
            log_dir=artifacts_dir("runs", str(run.pk), "tensorboard"),
        )
        bundle = save_bundle(
            result,
            root=artifacts_dir("bundles"),
            extra_metadata={"training_run": run.pk, "is_demo": params.get("is_demo")},
        )
    except MLError as exc:
        _training_run_fail(run.pk, str(exc))
        raise TrainingFailedError(str(exc)) from exc
    except BaseException as exc:
        # Record the failure on the run before the error goes on (worker logs it).
        _training_run_fail(run.pk, f"{type(exc).__name__}: {exc}")
        raise
    version = _model_version_register(run, result, bundle, params)
    if params.get("activate"):
        model_version_activate(
            version=version, user=run.created_by, reason=f"training run #{run.pk}"
        )
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


def _training_run_fail(run_id: int, error: str) -> None:
    TrainingRun.objects.filter(pk=run_id).update(
        status=TrainingRun.Status.FAILED, error=error[:5000], finished_at=timezone.now()
    )


@transaction.atomic
def _model_version_register(run, result, bundle, params: dict) -> ModelVersion:
    provenance = result.backbone_provenance or {}
    version = ModelVersion.objects.create(
        name=params.get("name") or _version_name(params),
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
    return version


def _version_name(params: dict) -> str:
    kind = "text" if params.get("text_only") else f"text+{params.get('backbone')}"
    prefix = "demo " if params.get("is_demo") else ""
    return f"{prefix}{kind} {timezone.now():%Y-%m-%d %H:%M}"


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
        parameters={"text_only": True, "epochs": 6, "activate": True},
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
    ModelActivation.objects.create(
        version=version,
        previous=previous,
        activated_by=user,
        reason=reason or ("rollback" if is_rollback else "manual activation"),
        is_rollback=is_rollback,
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
    from ml.errors import MLError
    from ml.inference import get_predictor

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
    return DatasetReset.objects.create(
        created_by=user, products_count=selectors.dataset_new_products().count()
    )
