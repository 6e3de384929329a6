"""What a training run is given (:class:`TrainingConfig`) and what it returns
(:class:`TrainingResult`, which :func:`ml.core.bundles.save_bundle` turns into a
bundle)."""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from transformers import PreTrainedTokenizerFast

from ml.core.linear_head import LinearHead
from ml.core.networks import ImageHead, TextClassifier
from ml.core.sentence import SentenceHead
from ml.core.sparse import SparseTextModel

ProgressCallback = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class TrainingConfig:
    """Hyper-parameters of a training run (stored in the bundle).

    ``backbone=None`` trains a text-only model. ``epochs``, ``patience``,
    ``batch_size`` and ``lr`` apply to the text network and to the image head
    alike (but ``text_batch_size`` / ``text_lr`` for the BiGRU from scratch); early
    stopping watches the validation weighted F1. ``sparse_text`` and
    ``sentence_text`` add the TF-IDF + linear SVM branch and the frozen sentence
    encoder's branch to the fusion. ``num_threads``
    (``None``: torch's default, one per core) calls ``torch.set_num_threads``
    for the whole process; use 1 when other busy processes share the cores.
    """

    backbone: str | None = None
    epochs: int = 10
    batch_size: int = 64
    lr: float = 1e-3
    patience: int = 3
    seed: int = 0
    val_fraction: float = 0.3  # a third stops early, two thirds fit the fusion
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
    sparse_text: bool = True
    sentence_text: bool = True
    # The BiGRU's own batch size and learning rate (the image head keeps
    # ``batch_size`` / ``lr``): bigger batches keep 2 CPU cores busier per step.
    text_batch_size: int = 128
    text_lr: float = 2e-3
    # Regularisation of the networks ``engine.fit`` trains with this config:
    # decoupled weight decay (AdamW; 0: Adam) and label smoothing of the
    # cross-entropy. The BiGRU gets its own (``text_*``), and ``embedding_dropout``
    # zeroes that share of its token vectors in training (docs/benchmarks.md).
    weight_decay: float = 0.0
    label_smoothing: float = 0.0
    text_weight_decay: float = 0.0
    text_label_smoothing: float = 0.0
    embedding_dropout: float = 0.0
    # Folds of the out-of-fold predictions that fit the fusion (temperatures and
    # weights) over every training row: the linear branches and the image head are
    # cheap enough to fit k times; the BiGRU gives its validation rows only. 0 or 1:
    # only the held-out fusion rows fit it.
    fusion_folds: int = 5
    # The linear text branches (TF-IDF + SVM, sentence head) are fitted on at most
    # this many training rows (a stratified sample; None: every row): their memory
    # grows with their rows, the networks stream. Rows outside the sample get the
    # sampled fit's margins, which are out of fold for them.
    linear_max_rows: int | None = 10_000
    # With a backbone: a logistic regression on the pooled backbone features joins
    # the fusion beside the specification's MLP head (``image_linear``), bounded by
    # ``linear_max_rows`` like the linear text branches. Off by default: on 5 splits
    # of products-flipkart it did not raise the fused weighted F1 (docs/benchmarks.md).
    image_linear: bool = False


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
    fusion_weight: float  # the text branches' share (see ml.core.pipeline.text_share)
    metrics: dict[str, Any]
    lineage: dict[str, Any]
    preprocessing: dict[str, Any]
    config: dict[str, Any]
    history: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    # branches, weights, temperatures, fused_temperature; empty: the two-branch
    # fusion that ``fusion_weight`` describes, uncalibrated
    fusion: dict[str, Any] = field(default_factory=dict)
    sparse_text: SparseTextModel | None = None
    sentence_head: SentenceHead | None = None
    sentence_provenance: dict[str, Any] | None = None
    image_linear_head: LinearHead | None = None
