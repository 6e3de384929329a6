"""The starter model: on a fresh platform (``make run``), a text-only demo model
trained on the confirmed catalogue so that sellers get suggestions without anyone
training by hand. It is requested here and trained by a worker as an ordinary
training run, so the web server never waits for it."""

from django.db import transaction

from catalog.models import Product
from ml.models import TrainingRun
from ml.selectors.model_versions import model_version_get_active
from ml.selectors.training_runs import training_run_get_activating
from ml.services.training_queue import training_run_enqueue_on_commit
from ml.services.training_runs import training_run_create

STARTER_PARAMETERS = {"text_only": True, "epochs": 10, "activate": True}


def starter_model_request() -> TrainingRun | None:
    """When no model is active and the catalogue has confirmed products, queue a
    text-only demo run that activates its model when done, unless a run that will
    activate a model is already queued or running (that run is returned). Returns
    None when nothing is to be trained (a model is active, or nothing to learn)."""
    with transaction.atomic():
        if model_version_get_active() is not None:
            return None
        pending = training_run_get_activating()
        if pending is not None:
            return pending
        if not Product.objects.filter(category__isnull=False).exists():
            return None
        run = training_run_create(parameters=STARTER_PARAMETERS, enqueue=False)
        # The demo flag is no user-facing option (training_options_clean refuses
        # it): set on the row, before the worker can read it.
        run.parameters = {**run.parameters, "is_demo": True}
        run.save(update_fields=["parameters"])
        training_run_enqueue_on_commit(run_id=run.pk)
    return run
