import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from catalog.importers import ImportRow, read_generic_csv
from ml.core.backbones import BACKBONES
from ml.services.simulation import DRIFTS, MarketItem, marketplace_simulate
from rakuten.celery import app
from rakuten.exceptions import ApplicationError


class Command(BaseCommand):
    help = (
        "Replay a labelled catalogue (generic CSV) as a marketplace on an empty "
        "platform: initial model, then sellers listing and confirming products in "
        "steps, with metric snapshots, alerts, retraining and the promotion gate."
    )

    def add_arguments(self, parser):
        parser.add_argument("--csv", required=True, type=Path)
        parser.add_argument("--images", type=Path, default=None)
        parser.add_argument("--drift", choices=DRIFTS, default="none")
        parser.add_argument("--steps", type=int, default=5)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--epochs", type=int, default=4)
        parser.add_argument(
            "--backbone",
            choices=(*BACKBONES, "none"),
            default=None,
            help="image backbone of the models (default: efficientnet_lite0 with "
            "--images, none without)",
        )
        parser.add_argument("--json", type=Path, default=None, dest="json_path")

    def handle(self, *args, **options):
        items = [
            MarketItem(
                title=row.title,
                description=row.description,
                category=row.category,
                image=row.image_path.read_bytes() if row.image_path else None,
                image_name=row.image_path.name if row.image_path else "",
            )
            for row in read_generic_csv(options["csv"], images_dir=options["images"])
            if isinstance(row, ImportRow) and row.category
        ]
        if not items:
            raise CommandError(f"{options['csv']}: no labelled row")
        backbone = options["backbone"] or (
            "efficientnet_lite0" if options["images"] else "none"
        )
        # Tasks queued by the services (alert-triggered retraining) run in-process.
        eager = app.conf.task_always_eager
        app.conf.task_always_eager = True
        try:
            result = marketplace_simulate(
                items=items,
                steps=options["steps"],
                drift=options["drift"],
                seed=options["seed"],
                epochs=options["epochs"],
                backbone=None if backbone == "none" else backbone,
                log=self.stdout.write,
            )
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        finally:
            app.conf.task_always_eager = eager
        if options["json_path"]:
            options["json_path"].write_text(json.dumps(result, indent=2))
            self.stdout.write(f"timeline written to {options['json_path']}")
