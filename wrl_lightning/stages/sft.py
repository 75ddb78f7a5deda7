"""``stage=sft``: the SFT baseline: fine-tune a causal LM on the positive responses of the WRL data, export it.

The positives are read with the RM's readers and split as the RM splits them (``models/sft_data.py``); the
loss covers response tokens only (``models/sft_module.py``). The export is a plain HF causal LM folder that
``generator=hf generator.model=DIR`` loads, its generation config stopping at the EOS the responses were
trained to end with.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from torch import nn

from wrl_lightning.models.export import save_hf_folder
from wrl_lightning.models.sft_data import SFTDataModule
from wrl_lightning.models.sft_module import SFTLitModule
from wrl_lightning.training.builders import build_callbacks, build_trainer, final_metrics
from wrl_lightning.training.checkpoints import EXPORT_WEIGHTS, export_weights, resolve_ckpt_path
from wrl_lightning.training.deepspeed import check_offload_optimizer
from wrl_lightning.utils.config import require_choice
from wrl_lightning.utils.loggers import build_loggers, finish_loggers, log_config
from wrl_lightning.utils.run import output_dir

log = logging.getLogger(__name__)

#: Written beside the exported weights: how the examples were built (max length, chat template use).
EXPORT_META = "wrl_sft.json"


def export_policy(model: nn.Module, tokenizer, directory: Path, dtype: str | None, meta: dict[str, Any]) -> Path:
    """Save the causal LM + tokenizer to ``directory``; generation stops at the tokenizer's EOS (the token every
    training response ended with) and pads with its pad token."""
    if dtype:
        model = model.to(getattr(torch, dtype))
    config = model.generation_config
    eos = config.eos_token_id
    eos = [] if eos is None else [eos] if isinstance(eos, int) else list(eos)
    if tokenizer.eos_token_id not in eos:
        config.eos_token_id = [*eos, tokenizer.eos_token_id] if eos else tokenizer.eos_token_id
    if config.pad_token_id is None:
        config.pad_token_id = tokenizer.pad_token_id
    return save_hf_folder(model, tokenizer, directory, {EXPORT_META: meta})


def run(cfg: DictConfig) -> dict[str, Any]:
    """Fit on ``cfg.data``'s positives, export to ``sft.export.dir``; returns the final metrics and ``export_dir``."""
    weights = require_choice(cfg, "sft.export.weights", EXPORT_WEIGHTS)
    strategy = cfg.trainer.get("strategy")
    check_offload_optimizer(isinstance(strategy, DictConfig) and bool(strategy.get("offload_optimizer")),
                            str(OmegaConf.select(cfg, "model.sft.optimizer._target_")), "model.sft.optimizer._target_")
    out = output_dir(cfg)
    checkpoint_dir = out / "checkpoints"
    datamodule: SFTDataModule = instantiate(cfg.data)
    module: SFTLitModule = instantiate(cfg.model.sft)
    loggers = build_loggers(cfg)
    try:
        trainer = build_trainer(cfg.trainer, build_callbacks(cfg.get("callbacks"), bool(loggers)), loggers)
        log_config(loggers, cfg)
        trainer.fit(module, datamodule=datamodule, ckpt_path=resolve_ckpt_path(cfg.get("ckpt_path"), checkpoint_dir))
        metrics = final_metrics(trainer)
        if "train/loss_epoch" in metrics:  # logged per step and per epoch: the plain name is the last epoch's
            metrics["train/loss"] = metrics["train/loss_epoch"]
        if weights == "best":
            validated = trainer.validate(module, datamodule=datamodule, ckpt_path="best", verbose=False)
            metrics.update({k: float(v) for k, v in validated[0].items()})
        export_dir = Path(str(cfg.sft.export.dir))
        chosen = export_weights(trainer, module, weights, checkpoint_dir, "sft.export.weights")
        if chosen is not None:
            meta = {"max_length": datamodule.max_length, "system_prompt": datamodule.system_prompt,
                    "use_chat_template": datamodule.use_chat_template, "weights": weights,
                    "data": {"input": str(datamodule.input), "format": datamodule.format}}
            export_policy(chosen.plain_model(), chosen.tokenizer, export_dir, cfg.sft.export.dtype, meta)
            log.info("exported the SFT model to %s", export_dir)
    finally:
        finish_loggers(loggers)
    best = trainer.checkpoint_callback.best_model_path if trainer.checkpoint_callback else ""
    return {**metrics, "train/loss_per_epoch": module.epoch_losses,
            **{f"data/{k}": v for k, v in datamodule.stats.items()},
            "export_dir": str(export_dir), "best_checkpoint": str(best or "")}
