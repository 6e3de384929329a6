"""Training library code (torchvision-references style).

:func:`train_model` runs the whole pipeline on a list of
:class:`~ml.datasets.Sample`: split, tokenizer, text network, cached backbone
features, image head, fusion weight and validation metrics. It returns a
:class:`TrainingResult` that :func:`ml.bundles.save_bundle` turns into a bundle.

A run checkpoints every epoch under ``work_dir/checkpoints`` (a dict of state
dicts plus the RNG states); running again with the same ``work_dir``, data and
config resumes after the last finished epoch and ends with the same weights as
an uninterrupted run (on CPU).
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import os
import random
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, TensorDataset
from tqdm.auto import tqdm
from transformers import PreTrainedTokenizerFast

from ml.backbones import BackboneSpec, build_backbone
from ml.bundles import LoadedBundle, bundle_backbone
from ml.datasets import Sample, class_counts, dataset_hash, stratified_split
from ml.errors import TORCH_LOAD_ERRORS, TrainingDataError
from ml.features import FeatureCache, extract_features
from ml.fusion import DEFAULT_GRID, choose_fusion_weight, fuse
from ml.metrics import classification_metrics, weighted_f1
from ml.nets import ImageHead, TextClassifier, image_head, text_classifier
from ml.preprocessing import (
    encode_texts,
    load_tokenizer,
    preprocessing_config,
    product_text,
    save_tokenizer,
    train_tokenizer,
)

__all__ = [
    "TrainingConfig",
    "TrainingResult",
    "ProgressCallback",
    "LengthBucketBatchSampler",
    "seed_everything",
    "resolve_device",
    "train_one_epoch",
    "evaluate",
    "train_model",
    "finetune_model",
]

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
    """Everything :func:`ml.bundles.save_bundle` needs, plus the run's history."""

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


# ------------------------------------------------------------------ building blocks
def seed_everything(seed: int) -> None:
    """Seed Python, numpy and torch (CPU and CUDA) random generators."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def resolve_device(device: str) -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU; anything else as given."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def train_one_epoch(
    model: nn.Module,
    loader: Iterable[tuple[torch.Tensor, torch.Tensor]],
    optimizer: torch.optim.Optimizer,
    criterion: nn.Module,
    device: torch.device,
) -> float:
    """Train ``model`` for one pass over ``loader``; return the mean loss."""
    model.train()
    total, count = 0.0, 0
    for inputs, targets in loader:
        inputs, targets = inputs.to(device), targets.to(device)
        loss = criterion(model(inputs), targets)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        total += float(loss.detach()) * targets.size(0)
        count += targets.size(0)
    return total / max(count, 1)


def evaluate(
    model: nn.Module, loader: Iterable[Sequence[torch.Tensor]], device: torch.device
) -> torch.Tensor:
    """Return the softmax probabilities ``[N, C]`` (CPU) of every batch input."""
    model.eval()
    outputs = []
    with torch.inference_mode():
        for batch in loader:
            outputs.append(model(batch[0].to(device)).softmax(dim=-1).cpu())
    return torch.cat(outputs)


# --------------------------------------------------------------------- internals
def _fingerprint(payload: dict[str, Any]) -> str:
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _atomic_torch_save(obj: Any, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def _load_checkpoint(path: Path, fingerprint: str) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except TORCH_LOAD_ERRORS:
        return None  # unreadable checkpoint: start the stage again
    if not isinstance(checkpoint, dict) or checkpoint.get("fingerprint") != fingerprint:
        return None
    return checkpoint


def _class_weights(targets: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Balanced weights ``n / (k * count_c)``; classes absent from ``targets`` get 1."""
    counts = torch.bincount(targets, minlength=num_classes).float()
    present = counts > 0
    weights = torch.ones(num_classes)
    weights[present] = targets.numel() / (present.sum() * counts[present])
    return weights


def _cpu_state(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}


class LengthBucketBatchSampler:
    """Shuffled batches whose texts have similar lengths.

    Indices are shuffled, cut into chunks of ``batch_size * bucket_batches``,
    sorted by length inside each chunk, batched, and the batches shuffled. The
    text network drops trailing pad columns, so less padding means less work.
    Deterministic for a given ``generator`` state.
    """

    def __init__(
        self,
        lengths: torch.Tensor,
        batch_size: int,
        generator: torch.Generator,
        *,
        bucket_batches: int = 16,
    ) -> None:
        self.lengths = lengths
        self.batch_size = batch_size
        self.generator = generator
        self.chunk = batch_size * bucket_batches

    def __len__(self) -> int:
        return -(-len(self.lengths) // self.batch_size)

    def __iter__(self) -> Iterator[list[int]]:
        order = torch.randperm(len(self.lengths), generator=self.generator)
        batches: list[torch.Tensor] = []
        for start in range(0, len(order), self.chunk):
            chunk = order[start : start + self.chunk]
            chunk = chunk[torch.argsort(self.lengths[chunk], stable=True)]
            batches.extend(chunk.split(self.batch_size))
        for i in torch.randperm(len(batches), generator=self.generator).tolist():
            yield batches[i].tolist()


@dataclass
class _Stage:
    """What :func:`_fit` needs to know about the stage it trains."""

    name: str
    band: tuple[float, float]
    checkpoint: Path
    fingerprint: str


def _validate(
    model: nn.Module, loader: DataLoader, targets: torch.Tensor, device: torch.device
) -> dict[str, float]:
    probs = evaluate(model, loader, device)
    predictions = probs.argmax(dim=1)
    return {
        "val_loss": float(F.nll_loss(probs.clamp_min(1e-12).log(), targets)),
        "val_weighted_f1": weighted_f1(targets.tolist(), predictions.tolist()),
        "val_accuracy": float((predictions == targets).float().mean()),
    }


def _loaders(
    train: tuple[torch.Tensor, torch.Tensor],
    val: tuple[torch.Tensor, torch.Tensor],
    config: TrainingConfig,
    generator: torch.Generator,
    lengths: tuple[torch.Tensor, torch.Tensor] | None,
) -> tuple[DataLoader, DataLoader, torch.Tensor]:
    """Shuffled train loader (length-bucketed for texts) and val loader + targets."""
    if lengths is None:
        train_loader = DataLoader(
            TensorDataset(*train),
            batch_size=config.batch_size,
            shuffle=True,
            generator=generator,
        )
    else:
        sampler = LengthBucketBatchSampler(lengths[0], config.batch_size, generator)
        train_loader = DataLoader(TensorDataset(*train), batch_sampler=sampler)
        # row order does not matter to the metrics; sorted rows are faster
        by_length = torch.argsort(lengths[1], stable=True)
        val = (val[0][by_length], val[1][by_length])
    val_loader = DataLoader(
        TensorDataset(val[0]), batch_size=max(128, config.batch_size)
    )
    return train_loader, val_loader, val[1]


def _fit(
    model: nn.Module,
    train: tuple[torch.Tensor, torch.Tensor],
    val: tuple[torch.Tensor, torch.Tensor],
    *,
    stage: _Stage,
    config: TrainingConfig,
    device: torch.device,
    num_classes: int,
    progress: ProgressCallback | None,
    writer: Any,
    lengths: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> tuple[dict[str, torch.Tensor], list[dict[str, Any]]]:
    """Train with class-weighted CE + Adam, early stopping on val weighted F1.

    An epoch is an improvement when its validation weighted F1 is higher, or
    equal with a lower validation log-loss. ``lengths`` (train, val) turns on
    length-bucketed batches for texts. Every epoch is checkpointed; a matching
    checkpoint is resumed. Returns the best state dict (CPU) and the history.
    """
    generator = torch.Generator().manual_seed(config.seed)
    train_loader, val_loader, val_targets = _loaders(
        train, val, config, generator, lengths
    )
    criterion = nn.CrossEntropyLoss(weight=_class_weights(train[1], num_classes))
    criterion = criterion.to(device)
    model.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    state: dict[str, Any] = {
        "epoch": 0,
        "best_f1": -1.0,
        "best_loss": float("inf"),
        "best_epoch": 0,
        "bad_epochs": 0,
        "stopped": False,
        "history": [],
        "best_model": _cpu_state(model),
    }
    checkpoint = _load_checkpoint(stage.checkpoint, stage.fingerprint)
    if checkpoint is not None:
        model.load_state_dict(checkpoint["model"])
        optimizer.load_state_dict(checkpoint["optimizer"])
        torch.set_rng_state(checkpoint["torch_rng"])
        generator.set_state(checkpoint["loader_rng"])
        state = {key: checkpoint[key] for key in state}
    low, high = stage.band
    epochs = range(state["epoch"], 0 if state["stopped"] else config.epochs)
    bar = tqdm(epochs, desc=f"train {stage.name}", unit="epoch", disable=None)
    for epoch in bar:
        record = {
            "epoch": epoch + 1,
            "train_loss": train_one_epoch(
                model, train_loader, optimizer, criterion, device
            ),
            **_validate(model, val_loader, val_targets, device),
        }
        score = (record["val_weighted_f1"], -record["val_loss"])
        if score > (state["best_f1"], -state["best_loss"]):
            state.update(best_f1=score[0], best_loss=-score[1], best_epoch=epoch + 1)
            state.update(bad_epochs=0, best_model=_cpu_state(model))
        else:
            state["bad_epochs"] += 1
        state["epoch"] = epoch + 1
        state["stopped"] = state["bad_epochs"] >= config.patience
        state["history"] = [*state["history"], record]
        _atomic_torch_save(
            {
                **state,
                "fingerprint": stage.fingerprint,
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "torch_rng": torch.get_rng_state(),
                "loader_rng": generator.get_state(),
            },
            stage.checkpoint,
        )
        bar.set_postfix(
            loss=f"{record['train_loss']:.4f}",
            val_f1=f"{record['val_weighted_f1']:.4f}",
        )
        if writer is not None:
            for key, value in record.items():
                if key != "epoch":
                    writer.add_scalar(f"{stage.name}/{key}", value, epoch + 1)
        if progress is not None:
            done = 1.0 if state["stopped"] else (epoch + 1) / config.epochs
            progress(
                {
                    "stage": stage.name,
                    "epochs": config.epochs,
                    "fraction": low + (high - low) * done,
                    **record,
                }
            )
        if state["stopped"]:
            break
    bar.close()
    return state["best_model"], state["history"]


def _prepare_tokenizer(
    texts: list[str], config: TrainingConfig, directory: Path, fingerprint: str
) -> PreTrainedTokenizerFast:
    """Train the tokenizer, or reload the one a previous run of this job saved."""
    marker = directory / "FINGERPRINT"
    if marker.is_file() and marker.read_text("utf-8") == fingerprint:
        return load_tokenizer(directory)
    tokenizer = train_tokenizer(
        texts, vocab_size=config.vocab_size, min_frequency=config.min_frequency
    )
    save_tokenizer(tokenizer, directory)
    marker.write_text(fingerprint, "utf-8")
    return tokenizer


def _probabilities(model: nn.Module, inputs: torch.Tensor) -> torch.Tensor:
    loader = DataLoader(TensorDataset(inputs), batch_size=256)
    return evaluate(model, loader, torch.device("cpu"))


def _metrics_or_none(
    y_true: torch.Tensor, probs: torch.Tensor, labels: list[str]
) -> dict[str, Any] | None:
    if y_true.numel() == 0:
        return None
    return classification_metrics(
        [labels[i] for i in y_true.tolist()],
        [labels[i] for i in probs.argmax(dim=1).tolist()],
        labels=labels,
    )


@dataclass
class _Run:
    """State shared by the stages of one :func:`train_model` call."""

    config: TrainingConfig
    labels: list[str]
    y: torch.Tensor
    train_idx: list[int]
    val_idx: list[int]
    work_dir: Path
    device: torch.device
    fingerprint: dict[str, Any]
    progress: ProgressCallback | None
    writer: Any
    data_hash: str
    warnings: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    history: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def fit(
        self,
        model: nn.Module,
        name: str,
        band: tuple[float, float],
        inputs: torch.Tensor,
        rows: tuple[list[int], list[int]],
        fingerprint: str,
        lengths: torch.Tensor | None = None,
    ) -> None:
        """Train ``model`` on ``inputs[rows]``; leave it on CPU, best weights loaded."""
        started = time.perf_counter()
        train, val = rows
        best, self.history[name] = _fit(
            model,
            (inputs[train], self.y[train]),
            (inputs[val], self.y[val]),
            stage=_Stage(
                name, band, self.work_dir / f"checkpoints/{name}.pt", fingerprint
            ),
            config=self.config,
            device=self.device,
            num_classes=len(self.labels),
            progress=self.progress,
            writer=self.writer,
            lengths=None if lengths is None else (lengths[train], lengths[val]),
        )
        model.load_state_dict(best)
        model.cpu().eval()
        self.timings[f"{name}_s"] = time.perf_counter() - started


@dataclass
class _TextBranch:
    tokenizer: PreTrainedTokenizerFast
    net: TextClassifier
    net_config: dict[str, Any]
    has_text: torch.Tensor  # per sample
    p_val: torch.Tensor  # [n_val, C]


@dataclass
class _ImageBranch:
    head: ImageHead
    head_config: dict[str, Any]
    provenance: dict[str, Any]
    backbone_state: dict[str, torch.Tensor] | None
    has_image: torch.Tensor  # per sample
    p_val: torch.Tensor  # [n_val, C], zero rows without photo


def _text_rows(
    run: _Run, samples: Sequence[Sample]
) -> tuple[list[str], torch.Tensor, list[int], list[int]]:
    """Each sample's text, which have one, and the train and val rows that do."""
    texts = [product_text(sample.title, sample.description) for sample in samples]
    has_text = torch.tensor([bool(text) for text in texts], dtype=torch.bool)
    train = [i for i in run.train_idx if has_text[i]]
    val = [i for i in run.val_idx if has_text[i]]
    if not train or not val:
        raise TrainingDataError("training needs products with text in train and val")
    return texts, has_text, train, val


def _train_text_branch(run: _Run, samples: Sequence[Sample]) -> _TextBranch:
    config = run.config
    texts, has_text, train, val = _text_rows(run, samples)
    keys = ("max_length", "vocab_size", "min_frequency", "embed_dim", "hidden_size")
    fingerprint = _fingerprint(
        {
            **run.fingerprint,
            "stage": "text",
            "dropout": config.dropout,
            "pooling": config.pooling,
            **{key: getattr(config, key) for key in keys},
        }
    )
    tokenizer = _prepare_tokenizer(
        [texts[i] for i in train], config, run.work_dir / "tokenizer", fingerprint
    )
    ids = encode_texts(tokenizer, texts, max_length=config.max_length)
    net_config = {
        "vocab_size": len(tokenizer),
        "num_classes": len(run.labels),
        "embed_dim": config.embed_dim,
        "hidden_size": config.hidden_size,
        "dropout": config.dropout,
        "pad_index": int(tokenizer.pad_token_id),
        "pooling": config.pooling,
    }
    seed_everything(config.seed)
    net = text_classifier(**net_config)
    band = (0.0, 0.45) if config.backbone else (0.0, 0.95)
    lengths = (ids != tokenizer.pad_token_id).sum(dim=1)
    run.fit(net, "text", band, ids, (train, val), fingerprint, lengths)
    p_val = _probabilities(net, ids[run.val_idx])
    return _TextBranch(tokenizer, net, net_config, has_text, p_val)


def _train_image_branch(
    run: _Run, samples: Sequence[Sample], cache: FeatureCache | None
) -> _ImageBranch | None:
    config = run.config
    assert config.backbone is not None
    if all(sample.image is None for sample in samples):
        run.warnings.append("no product has a photo: the image branch was skipped")
        return None
    started = time.perf_counter()
    spec = build_backbone(
        config.backbone,
        pretrained=True,
        weights_path=config.backbone_weights_path,
        allow_random=config.allow_random_backbone,
    )
    if spec.provenance["warning"]:
        run.warnings.append(str(spec.provenance["warning"]))

    spec.module.to(run.device)
    features, has_image = extract_features(
        spec,
        [sample.image for sample in samples],
        cache,
        batch_size=config.feature_batch_size,
        progress=_feature_progress(run),
    )
    spec.module.cpu()
    run.timings["features_s"] = time.perf_counter() - started
    unreadable = sum(
        sample.image is not None and not ok
        for sample, ok in zip(samples, has_image.tolist(), strict=True)
    )
    if unreadable:
        run.warnings.append(f"{unreadable} photo(s) could not be read and were ignored")
    train = [i for i in run.train_idx if has_image[i]]
    val = [i for i in run.val_idx if has_image[i]]
    if not train or not val:
        run.warnings.append("too few photos for train and validation: image skipped")
        return None
    head_config = {
        "in_features": spec.feature_dim,
        "num_classes": len(run.labels),
        "hidden": config.image_hidden,
        "dropout": config.image_dropout,
    }
    fingerprint = _fingerprint(
        {
            **run.fingerprint,
            "stage": "image",
            "backbone": spec.provenance["state_sha256"],
            **head_config,
        }
    )
    seed_everything(config.seed)
    head = image_head(**head_config)
    run.fit(head, "image", (0.75, 0.95), features, (train, val), fingerprint)
    p_val = torch.zeros(len(run.val_idx), len(run.labels))
    has_image_val = has_image[run.val_idx]
    p_val[has_image_val] = _probabilities(head, features[run.val_idx][has_image_val])
    random_init = spec.provenance["source"] == "random"
    return _ImageBranch(
        head=head,
        head_config=head_config,
        provenance=dict(spec.provenance),
        backbone_state=_cpu_state(spec.module) if random_init else None,
        has_image=has_image,
        p_val=p_val,
    )


def _fuse_and_measure(
    run: _Run, text: _TextBranch, image: _ImageBranch | None
) -> tuple[float, dict[str, Any]]:
    """Choose the fusion weight on validation; metrics of fused, text and image."""
    y_val = run.y[run.val_idx]
    has_text = text.has_text[run.val_idx]
    has_image = (
        image.has_image[run.val_idx]
        if image is not None
        else torch.zeros(len(run.val_idx), dtype=torch.bool)
    )
    p_image = image.p_val if image is not None else None
    weight = 1.0
    if p_image is not None:
        weight, _ = choose_fusion_weight(
            text.p_val,
            p_image,
            y_val,
            grid=DEFAULT_GRID,
            has_text=has_text,
            has_image=has_image,
        )
    fused = fuse(text.p_val, p_image, weight, has_text, has_image)
    metrics = {
        "fused": _metrics_or_none(y_val, fused, run.labels),
        "text": _metrics_or_none(y_val[has_text], text.p_val[has_text], run.labels),
        "image": (
            _metrics_or_none(y_val[has_image], p_image[has_image], run.labels)
            if p_image is not None
            else None
        ),
    }
    return weight, metrics


def _sample_labels(samples: Sequence[Sample]) -> list[str]:
    if any(sample.label is None for sample in samples):
        raise TrainingDataError("every training sample needs a label")
    return [str(sample.label) for sample in samples]


def _run_start(
    samples: Sequence[Sample],
    label_of: list[str],
    labels: list[str],
    config: TrainingConfig,
    work_dir: Path,
    progress: ProgressCallback | None,
    log_dir: Path | None,
    fingerprint: dict[str, Any] | None = None,
    validate_on: Sequence[bool] | None = None,
) -> _Run:
    """Split, seed and open the TensorBoard writer (the caller closes it).
    ``validate_on``: only these samples may be drawn for validation (when they allow
    a split; otherwise every sample may, with a warning)."""
    warnings = []
    train_idx, val_idx = stratified_split(
        label_of, val_fraction=config.val_fraction, seed=config.seed
    )
    if validate_on is not None:
        eligible = [i for i, ok in enumerate(validate_on) if ok]
        inner_train, inner_val = stratified_split(
            [label_of[i] for i in eligible],
            val_fraction=config.val_fraction,
            seed=config.seed,
        )
        if inner_val:
            val_idx = [eligible[i] for i in inner_val]
            held = set(val_idx)
            train_idx = [i for i in range(len(label_of)) if i not in held]
        else:
            warnings.append(
                "too few new samples for a validation split: validated on all"
            )
    if not val_idx:
        raise TrainingDataError(
            "too few samples for a validation split: some category needs at "
            "least two samples"
        )
    if config.num_threads:
        torch.set_num_threads(config.num_threads)
    seed_everything(config.seed)
    data_hash = dataset_hash(samples)
    index_of = {label: i for i, label in enumerate(labels)}
    writer = None
    if log_dir is not None:
        from torch.utils.tensorboard import SummaryWriter  # slow import: on demand

        writer = SummaryWriter(log_dir=str(log_dir))
    return _Run(
        config=config,
        labels=labels,
        y=torch.tensor([index_of[label] for label in label_of], dtype=torch.long),
        train_idx=train_idx,
        val_idx=val_idx,
        work_dir=Path(work_dir),
        device=resolve_device(config.device),
        fingerprint={
            "dataset": data_hash,
            "labels": labels,
            "seed": config.seed,
            "val_fraction": config.val_fraction,
            "batch_size": config.batch_size,
            "lr": config.lr,
            **(fingerprint or {}),
        },
        progress=progress,
        writer=writer,
        data_hash=data_hash,
        warnings=warnings,
    )


def _feature_progress(run: _Run) -> Callable[[int, int], None]:
    def on_features(done: int, total: int) -> None:
        if run.progress is not None:
            fraction = 0.45 + 0.3 * done / max(total, 1)
            run.progress(
                {
                    "stage": "features",
                    "done": done,
                    "total": total,
                    "fraction": fraction,
                }
            )

    return on_features


def _report_fusion(run: _Run, weight: float, fused_f1: float) -> None:
    if run.progress is not None:
        run.progress(
            {
                "stage": "fusion",
                "fraction": 1.0,
                "fusion_weight": weight,
                "val_weighted_f1": fused_f1,
            }
        )
    if run.writer is not None:
        run.writer.add_scalar("fusion/weight", weight, 0)
        run.writer.add_scalar("fusion/val_weighted_f1", fused_f1, 0)


def _branches_and_fusion(
    run: _Run,
    text_branch: Callable[[], _TextBranch],
    image_branch: Callable[[], _ImageBranch | None],
) -> tuple[_TextBranch, _ImageBranch | None, float, dict[str, Any]]:
    """Train the text branch, then the image branch, choose the fusion weight and
    measure; the TensorBoard writer is closed whatever happens."""
    try:
        text = text_branch()
        image = image_branch()
        weight, metrics = _fuse_and_measure(run, text, image)
        _report_fusion(run, weight, metrics["fused"]["weighted_f1"])
    finally:
        if run.writer is not None:
            run.writer.close()
    return text, image, weight, metrics


def _lineage(
    run: _Run,
    samples: Sequence[Sample],
    label_of: list[str],
    text: _TextBranch,
    image: _ImageBranch | None,
) -> dict[str, Any]:
    has_image = image.has_image if image is not None else None
    return {
        "dataset_hash": run.data_hash,
        "n_samples": len(samples),
        "class_counts": class_counts(label_of),
        "n_train": len(run.train_idx),
        "n_val": len(run.val_idx),
        "n_with_image": sum(sample.image is not None for sample in samples),
        "n_val_with_image": int(has_image[run.val_idx].sum())
        if has_image is not None
        else 0,
        "n_without_text": int((~text.has_text).sum()),
    }


# ------------------------------------------------------------------- the pipeline
def train_model(
    samples: Sequence[Sample],
    config: TrainingConfig,
    *,
    work_dir: Path,
    feature_cache: FeatureCache | None,
    progress: ProgressCallback | None = None,
    log_dir: Path | None = None,
) -> TrainingResult:
    """Train the text network, the image head (optional) and the fusion weight.

    Args:
        samples: labelled products (``label`` must be set on every one).
        config: hyper-parameters; ``config.backbone=None`` for text only.
        work_dir: scratch folder (tokenizer, checkpoints); reuse it to resume.
        feature_cache: where backbone features are cached (``None``: no cache).
        progress: receives dicts such as ``{"stage": "text", "epoch": 2,
            "epochs": 10, "fraction": 0.09, "val_weighted_f1": 0.71, ...}``;
            stages are ``"text"``, ``"features"``, ``"image"``, ``"fusion"``.
        log_dir: TensorBoard log folder (``None``: no TensorBoard logs).

    Raises:
        TrainingDataError: unlabelled samples, fewer than two classes, too few
            samples for a validation split, or no text.
        PretrainedWeightsUnavailableError: the backbone's weights are missing
            and ``config.allow_random_backbone`` is false.
    """
    started = time.perf_counter()
    label_of = _sample_labels(samples)
    labels = sorted(set(label_of))
    if len(labels) < 2:
        raise TrainingDataError("training needs at least two categories")
    run = _run_start(samples, label_of, labels, config, work_dir, progress, log_dir)
    text, image, weight, metrics = _branches_and_fusion(
        run,
        lambda: _train_text_branch(run, samples),
        lambda: (
            _train_image_branch(run, samples, feature_cache)
            if config.backbone
            else None
        ),
    )

    lineage = _lineage(run, samples, label_of, text, image)
    run.timings["total_s"] = time.perf_counter() - started
    return TrainingResult(
        labels=labels,
        tokenizer=text.tokenizer,
        text_net=text.net,
        text_net_config=text.net_config,
        image_head=image.head if image else None,
        image_head_config=image.head_config if image else None,
        backbone_provenance=image.provenance if image else None,
        backbone_state_dict=image.backbone_state if image else None,
        fusion_weight=float(weight),
        metrics=metrics,
        lineage=lineage,
        preprocessing=preprocessing_config(max_length=config.max_length),
        config=dataclasses.asdict(config),
        history=run.history,
        warnings=run.warnings,
        timings=run.timings,
    )


# -------------------------------------------------------------------- fine-tuning
class _FeatureHead(nn.Module):
    """The text network's dropout and final linear layer, trained on its frozen pooled
    features (``classifier`` is the network's own layer: training it trains the
    network)."""

    def __init__(self, net: TextClassifier) -> None:
        super().__init__()
        self.dropout = nn.Dropout(net.dropout.p)
        self.classifier = net.classifier

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.dropout(features))


def _resized_linear(
    old: nn.Linear, old_labels: Sequence[str], new_labels: Sequence[str]
) -> nn.Linear:
    """``old`` for ``new_labels``: a label ``old`` knows keeps its row; a new label
    starts with zero weights and the mean bias (it has no opinion yet)."""
    new = nn.Linear(old.in_features, len(new_labels))
    row_of = {label: i for i, label in enumerate(old_labels)}
    with torch.no_grad():
        new.weight.zero_()
        new.bias.fill_(float(old.bias.mean()))
        for row, label in enumerate(new_labels):
            if label in row_of:
                new.weight[row] = old.weight[row_of[label]]
                new.bias[row] = old.bias[row_of[label]]
    return new


def _text_features(net: TextClassifier, ids: torch.Tensor) -> torch.Tensor:
    net.eval()
    with torch.inference_mode():
        return torch.cat([net.features(batch) for batch in ids.split(256)])


def _finetune_text(
    run: _Run, samples: Sequence[Sample], base: LoadedBundle
) -> _TextBranch:
    texts, has_text, train, val = _text_rows(run, samples)
    ids = encode_texts(base.tokenizer, texts, max_length=base.max_length)
    net = copy.deepcopy(base.text_net)
    net.classifier = _resized_linear(net.classifier, base.labels, run.labels)
    features = _text_features(net, ids)
    head = _FeatureHead(net)
    band = (0.0, 0.45) if base.image_head is not None else (0.0, 0.95)
    fingerprint = _fingerprint({**run.fingerprint, "stage": "text"})
    run.fit(head, "text", band, features, (train, val), fingerprint)
    net.eval()
    net_config = dict(base.metadata["networks"]["text"]["config"])
    net_config["num_classes"] = len(run.labels)
    p_val = _probabilities(head, features[run.val_idx])
    return _TextBranch(base.tokenizer, net, net_config, has_text, p_val)


def _finetune_image(
    run: _Run,
    samples: Sequence[Sample],
    base: LoadedBundle,
    spec: BackboneSpec,
    cache: FeatureCache | None,
) -> _ImageBranch | None:
    """Fine-tune the image head on cached features; ``None`` when too few photos (the
    caller then keeps the base's head)."""
    if all(sample.image is None for sample in samples):
        return None
    started = time.perf_counter()
    spec.module.to(run.device)
    features, has_image = extract_features(
        spec,
        [sample.image for sample in samples],
        cache,
        batch_size=run.config.feature_batch_size,
        progress=_feature_progress(run),
    )
    spec.module.cpu()
    run.timings["features_s"] = time.perf_counter() - started
    train = [i for i in run.train_idx if has_image[i]]
    val = [i for i in run.val_idx if has_image[i]]
    if not train or not val:
        return None
    assert base.image_head is not None
    head = copy.deepcopy(base.image_head)
    head.layers[-1] = _resized_linear(head.layers[-1], base.labels, run.labels)
    fingerprint = _fingerprint({**run.fingerprint, "stage": "image"})
    run.fit(head, "image", (0.75, 0.95), features, (train, val), fingerprint)
    p_val = torch.zeros(len(run.val_idx), len(run.labels))
    has_image_val = has_image[run.val_idx]
    p_val[has_image_val] = _probabilities(head, features[run.val_idx][has_image_val])
    head_config = dict(base.metadata["networks"]["image_head"]["config"])
    head_config["num_classes"] = len(run.labels)
    return _ImageBranch(
        head=head,
        head_config=head_config,
        provenance=dict(spec.provenance),
        backbone_state=base.backbone_state_dict,
        has_image=has_image,
        p_val=p_val,
    )


def _carried_image_head(
    base: LoadedBundle, spec: BackboneSpec, labels: list[str]
) -> tuple[ImageHead, dict[str, Any]]:
    """The base's image head unchanged but for its output layer, resized to
    ``labels`` (a new label gets no image evidence until a photo trains it)."""
    assert base.image_head is not None
    head = copy.deepcopy(base.image_head)
    last = head.layers[-1]
    resized = _resized_linear(last, base.labels, labels)
    with torch.no_grad():  # new labels: below every known one, not at the mean
        known = torch.tensor([label in base.labels for label in labels])
        resized.bias[~known] = float(last.bias.min()) - 10.0
    head.layers[-1] = resized
    head.eval()
    config = dict(base.metadata["networks"]["image_head"]["config"])
    config["num_classes"] = len(labels)
    return head, {"provenance": dict(spec.provenance), "config": config}


def finetune_model(
    samples: Sequence[Sample],
    base: LoadedBundle,
    config: TrainingConfig,
    *,
    labels: Sequence[str] | None = None,
    new: Sequence[bool] | None = None,
    work_dir: Path,
    feature_cache: FeatureCache | None,
    progress: ProgressCallback | None = None,
    log_dir: Path | None = None,
) -> TrainingResult:
    """Fine-tune the heads of a trained model (``base``) on new samples: the
    incremental retraining.

    The tokenizer, the embedding and GRUs and the backbone stay as ``base`` trained
    them; the text network's final linear layer (on its frozen pooled features,
    computed once) and the image head (on cached backbone features) are trained,
    with early stopping on validation weighted F1, and the fusion weight is chosen
    again on validation. The output layers are resized to the label set: a label
    ``base`` knows keeps its trained row, a new one starts from zero; a label of
    ``base`` left out of ``labels`` (a retired category) is dropped. When too few
    samples have a photo, the image head and fusion weight of ``base`` are kept.

    From ``config`` only the optimisation fields apply (``epochs``,
    ``batch_size``, ``lr``, ``patience``, ``seed``, ``val_fraction``,
    ``feature_batch_size``, ``device``, ``num_threads``); the architecture and
    preprocessing come from ``base``.

    Args:
        samples: labelled products (new ones plus a replay of older ones).
        base: the loaded bundle to start from.
        labels: the label set of the result (default: ``base``'s labels and
            those of ``samples``); it must contain every sample's label.
        new: which samples are new (not replayed). Validation (early stopping,
            fusion weight and the metrics) is drawn from the new ones only: the
            frozen text encoder was trained on the replayed ones, which would make
            the validation figures optimistic. Default: every sample.
        work_dir, feature_cache, progress, log_dir: as for :func:`train_model`.

    Raises:
        TrainingDataError: unlabelled samples, a label outside ``labels``, fewer
            than two labels, too few samples for a validation split, or no text.
        PretrainedWeightsUnavailableError: the backbone ``base`` was trained with
            is not available here.
    """
    started = time.perf_counter()
    label_of = _sample_labels(samples)
    labels = sorted(set(labels if labels is not None else [*base.labels, *label_of]))
    unknown = sorted(set(label_of) - set(labels))
    if unknown:
        raise TrainingDataError(f"samples have labels outside the label set: {unknown}")
    if len(labels) < 2:
        raise TrainingDataError("training needs at least two categories")
    if new is not None and len(new) != len(samples):
        raise TrainingDataError("new must say, for every sample, whether it is new")
    run = _run_start(
        samples,
        label_of,
        labels,
        config,
        work_dir,
        progress,
        log_dir,
        fingerprint={
            "mode": "finetune",
            "base": base.sha256,
            "epochs": config.epochs,
            "new": None
            if new is None
            else hashlib.sha256(bytes(map(bool, new))).hexdigest(),
        },
        validate_on=new,
    )
    spec = bundle_backbone(base) if base.image_head is not None else None
    text, image, weight, metrics = _branches_and_fusion(
        run,
        lambda: _finetune_text(run, samples, base),
        lambda: (
            _finetune_image(run, samples, base, spec, feature_cache)
            if spec is not None
            else None
        ),
    )

    head, head_config, provenance, backbone_state = None, None, None, None
    if image is not None:
        head, head_config = image.head, image.head_config
        provenance, backbone_state = image.provenance, image.backbone_state
    elif spec is not None:
        run.warnings.append(
            "too few photos to fine-tune on: the image head was kept as it was "
            "(new categories get no image evidence), with the previous fusion weight"
        )
        head, carried = _carried_image_head(base, spec, labels)
        head_config, provenance = carried["config"], carried["provenance"]
        backbone_state = base.backbone_state_dict
        weight = base.fusion_weight
    lineage = {
        **_lineage(run, samples, label_of, text, image),
        "mode": "finetune",
        "n_new": len(samples) if new is None else sum(map(bool, new)),
        "base_sha256": base.sha256,
        "base_labels": list(base.labels),
    }
    run.timings["total_s"] = time.perf_counter() - started
    base_config = base.metadata.get("training", {}).get("config", {})
    trained = {
        key: getattr(config, key)
        for key in (
            "epochs",
            "batch_size",
            "lr",
            "patience",
            "seed",
            "val_fraction",
            "feature_batch_size",
            "device",
            "num_threads",
        )
    }
    return TrainingResult(
        labels=labels,
        tokenizer=text.tokenizer,
        text_net=text.net,
        text_net_config=text.net_config,
        image_head=head,
        image_head_config=head_config,
        backbone_provenance=provenance,
        backbone_state_dict=backbone_state,
        fusion_weight=float(weight),
        metrics=metrics,
        lineage=lineage,
        preprocessing=dict(base.metadata["preprocessing"]),
        config={**base_config, **trained, "finetuned_from": base.sha256},
        history=run.history,
        warnings=run.warnings,
        timings=run.timings,
    )
