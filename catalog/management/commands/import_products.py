from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from catalog.importers import (
    ImportFileError,
    count_data_rows,
    read_generic_csv,
    read_rakuten_csv,
)
from catalog.services.imports import products_import


class Command(BaseCommand):
    help = (
        "Import products from the generic CSV layout (--csv) or the Rakuten challenge "
        "layout (--rakuten-x [--rakuten-y]). Idempotent: a second run creates nothing."
    )

    def add_arguments(self, parser):
        source = parser.add_mutually_exclusive_group(required=True)
        source.add_argument("--csv", type=Path, help="product_id,title,description,...")
        source.add_argument(
            "--rakuten-x", type=Path, help="X file of the challenge layout"
        )
        parser.add_argument("--rakuten-y", type=Path, help="labels for --rakuten-x")
        parser.add_argument("--images", type=Path, help="folder holding the photos")
        parser.add_argument(
            "--create-categories",
            action="store_true",
            help="create categories that do not exist yet instead of stopping",
        )
        parser.add_argument("--batch-size", type=int, default=500)
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args, **options):
        images = options["images"]
        if images is not None and not images.is_dir():
            raise CommandError(f"--images {images} is not a folder")
        if options["rakuten_y"] and not options["rakuten_x"]:
            raise CommandError("--rakuten-y needs --rakuten-x")
        if options["csv"]:
            path = options["csv"]
            rows = read_generic_csv(path, images_dir=images)
        else:
            path = options["rakuten_x"]
            rows = read_rakuten_csv(
                path, y_path=options["rakuten_y"], images_dir=images
            )
        try:
            total = count_data_rows(path)
            with tqdm(
                total=total,
                unit="row",
                disable=options["no_progress"],
                file=self.stderr._out,
            ) as bar:
                summary = products_import(
                    rows=rows,
                    create_categories=options["create_categories"],
                    batch_size=options["batch_size"],
                    on_progress=bar.update,
                )
        except ImportFileError as exc:
            raise CommandError(exc.message) from exc
        for rejected in summary.rejections:
            self.stderr.write(f"line {rejected.line}: {rejected.reason}")
        self.stdout.write(summary.line())
