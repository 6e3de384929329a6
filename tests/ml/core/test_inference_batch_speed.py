"""What makes batch prediction faster: the BiGRU run in buckets of similar lengths
(same probabilities as one padded batch), and the int8 quantised predictor."""

import pytest
import torch

import ml.core.inference
from ml.core.bundles import save_bundle
from ml.core.inference import (
    Predictor,
    _by_length,
    clear_predictor_cache,
    get_predictor,
)
from ml.core.pipeline import train_model
from ml.core.transforms import encode_texts
from tests.ml.core.samples import text_samples, tiny_config

TITLES = [
    "petit roman de poche",
    "manette pour console de jeu avec câble et chargeur rapide",
    "grand poele neuf",
    "roman",
    "poele en fonte avec couvercle et poignée amovible pour cuisson lente",
]


@pytest.fixture(scope="module")
def text_bundle(tmp_path_factory):
    root = tmp_path_factory.mktemp("text")
    result = train_model(
        text_samples(), tiny_config(), work_dir=root / "work", feature_cache=None
    )
    return save_bundle(result, root=root / "bundles")


def test_buckets_of_similar_length_give_the_probabilities_of_one_padded_batch(
    text_bundle, monkeypatch
):
    bundle = Predictor(text_bundle.path).bundle
    texts = TITLES * 30  # 150 rows: 3 buckets of up to 64
    ids = encode_texts(bundle.tokenizer, texts, max_length=bundle.max_length)
    with torch.inference_mode():
        expected = bundle.text_net(ids).softmax(dim=-1)
        monkeypatch.setattr(ml.core.inference, "TEXT_BUCKET", 64)
        got = _by_length(bundle.text_net, ids, bundle.tokenizer.pad_token_id)
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)


def test_the_quantised_predictor_is_cached_apart_and_predicts_the_same_tops(
    text_bundle,
):
    clear_predictor_cache()
    exact = get_predictor(text_bundle.path, text_bundle.sha256)
    int8 = get_predictor(text_bundle.path, text_bundle.sha256, quantize=True)
    assert int8 is not exact and int8.quantize and not exact.quantize
    assert get_predictor(text_bundle.path, text_bundle.sha256, quantize=True) is int8
    items = [{"title": t, "description": "", "image": None} for t in TITLES]
    tops = [r.top[0][0] for r in exact.predict_batch(items, all_branches=True)]
    int8_results = int8.predict_batch(items, all_branches=True)
    assert [r.top[0][0] for r in int8_results] == tops
    # the quantised net is a copy: the bundle's own net is still float
    assert isinstance(exact.bundle.text_net.gru_forward, torch.nn.GRU)
    assert not isinstance(
        int8._text_net.gru_forward, type(exact.bundle.text_net.gru_forward)
    )
    clear_predictor_cache()
