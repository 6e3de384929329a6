"""Pages that talk to the model: selling with suggestions (sellers) and the staff
pages (performance, training, model versions, datasets). Each view parses and
validates, calls one service or selector, and renders."""

from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import (
    require_GET,
    require_http_methods,
    require_POST,
)

from audit.selectors import audit_event_list
from catalog.forms import form_add_service_error
from catalog.selectors import proposal_get, taxonomy_migration_list
from catalog.services.taxonomy import category_merge
from ml.forms import (
    CategoryMergeForm,
    DatasetResetForm,
    MetricsWindowForm,
    ModelCompareForm,
    ModelRollbackForm,
    SuggestionForm,
    TaxonomyMigrationForm,
    TrainingRunForm,
)
from ml.models import ModelVersion
from ml.selectors.anomalies import (
    anomaly_pairs,
    anomaly_rates_by_category,
    seller_label_review_get,
    seller_label_review_list_unresolved,
)
from ml.selectors.datasets import (
    dataset_cutoff,
    dataset_new_products,
    dataset_reset_list,
)
from ml.selectors.model_versions import (
    model_activation_list,
    model_version_compare,
    model_version_get,
    model_version_get_active,
    model_version_list,
    model_version_rollback_target,
    taxonomy_overview,
)
from ml.selectors.monitoring import (
    alert_get,
    alert_list_unresolved,
    metric_snapshot_list,
    model_metrics_window,
    model_status_get,
)
from ml.selectors.training_runs import training_run_get, training_run_list
from ml.services.datasets import dataset_reset
from ml.services.label_guard import (
    seller_label_review_clear,
    seller_label_review_exclude,
)
from ml.services.model_versions import model_version_activate, model_version_rollback
from ml.services.monitoring import alert_acknowledge, alert_resolve
from ml.services.predictions import NoActiveModelError, prediction_create
from ml.services.training_runs import training_run_create
from rakuten.exceptions import ApplicationError, NotFoundError
from rakuten.throttling import rate_limit

# The performance page shows this many "predicted X, seller chose Y" pairs.
ANOMALY_PAIRS_SHOWN = 10


def staff_required(view):
    """Platform staff only: anonymous users are sent to log in, others get 403."""

    @wraps(view)
    @login_required
    def wrapper(request, *args, **kwargs):
        if not request.user.is_platform_staff:
            raise PermissionDenied("Staff only.")
        return view(request, *args, **kwargs)

    return wrapper


# --- Suggestions --------------------------------------------------------------------


@login_required
@require_POST
@rate_limit("suggestions")
def suggestions(request):
    """The suggestions partial of the Sell page: the active model's top 3 for what
    the seller typed so far (and the photo, or the proposed product's photo). A
    rejected photo never hides the text: its error shows above the suggestions for
    the text alone."""
    form = SuggestionForm(request.POST, request.FILES)
    context = {"prediction": None, "message": "", "error": "", "photo_error": ""}
    valid = form.is_valid()
    if not valid and set(form.errors) == {"photo"}:
        context["photo_error"] = " ".join(form.errors["photo"])
        form.cleaned_data["photo"] = None
        form.cleaned_data["proposal"] = None  # the text alone, not another photo
        valid = True
    if not valid:
        context["error"] = " ".join(
            e for errors in form.errors.values() for e in errors
        )
    elif not form.has_enough_input():
        context["message"] = (
            "Type a few characters of the title (or add a photo) to get suggestions."
        )
    else:
        data = form.cleaned_data
        try:
            context["prediction"] = prediction_create(
                title=data["title"],
                description=data["description"],
                image=_photo_bytes(data["photo"], data["proposal"]),
                user=request.user,
            )
        except NoActiveModelError:
            context["no_model"] = True
        except ApplicationError as exc:
            context["error"] = exc.message
    return render(request, "ml/_suggestions.html", context)


@login_required
@require_GET
def model_status(request):
    """The Sell page's model summary, polled while the model it waits for trains:
    the run's progress, then the active model once it is there (no staff details)."""
    context = model_status_get(active_model=model_version_get_active())
    return render(request, "ml/_model_summary.html", {**context, "polled": True})


def _photo_bytes(upload, proposal_pk) -> bytes | None:
    """The uploaded photo's bytes, or those of the proposed product's photo."""
    if upload:
        upload.seek(0)
        return upload.read()
    try:
        proposal = proposal_get(pk=int(proposal_pk)) if proposal_pk else None
    except NotFoundError as exc:
        raise Http404(exc.message) from exc
    if proposal is None or not proposal.image:
        return None
    with proposal.image.open("rb") as handle:
        return handle.read()


# --- Staff: performance --------------------------------------------------------------


@staff_required
@require_GET
def performance(request):
    form = MetricsWindowForm(request.GET or None)
    days = form.cleaned_data["days"] if form.is_valid() else 30
    metrics = model_metrics_window(days=days)
    return render(
        request,
        "ml/performance.html",
        {
            "form": form,
            "days": days,
            "metrics": metrics,
            "heatmap": _heatmap(metrics),
            "active_model": model_version_get_active(),
            "snapshots": metric_snapshot_list(),
            "alerts": alert_list_unresolved(),
            "anomaly_rates": anomaly_rates_by_category(days=days),
            "anomaly_pairs": anomaly_pairs(days=days, limit=ANOMALY_PAIRS_SHOWN),
            "label_reviews": seller_label_review_list_unresolved(),
        },
    )


@staff_required
@require_POST
def alert_update(request, pk: int, action: str):
    """Acknowledge or resolve an alert (the buttons of the performance page)."""
    try:
        alert = alert_get(pk=pk)
    except NotFoundError as exc:
        raise Http404(exc.message) from exc
    service = {"acknowledge": alert_acknowledge, "resolve": alert_resolve}[action]
    alert = service(alert=alert, user=request.user)
    messages.success(request, f"Alert #{alert.pk} is {alert.get_status_display()}.")
    return redirect("ml:performance")


@staff_required
@require_POST
def seller_label_review_update(request, pk: int, action: str):
    """Clear or exclude a seller's label review (the buttons of the performance
    page)."""
    try:
        review = seller_label_review_get(pk=pk)
    except NotFoundError as exc:
        raise Http404(exc.message) from exc
    service = {
        "clear": seller_label_review_clear,
        "exclude": seller_label_review_exclude,
    }[action]
    review = service(review=review, user=request.user)
    messages.success(
        request,
        f"Label review #{review.pk} of {review.seller} is "
        f"{review.get_status_display().lower()}.",
    )
    return redirect(f"{reverse('ml:performance')}#label-reviews")


def _heatmap(metrics: dict) -> list[dict]:
    """Rows of the confusion matrix with each cell's share of its row (0..1), for the
    colour of the cell."""
    confusion = metrics["confusion"]
    names = {row["code"]: row["name"] for row in metrics["per_category"]}
    rows = []
    for label, counts in zip(confusion["labels"], confusion["matrix"], strict=True):
        total = sum(counts) or 1
        rows.append(
            {
                "label": label,
                "name": names.get(label, label),
                "cells": [
                    {
                        "count": count,
                        "share": count / total,
                        "diagonal": i == len(rows),
                    }
                    for i, count in enumerate(counts)
                ],
            }
        )
    return rows


# --- Staff: training -----------------------------------------------------------------


@staff_required
@require_http_methods(["GET", "POST"])
@rate_limit("training_runs")
def training(request):
    form = TrainingRunForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            options = dict(form.cleaned_data)
            run = training_run_create(
                kind=options.pop("kind"),
                force=options.pop("force"),
                parameters=options,
                created_by=request.user,
            )
        except ApplicationError as exc:
            form_add_service_error(form, exc)
        else:
            if run.enqueued_at is None:
                messages.warning(
                    request,
                    f"Training run #{run.pk} is saved, but the task queue is "
                    "unreachable: it will start once the queue is back.",
                )
            else:
                messages.success(request, f"Training run #{run.pk} is queued.")
            return redirect("ml:training")
    return render(
        request,
        "ml/training.html",
        {
            "form": form,
            "runs": training_run_list(),
            "artifacts_dir": settings.ML_ARTIFACTS_DIR,
        },
    )


@staff_required
@require_GET
def training_progress(request, pk: int):
    """The progress partial of one run, polled every 2 s while it runs."""
    try:
        run = training_run_get(pk=pk)
    except NotFoundError as exc:
        raise Http404(exc.message) from exc
    return render(request, "ml/_training_progress.html", {"run": run})


# --- Staff: model versions -----------------------------------------------------------


@staff_required
@require_GET
def model_versions(request):
    form = ModelCompareForm(request.GET or None)
    chosen = list(form.cleaned_data["compare"]) if form.is_valid() else []
    versions = list(model_version_list())
    if not chosen:
        # By default, compare the active version with the newest other one.
        active = [v for v in versions if v.status == ModelVersion.Status.ACTIVE]
        chosen = active + [v for v in versions if v not in active][: 2 - len(active)]
    chosen.sort(key=lambda version: version.pk)  # oldest on the left
    return render(
        request,
        "ml/model_versions.html",
        {
            "versions": versions,
            "chosen_ids": [v.pk for v in chosen],
            "comparison": model_version_compare(versions=chosen),
            "activations": model_activation_list(),
        },
    )


@staff_required
@require_POST
def model_version_activate_view(request, pk: int):
    try:
        version = model_version_get(pk=pk)
    except NotFoundError as exc:
        raise Http404(exc.message) from exc
    try:
        model_version_activate(
            version=version, user=request.user, reason="activated from the models page"
        )
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"{version} is now the active model.")
    return redirect("ml:model_versions")


@staff_required
@require_http_methods(["GET", "POST"])
def model_version_rollback_view(request):
    """GET: what the rollback would do, and a form to confirm it; POST: roll back,
    only with the "confirm" box ticked (otherwise the page again, nothing changed)."""
    form = ModelRollbackForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            version = model_version_rollback(user=request.user)
        except ApplicationError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, f"Rolled back: {version} is active again.")
        return redirect("ml:model_versions")
    current, previous = model_version_rollback_target()
    return render(
        request,
        "ml/model_version_rollback.html",
        {"form": form, "current": current, "previous": previous},
    )


# --- Staff: audit log ----------------------------------------------------------------


@staff_required
@require_GET
def audit(request):
    return render(request, "ml/audit.html", {"events": audit_event_list()})


# --- Staff: datasets -----------------------------------------------------------------


@staff_required
@require_http_methods(["GET", "POST"])
def categories(request):
    form = CategoryMergeForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        source, target = form.cleaned_data["source"], form.cleaned_data["target"]
        try:
            moved = category_merge(source=source, target=target, user=request.user)
        except ApplicationError as exc:
            form_add_service_error(form, exc)
        else:
            messages.success(
                request,
                f"{source} merged into {target}: {moved} products moved; "
                f"{source.code} is retired.",
            )
            return redirect("ml:categories")
    return render(
        request,
        "ml/categories.html",
        {
            "form": form,
            "rows": taxonomy_overview(),
            "active_version": model_version_get_active(),
            "migration_form": TaxonomyMigrationForm(),
            "migrations": taxonomy_migration_list(),
        },
    )


@staff_required
@require_http_methods(["GET", "POST"])
def datasets(request):
    form = DatasetResetForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            reset = dataset_reset(
                user=request.user, confirm=form.cleaned_data["confirm"]
            )
        except ApplicationError as exc:
            form_add_service_error(form, exc)
        else:
            messages.success(
                request,
                f"Datasets reset: {reset.products_count} new products marked as seen.",
            )
            return redirect("ml:datasets")
    return render(
        request,
        "ml/datasets.html",
        {
            "form": form,
            "new_products": dataset_new_products().count(),
            "cutoff": dataset_cutoff(),
            "resets": dataset_reset_list(),
        },
    )
