from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from catalog.importers import ImportFileError
from catalog.services.taxonomy import categories_import_csv


class Command(BaseCommand):
    help = "Import or update a taxonomy: a CSV with a code and a name column."

    def add_arguments(self, parser):
        parser.add_argument("csv", type=Path)

    def handle(self, *args, **options):
        try:
            count = categories_import_csv(path=options["csv"])
        except ImportFileError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(f"{count} categories imported")
