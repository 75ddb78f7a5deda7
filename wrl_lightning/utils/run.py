"""What happens around every stage: checks, config tree, seeding, dispatch, metrics.json."""

from __future__ import annotations

import logging
import math
import os
import shutil
import sys
import warnings
from pathlib import Path
from typing import Any

from hydra.errors import InstantiationException
from hydra.utils import get_method
from omegaconf import DictConfig, OmegaConf

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


def is_launched_rank() -> bool:
    """True in a process started for a rank other than 0 (the run folder is rank 0's business)."""
    return any(os.environ.get(name, "0") not in ("", "0") for name in ("RANK", "LOCAL_RANK", "NODE_RANK"))


def _resumes_inside(cfg: DictConfig, folder: Path) -> bool:
    """Whether ``ckpt_path`` points into ``folder`` (``last`` always does)."""
    ckpt = cfg.get("ckpt_path")
    if ckpt is None:
        return False
    return str(ckpt) == "last" or folder.resolve() in Path(str(ckpt)).resolve().parents


def empty_folder(folder: Path) -> None:
    """Remove everything inside ``folder`` (the folder itself stays)."""
    for entry in folder.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def claim_output_dir(cfg: DictConfig, folder: Path, fresh_only: bool = False) -> None:
    """Make ``folder`` this run's: refuse a finished run's folder unless ``overwrite=true``, then empty it.

    A folder holding ``metrics.json`` holds a finished run; writing into it would mix two runs' files. A run
    with ``ckpt_path`` set continues the run in that folder and is let in. ``overwrite=true`` removes the
    earlier run's files first (all of them, so nothing stale stays); with ``fresh_only`` (the stage itself,
    after Hydra wrote this run's ``.hydra/`` and log) only a folder still holding ``metrics.json`` is emptied.
    """
    if not folder.is_dir():
        return
    finished = (folder / "metrics.json").exists()
    if cfg.get("overwrite"):
        if _resumes_inside(cfg, folder):
            raise ConfigError("overwrite", f"overwrite=true would delete the checkpoints ckpt_path={cfg.ckpt_path} "
                                           f"resumes from in {folder}; pass one of them")
        if finished or (not fresh_only and any(folder.iterdir())):
            log.info("overwrite=true: emptying %s", folder)
            empty_folder(folder)
    elif finished and cfg.get("ckpt_path") is None:
        raise ConfigError("paths.output_dir", f"{folder} already holds a finished run (metrics.json); pass "
                                              "overwrite=true to replace it, or choose another paths.output_dir")


#: Files a run writes before any work; a run that fails with only these in its new folder leaves no folder.
SETUP_FILES = (".hydra", "config.yaml", "config_tree.log")
#: Run folders this process created (Hydra's callback notes them before Hydra makes them).
CREATED_FOLDERS: set[Path] = set()
#: Whether :func:`run_stage` guards its folder: in the CLI (where pipeline steps are stages run in their own
#: folders), not when a program or a test calls it directly.
GUARD_FOLDERS = {"folders": False}


def discard_failed_start(cfg: DictConfig) -> None:
    """After a user error: remove the run folder this process created if it holds only setup files."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized() or is_launched_rank():
        return
    folder = Path(HydraConfig.get().runtime.output_dir).resolve()
    if folder not in CREATED_FOLDERS or not folder.is_dir():
        return
    if all(entry.name in SETUP_FILES or entry.suffix == ".log" for entry in folder.iterdir()):
        shutil.rmtree(folder, ignore_errors=True)


def name_model_key(cfg: DictConfig, err: WrlError | None) -> WrlError | None:
    """``err`` with its key made the config key that holds the model name (the loaders only know the name)."""
    value = getattr(err, "model_name", None)
    if not isinstance(err, ConfigError) or value is None or "." in err.key:
        return err
    found: list[str] = []

    def visit(node: Any, prefix: str) -> None:
        if isinstance(node, dict):
            for key, child in node.items():
                visit(child, f"{prefix}{key}.")
        elif node == value:
            found.append(prefix[:-1])

    visit(OmegaConf.to_container(cfg, resolve=True), "")
    if not found:
        return err
    named = ConfigError(sorted(found, key=lambda k: not k.endswith(err.key))[0], err.problem)
    named.model_name = value
    return named


def run_stage(cfg: DictConfig) -> dict[str, Any]:
    """Validate ``cfg``, run ``cfg.stage.run`` and write ``metrics.json``; returns the metrics."""
    resolve_or_fail(cfg)
    if GUARD_FOLDERS["folders"] and is_global_zero():
        claim_output_dir(cfg, Path(str(cfg.paths.output_dir)), fresh_only=True)
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
        raise name_model_key(cfg, user_error_inside(err)) or err from None
    except ConfigError as err:
        raise name_model_key(cfg, err) from None
    if is_global_zero():
        write_json(out / "metrics.json", metrics)
        log.info("metrics written to %s", out / "metrics.json")
    return metrics


def main_entry(cfg: DictConfig) -> float | None:
    """Hydra task function: run the stage on a quiet console; user errors print one line and exit non-zero.

    In a multirun the error is re-raised instead, so Hydra records this job as failed and the other
    jobs of the sweep still run.
    """
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    from wrl_lightning.utils.console import quiet_console

    quiet_console(wandb_offline=os.environ.get("WANDB_MODE") in ("offline", "disabled")
                  or bool(OmegaConf.select(cfg, "logger.wandb.offline", default=False)))
    try:
        metrics = run_stage(cfg)
    except WrlError as err:
        if HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN:
            raise
        discard_failed_start(cfg)
        print_error(err)
        sys.exit(err.exit_code)
    key = cfg.get("optimized_metric")
    if key is None:
        return None
    if key not in metrics:
        raise ConfigError("optimized_metric", f"{key!r} is not a metric of this stage (have: {', '.join(metrics)})")
    return metrics[key]


def print_error(err: BaseException) -> None:
    """``error: MESSAGE`` on stderr, one line however long (rich would wrap it at the terminal width)."""
    from rich.console import Console
    from rich.text import Text

    Console(stderr=True, soft_wrap=True).print(Text.assemble(("error:", "bold red"), " ", str(err)))
