"""Per-sample weights in fine-tuning (the anomaly weighting of the incremental
retraining): weights change what is learned; all ones change nothing."""

import dataclasses

import pytest
import torch

from ml.core.bundles import load_bundle, save_bundle
from ml.core.data import Sample
from ml.core.engine import SampleWeightedCrossEntropy
from ml.core.errors import TrainingDataError
from ml.core.finetune import finetune_model
from ml.core.pipeline import train_model
from tests.ml.core.samples import text_samples, tiny_config
from tests.ml.core.test_finetune import garden_samples


@pytest.fixture(scope="module")
def text_base(tmp_path_factory):
    root = tmp_path_factory.mktemp("weights-base")
    result = train_model(
        text_samples(), tiny_config(), work_dir=root / "work", feature_cache=None
    )
    ref = save_bundle(result, root=root / "bundles")
    return load_bundle(ref.path)


def _samples(weight: float | None) -> list[Sample]:
    samples = garden_samples(24) + text_samples(8, seed=3)
    if weight is None:
        return samples
    # the garden products are the "anomalies": the base model cannot predict them
    return [
        dataclasses.replace(s, weight=weight) if s.label == "garden" else s
        for s in samples
    ]


def _tuned(base, samples, work_dir):
    result = finetune_model(
        samples, base, tiny_config(), work_dir=work_dir, feature_cache=None
    )
    return result, result.text_net.state_dict()["classifier.weight"]


def test_weights_all_one_equal_the_unweighted_run(text_base, tmp_path):
    # Given the same samples without weights and with every weight 1.0 (explicitly)
    plain, plain_w = _tuned(text_base, _samples(None), tmp_path / "a")
    ones, ones_w = _tuned(text_base, _samples(1.0), tmp_path / "b")
    # Then the fine-tuned heads, histories and metrics are identical
    assert torch.equal(plain_w, ones_w)
    assert plain.history == ones.history
    assert plain.metrics == ones.metrics
    assert "weighted_samples" not in ones.lineage


def test_weights_change_the_fine_tuned_result(text_base, tmp_path):
    # Given the garden samples weighted 3 against the unweighted run
    _, plain_w = _tuned(text_base, _samples(None), tmp_path / "a")
    weighted, weighted_w = _tuned(text_base, _samples(3.0), tmp_path / "b")
    # Then the heads differ, and the lineage says how many samples were weighted
    assert not torch.equal(plain_w, weighted_w)
    assert weighted.lineage["weighted_samples"] == 24
    assert weighted.lineage["max_sample_weight"] == 3.0


def test_a_non_positive_weight_is_refused(text_base, tmp_path):
    samples = _samples(None)
    samples[0] = dataclasses.replace(samples[0], weight=0.0)
    with pytest.raises(TrainingDataError, match="positive"):
        finetune_model(
            samples, text_base, tiny_config(), work_dir=tmp_path, feature_cache=None
        )


def test_the_weighted_loss_reduces_over_the_weights():
    torch.manual_seed(0)
    logits, targets = torch.randn(5, 3), torch.tensor([0, 1, 2, 1, 0])
    classes = torch.tensor([1.0, 2.0, 0.5])
    # weights all one: PyTorch's class-weighted mean
    ones = SampleWeightedCrossEntropy(classes)(logits, targets, torch.ones(5))
    expected = torch.nn.CrossEntropyLoss(weight=classes)(logits, targets)
    assert torch.allclose(ones, expected)
    # a weight of 2 counts the row twice
    weights = torch.tensor([2.0, 1.0, 1.0, 1.0, 1.0])
    doubled = SampleWeightedCrossEntropy(classes)(logits, targets, weights)
    twice = torch.nn.CrossEntropyLoss(weight=classes)(
        torch.cat([logits, logits[:1]]), torch.cat([targets, targets[:1]])
    )
    assert torch.allclose(doubled, twice)
