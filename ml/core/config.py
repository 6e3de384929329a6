"""What a training run is given (:class:`TrainingConfig`) and what it returns
(:class:`TrainingResult`, which :func:`ml.core.bundles.save_bundle` turns into a
bundle)."""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from transformers import PreTrainedTokenizerFast

from ml.core.networks import ImageHead, TextClassifier

ProgressCallback = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class TrainingConfig:
    """Hyper-parameters of a training run (stored in the bundle).

    ``backbone=None`` trains a text-only model. ``epochs``, ``patience``,
    ``batch_size`` and ``lr`` apply to the text network and to the image head
    alike; early stopping watches the validation weighted F1. ``num_threads``
    (``None``: torch's default, one per core) calls ``torch.set_num_threads``
    for the whole process; use 1 when other busy processes share the cores.
    """

    backbone: str | None = None
    epochs: int = 10
    batch_size: int = 64
    lr: float = 1e-3
    patience: int = 3
    seed: int = 0
    val_fraction: float = 0.2
    max_length: int = 50
    vocab_size: int = 8000
    min_frequency: int = 2
    embed_dim: int = 512
    hidden_size: int = 512
    dropout: float = 0.5
    pooling: str = "max"
    image_hidden: int = 512
    image_dropout: float = 0.5
    allow_random_backbone: bool = False
    backbone_weights_path: str | None = None
    feature_batch_size: int = 16
    device: str = "auto"
    num_threads: int | None = None


@dataclass
class TrainingResult:
    """Everything :func:`ml.core.bundles.save_bundle` needs, plus the run's history."""

    labels: list[str]
    tokenizer: PreTrainedTokenizerFast
    text_net: TextClassifier
    text_net_config: dict[str, Any]
    image_head: ImageHead | None
    image_head_config: dict[str, Any] | None
    backbone_provenance: dict[str, Any] | None
    backbone_state_dict: dict[str, torch.Tensor] | None
    fusion_weight: float
    metrics: dict[str, Any]
    lineage: dict[str, Any]
    preprocessing: dict[str, Any]
    config: dict[str, Any]
    history: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
