from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from ml.services.taxonomy_migrations import taxonomy_migration_start
from rakuten.exceptions import ApplicationError


class Command(BaseCommand):
    help = (
        "Migrate to a new taxonomy version: NEW.csv (code,name) and MAP.csv "
        "(old_code,new_code; several rows = a split, none = retired)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--categories", type=Path, required=True)
        parser.add_argument("--mapping", type=Path, required=True)
        parser.add_argument(
            "--dry-run", action="store_true", help="Check and summarise only."
        )

    def handle(self, *args, **options):
        try:
            plan, migration = taxonomy_migration_start(
                categories_path=options["categories"],
                mapping_path=options["mapping"],
                dry_run=options["dry_run"],
            )
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        summary = plan.summary()
        lines = [
            f"{summary['categories']} categories in the new taxonomy "
            f"({len(summary['created'])} new)",
            f"kept: {len(summary['kept'])}, mapped one to one: "
            f"{len(summary['mapped'])} ({summary['products_mapped']} products)",
            f"split: {len(summary['split'])} ({summary['products_split']} products)",
            f"retired: {len(summary['retired'])} "
            f"({summary['products_retired']} products)",
        ]
        if migration is None:
            lines.append("dry run: nothing changed")
        else:
            lines.append(
                f"taxonomy migration {migration.pk}: version "
                f"{migration.to_version.name} is current ({migration.status})"
            )
        self.stdout.write("\n".join(lines))
