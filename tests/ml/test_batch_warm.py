"""A batch worker loads the active model when it starts (``BATCH_WARM_ON_START``)."""

from types import SimpleNamespace

import pytest

from ml.core.inference import clear_predictor_cache, get_predictor
from ml.models import ModelVersion
from ml.services.batch_predict import batch_predictor_warm
from ml.services.model_versions import model_version_activate
from ml.tasks import batch_predictor_warm_on_worker_ready
from rakuten.exceptions import ApplicationError

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_predictors():
    clear_predictor_cache()
    yield
    clear_predictor_cache()


def _predictor(version, quantize=False):
    return get_predictor(version.bundle_path, version.bundle_sha256, quantize=quantize)


def _worker(*queues):
    """What the signal sends: the consumer, whose app consumes ``queues``."""
    consume_from = {name: object() for name in queues}
    amqp = SimpleNamespace(queues=SimpleNamespace(consume_from=consume_from))
    return SimpleNamespace(app=SimpleNamespace(amqp=amqp), hostname="w@test")


def test_the_active_versions_batch_predictor_is_loaded(active_model, settings):
    settings.BATCH_QUANTIZE = True

    assert batch_predictor_warm() == active_model

    assert _predictor(active_model, quantize=True).loaded
    assert not _predictor(active_model).loaded  # serving's variant is not touched


def test_nothing_to_load_without_an_active_version(training_categories):
    assert batch_predictor_warm() is None


def test_an_unreadable_bundle_is_a_clear_error(training_categories, tmp_path):
    version = ModelVersion.objects.create(
        name="broken",
        status=ModelVersion.Status.READY,
        bundle_path=str(tmp_path / "missing"),
        bundle_sha256="0" * 64,
        label_codes=["a", "b"],
    )
    model_version_activate(version=version, reason="test")

    with pytest.raises(ApplicationError, match=f"Model version #{version.pk}: "):
        batch_predictor_warm()


def test_only_a_batch_worker_warms_up_and_the_setting_turns_it_off(
    active_model, settings
):
    batch_predictor_warm_on_worker_ready(sender=_worker("default", "ml"))
    assert not _predictor(active_model).loaded

    settings.BATCH_WARM_ON_START = False
    batch_predictor_warm_on_worker_ready(sender=_worker("batch"))
    assert not _predictor(active_model).loaded

    settings.BATCH_WARM_ON_START = True
    batch_predictor_warm_on_worker_ready(sender=_worker("batch"))
    assert _predictor(active_model).loaded
