"""Taxonomy migrations on the ML side: the batch jobs that decide the products of a
split or retired category, the staff sample, and the undo of the whole migration.

The steps after ``taxonomy_migration_start`` (the catalog moved the one-to-one
mapped products at once):

1. ``sample``: a batch job (scope ``migration``, phase ``sample``) predicts the split
   products with the active model, restricted to their candidates; when it finishes
   the least certain ones, a few per new category, go to the review queue
   (``split_sample``). Without an active model the sample is taken in id order.
2. Staff label the sample in the review queue, then queue a training run on the new
   taxonomy (``taxonomy_migration_train``: a normal full run, which trains on the
   products confirmed in active categories: the mapped products and staff labels).
3. ``apply``: a batch job predicts every product still waiting, restricted to its
   candidates (the whole new taxonomy for a retired category); a result at or above
   the threshold moves the product (``how=model``, its model version recorded), the
   others go to the review queue.
"""

import tempfile
from pathlib import Path

from django.conf import settings
from django.db import transaction

from catalog.models import CategoryMove, Product, TaxonomyMigration
from catalog.services.taxonomy_migrations import (
    MigrationPlan,
    category_move_decide,
    move_candidates,
    taxonomy_migration_create,
    taxonomy_migration_plan_files,
    taxonomy_migration_undo,
)
from ml.models import BatchJob, BatchResult, ReviewItem, TrainingRun
from ml.selectors.model_versions import model_version_get_active
from ml.services.batch import batch_job_cancel, batch_job_create
from ml.services.batch_scopes import BatchItem, product_image_file
from ml.services.review_queue import (
    results_stored,
    review_items_from_results,
    review_items_withdraw_for_migration,
    review_threshold,
)
from ml.services.training_runs import training_run_create
from rakuten.exceptions import ApplicationError

PHASE_SAMPLE = "sample"
PHASE_APPLY = "apply"


def _waiting_moves(migration_id: int, *, kind: str = ""):
    moves = CategoryMove.objects.filter(
        migration_id=migration_id, new_category__isnull=True
    ).select_related("old_category", "migration", "migration__to_version")
    return moves.filter(kind=kind) if kind else moves


class MigrationScope:
    """The products of a taxonomy migration that still wait for their new category
    (phase ``sample``: those of split categories only), each restricted to its
    candidates."""

    def validate(self, params: dict) -> dict:
        try:
            migration_id = int(params.get("migration_id"))
        except (TypeError, ValueError):
            raise ApplicationError("migration_id is required.") from None
        phase = params.get("phase") or PHASE_APPLY
        if phase not in (PHASE_SAMPLE, PHASE_APPLY):
            raise ApplicationError("phase is sample or apply.")
        migration = TaxonomyMigration.objects.filter(pk=migration_id).first()
        if migration is None:
            raise ApplicationError(f"Unknown taxonomy migration {migration_id}.")
        if migration.status == TaxonomyMigration.Status.UNDONE:
            raise ApplicationError("This taxonomy migration was undone.")
        return {"migration_id": migration_id, "phase": phase}

    def item_ids(self, job: BatchJob) -> list[int]:
        params = job.scope_params
        kind = CategoryMove.Kind.SPLIT if params["phase"] == PHASE_SAMPLE else ""
        moves = _waiting_moves(params["migration_id"], kind=kind)
        return sorted(moves.values_list("product_id", flat=True))

    def items(self, job: BatchJob, ids: list[int]) -> list[BatchItem]:
        moves = _waiting_moves(job.scope_params["migration_id"]).filter(
            product_id__in=ids
        )
        candidates = {}
        for move in moves:
            candidates[move.product_id] = tuple(move_candidates(move=move))
        rows = Product.objects.filter(pk__in=list(candidates)).values_list(
            "pk", "title", "description", "image"
        )
        return [
            BatchItem(
                item_id=pk,
                title=title,
                description=description,
                image=product_image_file(image),
                product_id=pk,
                candidates=candidates[pk],
            )
            for pk, title, description, image in sorted(rows)
        ]

    def on_results(self, job: BatchJob, results: list[BatchResult]) -> None:
        if job.scope_params.get("phase") == PHASE_APPLY:
            migration_results_apply(job=job, results=results)

    def on_finish(self, job: BatchJob) -> None:
        if job.scope_params.get("phase") == PHASE_SAMPLE:
            migration_sample_pick(
                migration_id=job.scope_params["migration_id"], job=job
            )

    def on_stop(self, job: BatchJob, status: str) -> None:
        """Nothing: the migration's products simply keep waiting (staff resume the
        job, or run the phase again)."""


def migration_results_apply(*, job: BatchJob, results: list[BatchResult]) -> int:
    """Move each product whose result reaches the job's threshold (``how=model``);
    queue the others for review. Returns the products moved."""
    migration_id = job.scope_params["migration_id"]
    migration = TaxonomyMigration.objects.get(pk=migration_id)
    if migration.status == TaxonomyMigration.Status.UNDONE:
        return 0
    results = results_stored(job, results)
    moves = {
        m.product_id: m
        for m in _waiting_moves(migration_id).filter(
            product_id__in=[r.product_id for r in results if r.product_id]
        )
    }
    threshold = job.apply_threshold
    categories = {
        c.code: c for c in migration.to_version.categories.filter(active=True)
    }
    moved = 0
    for result in results:
        move = moves.get(result.product_id)
        if move is None or threshold is None or result.probability < threshold:
            continue
        category = categories.get(result.predicted_code)
        if category is None or category.code not in move_candidates(move=move):
            continue
        category_move_decide(
            move=move,
            category=category,
            how=CategoryMove.How.MODEL,
            model_version_id=job.model_version_id,
            probability=result.probability,
        )
        BatchResult.objects.filter(pk=result.pk).update(applied=True)
        result.applied = True
        moves.pop(result.product_id)
        moved += 1
    # A product the model moved no longer waits for staff (e.g. a sample item not
    # labelled before the apply job ran).
    ReviewItem.objects.filter(
        status=ReviewItem.Status.WAITING,
        move__migration_id=migration_id,
        move__new_category__isnull=False,
    ).update(status=ReviewItem.Status.WITHDRAWN)
    rest = [r for r in results if r.product_id in moves]
    review_items_from_results(
        job=job, results=rest, reason=ReviewItem.Reason.LOW_CONFIDENCE, moves=moves
    )
    return moved


@transaction.atomic
def migration_sample_pick(*, migration_id: int, job: BatchJob | None = None) -> int:
    """Queue the staff-labelling sample of a migration's split products: for each new
    category of a split, up to ``ML_MIGRATION_SAMPLE_PER_CATEGORY`` products, the
    least certain first (lowest restricted probability of the ``sample`` job; those
    the model places in that category first, then any). Without a job, in id order.
    Returns the items queued."""
    per_category = settings.ML_MIGRATION_SAMPLE_PER_CATEGORY
    moves = {
        m.product_id: m
        for m in _waiting_moves(migration_id, kind=CategoryMove.Kind.SPLIT)
    }
    results = []
    if job is not None:
        results = list(
            BatchResult.objects.filter(job=job, product_id__in=list(moves)).order_by(
                "probability", "item_id"
            )
        )
    by_product = {r.product_id: r for r in results}
    order = [r.product_id for r in results] + sorted(set(moves) - set(by_product))
    migration = TaxonomyMigration.objects.get(pk=migration_id)
    chosen: list[int] = []
    for targets in migration.mapping.values():
        if len(targets) < 2:
            continue
        split_products = [
            pk for pk in order if move_candidates(move=moves[pk]) == list(targets)
        ]
        for code in targets:
            taken = 0
            first = [
                pk
                for pk in split_products
                if pk in by_product and by_product[pk].predicted_code == code
            ]
            for pk in first + split_products:
                if taken >= per_category:
                    break
                if pk not in chosen:
                    chosen.append(pk)
                    taken += 1
    items = []
    for pk in chosen:
        result = by_product.get(pk)
        suggestions = [
            {"code": s["code"], "probability": round(float(s["probability"]), 4)}
            for s in ((result.top_k if result else None) or [])
        ] or [
            {"code": code, "probability": 0.0}
            for code in migration.mapping.get(moves[pk].old_category.code, [])
        ]
        items.append(
            ReviewItem(
                product_id=pk,
                job=job,
                result=result,
                move=moves[pk],
                suggestions=suggestions,
                suggested_code=suggestions[0]["code"] if suggestions else "",
                probability=suggestions[0]["probability"] if suggestions else 0.0,
                reason=ReviewItem.Reason.SPLIT_SAMPLE,
            )
        )
    ReviewItem.objects.bulk_create(items)
    return len(items)


def taxonomy_migration_start_uploads(
    *, categories_file, mapping_file, user=None, dry_run: bool = False
) -> tuple[MigrationPlan, TaxonomyMigration | None]:
    """``taxonomy_migration_start`` of two uploaded files (Django ``UploadedFile``)."""
    with tempfile.TemporaryDirectory() as folder:
        paths = []
        for name, upload in (
            ("categories.csv", categories_file),
            ("mapping.csv", mapping_file),
        ):
            path = Path(folder) / name
            with open(path, "wb") as out:
                for chunk in upload.chunks():
                    out.write(chunk)
            paths.append(path)
        return taxonomy_migration_start(
            categories_path=paths[0],
            mapping_path=paths[1],
            user=user,
            dry_run=dry_run,
            display_names=True,
        )


def taxonomy_migration_start(
    *,
    categories_path: Path,
    mapping_path: Path,
    user=None,
    dry_run: bool = False,
    display_names: bool = False,
) -> tuple[MigrationPlan, TaxonomyMigration | None]:
    """Check the files, then (unless ``dry_run``) migrate: the catalog moves the
    one-to-one products, and the split products' sample is picked (by a batch job
    with the active model, or in id order without one)."""
    plan = taxonomy_migration_plan_files(
        categories_path=categories_path,
        mapping_path=mapping_path,
        display_names=display_names,
    )
    if dry_run:
        return plan, None
    with transaction.atomic():
        migration = taxonomy_migration_create(plan=plan, user=user)
        if plan.split and plan.products.get("split"):
            if model_version_get_active() is not None:
                batch_job_create(
                    scope=BatchJob.Scope.MIGRATION,
                    scope_params={"migration_id": migration.pk, "phase": PHASE_SAMPLE},
                    user=user,
                )
            else:
                migration_sample_pick(migration_id=migration.pk)
    return plan, migration


def taxonomy_migration_predict(
    *, migration: TaxonomyMigration, user=None, model_version=None
) -> BatchJob:
    """Run the ``apply`` phase: a batch job over the products still waiting, with the
    active model (or ``model_version``) and its review threshold."""
    version = model_version or model_version_get_active()
    if version is None:
        raise ApplicationError("No model is active: activate or train one first.")
    if migration.status != TaxonomyMigration.Status.AWAITING:
        raise ApplicationError("No product of this migration waits for a decision.")
    return batch_job_create(
        scope=BatchJob.Scope.MIGRATION,
        scope_params={"migration_id": migration.pk, "phase": PHASE_APPLY},
        model_version=version,
        apply_threshold=review_threshold(version=version),
        user=user,
    )


def taxonomy_migration_train(
    *, migration: TaxonomyMigration, user=None, parameters: dict | None = None
) -> TrainingRun:
    """Queue a full training run on the new taxonomy: it learns from the products
    confirmed in active categories, i.e. the mapped products and the staff labels."""
    if migration.status == TaxonomyMigration.Status.UNDONE:
        raise ApplicationError("This taxonomy migration was undone.")
    return training_run_create(
        parameters=parameters or {}, kind=TrainingRun.Kind.FULL, created_by=user
    )


@transaction.atomic
def taxonomy_migration_undo_all(
    *, migration: TaxonomyMigration, user=None
) -> TaxonomyMigration:
    """Undo the whole migration (``taxonomy_migration_undo``), cancel its batch jobs
    still running and withdraw its waiting review items."""
    migration = taxonomy_migration_undo(migration=migration, user=user)
    running = BatchJob.objects.filter(
        scope=BatchJob.Scope.MIGRATION,
        scope_params__migration_id=migration.pk,
        status__in=[BatchJob.Status.PENDING, BatchJob.Status.RUNNING],
    )
    for job in running:
        batch_job_cancel(job=job, user=user)
    review_items_withdraw_for_migration(migration_id=migration.pk)
    return migration
