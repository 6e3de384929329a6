"""Fixtures shared by the pure-ML tests (no Django)."""

import pytest

from ml.core.features import FeatureCache
from ml.core.pipeline import train_model
from tests.ml.core.samples import multimodal_samples, tiny_config


@pytest.fixture(scope="module")
def multimodal_run(tmp_path_factory):
    """A text + efficientnet_lite0 model trained on the multimodal samples, with the
    feature cache it filled: ``(result, cache, root)``."""
    root = tmp_path_factory.mktemp("multimodal-run")
    cache = FeatureCache(root / "features")
    result = train_model(
        multimodal_samples(),
        tiny_config(backbone="efficientnet_lite0"),
        work_dir=root / "work",
        feature_cache=cache,
    )
    return result, cache, root
