"""``stage=rm``: train the fine-grained reward model, rank WEval validation groups, export an HF folder."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from wrl_lightning.data.io import write_jsonl
from wrl_lightning.errors import ConfigError
from wrl_lightning.models.export import checkpoint_state_dict, export_hf
from wrl_lightning.models.reward_module import RewardLitModule
from wrl_lightning.scoring.sequence import auto_precision
from wrl_lightning.utils.config import require_choice
from wrl_lightning.utils.loggers import build_loggers, finish_loggers, log_config
from wrl_lightning.utils.run import output_dir

log = logging.getLogger(__name__)

#: Which weights are exported: the end of training, or the best checkpoint by the ModelCheckpoint monitor.
EXPORT_WEIGHTS = ("last", "best")


def resolve_precision(precision: Any, accelerator: str) -> Any:
    """``auto``: bf16-mixed on a CUDA GPU, 32-true on CPU (bf16 is far slower on CPUs)."""
    if precision != "auto":
        return precision
    return auto_precision() if accelerator in ("auto", "gpu", "cuda") else "32-true"


def resolve_ckpt_path(value: str | None, checkpoint_dir: Path) -> str | None:
    """``last``: the newest checkpoint in ``checkpoint_dir`` (None, with a warning, if there is none)."""
    if not value:
        return None
    if value != "last":
        if not Path(value).exists():
            raise ConfigError("ckpt_path", f"checkpoint not found: {value}")
        return str(value)
    candidates = sorted(checkpoint_dir.glob("*.ckpt"), key=lambda p: p.stat().st_mtime_ns)
    if not candidates:
        log.warning("ckpt_path=last: no checkpoint in %s; training from scratch", checkpoint_dir)
        return None
    log.info("resuming from %s", candidates[-1])
    return str(candidates[-1])


def check_offload_optimizer(cfg: DictConfig) -> None:
    """DeepSpeed optimizer offload needs DeepSpeed's CPU Adam (DeepSpeed refuses torch optimizers there)."""
    strategy = cfg.trainer.get("strategy")
    offloads = isinstance(strategy, DictConfig) and strategy.get("offload_optimizer")
    target = str(OmegaConf.select(cfg, "model.rm.optimizer._target_"))
    if offloads and not target.endswith("DeepSpeedCPUAdam"):
        raise ConfigError("model.rm.optimizer._target_",
                          f"{target} cannot run with optimizer offload; set model.rm.optimizer._target_=deepspeed.ops.adam.DeepSpeedCPUAdam")


def build_callbacks(cfg: DictConfig, has_logger: bool) -> list[pl.Callback]:
    """Every ``_target_`` entry of ``cfg.callbacks`` (null entries are off); the LR monitor needs a logger."""
    callbacks = []
    for name, entry in (cfg.get("callbacks") or {}).items():
        if isinstance(entry, DictConfig) and "_target_" in entry:
            if name == "lr_monitor" and not has_logger:
                continue
            callbacks.append(instantiate(entry))
    return callbacks


def build_trainer(cfg: DictConfig, callbacks: list[pl.Callback], loggers: list[Any]) -> pl.Trainer:
    """The Trainer of ``cfg.trainer`` with resolved precision, callbacks and loggers."""
    precision = resolve_precision(cfg.trainer.precision, str(cfg.trainer.accelerator))
    return instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False, precision=precision)


def _is_deepspeed(trainer: pl.Trainer) -> bool:
    return type(trainer.strategy).__name__ == "DeepSpeedStrategy"


def export_weights(trainer: pl.Trainer, module: RewardLitModule, weights: str, checkpoint_dir: Path) -> RewardLitModule | None:
    """The module holding the weights to export, on rank 0 (None elsewhere).

    ``best`` and DeepSpeed runs read a checkpoint (DeepSpeed's is consolidated to fp32 first, the sharded
    folder is kept); otherwise the trained module itself is exported.
    """
    if weights == "best":
        path = trainer.checkpoint_callback.best_model_path if trainer.checkpoint_callback else ""
        if not path:
            raise ConfigError("rm.export.weights", "best needs a ModelCheckpoint with a monitor (callbacks.model_checkpoint)")
    elif _is_deepspeed(trainer):
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


def final_metrics(trainer: pl.Trainer) -> dict[str, float]:
    """The last logged train/val metrics."""
    return {key: float(value) for key, value in trainer.callback_metrics.items() if key.startswith(("val/", "train/"))}


def run(cfg: DictConfig) -> dict[str, Any]:
    """Fit the RM on ``cfg.data``, export it to ``rm.export.dir``; returns the final metrics and ``export_dir``."""
    weights = require_choice(cfg, "rm.export.weights", EXPORT_WEIGHTS)
    check_offload_optimizer(cfg)
    out = output_dir(cfg)
    checkpoint_dir = out / "checkpoints"
    datamodule = instantiate(cfg.data)
    module: RewardLitModule = instantiate(cfg.model.rm)
    loggers = build_loggers(cfg)
    try:
        trainer = build_trainer(cfg, build_callbacks(cfg, bool(loggers)), loggers)
        log_config(loggers, cfg)
        trainer.fit(module, datamodule=datamodule, ckpt_path=resolve_ckpt_path(cfg.get("ckpt_path"), checkpoint_dir))
        metrics = final_metrics(trainer)
        if weights == "best":
            validated = trainer.validate(module, datamodule=datamodule, ckpt_path="best", verbose=False)
            metrics.update({k: float(v) for k, v in validated[0].items()})
        export_dir = Path(str(cfg.rm.export.dir))
        chosen = export_weights(trainer, module, weights, checkpoint_dir)
        if chosen is not None:
            export_hf(chosen.plain_model(), chosen.tokenizer, export_dir, chosen.template, chosen.objective.head,
                      dtype=cfg.rm.export.dtype, meta={"max_length": datamodule.max_length, "weights": weights})
            if datamodule.weval_groups:
                write_jsonl(out / "weval_val_groups.jsonl", (g.to_dict() for g in datamodule.weval_groups))
            log.info("exported the RM to %s", export_dir)
    finally:
        finish_loggers(loggers)
    best = trainer.checkpoint_callback.best_model_path if trainer.checkpoint_callback else ""
    return {**metrics, **{f"data/{k}": v for k, v in datamodule.stats.items()},
            "export_dir": str(export_dir), "best_checkpoint": str(best or "")}
