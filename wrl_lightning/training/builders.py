"""A Trainer and its callbacks from the ``trainer`` / ``callbacks`` config groups (instantiated with Hydra)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytorch_lightning as pl
from hydra.utils import instantiate
from omegaconf import DictConfig

from wrl_lightning.training.precision import resolve_precision

#: Callbacks that need a logger; left out when the run has none.
NEEDS_LOGGER = ("lr_monitor",)


def build_callbacks(callbacks_cfg: DictConfig | None, has_logger: bool) -> list[pl.Callback]:
    """Every ``_target_`` entry of the ``callbacks`` group (null entries are off)."""
    callbacks = []
    for name, entry in (callbacks_cfg or {}).items():
        if isinstance(entry, DictConfig) and "_target_" in entry:
            if name in NEEDS_LOGGER and not has_logger:
                continue
            callbacks.append(instantiate(entry))
    return callbacks


def build_trainer(trainer_cfg: DictConfig, callbacks: Sequence[pl.Callback], loggers: Sequence[Any]) -> pl.Trainer:
    """The Trainer of ``trainer_cfg`` with resolved precision, callbacks and loggers."""
    precision = resolve_precision(trainer_cfg.precision, str(trainer_cfg.accelerator))
    return instantiate(trainer_cfg, callbacks=list(callbacks), logger=list(loggers) or False, precision=precision)


def final_metrics(trainer: pl.Trainer, prefixes: tuple[str, ...] = ("val/", "train/")) -> dict[str, float]:
    """The last logged metrics whose names start with ``prefixes``."""
    return {key: float(value) for key, value in trainer.callback_metrics.items() if key.startswith(prefixes)}
