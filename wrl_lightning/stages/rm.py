"""``stage=rm``: train the fine-grained reward model, rank WEval validation groups, export an HF folder."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from wrl_lightning.models.export import export_hf
from wrl_lightning.models.reward_module import RewardLitModule
from wrl_lightning.training.builders import build_callbacks, build_trainer, final_metrics
from wrl_lightning.training.checkpoints import EXPORT_WEIGHTS, export_weights, resolve_ckpt_path
from wrl_lightning.training.deepspeed import check_offload_optimizer
from wrl_lightning.utils.config import require_choice
from wrl_lightning.utils.files import write_jsonl
from wrl_lightning.utils.loggers import build_loggers, finish_loggers, log_config
from wrl_lightning.utils.run import output_dir

log = logging.getLogger(__name__)

def run(cfg: DictConfig) -> dict[str, Any]:
    """Fit the RM on ``cfg.data``, export it to ``rm.export.dir``; returns the final metrics and ``export_dir``."""
    weights = require_choice(cfg, "rm.export.weights", EXPORT_WEIGHTS)
    strategy = cfg.trainer.get("strategy")
    check_offload_optimizer(isinstance(strategy, DictConfig) and bool(strategy.get("offload_optimizer")),
                            str(OmegaConf.select(cfg, "model.rm.optimizer._target_")), "model.rm.optimizer._target_")
    out = output_dir(cfg)
    checkpoint_dir = out / "checkpoints"
    datamodule = instantiate(cfg.data)
    module: RewardLitModule = instantiate(cfg.model.rm)
    loggers = build_loggers(cfg)
    try:
        trainer = build_trainer(cfg.trainer, build_callbacks(cfg.get("callbacks"), bool(loggers)), loggers)
        log_config(loggers, cfg)
        trainer.fit(module, datamodule=datamodule, ckpt_path=resolve_ckpt_path(cfg.get("ckpt_path"), checkpoint_dir))
        metrics = final_metrics(trainer)
        if weights == "best":
            validated = trainer.validate(module, datamodule=datamodule, ckpt_path="best", verbose=False)
            metrics.update({k: float(v) for k, v in validated[0].items()})
        export_dir = Path(str(cfg.rm.export.dir))
        chosen = export_weights(trainer, module, weights, checkpoint_dir, "rm.export.weights")
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
