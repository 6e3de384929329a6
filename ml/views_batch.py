"""Staff pages of batch prediction jobs: the list with a form to start one, a job's
detail with its progress (polled while it runs), cancel and resume."""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from catalog.forms import form_add_service_error
from ml.forms import BatchJobForm
from ml.selectors.batch import (
    batch_job_get,
    batch_job_list,
    batch_job_progress,
    batch_job_result_counts,
    batch_result_list,
)
from ml.services.batch import batch_job_cancel, batch_job_create, batch_job_resume
from ml.views import staff_required
from rakuten.exceptions import ApplicationError, NotFoundError

JOBS_SHOWN = 50
RESULTS_SHOWN = 20


def _job_or_404(pk: int):
    try:
        return batch_job_get(pk=pk)
    except NotFoundError as exc:
        raise Http404(exc.message) from exc


@staff_required
@require_http_methods(["GET", "POST"])
def batch_jobs(request):
    form = BatchJobForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            job = batch_job_create(
                scope=data["scope"],
                scope_params=data["scope_params"],
                model_version=data["model_version"],
                chunk_size=data["chunk_size"],
                user=request.user,
            )
        except ApplicationError as exc:
            form_add_service_error(form, exc)
        else:
            messages.success(
                request,
                f"Batch job #{job.pk} is queued: {job.total} products in "
                f"{job.chunks_total} chunks.",
            )
            return redirect("ml:batch_job", pk=job.pk)
    jobs = [(job, batch_job_progress(job)) for job in batch_job_list()[:JOBS_SHOWN]]
    return render(request, "ml/batch_jobs.html", {"form": form, "jobs": jobs})


@staff_required
@require_GET
def batch_job(request, pk: int):
    job = _job_or_404(pk)
    return render(
        request,
        "ml/batch_job.html",
        {
            "job": job,
            "progress": batch_job_progress(job),
            "counts": batch_job_result_counts(job=job),
            "results": batch_result_list(job=job)[:RESULTS_SHOWN],
        },
    )


@staff_required
@require_GET
def batch_job_progress_view(request, pk: int):
    """The progress partial of one job, polled every 2 s while it runs."""
    job = _job_or_404(pk)
    return render(
        request,
        "ml/_batch_progress.html",
        {"job": job, "progress": batch_job_progress(job)},
    )


@staff_required
@require_POST
def batch_job_update(request, pk: int, action: str):
    job = _job_or_404(pk)
    service = {"cancel": batch_job_cancel, "resume": batch_job_resume}[action]
    try:
        job = service(job=job, user=request.user)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Batch job #{job.pk} is {job.status}.")
    return redirect("ml:batch_job", pk=pk)
