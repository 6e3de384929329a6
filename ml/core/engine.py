"""The training engine (torchvision-references style): :func:`train_one_epoch`,
:func:`evaluate` (under ``eval()`` and ``inference_mode()``) and :func:`fit`, which adds
class-weighted loss, length-bucketed batches, early stopping on validation weighted F1
and a checkpoint every epoch that a rerun resumes.

Under ``torchrun`` (a process group initialised by :mod:`ml.core.distributed`) the
model is wrapped in DistributedDataParallel and every global batch is shared among the
ranks; rank 0 alone validates, checkpoints and logs, and broadcasts its early-stopping
decision. A single process trains exactly as before.

Inputs are *feature sources*: a tensor, or a lazy
:class:`~ml.core.feature_store.StoreRows` view of a feature store. The loaders
(:class:`SourceDataset`) read one batch of rows at a time from either, in the same order
and with the same values, so a store's features are never all in memory."""

import random
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import BatchSampler, DataLoader, Dataset, RandomSampler
from tqdm.auto import tqdm

from ml.core import distributed
from ml.core.checkpoints import atomic_save, load_checkpoint
from ml.core.config import ProgressCallback, TrainingConfig
from ml.core.feature_store import StoreRows
from ml.core.metrics import weighted_f1

#: Rows a model's inputs may come from: a tensor, or a view of a feature store.
FeatureSource = torch.Tensor | StoreRows


def take(source: FeatureSource, indices: Sequence[int] | torch.Tensor) -> torch.Tensor:
    """Rows ``indices`` of ``source`` as a tensor (a store view reads just them)."""
    rows = source[indices]
    return rows if isinstance(rows, torch.Tensor) else rows.tensor()


class SourceDataset(Dataset):
    """Aligned feature sources (inputs, targets, weights...) read a batch at a time:
    the DataLoader asks for a whole batch's indices (``__getitems__``) and gets
    each source's rows as one tensor, as stacking them one by one would give."""

    def __init__(self, *sources: FeatureSource) -> None:
        if len({len(source) for source in sources}) != 1:
            raise ValueError("sources of different lengths")
        self.sources = sources

    def __len__(self) -> int:
        return len(self.sources[0])

    def __getitem__(self, index: int) -> tuple[torch.Tensor, ...]:
        return tuple(batch[0] for batch in self.__getitems__([index]))

    def __getitems__(self, indices: list[int]) -> tuple[torch.Tensor, ...]:
        return tuple(take(source, indices) for source in self.sources)


def _whole_batch(batch: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
    """A :class:`SourceDataset` batch is already collated."""
    return batch


def batches(source: FeatureSource, batch_size: int) -> DataLoader:
    """``source``'s rows in order, ``batch_size`` at a time (for :func:`evaluate`)."""
    return DataLoader(
        SourceDataset(source), batch_size=batch_size, collate_fn=_whole_batch
    )


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
    for inputs, targets, *weights in loader:
        inputs, targets = inputs.to(device), targets.to(device)
        extra = [w.to(device) for w in weights]  # per-sample weights, when given
        loss = criterion(model(inputs), targets, *extra)
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


def best_epoch(history: Sequence[dict[str, Any]]) -> int:
    """The epoch :func:`fit` kept: the highest validation weighted F1, then the lowest
    validation loss (1 when there is no history)."""
    if not history:
        return 1
    best = max(history, key=lambda r: (r["val_weighted_f1"], -r["val_loss"]))
    return int(best["epoch"])


def fit_epochs(
    model: nn.Module,
    train: tuple[FeatureSource, torch.Tensor],
    *,
    config: TrainingConfig,
    epochs: int,
    device: torch.device,
    num_classes: int,
) -> None:
    """Train ``model`` for exactly ``epochs`` passes, as :func:`fit` does (class-
    weighted CE + Adam, shuffled batches) but with no validation: for refits whose
    epoch count an early-stopped :func:`fit` chose."""
    generator = torch.Generator().manual_seed(config.seed)
    loader = _shuffled_loader(SourceDataset(*train), config.batch_size, generator)
    criterion = nn.CrossEntropyLoss(
        weight=class_weights(train[1], num_classes),
        label_smoothing=config.label_smoothing,
    )
    model.to(device)
    criterion = criterion.to(device)
    optimizer = _optimizer(model, config)
    net = distributed.wrap(model, device)
    for _ in range(epochs):
        train_one_epoch(net, loader, optimizer, criterion, device)


# --------------------------------------------------------------------- internals
def class_weights(targets: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Balanced weights ``n / (k * count_c)``; classes absent from ``targets`` get 1."""
    counts = torch.bincount(targets, minlength=num_classes).float()
    present = counts > 0
    weights = torch.ones(num_classes)
    weights[present] = targets.numel() / (present.sum() * counts[present])
    return weights


class SampleWeightedCrossEntropy(nn.Module):
    """Class-weighted cross-entropy with a weight per sample, reduced over the
    weights: ``sum(w_i * c_{y_i} * ce_i) / sum(w_i * c_{y_i})`` (PyTorch's weighted
    mean, each sample's class weight ``c`` times its own ``w``)."""

    def __init__(self, weight: torch.Tensor, label_smoothing: float = 0.0) -> None:
        super().__init__()
        self.register_buffer("weight", weight)
        self.label_smoothing = label_smoothing

    def forward(
        self, logits: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor
    ) -> torch.Tensor:
        losses = F.cross_entropy(
            logits, targets, reduction="none", label_smoothing=self.label_smoothing
        )
        scale = weights * self.weight[targets]
        return (scale * losses).sum() / scale.sum().clamp_min(1e-12)


def _optimizer(model: nn.Module, config: TrainingConfig) -> torch.optim.Optimizer:
    """Adam, or AdamW (decoupled weight decay) when ``config.weight_decay`` > 0."""
    if config.weight_decay > 0:
        return torch.optim.AdamW(
            model.parameters(), lr=config.lr, weight_decay=config.weight_decay
        )
    return torch.optim.Adam(model.parameters(), lr=config.lr)


def cpu_state(model: nn.Module) -> dict[str, torch.Tensor]:
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
class Stage:
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


def _shuffled_loader(
    dataset: SourceDataset, batch_size: int, generator: torch.Generator
) -> DataLoader:
    """Shuffled batches; under DDP each rank takes its share of the same global
    batches a single process would draw (same generator, same order)."""
    if not distributed.active():
        return DataLoader(
            dataset,
            batch_size=batch_size,
            shuffle=True,
            generator=generator,
            collate_fn=_whole_batch,
        )
    drawn = BatchSampler(RandomSampler(dataset, generator=generator), batch_size, False)
    return DataLoader(dataset, batch_sampler=_sharded(drawn), collate_fn=_whole_batch)


def _sharded(batches: Any) -> Any:
    """This rank's share of ``batches`` (the batches themselves in one process)."""
    if not distributed.active():
        return batches
    return distributed.ShardedBatchSampler(
        batches, distributed.rank(), distributed.world_size()
    )


def _loaders(
    train: tuple[FeatureSource, ...],
    val: tuple[FeatureSource, torch.Tensor],
    config: TrainingConfig,
    generator: torch.Generator,
    lengths: tuple[torch.Tensor, torch.Tensor] | None,
) -> tuple[DataLoader, DataLoader, torch.Tensor]:
    """Shuffled train loader (length-bucketed for texts) and val loader + targets."""
    if lengths is None:
        train_loader = _shuffled_loader(
            SourceDataset(*train), config.batch_size, generator
        )
    else:
        sampler = LengthBucketBatchSampler(lengths[0], config.batch_size, generator)
        train_loader = DataLoader(
            SourceDataset(*train),
            batch_sampler=_sharded(sampler),
            collate_fn=_whole_batch,
        )
        # row order does not matter to the metrics; sorted rows are faster
        by_length = torch.argsort(lengths[1], stable=True)
        val = (val[0][by_length], val[1][by_length])
    val_loader = batches(val[0], max(128, config.batch_size))
    return train_loader, val_loader, val[1]


def fit(
    model: nn.Module,
    train: tuple[FeatureSource, torch.Tensor],
    val: tuple[FeatureSource, torch.Tensor],
    *,
    stage: Stage,
    config: TrainingConfig,
    device: torch.device,
    num_classes: int,
    progress: ProgressCallback | None,
    writer: Any,
    lengths: tuple[torch.Tensor, torch.Tensor] | None = None,
    sample_weights: torch.Tensor | None = None,
) -> tuple[dict[str, torch.Tensor], list[dict[str, Any]]]:
    """Train with class-weighted CE + Adam, early stopping on val weighted F1.

    The inputs of ``train`` and ``val`` are feature sources (a tensor or a
    :class:`~ml.core.feature_store.StoreRows` view): batches are read as drawn.
    ``sample_weights`` (one per train row) scale each row's loss term
    (:class:`SampleWeightedCrossEntropy`); ``None`` or all ones train exactly as
    without them.

    An epoch is an improvement when its validation weighted F1 is higher, or
    equal with a lower validation log-loss. ``lengths`` (train, val) turns on
    length-bucketed batches for texts. Every epoch is checkpointed; a matching
    checkpoint is resumed. Returns the best state dict (CPU) and the history.
    """
    generator = torch.Generator().manual_seed(config.seed)
    weighted = sample_weights is not None and bool((sample_weights != 1.0).any())
    rows: tuple[FeatureSource, ...] = train
    if weighted:
        assert sample_weights is not None
        rows = (*train, sample_weights.float())
    train_loader, val_loader, val_targets = _loaders(
        rows, val, config, generator, lengths
    )
    weights = class_weights(train[1], num_classes)
    if weighted:
        criterion = SampleWeightedCrossEntropy(weights, config.label_smoothing)
    else:
        criterion = nn.CrossEntropyLoss(
            weight=weights, label_smoothing=config.label_smoothing
        )
    criterion = criterion.to(device)
    model.to(device)
    optimizer = _optimizer(model, config)
    state: dict[str, Any] = {
        "epoch": 0,
        "best_f1": -1.0,
        "best_loss": float("inf"),
        "best_epoch": 0,
        "bad_epochs": 0,
        "stopped": False,
        "history": [],
        "best_model": cpu_state(model),
    }
    checkpoint = distributed.broadcast_object(
        load_checkpoint(stage.checkpoint, stage.fingerprint)
        if distributed.is_main()
        else None
    )
    if checkpoint is not None:
        model.load_state_dict(checkpoint["model"])
        optimizer.load_state_dict(checkpoint["optimizer"])
        torch.set_rng_state(checkpoint["torch_rng"])
        generator.set_state(checkpoint["loader_rng"])
        state = {key: checkpoint[key] for key in state}
    low, high = stage.band
    epochs = range(state["epoch"], 0 if state["stopped"] else config.epochs)
    main = distributed.is_main()
    disable = None if main else True  # None: tqdm's own choice (off without a tty)
    bar = tqdm(epochs, desc=f"train {stage.name}", unit="epoch", disable=disable)
    net = distributed.wrap(model, device)
    for epoch in bar:
        train_loss = distributed.mean(
            train_one_epoch(net, train_loader, optimizer, criterion, device)
        )
        if not main:  # rank 0 validates and decides; the others follow
            if distributed.broadcast_object(False):
                break
            continue
        record = {
            "epoch": epoch + 1,
            "train_loss": train_loss,
            **_validate(model, val_loader, val_targets, device),
        }
        score = (record["val_weighted_f1"], -record["val_loss"])
        if score > (state["best_f1"], -state["best_loss"]):
            state.update(best_f1=score[0], best_loss=-score[1], best_epoch=epoch + 1)
            state.update(bad_epochs=0, best_model=cpu_state(model))
        else:
            state["bad_epochs"] += 1
        state["epoch"] = epoch + 1
        state["stopped"] = state["bad_epochs"] >= config.patience
        state["history"] = [*state["history"], record]
        atomic_save(
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
        if distributed.broadcast_object(state["stopped"]):
            break
    bar.close()
    state["best_model"], state["history"] = distributed.broadcast_object(
        (state["best_model"], state["history"])
    )
    return state["best_model"], state["history"]
