"""The branches of a training run: the text network (tokenizer, BiGRU) and the image
head on cached backbone features, each trained on the run's split, and what every
branch shares (the run, out-of-fold predictions); the linear text branches are in
:mod:`ml.core.linear_branches`. :mod:`ml.core.pipeline` and :mod:`ml.core.finetune`
share them.

The run's validation rows are two disjoint sets: ``val_idx`` stops the networks early,
``fusion_idx`` fits the temperatures and the fusion weights (and measures). Each branch
returns its probabilities (the sparse branch its margins) on ``fusion_idx``."""

import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from transformers import PreTrainedTokenizerFast

from ml.core.backbones import build_backbone, pooled
from ml.core.checkpoints import stage_fingerprint
from ml.core.config import ProgressCallback, TrainingConfig
from ml.core.data import Sample, bounded_rows
from ml.core.engine import (
    FeatureSource,
    Stage,
    batches,
    best_epoch,
    cpu_state,
    evaluate,
    fit,
    fit_epochs,
    seed_everything,
    take,
)
from ml.core.errors import TrainingDataError
from ml.core.feature_store import FeatureStore
from ml.core.features import FeatureCache, image_features
from ml.core.linear_head import LinearHead, fit_linear_head
from ml.core.networks import ImageHead, TextClassifier, image_head, text_classifier
from ml.core.transforms import (
    encode_texts,
    load_tokenizer,
    product_text,
    save_tokenizer,
    train_tokenizer,
)


def prepare_tokenizer(
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


def probabilities(model: nn.Module, inputs: FeatureSource) -> torch.Tensor:
    """``model``'s probabilities on ``inputs``, read 256 rows at a time."""
    return evaluate(model, batches(inputs, 256), torch.device("cpu"))


@dataclass
class Run:
    """State shared by the stages of one :func:`train_model` call."""

    config: TrainingConfig
    labels: list[str]
    y: torch.Tensor
    train_idx: list[int]
    val_idx: list[int]  # early stopping
    fusion_idx: list[int]  # temperatures, fusion weights, validation metrics
    work_dir: Path
    device: torch.device
    fingerprint: dict[str, Any]
    progress: ProgressCallback | None
    writer: Any
    data_hash: str
    warnings: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    history: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    # Per sample loss weights (fine-tuning only); None: every sample counts once.
    sample_weights: torch.Tensor | None = None
    # Rows whose out-of-fold predictions fit the fusion (``fusion_folds``); None:
    # the fusion rows only.
    stack_rows: list[int] | None = None

    def folds(self, rows: list[int]) -> list[list[int]]:
        """``rows`` cut into ``config.fusion_folds`` stratified folds (fewer when a
        category has fewer rows; none when it cannot be cut)."""
        return stratified_folds(
            [int(self.y[i]) for i in rows],
            rows,
            self.config.fusion_folds,
            self.config.seed,
        )

    def fit(
        self,
        model: nn.Module,
        name: str,
        band: tuple[float, float],
        inputs: FeatureSource,
        rows: tuple[list[int], list[int]],
        fingerprint: str,
        lengths: torch.Tensor | None = None,
        config: TrainingConfig | None = None,
    ) -> None:
        """Train ``model`` on ``inputs[rows]`` (with ``config``, default the run's);
        leave it on CPU, best weights loaded."""
        started = time.perf_counter()
        train, val = rows
        best, self.history[name] = fit(
            model,
            (inputs[train], self.y[train]),
            (inputs[val], self.y[val]),
            stage=Stage(
                name, band, self.work_dir / f"checkpoints/{name}.pt", fingerprint
            ),
            config=config or self.config,
            device=self.device,
            num_classes=len(self.labels),
            progress=self.progress,
            writer=self.writer,
            lengths=None if lengths is None else (lengths[train], lengths[val]),
            sample_weights=None
            if self.sample_weights is None
            else self.sample_weights[train],
        )
        model.load_state_dict(best)
        model.cpu().eval()
        self.timings[f"{name}_s"] = time.perf_counter() - started


def stratified_folds(
    targets: list[int], rows: list[int], k: int, seed: int
) -> list[list[int]]:
    """``rows`` in at most ``k`` folds, each category spread over them; [] when
    fewer than two folds are possible."""
    from collections import Counter

    from sklearn.model_selection import KFold, StratifiedKFold

    if k < 2 or len(rows) < 2:
        return []
    smallest = min(Counter(targets).values())
    index = np.zeros(len(rows))
    if smallest >= 2:
        splitter = StratifiedKFold(
            n_splits=min(k, smallest), shuffle=True, random_state=seed
        )
        parts = splitter.split(index, targets)
    else:
        splitter = KFold(n_splits=min(k, len(rows)), shuffle=True, random_state=seed)
        parts = splitter.split(index)
    return [[rows[i] for i in held] for _, held in parts]


def out_of_fold(
    run: Run,
    rows: list[int],
    predict: Callable[[list[int], list[int]], torch.Tensor],
) -> torch.Tensor | None:
    """``[N, C]`` predictions on ``rows``, each from a model fitted without its fold
    (``predict(fit_rows, held_rows)``); zero elsewhere. None when the run stacks on
    its fusion rows only or ``rows`` cannot be cut."""
    if run.stack_rows is None:
        return None
    wanted = set(rows)
    stacked = [i for i in run.stack_rows if i in wanted]
    folds = run.folds(stacked)
    if not folds:
        return None
    out = torch.zeros(len(run.y), len(run.labels))
    for held in folds:
        kept = set(held)
        out[held] = predict([i for i in stacked if i not in kept], held)
    return out


#: Vectors read at a time outside a linear head's fitted sample.
LINEAR_CHUNK = 4096


@dataclass
class LinearFit:
    """A linear head fitted on the rows that have its input (a bounded sample of
    them), and its margins for the fusion."""

    head: LinearHead  # fitted on the sample (what the bundle keeps)
    # [n_fusion, C]: a head fitted without those rows (zero when ``oof`` is set)
    logits_val: torch.Tensor
    oof: torch.Tensor | None  # [N, C] out-of-fold margins (``stack_rows``)
    n_fit: int  # rows ``head`` was fitted on (``linear_max_rows`` bounds them)


def bounded_input_rows(
    run: Run, available: torch.Tensor
) -> tuple[list[int], list[int]]:
    """Every row that has a linear branch's input, and the sample of them it is
    fitted on (at most ``linear_max_rows``: :func:`ml.core.data.bounded_rows`)."""
    targets = run.y.tolist()
    with_input = [i for i in range(len(available)) if available[i]]
    kept = bounded_rows(
        with_input,
        [targets[i] for i in with_input],
        run.config.linear_max_rows,
        run.config.seed,
    )
    return with_input, kept


def fit_linear(
    run: Run,
    available: torch.Tensor,
    vectors: Callable[[list[int]], np.ndarray],
) -> LinearFit:
    """Fit a :class:`LinearHead` on ``vectors(rows)`` of the rows that have its
    input (``available``): out of fold (or without the fusion rows), then on every
    such row up to ``linear_max_rows`` (a stratified sample,
    :func:`ml.core.data.bounded_rows`). The sample's vectors are read once; rows
    outside it get the sampled fit's margins (out of fold for them), their vectors
    read :data:`LINEAR_CHUNK` at a time and not kept."""
    with_input, rows = bounded_input_rows(run, available)
    position = {i: k for k, i in enumerate(rows)}
    kept = vectors(rows)
    y = run.y.numpy()

    def head_on(fit_rows: list[int]) -> LinearHead:
        return fit_linear_head(
            kept[[position[i] for i in fit_rows]],
            y[fit_rows],
            run.labels,
            seed=run.config.seed,
        )

    def margins(head: LinearHead, wanted: list[int]) -> torch.Tensor:
        out = torch.zeros(len(wanted), len(run.labels))
        inside = [k for k, i in enumerate(wanted) if i in position]
        if inside:
            out[inside] = head.logits(kept[[position[wanted[k]] for k in inside]])
        outside = [k for k, i in enumerate(wanted) if i not in position]
        for start in range(0, len(outside), LINEAR_CHUNK):
            chunk = outside[start : start + LINEAR_CHUNK]
            out[chunk] = head.logits(vectors([wanted[k] for k in chunk]))
        return out

    held = set(run.fusion_idx)
    fit_rows = [i for i in rows if i not in held]
    oof = out_of_fold(run, rows, lambda fit, out: margins(head_on(fit), out))
    logits_val = torch.zeros(len(run.fusion_idx), len(run.labels))
    if fit_rows and oof is None:  # out-of-fold margins replace the held-out fit's
        seen = [k for k, i in enumerate(run.fusion_idx) if available[i]]
        if seen:
            partial = head_on(fit_rows)
            logits_val[seen] = margins(partial, [run.fusion_idx[k] for k in seen])
    head = head_on(rows)
    unseen = sorted(set(with_input) - set(rows))  # outside a bounded sample
    if oof is not None and unseen:
        oof[unseen] = margins(head, unseen)
    return LinearFit(head, logits_val, oof, len(rows))


@dataclass
class TextBranch:
    tokenizer: PreTrainedTokenizerFast
    net: TextClassifier
    net_config: dict[str, Any]
    has_text: torch.Tensor  # per sample
    p_val: torch.Tensor  # [n_fusion, C]


@dataclass
class ImageBranch:
    head: ImageHead
    head_config: dict[str, Any]
    provenance: dict[str, Any]
    backbone_state: dict[str, torch.Tensor] | None
    has_image: torch.Tensor  # per sample
    p_val: torch.Tensor  # [n_fusion, C], zero rows without photo
    oof: torch.Tensor | None = None  # [N, C] out-of-fold probabilities
    # The linear image branch (``image_linear``): a logistic regression on the
    # same features, pooled (:func:`ml.core.backbones.pooled`)
    linear: LinearFit | None = None


def text_rows(
    run: Run, samples: Sequence[Sample]
) -> tuple[list[str], torch.Tensor, list[int], list[int]]:
    """Each sample's text, which have one, and the train and val rows that do."""
    texts = [product_text(sample.title, sample.description) for sample in samples]
    has_text = torch.tensor([bool(text) for text in texts], dtype=torch.bool)
    train = [i for i in run.train_idx if has_text[i]]
    val = [i for i in run.val_idx if has_text[i]]
    if not train or not val:
        raise TrainingDataError("training needs products with text in train and val")
    return texts, has_text, train, val


def train_text_branch(run: Run, samples: Sequence[Sample]) -> TextBranch:
    config = run.config
    texts, has_text, train, val = text_rows(run, samples)
    keys = (
        "max_length",
        "vocab_size",
        "min_frequency",
        "embed_dim",
        "hidden_size",
        "text_batch_size",
        "text_lr",
        "text_weight_decay",
        "text_label_smoothing",
        "embedding_dropout",
    )
    fingerprint = stage_fingerprint(
        {
            **run.fingerprint,
            "stage": "text",
            "dropout": config.dropout,
            "pooling": config.pooling,
            **{key: getattr(config, key) for key in keys},
        }
    )
    tokenizer = prepare_tokenizer(
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
        "embedding_dropout": config.embedding_dropout,
    }
    seed_everything(config.seed)
    net = text_classifier(**net_config)
    band = (0.0, 0.45) if config.backbone else (0.0, 0.95)
    lengths = (ids != tokenizer.pad_token_id).sum(dim=1)
    text_config = dataclasses.replace(
        config,
        batch_size=config.text_batch_size,
        lr=config.text_lr,
        weight_decay=config.text_weight_decay,
        label_smoothing=config.text_label_smoothing,
    )
    run.fit(net, "text", band, ids, (train, val), fingerprint, lengths, text_config)
    p_val = probabilities(net, ids[run.fusion_idx])
    return TextBranch(tokenizer, net, net_config, has_text, p_val)


def feature_progress(run: Run) -> Callable[[int, int], None]:
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


def image_linear(
    run: Run, features: FeatureSource, has_image: torch.Tensor
) -> LinearFit:
    """The linear image branch: :func:`fit_linear` on the pooled features (read
    from a store a sample or a chunk at a time). It runs before the MLP head: BLAS
    calls made while torch's threads still spin after training ran 3-5x slower."""
    started = time.perf_counter()
    fitted = fit_linear(
        run, has_image, lambda rows: pooled(take(features, rows)).numpy()
    )
    run.timings["image_linear_s"] = time.perf_counter() - started
    return fitted


def train_image_branch(
    run: Run, samples: Sequence[Sample], cache: FeatureCache | FeatureStore | None
) -> ImageBranch | None:
    """The image head on the backbone's features. With a store (``cache``) they
    are read batch by batch from its shards (training, validation, the fusion
    rows' probabilities and the out-of-fold refits alike), never all at once."""
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
    features, has_image = image_features(
        spec,
        [sample.image for sample in samples],
        cache,
        batch_size=config.feature_batch_size,
        progress=feature_progress(run),
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
    linear = image_linear(run, features, has_image) if config.image_linear else None
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
    p_val = torch.zeros(len(run.fusion_idx), len(run.labels))
    has_image_val = has_image[run.fusion_idx]
    if has_image_val.any():
        p_val[has_image_val] = probabilities(
            head, features[run.fusion_idx][has_image_val]
        )
    image_rows = [i for i in range(len(samples)) if has_image[i]]
    epochs = best_epoch(run.history["image"])

    def refitted(fit_rows: list[int], held: list[int]) -> torch.Tensor:
        seed_everything(config.seed)
        model = image_head(**head_config)
        fit_epochs(
            model,
            (features[fit_rows], run.y[fit_rows]),
            config=config,
            epochs=epochs,
            device=run.device,
            num_classes=len(run.labels),
        )
        return probabilities(model.cpu().eval(), features[held])

    oof = out_of_fold(run, image_rows, refitted)
    random_init = spec.provenance["source"] == "random"
    return ImageBranch(
        head=head,
        head_config=head_config,
        provenance=dict(spec.provenance),
        backbone_state=cpu_state(spec.module) if random_init else None,
        has_image=has_image,
        p_val=p_val,
        oof=oof,
        linear=linear,
    )
