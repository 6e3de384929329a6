import argparse
import time

from django.core.management.base import BaseCommand, CommandError

from ml.models import BatchJob
from ml.selectors.batch import batch_job_get, batch_job_progress
from ml.selectors.model_versions import model_version_get_by_ref
from ml.services.batch import batch_job_create
from rakuten.exceptions import ApplicationError

BAR_WIDTH = 30


def scope_parse(value: str) -> tuple[str, dict]:
    """``all``, ``unlabelled`` or ``category:CODE[,CODE...]`` -> (scope, params)."""
    if value in ("all", "unlabelled"):
        return value, {}
    kind, _, codes = value.partition(":")
    if kind == "category" and codes.strip(","):
        return "categories", {
            "categories": [c.strip() for c in codes.split(",") if c.strip()]
        }
    raise ApplicationError(
        f"Invalid scope {value!r}: give all, unlabelled or category:CODE[,CODE]."
    )


def progress_line(job: BatchJob) -> str:
    """``[#####.....] 450/900 (50.0%) 312.4 products/s, about 1 s left``."""
    figures = batch_job_progress(job)
    filled = round(BAR_WIDTH * figures["percent"] / 100)
    line = (
        f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {figures['done']}/"
        f"{figures['total']} ({figures['percent']:.1f}%)"
    )
    if figures["items_per_second"] is not None:
        line += f" {figures['items_per_second']:.1f} products/s"
    if figures["eta_seconds"] is not None:
        line += f", about {figures['eta_seconds']:.0f} s left"
    return f"{line} {job.status}"


class Command(BaseCommand):
    help = (
        "Re-predict the category of a scope of products with a model version, as a "
        "batch job whose chunks Celery workers on the batch queue predict. Products' "
        "categories are not changed: the results are stored on the job."
    )

    def add_base_argument(self, parser, *args, **kwargs):
        # ``--version`` names the model version here, not Django's version.
        if "--version" not in args:
            super().add_base_argument(parser, *args, **kwargs)

    def add_arguments(self, parser):
        parser.add_argument(
            "--scope",
            required=True,
            help="all, unlabelled, or category:CODE[,CODE] (products of categories)",
        )
        parser.add_argument(
            "--version", default="active", help="a model version id, or active"
        )
        parser.add_argument("--chunk-size", type=int, default=None)
        parser.add_argument(
            "--wait",
            action="store_true",
            help="wait for the job to end, printing its progress",
        )
        parser.add_argument(
            "--poll-seconds", type=float, default=2.0, help=argparse.SUPPRESS
        )

    def handle(self, *args, **options):
        try:
            scope, params = scope_parse(options["scope"])
            version = model_version_get_by_ref(ref=options["version"])
            job = batch_job_create(
                scope=scope,
                scope_params=params,
                model_version=version,
                chunk_size=options["chunk_size"],
            )
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(
            f"batch job #{job.pk}: {job.total} products in {job.chunks_total} chunks "
            f"with model version #{version.pk} ({job.status})"
        )
        if not options["wait"]:
            return
        last = None
        while True:
            job = batch_job_get(pk=job.pk)
            line = progress_line(job)
            if line != last:
                self.stdout.write(line)
                last = line
            if job.status not in (BatchJob.Status.PENDING, BatchJob.Status.RUNNING):
                break
            time.sleep(options["poll_seconds"])
        if job.status != BatchJob.Status.FINISHED:
            raise CommandError(
                f"batch job #{job.pk} {job.status}"
                + (f": {job.error}" if job.error else "")
            )
