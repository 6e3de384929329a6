"""Which model version is active: activation and rollback, both audited; and a
bundle trained in another environment registered here (promotion by sha256)."""

import json
from pathlib import Path

from django.db import transaction
from django.utils import timezone

from audit.services import audit_event_record
from ml.models import (
    ModelActivation,
    ModelVersion,
)
from ml.services.mlflow_mirror import mlflow_mirror_enqueue_on_commit
from rakuten.exceptions import ApplicationError, ConflictError


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
    mlflow_mirror_enqueue_on_commit()  # the registry's alias follows
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


@transaction.atomic
def model_version_import(
    *, bundle_path: str, sha256: str, name: str = "", user=None
) -> ModelVersion:
    """Register a bundle trained in another environment (its folder copied under this
    one's ``ML_ARTIFACTS_DIR``) as a ready version, once its files match ``sha256``:
    how a model moves from preprod to prod (docs/deployment.md). The same bundle
    again returns its version. Activation stays a separate, audited step."""
    from ml.core.bundles import verify_bundle
    from ml.core.errors import BundleIntegrityError

    existing = ModelVersion.objects.filter(bundle_sha256=sha256).first()
    if existing is not None:
        return existing
    path = Path(bundle_path).resolve()
    try:
        verify_bundle(path, expected_sha256=sha256)
    except BundleIntegrityError as exc:
        raise ApplicationError(f"Bundle refused: {exc}") from exc
    metadata = json.loads((path / "bundle.json").read_text())
    version = ModelVersion.objects.create(
        name=name or f"imported {sha256[:12]}",
        status=ModelVersion.Status.READY,
        bundle_path=str(path),
        bundle_sha256=sha256,
        backbone=(metadata.get("backbone") or {}).get("backbone") or "",
        is_demo=bool((metadata.get("extra") or {}).get("is_demo")),
        label_codes=list(metadata["labels"]),
        fusion_weight=metadata.get("fusion_weight"),
        metrics=metadata.get("metrics") or {},
        lineage=metadata.get("lineage") or {},
    )
    audit_event_record(
        verb="model_version.imported",
        obj=version,
        actor=user,
        message=f"{version} imported from bundle {sha256}",
        data={"sha256": sha256},
    )
    mlflow_mirror_enqueue_on_commit()
    return version
