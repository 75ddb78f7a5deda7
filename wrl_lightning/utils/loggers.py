"""Experiment loggers from the ``logger`` config group, and reporting helpers that work for any of them."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hydra.utils import instantiate
from omegaconf import DictConfig


def build_loggers(cfg: DictConfig) -> list[Any]:
    """Instantiate every logger under ``cfg.logger`` (empty list for ``logger=none``)."""
    loggers = []
    for _, logger_cfg in (cfg.get("logger") or {}).items():
        if isinstance(logger_cfg, DictConfig) and "_target_" in logger_cfg:
            loggers.append(instantiate(logger_cfg))
    return loggers


def log_config(loggers: Sequence[Any], cfg: DictConfig) -> None:
    """Send the resolved config as hyperparameters."""
    from omegaconf import OmegaConf

    params = OmegaConf.to_container(cfg, resolve=True)
    for logger in loggers:
        logger.log_hyperparams(params)


def log_report(
    loggers: Sequence[Any],
    metrics: dict[str, float],
    tables: dict[str, tuple[list[str], list[list[Any]]]] | None = None,
    images: dict[str, Path] | None = None,
) -> None:
    """Log scalar metrics to every logger; tables and images to loggers that support them (W&B)."""
    scalars = {key: value for key, value in metrics.items() if isinstance(value, int | float) and not isinstance(value, bool)}
    for logger in loggers:
        logger.log_metrics(scalars)
        if hasattr(logger, "log_table"):
            for key, (columns, rows) in (tables or {}).items():
                logger.log_table(key=key, columns=columns, data=rows)
        if hasattr(logger, "log_image"):
            for key, path in (images or {}).items():
                logger.log_image(key=key, images=[str(path)])
        logger.save()


def finish_loggers(loggers: Sequence[Any]) -> None:
    """Close loggers so runs in one multirun process don't bleed into each other."""
    for logger in loggers:
        logger.finalize("success")
    if any(type(logger).__name__ == "WandbLogger" for logger in loggers):
        import wandb

        wandb.finish()
