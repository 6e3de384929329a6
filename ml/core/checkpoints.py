"""Checkpoints: a stage's fingerprint, atomic saves and a resume that ignores a
checkpoint written for other data or settings."""

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import torch

from ml.core.errors import TORCH_LOAD_ERRORS


def stage_fingerprint(payload: dict[str, Any]) -> str:
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def atomic_save(obj: Any, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: Path, fingerprint: str) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except TORCH_LOAD_ERRORS:
        return None  # unreadable checkpoint: start the stage again
    if not isinstance(checkpoint, dict) or checkpoint.get("fingerprint") != fingerprint:
        return None
    return checkpoint
