"""Experiment loggers from the ``logger`` config group, and reporting helpers that work for any of them.

A logger whose ``name`` is null is named after the run: the stage, with the scorer for stages that score
(``weval-rm``, ``weval-length``, ``rm``, ``rl``); tags are passed as plain strings; ``logger.group`` is the
W&B group shared by the steps of one pipeline.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hydra.utils import instantiate
from omegaconf import DictConfig

#: Stages whose runs are named after their scorer too.
SCORED_STAGES = ("weval",)


def scorer_label(scorer_cfg: DictConfig) -> str:
    """A short name of the configured scorer: its class without ``Scorer``, snake-cased, plus its ``parser``
    if it has one (``RMScorer`` -> ``rm``, ``ScalarRMScorer`` -> ``scalar_rm``, a judge -> ``judge_logprob``)."""
    cls = str(scorer_cfg.get("_target_", "scorer")).rsplit(".", 1)[-1].removesuffix("Scorer") or "scorer"
    label = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", cls).lower()
    return f"{label}_{scorer_cfg.parser}" if scorer_cfg.get("parser") else label


def run_name(cfg: DictConfig) -> str:
    """The run's name in the experiment tracker: the stage, and ``-<scorer>`` for stages that score."""
    stage = str(cfg.stage.name)
    scorer = cfg.get("scorer")
    if stage in SCORED_STAGES and isinstance(scorer, DictConfig) and "_target_" in scorer:
        return f"{stage}-{scorer_label(scorer)}"
    return stage


def build_loggers(cfg: DictConfig) -> list[Any]:
    """Instantiate every logger under ``cfg.logger`` (empty list for ``logger=none``); a null ``name`` becomes
    :func:`run_name` and ``tags`` become a list of strings."""
    loggers = []
    for _, logger_cfg in (cfg.get("logger") or {}).items():
        if isinstance(logger_cfg, DictConfig) and "_target_" in logger_cfg:
            fixed: dict[str, Any] = {}
            if "name" in logger_cfg and logger_cfg.name is None:
                fixed["name"] = run_name(cfg)
            tags = logger_cfg.get("tags")
            if tags is not None:
                fixed["tags"] = [str(tags)] if isinstance(tags, str) else [str(tag) for tag in tags]
            loggers.append(instantiate(logger_cfg, **fixed))
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


def report_metrics(
    cfg: DictConfig,
    metrics: dict[str, Any],
    tables: dict[str, tuple[list[str], list[list[Any]]]] | None = None,
    images: dict[str, Path] | None = None,
) -> None:
    """For stages without a Trainer: build the loggers, send the config and the (flattened) metrics, tables
    and images, and close them."""
    from wrl_lightning.utils.run import flatten_metrics

    loggers = build_loggers(cfg)
    try:
        log_config(loggers, cfg)
        log_report(loggers, flatten_metrics(metrics), tables=tables, images=images)
    finally:
        finish_loggers(loggers)


def finish_loggers(loggers: Sequence[Any]) -> None:
    """Close loggers so runs in one multirun process don't bleed into each other."""
    for logger in loggers:
        logger.finalize("success")
    if any(type(logger).__name__ == "WandbLogger" for logger in loggers):
        import wandb

        wandb.finish()
