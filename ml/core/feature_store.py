"""A streaming on-disk store of backbone features: fixed-size numpy memmap shards.

Training on ~85k photos cannot hold every feature vector in RAM (a VGG16 7x7x512 map
is 100 KB). The store keeps them under ``root/<backbone key>/``::

    meta.json          {"dim": D, "dtype": "float32", "shard_rows": R}
    index.npy          the image sha256 of every row, in row order (bytes, S64)
    shard-00000.bin    rows 0..R-1, a raw [R, D] array read through np.memmap
    shard-00001.bin    ...

Row ``i`` lives in shard ``i // R`` at ``i % R``. :meth:`FeatureStore.add` writes the
rows first and the index last (temporary file + ``os.replace``), so a row is visible
only once its data is on disk and a crash never shows a partial row. One writer at a
time; any number of readers (:meth:`FeatureStore.refresh` sees newer rows).
:meth:`FeatureStore.read` reads rows with positional file reads rather than through the
maps, so the pages read do not stay resident in the reading process (a map keeps every
page it touched in the process's resident memory until unmapped: epochs over a large
store would map all of it). :class:`StoreRows` is a lazy ``[N, D]`` matrix of store rows
that the training engine reads batch by batch; :class:`FeatureDataset` reads training
batches straight from the shards.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

__all__ = ["FeatureStore", "FeatureDataset", "StoreRows"]

#: Bytes per shard file (a shard holds at least one row).
SHARD_BYTES = 256 * 2**20


def _atomic_write(path: Path, write: Any) -> None:
    """Call ``write(handle)`` on a temporary file, then move it onto ``path``."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class FeatureStore:
    """Feature rows of one backbone, keyed by image sha256 (hex).

    Args:
        root: the store's folder (shared by backbones).
        backbone_key: the backbone's folder, e.g. ``FeatureCache.namespace(spec)``.
        dim: features per row.
        dtype: ``"float32"`` (exact) or ``"float16"`` (half the disk and I/O).
        shard_rows: rows per shard (default: about 256 MB per shard).
        flush_rows: :meth:`add` commits the index after this many new rows (and
            :meth:`flush` at the end); a crash loses at most these.
    """

    def __init__(
        self,
        root: str | Path,
        backbone_key: str,
        dim: int,
        *,
        dtype: str = "float32",
        shard_rows: int | None = None,
        flush_rows: int = 4096,
    ) -> None:
        self.folder = Path(root) / backbone_key
        self.folder.mkdir(parents=True, exist_ok=True)
        itemsize = np.dtype(dtype).itemsize
        wanted = {
            "dim": int(dim),
            "dtype": str(np.dtype(dtype)),
            "shard_rows": int(shard_rows or max(1, SHARD_BYTES // (dim * itemsize))),
        }
        meta_path = self.folder / "meta.json"
        if meta_path.is_file():
            meta = json.loads(meta_path.read_text("utf-8"))
            if meta["dim"] != wanted["dim"] or meta["dtype"] != wanted["dtype"]:
                raise ValueError(f"{self.folder} holds {meta}, not {wanted}")
        else:
            meta = wanted
            text = json.dumps(meta).encode("utf-8")
            _atomic_write(meta_path, lambda handle: handle.write(text))
        self.dim = int(meta["dim"])
        self.dtype = np.dtype(meta["dtype"])
        self.shard_rows = int(meta["shard_rows"])
        self.flush_rows = flush_rows
        self._maps: dict[tuple[int, str], np.memmap] = {}
        self.refresh()

    # ------------------------------------------------------------------ index
    @property
    def index_path(self) -> Path:
        return self.folder / "index.npy"

    def refresh(self) -> None:
        """Reload the committed index (rows another process added become visible)."""
        keys = (
            np.load(self.index_path)
            if self.index_path.is_file()
            else np.empty(0, dtype="S64")
        )
        self._keys: list[bytes] = keys.tolist()
        self._committed = len(self._keys)
        self._row_of = {key.decode("ascii"): row for row, key in enumerate(self._keys)}

    def flush(self) -> None:
        """Commit the rows added so far: their data is flushed, then the index is
        replaced atomically."""
        if self._committed == len(self._keys):
            return
        for (_, mode), array in self._maps.items():
            if mode == "r+":
                array.flush()
        keys = np.array(self._keys, dtype="S64")
        _atomic_write(self.index_path, lambda handle: np.save(handle, keys))
        self._committed = len(self._keys)

    def __len__(self) -> int:
        return len(self._keys)

    def __contains__(self, key: str) -> bool:
        return key in self._row_of

    def lookup(self, keys: Sequence[str]) -> list[int | None]:
        """The row of each key, ``None`` where the store has none."""
        return [self._row_of.get(key) for key in keys]

    # ------------------------------------------------------------------ data
    def _shard(self, shard: int, mode: str) -> np.memmap:
        """Shard ``shard`` mapped read-only (``"r"``) or for writing (``"r+"``)."""
        array = self._maps.get((shard, mode))
        if array is None:
            path = self._path(shard)
            shape = (self.shard_rows, self.dim)
            if not path.is_file():
                np.memmap(path, self.dtype, mode="w+", shape=shape).flush()
            array = np.memmap(path, self.dtype, mode=mode, shape=shape)
            self._maps[(shard, mode)] = array
        return array

    def add(
        self, keys: Sequence[str], features: np.ndarray | torch.Tensor
    ) -> list[int]:
        """Append the rows of keys not stored yet (``features[i]`` for ``keys[i]``);
        return every key's row."""
        if isinstance(features, torch.Tensor):
            features = features.detach().cpu().numpy()
        if len(keys) != len(features) or (len(keys) and features.shape[1] != self.dim):
            raise ValueError(f"expected [{len(keys)}, {self.dim}] features")
        rows = []
        for key, row_features in zip(keys, features, strict=True):
            row = self._row_of.get(key)
            if row is None:
                row = len(self._keys)
                shard, offset = divmod(row, self.shard_rows)
                self._shard(shard, "r+")[offset] = row_features
                self._keys.append(key.encode("ascii"))
                self._row_of[key] = row
            rows.append(row)
        if len(self._keys) - self._committed >= self.flush_rows:
            self.flush()
        return rows

    def _path(self, shard: int) -> Path:
        return self.folder / f"shard-{shard:05d}.bin"

    def read(self, rows: Sequence[int] | np.ndarray) -> np.ndarray:
        """``float32 [len(rows), dim]`` features of ``rows``: one positional read
        per row (only these rows are loaded, and nothing stays mapped). Rows added
        but not flushed yet are read too (the file and its write map share the
        page cache)."""
        rows = np.asarray(rows, dtype=np.int64)
        if rows.size and (rows.min() < 0 or rows.max() >= len(self._keys)):
            raise IndexError(f"rows out of range 0..{len(self._keys) - 1}")
        out = np.empty((len(rows), self.dim), dtype=np.float32)
        row_bytes = self.dim * self.dtype.itemsize
        shards = rows // self.shard_rows
        for shard in np.unique(shards).tolist():
            (where,) = np.nonzero(shards == shard)
            with open(self._path(shard), "rb", buffering=0) as handle:
                fd = handle.fileno()
                for i in where.tolist():
                    offset = int(rows[i] % self.shard_rows) * row_bytes
                    data = os.pread(fd, row_bytes, offset)
                    out[i] = np.frombuffer(data, dtype=self.dtype)
        return out

    def __getstate__(self) -> dict[str, Any]:
        """Pickled for DataLoader workers without the open maps (each worker maps
        the shards itself, rather than receiving their contents; shared file maps
        see rows written but not yet flushed)."""
        state = dict(self.__dict__)
        state["_maps"] = {}
        return state


class FeatureDataset(Dataset):
    """``(features, label)`` of store rows, read in batches from the memmaps.

    ``rows[i]`` is the store row of sample ``i`` and ``labels[i]`` its class; a
    DataLoader (any ``num_workers``) fetches a whole batch with one :meth:`read`.
    """

    def __init__(
        self, store: FeatureStore, rows: Sequence[int], labels: Sequence[int]
    ) -> None:
        if len(rows) != len(labels):
            raise ValueError("one label per row")
        self.store = store
        self.rows = np.asarray(rows, dtype=np.int64)
        self.labels = torch.as_tensor(labels, dtype=torch.long)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.__getitems__([index])[0]

    def __getitems__(
        self, indices: list[int]
    ) -> list[tuple[torch.Tensor, torch.Tensor]]:
        features = torch.from_numpy(self.store.read(self.rows[indices]))
        return list(zip(features, self.labels[indices], strict=True))


class StoreRows:
    """A lazy float32 ``[N, D]`` matrix whose row ``i`` is store row ``rows[i]``
    (``-1``: zeros, no photo).

    Indexing with a list, a LongTensor or a BoolTensor mask gives another view and
    reads nothing; :meth:`tensor` reads the view's rows. The training engine
    (:class:`ml.core.engine.SourceDataset`) reads one batch of rows at a time, so
    training on a store never holds ``[N, D]`` features in memory.
    """

    def __init__(self, store: FeatureStore, rows: Sequence[int] | torch.Tensor) -> None:
        self.store = store
        self.rows = torch.as_tensor(rows, dtype=torch.long)
        if self.rows.dim() != 1:
            raise ValueError("rows must be one-dimensional")

    @property
    def shape(self) -> torch.Size:
        return torch.Size((len(self.rows), self.store.dim))

    def dim(self) -> int:
        return 2

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: Sequence[int] | torch.Tensor) -> StoreRows:
        if isinstance(index, int):
            raise TypeError("index a view with a list, a tensor or a mask")
        return StoreRows(self.store, self.rows[index])

    def tensor(self) -> torch.Tensor:
        """The view's rows, read from the store: ``float32 [len(self), D]``."""
        out = torch.zeros(len(self.rows), self.store.dim)
        present = self.rows >= 0
        if present.any():
            out[present] = torch.from_numpy(self.store.read(self.rows[present].numpy()))
        return out
