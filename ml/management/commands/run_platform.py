import sys

from django.conf import settings
from django.contrib.staticfiles.storage import ManifestFilesMixin
from django.core.files.storage import storages
from django.core.management import call_command
from django.core.management.base import BaseCommand

from accounts.models import User
from accounts.services import user_ensure_demo
from catalog.services.imports import demo_catalogue_ensure
from ml.selectors.model_versions import model_version_get_active
from ml.services.starter import starter_model_request
from rakuten.supervisor import ProcessSpec, run_processes

# The production web server's options (Dockerfile, docker-compose.yml, .ci/run).
GUNICORN_ARGS = ("--workers", "2", "--threads", "4", "--timeout", "60")

DEMO_ACCOUNTS = (
    ("staff", "staff-demo-2026", User.Role.STAFF),
    ("seller", "seller-demo-2026", User.Role.SELLER),
)


class Command(BaseCommand):
    help = (
        "Prepare a fresh platform (migrate, demo accounts, demo catalogue), queue the "
        "starter model's training and run the web server, a Celery worker (which "
        "trains it), a worker for batch prediction and beat until Ctrl-C."
    )

    def add_arguments(self, parser):
        parser.add_argument("--addr", default="127.0.0.1:8000")
        parser.add_argument(
            "--no-bootstrap", action="store_true", help="skip demo data and model"
        )
        parser.add_argument(
            "--server",
            choices=["auto", "runserver", "gunicorn"],
            default="auto",
            help="the web server: auto (the default) is Django's development server "
            "with DEBUG on (the local settings) and gunicorn, the production server, "
            "with DEBUG off (the production settings); with the production "
            "static storage, collectstatic runs first",
        )

    def handle(self, *args, **options):
        call_command("migrate", interactive=False, verbosity=1)
        for username, password, role in DEMO_ACCOUNTS:
            user_ensure_demo(username=username, password=password, role=role)
        python = sys.executable
        addr = options["addr"]
        if not options["no_bootstrap"]:
            imported = demo_catalogue_ensure()
            if imported:
                self.stdout.write(f"Demo catalogue: {imported.line()}")
            self._starter_model(addr)
        self.stdout.write(
            self.style.SUCCESS(
                f"\nPlatform on http://{addr}/  (admin: http://{addr}/admin/)\n"
                + "".join(
                    f"  {role:<7} log-in: {username} / {password}\n"
                    for username, password, role in DEMO_ACCOUNTS
                )
                + "Ctrl-C stops the web server, the workers and beat.\n"
            )
        )
        celery = [python, "-m", "celery", "-A", "rakuten"]
        code = run_processes(
            [
                ProcessSpec("web", self._web_server(options["server"], addr)),
                ProcessSpec(
                    "worker",
                    [
                        *celery,
                        "worker",
                        "-Q",
                        "default,ml,watchdog",
                        "-c",
                        "2",
                        "-l",
                        "info",
                    ],
                ),
                # batch prediction chunks: a worker of their own, so a long
                # re-categorisation never delays training or the watchdog
                ProcessSpec(
                    "batch-worker",
                    [
                        *celery,
                        "worker",
                        "-Q",
                        "batch",
                        "-c",
                        "1",
                        "-n",
                        "batch@%h",
                        "-l",
                        "info",
                    ],
                ),
                ProcessSpec(
                    "beat",
                    [*celery, "beat", "-l", "info", "--pidfile="],
                ),
            ]
        )
        self.stdout.write("Stopped.")
        sys.exit(code)

    def _web_server(self, choice: str, addr: str) -> list[str]:
        """The web process: runserver (development, DEBUG on) or gunicorn
        (production, as in the Dockerfile; the static files collected first)."""
        python = sys.executable
        if choice == "runserver" or (choice == "auto" and settings.DEBUG):
            return [python, "manage.py", "runserver", addr, "--noreload"]
        if isinstance(storages["staticfiles"], ManifestFilesMixin):
            # (production) every page needs the manifest that collectstatic writes
            call_command("collectstatic", interactive=False, verbosity=0)
        return [python, "-m", "gunicorn", "rakuten.wsgi", *GUNICORN_ARGS, "-b", addr]

    def _starter_model(self, addr: str) -> None:
        """Queue the starter model (trained by the worker, not here) and say where to
        watch it."""
        active = model_version_get_active()
        if active is not None:
            self.stdout.write(f"Active model: {active}")
            return
        run = starter_model_request()
        if run is None:
            self.stdout.write("No active model and no confirmed product to train on.")
            return
        what = "the starter model" if run.parameters.get("is_demo") else "a model"
        self.stdout.write(
            f"No active model yet: {what} trains on the worker (training run "
            f"#{run.pk}, {run.status}); it is activated when done. Watch it on "
            f"http://{addr}/products/new/ (sellers), http://{addr}/staff/training/ "
            f"(staff) or http://{addr}/healthz (details for staff)."
        )
