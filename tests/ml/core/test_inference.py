"""Predictor: lazy thread-safe loading, cache by sha256, fused predictions."""

import threading

import pytest
import torch

import ml.core.inference
from ml.core.backbones import build_backbone
from ml.core.bundles import save_bundle
from ml.core.errors import (
    BundleIntegrityError,
    EmptyInputError,
    InvalidImageError,
    PretrainedWeightsUnavailableError,
)
from ml.core.inference import Predictor, clear_predictor_cache, get_predictor
from ml.core.pipeline import train_model
from ml.core.transforms import image_tensor, open_image
from tests.ml.core.samples import (
    handmade_result,
    photo_bytes,
    text_samples,
    tiny_config,
)

PHOTO = photo_bytes((200, 30, 30), seed=0)


@pytest.fixture(scope="module")
def pretrained_effnet():
    return build_backbone("efficientnet_lite0", pretrained=True)


@pytest.fixture(scope="module")
def image_bundle(pretrained_effnet, tmp_path_factory):
    result = handmade_result(backbone_spec=pretrained_effnet, fusion_weight=0.7)
    return save_bundle(result, root=tmp_path_factory.mktemp("bundles"))


@pytest.fixture(scope="module")
def image_predictor(image_bundle):
    predictor = Predictor(
        image_bundle.path, image_bundle.sha256, optimize_backbone=False
    )
    predictor.load()
    return predictor


@pytest.fixture(scope="module")
def text_bundle(tmp_path_factory):
    root = tmp_path_factory.mktemp("text")
    result = train_model(
        text_samples(), tiny_config(), work_dir=root / "work", feature_cache=None
    )
    return save_bundle(result, root=root / "bundles")


@pytest.fixture
def count_loads(monkeypatch):
    clear_predictor_cache()
    calls = []
    real = ml.core.inference.load_bundle

    def counting(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(ml.core.inference, "load_bundle", counting)
    yield calls
    clear_predictor_cache()


def test_get_predictor_loads_each_bundle_once(text_bundle, count_loads):
    predictors, results = [], []

    def work():
        for _ in range(25):
            predictor = get_predictor(text_bundle.path, text_bundle.sha256)
            predictors.append(predictor)
            results.append(predictor.predict(title="console neuf").top)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(count_loads) == 1
    assert len(predictors) == 100 and len({id(p) for p in predictors}) == 1
    assert all(top == results[0] for top in results)


def test_predictor_is_lazy(text_bundle, count_loads):
    predictor = get_predictor(text_bundle.path, text_bundle.sha256)

    assert not predictor.loaded and count_loads == []
    predictor.load()
    assert predictor.loaded and len(count_loads) == 1


def test_trained_text_model_predicts_its_keywords(text_bundle):
    predictor = Predictor(text_bundle.path, text_bundle.sha256)

    tops = [
        predictor.predict(title=title, description="<b>neuf</b>").top[0][0]
        for title in (
            "petit roman de poche",
            "manette pour console",
            "grand poele neuf",
        )
    ]

    assert tops == ["books", "games", "kitchen"]


def test_text_only_prediction_shape(text_bundle):
    predictor = Predictor(text_bundle.path, text_bundle.sha256)

    result = predictor.predict(
        title="lot de couteau", image=PHOTO, top_k=2, all_branches=True
    )

    assert result.used == "text"
    assert len(result.top) == 2
    assert result.top[0][1] >= result.top[1][1]
    assert sum(p for _, p in result.top) <= 1.0 + 1e-6
    assert sum(result.text_probs.values()) == pytest.approx(1.0)
    assert result.image_probs is None
    assert list(result.branch_top) == ["text", "tfidf", "sentence"]  # no image
    assert result.branch_top["text"][0] == max(
        result.text_probs, key=result.text_probs.get
    )
    assert result.shares == {
        name: pytest.approx(w)
        for name, w in Predictor(text_bundle.path).bundle.fusion["weights"].items()
    }
    assert result.bundle_sha256 == text_bundle.sha256
    assert result.latency_ms > 0


def test_text_and_photo_are_fused_with_the_bundle_weight(image_predictor):
    predictor = image_predictor

    result = predictor.predict(title="roman", description=None, image=PHOTO, top_k=3)

    assert result.used == "text+image"
    assert [label for label, _ in result.top] == sorted(
        result.text_probs,
        key=lambda k: -(0.7 * result.text_probs[k] + 0.3 * result.image_probs[k]),
    )
    for label, probability in result.top:
        expected = 0.7 * result.text_probs[label] + 0.3 * result.image_probs[label]
        assert probability == pytest.approx(expected, abs=1e-6)
    assert sum(p for _, p in result.top) == pytest.approx(1.0)
    best_image = max(result.image_probs.items(), key=lambda kv: kv[1])
    assert result.branch_top["image"] == pytest.approx(best_image)


def test_missing_photo_uses_text_and_missing_text_uses_photo(image_predictor):
    predictor = image_predictor

    text_only = predictor.predict(title="roman", image=None)
    image_only = predictor.predict(title="  ", description="<br>", image=PHOTO)

    assert text_only.used == "text" and text_only.image_probs is None
    assert text_only.top[0] == text_only.branch_top["text"]
    assert image_only.used == "image" and image_only.text_probs is None
    assert image_only.top[0] == image_only.branch_top["image"]


def test_prediction_errors_are_domain_errors(image_predictor):
    predictor = image_predictor

    with pytest.raises(InvalidImageError):
        predictor.predict(title="roman", image=b"not a photo")
    with pytest.raises(EmptyInputError):
        predictor.predict(title="", description=None, image=None)


def test_predict_batch_matches_single_predictions(image_predictor):
    predictor = image_predictor
    items = [
        {"title": "roman", "description": "poche", "image": PHOTO},
        {"title": "console", "image": None},
        {"title": "", "image": photo_bytes((30, 30, 200), seed=1)},
    ]

    batch = predictor.predict_batch(items, top_k=3)

    for item, result in zip(items, batch, strict=True):
        single = predictor.predict(**item, top_k=3)
        assert result.used == single.used
        assert [label for label, _ in result.top] == [label for label, _ in single.top]
        for (_, p), (_, q) in zip(result.top, single.top, strict=True):
            assert p == pytest.approx(q, abs=1e-5)


def test_random_backbone_bundle_reproduces_training_features(tmp_path):
    torch.manual_seed(3)
    spec = build_backbone("efficientnet_lite0", pretrained=False)
    result = handmade_result(
        backbone_spec=spec, random_backbone=True, fusion_weight=0.0
    )
    ref = save_bundle(result, root=tmp_path)
    with torch.inference_mode():
        features = spec.module(image_tensor(open_image(PHOTO))[None])
        expected = result.image_head(features).softmax(dim=-1)[0]

    predictor = Predictor(ref.path, ref.sha256, optimize_backbone=False)
    prediction = predictor.predict(title="roman", image=PHOTO)

    got = torch.tensor([prediction.image_probs[label] for label in result.labels])
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)
    assert prediction.top[0] == prediction.branch_top["image"]  # w = 0


def test_different_backbone_weights_are_refused(pretrained_effnet, tmp_path):
    result = handmade_result(backbone_spec=pretrained_effnet)
    result.backbone_provenance["state_sha256"] = "f" * 64
    ref = save_bundle(result, root=tmp_path)

    with pytest.raises(PretrainedWeightsUnavailableError, match="differ"):
        Predictor(ref.path, ref.sha256, optimize_backbone=False).load()


def test_tampered_bundle_is_refused_at_load(text_bundle, tmp_path):
    with pytest.raises(BundleIntegrityError):
        Predictor(text_bundle.path, "0" * 64).load()


def test_optimized_backbone_predicts_like_eager_mode(image_bundle, image_predictor):
    optimized = Predictor(image_bundle.path, image_bundle.sha256)
    optimized.load()
    results = []

    def work():
        results.append(optimized.predict(title="roman", image=PHOTO))

    threads = [threading.Thread(target=work) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    eager = image_predictor.predict(title="roman", image=PHOTO)

    assert isinstance(optimized._backbone, torch.jit.ScriptModule)
    assert len(results) == 3
    for fast in results:
        assert fast.image_probs == pytest.approx(eager.image_probs, abs=1e-4)


def test_serving_skips_a_text_branch_that_weighs_nothing(text_bundle, tmp_path):
    predictor = Predictor(text_bundle.path, text_bundle.sha256)
    fusion = predictor.bundle.fusion
    every = predictor.predict(title="lot de couteau", all_branches=True)
    weights = {"text": 0.0, "tfidf": 0.7, "sentence": 0.3}
    object.__setattr__(
        predictor.bundle,
        "metadata",
        {**predictor.bundle.metadata, "fusion": {**fusion, "weights": weights}},
    )

    served = predictor.predict(title="lot de couteau", top_k=3)
    computed = predictor.predict(title="lot de couteau", top_k=3, all_branches=True)

    assert every.branch_top["text"] is not None
    assert served.branch_top["text"] is None and served.text_probs is None
    assert computed.branch_top["text"] is not None
    # the same fused figures
    assert [label for label, _ in served.top] == [label for label, _ in computed.top]
    assert [p for _, p in served.top] == pytest.approx([p for _, p in computed.top])
    assert served.shares == {"text": 0.0, "tfidf": 0.7, "sentence": 0.3}
