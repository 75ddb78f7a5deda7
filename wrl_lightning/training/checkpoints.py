"""Checkpoints of training stages: which one to resume from, and the weights inside one (DeepSpeed's sharded
folders consolidated afresh each time, so a continued run never reads stale weights)."""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch

from wrl_lightning.errors import ConfigError
from wrl_lightning.training.deepspeed import is_deepspeed

log = logging.getLogger(__name__)


def resolve_ckpt_path(value: str | None, checkpoint_dir: Path, key: str = "ckpt_path") -> str | None:
    """``last``: the newest checkpoint in ``checkpoint_dir`` (None, with a warning, if there is none);
    any other value must exist."""
    if not value:
        return None
    if value != "last":
        if not Path(value).exists():
            raise ConfigError(key, f"checkpoint not found: {value}")
        return str(value)
    candidates = sorted(Path(checkpoint_dir).glob("*.ckpt"), key=lambda p: p.stat().st_mtime_ns)
    if not candidates:
        log.warning("%s=last: no checkpoint in %s; training from scratch", key, checkpoint_dir)
        return None
    log.info("resuming from %s", candidates[-1])
    return str(candidates[-1])


def consolidate_deepspeed(checkpoint_dir: str | Path, output_file: str | Path) -> Path:
    """One fp32 Lightning checkpoint file from a (sharded) DeepSpeed checkpoint folder, written to a temporary
    file and renamed over ``output_file`` (an older consolidation is replaced, never reused); the folder is kept."""
    from pytorch_lightning.utilities.deepspeed import convert_zero_checkpoint_to_fp32_state_dict

    output_file = Path(output_file)
    fd, tmp = tempfile.mkstemp(prefix=f".{output_file.name}.", suffix=".tmp", dir=output_file.parent)
    os.close(fd)
    try:
        convert_zero_checkpoint_to_fp32_state_dict(str(checkpoint_dir), tmp)
        os.replace(tmp, output_file)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return output_file


def checkpoint_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """The LightningModule state dict of a ``.ckpt`` file, or of a DeepSpeed checkpoint folder (consolidated
    into ``<folder>.fp32.pt`` beside it, afresh on every call)."""
    path = Path(path)
    if path.is_dir():
        path = consolidate_deepspeed(path, path.with_name(path.name + ".fp32.pt"))
    return torch.load(path, map_location="cpu", weights_only=False)["state_dict"]


#: Which weights are exported: the end of training, or the best checkpoint by the ModelCheckpoint monitor.
EXPORT_WEIGHTS = ("last", "best")


def export_weights(trainer: pl.Trainer, module: Any, weights: str, checkpoint_dir: Path, key: str) -> Any:
    """The module holding the weights to export, on rank 0 (None elsewhere); ``key`` names the config key of
    ``weights`` in errors. The module offers ``fresh_copy()`` and ``configure_model()``.

    ``best`` and DeepSpeed runs read a checkpoint (DeepSpeed's is consolidated to fp32 first, the sharded
    folder is kept); otherwise the trained module itself is exported.
    """
    if weights == "best":
        path = trainer.checkpoint_callback.best_model_path if trainer.checkpoint_callback else ""
        if not path:
            raise ConfigError(key, "best needs a ModelCheckpoint with a monitor (callbacks.model_checkpoint)")
    elif is_deepspeed(trainer.strategy):
        path = str(checkpoint_dir / "final.ckpt")
        trainer.save_checkpoint(path)  # collective: every rank writes its shard
    else:
        return module if trainer.is_global_zero else None
    if not trainer.is_global_zero:
        return None
    fresh = module.fresh_copy()
    fresh.configure_model()
    fresh.load_state_dict(checkpoint_state_dict(path))
    return fresh
