from django.core.management.base import BaseCommand, CommandError

from ml.services.model_versions import model_version_import
from rakuten.exceptions import ApplicationError


class Command(BaseCommand):
    help = (
        "Register a bundle trained in another environment (e.g. preprod) as a ready "
        "model version, after checking its files against its sha256; activate it "
        "with activate_model."
    )

    def add_arguments(self, parser):
        parser.add_argument("bundle", help="the bundle's folder, copied here")
        parser.add_argument("--sha256", required=True, help="the bundle's sha256")
        parser.add_argument("--name", default="", help="the version's name")

    def handle(self, *args, **options):
        try:
            version = model_version_import(
                bundle_path=options["bundle"],
                sha256=options["sha256"],
                name=options["name"],
            )
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(f"model version {version} ({version.get_status_display()})")
