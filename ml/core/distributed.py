"""Data-parallel training on ``torch.distributed`` (one process per device, launched
by ``torchrun``): environment detection, process-group setup and teardown, the
DistributedDataParallel wrapper, loaders that shard batches across ranks, and the
rank-0-only helpers the engine uses (validation, checkpoints, bundles).

Nothing here changes a single-process run: every helper is a no-op (world size 1,
rank 0) when no process group is initialised.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset, DistributedSampler

__all__ = [
    "DistEnv",
    "ShardedBatchSampler",
    "active",
    "barrier",
    "broadcast_object",
    "distributed_loader",
    "env_from_environ",
    "init",
    "is_main",
    "mean",
    "rank",
    "teardown",
    "world_size",
    "wrap",
]

T = TypeVar("T")


@dataclass(frozen=True)
class DistEnv:
    """What ``torchrun`` tells a process: its global and local rank, the world."""

    rank: int
    local_rank: int
    world_size: int


def env_from_environ(environ: dict[str, str] | None = None) -> DistEnv | None:
    """The torchrun environment (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``), or
    ``None`` when the process was not started by a distributed launcher."""
    environ = dict(os.environ if environ is None else environ)
    if "RANK" not in environ or "WORLD_SIZE" not in environ:
        return None
    return DistEnv(
        rank=int(environ["RANK"]),
        local_rank=int(environ.get("LOCAL_RANK", environ["RANK"])),
        world_size=int(environ["WORLD_SIZE"]),
    )


def init(timeout_s: float = 1800.0) -> DistEnv | None:
    """Join the process group torchrun describes (``nccl`` with CUDA, else
    ``gloo``); returns ``None`` and does nothing outside torchrun."""
    env = env_from_environ()
    if env is None:
        return None
    if not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        if backend == "nccl":
            torch.cuda.set_device(env.local_rank)
        dist.init_process_group(backend=backend, timeout=timedelta(seconds=timeout_s))
    return env


def teardown() -> None:
    """Leave the process group (no-op when none)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def active() -> bool:
    """Whether a process group with more than one rank is running."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    return dist.get_rank() if active() else 0


def world_size() -> int:
    return dist.get_world_size() if active() else 1


def is_main() -> bool:
    """True on rank 0 (and in any single-process run): the rank that validates,
    checkpoints, logs and writes bundles."""
    return rank() == 0


def barrier() -> None:
    """Wait for every rank (no-op in a single process)."""
    if active():
        dist.barrier()


def broadcast_object(obj: T, src: int = 0) -> T:
    """Rank ``src``'s ``obj`` on every rank (pickled; for small objects and CPU
    tensors); the object itself in a single process."""
    if not active():
        return obj
    box: list[Any] = [obj if dist.get_rank() == src else None]
    dist.broadcast_object_list(box, src=src)
    return box[0]


def mean(value: float) -> float:
    """The mean of ``value`` over the ranks (``value`` itself in a single process)."""
    if not active():
        return value
    tensor = torch.tensor([float(value)], dtype=torch.float64)
    dist.all_reduce(tensor)
    return float(tensor) / dist.get_world_size()


def wrap(model: nn.Module, device: torch.device) -> nn.Module:
    """``model`` in DistributedDataParallel (its parameters broadcast from rank 0),
    or ``model`` itself in a single process."""
    if not active():
        return model
    if device.type == "cuda":
        index = (
            device.index if device.index is not None else torch.cuda.current_device()
        )
        return DistributedDataParallel(model, device_ids=[index])
    return DistributedDataParallel(model)


class ShardedBatchSampler:
    """Each rank's share of the global batches of ``batches`` (any batch sampler):
    rank ``r`` takes ``batch[r::world]``. Every rank draws the same global batches
    (same sampler, same seed), so a data-parallel step sees the same samples as a
    single-process step; a batch smaller than the world is repeated so that no rank
    gets an empty one (DDP needs every rank in every step)."""

    def __init__(self, batches: Iterable[list[int]], rank: int, world: int) -> None:
        self.batches = batches
        self.rank = rank
        self.world = world

    def __len__(self) -> int:
        return len(self.batches)  # type: ignore[arg-type]

    def __iter__(self) -> Iterator[list[int]]:
        for batch in self.batches:
            batch = list(batch)
            share = batch[self.rank :: self.world]
            yield share or [batch[self.rank % len(batch)]]


def distributed_loader(
    dataset: Dataset,
    batch_size: int,
    *,
    seed: int = 0,
    shuffle: bool = True,
    num_workers: int = 0,
) -> DataLoader:
    """A loader over this rank's part of ``dataset`` (``DistributedSampler``; call
    ``loader.sampler.set_epoch(epoch)`` each epoch); a plain seeded loader in a
    single process. ``batch_size`` is per rank."""
    if not active():
        generator = torch.Generator().manual_seed(seed)
        return DataLoader(
            dataset,
            batch_size=batch_size,
            shuffle=shuffle,
            generator=generator,
            num_workers=num_workers,
        )
    sampler = DistributedSampler(dataset, shuffle=shuffle, seed=seed)
    return DataLoader(
        dataset, batch_size=batch_size, sampler=sampler, num_workers=num_workers
    )
