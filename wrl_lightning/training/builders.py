"""A Trainer and its callbacks from the ``trainer`` / ``callbacks`` config groups (instantiated with Hydra), and
the fit-then-export skeleton the supervised training stages (RM, SFT) share."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from wrl_lightning.training.checkpoints import (
    EXPORT_WEIGHTS,
    export_weights,
    prune_checkpoints,
    resolve_ckpt_path,
)
from wrl_lightning.training.deepspeed import check_offload_optimizer
from wrl_lightning.training.precision import resolve_precision
from wrl_lightning.utils.config import require_choice
from wrl_lightning.utils.loggers import build_loggers, finish_loggers, log_config

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


def check_training_config(cfg: DictConfig, stage_key: str, optimizer_key: str) -> str:
    """Checks before anything loads: the ``<stage_key>.export.weights`` choice (returned) and optimizer offload."""
    weights = require_choice(cfg, f"{stage_key}.export.weights", EXPORT_WEIGHTS)
    strategy = cfg.trainer.get("strategy")
    check_offload_optimizer(isinstance(strategy, DictConfig) and bool(strategy.get("offload_optimizer")),
                            str(OmegaConf.select(cfg, optimizer_key)), optimizer_key)
    return weights


def fit_and_export(cfg: DictConfig, module: pl.LightningModule, datamodule: pl.LightningDataModule, weights: str,
                   stage_key: str, export: Callable[[Any], None]) -> dict[str, Any]:
    """Fit ``module`` as ``cfg`` says (callbacks, loggers, ``ckpt_path`` resume), then call ``export`` on rank 0
    with the module holding the chosen weights (``last`` or ``best``, DeepSpeed checkpoints consolidated) and
    prune the checkpoints as ``callbacks.model_checkpoint.keep`` says; returns the final train/val metrics
    (those of the best checkpoint for ``best``) and ``best_checkpoint`` (empty when it was not kept)."""
    checkpoint_dir = Path(str(cfg.paths.output_dir)) / "checkpoints"
    loggers = build_loggers(cfg)
    try:
        trainer = build_trainer(cfg.trainer, build_callbacks(cfg.get("callbacks"), bool(loggers)), loggers)
        log_config(loggers, cfg)
        trainer.fit(module, datamodule=datamodule, ckpt_path=resolve_ckpt_path(cfg.get("ckpt_path"), checkpoint_dir))
        metrics = final_metrics(trainer)
        if weights == "best":
            validated = trainer.validate(module, datamodule=datamodule, ckpt_path="best", verbose=False)
            metrics.update({k: float(v) for k, v in validated[0].items()})
        chosen = export_weights(trainer, module, weights, checkpoint_dir, f"{stage_key}.export.weights")
        if chosen is not None:
            export(chosen)
            prune_checkpoints(trainer.checkpoint_callback)
    finally:
        finish_loggers(loggers)
    best = trainer.checkpoint_callback.best_model_path if trainer.checkpoint_callback else ""
    return {**metrics, "best_checkpoint": str(best) if best and Path(best).exists() else ""}
