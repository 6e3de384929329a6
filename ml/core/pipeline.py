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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ml.core.branches import (
    ImageBranch,
    Run,
    TextBranch,
    train_image_branch,
    train_text_branch,
)
from ml.core.calibration import expected_calibration_error
from ml.core.config import ProgressCallback, TrainingConfig, TrainingResult
from ml.core.data import Sample, class_counts, dataset_hash, stratified_split
from ml.core.engine import (
    resolve_device,
    seed_everything,
)
from ml.core.ensemble import BranchScores, FusionFit, fit_fusion
from ml.core.errors import TrainingDataError
from ml.core.feature_store import FeatureStore
from ml.core.features import FeatureCache
from ml.core.fusion import IMAGE_BRANCHES
from ml.core.linear_branches import (
    SentenceBranch,
    SparseBranch,
    train_sentence_branch,
    train_sparse_branch,
)
from ml.core.metrics import classification_metrics
from ml.core.transforms import (
    preprocessing_config,
)


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


def _on_rows(
    run: Run, rows: list[int], values: torch.Tensor, available: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Values given on the fusion rows, placed on ``rows`` (unavailable elsewhere)."""
    if rows == run.fusion_idx:
        return values, available[rows]
    full = torch.zeros(len(run.y), values.shape[1])
    full[run.fusion_idx] = values
    seen = torch.zeros(len(run.y), dtype=torch.bool)
    seen[run.fusion_idx] = available[run.fusion_idx]
    return full[rows], seen[rows]


def branch_scores(
    run: Run,
    text: TextBranch,
    sparse: SparseBranch | None,
    sentence: SentenceBranch | None,
    image: ImageBranch | None,
) -> tuple[list[int], dict[str, BranchScores]]:
    """The rows that fit the fusion and each branch's output on them, in the
    bundle's branch order: every training row when some branch has out-of-fold
    predictions (``run.stack_rows``; a branch with only held-out fusion rows is
    unavailable on the others), else the fusion rows."""
    linear = image.linear if image is not None else None
    oofs = [b.oof for b in (sparse, sentence, image, linear) if b is not None]
    stacking = run.stack_rows is not None and any(o is not None for o in oofs)
    rows = list(run.stack_rows) if stacking else run.fusion_idx

    def scores(values, oof, available, logits=False) -> BranchScores:
        if stacking and oof is not None:
            return BranchScores(oof[rows], available[rows], logits=logits)
        return BranchScores(*_on_rows(run, rows, values, available), logits=logits)

    out = {"text": scores(text.p_val, None, text.has_text)}
    if sparse is not None:
        out["tfidf"] = scores(sparse.logits_val, sparse.oof, sparse.has_text, True)
    if sentence is not None:
        out["sentence"] = scores(
            sentence.logits_val, sentence.oof, sentence.has_text, True
        )
    if image is not None:
        out["image"] = scores(image.p_val, image.oof, image.has_image)
        if image.linear is not None:
            linear = image.linear
            out["image_linear"] = scores(
                linear.logits_val, linear.oof, image.has_image, True
            )
    return rows, out


def fuse_and_measure(
    run: Run, rows: list[int], scores: dict[str, BranchScores]
) -> tuple[FusionFit, dict[str, Any]]:
    """Fit the fusion on ``rows``; cross-fitted metrics of the fusion and of each
    branch (on the rows it saw). ``metrics["text"]`` / ``["image"]`` are the BiGRU
    and the image head, as before N-way fusion."""
    y = run.y[rows]
    fusion = fit_fusion(scores, y, seed=run.config.seed)
    branches = {
        name: _metrics_or_none(
            y[b.available], fusion.branch_probs[name][b.available], run.labels
        )
        for name, b in scores.items()
    }
    for name, b in scores.items():
        if branches[name] is not None:
            branches[name]["ece"] = expected_calibration_error(
                fusion.branch_probs[name][b.available], y[b.available]
            )
    fused = _metrics_or_none(y, fusion.probs, run.labels)
    assert fused is not None
    fused["ece"] = fusion.report["ece_after"]
    metrics = {
        "fused": fused,
        "text": branches.get("text"),
        "image": branches.get("image"),
        "branches": branches,
        "fusion": {**fusion.report, **fusion.as_metadata(), "n_rows": len(rows)},
    }
    return fusion, metrics


#: The validation rows' share that fits the fusion (the rest stops early).
FUSION_SHARE = 2 / 3


def _stop_and_fusion_rows(
    val_idx: list[int], label_of: list[str], seed: int
) -> tuple[list[int], list[int]]:
    """Cut the validation rows in two, stratified: a third stops the networks
    early, two thirds fit the fusion (temperatures, weights) and give the metrics:
    the weights are chosen among many points, so they get the larger part. Too few
    rows: both get all of them."""
    try:
        stop, fusion = stratified_split(
            [label_of[i] for i in val_idx], val_fraction=FUSION_SHARE, seed=seed
        )
    except ValueError:  # too few rows to cut
        return val_idx, val_idx
    if not stop or not fusion:
        return val_idx, val_idx
    return [val_idx[i] for i in stop], [val_idx[i] for i in fusion]


def sample_labels(samples: Sequence[Sample]) -> list[str]:
    if any(sample.label is None for sample in samples):
        raise TrainingDataError("every training sample needs a label")
    return [str(sample.label) for sample in samples]


def run_start(
    samples: Sequence[Sample],
    label_of: list[str],
    labels: list[str],
    config: TrainingConfig,
    work_dir: Path,
    progress: ProgressCallback | None,
    log_dir: Path | None,
    fingerprint: dict[str, Any] | None = None,
    validate_on: Sequence[bool] | None = None,
) -> Run:
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
    val_idx, fusion_idx = _stop_and_fusion_rows(val_idx, label_of, config.seed)
    if val_idx == fusion_idx:
        warnings.append(
            "too few validation samples to keep early stopping and fusion apart: "
            "both used all of them"
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
    return Run(
        config=config,
        labels=labels,
        y=torch.tensor([index_of[label] for label in label_of], dtype=torch.long),
        train_idx=train_idx,
        val_idx=val_idx,
        fusion_idx=fusion_idx,
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


def _report_fusion(run: Run, fusion: FusionFit, fused_f1: float) -> None:
    if run.progress is not None:
        run.progress(
            {
                "stage": "fusion",
                "fraction": 1.0,
                "fusion_weights": fusion.weights,
                "val_weighted_f1": fused_f1,
            }
        )
    if run.writer is not None:
        for name, weight in fusion.weights.items():
            run.writer.add_scalar(f"fusion/weight_{name}", weight, 0)
        run.writer.add_scalar("fusion/val_weighted_f1", fused_f1, 0)


@dataclass
class Branches:
    """The trained branches of a run, its fitted fusion and its metrics."""

    text: TextBranch
    sparse: SparseBranch | None
    sentence: SentenceBranch | None
    image: ImageBranch | None
    fusion: FusionFit
    metrics: dict[str, Any]


def branches_and_fusion(
    run: Run,
    text_branch: Callable[[], TextBranch],
    sparse_branch: Callable[[], SparseBranch | None],
    sentence_branch: Callable[[], SentenceBranch | None],
    image_branch: Callable[[], ImageBranch | None],
) -> Branches:
    """Train the branches, fit the fusion and measure; the TensorBoard writer is
    closed whatever happens.

    The numpy / scikit-learn branches run before the torch ones: after torch's
    parallel regions its OpenMP threads keep spinning for a while, and BLAS calls
    made then ran 3 to 5 times slower on 2 cores."""
    try:
        sparse = sparse_branch()
        sentence = sentence_branch()
        text = text_branch()
        image = image_branch()
        fusion, metrics = fuse_and_measure(
            run, *branch_scores(run, text, sparse, sentence, image)
        )
        _report_fusion(run, fusion, metrics["fused"]["weighted_f1"])
    finally:
        if run.writer is not None:
            run.writer.close()
    return Branches(text, sparse, sentence, image, fusion, metrics)


def text_share(weights: dict[str, float]) -> float:
    """The text branches' share of the fusion (the model version's
    ``fusion_weight``: 1.0 for a text-only model)."""
    total = sum(weights.values())
    text = sum(w for name, w in weights.items() if name not in IMAGE_BRANCHES)
    return round(text / total, 6) if total else 1.0


def run_lineage(
    run: Run,
    samples: Sequence[Sample],
    label_of: list[str],
    text: TextBranch,
    image: ImageBranch | None,
) -> dict[str, Any]:
    has_image = image.has_image if image is not None else None
    return {
        "dataset_hash": run.data_hash,
        "n_samples": len(samples),
        "class_counts": class_counts(label_of),
        "n_train": len(run.train_idx),
        "n_val": len(set(run.val_idx) | set(run.fusion_idx)),
        "n_early_stopping": len(run.val_idx),
        "n_fusion": len(run.fusion_idx),
        "n_with_image": sum(sample.image is not None for sample in samples),
        "n_val_with_image": int(has_image[run.val_idx].sum())
        if has_image is not None
        else 0,
        "n_fusion_with_image": int(has_image[run.fusion_idx].sum())
        if has_image is not None
        else 0,
        "n_without_text": int((~text.has_text).sum()),
    }


def train_model(
    samples: Sequence[Sample],
    config: TrainingConfig,
    *,
    work_dir: Path,
    feature_cache: FeatureCache | FeatureStore | None,
    progress: ProgressCallback | None = None,
    log_dir: Path | None = None,
) -> TrainingResult:
    """Train the text network, the image head (optional) and the fusion weight.

    Args:
        samples: labelled products (``label`` must be set on every one).
        config: hyper-parameters; ``config.backbone=None`` for text only.
        work_dir: scratch folder (tokenizer, checkpoints); reuse it to resume.
        feature_cache: where backbone features are cached (``None``: no cache);
            with a :class:`~ml.core.feature_store.FeatureStore` the image head
            reads them from its shards batch by batch, never all at once.
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
    label_of = sample_labels(samples)
    labels = sorted(set(label_of))
    if len(labels) < 2:
        raise TrainingDataError("training needs at least two categories")
    run = run_start(samples, label_of, labels, config, work_dir, progress, log_dir)
    if config.fusion_folds > 1:
        run.stack_rows = list(range(len(samples)))
    trained = branches_and_fusion(
        run,
        lambda: train_text_branch(run, samples),
        lambda: train_sparse_branch(run, samples) if config.sparse_text else None,
        lambda: train_sentence_branch(run, samples) if config.sentence_text else None,
        lambda: (
            train_image_branch(run, samples, feature_cache) if config.backbone else None
        ),
    )
    text, image = trained.text, trained.image

    lineage = run_lineage(run, samples, label_of, text, image)
    linear = [b.n_fit for b in (trained.sparse, trained.sentence) if b is not None]
    lineage["n_linear_fit"] = max(linear, default=0)  # rows the linear branches saw
    image_linear = image.linear if image is not None else None
    if image_linear is not None:
        lineage["n_image_linear_fit"] = image_linear.n_fit
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
        fusion_weight=text_share(trained.fusion.weights),
        fusion=trained.fusion.as_metadata(),
        sparse_text=trained.sparse.model if trained.sparse else None,
        sentence_head=trained.sentence.head if trained.sentence else None,
        sentence_provenance=trained.sentence.provenance if trained.sentence else None,
        image_linear_head=image_linear.head if image_linear is not None else None,
        metrics=trained.metrics,
        lineage=lineage,
        preprocessing=preprocessing_config(max_length=config.max_length),
        config=dataclasses.asdict(config),
        history=run.history,
        warnings=run.warnings,
        timings=run.timings,
    )
