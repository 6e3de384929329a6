from django.core.management.base import BaseCommand, CommandError

from ml.models import ModelVersion
from ml.services.model_versions import model_version_activate, model_version_rollback
from rakuten.exceptions import ApplicationError


class Command(BaseCommand):
    help = "Activate a model version, or roll back to the previously active one."

    def add_arguments(self, parser):
        group = parser.add_mutually_exclusive_group(required=True)
        group.add_argument("version_id", nargs="?", type=int)
        group.add_argument("--rollback", action="store_true")

    def handle(self, *args, **options):
        try:
            if options["rollback"]:
                version = model_version_rollback()
            else:
                version = ModelVersion.objects.filter(pk=options["version_id"]).first()
                if version is None:
                    raise CommandError(f"no model version #{options['version_id']}")
                version = model_version_activate(
                    version=version, reason="activate_model command"
                )
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(f"active model: {version}")
