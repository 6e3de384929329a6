import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from catalog.importers import ImportFileError
from catalog.models import Category
from ml.core.errors import MLError
from ml.core.evaluation import confusion_matrix_png
from ml.selectors.model_versions import (
    model_version_evaluate_csv,
    model_version_get_by_ref,
)
from rakuten.exceptions import ApplicationError


class Command(BaseCommand):
    help = (
        "Predict every row of a generic-layout CSV (nothing is stored) and print "
        "accuracy, weighted F1 and a per-category table, fused and per branch."
    )

    def add_base_argument(self, parser, *args, **kwargs):
        # ``--version`` names the model version here, not Django's version.
        if "--version" not in args:
            super().add_base_argument(parser, *args, **kwargs)

    def add_arguments(self, parser):
        parser.add_argument("--csv", type=Path, required=True)
        parser.add_argument("--images", type=Path)
        parser.add_argument("--version", default="active", help="an id or 'active'")
        parser.add_argument("--json", type=Path, help="write the report here")
        parser.add_argument(
            "--confusion-png",
            type=Path,
            help="confusion-matrix picture (default: next to --json, or "
            "var/evaluation-confusion.png)",
        )

    def handle(self, *args, **options):
        if options["images"] is not None and not options["images"].is_dir():
            raise CommandError(f"--images {options['images']} is not a folder")
        try:
            version = model_version_get_by_ref(ref=options["version"])
            with tqdm(unit="row", file=self.stderr._out) as bar:
                report, rejected = model_version_evaluate_csv(
                    version=version,
                    csv_path=options["csv"],
                    images_dir=options["images"],
                    progress=bar.update,
                )
        except (ApplicationError, ImportFileError) as exc:
            raise CommandError(exc.message) from exc
        except MLError as exc:
            raise CommandError(str(exc)) from exc
        if report["n"] == 0:
            raise CommandError("no labelled row to evaluate")
        for row in rejected:
            self.stderr.write(f"line {row.line}: {row.reason} (not evaluated)")
        names = dict(Category.objects.values_list("code", "name"))
        self._print(version, report, names)
        png = options["confusion_png"] or (
            options["json"].with_suffix(".png")
            if options["json"]
            else Path("var/evaluation-confusion.png")
        )
        confusion_matrix_png(report, png, names=names)
        self.stdout.write(f"confusion matrix: {png}")
        if options["json"]:
            report["model_version"] = version.summary()
            options["json"].write_text(json.dumps(report, indent=2))
            self.stdout.write(f"report: {options['json']}")

    def _print(self, version, report, names):
        out = self.stdout.write
        out(f"model version: {version}")
        out(f"{'':8} {'n':>6} {'accuracy':>9} {'weighted F1':>12}")
        out(
            f"{'fused':8} {report['n']:>6} {report['accuracy']:>9.4f} "
            f"{report['weighted_f1']:>12.4f}"
        )
        for name, branch in report["branches"].items():
            out(
                f"{name:8} {branch['n']:>6} {branch['accuracy']:>9.4f} "
                f"{branch['weighted_f1']:>12.4f}"
            )
        out("")
        out(f"{'category':40} {'support':>7} {'precision':>9} {'recall':>7} {'F1':>6}")
        for code, row in report["per_class"].items():
            if not row["support"]:
                continue
            label = f"{names.get(code, code)} ({code})"[:40]
            out(
                f"{label:40} {row['support']:>7} {row['precision']:>9.3f} "
                f"{row['recall']:>7.3f} {row['f1']:>6.3f}"
            )
