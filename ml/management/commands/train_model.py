import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from ml.models import TrainingRun
from ml.options import training_options_add_arguments, training_options_from
from ml.services.training_runs import (
    TrainingFailedError,
    training_run_create,
    training_run_execute,
)
from rakuten.exceptions import ApplicationError


class Command(BaseCommand):
    help = (
        "Train a model in this process: from scratch on every product with a "
        "confirmed category (--kind full; under torchrun on this machine when "
        "ML_TRAIN_PROCESSES is above 1), or by fine-tuning the active model on the "
        "products confirmed since it was made (--kind incremental)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--kind",
            choices=TrainingRun.Kind.values,
            default=TrainingRun.Kind.FULL,
        )
        training_options_add_arguments(parser)
        parser.add_argument("--json", type=Path, help="write the run's metrics here")

    def handle(self, *args, **options):
        try:
            run = training_run_create(
                kind=options["kind"],
                parameters=training_options_from(options),
                enqueue=False,
            )
            run = training_run_execute(run_id=run.pk, log=self.stdout.write)
        except (ApplicationError, TrainingFailedError) as exc:
            raise CommandError(exc.message) from exc
        version = run.model_version
        if version is None:  # skipped: nothing new to learn from
            self.stdout.write(f"training run #{run.pk} {run.status}: {run.log.strip()}")
            return
        fused = version.metrics.get("fused", {})
        self.stdout.write(
            f"model version #{version.pk} ({version.status}): validation weighted F1 "
            f"{fused.get('weighted_f1', 0):.4f}, "
            f"accuracy {fused.get('accuracy', 0):.4f}"
        )
        if version.warning:
            self.stderr.write(f"warning: {version.warning}")
        if options["json"]:
            options["json"].write_text(
                json.dumps(
                    {
                        "training_run": run.pk,
                        "model_version": version.pk,
                        "status": version.status,
                        "metrics": version.metrics,
                    },
                    indent=2,
                )
            )
