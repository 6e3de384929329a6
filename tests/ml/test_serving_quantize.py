"""Serving runs the BiGRU in int8 by default (``PREDICT_QUANTIZE``): the stored
prediction is the int8 predictor's, and the setting turns it off."""

import pytest

from ml.core.inference import clear_predictor_cache, get_predictor
from ml.services.predictions import prediction_create

pytestmark = pytest.mark.django_db

TITLE = "acme 3"


@pytest.fixture(autouse=True)
def fresh_predictors():
    clear_predictor_cache()
    yield
    clear_predictor_cache()


def _predictor(version, quantize):
    return get_predictor(version.bundle_path, version.bundle_sha256, quantize=quantize)


def _stored_top(prediction):
    return [(row["code"], row["probability"]) for row in prediction.top_k]


def _expected_top(predictor):
    result = predictor.predict(title=TITLE, description="", top_k=3, all_branches=False)
    return [(code, round(float(p), 4)) for code, p in result.top]


def test_serving_uses_the_int8_bigru_by_default(active_model, settings):
    assert settings.PREDICT_QUANTIZE is True

    prediction = prediction_create(title=TITLE)

    int8 = _predictor(active_model, quantize=True)
    assert int8.loaded and int8.quantize
    assert not _predictor(active_model, quantize=False).loaded
    assert _stored_top(prediction) == _expected_top(int8)
    assert type(int8._text_net.gru_forward).__module__.startswith(
        "torch.ao.nn.quantized"
    )


def test_the_setting_serves_the_float_model(active_model, settings):
    settings.PREDICT_QUANTIZE = False

    prediction = prediction_create(title=TITLE)

    exact = _predictor(active_model, quantize=False)
    assert exact.loaded and not exact.quantize
    assert not _predictor(active_model, quantize=True).loaded
    assert _stored_top(prediction) == _expected_top(exact)
