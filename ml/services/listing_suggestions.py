"""The model's side of a seller's listing import (``catalog.models.ListingImport``):
its rows are a scope of the batch prediction engine (``ImportScope``), whose results
are written onto the rows as suggestions; and on confirmation each listed row's
prediction is recorded, with the model version and the seller's choice, as a Sell-page
listing's is (``listing_import_predictions_record``, named by the setting
``LISTING_IMPORT_PREDICTIONS_RECORD``)."""

from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from catalog.models import Category, ListingImport, ListingImportRow
from ml.models import ChoiceSource, Prediction
from ml.selectors.model_versions import model_version_get_active
from ml.services.batch import batch_job_create
from ml.services.batch_scopes import BatchItem
from ml.services.predictions import prediction_input_sha256
from rakuten.exceptions import ApplicationError

TOP_SUGGESTIONS = 3
Decision = ListingImportRow.Decision
STOPPED_NOTE = "Suggestions stopped"
# An import whose rows a (resumed) job may still write onto.
_SUGGESTABLE = (ListingImport.Status.SUGGESTING, ListingImport.Status.READY)


# --- Suggestions: the batch engine's "import" scope ----------------------------------


def listing_import_suggest(*, import_id: int) -> ListingImport | None:
    """Start the batch job that suggests the import's rows (the task
    ``ml.tasks.listing_import_suggest``). Safe to run twice: only an uploaded import
    starts a job. Without an active model the import is ready at once, every row
    flagged, for the seller to categorise by hand."""
    with transaction.atomic():
        listing_import = (
            ListingImport.objects.select_for_update()
            .filter(pk=import_id, status=ListingImport.Status.UPLOADED)
            .first()
        )
        if listing_import is None:
            return None
        if model_version_get_active() is None:
            listing_import.rows.update(decision=Decision.FLAGGED)
            listing_import.status = ListingImport.Status.READY
            listing_import.suggested_at = timezone.now()
            listing_import.note = "No model is active: choose each row's category."
            listing_import.save(update_fields=["status", "suggested_at", "note"])
            return listing_import
        listing_import.status = ListingImport.Status.SUGGESTING
        listing_import.save(update_fields=["status"])
        job = batch_job_create(
            scope="import",
            scope_params={"import_id": listing_import.pk},
            user=listing_import.seller,
        )
        listing_import.batch_job_id = job.pk
        listing_import.save(update_fields=["batch_job_id"])
    return listing_import


class ImportScope:
    """The rows of one listing import (``scope_params``: ``{"import_id": N}``)."""

    def validate(self, params: dict) -> dict:
        import_id = params.get("import_id") if isinstance(params, dict) else None
        if not isinstance(import_id, int) or isinstance(import_id, bool):
            raise ApplicationError("An import job needs an import_id.")
        if not ListingImport.objects.filter(pk=import_id).exists():
            raise ApplicationError(f"No listing import {import_id}.")
        return {"import_id": import_id}

    def item_ids(self, job) -> list[int]:
        return list(
            ListingImportRow.objects.filter(
                listing_import_id=job.scope_params["import_id"]
            )
            .order_by("pk")
            .values_list("pk", flat=True)
        )

    def items(self, job, ids: list[int]) -> list:
        media = Path(settings.MEDIA_ROOT)
        rows = ListingImportRow.objects.filter(
            listing_import_id=job.scope_params["import_id"], pk__in=ids
        ).only("pk", "title", "description", "image")
        return [
            BatchItem(
                item_id=row.pk,
                title=row.title,
                description=row.description,
                image=media / row.image if row.image else None,
            )
            for row in rows
        ]

    def on_results(self, job, results) -> None:
        """Write each result onto its row: the top suggestions (calibrated), the
        inputs used, the model version; rows whose first suggestion reaches the
        import's threshold are pre-accepted, the others flagged. Once the import is
        back in the seller's hands (its job stopped, then was resumed), only the rows
        still flagged without a suggestion are written; a confirmed or expired import
        takes nothing."""
        listing_import = (
            ListingImport.objects.select_for_update()
            .filter(pk=job.scope_params["import_id"], status__in=_SUGGESTABLE)
            .first()
        )
        if listing_import is None:
            return
        suggestions_write(
            listing_import=listing_import,
            model_version_id=job.model_version_id,
            results=[(result.item_id, result.top_k, result.used) for result in results],
            waiting_only=listing_import.status == ListingImport.Status.READY,
        )

    def on_finish(self, job) -> None:
        imports = ListingImport.objects.filter(pk=job.scope_params["import_id"])
        imports.filter(status=ListingImport.Status.SUGGESTING).update(
            status=ListingImport.Status.READY, suggested_at=timezone.now()
        )
        # A resumed job that finishes: every row has its suggestion now.
        imports.filter(
            status=ListingImport.Status.READY, note__startswith=STOPPED_NOTE
        ).update(note="")

    def on_stop(self, job, status: str) -> None:
        """The job failed or was cancelled: the import is the seller's again
        (ready), with a note; the rows still waiting for a suggestion are flagged,
        for the seller to choose their category by hand; suggested rows keep theirs."""
        listing_import = (
            ListingImport.objects.select_for_update()
            .filter(
                pk=job.scope_params["import_id"],
                status=ListingImport.Status.SUGGESTING,
            )
            .first()
        )
        if listing_import is None:
            return
        listing_import.rows.filter(decision=Decision.PENDING).update(
            decision=Decision.FLAGGED
        )
        how = "failed" if status == "failed" else "was cancelled"
        listing_import.status = ListingImport.Status.READY
        listing_import.suggested_at = timezone.now()
        listing_import.note = (
            f"{STOPPED_NOTE} (the batch job {how}): choose the remaining rows' "
            "categories."
        )
        listing_import.save(update_fields=["status", "suggested_at", "note"])


def suggestions_write(
    *,
    listing_import: ListingImport,
    model_version_id: int,
    results: list[tuple[int, list[dict], str]],
    waiting_only: bool = False,
) -> int:
    """Write ``(row id, top_k [{"code", "probability"}], used)`` onto the import's
    rows and pre-decide them (with ``waiting_only``, only the rows flagged without a
    suggestion: the seller's decisions are kept); returns how many rows were
    written."""
    codes = {s["code"] for _, top_k, _ in results for s in top_k[:TOP_SUGGESTIONS]}
    categories = {c.code: c for c in Category.objects.filter(code__in=codes)}
    by_row = {row_id: (top_k, used) for row_id, top_k, used in results}
    rows = list(
        ListingImportRow.objects.filter(listing_import=listing_import, pk__in=by_row)
    )
    if waiting_only:
        rows = [r for r in rows if r.decision == Decision.FLAGGED and not r.suggestions]
    for row in rows:
        top_k, used = by_row[row.pk]
        row.suggestions = [
            _suggestion(categories.get(s["code"]), s["code"], s["probability"])
            for s in top_k[:TOP_SUGGESTIONS]
        ]
        row.used = used or ""
        row.model_version_id = model_version_id
        first = categories.get(top_k[0]["code"]) if top_k else None
        row.category = first if first is not None and first.active else None
        confident = bool(top_k) and top_k[0]["probability"] >= listing_import.threshold
        row.decision = (
            Decision.ACCEPTED
            if confident and row.category is not None
            else Decision.FLAGGED
        )
    ListingImportRow.objects.bulk_update(
        rows, ["suggestions", "used", "model_version_id", "category", "decision"]
    )
    return len(rows)


def _suggestion(category: Category | None, code: str, probability: float) -> dict:
    return {
        "category_id": category.pk if category else None,
        "code": code,
        "name": category.name if category else code,
        "probability": round(float(probability), 4),
    }


# --- Confirmation: one prediction per listed row -------------------------------------


def listing_import_predictions_record(*, rows: list, user) -> list[Prediction]:
    """Record the prediction each confirmed row was listed from, linked to its
    product with the seller's choice (``chosen_source`` "import"; the rank of the
    chosen category among the row's suggestions, None when not suggested), so that
    monitoring and retraining count the import's labels as they count a Sell-page
    listing's: a row the seller changed is an anomaly (not kept). Called in the
    confirmation chunk's transaction; rows without suggestions record nothing."""
    predictions = []
    for row in rows:
        if not row.suggestions or row.model_version_id is None or row.product is None:
            continue
        product = row.product
        rank = next(
            (
                i
                for i, s in enumerate(row.suggestions, start=1)
                if s.get("category_id") == product.category_id
            ),
            None,
        )
        used_image = "image" in (row.used or "")
        text_sha = prediction_input_sha256(title=row.title, description=row.description)
        saved_sha = prediction_input_sha256(
            title=product.title, description=product.description
        )
        for_saved_text = text_sha == saved_sha and (
            not used_image or row.image_sha256 == (product.image_sha256 or "")
        )
        first = row.suggestions[0].get("category_id")
        predictions.append(
            Prediction(
                product=product,
                model_version_id=row.model_version_id,
                predicted_category_id=first,
                top_k=row.suggestions,
                used=row.used,
                latency_ms=0.0,
                requested_by=user if getattr(user, "is_authenticated", False) else None,
                input_text_sha256=text_sha,
                input_image_sha256=row.image_sha256 if used_image else "",
                chosen_category_id=product.category_id,
                chosen_rank=rank,
                chosen_source=ChoiceSource.IMPORT,
                for_saved_text=for_saved_text,
            )
        )
    return Prediction.objects.bulk_create(predictions)
