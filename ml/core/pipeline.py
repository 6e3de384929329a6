"""Training library code (torchvision-references style).

:func:`train_model` runs the whole pipeline on a list of
:class:`~ml.core.data.Sample`: split, tokenizer, text network, cached backbone
features, image head, fusion weight and validation metrics. It returns a
:class:`TrainingResult` that :func:`ml.core.bundles.save_bundle` turns into a bundle.

A run checkpoints every epoch under ``work_dir/checkpoints`` (a dict of state
dicts plus the RNG states); running again with the same ``work_dir``, data and
config resumes after the last finished epoch and ends with the same weights as
an uninterrupted run (on CPU).
"""

import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
from transformers import PreTrainedTokenizerFast

from ml.core.backbones import build_backbone
from ml.core.checkpoints import stage_fingerprint
from ml.core.config import ProgressCallback, TrainingConfig, TrainingResult
from ml.core.data import Sample, class_counts, dataset_hash, stratified_split
from ml.core.engine import (
    Stage,
    cpu_state,
    evaluate,
    fit,
    resolve_device,
    seed_everything,
)
from ml.core.errors import TrainingDataError
from ml.core.features import FeatureCache, extract_features
from ml.core.fusion import DEFAULT_GRID, choose_fusion_weight, fuse
from ml.core.metrics import classification_metrics
from ml.core.networks import ImageHead, TextClassifier, image_head, text_classifier
from ml.core.transforms import (
    encode_texts,
    load_tokenizer,
    preprocessing_config,
    product_text,
    save_tokenizer,
    train_tokenizer,
)


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
        best, self.history[name] = fit(
            model,
            (inputs[train], self.y[train]),
            (inputs[val], self.y[val]),
            stage=Stage(
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
    fingerprint = stage_fingerprint(
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
    fingerprint = stage_fingerprint(
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
        backbone_state=cpu_state(spec.module) if random_init else None,
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
