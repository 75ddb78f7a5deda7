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
from omegaconf import DictConfig
from torch import nn

from wrl_lightning.models.export import save_hf_folder
from wrl_lightning.models.sft_data import SFTDataModule
from wrl_lightning.models.sft_module import SFTLitModule
from wrl_lightning.training.builders import check_training_config, fit_and_export
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
    weights = check_training_config(cfg, "sft", "model.sft.optimizer._target_")
    export_dir = Path(str(cfg.sft.export.dir))
    datamodule: SFTDataModule = instantiate(cfg.data)
    module: SFTLitModule = instantiate(cfg.model.sft)

    def export(chosen: SFTLitModule) -> None:
        meta = {"max_length": datamodule.max_length, "system_prompt": datamodule.system_prompt,
                "use_chat_template": datamodule.use_chat_template, "weights": weights,
                "data": {"input": str(datamodule.input), "format": datamodule.format}}
        export_policy(chosen.plain_model(), chosen.tokenizer, export_dir, cfg.sft.export.dtype, meta)
        log.info("exported the SFT model to %s", export_dir)

    output_dir(cfg)  # the run folder exists before Lightning writes into it
    metrics = fit_and_export(cfg, module, datamodule, weights, "sft", export)
    if "train/loss_epoch" in metrics:  # logged per step and per epoch: the plain name is the last epoch's
        metrics["train/loss"] = metrics["train/loss_epoch"]
    return {**metrics, "train/loss_per_epoch": module.epoch_losses,
            **{f"data/{k}": v for k, v in datamodule.stats.items()}, "export_dir": str(export_dir)}
