"""Checkpoints of training stages: the checkpoint callback (``last.ckpt`` always the newest state; what stays
after the export), which checkpoint to resume from, and the weights inside one (DeepSpeed's sharded folders
consolidated afresh each time, so a continued run never reads stale weights)."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch

from wrl_lightning.errors import ConfigError
from wrl_lightning.training.deepspeed import is_deepspeed

log = logging.getLogger(__name__)

#: What stays in the checkpoint folder after a successful export: every checkpoint, only the newest (the state
#: ``ckpt_path=last`` resumes from), or nothing (the export holds the weights).
KEEP_CHECKPOINTS = ("all", "last", "none")


class ModelCheckpoint(pl.callbacks.ModelCheckpoint):
    """Lightning's ``ModelCheckpoint`` with ``last.ckpt`` written at every save point, and a choice of what stays
    after the export.

    Lightning 2.6 writes ``last.ckpt`` only when a top-k file was saved at the same step, so after a validation
    that did not improve the monitor, ``last.ckpt`` held an older state than the run had reached. Here it is
    rewritten at every save point; with ``save_last="link"`` it is a link to the top-k file of the same step when
    there is one (no second copy), and a file of its own otherwise (never a link to an older state).

    Args:
        keep: what :func:`prune_checkpoints` leaves once the stage has exported (one of :data:`KEEP_CHECKPOINTS`).
        **kwargs: Lightning's ``ModelCheckpoint`` arguments.
    """

    def __init__(self, *args: Any, keep: str = "all", **kwargs: Any):
        if keep not in KEEP_CHECKPOINTS:
            raise ConfigError("callbacks.model_checkpoint.keep", f"must be one of {', '.join(KEEP_CHECKPOINTS)}, got {keep!r}")
        super().__init__(*args, **kwargs)
        self.keep = keep

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        super().on_train_epoch_end(trainer, pl_module)
        if self._should_save_on_train_epoch_end(trainer):
            self._refresh_last(trainer)

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        super().on_validation_end(trainer, pl_module)
        if not self._should_save_on_train_epoch_end(trainer):
            self._refresh_last(trainer)

    def _refresh_last(self, trainer: pl.Trainer) -> None:
        """Write ``last.ckpt`` at a save point where Lightning saved nothing (no top-k improvement)."""
        due = self._every_n_epochs >= 1 and (trainer.current_epoch + 1) % self._every_n_epochs == 0
        if self.save_last and due and not self._should_skip_saving_checkpoint(trainer):
            self._save_last_checkpoint(trainer, self._monitor_candidates(trainer))

    def _save_last_checkpoint(self, trainer: pl.Trainer, monitor_candidates: dict[str, torch.Tensor]) -> None:
        if self.save_last == "link" and self._last_global_step_saved != trainer.global_step:
            self._last_checkpoint_saved = ""  # no file of this step to link to: Lightning then writes one
        super()._save_last_checkpoint(trainer, monitor_candidates)


def prune_checkpoints(callback: pl.Callback | None) -> list[Path]:
    """After a successful export, remove what ``callback.keep`` does not keep from its folder (``last``: all but
    the newest checkpoint, and the file a link to it points at; ``none``: the folder); returns what was removed."""
    keep = getattr(callback, "keep", "all")
    folder = Path(str(getattr(callback, "dirpath", "") or ""))
    if keep == "all" or not folder.is_dir():
        return []
    if keep == "none":
        shutil.rmtree(folder)
        log.info("removed the checkpoints in %s (callbacks.model_checkpoint.keep=none)", folder)
        return [folder]
    newest = newest_checkpoint(folder)
    kept = {newest, newest.resolve()} if newest else set()
    removed = [entry for entry in folder.iterdir() if entry not in kept and entry.resolve() not in kept]
    for entry in removed:
        shutil.rmtree(entry) if entry.is_dir() and not entry.is_symlink() else entry.unlink()
    return removed


def newest_checkpoint(checkpoint_dir: Path) -> Path | None:
    """The most recently written checkpoint (``.ckpt`` file, or DeepSpeed folder) in ``checkpoint_dir``, if any;
    ``last.ckpt`` wins a tie (file times are coarse, and a link shares its target's), links to nothing are skipped."""
    candidates = [path for path in Path(checkpoint_dir).glob("*.ckpt") if path.exists()]
    return max(candidates, key=lambda p: (p.stat().st_mtime_ns, p.name == "last.ckpt")) if candidates else None


def resolve_ckpt_path(value: str | None, checkpoint_dir: Path, key: str = "ckpt_path") -> str | None:
    """``last``: the newest checkpoint in ``checkpoint_dir`` (None, with a warning, if there is none);
    any other value must exist."""
    if not value:
        return None
    if value != "last":
        if not Path(value).exists():
            raise ConfigError(key, f"checkpoint not found: {value}")
        return str(value)
    newest = newest_checkpoint(checkpoint_dir)
    if newest is None:
        log.warning("%s=last: no checkpoint in %s; training from scratch", key, checkpoint_dir)
        return None
    log.info("resuming from %s", newest)
    return str(newest)


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
