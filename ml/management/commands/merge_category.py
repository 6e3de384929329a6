from django.core.management.base import BaseCommand, CommandError

from catalog.models import Category
from catalog.services.taxonomy import category_merge
from rakuten.exceptions import ApplicationError


class Command(BaseCommand):
    help = (
        "Merge a category into another (a taxonomy change): its products move to the "
        "target and it is retired; the next training learns the merged label set."
    )

    def add_arguments(self, parser):
        parser.add_argument("source", help="code of the category to fold in")
        parser.add_argument("target", help="code of the category that receives it")

    def handle(self, *args, **options):
        found = {
            c.code: c
            for c in Category.objects.filter(
                code__in=[options["source"], options["target"]]
            )
        }
        for key in ("source", "target"):
            if options[key] not in found:
                raise CommandError(f"no category with code {options[key]!r}")
        try:
            moved = category_merge(
                source=found[options["source"]], target=found[options["target"]]
            )
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(
            f"{options['source']} merged into {options['target']}: {moved} products "
            f"moved; {options['source']} is retired"
        )
