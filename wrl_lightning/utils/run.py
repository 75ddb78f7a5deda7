"""What happens around every stage: checks, config tree, seeding, dispatch, metrics.json."""

from __future__ import annotations

import logging
import math
import sys
import warnings
from pathlib import Path
from typing import Any

from hydra.errors import InstantiationException
from hydra.utils import get_method
from omegaconf import DictConfig

from wrl_lightning.errors import ConfigError, WrlError
from wrl_lightning.utils.config import print_and_save_config, resolve_or_fail
from wrl_lightning.utils.files import write_json

log = logging.getLogger(__name__)


def output_dir(cfg: DictConfig) -> Path:
    """The run folder (created)."""
    path = Path(str(cfg.paths.output_dir))
    path.mkdir(parents=True, exist_ok=True)
    return path


def is_global_zero() -> bool:
    """False on the non-zero ranks of a multi-process run (they compute but do not write outputs)."""
    from pytorch_lightning.utilities import rank_zero_only

    return getattr(rank_zero_only, "rank", 0) == 0


def flatten_metrics(metrics: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Flatten nested dicts to ``a/b`` keys; NaN/inf become null so the JSON stays valid."""
    flat: dict[str, Any] = {}
    for key, value in metrics.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten_metrics(value, f"{name}/"))
        elif isinstance(value, float) and not math.isfinite(value):
            flat[name] = None
        else:
            flat[name] = value
    return flat


def user_error_inside(err: BaseException) -> WrlError | None:
    """The :class:`WrlError` that caused ``err`` (Hydra's instantiate wraps it), if any."""
    while err is not None:
        if isinstance(err, WrlError):
            return err
        err = err.__cause__
    return None


def run_stage(cfg: DictConfig) -> dict[str, Any]:
    """Validate ``cfg``, run ``cfg.stage.run`` and write ``metrics.json``; returns the metrics."""
    resolve_or_fail(cfg)
    if cfg.extras.get("ignore_warnings"):
        warnings.filterwarnings("ignore")
    out = output_dir(cfg)
    print_and_save_config(cfg, out, show=bool(cfg.extras.get("print_config", True)))
    try:
        stage = get_method(str(cfg.stage.run))
    except Exception as err:  # hydra wraps import problems in its own error type
        raise ConfigError("stage.run", f"cannot import {cfg.stage.run!r}: {err}") from None
    import pytorch_lightning as pl

    pl.seed_everything(int(cfg.seed), workers=True, verbose=False)
    try:
        metrics = flatten_metrics(stage(cfg))
    except InstantiationException as err:  # a class built from the config refused its arguments
        raise user_error_inside(err) or err from None
    if is_global_zero():
        write_json(out / "metrics.json", metrics)
        log.info("metrics written to %s", out / "metrics.json")
    return metrics


def main_entry(cfg: DictConfig) -> float | None:
    """Hydra task function: run the stage; user errors print one line and exit non-zero.

    In a multirun the error is re-raised instead, so Hydra records this job as failed and the other
    jobs of the sweep still run.
    """
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    try:
        metrics = run_stage(cfg)
    except WrlError as err:
        if HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN:
            raise
        from rich.console import Console

        Console(stderr=True).print(f"[bold red]error:[/] {err}", highlight=False, markup=True)
        sys.exit(err.exit_code)
    key = cfg.get("optimized_metric")
    if key is None:
        return None
    if key not in metrics:
        raise ConfigError("optimized_metric", f"{key!r} is not a metric of this stage (have: {', '.join(metrics)})")
    return metrics[key]



