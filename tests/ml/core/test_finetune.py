"""Fine-tuning a trained model's heads (the incremental retraining), on tiny data."""

import random

import pytest
import torch

from ml.core.bundles import load_bundle, save_bundle
from ml.core.data import Sample
from ml.core.errors import TrainingDataError
from ml.core.features import FeatureCache
from ml.core.finetune import finetune_model
from ml.core.inference import Predictor
from ml.core.pipeline import train_model
from tests.ml.core.samples import (
    COLOURS,
    FILLER,
    multimodal_samples,
    photo_bytes,
    text_samples,
    tiny_config,
)

# A category the base models never saw, written with letters they did see.
GARDEN_WORDS = ["tondeuse", "arrosoir", "graines"]


def garden_samples(n: int, *, seed: int = 0, photos: bool = False) -> list[Sample]:
    rng = random.Random(seed)
    return [
        Sample(
            title=" ".join(rng.sample(FILLER, 3) + [rng.choice(GARDEN_WORDS)]),
            label="garden",
            image=photo_bytes((200, 200, 30), seed=1000 + i) if photos else None,
        )
        for i in range(n)
    ]


@pytest.fixture(scope="module")
def text_base(tmp_path_factory):
    root = tmp_path_factory.mktemp("text-base")
    result = train_model(
        text_samples(), tiny_config(), work_dir=root / "work", feature_cache=None
    )
    ref = save_bundle(result, root=root / "bundles")
    return load_bundle(ref.path), root


@pytest.fixture(scope="module")
def multimodal_base(multimodal_run):
    result, _, root = multimodal_run
    ref = save_bundle(result, root=root / "bundles")
    return load_bundle(ref.path), root


def test_fine_tuning_learns_a_new_category_and_keeps_the_old_ones(text_base, tmp_path):
    base, _ = text_base
    # Given new products of an unseen category and a replay of older ones
    samples = garden_samples(24) + text_samples(8, seed=3)
    # When the base model's heads are fine-tuned on them
    result = finetune_model(
        samples, base, tiny_config(), work_dir=tmp_path / "w", feature_cache=None
    )
    # Then the label set grew, the frozen parts are the base's, and it predicts well
    assert result.labels == ["books", "games", "garden", "kitchen"]
    assert result.tokenizer is base.tokenizer
    tuned, original = result.text_net.state_dict(), base.text_net.state_dict()
    for key in original:
        if not key.startswith("classifier."):
            assert torch.equal(tuned[key], original[key]), key
    assert tuned["classifier.weight"].shape[0] == 4
    assert result.text_net_config["num_classes"] == 4
    assert result.metrics["fused"]["weighted_f1"] >= 0.85
    assert result.lineage["mode"] == "finetune"
    assert result.lineage["base_sha256"] == base.sha256
    assert result.config["finetuned_from"] == base.sha256
    # and, saved as a bundle, it serves the new category and the old ones
    ref = save_bundle(result, root=tmp_path / "bundles")
    predictor = Predictor(ref.path, ref.sha256)
    held_out = garden_samples(10, seed=99) + text_samples(4, seed=42)
    right = sum(
        predictor.predict(title=sample.title, description=sample.description).top[0][0]
        == sample.label
        for sample in held_out
    )
    assert right / len(held_out) >= 0.85


def test_validation_is_drawn_from_the_new_samples_only(text_base, tmp_path):
    base, _ = text_base
    # Given 20 new garden products and 30 replayed older ones
    samples = garden_samples(20) + text_samples(10, seed=6)
    new = [sample.label == "garden" for sample in samples]

    result = finetune_model(
        samples,
        base,
        tiny_config(),
        new=new,
        work_dir=tmp_path,
        feature_cache=None,
    )

    # Then every validation product is a new one (the frozen encoder saw the others)
    # (a third of them stop the training early, two thirds fit the fusion)
    fused = result.metrics["fused"]
    assert result.lineage["n_val"] == 6
    assert fused["n"] == result.lineage["n_fusion"] == 4
    assert fused["per_class"]["garden"]["support"] == 4
    assert result.lineage["n_new"] == 20
    assert result.lineage["n_train"] == 44


def test_too_few_new_samples_validate_on_all_with_a_warning(text_base, tmp_path):
    base, _ = text_base
    samples = garden_samples(1) + text_samples(10, seed=6)

    result = finetune_model(
        samples,
        base,
        tiny_config(epochs=2),
        new=[i == 0 for i in range(len(samples))],
        work_dir=tmp_path,
        feature_cache=None,
    )

    assert any("validated on all" in warning for warning in result.warnings)
    assert result.lineage["n_val"] > 0


def test_a_known_label_starts_from_its_trained_row(text_base, tmp_path):
    base, _ = text_base
    # Given one epoch at a zero learning rate (nothing moves)
    result = finetune_model(
        garden_samples(10) + text_samples(4, seed=5),
        base,
        tiny_config(epochs=1, lr=0.0),
        work_dir=tmp_path,
        feature_cache=None,
    )
    weight = result.text_net.classifier.weight
    # Then the old labels keep their rows and the new one starts at zero
    for label in base.labels:
        row = base.labels.index(label)
        assert torch.equal(
            weight[result.labels.index(label)], base.text_net.classifier.weight[row]
        )
    assert torch.count_nonzero(weight[result.labels.index("garden")]) == 0


def test_a_label_left_out_of_the_label_set_is_dropped(text_base, tmp_path):
    base, _ = text_base
    samples = [s for s in text_samples(10, seed=4) if s.label != "kitchen"]

    result = finetune_model(
        samples,
        base,
        tiny_config(),
        labels=["books", "games"],
        work_dir=tmp_path,
        feature_cache=None,
    )

    assert result.labels == ["books", "games"]
    assert result.text_net.classifier.out_features == 2


def test_a_sample_outside_the_label_set_is_refused(text_base, tmp_path):
    base, _ = text_base

    with pytest.raises(TrainingDataError, match="outside the label set"):
        finetune_model(
            text_samples(5),
            base,
            tiny_config(),
            labels=["books", "games"],
            work_dir=tmp_path,
            feature_cache=None,
        )


def test_fine_tuning_trains_the_image_head_on_cached_features(
    multimodal_base, tmp_path
):
    base, root = multimodal_base
    cache = FeatureCache(root / "features")
    old = multimodal_samples()[:20]  # their photos' features are in the cache
    samples = garden_samples(16, photos=True) + old

    result = finetune_model(
        samples,
        base,
        tiny_config(),
        work_dir=tmp_path,
        feature_cache=cache,
    )

    assert result.image_head is not None
    assert result.image_head_config["num_classes"] == 4
    assert (
        result.backbone_provenance["state_sha256"]
        == (base.backbone_provenance["state_sha256"])
    )
    assert "image" in result.history and result.metrics["image"] is not None
    old_photos = sum(sample.image is not None for sample in old)
    assert (cache.hits, cache.misses) == (old_photos, 16)
    # the fine-tuned bundle serves photos of the new category
    ref = save_bundle(result, root=tmp_path / "bundles")
    prediction = Predictor(ref.path, ref.sha256).predict(
        title="", image=photo_bytes((200, 200, 30), seed=5000)
    )
    assert prediction.top[0][0] == "garden"


def test_without_photos_the_image_head_is_kept(multimodal_base, tmp_path):
    base, _ = multimodal_base

    result = finetune_model(
        garden_samples(16) + text_samples(6, seed=8),
        base,
        tiny_config(),
        work_dir=tmp_path,
        feature_cache=None,
    )

    assert result.fusion_weight == base.fusion_weight
    assert any("image head was kept" in warning for warning in result.warnings)
    head, base_head = result.image_head.state_dict(), base.image_head.state_dict()
    for key in base_head:
        if not key.startswith("layers.6."):  # the output layer
            assert torch.equal(head[key], base_head[key]), key
    # a photo alone never points at the category its head has not learnt
    ref = save_bundle(result, root=tmp_path / "bundles")
    prediction = Predictor(ref.path, ref.sha256).predict(
        title="", image=photo_bytes(COLOURS["games"], seed=77)
    )
    assert prediction.top[0][0] == "games"
